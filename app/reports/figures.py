"""A dashboard: the figures of one region (or one organization) and of each unit directly under it,
read from region_figures (app.reports.summary) and laid out as sections of tables and charts.
The same Section objects feed the page, its charts' data and the .xlsx export, so the three
never disagree.

A province's units are its cities (and 济源, a county directly under it), a city's its counties,
a county's its organizations (party branches, communities, villages); an organization has none.
Province and city dashboards read their children's totals only (org_id CITY_TOTAL or
COUNTY_TOTAL): a few thousand rows, whatever the number of members.

Privacy: below the county level (a county's organizations, an organization's own figures) a
count of people from 1 to 2 is shown as "<3", in the tables, the charts and the export alike.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from app.clock import add_months, local_now, utcnow
from app.extensions import db
from app.formats import fmt_hours, fmt_instant, fmt_month
from app.members.models import Capacity, PoolLevel, Skill, SkillCategory
from app.organizations.models import Organization
from app.regions.codes import code_within
from app.regions.models import Region, RegionLevel
from app.reports.models import FigureRefresh, RegionFigure
from app.reports.summary import (
    ACTIVE_DAYS,
    ACTIVE_DEFINITION,
    AGE_BANDS,
    CITY_TOTAL,
    COUNTY_TOTAL,
    HOUR_MONTHS,
    NO_ORG,
    OCCUPANCY_DEFINITION,
    OPEN_AGES,
    PER_VENUE_METRICS,
    PROVINCE_TOTAL,
    VENUE_MONTHS,
    last_refresh,
    month_key,
)
from app.tasks.models import TaskStatus
from app.venues.models import Venue

SMALL = 3                      # counts of people below this are hidden below the county level
NOT_SHOWN = "不足3人，不单列"       # hours served by fewer people, below the county level
MISSING_TOP = 10
VENUE_TOP = 10
# What the ranking tables show of each unit under the one on the page; the rest only of the unit itself.
CHILD_METRICS = ("members", "pool", "waiting", "active", "served", "records", "hours", "tasks", "theme_day")

Key = tuple[str, str]          # (metric, key)


class Figures:
    """Values and oldest times by metric and key, for one unit."""

    def __init__(self) -> None:
        self.by_metric: dict[str, dict[str, float]] = defaultdict(dict)
        self.since: dict[str, datetime] = {}      # by metric: the oldest of its keys

    def add(self, metric: str, key: str, value: float, since: datetime | None) -> None:
        keys = self.by_metric[metric]
        keys[key] = keys.get(key, 0) + (value or 0)
        if since is not None and (metric not in self.since or since < self.since[metric]):
            self.since[metric] = since

    @property
    def values(self) -> dict[Key, float]:
        """Every figure by (metric, key)."""
        return {(m, k): v for m, keys in self.by_metric.items() for k, v in keys.items()}

    def get(self, metric: str, key: str = "") -> float:
        return self.by_metric[metric].get(key, 0) if metric in self.by_metric else 0

    def total(self, metric: str) -> float:
        return sum(self.by_metric[metric].values()) if metric in self.by_metric else 0

    def keys(self, metric: str) -> dict[str, float]:
        return dict(self.by_metric.get(metric, {}))

    def oldest(self, metric: str) -> datetime | None:
        return self.since.get(metric)


@dataclass
class Unit:
    """What a dashboard is about: a region, or an organization in a county."""

    region: Region
    org: Organization | None = None

    @property
    def name(self) -> str:
        return self.org.name if self.org is not None else self.region.name

    @property
    def level(self) -> str:
        return "org" if self.org is not None else self.region.level.value

    @property
    def below_county(self) -> bool:
        return self.org is not None

    @property
    def children_below_county(self) -> bool:
        return self.org is not None or self.region.level is RegionLevel.COUNTY

    @property
    def child_word(self) -> str:
        return {"province": "市", "city": "县（市、区）", "county": "组织", "org": ""}[self.level]


@dataclass
class Child:
    key: str
    name: str
    region_code: str | None = None     # a region to drill into
    org_id: int | None = None          # or an organization
    figures: Figures = field(default_factory=Figures)


@dataclass
class Chart:
    """Data for static/js/dashboard.js: categories on one axis, one bar (or line) per series."""

    id: str
    kind: str                      # "bar" (horizontal, ranked) or "column" (vertical, by month)
    label: str                     # what the chart shows, for its aria-label
    categories: list[str]
    series: list[tuple[str, list[float | None]]]
    unit: str = ""                 # after each bar's number and the value axis' ("%")


@dataclass
class Table:
    caption: str
    head: list[str]
    rows: list[list[Any]]          # the first cell names the row
    foot: list[Any] | None = None
    links: list[str | None] | None = None   # a drill-down link per row, or None
    chart: Chart | None = None


@dataclass
class Section:
    id: str
    title: str
    summary: str
    tables: list[Table]
    note: str = ""


@dataclass
class Dashboard:
    unit: Unit
    totals: Figures
    children: list[Child]
    refreshed: FigureRefresh | None
    sections: list[Section] = field(default_factory=list)
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def period(self) -> str:
        today = local_now().date()
        return f"{fmt_month(add_months(today, -(HOUR_MONTHS - 1)))}至{fmt_month(today)}"


# --- reading ---------------------------------------------------------------------------------


def _child_regions(region: Region) -> list[Region]:
    return list(db.session.scalars(select(Region).where(Region.parent_code == region.code, Region.is_current)
                                   .order_by(Region.code)))


def _region_children(region: Region) -> tuple[Figures, list[Child]]:
    """Province and city: the region's own precounted total, and the figures the ranking tables
    need of each child's (a city's CITY_TOTAL rows, a county's COUNTY_TOTAL rows), all read by
    the index on (org_id, county_code)."""
    regions = _child_regions(region)
    children = {r.code: Child(key=r.code, name=r.name, region_code=r.code) for r in regions}
    cities = [r.code for r in regions if r.level is RegionLevel.CITY]
    counties = [r.code for r in regions if r.level is RegionLevel.COUNTY]
    own = PROVINCE_TOTAL if region.level is RegionLevel.PROVINCE else CITY_TOTAL
    f = RegionFigure
    totals = Figures()
    for code, org_id, metric, key, value, since in db.session.execute(
            select(f.county_code, f.org_id, f.metric, f.key, f.value, f.since).where(or_(
                and_(f.org_id == own, f.county_code == region.code, f.metric.not_in(PER_VENUE_METRICS)),
                and_(f.org_id == CITY_TOTAL, f.county_code.in_(cities), f.metric.in_(CHILD_METRICS)),
                and_(f.org_id == COUNTY_TOTAL, f.county_code.in_(counties), f.metric.in_(CHILD_METRICS))))):
        if org_id == own and code == region.code:
            totals.add(metric, key, value, since)
        else:
            children[code].figures.add(metric, key, value, since)
    return totals, list(children.values())


def _county_children(region: Region) -> tuple[Figures, list[Child]]:
    """A county: its total, and the figures the ranking tables need of each organization."""
    f = RegionFigure
    rows = db.session.execute(select(f.org_id, f.metric, f.key, f.value, f.since).where(
        f.county_code == region.code, f.metric.not_in(PER_VENUE_METRICS),
        or_(f.org_id == COUNTY_TOTAL, f.metric.in_(CHILD_METRICS)))).all()
    totals, by_org = Figures(), defaultdict[int, Figures](Figures)
    for org_id, metric, key, value, since in rows:
        (totals if org_id == COUNTY_TOTAL else by_org[org_id]).add(metric, key, value, since)
    names = dict(db.session.execute(select(Organization.id, Organization.name)
                                    .where(Organization.region_code == region.code)).all())
    children = [Child(key=str(org_id), name=names.get(org_id, "（已删除的组织）"), org_id=org_id, figures=figures)
                for org_id, figures in by_org.items() if org_id in names]
    if NO_ORG in by_org and by_org[NO_ORG].total("members"):
        children.append(Child(key="0", name="未填所在支部", figures=by_org[NO_ORG]))
    return totals, children


def _org_figures(org: Organization) -> Figures:
    f = RegionFigure
    totals = Figures()
    for metric, key, value, since in db.session.execute(
            select(f.metric, f.key, f.value, f.since).where(f.county_code == org.region_code, f.org_id == org.id)):
        totals.add(metric, key, value, since)
    return totals


def load(unit: Unit) -> Dashboard:
    """The dashboard of a unit the caller has already checked the actor may see."""
    children: list[Child] = []
    if unit.org is not None:
        totals = _org_figures(unit.org)
    elif unit.region.level is RegionLevel.COUNTY:
        totals, children = _county_children(unit.region)
    else:
        totals, children = _region_children(unit.region)
    board = Dashboard(unit=unit, totals=totals, children=children, refreshed=last_refresh())
    board.sections = [pool_section(board), activity_section(board), needs_section(board), venues_section(board)]
    return board


# --- showing ---------------------------------------------------------------------------------


def shown(value: float, *, small_hidden: bool) -> int | str:
    """A count as shown: "<3" for 1 or 2 people where small counts are hidden."""
    count = int(round(value))
    return "<3" if small_hidden and 0 < count < SMALL else count


def plotted(value: int | str) -> float | None:
    """A shown count as charted: a hidden one is no bar at all."""
    return None if isinstance(value, str) else float(value)


def _num(value: Any) -> float | None:
    return plotted(value) if isinstance(value, (int, str)) else float(value)


def percent(part: float, whole: float) -> str:
    return f"{part / whole * 100:.1f}%" if whole >= SMALL else "—"


def days_since(moment: datetime | None) -> int | str:
    return "—" if moment is None else max(0, (utcnow() - moment).days)


def hours_hidden(figures: Figures, *, small_hidden: bool) -> bool:
    """Hours served by only one or two people, where small counts are hidden, would be theirs."""
    return small_hidden and 0 < figures.get("served") < SMALL


def share(part: int | str, whole: float) -> str:
    """A share of people: none when the part itself is hidden (it would give the count away)."""
    return "—" if isinstance(part, str) else percent(part, whole)


def _ranked(children: list[Child], metric: str) -> list[Child]:
    return sorted(children, key=lambda c: (-c.figures.total(metric), c.key))


def _link(child: Child) -> str | None:
    if child.region_code:
        return f"region:{child.region_code}"
    if child.org_id:
        return f"org:{child.org_id}"
    return None


def pool_section(board: Dashboard) -> Section:
    t, unit = board.totals, board.unit
    hide_total, hide_child = unit.below_county, unit.children_below_county
    levels = list(PoolLevel)
    tables = []
    if board.children:
        ranked = _ranked(board.children, "members")
        rows: list[list[Any]] = []
        for c in ranked:
            f = c.figures
            rows.append([c.name, shown(f.get("members"), small_hidden=hide_child),
                         *(shown(f.get("pool", lv.value), small_hidden=hide_child) for lv in levels),
                         shown(f.total("waiting"), small_hidden=hide_child), days_since(f.oldest("waiting"))])
        tables.append(Table(
            caption=f"各{unit.child_word}登记和入库人数（按登记人数排序）",
            head=[unit.child_word, "登记人数", *(f"{lv.label}库" for lv in levels), "待审核", "最久已等（天）"],
            rows=rows, links=[_link(c) for c in ranked],
            foot=["合计", shown(t.get("members"), small_hidden=hide_total),
                  *(shown(t.get("pool", lv.value), small_hidden=hide_total) for lv in levels),
                  shown(t.total("waiting"), small_hidden=hide_total), days_since(t.oldest("waiting"))],
            chart=Chart("chart-pool", "bar", f"各{unit.child_word}登记人数和县级库人数排名",
                        [str(r[0]) for r in rows], [("登记人数", [plotted(r[1]) for r in rows]),
                                               ("县级库", [plotted(r[2]) for r in rows])])))
    categories = db.session.execute(select(SkillCategory.id, SkillCategory.name).order_by(SkillCategory.id)).all()
    skills = t.keys("skill")
    skill_rows = sorted(([name, shown(skills.get(str(cid), 0), small_hidden=hide_total)] for cid, name in categories),
                        key=lambda r: -(r[1] if isinstance(r[1], int) else 1))
    tables.append(Table(caption="按专长类别（一人有几类专长的，每类各算一次）", head=["专长类别", "人数"], rows=skill_rows,
                        chart=Chart("chart-skills", "bar", "各专长类别人数", [str(r[0]) for r in skill_rows],
                                    [("人数", [plotted(r[1]) for r in skill_rows])])))
    ages = t.keys("age")
    tables.append(Table(caption="按年龄段", head=["年龄段", "人数"],
                        rows=[[label, shown(ages.get(key, 0), small_hidden=hide_total)] for key, label in AGE_BANDS]))
    caps = t.keys("capacity")
    tables.append(Table(caption="按体力情况", head=["体力情况", "人数"],
                        rows=[[c.label, shown(caps.get(c.value, 0), small_hidden=hide_total)] for c in Capacity]
                        + [["未填（未同意健康信息授权）", shown(caps.get("none", 0), small_hidden=hide_total)]]))
    waited = days_since(t.oldest("waiting"))
    summary = (f"{unit.name}登记老同志 {shown(t.get('members'), small_hidden=hide_total)} 人，其中县级库 "
               f"{shown(t.get('pool', 'county'), small_hidden=hide_total)} 人、市级库 "
               f"{shown(t.get('pool', 'city'), small_hidden=hide_total)} 人、省级库 "
               f"{shown(t.get('pool', 'province'), small_hidden=hide_total)} 人；"
               f"{shown(t.total('waiting'), small_hidden=hide_total)} 条入库申请等待审核"
               + (f"，最久的已等 {waited} 天。" if waited != "—" else "。"))
    if board.children and board.children[0].figures.values:
        top = _ranked(board.children, "members")[0]
        summary += f"登记人数最多的是{top.name}（{shown(top.figures.get('members'), small_hidden=hide_child)} 人）。"
    return Section("pool", "入库情况", summary, tables)


def activity_section(board: Dashboard) -> Section:
    t, unit = board.totals, board.unit
    hide_total, hide_child = unit.below_county, unit.children_below_county
    tables = []
    if board.children:
        ranked = _ranked(board.children, "active")
        rows: list[list[Any]] = []
        for c in ranked:
            f = c.figures
            records = f.get("records", "attended") + f.get("records", "no_show")
            active = shown(f.get("active"), small_hidden=hide_child)
            rows.append([c.name, active, share(active, f.get("members")),
                         NOT_SHOWN if hours_hidden(f, small_hidden=hide_child) else fmt_hours(f.total("hours")),
                         percent(f.get("records", "no_show"), records)])
        tables.append(Table(
            caption=f"各{unit.child_word}活跃人数（按活跃人数排序）",
            head=[unit.child_word, "活跃人数", "占登记人数", f"近 {HOUR_MONTHS} 个月服务时长（小时）", f"近 {ACTIVE_DAYS} 天缺勤率"],
            rows=rows, links=[_link(c) for c in ranked],
            chart=Chart("chart-active", "bar", f"各{unit.child_word}活跃人数排名", [str(r[0]) for r in rows],
                        [("活跃人数", [plotted(r[1]) for r in rows])])))
    today = local_now().date()
    months = [add_months(today, -i) for i in range(HOUR_MONTHS - 1, -1, -1)]
    hidden = hours_hidden(t, small_hidden=hide_total)
    hours = [round(t.get("hours", month_key(m)), 2) for m in months]
    tables.append(Table(caption="每月确认的服务时长", head=["月份", "服务时长（小时）"],
                        rows=[[fmt_month(m), NOT_SHOWN if hidden else fmt_hours(h)]
                              for m, h in zip(months, hours, strict=True)],
                        foot=["合计", NOT_SHOWN if hidden else fmt_hours(sum(hours))],
                        chart=None if hidden else Chart(
                            "chart-hours", "column", "每月确认的服务时长（小时）", [fmt_month(m) for m in months],
                            [("服务时长（小时）", list[float | None](hours))])))
    records = t.get("records", "attended") + t.get("records", "no_show")
    active = shown(t.get("active"), small_hidden=hide_total)
    summary = (f"近 {ACTIVE_DAYS} 天活跃的老同志 {active} 人，占登记人数的 {share(active, t.get('members'))}；"
               + (f"近 {HOUR_MONTHS} 个月服务的不足 3 人，服务时长不单列；" if hidden else
                  f"近 {HOUR_MONTHS} 个月确认服务 {fmt_hours(sum(hours))} 小时，本月 {fmt_hours(hours[-1])} 小时；")
               + f"近 {ACTIVE_DAYS} 天缺勤率 {percent(t.get('records', 'no_show'), records)}。")
    return Section("activity", "服务活跃", summary, tables,
                   note=f"“活跃”的意思是：{ACTIVE_DEFINITION}。缺勤率 = 确认为未到的人次 ÷ 已确认出勤情况的人次。")


def needs_section(board: Dashboard) -> Section:
    t, unit = board.totals, board.unit
    statuses = [TaskStatus.OPEN, TaskStatus.FILLED, TaskStatus.CLOSED, TaskStatus.CANCELLED]
    tables = []
    if board.children:
        ranked = _ranked(board.children, "tasks")
        rows = [[c.name, int(c.figures.total("tasks")), *(int(c.figures.get("tasks", s.value)) for s in statuses)]
                for c in ranked]
        tables.append(Table(
            caption=f"各{unit.child_word}近 12 个月发布的需求（按发布数排序）",
            head=[unit.child_word, "发布", *(s.label for s in statuses)], rows=rows, links=[_link(c) for c in ranked],
            foot=["合计", int(t.total("tasks")), *(int(t.get("tasks", s.value)) for s in statuses)],
            chart=Chart("chart-needs", "bar", f"各{unit.child_word}发布的需求和仍在招募的需求",
                        [str(r[0]) for r in rows], [("发布", [_num(r[1]) for r in rows]),
                                               ("招募中", [_num(r[2]) for r in rows])])))
    ages = t.keys("open_age")
    tables.append(Table(caption="招募中（未满员）的需求已等待", head=["已等待", "需求数"],
                        rows=[[label, int(ages.get(key, 0))] for key, label in OPEN_AGES]))
    missing = sorted(t.keys("missing").items(), key=lambda kv: (-kv[1], kv[0]))[:MISSING_TOP]
    names = dict(db.session.execute(select(Skill.id, Skill.name).where(
        Skill.id.in_([int(k) for k, _ in missing]))).all()) if missing else {}
    missing_rows = [[names.get(int(k), k), int(v)] for k, v in missing]
    tables.append(Table(caption=f"招募中的需求最常要求的专长（前 {MISSING_TOP} 项）", head=["专长", "需求数"],
                        rows=missing_rows,
                        chart=Chart("chart-missing", "bar", "招募中的需求最常要求的专长", [str(r[0]) for r in missing_rows],
                                    [("需求数", [_num(r[1]) for r in missing_rows])]) if missing_rows else None))
    oldest = days_since(t.oldest("open_age"))
    summary = (f"近 12 个月发布服务需求 {int(t.total('tasks'))} 项，已满员 {int(t.get('tasks', 'filled'))} 项，"
               f"仍在招募 {int(t.total('open_age'))} 项" + (f"，等得最久的已 {oldest} 天" if oldest != "—" else "") + "。")
    if missing_rows:
        summary += f"招募中的需求最常要求的专长是{missing_rows[0][0]}（{missing_rows[0][1]} 项）。"
    return Section("needs", "服务需求", summary, tables)


def occupancy(booked: float, open_hours: float) -> str:
    """A venue's (or all venues') occupancy as shown, OCCUPANCY_DEFINITION: "—" without open hours."""
    return f"{booked / open_hours * 100:.1f}%" if open_hours > 0 else "—"


def occupancy_value(booked: float, open_hours: float) -> float | None:
    """The same as a number for the charts (percent, one decimal), None without open hours."""
    return round(booked / open_hours * 100, 1) if open_hours > 0 else None


def venues_section(board: Dashboard) -> Section:
    t, unit = board.totals, board.unit
    today = local_now().date()
    months = [add_months(today, -i) for i in range(VENUE_MONTHS - 1, -1, -1)]
    keys = [month_key(m) for m in months]
    by_venue = _top_venues(unit, keys[-1], keys)
    names = dict(db.session.execute(select(Venue.id, Venue.name).where(Venue.id.in_(list(by_venue))))
                 .all()) if by_venue else {}
    this = keys[-1]
    venue_rows = [[names.get(v, str(v)), *(occupancy(f.get("venue_hours", k), f.get("venue_open", k))
                                          for k in keys),
                   fmt_hours(f.get("venue_hours", this)), fmt_hours(f.get("venue_open", this))]
                  for v, f in by_venue.items()]
    tables = [Table(caption=f"本月已批准预约时长最多的前 {VENUE_TOP} 个场地：每月占用率",
                    head=["场地", *(fmt_month(m) for m in months), "本月已批准（小时）", "本月开放（小时）"],
                    rows=venue_rows,
                    chart=Chart("chart-venue-occupancy", "bar", f"本月占用率（%），前 {VENUE_TOP} 个场地",
                                [str(r[0]) for r in venue_rows],
                                [("本月占用率（%）", [occupancy_value(f.get("venue_hours", this),
                                                                  f.get("venue_open", this))
                                                   for f in by_venue.values()])], unit="%") if venue_rows else None)]
    monthly = [round(t.get("venue_month", k), 2) for k in keys]
    open_monthly = [round(t.get("venue_month_open", k), 2) for k in keys]
    pairs = list(zip(months, monthly, open_monthly, strict=True))
    tables.append(Table(caption="全部场地每月已批准的预约时长、开放时长和占用率",
                        head=["月份", "预约时长（小时）", "开放时长（小时）", "占用率"],
                        rows=[[fmt_month(m), fmt_hours(h), fmt_hours(o), occupancy(h, o)] for m, h, o in pairs],
                        chart=Chart("chart-venues", "column", "全部场地每月占用率（%）", [fmt_month(m) for m in months],
                                    [("占用率（%）", [occupancy_value(h, o) for _, h, o in pairs])], unit="%")))
    if board.children:
        branch_children = [c for c in board.children if c.figures.total("theme_day")]
        ranked = sorted(branch_children, key=lambda c: (-c.figures.get("theme_day", "missing"), c.key))
        tables.append(Table(
            caption=f"本月（{fmt_month(today)}）预约了主题党日的党支部",
            head=[unit.child_word, "党支部数", "已预约", "未预约"],
            rows=[[c.name, int(c.figures.total("theme_day")), int(c.figures.get("theme_day", "booked")),
                   int(c.figures.get("theme_day", "missing"))] for c in ranked],
            links=[_link(c) for c in ranked],
            foot=["合计", int(t.total("theme_day")), int(t.get("theme_day", "booked")), int(t.get("theme_day", "missing"))]))
    branches = int(t.total("theme_day"))
    summary = (f"本月已批准的场地预约共 {fmt_hours(monthly[-1])} 小时，全部场地本月开放 {fmt_hours(open_monthly[-1])} 小时，"
               f"占用率 {occupancy(monthly[-1], open_monthly[-1])}。"
               + (f"{branches} 个党支部中，{int(t.get('theme_day', 'booked'))} 个已预约本月的主题党日，"
                  f"{int(t.get('theme_day', 'missing'))} 个还没有预约。" if branches else "这里没有登记的党支部。"))
    return Section("venues", "场地与主题党日", summary, tables,
                   note=f"{OCCUPANCY_DEFINITION}。预约时长只算已批准的预约；主题党日算本月已批准或待审核的预约，"
                        "支部作为主办或共同参加都算。")


def _top_venues(unit: Unit, this: str, months: list[str]) -> dict[int, Figures]:
    """The venues with the most approved hours this month (at most VENUE_TOP), with their approved
    and open hours by month (metrics venue_hours and venue_open, keyed by month): two indexed reads
    of the county totals, not every venue's every month."""
    if unit.org is not None:
        return {}
    f = RegionFigure
    scope = (f.org_id == COUNTY_TOTAL, code_within(f.county_code, [unit.region.prefix]))
    top = db.session.execute(
        select(f.key, f.county_code).where(*scope, f.metric == "venue_hours", f.key.like(f"%:{this}"))
        .order_by(f.value.desc(), f.key).limit(VENUE_TOP)).all()
    result: dict[int, Figures] = {int(key.partition(":")[0]): Figures() for key, _ in top}
    if top:
        # By the primary key: the top venues' counties, then their two metrics' keys.
        for metric, key, value in db.session.execute(select(f.metric, f.key, f.value).where(
                f.county_code.in_(sorted({county for _, county in top})), f.org_id == COUNTY_TOTAL,
                f.metric.in_(PER_VENUE_METRICS), f.key.in_([f"{v}:{m}" for v in result for m in months]))):
            venue, _, month = key.partition(":")
            result[int(venue)].add(metric, month, value, None)
    return result


def refreshed_text(board: Dashboard) -> str:
    if board.refreshed is None:
        return "统计数据还没有生成：后台每小时统计一次，请稍后再看。"
    return f"数据更新于 {fmt_instant(board.refreshed.finished_at)}"


def chart_data(board: Dashboard) -> list[dict[str, Any]]:
    """Every chart's data, for the JSON script tag the page's static script reads."""
    return [{"id": table.chart.id, "kind": table.chart.kind, "label": table.chart.label,
             "categories": table.chart.categories, "unit": table.chart.unit,
             "series": [{"name": n, "data": d} for n, d in table.chart.series]}
            for section in board.sections for table in section.tables if table.chart is not None]


