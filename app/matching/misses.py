"""Near misses, said to the member: the one fact that keeps a task off their list, in their terms
(「周五下午，和您勾选的时间不同」), and the page of their profile that would change it. Pure: no
database, no Flask. The hard filters themselves stay in app.matching.score; this only explains them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.clock import PERIODS, WEEKDAYS, period_of
from app.matching.facts import MemberFacts, TaskFacts
from app.matching.score import LEVELS, distance_km, exclusions
from app.members.models import Capacity, slot_bit
from app.regions.geo import format_km

# Filters that say nothing about the task (the member's own state): never shown as a near miss.
NOT_ABOUT_THE_TASK = {"consent", "paused", "on_task"}

# What the member can change on which page of "my profile" (app.members.wizard step keys).
FIXES = {"time": ("availability", "改一下我的时间"), "blocked": ("unavailable", "改一下不方便的日子"),
         "skill": ("skills", "添加专长"), "night": ("limits", "改一下不方便的情况"),
         "outdoor": ("limits", "改一下不方便的情况"), "hours": ("limits", "改一下每周能服务的时间"),
         "distance": ("radius", "扩大服务范围")}


@dataclass(frozen=True)
class Miss:
    """One reason a task is not suggested to a member."""

    code: str                     # a key of app.matching.score.EXCLUSIONS ("blocked": a date they blocked)
    fact: str                     # the fact, to the member
    fix_step: str | None = None   # the page of their profile that changes it, if they can
    fix_label: str = ""


# An organizer may invite a member anyway past these alone (仍然邀请): a usual time or a distance is
# the member's habit, and the member still decides. Limits they set for their health, dates they
# blocked and clashes stay hard.
OVERRIDABLE = frozenset({"time", "distance"})

# How the organizer's candidates page heads each group of near misses: 另有 2 人专长符合，但时间不合适.
GROUPS = {"time": "时间不合适", "blocked": "那几天本人不方便", "distance": "路程超出范围",
          "capacity": "活动强度超出身体状况", "night": "晚上不方便", "outdoor": "不参加户外活动",
          "hours": "超出每周能服务的时间", "busy": "和已答应的服务时间冲突", "invitations": "还有未回复的邀请"}


def misses(task: TaskFacts, member: MemberFacts, *, you: str = "您") -> list[Miss]:
    """Every reason this task is not on the member's list, each said as a fact about the task, to
    the member (`you` = 您) or about them (本人, on the organizer's pages)."""
    return [describe(code, task, member, you=you) for code in miss_codes(task, member)]


def miss_codes(task: TaskFacts, member: MemberFacts) -> tuple[str, ...]:
    """The codes of misses(), without saying them: enough to count and sort near misses."""
    return tuple(code for code in exclusions(task, member) if code not in NOT_ABOUT_THE_TASK)


def describe(code: str, task: TaskFacts, member: MemberFacts, *, you: str = "您") -> Miss:
    if code == "time":
        slots = sorted({(start.weekday(), period_of(start)) for start, _ in task.sessions})
        if all(member.availability_mask & slot_bit(d, p) for d, p in slots):
            return _fix("blocked", f"在{you}说不方便的日子里")
        if len(task.sessions) == 1:
            start = task.sessions[0][0]
            when = f"{start.month}月{start.day}日{WEEKDAYS[start.weekday()]}{PERIODS[period_of(start)]}"
        else:
            when = "、".join(f"{WEEKDAYS[d]}{PERIODS[p]}" for d, p in slots[:3]) + ("等" if len(slots) > 3 else "")
        return _fix("time", f"{when}，和{you}勾选的时间不同")
    if code == "distance":
        d = distance_km(task, member) or 0.0
        if member.radius_km <= task.radius_km:
            return _fix("distance", f"离家 {format_km(d)}，比{you}愿意去的 {member.radius_km:g} 公里远")
        return Miss(code, f"离家 {format_km(d)}，超出这项服务的 {task.radius_km:g} 公里范围")
    if code == "skill":
        lacking = [f"“{task.skill_names.get(s, '专长')}”（{LEVELS[lv]}以上）" for s, lv in task.required.items()
                   if member.skills.get(s, 0) < lv]
        return _fix("skill", "需要专长" + "、".join(lacking))
    if code == "capacity":
        demand = next(c for c in Capacity if c.rank == task.demand)
        return Miss(code, f"活动强度是“{demand.label}”，超出{you}说的身体状况")
    if code == "night":
        return _fix("night", f"在晚上，{you}说过晚上不方便")
    if code == "outdoor":
        return _fix("outdoor", f"在户外，{you}说过不参加户外活动")
    if code == "hours":
        return _fix("hours", f"每周要 {task.weekly_hours:g} 小时，比{you}说的每周最多 {member.max_hours_week} 小时多")
    if code == "busy":
        return Miss(code, f"和{you}已经答应的服务时间冲突")
    if code == "invitations":
        return Miss(code, f"{you}还有 {member.open_invitations} 个邀请没回复")
    raise ValueError(code)


def _fix(code: str, fact: str) -> Miss:
    step, label = FIXES[code]
    return Miss(code, fact, step, label)
