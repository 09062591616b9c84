"""An empty list of tasks near me says how many tasks are around and shows the nearest near misses
(near_me.surroundings): the same count and the same first near misses as judging every task around
(near_me.around), though it judges only the nearest until it has found enough."""

import pytest

from app.matching import near_me
from app.members.models import Capacity
from tests.matching.test_near_misses import MORNINGS, _next


@pytest.fixture
def surrounded(create_task, create_member, create_org):
    """A member in 管城 (radius 10 km: around is 20 km) and tasks around, none of which fits them."""
    afternoon = _next(2, 15)

    def at(county: str, title: str, **fields):
        return create_task(org=create_org(county=county), title=title, **fields).id

    tasks = {
        "中原·时间": at("410102", "中原·时间", skills={"课业辅导": 1}, when=afternoon),      # ~6 km, one miss
        "管城·两处不合": at("410104", "管城·两处不合", skills={"法律咨询": 2}, when=afternoon),  # here, two misses
        "二七·专长": at("410103", "二七·专长", skills={"法律咨询": 2}),                       # ~4 km
        "惠济·又远又缺专长": at("410108", "惠济·又远又缺专长", skills={"法律咨询": 2}),          # ~14 km: two
        "金水·时间": at("410105", "金水·时间", skills={"课业辅导": 1}, when=afternoon),       # ~5 km
        "管城·线上": at("410104", "管城·线上", skills={"法律咨询": 2}, remote=True),          # online: no distance
        "中牟·太远": at("410122", "中牟·太远", skills={"法律咨询": 2}),                       # ~27 km: not around
        "二七·强度": at("410103", "二七·强度", skills={"课业辅导": 1}, demand=Capacity.HEAVY),  # as far as 二七·专长
        "中原·专长": at("410102", "中原·专长", skills={"法律咨询": 2}),                       # the sixth near miss
    }
    member = create_member(county="410104", skills={"课业辅导": 3}, availability_mask=MORNINGS, radius_km=10)
    return member, tasks


# The near misses, nearest first (the same distance: in the order they were posted).
NEAREST_FIRST = ["管城·线上", "二七·专长", "二七·强度", "金水·时间", "中原·时间", "中原·专长"]


@pytest.mark.parametrize("at_once", [1, 2, 16])
@pytest.mark.parametrize("limit", [1, 3, 5, 6, 9])
def test_the_count_and_the_nearest_near_misses_are_those_of_every_task_judged(
        db, surrounded, monkeypatch, at_once, limit):
    member, tasks = surrounded
    monkeypatch.setattr(near_me, "JUDGED_AT_ONCE", at_once)
    everything = near_me.around(member)
    assert near_me.tasks_near(member) == []
    count, near_misses = near_me.surroundings(member, limit=limit)
    assert count == len(everything) == 8
    assert [n.task_id for n in near_misses] == [n.task_id for n in everything if n.near_miss][:limit]
    assert [n.task_id for n in near_misses] == [tasks[title] for title in NEAREST_FIRST][:limit]
    assert [n.task.title for n in near_misses] == NEAREST_FIRST[:limit]     # loaded with their tasks
    assert all(len(n.misses) == 1 for n in near_misses)


def test_the_empty_list_page_counts_them_and_shows_the_nearest_five(client, login, surrounded):
    member, _ = surrounded
    login(member.user)
    html = client.get("/my/tasks").get_data(as_text=True)
    assert "您家附近有 8 项正在招募的服务，但都有和您的情况不合的地方" in html
    shown = [title for title in NEAREST_FIRST + ["管城·两处不合", "惠济·又远又缺专长", "中牟·太远"] if title in html]
    assert shown == NEAREST_FIRST[:5]
    positions = [html.index(title) for title in shown]
    assert positions == sorted(positions)


def test_nothing_judged_when_nothing_is_around(db, create_member):
    member = create_member(county="410104", skills={"课业辅导": 3})
    assert near_me.surroundings(member) == (0, [])


def test_only_the_nearest_tasks_are_judged(db, surrounded, monkeypatch):
    member, _ = surrounded
    monkeypatch.setattr(near_me, "JUDGED_AT_ONCE", 2)
    judged: list[int] = []
    read = near_me.task_facts_of
    monkeypatch.setattr(near_me, "task_facts_of", lambda rows: judged.append(len(rows)) or read(rows))
    count, near_misses = near_me.surroundings(member, limit=3)
    assert (count, len(near_misses)) == (8, 3)
    assert judged == [2, 2]     # 线上 and 二七·专长, then 二七·强度 and 金水·时间: the third near miss
