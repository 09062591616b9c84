"""Organizations: communities, villages, party branches, venue operators and bureaus."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String, UniqueConstraint, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, enum_type
from app.extensions import db
from app.regions.models import Region


class OrganizationKind(enum.Enum):
    COMMUNITY = "community"
    VILLAGE = "village"
    PARTY_BRANCH = "party_branch"
    VENUE_OPERATOR = "venue_operator"
    BUREAU = "bureau"

    @property
    def label(self) -> str:
        return {"community": "社区", "village": "村", "party_branch": "党支部",
                "venue_operator": "场地运营单位", "bureau": "老干部局"}[self.value]


class LocationSource(enum.Enum):
    GAZETTEER = "gazetteer"   # the county's seat from the shipped gazetteer
    GEOCODER = "geocoder"     # a configured online geocoder
    MANUAL = "manual"         # entered by staff

    @property
    def label(self) -> str:
        return {"gazetteer": "按县（市、区）政府驻地估算", "geocoder": "按地址定位",
                "manual": "人工填写"}[self.value]


class Organization(TimestampMixin, db.Model):
    __tablename__ = "organizations"
    __table_args__ = (UniqueConstraint("region_code", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[OrganizationKind] = mapped_column(enum_type(OrganizationKind))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    location_source: Mapped[LocationSource] = mapped_column(enum_type(LocationSource))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)

    region: Mapped[Region] = relationship(lazy="joined")

    @classmethod
    def scope_clause(cls, actor):
        """Admins see the organizations of their regions; organizers see their own."""
        from app.accounts.models import Role
        from app.regions.scope import admin_prefixes, code_within

        own = [g.organization_id for g in getattr(actor, "grants", []) if g.role is Role.ORGANIZER]
        clause = code_within(cls.region_code, admin_prefixes(actor))
        return or_(clause, cls.id.in_(own)) if own else clause

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name}>"
