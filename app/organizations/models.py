"""Organizations: communities, villages, party branches, venue operators and bureaus."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, enum_type
from app.extensions import Model
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


class Organization(TimestampMixin, Model):
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

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name}>"
