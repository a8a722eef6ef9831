"""Password policy and hashing (argon2id via argon2-cffi, run off the event loop).

Policy (OWASP ASVS 2.1): at least 12 characters, at most 256, any characters (spaces and emoji
included, no composition rules, no truncation), not one of the most common passwords, not the user
name. Hashing and verification run in a worker thread so a burst of sign-ins cannot stall the chat.
"""
from __future__ import annotations

import asyncio
import functools
import unicodedata
from pathlib import Path
from typing import FrozenSet, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

# argon2id, RFC 9106 "second recommended option" memory (64 MiB), 3 passes.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)


class PasswordRejected(ValueError):
    """The password breaks the policy; the message is safe to show to the member of staff."""


def normalise(password: str) -> str:
    # NFKC so the same password typed on different keyboards/OSes gives the same bytes (ASVS 2.1.x).
    return unicodedata.normalize("NFKC", password)


@functools.lru_cache(maxsize=1)
def common_passwords() -> FrozenSet[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_policy(password: str, username: Optional[str] = None) -> None:
    password = normalise(password)
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) < 4:
        raise PasswordRejected("That password is too common. Choose another, for example three random words.")
    if username and username.lower() in lowered:
        raise PasswordRejected("The password must not contain the user name.")


def hash_password_sync(password: str) -> str:
    return _HASHER.hash(normalise(password))


def verify_password_sync(stored_hash: Optional[str], password: str) -> bool:
    """Constant-ish time: an unknown user is checked against a dummy hash so timing does not tell."""
    if len(password) > MAX_LENGTH * 4:
        password = password[: MAX_LENGTH * 4]
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), normalise(password)) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("not a real password, only for equal timing")


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, hash_password_sync, password)


async def verify_password(stored_hash: Optional[str], password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(None, verify_password_sync, stored_hash, password)
