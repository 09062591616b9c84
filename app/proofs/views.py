"""Proofs of service: a member issues one in an organization's name and prints it; anyone checks
a number on the public verification page, which shows only what the proof says, name masked."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.extensions import limiter
from app.members.services import own_profile
from app.proofs import services
from app.qr import qr_svg
from app.web import run_action

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


@bp.get("/proofs/<number>")
@login_required
def certificate(number: str) -> ResponseReturnValue:
    """The printable proof, with the QR code of its verification page: its member, and those who
    may issue in the organization's name."""
    found = services.certificate_by_number(number)
    if found is None or not access.may_see_certificate(current_user, found.member_id, found.organization):
        abort(404)
    link = url_for("proofs.verify", number=found.number, _external=True)
    return render_template("proofs/certificate.html", certificate=found, link=link,
                           qr=qr_svg(link, label=f"验证二维码：{found.number}"))


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
