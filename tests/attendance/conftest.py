"""Attendance fixtures: the venue fixtures' fixed clock, and a session with members on it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.tasks import services as tasks
from app.tasks.models import Assignment
from tests.sms_provider import provider  # noqa: F401  (the local Aliyun, for check-in by SMS code)
from tests.venues.conftest import (  # noqa: F401  (fixtures shared with the venue tests)
    NOW,
    book,
    branch,
    clock,
    create_package,
    create_venue,
    manager,
)

SESSION_START = NOW.replace(hour=9) + timedelta(days=1)      # 2026-09-02 09:00, two hours long


@pytest.fixture
def on_session(db, clock, create_task, create_member):  # noqa: F811
    """on_session(n=1) → (task, session, [members]): an open task tomorrow 9:00–11:00 with n
    members who accepted their places."""
    def make(n: int = 1, hours: float = 2):
        task = create_task(when=SESSION_START, hours=hours, headcount=max(n, 1))
        members = [create_member(name=f"老同志{i}", skills={"法律咨询": 3}) for i in range(n)]
        if members:
            tasks.invite(actor=task.organizer, task=task, members=members)
            for m in members:
                tasks.respond(member=m, assignment=db.session.scalar(select(Assignment).where(
                    Assignment.task_id == task.id, Assignment.member_id == m.id)), accept=True)
        db.session.commit()
        return task, task.sessions[0], members

    return make


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M")
