"""Permissions in the web layer: a view decorator for the staff areas, and `may`, the one helper
templates ask (`{% if may.withdraw(assignment) %}` asks rules.may_withdraw(current_user, assignment))."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import abort
from flask_login import current_user, login_required

import app.access.rules as rules
from app.access.scope import signed_in
from app.accounts.models import User

P = ParamSpec("P")
R = TypeVar("R")


def requires(rule: Callable[[User], bool]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Sign-in first, then the rule (an area such as rules.may_organize); 403 when it says no."""
    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            if not rule(current_user):
                abort(403)
            return view(*args, **kwargs)

        return login_required(wrapped)  # type: ignore[no-any-return,unused-ignore]

    return decorator


def _never(*_args: Any) -> bool:
    return False


class Permissions:
    """The checks of app.access.rules bound to one actor: `may.manage_task(task)` is
    rules.may_manage_task(actor, task), `may.sees_phone(member)` rules.sees_phone(actor, member).
    Nobody signed in may do nothing."""

    def __init__(self, actor: User | None):
        self.actor = actor
        self._actor = actor if signed_in(actor) else None

    def __getattr__(self, name: str) -> Callable[..., bool]:
        rule = getattr(rules, name if name.startswith("sees_") else f"may_{name}", None)
        if rule is None:
            raise AttributeError(f"app.access.rules has no check for {name!r}")
        if self._actor is None:
            return _never
        actor = self._actor
        return lambda *args: bool(rule(actor, *args))


def template_helper() -> dict[str, Permissions]:
    """For app.context_processor: `may`, bound to whoever is signed in."""
    return {"may": Permissions(current_user._get_current_object())}
