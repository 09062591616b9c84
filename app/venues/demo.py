"""Demo venues from the Henan Daily report (开封、安阳、焦作、淅川县、郑州市管城回族区 halls and homes),
the activity packages it names, and a few bookings made through the services, so the calendars,
the approval queue and the branch's page have something to show. Idempotent."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, select

from app.accounts.models import User
from app.bookings import services as bookings
from app.bookings.models import ActivityType, Booking
from app.bookings.services import BookingRequest, CoHost
from app.clock import local_now
from app.errors import DomainError
from app.extensions import db
from app.organizations.models import Organization
from app.regions.models import Region
from app.venues import services
from app.venues.models import ActivityPackage, Facility, OpeningHours, PackageFacility, Venue, VenueFacility, VenueKind

F = Facility
WEEKDAYS = [(time(8, 30), time(11, 30)), (time(14, 30), time(17, 30))]

# (name, kind, operator, county, address, capacity, facilities, Saturday morning, description)
VENUES = [
    ("郑州市老干部活动中心离退休干部政治生活馆", VenueKind.POLITICAL_LIFE_HALL, "郑州市老干部活动中心", "410105",
     "金水区经三路老干部活动中心三楼", 80, list(F), True,
     "依托市老干部活动中心建设，设有入党誓词墙、党史展陈和多功能报告厅，可开展主题党日、红色观影等活动。"),
    ("管城回族区东大街街道老党员共享家园", VenueKind.SHARED_HOME, "管城回族区东大街街道党群服务中心", "410104",
     "东大街街道党群服务中心二楼", 40,
     [F.ACCESSIBLE_ENTRANCE, F.LIFT, F.ACCESSIBLE_TOILET, F.PROJECTOR, F.OATH_WALL, F.AIR_CONDITIONING], True,
     "依托社区党群服务中心建设，“阵地共享、内容定制”，就近为辖区离退休干部党支部提供组织生活场所。"),
    ("淅川县离退休干部政治生活馆", VenueKind.POLITICAL_LIFE_HALL, "淅川县老干部活动中心", "411326",
     "城关镇老干部活动中心一楼", 60, [F.ACCESSIBLE_ENTRANCE, F.PROJECTOR, F.SOUND_SYSTEM, F.OATH_WALL, F.PARKING], False,
     "设有“保水质、护运行”主题展区，可安排南水北调精神微党课。"),
    ("开封市离退休干部政治生活馆", VenueKind.POLITICAL_LIFE_HALL, "开封市老干部活动中心", "410202",
     "龙亭区老干部活动中心", 60, [F.ACCESSIBLE_ENTRANCE, F.LIFT, F.PROJECTOR, F.SOUND_SYSTEM, F.OATH_WALL], False,
     "精心设计多种党建主题活动套餐，打造红色元素沉浸式体验。"),
    ("安阳市离退休干部政治生活馆", VenueKind.POLITICAL_LIFE_HALL, "安阳市老干部活动中心", "410502",
     "文峰区老干部活动中心", 50, [F.ACCESSIBLE_ENTRANCE, F.PROJECTOR, F.OATH_WALL, F.PARKING], False, ""),
    ("焦作市离退休干部党性教育基地", VenueKind.EDUCATION_BASE, "焦作市老干部活动中心", "410802",
     "解放区老干部活动中心", 100, [F.ACCESSIBLE_ENTRANCE, F.PROJECTOR, F.SOUND_SYSTEM, F.OATH_WALL, F.PARKING], True,
     "离退休干部党性教育特色基地。"),
]

# (venue name or None for every venue, name, minutes, max participants, needs, provides, content)
PACKAGES = [
    (None, "重温入党誓词", 30, 80, [F.OATH_WALL], "党旗、入党誓词墙、领誓人",
     "面向党旗重温入党誓词，老党员讲一讲入党时的故事。"),
    (None, "政治生日", 60, 40, [], "生日贺卡、入党纪念册、合影",
     "为本月入党的老党员过“政治生日”，送上贺卡，回顾入党初心。"),
    (None, "微党课", 60, 60, [F.PROJECTOR], "投影设备、微党课视频（省委老干部局精选 90 个）",
     "观看一节微党课视频，再由支部老同志结合亲身经历交流。"),
    ("郑州市老干部活动中心离退休干部政治生活馆", "红色观影", 120, 80, [F.PROJECTOR, F.SOUND_SYSTEM], "影片放映、讲解",
     "观看一部红色经典影片，观后座谈。"),
    ("焦作市离退休干部党性教育基地", "沉浸式党性教育", 90, 60, [], "讲解员、红色场景体验",
     "在红色元素沉浸式场景中接受党性教育。"),
]


def seed_venues(orgs: dict[str, Organization]) -> None:
    for name, kind, operator, county, address, capacity, facilities, saturday, description in VENUES:
        if db.session.scalar(select(exists().where(Venue.name == name))):
            continue
        region = db.session.get_one(Region, county)
        venue = Venue(name=name, kind=kind, operator=orgs[operator], region_code=county, address=address,
                      lat=region.lat, lon=region.lon, capacity=capacity, description=description,
                      contact_phone="0371-6000 0000" if county.startswith("4101") else None)
        venue.facility_rows = [VenueFacility(facility=f) for f in facilities]
        for weekday in range(5):
            venue.hours += [OpeningHours(weekday=weekday, opens=a, closes=b) for a, b in WEEKDAYS]
        if saturday:
            venue.hours.append(OpeningHours(weekday=5, opens=time(9), closes=time(11, 30)))
        db.session.add(venue)
    db.session.flush()
    for venue_name, name, minutes, most, needs, provides, content in PACKAGES:
        owner = db.session.scalar(select(Venue).where(Venue.name == venue_name)) if venue_name else None
        if db.session.scalar(select(exists().where(ActivityPackage.name == name))):
            continue
        package = ActivityPackage(venue=owner, name=name, duration_minutes=minutes, max_participants=most,
                                  provides=provides, content=content)
        package.facility_rows = [PackageFacility(facility=f) for f in needs]
        db.session.add(package)
    db.session.flush()


def _book_first_free(*, actor: User, venue: Venue, org: Organization, days_ahead: int, start: time, minutes: int,
                     **kw: Any) -> Booking | None:
    """Book the first day from `days_ahead` on where the venue takes the slot (skips weekends,
    holidays and taken time); None when two weeks bring nothing."""
    day = local_now().date() + timedelta(days=days_ahead)
    for _ in range(14):
        begin = datetime.combine(day, start)
        try:
            with db.session.begin_nested():
                return bookings.book_venue(actor=actor, request=BookingRequest(
                    venue=venue, organization=org, start=begin, end=begin + timedelta(minutes=minutes), **kw))
        except DomainError:
            day += timedelta(days=1)
    return None


def seed_bookings() -> None:
    """A joint theme party day (approved), a micro lecture waiting for approval and a political
    birthday, all at the 管城 shared home, booked by 东关南里社区."""
    home = db.session.scalar(select(Venue).where(Venue.name == "管城回族区东大街街道老党员共享家园"))
    if home is None or db.session.scalar(select(exists().where(Booking.venue_id == home.id))):
        return
    organizer = db.session.scalar(select(User).where(User.phone == "19900000011"))
    manager = db.session.scalar(select(User).where(User.phone == "19900000031"))
    community = db.session.scalar(select(Organization).where(Organization.name == "东关南里社区"))
    branch = db.session.scalar(select(Organization).where(Organization.name == "东关南里社区离退休干部党支部"))
    if organizer is None or community is None:
        return
    packages = {p.name: p for p in services.packages_for(home)}
    joint = _book_first_free(actor=organizer, venue=home, org=community, days_ahead=3, start=time(9), minutes=90,
                             activity=ActivityType.THEME_PARTY_DAY, title="“向党说句心里话”联合主题党日",
                             attendees=15, package=packages.get("重温入党誓词"),
                             co_hosts=[CoHost(branch, 12)] if branch else ())
    _book_first_free(actor=organizer, venue=home, org=community, days_ahead=10, start=time(14, 30), minutes=60,
                     activity=ActivityType.MICRO_LECTURE, title="微党课：南水北调精神", attendees=20,
                     package=packages.get("微党课"), note="需要投影，谢谢。")
    _book_first_free(actor=organizer, venue=home, org=community, days_ahead=17, start=time(9), minutes=60,
                     activity=ActivityType.POLITICAL_BIRTHDAY, title="十二位老党员的政治生日", attendees=18,
                     package=packages.get("政治生日"))
    if joint is not None and manager is not None:
        bookings.decide_booking(actor=manager, booking=joint, approve=True)
