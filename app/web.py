"""Helpers shared by the HTML views."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import render_template, request

ELDER_COOKIE = "yinhui_elder"  # the 长辈版 choice on this device


def form_page(template: str, form, *, status: int | None = None, **context):
    """Render a form page. A POST that ends up here was refused: 400, or the DomainError's status."""
    if status is None:
        status = 400 if request.method == "POST" else 200
    return render_template(template, form=form, **context), status


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
