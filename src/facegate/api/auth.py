"""API keys: random 256-bit tokens shown once, stored as SHA-256, each with one role."""

from __future__ import annotations

import hashlib
import secrets

from facegate.gallery.repository import ConflictError, Gallery, KeyInfo

# What each role may do. admin manages people and keys and may also identify (the web page's live view);
# gate identifies and verifies (each identify writes access events); viewer reads the gallery and the events.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"manage", "identify", "read"}),
    "gate": frozenset({"identify"}),
    "viewer": frozenset({"read"}),
}
PREFIX = "fg_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(gallery: Gallery, role: str, name: str | None = None, gate: str | None = None) -> tuple[str, KeyInfo]:
    """A new key for `role`; returns the key itself (show it once, it is not kept) and its stored record. `gate`
    names the gate whose access events the key's identifications make (default: the key's name); several keys
    may belong to one gate. Only keys that identify belong to a gate."""
    if role not in PERMISSIONS:
        raise ConflictError(f"unknown role {role!r}; choose one of {', '.join(PERMISSIONS)}")
    if gate is not None and "identify" not in PERMISSIONS[role]:
        raise ConflictError(f"a {role} key identifies no one, so it belongs to no gate")
    key = PREFIX + secrets.token_urlsafe(32)
    return key, gallery.add_key(name or f"{role}-{key[3:9]}", role, hash_key(key), key[:9], gate)


def lookup(gallery: Gallery, key: str) -> KeyInfo | None:
    """The key's record, or None for an unknown (or deleted) key."""
    return gallery.key_by_hash(hash_key(key)) if key.startswith(PREFIX) else None


class AuthError(Exception):
    """A request without a usable key (401) or with a key whose role lacks the permission (403)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def authorize(gallery: Gallery, key: str | None, permission: str) -> KeyInfo:
    """The record of `key` when its role has `permission`; AuthError otherwise (one rule for every check)."""
    if not key:
        raise AuthError(401, "missing X-API-Key header")
    info = lookup(gallery, key)
    if info is None:
        raise AuthError(401, "unknown API key")
    if permission not in PERMISSIONS[info.role]:
        raise AuthError(403, f"a {info.role} key may not {permission}")
    return info
