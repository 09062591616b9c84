"""The write step's bulk inserts: COPY on PostgreSQL stores exactly what Core's executemany stores."""

import pytest
from sqlalchemy import select

from app.accounts.models import RoleGrant, User
from app.members import bulk, importer
from app.members.models import MemberProfile, MemberSkill, SkillLocation
from tests.members.test_import import MIXED, accept_columns, latest, upload, workbook
from tests.members.test_roster_files import MESSY, bureau_workbook

# What differs between two writes of the same rows by design: the ids and the moments of writing.
MOMENTS = {"id", "created_at", "updated_at", "consent_at"}


def snapshot(db, after_id: int) -> list[dict]:
    """Every account created after `after_id`, in order, with its grants, profile, skills and index
    rows, ids replaced by the account's position."""
    users = db.session.execute(select(User.__table__).where(User.id > after_id).order_by(User.id)).mappings().all()

    def rows(table, key: str, uid: int) -> list[dict]:
        found = db.session.execute(select(table).where(table.c[key] == uid)).mappings().all()
        return sorted(({k: v for k, v in r.items() if k not in MOMENTS | {key}} for r in found), key=repr)

    return [{"user": {k: v for k, v in user.items() if k not in MOMENTS},
             "grants": rows(RoleGrant.__table__, "user_id", user["id"]),
             "profile": rows(MemberProfile.__table__, "id", user["id"]),
             "skills": rows(MemberSkill.__table__, "member_id", user["id"]),
             "index": rows(SkillLocation.__table__, "member_id", user["id"])} for user in users]


def write_and_look(db, actor, rows, after_id: int, *, copy: bool, monkeypatch) -> list[dict]:
    monkeypatch.setattr(bulk, "use_copy", lambda: copy)
    savepoint = db.session.begin_nested()
    assert importer.write_rows(actor, rows) == len(rows)
    db.session.flush()
    seen = snapshot(db, after_id)
    savepoint.rollback()
    return seen


@pytest.mark.parametrize("kind", ["bureau", "template"])
def test_copy_writes_the_same_members_as_executemany(client, db, login, create_admin, monkeypatch, kind):
    content = bureau_workbook(MESSY) if kind == "bureau" else workbook(MIXED)
    admin = create_admin("410104")
    login(admin)
    assert upload(client, content).status_code == 302
    accept_columns(client, db)
    job = latest(db)
    assert job.status == "checked", job.message
    planned: list = []
    importer.check_file(job.id, admin, progress=False, plan=planned.append)
    rows = [r for r in planned if r.action == "create"]
    assert rows
    last_id = db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0

    slow = write_and_look(db, admin, rows, last_id, copy=False, monkeypatch=monkeypatch)
    assert len(slow) == len(rows) and all(m["profile"] and m["grants"] for m in slow)
    assert any(m["skills"] for m in slow)
    if kind == "template":
        assert any(m["index"] for m in slow)      # the template's rows with consent are indexed
    if db.session.get_bind().dialect.name != "postgresql":
        return      # COPY is PostgreSQL's; elsewhere the write path is executemany only
    fast = write_and_look(db, admin, rows, last_id, copy=True, monkeypatch=monkeypatch)
    assert fast == slow
