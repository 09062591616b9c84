"""Helpers shared by the HTML views."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import render_template, request

ELDER_COOKIE = "yinhui_elder"  # the 长辈版 choice on this device


def form_page(template: str, form, *, status: int | None = None, **context):
    """Render a form page. A POST that ends up here was refused: 400, or the status of the
    DomainError that refused it (see save())."""
    if status is None:
        status = getattr(form, "refused_status", None) or (400 if request.method == "POST" else 200)
    return render_template(template, form=form, **context), status


def save(form, work) -> bool:
    """Run one use case for a submitted form and commit it. When a service refuses, roll back, put
    its message beside the field it names and remember the status for form_page(); False then.

        if form.validate_on_submit() and save(form, lambda: services.update_venue(...)):
            flash("已保存。", "success")
            return redirect(...)
        return form_page("venues/form.html", form, venue=venue)
    """
    from app.errors import DomainError
    from app.extensions import db

    try:
        work()
        db.session.commit()
    except DomainError as e:
        db.session.rollback()
        form.add_error(e)
        form.refused_status = e.status
        return False
    return True


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
