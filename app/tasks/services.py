"""Task use cases: posting a need, inviting and answering, the headcount, attendance and hours.

Headcount under concurrency: every change that can add an accepted member locks the task row first
(SELECT … FOR UPDATE on PostgreSQL; on SQLite the whole write transaction is serialised by
BEGIN IMMEDIATE, see app.db.write_intent) and counts accepted assignments inside that transaction,
so accepted never exceeds headcount however many members answer at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, time

from sqlalchemy import exists, func, select

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.audit.services import record_audit
from app.clock import WEEKDAY_DIGITS, local_now, local_today, utcnow
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db
from app.formats import fmt_date, fmt_time
from app.links import path_for
from app.matching import near_me
from app.members.models import Capacity, MemberProfile, MemberStatus, Skill
from app.notifications.services import notify
from app.organizations.models import Organization
from app.regions.services import place_address
from app.tasks import schedule as sched
from app.tasks.models import (
    LIVE_ASSIGNMENT,
    Assignment,
    AssignmentStatus,
    ScheduleKind,
    Task,
    TaskCategory,
    TaskMode,
    TaskSession,
    TaskSkill,
    TaskStatus,
)

MAX_HEADCOUNT = 200
MAX_TASK_SKILLS = 8


# --- who may do what: app.access ---------------------------------------------------------------


def _require_manager(actor: User, task: Task) -> None:
    if not access.may_manage_task(actor, task):
        raise PermissionDenied("只有发布这项需求的组织可以办理")


def _require_editable(task: Task) -> None:
    if task.status in (TaskStatus.CLOSED, TaskStatus.CANCELLED):
        raise Conflict(f"这项需求已经{task.status.label}，不能再修改")


# --- posting ------------------------------------------------------------------------------------


def _check_text(title: str, description: str) -> tuple[str, str]:
    title, description = (title or "").strip(), (description or "").strip()
    if not title:
        raise Invalid("请填写需求名称", field="title")
    if len(title) > 80:
        raise Invalid("需求名称最多 80 个字", field="title")
    if len(description) > 2000:
        raise Invalid("需求说明最多 2000 个字", field="description")
    return title, description


def create_task(*, actor: User, organization: Organization, title: str, description: str,
                category: TaskCategory) -> Task:
    """Start a need as a draft for an organization the actor organizes (or an admin covers)."""
    if not access.may_post_task_for(actor, organization):
        raise PermissionDenied("只能为本组织发布需求", field="organization")
    title, description = _check_text(title, description)
    task = Task(organization_id=organization.id, region_code=organization.region_code, title=title,
                description=description, category=category, mode=TaskMode.ONSITE, address=organization.address,
                lat=organization.lat, lon=organization.lon, created_by_id=actor.id, status=TaskStatus.DRAFT)
    db.session.add(task)
    db.session.flush()
    record_audit(actor, "task.create", task)
    return task


def create_task_for(*, actor: User, organization_id: str | None, title: str, description: str,
                    category: TaskCategory) -> Task:
    """create_task() as the first page of a new need asks it: the organization by its id, among
    those the actor may see."""
    organization = access.get(Organization, organization_id, actor) if organization_id else None
    if organization is None or not organization.active:
        raise Invalid("请选择发布需求的组织", field="organization")
    return create_task(actor=actor, organization=organization, title=title, description=description,
                       category=category)


def update_basics(*, actor: User, task: Task, title: str, description: str, category: TaskCategory) -> None:
    _require_manager(actor, task)
    _require_editable(task)
    task.title, task.description = _check_text(title, description)
    task.category = category


def set_place(*, actor: User, task: Task, mode: TaskMode, address: str = "", radius_km: int = 10,
              lat: float | None = None, lon: float | None = None) -> None:
    """Where the service happens: onsite (defaults to the organization's place) or remote (no place)."""
    _require_manager(actor, task)
    _require_editable(task)
    address = (address or "").strip()
    if mode is TaskMode.REMOTE:
        if address or lat is not None or lon is not None:
            raise Invalid("线上服务不用填写地点，请清空地址", field="address")
        moved = task.mode is not TaskMode.REMOTE
        task.mode, task.address, task.lat, task.lon = TaskMode.REMOTE, "", None, None
    else:
        if not 1 <= radius_km <= 100:
            raise Invalid("招募范围应在 1 到 100 公里之间", field="radius_km")
        org = task.organization
        if (lat is None) != (lon is None):
            raise Invalid("经度和纬度要同时填写", field="lat")
        if lat is None:
            if address and address != org.address:
                placed = place_address(county_code=org.region_code, address=address)
                lat, lon = placed.lat, placed.lon
            else:
                lat, lon = org.lat, org.lon
        moved = (task.mode is not TaskMode.ONSITE or task.address != (address or org.address)
                 or task.lat != lat or task.lon != lon)
        task.mode, task.address, task.lat, task.lon = TaskMode.ONSITE, address or org.address, lat, lon
        task.radius_km = radius_km
    if moved:
        _tell_participants(task, "地点有变化", f"“{task.title}”的服务地点改为：{task.address or '线上或电话'}。")


def set_schedule(*, actor: User, task: Task, kind: ScheduleKind, first_date: date, last_date: date | None,
                 weekdays: int, start_time: time, end_time: time) -> None:
    """When: once, or weekly on chosen weekdays between two dates. Sessions are rebuilt; sessions
    whose hours were already confirmed stay; people who accepted are told of the change."""
    _require_manager(actor, task)
    _require_editable(task)
    if first_date < local_today():
        raise Invalid("开始日期不能早于今天", field="first_date")
    try:
        if kind is ScheduleKind.ONCE:
            sessions = sched.expand_once(first_date, start_time, end_time)
            last_date, weekdays = first_date, 0
        else:
            sessions = sched.expand_weekly(first_date, last_date or first_date, weekdays, start_time, end_time)
    except sched.ScheduleError as e:
        raise Invalid(str(e), field=e.field) from e
    now = local_now()
    sessions = [s for s in sessions if s[0] > now]
    if not sessions:
        raise Invalid("开始时间已经过去了，请选择以后的时间", field="start_time")
    changed = bool(task.sessions) and [(s.starts_at, s.ends_at) for s in task.sessions if not s.cancelled] != sessions
    kept = [s for s in task.sessions if s.attendance_confirmed_at is not None]
    for s in list(task.sessions):
        if s not in kept:
            task.sessions.remove(s)
    for start, end in sessions:
        if not any(k.starts_at == start for k in kept):
            task.sessions.append(TaskSession(starts_at=start, ends_at=end))
    task.schedule, task.first_date, task.last_date, task.weekdays = kind, first_date, last_date, weekdays
    task.start_time, task.end_time = start_time, end_time
    if changed:
        _tell_participants(task, "时间有变化", f"“{task.title}”的时间改为：{describe_schedule(task)}。")


def set_needs(*, actor: User, task: Task, headcount: int, demand: Capacity, outdoor: bool) -> None:
    _require_manager(actor, task)
    _require_editable(task)
    if not 1 <= headcount <= MAX_HEADCOUNT:
        raise Invalid(f"需要人数应在 1 到 {MAX_HEADCOUNT} 人之间", field="headcount")
    if headcount < task.accepted_count:
        raise Invalid(f"已有 {task.accepted_count} 人确认参加，人数不能少于这个数", field="headcount")
    task.headcount, task.demand, task.outdoor = headcount, demand, outdoor
    _refresh_fill(task)


def add_skill(*, actor: User, task: Task, skill_id: int, min_level: int, required: bool) -> TaskSkill:
    _require_manager(actor, task)
    _require_editable(task)
    skill = db.session.get(Skill, skill_id)
    if skill is None or not skill.active:
        raise Invalid("没有这项专长，请从列表中选择", field="skill")
    if min_level not in (1, 2, 3):
        raise Invalid("请选择最低程度", field="min_level")
    if any(s.skill_id == skill_id for s in task.skills):
        raise Conflict(f"已经添加过“{skill.name}”", field="skill")
    if len(task.skills) >= MAX_TASK_SKILLS:
        raise Invalid(f"最多添加 {MAX_TASK_SKILLS} 项专长", field="skill")
    row = TaskSkill(skill_id=skill_id, min_level=min_level, required=required)
    task.skills.append(row)
    db.session.flush()
    return row


def remove_skill(*, actor: User, task: Task, task_skill_id: int) -> None:
    _require_manager(actor, task)
    _require_editable(task)
    row = next((s for s in task.skills if s.id == task_skill_id), None)
    if row is None:
        raise Invalid("没有这项专长要求", field="skill")
    task.skills.remove(row)


def remove_skill_by_form(*, actor: User, task: Task, task_skill_id: str) -> None:
    """remove_skill() as the skills page's remove button sends it."""
    remove_skill(actor=actor, task=task, task_skill_id=int(task_skill_id) if task_skill_id.isdigit() else 0)


def publish(*, actor: User, task: Task) -> None:
    """Open a draft for matching and applications, once it says when and what."""
    _require_manager(actor, task)
    if task.status is not TaskStatus.DRAFT:
        raise Conflict("只有草稿可以发布")
    if not task.sessions:
        raise Invalid("请先安排服务时间", field="schedule")
    if task.sessions[0].starts_at <= local_now():
        raise Invalid("服务时间已经过去了，请重新安排时间", field="schedule")
    task.status, task.published_at = TaskStatus.OPEN, utcnow()
    record_audit(actor, "task.publish", task)


def cancel(*, actor: User, task: Task, reason: str) -> None:
    _require_manager(actor, task)
    _require_editable(task)
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise Invalid("请写明取消的原因，参加的老同志会看到", field="reason")
    task.status, task.cancel_reason = TaskStatus.CANCELLED, reason
    for a in _assignments(task, LIVE_ASSIGNMENT):
        notify(a.member.user, kind="task.cancelled", title=f"“{task.title}”已取消", body=f"原因：{reason}",
               link=path_for("my.task", task_id=task.id))
    record_audit(actor, "task.cancel", task)


def close(*, actor: User, task: Task) -> None:
    _require_manager(actor, task)
    if task.status not in (TaskStatus.OPEN, TaskStatus.FILLED):
        raise Conflict("只有进行中的需求可以结束")
    task.status = TaskStatus.CLOSED
    record_audit(actor, "task.close", task)


def widen(*, actor: User, task: Task, to: str | None) -> None:
    """Let matching reach approved city (and province) talents when the county cannot fill it."""
    _require_manager(actor, task)
    if to not in (None, "city", "province"):
        raise Invalid("扩大范围只能选市级或省级", field="widen")
    task.widen_to = to


def describe_schedule(task: Task) -> str:
    if not task.sessions:
        return "未安排"
    if task.schedule is ScheduleKind.ONCE:
        s = task.sessions[0]
        return f"{fmt_date(s.starts_at)} {fmt_time(s.starts_at)}–{fmt_time(s.ends_at)}"
    days = "、".join(name for d, name in enumerate(WEEKDAY_DIGITS) if task.weekdays & (1 << d))
    return (f"{fmt_date(task.first_date)}至{fmt_date(task.last_date)}，每周{days} "
            f"{fmt_time(task.start_time)}–{fmt_time(task.end_time)}（共 {len(task.sessions)} 次）")


def _assignments(task: Task, statuses: Sequence[AssignmentStatus]) -> list[Assignment]:
    return list(db.session.scalars(select(Assignment).where(Assignment.task_id == task.id,
                                                            Assignment.status.in_(statuses))))


def _tell_participants(task: Task, what: str, body: str) -> None:
    for a in _assignments(task, (AssignmentStatus.ACCEPTED, AssignmentStatus.WAITLISTED, AssignmentStatus.INVITED)):
        notify(a.member.user, kind="task.changed", title=f"“{task.title}”{what}", body=body,
               link=path_for("my.task", task_id=task.id))


# --- the headcount ------------------------------------------------------------------------------


def lock_task(task_id: int) -> Task:
    """The task row, locked for this transaction, with fresh state."""
    stmt = select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Task)
    return db.session.scalars(stmt).one()


def accepted_count(task_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.task_id == task_id, Assignment.status == AssignmentStatus.ACCEPTED)) or 0


def _refresh_fill(task: Task) -> None:
    if task.status not in (TaskStatus.OPEN, TaskStatus.FILLED):
        return
    task.status = TaskStatus.FILLED if accepted_count(task.id) >= task.headcount else TaskStatus.OPEN


def _take_place(task: Task, assignment: Assignment) -> bool:
    """Accept onto the task if a place is free (True), else put on the waitlist. Task locked."""
    now = utcnow()
    if accepted_count(task.id) < task.headcount:
        assignment.status, assignment.accepted_at = AssignmentStatus.ACCEPTED, now
        db.session.flush()
        _refresh_fill(task)
        return True
    assignment.status = AssignmentStatus.WAITLISTED
    return False


def fill_from_waitlist(task_id: int) -> None:
    """A place on a task came free outside the usual paths (two accounts of one person merged):
    the waitlist moves up as it does when someone withdraws."""
    _promote_waitlist(lock_task(task_id))


def _promote_waitlist(task: Task) -> None:
    """A place came free: the longest-waiting member who said yes takes it."""
    waiting = db.session.scalars(select(Assignment).where(
        Assignment.task_id == task.id, Assignment.status == AssignmentStatus.WAITLISTED)
        .order_by(Assignment.responded_at, Assignment.id)).all()
    for a in waiting:
        if accepted_count(task.id) >= task.headcount:
            break
        a.status, a.accepted_at = AssignmentStatus.ACCEPTED, utcnow()
        db.session.flush()
        notify(a.member.user, kind="task.accepted", title=f"候补成功：“{task.title}”有空位了",
               body=f"您已确认参加。时间：{describe_schedule(task)}", link=path_for("my.task", task_id=task.id))
    _refresh_fill(task)


# --- invitations and applications ---------------------------------------------------------------


def _assignment(task: Task, member: MemberProfile) -> Assignment | None:
    return db.session.scalar(select(Assignment).where(Assignment.task_id == task.id,
                                                      Assignment.member_id == member.id))


def invite(*, actor: User, task: Task, members: list[MemberProfile], message: str = "",
           anyway: Collection[int] = ()) -> list[Assignment]:
    """Invite members the matching suggested. Each must still pass every hard filter, except that
    the members in `anyway` (仍然邀请, ticked among the near misses) may fail one that only says
    what they usually do (their usual times, how far they go); the invitation tells them so."""
    if not access.may_invite(actor, task):
        raise PermissionDenied("只有发布这项需求的组织可以办理")
    if task.status is not TaskStatus.OPEN:
        raise Conflict("需求发布后、人还没满时才能邀请" if task.status is not TaskStatus.FILLED
                       else "人已经满了，不能再邀请")
    if not members:
        raise Invalid("请至少选择一位老同志", field="members")
    if len((message or "").strip()) > 500:
        raise Invalid("邀请的话最多 500 个字", field="message")
    invited = []
    for member in members:
        reasons = near_me.reasons_for(task, member)
        problem = near_me.why_not(task, member)
        if problem:
            miss = near_me.invitable_anyway(task, member) if member.id in anyway else None
            if miss is None:
                raise Invalid(f"不能邀请{member.user.name}：{problem}", field="members")
            reasons = f"{miss.fact}，组织者仍然想请您 · {reasons}"
        a = Assignment(member_id=member.id, origin="invited", status=AssignmentStatus.INVITED,
                       message=(message or "").strip(), invited_by_id=actor.id, reasons=reasons)
        a.member = member
        task.assignments.append(a)
        invited.append(a)
        notify(member.user, kind="task.invited", title=f"{task.organization.name}邀请您参加：{task.title}",
               body=(message or "").strip() + f"\n时间：{describe_schedule(task)}" +
                    (f"\n地点：{task.address}" if task.address else "") + "\n去不去由您决定，不方便可以直接婉拒。",
               link=path_for("my.task", task_id=task.id))
    db.session.flush()
    record_audit(actor, "task.invite", task, detail={"members": [m.id for m in members],
                                                     "anyway": sorted(set(anyway) & {m.id for m in members})})
    return invited


def invite_by_id(*, actor: User, task: Task, member_ids: list[int], message: str = "",
                 anyway_ids: Collection[int] = ()) -> list[Assignment]:
    """invite() as the candidates page sends it: the members ticked, by id (and those ticked
    仍然邀请 among the near misses)."""
    ids = list(member_ids) + [i for i in anyway_ids if i not in member_ids]
    members = list(db.session.scalars(select(MemberProfile).where(MemberProfile.id.in_(ids or [-1]))))
    return invite(actor=actor, task=task, members=members, message=message, anyway=set(anyway_ids))


def apply(*, member: MemberProfile, task: Task, message: str = "") -> Assignment:
    """A member offers to take part; the organizer confirms."""
    if task.status is not TaskStatus.OPEN:
        raise Conflict("这项需求现在不招募了" if task.status is not TaskStatus.FILLED else "人已经满了")
    if member.status is not MemberStatus.ACTIVE:
        raise Invalid("您现在暂停参加，请先在“我的资料”里恢复")
    existing = _assignment(task, member)
    if existing is not None and existing.status in LIVE_ASSIGNMENT:
        raise Conflict(f"您已经{existing.status.label}")
    if existing is not None and existing.status is AssignmentStatus.REJECTED:
        raise Conflict("组织者已经安排好人了，谢谢您")
    if existing is None:
        existing = Assignment(member_id=member.id, origin="applied")
        existing.member = member
        task.assignments.append(existing)
    existing.status, existing.message = AssignmentStatus.APPLIED, (message or "").strip()[:500]
    existing.responded_at = utcnow()
    db.session.flush()
    for organizer in _organizers(task):
        notify(organizer, kind="task.applied", title=f"{member.user.name}报名参加：{task.title}",
               link=path_for("tasks.detail", task_id=task.id))
    return existing


def organizers_of_task(task: Task) -> list[User]:
    """Who is told about a task's changes: the active organizers of its organization."""
    return _organizers(task)


def _organizers(task: Task) -> list[User]:
    return list(db.session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.role == Role.ORGANIZER, RoleGrant.organization_id == task.organization_id, User.active)))


def respond(*, member: MemberProfile, assignment: Assignment, accept: bool) -> Assignment:
    """The member answers an invitation. Declining needs no reason and ends invitations to this task."""
    if assignment.member_id != member.id:
        raise PermissionDenied("这不是给您的邀请")
    task = lock_task(assignment.task_id)
    db.session.refresh(assignment)
    if not access.may_answer(member.user, assignment):
        raise Conflict(f"这个邀请已经是“{assignment.status.label}”了")
    return _answer(task, assignment, member, accept)


def record_answer_for(*, actor: User, assignment: Assignment, accept: bool, note: str = "") -> Assignment:
    """An organizer records the answer a member without a phone account gave on the phone (or in
    person): as if the member had answered, and audited with who recorded it and how."""
    task = lock_task(assignment.task_id)
    db.session.refresh(assignment)
    if assignment.status is not AssignmentStatus.INVITED:
        raise Conflict(f"这个邀请已经是“{assignment.status.label}”了")
    if not access.may_answer_for(actor, assignment):
        raise PermissionDenied("只能为自己组织或支部里不用手机的老同志记下回复")
    note = (note or "").strip()
    if len(note) > 200:
        raise Invalid("说明最多 200 个字", field="note")
    _answer(task, assignment, assignment.member, accept)
    record_audit(actor, "task.answer_for", assignment, detail={"accept": accept, "note": note,
                                                              "member_id": assignment.member_id})
    return assignment


def _answer(task: Task, assignment: Assignment, member: MemberProfile, accept: bool) -> Assignment:
    """An invitation answered: declined, or accepted into a place (or onto the waitlist)."""
    assignment.responded_at = utcnow()
    if not accept:
        assignment.status = AssignmentStatus.DECLINED
        for organizer in _organizers(task):
            notify(organizer, kind="task.declined", title=f"{member.user.name}婉拒了：{task.title}",
                   link=path_for("tasks.detail", task_id=task.id))
        return assignment
    if task.status not in (TaskStatus.OPEN, TaskStatus.FILLED):
        raise Conflict(f"这项需求已经{task.status.label}")
    placed = _take_place(task, assignment)
    for organizer in _organizers(task):
        notify(organizer, kind="task.accepted",
               title=f"{member.user.name}{'答应参加' if placed else '愿意参加（已满，排在候补）'}：{task.title}",
               link=path_for("tasks.detail", task_id=task.id))
    return assignment


def decide_application(*, actor: User, assignment: Assignment, accept: bool) -> Assignment:
    """The organizer confirms or turns down a member who applied."""
    task = lock_task(assignment.task_id)
    if not access.may_decide_application(actor, assignment):
        raise PermissionDenied("只有发布这项需求的组织可以办理")
    db.session.refresh(assignment)
    if assignment.status is not AssignmentStatus.APPLIED:
        raise Conflict(f"这条报名已经是“{assignment.status.label}”了")
    if accept:
        placed = _take_place(task, assignment)
        title = f"报名成功：{task.title}" if placed else f"已满，您排在候补：{task.title}"
    else:
        assignment.status = AssignmentStatus.REJECTED
        title = f"这次“{task.title}”人已安排好，谢谢您的热心"
    notify(assignment.member.user, kind="task.application", title=title, link=path_for("my.task", task_id=task.id))
    return assignment


def withdraw(*, member: MemberProfile, assignment: Assignment) -> Assignment:
    """A member steps back (from an application, the waitlist, or an accepted place)."""
    if assignment.member_id != member.id:
        raise PermissionDenied("不能替别人退出")
    task = lock_task(assignment.task_id)
    db.session.refresh(assignment)
    if not access.may_withdraw(member.user, assignment):
        if task.status not in (TaskStatus.OPEN, TaskStatus.FILLED):
            raise Conflict(f"这项需求已经{task.status.label}，不用退出")
        raise Conflict(f"现在是“{assignment.status.label}”，不用退出")
    _step_back(task, assignment, title=f"{member.user.name}退出了：{task.title}", tell_always=False)
    return assignment


def _step_back(task: Task, assignment: Assignment, *, title: str, tell_always: bool) -> None:
    """The member leaves the task: a place freed goes to the waitlist, and the organizers are told
    (always, or only when a place was freed)."""
    was_accepted = assignment.status is AssignmentStatus.ACCEPTED
    assignment.status, assignment.responded_at = AssignmentStatus.WITHDRAWN, utcnow()
    db.session.flush()
    if was_accepted:
        _promote_waitlist(task)
    if was_accepted or tell_always:
        for organizer in _organizers(task):
            notify(organizer, kind="task.withdrawn", title=title, link=path_for("tasks.detail", task_id=task.id))


def leave_all_tasks(*, member: MemberProfile, why: str) -> int:
    """Take a member off every task still to come (staff marked them deceased): invitations,
    applications, waitlist places and accepted places end; the organizers are told (`why`, e.g.
    "已逝世"); a freed place goes to the waitlist. Tasks already served are left as they were, with
    their hours. Returns how many."""
    still_to_come = exists().where(TaskSession.task_id == Assignment.task_id, TaskSession.starts_at > local_now(),
                                   TaskSession.cancelled.is_(False))
    live = db.session.scalars(select(Assignment).join(Task, Task.id == Assignment.task_id).where(
        Assignment.member_id == member.id, Assignment.status.in_(LIVE_ASSIGNMENT),
        Task.status.in_((TaskStatus.OPEN, TaskStatus.FILLED)), still_to_come)).all()
    for assignment in live:
        task = lock_task(assignment.task_id)
        _step_back(task, assignment, title=f"{member.user.name}同志{why}，不再参加：{task.title}", tell_always=True)
    return len(live)


# --- attendance and hours: app.tasks.records ------------------------------------------------------
