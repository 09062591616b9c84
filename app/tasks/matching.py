"""Explainable matching of members to volunteer tasks (DESIGN §5). Pure: no database, no Flask.

`exclusion()` applies the hard filters — 自觉自愿、就近就便、量力而行 — and says why a member is left out;
`score()` ranks the rest from skill fit, distance, availability, fairness and pool level, and
explains itself in plain Chinese ("法律咨询·精通 · 2.3 公里 · 周二上午有空 · 本月服务 4 小时").
The service layer gathers the facts (app/tasks/candidates.py); everything here is unit- and
property-tested.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from app.clock import PERIODS, WEEKDAYS, period_of
from app.members.models import slot_bit
from app.regions.geo import EARTH_RADIUS_KM, haversine_km

LEVELS = {1: "了解", 2: "熟练", 3: "精通"}
POOLS = {1: "县级人才库", 2: "市级人才库", 3: "省级人才库"}

WEIGHTS = {"skill": 0.35, "distance": 0.25, "availability": 0.20, "fairness": 0.10, "pool": 0.10}
DECLINED_ORG_PENALTY = 0.75     # declined this organization recently: held back, not excluded
INVITATION_CAP = 3              # open invitations a member may have before we stop asking
PENDING_PENALTY = 0.08          # per open invitation below the cap


@dataclass(frozen=True)
class TaskFacts:
    """What matching needs to know about a task."""

    remote: bool
    lat: float | None
    lon: float | None
    radius_km: float
    required: dict[int, int]                 # skill id → minimum level
    preferred: dict[int, int] = field(default_factory=dict)
    demand: int = 1                          # Capacity.rank
    sessions: tuple[tuple[datetime, datetime], ...] = ()
    outdoor: bool = False
    organization_id: int | None = None
    skill_names: dict[int, str] = field(default_factory=dict)

    # Cached: the hard filters ask for these once per member judged.
    @cached_property
    def evening(self) -> bool:
        return any(period_of(start) == 2 or end.hour * 60 + end.minute > 18 * 60 + 30
                   for start, end in self.sessions)

    @cached_property
    def weekly_hours(self) -> float:
        """The most hours the task asks for in any one week."""
        weeks: dict[tuple[int, int], float] = {}
        for start, end in self.sessions:
            key = tuple(start.isocalendar())[:2]
            weeks[key] = weeks.get(key, 0) + (end - start).total_seconds() / 3600
        return max(weeks.values(), default=0.0)

    @cached_property
    def specialist(self) -> bool:
        return any(level >= 3 for level in self.required.values())


@dataclass(frozen=True)
class MemberFacts:
    """What matching needs to know about a member."""

    member_id: int
    lat: float
    lon: float
    radius_km: float
    skills: dict[int, int]                    # skill id → level
    capacity: int                             # Capacity.rank
    availability_mask: int
    consent: bool = True
    active: bool = True
    no_night: bool = False
    no_outdoor: bool = False
    max_hours_week: int | None = None
    unavailable: tuple[tuple[date, date], ...] = ()
    busy: tuple[tuple[datetime, datetime], ...] = ()    # sessions of tasks already accepted
    on_task: bool = False                               # any assignment on this task, declined included
    open_invitations: int = 0
    declined_org_recently: bool = False
    hours_30d: float = 0.0
    pool_rank: int = 0                                  # 0 none, 1 county, 2 city, 3 province
    widened: bool = False      # reached by a widened search: a pool talent who travels further

WIDENED_REACH_KM = 100.0


@dataclass
class Suggestion:
    member_id: int
    score: float
    distance_km: float | None
    reasons: list[str]
    parts: dict[str, float]

    @property
    def reason_text(self) -> str:
        return " · ".join(self.reasons)


def distance_km(task: TaskFacts, member: MemberFacts) -> float | None:
    if task.remote or task.lat is None:
        return None
    return haversine_km(task.lat, task.lon, member.lat, member.lon)


def _free_sessions(task: TaskFacts, member: MemberFacts) -> list[tuple[datetime, datetime]]:
    """The task's sessions this member could serve: in their weekly grid and not in a date they blocked."""
    free = []
    for start, end in task.sessions:
        if not member.availability_mask & slot_bit(start.weekday(), period_of(start)):
            continue
        if any(a <= start.date() <= b for a, b in member.unavailable):
            continue
        free.append((start, end))
    return free


def exclusion(task: TaskFacts, member: MemberFacts, *, invitation_cap: int = INVITATION_CAP) -> str | None:
    """Why this member must not be suggested for this task, or None if they may be."""
    if not member.consent:
        return "没有同意保存敏感信息"
    if not member.active:
        return "暂停参加"
    if member.on_task:
        return "已在这项服务中（或已婉拒）"
    for skill_id, level in task.required.items():
        if member.skills.get(skill_id, 0) < level:
            return "缺少所需专长"
    if member.capacity < task.demand:
        return "活动强度超出身体状况"
    if task.evening and member.no_night:
        return "晚上不方便"
    if task.outdoor and member.no_outdoor:
        return "不参加户外活动"
    if member.max_hours_week is not None and task.weekly_hours > member.max_hours_week:
        return "超出每周可服务的时间"
    d = distance_km(task, member)
    if d is not None and not member.widened and d > min(task.radius_km, member.radius_km):
        return "超出服务范围"
    if task.sessions and not _free_sessions(task, member):
        return "这些时间没有空"
    if any(s < b_end and b_start < e for s, e in task.sessions for b_start, b_end in member.busy):
        return "与已答应的服务时间冲突"
    if member.open_invitations >= invitation_cap:
        return "还有未回复的邀请"
    return None


def _slot_phrase(task: TaskFacts, free: list[tuple[datetime, datetime]]) -> str:
    slots = sorted({(s.weekday(), period_of(s)) for s, _ in free})
    if len(task.sessions) == 1:
        start = free[0][0]
        return f"{start.month}月{start.day}日{WEEKDAYS[start.weekday()]}{PERIODS[period_of(start)]}有空"
    names = "、".join(f"{WEEKDAYS[d]}{PERIODS[p]}" for d, p in slots[:3])
    if len(free) == len(task.sessions):
        return f"{names}有空"
    return f"{len(task.sessions)} 次中 {len(free)} 次有空（{names}）"


def score(task: TaskFacts, member: MemberFacts, *, explain: bool = True) -> Suggestion:
    """Rank a member who passed the hard filters, with the reasons in Chinese (none when not
    `explain`: the score is the same, for members who are only being compared)."""
    reasons: list[str] = []
    parts: dict[str, float] = {}

    # Skill fit: every required skill is held (a hard filter); levels above the minimum and
    # preferred skills add to it.
    if task.required:
        fit = sum(min(member.skills.get(s, 0), 3) / 3 for s in task.required) / len(task.required)
    else:
        fit = 0.5
    held_preferred = [s for s, lv in task.preferred.items() if member.skills.get(s, 0) >= lv]
    if task.preferred:
        fit = min(1.0, fit * 0.85 + 0.15 * len(held_preferred) / len(task.preferred))
    parts["skill"] = fit
    if explain:
        for skill_id in list(task.required) + held_preferred:
            name = task.skill_names.get(skill_id, "专长")
            reasons.append(f"{name}·{LEVELS[member.skills[skill_id]]}")

    # Distance: 就近就便 — falls with distance, zero at the smaller radius.
    d = distance_km(task, member)
    if d is None:
        parts["distance"] = 0.5
        if explain:
            reasons.append("线上服务，不用出门")
    else:
        limit = WIDENED_REACH_KM if member.widened else max(0.1, min(task.radius_km, member.radius_km))
        parts["distance"] = max(0.0, 1 - d / limit)
        if explain:
            reasons.append(f"{d:.1f} 公里" if d >= 1 else f"{max(10, round(d * 1000, -1)):.0f} 米")

    # Availability: the share of sessions inside the weekly grid and outside blocked dates.
    if task.sessions:
        free = _free_sessions(task, member)
        parts["availability"] = len(free) / len(task.sessions)
        if free and explain:
            reasons.append(_slot_phrase(task, free))
    else:
        parts["availability"] = 1.0

    # Fairness: those who served less lately rank a little higher; nobody is pestered.
    parts["fairness"] = 1 / (1 + member.hours_30d / 8)
    if explain:
        reasons.append(f"近一个月服务 {member.hours_30d:g} 小时" if member.hours_30d else "近一个月还没有服务过")

    # Pool level counts when the task asks for a specialist.
    parts["pool"] = member.pool_rank / 3 if task.specialist else 0.0
    if member.pool_rank and explain:
        reasons.append(POOLS[member.pool_rank])

    total = sum(WEIGHTS[k] * v for k, v in parts.items())
    if member.declined_org_recently:
        total *= DECLINED_ORG_PENALTY
    total *= 1 - PENDING_PENALTY * member.open_invitations
    return Suggestion(member.member_id, round(total, 6), d, reasons, parts)


def rank(task: TaskFacts, members: list[MemberFacts], *, limit: int = 20,
         invitation_cap: int = INVITATION_CAP) -> list[Suggestion]:
    """The best `limit` members for a task, best first; ties broken by distance, then id."""
    eligible = [score(task, m) for m in members if exclusion(task, m, invitation_cap=invitation_cap) is None]
    eligible.sort(key=lambda s: (-s.score, s.distance_km if s.distance_km is not None else math.inf, s.member_id))
    return eligible[:limit]


class QuickJudge:
    """Step one of matching at scale: from the facts the skill-location index carries (place, radius,
    capacity, weekly grid, limits, weekly hours, pool level and the levels of the task's skills),
    apply the hard filters those facts decide and give an upper bound on the score, every other fact
    (recent hours, open invitations, refusals, blocked dates, clashes) assumed favourable. Agrees
    with exclusion() and score(): a member it drops is excluded, and no member scores above its
    bound (both property-tested). Plain arithmetic, because it runs over thousands of index rows.

    `anchor` is the required skill whose index range is read; an index row is
    (member_id, lat, lon, radius_km, capacity, availability_mask, limits, pool_rank, hours_cap,
    level of the anchor, then the level of each skill in `extra`, None where not held; anything
    after that is not read here)."""

    def __init__(self, task: TaskFacts, anchor: int | None = None):
        self.task = task
        self.anchor = anchor
        self.anchor_min = task.required.get(anchor, 0) if anchor is not None else 0
        others = sorted(s for s in task.required if s != anchor)
        self.extra = [(s, task.required[s], True) for s in others] + \
                     [(s, task.preferred[s], False) for s in sorted(task.preferred)]
        slots: dict[int, int] = {}
        for start, _ in task.sessions:
            bit = slot_bit(start.weekday(), period_of(start))
            slots[bit] = slots.get(bit, 0) + 1
        self.slots = list(slots.items())
        self.needed_mask = sum(slots)
        self.weekly_hours = task.weekly_hours
        self.forbidden_limits = (1 if task.evening else 0) | (2 if task.outdoor else 0)
        self.pool_weight = WEIGHTS["pool"] / 3 if task.specialist else 0.0
        self.constant = WEIGHTS["fairness"] + (WEIGHTS["distance"] * 0.5 if task.remote or task.lat is None else 0)

    def ceiling(self, level: int) -> float:
        """The highest bound of any row whose anchor skill is at `level`, distance apart: every
        other skill at 精通, every session free, the highest pool."""
        n, task = len(self.task.required), self.task
        fit = (min(level, 3) / 3 + n - 1) / n if n and self.anchor is not None else (1.0 if n else 0.5)
        if task.preferred:
            fit = min(1.0, fit * 0.85 + 0.15)
        return self.constant + WEIGHTS["skill"] * fit + WEIGHTS["availability"] + self.pool_weight * 3 + 1e-6

    def row_of(self, *, lat: float, lon: float, radius_km: float, capacity: int, availability_mask: int,
               limits: int, pool_rank: int, skills: dict[int, int], hours_cap: int = 168,
               member_id: int = 0) -> tuple:
        """The index row a member with these facts would have for this task (for tests and single
        members)."""
        level = skills.get(self.anchor, 0) if self.anchor is not None else 0
        extra = tuple(skills.get(s) if skills.get(s, 0) >= least else None for s, least, _ in self.extra)
        return (member_id, lat, lon, radius_km, capacity, availability_mask, limits, pool_rank, hours_cap,
                level, *extra)

    def __call__(self, *, widened: bool = False, **facts) -> float | None:
        judged = self.bounds([self.row_of(**facts)], widened={0} if widened else ())
        return judged[0][0] if judged else None

    def bounds(self, rows, *, widened=(), skip=()) -> list[tuple[float, tuple]]:
        """(bound, row) for every row that passes; members in `skip` are left out. One tight loop
        (a query reads thousands of rows): the arithmetic of score() and haversine_km(), written out."""
        task = self.task
        onsite = not task.remote and task.lat is not None
        if onsite:
            lat0, lon0 = math.radians(task.lat), task.lon
            cos0 = math.cos(lat0)
        w_distance, w_availability, w_skill = WEIGHTS["distance"], WEIGHTS["availability"], WEIGHTS["skill"]
        slots, sessions, weekly_hours = self.slots, len(task.sessions), self.weekly_hours
        n_required, n_preferred, n_extra = len(task.required), len(task.preferred), len(self.extra)
        anchored, anchor_min = self.anchor is not None, self.anchor_min
        required_at = [i for i, (_, _, required) in enumerate(self.extra) if required]
        preferred_at = [i for i, (_, _, required) in enumerate(self.extra) if not required]
        demand, forbidden, pool_weight, constant = task.demand, self.forbidden_limits, self.pool_weight, self.constant
        task_radius, two_r = task.radius_km, 2 * EARTH_RADIUS_KM
        radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
        out = []
        for row in rows:
            member_id, lat, lon, radius_km, capacity, mask, limits, pool_rank, hours_cap, level = row[:10]
            extra = row[10:10 + n_extra]
            if capacity < demand or limits & forbidden or hours_cap < weekly_hours or member_id in skip:
                continue
            if level < anchor_min or any(extra[i] is None for i in required_at):
                continue
            total = constant
            if onsite:
                p = radians(lat)
                a = sin((p - lat0) / 2) ** 2 + cos0 * cos(p) * sin(radians(lon - lon0) / 2) ** 2
                d = two_r * asin(min(1.0, sqrt(a)))
                if member_id in widened:
                    total += w_distance * max(0.0, 1 - d / WIDENED_REACH_KM)
                else:
                    reach = task_radius if task_radius < radius_km else radius_km
                    if d > reach:
                        continue
                    total += w_distance * max(0.0, 1 - d / max(0.1, reach))
            if slots:
                free = 0
                for bit, count in slots:
                    if mask & bit:
                        free += count
                if not free:
                    continue
                total += w_availability * free / sessions
            else:
                total += w_availability
            if n_required:
                held = (min(level, 3) / 3 if anchored else 0) + sum(min(extra[i], 3) / 3 for i in required_at)
                fit = held / n_required
            else:
                fit = 0.5
            if n_preferred:
                fit = min(1.0, fit * 0.85 + 0.15 * sum(1 for i in preferred_at if extra[i] is not None) / n_preferred)
            out.append((total + w_skill * fit + pool_weight * pool_rank + 1e-6, row))
        return out
