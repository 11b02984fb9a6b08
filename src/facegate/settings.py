"""Every setting FaceGate reads from the environment, in one place: name, FACEGATE_* variable, default, meaning.

Library code asks `current()` instead of reading os.environ itself; the README's settings table lists the same
variables (a test keeps the two in step). Values are read on each call, so a changed environment takes effect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from facegate.errors import FaceGateError


class SettingsError(FaceGateError, ValueError):
    """A FACEGATE_* variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """FaceGate's settings; each field's metadata names its environment variable and says what it is for."""

    home: Path
    data: Path
    db: str | None
    fpir: float
    threads: int | None
    lfw: Path | None
    max_upload_mb: int
    max_pixels: int
    max_files: int
    enroll_min_face: int
    passage_s: int
    liveness: str


# field → (environment variable, default as text or None, what it means)
VARIABLES: dict[str, tuple[str, str | None, str]] = {
    "home": (
        "FACEGATE_HOME",
        "~/.cache/facegate",
        "model cache (converted models, int8 checks, feature cache): safe to delete, rebuilt on demand",
    ),
    "data": (
        "FACEGATE_DATA",
        None,
        "data folder: the default gallery database (people, samples, events, API keys) "
        "(default: the platform's user data folder, e.g. ~/.local/share/facegate)",
    ),
    "db": ("FACEGATE_DB", None, "gallery database URL or SQLite file (default: gallery.db in FACEGATE_DATA)"),
    "fpir": (
        "FACEGATE_FPIR",
        "0.001",
        "the operating point: the share of strangers that may be named as someone "
        "(or of 1:1 impostor pairs accepted); every path derives its threshold from it. One an admin stored in the "
        "gallery comes first, a command's --fpir before both",
    ),
    "threads": ("FACEGATE_THREADS", None, "ONNX Runtime threads per model (default: the cores this process may use)"),
    "lfw": (
        "FACEGATE_LFW",
        None,
        "LFW folder (images_deepfunneled/, pairs.txt) for `benchmark lfw|openset` and "
        "`experiment`'s open-set strangers, where --lfw is not given",
    ),
    "max_upload_mb": ("FACEGATE_MAX_UPLOAD_MB", "10", "service: largest image upload accepted, in MB"),
    "max_pixels": (
        "FACEGATE_MAX_PIXELS",
        "25000000",
        "service: largest image accepted, in pixels (header check, before decoding)",
    ),
    "max_files": ("FACEGATE_MAX_FILES", "50", "service: most photos in one enrollment request"),
    "enroll_min_face": (
        "FACEGATE_ENROLL_MIN_FACE",
        "40",
        "enrollment: smallest face side accepted, in pixels "
        "(`enroll --min-face` overrides it; from "
        "benchmarks/face_size.py)",
    ),
    "passage_s": (
        "FACEGATE_PASSAGE_S",
        "5",
        "service: seconds a face may be out of a gate's view before it counts as a new passage (a new access event)",
    ),
    "liveness": (
        "FACEGATE_LIVENESS",
        "off",
        "service: `off`, `challenge` (every gate asks for a head turn left and right before it names anyone) or "
        "`challenge:GATE,GATE` (only those gates)",
    ),
}


def _text(key: str) -> str | None:
    """The variable's value, or its default where it is unset or empty."""
    variable, default, _ = VARIABLES[key]
    return os.environ.get(variable) or default


def is_set(key: str) -> bool:
    """Whether the setting's variable holds a value (an unset or empty one leaves the default)."""
    return bool(os.environ.get(VARIABLES[key][0]))


def _count(key: str) -> int:
    """A variable's whole-number value ≥ 1, or a SettingsError naming the variable."""
    text = _text(key) or ""
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise SettingsError(f"{VARIABLES[key][0]}={text!r}: expected a whole number ≥ 1")
    return value


def _rate(key: str) -> float:
    """A variable's value as a rate strictly between 0 and 1, or a SettingsError naming the variable."""
    text = _text(key) or ""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.0 < value < 1.0:
        raise SettingsError(f"{VARIABLES[key][0]}={text!r}: expected a rate between 0 and 1, e.g. 0.001")
    return value


def current() -> Settings:
    """The settings as the environment gives them now (defaults where a variable is unset or empty)."""
    lfw, data = _text("lfw"), _text("data")
    return Settings(
        home=Path(_text("home") or ".").expanduser(),
        data=Path(data).expanduser() if data else Path(platformdirs.user_data_dir("facegate", appauthor=False)),
        db=_text("db"),
        fpir=_rate("fpir"),
        threads=_count("threads") if _text("threads") else None,
        lfw=Path(lfw).expanduser() if lfw else None,
        max_upload_mb=_count("max_upload_mb"),
        max_pixels=_count("max_pixels"),
        max_files=_count("max_files"),
        enroll_min_face=_count("enroll_min_face"),
        passage_s=_count("passage_s"),
        liveness=_liveness(),
    )


def _liveness() -> str:
    """FACEGATE_LIVENESS checked: off, challenge, or challenge: and a comma-separated list of gate names."""
    text = (_text("liveness") or "off").strip()
    mode, colon, gates = text.partition(":")
    if mode not in ("off", "challenge") or (colon and (mode == "off" or not gates.strip(" ,"))):
        raise SettingsError(f"FACEGATE_LIVENESS={text!r}: expected off, challenge or challenge:GATE,GATE")
    return text


def challenge_required(liveness: str, gate: str) -> bool:
    """Whether a FACEGATE_LIVENESS value asks `gate` for the head-turn challenge."""
    mode, _, gates = liveness.partition(":")
    return mode == "challenge" and (not gates or gate in {g.strip() for g in gates.split(",")})
