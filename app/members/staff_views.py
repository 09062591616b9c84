"""Staff pages of the pool: search, member records, proxy registration, nominations and decisions,
counts, import and export, and the skill taxonomy."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.accounts.models import Role
from app.accounts.phone import mask_phone
from app.audit.services import record_audit
from app.clock import local_today
from app.errors import DomainError
from app.extensions import db
from app.forms import BaseForm, options
from app.main.access import admin_required, organizer_required
from app.members import exports, importer, pool, services, wizard
from app.members.forms import CategoryForm, ImportForm, NominateForm, ReasonForm, SearchForm, SkillEditForm
from app.members.models import (
    Capacity,
    ImportJob,
    MemberProfile,
    MemberStatus,
    PoolEntry,
    PoolLevel,
    Skill,
    SkillCategory,
    slot_bit,
)
from app.members.search import MemberFilter, search
from app.members.views import WizardFlow, check_page, edit_step, run_step
from app.regions import gazetteer
from app.regions.models import RegionLevel
from app.regions.scope import admin_prefixes, covers, regions_in_scope, scoped_get_or_404
from app.transactions import writes
from app.web import form_page, save

bp = Blueprint("pool", __name__, url_prefix="/pool")
PROXY = WizardFlow("proxy", "pool.proxy_step", "pool.proxy_check", "pool.proxy_start")


def shows_phone(member: MemberProfile) -> bool:
    """Full numbers only for admins whose region holds the member."""
    return covers(current_user, member.region_code)


# --- search and export --------------------------------------------------------------------------


def _search_form() -> tuple[SearchForm, MemberFilter]:
    form = SearchForm(request.args)
    skills = db.session.execute(select(Skill.id, Skill.name, SkillCategory.name).join(SkillCategory).order_by(
        SkillCategory.sort_order, Skill.sort_order)).all()
    form.skill.choices = options([(sid, name, cat) for sid, name, cat in skills], "不限")
    regions = db.session.scalars(regions_in_scope(current_user)).all()
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
@organizer_required
def index():
    form, flt = _search_form()
    page = db.paginate(search(current_user, flt), page=request.args.get("page", 1, type=int), per_page=20,
                       error_out=False)
    distances = {}
    if flt.near:
        from app.regions.geo import format_km, geodesic_km

        distances = {m.id: format_km(geodesic_km(m.lat, m.lon, *flt.near)) for m in page.items}
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("pool/search.html", form=form, page=page, args=args, distances=distances,
                           mask_phone=mask_phone, slot_bit=slot_bit, is_admin=current_user.has_role(Role.ADMIN))


@bp.get("/export.<fmt>")
@organizer_required
@writes
def export(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    form, flt = _search_form()
    full = request.args.get("full") == "1" and bool(admin_prefixes(current_user))
    stmt = search(current_user, flt)
    if full:  # full numbers only for members inside the admin's own regions
        from app.regions.scope import code_within

        stmt = stmt.where(code_within(MemberProfile.region_code, admin_prefixes(current_user)))
    body, count = (exports.to_xlsx if fmt == "xlsx" else exports.to_csv)(stmt, full_phones=full)
    record_audit(current_user, "pool.export", None, detail={"format": fmt, "rows": count, "full_phones": full,
                                                           "filters": {k: v for k, v in request.args.items()}})
    db.session.commit()
    mimetype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
                else "text/csv; charset=utf-8")
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename=yinhui-pool-{local_today():%Y%m%d}.{fmt}"})


# --- a member's record --------------------------------------------------------------------------


@bp.get("/members/<int:member_id>")
@organizer_required
@writes
def member(member_id: int):
    m = scoped_get_or_404(MemberProfile, member_id, current_user)
    record_audit(current_user, "member.view", m)
    db.session.commit()
    data = services.ProfileData.from_member(m)
    meta = {"consent_method": m.consent_method.value if m.consent_method else None}
    levels = pool.nominable_levels(current_user, m) if m.status is not MemberStatus.DELETED else []
    return render_template("pool/member.html", member=m, rows=wizard.summary("self", data, meta),
                           phone=m.user.phone if shows_phone(m) else mask_phone(m.user.phone),
                           can_edit=services.may_edit(current_user, m), can_nominate=bool(levels),
                           may_decide=lambda e: pool.may_decide(current_user, e), form=BaseForm())


@bp.route("/members/<int:member_id>/edit/<step>", methods=["GET", "POST"])
@organizer_required
def member_edit(member_id: int, step: str):
    m = scoped_get_or_404(MemberProfile, member_id, current_user)
    if not services.may_edit(current_user, m):
        abort(403)
    return edit_step(m, step, kind="staff", done_url=url_for("pool.member", member_id=m.id),
                     action_url=url_for("pool.member_edit", member_id=m.id, step=step))


@bp.post("/members/<int:member_id>/claim-code")
@organizer_required
def claim_code(member_id: int):
    m = scoped_get_or_404(MemberProfile, member_id, current_user)
    if not BaseForm().validate_on_submit() or not services.may_edit(current_user, m):
        abort(400)
    try:
        code = services.issue_claim_code(actor=current_user, member=m)
    except DomainError as e:
        db.session.rollback()
        flash(e.message, "error")
        return redirect(url_for("pool.member", member_id=m.id))
    db.session.commit()
    return _slip(m, code)


def _slip(m: MemberProfile, code: str):
    """The printable note the member keeps: shown once, never stored in plain text."""
    response = render_template("pool/claim_slip.html", member=m, code=code,
                               expires=m.claim_code_expires_at, claim_url=url_for("members.claim", _external=True))
    return response


@bp.route("/members/<int:member_id>/nominate", methods=["GET", "POST"])
@organizer_required
def nominate(member_id: int):
    m = scoped_get_or_404(MemberProfile, member_id, current_user)
    form = NominateForm()
    levels = pool.nominable_levels(current_user, m)
    form.level.choices = options([(lv.value, f"{pool.target_region(m, lv).name}{lv.label}人才库") for lv in levels],
                                 None)
    if not levels:
        flash("这位老同志现在没有可以推荐的层级。", "info")
        return redirect(url_for("pool.member", member_id=m.id))
    if form.validate_on_submit():
        try:
            level = PoolLevel(form.level.data) if form.level.data in {lv.value for lv in levels} else None
            if level is None:
                form.level.errors.append("请选择推荐到哪一级")
                return form_page("pool/nominate.html", form, member=m)
            pool.nominate(actor=current_user, member=m, level=level, reason=form.reason.data)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("pool/nominate.html", form, status=e.status, member=m)
        flash("推荐已提交，等待审核。", "success")
        return redirect(url_for("pool.member", member_id=m.id))
    if request.method == "GET" and len(levels) == 1:
        form.level.data = levels[0].value
    return form_page("pool/nominate.html", form, member=m)


# --- decisions ----------------------------------------------------------------------------------


@bp.get("/queue")
@admin_required
def queue():
    page = db.paginate(pool.decision_queue(current_user), page=request.args.get("page", 1, type=int),
                       per_page=20, error_out=False)
    return render_template("pool/queue.html", page=page)


@bp.route("/entries/<int:entry_id>/decide", methods=["GET", "POST"])
@admin_required
def decide(entry_id: int):
    entry = scoped_get_or_404(PoolEntry, entry_id, current_user)
    form = ReasonForm()
    form.note.label.text = "审核意见（不通过时必填，老同志会看到）"
    if form.validate_on_submit():
        approve = request.form.get("decision") == "approve"
        if request.form.get("decision") not in ("approve", "reject"):
            form.form_errors.append("请选择“通过”或“不通过”")
            return form_page("pool/decide.html", form, entry=entry)
        try:
            pool.decide(actor=current_user, entry=entry, approve=approve, note=form.note.data or "")
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("pool/decide.html", form, status=e.status, entry=entry)
        flash(f"已{'通过' if approve else '退回'}：{entry.member.user.name}（{entry.level.label}）。", "success")
        return redirect(url_for("pool.queue"))
    return form_page("pool/decide.html", form, entry=entry)


@bp.route("/entries/<int:entry_id>/withdraw", methods=["GET", "POST"])
@admin_required
def withdraw(entry_id: int):
    entry = scoped_get_or_404(PoolEntry, entry_id, current_user)
    form = ReasonForm()
    form.note.label.text = "退出原因（老同志会看到）"
    if form.validate_on_submit() and save(
            form, lambda: pool.withdraw(actor=current_user, entry=entry, note=form.note.data or "")):
        flash("已办理退出。", "success")
        return redirect(url_for("pool.member", member_id=entry.member_id))
    return form_page("pool/withdraw.html", form, entry=entry)


@bp.get("/stats")
@admin_required
def stats():
    return render_template("pool/stats.html", rows=pool.counts_by_region(current_user))


# --- registration by proxy ----------------------------------------------------------------------


@bp.get("/proxy")
@organizer_required
def proxy_start():
    started = services.load_draft(current_user, "proxy") is not None
    return render_template("members/start.html", started=started, first="phone", flow=PROXY)


@bp.post("/proxy/discard")
@organizer_required
def proxy_discard():
    if BaseForm().validate_on_submit():
        services.discard_draft(current_user, "proxy")
        db.session.commit()
        flash("已清空，可以为下一位老同志登记。", "success")
    return redirect(url_for("pool.proxy_start"))


@bp.route("/proxy/<step>", methods=["GET", "POST"])
@organizer_required
def proxy_step(step: str):
    return run_step(PROXY, step)


@bp.route("/proxy/check", methods=["GET", "POST"])
@organizer_required
def proxy_check():
    def submit(data, meta, form):
        method = meta.get("consent_method")
        from app.members.models import ConsentMethod

        member, code = services.proxy_register(actor=current_user, phone=meta.get("phone"), data=data,
                                               consent_method=ConsentMethod(method) if method else None)
        services.discard_draft(current_user, "proxy")
        if form.apply_county.data:
            pool.nominate(actor=current_user, member=member, level=PoolLevel.COUNTY, reason="代为登记时一并申请入库")
        flash(f"已为{member.user.name}登记。请把下面的认领码交给老同志本人。", "success")
        return _slip(member, code)

    return check_page(PROXY, submit)


# --- import -------------------------------------------------------------------------------------


@bp.get("/import/template.xlsx")
@admin_required
def import_template():
    return Response(importer.template_workbook(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=yinhui-roster-template.xlsx"})


@bp.route("/import", methods=["GET", "POST"])
@admin_required
def import_roster():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        name = (getattr(upload, "filename", "") or "").strip()
        content = upload.read() if hasattr(upload, "read") else b""
        if hasattr(upload, "close"):
            upload.close()
        if not name.lower().endswith(".xlsx") or not content.startswith(b"PK"):
            form.file.errors = ["请上传用模板填写的 .xlsx 文件"]
            return form_page("pool/import.html", form, jobs=_recent_jobs())
        job = ImportJob(created_by_id=current_user.id, filename=name[:200], mode=form.mode.data, content=content)
        db.session.add(job)
        db.session.commit()
        importer.start(current_app._get_current_object(), job)
        return redirect(url_for("pool.import_job", job_id=job.id))
    return form_page("pool/import.html", form, jobs=_recent_jobs())


def _recent_jobs():
    return db.session.scalars(select(ImportJob).where(ImportJob.created_by_id == current_user.id)
                              .order_by(ImportJob.id.desc()).limit(10)).all()


def _own_job(job_id: int) -> ImportJob:
    job = db.session.get(ImportJob, job_id)
    if job is None or job.created_by_id != current_user.id:
        abort(404)
    return job


@bp.get("/import/<int:job_id>")
@admin_required
def import_job(job_id: int):
    job = _own_job(job_id)
    report = json.loads(job.report or "[]")
    return render_template("pool/import_job.html", job=job, report=report[:200], more=max(0, len(report) - 200))


@bp.get("/import/<int:job_id>/report.csv")
@admin_required
def import_report(job_id: int):
    job = _own_job(job_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行号", "姓名", "问题"])
    for item in json.loads(job.report or "[]"):
        writer.writerow([item["row"], item["name"], "；".join(item["errors"])])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=yinhui-import-{job.id}-report.csv"})


# --- the skill taxonomy (province admins) -------------------------------------------------------


def _is_province_admin() -> bool:
    return any(g.role is Role.ADMIN and g.region and g.region.level is RegionLevel.PROVINCE
               for g in current_user.grants)


@bp.route("/skills", methods=["GET", "POST"])
@admin_required
def skills():
    categories = db.session.scalars(select(SkillCategory).order_by(SkillCategory.sort_order)).all()
    category_form, skill_form = CategoryForm(prefix="c"), SkillEditForm(prefix="s")
    skill_form.category.choices = options([(c.id, c.name) for c in categories])
    editable = _is_province_admin()
    if request.method == "POST":
        if not editable:
            abort(403)
        form = category_form if "c-name" in request.form else skill_form
        if form.validate_on_submit():
            try:
                if form is category_form:
                    services.add_category(actor=current_user, name=form.name.data)
                else:
                    category = next((c for c in categories if str(c.id) == form.category.data), None)
                    if category is None:
                        form.category.errors.append("请选择所属类别")
                        return form_page("pool/skills.html", form, categories=categories,
                                         category_form=category_form, skill_form=skill_form, editable=editable)
                    services.add_skill(actor=current_user, category=category, name=form.name.data,
                                       description=form.description.data or "")
                db.session.commit()
                flash("已添加。", "success")
                return redirect(url_for("pool.skills"))
            except DomainError as e:
                db.session.rollback()
                form.add_error(e)
                return form_page("pool/skills.html", form, status=e.status, categories=categories,
                                 category_form=category_form, skill_form=skill_form, editable=editable)
        return form_page("pool/skills.html", form, categories=categories, category_form=category_form,
                         skill_form=skill_form, editable=editable)
    return render_template("pool/skills.html", form=None, categories=categories, category_form=category_form,
                           skill_form=skill_form, editable=editable)


@bp.route("/skills/<int:skill_id>", methods=["GET", "POST"])
@admin_required
def skill_edit(skill_id: int):
    if not _is_province_admin():
        abort(403)
    skill = db.session.get(Skill, skill_id) or abort(404)
    form = SkillEditForm(obj=skill if request.method == "GET" else None)
    form.category.choices = options([(skill.category.id, skill.category.name)])
    form.category.data = str(skill.category_id)
    if form.validate_on_submit() and save(
            form, lambda: services.update_skill(
                actor=current_user, skill=skill, name=form.name.data, description=form.description.data or "",
                active=bool(form.active.data))):
        flash("已保存。", "success")
        return redirect(url_for("pool.skills"))
    return form_page("pool/skill_edit.html", form, skill=skill)
