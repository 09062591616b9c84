"""Links to pages, built from the routes: `path_for("my.task", task_id=7)` → "/my/tasks/7".

Services store links in notifications and emails, and may run where there is no request (a
command, a job), where flask.url_for cannot build a URL without SERVER_NAME. The path comes from
the application's URL map all the same, so a route that moves moves its links too.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import current_app


def path_for(endpoint: str, **values: Any) -> str:
    """The path of a page from the site's root (the application is served at the root), for links
    stored and shown later; the same inside a request or outside one."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def absolute(path: str) -> str:
    """A stored path as a full address, for emails: BASE_URL in front."""
    return current_app.config.get("BASE_URL", "").rstrip("/") + path


SIGNATURE_CHARS = 12    # 48 bits of HMAC: short enough for an SMS template's variable


def _signature(purpose: str, ident: int) -> str:
    secret = current_app.secret_key
    material = secret if isinstance(secret, bytes) else str(secret).encode()
    key = hashlib.sha256(purpose.encode() + b":" + material).digest()
    return hmac.new(key, str(ident).encode(), hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]


def signed_code(purpose: str, ident: int, prefix: str = "") -> str:
    """A short code for a link that opens one row for one purpose without signing in
    ("去不了了"): `<prefix><id>-<HMAC of the id under SECRET_KEY and the purpose>`."""
    return f"{prefix}{ident}-{_signature(purpose, ident)}"


def signed_id(purpose: str, code: str, prefix: str = "") -> int | None:
    """The id a signed_code() names, or None when it was not signed for this purpose."""
    ident, _, signature = (code or "").removeprefix(prefix).partition("-")
    if not ident.isdigit() or len(ident) > 12 or not hmac.compare_digest(signature, _signature(purpose, int(ident))):
        return None
    return int(ident)
