"""Prompt tools: napari layers the user draws on, turned into Prompt objects.

Each tool is its own layer, sharing the image's scale and translation so that layer data
coordinates are image voxel coordinates:

* Point: a Points layer in add mode; a click adds a positive point (green), with Shift or Control
  held, or with the polarity toggled, a negative one (red). The click goes to the model at once and
  its marker is drawn when the mask is shown (:meth:`PromptTools.show_pending_points`), or after
  ``POINT_DELAY_MS``: napari adding a point to the layer costs tens of milliseconds of Qt-thread
  Python, which, run beside the decode, made a click's mask arrive 1.5-2x later on 2 cores.
* Box: a Shapes layer in rectangle mode; the finished rectangle is one box.
* Scribble: a Labels layer painted with the brush (1 positive, 2 negative); the stroke between press
  and release is one scribble, its points in the order they were drawn.
* Lasso: a Shapes layer in napari's freehand polygon-lasso mode; the closed polygon is one lasso.

A prompt lies on the displayed slice: the slicing axis is the one axis not displayed, and the plane
coordinates (row, col) are the two displayed axes in data order. A drawing that reaches past the
image's edge is cut to it (``core/clip.py``); a click or drawing wholly outside is refused with a
warning. The visuals stay until
:meth:`PromptTools.clear` (commit or escape).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from napari.layers import Image, Labels, Points, Shapes
from napari.utils.colormaps import DirectLabelColormap
from qtpy.QtCore import QTimer

from napari_medseg.core.clip import clip_box, clip_polygon, clip_polyline, on_slice, polyline_length
from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    Prompt,
    ScribblePrompt,
    SliceRef,
    split_voxel,
)
from napari_medseg.errors import PromptError

TOOLS = ("point", "box", "scribble", "lasso")
POSITIVE_COLOR = "#22dd44"
NEGATIVE_COLOR = "#ff3333"
NEGATIVE_MODIFIERS = ("Shift", "Control")
CLICK_DISTANCE = 5  # canvas pixels: napari's points "add" treats a shorter drag as a click
POINT_DELAY_MS = 300  # a click's marker is drawn at the latest this long after the click
LAYER_NAMES = {
    "point": "medseg points",
    "box": "medseg boxes",
    "scribble": "medseg scribbles",
    "lasso": "medseg lassos",
}


def slicing_axis(displayed: Sequence[int], ndim: int = 3) -> int:
    """The one data axis that is not displayed; prompts need a 2D view of a 3D volume."""
    hidden = [d for d in range(ndim) if d not in tuple(displayed)]
    if ndim != 3 or len(hidden) != 1:
        raise PromptError("prompts are drawn on a 2D slice; switch the viewer to 2D (Ctrl+Y) first")
    return hidden[0]


def plane_prompt_parts(voxels: np.ndarray, axis: int) -> tuple[SliceRef, list[tuple[float, float]]]:
    """Voxel coordinates (N, 3) of one drawing -> its slice and its (row, col) plane coordinates."""
    voxels = np.atleast_2d(np.asarray(voxels, dtype=float))
    index, _ = split_voxel(voxels[0], axis)
    plane = [split_voxel(v, axis)[1] for v in voxels]
    return SliceRef(axis=axis, index=int(round(index))), plane


class PromptTools:
    """Owns the four prompt layers and reports each finished drawing as a Prompt."""

    def __init__(self, viewer, image: Image, on_prompt: Callable[[Prompt], None]) -> None:
        self.viewer = viewer
        self.on_prompt = on_prompt
        self.positive = True
        self.tool: str | None = None
        self._negative_press = False
        self._applied_positive: bool | None = None
        self._early_points = 0
        self._early_sent = False
        self._pending_points: list[tuple[np.ndarray, bool]] = []  # clicked, not drawn yet (voxel, positive)
        self._adding = False
        self._stroke: list[np.ndarray] = []
        self._consumed = {"point": 0, "box": 0, "lasso": 0}
        self._clearing = False
        common = {"scale": image.scale, "translate": image.translate}
        shape = tuple(int(s) for s in image.data.shape)
        self._volume_shape = shape
        self.points = Points(
            np.empty((0, len(shape))),
            name=LAYER_NAMES["point"],
            ndim=len(shape),
            size=max(3.0, 0.012 * max(shape)),
            face_color=POSITIVE_COLOR,
            border_color="white",
            out_of_slice_display=False,
            **common,
        )
        self.boxes = Shapes(
            name=LAYER_NAMES["box"], ndim=len(shape), edge_color=POSITIVE_COLOR, face_color="transparent",
            edge_width=max(1.0, 0.004 * max(shape)), **common,
        )
        self.lassos = Shapes(
            name=LAYER_NAMES["lasso"], ndim=len(shape), edge_color=POSITIVE_COLOR,
            face_color=[0.13, 0.87, 0.27, 0.15], edge_width=max(1.0, 0.004 * max(shape)), **common,
        )
        colormap = DirectLabelColormap(
            color_dict={None: "transparent", 0: "transparent", 1: POSITIVE_COLOR, 2: NEGATIVE_COLOR}
        )
        self.scribbles = Labels(
            np.zeros(shape, dtype=np.uint8), name=LAYER_NAMES["scribble"], colormap=colormap,
            opacity=0.9, visible=False, **common,
        )
        self._has_strokes = False
        self.scribbles.brush_size = max(3, int(round(0.01 * max(shape[-2:]))))
        self.layers = {"point": self.points, "box": self.boxes, "scribble": self.scribbles, "lasso": self.lassos}
        for layer in self.layers.values():
            layer.mouse_drag_callbacks.insert(0, self._on_press)
            viewer.add_layer(layer)
        self.scribbles.mouse_drag_callbacks.insert(0, self._record_stroke)
        # napari's add mode calls ``layer.add`` on a click: the point is drawn later (module docstring)
        self.points.add = self._add_later
        self._point_timer = QTimer()
        self._point_timer.setSingleShot(True)
        self._point_timer.setInterval(POINT_DELAY_MS)
        self._point_timer.timeout.connect(self.show_pending_points)
        self.points.events.data.connect(self._on_points_data)
        self.boxes.events.data.connect(self._on_box_data)
        self.lassos.events.data.connect(self._on_lasso_data)

    # --- user-facing state -------------------------------------------------------------------------

    def set_tool(self, tool: str) -> None:
        """Make the tool's layer active, in its drawing mode."""
        if tool not in TOOLS:
            raise PromptError(f"unknown tool '{tool}'; choose one of {', '.join(TOOLS)}")
        self.tool = tool
        layer = self.layers[tool]
        # An empty scribble layer still costs a full-canvas draw pass: show it only when in use.
        self._show_scribbles(tool == "scribble" or self._has_strokes)
        self.viewer.layers.selection.active = layer
        layer.mode = {"point": "add", "box": "add_rectangle", "scribble": "paint", "lasso": "add_polygon_lasso"}[
            tool
        ]
        self._apply_polarity(self.positive)

    def _show_scribbles(self, visible: bool) -> None:
        """Show or hide the scribble layer. napari gives a layer the mode it had when last hidden each
        time ``visible`` is set, even to the value it has: set only on a change, or the brush in use
        fell back to pan-zoom after every accept or clear, and the next stroke panned the view."""
        if self.scribbles.visible != visible:
            self.scribbles.visible = visible

    def set_positive(self, positive: bool) -> None:
        self.positive = bool(positive)
        self._apply_polarity(self.positive)

    @property
    def drawn(self) -> bool:
        """Whether a prompt is on screen (drawn since the last commit or clear)."""
        return bool(len(self.points.data) or self._pending_points or self.boxes.nshapes or self.lassos.nshapes
                    or self._has_strokes)

    def show_pending_points(self) -> None:
        """Draw the clicks whose markers wait (their prompts went to the model already), each in the
        colour of its polarity."""
        self._point_timer.stop()
        if not self._pending_points:
            return
        pending, self._pending_points = self._pending_points, []
        self._adding = True
        try:
            for voxel, positive in pending:
                self.points.selected_data = set()  # (napari selects an added point; "current" recolours it)
                self.points.current_face_color = polarity_color(positive)
                Points.add(self.points, voxel)
            self.points.selected_data = set()
            self.points.current_face_color = polarity_color(self._applied_positive is not False)
        finally:
            self._adding = False

    def clear(self) -> None:
        """Remove every drawn prompt (after a commit, or on escape)."""
        self._clearing = True
        self._pending_points = []
        self._point_timer.stop()
        try:
            self.points.data = np.empty((0, self.points.ndim))
            for shapes in (self.boxes, self.lassos):
                if _failed_drawing(shapes):
                    _drop_failed_drawing(shapes, 0)
                elif shapes._is_creating:  # Escape in the middle of a drawing: end it first
                    shapes._finish_drawing()
                if shapes.nshapes:
                    shapes.selected_data = set(range(shapes.nshapes))
                    shapes.remove_selected()
            if self._has_strokes:
                self.scribbles.data[...] = 0
                self.scribbles.refresh()
                self._has_strokes = False
            self._show_scribbles(self.tool == "scribble")
        finally:
            self._clearing = False
        self._consumed = {"point": 0, "box": 0, "lasso": 0}

    def remove_layers(self) -> None:
        self._point_timer.stop()
        self._pending_points = []
        for layer in self.layers.values():
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    # --- event translation -------------------------------------------------------------------------

    def _axis(self) -> int:
        return slicing_axis(self.viewer.dims.displayed, self.viewer.dims.ndim)

    def _on_press(self, layer, event):
        """First mouse callback of every tool layer: decide the polarity of what is drawn now."""
        for shapes, key in ((self.boxes, "box"), (self.lassos, "lasso")):
            if layer is shapes and _failed_drawing(shapes):
                _drop_failed_drawing(shapes, self._consumed[key])
        negative = (not self.positive) or any(m in NEGATIVE_MODIFIERS for m in event.modifiers)
        self._negative_press = negative
        self._apply_polarity(not negative)
        self._early_points = 0
        start = np.asarray(event.pos, dtype=float)
        yield
        while event.type == "mouse_move":
            yield
        if layer is self.points and layer.mode == "add":
            # napari adds the point after this callback, and adding costs tens of milliseconds of
            # redrawing: send the click to the model first (napari's own click-vs-drag rule applies).
            if np.linalg.norm(np.asarray(event.pos, dtype=float) - start) < CLICK_DISTANCE:
                self._early_points = 1
                voxel = np.asarray(layer.world_to_data(event.position), dtype=float)
                self._early_sent = self._emit(lambda: self._point_prompt(voxel))

    def _apply_polarity(self, positive: bool) -> None:
        if positive == self._applied_positive:  # every press lands here: keep it cheap
            return
        self._applied_positive = positive
        color = polarity_color(positive)
        # Clear the selections first: "current" colours also recolour whatever is selected.
        self.points.selected_data = set()
        self.points.current_face_color = color
        for shapes in (self.boxes, self.lassos):
            if not shapes._is_creating:
                shapes.selected_data = set()
            shapes.current_edge_color = color
        self.lassos.current_face_color = [*_rgb(color), 0.15]
        self.scribbles.selected_label = 1 if positive else 2

    def _record_stroke(self, layer, event):
        """Follow a brush stroke from press to release and hand it over as one scribble."""
        self._stroke = [np.asarray(layer.world_to_data(event.position), dtype=float)]
        yield
        while event.type == "mouse_move":
            self._stroke.append(np.asarray(layer.world_to_data(event.position), dtype=float))
            yield
        stroke, self._stroke = np.array(self._stroke), []
        if self.scribbles.mode != "paint" or len(stroke) == 0:
            return
        self._has_strokes = True
        self._emit(lambda: self._scribble_prompt(stroke))

    def _scribble_prompt(self, stroke: np.ndarray) -> ScribblePrompt:
        ref, plane = plane_prompt_parts(stroke, self._axis())
        # the stroke's part on the slice (core/clip.py); of a stroke that left the image and came
        # back, its longest run
        runs = clip_polyline(plane, ref.plane_shape(self._volume_shape))
        if not runs:
            raise PromptError("the stroke lies outside the image; draw it on the image")
        run = max(runs, key=polyline_length)
        ordered = [run[0]]
        for rc in run[1:]:  # drop repeats of the same pixel, keep the drawing order
            if np.hypot(rc[0] - ordered[-1][0], rc[1] - ordered[-1][1]) >= 0.5:
                ordered.append(rc)
        width = float(self.scribbles.brush_size)
        return ScribblePrompt(ref, tuple(ordered), positive=not self._negative_press, width=width)

    def _add_later(self, coordinates) -> None:
        """napari's add mode: the click's prompt (unless sent on release already), its marker later."""
        voxel = np.asarray(coordinates, dtype=float)
        if self._early_points:  # already sent on mouse release
            self._early_points -= 1
            sent = self._early_sent
        else:
            sent = self._emit(lambda: self._point_prompt(voxel))
        if not sent:  # refused (outside the image): no marker
            return
        self._pending_points.append((voxel, not self._negative_press))
        if not self._point_timer.isActive():
            self._point_timer.start()

    def _on_points_data(self, event) -> None:
        """Points put on the layer by another way than a click (``points.data = ...`` on the empty layer,
        from a script) are prompts too; the clicks' own markers (``_adding``) were sent already."""
        if self._adding or self._clearing or str(getattr(event, "action", "")) != "added":
            self._consumed["point"] = len(self.points.data)
            return
        start, self._consumed["point"] = self._consumed["point"], len(self.points.data)
        for voxel in np.asarray(self.points.data[start:], dtype=float):
            self._emit(lambda v=voxel: self._point_prompt(v))

    def _point_prompt(self, voxel: np.ndarray) -> PointPrompt:
        ref, plane = plane_prompt_parts(voxel, self._axis())
        if not on_slice(plane[0], ref.plane_shape(self._volume_shape)):
            raise PromptError("the click is outside the image; click on the image")
        return PointPrompt(ref, plane[0], positive=not self._negative_press)

    def _on_box_data(self, event) -> None:
        for vertices in self._new_shapes(self.boxes, "box", event):
            self._emit(lambda v=vertices: self._box_prompt(v))

    def _box_prompt(self, vertices: np.ndarray) -> BoxPrompt:
        ref, plane = plane_prompt_parts(vertices, self._axis())
        rc = np.asarray(plane)
        lo, hi = rc.min(axis=0), rc.max(axis=0)
        cut = clip_box((float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1])), ref.plane_shape(self._volume_shape))
        if cut is None:
            raise PromptError("the box lies outside the image; drag it over the image")
        return BoxPrompt(ref, cut[0], cut[1], not self._negative_press)

    def _on_lasso_data(self, event) -> None:
        for vertices in self._new_shapes(self.lassos, "lasso", event):
            self._emit(lambda v=vertices: self._lasso_prompt(v))

    def _lasso_prompt(self, vertices: np.ndarray) -> LassoPrompt:
        ref, plane = plane_prompt_parts(vertices, self._axis())
        cut = clip_polygon(plane, ref.plane_shape(self._volume_shape))
        if len(cut) < 3:
            raise PromptError("the lasso lies outside the image; draw it around the object on the image")
        return LassoPrompt(ref, tuple(cut), positive=not self._negative_press)

    def _new_shapes(self, layer: Shapes, key: str, event) -> list[np.ndarray]:
        """Shapes finished since the last call (a lasso too small to keep adds nothing)."""
        # napari emits "added" for a drawn shape while it still flags the layer as creating; every
        # other event during a drawing includes the unfinished shape, so it must not count it.
        if self._clearing or str(getattr(event, "action", "")) != "added":
            if not layer._is_creating:
                self._consumed[key] = layer.nshapes
            return []
        start, self._consumed[key] = self._consumed[key], layer.nshapes
        return [np.asarray(v, dtype=float) for v in layer.data[start:]]

    def _emit(self, build: Callable[[], Prompt]) -> bool:
        """Send the prompt ``build`` makes; a drawing it refuses is a warning (False), not an error."""
        try:
            prompt = build()
        except PromptError as exc:
            from napari.utils.notifications import show_warning

            show_warning(str(exc))
            return False
        self.on_prompt(prompt)
        return True


def _failed_drawing(shapes: Shapes) -> bool:
    """Whether napari failed inside a drawing on ``shapes`` and left it half made: vispy cannot
    triangulate some lassos that cross themselves, napari raises in its mouse callback, and the layer
    stays "creating" with no shape to finish; every later finish raised, so the tool stayed broken."""
    return bool(shapes._is_creating) and shapes._moving_value[0] is None


def _drop_failed_drawing(shapes: Shapes, kept: int) -> None:
    """End the failed drawing: the layer stops creating and loses the shapes past the ``kept`` first
    (the half-made one; the drawings before it stay)."""
    shapes._is_creating = False
    shapes._is_moving = False
    if shapes.nshapes > kept:
        shapes.selected_data = set(range(kept, shapes.nshapes))
        shapes.remove_selected()


def polarity_color(positive: bool) -> str:
    """The colour a prompt of this polarity is drawn in."""
    return POSITIVE_COLOR if positive else NEGATIVE_COLOR


def _rgb(color: str) -> list[float]:
    color = color.lstrip("#")
    return [int(color[i : i + 2], 16) / 255 for i in (0, 2, 4)]
