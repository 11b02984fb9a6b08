"""Optional parts of FaceGate and the extra that installs each, so a missing one ends in one line saying what to do.

`pip install facegate` is the lean core (detect, align, embed, verify, identify, the SQLite gallery); the extras
add the REST API and PostgreSQL (server), sound in annotated videos (video), Ray archive indexing and FAISS search
(scale), report plots (report). Code that needs one imports its packages inside `optional_imports`, or checks them
up front with `require` before it starts any work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module

from facegate.errors import FaceGateError


class MissingExtraError(FaceGateError, ImportError):
    """A feature needs an optional package that is not installed; the message names the extra that installs it."""

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what} needs the {extra} extra: pip install 'facegate[{extra}]'")
        self.extra = extra


@contextmanager
def optional_imports(extra: str, what: str) -> Iterator[None]:
    """Imports inside the block come from `extra`: a missing module raises MissingExtraError naming it."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise MissingExtraError(extra, what) from exc


def require(extra: str, *modules: str, what: str) -> None:
    """Fail before any work starts when one of `modules` (installed by `extra`) cannot be imported."""
    with optional_imports(extra, what):
        for module in modules:
            import_module(module)
