from datetime import time, timedelta

import pytest
from sqlalchemy import select

from app.clock import local_now, local_today
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db as _db
from app.matching import gather, near_me, query, regions, search
from app.members.models import Capacity, UnavailablePeriod, slot_bit
from app.members.services import PeriodInput
from app.notifications.models import Notification
from app.tasks import ledger, records, services
from app.tasks.models import Assignment, AssignmentStatus, ScheduleKind, ServiceRecord, TaskMode, TaskStatus


def suggested(task, **kw):
    return [s.member_id for s in search.suggest(task, **kw)]


# --- posting, and bad input ---------------------------------------------------------------------

def test_posting_a_task_defaults_to_the_organizations_place(db, create_task):
    task = create_task()
    assert task.status is TaskStatus.OPEN and task.lat == task.organization.lat
    assert len(task.sessions) == 1 and task.sessions[0].hours == 2


@pytest.mark.parametrize("change,message", [
    (dict(first_date=local_today() - timedelta(days=1)), "早于今天"),
    (dict(start_time=time(11), end_time=time(9)), "结束时间要晚于开始时间"),
    (dict(kind=ScheduleKind.WEEKLY, last_date=local_today() + timedelta(days=10), weekdays=0), "每周哪几天"),
    (dict(kind=ScheduleKind.WEEKLY, first_date=local_today() + timedelta(days=10),
          last_date=local_today() + timedelta(days=3), weekdays=0b11111), "结束日期"),
])
def test_bad_schedules_are_refused_and_change_nothing(db, create_task, change, message):
    task = create_task()
    before = [(s.starts_at, s.ends_at) for s in task.sessions]
    args = dict(kind=ScheduleKind.ONCE, first_date=local_today() + timedelta(days=3), last_date=None, weekdays=0,
                start_time=time(9), end_time=time(11))
    args.update(change)
    with pytest.raises(Invalid, match=message):
        services.set_schedule(actor=task.organizer, task=task, **args)
    db.session.rollback()
    assert [(s.starts_at, s.ends_at) for s in task.sessions] == before


@pytest.mark.parametrize("headcount", [0, 10_000, -1])
def test_headcount_out_of_range_is_refused(db, create_task, headcount):
    task = create_task(headcount=2)
    with pytest.raises(Invalid, match="人数"):
        services.set_needs(actor=task.organizer, task=task, headcount=headcount, demand=Capacity.LIGHT, outdoor=False)
    db.session.rollback()
    assert task.headcount == 2


def test_a_remote_task_with_a_location_is_refused(db, create_task):
    task = create_task()
    with pytest.raises(Invalid, match="线上服务不用填写地点"):
        services.set_place(actor=task.organizer, task=task, mode=TaskMode.REMOTE, address="东大街")
    services.set_place(actor=task.organizer, task=task, mode=TaskMode.REMOTE)
    assert task.lat is None and task.address == ""


def test_unknown_skills_are_refused(db, create_task):
    task = create_task()
    with pytest.raises(Invalid, match="没有这项专长"):
        services.add_skill(actor=task.organizer, task=task, skill_id=999_999, min_level=1, required=True)


def test_another_organizations_task_cannot_be_managed(db, create_task, create_user, create_org):
    task = create_task()
    stranger = create_user(roles=[("organizer", create_org())])
    with pytest.raises(PermissionDenied):
        services.set_needs(actor=stranger, task=task, headcount=5, demand=Capacity.LIGHT, outdoor=False)
    with pytest.raises(PermissionDenied):
        services.cancel(actor=stranger, task=task, reason="不要了")


def test_weekly_schedules_expand_to_sessions(db, create_task):
    start = (local_now() + timedelta(days=1)).replace(hour=14, minute=0, second=0)
    task = create_task(when=start, weekly_until=start.date() + timedelta(days=27), weekdays=0b0000101)  # Mon, Wed
    assert 7 <= len(task.sessions) <= 9
    assert all(s.starts_at.weekday() in (0, 2) for s in task.sessions)


# --- matching through the database: every hard filter -------------------------------------------

def test_matching_finds_the_member_with_reasons(db, create_task, create_member):
    near = create_member(name="近的", skills={"法律咨询": 3})
    task = create_task()
    result = search.suggest(task)
    assert [s.member_id for s in result] == [near.id]
    assert "法律咨询·精通" in result[0].reason_text and "有空" in result[0].reason_text


def test_hard_filters_through_the_database(db, create_task, create_member):
    task = create_task(skills={"法律咨询": 2}, demand=Capacity.MODERATE, outdoor=True)
    day = task.sessions[0].starts_at
    ok = create_member(name="合适", skills={"法律咨询": 2})
    create_member(name="没同意", skills={"法律咨询": 3}, consent=False)
    create_member(name="缺专长", skills={"课业辅导": 3})
    create_member(name="程度低", skills={"法律咨询": 1})
    create_member(name="太累", skills={"法律咨询": 3}, capacity=Capacity.LIGHT)
    create_member(name="太远", skills={"法律咨询": 3}, county="411326")
    create_member(name="没空", skills={"法律咨询": 3}, availability_mask=slot_bit(day.weekday(), 2))
    create_member(name="不出门", skills={"法律咨询": 3}, no_outdoor=True)
    create_member(name="那天不在", skills={"法律咨询": 3},
                  unavailable=[PeriodInput(day.date(), day.date() + timedelta(days=1), "探亲")])
    assert suggested(task) == [ok.id]


def test_already_on_the_task_declined_and_clashing_members_are_left_out(db, create_task, create_member):
    task = create_task(headcount=5)
    a, b, c = (create_member(name=n, skills={"法律咨询": 3}) for n in ("甲", "乙", "丙"))
    services.invite(actor=task.organizer, task=task, members=[a, b])
    db.session.commit()
    services.respond(member=b, assignment=_assignment(task, b), accept=False)
    other = create_task(when=task.sessions[0].starts_at + timedelta(minutes=30), org=task.organization,
                        organizer=task.organizer)
    services.invite(actor=other.organizer, task=other, members=[c])
    services.respond(member=c, assignment=_assignment(other, c), accept=True)
    db.session.commit()
    assert suggested(task) == []    # a invited, b declined, c busy with the clashing task
    with pytest.raises(Invalid, match="已在这项服务中"):
        services.invite(actor=task.organizer, task=task, members=[b])


@pytest.mark.parametrize("km, own_radius, expected", [(4.99, 5, True), (5.03, 5, False), (9.98, 30, True),
                                                     (10.05, 30, False)])
def test_the_database_keeps_exactly_the_members_within_both_radii(db, create_task, create_member, km, own_radius,
                                                                  expected):
    """The index query's flat-earth prefilter never drops a member the exact test would keep."""
    from app.members.index import reindex_member

    task = create_task(radius_km=10)
    member = create_member(skills={"法律咨询": 3}, radius_km=own_radius)
    member.lat, member.lon = task.lat + km / 111.195 * 0.6, task.lon + km / 111.195 * 0.8 / 0.8241
    reindex_member(member)
    db.session.commit()
    distance = near_me.distance_between(task, member)
    assert abs(distance - km) < 0.05
    assert (suggested(task) == [member.id]) is (distance <= min(10, own_radius))
    assert (suggested(task) == [member.id]) is expected


def test_the_cap_of_open_invitations_holds_members_back(db, create_task, create_member):
    member = create_member(skills={"法律咨询": 3})
    tasks = [create_task(when=local_now().replace(hour=9, minute=0, second=0) + timedelta(days=d)) for d in (3, 4, 5, 6)]
    for t in tasks[:3]:
        services.invite(actor=t.organizer, task=t, members=[member])
    db.session.commit()
    assert suggested(tasks[3]) == []


def test_widening_reaches_approved_city_talents_beyond_the_radius(db, create_task, create_member, create_admin,
                                                                  create_org):
    from app.members import pool
    from app.members.models import PoolLevel

    far = create_member(name="市里的专家", county="410122", skills={"法律咨询": 3}, radius_km=5)  # 中牟县
    admin = create_admin("410100")
    entry = pool.apply(actor=far.user, member=far)
    pool.decide(actor=admin, entry=entry, approve=True)
    city = pool.nominate(actor=admin, member=far, level=PoolLevel.CITY, reason="全市知名律师")
    pool.decide(actor=admin, entry=city, approve=True)
    db.session.commit()
    task = create_task(skills={"法律咨询": 3})
    assert suggested(task) == []
    services.widen(actor=task.organizer, task=task, to="city")
    result = search.suggest(task)
    assert [s.member_id for s in result] == [far.id] and "市级人才库" in result[0].reason_text
    assert task.id in [t.id for _, t in near_me.tasks_near(far)]      # and the member sees it too
    elsewhere = create_task(skills={"法律咨询": 3}, org=create_org(county="411326"))   # 淅川, in 南阳市
    services.widen(actor=elsewhere.organizer, task=elsewhere, to="city")
    assert far.id not in suggested(elsewhere)
    assert elsewhere.id not in [t.id for _, t in near_me.tasks_near(far)]


def test_recent_hours_hold_a_member_back_and_are_given_as_the_reason(db, create_task, create_member):
    """Fairness through the database: of two members alike, the one who served lately ranks lower."""
    rested = create_member(name="歇着的", skills={"法律咨询": 3})
    busy = create_member(name="刚服务过", skills={"法律咨询": 3})
    past = create_task(headcount=2)
    services.invite(actor=past.organizer, task=past, members=[busy])
    services.respond(member=busy, assignment=_assignment(past, busy), accept=True)
    session = past.sessions[0]
    session.starts_at, session.ends_at = local_now() - timedelta(days=3, hours=3), local_now() - timedelta(days=3)
    records.confirm_attendance(actor=past.organizer, session=session,
                                entries={_assignment(past, busy).id: (True, 3.0, "")})
    db.session.commit()
    result = search.suggest(create_task(org=past.organization, organizer=past.organizer))
    assert [s.member_id for s in result] == [rested.id, busy.id]
    assert "近一个月服务 3 小时" in result[1].reason_text and "近一个月还没有服务过" in result[0].reason_text
    assert result[0].score > result[1].score


def test_a_recent_refusal_of_the_organization_holds_a_member_back_but_not_out(db, create_task, create_member):
    willing = create_member(name="愿意的", skills={"法律咨询": 3})
    refused = create_member(name="婉拒过的", skills={"法律咨询": 3})
    earlier = create_task(headcount=2)
    services.invite(actor=earlier.organizer, task=earlier, members=[refused])
    services.respond(member=refused, assignment=_assignment(earlier, refused), accept=False)
    db.session.commit()
    same_org = search.suggest(create_task(org=earlier.organization, organizer=earlier.organizer))
    assert [s.member_id for s in same_org] == [willing.id, refused.id]
    assert same_org[1].score == pytest.approx(same_org[0].score * 0.75, abs=1e-5)
    elsewhere = search.suggest(create_task())                     # another organization: no memory
    assert {s.member_id for s in elsewhere} == {willing.id, refused.id}
    assert elsewhere[0].score == elsewhere[1].score


def test_a_member_s_weekly_hours_limit_keeps_them_off_longer_tasks(db, create_task, create_member):
    short_week = create_member(name="每周两小时", skills={"法律咨询": 3}, max_hours_week=2)
    any_week = create_member(name="不限时间", skills={"法律咨询": 3})
    assert sorted(suggested(create_task(hours=2))) == sorted([short_week.id, any_week.id])
    long_task = create_task(hours=3)
    assert suggested(long_task) == [any_week.id]
    assert near_me.why_not(long_task, short_week) == "超出每周可服务的时间"


def test_other_required_skills_and_preferred_skills_come_from_the_index(db, create_task, create_member):
    both = create_member(name="两样都会", skills={"法律咨询": 2, "课业辅导": 2}, address="东大街")
    one = create_member(name="只会一样", skills={"法律咨询": 3})
    short = create_member(name="第二样不够", skills={"法律咨询": 3, "课业辅导": 1})
    task = create_task(skills={"法律咨询": 2, "课业辅导": 2})
    result = search.suggest(task)
    assert [s.member_id for s in result] == [both.id]
    assert "法律咨询·熟练" in result[0].reason_text and "课业辅导·熟练" in result[0].reason_text

    plain = create_member(name="不会巡护", skills={"法律咨询": 3})
    river = create_member(name="也会巡护", skills={"法律咨询": 3, "河道巡护": 2})
    weak = create_member(name="巡护刚入门", skills={"法律咨询": 3, "河道巡护": 1})
    preferring = create_task(skills={"法律咨询": 3}, preferred={"河道巡护": 2})
    result = search.suggest(preferring)
    assert result[0].member_id == river.id and "河道巡护·熟练" in result[0].reason_text
    assert {s.member_id for s in result[1:]} == {plain.id, weak.id, one.id, short.id}
    assert all("河道巡护" not in s.reason_text for s in result[1:])


def test_a_task_asking_no_skill_lists_each_nearby_member_once(db, create_task, create_member):
    many = create_member(name="多面手", skills={"法律咨询": 3, "课业辅导": 2, "河道巡护": 1})
    one = create_member(name="一技之长", skills={"课业辅导": 1})
    create_member(name="外县", skills={"法律咨询": 3}, county="411326")
    assert sorted(suggested(create_task(skills={}))) == sorted([many.id, one.id])
    assert sorted(suggested(create_task(skills={}, remote=True))) == sorted([many.id, one.id])


def test_widening_to_the_province_reaches_talents_far_beyond_the_city(db, create_task, create_member, create_admin):
    """A province talent 300 km away scores nothing for distance, but is on the list when nobody
    nearer is: the search reads talents beyond 100 km only when the nearer ones leave room."""
    from app.members import pool
    from app.members.models import PoolLevel

    far = create_member(name="新县的老专家", county="411523", skills={"法律咨询": 3})    # 信阳市新县
    province, city, county = create_admin("410000"), create_admin("411500"), create_admin("411523")
    pool.decide(actor=county, entry=pool.apply(actor=far.user, member=far), approve=True)
    pool.decide(actor=city, entry=pool.nominate(actor=city, member=far, level=PoolLevel.CITY, reason="多年调解经验"),
                approve=True)
    db.session.commit()
    task = create_task(skills={"法律咨询": 3})                                          # 郑州市管城回族区
    services.widen(actor=task.organizer, task=task, to="province")
    assert suggested(task) == []                        # a talent of 信阳's city pool only
    pool.decide(actor=province, approve=True,
                entry=pool.nominate(actor=province, member=far, level=PoolLevel.PROVINCE, reason="全省调解能手"))
    db.session.commit()
    for widen in ("province", "city"):                  # province talents answer either widening
        result = search.suggest(task, widen=widen)
        assert [s.member_id for s in result] == [far.id] and "省级人才库" in result[0].reason_text
        assert result[0].distance_km > 250 and result[0].parts["distance"] == 0


def test_tasks_near_me_mirror_the_organizers_view(db, create_task, create_member):
    member = create_member(skills={"法律咨询": 3, "课业辅导": 2})
    fits = create_task(title="法律咨询日", skills={"法律咨询": 2})
    create_task(title="需要精通课业辅导", skills={"课业辅导": 3})
    create_task(title="淅川的河道巡护", skills={"法律咨询": 1}, org=None)
    listed = [(t.title, s.reason_text) for s, t in near_me.tasks_near(member)]
    assert [title for title, _ in listed] == ["法律咨询日", "淅川的河道巡护"]
    assert "法律咨询·精通" in listed[0][1]
    assert fits.id


def _assignment(task, member):
    from app.tasks.models import Assignment

    return db_session().scalar(select(Assignment).where(Assignment.task_id == task.id, Assignment.member_id == member.id))


def db_session():
    from app.extensions import db

    return db.session


# --- answering, the headcount, the waitlist -----------------------------------------------------

def test_accepting_fills_then_waitlists_and_a_withdrawal_promotes(db, create_task, create_member):
    task = create_task(headcount=2)
    members = [create_member(name=n, skills={"法律咨询": 3}) for n in ("甲", "乙", "丙")]
    services.invite(actor=task.organizer, task=task, members=members, message="请来帮忙")
    db.session.commit()
    for m in members:
        services.respond(member=m, assignment=_assignment(task, m), accept=True)
        db.session.commit()
    statuses = [_assignment(task, m).status for m in members]
    assert statuses == [AssignmentStatus.ACCEPTED, AssignmentStatus.ACCEPTED, AssignmentStatus.WAITLISTED]
    assert task.status is TaskStatus.FILLED
    services.withdraw(member=members[0], assignment=_assignment(task, members[0]))
    db.session.commit()
    assert _assignment(task, members[2]).status is AssignmentStatus.ACCEPTED
    titles = db.session.scalars(select(Notification.title).where(Notification.user_id == members[2].id)).all()
    assert any("候补成功" in t for t in titles)


def test_declining_needs_no_reason_and_stops_invitations(db, create_task, create_member):
    task = create_task()
    member = create_member(skills={"法律咨询": 3})
    services.invite(actor=task.organizer, task=task, members=[member])
    services.respond(member=member, assignment=_assignment(task, member), accept=False)
    assert _assignment(task, member).status is AssignmentStatus.DECLINED
    with pytest.raises(Invalid):
        services.invite(actor=task.organizer, task=task, members=[member])
    with pytest.raises(Conflict):
        services.respond(member=member, assignment=_assignment(task, member), accept=True)


def test_applications_are_confirmed_by_the_organizer(db, create_task, create_member):
    task = create_task(headcount=1)
    first, second = create_member(name="先", skills={"法律咨询": 3}), create_member(name="后", skills={"法律咨询": 3})
    services.apply(member=first, task=task, message="我来")
    services.apply(member=second, task=task)
    services.decide_application(actor=task.organizer, assignment=_assignment(task, first), accept=True)
    services.decide_application(actor=task.organizer, assignment=_assignment(task, second), accept=False)
    assert _assignment(task, first).status is AssignmentStatus.ACCEPTED
    assert _assignment(task, second).status is AssignmentStatus.REJECTED
    with pytest.raises(Conflict):
        services.apply(member=second, task=task)


def test_changing_time_or_place_after_acceptance_notifies(db, create_task, create_member):
    task = create_task()
    member = create_member(skills={"法律咨询": 3})
    services.invite(actor=task.organizer, task=task, members=[member])
    services.respond(member=member, assignment=_assignment(task, member), accept=True)
    later = task.sessions[0].starts_at + timedelta(days=1)
    services.set_schedule(actor=task.organizer, task=task, kind=ScheduleKind.ONCE, first_date=later.date(),
                          last_date=None, weekdays=0, start_time=time(14), end_time=time(16))
    services.set_place(actor=task.organizer, task=task, mode=TaskMode.ONSITE, address="管城回族区城东路100号",
                       lat=34.76, lon=113.68)
    titles = db.session.scalars(select(Notification.title).where(Notification.user_id == member.id)).all()
    assert any("时间有变化" in t for t in titles) and any("地点有变化" in t for t in titles)


def test_cancelling_tells_everyone_taking_part(db, create_task, create_member):
    task = create_task()
    member = create_member(skills={"法律咨询": 3})
    services.invite(actor=task.organizer, task=task, members=[member])
    with pytest.raises(Invalid):
        services.cancel(actor=task.organizer, task=task, reason="")
    services.cancel(actor=task.organizer, task=task, reason="场地维修")
    assert task.status is TaskStatus.CANCELLED
    assert db.session.scalar(select(Notification.body).where(Notification.user_id == member.id,
                                                             Notification.kind == "task.cancelled")) == "原因：场地维修"


# --- attendance and hours -----------------------------------------------------------------------

def test_attendance_is_confirmed_for_the_whole_session_at_once(db, create_task, create_member):
    task = create_task(headcount=3)
    a, b = create_member(name="甲", skills={"法律咨询": 3}), create_member(name="乙", skills={"法律咨询": 3})
    services.invite(actor=task.organizer, task=task, members=[a, b])
    for m in (a, b):
        services.respond(member=m, assignment=_assignment(task, m), accept=True)
    session = task.sessions[0]
    with pytest.raises(Invalid, match="还没开始"):
        records.confirm_attendance(actor=task.organizer, session=session, entries={})
    session.starts_at, session.ends_at = local_now() - timedelta(hours=3), local_now() - timedelta(hours=1)
    entries = {_assignment(task, a).id: (True, 2.0, "讲得好"), _assignment(task, b).id: (False, 2.0, "")}
    records.confirm_attendance(actor=task.organizer, session=session, entries=entries)
    db.session.commit()
    assert ledger.member_hours(a.id) == 2.0 and ledger.member_hours(b.id) == 0
    # Confirmed hours are locked: confirming again is refused, never duplicates.
    entries[_assignment(task, a).id] = (True, 1.5, "")
    with pytest.raises(Conflict, match="已经确认并锁定"):
        records.confirm_attendance(actor=task.organizer, session=session, entries=entries)
    db.session.rollback()
    assert ledger.member_hours(a.id) == 2.0
    assert db.session.scalar(select(ServiceRecord.id).where(ServiceRecord.member_id == b.id)) is not None


def test_attendance_hours_out_of_range_are_refused(db, create_task, create_member):
    task = create_task()
    m = create_member(skills={"法律咨询": 3})
    services.invite(actor=task.organizer, task=task, members=[m])
    services.respond(member=m, assignment=_assignment(task, m), accept=True)
    session = task.sessions[0]
    session.starts_at, session.ends_at = local_now() - timedelta(hours=3), local_now() - timedelta(hours=1)
    with pytest.raises(Invalid, match="服务时长"):
        records.confirm_attendance(actor=task.organizer, session=session,
                                    entries={_assignment(task, m).id: (True, 30.0, "")})
    with pytest.raises(Invalid, match="不是这次服务"):
        records.confirm_attendance(actor=task.organizer, session=session, entries={999_999: (True, 1.0, "")})




def test_a_remote_task_reaches_its_whole_county(db, create_task, create_member):
    task = create_task(remote=True)
    here = [create_member(name=f"本县{i}", skills={"法律咨询": 2}) for i in range(3)]
    create_member(name="外县", skills={"法律咨询": 3}, county="411326")
    assert sorted(suggested(task)) == sorted(m.id for m in here)


def test_an_onsite_search_reads_its_whole_radius_at_once(db, create_task, create_member, monkeypatch):
    """A task that is not widened reads the index once, near and far members of its radius alike
    (its nearest quarter first cost most tasks a second read); a widened one reads further out
    for talents apart, as far as one could still make the list."""
    from app.members.index import reindex_member

    task = create_task(skills={"法律咨询": 1}, radius_km=10)
    for i, km in enumerate((0.5, 4.0, 9.0)):
        member = create_member(name=f"相距{km}公里", skills={"法律咨询": 2}, radius_km=30)
        member.lat = task.lat + km / 111.195
        member.lon = task.lon
        reindex_member(member)
        if i == 2:
            far = member
    db.session.commit()
    reads = []
    monkeypatch.setattr(search, "read_index", lambda *shape: reads.append(shape) or query.read_index(*shape))
    found = search.suggest(task)
    assert len(reads) == 1 and far.id in {s.member_id for s in found} and len(found) == 3
    reads.clear()
    assert len(search.suggest(task, widen="province")) == 3 and len(reads) == 2


@pytest.mark.parametrize("remote,required,preferred", [
    (False, {"法律咨询": 1, "课业辅导": 1}, {}), (True, {"法律咨询": 1, "课业辅导": 1}, {}),
    (False, {"法律咨询": 1}, {"河道巡护": 2}), (True, {"法律咨询": 2}, {"河道巡护": 1}),
    (False, {}, {"河道巡护": 1}), (True, {}, {})])
def test_reading_the_most_promising_index_rows_first_changes_nothing(db, create_task, create_member, monkeypatch,
                                                                     remote, required, preferred):
    """The database's bound (_sql_bound) is never below the exact one, so reading a page of rows
    best-first, and everything when the page is not enough, gives the list reading all would."""
    from app.matching.bound import IndexRow, QuickJudge
    from app.members.index import reindex_member

    task = create_task(skills=required, preferred=preferred, radius_km=30, remote=remote)
    members = []
    for i in range(14):
        skills = {"法律咨询": 1 + i % 3, "课业辅导": 1 + i % 2} if i % 7 else {"课业辅导": 3}
        if i % 3:
            skills["河道巡护"] = i % 3
        member = create_member(name=f"候选{i}", skills=skills, radius_km=(5, 10, 30)[i % 3],
                               availability_mask=(1 << 21) - 1 - (i % 4 == 0))
        member.lat += (i % 5) * 0.03
        member.lon -= (i // 5) * 0.04
        reindex_member(member)
        members.append(member)
    other = create_task(org=task.organization, organizer=task.organizer, skills={"课业辅导": 1}, radius_km=30)
    services.invite(actor=task.organizer, task=other, members=members[1:3])   # scores fall below their bounds
    db.session.commit()
    facts = gather.task_facts(task)
    judge = QuickJudge(facts, regions.anchor_skill(facts))
    found = []
    everywhere = regions.first_tier(facts, None) + ([] if remote else regions.further(facts, judge, None, None))
    for reach in everywhere:
        found += db.session.execute(*query.index_query(task, facts, judge, [reach], set(), 100)).all()
    # What matching runs (on PostgreSQL: the SQL compiled once, on the driver) reads the same rows,
    # widened searches' shapes included.
    skip = {members[4].id}
    for widen, prefetch in ((None, False), ("city", False), ("province", False), (None, True), ("city", True)):
        reaches = regions.first_tier(facts, widen) + ([] if remote else regions.further(facts, judge, widen, None))
        city = gather.city_of(task) if widen == "city" else None
        # (SQLAlchemy gives a completion row's status as the enum, the driver as its value.)
        read = [tuple(getattr(v, "value", v) for v in row) for row in query.read_index(
            *query.index_shape(task, facts, judge, reaches, skip, 100, city, prefetch=prefetch))]
        through_sqlalchemy = [tuple(getattr(v, "value", v) for v in row) for row in db.session.execute(
            *query.index_query(task, facts, judge, reaches, skip, 100, city, prefetch=prefetch))]
        assert read and read == through_sqlalchemy and skip.isdisjoint(row[0] for row in read)
        assert [tuple(map(type, row)) for row in read] == [tuple(map(type, row)) for row in through_sqlalchemy]
    assert len(found) >= 5 and len({row.member_id for row in found}) == len(found)   # each member read once
    sql_bound = {row.member_id: row.bound for row in found}
    for bound, row in judge.bounds([IndexRow.read(r, len(judge.extra)) for r in found]):
        assert sql_bound[row[0]] >= bound
    monkeypatch.setattr(search, "PAGE", 10_000)
    everything = [(s.member_id, s.score) for s in search.suggest(task, limit=4)]
    for page in (1, 2, 5):
        monkeypatch.setattr(search, "PAGE", page)
        assert [(s.member_id, s.score) for s in search.suggest(task, limit=4)] == everything
    assert len(everything) == 4


def test_an_empty_list_goes_to_the_index_query_as_one_that_matches_nothing(db, create_task, create_member):
    """Nobody to skip, or a region with no level left to read: the query gets [0], never [] (on
    PostgreSQL an empty list has no type, so its statement would be prepared and planned again);
    no member, skill or level is numbered 0, so such a region still reads nothing."""
    from app.matching.bound import QuickJudge

    task = create_task(skills={"法律咨询": 1}, radius_km=30)
    member = create_member(skills={"法律咨询": 2})
    db.session.commit()
    facts = gather.task_facts(task)
    judge = QuickJudge(facts, regions.anchor_skill(facts))

    def read(reach):
        statement, params = query.index_query(task, facts, judge, [reach], set(), 100)
        lists = {name: value for name, value in params.items() if isinstance(value, list)}
        assert {"p0_skip", "p0_levels"} <= lists.keys() and all(lists.values())
        return [row.member_id for row in db.session.execute(statement, params)]

    assert read(regions.Reach("near", within_km=30, levels=())) == []
    assert read(regions.Reach("near", within_km=30)) == [member.id]


def test_the_completion_read_gives_each_member_the_facts_the_database_holds(db, create_task, create_member,
                                                                           monkeypatch):
    """gather.complete() (on PostgreSQL on the driver, elsewhere through SQLAlchemy) adds what the
    index does not carry, the same as the ORM's own reads of it: open invitations, a refusal of the
    organization, a clash with an accepted task, dates away and recent hours; a member with none
    of them comes back as they went in. On PostgreSQL the driver's rows are SQLAlchemy's."""
    from dataclasses import replace

    from app.matching.bound import QuickJudge
    from app.matching.score import rank
    from app.matching.search import partial_facts
    from tests.tasks.test_matching_at_scale import _completed

    task = create_task(skills={"法律咨询": 1}, headcount=5)
    day = task.sessions[0].starts_at
    invited, declined, busy, away, served, plain = (
        create_member(name=n, skills={"法律咨询": 2}) for n in ("邀请", "婉拒", "冲突", "不在", "服务", "无事"))
    db.session.add(UnavailablePeriod(member_id=away.id, start_date=day.date(), end_date=day.date()))
    other = create_task(org=task.organization, organizer=task.organizer, when=day, headcount=5)
    services.invite(actor=task.organizer, task=other, members=[invited, declined, busy, served])
    services.respond(member=declined, assignment=_assignment(other, declined), accept=False)
    services.respond(member=busy, assignment=_assignment(other, busy), accept=True)
    services.respond(member=served, assignment=_assignment(other, served), accept=True)
    db.session.add(ServiceRecord(assignment_id=_assignment(other, served).id, session_id=other.sessions[0].id,
                                 member_id=served.id, organization_id=other.organization_id, hours=2.5,
                                 attended=True, served_on=local_today() - timedelta(days=3)))
    db.session.commit()
    facts = gather.task_facts(task)
    judge = QuickJudge(facts, regions.anchor_skill(facts))
    members = [invited, declined, busy, away, served, plain]
    partial = [partial_facts(judge.row_of(lat=m.lat, lon=m.lon, radius_km=m.service_radius_km, capacity=2,
                                          availability_mask=m.availability_mask, limits=0, pool_rank=0,
                                          skills={s.skill_id: s.level for s in m.skills}, member_id=m.id),
                             judge, set()) for m in members]
    completed = gather.complete(task, facts, partial)
    expected = [replace(_completed(f, task, facts), on_task=False) for f in partial]
    assert completed == expected
    assert completed[-1] is partial[-1]
    assert [m.open_invitations for m in completed] == [1, 0, 0, 0, 0, 0]
    assert [m.declined_org_recently for m in completed] == [False, True, False, False, False, False]
    assert [bool(m.busy) for m in completed] == [False, False, True, False, True, False]
    assert [bool(m.unavailable) for m in completed] == [False, False, False, True, False, False]
    assert [m.hours_30d for m in completed] == [0, 0, 0, 0, 2.5, 0]
    if gather.arrays():
        first, last = facts.sessions[0]
        params = {"ids": [m.id for m in members], "task_id": task.id, "first": first, "last": last,
                  "first_day": first.date(), "last_day": last.date(),
                  "since": local_today() - timedelta(days=gather.DECLINE_MEMORY_DAYS)}
        through_sqlalchemy = [gather.FactRow._make(row) for row in db.session.execute(
            gather._completion_statement(True), params)]
        on_the_driver = [gather.FactRow._make(row) for row in gather._read_facts(params)]

        def key(row):
            return (row.kind, row.member_id, row.task_id or 0, row.starts_at or day)
        assert len(on_the_driver) >= 6
        assert sorted(on_the_driver, key=key) == sorted(
            (row._replace(status=row.status.value if row.status is not None else None) for row in through_sqlalchemy),
            key=key)

    # A search brings the same rows along with its index read (query.with_facts), and ranks on
    # them with no completion read of its own: the list the pure ranking gives for these facts.
    reads = []
    monkeypatch.setattr(gather, "_read_facts", lambda params: reads.append(params) or [])
    listed = [(s.member_id, s.score) for s in search.suggest(task)]
    assert reads == [] and listed == [(s.member_id, s.score) for s in rank(facts, completed)]
    assert [member_id for member_id, _ in listed] == [plain.id, invited.id, declined.id]


def _assignment(task, member):
    return _db.session.scalar(select(Assignment).where(Assignment.task_id == task.id, Assignment.member_id == member.id))
