"""The dashboards' summary tables, written only by app.reports.summary.refresh().

region_figures holds every figure of the dashboards already counted per county and organization:
a dashboard reads a few hundred of these rows for its whole region instead of counting a million
members on the request. figure_refreshes says when they were last counted ("数据更新于 …").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import Model


class RegionFigure(Model):
    """One figure for one county (and one organization in it, 0 for none): `metric` names what is
    counted, `key` which part of it (a pool level, a skill category, a month), `value` the count
    or the hours, and `since` the oldest time among the rows counted where that matters (the
    longest-waiting nomination, the oldest unfilled need)."""

    __tablename__ = "region_figures"
    __table_args__ = (Index("ix_region_figures_org_id_county_code", "org_id", "county_code"),
                      # the top venues of a province or city: one or two metrics of its county totals
                      Index("ix_region_figures_org_id_metric_county_code_key", "org_id", "metric", "county_code", "key"))

    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    since: Mapped[datetime | None]


class FigureRefresh(Model):
    """One refresh of region_figures: when it finished and how long it took."""

    __tablename__ = "figure_refreshes"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    seconds: Mapped[float] = mapped_column(Float)
    rows: Mapped[int]
