"""Hours proposed from attendance. Pure: times in, hours out.

From check-in to check-out, capped at the session's length (travel is not service: the times
are taken in the room), rounded to the nearest half hour (a quarter hour rounds up), and never
more than the session's own length (a session of 1 h 50 min gives at most 1.83 h). Without a
check-out the session's end stands in for it; without a check-in nothing is proposed."""

from __future__ import annotations

from datetime import datetime

HALF_HOUR_SECONDS = 1800


def round_half_hours(seconds: float) -> float:
    """Seconds as hours to the nearest 0.5, halves up: 44 min → 0.5, 45 min → 1.0."""
    if seconds <= 0:
        return 0.0
    return int(seconds / HALF_HOUR_SECONDS + 0.5) / 2


def propose(*, checked_in: datetime | None, checked_out: datetime | None, starts: datetime,
            ends: datetime) -> float | None:
    """The hours a check-in and check-out stand for at a session from `starts` to `ends`, or None
    when the member did not check in."""
    if checked_in is None:
        return None
    out = checked_out if checked_out is not None else max(ends, checked_in)
    served = max(0.0, (out - checked_in).total_seconds())
    return min(round_half_hours(served), round((ends - starts).total_seconds() / 3600, 2))
