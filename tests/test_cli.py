from datetime import datetime

import pytest
from sqlalchemy import func, select

from app.accounts.models import Role, User
from app.demo import ACCOUNTS, DEMO_PASSWORD, seed_demo
from app.organizations.models import Organization


def test_seed_demo_is_idempotent(db):
    assert seed_demo()
    users = db.session.scalar(select(func.count()).select_from(User))
    orgs = db.session.scalar(select(func.count()).select_from(Organization))
    assert seed_demo()
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    assert db.session.scalar(select(func.count()).select_from(Organization)) == orgs
    assert not seed_demo(if_empty=True)


def test_demo_accounts_are_obviously_fake_and_cover_the_named_regions(db):
    seed_demo()
    admins = {g.region_code for u in db.session.scalars(select(User)) for g in u.grants if g.role is Role.ADMIN}
    assert {"410000", "410100", "410104", "411326"} <= admins
    assert all(phone.startswith("1990000") and name.startswith("演示") for phone, name, *_ in ACCOUNTS)
    for name in ("东关南里社区", "锦绣江南小区离退休干部党支部", "新县英雄山党支部"):
        assert db.session.scalar(select(Organization).where(Organization.name == name)) is not None


def test_demo_login_works(client, db):
    from tests.conftest import csrf_token

    seed_demo()
    db.session.commit()
    response = client.post("/login", data={"phone": "19900000001", "password": DEMO_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302


def test_create_admin_command_makes_a_province_admin(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "--phone", "13600000000", "--name", "省局管理员",
                                 "--region", "410000", "--password", "一句很长的好密码"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.phone == "13600000000"))
    assert [g.region_code for g in user.grants_for(Role.ADMIN)] == ["410000"]


def test_create_admin_refuses_an_unknown_region_and_a_weak_password(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "--phone", "13600000001", "--name", "x",
                                 "--region", "999999", "--password", "一句很长的好密码"])
    assert result.exit_code != 0 and "unknown region" in result.output
    result = runner.invoke(args=["create-admin", "--phone", "13600000001", "--name", "x",
                                 "--region", "410000", "--password", "12345678"])
    assert result.exit_code != 0 and "常见" in result.output
    assert db.session.scalar(select(User).where(User.phone == "13600000001")) is None


@pytest.mark.parametrize("day", range(7), ids=["周一", "周二", "周三", "周四", "周五", "周六", "周日"])
def test_demo_data_loads_on_any_day_of_the_week(db, monkeypatch, day):
    """The demo members are free on weekdays: their invitation must hold whatever day it is loaded."""
    import app.clock
    from app.members.models import MemberProfile
    from app.tasks.models import Assignment, AssignmentStatus, Task, TaskStatus

    loaded_at = datetime(2027, 3, 1 + day, 10, 30, tzinfo=app.clock.LOCAL)   # 2027-03-01 is a Monday

    class FixedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return loaded_at.astimezone(tz)

    monkeypatch.setattr(app.clock, "datetime", FixedDatetime)
    assert seed_demo()
    wang = db.session.scalar(select(MemberProfile).join(User, User.id == MemberProfile.id)
                             .where(User.phone == "19900000021"))
    invited = db.session.scalars(select(Assignment).where(Assignment.member_id == wang.id,
                                                          Assignment.status == AssignmentStatus.INVITED)).all()
    assert [a.task.title for a in invited] == ["四点半课堂课业辅导"]
    for task in db.session.scalars(select(Task).where(Task.status == TaskStatus.OPEN)):
        assert all(s.starts_at.weekday() < 5 and s.starts_at > loaded_at.replace(tzinfo=None) for s in task.sessions)
