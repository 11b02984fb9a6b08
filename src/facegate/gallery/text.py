"""What text and ids the gallery stores: one rule for names (people, keys, gates) and file names, used by the API
schemas, the repository and the CLI alike, so that nothing a database would refuse ever reaches it."""

from __future__ import annotations

import unicodedata

from facegate.errors import FaceGateError

# Ids are INTEGER columns: 32-bit in PostgreSQL; SQLite holds more, but one range keeps both databases alike.
MAX_ID = 2**31 - 1
NAME_LENGTH = 200  # people.name, api_keys.name, events.gate
FILENAME_LENGTH = 255  # samples.filename holds 500; a file name longer than a file system allows is cut

# Unicode categories refused in names: controls (NUL, CR/LF, ...), format characters (zero-width, bidi overrides,
# BOM), lone surrogates, private use, unassigned, and line/paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class InvalidText(FaceGateError, ValueError):
    """A name is empty, too long, or holds characters that would hide or fake what it shows."""


def _refused(text: str) -> list[str]:
    """The characters of `text` a name may not hold, as U+XXXX codes (in order, once each)."""
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in REFUSED_CATEGORIES))


def clean_name(value: str, what: str = "a name", max_length: int = NAME_LENGTH) -> str:
    """`value` NFC-normalised and stripped; InvalidText when empty, longer than `max_length` or holding a control,
    format (zero-width, bidi) or other invisible character. Messages never repeat the refused text itself."""
    refused = _refused(value)
    if refused:
        shown = ", ".join(refused[:5]) + (", …" if len(refused) > 5 else "")
        raise InvalidText(f"{what} may not contain control, zero-width or bidi characters ({shown})")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise InvalidText(f"{what} may not be empty")
    if len(text) > max_length:
        raise InvalidText(f"{what} may be at most {max_length} characters long (got {len(text)})")
    return text


def safe_filename(value: str | None) -> str:
    """A photo's file name fit to store and show: without refused characters, its last FILENAME_LENGTH characters
    (the end names the file); "upload" when nothing is left. A file name is a label, so it is mended, not refused."""
    kept = "".join(c for c in value or "" if unicodedata.category(c) not in REFUSED_CATEGORIES)
    return unicodedata.normalize("NFC", kept).strip()[-FILENAME_LENGTH:] or "upload"


def valid_id(value: int) -> bool:
    """True when `value` can be a row id (1 .. MAX_ID); anything else names no row, in either database."""
    return 1 <= value <= MAX_ID
