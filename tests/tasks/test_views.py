"""Task pages through the test client: posting section by section, candidates, invitations,
answers, attendance, the member's lists, the calendar file and the proof of service."""

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from app.clock import local_now, local_today
from app.members.models import MemberProfile
from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord, Task, TaskStatus
from tests.conftest import csrf_token, statements_run


def post(client, path, data, token_page=None):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_page or path)})


def test_posting_a_need_section_by_section(client, db, login, create_user, create_org, skill_ids):
    org = create_org(name="东关南里社区")
    login(create_user(roles=[("organizer", org)]))
    response = post(client, "/tasks/new", {"organization": str(org.id), "title": "社区法律咨询",
                                           "category": "governance", "description": "解答居民法律问题"})
    task = db.session.scalar(select(Task).where(Task.title == "社区法律咨询"))
    assert response.headers["Location"].endswith(f"/tasks/{task.id}/edit/place?next=wizard")
    day = (local_today() + timedelta(days=5)).isoformat()
    steps = [("place", {"mode": "onsite", "address": "", "radius_km": "8"}),
             ("time", {"kind": "once", "first_date": day, "start_time": "09:00", "end_time": "11:30"}),
             ("needs", {"headcount": "3", "demand": "light"}),
             ("skills", {"skill": str(skill_ids["法律咨询"]), "min_level": "2", "action": "add"})]
    for section, data in steps:
        r = post(client, f"/tasks/{task.id}/edit/{section}?next=wizard", data, f"/tasks/{task.id}/edit/{section}")
        assert r.status_code == 302, (section, r.get_data(as_text=True)[-1500:])
    post(client, f"/tasks/{task.id}/edit/skills?next=wizard", {"action": "done"}, f"/tasks/{task.id}")
    db.session.refresh(task)
    assert (task.radius_km, task.headcount, len(task.sessions), task.sessions[0].hours) == (8, 3, 1, 2.5)
    assert [s.skill_id for s in task.skills] == [skill_ids["法律咨询"]]
    post(client, f"/tasks/{task.id}/publish", {}, f"/tasks/{task.id}")
    db.session.refresh(task)
    assert task.status is TaskStatus.OPEN


@pytest.mark.parametrize("section,data,message", [
    ("time", {"kind": "once", "first_date": "2020-01-01", "start_time": "09:00", "end_time": "11:00"}, "早于今天"),
    ("time", {"kind": "once", "first_date": "{future}", "start_time": "11:00", "end_time": "09:00"}, "结束时间要晚于开始时间"),
    ("needs", {"headcount": "0", "demand": "light"}, "需要人数应在 1 到 200 人之间"),
    ("needs", {"headcount": "10000", "demand": "light"}, "需要人数应在 1 到 200 人之间"),
    ("place", {"mode": "remote", "address": "东大街", "radius_km": "10"}, "线上服务不用填写地点"),
    ("skills", {"skill": "999999", "min_level": "2", "action": "add"}, "请从列表中选择专长"),
])
def test_bad_input_on_a_need_is_refused_with_a_message_and_changes_nothing(client, db, login, create_task,
                                                                           section, data, message):
    task = create_task()
    login(task.organizer)
    before = (task.headcount, task.mode, [(s.starts_at, s.ends_at) for s in task.sessions], len(task.skills))
    data = {k: v.replace("{future}", (local_today() + timedelta(days=3)).isoformat()) for k, v in data.items()}
    response = post(client, f"/tasks/{task.id}/edit/{section}", data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    db.session.expire_all()
    task = db.session.get(Task, task.id)
    assert (task.headcount, task.mode, [(s.starts_at, s.ends_at) for s in task.sessions], len(task.skills)) == before


def test_another_organizations_task_is_404(client, login, create_task, create_user, create_org):
    task = create_task()
    login(create_user(roles=[("organizer", create_org())]))
    for path in (f"/tasks/{task.id}", f"/tasks/{task.id}/candidates", f"/tasks/{task.id}/edit/needs",
                 f"/tasks/{task.id}/cancel", f"/tasks/{task.id}/sessions/{task.sessions[0].id}/attendance"):
        assert client.get(path).status_code == 404, path
    assert post(client, f"/tasks/{task.id}/invite", {"member": "1"}, "/account").status_code == 404
    assert post(client, f"/tasks/{task.id}/edit/needs", {"headcount": "9", "demand": "light"}, "/account").status_code == 404


def test_county_admins_see_only_their_regions_tasks(client, login, create_task, create_admin, create_org):
    here = create_task(title="管城的需求")
    there = create_task(title="淅川的需求", org=create_org(county="411326"))
    login(create_admin("410104"))
    html = client.get("/tasks/").get_data(as_text=True)
    assert "管城的需求" in html and "淅川的需求" not in html
    assert client.get(f"/tasks/{there.id}").status_code == 404
    assert client.get(f"/tasks/{here.id}").status_code == 200


def test_candidates_invite_accept_confirm_and_prove(app, client, db, login, create_task, create_member):
    member = create_member(name="钱律师", skills={"法律咨询": 3})
    task = create_task(headcount=1)
    login(task.organizer)
    page = client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    assert "钱律师" in page and "法律咨询·精通" in page and ("公里" in page or " 米" in page)
    response = post(client, f"/tasks/{task.id}/invite", {"member": str(member.id), "message": "请您来帮忙"},
                    f"/tasks/{task.id}/candidates")
    assert response.status_code == 302

    member_client = app.test_client()
    from tests.conftest import PASSWORD

    member_client.post("/login", data={"phone": member.user.phone, "password": PASSWORD,
                                       "csrf_token": csrf_token(member_client)})
    listing = member_client.get("/my/tasks").get_data(as_text=True)
    assert "邀请您参加" in listing and "为什么请您" in listing and "请您来帮忙" in listing
    post(member_client, f"/my/tasks/{task.id}/respond", {"accept": "1"}, "/my/tasks")
    assignment = db.session.scalar(select(Assignment).where(Assignment.task_id == task.id))
    assert assignment.status is AssignmentStatus.ACCEPTED

    ics = Calendar.from_ical(member_client.get("/my/tasks.ics").data)
    events = [c for c in ics.walk("VEVENT")]
    assert len(events) == 1 and str(events[0]["summary"]) == f"志愿服务：{task.title}"
    accepted = member_client.get(f"/my/tasks/{task.id}").get_data(as_text=True)
    assert "接下来" in accepted and "加到手机日历（提前一天提醒）" in accepted and ".ics<" not in accepted

    session = task.sessions[0]
    session.starts_at, session.ends_at = local_now() - timedelta(hours=3), local_now() - timedelta(hours=1)
    db.session.commit()
    r = post(client, f"/tasks/{task.id}/sessions/{session.id}/attendance",
             {f"attended_{assignment.id}": "y", f"hours_{assignment.id}": "2", f"feedback_{assignment.id}": "很专业"},
             f"/tasks/{task.id}")
    assert r.status_code == 302
    assert db.session.scalar(select(func.sum(ServiceRecord.hours))) == 2
    proof = member_client.get("/my/proof").get_data(as_text=True)
    assert "志愿服务证明" in proof and task.organization.name in proof and "共 2 小时" in proof


def test_candidates_leave_out_whoever_is_on_the_task_and_count_the_places_left(client, db, login, create_task,
                                                                                create_member):
    """The page reads of the task's assignments whom they are for and in what state, as rows: an
    invited, an accepting and a declining member are off the list; the accepted one takes a place."""
    from app.tasks import services

    task = create_task(headcount=3)
    invited, accepting, declining = (create_member(name=n, skills={"法律咨询": 3}) for n in ("邀请中", "已答应", "已婉拒"))
    create_member(name="没邀请", skills={"法律咨询": 3})
    services.invite(actor=task.organizer, task=task, members=[invited, accepting, declining])
    for member, status in ((accepting, AssignmentStatus.ACCEPTED), (declining, AssignmentStatus.DECLINED)):
        db.session.scalar(select(Assignment).where(Assignment.member_id == member.id)).status = status
    db.session.commit()
    login(task.organizer)
    client.get(f"/tasks/{task.id}/candidates")
    with statements_run(db) as statements:
        page = client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    assert "没邀请" in page and not any(n in page for n in ("邀请中", "已答应", "已婉拒"))
    assert "还需要 2 人" in page
    assert [s for s in statements if "assignments.reasons" in s] == []      # no assignment loaded as an object


def test_candidates_read_the_tasks_skills_and_sessions_once_as_rows(client, db, login, create_task, create_member):
    """The page loads the task without its skills and sessions, and reads them, for matching, in one
    statement of plain rows; the list is what the task's facts give (the skill asked, the level)."""
    task = create_task(skills={"法律咨询": 3})
    create_member(name="够格的", skills={"法律咨询": 3})
    create_member(name="差一级", skills={"法律咨询": 2})
    login(task.organizer)
    client.get(f"/tasks/{task.id}/candidates")
    with statements_run(db) as statements:
        page = client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    listed = page.split("选择要邀请的老同志")[1].split("</fieldset>")[0]
    assert "够格的" in listed and "差一级" not in listed
    # (The index read names task_sessions too: it brings the likeliest members' clashes along.)
    reading = [s for s in statements if ("task_skills" in s or "task_sessions" in s) and "member_skill_index" not in s]
    assert len(reading) == 1 and "UNION ALL" in reading[0], reading


def test_bad_attendance_hours_are_refused(client, db, login, create_task, create_member):
    from app.tasks import services

    member = create_member(skills={"法律咨询": 3})
    task = create_task()
    services.invite(actor=task.organizer, task=task, members=[member])
    a = db.session.scalar(select(Assignment).where(Assignment.task_id == task.id))
    services.respond(member=member, assignment=a, accept=True)
    session = task.sessions[0]
    session.starts_at, session.ends_at = local_now() - timedelta(hours=3), local_now() - timedelta(hours=1)
    db.session.commit()
    login(task.organizer)
    for hours in ("-1", "99", "NaN", "abc", "😀"):
        r = post(client, f"/tasks/{task.id}/sessions/{session.id}/attendance",
                 {f"attended_{a.id}": "y", f"hours_{a.id}": hours}, f"/tasks/{task.id}")
        assert r.status_code == 400, hours
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0


def test_a_member_applies_and_sees_tasks_near_them(client, db, login, create_task, create_member):
    task = create_task(title="社区普法讲座")
    member = create_member(skills={"法律咨询": 3})
    login(member.user)
    near = client.get("/my/tasks").get_data(as_text=True)
    assert "社区普法讲座" in near and "法律咨询·精通" in near
    r = post(client, f"/my/tasks/{task.id}/apply", {"message": "我做过法官"}, f"/my/tasks/{task.id}")
    assert r.status_code == 302
    assert db.session.scalar(select(Assignment.status).where(Assignment.task_id == task.id)) is AssignmentStatus.APPLIED


def test_members_cannot_reach_organizer_pages_or_others_answers(client, login, create_task, create_member):
    task = create_task()
    member = create_member(skills={"法律咨询": 3})
    login(member.user)
    assert client.get(f"/tasks/{task.id}").status_code == 403
    assert post(client, f"/my/tasks/{task.id}/respond", {"accept": "1"}, "/my/tasks").status_code == 404


def test_every_task_form_refuses_bad_input(client, db, login, create_task, create_member):
    from tests.test_bad_input import assert_refused_everywhere

    task = create_task()
    member = create_member(skills={"法律咨询": 3})
    login(task.organizer)
    tables = [Task, Assignment, ServiceRecord]
    free_text_ok = ("NaN", "1e999", "-Infinity", "' OR 1=1 --", "１３８ＡＢＣ", "<script>alert(1)</script>")
    assert_refused_everywhere(client, db, "/tasks/new", ["organization", "title", "category", "description"],
                              tables, "/tasks/new")
    for section, fields in [("basics", ["title", "category", "description"]),
                            ("place", ["mode", "address", "radius_km"]),
                            ("time", ["kind", "first_date", "last_date", "start_time", "end_time"]),
                            ("needs", ["headcount", "demand", "outdoor"])]:
        path = f"/tasks/{task.id}/edit/{section}"
        assert_refused_everywhere(client, db, path, fields, tables, path)
    assert_refused_everywhere(client, db, f"/tasks/{task.id}/edit/skills", ["skill", "min_level"], tables,
                              f"/tasks/{task.id}/edit/skills", extra={"action": "add"}, valid=("", "   "))
    other = create_task(org=task.organization, organizer=task.organizer)
    assert_refused_everywhere(client, db, f"/tasks/{other.id}/cancel", ["reason"], tables, f"/tasks/{other.id}",
                              valid=free_text_ok + ("😀👍🏻🇨🇳",))   # an accepted reason cancels `other`
    assert_refused_everywhere(client, db, f"/tasks/{task.id}/invite", ["member", "message"], tables,
                              f"/tasks/{task.id}/candidates")
    db.session.refresh(task)
    assert task.status is TaskStatus.OPEN and task.title == "社区法律咨询"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(member.user)
    assert_refused_everywhere(client, db, f"/my/tasks/{task.id}/apply", ["message"], tables, f"/my/tasks/{task.id}",
                              valid=free_text_ok + ("", "   ", "😀👍🏻🇨🇳"))


def test_a_task_page_reads_its_tasks_skills_in_the_tasks_statement(db, create_task):
    """my_task() loads WITH_SKILLS: every skill of the task, in order, from the task's own
    statement (one row per skill, made unique), not a statement of their own; its sessions, all
    of them in order, apart."""
    from app import access
    from app.accounts.models import User
    from app.tasks import mine
    from app.tasks.models import WITH_SKILLS

    start = (local_now() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    task = create_task(skills={"法律咨询": 2, "课业辅导": 1}, when=start,
                       weekly_until=(start + timedelta(days=14)).date(), weekdays=1 << start.weekday())
    expected = ([s.id for s in task.skills], [s.skill.name for s in task.skills], [s.id for s in task.sessions])
    assert len(expected[0]) == 2 and len(expected[2]) == 3
    task_id, organizer_id = task.id, task.organizer.id
    db.session.expunge_all()
    organizer = db.session.get(User, organizer_id)
    list(organizer.grants)
    with statements_run(db) as statements:
        loaded = access.get_or_404(Task, task_id, organizer, WITH_SKILLS)
        found = ([s.id for s in loaded.skills], [s.skill.name for s in loaded.skills], [s.id for s in loaded.sessions])
    assert found == expected
    assert "task_skills" in statements[0] and "task_sessions" not in statements[0]
    assert not any("FROM task_skills" in s for s in statements[1:])
    db.session.expunge_all()
    as_member_sees_it = mine.task(task_id)      # Session.get with the same joined load
    assert as_member_sees_it is not None
    assert [s.id for s in as_member_sees_it.skills] == expected[0]


def test_a_members_own_lists_read_as_many_statements_for_many_tasks_as_for_one(db, create_task, create_member):
    """mine.my_assignments() reads the member's assignments with their tasks and the tasks'
    sessions in a fixed number of statements, everything the lists show included."""
    from app.tasks import mine, services
    from app.tasks.models import AssignmentStatus

    member = create_member(name="孙老师", skills={"法律咨询": 3})
    tasks = [create_task(title=f"法律咨询第{i}场", headcount=3) for i in range(3)]
    member_id = member.id

    def shown() -> tuple[int, list[tuple[str, str, str, str]]]:
        db.session.expire_all()
        profile = db.session.get(MemberProfile, member_id)
        with statements_run(db) as statements:
            lists = mine.my_assignments(profile)
            seen = [(a.task.title, a.task.organization.name, a.status.label, services.describe_schedule(a.task))
                    for a in lists.invitations]
        return len(statements), seen

    services.invite(actor=tasks[0].organizer, task=tasks[0], members=[member])
    db.session.commit()
    one, seen = shown()
    assert [title for title, *_ in seen] == ["法律咨询第0场"]
    for task in tasks[1:]:
        services.invite(actor=task.organizer, task=task, members=[member])
    db.session.commit()
    three, seen = shown()
    assert [title for title, *_ in seen] == ["法律咨询第2场", "法律咨询第1场", "法律咨询第0场"]
    assert all(label == AssignmentStatus.INVITED.label and "未安排" not in when for _, _, label, when in seen)
    assert three == one


def test_a_task_s_edit_steps_do_not_load_its_assignments_and_its_page_still_lists_them(client, db, login, create_task,
                                                                                       create_member):
    """The organizer's pages load a task with its skills; its assignments (each with its member)
    only where the page reads them: not on an edit step, once on the task's own page."""
    from app.tasks import services

    task = create_task()
    services.invite(actor=task.organizer, task=task, members=[create_member(name=f"邀请{n}", skills={"法律咨询": 3})
                                                            for n in range(3)])
    db.session.commit()
    login(task.organizer)
    for section in ("basics", "needs"):
        client.get(f"/tasks/{task.id}/edit/{section}")
        with statements_run(db) as statements:
            page = client.get(f"/tasks/{task.id}/edit/{section}").get_data(as_text=True)
        assert task.title in page
        assert [s for s in statements if "FROM assignments" in s] == [], section
    client.get(f"/tasks/{task.id}")
    with statements_run(db) as statements:
        page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert all(f"邀请{n}" in page for n in range(3))
    assert len([s for s in statements if "FROM assignments" in s]) == 1
