"""matplotlib for the reports: drawing to files (no screen needed), from the `report` extra."""

from __future__ import annotations

from types import ModuleType

from facegate.extras import optional_imports


def pyplot(what: str) -> ModuleType:
    """matplotlib.pyplot on the file-only Agg backend; a MissingExtraError naming `what` without the extra."""
    with optional_imports("report", what):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    return plt
