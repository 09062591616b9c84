"""An empty list explains itself (issue 16 item 4): each near miss with the one fact that excludes
it, in the member's terms, and a way to act on it; the hard filters stay hard."""

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.clock import PERIODS, WEEKDAYS, local_now
from app.matching import near_me
from app.matching.misses import misses
from app.matching.score import exclusion, exclusions
from app.members.models import slot_bit
from app.tasks.models import Assignment, AssignmentStatus
from tests.conftest import csrf_token, statements_of, statements_run
from tests.tasks.test_matching import ALL_WEEK, TEACH, member, task

MORNINGS = sum(slot_bit(d, 0) for d in range(7))
AFTERNOONS = sum(slot_bit(d, 1) for d in range(7))
FRIDAY_AFTERNOON = (datetime(2027, 3, 5, 14, 0), datetime(2027, 3, 5, 16, 0))   # 5 March 2027 is a Friday


# --- the facts, pure ----------------------------------------------------------------------------


def test_a_time_miss_names_the_task_time_and_leads_to_my_time():
    [miss] = misses(task(sessions=(FRIDAY_AFTERNOON,)), member(availability_mask=MORNINGS))
    assert miss.fact == "3月5日周五下午，和您勾选的时间不同"
    assert (miss.fix_step, miss.fix_label) == ("availability", "改一下我的时间")


def test_a_blocked_date_is_told_apart_from_the_weekly_grid():
    from datetime import date

    [miss] = misses(task(sessions=(FRIDAY_AFTERNOON,)), member(unavailable=((date(2027, 3, 1), date(2027, 3, 9)),)))
    assert miss.fact == "在您说不方便的日子里" and miss.fix_step == "unavailable"


def test_a_distance_miss_says_how_far_and_whose_limit():
    [mine] = misses(task(radius_km=30), member(km_north=12, radius_km=5))
    assert mine.fact == "离家 12.0 公里，比您愿意去的 5 公里远" and mine.fix_step == "radius"
    [theirs] = misses(task(radius_km=5), member(km_north=12, radius_km=20))
    assert theirs.fact == "离家 12.0 公里，超出这项服务的 5 公里范围" and theirs.fix_step is None


def test_a_skill_miss_names_the_skill_and_level():
    [miss] = misses(task(required={TEACH: 2}), member())
    assert miss.fact == "需要专长“课业辅导”（熟练以上）" and miss.fix_step == "skills"


def test_every_failing_filter_is_listed_and_the_first_is_still_the_exclusion():
    t, m = task(sessions=(FRIDAY_AFTERNOON,), required={TEACH: 1}), member(availability_mask=MORNINGS)
    assert list(exclusions(t, m)) == ["skill", "time"]
    assert exclusion(t, m) == "缺少所需专长"
    assert [x.code for x in misses(t, m)] == ["skill", "time"]


def test_the_members_own_state_is_no_near_miss():
    assert misses(task(), member(consent=False)) == [] and misses(task(), member(availability_mask=ALL_WEEK)) == []


# --- the member's list -------------------------------------------------------------------------


def _next(weekday: int, hour: int) -> datetime:
    now = local_now()
    day = now + timedelta(days=(weekday - now.weekday()) % 7 + 7)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def test_the_empty_list_shows_the_near_miss_with_its_fact_and_a_way_to_act(client, login, create_task, create_member):
    when = _next(4, 15)                                    # a Friday afternoon
    create_task(title="周五课业辅导", skills={"课业辅导": 1}, when=when)
    member = create_member(skills={"课业辅导": 3}, availability_mask=MORNINGS)
    login(member.user)
    html = client.get("/my/tasks").get_data(as_text=True)
    assert "附近暂时没有适合您的服务" in html and "差一点就合适的" in html
    assert f"{when.month}月{when.day}日{WEEKDAYS[4]}{PERIODS[1]}，和您勾选的时间不同" in html
    assert 'href="/profile/edit/availability">改一下我的时间' in html
    assert 'href="/my/tasks/nearby">看看附近所有的服务' in html


def test_a_near_miss_stays_off_the_ranked_list(db, create_task, create_member):
    create_task(skills={"课业辅导": 1}, when=_next(4, 15))
    member = create_member(skills={"课业辅导": 3}, availability_mask=MORNINGS)
    assert near_me.tasks_near(member) == []
    [around] = near_me.nearby(member)
    assert around.near_miss and around.misses[0].code == "time"


def test_a_task_missed_twice_is_no_near_miss_but_is_on_the_all_page(client, login, create_task, create_member):
    create_task(title="周五普法", skills={"法律咨询": 2}, when=_next(4, 15))
    member = create_member(skills={"课业辅导": 3}, availability_mask=MORNINGS)
    login(member.user)
    html = client.get("/my/tasks").get_data(as_text=True)
    assert "差一点就合适的" not in html and "有 1 项正在招募的服务" in html
    everything = client.get("/my/tasks/nearby").get_data(as_text=True)
    assert "周五普法" in everything and "需要专长“法律咨询”（熟练以上）" in everything
    assert "和您勾选的时间不同" in everything


def test_nothing_around_says_so(client, login, create_member):
    member = create_member(skills={"课业辅导": 3})
    login(member.user)
    html = client.get("/my/tasks").get_data(as_text=True)
    assert "您家附近现在没有正在招募的志愿服务" in html


def test_an_empty_list_asks_matching_what_the_profile_lacks_not_the_profile_again(db, client, login, create_member):
    """The member's skills were read for matching already: the empty list's explanation does not
    load them, nor the member's periods away, a second time."""
    member = create_member(skills={"课业辅导": 3})
    login(member.user)
    client.get("/my/tasks")
    with statements_run(db) as statements:
        html = client.get("/my/tasks").get_data(as_text=True)
    assert "您家附近现在没有正在招募的志愿服务" in html and "您的资料还缺" not in html
    assert [s for s in statements if s.startswith(("SELECT unavailable_periods.", "SELECT member_skills."))] == []



def test_tasks_are_judged_on_rows_and_only_those_shown_are_loaded(db, client, login, create_task, create_member):
    """Both tasks pass the ranked list's SQL filters, and the time rules them out: they are judged
    on their facts read as rows (skills and sessions in one read), never loaded as tasks for the
    list; the near misses shown are loaded once, with their sessions (what the schedule line
    counts) in the same read."""
    create_task(title="周五课业辅导", skills={"课业辅导": 1}, when=_next(4, 15))
    wednesday = _next(2, 15)
    create_task(title="每周普法", skills={"课业辅导": 1}, preferred={"法律咨询": 1}, when=wednesday,
                weekdays=0b0000100, weekly_until=(wednesday + timedelta(days=21)).date())
    member = create_member(skills={"课业辅导": 3}, availability_mask=MORNINGS)
    login(member.user)
    client.get("/my/tasks")
    with statements_run(db) as statements:
        html = client.get("/my/tasks").get_data(as_text=True)
    assert "周五课业辅导" in html and "每周普法" in html and "差一点就合适的" in html
    assert "每周三 15:00–17:00（共 4 次）" in html      # every session of the weekly task, counted
    assert [s for s in statements if s.startswith(("SELECT task_sessions.", "SELECT task_skills."))] == []
    assert len([s for s in statements if s.startswith("SELECT tasks.id, tasks.organization_id")]) == 1


def test_the_list_loads_only_the_tasks_it_shows(db, client, login, create_task, create_member):
    """Of two tasks around, the one the time rules out is judged on rows and never loaded; the one
    listed is loaded once, with its organization and sessions, for its card."""
    create_task(title="周五下午课业辅导", skills={"课业辅导": 1}, when=_next(4, 15))
    fits = create_task(title="周五上午课业辅导", skills={"课业辅导": 1}, when=_next(4, 9))
    member = create_member(skills={"课业辅导": 3}, availability_mask=MORNINGS)
    login(member.user)
    client.get("/my/tasks")
    with statements_run(db) as statements:
        html = client.get("/my/tasks").get_data(as_text=True)
    assert f'href="/my/tasks/{fits.id}">周五上午课业辅导' in html and "周五下午课业辅导" not in html
    assert f"{fits.organization.name} · " in html
    loads = [s for s in statements if s.startswith("SELECT tasks.id, tasks.organization_id")]
    assert len(loads) == 1 and "JOIN task_sessions" in loads[0]
    assert [s for s in statements if s.startswith(("SELECT task_sessions.", "SELECT task_skills."))] == []


def test_the_database_leaves_out_tasks_asking_for_a_skill_not_held_at_its_level(db, create_task, create_member):
    """tasks_near's read drops, before anything is judged, the tasks with a required skill the
    member lacks or holds below the level asked; a preferred skill does not count."""
    create_task(skills={"法律咨询": 1})
    create_task(skills={"课业辅导": 3})
    both = create_task(skills={"课业辅导": 1, "法律咨询": 1})
    held = create_task(skills={"课业辅导": 2}, preferred={"法律咨询": 1})
    member = create_member(skills={"课业辅导": 2})
    own = near_me.own_context(member)
    reach, cities = own.reach
    rows = db.session.execute(near_me._near_statement(reach, len(cities)),
                              near_me._near_parameters(member, own.facts, cities)).all()
    assert [row.id for row in rows] == [held.id] and both.id != held.id


def test_what_the_profile_lacks_is_named_as_the_reason(client, login, create_member):
    member = create_member(skills={}, availability_mask=0)
    login(member.user)
    html = client.get("/my/tasks").get_data(as_text=True)
    assert "您的资料还缺" in html and 'href="/profile/edit/skills">专长' in html
    assert 'href="/profile/edit/availability">方便的时间' in html


def test_a_fitting_task_shows_no_explanation(client, login, create_task, create_member):
    create_task(title="社区普法讲座")
    member = create_member(skills={"法律咨询": 3})
    login(member.user)
    html = client.get("/my/tasks").get_data(as_text=True)
    assert "社区普法讲座" in html and "为什么没有" not in html
    everything = client.get("/my/tasks/nearby").get_data(as_text=True)
    assert "社区普法讲座" in everything and "适合您" in everything


def test_the_all_page_needs_a_profile(client, login, create_user):
    login(create_user())
    assert client.get("/my/tasks/nearby").status_code == 404


# --- the organizer's candidates page -----------------------------------------------------------


def _invite(client, task, **data):
    return client.post(f"/tasks/{task.id}/invite", data={**data, "csrf_token": csrf_token(client, f"/tasks/{task.id}/candidates")})


def test_the_candidates_page_shows_near_misses_apart_with_invite_anyway(client, login, create_task, create_member):
    task = create_task(skills={"课业辅导": 1}, when=_next(4, 15))
    member = create_member(name="周老师", skills={"课业辅导": 3}, availability_mask=MORNINGS)
    create_member(name="吴会计", skills={"法律咨询": 3}, availability_mask=MORNINGS)     # no skill: not a near miss
    login(task.organizer)
    html = client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    assert "附近暂时没有完全合适的老同志" in html
    assert "另有 1 人专长符合，但时间不合适" in html and "和本人勾选的时间不同" in html
    assert f'name="anyway" value="{member.id}"' in html and "仍然邀请周老师" in html
    assert "吴会计" not in html


def test_a_limit_the_member_set_is_shown_but_cannot_be_overridden(client, db, login, create_task, create_member):
    from app.members.models import Capacity

    task = create_task(skills={"课业辅导": 1}, demand=Capacity.HEAVY)
    member = create_member(name="郑老师", skills={"课业辅导": 3}, capacity=Capacity.LIGHT)
    login(task.organizer)
    html = client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    assert "另有 1 人专长符合，但活动强度超出身体状况" in html and f'value="{member.id}"' not in html
    refused = _invite(client, task, anyway=str(member.id))
    assert refused.status_code == 400 and "不能邀请郑老师：活动强度超出身体状况" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_inviting_anyway_tells_the_member_why_and_is_audited(client, db, login, create_task, create_member):
    from app.audit.models import AuditEvent

    task = create_task(skills={"课业辅导": 1}, when=_next(4, 15))
    member = create_member(name="周老师", skills={"课业辅导": 3}, availability_mask=MORNINGS)
    login(task.organizer)
    plain = _invite(client, task, member=str(member.id))          # a hard filter stays hard
    assert plain.status_code == 400 and "这些时间没有空" in plain.get_data(as_text=True)
    assert _invite(client, task, anyway=str(member.id)).status_code == 302
    a = db.session.scalar(select(Assignment).where(Assignment.member_id == member.id))
    assert a.status is AssignmentStatus.INVITED and "和您勾选的时间不同，组织者仍然想请您" in a.reasons
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "task.invite"))
    assert member.id in json.loads(event.detail)["anyway"]


def test_near_misses_are_read_in_as_many_statements_for_three_as_for_one(db, client, login, create_task,
                                                                          create_member):
    task = create_task(skills={"课业辅导": 1}, when=_next(4, 15), headcount=8)
    create_member(name="周老师", skills={"课业辅导": 3}, availability_mask=MORNINGS)
    login(task.organizer)
    one, html = statements_of(db, client, f"/tasks/{task.id}/candidates")
    assert "另有 1 人专长符合，但时间不合适" in html and "仍然邀请周老师" in html
    for name in ("吴老师", "郑老师"):
        create_member(name=name, skills={"课业辅导": 2, "法律咨询": 1}, availability_mask=MORNINGS)
    client.get(f"/tasks/{task.id}/candidates")      # as statements_of: the test's commits expired the session
    with statements_run(db) as statements:
        html = client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    assert "另有 3 人专长符合，但时间不合适" in html
    assert all(f"仍然邀请{name}" in html for name in ("周老师", "吴老师", "郑老师"))
    assert len(statements) == one
    # Judged on index rows and named by one read: no profile, with its skills, entries and dates
    # away, is loaded for the near misses.
    loaded = ("SELECT member_profiles.", "SELECT member_skills.", "SELECT pool_entries.", "SELECT unavailable_periods.")
    assert [s for s in statements if s.startswith(loaded)] == []


def test_a_near_miss_is_judged_on_what_its_index_rows_say_the_profile_says(db, create_member):
    """Near misses are judged on the skill-location index's rows, not on loaded profiles: for any
    member the index holds, the rows give member_facts() exactly."""
    from app.matching.gather import member_facts
    from app.matching.near_candidates import _index_facts
    from app.members.models import Capacity

    members = [create_member(skills={"课业辅导": 3}),
               create_member(skills={"课业辅导": 1, "法律咨询": 2, "文艺演出": 3}, capacity=Capacity.LIGHT,
                             availability_mask=MORNINGS, radius_km=3, no_night=True, no_outdoor=True,
                             max_hours_week=6),
               create_member(skills={"法律咨询": 2}, capacity=Capacity.HEAVY, no_outdoor=True)]
    ids = [m.id for m in reversed(members)]
    assert _index_facts(ids) == [member_facts(db.session.get(type(members[0]), i)) for i in ids]


def test_a_full_list_reads_no_near_misses(client, login, create_task, create_member):
    task = create_task(skills={"课业辅导": 1}, headcount=1)
    create_member(name="甲老师", skills={"课业辅导": 3})
    create_member(name="乙老师", skills={"课业辅导": 3}, availability_mask=0)
    login(task.organizer)
    html = client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    assert "甲老师" in html and "另有" not in html


def test_facts_read_as_rows_are_the_facts_of_the_loaded_task(db, create_task):
    """around() judges tasks on facts read as rows (gather.task_facts_of); they are exactly what
    task_facts() makes of the loaded Task: skills required and preferred with their names, the
    sessions still to come (a cancelled one left out), demand, setting, place and organization."""
    from datetime import date

    from app.matching.gather import FACT_COLUMNS, task_facts, task_facts_of
    from app.members.models import Capacity
    from app.tasks.models import Task

    weekly = create_task(skills={"法律咨询": 2}, preferred={"课业辅导": 1}, when=_next(1, 9), weekdays=0b0000011,
                         weekly_until=date.today() + timedelta(days=40), demand=Capacity.MODERATE, outdoor=True)
    weekly.sessions[1].cancelled = True
    remote = create_task(remote=True, skills={"课业辅导": 3})
    db.session.commit()
    ids = [weekly.id, remote.id]
    rows = db.session.execute(select(*FACT_COLUMNS).where(Task.id.in_(ids))).all()
    read = task_facts_of(rows)
    db.session.expire_all()
    loaded = {task_id: task_facts(db.session.get(Task, task_id)) for task_id in ids}
    assert read == loaded
    assert len(read[weekly.id].sessions) == len(weekly.sessions) - 1 and read[weekly.id].preferred
    assert read[remote.id].remote and task_facts_of([]) == {}
