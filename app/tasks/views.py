"""Organizer pages: post a need one section at a time, see ranked candidates with their reasons,
invite, answer applications, and confirm attendance after each session."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import lazyload, raiseload

from app import access
from app.accounts.phone import mask_phone
from app.attendance.services import attendances
from app.clock import local_now
from app.extensions import db
from app.forms import BaseForm, options
from app.matching import search
from app.matching.gather import task_facts_of
from app.matching.near_candidates import near_candidates
from app.members import queries as member_queries
from app.members.models import SKILL_LEVELS, Capacity
from app.organizations.services import organizations_for
from app.tasks import dates, ledger, queries, records, services
from app.tasks.forms import (
    BasicsForm,
    CancelForm,
    CorrectionForm,
    InviteForm,
    NeedsForm,
    PhoneAnswerForm,
    PlaceForm,
    TaskSkillForm,
    TimeForm,
    attendance_form,
)
from app.tasks.models import (
    WITH_SKILLS,
    Assignment,
    AssignmentStatus,
    ScheduleKind,
    Task,
    TaskCategory,
    TaskMode,
    TaskStatus,
    accepted_among,
)
from app.web import run_action, run_use_case

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

SECTIONS = ["basics", "place", "time", "needs", "skills"]
SECTION_TITLES = {"basics": "需求名称和类别", "place": "在哪里服务", "time": "什么时间", "needs": "需要几个人、什么强度",
                  "skills": "需要什么专长"}


# A task of the organizer's, as most of its pages load it: with its skills, and its assignments
# (each with its member) only if the page reads them. Loaded with every task by default (selectin,
# for the lists' counts), they cost every edit step and every action on a task with many
# invitations: 8 ms of CPU for a task's load at the bench's 56 assignments a task, against 1.9 ms.
MANAGED = (*WITH_SKILLS, lazyload(Task.assignments))


def my_task(task_id: int, options: tuple = MANAGED) -> Task:
    """A task the actor may manage; 404 otherwise (no existence leak). `options`: what is loaded
    with it (see MANAGED, unless the page says otherwise)."""
    task = access.get_or_404(Task, task_id, current_user, options)
    access.check_or_404(access.may_manage_task(current_user, task))
    return task


@bp.get("/")
@access.requires(access.may_organize)
def index() -> ResponseReturnValue:
    status = request.args.get("status", "")
    chosen = TaskStatus(status) if status in {s.value for s in TaskStatus} else None
    page = db.paginate(queries.tasks_of(current_user, status=chosen), page=request.args.get("page", 1, type=int),
                       per_page=20, error_out=False)
    return render_template("tasks/index.html", page=page, status=status, statuses=list(TaskStatus),
                           calls=len(queries.waiting_calls(current_user)))


@bp.route("/new", methods=["GET", "POST"])
@access.requires(access.may_organize)
def create() -> ResponseReturnValue:
    form = BasicsForm()
    orgs = organizations_for(current_user, active_only=True)
    form.organization.choices = options([(o.id, f"{o.name}（{o.region.name}）") for o in orgs], None)
    if request.method == "GET" and len(orgs) == 1:
        form.organization.data = str(orgs[0].id)
    return run_use_case(form, lambda: services.create_task_for(
        actor=current_user, organization_id=form.organization.data, title=form.title.data,
        description=form.description.data or "", category=TaskCategory(form.category.data)),
        done=lambda task: (None, url_for("tasks.edit", task_id=task.id, section="place", next="wizard")),
        template="tasks/section.html", task=None, section="basics", titles=SECTION_TITLES, sections=SECTIONS)


def _section_form(section: str, task: Task, formdata: Any) -> Any:
    if section == "basics":
        form = BasicsForm(formdata=formdata)
        form.organization.choices = []
        if formdata is None:
            form.title.data, form.description.data, form.category.data = task.title, task.description, task.category.value
        return form
    if section == "place":
        form = PlaceForm(formdata=formdata)
        if formdata is None:
            form.mode.data = task.mode.value
            form.address.data = task.address if task.address != task.organization.address else ""
            form.radius_km.data = task.radius_km
        return form
    if section == "time":
        form = TimeForm(formdata=formdata)
        if formdata is None:
            form.kind.data = task.schedule.value
            form.first_date.data, form.last_date.data = task.first_date, (
                task.last_date if task.schedule is ScheduleKind.WEEKLY else None)
            form.start_time.data, form.end_time.data = task.start_time, task.end_time
            for d in range(7):
                form[f"weekday_{d}"].data = bool(task.weekdays & (1 << d))
        return form
    if section == "needs":
        form = NeedsForm(formdata=formdata)
        if formdata is None:
            form.headcount.data, form.demand.data, form.outdoor.data = task.headcount, task.demand.value, task.outdoor
        return form
    form = TaskSkillForm(formdata=formdata)
    form.skill.choices = options(member_queries.skill_choices())
    return form


def _apply_section(section: str, task: Task, form: Any) -> None:
    if section == "basics":
        services.update_basics(actor=current_user, task=task, title=form.title.data,
                               description=form.description.data or "", category=TaskCategory(form.category.data))
    elif section == "place":
        services.set_place(actor=current_user, task=task, mode=TaskMode(form.mode.data),
                           address=form.address.data or "", radius_km=form.radius_km.data or 10)
    elif section == "time":
        services.set_schedule(actor=current_user, task=task, kind=ScheduleKind(form.kind.data),
                              first_date=form.first_date.data, last_date=form.last_date.data,
                              weekdays=form.weekdays, start_time=form.start_time.data, end_time=form.end_time.data)
    elif section == "needs":
        services.set_needs(actor=current_user, task=task, headcount=form.headcount.data,
                           demand=Capacity(form.demand.data), outdoor=bool(form.outdoor.data))
    elif form.skill.data:
        services.add_skill(actor=current_user, task=task, skill_id=int(form.skill.data),
                           min_level=int(form.min_level.data), required=not form.preferred.data)


@bp.route("/<int:task_id>/edit/<section>", methods=["GET", "POST"])
@access.requires(access.may_organize)
def edit(task_id: int, section: str) -> ResponseReturnValue:
    task = my_task(task_id)
    if section not in SECTIONS:
        abort(404)
    wizard = request.args.get("next") == "wizard"
    here = (url_for("tasks.edit", task_id=task.id, section=section, next="wizard") if wizard
            else url_for("tasks.edit", task_id=task.id, section=section))
    if request.method == "POST" and section == "skills" and "remove" in request.form:
        return run_action(lambda: services.remove_skill_by_form(actor=current_user, task=task,
                                                                 task_skill_id=request.form["remove"]),
                          done=(None, here))
    form = _section_form(section, task, request.form if request.method == "POST" else None)

    def saved(_: None) -> tuple[str | None, str]:
        if section == "skills" and request.form.get("action") == "add":
            return "已添加。", here
        if wizard and section != SECTIONS[-1]:
            return None, url_for("tasks.edit", task_id=task.id, section=SECTIONS[SECTIONS.index(section) + 1],
                                 next="wizard")
        return "已保存。", url_for("tasks.detail", task_id=task.id)

    return run_use_case(form, lambda: _apply_section(section, task, form), done=saved, template="tasks/section.html",
                        task=task, section=section, titles=SECTION_TITLES, sections=SECTIONS, wizard=wizard,
                        levels=SKILL_LEVELS)


@bp.get("/<int:task_id>")
@access.requires(access.may_organize)
def detail(task_id: int) -> ResponseReturnValue:
    task = my_task(task_id)
    groups = {status: [a for a in task.assignments if a.status is status] for status in AssignmentStatus}
    return render_template("tasks/detail.html", task=task, groups=groups, schedule=services.describe_schedule(task),
                           form=BaseForm(), now=local_now(), AssignmentStatus=AssignmentStatus, TaskStatus=TaskStatus)


def _task_action(task_id: int, work: Any, message: str, target: str = "tasks.detail") -> ResponseReturnValue:
    task = my_task(task_id)
    return run_action(lambda: work(task), done=(message, url_for(target, task_id=task.id)),
                      refused=url_for("tasks.detail", task_id=task.id))


@bp.post("/<int:task_id>/publish")
@access.requires(access.may_organize)
def publish(task_id: int) -> ResponseReturnValue:
    return _task_action(task_id, lambda task: services.publish(actor=current_user, task=task),
                        "已发布，可以查看推荐的老同志了。")


@bp.post("/<int:task_id>/close")
@access.requires(access.may_organize)
def close(task_id: int) -> ResponseReturnValue:
    return _task_action(task_id, lambda task: services.close(actor=current_user, task=task), "已结束。")


@bp.post("/<int:task_id>/widen")
@access.requires(access.may_organize)
def widen(task_id: int) -> ResponseReturnValue:
    to = request.form.get("to") or None
    return _task_action(task_id, lambda task: services.widen(actor=current_user, task=task, to=to),
                        "已扩大范围。" if to else "已恢复为本县范围。", target="tasks.candidates_page")


@bp.route("/<int:task_id>/cancel", methods=["GET", "POST"])
@access.requires(access.may_organize)
def cancel(task_id: int) -> ResponseReturnValue:
    task = my_task(task_id)
    form = CancelForm()
    return run_use_case(form, lambda: services.cancel(actor=current_user, task=task, reason=form.reason.data),
                        done=("已取消，参加的老同志会收到通知。", url_for("tasks.detail", task_id=task.id)),
                        template="tasks/cancel.html", task=task)


def _candidates(task: Task) -> dict[str, Any]:
    """The candidates page's list: the best members for an open task, each with its reasons; when
    it has fewer than the places left, the near misses apart, grouped by the one fact against them."""
    on_task = queries.members_on(task.id)
    free = task.headcount - accepted_among(on_task.values())
    if task.status is not TaskStatus.OPEN:
        return {"suggestions": [], "members": {}, "free": free, "near_groups": []}
    facts = task_facts_of([task])[task.id]
    suggestions = search.suggest(task, limit=30, on_task=set(on_task), facts=facts)
    listed = [s.member_id for s in suggestions]
    return {"suggestions": suggestions, "members": queries.names_by_id(listed), "free": free,
            "near_groups": near_candidates(task, skip=set(listed) | set(on_task), facts=facts)
            if len(suggestions) < free else []}


# The candidates page reads of the task its own columns: of its assignments only whom they are for
# and their state (queries.members_on), of its skills and sessions only matching's facts, in one
# read of plain rows (gather.task_facts_of). Loaded as objects, the task's skills (joined) and
# sessions (a statement of their own) cost half as much again (2.4 against 1.6 ms, in one process).
BARE = (raiseload(Task.skills), raiseload(Task.sessions), raiseload(Task.assignments))


@bp.get("/<int:task_id>/candidates")
@access.requires(access.may_organize)
def candidates_page(task_id: int) -> ResponseReturnValue:
    task = my_task(task_id, BARE)
    return render_template("tasks/candidates.html", task=task, form=InviteForm(), **_candidates(task))


@bp.post("/<int:task_id>/invite")
@access.requires(access.may_organize)
def invite(task_id: int) -> ResponseReturnValue:
    task = my_task(task_id)
    form = InviteForm()
    ids = [int(v) for v in request.form.getlist("member") if v.isdigit()]
    anyway = [int(v) for v in request.form.getlist("anyway") if v.isdigit()]
    return run_use_case(
        form, lambda: services.invite_by_id(actor=current_user, task=task, member_ids=ids, anyway_ids=anyway,
                                            message=form.message.data or ""),
        done=lambda invited: _invited(invited, task),
        template="tasks/candidates.html", task=task, chosen=set(ids) | set(anyway), **_candidates(task))


def _invited(invited: list[Assignment], task: Task) -> tuple[str, str]:
    """What an invitation's organizer is told: the members who cannot sign in hear of it only on
    the phone, so they are named with where to record their answer."""
    offline = [a.member.user.name for a in invited if not a.member.user.can_log_in]
    message = f"已邀请 {len(invited)} 位老同志，"
    if offline:
        message += (f"其中{'、'.join(offline)}不用手机，收不到邀请：请打电话问，再在“等您打电话”里记下回复；"
                    "其他人回复后会通知您。" if len(offline) < len(invited) else
                    f"{'、'.join(offline)}不用手机，收不到邀请：请打电话问，再在“等您打电话”里记下回复。")
    else:
        message += "他们回复后会通知您。"
    return message, url_for("tasks.detail", task_id=task.id)


@bp.get("/calls")
@access.requires(access.may_organize)
def calls() -> ResponseReturnValue:
    """等您打电话: invitations to members who cannot sign in, with whom to call."""
    waiting = queries.waiting_calls(current_user)
    return render_template("tasks/calls.html", waiting=waiting, contacts=_contacts(waiting))


def _contacts(assignments: list[Assignment]) -> dict[int, list[tuple[str, str]]]:
    """For each member, who to call and the number: their own (when the actor may see it) and
    their branch secretaries'."""
    secretaries = queries.organizers_of({a.member.branch_id for a in assignments if a.member.branch_id})
    found: dict[int, list[tuple[str, str]]] = {}
    for a in assignments:
        m = a.member
        rows = []
        if m.user.phone:
            rows.append(("本人", m.user.phone if access.sees_phone(current_user, m) else mask_phone(m.user.phone)))
        for user in secretaries.get(m.branch_id or -1, []):
            rows.append((f"{m.branch.name if m.branch else ''}书记 {user.name}", user.phone or ""))
        found[m.id] = rows
    return found


@bp.route("/calls/<int:assignment_id>", methods=["GET", "POST"])
@access.requires(access.may_organize)
def call_answer(assignment_id: int) -> ResponseReturnValue:
    """Record the answer a member without a phone account gave on the phone."""
    assignment = db.session.get(Assignment, assignment_id)
    access.check_or_404(assignment is not None and access.may_answer_for(current_user, assignment))
    assert assignment is not None
    form = PhoneAnswerForm()
    name = assignment.member.user.name
    return run_use_case(form, lambda: services.record_answer_for(
        actor=current_user, assignment=assignment, accept=form.accept.data == "1", note=form.note.data or ""),
        done=(f"已记下：{name}" + ("去。" if form.accept.data == "1" else "这次不去。"), url_for("tasks.calls")),
        template="tasks/call_answer.html", assignment=assignment, contacts=_contacts([assignment]))


@bp.post("/<int:task_id>/applications/<int:assignment_id>")
@access.requires(access.may_organize)
def application(task_id: int, assignment_id: int) -> ResponseReturnValue:
    task = my_task(task_id)
    assignment = queries.assignment_on(task, assignment_id) or abort(404)
    return run_action(lambda: services.decide_application(actor=current_user, assignment=assignment,
                                                          accept=request.form.get("accept") == "1"),
                      done=("已回复报名的老同志。", url_for("tasks.detail", task_id=task.id)))


@bp.route("/<int:task_id>/sessions/<int:session_id>/attendance", methods=["GET", "POST"])
@access.requires(access.may_organize)
def attendance(task_id: int, session_id: int) -> ResponseReturnValue:
    """After a session: who came and how long, proposed from check-in and check-out; confirmed
    entries are shown locked, with a link to correct them."""
    task = my_task(task_id)
    session = queries.session_of(task, session_id) or abort(404)
    accepted = [a for a in task.assignments if a.status is AssignmentStatus.ACCEPTED]
    confirmed = records.originals(session)
    pending = [a for a in accepted if a.id not in confirmed]
    proposed = records.proposals(session)
    defaults = {a.id: proposed.get(a.member_id) for a in pending}
    form = attendance_form(pending, {k: (v if v is not None else session.hours) for k, v in defaults.items()})()
    excused = dates.released_on(session)
    if request.method == "GET":
        for a in pending:
            # Excused from this date ("只是这一次去不了"): not there, unless they checked in after all.
            form[f"attended_{a.id}"].data = defaults[a.id] is not None or (not proposed and a.id not in excused)

    def entries() -> dict[int, records.HoursEntry | tuple]:
        return {a.id: records.HoursEntry(
            attended=bool(form[f"attended_{a.id}"].data),
            hours=float(form[f"hours_{a.id}"].data if form[f"hours_{a.id}"].data is not None else session.hours),
            feedback=form[f"feedback_{a.id}"].data or "", reason=form[f"reason_{a.id}"].data or "") for a in pending}

    return run_use_case(form, lambda: records.confirm_attendance(actor=current_user, session=session, entries=entries()),
                        done=("已确认这次服务的出勤和时长。", url_for("tasks.detail", task_id=task.id)),
                        template="tasks/attendance.html", task=task, session=session, pending=pending,
                        confirmed=confirmed, current=ledger.current_hours([r.id for r in confirmed.values()]),
                        proposed=proposed, present={r.user_id: r for r in attendances(session)},
                        names={a.id: a.member.user.name for a in accepted}, excused=excused)


@bp.route("/<int:task_id>/records/<int:record_id>/correct", methods=["GET", "POST"])
@access.requires(access.may_organize)
def correct(task_id: int, record_id: int) -> ResponseReturnValue:
    """Correct confirmed hours: a new entry with the difference and its reason."""
    task = my_task(task_id)
    record = queries.record_on(task, record_id) or abort(404)
    current = ledger.current_hours([record.id])[record.id]
    form = CorrectionForm()
    if request.method == "GET":
        form.seen.data = current
    return run_use_case(form, lambda: records.correct_hours(
        actor=current_user, record=record, hours=float(form.hours.data), reason=form.reason.data,
        seen=float(form.seen.data if form.seen.data is not None else current)),
        done=("已更正。原记录保留，更正记录已存档。", url_for("tasks.attendance", task_id=task.id,
                                                          session_id=record.session_id)),
        template="tasks/correct.html", task=task, record=record, current=current,
        history=records.corrections(record))
