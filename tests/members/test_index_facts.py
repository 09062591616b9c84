"""The index's has_facts flag: set with every fact matching loads besides the index, recomputed
nightly; a row without it is scored from the index alone, so it must never be missing."""

from datetime import timedelta

from sqlalchemy import select, update

from app.clock import local_now, local_today
from app.members.index import refresh_facts
from app.members.models import SkillLocation
from app.members.services import PeriodInput, ProfileData, update_profile
from app.tasks import records, services
from app.tasks.models import Assignment


def flags(db, member) -> set[bool]:
    return set(db.session.scalars(select(SkillLocation.has_facts).where(SkillLocation.member_id == member.id)))


def _assignment(db, task, member):
    return db.session.scalar(select(Assignment).where(Assignment.task_id == task.id, Assignment.member_id == member.id))


def test_every_fact_flags_the_member_in_the_same_transaction(db, create_task, create_member):
    invited, applied, away = (create_member(name=n, skills={"法律咨询": 3, "课业辅导": 1}) for n in ("甲", "乙", "丙"))
    assert flags(db, invited) == flags(db, applied) == flags(db, away) == {False}
    task = create_task(headcount=3)
    services.invite(actor=task.organizer, task=task, members=[invited])
    services.apply(member=applied, task=task)
    db.session.flush()
    assert flags(db, invited) == flags(db, applied) == {True}          # every index row of theirs
    data = ProfileData.from_member(away)
    data.unavailable = [PeriodInput(local_today() + timedelta(days=3), local_today() + timedelta(days=5), "探亲")]
    update_profile(actor=away.user, member=away, data=data)
    db.session.flush()
    assert flags(db, away) == {True}


def test_hours_confirmed_flag_the_member(db, create_task, create_member):
    member = create_member(skills={"法律咨询": 3})
    task = create_task(headcount=2)
    services.invite(actor=task.organizer, task=task, members=[member])
    services.respond(member=member, assignment=_assignment(db, task, member), accept=True)
    db.session.execute(update(SkillLocation).values(has_facts=False))      # as if refreshed in between
    session = task.sessions[0]
    session.starts_at, session.ends_at = local_now() - timedelta(hours=3), local_now() - timedelta(hours=1)
    records.confirm_attendance(actor=task.organizer, session=session,
                                entries={_assignment(db, task, member).id: (True, 2.0, "")})
    db.session.flush()
    assert flags(db, member) == {True}


def test_the_nightly_refresh_clears_what_aged_out_and_keeps_what_counts(db, app, create_task, create_member):
    stale = create_member(name="早就没事了", skills={"法律咨询": 3})
    waiting = create_member(name="有邀请", skills={"法律咨询": 3})
    task = create_task(headcount=2)
    services.invite(actor=task.organizer, task=task, members=[waiting])
    db.session.execute(update(SkillLocation).values(has_facts=True))
    db.session.execute(update(SkillLocation).where(SkillLocation.member_id == waiting.id).values(has_facts=False))
    assert refresh_facts() == (1, 1)
    assert flags(db, stale) == {False} and flags(db, waiting) == {True}
    assert refresh_facts() == (0, 0)
    result = app.test_cli_runner().invoke(args=["matching", "refresh"])
    assert result.exit_code == 0 and "0 index rows flagged, 0 cleared" in result.output


def test_a_member_with_facts_is_scored_with_them(db, create_task, create_member):
    """The flag is what sends a member to be completed: with it set, an invitation elsewhere
    lowers the score; without facts the index row alone gives the same score as a full load."""
    from app.matching import gather, score, search

    plain = create_member(name="无事", skills={"法律咨询": 3})
    busy = create_member(name="有邀请", skills={"法律咨询": 3})
    other = create_task(headcount=2)
    services.invite(actor=other.organizer, task=other, members=[busy])
    db.session.commit()
    result = {s.member_id: s.score for s in search.suggest(create_task())}
    assert result[busy.id] < result[plain.id]
    assert result[plain.id] == score.score(gather.task_facts(create_task()), gather.member_facts(plain)).score
