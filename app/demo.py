"""Demo data: Henan's real regions and places from the Henan Daily report, obviously fake people.

Every person is named 演示… and every number starts 199 0000: nobody real can be reached.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password
from app.db import utcnow
from app.extensions import db
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.regions.models import Region
from app.regions.services import load_gazetteer

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
            region = db.session.get(Region, county)
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
            user.grants.append(RoleGrant(role=Role.ORGANIZER, organization_id=orgs[scope].id))
        elif role is Role.MEMBER and not user.has_role(Role.MEMBER):
            user.grants.append(RoleGrant(role=Role.MEMBER))
    db.session.flush()
    from app.venues.demo import seed_venues

    seed_venues(orgs)
    for phone, name, role, scope in ACCOUNTS:
        if role is Role.VENUE_MANAGER:
            from app.venues.models import Venue

            user = db.session.scalar(select(User).where(User.phone == phone))
            venue = db.session.scalar(select(Venue).where(Venue.name == scope))
            if not any(g.role is Role.VENUE_MANAGER and g.venue_id == venue.id for g in user.grants):
                user.grants.append(RoleGrant(role=Role.VENUE_MANAGER, venue_id=venue.id))
    db.session.flush()
    from app.venues.demo import seed_bookings

    seed_bookings()
    return True


def describe_accounts() -> str:
    lines = ["演示账号（密码均为 %s）:" % DEMO_PASSWORD]
    for phone, name, role, scope in ACCOUNTS:
        where = ""
        if role is Role.ADMIN:
            region = db.session.get(Region, scope)
            where = f" · {region.name if region else scope}"
        elif role in (Role.ORGANIZER, Role.VENUE_MANAGER):
            where = f" · {scope}"
        lines.append(f"  {phone}  {name}  ({role.label}{where})")
    return "\n".join(lines)
