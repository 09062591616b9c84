"""A member's profile as entered (by the member, by proxy, or from a roster) and the rules it must
keep: one place, asked by the registration and editing services and by the roster import, which
lists every broken rule of a row where a service stops at the first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import select

from app.clock import local_today
from app.errors import Invalid
from app.extensions import db
from app.members.models import Capacity, ConsentMethod, Gender, MemberProfile, Skill
from app.organizations.models import Organization, OrganizationKind
from app.regions.models import Region, RegionLevel

CONSENT_VERSION = "2026-11"


# --- the profile as entered -------------------------------------------------------------------


@dataclass
class SkillInput:
    skill_id: int
    level: int
    years: int | None = None
    certificate: str | None = None
    certificate_expires: date | None = None


@dataclass
class PeriodInput:
    start: date
    end: date
    reason: str = ""


@dataclass
class ProfileData:
    """Everything the registration wizard asks. Built from a draft, checked by the services."""

    name: str = ""
    gender: Gender | None = None
    birth_year: int | None = None
    work_unit: str = ""
    post: str = ""
    branch_id: int | None = None
    county_code: str = ""
    address: str = ""
    consent: bool = False
    capacity: Capacity | None = None
    no_night: bool = False
    no_outdoor: bool = False
    max_hours_week: int | None = None
    radius_km: int = 5
    availability_mask: int = 0
    unavailable: list[PeriodInput] = field(default_factory=list)
    skills: list[SkillInput] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["gender"] = self.gender.value if self.gender else None
        data["capacity"] = self.capacity.value if self.capacity else None
        for p in data["unavailable"]:
            p["start"], p["end"] = p["start"].isoformat(), p["end"].isoformat()
        for s in data["skills"]:
            s["certificate_expires"] = s["certificate_expires"].isoformat() if s["certificate_expires"] else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> ProfileData:
        data = dict(data)
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in data.items() if k in known}
        data["gender"] = Gender(data["gender"]) if data.get("gender") else None
        data["capacity"] = Capacity(data["capacity"]) if data.get("capacity") else None
        data["unavailable"] = [PeriodInput(date.fromisoformat(p["start"]), date.fromisoformat(p["end"]),
                                           p.get("reason", "")) for p in data.get("unavailable", [])]
        data["skills"] = [SkillInput(s["skill_id"], s["level"], s.get("years"), s.get("certificate"),
                                     date.fromisoformat(s["certificate_expires"]) if s.get("certificate_expires")
                                     else None) for s in data.get("skills", [])]
        return cls(**data)

    @classmethod
    def from_member(cls, member: MemberProfile) -> ProfileData:
        return cls(
            name=member.user.name, gender=member.gender, birth_year=member.birth_year,
            work_unit=member.work_unit, post=member.post, branch_id=member.branch_id,
            county_code=member.region_code, address=member.address, consent=member.has_consent,
            capacity=member.capacity, no_night=member.no_night, no_outdoor=member.no_outdoor,
            max_hours_week=member.max_hours_week, radius_km=member.service_radius_km,
            availability_mask=member.availability_mask,
            unavailable=[PeriodInput(p.start_date, p.end_date, p.reason) for p in member.unavailable],
            skills=[SkillInput(s.skill_id, s.level, s.years, s.certificate, s.certificate_expires)
                    for s in member.skills])


# --- checks shared by every path in -------------------------------------------------------------


def oldest_birth_year() -> int:
    return 1915


def youngest_birth_year(today: date | None = None) -> int:
    return (today or local_today()).year - 40


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid("请填写姓名", field="name")
    if len(name) > 40:
        raise Invalid("姓名最多 40 个字", field="name")
    return name


def check_birth_year(year: int | None) -> None:
    if year is None:
        return
    if not oldest_birth_year() <= year <= youngest_birth_year():
        raise Invalid(f"出生年份应在 {oldest_birth_year()} 年到 {youngest_birth_year()} 年之间", field="birth_year")


def check_work(work_unit: str, post: str) -> None:
    if len(work_unit) > 100:
        raise Invalid("原工作单位最多 100 个字", field="work_unit")
    if len(post) > 60:
        raise Invalid("原职务最多 60 个字", field="post")


def check_address(address: str) -> None:
    if len(address) > 200:
        raise Invalid("家庭住址最多 200 个字", field="address")


def check_county(code: str, counties: Mapping[str, Region] | None = None) -> Region:
    """`counties`: the regions by code when the caller holds them (an import checks thousands of
    rows); a code it lacks is looked up."""
    county = counties[code] if counties is not None and code in counties else db.session.get(Region, code or "")
    if county is None or county.level is not RegionLevel.COUNTY or not county.is_current:
        raise Invalid("请写明家住哪个县（市、区），例如：郑州市管城回族区东大街", field="address")
    return county


def check_branch(branch_id: int | None) -> Organization | None:
    if branch_id is None:
        return None
    branch = db.session.get(Organization, branch_id)
    if branch is None or not branch.active or branch.kind is not OrganizationKind.PARTY_BRANCH:
        raise Invalid("请选择所在的党支部", field="branch")
    return branch


def check_skills(skills: list[SkillInput], known: Mapping[int, Skill] | None = None) -> dict[int, Skill]:
    """Each skill exists, is in use and appears once, at a level of 1 to 3. `known`: the skills by
    id, when the caller has them already (an import checks thousands of rows)."""
    if known is None:
        known = {s.id: s for s in db.session.scalars(select(Skill).where(Skill.id.in_([i.skill_id for i in skills])))}
    found = {i.skill_id: known[i.skill_id] for i in skills if i.skill_id in known}
    seen: set[int] = set()
    for item in skills:
        skill = found.get(item.skill_id)
        if skill is None or not skill.active:
            raise Invalid("所选专长不存在，请重新选择", field="skill")
        if item.skill_id in seen:
            raise Invalid(f"专长“{skill.name}”重复了", field="skill")
        seen.add(item.skill_id)
        if item.level not in (1, 2, 3):
            raise Invalid("请选择掌握程度：了解、熟练或精通", field="level")
        if item.years is not None and not 0 <= item.years <= 80:
            raise Invalid("从事年限应在 0 到 80 年之间", field="years")
        if item.certificate_expires and not item.certificate:
            raise Invalid("填写证书有效期时，请一并填写证书名称", field="certificate")
    return found


def check_periods(periods: list[PeriodInput]) -> None:
    for p in periods:
        if p.end < p.start:
            raise Invalid("结束日期不能早于开始日期", field="end")
        if (p.end - p.start).days > 366:
            raise Invalid("一段不方便的时间最长一年", field="end")


def check_service_limits(data: ProfileData) -> None:
    if not 1 <= data.radius_km <= 100:
        raise Invalid("服务范围应在 1 到 100 公里之间", field="radius_km")
    if data.max_hours_week is not None and not 1 <= data.max_hours_week <= 60:
        raise Invalid("每周最多服务时间应在 1 到 60 小时之间", field="max_hours_week")
    if not 0 <= data.availability_mask < 1 << 21:
        raise Invalid("可服务时间有误", field="availability")
    if data.capacity is not None and not data.consent:
        raise Invalid("身体状况属于敏感信息，需要先同意才能登记", field="capacity")




def check_consent_method(data: ProfileData, method: ConsentMethod | None) -> None:
    """Someone registering a member for them records how the member consented."""
    if data.consent and method not in (ConsentMethod.PAPER, ConsentMethod.SPOKEN):
        raise Invalid("请选择老同志是怎样表示同意的：签署纸质同意书或口头同意", field="consent_method")


def check_profile(data: ProfileData, *, known_skills: Mapping[int, Skill] | None = None) -> Region:
    """Every rule of a profile, stopping at the first broken one; the member's county."""
    county = check_county(data.county_code)
    for check in _checks(data, known_skills):
        check()
    return county


def problems(data: ProfileData, *, known_skills: Mapping[int, Skill] | None = None,
             counties: Mapping[str, Region] | None = None) -> list[Invalid]:
    """Every rule of a profile the data breaks (the county's with the rest), in the order a
    service would meet them."""
    found = []
    for check in [lambda: check_county(data.county_code, counties), *_checks(data, known_skills)]:
        try:
            check()
        except Invalid as e:
            found.append(e)
    return found


def _checks(data: ProfileData, known_skills: Mapping[int, Skill] | None) -> list[Callable[[], object]]:
    return [lambda: check_name(data.name), lambda: check_birth_year(data.birth_year),
            lambda: check_work(data.work_unit, data.post), lambda: check_address(data.address),
            lambda: check_branch(data.branch_id), lambda: check_skills(data.skills, known_skills),
            lambda: check_periods(data.unavailable), lambda: check_service_limits(data)]


# --- what is still missing ------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """One answer a profile lacks: the field it belongs to and how a member would name it."""

    field: str
    label: str


def registration_gaps(data: ProfileData) -> list[Gap]:
    """The answers a registration cannot do without (a roster import may lack some of them: this
    is asked only of the registration wizard)."""
    wanted = [(not data.name.strip(), "name", "姓名"), (data.gender is None, "gender", "性别"),
              (data.birth_year is None, "birth_year", "出生年份"), (not data.county_code, "address", "家庭住址")]
    return [Gap(name, label) for missing, name, label in wanted if missing]


def matching_gaps(data: ProfileData) -> list[Gap]:
    """The answers without which matching will never suggest this member (app.matching.score's
    hard filters): consent to keep capacity and location, the capacity itself, some free time and
    at least one skill."""
    return matching_gaps_from(consent=data.consent, capacity=data.capacity,
                              availability_mask=data.availability_mask, has_skill=bool(data.skills))


def matching_gaps_from(*, consent: bool, capacity: Capacity | None, availability_mask: int,
                       has_skill: bool) -> list[Gap]:
    """matching_gaps() from the four answers it looks at: for a stored member, whose periods away
    it never needs (app.members.wizard.matching_missing_of)."""
    wanted = [(not consent, "consent", "同意保存身体状况和住址位置"),
              (consent and capacity is None, "capacity", "身体状况"),
              (not availability_mask, "availability", "方便的时间"),
              (not has_skill, "skill", "专长")]
    return [Gap(name, label) for missing, name, label in wanted if missing]


def check_complete(data: ProfileData) -> None:
    """A registration names everything it cannot do without, all at once."""
    gaps = registration_gaps(data)
    if gaps:
        raise Invalid(f"还有 {len(gaps)} 项必须填写：{'、'.join(g.label for g in gaps)}", field=gaps[0].field)
