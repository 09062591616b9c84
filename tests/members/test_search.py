import re

from sqlalchemy import func, select

from app.members import pool
from app.members import search as search_module
from app.members.models import Capacity, MemberStatus, PoolLevel, slot_bit
from app.members.search import MemberFilter, search, search_ids
from app.organizations.models import OrganizationKind


def found(db, actor, **kw):
    return {m.user.name for m in db.session.scalars(search(actor, MemberFilter(**kw)))}


def test_search_filters_combine(db, create_member, create_admin):
    admin = create_admin("410000")
    create_member(name="甲", county="410104", skills={"法律咨询": 3}, capacity=Capacity.LIGHT,
                  availability_mask=slot_bit(1, 0))
    create_member(name="乙", county="410104", skills={"法律咨询": 1}, capacity=Capacity.HEAVY,
                  availability_mask=slot_bit(2, 1))
    create_member(name="丙", county="411326", skills={"河道巡护": 2}, capacity=Capacity.HEAVY)
    from sqlalchemy import select

    from app.members.models import Skill

    law = db.session.scalar(select(Skill.id).where(Skill.name == "法律咨询"))
    assert found(db, admin, skill_id=law) == {"甲", "乙"}
    assert found(db, admin, skill_id=law, min_level=3) == {"甲"}
    assert found(db, admin, free=(1, 0)) == {"甲", "丙"}          # 丙 is free all week
    assert found(db, admin, capacity=Capacity.HEAVY) == {"乙", "丙"}
    assert found(db, admin, region_prefix="411326") == {"丙"}
    assert found(db, admin, name="甲") == {"甲"}


def test_search_by_distance_orders_nearest_first(db, create_member, create_admin):
    admin = create_admin("410000")
    create_member(name="管城", county="410104")
    create_member(name="金水", county="410105")
    create_member(name="淅川", county="411326")
    guancheng = (34.7554, 113.6714)
    names = [m.user.name for m in db.session.scalars(search(admin, MemberFilter(near=guancheng, within_km=20)))]
    assert names == ["管城", "金水"]
    everyone = [m.user.name for m in db.session.scalars(search(admin, MemberFilter(near=guancheng)))]
    assert everyone[-1] == "淅川"


def test_search_by_pool_level(db, create_member, create_admin):
    admin = create_admin("410000")
    member = create_member(name="入库的")
    create_member(name="未入库的")
    entry = pool.apply(actor=member.user, member=member)
    pool.decide(actor=admin, entry=entry, approve=True)
    assert found(db, admin, pool_level=PoolLevel.COUNTY) == {"入库的"}
    assert found(db, admin, pool_level=PoolLevel.CITY) == set()


def test_search_page_with_every_filter(client, login, create_admin, create_member):
    create_member(name="甲", county="410104", skills={"法律咨询": 3})
    login(create_admin("410000"))
    html = client.get("/pool/", query_string={"near": "管城回族区", "within_km": "10", "free": "1-0",
                                              "capacity": "light", "min_level": "2"}).get_data(as_text=True)
    assert "甲" in html and ("公里" in html or " 米" in html)
    bad = client.get("/pool/", query_string={"near": "火星基地", "free": "9-9", "skill": "abc", "within_km": "x"})
    assert bad.status_code == 200 and "没有认出这个地方" in bad.get_data(as_text=True)


def test_search_pages_hold_each_member_once_in_order(client, login, create_org, create_user, create_member):
    """An organizer's search pages through their branch's members, by county then in order of
    registration, 20 to a page, each member once; another branch's members are not there."""
    branch = create_org(kind=OrganizationKind.PARTY_BRANCH)
    organizer = create_user(name="书记", roles=[("organizer", branch)])
    names = [f"队员{(i * 7) % 23:02d}" for i in range(23)]    # registered in another order than by name
    for i, name in enumerate(names):
        create_member(name=name, county="410105" if i % 2 else "410104", branch=branch)
    create_member(name="别的支部", county="410104", branch=create_org(kind=OrganizationKind.PARTY_BRANCH))
    login(organizer)
    pages = [client.get("/pool/", query_string={"page": n}).get_data(as_text=True) for n in (1, 2)]
    assert all("共找到 23 人" in page for page in pages)
    shown = [re.findall(r'>(队员\d\d)</a>', page) for page in pages]
    assert [len(p) for p in shown] == [20, 3]
    expected = names[0::2] + names[1::2]     # 410104's members first, then 410105's
    assert shown[0] + shown[1] == expected
    assert "别的支部" not in pages[0] + pages[1]
    # A page past the last match (an old link) says how many there are, and lists nobody.
    past = client.get("/pool/", query_string={"page": 3}).get_data(as_text=True)
    assert "共找到 23 人" in past and not re.findall(r'>(队员\d\d)</a>', past)
    nobody = client.get("/pool/", query_string={"q": "没有这个人"}).get_data(as_text=True)
    assert "共找到 0 人" in nobody and "没有找到符合条件的老同志" in nobody


def test_a_search_counts_up_to_its_cap(monkeypatch, client, login, create_admin, create_member):
    """A province admin's search counts at most COUNT_CAP matches and says "more than" beyond it."""
    monkeypatch.setattr(search_module, "COUNT_CAP", 4)
    for i in range(6):
        create_member(name=f"上限{i}")
    login(create_admin("410000"))
    html = client.get("/pool/", query_string={"q": "上限", "page": 1}).get_data(as_text=True)
    assert "共找到超过 4 人" in html
    assert len(re.findall(r'>上限\d</a>', html)) == 4
    assert "共找到 1 人" in client.get("/pool/", query_string={"q": "上限5"}).get_data(as_text=True)
    # A page past the cap shows the last counted page rather than members beyond it.
    assert len(re.findall(r'>上限\d</a>', client.get("/pool/", query_string={"q": "上限", "page": 9}).get_data(
        as_text=True))) == 4


def test_a_page_of_the_search_finds_what_the_export_finds(db, create_org, create_user, create_member, create_admin,
                                                         skill_ids):
    """The page's search reads each reach of the actor's scope apart and merges them
    (search_ids); the export asks their OR (search). Both find the same members, each once:
    a member of the organizer's branch whom they also registered, a member they registered in
    another branch, never a deleted one or one of a branch they do not organize."""
    branch, other = create_org(kind=OrganizationKind.PARTY_BRANCH), create_org(kind=OrganizationKind.PARTY_BRANCH)
    organizer = create_user(name="书记", roles=[("organizer", branch)])
    own = create_member(name="本支部", branch=branch, skills={"法律咨询": 1})
    both = create_member(name="本支部代登记", county="410105", branch=branch, skills={"法律咨询": 3})
    away = create_member(name="别支部代登记", county="411326", branch=other, skills={"法律咨询": 2})
    create_member(name="别的支部", branch=other, skills={"法律咨询": 3})
    gone = create_member(name="已注销", branch=branch, skills={"法律咨询": 3})
    lone = create_member(name="无支部代登记", county="410103")     # no branch: not left out as "another reach's"
    both.registered_by_id = away.registered_by_id = lone.registered_by_id = organizer.id
    gone.status = MemberStatus.DELETED
    db.session.commit()
    law = skill_ids["法律咨询"]

    def by_page(actor, flt):
        return list(db.session.scalars(search_ids(actor, flt)))

    def by_export(actor, flt):
        return [m.id for m in db.session.scalars(search(actor, flt))]

    assert by_page(organizer, MemberFilter()) == [lone.id, own.id, both.id, away.id]     # by county, then by id
    assert by_page(organizer, MemberFilter(skill_id=law, min_level=2)) == [both.id, away.id]
    assert by_page(organizer, MemberFilter(skill_id=law, min_level=3, region_prefix="4101")) == [both.id]
    assert by_page(organizer, MemberFilter(name="代登记", capacity=Capacity.LIGHT)) == [lone.id, both.id, away.id]
    city = create_admin("410100")
    every = [MemberFilter(), MemberFilter(skill_id=law), MemberFilter(skill_id=law, min_level=3),
             MemberFilter(region_prefix="410105"), MemberFilter(name="支部"), MemberFilter(free=(1, 0)),
             MemberFilter(near=(34.7554, 113.6714), within_km=30)]
    for actor in (organizer, city, create_admin("410000"), create_user(name="无权限")):
        for flt in every:
            assert by_page(actor, flt) == by_export(actor, flt), (actor.name, flt)
    assert not by_page(create_user(name="无权限"), MemberFilter())
    assert gone.id not in by_export(create_admin("410000"), MemberFilter())
    assert db.session.scalar(select(func.count()).select_from(search_ids(organizer, MemberFilter()).subquery())) == 4
