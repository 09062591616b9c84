"""Roster import: the bureau's own spreadsheet, or our template (.xlsx, .xls, .csv).

The jobs' steps live here; the pieces they use beside it: app.members.sheets (finding the table,
app.members.xlsx reading .xlsx fast), app.members.columns (the mapping), app.members.cells (values),
app.members.rows (checking a row, comparing it with a member), app.members.staging (the sheet's
rows parsed once and staged on disk, the write step's plan).

An import runs as background jobs (app.jobs, kind "import"), one per step, with the admin in
between: read the file (app.members.sheets finds each sheet's header row and first values) → the
admin confirms the sheet and what each column is (app.members.columns proposes it from a synonym
table or from the mapping remembered for the same headers) → check every row without writing (the
preview: create, update, unchanged, refused or held for review, and why; values read by
app.members.cells, with a note wherever they had to be interpreted; skills the taxonomy lacks listed
for the admin to map or leave out) → the admin imports the valid rows, or nothing. The last step
checks again and writes the new members and the updates in a single transaction together with the
job's "done", so a failure (or a worker killed halfway) leaves nothing half-written and the step
can run again. Progress is saved on the ImportJob.

No duplicates: a row whose phone number is a member's in the admin's region updates that member
(or is reported unchanged); a row without a phone that names a member already in the pool (same
name, birth year and county) is held back for review; one person twice in a file is refused the
second time.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import defer
from werkzeug.datastructures import FileStorage

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.audit.services import record_audit
from app.clock import utcnow
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db
from app.jobs import services as jobs
from app.jobs.models import Job
from app.members import bulk, cells, columns, sheets, staging
from app.members.index import member_columns, reindex_members
from app.members.models import (
    ImportJob,
    ImportMapping,
    LocationPrecision,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    Skill,
    SkillCategory,
    SkillLocation,
)
from app.members.profile import CONSENT_VERSION
from app.members.rows import Checker, Row, apply_update, chunks, compare, to_record, update_options
from app.regions import gazetteer
from app.transactions import commit_fresh

log = logging.getLogger(__name__)

MAX_ROWS = sheets.MAX_ROWS
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
ACTIONS = {"create": "新建", "update": "更新", "unchanged": "不变", "refuse": "不导入", "review": "待核对"}


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


# --- the job: read, map, check, write ----------------------------------------------------------


def _progress(job_id: int, **fields: Any) -> None:
    """Record progress in its own short transaction, so the page showing it sees it at once."""
    commit_fresh(lambda: db.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**fields)))


def _job(job_id: int) -> ImportJob:
    """The import, without its row report (tens of megabytes at 100,000 rows, rewritten whole by
    the step): the steps never read it."""
    return db.session.get_one(ImportJob, job_id, options=[defer(ImportJob.report)])


def _fail(job_id: int, message: str) -> None:
    """The import failed: its staged rows go with its file."""
    job = db.session.get(ImportJob, job_id, options=[defer(ImportJob.report)])
    if job is not None:
        staging.discard(_staged_rows(job))
    _progress(job_id, status="failed", message=message, finished_at=utcnow(), content=None)


def layouts_of(job: ImportJob) -> list[dict]:
    return json.loads(job.sheets or "[]")


def mapping_of(job: ImportJob) -> dict:
    return json.loads(job.mapping or "{}")


def remembered(headers: list[str]) -> ImportMapping | None:
    return db.session.scalar(select(ImportMapping).where(ImportMapping.signature == columns.signature(headers)))


def proposed_mapping(headers: list[str]) -> tuple[list[str | None], dict[str, int], bool]:
    """(a field for each column, skill choices, whether it was remembered): the mapping saved for
    these headers, else the synonym table's."""
    saved = remembered(headers)
    if saved is not None:
        return json.loads(saved.columns), json.loads(saved.skills or "{}"), True
    return columns.auto_mapping(headers), {}, False


def read_file(job_id: int) -> None:
    """Find each sheet's header and first values; choose the sheet when it is obvious and propose
    its mapping. The admin confirms it on the mapping page (or the CLI goes straight on)."""
    job = _job(job_id)
    content, kind = job.content or b"", job.kind
    _progress(job_id, status="reading")
    book = sheets.Book(content, kind)
    try:
        found = sheets.survey(book)
    finally:
        book.close()
    if not any(s.header for s in found):
        raise sheets.Refused("在文件的前 30 行里没有找到标题行（要有“姓名”一列）。请确认上传的是名册，"
                             "或用下载的模板填写。")
    chosen = sheets.choose(found)
    fields: dict[str, Any] = {"sheets": json.dumps([s.to_json() for s in found], ensure_ascii=False),
                              "status": "mapping"}
    if chosen is not None and chosen.header is not None:
        mapping, skills, _ = proposed_mapping(chosen.header.names)
        fields.update(sheet=chosen.name, mapping=json.dumps({**mapping_of(job), "columns": mapping, "skills": skills},
                                                            ensure_ascii=False))
    _progress(job_id, **fields)


def _sheet_layout(job: ImportJob) -> dict:
    layout = next((s for s in layouts_of(job) if s["name"] == job.sheet and s["headers"]), None)
    if layout is None:
        raise sheets.Refused("请先选择要导入的工作表")
    return layout


@dataclass
class Outcome:
    """What checking a file found: counts by action, the skipped rows, the skills the taxonomy lacks,
    and the row report as JSON text (written row by row as the rows go by, never held as objects)."""

    data_rows: int = 0
    blank: int = 0
    skipped: int = 0
    actions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    unknown_skills: dict[str, int] = field(default_factory=dict)
    report: str = "[]"

    def counts(self) -> dict[str, int]:
        return dict(self.actions)


def _table(job: ImportJob, header: sheets.Header) -> Iterator[tuple[int, str, tuple]]:
    """The chosen sheet's rows below the header, parsed once: staged on disk by the first step that
    reads them, streamed from there by the next ones."""
    content, kind, sheet = job.content or b"", job.kind, job.sheet or ""

    def parse() -> Iterator[tuple[int, str, tuple]]:
        book = sheets.Book(content, kind)
        try:
            yield from sheets.table(book, sheet, header)
        finally:
            book.close()

    return staging.staged(staging.rows_path(content, f"{kind}:{sheet}", header.row), parse)


def _staged_rows(job: ImportJob) -> Any:
    layout = next((s for s in layouts_of(job) if s["name"] == job.sheet and s["headers"]), None)
    if not job.content or layout is None:
        return None
    return staging.rows_path(job.content, f"{job.kind}:{job.sheet or ''}", layout["header_row"])


CHECK_CHUNK = 1000


def check_file(job_id: int, actor: User, *, progress: bool = True,
               plan: Callable[[Row], None] | None = None) -> Outcome:
    """Every data row of the chosen sheet, read by the mapping and checked; nothing written. Two
    passes over the staged rows: the phones and names first (the members they may be, loaded in
    batches), then each row checked, chunk by chunk, with its report written as it goes. The rows
    that would be created or update a member go to `plan`, when given."""
    job = _job(job_id)
    layout, mapping = _sheet_layout(job), mapping_of(job)
    header = sheets.Header(layout["header_row"], layout["headers"], layout["recognised"])
    keys = [k or "" for k in mapping["columns"]]
    outcome = Outcome()
    phones: set[str] = set()
    names: set[str] = set()
    for _, kind, values in _table(job, header):
        if kind == "blank":
            outcome.blank += 1
        elif kind in ("summary", "header"):
            outcome.skipped += 1
        else:
            outcome.data_rows += 1
            record = to_record(values, keys)
            try:
                phone, _ = cells.phone(record.cells.get("phone"))
            except cells.Unreadable:
                phone = None
            if phone:
                phones.add(phone)
            names.add(re.sub(r"\s+", "", sheets.display(record.cells.get("name"))))
    checker = Checker(actor, phones=phones, names=names - {""},
                      skill_choices={k: int(v) for k, v in mapping.get("skills", {}).items()},
                      has_consent_column="consent" in keys, county=mapping.get("county"))
    del phones, names
    total, done = outcome.data_rows, 0
    report = io.StringIO()
    report.write("[")
    chunk: list[Row] = []

    def settle() -> None:
        nonlocal done
        updates = {r.existing_id: r for r in chunk if r.action == "update" and not r.errors}
        if updates:
            for member in db.session.scalars(select(MemberProfile).where(MemberProfile.id.in_(sorted(updates)))
                                             .options(*update_options())):
                compare(updates[member.id], member, actor)
        for row in chunk:
            item = row.report()
            outcome.actions[item["action"]] += 1
            if report.tell() > 1:
                report.write(",")
            report.write(json.dumps(item, ensure_ascii=False))
            if plan is not None and not row.errors and row.action in ("create", "update"):
                plan(row)
        done += len(chunk)
        chunk.clear()
        if progress:
            _progress(job_id, total_rows=total, processed_rows=done)

    for number, kind, values in _table(job, header):
        if kind != "data":
            continue
        chunk.append(checker.check(number, to_record(values, keys)))
        if len(chunk) >= CHECK_CHUNK:
            settle()
    settle()
    outcome.unknown_skills = checker.unknown_skills
    report.write("]")
    outcome.report = report.getvalue()
    report.close()
    return outcome


def _summary(outcome: Outcome) -> dict[str, Any]:
    c = outcome.counts()
    data_rows = outcome.data_rows
    return {"total_rows": data_rows + outcome.blank + outcome.skipped, "processed_rows": data_rows,
            "blank_rows": outcome.blank, "skipped_rows": outcome.skipped,
            "valid_rows": c["create"] + c["update"] + c["unchanged"], "error_rows": c["refuse"],
            "review_rows": c["review"], "updated_rows": c["update"], "unchanged_rows": c["unchanged"],
            "unknown_skills": json.dumps(outcome.unknown_skills, ensure_ascii=False),
            "report": outcome.report}


def preview(job_id: int) -> None:
    """The dry run: what importing would do, row by row, with counts. Nothing is written."""
    job = _job(job_id)
    _progress(job_id, status="checking", processed_rows=0)
    outcome = check_file(job_id, db.session.get_one(User, job.created_by_id))
    c = outcome.counts()
    message = f"可以新建 {c['create']} 人，更新 {c['update']} 人，{c['unchanged']} 人不用更新"
    message += f"，{c['refuse']} 行有错误" + (f"，{c['review']} 行疑似重复待核对" if c["review"] else "") + "。"
    if outcome.unknown_skills:
        message += f"有 {len(outcome.unknown_skills)} 项专长不在专长列表中，请先选择怎样登记。"
    _progress(job_id, status="checked", message=message, **_summary(outcome))


def write(job_id: int) -> None:
    """Check again (the pool may have changed since the preview) and write: the new members and the
    updates in one transaction together with the job's "done", so nothing is ever half-written.
    The checked rows wait in a temporary file between the check and the transaction."""
    job = _job(job_id)
    actor_id, mode = job.created_by_id, job.mode
    staged_rows = _staged_rows(job)
    _progress(job_id, status="checking", processed_rows=0)
    plan = staging.Plan()
    try:
        outcome = check_file(job_id, db.session.get_one(User, actor_id), plan=plan.add)
        summary = _summary(outcome)
        c = outcome.counts()
        if outcome.unknown_skills:
            raise sheets.Refused("还有专长不在专长列表中，请先在检查结果页选择怎样登记。")
        refused = c["refuse"] + c["review"]
        if mode == "all" and refused:
            summary["message"] = (f"有 {refused} 行有错误或待核对。按“全部或全不”的方式，没有导入任何一行。"
                                  "请改正后重新上传。")
            summary.update(status="done", finished_at=utcnow(), content=None, imported_rows=0, updated_rows=0)
            _progress(job_id, **summary)
            staging.discard(staged_rows)
            return

        _progress(job_id, status="writing")

        def run() -> None:
            created = updated = 0
            for rows in plan.chunks():
                actor = db.session.get_one(User, actor_id)
                created += write_rows(actor, [r for r in rows if r.action == "create"])
                updated += update_rows([r for r in rows if r.action == "update"])
                db.session.flush()
            actor = db.session.get_one(User, actor_id)
            message = f"新建 {created} 人，更新 {updated} 人，{c['unchanged']} 人资料相同"
            message += (f"，{c['refuse']} 行有错误没有导入" if c["refuse"] else "")
            message += (f"，{c['review']} 行疑似重复待核对" if c["review"] else "") + "。"
            db.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                **{**summary, "imported_rows": created, "updated_rows": updated}, message=message, status="done",
                finished_at=utcnow(), content=None))
            record_audit(actor, "pool.import", db.session.get(ImportJob, job_id),
                         detail={"imported": created, "updated": updated, "errors": c["refuse"], "mode": mode})

        commit_fresh(run)   # every row, or none of them
        staging.discard(staged_rows)
    finally:
        plan.discard()


def update_rows(rows: list[Row]) -> int:
    """Update members already in the pool from checked rows, in the caller's transaction."""
    by_id = {r.existing_id: r for r in rows}
    members: list[MemberProfile] = []
    for chunk in chunks(sorted(by_id), 500):
        for member in db.session.scalars(select(MemberProfile).where(MemberProfile.id.in_(chunk)).options(
                *update_options())):
            apply_update(by_id[member.id], member)
            members.append(member)
    reindex_members(members)
    return len(members)


STEPS = {"read": read_file, "check": preview, "write": write}


def run_import(job_id: int, step: str = "read") -> None:
    job = db.session.get(ImportJob, job_id, options=[defer(ImportJob.report)])
    if job is None or job.finished:
        return
    try:
        STEPS[step](job_id)
    except sheets.Refused as e:
        db.session.rollback()
        _fail(job_id, str(e))
    except Exception:  # the job fails cleanly: nothing of it was written
        db.session.rollback()
        log.exception("import %s failed", job_id)
        _fail(job_id, "文件无法读取，请确认是 Excel（.xlsx、.xls）或 CSV 文件，用 Excel 或 WPS 打开后另存一份再试。")


def _core(model: type) -> Table:
    return cast(Table, model.__table__)     # type: ignore[attr-defined]


def write_rows(actor: User, rows: list[Row]) -> int:
    """Create accounts and profiles for checked rows, in the caller's transaction (SQLAlchemy Core:
    no ORM bookkeeping per row)."""
    if not rows:
        return 0
    users = _core(User)
    now = utcnow()
    counties = {code: gazetteer.place(code) for code in {r.data.county_code for r in rows}}
    accounts = [{"name": r.data.name, "phone": r.phone, "password_hash": None, "active": True, "elder_mode": False,
                 "created_at": now, "updated_at": now} for r in rows]
    ids: list[int] = []
    if bulk.use_copy():     # PostgreSQL: the ids from the sequence, then COPY
        ids = bulk.new_ids(users, len(rows))
        bulk.insert_rows(users, [{"id": uid, **account} for uid, account in zip(ids, accounts, strict=True)])
    else:
        for start in range(0, len(rows), 1000):
            result = db.session.execute(insert(users).returning(users.c.id, sort_by_parameter_order=True),
                                        accounts[start:start + 1000])
            ids.extend(result.scalars().all())
    del accounts
    bulk.insert_rows(_core(RoleGrant), [{"user_id": uid, "role": Role.MEMBER, "created_at": now} for uid in ids])
    profiles, skills, index = [], [], []
    for uid, r in zip(ids, rows, strict=True):
        d, county = r.data, counties[r.data.county_code]
        profiles.append({
            "id": uid, "gender": d.gender, "birth_year": d.birth_year, "birth_month": r.birth_month, "work_unit": d.work_unit, "post": d.post,
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
    for table, values in ((_core(MemberProfile), profiles), (_core(MemberSkill), skills),
                          (_core(SkillLocation), index)):
        bulk.insert_rows(table, values)
    return len(ids)


def upload(*, actor: User, upload: FileStorage | None, mode: str) -> ImportJob:
    """Keep an uploaded roster as a queued job once its size, kind and row count are known to be
    acceptable (checked without reading the workbook whole); the job reads it after the caller commits."""
    name = (getattr(upload, "filename", "") or "").strip()
    content = upload.read(sheets.MAX_FILE_BYTES + 1) if upload is not None else b""
    if upload is not None:
        upload.close()
    try:
        kind = sheets.check_file(content, name)
    except sheets.Refused as e:
        raise Invalid(str(e), field="file") from e
    job = ImportJob(created_by_id=actor.id, filename=name[:200], mode=mode, content=content, kind=kind)
    db.session.add(job)
    db.session.flush()
    jobs.submit("import", {"import_id": job.id, "step": "read"}, actor=actor)
    return job


def start_from_file(*, actor: User, content: bytes, filename: str, mode: str, county_code: str) -> ImportJob:
    """An import of one county from a file on disk (`flask roster import`): the same steps as the
    web's, run by the caller one after the other; addresses that name no county are that county's."""
    if not access.may_import_rosters(actor):
        raise PermissionDenied("这个账号不能导入名册（需要管理员账号）")
    county = gazetteer.places().get(county_code)
    if county is None or county.level != "county":
        raise Invalid(f"没有这个县（市、区）代码：{county_code}", field="county")
    if not access.may_place_in(actor, county.code):
        raise PermissionDenied(f"{county.name}不在这个账号管辖的地区内")
    if mode not in ("valid", "all"):
        raise Invalid("导入方式只能是 valid 或 all", field="mode")
    try:
        kind = sheets.check_file(content, filename)
    except sheets.Refused as e:
        raise Invalid(str(e), field="file") from e
    job = ImportJob(created_by_id=actor.id, filename=filename[:200], mode=mode, content=content, kind=kind,
                    mapping=json.dumps({"county": county.code}))
    db.session.add(job)
    db.session.flush()
    return job


def _waiting(job: ImportJob, status: str) -> None:
    if job.status != status:
        raise Conflict("这次导入已经往下进行了，请刷新页面查看")


def choose_columns(*, actor: User, job: ImportJob, sheet: str, chosen: list[str | None]) -> ImportJob:
    """The admin's sheet and column mapping: checked, remembered for the next file with the same
    headers, and the dry run queued."""
    _waiting(job, "mapping")
    layout = next((s for s in layouts_of(job) if s["name"] == sheet and s["headers"]), None)
    if layout is None:
        raise Invalid("请选择要导入的工作表", field="sheet")
    headers = layout["headers"]
    if len(chosen) != len(headers) or any(c is not None and c != columns.IGNORE and c not in columns.FIELD_BY_KEY
                                          for c in chosen):
        raise Invalid("各列的选择不完整，请重新选择", field="columns")
    problems = columns.mapping_problems(chosen)
    if problems:
        raise Invalid("；".join(problems), field="columns")
    skills = mapping_of(job).get("skills", {}) if sheet == job.sheet else {}
    _remember(actor, headers, chosen, skills)
    job.sheet, job.status = sheet, "queued"
    job.mapping = json.dumps({**mapping_of(job), "columns": chosen, "skills": skills}, ensure_ascii=False)
    jobs.submit("import", {"import_id": job.id, "step": "check"}, actor=actor)
    return job


def choose_skills(*, actor: User, job: ImportJob, choices: dict[str, str]) -> ImportJob:
    """The admin's answer for each skill the file names that the taxonomy does not have: one of its
    skills, or leave it out ("0"). Remembered with the columns, and the dry run queued again."""
    _waiting(job, "checked")
    unknown = json.loads(job.unknown_skills or "{}")
    active = set(db.session.scalars(select(Skill.id).where(Skill.active)))
    answers: dict[str, int] = {}
    for text in unknown:
        value = choices.get(text, "")
        if not value.isdigit() or (int(value) != 0 and int(value) not in active):
            raise Invalid(f"请为专长“{text[:20]}”选择对应的专长，或选择“不登记”", field="skills")
        answers[text] = int(value)
    mapping = mapping_of(job)
    mapping["skills"] = {**mapping.get("skills", {}), **answers}
    headers = _sheet_layout(job)["headers"]
    _remember(actor, headers, mapping["columns"], mapping["skills"])
    job.mapping, job.status = json.dumps(mapping, ensure_ascii=False), "queued"
    jobs.submit("import", {"import_id": job.id, "step": "check"}, actor=actor)
    return job


def _remember(actor: User, headers: list[str], chosen: list[str | None], skills: dict[str, int]) -> None:
    signature = columns.signature(headers)
    values = {"headers": json.dumps(headers, ensure_ascii=False), "columns": json.dumps(chosen),
              "skills": json.dumps(skills, ensure_ascii=False), "updated_by_id": actor.id, "updated_at": utcnow()}
    saved = remembered(headers)
    if saved is None:
        db.session.add(ImportMapping(signature=signature, **values))
    else:
        for key, value in values.items():
            setattr(saved, key, value)
    db.session.flush()


def confirm(*, actor: User, job: ImportJob) -> ImportJob:
    """Import what the preview showed (checked again as it is written)."""
    _waiting(job, "checked")
    if json.loads(job.unknown_skills or "{}"):
        raise Invalid("还有专长不在专长列表中，请先选择怎样登记", field="skills")
    if job.valid_rows == 0:
        raise Invalid("没有可以导入的行", field="confirm")
    job.status = "queued"
    jobs.submit("import", {"import_id": job.id, "step": "write"}, actor=actor)
    return job


def cancel(*, actor: User, job: ImportJob) -> ImportJob:
    """Import nothing: the file is dropped, the report stays."""
    if not job.waiting:
        raise Conflict("这次导入已经往下进行了，请刷新页面查看")
    staging.discard(_staged_rows(job))
    job.status, job.content, job.finished_at = "cancelled", None, utcnow()
    job.message = "已放弃，没有导入任何一行。"
    record_audit(actor, "pool.import_cancel", job)
    return job



def report(job: ImportJob, actions: tuple[str, ...] | None = None) -> list[dict]:
    """The rows of the preview or of the import: [{"row": n, "name": …, "action": …, "notes": […],
    "errors": […]}], those with one of `actions` when given."""
    rows = json.loads(job.report or "[]")
    for r in rows:        # imports made before the preview listed only refused rows, without notes
        r.setdefault("action", "refuse")
        r.setdefault("notes", [])
    return [r for r in rows if actions is None or r["action"] in actions]


def report_csv(job: ImportJob) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行号", "姓名", "处理", "问题", "说明"])
    for item in report(job):
        writer.writerow([item["row"], sheets.safe_cell(item["name"]), ACTIONS[item["action"]],
                         "；".join(item["errors"]), "；".join(item["notes"])])
    return out.getvalue()


def _abandon(job: Job) -> None:
    """The sweeper gave the job up: its import says so, in the sweeper's transaction."""
    db.session.execute(update(ImportJob).where(ImportJob.id == json.loads(job.params)["import_id"],
                                               ImportJob.status.not_in(("done", "failed", "cancelled")))
                       .values(status="failed", message=jobs.INTERRUPTED, finished_at=utcnow(), content=None))


@jobs.handler("import", rerun_safe=True, abandoned=_abandon)
def _run(work: jobs.Work) -> None:
    """One step of an import (read the file, check it, write it): safe to run again after a crash,
    since only the last step writes members, in the transaction that also marks the import done."""
    import_id = work.params["import_id"]
    run_import(import_id, work.params.get("step", "read"))
    job = db.session.get_one(ImportJob, import_id)
    if job.status == "failed":
        raise jobs.JobFailed(job.message)
    work.message = job.message
