"""The widget's keyboard shortcuts, bound so that napari's own ones keep working.

napari looks a key up in the active layer's keymap first, then in the viewer's. The shortcuts are
bound on the viewer (for any active layer without its own binding) and on our tool layers (where
they override those layers' modes: P, S, L, T... mean our tools there). On the target Labels layer
only undo/redo are taken over, so that Ctrl+Z undoes the session's steps rather than napari's paint
history. Unbinding restores whatever the viewer had before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from napari.utils.notifications import show_warning

from napari_medseg.errors import MedsegError

UNDO_KEYS = ("Control-Z", "Control-Shift-Z")


def guarded(action: Callable[[], object]) -> Callable[..., None]:
    """A key handler that shows a user error as a warning instead of raising it into napari."""

    def run(_parent=None) -> None:
        try:
            action()
        except MedsegError as exc:
            show_warning(str(exc))

    return run


class Shortcuts:
    """Bind ``actions`` (key -> callable) on a viewer and on layers; undo it all on :meth:`unbind`."""

    def __init__(self, viewer, actions: dict[str, Callable[[], object]]) -> None:
        self.viewer = viewer
        self.actions = actions
        self._previous: dict[str, object] = {}
        self._layers: list[tuple[object, tuple[str, ...]]] = []

    def bind_viewer(self) -> None:
        for key, action in self.actions.items():
            self._previous[key] = self.viewer.bind_key(key, guarded(action), overwrite=True)

    def bind_layers(self, layers: Iterable, keys: Iterable[str] | None = None) -> None:
        keys = tuple(self.actions if keys is None else keys)
        for layer in layers:
            for key in keys:
                layer.bind_key(key, guarded(self.actions[key]), overwrite=True)
            self._layers.append((layer, keys))

    def unbind(self) -> None:
        for key, previous in self._previous.items():
            self.viewer.bind_key(key, previous, overwrite=True)
        self._previous.clear()
        for layer, keys in self._layers:
            for key in keys:
                layer.bind_key(key, None, overwrite=True)
        self._layers.clear()
