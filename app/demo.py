"""Demo data: Henan's real regions and places from the Henan Daily report, obviously fake people.

Every person is named 演示… and every number starts 199 0000: nobody real can be reached.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password
from app.clock import local_now, utcnow
from app.extensions import db
from app.members import pool
from app.members.models import Capacity, ConsentMethod, MemberProfile, PoolLevel, Skill, slot_bit
from app.members.services import ProfileData, SkillInput, proxy_register, register_member
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.regions.models import Region
from app.regions.services import load_gazetteer
from app.reports.summary import refresh as refresh_figures
from app.tasks import services as tasks
from app.tasks.models import Assignment, AssignmentStatus, ScheduleKind, ServiceRecord, Task, TaskCategory
from app.venues.demo import seed_bookings, seed_venues
from app.venues.models import Venue

DEMO_PASSWORD = "yinhui-demo-2026"

# (phone, name, role, scope) — scope is a region code for admins, an organization name otherwise.
ACCOUNTS = [
    ("19900000001", "演示·省委老干部局", Role.ADMIN, "410000"),
    ("19900000002", "演示·郑州市委老干部局", Role.ADMIN, "410100"),
    ("19900000003", "演示·管城回族区委老干部局", Role.ADMIN, "410104"),
    ("19900000004", "演示·淅川县委老干部局", Role.ADMIN, "411326"),
    ("19900000011", "演示·东关南里社区书记", Role.ORGANIZER, "东关南里社区"),
    ("19900000012", "演示·英雄山支部书记", Role.ORGANIZER, "新县英雄山党支部"),
    ("19900000021", "演示·王老师", Role.MEMBER, None),
    ("19900000022", "演示·李大夫", Role.MEMBER, None),
    ("19900000023", "演示·新来的老同志", Role.MEMBER, None),   # not registered in the pool yet
    ("19900000031", "演示·场地管理员", Role.VENUE_MANAGER, "管城回族区东大街街道老党员共享家园"),
]

# (name, kind, county code, address)
ORGANIZATIONS = [
    ("河南省委老干部局", OrganizationKind.BUREAU, "410105", "金水路"),
    ("郑州市委老干部局", OrganizationKind.BUREAU, "410102", "中原西路"),
    ("管城回族区委老干部局", OrganizationKind.BUREAU, "410104", "城东路"),
    ("淅川县委老干部局", OrganizationKind.BUREAU, "411326", "城关镇"),
    ("东关南里社区", OrganizationKind.COMMUNITY, "410104", "东大街街道东关南里"),
    ("东关南里社区离退休干部党支部", OrganizationKind.PARTY_BRANCH, "410104", "东大街街道东关南里"),
    ("锦绣江南小区离退休干部党支部", OrganizationKind.PARTY_BRANCH, "410611", "锦绣江南小区"),
    ("新县英雄山党支部", OrganizationKind.PARTY_BRANCH, "411523", "英雄山"),
    ("淅川县“保水质、护运行”志愿服务队", OrganizationKind.COMMUNITY, "411326", "丹江口水库库区"),
    ("开封市龙亭区县级离退休老干部党支部", OrganizationKind.PARTY_BRANCH, "410202", "龙亭区"),
    ("洛阳市老城区“夕阳红”党建共同体", OrganizationKind.PARTY_BRANCH, "410302", "老城区"),
    ("焦作市解放区花园街社区", OrganizationKind.COMMUNITY, "410802", "花园街"),
    ("商丘市梁园区“党建+”功能型党支部", OrganizationKind.PARTY_BRANCH, "411402", "梁园区"),
    ("郑州市老干部活动中心", OrganizationKind.VENUE_OPERATOR, "410105", "金水区"),
    ("管城回族区东大街街道党群服务中心", OrganizationKind.VENUE_OPERATOR, "410104", "东大街"),
    ("淅川县老干部活动中心", OrganizationKind.VENUE_OPERATOR, "411326", "城关镇"),
    ("开封市老干部活动中心", OrganizationKind.VENUE_OPERATOR, "410202", "龙亭区"),
    ("安阳市老干部活动中心", OrganizationKind.VENUE_OPERATOR, "410502", "文峰区"),
    ("焦作市老干部活动中心", OrganizationKind.VENUE_OPERATOR, "410802", "解放区"),
]


def _account(phone: str) -> User:
    """A demo account seed_demo() made."""
    return db.session.scalars(select(User).where(User.phone == phone)).one()


def seed_demo(*, if_empty: bool = False) -> bool:
    """Load regions and the demo accounts and organizations; running it again adds nothing."""
    if if_empty and db.session.scalar(select(func.count()).select_from(User)):
        return False
    if db.session.get(Region, "410000") is None:
        load_gazetteer()
    orgs = {}
    for name, kind, county, address in ORGANIZATIONS:
        org = db.session.scalar(select(Organization).where(Organization.name == name))
        if org is None:
            region = db.session.get_one(Region, county)
            org = Organization(name=name, kind=kind, region_code=county, address=address,
                               lat=region.lat, lon=region.lon, location_source=LocationSource.GAZETTEER)
            db.session.add(org)
        orgs[name] = org
    db.session.flush()
    password_hash = hash_password(DEMO_PASSWORD)
    for phone, name, role, scope in ACCOUNTS:
        user = db.session.scalar(select(User).where(User.phone == phone))
        if user is None:
            user = User(phone=phone, name=name, password_hash=password_hash, password_changed_at=utcnow())
            db.session.add(user)
        if role is Role.ADMIN and not any(g.role is Role.ADMIN for g in user.grants):
            user.grants.append(RoleGrant(role=Role.ADMIN, region_code=scope))
        elif role is Role.ORGANIZER and not any(g.role is Role.ORGANIZER for g in user.grants):
            user.grants.append(RoleGrant(role=Role.ORGANIZER, organization_id=orgs[str(scope)].id))
        elif role is Role.MEMBER and not user.has_role(Role.MEMBER):
            user.grants.append(RoleGrant(role=Role.MEMBER))
    db.session.flush()
    seed_members()
    db.session.flush()
    seed_tasks()
    db.session.flush()
    seed_venues(orgs)
    for phone, _name, role, scope in ACCOUNTS:
        if role is Role.VENUE_MANAGER:
            user = _account(phone)
            venue = db.session.scalars(select(Venue).where(Venue.name == scope)).one()
            if not any(g.role is Role.VENUE_MANAGER and g.venue_id == venue.id for g in user.grants):
                user.grants.append(RoleGrant(role=Role.VENUE_MANAGER, venue_id=venue.id))
    db.session.flush()
    seed_bookings()
    refresh_figures()    # in the seeding transaction: the dashboards show the demo's figures at once, not after the first hourly refresh
    return True


# Members registered by proxy: (name, county, address, skills {name: level}, consent)
DEMO_MEMBERS = [
    ("演示·张大爷", "410104", "郑州市管城回族区东大街", {"矛盾纠纷调解": 3, "法律咨询": 2}, True),
    ("演示·刘阿姨", "410104", "郑州市管城回族区城东路", {"邻里互助": 3, "智能手机教学": 2}, True),
    ("演示·陈老师", "410105", "郑州市金水区经三路", {"党史宣讲": 3, "微党课": 3}, True),
    ("演示·杨工", "410102", "郑州市中原区建设路", {"工程技术咨询": 3, "房屋安全排查": 2}, True),
    ("演示·赵大夫", "410103", "郑州市二七区大学路", {"健康咨询": 3, "急救知识普及": 3}, False),
    ("演示·孙队长", "411326", "南阳市淅川县城关镇", {"河道巡护": 3, "水质监测": 2}, True),
    ("演示·周站长", "411326", "南阳市淅川县九重镇", {"水质监测": 3, "植树造林": 2}, True),
    ("演示·吴支书", "411523", "信阳市新县新集镇", {"红色故事讲述": 3, "党史宣讲": 3}, True),
    ("演示·郑技术员", "411523", "信阳市新县八里畈镇", {"种植技术": 3, "农产品营销": 2}, True),
    ("演示·冯会计", "410611", "鹤壁市淇滨区锦绣江南小区", {"集体经济账目审核": 3, "物业纠纷协调": 2}, True),
]


def seed_members() -> None:
    """The two demo members who log in, and ten more registered by proxy, some in the pool."""
    skills = dict(db.session.execute(select(Skill.name, Skill.id)).all())
    weekdays = sum(slot_bit(d, p) for d in range(5) for p in (0, 1))

    def profile(name, county, address, wanted, consent, capacity=Capacity.MODERATE):
        return ProfileData(name=name, county_code=county, address=address, consent=consent,
                           capacity=capacity if consent else None, availability_mask=weekdays, radius_km=10,
                           birth_year=1953, skills=[SkillInput(skills[s], lv) for s, lv in wanted.items()])

    province = _account("19900000001")
    guancheng = _account("19900000003")
    wang = _account("19900000021")
    li = _account("19900000022")
    if db.session.get(MemberProfile, wang.id) is None:
        member = register_member(actor=wang, data=profile("演示·王老师", "410104", "郑州市管城回族区东大街",
                                                          {"课业辅导": 3, "书法教学": 2}, True))
        entry = pool.apply(actor=wang, member=member, reason="想给社区的孩子辅导功课")
        pool.decide(actor=guancheng, entry=entry, approve=True)
    if db.session.get(MemberProfile, li.id) is None:
        member = register_member(actor=li, data=profile("演示·李大夫", "410104", "郑州市管城回族区城东路",
                                                        {"健康咨询": 3, "中医养生": 2}, True, Capacity.LIGHT))
        pool.apply(actor=li, member=member, reason="退休医生，愿意做健康讲座")
    existing = set(db.session.scalars(select(User.name).join(MemberProfile, MemberProfile.id == User.id)))
    for i, (name, county, address, wanted, consent) in enumerate(DEMO_MEMBERS):
        if name in existing:
            continue
        member, _code = proxy_register(actor=province, phone=None, data=profile(name, county, address, wanted, consent),
                                       consent_method=ConsentMethod.PAPER if consent else None)
        if i % 2 == 0:
            entry = pool.nominate(actor=province, member=member, level=PoolLevel.COUNTY, reason="支部推荐")
            pool.decide(actor=province, entry=entry, approve=True)


def seed_tasks() -> None:
    """Open needs around 东关南里 and 淅川, an invitation waiting for 王老师, and a past session whose
    hours were confirmed, so that every page has something real to show."""
    if db.session.scalar(select(func.count()).select_from(Task)):
        return
    skills = dict(db.session.execute(select(Skill.name, Skill.id)).all())
    organizer = _account("19900000011")
    province = _account("19900000001")
    dongguan = db.session.scalars(select(Organization).where(Organization.name == "东关南里社区")).one()
    xichuan = db.session.scalars(select(Organization).where(Organization.name.like("淅川县“保水质%"))).one()
    today = local_now().replace(hour=9, minute=0, second=0)

    def weekday_after(days: int, hour: int):
        """`days` from today, moved on to a Monday–Friday: the demo members are free on weekdays, so
        the demo holds together whatever day it is loaded."""
        start = today + timedelta(days=days)
        while start.weekday() >= 5:
            start += timedelta(days=1)
        return start.replace(hour=hour)

    def post(actor, org, title, category, description, skill, level, *, days=5, hours=2, headcount=3,
             weekly=False, demand=Capacity.LIGHT, outdoor=False, hour=9):
        task = tasks.create_task(actor=actor, organization=org, title=title, description=description, category=category)
        start = weekday_after(days, hour)
        tasks.set_schedule(actor=actor, task=task, kind=ScheduleKind.WEEKLY if weekly else ScheduleKind.ONCE,
                           first_date=start.date(), last_date=start.date() + timedelta(days=27) if weekly else None,
                           weekdays=1 << start.weekday(), start_time=start.time(),
                           end_time=(start + timedelta(hours=hours)).time())
        tasks.set_needs(actor=actor, task=task, headcount=headcount, demand=demand, outdoor=outdoor)
        tasks.add_skill(actor=actor, task=task, skill_id=skills[skill], min_level=level, required=True)
        tasks.publish(actor=actor, task=task)
        return task

    tutoring = post(organizer, dongguan, "四点半课堂课业辅导", TaskCategory.NEXT_GENERATION,
                    "社区四点半课堂，放学后辅导小学生作业。", "课业辅导", 2, weekly=True, hour=16)
    post(organizer, dongguan, "老年人健康讲座", TaskCategory.ELDER_CARE, "给社区老人讲慢性病防治。", "健康咨询", 3)
    post(organizer, dongguan, "邻里纠纷调解", TaskCategory.GOVERNANCE, "协助社区调解邻里矛盾。", "矛盾纠纷调解", 2,
         days=8)
    post(province, xichuan, "丹江口库区水源巡护", TaskCategory.ECOLOGY, "沿库区巡查，记录水质异常。", "河道巡护", 2,
         days=9, hours=3, demand=Capacity.MODERATE, outdoor=True)
    wang = db.session.get_one(MemberProfile, _account("19900000021").id)
    tasks.invite(actor=organizer, task=tutoring, members=[wang], message="王老师，孩子们盼着您来。")

    # A finished session with confirmed hours: what a proof of service is made of.
    past = post(organizer, dongguan, "红色故事进课堂", TaskCategory.RED_HERITAGE, "给小学生讲红色故事。",
                "课业辅导", 1, days=6, headcount=2)
    session = past.sessions[0]
    session.starts_at = (local_now() - timedelta(days=10)).replace(hour=14, minute=0, second=0)
    session.ends_at = session.starts_at + timedelta(hours=2)
    done = Assignment(task_id=past.id, member_id=wang.id, origin="invited", status=AssignmentStatus.ACCEPTED,
                      invited_by_id=organizer.id)
    db.session.add(done)
    db.session.flush()
    db.session.add(ServiceRecord(assignment_id=done.id, session_id=session.id, member_id=wang.id,
                                 organization_id=dongguan.id, served_on=session.starts_at.date(), hours=2,
                                 feedback="孩子们听得很认真", confirmed_by_id=organizer.id))
    session.attendance_confirmed_at = utcnow()
    tasks.close(actor=organizer, task=past)



def describe_accounts() -> str:
    lines = [f"演示账号（密码均为 {DEMO_PASSWORD}）:"]
    for phone, name, role, scope in ACCOUNTS:
        where = ""
        if role is Role.ADMIN:
            region = db.session.get(Region, scope)
            where = f" · {region.name if region else scope}"
        elif role in (Role.ORGANIZER, Role.VENUE_MANAGER):
            where = f" · {scope}"
        lines.append(f"  {phone}  {name}  ({role.label}{where})")
    return "\n".join(lines)
