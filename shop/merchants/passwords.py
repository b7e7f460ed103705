"""Password hashing with argon2id (argon2-cffi), and upgrading older werkzeug hashes.

Checking a password for an e-mail nobody has costs the same as checking a wrong one: it is
verified against a dummy hash made with the same parameters, so timing reveals no accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only stops a memory-eating body

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane). One lane keeps a hash on
# one core: a sync worker checking a password must not take the core that serves shoppers.
# Hashes made with other parameters still verify and are redone on the next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("peakshop: no account has this password")


@dataclass(frozen=True)
class Verdict:
    matches: bool
    new_hash: str | None = None  # set when the stored hash should be replaced by this one


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: str, password: str) -> Verdict:
    """Check `password` against an argon2 hash, or a werkzeug one from before argon2."""
    if stored_hash.startswith("$argon2"):
        try:
            _hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return Verdict(False)
        if _hasher.check_needs_rehash(stored_hash):
            return Verdict(True, hash_password(password))
        return Verdict(True)
    if check_password_hash(stored_hash, password):
        return Verdict(True, hash_password(password))
    return Verdict(False)


def verify_nobody(password: str) -> Verdict:
    """The same work as a real check, for an e-mail that has no account; never matches."""
    verify(_DUMMY_HASH, password)
    return Verdict(False)


def check_strength(password: object) -> str:
    """The password if it is acceptable; ValueError names the rule it breaks."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"'password' must be a string of at least {MIN_PASSWORD_LENGTH} "
                         "characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"'password' must be at most {MAX_PASSWORD_LENGTH} characters")
    return password
