"""The member's side: tasks near me with the same reasons, invitations to answer, what I have
agreed to, my hours, a calendar file of my sessions, and a printable proof of service."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.forms import BaseForm
from app.matching import near_me
from app.members import wizard
from app.members.models import MemberProfile
from app.members.services import own_profile
from app.proofs import services as proofs
from app.tasks import dates, ledger, mine, queries, services
from app.tasks.forms import ApplyForm
from app.tasks.models import Assignment, AssignmentStatus, Task
from app.web import file_response, run_action, run_use_case

bp = Blueprint("my", __name__, url_prefix="/my")


def me() -> MemberProfile:
    return own_profile(current_user) or abort(404)


@bp.get("/tasks")
@login_required
def tasks() -> ResponseReturnValue:
    member = own_profile(current_user)
    if member is None:
        flash("先登记到银发人才库，才能看到附近的志愿服务。", "info")
        return redirect(url_for("members.register_start"))
    lists = mine.my_assignments(member)
    own = near_me.own_context(member) if member.is_matchable else None
    near = near_me.tasks_near(member, context=own) if own is not None else []
    # An empty list says why: what the profile lacks, what is around, and the near misses (only
    # those shown are loaded as tasks).
    around_count, near_misses = near_me.surroundings(member, context=own) if own is not None and not near else (0, [])
    hours = own.hours_total if own is not None else ledger.member_hours(member.id)
    return render_template("my/tasks.html", member=member, invitations=lists.invitations, upcoming=lists.upcoming,
                           past=lists.past, near=near, hours=hours, form=BaseForm(),
                           describe=services.describe_schedule, around_count=around_count, near_misses=near_misses,
                           gaps=wizard.matching_missing_of(member, holds_active_skill=bool(own and own.facts.skills))
                           if not near else [])


@bp.get("/tasks/nearby")
@login_required
def nearby() -> ResponseReturnValue:
    """看看附近所有的服务: every open task around the member, each with what keeps it off their list."""
    member = me()
    return render_template("my/nearby.html", member=member, around=near_me.nearby(member),
                           describe=services.describe_schedule)


def _task_page(member: MemberProfile, task_id: int) -> tuple[Task, Assignment | None]:
    """A task as its member sees it: open, or one they have been part of; 404 otherwise."""
    task = mine.task(task_id)
    assignment = mine.assignment(member, task_id)
    if task is None or not access.may_see_task_as_member(current_user, task, assignment):
        abort(404)
    return task, assignment


def _task_context(task: Task, member: MemberProfile, assignment: Assignment | None) -> dict:
    reasons = None
    if assignment is None:
        reasons = near_me.why_not(task, member) or near_me.reasons_for(task, member)
    accepted = assignment is not None and assignment.status is AssignmentStatus.ACCEPTED
    return dict(task=task, assignment=assignment, reasons=reasons, schedule=services.describe_schedule(task),
                AssignmentStatus=AssignmentStatus, distance=near_me.distance_between(task, member),
                sessions=mine.upcoming_sessions(task) if accepted else [],
                released=dates.released(assignment.id) if accepted and assignment is not None else set(),
                several_dates=accepted and dates.has_several_dates(task),
                releasable={s.id for s in dates.sessions_still_to_come(task)} if accepted else set(),
                contacts=queries.organizers_of({task.organization_id}).get(task.organization_id, []) if accepted else [])


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int) -> ResponseReturnValue:
    member = me()
    t, assignment = _task_page(member, task_id)
    return render_template("my/task.html", form=ApplyForm(), **_task_context(t, member, assignment))


@bp.post("/tasks/<int:task_id>/apply")
@login_required
def apply(task_id: int) -> ResponseReturnValue:
    member = me()
    t = mine.task(task_id) or abort(404)
    form = ApplyForm()
    return run_use_case(form, lambda: services.apply(member=member, task=t, message=form.message.data or ""),
                        done=("已报名，组织者确认后会通知您。", url_for("my.task", task_id=t.id)),
                        template="my/task.html", **{**_task_context(t, member, None), "reasons": None})


def _own_assignment(task_id: int) -> tuple[MemberProfile, Assignment]:
    member = me()
    return member, mine.assignment(member, task_id) or abort(404)


@bp.post("/tasks/<int:task_id>/respond")
@login_required
def respond(task_id: int) -> ResponseReturnValue:
    member, assignment = _own_assignment(task_id)
    accept = request.form.get("accept") == "1"

    def answered(result: Assignment) -> tuple[str, str]:
        if not accept:
            message = "已婉拒。这项服务不会再邀请您。"
        elif result.status is AssignmentStatus.ACCEPTED:
            message = "谢谢您！已确认参加。时间、地点和有事找谁，都在下面。"
        else:
            message = "人已经满了，已为您排在候补，有空位会马上通知您。"
        return message, url_for("my.task", task_id=task_id)

    return run_action(lambda: services.respond(member=member, assignment=assignment, accept=accept), done=answered,
                      refused=url_for("my.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/withdraw")
@login_required
def withdraw(task_id: int) -> ResponseReturnValue:
    member, assignment = _own_assignment(task_id)
    return run_action(lambda: services.withdraw(member=member, assignment=assignment),
                      done=("已退出。身体要紧，下次有合适的再来。", url_for("my.task", task_id=task_id)))


@bp.post("/tasks/<int:task_id>/sessions/<int:session_id>/release")
@login_required
def release_session(task_id: int, session_id: int) -> ResponseReturnValue:
    """"只是这一次去不了": the member misses one date and stays on the task for the others."""
    member, assignment = _own_assignment(task_id)
    session = queries.session_of(assignment.task, session_id) or abort(404)

    def released(row: object) -> tuple[str, str]:
        message = (f"已告诉组织者：{dates.day_of(session)}这一次您不去，其他日期照常参加。" if row is not None
                   else "这是您最后一个日期，已退出这项服务，组织者已收到通知。")
        return message, url_for("my.task", task_id=task_id)

    return run_action(lambda: dates.release(member=member, assignment=assignment, session=session, via="app"),
                      done=released)


@bp.get("/hours")
@login_required
def hours() -> ResponseReturnValue:
    member = me()
    records = ledger.served_records(member.id)
    return render_template("my/hours.html", member=member, records=records, total=sum(r.hours for r in records))


@bp.get("/proof")
@login_required
def proof() -> ResponseReturnValue:
    """The member's proofs of service: what each organization confirmed, to issue a numbered,
    verifiable proof in its name, and the proofs issued so far."""
    member = me()
    return render_template("my/proof.html", member=member, served=proofs.served_by_organization(member),
                           certificates=proofs.member_certificates(member), form=BaseForm())


@bp.get("/tasks.ics")
@login_required
def calendar() -> ResponseReturnValue:
    """The member's accepted sessions to come, as a calendar file a phone adds (reminders included)."""
    return file_response(mine.calendar(me()), kind="ics", filename="yinhui-my-tasks.ics")


@bp.get("/tasks/<int:task_id>/calendar.ics")
@login_required
def task_calendar(task_id: int) -> ResponseReturnValue:
    """One accepted task's sessions to come: 加到手机日历（提前一天提醒）."""
    member, assignment = _own_assignment(task_id)
    if assignment.status is not AssignmentStatus.ACCEPTED:
        abort(404)
    return file_response(mine.calendar(member, task_id=task_id), kind="ics", filename=f"yinhui-task-{task_id}.ics")
