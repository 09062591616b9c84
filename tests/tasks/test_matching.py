"""The pure matching module: every hard filter, the score's reasons, and its properties."""

import math
from dataclasses import replace
from datetime import date, datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.matching.bound import QuickJudge
from app.matching.facts import MemberFacts, TaskFacts
from app.matching.score import exclusion, rank, score
from app.members.models import slot_bit

LAW, TEACH, RIVER = 1, 2, 3
NAMES = {LAW: "法律咨询", TEACH: "课业辅导", RIVER: "河道巡护"}
TUESDAY_MORNING = (datetime(2027, 3, 2, 9, 0), datetime(2027, 3, 2, 11, 30))   # 2 March 2027 is a Tuesday
ALL_WEEK = (1 << 21) - 1
ZHENGZHOU = (34.7554, 113.6714)


def task(**kw) -> TaskFacts:
    values = dict(remote=False, lat=ZHENGZHOU[0], lon=ZHENGZHOU[1], radius_km=10, required={LAW: 2},
                  sessions=(TUESDAY_MORNING,), skill_names=NAMES, organization_id=7)
    values.update(kw)
    return TaskFacts(**values)


def member(member_id=1, km_north=1.0, **kw) -> MemberFacts:
    values = dict(member_id=member_id, lat=ZHENGZHOU[0] + km_north / 111.2, lon=ZHENGZHOU[1], radius_km=10,
                  skills={LAW: 3}, capacity=2, availability_mask=ALL_WEEK)
    values.update(kw)
    return MemberFacts(**values)


# --- every hard filter --------------------------------------------------------------------------

def test_an_eligible_member_passes():
    assert exclusion(task(), member()) is None


def test_consent_is_required():
    assert exclusion(task(), member(consent=False)) == "没有同意保存敏感信息"


def test_paused_members_are_left_out():
    assert exclusion(task(), member(active=False)) == "暂停参加"


def test_members_already_on_the_task_or_who_declined_it_are_left_out():
    assert exclusion(task(), member(on_task=True)).startswith("已在这项服务中")


def test_a_missing_required_skill_or_level_excludes():
    assert exclusion(task(), member(skills={TEACH: 3})) == "缺少所需专长"
    assert exclusion(task(), member(skills={LAW: 1})) == "缺少所需专长"
    assert exclusion(task(required={LAW: 2, TEACH: 1}), member(skills={LAW: 3})) == "缺少所需专长"


def test_capacity_must_meet_the_demand():
    assert exclusion(task(demand=3), member(capacity=2)) == "活动强度超出身体状况"


def test_night_and_outdoor_limits():
    evening = (datetime(2027, 3, 2, 19, 0), datetime(2027, 3, 2, 21, 0))
    assert exclusion(task(sessions=(evening,)), member(no_night=True)) == "晚上不方便"
    assert exclusion(task(outdoor=True), member(no_outdoor=True)) == "不参加户外活动"


def test_weekly_hours_limit():
    long_day = (datetime(2027, 3, 2, 8, 0), datetime(2027, 3, 2, 17, 0))
    assert exclusion(task(sessions=(long_day,)), member(max_hours_week=6)) == "超出每周可服务的时间"


def test_distance_within_the_smaller_radius_onsite_only():
    assert exclusion(task(), member(km_north=12)) == "超出服务范围"
    assert exclusion(task(radius_km=20), member(km_north=12, radius_km=10)) == "超出服务范围"
    assert exclusion(task(radius_km=20), member(km_north=12, radius_km=20)) is None
    assert exclusion(task(remote=True, lat=None, lon=None), member(km_north=300)) is None


def test_availability_of_the_sessions():
    assert exclusion(task(), member(availability_mask=slot_bit(1, 1))) == "这些时间没有空"   # Tuesday afternoon only
    assert exclusion(task(), member(unavailable=((date(2027, 3, 1), date(2027, 3, 5)),))) == "这些时间没有空"


def test_a_clash_with_an_accepted_task():
    clash = (datetime(2027, 3, 2, 10, 0), datetime(2027, 3, 2, 12, 0))
    assert exclusion(task(), member(busy=(clash,))) == "与已答应的服务时间冲突"
    back_to_back = (datetime(2027, 3, 2, 11, 30), datetime(2027, 3, 2, 12, 0))
    assert exclusion(task(), member(busy=(back_to_back,))) is None


def test_the_cap_of_open_invitations():
    assert exclusion(task(), member(open_invitations=3)) == "还有未回复的邀请"
    assert exclusion(task(), member(open_invitations=2)) is None


# --- the score and its reasons ------------------------------------------------------------------

def test_reasons_read_as_plain_chinese():
    s = score(task(), member(km_north=2.3, hours_30d=4, pool_rank=2))
    assert s.reasons[0] == "法律咨询·精通"
    assert "2.3 公里" in s.reasons
    assert "3月2日周二上午有空" in s.reasons
    assert "近一个月服务 4 小时" in s.reasons and "市级人才库" in s.reasons
    assert s.reason_text.count(" · ") == len(s.reasons) - 1


def test_remote_tasks_say_so():
    assert "线上服务，不用出门" in score(task(remote=True, lat=None, lon=None), member()).reasons


def test_partial_availability_is_explained():
    weekly = tuple((datetime(2027, 3, d, 9), datetime(2027, 3, d, 11)) for d in (2, 9, 16, 23))
    s = score(task(sessions=weekly), member(unavailable=((date(2027, 3, 9), date(2027, 3, 9)),)))
    assert "4 次中 3 次有空" in s.reason_text and s.parts["availability"] == 0.75


def test_fairness_declines_and_open_invitations_hold_members_back():
    fresh, busy = score(task(), member(hours_30d=0)), score(task(), member(hours_30d=20))
    assert fresh.score > busy.score
    assert score(task(), member(declined_org_recently=True)).score < fresh.score
    assert score(task(), member(open_invitations=1)).score < fresh.score


def test_pool_level_counts_only_for_specialist_tasks():
    assert score(task(required={LAW: 3}), member(pool_rank=3)).score > score(task(required={LAW: 3}), member()).score
    assert score(task(required={LAW: 1}), member(pool_rank=3)).score == score(task(required={LAW: 1}), member()).score


def test_rank_orders_and_limits():
    members = [member(i, km_north=i) for i in range(1, 9)]
    ranked = rank(task(), members, limit=3)
    assert [s.member_id for s in ranked] == [1, 2, 3]


# --- properties ---------------------------------------------------------------------------------

members_strategy = st.builds(
    member, member_id=st.integers(1, 10_000), km_north=st.floats(0, 9.9),
    skills=st.dictionaries(st.sampled_from([LAW, TEACH, RIVER]), st.integers(1, 3), max_size=3),
    capacity=st.integers(1, 3), availability_mask=st.integers(0, ALL_WEEK), hours_30d=st.floats(0, 60),
    pool_rank=st.integers(0, 3), open_invitations=st.integers(0, 4), declined_org_recently=st.booleans())


@settings(max_examples=200)
@given(m=members_strategy, nearer=st.floats(0, 9.9), further=st.floats(0, 9.9))
def test_closer_never_ranks_lower_all_else_equal(m, nearer, further):
    nearer, further = sorted((nearer, further))
    a = replace(m, member_id=1, lat=ZHENGZHOU[0] + nearer / 111.2)
    b = replace(m, member_id=2, lat=ZHENGZHOU[0] + further / 111.2)
    t = task()
    if exclusion(t, a) is None and exclusion(t, b) is None:
        assert score(t, a).score >= score(t, b).score
        assert rank(t, [b, a])[0].member_id == 1


@settings(max_examples=150)
@given(members=st.lists(members_strategy, max_size=20), required=st.dictionaries(
    st.sampled_from([LAW, TEACH, RIVER]), st.integers(1, 3), min_size=1, max_size=2))
def test_a_member_lacking_a_required_skill_never_appears(members, required):
    members = [replace(m, member_id=i) for i, m in enumerate(members)]
    t = task(required=required)
    for suggestion in rank(t, members, limit=50):
        m = next(x for x in members if x.member_id == suggestion.member_id)
        assert all(m.skills.get(s, 0) >= level for s, level in required.items())


@given(m=members_strategy)
def test_declining_stops_further_invitations_to_that_task(m):
    declined = replace(m, on_task=True)   # a declined assignment stays on the task
    assert exclusion(task(), declined) is not None
    assert rank(task(), [declined]) == []


def _judged(t: TaskFacts, m: MemberFacts, anchor: int | None) -> float | None:
    """What the index step decides about a member, from the facts an index row carries."""
    return QuickJudge(t, anchor)(lat=m.lat, lon=m.lon, radius_km=m.radius_km, capacity=m.capacity,
                                 availability_mask=m.availability_mask,
                                 limits=(1 if m.no_night else 0) | (2 if m.no_outdoor else 0), pool_rank=m.pool_rank,
                                 skills=m.skills, hours_cap=m.max_hours_week or 168, widened=m.widened)


WEEKLY = tuple((datetime(2027, 3, 1 + 7 * w + d, h, 0), datetime(2027, 3, 1 + 7 * w + d, h + 2, 0))
               for w in range(3) for d, h in ((1, 9), (3, 19)))
tasks_strategy = st.builds(
    task, remote=st.booleans(), radius_km=st.sampled_from([3, 10, 30]), outdoor=st.booleans(),
    demand=st.integers(1, 3), sessions=st.sampled_from([(TUESDAY_MORNING,), WEEKLY, ()]),
    required=st.dictionaries(st.sampled_from([LAW, TEACH]), st.integers(1, 3), max_size=2),
    preferred=st.dictionaries(st.just(RIVER), st.integers(1, 3), max_size=1))


@settings(max_examples=200)
@given(t=tasks_strategy, m=members_strategy)
def test_a_score_without_reasons_is_the_same_score(t, m):
    # Scores are for members who passed the hard filters: these hold the skills, strength, time
    # and nearness any of the tasks asks for, and differ in the rest.
    m = replace(m, skills={**m.skills, LAW: 3, TEACH: 3}, capacity=3, open_invitations=min(m.open_invitations, 2),
                availability_mask=m.availability_mask | slot_bit(1, 0), lat=ZHENGZHOU[0] + (m.lat - ZHENGZHOU[0]) / 4)
    assert exclusion(t, m) is None
    explained, quiet = score(t, m), score(t, m, explain=False)
    assert quiet.reasons == [] and explained.reasons
    assert (quiet.score, quiet.parts, quiet.distance_km) == (explained.score, explained.parts, explained.distance_km)


@settings(max_examples=600)
@given(t=tasks_strategy, m=members_strategy, no_night=st.booleans(), no_outdoor=st.booleans(),
       radius=st.sampled_from([1, 5, 10, 30]), widened=st.booleans(), max_hours=st.sampled_from([None, 1, 2, 4]))
def test_the_index_step_drops_only_the_excluded_and_bounds_every_score(t, m, no_night, no_outdoor, radius, widened,
                                                                       max_hours):
    if t.remote:
        t = replace(t, lat=None, lon=None)
    m = replace(m, no_night=no_night, no_outdoor=no_outdoor, radius_km=radius, widened=widened,
                max_hours_week=max_hours)
    anchor = max(t.required, key=lambda s: (t.required[s], -s)) if t.required else None
    if anchor and m.skills.get(anchor, 0) < t.required[anchor]:
        return                                   # not in the index range read for this task
    bound = _judged(t, m, anchor)
    if exclusion(t, m) is None:
        assert bound is not None
        assert bound >= score(t, m).score
    if bound is None:
        assert exclusion(t, m) is not None


def test_the_index_step_drops_what_the_hard_filters_drop():
    assert _judged(task(demand=3), member(capacity=2), LAW) is None
    assert _judged(task(radius_km=10), member(km_north=12), LAW) is None
    assert _judged(task(radius_km=10), member(km_north=12, widened=True), LAW) is not None
    assert _judged(task(), member(availability_mask=ALL_WEEK & ~slot_bit(1, 0)), LAW) is None
    assert _judged(task(outdoor=True), member(no_outdoor=True), LAW) is None
    assert _judged(task(), member(max_hours_week=2), LAW) is None        # the session is 2.5 hours
    assert _judged(task(required={LAW: 2, TEACH: 1}), member(skills={LAW: 3}), LAW) is None
    assert _judged(task(), member(), LAW) >= score(task(), member()).score


@settings(max_examples=300)
@given(t=tasks_strategy, m=members_strategy, radius=st.sampled_from([1, 5, 10, 30]), widened=st.booleans())
def test_the_index_step_is_exact_when_nothing_outside_the_index_counts(t, m, radius, widened):
    """With no recent hours, invitations, refusals or blocked dates, the bound is the score: the
    skills a task asks for come with the index rows, so one small batch completes the list."""
    if t.remote:
        t = replace(t, lat=None, lon=None)
    m = replace(m, radius_km=radius, widened=widened, hours_30d=0.0, open_invitations=0, declined_org_recently=False)
    if exclusion(t, m) is not None:
        return
    anchor = max(t.required, key=lambda s: (t.required[s], -s)) if t.required else None
    assert abs(_judged(t, m, anchor) - 1e-6 - score(t, m).score) < 1e-6


@settings(max_examples=400)
@given(t=tasks_strategy.filter(lambda t: not t.remote), m=members_strategy, radius=st.sampled_from([1, 5, 10, 30]),
       widened=st.booleans(), fraction=st.floats(0, 1), bearing=st.floats(0, 2 * math.pi),
       margin=st.none() | st.floats(1e-5, 0.3), data=st.data())
def test_the_further_reads_hold_every_row_that_could_still_make_the_list(t, m, radius, widened, fraction, bearing,
                                                                          margin, data):
    """After the first tier, further() must reach every index row whose bound beats the
    floor (here just below the row's bound, the hardest case): a neighbour by a "near" region, a
    talent by a "talents" one."""
    from app.matching.regions import anchor_skill, first_tier, further

    skills = {s: data.draw(st.integers(least, 3)) for s, least in t.required.items()}
    skills.update({s: data.draw(st.integers(1, 3)) for s in t.preferred if data.draw(st.booleans())})
    km = fraction * (150 if widened else min(radius, t.radius_km))
    lat = t.lat + km * math.cos(bearing) / 111.195
    m = replace(m, radius_km=radius, widened=widened, lat=lat, skills=skills, capacity=3, availability_mask=ALL_WEEK,
                lon=t.lon + km * math.sin(bearing) / (111.195 * math.cos(math.radians(lat))))
    anchor = anchor_skill(t)
    level = m.skills.get(anchor, 0) if anchor else 1
    bound = _judged(t, m, anchor)
    assume(bound is not None)
    floor = None if margin is None else bound - margin
    kind = "talents" if widened else "near"
    further = further(t, QuickJudge(t, anchor), "province", floor)
    regions = [r for r in first_tier(t, "province") + further if r.kind == kind]
    assert any(r.holds(t, m.lat, m.lon, level) for r in regions)
