"""Roster import from an .xlsx file made from our template (openpyxl).

Every row is checked (names, mobile numbers, places named in Chinese, skills and levels,
duplicates in the file and against existing accounts). In "valid" mode the good rows are written
and the bad ones reported; in "all" mode one bad row stops everything. The rows are written in a
single transaction together with the job's "done", so a failure (or a worker killed halfway)
leaves nothing half-written and the job can run again. Every import runs as a background job
(app.jobs, kind "import") with progress saved on the ImportJob.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from flask import current_app
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import insert, select, update
from werkzeug.datastructures import FileStorage

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.accounts.phone import normalise_phone
from app.audit.services import record_audit
from app.clock import PERIODS, WEEKDAYS, utcnow
from app.errors import Invalid
from app.extensions import db
from app.forms import PersonName
from app.jobs import services as jobs
from app.jobs.models import Job
from app.members import profile
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
from app.members.profile import CONSENT_VERSION, ProfileData, SkillInput
from app.organizations.models import Organization, OrganizationKind
from app.regions import gazetteer
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


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass
class Row:
    """One roster row, read into the profile the services would register, with what was wrong."""

    number: int
    data: ProfileData
    phone: str | None = None
    consent_method: ConsentMethod | None = None
    errors: list[str] = field(default_factory=list)


@lru_cache(maxsize=20_000)
def _locate(address: str, province: str) -> gazetteer.Place | None:
    return gazetteer.locate(address, within=province)


class Checker:
    """Reads rows one by one into profiles and checks them with the profile's own rules
    (app.members.profile), against the database state loaded once up front. What only a roster
    can get wrong (a cell that cannot be read, a number twice in the file) is said here; a rule a
    row breaks is said as the services say it. Every problem of a row is listed."""

    def __init__(self, actor: User, phones_in_file: set[str]):
        self.actor = actor
        self.province = current_app.config["HOME_PROVINCE"][:2]
        self.known_skills = {s.id: s for s in db.session.scalars(select(Skill))}
        self.skills = {s.name: s.id for s in self.known_skills.values() if s.active}
        self.branches = {o.name: o.id for o in db.session.scalars(access.visible(Organization, actor).where(
            Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.active))}
        self.taken: set[str] = set()
        phones = sorted(phones_in_file)
        for start in range(0, len(phones), 900):
            self.taken.update(p for p in db.session.scalars(select(User.phone).where(User.phone.in_(phones[start:start + 900])))
                              if p is not None)
        self.first_row_of_phone: dict[str, int] = {}

    def check(self, number: int, values: dict[str, str]) -> Row:
        data = ProfileData(name=values.get("姓名", ""), work_unit=values.get("原工作单位", ""),
                           post=values.get("原职务", ""), address=values.get("家庭住址", ""))
        row = Row(number, data)
        unread: dict[str, str] = {}     # field → why its cell could not be read
        if data.name and not PersonName.pattern.match(data.name):     # the name forms' format
            unread["name"] = "姓名只能包含汉字、字母和“·”，最多 40 个字"
        self._phone(row, values.get("手机号码", ""), unread)
        self._person(data, values, unread)
        self._home(data, unread)
        self._service(data, values, unread)
        self._skills(data, values, unread)
        self._consent(row, values, unread)
        broken = profile.problems(data, known_skills=self.known_skills)
        try:
            profile.check_consent_method(data, row.consent_method)
        except Invalid as e:
            broken.append(e)
        row.errors = list(unread.values()) + [e.message for e in broken if e.field not in unread]
        return row

    def _phone(self, row: Row, raw: str, unread: dict[str, str]) -> None:
        if not raw:
            return
        row.phone = normalise_phone(raw)
        if row.phone is None:
            unread["phone"] = f"手机号码“{raw[:20]}”不对，应为 11 位手机号码"
        elif row.phone in self.first_row_of_phone:
            unread["phone"] = f"手机号码与第 {self.first_row_of_phone[row.phone]} 行重复"
        elif row.phone in self.taken:
            unread["phone"] = "这个手机号码已经注册过账号"
        if row.phone and row.phone not in self.first_row_of_phone:
            self.first_row_of_phone[row.phone] = row.number

    def _person(self, data: ProfileData, values: dict[str, str], unread: dict[str, str]) -> None:
        gender = values.get("性别", "")
        if gender:
            data.gender = {"男": Gender.MALE, "女": Gender.FEMALE}.get(gender)
            if data.gender is None:
                unread["gender"] = "性别只能填“男”或“女”"
        year = values.get("出生年份", "")
        if year:
            if year.isdigit():
                data.birth_year = int(year)
            else:
                unread["birth_year"] = "出生年份请填四位数字，例如 1952"
        branch = values.get("所在党支部", "")
        if branch:
            data.branch_id = self.branches.get(branch)
            if data.branch_id is None:
                unread["branch"] = f"没有找到党支部“{branch[:30]}”（须是本辖区内已登记的支部，名称一致）"

    def _home(self, data: ProfileData, unread: dict[str, str]) -> None:
        """The county a home address names, in the actor's region."""
        if not data.address or len(data.address) > 200:
            return
        place = _locate(data.address, self.province)
        if place is None or place.level != "county":
            unread["address"] = f"家庭住址“{data.address[:30]}”没有写明县（市、区）或地名不对"
        elif not access.may_place_in(self.actor, place.code):
            unread["address"] = f"{place.name}不在您管辖的地区内"
        else:
            data.county_code = place.code

    @staticmethod
    def _service(data: ProfileData, values: dict[str, str], unread: dict[str, str]) -> None:
        radius = values.get("服务范围（公里）", "")
        if radius:
            if radius.isdigit():
                data.radius_km = int(radius)
            else:
                unread["radius_km"] = "服务范围应为 1 到 100 之间的整数"
        slots = values.get("方便的时间", "").replace("周天", "周日")
        if slots:
            found = _SLOT.findall(slots)
            if not found or re.sub(r"[\s、，,;；]", "", _SLOT.sub("", slots)):
                unread["availability"] = "方便的时间请写成“周一上午、周三下午”这样"
            for day, period in found:
                data.availability_mask |= slot_bit(WEEKDAYS.index(day), PERIODS.index(period))

    def _skills(self, data: ProfileData, values: dict[str, str], unread: dict[str, str]) -> None:
        for i in range(1, SKILL_SLOTS + 1):
            skill, level = values.get(f"专长{i}", ""), values.get(f"程度{i}", "")
            if not skill and not level:
                continue
            skill_id = self.skills.get(skill)
            if skill_id is None:
                unread[f"skill{i}"] = f"专长{i}“{skill[:20]}”不在专长列表中" if skill else f"填了程度{i}却没有填专长{i}"
            elif level not in LEVELS:
                unread[f"skill{i}"] = f"程度{i}只能填了解、熟练或精通"
            else:
                data.skills.append(SkillInput(skill_id, LEVELS[level]))

    @staticmethod
    def _consent(row: Row, values: dict[str, str], unread: dict[str, str]) -> None:
        data = row.data
        consent = values.get("同意保存敏感信息", "").lower()
        if consent not in YES | NO:
            unread["consent"] = "同意保存敏感信息只能填“是”或“否”"
        data.consent = consent in YES
        if data.consent:
            row.consent_method = METHODS.get(values.get("同意方式", ""))
        capacity = values.get("身体状况", "")
        if capacity:
            data.capacity = CAPACITIES.get(capacity)
            if data.capacity is None:
                unread["capacity"] = "身体状况只能填轻度、中度或较重"


def read_rows(content: bytes) -> Iterator[tuple[int, dict[str, str] | None]]:
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


def _progress(job_id: int, **fields: Any) -> None:
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
        checker = Checker(db.session.get_one(User, actor_id), {p for p in phones if p})
        good: list[Row] = []
        report = []
        blank = 0
        for i, (number, values) in enumerate(rows, start=1):
            if values is None:
                blank += 1
            else:
                row = checker.check(number, values)
                if row.errors:
                    report.append({"row": number, "name": row.data.name[:40], "errors": row.errors})
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

        def write() -> None:
            actor = db.session.get_one(User, actor_id)
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
    counties = {code: gazetteer.place(code) for code in {r.data.county_code for r in rows}}
    ids: list[int] = []
    for start in range(0, len(rows), 1000):
        chunk = rows[start:start + 1000]
        result = db.session.execute(insert(User).returning(User.id, sort_by_parameter_order=True), [
            {"name": r.data.name, "phone": r.phone, "password_hash": None, "active": True, "elder_mode": False,
             "created_at": now, "updated_at": now} for r in chunk])
        ids.extend(result.scalars().all())
    db.session.execute(insert(RoleGrant), [{"user_id": uid, "role": Role.MEMBER, "created_at": now} for uid in ids])
    profiles, skills, index = [], [], []
    for uid, r in zip(ids, rows, strict=True):
        d, county = r.data, counties[r.data.county_code]
        profiles.append({
            "id": uid, "gender": d.gender, "birth_year": d.birth_year, "work_unit": d.work_unit, "post": d.post,
            "branch_id": d.branch_id, "region_code": d.county_code, "address": d.address,
            "lat": county.lat, "lon": county.lon, "location_precision": LocationPrecision.COUNTY,
            "service_radius_km": d.radius_km, "capacity": d.capacity if d.consent else None,
            "no_night": False, "no_outdoor": False, "max_hours_week": None,
            "availability_mask": d.availability_mask,
            "consent_version": CONSENT_VERSION if d.consent else None, "consent_at": now if d.consent else None,
            "consent_method": r.consent_method if d.consent else None,
            "consent_taken_by_id": actor.id if d.consent else None,
            "status": MemberStatus.ACTIVE, "registered_by_id": actor.id, "created_at": now, "updated_at": now})
        common = member_columns(member_id=uid, capacity=d.capacity, lat=county.lat, lon=county.lon,
                                radius_km=d.radius_km, availability_mask=d.availability_mask, limits=0,
                                max_hours_week=None, pool_rank=0, pool_city="", region_code=d.county_code)
        for item in d.skills:
            skills.append({"member_id": uid, "skill_id": item.skill_id, "level": item.level})
            if d.consent:
                index.append({**common, "skill_id": item.skill_id, "level": item.level})
    for table, values in ((MemberProfile, profiles), (MemberSkill, skills), (SkillLocation, index)):
        for start in range(0, len(values), 2000):
            db.session.execute(insert(table), values[start:start + 2000])
    return len(ids)


def upload(*, actor: User, upload: FileStorage | None, mode: str) -> ImportJob:
    """Keep an uploaded roster as a queued job (the file is read by the job, not the request); the
    worker takes it once the caller commits."""
    name = (getattr(upload, "filename", "") or "").strip()
    content = upload.read() if upload is not None else b""
    if upload is not None:
        upload.close()
    if not name.lower().endswith(".xlsx") or not content.startswith(b"PK"):
        raise Invalid("请上传用模板填写的 .xlsx 文件", field="file")
    job = ImportJob(created_by_id=actor.id, filename=name[:200], mode=mode, content=content)
    db.session.add(job)
    db.session.flush()
    jobs.submit("import", {"import_id": job.id}, actor=actor)
    return job


def report(job: ImportJob) -> list[dict]:
    """The rows that were not imported: [{"row": n, "name": …, "errors": […]}]."""
    return json.loads(job.report or "[]")


def report_csv(job: ImportJob) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行号", "姓名", "问题"])
    for item in report(job):
        writer.writerow([item["row"], item["name"], "；".join(item["errors"])])
    return out.getvalue()


def _abandon(job: Job) -> None:
    """The sweeper gave the job up: its import says so, in the sweeper's transaction."""
    db.session.execute(update(ImportJob).where(ImportJob.id == json.loads(job.params)["import_id"],
                                               ImportJob.status.not_in(("done", "failed")))
                       .values(status="failed", message=jobs.INTERRUPTED, finished_at=utcnow(), content=None))


@jobs.handler("import", rerun_safe=True, abandoned=_abandon)
def _run(work: jobs.Work) -> None:
    """The job: safe to run again after a crash, since nothing is written until the last
    transaction, which also marks the import done."""
    import_id = work.params["import_id"]
    run_import(import_id)
    job = db.session.get_one(ImportJob, import_id)
    if job.status == "failed":
        raise jobs.JobFailed(job.message)
    work.message = job.message
