"""Password rules and hashing: argon2id at OWASP's minimum parameters (19 MiB, t=2, p=1)."""

from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 128

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")

# The 8+ character entries of the 20,000 common passwords that Django 5.2 ships for its
# CommonPasswordValidator (django/contrib/auth/common-passwords.txt.gz, BSD-3-Clause),
# lower-cased; one per line, read once at import.
COMMON_PASSWORDS = frozenset(
    (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8").splitlines()
)


def password_problem(password):
    """Return why `password` may not be used, or None; checks length before anything else."""
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH:
        return f"Length must be between {MIN_LENGTH} and {MAX_LENGTH}."
    if password.strip().lower() in COMMON_PASSWORDS:
        return "This password is too common; choose another."
    return None


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    """Return whether `password` matches; with no hash, spend the same time and fail."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return _hasher.check_needs_rehash(password_hash)
