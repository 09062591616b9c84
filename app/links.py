"""Links to pages, built from the routes: `path_for("my.task", task_id=7)` → "/my/tasks/7".

Services store links in notifications and emails, and may run where there is no request (a
command, a job), where flask.url_for cannot build a URL without SERVER_NAME. The path comes from
the application's URL map all the same, so a route that moves moves its links too.
"""

from __future__ import annotations

from typing import Any

from flask import current_app


def path_for(endpoint: str, **values: Any) -> str:
    """The path of a page from the site's root (the application is served at the root), for links
    stored and shown later; the same inside a request or outside one."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def absolute(path: str) -> str:
    """A stored path as a full address, for emails: BASE_URL in front."""
    return current_app.config.get("BASE_URL", "").rstrip("/") + path
