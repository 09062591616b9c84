"""Organizer pages: post a need one section at a time, see ranked candidates with their reasons,
invite, answer applications, and confirm attendance after each session."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.clock import local_now
from app.errors import DomainError, Invalid
from app.extensions import db
from app.forms import BaseForm, options
from app.main.access import organizer_required
from app.members.models import SKILL_LEVELS, Capacity, MemberProfile, Skill, SkillCategory
from app.organizations.models import Organization
from app.regions.scope import scoped, scoped_get_or_404
from app.tasks import candidates, services
from app.tasks.forms import (
    BasicsForm,
    CancelForm,
    InviteForm,
    NeedsForm,
    PlaceForm,
    TaskSkillForm,
    TimeForm,
    attendance_form,
)
from app.tasks.models import (
    Assignment,
    AssignmentStatus,
    ScheduleKind,
    Task,
    TaskCategory,
    TaskMode,
    TaskSession,
    TaskStatus,
)
from app.web import form_page, save

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

SECTIONS = ["basics", "place", "time", "needs", "skills"]
SECTION_TITLES = {"basics": "需求名称和类别", "place": "在哪里服务", "time": "什么时间", "needs": "需要几个人、什么强度",
                  "skills": "需要什么专长"}


def my_task(task_id: int) -> Task:
    """A task in the actor's scope that they may manage; 404 otherwise (no existence leak)."""
    task = scoped_get_or_404(Task, task_id, current_user)
    if not services.may_manage(current_user, task):
        abort(404)
    return task


def _organizations():
    return db.session.scalars(scoped(Organization, current_user).where(Organization.active)
                              .order_by(Organization.name)).all()


@bp.get("/")
@organizer_required
def index():
    status = request.args.get("status", "")
    stmt = scoped(Task, current_user)
    if status in {s.value for s in TaskStatus}:
        stmt = stmt.where(Task.status == TaskStatus(status))
    page = db.paginate(stmt.order_by(Task.id.desc()), page=request.args.get("page", 1, type=int), per_page=20,
                       error_out=False)
    return render_template("tasks/index.html", page=page, status=status, statuses=list(TaskStatus))


@bp.route("/new", methods=["GET", "POST"])
@organizer_required
def create():
    form = BasicsForm()
    orgs = _organizations()
    form.organization.choices = options([(o.id, f"{o.name}（{o.region.name}）") for o in orgs], None)
    if request.method == "GET" and len(orgs) == 1:
        form.organization.data = str(orgs[0].id)
    if form.validate_on_submit():
        org = next((o for o in orgs if str(o.id) == form.organization.data), None)
        try:
            if org is None:
                raise Invalid("请选择发布需求的组织", field="organization")
            task = services.create_task(actor=current_user, organization=org, title=form.title.data,
                                        description=form.description.data or "",
                                        category=TaskCategory(form.category.data))
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("tasks/section.html", form, status=e.status, task=None, section="basics",
                             titles=SECTION_TITLES, sections=SECTIONS)
        return redirect(url_for("tasks.edit", task_id=task.id, section="place", next="wizard"))
    return form_page("tasks/section.html", form, task=None, section="basics", titles=SECTION_TITLES,
                     sections=SECTIONS)


def _skill_choices():
    rows = db.session.execute(select(Skill.id, Skill.name, SkillCategory.name).join(SkillCategory).where(
        Skill.active).order_by(SkillCategory.sort_order, Skill.sort_order)).all()
    return options([(sid, name, cat) for sid, name, cat in rows])


def _section_form(section: str, task: Task, formdata):
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
    form.skill.choices = _skill_choices()
    return form


def _apply_section(section: str, task: Task, form) -> None:
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
@organizer_required
def edit(task_id: int, section: str):
    task = my_task(task_id)
    if section not in SECTIONS:
        abort(404)
    wizard = request.args.get("next") == "wizard"
    form = _section_form(section, task, request.form if request.method == "POST" else None)
    context = dict(task=task, section=section, titles=SECTION_TITLES, sections=SECTIONS, wizard=wizard,
                   levels=SKILL_LEVELS)
    if request.method == "POST" and section == "skills" and "remove" in request.form:
        try:
            services.remove_skill(actor=current_user, task=task, task_skill_id=int(request.form["remove"] or 0))
            db.session.commit()
        except (DomainError, ValueError):
            db.session.rollback()
        return redirect(url_for("tasks.edit", task_id=task.id, section="skills", **({"next": "wizard"} if wizard else {})))
    if form.validate_on_submit() and save(form, lambda: _apply_section(section, task, form)):
        if section == "skills" and request.form.get("action") == "add":
            flash("已添加。", "success")
            return redirect(url_for("tasks.edit", task_id=task.id, section="skills", **({"next": "wizard"} if wizard else {})))
        following = SECTIONS[SECTIONS.index(section) + 1] if wizard and section != SECTIONS[-1] else None
        if following:
            return redirect(url_for("tasks.edit", task_id=task.id, section=following, next="wizard"))
        flash("已保存。", "success")
        return redirect(url_for("tasks.detail", task_id=task.id))
    return form_page("tasks/section.html", form, **context)


@bp.get("/<int:task_id>")
@organizer_required
def detail(task_id: int):
    task = my_task(task_id)
    groups = {status: [a for a in task.assignments if a.status is status] for status in AssignmentStatus}
    now = local_now()
    return render_template("tasks/detail.html", task=task, groups=groups, schedule=services.describe_schedule(task),
                           form=BaseForm(), now=now, AssignmentStatus=AssignmentStatus, TaskStatus=TaskStatus)


@bp.post("/<int:task_id>/publish")
@organizer_required
def publish(task_id: int):
    return _simple_action(task_id, lambda task: services.publish(actor=current_user, task=task), "已发布，可以查看推荐的老同志了。")


@bp.post("/<int:task_id>/close")
@organizer_required
def close(task_id: int):
    return _simple_action(task_id, lambda task: services.close(actor=current_user, task=task), "已结束。")


@bp.post("/<int:task_id>/widen")
@organizer_required
def widen(task_id: int):
    to = request.form.get("to") or None
    return _simple_action(task_id, lambda task: services.widen(actor=current_user, task=task, to=to),
                          "已扩大范围。" if to else "已恢复为本县范围。", target="tasks.candidates_page")


def _simple_action(task_id: int, action, message: str, target: str = "tasks.detail"):
    task = my_task(task_id)
    if not BaseForm().validate_on_submit():
        abort(400)
    try:
        action(task)
        db.session.commit()
        flash(message, "success")
    except DomainError as e:
        db.session.rollback()
        flash(e.message, "error")
        target = "tasks.detail"
    return redirect(url_for(target, task_id=task.id))


@bp.route("/<int:task_id>/cancel", methods=["GET", "POST"])
@organizer_required
def cancel(task_id: int):
    task = my_task(task_id)
    form = CancelForm()
    if form.validate_on_submit() and save(
            form, lambda: services.cancel(actor=current_user, task=task, reason=form.reason.data)):
        flash("已取消，参加的老同志会收到通知。", "success")
        return redirect(url_for("tasks.detail", task_id=task.id))
    return form_page("tasks/cancel.html", form, task=task)


@bp.get("/<int:task_id>/candidates")
@organizer_required
def candidates_page(task_id: int):
    task = my_task(task_id)
    suggestions = candidates.suggest(task, limit=30) if task.status is TaskStatus.OPEN else []
    members = {m.id: m for m in db.session.scalars(select(MemberProfile).where(
        MemberProfile.id.in_([s.member_id for s in suggestions] or [-1])))}
    return render_template("tasks/candidates.html", task=task, suggestions=suggestions, members=members,
                           form=InviteForm(), free=task.headcount - task.accepted_count)


@bp.post("/<int:task_id>/invite")
@organizer_required
def invite(task_id: int):
    task = my_task(task_id)
    form = InviteForm()
    ids = [int(v) for v in request.form.getlist("member") if v.isdigit()]
    chosen = db.session.scalars(select(MemberProfile).where(MemberProfile.id.in_(ids or [-1]))).all()
    if form.validate_on_submit():
        try:
            services.invite(actor=current_user, task=task, members=list(chosen), message=form.message.data or "")
            db.session.commit()
            flash(f"已邀请 {len(chosen)} 位老同志，他们回复后会通知您。", "success")
            return redirect(url_for("tasks.detail", task_id=task.id))
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            status = e.status
    else:
        status = 400
    suggestions = candidates.suggest(task, limit=30) if task.status is TaskStatus.OPEN else []
    members = {m.id: m for m in db.session.scalars(select(MemberProfile).where(
        MemberProfile.id.in_([s.member_id for s in suggestions] or [-1])))}
    return form_page("tasks/candidates.html", form, status=status, task=task, suggestions=suggestions,
                     members=members, free=task.headcount - task.accepted_count, chosen=set(ids))


@bp.post("/<int:task_id>/applications/<int:assignment_id>")
@organizer_required
def application(task_id: int, assignment_id: int):
    task = my_task(task_id)
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or assignment.task_id != task.id or not BaseForm().validate_on_submit():
        abort(404)
    try:
        services.decide_application(actor=current_user, assignment=assignment,
                                    accept=request.form.get("accept") == "1")
        db.session.commit()
        flash("已回复报名的老同志。", "success")
    except DomainError as e:
        db.session.rollback()
        flash(e.message, "error")
    return redirect(url_for("tasks.detail", task_id=task.id))


@bp.route("/<int:task_id>/sessions/<int:session_id>/attendance", methods=["GET", "POST"])
@organizer_required
def attendance(task_id: int, session_id: int):
    task = my_task(task_id)
    session = db.session.get(TaskSession, session_id)
    if session is None or session.task_id != task.id:
        abort(404)
    accepted = [a for a in task.assignments if a.status is AssignmentStatus.ACCEPTED]
    form = attendance_form(accepted, session.hours)()
    if request.method == "GET":
        from app.tasks.models import ServiceRecord

        for record in db.session.scalars(select(ServiceRecord).where(ServiceRecord.session_id == session.id)):
            if f"attended_{record.assignment_id}" in form:
                form[f"attended_{record.assignment_id}"].data = record.attended
                form[f"hours_{record.assignment_id}"].data = record.hours
                form[f"feedback_{record.assignment_id}"].data = record.feedback
    if form.validate_on_submit():
        entries = {a.id: (bool(form[f"attended_{a.id}"].data),
                          float(form[f"hours_{a.id}"].data if form[f"hours_{a.id}"].data is not None else session.hours),
                          form[f"feedback_{a.id}"].data or "") for a in accepted}
        try:
            services.confirm_attendance(actor=current_user, session=session, entries=entries)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("tasks/attendance.html", form, status=e.status, task=task, session=session,
                             accepted=accepted)
        flash("已确认这次服务的出勤和时长。", "success")
        return redirect(url_for("tasks.detail", task_id=task.id))
    return form_page("tasks/attendance.html", form, task=task, session=session, accepted=accepted)



