"""Accepted assignments never exceed the headcount, even when many members accept at once.

Real threads against a real database (its own, committed: no rolled-back test transaction), on
SQLite and on PostgreSQL (whichever TEST_DATABASE_URL names).
"""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app.clock import local_now
from app.db import write_intent
from app.errors import DomainError
from app.extensions import db
from tests.conftest import database_url_for, make_app, reset_database

MEMBERS = 24
HEADCOUNT = 5
ROUNDS = 5
JOIN_SECONDS = 300   # an upper bound for a busy machine: the threads end as soon as they have answered


@pytest.fixture(scope="module")
def race_app():
    url = database_url_for("race")
    reset_database(url)
    engine_options = {"pool_size": MEMBERS + 5, "max_overflow": 10, "pool_pre_ping": True}
    app = make_app(url, SQLALCHEMY_ENGINE_OPTIONS=engine_options if not url.startswith("sqlite") else {})
    with app.app_context():
        upgrade()
        from app.regions.services import load_gazetteer

        load_gazetteer(prefix="41")
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def _setup_round(app, n: int):
    """A fresh open task with HEADCOUNT places and MEMBERS invited members, committed."""
    from app.accounts.models import Role, RoleGrant, User
    from app.members.models import Capacity, Skill
    from app.members.services import ProfileData, SkillInput, register_member
    from app.organizations.models import LocationSource, Organization, OrganizationKind
    from app.regions.models import Region
    from app.tasks import services
    from app.tasks.models import ScheduleKind, TaskCategory

    with app.app_context():
        region = db.session.get(Region, "410104")
        org = Organization(name=f"赛跑社区{n}", kind=OrganizationKind.COMMUNITY, region_code="410104",
                           lat=region.lat, lon=region.lon, location_source=LocationSource.GAZETTEER)
        organizer = User(name="书记", phone=f"1960000{n:04d}")
        db.session.add_all([org, organizer])
        db.session.flush()
        organizer.grants.append(RoleGrant(role=Role.ORGANIZER, organization_id=org.id))
        law = db.session.scalar(sa.select(Skill.id).where(Skill.name == "法律咨询"))
        members = []
        for i in range(MEMBERS):
            user = User(name="赛跑者", phone=f"197{n:03d}{i:05d}")
            db.session.add(user)
            db.session.flush()
            members.append(register_member(actor=user, data=ProfileData(
                name="赛跑者", county_code="410104", consent=True, capacity=Capacity.MODERATE,
                availability_mask=(1 << 21) - 1, skills=[SkillInput(law, 3)])))
        task = services.create_task(actor=organizer, organization=org, title="抢着去的服务", description="",
                                    category=TaskCategory.GOVERNANCE)
        start = (local_now() + timedelta(days=3)).replace(hour=9, minute=0, second=0)
        services.set_schedule(actor=organizer, task=task, kind=ScheduleKind.ONCE, first_date=start.date(),
                              last_date=None, weekdays=0, start_time=start.time(),
                              end_time=(start + timedelta(hours=2)).time())
        services.set_needs(actor=organizer, task=task, headcount=HEADCOUNT, demand=Capacity.LIGHT, outdoor=False)
        services.add_skill(actor=organizer, task=task, skill_id=law, min_level=2, required=True)
        services.publish(actor=organizer, task=task)
        invited = services.invite(actor=organizer, task=task, members=members)
        db.session.commit()
        return task.id, [(a.id, a.member_id) for a in invited]


def _accept_all_at_once(app, pairs):
    from app.members.models import MemberProfile
    from app.tasks import services
    from app.tasks.models import Assignment

    barrier = threading.Barrier(len(pairs))
    outcomes, errors = [], []

    def accept(assignment_id, member_id):
        with app.app_context():
            token = write_intent.set(True)   # what a POST request does: SQLite takes the write lock up front
            try:
                barrier.wait()
                member = db.session.get(MemberProfile, member_id)
                assignment = db.session.get(Assignment, assignment_id)
                result = services.respond(member=member, assignment=assignment, accept=True)
                db.session.commit()
                outcomes.append(result.status.value)
            except DomainError as e:
                db.session.rollback()
                outcomes.append(f"refused: {e.message}")
            except Exception as e:  # anything else is a failure of the guarantee
                db.session.rollback()
                errors.append(repr(e))
            finally:
                write_intent.reset(token)
                db.session.remove()

    threads = [threading.Thread(target=accept, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "members still waiting for an answer"
    return outcomes, errors


@pytest.mark.slow
def test_many_members_accepting_at_once_never_exceed_the_headcount(race_app):
    from app.tasks.models import Assignment, AssignmentStatus, Task, TaskStatus

    for n in range(ROUNDS):
        task_id, pairs = _setup_round(race_app, n)
        outcomes, errors = _accept_all_at_once(race_app, pairs)
        assert errors == [], errors
        with race_app.app_context():
            counts = dict(db.session.execute(sa.select(Assignment.status, sa.func.count()).where(
                Assignment.task_id == task_id).group_by(Assignment.status)).all())
            task = db.session.get(Task, task_id)
            assert counts.get(AssignmentStatus.ACCEPTED) == HEADCOUNT, counts
            assert counts.get(AssignmentStatus.WAITLISTED) == MEMBERS - HEADCOUNT, counts
            assert task.status is TaskStatus.FILLED
            db.session.remove()
        assert sorted(outcomes).count("accepted") == HEADCOUNT and len(outcomes) == MEMBERS
