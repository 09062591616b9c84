"""The silver talent pool: member profiles, skills, availability, pool entries and the
skill-location index used by matching."""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, joinedload, lazyload, mapped_column, relationship
from sqlalchemy.orm.strategy_options import _AbstractLoad

from app.accounts.models import User
from app.clock import PERIODS, WEEKDAYS, utcnow
from app.db import TimestampMixin, enum_type
from app.extensions import Model
from app.organizations.models import Organization
from app.regions.models import Region


class Gender(enum.Enum):
    MALE = "male"
    FEMALE = "female"

    @property
    def label(self) -> str:
        return {"male": "男", "female": "女"}[self.value]


class Capacity(enum.Enum):
    """What a member can physically do; compared with a task's physical demand."""

    LIGHT = "light"
    MODERATE = "moderate"
    HEAVY = "heavy"

    @property
    def rank(self) -> int:
        return {"light": 1, "moderate": 2, "heavy": 3}[self.value]

    @property
    def label(self) -> str:
        return {"light": "轻度", "moderate": "中度", "heavy": "较重"}[self.value]

    @property
    def description(self) -> str:
        return {"light": "坐着或站一会儿就能做的事，如讲课、咨询、调解",
                "moderate": "需要走动一两个小时，如入户走访、巡查、陪护",
                "heavy": "需要长时间走动或搬运，如田间指导、河道巡护"}[self.value]


class ConsentMethod(enum.Enum):
    ONLINE = "online"        # ticked by the member in the app
    PAPER = "paper"          # a signed paper form, kept by the branch
    SPOKEN = "spoken"        # said aloud to the person registering them

    @property
    def label(self) -> str:
        return {"online": "本人在网上勾选", "paper": "本人签署纸质同意书", "spoken": "本人口头同意"}[self.value]


class MemberStatus(enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"        # not taking part for now; not matched
    DELETED = "deleted"      # anonymised at the member's request

    @property
    def label(self) -> str:
        return {"active": "正常", "paused": "暂停参加", "deleted": "已注销"}[self.value]


class LocationPrecision(enum.Enum):
    COUNTY = "county"        # the county seat (no consent for a precise location)
    ADDRESS = "address"      # placed from the home address

    @property
    def label(self) -> str:
        return {"county": "按县（市、区）", "address": "按家庭住址"}[self.value]


# Weekly availability: 7 days (app.clock.WEEKDAYS) × 3 periods (app.clock.PERIODS) as bits of one
# integer (bit = day * 3 + period).


def slot_bit(day: int, period: int) -> int:
    return 1 << (day * 3 + period)


def availability_labels(mask: int) -> list[str]:
    """周一上午, 周三下午 …: each slot of a weekly grid."""
    return [f"{WEEKDAYS[d]}{PERIODS[p]}" for d in range(7) for p in range(3) if mask & slot_bit(d, p)]


def availability_text(mask: int) -> str:
    """周一上午、下午；周三晚上: a weekly grid, day by day."""
    if not mask:
        return "未填写"
    days = []
    for d in range(7):
        periods = [PERIODS[p] for p in range(3) if mask & slot_bit(d, p)]
        if periods:
            days.append(WEEKDAYS[d] + "、".join(periods))
    return "；".join(days)


class MemberProfile(TimestampMixin, Model):
    __tablename__ = "member_profiles"
    __table_args__ = (
        CheckConstraint("birth_year IS NULL OR (birth_year BETWEEN 1900 AND 2100)", name="birth_year_range"),
        CheckConstraint("service_radius_km BETWEEN 1 AND 100", name="radius_range"),
        CheckConstraint("max_hours_week IS NULL OR (max_hours_week BETWEEN 1 AND 60)", name="hours_range"),
        CheckConstraint("availability_mask >= 0 AND availability_mask < 2097152", name="availability_bits"),
        # Sensitive fields exist only with the separate consent.
        CheckConstraint("consent_at IS NOT NULL OR (capacity IS NULL AND location_precision = 'county')",
                        name="sensitive_needs_consent"),
        # Region subtrees (staff scope) and a county's members for remote tasks, without table
        # visits: in order, and with the status a search leaves deleted members out by (0020).
        Index("ix_member_profiles_region_id_status", "region_code", "id", "status"),
        # An organizer's branches, with what a pool search reads of them (app.members.search), so
        # that it reads no member's row (PostgreSQL needs the id named; SQLite holds it anyway);
        # and the foreign key's ON DELETE SET NULL (0020).
        Index("ix_member_profiles_branch_status_region", "branch_id", "status", "region_code", "id"),
        # The members an organizer registered (the second reach of their scope) and ON DELETE SET NULL.
        # Partial: members registered by nobody (all of a bench population, most of a real one)
        # are not in it, so SQLite's statistics do not take it for an index that matches the
        # whole table and walk member_profiles instead (migration 0019).
        Index("ix_member_profiles_registered_by_id", "registered_by_id",
              sqlite_where=text("registered_by_id IS NOT NULL"),
              postgresql_where=text("registered_by_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    gender: Mapped[Gender | None] = mapped_column(enum_type(Gender))
    birth_year: Mapped[int | None]
    # From a roster's 出生年月 when it gives the month: matches a row without a phone to a member.
    birth_month: Mapped[int | None] = mapped_column(
        CheckConstraint("birth_month >= 1 AND birth_month <= 12", name="birth_month_range"))
    work_unit: Mapped[str] = mapped_column(String(100), default="")
    post: Mapped[str] = mapped_column(String(60), default="")
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    location_precision: Mapped[LocationPrecision] = mapped_column(enum_type(LocationPrecision))
    service_radius_km: Mapped[int] = mapped_column(default=5)
    capacity: Mapped[Capacity | None] = mapped_column(enum_type(Capacity))
    no_night: Mapped[bool] = mapped_column(default=False)
    no_outdoor: Mapped[bool] = mapped_column(default=False)
    max_hours_week: Mapped[int | None]
    availability_mask: Mapped[int] = mapped_column(Integer, default=0)

    consent_version: Mapped[str | None] = mapped_column(String(20))
    consent_at: Mapped[datetime | None]
    consent_method: Mapped[ConsentMethod | None] = mapped_column(enum_type(ConsentMethod))
    consent_taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    status: Mapped[MemberStatus] = mapped_column(enum_type(MemberStatus), default=MemberStatus.ACTIVE, index=True)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claim_code_hash: Mapped[str | None] = mapped_column(String(255))
    claim_code_expires_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # Marked 逝世 by staff (app/members/care.py): never matched or messaged again, hours still counted.
    deceased_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[id], lazy="joined")
    branch: Mapped[Organization | None] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    skills: Mapped[list[MemberSkill]] = relationship(back_populates="member", cascade="all, delete-orphan",
                                                     lazy="selectin", order_by="MemberSkill.id")
    unavailable: Mapped[list[UnavailablePeriod]] = relationship(
        back_populates="member", cascade="all, delete-orphan", lazy="selectin",
        order_by="UnavailablePeriod.start_date")
    pool_entries: Mapped[list[PoolEntry]] = relationship(back_populates="member", lazy="selectin",
                                                         order_by="PoolEntry.id")

    @property
    def has_consent(self) -> bool:
        return self.consent_at is not None

    @property
    def is_matchable(self) -> bool:
        return self.status is MemberStatus.ACTIVE and self.has_consent

    def available(self, day: int, period: int) -> bool:
        return bool(self.availability_mask & slot_bit(day, period))

    def approved_levels(self) -> set[PoolLevel]:
        return {e.level for e in self.pool_entries if e.status is EntryStatus.APPROVED}

    @property
    def pool_rank(self) -> int:
        return pool_rank_of(self.approved_levels())

    @property
    def limits(self) -> int:
        return (1 if self.no_night else 0) | (2 if self.no_outdoor else 0)


@functools.cache
def profile_alone() -> tuple[_AbstractLoad, ...]:
    """Loader options for a profile read for its own columns and its name: its lists (skills,
    unavailable dates, pool entries with their history and each event's actor) load when first
    asked instead of with it, and so do the grants of its user (already loaded for the signed-in
    user, who would otherwise have them read again), which saved seven of the member home page's
    fourteen statements. (A function: the options can only be made once every model is mapped;
    made once, since options are immutable and building them is a tenth of a millisecond.)"""
    return (lazyload(MemberProfile.skills), lazyload(MemberProfile.unavailable), lazyload(MemberProfile.pool_entries),
            joinedload(MemberProfile.user).lazyload(User.grants))


class SkillCategory(Model):
    __tablename__ = "skill_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    skills: Mapped[list[Skill]] = relationship(back_populates="category", order_by="Skill.sort_order, Skill.id")


class Skill(Model):
    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("skill_categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    category: Mapped[SkillCategory] = relationship(back_populates="skills", lazy="joined")


SKILL_LEVELS = {1: "了解", 2: "熟练", 3: "精通"}


class MemberSkill(Model):
    __tablename__ = "member_skills"
    __table_args__ = (
        UniqueConstraint("member_id", "skill_id"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
        CheckConstraint("years IS NULL OR (years BETWEEN 0 AND 80)", name="years_range"),
        # A skill's holders in member order: PostgreSQL meets a pool search's members with them
        # by merging two ordered index reads instead of hashing every holder's row (0020).
        Index("ix_member_skills_skill_member", "skill_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"))
    level: Mapped[int]
    years: Mapped[int | None]
    certificate: Mapped[str | None] = mapped_column(String(100))
    certificate_expires: Mapped[date | None] = mapped_column(Date)

    member: Mapped[MemberProfile] = relationship(back_populates="skills")
    skill: Mapped[Skill] = relationship(lazy="joined")

    @property
    def level_label(self) -> str:
        return SKILL_LEVELS[self.level]

    def certificate_valid(self, on: date) -> bool:
        return bool(self.certificate) and (self.certificate_expires is None or self.certificate_expires >= on)


class UnavailablePeriod(Model):
    """Dates a member cannot serve (travel, hospital, 农忙), inclusive."""

    __tablename__ = "unavailable_periods"
    __table_args__ = (CheckConstraint("end_date >= start_date", name="ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(60), default="")

    member: Mapped[MemberProfile] = relationship(back_populates="unavailable")


class PoolLevel(enum.Enum):
    COUNTY = "county"
    CITY = "city"
    PROVINCE = "province"

    @property
    def label(self) -> str:
        return {"county": "县级", "city": "市级", "province": "省级"}[self.value]

    @property
    def rank(self) -> int:
        return {"county": 1, "city": 2, "province": 3}[self.value]


def pool_rank_of(approved: Iterable[PoolLevel]) -> int:
    """A member's pool rank (MemberFacts.pool_rank) from the levels of their approved entries: the
    highest, 0 for none."""
    return max((level.rank for level in approved), default=0)


class EntryStatus(enum.Enum):
    NOMINATED = "nominated"   # waiting for a decision
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"nominated": "待审核", "approved": "已入库", "rejected": "未通过", "withdrawn": "已退出"}[self.value]


class EntryOrigin(enum.Enum):
    APPLIED = "applied"       # the member asked
    NOMINATED = "nominated"   # staff put them forward

    @property
    def label(self) -> str:
        return {"applied": "本人申请", "nominated": "推荐"}[self.value]


class PoolEntry(Model):
    """A member's place (or request for a place) in the county, city or province pool. A decided
    entry is never reopened: a new request is a new entry, so the history stays whole."""

    __tablename__ = "pool_entries"
    __table_args__ = (
        # Decision queues by region, and the talents a widened search reaches, from the index alone.
        Index("ix_pool_entries_region_level_status_member", "region_code", "level", "status", "member_id"),
        Index("uq_pool_entries_live", "member_id", "level", unique=True,
              sqlite_where=text("status IN ('nominated', 'approved')"),
              postgresql_where=text("status IN ('nominated', 'approved')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"), index=True)
    level: Mapped[PoolLevel] = mapped_column(enum_type(PoolLevel))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    status: Mapped[EntryStatus] = mapped_column(enum_type(EntryStatus), index=True)
    origin: Mapped[EntryOrigin] = mapped_column(enum_type(EntryOrigin))
    basis_id: Mapped[int | None] = mapped_column(ForeignKey("pool_entries.id"))  # the lower-level approval
    nominated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    nominated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")          # why nominated / applied
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")   # the reason given with the decision
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    withdrawn_at: Mapped[datetime | None]
    withdrawal_note: Mapped[str] = mapped_column(Text, default="")

    member: Mapped[MemberProfile] = relationship(back_populates="pool_entries")
    region: Mapped[Region] = relationship(lazy="joined")
    # Loaded when asked: only one member's history shows them; matching and the queue read entries
    # for their level and status.
    events: Mapped[list[PoolEvent]] = relationship(back_populates="entry", order_by="PoolEvent.id")


class PoolEvent(Model):
    """Append-only history of every pool change: who did what, when, and why."""

    __tablename__ = "pool_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("pool_entries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))   # applied, nominated, approved, rejected, withdrawn, transferred
    note: Mapped[str] = mapped_column(Text, default="")

    entry: Mapped[PoolEntry] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship(lazy="joined")

    @property
    def label(self) -> str:
        return {"applied": "本人申请", "nominated": "推荐", "approved": "审核通过", "rejected": "未通过",
                "withdrawn": "退出", "transferred": "随本人迁往外县",
                "merged": "账号合并"}.get(self.action, self.action)


NO_HOURS_CAP = 168   # hours in a week: a member who set no weekly limit
KEY = ("skill_id", "level", "band", "lon")   # how matching's first step finds index rows
COVERED = ("lat", "capacity", "availability_mask", "limits", "hours_cap", "radius_km", "pool_rank", "has_facts",
           "member_id")


class SkillLocation(Model):
    """The narrow, denormalised index matching reads (DESIGN §5): one row per skill of every member
    who can be matched (active, with consent). Kept current by app.members.index.reindex_member().

    Places are found by `band` — the member's latitude in bands of 1/40 degree (about 2.8 km, see
    app.members.index.band_of) — and longitude: a query names the few bands its box crosses and one
    longitude range, so the B-tree reads little more than the box itself on both databases."""

    __tablename__ = "member_skill_index"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
        # Covers every column of matching's first step (app/matching/query.py): no table visits.
        # A query names the levels it accepts and the bands it crosses: one short range per pair.
        Index("ix_member_skill_index_covering", *KEY, *COVERED),
        # A county's holders of a skill, for remote tasks (no distance to narrow them by).
        Index("ix_member_skill_index_county", "skill_id", "region_code", "level", *COVERED, "lon"),
        # The approved city and province talents a widened search reads, by place (see app.matching.regions.Reach).
        Index("ix_member_skill_index_talents", *KEY, "pool_city", *COVERED,
              sqlite_where=text("pool_rank >= 2"), postgresql_where=text("pool_rank >= 2")),
        # A member's level in a given skill: the probe that joins a task's other skills (and the
        # member's rows, for reindexing).
        Index("ix_member_skill_index_member_skill_level", "member_id", "skill_id", "level"),
    )

    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"),
                                           primary_key=True)
    level: Mapped[int]
    capacity: Mapped[int]     # Capacity.rank
    lat: Mapped[float]
    lon: Mapped[float]
    band: Mapped[int]         # floor(lat * 40)
    # Cheap facts matching filters on before loading anything else (see app/matching/query.py).
    radius_km: Mapped[int] = mapped_column(default=5)
    availability_mask: Mapped[int] = mapped_column(default=0)
    limits: Mapped[int] = mapped_column(default=0)       # bit 0: no night work; bit 1: no outdoor work
    hours_cap: Mapped[int] = mapped_column(default=NO_HOURS_CAP)   # max_hours_week, or 168: no limit
    pool_rank: Mapped[int] = mapped_column(default=0)    # highest approved pool: 0 none … 3 province
    pool_city: Mapped[str] = mapped_column(String(6), server_default="")   # the city whose pool approved them
    region_code: Mapped[str] = mapped_column(String(6), server_default="")   # the member's county
    # True when the member may have facts matching must load to score them (an invitation,
    # refusal or accepted task, recent hours, dates they are away); False guarantees there are
    # none, so that the index row's bound is their score. Set in the same flush as any such fact
    # (app.members.index), cleared only by `flask matching refresh`.
    has_facts: Mapped[bool] = mapped_column(default=False, server_default=false())


class ProfileDraft(Model):
    """A registration in progress, saved at every step so that nothing is lost when a visit is slow,
    interrupted or the session ends. `subject_id` is the member's own account for self-registration;
    for a proxy registration it is empty until the member's account is created."""

    __tablename__ = "profile_drafts"
    __table_args__ = (UniqueConstraint("owner_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))   # "self" or "proxy"
    data: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ImportJob(Model):
    """An uploaded roster being checked and imported; its progress and row-by-row report."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    filename: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(10))        # "valid": import good rows; "all": all or nothing
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued, checking, writing, done, failed
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # the file, until it has been read
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    valid_rows: Mapped[int] = mapped_column(default=0)
    error_rows: Mapped[int] = mapped_column(default=0)
    blank_rows: Mapped[int] = mapped_column(default=0)
    imported_rows: Mapped[int] = mapped_column(default=0)
    updated_rows: Mapped[int] = mapped_column(default=0)
    unchanged_rows: Mapped[int] = mapped_column(default=0)
    review_rows: Mapped[int] = mapped_column(default=0)     # possible duplicates held back for a person
    skipped_rows: Mapped[int] = mapped_column(default=0)    # 合计/小计/备注 rows, the header repeated
    # JSON: [{"row": n, "name": …, "action": create|update|unchanged|refuse|review, "notes": […], "errors": […]}]
    report: Mapped[str] = mapped_column(Text, default="[]")
    message: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(4), default="xlsx")           # xlsx, xls or csv
    sheets: Mapped[str] = mapped_column(Text, default="[]")    # JSON: each sheet's header and first values
    sheet: Mapped[str] = mapped_column(String(100), default="")            # the sheet being imported
    mapping: Mapped[str] = mapped_column(Text, default="{}")   # JSON: {"columns": [field|""], "skills": {text: id|0}}
    unknown_skills: Mapped[str] = mapped_column(Text, default="{}")        # JSON: {text: rows naming it}

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    @property
    def waiting(self) -> bool:
        """Waiting for the admin: to choose the sheet and columns, or to look at the preview."""
        return self.status in ("mapping", "checked")

    @property
    def status_label(self) -> str:
        return {"queued": "排队中", "reading": "正在读取", "mapping": "请核对各列", "checking": "正在检查",
                "checked": "请查看检查结果", "writing": "正在写入", "done": "已完成", "failed": "出错了",
                "cancelled": "已放弃"}.get(self.status, self.status)


class ImportMapping(Model):
    """How the columns of a roster were mapped (and its unknown skills settled), remembered for the
    next file with the same headers."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), unique=True)   # app.members.columns.signature()
    headers: Mapped[str] = mapped_column(Text)     # JSON: the header texts, for people reading the table
    columns: Mapped[str] = mapped_column(Text)     # JSON: [field|""] one per header
    skills: Mapped[str] = mapped_column(Text, default="{}")   # JSON: {text: skill id, or 0 to leave out}
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AccountMerge(Model):
    """Two accounts of the same person made one (app/members/merge.py): the account that stays, the
    one closed into it, who did it and when, and what moved (JSON: counts and the ids of every row
    moved, dropped or changed, per table), so that a merge can be reviewed and, by hand,
    reconstructed. A closed account is merged once: `merged_id` is unique."""

    __tablename__ = "account_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="{}")
