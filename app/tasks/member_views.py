"""The member's side: tasks near me with the same reasons, invitations to answer, what I have
agreed to, my hours, a calendar file of my sessions, and a printable proof of service."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from icalendar import Calendar, Event
from sqlalchemy import select

from app.clock import LOCAL, local_now, utcnow
from app.errors import DomainError
from app.extensions import db
from app.forms import BaseForm
from app.members.models import MemberProfile
from app.tasks import candidates, ledger, services
from app.tasks.forms import ApplyForm
from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord, Task, TaskSession, TaskStatus
from app.web import form_page

bp = Blueprint("my", __name__, url_prefix="/my")


def me() -> MemberProfile:
    member = db.session.get(MemberProfile, current_user.id) if current_user.is_authenticated else None
    if member is None:
        abort(404)
    return member


@bp.get("/tasks")
@login_required
def tasks():
    member = db.session.get(MemberProfile, current_user.id)
    if member is None:
        flash("先登记到银发人才库，才能看到附近的志愿服务。", "info")
        return redirect(url_for("members.register_start"))
    mine = db.session.scalars(select(Assignment).where(Assignment.member_id == member.id)
                              .order_by(Assignment.id.desc())).all()
    now = local_now()
    invitations = [a for a in mine if a.status is AssignmentStatus.INVITED and a.task.status is TaskStatus.OPEN]
    upcoming = [a for a in mine if a.status in (AssignmentStatus.ACCEPTED, AssignmentStatus.APPLIED,
                                                AssignmentStatus.WAITLISTED)
                and any(s.ends_at > now and not s.cancelled for s in a.task.sessions)
                and a.task.status not in (TaskStatus.CANCELLED, TaskStatus.CLOSED)]
    past = [a for a in mine if a not in upcoming and a not in invitations
            and a.status in (AssignmentStatus.ACCEPTED, AssignmentStatus.WITHDRAWN)]
    near = candidates.tasks_near(member) if member.is_matchable else []
    return render_template("my/tasks.html", member=member, invitations=invitations, upcoming=upcoming, past=past,
                           near=near, hours=ledger.member_hours(member.id), form=BaseForm(),
                           describe=services.describe_schedule)


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int):
    member = me()
    t = db.session.get(Task, task_id)
    assignment = db.session.scalar(select(Assignment).where(Assignment.task_id == task_id,
                                                            Assignment.member_id == member.id))
    if t is None or (assignment is None and t.status is not TaskStatus.OPEN):
        abort(404)
    reasons = None
    if assignment is None:
        why = candidates.why_not(t, member)
        reasons = why or candidates.reasons_for(t, member)
    return render_template("my/task.html", task=t, assignment=assignment, form=ApplyForm(), reasons=reasons,
                           schedule=services.describe_schedule(t), AssignmentStatus=AssignmentStatus,
                           distance=candidates.distance_between(t, member))


@bp.post("/tasks/<int:task_id>/apply")
@login_required
def apply(task_id: int):
    member = me()
    t = db.session.get(Task, task_id) or abort(404)
    form = ApplyForm()
    if form.validate_on_submit():
        try:
            services.apply(member=member, task=t, message=form.message.data or "")
            db.session.commit()
            flash("已报名，组织者确认后会通知您。", "success")
            return redirect(url_for("my.task", task_id=t.id))
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("my/task.html", form, status=e.status, task=t, assignment=None, reasons=None,
                             schedule=services.describe_schedule(t), AssignmentStatus=AssignmentStatus,
                             distance=candidates.distance_between(t, member))
    return form_page("my/task.html", form, task=t, assignment=None, reasons=None,
                     schedule=services.describe_schedule(t), AssignmentStatus=AssignmentStatus,
                     distance=candidates.distance_between(t, member))


def _own_assignment(task_id: int) -> tuple[MemberProfile, Assignment]:
    member = me()
    assignment = db.session.scalar(select(Assignment).where(Assignment.task_id == task_id,
                                                            Assignment.member_id == member.id))
    if assignment is None or not BaseForm().validate_on_submit():
        abort(404)
    return member, assignment


@bp.post("/tasks/<int:task_id>/respond")
@login_required
def respond(task_id: int):
    member, assignment = _own_assignment(task_id)
    accept = request.form.get("accept") == "1"
    try:
        result = services.respond(member=member, assignment=assignment, accept=accept)
        db.session.commit()
        if not accept:
            flash("已婉拒。这项服务不会再邀请您。", "success")
        elif result.status is AssignmentStatus.ACCEPTED:
            flash("谢谢您！已确认参加，到时请按时前往。", "success")
        else:
            flash("人已经满了，已为您排在候补，有空位会马上通知您。", "info")
    except DomainError as e:
        db.session.rollback()
        flash(e.message, "error")
    return redirect(url_for("my.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/withdraw")
@login_required
def withdraw(task_id: int):
    member, assignment = _own_assignment(task_id)
    try:
        services.withdraw(member=member, assignment=assignment)
        db.session.commit()
        flash("已退出。身体要紧，下次有合适的再来。", "success")
    except DomainError as e:
        db.session.rollback()
        flash(e.message, "error")
    return redirect(url_for("my.task", task_id=task_id))


def _records(member: MemberProfile):
    return db.session.scalars(select(ServiceRecord).join(TaskSession).where(
        ServiceRecord.member_id == member.id, ServiceRecord.attended, ServiceRecord.hours > 0)
        .order_by(ServiceRecord.served_on, ServiceRecord.id)).all()


@bp.get("/hours")
@login_required
def hours():
    member = me()
    records = _records(member)
    return render_template("my/hours.html", member=member, records=records, total=sum(r.hours for r in records))


@bp.get("/proof")
@login_required
def proof():
    member = me()
    records = _records(member)
    number = f"YH-{member.id:06d}-{local_now():%Y%m%d}"
    return render_template("my/proof.html", member=member, records=records, total=sum(r.hours for r in records),
                           number=number, issued=local_now())


@bp.get("/tasks.ics")
@login_required
def calendar():
    """The member's accepted sessions, as an iCalendar file to add to a phone's calendar."""
    member = me()
    rows = db.session.execute(select(TaskSession, Task).join(Task).join(Assignment, Assignment.task_id == Task.id).where(
        Assignment.member_id == member.id, Assignment.status == AssignmentStatus.ACCEPTED, ~TaskSession.cancelled,
        Task.status.in_([TaskStatus.OPEN, TaskStatus.FILLED, TaskStatus.CLOSED]),
        TaskSession.ends_at > local_now() - timedelta(days=90)).order_by(TaskSession.starts_at)).all()
    cal = Calendar()
    cal.add("prodid", "-//Yinhui//银晖 志愿服务//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "银晖志愿服务")
    stamp = utcnow()
    for session, task in rows:
        event = Event()
        event.add("uid", f"task-session-{session.id}@yinhui")
        event.add("dtstamp", stamp)
        event.add("dtstart", session.starts_at.replace(tzinfo=LOCAL))
        event.add("dtend", session.ends_at.replace(tzinfo=LOCAL))
        event.add("summary", f"志愿服务：{task.title}")
        event.add("location", task.address or "线上或电话")
        event.add("description", f"{task.organization.name}。{task.description}"[:1000])
        cal.add_component(event)
    return Response(cal.to_ical(), mimetype="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=yinhui-my-tasks.ics"})



