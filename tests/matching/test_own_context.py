"""Tasks near me reads the member's own facts in one statement (near_me.own_context): each fact as
the member's profile and records say it, with what must be left out left out."""

from datetime import date, datetime, timedelta

from sqlalchemy import event

from app.clock import local_now, local_today, utcnow
from app.matching import near_me
from app.matching.gather import member_facts
from app.members.models import EntryOrigin, EntryStatus, MemberProfile, PoolEntry, PoolLevel, Skill, UnavailablePeriod
from app.members.services import own_profile_options
from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord, TaskSession


def _assign(db, task, member, status: AssignmentStatus, *, updated_at: datetime | None = None) -> Assignment:
    assignment = Assignment(task_id=task.id, member_id=member.id, origin="invited", status=status,
                            updated_at=updated_at or utcnow())
    db.session.add(assignment)
    db.session.flush()
    return assignment


def _served(db, assignment: Assignment, task_session: TaskSession, *, days_ago: int, hours: float,
            attended: bool = True) -> None:
    db.session.add(ServiceRecord(assignment_id=assignment.id, session_id=task_session.id,
                                 member_id=assignment.member_id, organization_id=assignment.task.organization_id,
                                 served_on=local_today() - timedelta(days=days_ago), attended=attended, hours=hours))


def test_the_members_own_facts_come_in_one_read_as_their_records_say(db, create_member, create_task, create_org):
    member = create_member(skills={"法律咨询": 3, "课业辅导": 1, "文艺演出": 2})
    db.session.get(Skill, next(s.skill_id for s in member.skills if s.skill.name == "文艺演出")).active = False
    # Pool: approved by a city (the widened reach) and by a county; a province nomination not yet decided.
    for level, code, status in ((PoolLevel.CITY, "410100", EntryStatus.APPROVED),
                                (PoolLevel.COUNTY, "410104", EntryStatus.APPROVED),
                                (PoolLevel.PROVINCE, "410000", EntryStatus.NOMINATED)):
        db.session.add(PoolEntry(member_id=member.id, level=level, region_code=code, status=status,
                                 origin=EntryOrigin.NOMINATED))
    today = local_today()
    for first, last in ((today - timedelta(days=9), today - timedelta(days=1)),     # over: left out
                        (today + timedelta(days=20), today + timedelta(days=22)),
                        (today - timedelta(days=2), today + timedelta(days=2))):
        db.session.add(UnavailablePeriod(member_id=member.id, start_date=first, end_date=last))
    # Accepted: its sessions still to come make the member busy; a past and a cancelled one do not.
    accepted = create_task(title="已答应的服务")
    [first] = [(s.starts_at, s.ends_at) for s in accepted.sessions]     # a week ahead
    now = local_now().replace(second=0, microsecond=0)
    coming = (now + timedelta(days=3), now + timedelta(days=3, hours=2))
    past = TaskSession(task_id=accepted.id, starts_at=now - timedelta(days=3),
                       ends_at=now - timedelta(days=3) + timedelta(hours=2))
    soon = TaskSession(task_id=accepted.id, starts_at=coming[0], ends_at=coming[1])
    db.session.add_all([soon, past,
                        TaskSession(task_id=accepted.id, starts_at=now + timedelta(days=4),
                                    ends_at=now + timedelta(days=4, hours=1), cancelled=True)])
    db.session.flush()
    kept = _assign(db, accepted, member, AssignmentStatus.ACCEPTED)
    _assign(db, create_task(title="等回复一"), member, AssignmentStatus.INVITED)
    _assign(db, create_task(title="等回复二"), member, AssignmentStatus.INVITED)
    lately, long_ago = create_org(), create_org()
    _assign(db, create_task(org=lately), member, AssignmentStatus.DECLINED,
            updated_at=utcnow() - timedelta(days=5))
    _assign(db, create_task(org=long_ago), member, AssignmentStatus.DECLINED,
            updated_at=utcnow() - timedelta(days=45))
    withdrawn = _assign(db, create_task(title="撤回的"), member, AssignmentStatus.WITHDRAWN)
    _served(db, kept, past, days_ago=3, hours=2.5)
    _served(db, withdrawn, withdrawn.task.sessions[0], days_ago=40, hours=4)
    _served(db, kept, soon, days_ago=1, hours=6, attended=False)
    db.session.commit()

    member = db.session.get(MemberProfile, member.id, options=own_profile_options())   # as the page loads it
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", record := lambda *args: statements.append(args[2]))
    try:
        own = near_me.own_context(member)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    assert len(statements) == 1
    facts = own.facts
    assert facts.skills == {s.skill_id: s.level for s in member.skills if s.skill.name != "文艺演出"}
    assert len(facts.skills) == 2
    assert facts.pool_rank == 2 and own.reach == ("city", ["4101"])
    assert facts.unavailable == ((today - timedelta(days=2), today + timedelta(days=2)),
                                 (today + timedelta(days=20), today + timedelta(days=22)))
    assert facts.busy == tuple(sorted([coming, first]))
    assert facts.open_invitations == 2
    assert own.declined == {lately.id}
    assert (own.hours_total, facts.hours_30d) == (6.5, 2.5)
    # The rest is the profile's, as member_facts() reads it from the profile's lists.
    profile = member_facts(member)
    assert facts == profile.__class__(**{**vars(profile), "unavailable": facts.unavailable, "busy": facts.busy,
                                         "open_invitations": 2, "hours_30d": 2.5})


def test_a_member_with_nothing_of_their_own_yet(db, create_member):
    member = create_member(skills={})
    own = near_me.own_context(member)
    assert (own.facts.skills, own.facts.pool_rank, own.facts.unavailable, own.facts.busy) == ({}, 0, (), ())
    assert (own.facts.open_invitations, own.declined, own.hours_total, own.facts.hours_30d) == (0, set(), 0.0, 0.0)
    assert own.reach == ("none", [])


def test_a_province_talent_is_reached_by_every_widened_task(db, create_member):
    member = create_member()
    db.session.add_all([PoolEntry(member_id=member.id, level=level, region_code=code, status=EntryStatus.APPROVED,
                                  origin=EntryOrigin.NOMINATED)
                        for level, code in ((PoolLevel.CITY, "410100"), (PoolLevel.PROVINCE, "410000"))])
    db.session.commit()
    own = near_me.own_context(member)
    assert own.reach == ("province", []) and own.facts.pool_rank == 3


def test_dates_are_dates_on_either_database(db, create_member):
    member = create_member()
    db.session.add(UnavailablePeriod(member_id=member.id, start_date=date(2099, 1, 1), end_date=date(2099, 1, 3)))
    db.session.commit()
    [(first, last)] = near_me.own_context(member).facts.unavailable
    assert type(first) is date and (first, last) == (date(2099, 1, 1), date(2099, 1, 3))
