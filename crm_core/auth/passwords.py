"""Password hashing (Argon2id) and the password policy.

The hash parameters are OWASP's first recommendation for Argon2id (Password
Storage Cheat Sheet): m = 19 MiB (19456 KiB), t = 2 iterations, p = 1.
RFC 9106's "second recommended option" (64 MiB, t = 3, p = 4) costs three
times the memory per sign-in, which a small server signing many people in
at once feels; OWASP's choice is the same strength class. When these
parameters change, a user's stored hash is replaced at their next sign-in
(``needs_rehash``).

Common passwords come from ``common-passwords.txt`` next to this module
(see ``docs/users.md`` for its origin and licence); no network is used.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING

from crm_core.errors import ValidationError

if TYPE_CHECKING:
    import argon2

__all__ = ["MAX_LENGTH", "check_policy", "hash_password", "is_common", "needs_rehash", "verify"]

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
#: a longer password is refused: hashing megabytes on request would be a denial-of-service lever
MAX_LENGTH = 1024


@functools.lru_cache(maxsize=1)
def hasher() -> argon2.PasswordHasher:
    import argon2

    return argon2.PasswordHasher(
        time_cost=TIME_COST,
        memory_cost=MEMORY_COST_KIB,
        parallelism=PARALLELISM,
        hash_len=32,
        salt_len=16,
        type=argon2.Type.ID,
    )


@functools.lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    text = resources.files("crm_core.auth").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip())


def is_common(password: str) -> bool:
    return password.strip().casefold() in _common()


def check_policy(password: str, min_length: int, user_name: str | None = None) -> None:
    """Refuse a weak password with a message that says what a good one needs."""
    if len(password) < min_length:
        raise ValidationError(
            f"the password is too short: {len(password)} characters, at least {min_length} are needed (a few words make a good one)"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"the password is too long: at most {MAX_LENGTH} characters")
    if is_common(password):
        raise ValidationError(
            "the password is one of the most common passwords, which attackers try first; choose another"
        )
    if user_name and user_name.casefold() in password.casefold():
        raise ValidationError("the password contains the user name; choose one that does not")
    if len(set(password)) < 4:
        raise ValidationError("the password repeats too few characters; choose one with more variety")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; with no stored hash a dummy is checked (same time, no early answer)."""
    import argon2

    try:
        return hasher().verify(stored or _dummy(), password) and stored is not None
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return hasher().check_needs_rehash(stored)


@functools.lru_cache(maxsize=1)
def _dummy() -> str:
    return hasher().hash("not a password of anyone")
