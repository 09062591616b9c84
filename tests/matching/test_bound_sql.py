"""The score is defined once (app.matching.score); its bound from an index row is one linear form
(app.matching.bound.Terms) that the Python loop and the SQL bound both take their coefficients
from. tests/tasks/test_matching.py holds QuickJudge's bound to score() (never below it, equal to it
when nothing outside the index counts); this holds the SQL bound, as the index query computes it,
to QuickJudge's: never below it, and above it by no more than the flat-earth distance's margin.
Any of the three drifting from the others fails one of these tests."""

import math
from dataclasses import replace

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from app.matching.bound import HEADROOM, SQL_HEADROOM, IndexRow, QuickJudge
from app.matching.facts import WIDENED_REACH_KM
from app.matching.query import INDEX, executable, index_shape
from app.matching.regions import Reach, anchor_skill
from app.matching.score import WEIGHTS
from app.members.index import band_of
from app.regions.geo import flat_distance_margin
from app.tasks.models import Task
from tests.tasks import test_matching as pure

COUNTY = "410102"


@pytest.fixture(scope="module")
def index_db(app):
    """The index table alone, in a database of its own (the test draws hundreds of members); the
    statement is built in the app's context (on the app's database, as matching builds it)."""
    engine = sa.create_engine("sqlite://")
    INDEX.create(engine)
    with app.app_context(), engine.connect() as connection:
        yield connection
    engine.dispose()


def _sql_and_python_bounds(connection, t, m, reach: Reach) -> tuple[float, float] | None:
    """The bound the index query computes for member `m`'s row, and QuickJudge's for the same
    row; None when either leaves the member out."""
    anchor = anchor_skill(t)
    judge = QuickJudge(t, anchor)
    connection.execute(INDEX.delete())
    if not m.skills:
        return None         # no row in the index
    connection.execute(INDEX.insert(), [
        {"skill_id": skill_id, "member_id": m.member_id, "level": level, "capacity": m.capacity, "lat": m.lat,
         "lon": m.lon, "band": band_of(m.lat), "radius_km": m.radius_km, "availability_mask": m.availability_mask,
         "limits": (1 if m.no_night else 0) | (2 if m.no_outdoor else 0), "hours_cap": m.max_hours_week or 168,
         "pool_rank": m.pool_rank, "pool_city": "", "region_code": COUNTY, "has_facts": False}
        for skill_id, level in m.skills.items()])
    shape, params = index_shape(Task(region_code=COUNTY), t, judge, [reach], set(), 100, None)
    if "p0_skills" in params:       # no anchor: every skill (the app's database has its own)
        params["p0_skills"] = sorted(m.skills) or [0]
    statement, values = executable(replace(shape, array=False), params)   # this database takes no arrays
    rows = connection.execute(statement, values).all()
    if not rows:
        return None
    assert len(rows) == 1
    judged = judge.bounds([IndexRow.read(rows[0], len(judge.extra))], widened={m.member_id} if reach.widened else ())
    return (rows[0].bound, judged[0][0]) if judged else None


@settings(max_examples=400, deadline=None)
@given(t=pure.tasks_strategy, m=pure.members_strategy, radius=st.sampled_from([1, 5, 10, 30]),
       kind=st.sampled_from(["near", "talents", "talents far"]), fraction=st.floats(0, 1.5),
       bearing=st.floats(0, 2 * math.pi), no_night=st.booleans(), max_hours=st.sampled_from([None, 2, 40]))
def test_the_sql_bound_is_quickjudges(index_db, t, m, radius, kind, fraction, bearing, no_night, max_hours):
    if t.remote:
        t = replace(t, lat=None, lon=None)
    widened = kind != "near"
    reach_km = WIDENED_REACH_KM if widened else min(radius, t.radius_km)
    km = fraction * reach_km
    lat = pure.ZHENGZHOU[0] + km * math.cos(bearing) / 111.195
    lon = pure.ZHENGZHOU[1] + km * math.sin(bearing) / (111.195 * math.cos(math.radians(lat)))
    m = replace(m, lat=lat, lon=lon, radius_km=radius, no_night=no_night, max_hours_week=max_hours,
                pool_rank=3 if widened else m.pool_rank)
    if t.remote:
        reach = Reach("talents", "province") if widened else Reach("county")
    elif kind == "talents far":
        reach = Reach("talents", "province", beyond_km=WIDENED_REACH_KM)
    else:
        reach = Reach(kind, "province" if widened else None, within_km=reach_km * 1.5)
    bounds = _sql_and_python_bounds(index_db, t, m, reach)
    if bounds is None:
        return
    sql, python = bounds
    # The SQL shortens the flat-earth distance by the margin for the farthest row of the search.
    margin_km = WIDENED_REACH_KM if widened else t.radius_km
    distance_margin = 0.0 if t.remote else 2 * WEIGHTS["distance"] * flat_distance_margin(t.lat, margin_km)
    assert python <= sql <= python + SQL_HEADROOM - HEADROOM + distance_margin + 1e-9


def test_the_sql_bound_of_one_member_by_hand(index_db):
    """A member 0 km from a task, every session free, no pool: the bound is the score's parts at
    their best (fairness in full, the distance in full)."""
    t = pure.task(required={pure.LAW: 2}, radius_km=10)
    m = pure.member(km_north=0.0, skills={pure.LAW: 3}, pool_rank=0)
    sql, python = _sql_and_python_bounds(index_db, t, m, Reach("near", within_km=10))
    expected = sum(WEIGHTS[k] for k in ("skill", "distance", "availability", "fairness"))
    assert python == pytest.approx(expected + HEADROOM, abs=1e-12)
    assert sql == pytest.approx(expected + SQL_HEADROOM, abs=1e-12)
