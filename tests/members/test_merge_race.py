"""Two staff members merging the same accounts at the same moment: exactly one merge happens, the
other is refused with a message, and nothing is moved twice.

Real threads against a real database (its own, committed: no rolled-back test transaction), on
SQLite and on PostgreSQL (whichever TEST_DATABASE_URL names).
"""

import threading

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app.db import write_intent
from app.errors import DomainError
from app.extensions import db
from tests.conftest import database_url_for, make_app, reset_database

JOIN_SECONDS = 300   # an upper bound for a busy machine: the threads end as soon as they have answered


@pytest.fixture(scope="module")
def race_app():
    url = database_url_for("merge_race")
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade()
        from app.regions.services import load_gazetteer

        load_gazetteer(prefix="41")
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def _people(app, n: int, count: int) -> tuple[int, list[int]]:
    """An admin of the county and `count` accounts of one man, each with a skill of its own."""
    from app.accounts.models import Role, RoleGrant, User
    from app.members.models import Capacity, Skill
    from app.members.services import ProfileData, SkillInput, register_member

    with app.app_context():
        admin = User(name="管理员", phone=f"1950000{n:04d}")
        db.session.add(admin)
        db.session.flush()
        admin.grants.append(RoleGrant(role=Role.ADMIN, region_code="410104"))
        skills = list(db.session.scalars(sa.select(Skill.id).order_by(Skill.id).limit(count)))
        ids = []
        for i in range(count):
            user = User(name="王建国", phone=f"194{n:03d}{i:05d}")
            db.session.add(user)
            db.session.flush()
            ids.append(register_member(actor=user, data=ProfileData(
                name="王建国", county_code="410104", consent=True, capacity=Capacity.MODERATE,
                availability_mask=(1 << 21) - 1, skills=[SkillInput(skills[i], 2)])).id)
        db.session.commit()
        return admin.id, ids


def _merge_at_once(app, admin_id: int, pairs: list[tuple[int, int]]) -> tuple[list[str], list[str]]:
    from app.accounts.models import User
    from app.members import merge
    from app.members.models import MemberProfile

    barrier = threading.Barrier(len(pairs))
    outcomes: list[str] = []
    errors: list[str] = []

    def run(survivor_id: int, merged_id: int) -> None:
        with app.app_context():
            token = write_intent.set(True)   # what a POST request does: SQLite takes the write lock up front
            try:
                barrier.wait()
                actor = db.session.get(User, admin_id)
                survivor = db.session.get(MemberProfile, survivor_id)
                merged = db.session.get(MemberProfile, merged_id)
                merge.merge(actor=actor, survivor=survivor, merged=merged, identity_checked=True)
                db.session.commit()
                outcomes.append("merged")
            except DomainError as e:
                db.session.rollback()
                outcomes.append(f"refused: {e.message}")
            except Exception as e:  # anything else is a failure of the guarantee
                db.session.rollback()
                errors.append(repr(e))
            finally:
                write_intent.reset(token)
                db.session.remove()

    threads = [threading.Thread(target=run, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "a merge is still waiting for an answer"
    return outcomes, errors


@pytest.mark.parametrize("shape", ["each into the other", "one into two others"])
def test_two_merges_of_the_same_accounts_at_once_make_one(race_app, shape):
    from app.accounts.models import User
    from app.members.models import AccountMerge, MemberSkill

    n = 1 if shape == "each into the other" else 2
    admin_id, ids = _people(race_app, n, 2 if n == 1 else 3)
    pairs = [(ids[0], ids[1]), (ids[1], ids[0])] if n == 1 else [(ids[0], ids[2]), (ids[1], ids[2])]
    outcomes, errors = _merge_at_once(race_app, admin_id, pairs)
    assert errors == [], errors
    assert sorted(outcomes)[0] == "merged" and sorted(outcomes)[1].startswith("refused: ")
    assert "已经合并到别的账号" in sorted(outcomes)[1]
    with race_app.app_context():
        merges = db.session.scalars(sa.select(AccountMerge).where(AccountMerge.merged_id.in_(ids))).all()
        assert len(merges) == 1
        survivor, merged = merges[0].survivor_id, merges[0].merged_id
        assert db.session.get(User, survivor).active and not db.session.get(User, merged).active
        # Every skill once, on the survivor; none left on the closed account.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MemberSkill).where(
            MemberSkill.member_id == survivor)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MemberSkill).where(
            MemberSkill.member_id == merged)) == 0
        db.session.remove()
