"""The region tree: provinces, prefecture-level cities and county-level divisions."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import enum_type
from app.extensions import Model
from app.regions.codes import prefix_of


class RegionLevel(enum.Enum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"

    @property
    def label(self) -> str:
        return {"province": "省级", "city": "市级", "county": "县级"}[self.value]


class Region(Model):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    level: Mapped[RegionLevel] = mapped_column(enum_type(RegionLevel), index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    lat: Mapped[float]
    lon: Mapped[float]
    is_current: Mapped[bool] = mapped_column(default=True)

    @property
    def prefix(self) -> str:
        """Every region inside this one has a code starting with this prefix."""
        return prefix_of(self.code, self.level.value)

    def contains(self, code: str | None) -> bool:
        return code is not None and code.startswith(self.prefix)

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
