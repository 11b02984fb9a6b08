"""Typed errors: every failure a user can cause is one of these, with a message that says what to do."""

from __future__ import annotations


class FaceGateError(Exception):
    """Base class of every error FaceGate raises on purpose."""


class ImageError(FaceGateError, ValueError):
    """The input is not a usable image (unreadable, truncated, empty, too large, wrong type)."""


class ModelError(FaceGateError):
    """A model file could not be fetched, verified or converted."""


class FaceCountError(FaceGateError, ValueError):
    """An operation that needs exactly one face found none or several."""


class VideoError(FaceGateError):
    """A video or camera that cannot be opened, read or written."""
