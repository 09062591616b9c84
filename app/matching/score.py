"""The hard filters and the score (DESIGN §5): the one definition of both. Pure: no database.

`exclusion()` applies the hard filters — 自觉自愿、就近就便、量力而行 — and says why a member is left out;
`score()` ranks the rest from skill fit, distance, availability, fairness and pool level, and
explains itself in plain Chinese ("法律咨询·精通 · 2.3 公里 · 周二上午有空 · 本月服务 4 小时").
The upper bound the index step uses (app.matching.bound) is this score with every fact the index
does not carry taken at its most favourable; property tests keep the two in agreement.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from app.clock import PERIODS, WEEKDAYS, period_of
from app.matching.facts import WIDENED_REACH_KM, MemberFacts, Suggestion, TaskFacts
from app.members.models import slot_bit
from app.regions.geo import format_km, haversine_km

LEVELS = {1: "了解", 2: "熟练", 3: "精通"}
POOLS = {1: "县级人才库", 2: "市级人才库", 3: "省级人才库"}

WEIGHTS = {"skill": 0.35, "distance": 0.25, "availability": 0.20, "fairness": 0.10, "pool": 0.10}
TOP_LEVEL = 3                   # a skill's highest level: a required skill held at it fits fully
NO_REQUIRED_FIT = 0.5           # the skill fit of a task that requires no skill
PREFERRED_SHARE = 0.15          # of the skill fit, what preferred skills held give
REMOTE_DISTANCE = 0.5           # the distance part of an online task
MIN_REACH_KM = 0.1              # the smallest reach distance is measured against
DECLINED_ORG_PENALTY = 0.75     # declined this organization recently: held back, not excluded
INVITATION_CAP = 3              # open invitations a member may have before we stop asking
PENDING_PENALTY = 0.08          # per open invitation below the cap


def distance_km(task: TaskFacts, member: MemberFacts) -> float | None:
    return place_distance_km(task.remote, task.lat, task.lon, member)


def place_distance_km(remote: bool, lat: float | None, lon: float | None, member: MemberFacts) -> float | None:
    """How far from the member's home a task at (lat, lon) is: none for an online task or one
    without a place (distance_km, for a task known by its place alone)."""
    if remote or lat is None or lon is None:
        return None
    return haversine_km(lat, lon, member.lat, member.lon)


def free_sessions(task: TaskFacts, member: MemberFacts) -> list[tuple[datetime, datetime]]:
    """The task's sessions this member could serve: in their weekly grid and not in a date they blocked."""
    free = []
    for start, end in task.sessions:
        if not member.availability_mask & slot_bit(start.weekday(), period_of(start)):
            continue
        if any(a <= start.date() <= b for a, b in member.unavailable):
            continue
        free.append((start, end))
    return free


# The hard filters, each by name, with the reason the organizer reads (in the order they are applied).
EXCLUSIONS = {
    "consent": "没有同意保存敏感信息",
    "paused": "暂停参加",
    "on_task": "已在这项服务中（或已婉拒）",
    "skill": "缺少所需专长",
    "capacity": "活动强度超出身体状况",
    "night": "晚上不方便",
    "outdoor": "不参加户外活动",
    "hours": "超出每周可服务的时间",
    "distance": "超出服务范围",
    "time": "这些时间没有空",
    "busy": "与已答应的服务时间冲突",
    "invitations": "还有未回复的邀请",
}


def exclusions(task: TaskFacts, member: MemberFacts, *, invitation_cap: int = INVITATION_CAP) -> Iterator[str]:
    """Every hard filter (a key of EXCLUSIONS) this member fails for this task, in order: lazily, so
    that asking for the first costs what one check costs."""
    if not member.consent:
        yield "consent"
    if not member.active:
        yield "paused"
    if member.on_task:
        yield "on_task"
    if any(member.skills.get(skill_id, 0) < level for skill_id, level in task.required.items()):
        yield "skill"
    if member.capacity < task.demand:
        yield "capacity"
    if task.evening and member.no_night:
        yield "night"
    if task.outdoor and member.no_outdoor:
        yield "outdoor"
    if member.max_hours_week is not None and task.weekly_hours > member.max_hours_week:
        yield "hours"
    d = distance_km(task, member)
    if d is not None and not member.widened and d > min(task.radius_km, member.radius_km):
        yield "distance"
    if task.sessions and not free_sessions(task, member):
        yield "time"
    if any(s < b_end and b_start < e for s, e in task.sessions for b_start, b_end in member.busy):
        yield "busy"
    if member.open_invitations >= invitation_cap:
        yield "invitations"


def exclusion(task: TaskFacts, member: MemberFacts, *, invitation_cap: int = INVITATION_CAP) -> str | None:
    """Why this member must not be suggested for this task, or None if they may be."""
    first = next(exclusions(task, member, invitation_cap=invitation_cap), None)
    return EXCLUSIONS[first] if first is not None else None


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
        fit = sum(min(member.skills.get(s, 0), TOP_LEVEL) / TOP_LEVEL for s in task.required) / len(task.required)
    else:
        fit = NO_REQUIRED_FIT
    held_preferred = [s for s, lv in task.preferred.items() if member.skills.get(s, 0) >= lv]
    if task.preferred:
        fit = min(1.0, fit * (1 - PREFERRED_SHARE) + PREFERRED_SHARE * len(held_preferred) / len(task.preferred))
    parts["skill"] = fit
    if explain:
        for skill_id in list(task.required) + held_preferred:
            name = task.skill_names.get(skill_id, "专长")
            reasons.append(f"{name}·{LEVELS[member.skills[skill_id]]}")

    # Distance: 就近就便 — falls with distance, zero at the smaller radius.
    d = distance_km(task, member)
    if d is None:
        parts["distance"] = REMOTE_DISTANCE
        if explain:
            reasons.append("线上服务，不用出门")
    else:
        limit = WIDENED_REACH_KM if member.widened else max(MIN_REACH_KM, min(task.radius_km, member.radius_km))
        parts["distance"] = max(0.0, 1 - d / limit)
        if explain:
            reasons.append(format_km(d))

    # Availability: the share of sessions inside the weekly grid and outside blocked dates.
    if task.sessions:
        free = free_sessions(task, member)
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
    eligible.sort(key=Suggestion.order)
    return eligible[:limit]
