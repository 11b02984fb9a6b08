"""Which operating point is in force, and where it comes from. One order everywhere: a command's own --fpir, else
the point an admin stored in the gallery for the whole site (the page, PUT /operating-point), else FACEGATE_FPIR,
else the default 1e-3."""

from __future__ import annotations

from dataclasses import dataclass

from facegate import settings
from facegate.match.operating_point import check_fpir

COMMAND, GALLERY, SETTING, DEFAULT = "--fpir", "gallery", "FACEGATE_FPIR", "default"  # the sources, strongest first
SAID = {
    COMMAND: "given with --fpir",
    GALLERY: "stored in the gallery by an admin",
    SETTING: "from FACEGATE_FPIR",
    DEFAULT: "the default",
}


@dataclass(frozen=True)
class OperatingPoint:
    """A false-accept target (FPIR) and where it comes from (COMMAND, GALLERY, SETTING or DEFAULT)."""

    fpir: float
    source: str

    def __str__(self) -> str:
        return f"FPIR {self.fpir:g} ({SAID[self.source]})"


def configured(fpir: float | None = None) -> OperatingPoint:
    """The point a process starts from: `fpir` from its command line, else FACEGATE_FPIR, else the default."""
    if fpir is not None:
        return OperatingPoint(check_fpir(fpir), COMMAND)
    return OperatingPoint(settings.current().fpir, SETTING if settings.is_set("fpir") else DEFAULT)


def in_force(start: OperatingPoint, stored: float | None) -> OperatingPoint:
    """The point to decide at: a command's own over the gallery's stored one, which is over `start`."""
    return start if start.source == COMMAND or stored is None else OperatingPoint(stored, GALLERY)
