"""Errors the user can act on.

Every error raised for bad input derives from :class:`MedsegError` and carries a one-line message that
says what is wrong and what to do; the command line prints it and exits 2, the widgets show it as a
notification.
"""

from __future__ import annotations


class MedsegError(Exception):
    """Base of all user-facing errors: one line, what is wrong and what to do."""


class VolumeReadError(MedsegError):
    """An image or label file cannot be read or is not a 3D scalar volume."""


class VolumeWriteError(MedsegError):
    """A result cannot be written; the previous file at that path is left untouched."""


class PromptError(MedsegError):
    """A prompt is malformed, degenerate or lies outside the volume."""


class ModelLoadError(MedsegError):
    """A model name is unknown or its checkpoint is missing, corrupt or of the wrong shape."""


class CancelledError(MedsegError):
    """Long work (precompute, propagation) was cancelled by the user."""
