"""Mainland mobile numbers: normalising what people type, and masking for display."""

from __future__ import annotations

import re
import unicodedata

MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-－—–()（）\u00a0\u3000]+")


def normalise_phone(value: str | None) -> str | None:
    """Return the 11-digit number, or None when it is not a mainland mobile number.

    Accepts full-width digits, spaces and dashes, and a +86 / 0086 / 86 prefix:
    "１３８ ００１３ ８０００" → "13800138000".
    """
    if not value:
        return None
    text = unicodedata.normalize("NFKC", value)
    text = _SEPARATORS.sub("", text)
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and len(text) == 11 + len(prefix):
            text = text[len(prefix):]
            break
    return text if MOBILE.match(text) else None


def mask_phone(phone: str | None) -> str:
    """138****1234; empty when there is no number."""
    if not phone:
        return ""
    if len(phone) != 11:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"
