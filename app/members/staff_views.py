"""Staff pages of the pool: search, member records, proxy registration, nominations and decisions,
counts, import and export, and the skill taxonomy."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app import access
from app.accounts.phone import mask_phone
from app.audit.services import record_read
from app.clock import local_date
from app.extensions import db
from app.forms import BaseForm, options
from app.jobs.models import Job
from app.members import columns, exports, importer, pool, queries, services, wizard
from app.members.forms import (
    CategoryForm,
    ImportForm,
    ImportStepForm,
    NominateForm,
    ReasonForm,
    SearchForm,
    SkillEditForm,
)
from app.members.models import Capacity, ImportJob, MemberProfile, MemberStatus, PoolEntry, PoolLevel
from app.members.profile import ProfileData
from app.members.search import MemberFilter, search_page
from app.members.views import WizardFlow, check_page, edit_step, join_pool_answer, run_step, start_page
from app.regions import gazetteer
from app.regions.geo import format_km, geodesic_km
from app.regions.models import RegionLevel
from app.web import file_response, finish_use_case, run_action, run_use_case, stored_file_response

bp = Blueprint("pool", __name__, url_prefix="/pool")
PROXY = WizardFlow("proxy", "pool.proxy_step", "pool.proxy_check", "pool.proxy_start")


# --- search and export --------------------------------------------------------------------------


def _search_form() -> tuple[SearchForm, MemberFilter]:
    form = SearchForm(request.args)
    form.skill.choices = options(queries.skill_choices(active_only=False), "不限")
    regions = access.regions_administered(current_user)
    form.region.choices = options([(r.code, r.name) for r in regions if r.level is not RegionLevel.PROVINCE],
                                  "全部（我管辖的地区）")
    flt = MemberFilter()
    if not form.validate():
        return form, flt
    valid = {c.value for c in form.skill.choices}
    if form.skill.data in valid and form.skill.data:
        flt.skill_id = int(form.skill.data)
    if form.min_level.data in ("1", "2", "3"):
        flt.min_level = int(form.min_level.data)
    if form.pool_level.data in {lv.value for lv in PoolLevel}:
        flt.pool_level = PoolLevel(form.pool_level.data)
    region = next((r for r in regions if r.code == form.region.data), None)
    if region is not None:
        flt.region_prefix = region.prefix
    if form.free.data and "-" in form.free.data:
        day, period = form.free.data.split("-", 1)
        if day.isdigit() and period.isdigit() and int(day) < 7 and int(period) < 3:
            flt.free = (int(day), int(period))
    if form.capacity.data in {c.value for c in Capacity}:
        flt.capacity = Capacity(form.capacity.data)
    if form.near.data:
        place = gazetteer.locate(form.near.data, within=current_app.config["HOME_PROVINCE"][:2])
        if place is None:
            form.near.errors.append("没有认出这个地方，请写县（市、区）的名字")
        else:
            flt.near = (place.lat, place.lon)
            form.near.description = f"按{place.name}计算距离"
    if form.within_km.data and form.within_km.data.isdigit():
        flt.within_km = float(form.within_km.data)
    flt.name = form.q.data or None
    return form, flt


@bp.get("/")
@access.requires(access.may_organize)
def index() -> ResponseReturnValue:
    form, flt = _search_form()
    page = search_page(current_user, flt, page=request.args.get("page", 1, type=int))
    near = flt.near
    distances = {m.id: format_km(geodesic_km(m.lat, m.lon, *near)) for m in page.items} if near else {}
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("pool/search.html", form=form, page=page, args=args, distances=distances,
                           mask_phone=mask_phone)


@bp.post("/export.<fmt>")
@access.requires(access.may_organize)
def export(fmt: str) -> ResponseReturnValue:
    """Queue an export of the search in the query string; its page says when the file is ready."""
    if fmt not in exports.FORMATS:
        abort(404)
    _, flt = _search_form()
    return run_action(lambda: exports.request_export(
        actor=current_user, flt=flt, fmt=fmt, full_phones=request.args.get("full") == "1",
        filters=dict(request.args.items())), done=lambda job: (None, url_for("pool.export_job", job_id=job.id)))


def _own_export(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.kind != "export" or job.created_by_id != current_user.id:
        abort(404)
    return job


@bp.get("/exports/<int:job_id>")
@access.requires(access.may_organize)
def export_job(job_id: int) -> ResponseReturnValue:
    job = _own_export(job_id)
    return render_template("pool/export_job.html", job=job, ready=exports.file_of(job) is not None,
                           fmt=json.loads(job.params)["format"])


@bp.get("/exports/<int:job_id>/file")
@access.requires(access.may_organize)
def export_file(job_id: int) -> ResponseReturnValue:
    job = _own_export(job_id)
    path = exports.file_of(job) or abort(404)
    fmt = json.loads(job.params)["format"]
    return stored_file_response(path, kind=fmt, filename=f"yinhui-pool-{local_date(job.created_at):%Y%m%d}.{fmt}")


# --- a member's record --------------------------------------------------------------------------


@bp.get("/members/<int:member_id>")
@access.requires(access.may_organize)
def member(member_id: int) -> ResponseReturnValue:
    m = access.get_or_404(MemberProfile, member_id, current_user)
    record_read(current_user, "member.view", m)
    meta = {"consent_method": m.consent_method.value if m.consent_method else None}
    return render_template("pool/member.html", member=m, rows=wizard.summary("profile", ProfileData.from_member(m), meta),
                           phone=m.user.phone if access.sees_phone(current_user, m) else mask_phone(m.user.phone),
                           levels=pool.nominable_levels(current_user, m) if m.status is not MemberStatus.DELETED else [],
                           form=BaseForm())


@bp.route("/members/<int:member_id>/edit/<step>", methods=["GET", "POST"])
@access.requires(access.may_organize)
def member_edit(member_id: int, step: str) -> ResponseReturnValue:
    m = access.get_or_404(MemberProfile, member_id, current_user)
    access.check_or_403(access.may_edit_member(current_user, m))
    return edit_step(m, step, kind="staff", done_url=url_for("pool.member", member_id=m.id),
                     action_url=url_for("pool.member_edit", member_id=m.id, step=step))


@bp.post("/members/<int:member_id>/claim-code")
@access.requires(access.may_organize)
def claim_code(member_id: int) -> ResponseReturnValue:
    m = access.get_or_404(MemberProfile, member_id, current_user)
    if not access.may_issue_claim_code(current_user, m):
        abort(400)
    return run_action(lambda: services.issue_claim_code(actor=current_user, member=m),
                      done=lambda code: _slip(m, code), refused=url_for("pool.member", member_id=m.id))


def _slip(m: MemberProfile, code: str) -> str:
    """The printable note the member keeps: shown once, never stored in plain text."""
    return render_template("pool/claim_slip.html", member=m, code=code,
                           expires=m.claim_code_expires_at, claim_url=url_for("members.claim", _external=True))


@bp.route("/members/<int:member_id>/nominate", methods=["GET", "POST"])
@access.requires(access.may_organize)
def nominate(member_id: int) -> ResponseReturnValue:
    m = access.get_or_404(MemberProfile, member_id, current_user)
    levels = pool.nominable_levels(current_user, m)
    if not levels:
        flash("这位老同志现在没有可以推荐的层级。", "info")
        return redirect(url_for("pool.member", member_id=m.id))
    form = NominateForm()
    form.level.choices = options([(lv.value, f"{pool.target_region(m, lv).name}{lv.label}人才库") for lv in levels],
                                 None)
    if request.method == "GET" and len(levels) == 1:
        form.level.data = levels[0].value
    return run_use_case(form, lambda: pool.nominate_at(actor=current_user, member=m, level=form.level.data,
                                                       levels=levels, reason=form.reason.data),
                        done=("推荐已提交，等待审核。", url_for("pool.member", member_id=m.id)),
                        template="pool/nominate.html", member=m)


# --- decisions ----------------------------------------------------------------------------------


@bp.get("/queue")
@access.requires(access.may_administer)
def queue() -> ResponseReturnValue:
    page = db.paginate(pool.decision_queue(current_user), page=request.args.get("page", 1, type=int),
                       per_page=20, error_out=False)
    return render_template("pool/queue.html", page=page)


@bp.route("/entries/<int:entry_id>/decide", methods=["GET", "POST"])
@access.requires(access.may_administer)
def decide(entry_id: int) -> ResponseReturnValue:
    entry = access.get_or_404(PoolEntry, entry_id, current_user)
    form = ReasonForm()
    form.note.label.text = "审核意见（不通过时必填，老同志会看到）"
    decision = request.form.get("decision")

    def decided(e: PoolEntry) -> tuple[str, str]:
        return (f"已{'通过' if decision == 'approve' else '退回'}：{e.member.user.name}（{e.level.label}）。",
                url_for("pool.queue"))

    return run_use_case(form, lambda: pool.decide_by_choice(actor=current_user, entry=entry, decision=decision,
                                                            note=form.note.data or ""),
                        done=decided, template="pool/decide.html", entry=entry)


@bp.route("/entries/<int:entry_id>/withdraw", methods=["GET", "POST"])
@access.requires(access.may_administer)
def withdraw(entry_id: int) -> ResponseReturnValue:
    entry = access.get_or_404(PoolEntry, entry_id, current_user)
    form = ReasonForm()
    form.note.label.text = "退出原因（老同志会看到）"
    return run_use_case(form, lambda: pool.withdraw(actor=current_user, entry=entry, note=form.note.data or ""),
                        done=("已办理退出。", url_for("pool.member", member_id=entry.member_id)),
                        template="pool/withdraw.html", entry=entry)


@bp.get("/stats")
@access.requires(access.may_administer)
def stats() -> ResponseReturnValue:
    """入库统计 grew into the dashboard's pool section."""
    return redirect(url_for("reports.index") + "#pool")


# --- registration by proxy ----------------------------------------------------------------------


@bp.get("/proxy")
@access.requires(access.may_organize)
def proxy_start() -> ResponseReturnValue:
    return start_page(PROXY)


@bp.post("/proxy/discard")
@access.requires(access.may_organize)
def proxy_discard() -> ResponseReturnValue:
    return run_action(lambda: services.discard_draft(current_user, "proxy"),
                      done=("已清空，可以为下一位老同志登记。", url_for("pool.proxy_start")))


@bp.route("/proxy/<step>", methods=["GET", "POST"])
@access.requires(access.may_organize)
def proxy_step(step: str) -> ResponseReturnValue:
    return run_step(PROXY, step)


@bp.route("/proxy/check", methods=["GET", "POST"])
@access.requires(access.may_organize)
def proxy_check() -> ResponseReturnValue:
    def submit(data: ProfileData, meta: dict, form: BaseForm) -> str:
        member, code = services.finish_proxy_registration(actor=current_user, data=data, meta=meta,
                                                          join_pool=join_pool_answer(meta))
        flash(f"已为{member.user.name}登记。请把下面的认领码交给老同志本人。", "success")
        return _slip(member, code)

    return check_page(PROXY, submit)


# --- import -------------------------------------------------------------------------------------


@bp.get("/import/template.xlsx")
@access.requires(access.may_import_rosters)
def import_template() -> ResponseReturnValue:
    return file_response(importer.template_workbook(), kind="xlsx", filename="yinhui-roster-template.xlsx")


@bp.route("/import", methods=["GET", "POST"])
@access.requires(access.may_import_rosters)
def import_roster() -> ResponseReturnValue:
    form = ImportForm()

    return run_use_case(form, lambda: importer.upload(actor=current_user, upload=form.file.data, mode=form.mode.data),
                        done=lambda job: (None, url_for("pool.import_job", job_id=job.id)), template="pool/import.html", jobs=queries.recent_imports(current_user))


def _import_or_404(job_id: int) -> ImportJob:
    return access.get_or_404(ImportJob, job_id, current_user)


def _mapping_context(job: ImportJob, sheet: str | None = None, chosen: list | None = None) -> dict[str, Any]:
    """The mapping page: the sheets with a header, the one shown, each of its columns with its first
    values and the field proposed (or chosen before a refusal)."""
    layouts = [s for s in importer.layouts_of(job) if s["headers"]]
    shown = next((s for s in layouts if s["name"] == (sheet or job.sheet)), None)
    proposal: list = []
    remembered = False
    if shown is not None:
        if chosen is not None:
            proposal = chosen
        elif shown["name"] == job.sheet and importer.mapping_of(job).get("columns"):
            proposal = importer.mapping_of(job)["columns"]
            remembered = importer.remembered(shown["headers"]) is not None
        else:
            proposal, _, remembered = importer.proposed_mapping(shown["headers"])
    return dict(job=job, layouts=layouts, shown=shown, proposal=proposal, remembered=remembered,
                fields=columns.FIELDS, ignore=columns.IGNORE)


def _preview_context(job: ImportJob) -> dict[str, Any]:
    rows = importer.report(job, ("refuse", "review", "update"))
    return dict(job=job, rows=rows[:200], more=max(0, len(rows) - 200), actions=importer.ACTIONS,
                unknown=sorted(json.loads(job.unknown_skills or "{}").items(), key=lambda kv: -kv[1]),
                skills=queries.skill_choices(active_only=True), chosen=importer.mapping_of(job).get("skills", {}))


@bp.get("/import/<int:job_id>")
@access.requires(access.may_import_rosters)
def import_job(job_id: int) -> ResponseReturnValue:
    job = _import_or_404(job_id)
    if job.status == "mapping":
        return render_template("pool/import_mapping.html", form=ImportStepForm(),
                               **_mapping_context(job, request.args.get("sheet")))
    if job.status == "checked":
        return render_template("pool/import_preview.html", form=ImportStepForm(), **_preview_context(job))
    report = importer.report(job, ("refuse", "review", "update", "unchanged"))
    return render_template("pool/import_job.html", job=job, report=report[:200], more=max(0, len(report) - 200),
                           actions=importer.ACTIONS)


@bp.post("/import/<int:job_id>/columns")
@access.requires(access.may_import_rosters)
def import_columns(job_id: int) -> ResponseReturnValue:
    job = _import_or_404(job_id)
    form = ImportStepForm()
    sheet = form.sheet.data or ""
    layout = next((s for s in importer.layouts_of(job) if s["name"] == sheet), None)
    width = len(layout["headers"]) if layout else 0
    chosen = [_column_choice(request.form.get(f"col-{i}")) for i in range(width)]
    return finish_use_case(form, lambda: importer.choose_columns(actor=current_user, job=job, sheet=sheet,
                                                                 chosen=chosen),
                           done=lambda j: (None, url_for("pool.import_job", job_id=j.id)),
                           template="pool/import_mapping.html", **_mapping_context(job, sheet, chosen))


def _column_choice(value: str | None) -> str | None:
    """"ignore" is the select's word for 不导入; nothing chosen is None."""
    if value == "ignore":
        return columns.IGNORE
    return value or None


@bp.post("/import/<int:job_id>/skills")
@access.requires(access.may_import_rosters)
def import_skills(job_id: int) -> ResponseReturnValue:
    job = _import_or_404(job_id)
    form = ImportStepForm()
    unknown = json.loads(job.unknown_skills or "{}")
    choices = {text: request.form.get(f"skill-{i}", "") for i, (text, _) in enumerate(
        sorted(unknown.items(), key=lambda kv: -kv[1]))}
    return finish_use_case(form, lambda: importer.choose_skills(actor=current_user, job=job, choices=choices),
                           done=lambda j: (None, url_for("pool.import_job", job_id=j.id)),
                           template="pool/import_preview.html", **_preview_context(job))


@bp.post("/import/<int:job_id>/confirm")
@access.requires(access.may_import_rosters)
def import_confirm(job_id: int) -> ResponseReturnValue:
    job = _import_or_404(job_id)
    return finish_use_case(ImportStepForm(), lambda: importer.confirm(actor=current_user, job=job),
                           done=lambda j: (None, url_for("pool.import_job", job_id=j.id)),
                           template="pool/import_preview.html", **_preview_context(job))


@bp.post("/import/<int:job_id>/cancel")
@access.requires(access.may_import_rosters)
def import_cancel(job_id: int) -> ResponseReturnValue:
    job = _import_or_404(job_id)
    return run_action(lambda: importer.cancel(actor=current_user, job=job),
                      done=("已放弃这次导入，没有导入任何一行。", url_for("pool.import_job", job_id=job.id)))


@bp.get("/import/<int:job_id>/report.csv")
@access.requires(access.may_import_rosters)
def import_report(job_id: int) -> ResponseReturnValue:
    job = _import_or_404(job_id)
    return file_response(importer.report_csv(job), kind="csv", filename=f"yinhui-import-{job.id}-report.csv")


# --- the skill taxonomy (province admins) -------------------------------------------------------


@bp.route("/skills", methods=["GET", "POST"])
@access.requires(access.may_administer)
def skills() -> ResponseReturnValue:
    categories = queries.categories()
    category_form, skill_form = CategoryForm(prefix="c"), SkillEditForm(prefix="s")
    skill_form.category.choices = options([(c.id, c.name) for c in categories])
    context: dict[str, Any] = dict(categories=categories, category_form=category_form, skill_form=skill_form)
    if request.method == "GET":
        return render_template("pool/skills.html", form=None, **context)
    access.check_or_403(access.may_edit_taxonomy(current_user))
    if "c-name" in request.form:
        return run_use_case(category_form, lambda: services.add_category(actor=current_user, name=category_form.name.data),
                            done=("已添加。", url_for("pool.skills")), template="pool/skills.html", **context)
    return run_use_case(skill_form, lambda: services.add_skill_to(
        actor=current_user, category_id=skill_form.category.data, name=skill_form.name.data,
        description=skill_form.description.data or ""),
        done=("已添加。", url_for("pool.skills")), template="pool/skills.html", **context)


@bp.route("/skills/<int:skill_id>", methods=["GET", "POST"])
@access.requires(access.may_edit_taxonomy)
def skill_edit(skill_id: int) -> ResponseReturnValue:
    skill = queries.skill(skill_id) or abort(404)
    form = SkillEditForm(obj=skill if request.method == "GET" else None)
    form.category.choices = options([(skill.category.id, skill.category.name)])
    form.category.data = str(skill.category_id)
    return run_use_case(form, lambda: services.update_skill(
        actor=current_user, skill=skill, name=form.name.data, description=form.description.data or "",
        active=bool(form.active.data)), done=("已保存。", url_for("pool.skills")),
        template="pool/skill_edit.html", skill=skill)

