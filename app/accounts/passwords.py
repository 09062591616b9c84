"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 8
MAX_LENGTH = 64


@cache
def _hasher(params: tuple) -> PasswordHasher:
    return PasswordHasher(**dict(params))


def hasher() -> PasswordHasher:
    return _hasher(tuple(sorted(current_app.config["PASSWORD_HASH_PARAMS"].items())))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so response times do not reveal accounts.
        _burn(password)
        return False
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def _burn(password: str) -> None:
    try:
        hasher().verify(_dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        pass


def _dummy_hash() -> str:
    return _dummy_for(tuple(sorted(current_app.config["PASSWORD_HASH_PARAMS"].items())))


@cache
def _dummy_for(params: tuple) -> str:
    return _hasher(params).hash("not-a-real-password")


@cache
def common_passwords() -> frozenset[str]:
    zh = Path(__file__).parent / "data" / "common_passwords_zh.txt"
    extra = {line.strip().lower() for line in zh.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")}
    return frozenset(FREQUENCY_LISTS["passwords"]) | extra


def _is_sequence(text: str) -> bool:
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def password_problem(password: str, *, phone: str | None = None) -> str | None:
    """Why this password is refused (a Chinese sentence), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"密码至少要 {MIN_LENGTH} 个字符"
    if len(password) > MAX_LENGTH:
        return f"密码最多 {MAX_LENGTH} 个字符"
    lowered = password.lower()
    if lowered in common_passwords() or _is_sequence(lowered):
        return "这个密码太常见，容易被猜到，请换一个"
    digits = re.sub(r"\D", "", password)
    if phone and (phone in digits or (len(digits) >= 8 and digits in phone)):
        return "密码不能包含手机号码"
    return None
