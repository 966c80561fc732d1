"""The built-in promptable model: the network behind the :class:`PromptableModel` protocol.

``encode`` runs the CNN encoder once per slice (on a slice longer than 256 px also on a coarser
grid, for a first click: ``scale.py``) and returns float16 feature maps for the cache;
``decode`` rasterises the prompts at 1/4 resolution, runs the small decoder, calibrates a slice's
first answer by prompt kind (``calibration.py``), refines the logits at slice resolution against the
slice's own edges (``refine.py``), extends a first answer from clicks/scribbles over the object's
connected intensities (``extend.py``) and by the thin brighter shell enclosing it (a medulla by its
kidney's cortex: ``rim.py``), can take the thin arms off a small click answer (``tentacles.py``, off
by default), answers a small box again less timidly where its first answer left a side of the box
empty (``box_span.py``), applies the boxes and lassos drawn (``prompt_evidence.py``),
bounds what a correction may change (against its own sign beside itself, a flood or a far trim from
the border, an ignored negative stroke), joins a fresh answer to a positive click or stroke away from
the mask (the whole it may be part of: ``correction.py``), and returns float32 logits. Weights ship
as float16 safetensors inside the package.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from napari_medseg.core.components import prompt_anchors
from napari_medseg.core.prompts import Prompt
from napari_medseg.errors import MedsegError, ModelLoadError, VolumeReadError
from napari_medseg.models.builtin.box_span import BoxSpanOptions, box_alone, span_box
from napari_medseg.models.builtin.calibration import CalibrationOptions, first_answer_offset
from napari_medseg.models.builtin.correction import CorrectionOptions, bound_correction
from napari_medseg.models.builtin.decoder import MaskDecoder
from napari_medseg.models.builtin.edge_fill import EdgeFillOptions, edge_fill
from napari_medseg.models.builtin.extend import RELATIVE_EXTEND, ExtendOptions, extend_first_answer
from napari_medseg.models.builtin.faint_border import FaintBorderOptions, recut_faint_answer
from napari_medseg.models.builtin.hole_carve import HoleCarveOptions, carve_unlike_pieces
from napari_medseg.models.builtin.layers import fold_batchnorm
from napari_medseg.models.builtin.neck_cut import NeckOptions, cut_at_necks
from napari_medseg.models.builtin.negative_look import (
    NegativeLookOptions,
    answer_to_ignored_click,
    take_out_look_alike,
)
from napari_medseg.models.builtin.network import (
    ARCH,
    PromptableUNet,
    logits_to_full,
    padded_size,
    prev_channels,
)
from napari_medseg.models.builtin.prompt_evidence import (
    EvidenceOptions,
    apply_prompt_evidence,
    bounds_the_answer,
)
from napari_medseg.models.builtin.prompt_maps import PREV_CLIP, SCALE, build_prompt_maps, map_shape
from napari_medseg.models.builtin.refine import RefineOptions, guided_refine
from napari_medseg.models.builtin.rim import RimOptions, join_enclosing_rim
from napari_medseg.models.builtin.scale import (
    ScaleOptions,
    block_mean,
    clicks_only,
    coarse_first_answer,
    prompts_to_working,
    upsample,
    working_factor,
    working_shape,
)
from napari_medseg.models.builtin.second_look import (
    SecondLookOptions,
    drawn_answer,
    drawn_into_previous,
    gets_second_look,
    second_look_input,
)
from napari_medseg.models.builtin.tentacles import TentacleOptions, cut_tentacles
from napari_medseg.models.builtin.whole_answer import whole_from_fresh
from napari_medseg.models.builtin.window import (
    OUTSIDE,
    WindowOptions,
    decode_window,
    maps_under,
    reaches_edge,
)
from napari_medseg.models.builtin.zoom_in import ZoomInOptions, answer_zoomed_in
from napari_medseg.models.protocol import Embedding
from napari_medseg.models.working_scale import WorkingSpacing

# p2: the embedding also holds the slice (float16) for the refinement; p3: feature maps stored (H, W, C);
# p4: slices longer than ScaleOptions.max_side are also encoded at 1/k ("coarse_" maps; k in "scale")
PREPROCESSING_VERSION = "p4"
FEATURE_KEYS = ("e2", "e4", "s4", "e8", "e16", "e32")
COARSE = "coarse_"  # key prefix of the coarse grid's maps (scale.py)
EMBEDDING_KEYS = (*FEATURE_KEYS, "image", "size", "scale")
WEIGHTS_NAME = "builtin.safetensors"
STEP_WEIGHTS_NAME = "builtin-propagation.safetensors"  # the propagation decoder, beside the weights


@dataclass(frozen=True)
class WalkOptions:
    """Propagation steps: whether they use the propagation decoder (when the weights have one)."""

    own_decoder: bool = True


def default_weights_path() -> Path:
    return Path(str(importlib.resources.files("napari_medseg.models.builtin") / "weights" / WEIGHTS_NAME))


def sanitize_slice(image: np.ndarray) -> np.ndarray:
    """Any 2D array -> finite float32 in [0, 1] (NaN -> 0, +inf -> 1, -inf -> 0)."""
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise VolumeReadError(f"the model takes one 2D slice (H, W), got an array of shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise VolumeReadError(f"the slice is empty (shape {arr.shape}); pass a slice of at least 1x1 pixels")
    out = np.nan_to_num(arr.astype(np.float32, copy=True), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(out, 0.0, 1.0, out=out)


def state_dict_to_fp16(net: PromptableUNet) -> dict[str, torch.Tensor]:
    """The tensors that are saved: float parameters and BatchNorm statistics, as float16."""
    return {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in net.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }


def load_state(path: Path, part: str = "") -> dict[str, torch.Tensor]:
    """Read and check a safetensors checkpoint; any problem -> ModelLoadError naming the file.

    ``part``: "" for the whole network, "decoder." for a decoder alone (the propagation decoder)."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read built-in model weights {path}: {exc.strerror or exc}") from exc
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"{path} is not a valid safetensors file ({msg}); re-install or re-train the weights") from exc
    expected = {k: v.shape for k, v in PromptableUNet().state_dict().items()
                if not k.endswith("num_batches_tracked") and k.startswith(part)}
    what = "the built-in model's decoder" if part else "the built-in model"
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ModelLoadError(f"{path} lacks {len(missing)} tensors of {what} (e.g. '{missing[0]}'); it is not a {ARCH} checkpoint")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise ModelLoadError(f"{path} has unknown tensor '{unexpected[0]}'; it is not a {ARCH} checkpoint of {what}")
    for k, shape in expected.items():
        if tuple(tensors[k].shape) != tuple(shape):
            raise ModelLoadError(
                f"{path}: tensor '{k}' has shape {tuple(tensors[k].shape)}, expected {tuple(shape)}; wrong checkpoint for {ARCH}"
            )
        if not torch.isfinite(tensors[k].float()).all():
            raise ModelLoadError(f"{path}: tensor '{k}' holds NaN or inf values; the checkpoint is corrupt")
    return {k: v.float() for k, v in tensors.items()}


def coarse_embedding(embedding: Embedding, k: int) -> Embedding:
    """The coarse grid's maps of a large slice's embedding as an embedding of its own, answered like
    a small slice (scale.py). The steps after the network see every k-th pixel: an average would
    halve the noise their intensity windows are measured against (same dev Dice at 2-3x on CT)."""
    image = embedding["image"][::k, ::k]
    out = {key: embedding[COARSE + key] for key in FEATURE_KEYS}
    out.update(image=image, size=np.array(image.shape, dtype=np.int64), scale=np.array([1], dtype=np.int64))
    return out


def checked_previous(prev_logits: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Previous logits as finite float32 of the slice's ``shape``; another shape -> VolumeReadError."""
    pl = np.asarray(prev_logits, dtype=np.float32)
    if pl.shape != shape:
        raise VolumeReadError(f"previous logits have shape {pl.shape}, the slice is {shape}; pass logits of this slice")
    if not np.isfinite(pl).all():
        pl = np.nan_to_num(pl, nan=0.0, posinf=PREV_CLIP, neginf=-PREV_CLIP)
    return pl


def load_step_decoder(path: Path, weights_sha256: str) -> MaskDecoder | None:
    """The propagation decoder in ``path`` (BatchNorm folded), or None when it was trained on another
    encoder's features than the weights with ``weights_sha256`` (it would read them wrongly)."""
    from safetensors import safe_open

    state = load_state(path, part="decoder.")
    with safe_open(str(path), framework="pt") as f:
        encoder_sha = (f.metadata() or {}).get("encoder_sha256", "")
    if encoder_sha != weights_sha256:
        return None
    net = PromptableUNet()
    net.load_state_dict(state, strict=False)
    return fold_batchnorm(net.eval()).decoder


class BuiltinModel:
    """The default model: a ~1M-parameter CNN, fast on a laptop CPU. Implements ``PromptableModel``."""

    name = "builtin"
    # the inference-time steps after the network; ``extend_relative`` replaces ``extend`` on relative
    # intensities (a percentile range: MR), see extend.py
    TUNABLE = ("edge_fill", "scale", "calibration", "refine", "extend", "extend_relative", "evidence", "correction", "walk",
               "second_look", "rim", "negative_look", "neck", "box_span", "tentacles", "faint_border", "holes", "window",
               "zoom_in", "working_spacing")

    def __init__(self, net: PromptableUNet, weights_sha256: str, device: str = "cpu",
                 metadata: dict | None = None, step_decoder: MaskDecoder | None = None) -> None:
        self.scale = ScaleOptions()
        self.edge_fill = EdgeFillOptions()
        self.calibration = CalibrationOptions()
        self.refine = RefineOptions()
        self.extend = ExtendOptions()
        self.extend_relative = RELATIVE_EXTEND
        self.evidence = EvidenceOptions()
        self.correction = CorrectionOptions()
        self.walk = WalkOptions()
        self.second_look = SecondLookOptions()
        self.rim = RimOptions()
        self.negative_look = NegativeLookOptions()
        self.neck = NeckOptions()
        self.box_span = BoxSpanOptions()
        self.tentacles = TentacleOptions()
        self.faint_border = FaintBorderOptions()
        self.holes = HoleCarveOptions()
        self.window = WindowOptions()
        self.zoom_in = ZoomInOptions()
        self.working_spacing = WorkingSpacing()  # coarser slices are scaled up first (models/working_scale.py)
        self.device = torch.device(device)
        # channels last (NHWC): the CPU convolutions, pooling and upsampling of this small network run
        # two to four times faster than NCHW (layers.Pointwise), and the cache keeps the maps that way
        self.net = fold_batchnorm(net.eval()).to(self.device, memory_format=torch.channels_last)
        self._sha = weights_sha256
        self.metadata = metadata or {}
        # the propagation decoder (train_propagation.py), for the walk's steps; None: the shared one
        self.step_decoder = None if step_decoder is None else step_decoder.to(self.device, memory_format=torch.channels_last)

    def configure(self, options: Mapping[str, float]) -> None:
        """Set inference-time options by dotted name, e.g. ``{"calibration.box": 0.5}`` (for sweeps
        on the development volumes; the defaults are the chosen values)."""
        for key, value in options.items():
            group, _, name = key.partition(".")
            if group not in self.TUNABLE:
                raise MedsegError(f"unknown built-in model option '{key}'; it starts with one of {', '.join(self.TUNABLE)}")
            current = getattr(self, group)
            kinds = {f.name: f.type for f in fields(current)}
            if name not in kinds:
                raise MedsegError(f"unknown built-in model option '{key}'; {group} has {', '.join(kinds)}")
            cast = {"int": int, "bool": bool}.get(str(kinds[name]), float)
            setattr(self, group, replace(current, **{name: cast(value)}))

    @property
    def identity(self) -> str:
        ident = f"builtin:{self._sha[:12]}:{PREPROCESSING_VERSION}"
        if self.scale.max_side != ScaleOptions().max_side:  # another working scale encodes other features
            ident += f":w{self.scale.max_side}"
        return ident

    def encode(self, image: np.ndarray) -> Embedding:
        img = sanitize_slice(image)
        h, w = img.shape
        out = self._features(img)
        k = working_factor(h, w, self.scale.max_side)
        if k > 1:  # a large slice: also on the coarser grid that a first click is answered on (scale.py)
            out.update({COARSE + key: v for key, v in self._features(block_mean(img, k)).items()})
        out["image"] = img.astype(np.float16)  # the guide of the full-resolution refinement
        out["size"] = np.array([h, w], dtype=np.int64)
        out["scale"] = np.array([k], dtype=np.int64)  # the coarse grid's pixels are k x k slice pixels
        return out

    def _features(self, img: np.ndarray) -> Embedding:
        """The encoder's float16 maps of one (H, W) image, each stored (h, w, C)."""
        h, w = img.shape
        hp, wp = padded_size(h, w)
        x = torch.from_numpy(np.ascontiguousarray(img))[None, None].to(self.device)
        with torch.inference_mode():
            x = torch.nn.functional.pad(x, (0, wp - w, 0, hp - h), mode="replicate")
            feats = self.net.encoder(x.contiguous(memory_format=torch.channels_last))
            # (H, W, C) per map: the decoder reads them back channels last without a transposing copy
            return {key: feats[key][0].permute(1, 2, 0).to(torch.float16).contiguous().cpu().numpy()
                    for key in FEATURE_KEYS}

    def appearance_features(self, embedding: Embedding) -> tuple[np.ndarray, int]:
        """The 1/4-resolution encoder features (``e4``: (h, w, 16) float16, a view of the embedding) over
        the slice, and their stride 4: what propagation judges a mask's look by
        (``core/feature_appearance.py``)."""
        h, w = (int(v) for v in embedding["size"])
        return embedding["e4"][: -(-h // 4), : -(-w // 4)], 4

    def decode(self, embedding: Embedding, prompts: Sequence[Prompt],
               prev_logits: np.ndarray | None = None) -> np.ndarray:
        """Mask logits for ``prompts`` on the slice; intensities taken as absolute (a CT window)."""
        return self.decode_relative(embedding, prompts, prev_logits, relative=False)

    def decode_step(self, embedding: Embedding, prompts: Sequence[Prompt],
                    prev_logits: np.ndarray, relative: bool) -> np.ndarray:
        """One propagation step (the prompts and logits derived from the neighbouring slice's mask): the
        propagation decoder's answer when there is one (and ``walk.own_decoder``), else ``decode``'s."""
        decoder = self.step_decoder if self.walk.own_decoder else None
        return self.decode_relative(embedding, prompts, prev_logits, relative, decoder=decoder, walk=True)

    def decode_relative(self, embedding: Embedding, prompts: Sequence[Prompt],
                        prev_logits: np.ndarray | None, relative: bool,
                        decoder: MaskDecoder | None = None, fill: bool = True, look: bool = True,
                        walk: bool = False, zoom: bool = True) -> np.ndarray:
        """``decode``; with ``relative`` (a percentile range, as for MR) a first answer from clicks or
        scribbles is extended by ``extend_relative`` instead of ``extend``. ``decoder``: another
        decoder on the same features (the propagation decoder). ``fill``: False leaves a first click's
        answer without the edge fill, ``look``: False without the second look (both for the fresh
        answer a correction is checked against: no correction rules run inside it, so no recursion);
        ``walk``: a propagation step (decoded on a window only with ``window.walks``, window.py); ``zoom``:
        False keeps a tiny object on the slice as it is (the zoomed-in crop's own answer, zoom_in.py)."""
        missing = [k for k in EMBEDDING_KEYS if k not in embedding]
        if missing:
            raise ModelLoadError(
                f"embedding lacks '{missing[0]}': it was not made by the built-in model; clear the embedding cache"
            )
        if zoom and look and (not walk or self.zoom_in.walks):  # a tiny object: on a zoomed-in crop (zoom_in.py)
            previous = None if prev_logits is None else checked_previous(prev_logits, tuple(embedding["size"]))
            zoomed = answer_zoomed_in(embedding["image"], prompts, previous, self.zoom_in,
                                      lambda crop, on_crop, prev: self.decode_relative(
                                          self.encode(crop), on_crop, prev, relative, decoder, fill, walk=walk,
                                          zoom=False), walk=walk)
            if zoomed is not None:
                return zoomed
        looks = look and prev_logits is None and gets_second_look(prompts, self.second_look)
        # lassos alone: the drawn region stands for the first answer (second_look.py)
        out = drawn_answer(prompts, tuple(int(v) for v in embedding["size"]), self.second_look) if looks else None
        if out is None:
            # a first answer from clicks alone (on MR, from scribbles too) on a large slice runs on the
            # coarse grid (scale.py), and so does the first of two decodes when the second look is to
            # follow (``coarse_first``)
            coarse = (int(embedding["scale"][0]) > 1 and prev_logits is None
                      and (coarse_first_answer(prompts, relative, self.scale) or (looks and self.second_look.coarse_first)))
            out = self._decode_once(embedding, prompts, prev_logits, relative, decoder, fill, coarse,
                                    windowed=not walk or self.window.walks)
        if looks and (second := second_look_input(prompts, out, self.second_look)) is not None:
            out = self._decode_once(embedding, second[0], second[1], relative, decoder, fill, coarse=False,
                                    bounded=bounds_the_answer(second[0], self.evidence))
        if look and not walk:  # a first answer after its second look, or a correction (hole_carve.py)
            out = carve_unlike_pieces(out, embedding["image"], prompts, self.holes, prev_logits, relative)
        return out

    def _decode_once(self, embedding: Embedding, prompts: Sequence[Prompt], prev_logits: np.ndarray | None,
                     relative: bool, decoder: MaskDecoder | None, fill: bool, coarse: bool,
                     windowed: bool = True, bounded: bool = False) -> np.ndarray:
        """One pass of the network and the steps after it; ``coarse``: on the coarse grid of a large
        slice (a first answer only); ``windowed``: a correction may be decoded on a window (window.py);
        ``bounded``: a second look whose answer its boxes and lassos bound (a narrower window)."""
        h, w = (int(v) for v in embedding["size"])
        previous = None if prev_logits is None else checked_previous(prev_logits, (h, w))
        k, prefix = (int(embedding["scale"][0]), COARSE) if coarse else (1, "")
        if coarse and COARSE + FEATURE_KEYS[0] not in embedding:
            raise ModelLoadError("embedding lacks its coarse features: it was not made by this model; clear the embedding cache")
        # on CT the steps after the network run on the coarse grid too; on MR for scribbles alone (scale.py)
        steps_there = (not relative or self.scale.relative_click_steps
                       or (self.scale.relative_scribble_steps and not clicks_only(prompts)))
        if coarse and self.scale.whole_pipeline and steps_there:
            small = self._decode_once(coarse_embedding(embedding, k), prompts_to_working(prompts, k), None,
                                      relative, decoder, fill, coarse=False)
            with torch.inference_mode():
                return upsample(torch.from_numpy(small), k, (h, w)).numpy()
        hw, ww = working_shape(h, w, k)
        hp, wp = padded_size(hw, ww)
        mh, mw = map_shape((hp, wp))
        maps = torch.from_numpy(build_prompt_maps(prompts_to_working(prompts, k), (mh, mw)))[None]
        given = torch.zeros(1)
        rows, cols = slice(0, hp), slice(0, wp)  # the part of the padded slice decoded
        narrow = False
        if previous is not None:  # (a correction or a walk: always on the full-resolution grid, k = 1)
            pl = drawn_into_previous(prompts, previous, self.second_look)
            if (hp, wp) != (h, w):
                pl = np.pad(pl, ((0, hp - h), (0, wp - w)), constant_values=-PREV_CLIP)
            # a second look's answer lies within its boxes and lassos: a narrower window, no edge guard
            narrow = bounded and self.window.second_look_margin > 0
            opts = replace(self.window, margin=self.window.second_look_margin) if narrow else self.window
            window = decode_window(previous, prompts, (hp, wp), opts) if windowed else None
            if window is not None:
                rows, cols = window
                maps = maps[:, :, rows.start // SCALE : rows.stop // SCALE, cols.start // SCALE : cols.stop // SCALE]
                pl = pl[rows, cols]
            prev = torch.from_numpy(pl)[None, None]
            given[0] = 1.0
        else:
            prev = None
        with torch.inference_mode():
            # (H, W, C) float16 -> (1, C, H, W) float32 laid out channels last (the permuted strides are kept)
            feats = {key: torch.from_numpy(maps_under(embedding[prefix + key], rows, cols, hp))
                     .permute(2, 0, 1)[None].to(self.device, torch.float32) for key in FEATURE_KEYS}
            pc = torch.zeros((1, 2, mh, mw)) if prev is None else prev_channels(prev, given)
            inp = torch.cat([maps, pc], dim=1).to(self.device).contiguous(memory_format=torch.channels_last)
            logit2, _ = (decoder or self.net.decoder)(feats, inp)
            if (rows.stop - rows.start, cols.stop - cols.start) == (hp, wp):
                raw = logits_to_full(logit2, (hw, ww))[0, 0].float().cpu()
            else:  # a window: the previous mask stands outside it (window.py)
                inside = (min(rows.stop, h) - rows.start, min(cols.stop, w) - cols.start)
                part = logits_to_full(logit2, inside)[0, 0].float().cpu()
                if not narrow and reaches_edge(part.numpy(), rows, cols, (h, w), self.window.guard):  # it may go on past it
                    return self._decode_once(embedding, prompts, prev_logits, relative, decoder, fill, coarse,
                                             windowed=False)
                raw = torch.from_numpy(np.minimum(previous, OUTSIDE))
                raw[rows.start : rows.start + inside[0], cols.start : cols.start + inside[1]] = part
            # only a first answer is calibrated, by its area on the network's grid (the scale it knows)
            own_area = float((raw > 0).sum()) if prev is None else None
            raw = upsample(raw, k, (h, w))
        offset = first_answer_offset(prompts, prev is not None, self.calibration, own_area)
        extend = self.extend_relative if relative else self.extend
        out = self._after_network(raw + offset if offset else raw, embedding, prompts, prev is not None, extend, fill)
        if prev is None and (box := box_alone(prompts)) is not None and own_area * k * k <= self.box_span.max_area:
            out = span_box(out, box, embedding["image"], self.box_span,  # a small box's timid answer (box_span.py)
                           lambda extra: self._after_network(raw + offset + extra, embedding, prompts, False, extend, fill))
        if offset < 0 and self.calibration.keep_prompted:  # a first answer from clicks/scribbles
            anchors = prompt_anchors(prompts, (h, w))
            if not (out[anchors] > 0).any() and (raw.numpy()[anchors] > 0).any():
                out = self._after_network(raw, embedding, prompts, prev is not None, extend, fill)  # the network's own
        if previous is not None:
            network = out
            ruled = bound_correction(network, previous, prompts, self.correction, image=embedding["image"],
                                     relative=relative)
            out = whole_from_fresh(ruled, previous, prompts,
                                   lambda: self.decode_relative(embedding, prompts, None, relative, fill=False, look=False),
                                   self.correction, relative)
            if self.edge_fill.corrections and clicks_only(prompts):  # last: the gates above judge the network's answer
                # what the rules took out stays out of the fill's reach (edge_fill.keep_rules)
                dropped = (network > 0) & ~(ruled > 0) if self.edge_fill.keep_rules else None
                out = edge_fill(out, embedding["image"], self.edge_fill, prompts, background=dropped)
            if relative or self.negative_look.absolute:
                out = take_out_look_alike(out, prompts, embedding["image"], self.negative_look)
                if self.negative_look.ignored:
                    out = answer_to_ignored_click(out, previous, prompts, embedding["image"], self.negative_look)
        return out

    def _after_network(self, logits: torch.Tensor, embedding: Embedding, prompts: Sequence[Prompt],
                       previous_given: bool, extend: ExtendOptions, fill: bool = True) -> np.ndarray:
        """The inference-time steps on the (calibrated) full-resolution logits."""
        image = embedding["image"]
        with torch.inference_mode():
            logits = guided_refine(logits, torch.from_numpy(image), self.refine)
        out = logits.numpy().astype(np.float32, copy=False)
        out = extend_first_answer(out, image, prompts, previous_given, extend,
                                  features=lambda: self.appearance_features(embedding))
        if fill and not previous_given and clicks_only(prompts):
            out = edge_fill(out, image, self.edge_fill, prompts)
        out = join_enclosing_rim(out, image, prompts, previous_given, extend is self.extend_relative, self.rim)
        out = cut_at_necks(out, prompts, previous_given, extend is self.extend_relative, self.neck)
        out = cut_tentacles(out, prompts, previous_given, extend is self.extend_relative, self.tentacles)
        out = recut_faint_answer(out, image, prompts, previous_given, extend is self.extend_relative, self.faint_border)
        return apply_prompt_evidence(out, prompts, self.evidence, correcting=previous_given)


def load_builtin(checkpoint: Path | None = None, device: str = "cpu") -> BuiltinModel:
    """The built-in model from ``checkpoint`` (safetensors) or from the weights shipped in the package."""
    path = Path(checkpoint) if checkpoint is not None else default_weights_path()
    if not path.is_file():
        raise ModelLoadError(f"built-in model weights not found: {path}; re-install napari-medseg or pass a checkpoint")
    state = load_state(path)
    net = PromptableUNet()
    net.load_state_dict(state, strict=False)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    step_path = path.with_name(STEP_WEIGHTS_NAME)
    step_decoder = load_step_decoder(step_path, sha) if step_path.is_file() else None
    meta_path = path.with_suffix(".json")
    metadata = {}
    if meta_path.is_file():
        try:
            metadata = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            metadata = {}
    return BuiltinModel(net, sha, device=device, metadata=metadata, step_decoder=step_decoder)
