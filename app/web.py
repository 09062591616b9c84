"""What every HTML view shares: the one use-case runner (form → service → commit, or rollback with
the service's message beside its field), button actions, file responses and safe redirects.

A view reads top to bottom and meets its service call inside one of these:

    return run_use_case(form, lambda: services.invite(actor=current_user, task=task, ...),
                        done=("邀请已发出", url_for("tasks.detail", task_id=task.id)),
                        template="tasks/invite.html", task=task)

Views never commit or roll back themselves; this module is where a request's use case ends.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from flask import Response, flash, g, redirect, render_template, request, send_file
from flask_login import current_user
from flask_wtf import FlaskForm

from app.errors import DomainError
from app.extensions import db
from app.forms import BaseForm

T = TypeVar("T")
ELDER_COOKIE = "yinhui_elder"  # the 长辈版 choice on this device

# What a finished use case does next: (message to flash or None, where to go), or a whole response
# (a page to show, such as a printable slip), given the use case's result.
Done = tuple[str | None, str] | Callable[[Any], "tuple[str | None, str] | Response | str"]


def form_page(template: str, form: FlaskForm | None, *, status: int | None = None, **context: Any) -> tuple[str, int]:
    """Render a form page: 200 on GET, 400 for a POST that ends up here (refused input)."""
    if status is None:
        status = 400 if request.method == "POST" else 200
    return render_template(template, form=form, **context), status


def commit(work: Callable[[], T]) -> T:
    """Run one use case and commit it; roll back and re-raise when it fails."""
    try:
        result = work()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


def _finish(done: Done, result: Any) -> Any:
    outcome = done(result) if callable(done) else done
    if not isinstance(outcome, tuple):
        return outcome            # a page of its own
    message, target = outcome
    if message:
        flash(message, "success")
    return redirect(target)


def run_use_case(form: BaseForm, work: Callable[[], T], *, done: Done, template: str,
                 on_refusal: Callable[[DomainError], dict[str, Any]] | None = None, **context: Any) -> Any:
    """A form page: on a valid POST run the use case and commit, then flash and redirect (`done`);
    when the form or the service says no, show `template` again with the answers kept and the
    message beside its field (status 400, or the refusal's own: 403, 404, 409). On GET, show it.
    `on_refusal` adds to the page's context what depends on the refusal (where to fix it, say)."""
    if form.validate_on_submit():
        return finish_use_case(form, work, done=done, template=template, on_refusal=on_refusal, **context)
    return form_page(template, form, **context)


def finish_use_case(form: BaseForm, work: Callable[[], T], *, done: Done, template: str,
                    on_refusal: Callable[[DomainError], dict[str, Any]] | None = None, **context: Any) -> Any:
    """run_use_case() for a POST whose form the view has validated already (or that asks nothing
    to validate, such as removing an item from a list)."""
    try:
        result = commit(work)
    except DomainError as e:
        form.add_error(e)
        extra = on_refusal(e) if on_refusal is not None else {}
        return form_page(template, form, status=e.status, **{**context, **extra})
    return _finish(done, result)


def run_action(work: Callable[[], T], *, done: Done, refused: str | None = None) -> Any:
    """A button that changes something (its form is only the CSRF token, checked before any view
    runs): run the use case and commit, then flash and redirect; a refusal is flashed as an error
    and the user goes back to `refused` (default: where `done` leads)."""
    try:
        result = commit(work)
    except DomainError as e:
        flash(e.message, "error")
        if refused is None:
            outcome = done(None) if callable(done) else done
            refused = outcome[1] if isinstance(outcome, tuple) else request.path
        return redirect(refused)
    return _finish(done, result)


FILE_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "ics": "text/calendar",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "pdf": "application/pdf",
}


def file_response(body: bytes | str, *, kind: str, filename: str, inline: bool = False) -> Response:
    """A file to download (or, `inline`, for a calendar program to read): the one place that
    sets content types. Text is UTF-8 (Flask adds the charset once); a CSV starts with a byte-order
    mark so that Excel opens Chinese correctly."""
    if kind == "csv" and isinstance(body, str):
        body = "\ufeff" + body
    response = Response(body, mimetype=FILE_TYPES[kind])
    response.headers.set("Content-Disposition", "inline" if inline else "attachment", **_filename(filename))
    return response


def _filename(name: str) -> dict[str, str]:
    """Content-Disposition's filename: a Chinese name as RFC 5987's filename* (UTF-8, which every
    current browser reads) after an ASCII fallback for the rest, as Werkzeug's send_file does."""
    if name.isascii():
        return {"filename": name}
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lstrip("-_ ")
    return {"filename": fallback or "download", "filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")}


def stored_file_response(path: Path, *, kind: str, filename: str) -> Response:
    """A file written by a job (an export), sent from disk as a download."""
    return send_file(path, mimetype=FILE_TYPES[kind], as_attachment=True, download_name=filename, max_age=0)


def elder_mode() -> bool:
    """Is the 长辈版 on for this request: the account's choice, else this device's."""
    if "elder" in g:
        return bool(g.elder)
    if current_user.is_authenticated:
        return bool(current_user.elder_mode)
    return request.cookies.get(ELDER_COOKIE) == "1"


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
