"""Proofs of service: a member issues one in an organization's name and prints it; anyone checks
a number on the public verification page, which shows only what the proof says, name masked.
Staff record training and commendations and export volunteer records in the national shape."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.bookings.queries import my_organizations
from app.extensions import db, limiter
from app.forms import BaseForm
from app.jobs.models import Job
from app.members.models import MemberProfile
from app.members.services import own_profile
from app.proofs import image, national, services
from app.proofs.forms import CommendationForm, TrainingForm
from app.proofs.models import Certificate, CommendationLevel
from app.qr import qr_svg
from app.tasks.ledger import served_records
from app.web import file_response, run_action, run_use_case, stored_file_response

bp = Blueprint("proofs", __name__)


@bp.post("/my/proofs/issue")
@login_required
def issue() -> ResponseReturnValue:
    member = own_profile(current_user) or abort(404)
    organization_id = request.form.get("organization", "")
    return run_action(lambda: services.issue_for_form(actor=current_user, member=member,
                                                      organization_id=organization_id),
                      done=lambda certificate: ("证明已开具，可以打印或保存为 PDF。",
                                                url_for("proofs.certificate", number=certificate.number)),
                      refused=url_for("my.proof"))


def _visible_certificate(number: str) -> Certificate:
    found = services.certificate_by_number(number)
    if found is None or not access.may_see_certificate(current_user, found.member_id, found.organization):
        abort(404)
    return found


@bp.get("/proofs/<number>")
@login_required
def certificate(number: str) -> ResponseReturnValue:
    """The printable proof, with the QR code of its verification page: its member, and those who
    may issue in the organization's name."""
    found = _visible_certificate(number)
    link = url_for("proofs.verify", number=found.number, _external=True)
    return render_template("proofs/certificate.html", certificate=found, link=link,
                           qr=qr_svg(link, label=f"验证二维码：{found.number}"),
                           offers_image=found.valid and image.configured_font() is not None)


@bp.get("/proofs/<number>/image")
@bp.get("/proofs/<number>/pdf", endpoint="certificate_pdf", defaults={"kind": "pdf"})
@login_required
def certificate_image(number: str, kind: str = "png") -> ResponseReturnValue:
    """The proof as a PNG to save on a phone (or a PDF), for those who may see the proof. A revoked
    proof has none (an image would travel on without its 已作废), nor has a server without a CJK
    font. `?view=1` shows it in the browser instead of downloading it: inside WeChat, which does
    not download files, one long-presses the image to save it."""
    found = _visible_certificate(number)
    font = image.configured_font()
    if not found.valid or font is None:
        abort(404)
    link = url_for("proofs.verify", number=found.number, _external=True)
    render = image.render_pdf if kind == "pdf" else image.render_png
    return file_response(render(found, link, font_path=font), kind=kind,
                         filename=f"志愿服务证明-{found.number}.{kind}", inline=request.args.get("view") == "1")


def _not_found(response) -> bool:
    return response.status_code == 404


@bp.get("/verify")
def verify_form() -> ResponseReturnValue:
    number = request.args.get("number", "").strip()
    if number:
        return redirect(url_for("proofs.verify", number=services.normalise_number(number) or number[:40]))
    return render_template("proofs/verify.html", certificate=None, number="", asked=False)


@bp.get("/verify/<number>")
@limiter.limit(lambda: current_app.config["VERIFY_LIMIT_PER_IP"], scope="verify-ip", deduct_when=_not_found)
def verify(number: str) -> ResponseReturnValue:
    """Public: is this proof real and still valid? Only the masked name, the issuer, the period
    and the hours; a forged number and a revoked proof both say 无效."""
    found = services.certificate_by_number(number)
    page = render_template("proofs/verify.html", certificate=found, number=number[:40], asked=True,
                           masked=services.mask_name(found.member.user.name) if found else "")
    return page, (200 if found is not None else 404)


# --- volunteer records: training, commendations, the national-shape export ---------------------------


def _record_member(member_id: int) -> MemberProfile:
    member = access.get_or_404(MemberProfile, member_id, current_user)
    access.check_or_404(access.may_record_volunteer_history(current_user, member))
    return member


def _record_page(member: MemberProfile, **forms: Any) -> dict[str, Any]:
    return {"member": member, "served": served_records(member.id), "trainings": services.trainings_of(member.id),
            "commendations": services.commendations_of(member.id),
            "training_form": forms.get("training_form") or TrainingForm(formdata=None),
            "commendation_form": forms.get("commendation_form") or CommendationForm(formdata=None)}


@bp.get("/records/")
@access.requires(access.may_export_volunteer_records)
def records_index() -> ResponseReturnValue:
    return render_template("proofs/records.html", branches=my_organizations(current_user),
                           regions=access.admin_regions(current_user), form=BaseForm())


@bp.get("/records/members/<int:member_id>")
@access.requires(access.may_export_volunteer_records)
def member_record(member_id: int) -> ResponseReturnValue:
    member = _record_member(member_id)
    return render_template("proofs/member_record.html", form=None, **_record_page(member))


@bp.post("/records/members/<int:member_id>/trainings")
@access.requires(access.may_export_volunteer_records)
def add_training(member_id: int) -> ResponseReturnValue:
    member = _record_member(member_id)
    form = TrainingForm()
    return run_use_case(form, lambda: services.record_training(
        actor=current_user, member=member, name=form.name.data, trained_on=form.trained_on.data,
        hours=float(form.hours.data), provider=form.provider.data),
        done=("已登记培训。", url_for("proofs.member_record", member_id=member.id)),
        template="proofs/member_record.html", **_record_page(member, training_form=form))


@bp.post("/records/members/<int:member_id>/commendations")
@access.requires(access.may_export_volunteer_records)
def add_commendation(member_id: int) -> ResponseReturnValue:
    member = _record_member(member_id)
    form = CommendationForm()
    return run_use_case(form, lambda: services.record_commendation(
        actor=current_user, member=member, title=form.title.data, level=CommendationLevel(form.level.data),
        awarded_by=form.awarded_by.data, awarded_on=form.awarded_on.data),
        done=("已登记表彰奖励。", url_for("proofs.member_record", member_id=member.id)),
        template="proofs/member_record.html", **_record_page(member, commendation_form=form))


@bp.post("/records/export")
@access.requires(access.may_export_volunteer_records)
def export_records() -> ResponseReturnValue:
    scope, key = request.form.get("scope", ""), request.form.get("key", "")
    return run_action(lambda: national.request_export(actor=current_user, scope=scope, key=key),
                      done=lambda job: (None, url_for("proofs.records_job", job_id=job.id)),
                      refused=url_for("proofs.records_index"))


def _own_job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None or job.kind != national.KIND or job.created_by_id != current_user.id:
        abort(404)
    return job


@bp.get("/records/exports/<int:job_id>")
@access.requires(access.may_export_volunteer_records)
def records_job(job_id: int) -> ResponseReturnValue:
    job = _own_job(job_id)
    return render_template("proofs/export_job.html", job=job, ready=national.file_of(job) is not None)


@bp.get("/records/exports/<int:job_id>/file")
@access.requires(access.may_export_volunteer_records)
def records_file(job_id: int) -> ResponseReturnValue:
    path = national.file_of(_own_job(job_id)) or abort(404)
    return stored_file_response(path, kind="xlsx", filename=f"volunteer-records-{job_id}.xlsx")
