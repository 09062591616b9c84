"""What matching knows about a task and a member, and what it says about one suggestion. Pure:
no database, no Flask (app.matching.gather reads these facts from the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property

from app.clock import period_of

WIDENED_REACH_KM = 100.0    # how far a pool talent reached by a widened search travels


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
            year, week, _ = start.isocalendar()
            weeks[(year, week)] = weeks.get((year, week), 0) + (end - start).total_seconds() / 3600
        return max(weeks.values(), default=0.0)

    @cached_property
    def specialist(self) -> bool:
        return any(level >= 3 for level in self.required.values())

    @property
    def onsite(self) -> bool:
        """Whether distance counts: an onsite task with a place."""
        return not self.remote and self.lat is not None


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

    def order(self) -> tuple[float, float, int]:
        """How suggestions are ranked: best score first, then the nearest, then by id."""
        return -self.score, self.distance_km if self.distance_km is not None else 1e9, self.member_id
