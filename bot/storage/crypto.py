"""Encryption at rest for personal fields, and the blind index of phone numbers.

- `EncryptedText` / `EncryptedJSON`: SQLAlchemy TypeDecorators over cryptography's MultiFernet. The
  first key in settings.encryption_keys encrypts; every key decrypts (so keys can be rotated).
- `configure(keys)` must run once per process before personal fields are read or written (the
  action server, the CLI and the tests do it from settings).
- `blind_index(e164, key)`: HMAC-SHA256 of the normalised number, so staff can see repeat requests
  without decrypting anything.

Nothing here logs values. Decryption failures raise `DecryptionError` without the token.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import Any, Iterable, Optional, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.types import Text, TypeDecorator


class EncryptionNotConfigured(RuntimeError):
    """Personal fields were used before `configure(keys)` ran in this process."""


class DecryptionError(RuntimeError):
    """A stored value could not be decrypted with any configured key."""


_lock = threading.Lock()
_multi: Optional[MultiFernet] = None


def make_multifernet(keys: Iterable[bytes | str]) -> MultiFernet:
    fernets = [Fernet(k if isinstance(k, bytes) else k.encode()) for k in keys]
    if not fernets:
        raise EncryptionNotConfigured("at least one Fernet key is needed (ENCRYPTION_KEYS)")
    return MultiFernet(fernets)


def configure(keys: Sequence[bytes | str]) -> None:
    """Use these Fernet keys (newest first) for every encrypted column in this process."""
    global _multi
    with _lock:
        _multi = make_multifernet(keys)


def configure_from_settings(settings: Any) -> None:
    configure(settings.fernet_keys)


def current() -> MultiFernet:
    if _multi is None:
        raise EncryptionNotConfigured(
            "encryption keys are not configured in this process (call bot.storage.crypto.configure)"
        )
    return _multi


def encrypt(value: str) -> str:
    return current().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return current().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise DecryptionError("a stored personal field could not be decrypted with any key") from None


def rotate_token(token: str, multi: Optional[MultiFernet] = None) -> str:
    """Re-encrypt an existing token under the newest key (keeps the original timestamp)."""
    try:
        return (multi or current()).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        raise DecryptionError("a stored personal field could not be decrypted with any key") from None


class EncryptedText(TypeDecorator):
    """A string stored as a Fernet token (ASCII text in the database)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect: Any) -> Optional[str]:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TypeError("EncryptedText takes str values")
        return encrypt(value)

    def process_result_value(self, value: Optional[str], dialect: Any) -> Optional[str]:
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator):
    """A JSON-serialisable value stored as one Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Optional[str]:
        if value is None:
            return None
        return encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True))

    def process_result_value(self, value: Optional[str], dialect: Any) -> Any:
        return None if value is None else json.loads(decrypt(value))


def blind_index(e164: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of a normalised E.164 number. Equal numbers give equal indexes."""
    if not key:
        raise EncryptionNotConfigured("BLIND_INDEX_KEY is needed for the blind index")
    return hmac.new(key, e164.encode("ascii"), hashlib.sha256).hexdigest()
