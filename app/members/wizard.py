"""The registration wizard: its pages, their order, and how each answer reads back.

The same pages serve three purposes: self-registration, registration by proxy (代注册), and
changing one answer of an existing profile later.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from app import access
from app.clock import utcnow
from app.extensions import db
from app.members import forms as f
from app.members import queries
from app.members.models import (
    SKILL_LEVELS,
    ConsentMethod,
    MemberProfile,
    ProfileDraft,
    Skill,
    availability_text,
)
from app.members.profile import Gap, ProfileData, matching_gaps, matching_gaps_from, registration_gaps
from app.organizations.models import Organization, OrganizationKind
from app.regions.gazetteer import ancestors


@dataclass(frozen=True)
class Step:
    key: str
    question: str
    form: type
    summary_label: str
    summary: Callable[[ProfileData, dict], str]
    template: str = "members/step.html"
    # Where the page is asked: "self" registration, "proxy" registration, "profile" (my profile and
    # a member's record: read back and changed one answer at a time).
    kinds: tuple[str, ...] = ("self", "proxy", "profile")
    needs_consent: bool = False
    is_list: bool = False
    hint: str = ""
    fields: tuple[str, ...] = field(default=())


def _region_name(code: str) -> str:
    return "".join(p.name for p in list(reversed(ancestors(code)))[1:]) if code else ""


def _branch_name(data: ProfileData, meta: dict) -> str:
    if not data.branch_id:
        return "未填写"
    branch = db.session.get(Organization, data.branch_id)
    return branch.name if branch else "未填写"


def _skills_text(data: ProfileData, meta: dict) -> str:
    if not data.skills:
        return "未填写（没有专长就不会被推荐志愿服务）"
    names = dict(db.session.execute(select(Skill.id, Skill.name).where(
        Skill.id.in_([s.skill_id for s in data.skills]))).all())
    return "；".join(f"{names.get(s.skill_id, '?')}（{SKILL_LEVELS[s.level]}）" for s in data.skills)


def _limits_text(data: ProfileData, meta: dict) -> str:
    parts = []
    if data.no_night:
        parts.append("晚上不方便")
    if data.no_outdoor:
        parts.append("不参加户外活动")
    if data.max_hours_week:
        parts.append(f"每周最多 {data.max_hours_week} 小时")
    return "；".join(parts) or "没有限制"


def _consent_text(data: ProfileData, meta: dict) -> str:
    if not data.consent:
        return "不同意（不保存身体状况，位置只按县（市、区）估算）"
    method = meta.get("consent_method")
    return "同意" + (f"（{ConsentMethod(method).label}）" if method else "")


def _pool_text(data: ProfileData, meta: dict) -> str:
    return {"yes": "申请加入（老干部局审核）", "no": "暂不加入"}.get(meta.get("join_pool") or "", "")


STEPS: list[Step] = [
    Step("phone", "老同志的手机号码", f.PhoneStepForm, "手机号码",
         lambda d, m: m.get("phone") or "没有手机", kinds=("proxy",),
         hint="有手机号的话，老同志以后可以用它自己登录。没有可以不填。"),
    # Self-registration never asks the name: the account has it.
    Step("name", "姓名", f.NameForm, "姓名", lambda d, m: d.name, kinds=("proxy", "profile")),
    Step("gender", "性别", f.GenderForm, "性别", lambda d, m: d.gender.label if d.gender else ""),
    Step("birth_year", "哪一年出生？", f.BirthYearForm, "出生年份",
         lambda d, m: f"{d.birth_year} 年" if d.birth_year else ""),
    Step("home", "家住在哪里？", f.HomeForm, "家庭住址",
         lambda d, m: f"{d.address}（{_region_name(d.county_code)}）" if d.address else ""),
    Step("branch", "在哪个党支部？", f.BranchForm, "所在党支部", _branch_name, template="members/step_branch.html"),
    Step("work", "退休前在哪里工作？", f.WorkForm, "原工作单位和职务",
         lambda d, m: " ".join(x for x in (d.work_unit, d.post) if x) or "未填写"),
    Step("consent", "是否同意保存身体状况和住址位置？", f.ConsentForm, "身体状况和住址位置", _consent_text,
         template="members/step_consent.html"),
    Step("capacity", "身体能承担哪种强度的活动？", f.CapacityForm, "身体状况",
         lambda d, m: d.capacity.label if d.capacity else "", needs_consent=True,
         template="members/step_capacity.html"),
    Step("limits", "有哪些不方便？", f.LimitsForm, "不方便的情况", _limits_text,
         hint="勾选适合您的。都没有就直接点“下一步”。"),
    Step("radius", "愿意到离家多远的地方服务？", f.RadiusForm, "服务范围",
         lambda d, m: f"{d.radius_km} 公里以内"),
    Step("availability", "一般什么时间方便？", f.AvailabilityForm, "方便的时间",
         lambda d, m: availability_text(d.availability_mask), template="members/step_availability.html",
         hint="勾选您通常有空的时间，可以多选。临时有事可以随时推掉邀请。"),
    Step("unavailable", "近期有没有不方便的日子？", f.PeriodForm, "不方便的日子",
         lambda d, m: "；".join(f"{p.start:%Y年%m月%d日}至{p.end:%Y年%m月%d日}{('（' + p.reason + '）') if p.reason else ''}"
                               for p in d.unavailable) or "没有",
         template="members/step_periods.html", is_list=True, kinds=("proxy", "profile"),   # self: later, if ever
         hint="例如外出探亲、住院、农忙。这些日子不会收到邀请。都没有就直接点“下一步”。"),
    Step("skills", "有哪些专长？", f.SkillForm, "专长", _skills_text,
         template="members/step_skills.html", is_list=True,
         hint="一项一项地添加。填得越准，推荐的服务越合适。"),
    Step("pool", "要不要加入本县（市、区）银发人才库？", f.PoolForm, "银发人才库", _pool_text,
         template="members/step_pool.html", kinds=("self", "proxy")),
]
BY_KEY = {s.key: s for s in STEPS}
# Where a service's complaint about a field is answered.
FIELD_STEP = {"phone": "phone", "name": "name", "gender": "gender", "birth_year": "birth_year",
              "address": "home", "branch": "branch", "work_unit": "work", "post": "work",
              "consent": "consent", "consent_method": "consent", "capacity": "capacity",
              "max_hours_week": "limits", "radius_km": "radius", "availability": "availability",
              "end": "unavailable", "start": "unavailable", "skill": "skills", "level": "skills",
              "years": "skills", "certificate": "skills", "join_pool": "pool"}


def steps_for(kind: str, data: ProfileData) -> list[Step]:
    """The pages this registration asks, in order (the capacity page only after consent)."""
    return [s for s in STEPS if kind in s.kinds and (data.consent or not s.needs_consent)]


def numbered(kind: str) -> list[Step]:
    """Every page a registration of this kind may ask: the step count, which never changes under
    the user (a page skipped for an answer keeps its number)."""
    return [s for s in STEPS if kind in s.kinds]


def step_after(kind: str, data: ProfileData, key: str) -> str | None:
    keys = [s.key for s in steps_for(kind, data)]
    if key not in keys:
        return keys[0]
    i = keys.index(key)
    return keys[i + 1] if i + 1 < len(keys) else None


def step_before(kind: str, data: ProfileData, key: str) -> str | None:
    keys = [s.key for s in steps_for(kind, data)]
    if key not in keys:
        return None
    i = keys.index(key)
    return keys[i - 1] if i > 0 else None


def mark_answered(meta: dict, key: str) -> None:
    """Note that a page was answered (saved with 下一步, 先保存 or an item added)."""
    answered = meta.setdefault("answered", [])
    if key not in answered:
        answered.append(key)


def first_gap(kind: str, data: ProfileData, meta: dict) -> str | None:
    """Where resuming lands: the first page not answered yet; None when all are (the check page)."""
    answered = set(meta.get("answered", []))
    return next((s.key for s in steps_for(kind, data) if s.key not in answered), None)


@dataclass(frozen=True)
class TaskRow:
    """One line of the task list on the start page."""

    step: Step
    number: int
    state: str          # "done", "todo" or "skipped"

    @property
    def label(self) -> str:
        return {"done": "已填", "todo": "未填", "skipped": "不用填"}[self.state]


def task_list(kind: str, data: ProfileData, meta: dict) -> list[TaskRow]:
    """Each page of the registration with what is done and what is left."""
    asked = {s.key for s in steps_for(kind, data)}
    answered = set(meta.get("answered", []))

    def state(step: Step) -> str:
        if step.key in asked:
            return "done" if step.key in answered else "todo"
        return "skipped" if "consent" in answered else "todo"   # asked only after consent

    return [TaskRow(s, n, state(s)) for n, s in enumerate(numbered(kind), start=1)]


@dataclass(frozen=True)
class Missing:
    """An answer the check page asks for: the page that asks it, and whether registering needs it
    (refused without) or only matching (warned: no suggestions without it)."""

    step: Step
    label: str
    blocking: bool


def matching_missing(data: ProfileData) -> list[tuple[str, str]]:
    """What a registered member still lacks for matching: (the page that asks it, its name)."""
    return _steps(matching_gaps(data))


def matching_missing_of(member: MemberProfile, *, holds_active_skill: bool = False) -> list[tuple[str, str]]:
    """matching_missing() of a stored member, read from the member alone: their periods away are
    never loaded, and their skills only when `holds_active_skill` (matching's own read of the
    member, when the page made it) does not already say they have one."""
    return _steps(matching_gaps_from(consent=member.has_consent, capacity=member.capacity,
                                     availability_mask=member.availability_mask,
                                     has_skill=holds_active_skill or bool(member.skills)))


def _steps(gaps: list[Gap]) -> list[tuple[str, str]]:
    return [(FIELD_STEP[g.field], g.label) for g in gaps]


def missing(kind: str, data: ProfileData, meta: dict) -> list[Missing]:
    """Every answer still missing, in the order of the pages: what registering cannot do without
    (and the pool question), then what matching needs."""
    found = [Missing(BY_KEY[FIELD_STEP[g.field]], g.label, True) for g in registration_gaps(data)]
    if not meta.get("join_pool"):
        found.append(Missing(BY_KEY["pool"], "是否加入银发人才库", True))
    found += [Missing(BY_KEY[FIELD_STEP[g.field]], g.label, False) for g in matching_gaps(data)]
    order = [s.key for s in STEPS]
    return sorted(found, key=lambda m: order.index(m.step.key))


def form_for(step: Step, *, kind: str, formdata=None):
    form_cls = step.form
    if kind == "proxy":
        form_cls = {"consent": f.ProxyConsentForm, "pool": f.ProxyPoolForm}.get(step.key, step.form)
    return form_cls(formdata=formdata)


def prepare(form, step: Step, data: ProfileData, *, actor) -> None:
    """Fill in choices that depend on the database: branches near home, the skill taxonomy."""
    if step.key == "branch":
        own = sorted(access.organized(actor))
        branches = db.session.scalars(select(Organization).where(
            Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.active,
            (Organization.region_code == data.county_code) | Organization.id.in_(own or [-1]),
        ).order_by(Organization.name)).all()
        form.branch.choices = f.options([(b.id, b.name) for b in branches], "暂不选择")
    elif step.key == "skills":
        form.skill.choices = f.options(queries.skill_choices(), "请选择")


def summary(kind: str, data: ProfileData, meta: dict) -> list[tuple[Step, str]]:
    """Each answer as it reads back: on the check page, or ("profile") on a member's profile."""
    return [(s, s.summary(data, meta)) for s in steps_for(kind, data)]


# --- drafts -------------------------------------------------------------------------------------


def read_draft(owner, kind: str, *, initial: ProfileData | None = None) -> tuple[ProfileData, dict]:
    row = db.session.scalar(select(ProfileDraft).where(ProfileDraft.owner_id == owner.id, ProfileDraft.kind == kind))
    if row is None:
        return initial or ProfileData(), {}
    stored = json.loads(row.data)
    return ProfileData.from_json(stored.get("profile", {})), stored.get("meta", {})


def write_draft(owner, kind: str, data: ProfileData, meta: dict) -> None:
    """Save the answers so far. Flushes; the view commits at once, so nothing is lost."""
    row = db.session.scalar(select(ProfileDraft).where(ProfileDraft.owner_id == owner.id, ProfileDraft.kind == kind))
    if row is None:
        row = ProfileDraft(owner_id=owner.id, kind=kind)
        db.session.add(row)
    row.data = json.dumps({"profile": data.to_json(), "meta": meta}, ensure_ascii=False)
    row.updated_at = utcnow()
    db.session.flush()


def remove_item(step: Step, data: ProfileData, index: str) -> None:
    """Take one period away or one skill off a list page's answers."""
    items: list = data.unavailable if step.key == "unavailable" else data.skills
    if index.isdigit() and int(index) < len(items):
        items.pop(int(index))


def item_text(step: Step, data: ProfileData, index: str) -> str | None:
    """How one item of a list page reads, for the question before it is deleted (None: no such item)."""
    items: list = data.unavailable if step.key == "unavailable" else data.skills
    if not index.isdigit() or int(index) >= len(items):
        return None
    item = items[int(index)]
    if step.key == "unavailable":
        return f"{item.start:%Y年%m月%d日}至{item.end:%Y年%m月%d日}"
    return f"专长“{skill_names(data).get(item.skill_id, '')}（{SKILL_LEVELS[item.level]}）”"


def skill_names(data: ProfileData) -> dict[int, str]:
    """The names of the skills in the answers, for the skills page's list."""
    return dict(db.session.execute(select(Skill.id, Skill.name).where(
        Skill.id.in_([s.skill_id for s in data.skills] or [-1]))).all())
