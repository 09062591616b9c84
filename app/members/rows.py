"""Checking roster rows (the import's middle): a row's cells by field (Record), read into the
profile the services would register and checked with the profile's own rules (Checker → Row), and
compared with the member already in the pool that it would update (compare, apply_update).

Used by app.members.importer, which streams the rows through a Checker chunk by chunk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload, selectinload

from app import access
from app.accounts.models import User
from app.clock import PERIODS, WEEKDAYS
from app.errors import Invalid
from app.extensions import db
from app.forms import PersonName
from app.members import cells, profile, sheets
from app.members.models import (
    SKILL_LEVELS,
    Capacity,
    ConsentMethod,
    LocationPrecision,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    Skill,
    slot_bit,
)
from app.members.profile import ProfileData, SkillInput
from app.members.taxonomy import SKILL_SYNONYMS
from app.organizations.models import Organization, OrganizationKind
from app.regions import gazetteer
from app.regions.models import Region

DEFAULT_LEVEL = 2     # 熟练: a skill a roster lists without a level
LEVELS = {v: k for k, v in SKILL_LEVELS.items()} | {"1": 1, "2": 2, "3": 3}
CAPACITIES = {c.label: c for c in Capacity}
METHODS = {"纸质同意书": ConsentMethod.PAPER, "纸质": ConsentMethod.PAPER, "口头同意": ConsentMethod.SPOKEN,
           "口头": ConsentMethod.SPOKEN}
YES, NO = {"是", "同意", "y", "yes"}, {"否", "不同意", "", "n", "no"}
_SLOT = re.compile(r"(周[一二三四五六日天])(上午|下午|晚上)")


# --- reading a file into records ----------------------------------------------------------------


@dataclass
class Record:
    """One data row's cells by field: the cell of each single field, and for skills each skills
    cell with the level cell that follows it (the template's 专长1/程度1), if any."""

    cells: dict[str, object] = field(default_factory=dict)
    skills: list[tuple[object, object]] = field(default_factory=list)


def to_record(values: tuple, mapping: list[str]) -> Record:
    record = Record()
    for key, value in zip(mapping, values, strict=False):
        if not key:
            continue
        if key == "skills":
            record.skills.append((value, None))
        elif key == "level":
            if record.skills and record.skills[-1][1] is None:
                record.skills[-1] = (record.skills[-1][0], value)
            else:
                record.skills.append((None, value))
        else:
            record.cells[key] = value
    return record


def _text(value: object) -> str:
    return sheets.display(value)


# --- checking -------------------------------------------------------------------------------------


@dataclass
class Row:
    """One roster row, read into the profile the services would register, with what was wrong,
    what was interpreted, and what importing it will do."""

    number: int
    data: ProfileData
    phone: str | None = None
    birth_month: int | None = None
    consent_method: ConsentMethod | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    action: str = "create"          # create | update | unchanged | refuse | review
    existing_id: int | None = None

    def report(self) -> dict:
        return {"row": self.number, "name": self.data.name[:40], "action": "refuse" if self.errors else self.action,
                "notes": self.notes, "errors": self.errors}


@lru_cache(maxsize=20_000)
def _resolve(address: str, province: str) -> gazetteer.Resolved:
    return gazetteer.resolve(address, within=province)


_HAN_NAME = re.compile(r"^[\u3400-\u9fff·\s]+$")


class Checker:
    """Reads records one by one into profiles and checks them with the profile's own rules
    (app.members.profile), against the database state loaded once up front. What only a roster
    can get wrong (a cell that cannot be read, one person twice in the file) is said here; a rule
    a row breaks is said as the services say it. Every problem of a row is listed, and every
    value that had to be interpreted is noted."""

    def __init__(self, actor: User, *, phones: set[str], names: set[str], skill_choices: dict[str, int],
                 has_consent_column: bool, county: str | None = None):
        self.actor = actor
        self.county = gazetteer.place(county) if county else None   # loading one county (the command)
        self.province = current_app.config["HOME_PROVINCE"][:2]
        self.known_skills = {s.id: s for s in db.session.scalars(select(Skill))}
        self.skills = {s.name: s.id for s in self.known_skills.values() if s.active}
        self.synonyms = {word: self.skills[name] for word, name in SKILL_SYNONYMS.items() if name in self.skills}
        self.choices = {text: skill_id for text, skill_id in skill_choices.items()
                        if skill_id == 0 or skill_id in self.skills.values()}
        self.has_consent_column = has_consent_column
        # The province's regions by code, held for the profile checks: one query, not one per row.
        self.regions = {r.code: r for r in db.session.scalars(select(Region).where(
            Region.code.startswith(self.province)))}
        self.placeable: dict[str, bool] = {}     # county code → may the actor place members there
        self.branches = {o.name: o.id for o in db.session.scalars(access.visible(Organization, actor).where(
            Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.active))}
        self.accounts: dict[str, tuple[int, str, bool]] = {}     # phone → (user id, name, has a profile)
        for chunk in chunks(sorted(phones), 900):
            for uid, phone, name, member in db.session.execute(
                    select(User.id, User.phone, User.name, MemberProfile.id).outerjoin(
                        MemberProfile, MemberProfile.id == User.id).where(User.phone.in_(chunk))):
                if phone is not None:
                    self.accounts[phone] = (uid, name, member is not None)
        # Members already in the pool under the same name, by (name, county): (id, birth year, month).
        self.people: dict[tuple[str, str], list[tuple[int, int | None, int | None]]] = {}
        for chunk in chunks(sorted(names), 900):
            for uid, name, year, month, county in db.session.execute(
                    select(User.id, User.name, MemberProfile.birth_year, MemberProfile.birth_month,
                           MemberProfile.region_code)
                    .join(MemberProfile, MemberProfile.id == User.id)
                    .where(User.name.in_(chunk), MemberProfile.status != MemberStatus.DELETED)):
                self.people.setdefault((name, county), []).append((uid, year, month))
        self.first_row_of_phone: dict[str, int] = {}
        self.first_row_of_person: dict[tuple[str, int | None, int | None, str], int] = {}
        self.unknown_skills: dict[str, int] = {}

    def check(self, number: int, record: Record) -> Row:
        cells = record.cells
        name = _text(cells.get("name"))
        if _HAN_NAME.match(name):
            name = re.sub(r"\s+", "", name)        # 张  三: spaces that line names up in print
        work_unit = _text(cells.get("work_unit")) or _text(cells.get("work_unit_post"))
        data = ProfileData(name=name, work_unit=work_unit, post=_text(cells.get("post")),
                           address=_text(cells.get("address")))
        row = Row(number, data)
        unread: dict[str, str] = {}     # field → why its cell could not be read
        if data.name and not PersonName.pattern.match(data.name):     # the name forms' format
            unread["name"] = "姓名只能包含汉字、字母和“·”，最多 40 个字"
        self._phone(row, cells.get("phone"), unread)
        self._person(row, cells, unread)
        self._home(data, unread)
        self._service(data, cells, unread)
        self._skills(row, record.skills, unread)
        self._consent(row, cells, unread)
        broken = profile.problems(data, known_skills=self.known_skills, counties=self.regions)
        try:
            profile.check_consent_method(data, row.consent_method)
        except Invalid as e:
            broken.append(e)
        row.errors = list(unread.values()) + [e.message for e in broken if e.field not in unread]
        if not row.errors:
            self._same_person(row)
        return row

    def _phone(self, row: Row, raw: object, unread: dict[str, str]) -> None:
        try:
            row.phone, note = cells.phone(raw)
        except cells.Unreadable as e:
            unread["phone"] = str(e)
            return
        if note:
            row.notes.append(note)

    def _person(self, row: Row, values: dict[str, object], unread: dict[str, str]) -> None:
        data = row.data
        try:
            data.gender = cells.gender(values.get("gender"))
        except cells.Unreadable as e:
            unread["gender"] = str(e)
        try:
            born = cells.birth_date(values.get("birth"))
        except cells.Unreadable as e:
            unread["birth_year"] = str(e)
        else:
            if born is not None:
                data.birth_year, row.birth_month = born.year, born.month
                raw = values.get("birth")
                if isinstance(raw, (int, float)) and not 1900 <= raw <= 2100 and not 190001 <= raw <= 21001231:
                    row.notes.append(f"出生年月是 Excel 日期序号 {_text(raw)}，读作 {born.year} 年 {born.month} 月")
        branch = _text(values.get("branch"))
        if branch:
            data.branch_id = self.branches.get(branch)
            if data.branch_id is None:
                row.notes.append(f"没有找到党支部“{branch[:30]}”，没有关联支部（须是本辖区内已登记的支部，名称一致）")

    def _home(self, data: ProfileData, unread: dict[str, str]) -> None:
        """The county a home address names (or the county of the township it names), in the actor's
        region. A township name several counties have is not guessed."""
        if not data.address or len(data.address) > 200:
            return
        resolved = _resolve(data.address, self.province)
        place = resolved.place
        if self.county is not None and self.county in resolved.counties:
            data.county_code = self.county.code        # 城关镇, and the county being loaded has one
            return
        if self.county is not None and (place is None or place.level != "county"
                                        or not place.code.startswith(self.province)):
            data.county_code = self.county.code        # a village or street of the county being loaded
            return
        if self.county is not None and place is not None and place.code != self.county.code:
            unread["address"] = f"家庭住址在{place.name}，不在这次导入的{self.county.name}"
        elif resolved.ambiguous:
            unread["address"] = f"家庭住址里的{resolved.reason()}"
        elif place is None or place.level != "county":
            unread["address"] = f"家庭住址“{data.address[:30]}”没有写明县（市、区）或地名不对"
        elif not self._may_place_in(place.code):
            unread["address"] = f"{place.name}不在您管辖的地区内"
        else:
            data.county_code = place.code

    def _may_place_in(self, code: str) -> bool:
        if code not in self.placeable:
            self.placeable[code] = access.may_place_in(self.actor, code)
        return self.placeable[code]

    @staticmethod
    def _service(data: ProfileData, values: dict[str, object], unread: dict[str, str]) -> None:
        radius = _text(values.get("radius"))
        if radius:
            if radius.isdigit():
                data.radius_km = int(radius)
            else:
                unread["radius_km"] = "服务范围应为 1 到 100 之间的整数"
        slots = _text(values.get("availability")).replace("周天", "周日")
        if slots:
            found = _SLOT.findall(slots)
            if not found or re.sub(r"[\s、，,;；]", "", _SLOT.sub("", slots)):
                unread["availability"] = "方便的时间请写成“周一上午、周三下午”这样"
            for day, period in found:
                data.availability_mask |= slot_bit(WEEKDAYS.index(day), PERIODS.index(period))

    def skill_of(self, text: str) -> int | None:
        """The skill a roster's word means: the admin's choice for this file, the taxonomy's name, a
        synonym; 0 when the admin chose to leave it out; None when unknown."""
        if text in self.choices:
            return self.choices[text]
        return self.skills.get(text) or self.synonyms.get(text)

    def _skills(self, row: Row, pairs: list[tuple[object, object]], unread: dict[str, str]) -> None:
        levels: dict[int, int] = {}
        for i, (cell, level_cell) in enumerate(pairs, start=1):
            level_text = _text(level_cell)
            tokens = cells.split_skills(cell)
            if not tokens:
                if level_text:
                    unread[f"skill{i}"] = f"填了程度{i}却没有填专长{i}"
                continue
            if level_text and level_text not in LEVELS:
                unread[f"skill{i}"] = f"程度{i}只能填了解、熟练或精通"
                continue
            for token, written in tokens:
                skill_id = self.skill_of(token)
                if skill_id is None:
                    self.unknown_skills[token] = self.unknown_skills.get(token, 0) + 1
                    row.notes.append(f"专长“{token[:20]}”不在专长列表中，待您选择对应的专长或不登记")
                    continue
                if skill_id == 0:
                    row.notes.append(f"专长“{token[:20]}”按您的选择不登记")
                    continue
                level = LEVELS[level_text] if level_text else written or DEFAULT_LEVEL
                levels[skill_id] = max(level, levels.get(skill_id, 0))
        row.data.skills = [SkillInput(skill_id, level) for skill_id, level in levels.items()]

    def _consent(self, row: Row, values: dict[str, object], unread: dict[str, str]) -> None:
        data = row.data
        consent = _text(values.get("consent")).lower()
        if consent not in YES | NO:
            unread["consent"] = "同意保存敏感信息只能填“是”或“否”"
        data.consent = consent in YES
        if data.consent:
            row.consent_method = METHODS.get(_text(values.get("consent_method")))
        raw = _text(values.get("capacity"))
        if not raw:
            return
        try:
            level, review = cells.capacity(raw)
        except cells.Unreadable as e:
            if self.has_consent_column:
                unread["capacity"] = str(e)
            else:
                row.notes.append(f"身体状况“{raw[:20]}”没有导入：要本人同意后才能登记")
            return
        if not self.has_consent_column:
            # A bureau's roster records no consent: health stays out until the member agrees.
            row.notes.append(f"身体状况“{raw[:20]}”没有导入：要本人同意后才能登记")
            return
        data.capacity = level
        if review and level is not None:
            row.notes.append(f"待核对：身体状况“{raw[:20]}”记为{level.label}")

    def _same_person(self, row: Row) -> None:
        """One person twice in the file is refused the second time; a member already in the pool is
        updated (found by phone) or held back for a person to check (found by name, birth year and
        month and county, when the row has no phone: a month known on both sides must agree)."""
        d = row.data
        person = (d.name, d.birth_year, row.birth_month, d.county_code)
        if row.phone and row.phone in self.first_row_of_phone:
            row.errors.append(f"手机号码与第 {self.first_row_of_phone[row.phone]} 行重复")
            return
        if person in self.first_row_of_person:
            row.errors.append(f"与第 {self.first_row_of_person[person]} 行可能是同一人（姓名、出生年月、县都相同）")
            return
        if row.phone:
            self.first_row_of_phone[row.phone] = row.number
        self.first_row_of_person[person] = row.number
        if row.phone and row.phone in self.accounts:
            uid, name, is_member = self.accounts[row.phone]
            if not is_member:
                row.errors.append("这个手机号码已经注册过账号")
            elif name != d.name:
                row.errors.append(f"这个手机号码已登记为“{name[:20]}”，与姓名不一致")
            else:
                row.action, row.existing_id = "update", uid
            return
        if not row.phone:
            # Name, birth month and county (the year where either side lacks the month); a member
            # born another month is someone else.
            same = [uid for uid, year, month in self.people.get((d.name, d.county_code), [])
                    if (year is None or d.birth_year is None or year == d.birth_year)
                    and (month is None or row.birth_month is None or month == row.birth_month)]
            if same:
                row.action, row.existing_id = "review", same[0]
                row.notes.append("人才库里已有同名、同出生年份、同县的老同志，这一行没有导入，请核对后在人才库中修改")


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def update_options() -> tuple:
    """Loader options for members compared with (and updated from) rows: their columns, user and
    skills; their branch, region, periods away and pool entries only if something asks."""
    return (selectinload(MemberProfile.skills), lazyload(MemberProfile.unavailable),
            lazyload(MemberProfile.pool_entries), joinedload(MemberProfile.user).lazyload(User.grants),
            lazyload(MemberProfile.branch), lazyload(MemberProfile.region))


def compare(row: Row, member: MemberProfile, actor: User) -> None:
    """What updating a member from a row changes: the fields the row fills that differ, and skills
    the member does not hold yet (none removed; consent and health are the member's own)."""
    if not access.may_edit_member(actor, member):
        row.errors.append("这位老同志不在您管辖的地区内，不能修改")
        return
    d, changed = row.data, []
    if d.gender is not None and d.gender is not member.gender:
        changed.append("性别")
    if d.birth_year is not None and d.birth_year != member.birth_year:
        changed.append("出生年份")
    if row.birth_month is not None and row.birth_month != member.birth_month:
        changed.append("出生月份")
    if d.work_unit and d.work_unit != member.work_unit:
        changed.append("原工作单位")
    if d.post and d.post != member.post:
        changed.append("原职务")
    if d.branch_id is not None and d.branch_id != member.branch_id:
        changed.append("党支部")
    if d.address and (d.address != member.address or d.county_code != member.region_code):
        changed.append("家庭住址")
    held = {s.skill_id: s.level for s in member.skills}
    if any(held.get(s.skill_id, 0) < s.level for s in d.skills):
        changed.append("专长")
    if d.availability_mask and d.availability_mask != member.availability_mask:
        changed.append("方便的时间")
    if changed:
        row.action = "update"
        row.notes.append("已在人才库中，将更新：" + "、".join(changed))
    else:
        row.action = "unchanged"
        row.notes.append("已在人才库中，资料相同，不用更新")


def apply_update(row: Row, member: MemberProfile) -> None:
    """Write what compare() found into the member (the index is refreshed by the caller)."""
    d = row.data
    if d.gender is not None:
        member.gender = d.gender
    if d.birth_year is not None:
        member.birth_year = d.birth_year
    if row.birth_month is not None:
        member.birth_month = row.birth_month
    member.work_unit = d.work_unit or member.work_unit
    member.post = d.post or member.post
    if d.branch_id is not None:
        member.branch_id = d.branch_id
    if d.address and (d.address != member.address or d.county_code != member.region_code):
        county = gazetteer.place(d.county_code)
        member.address, member.region_code = d.address, d.county_code
        member.lat, member.lon, member.location_precision = county.lat, county.lon, LocationPrecision.COUNTY
    held = {s.skill_id: s for s in member.skills}
    for item in d.skills:
        if item.skill_id in held:
            held[item.skill_id].level = max(held[item.skill_id].level, item.level)
        else:
            member.skills.append(MemberSkill(skill_id=item.skill_id, level=item.level))
    if d.availability_mask:
        member.availability_mask = d.availability_mask
