"""Roster import from an .xlsx file made from our template (openpyxl).

Every row is checked (names, mobile numbers, places named in Chinese, skills and levels,
duplicates in the file and against existing accounts). In "valid" mode the good rows are written
and the bad ones reported; in "all" mode one bad row stops everything. The rows are written in a
single transaction, so a failure leaves nothing half-written. Large files run in the background
with progress saved on the ImportJob.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from flask import Flask, current_app
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import insert, select, update

from app.accounts.models import Role, RoleGrant, User
from app.accounts.phone import normalise_phone
from app.audit.services import record_audit
from app.clock import PERIODS, WEEKDAYS, utcnow
from app.extensions import db
from app.forms import PersonName
from app.members.index import member_columns
from app.members.models import (
    SKILL_LEVELS,
    Capacity,
    ConsentMethod,
    Gender,
    ImportJob,
    LocationPrecision,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    Skill,
    SkillCategory,
    SkillLocation,
    slot_bit,
)
from app.members.services import CONSENT_VERSION, oldest_birth_year, youngest_birth_year
from app.organizations.models import Organization, OrganizationKind
from app.regions import gazetteer
from app.regions.scope import admin_prefixes, code_within
from app.transactions import commit_fresh

log = logging.getLogger(__name__)

MAX_ROWS = 20_000
PROGRESS_EVERY = 500
SKILL_SLOTS = 3

COLUMNS: list[tuple[str, str]] = [
    ("姓名", "必填"),
    ("手机号码", "11 位手机号码；没有可以空着"),
    ("性别", "男 或 女"),
    ("出生年份", "四位数字，例如 1952"),
    ("原工作单位", ""),
    ("原职务", ""),
    ("所在党支部", "与系统里的支部名称一致；可以空着"),
    ("家庭住址", "必填，写明县（市、区），例如：郑州市管城回族区东大街12号"),
    ("服务范围（公里）", "1 到 100；空着按 5 公里"),
    ("方便的时间", "例如：周一上午、周三下午；空着为未填写"),
    *[item for i in range(1, SKILL_SLOTS + 1) for item in
      ((f"专长{i}", "从“专长列表”中选"), (f"程度{i}", "了解、熟练或精通"))],
    ("同意保存敏感信息", "是 或 否；空着为否"),
    ("同意方式", "纸质同意书 或 口头同意；同意时必填"),
    ("身体状况", "轻度、中度或较重；同意时才填"),
]
REQUIRED = {"姓名", "家庭住址"}
LEVELS = {v: k for k, v in SKILL_LEVELS.items()} | {"1": 1, "2": 2, "3": 3}
CAPACITIES = {c.label: c for c in Capacity}
METHODS = {"纸质同意书": ConsentMethod.PAPER, "纸质": ConsentMethod.PAPER, "口头同意": ConsentMethod.SPOKEN,
           "口头": ConsentMethod.SPOKEN}
YES, NO = {"是", "同意", "y", "yes"}, {"否", "不同意", "", "n", "no"}
_SLOT = re.compile(r"(周[一二三四五六日天])(上午|下午|晚上)")


# --- the template -------------------------------------------------------------------------------


def template_workbook() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "名册"
    ws.append([name for name, _ in COLUMNS])
    ws.append(["张建国", "13800138000", "男", 1952, "郑州市某中学", "校长", "", "郑州市管城回族区东大街12号", 5,
               "周二上午、周四下午", "课业辅导", "精通", "书法教学", "熟练", "", "", "是", "纸质同意书", "中度"])
    bold = Font(bold=True)
    for cell in ws[1]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="F4F1EC")
        ws.column_dimensions[cell.column_letter].width = max(12, len(cell.value) * 2 + 2)
    ws.freeze_panes = "A2"
    lists = {"性别": '"男,女"', "同意保存敏感信息": '"是,否"', "同意方式": '"纸质同意书,口头同意"',
             "身体状况": '"轻度,中度,较重"'}
    lists.update({f"程度{i}": '"了解,熟练,精通"' for i in range(1, SKILL_SLOTS + 1)})
    for index, (name, _) in enumerate(COLUMNS, start=1):
        if name in lists:
            dv = DataValidation(type="list", formula1=lists[name], allow_blank=True)
            ws.add_data_validation(dv)
            letter = ws.cell(row=1, column=index).column_letter
            dv.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
    guide = wb.create_sheet("填写说明")
    guide.append(["列", "怎么填"])
    for name, hint in COLUMNS:
        guide.append([name + ("（必填）" if name in REQUIRED else ""), hint])
    guide.append([])
    guide.append(["提示", "第一行是标题，不要改动；示例行（张建国）请删除后再填写。每人一行，空行会被跳过。"])
    skills = wb.create_sheet("专长列表")
    skills.append(["类别", "专长"])
    for category, skill in db.session.execute(select(SkillCategory.name, Skill.name).join(Skill.category).where(
            Skill.active).order_by(SkillCategory.sort_order, Skill.sort_order)):
        skills.append([category, skill])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- reading and checking -----------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass
class Row:
    number: int
    name: str = ""
    phone: str | None = None
    gender: Gender | None = None
    birth_year: int | None = None
    work_unit: str = ""
    post: str = ""
    branch_id: int | None = None
    county_code: str = ""
    address: str = ""
    radius_km: int = 5
    availability_mask: int = 0
    skills: list[tuple[int, int]] = field(default_factory=list)
    consent_method: ConsentMethod | None = None
    capacity: Capacity | None = None
    errors: list[str] = field(default_factory=list)


@lru_cache(maxsize=20_000)
def _locate(address: str, province: str):
    return gazetteer.locate(address, within=province)


class Checker:
    """Checks rows one by one against the database state loaded once up front."""

    def __init__(self, actor: User, phones_in_file: set[str]):
        self.prefixes = admin_prefixes(actor)
        self.province = current_app.config["HOME_PROVINCE"][:2]
        self.skills = {name: sid for sid, name in db.session.execute(select(Skill.id, Skill.name).where(Skill.active))}
        self.branches = {name: oid for oid, name in db.session.execute(
            select(Organization.id, Organization.name).where(
                Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.active,
                code_within(Organization.region_code, self.prefixes)))}
        self.taken = set()
        phones = sorted(phones_in_file)
        for start in range(0, len(phones), 900):
            self.taken.update(db.session.scalars(select(User.phone).where(User.phone.in_(phones[start:start + 900]))))
        self.first_row_of_phone: dict[str, int] = {}
        self.name_check = PersonName()

    def check(self, number: int, values: dict[str, str]) -> Row:
        row = Row(number)
        err = row.errors.append
        row.name = values.get("姓名", "")
        if not row.name:
            err("缺少姓名")
        elif len(row.name) > 40 or not self.name_check.pattern.match(row.name):
            err("姓名只能包含汉字、字母和“·”，最多 40 个字")

        raw_phone = values.get("手机号码", "")
        if raw_phone:
            row.phone = normalise_phone(raw_phone)
            if row.phone is None:
                err(f"手机号码“{raw_phone[:20]}”不对，应为 11 位手机号码")
            elif row.phone in self.first_row_of_phone:
                err(f"手机号码与第 {self.first_row_of_phone[row.phone]} 行重复")
            elif row.phone in self.taken:
                err("这个手机号码已经注册过账号")
            if row.phone and row.phone not in self.first_row_of_phone:
                self.first_row_of_phone[row.phone] = number

        gender = values.get("性别", "")
        if gender:
            row.gender = {"男": Gender.MALE, "女": Gender.FEMALE}.get(gender)
            if row.gender is None:
                err("性别只能填“男”或“女”")
        year = values.get("出生年份", "")
        if year:
            if not year.isdigit() or not oldest_birth_year() <= int(year) <= youngest_birth_year():
                err(f"出生年份应为 {oldest_birth_year()} 到 {youngest_birth_year()} 之间的四位数字")
            else:
                row.birth_year = int(year)
        row.work_unit, row.post = values.get("原工作单位", "")[:100], values.get("原职务", "")[:60]
        if len(values.get("原工作单位", "")) > 100 or len(values.get("原职务", "")) > 60:
            err("原工作单位最多 100 个字，原职务最多 60 个字")

        branch = values.get("所在党支部", "")
        if branch:
            row.branch_id = self.branches.get(branch)
            if row.branch_id is None:
                err(f"没有找到党支部“{branch[:30]}”（须是本辖区内已登记的支部，名称一致）")

        row.address = values.get("家庭住址", "")
        if not row.address:
            err("缺少家庭住址")
        elif len(row.address) > 200:
            err("家庭住址最多 200 个字")
        else:
            place = _locate(row.address, self.province)
            if place is None or place.level != "county":
                err(f"家庭住址“{row.address[:30]}”没有写明县（市、区）或地名不对")
            elif not any(place.code.startswith(p) for p in self.prefixes):
                err(f"{place.name}不在您管辖的地区内")
            else:
                row.county_code = place.code

        radius = values.get("服务范围（公里）", "")
        if radius:
            if not radius.isdigit() or not 1 <= int(radius) <= 100:
                err("服务范围应为 1 到 100 之间的整数")
            else:
                row.radius_km = int(radius)

        slots = values.get("方便的时间", "")
        if slots:
            found = _SLOT.findall(slots.replace("周天", "周日"))
            leftover = _SLOT.sub("", slots.replace("周天", "周日"))
            if not found or re.sub(r"[\s、，,;；]", "", leftover):
                err("方便的时间请写成“周一上午、周三下午”这样")
            for day, period in found:
                row.availability_mask |= slot_bit(WEEKDAYS.index(day.replace("周天", "周日")), PERIODS.index(period))

        seen_skills = set()
        for i in range(1, SKILL_SLOTS + 1):
            skill, level = values.get(f"专长{i}", ""), values.get(f"程度{i}", "")
            if not skill and not level:
                continue
            skill_id = self.skills.get(skill)
            if skill_id is None:
                err(f"专长{i}“{skill[:20]}”不在专长列表中" if skill else f"填了程度{i}却没有填专长{i}")
                continue
            if level not in LEVELS:
                err(f"程度{i}只能填了解、熟练或精通")
                continue
            if skill_id in seen_skills:
                err(f"专长“{skill}”重复了")
                continue
            seen_skills.add(skill_id)
            row.skills.append((skill_id, LEVELS[level]))

        consent = values.get("同意保存敏感信息", "").lower()
        if consent not in YES | NO:
            err("同意保存敏感信息只能填“是”或“否”")
        elif consent in YES:
            row.consent_method = METHODS.get(values.get("同意方式", ""))
            if row.consent_method is None:
                err("同意时请填写同意方式：纸质同意书或口头同意")
            capacity = values.get("身体状况", "")
            if capacity:
                row.capacity = CAPACITIES.get(capacity)
                if row.capacity is None:
                    err("身体状况只能填轻度、中度或较重")
        elif values.get("身体状况"):
            err("没有同意保存敏感信息时，不能填写身体状况")
        return row


def read_rows(content: bytes):
    """(number, {column: text}) for every row after the header; blank rows as None."""
    wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [_text(v) for v in next(rows, ())]
        missing = REQUIRED - set(header)
        if missing:
            raise ValueError("文件的第一行不是模板的标题行，缺少：" + "、".join(sorted(missing)) + "。请用下载的模板填写。")
        for number, values in enumerate(rows, start=2):
            texts = {name: _text(v) for name, v in zip(header, values, strict=False) if name}
            if not any(texts.values()):
                yield number, None
            else:
                yield number, texts
    finally:
        wb.close()


# --- running a job ------------------------------------------------------------------------------


def _progress(job_id: int, **fields) -> None:
    """Record progress in its own short transaction, so the page showing it sees it at once."""
    commit_fresh(lambda: db.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**fields)))


def run_import(job_id: int) -> None:
    job = db.session.get(ImportJob, job_id)
    if job is None or job.finished:
        return
    content, mode, actor_id = job.content or b"", job.mode, job.created_by_id
    try:
        _progress(job_id, status="checking", processed_rows=0)
        rows = list(read_rows(content))
        if len(rows) > MAX_ROWS:
            raise ValueError(f"文件有 {len(rows)} 行，超过了 {MAX_ROWS} 行，请分开导入")
        phones = {normalise_phone(v.get("手机号码", "")) for _, v in rows if v}
        checker = Checker(db.session.get(User, actor_id), {p for p in phones if p})
        good: list[Row] = []
        report = []
        blank = 0
        for i, (number, values) in enumerate(rows, start=1):
            if values is None:
                blank += 1
            else:
                row = checker.check(number, values)
                if row.errors:
                    report.append({"row": number, "name": row.name[:40], "errors": row.errors})
                else:
                    good.append(row)
            if i % PROGRESS_EVERY == 0:
                _progress(job_id, total_rows=len(rows), processed_rows=i)
        summary = {"total_rows": len(rows), "processed_rows": len(rows), "blank_rows": blank,
                   "valid_rows": len(good), "error_rows": len(report),
                   "report": json.dumps(report, ensure_ascii=False)}
        if mode == "all" and report:
            summary["message"] = (f"有 {len(report)} 行有错误。按“全部或全不”的方式，没有导入任何一行。"
                                  "请改正后重新上传。")
            good = []
        _progress(job_id, status="writing", **summary)

        def write():
            actor = db.session.get(User, actor_id)
            imported = write_rows(actor, good)
            message = summary.get("message") or (
                f"导入了 {imported} 人" + (f"，{len(report)} 行有错误没有导入" if report else "") + "。")
            db.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                imported_rows=imported, message=message, status="done", finished_at=utcnow(), content=None))
            record_audit(actor, "pool.import", db.session.get(ImportJob, job_id),
                         detail={"imported": imported, "errors": len(report), "mode": mode})

        commit_fresh(write)   # every row, or none of them
    except Exception as e:  # the job fails cleanly: nothing of it was written
        db.session.rollback()
        log.exception("import %s failed", job_id)
        message = str(e) if isinstance(e, ValueError) else "文件无法读取，请确认是用模板填写的 .xlsx 文件。"
        _progress(job_id, status="failed", message=message, finished_at=utcnow(), content=None)


def write_rows(actor: User, rows: list[Row]) -> int:
    """Create accounts and profiles for checked rows, in the caller's transaction."""
    if not rows:
        return 0
    now = utcnow()
    counties = {code: gazetteer.get(code) for code in {r.county_code for r in rows}}
    ids: list[int] = []
    for start in range(0, len(rows), 1000):
        chunk = rows[start:start + 1000]
        result = db.session.execute(insert(User).returning(User.id, sort_by_parameter_order=True), [
            {"name": r.name, "phone": r.phone, "password_hash": None, "active": True, "elder_mode": False,
             "created_at": now, "updated_at": now} for r in chunk])
        ids.extend(result.scalars().all())
    db.session.execute(insert(RoleGrant), [{"user_id": uid, "role": Role.MEMBER, "created_at": now} for uid in ids])
    profiles, skills, index = [], [], []
    for uid, r in zip(ids, rows, strict=True):
        county = counties[r.county_code]
        consent = r.consent_method is not None
        profiles.append({
            "id": uid, "gender": r.gender, "birth_year": r.birth_year, "work_unit": r.work_unit, "post": r.post,
            "branch_id": r.branch_id, "region_code": r.county_code, "address": r.address,
            "lat": county.lat, "lon": county.lon, "location_precision": LocationPrecision.COUNTY,
            "service_radius_km": r.radius_km, "capacity": r.capacity if consent else None,
            "no_night": False, "no_outdoor": False, "max_hours_week": None,
            "availability_mask": r.availability_mask,
            "consent_version": CONSENT_VERSION if consent else None, "consent_at": now if consent else None,
            "consent_method": r.consent_method, "consent_taken_by_id": actor.id if consent else None,
            "status": MemberStatus.ACTIVE, "registered_by_id": actor.id, "created_at": now, "updated_at": now})
        common = member_columns(member_id=uid, capacity=r.capacity, lat=county.lat, lon=county.lon,
                                radius_km=r.radius_km, availability_mask=r.availability_mask, limits=0,
                                max_hours_week=None, pool_rank=0, pool_city="", region_code=r.county_code)
        for skill_id, level in r.skills:
            skills.append({"member_id": uid, "skill_id": skill_id, "level": level})
            if consent:
                index.append({**common, "skill_id": skill_id, "level": level})
    for table, values in ((MemberProfile, profiles), (MemberSkill, skills), (SkillLocation, index)):
        for start in range(0, len(values), 2000):
            db.session.execute(insert(table), values[start:start + 2000])
    return len(ids)


def start(app: Flask, job: ImportJob) -> None:
    """Run a committed job: inline when configured (tests), else in a background thread."""
    if app.config.get("IMPORT_INLINE"):
        run_import(job.id)
        return
    thread = threading.Thread(target=_in_thread, args=(app, job.id), name=f"import-{job.id}", daemon=True)
    thread.start()


def _in_thread(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            run_import(job_id)
        finally:
            db.session.remove()
