"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_login import current_user

CSP = ("default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; "
       "form-action 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'")
# Set on every response unless the view set its own.
FIXED = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
         ("X-Frame-Options", "SAMEORIGIN"),
         ("Permissions-Policy", "camera=(), microphone=(), geolocation=(self), payment=()"),
         ("Cross-Origin-Opener-Policy", "same-origin"))
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def register_security(app: Flask) -> None:
    @app.after_request
    def headers(response: Response) -> Response:
        # The response's own header names read once, then the missing ones appended: the same as a
        # setdefault for each, without walking the headers again for every one.
        h = response.headers
        present = {name.lower() for name in h.keys()}
        wanted = [*FIXED, HSTS] if app.config["HSTS"] and request.is_secure else FIXED
        h.extend([(name, value) for name, value in wanted if name.lower() not in present])
        if current_user.is_authenticated and not request.path.startswith("/static/"):
            h["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        return response
