"""Small formatting helpers for templates."""

from __future__ import annotations

from datetime import datetime

from app.clock import LOCAL


def localtime(value: datetime | None, fmt: str = "%Y年%m月%d日 %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(LOCAL)
    return value.strftime(fmt)


def hours(value) -> str:
    """2.0 → "2", 2.5 → "2.5": hours as people write them."""
    return f"{round(float(value or 0), 2):g}"
