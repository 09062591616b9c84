"""Proofs others can verify: numbered, issued in the organization's name, a public page with the
name masked, revoked when the hours are corrected after issue."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.errors import Invalid, PermissionDenied
from app.proofs import image as proof_image
from app.proofs import services as proofs
from app.proofs.models import Certificate
from app.tasks import records
from app.tasks.models import Assignment
from tests.attendance.conftest import SESSION_START
from tests.conftest import csrf_token


@pytest.mark.parametrize("name,masked", [("王建国", "王*国"), ("李明", "李*"), ("欧阳振华", "欧阳*华"), ("张", "*"),
                                         ("买买提·艾力", "买买提*艾力")])
def test_the_middle_character_is_masked(name, masked):
    assert proofs.mask_name(name) == masked


def test_numbers_are_random_and_typed_numbers_are_forgiven():
    numbers = {proofs.new_number() for _ in range(200)}
    assert len(numbers) == 200 and all(re.fullmatch(r"YH(-[0-9A-Z]{4}){4}", n) for n in numbers)
    n = proofs.new_number()
    assert proofs.normalise_number(n.lower().replace("-", " ")) == n
    assert proofs.normalise_number("YH-0000-1111-2222-333") == "" and proofs.normalise_number("") == ""


@pytest.fixture
def confirmed(db, clock, on_session):
    """A member with 2 confirmed hours at one organization's session."""
    task, session, [member] = on_session()
    clock.now = SESSION_START + timedelta(hours=3)
    a = db.session.scalar(select(Assignment).where(Assignment.task_id == task.id))
    [record] = records.confirm_attendance(actor=task.organizer, session=session, entries={a.id: (True, 2.0, "")})
    db.session.commit()
    return task, member, record


def test_a_member_issues_a_proof_in_the_organizations_name(db, confirmed):
    task, member, record = confirmed
    certificate = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    assert certificate.total_hours == 2.0 and certificate.organization_id == task.organization_id
    assert certificate.period_start == certificate.period_end == SESSION_START.date()
    assert [(line.activity, line.hours) for line in certificate.lines] == [(task.title, 2.0)]
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "certificate.issue")) is not None


def test_no_proof_without_confirmed_hours_and_none_by_strangers(db, confirmed, create_org, create_member, create_user):
    task, member, record = confirmed
    with pytest.raises(Invalid, match="还没有确认的服务时长"):
        proofs.issue_certificate(actor=member.user, member=member, organization=create_org())
    other = create_member(name="别人")
    with pytest.raises(PermissionDenied):
        proofs.issue_certificate(actor=other.user, member=member, organization=task.organization)
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
    # The organization's organizer may issue it for the member.
    assert proofs.issue_certificate(actor=task.organizer, member=member, organization=task.organization).valid


def test_a_correction_after_issue_revokes_the_proof(db, confirmed):
    task, member, record = confirmed
    certificate = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    db.session.commit()
    records.correct_hours(actor=task.organizer, record=record, hours=1.5, reason="提前离开了", seen=2.0)
    db.session.commit()
    db.session.refresh(certificate)
    assert not certificate.valid and "提前离开了" in certificate.revoke_reason
    again = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    assert again.valid and again.total_hours == 1.5 and again.number != certificate.number


def test_issue_print_and_verify_anonymously(client, db, login, confirmed):
    task, member, record = confirmed
    login(member.user)
    hub = client.get("/my/proof").get_data(as_text=True)
    assert task.organization.name in hub and "共 2 小时" in hub
    r = client.post("/my/proofs/issue", data={"csrf_token": csrf_token(client, "/my/proof"),
                                              "organization": str(task.organization_id)})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    number = re.search(r"证明编号：(YH[-0-9A-Z]+)", page).group(1)
    assert member.user.name in page and '<svg class="qr"' in page and f"/verify/{number}" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    public = client.get(f"/verify/{number}")
    html = public.get_data(as_text=True)
    assert public.status_code == 200 and "有效" in html and "无效" not in html
    assert proofs.mask_name(member.user.name) in html and member.user.name not in html
    assert task.organization.name in html and "2 小时" in html
    assert client.get(f"/proofs/{number}").status_code == 302          # the full proof needs signing in
    forged = client.get("/verify/YH-AAAA-BBBB-CCCC-DDDD")
    assert forged.status_code == 404 and "无效" in forged.get_data(as_text=True)
    assert client.get("/verify?number=" + number.lower()).headers["Location"].endswith(f"/verify/{number}")


def test_a_revoked_number_shows_invalid(client, db, confirmed):
    task, member, record = confirmed
    certificate = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    db.session.commit()
    records.correct_hours(actor=task.organizer, record=record, hours=1.0, reason="更正", seen=2.0)
    db.session.commit()
    html = client.get(f"/verify/{certificate.number}").get_data(as_text=True)
    assert "无效" in html and "已作废" in html


def test_others_cannot_open_a_members_proof(client, db, login, confirmed, create_member):
    task, member, record = confirmed
    certificate = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    db.session.commit()
    login(create_member(name="别人").user)
    assert client.get(f"/proofs/{certificate.number}").status_code == 404


# --- the proof as an image to save on a phone ---------------------------------------------------------


needs_font = pytest.mark.skipif(proof_image.font_file(None) is None,
                                reason="no CJK font on this machine (apt-get install fonts-noto-cjk)")


@needs_font
def test_the_member_saves_the_proof_as_an_image(client, db, login, confirmed):
    task, member, record = confirmed
    certificate = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    db.session.commit()
    login(member.user)
    page = client.get(f"/proofs/{certificate.number}").get_data(as_text=True)
    assert "保存为图片" in page and f"/proofs/{certificate.number}/image" in page

    r = client.get(f"/proofs/{certificate.number}/image")
    assert r.status_code == 200 and r.mimetype == "image/png"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"filename={certificate.number}.png" in disposition
    assert "filename*=UTF-8''%E5%BF%97%E6%84%BF%E6%9C%8D%E5%8A%A1%E8%AF%81%E6%98%8E-" in disposition  # 志愿服务证明-
    assert "no-store" in r.headers["Cache-Control"] and "public" not in r.headers["Cache-Control"]
    with Image.open(io.BytesIO(r.data)) as png:
        assert png.format == "PNG" and png.size == (1240, 1754)
        pixels = png.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 16) or []
        ink = sum(count for count, rgb in colours if sum(rgb) < 300)
        red = sum(count for count, (r_, g, b) in colours if r_ > 140 and g < 80 and b < 80)
        assert ink > 40_000 and red > 10_000          # text, table rules and QR code; the red title and frame
        title = pixels.crop((300, 130, 940, 240)).convert("L").getextrema()
        assert title[0] < 120 and title[1] == 255     # the title is drawn where it belongs

    inline = client.get(f"/proofs/{certificate.number}/image?view=1")
    assert inline.headers["Content-Disposition"].startswith("inline;")

    assert f"/proofs/{certificate.number}/pdf" in page and "保存为 PDF" in page
    pdf = client.get(f"/proofs/{certificate.number}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert f"filename={certificate.number}.pdf" in pdf.headers["Content-Disposition"]
    # an A4 page: 1240 x 1754 pixels at 150 dpi are 595.2 x 841.92 points
    assert pdf.data.count(b"/MediaBox") == 1 and re.search(rb"/MediaBox \[ ?0 0 595\.2 841\.9", pdf.data)


@needs_font
def test_no_image_for_others_nor_for_a_revoked_proof(client, db, login, confirmed, create_member):
    task, member, record = confirmed
    certificate = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    db.session.commit()
    path = f"/proofs/{certificate.number}/image"
    assert client.get(path).status_code == 302                    # signing in first
    login(create_member(name="别人").user)
    assert client.get(path).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(task.organizer)                                           # who may issue in the organization's name
    assert client.get(path).status_code == 200

    records.correct_hours(actor=task.organizer, record=record, hours=1.0, reason="更正", seen=2.0)
    db.session.commit()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(member.user)
    page = client.get(f"/proofs/{certificate.number}").get_data(as_text=True)
    assert "已作废" in page and "保存为图片" not in page and path not in page
    assert client.get(path).status_code == 404                    # an image would travel on without its 已作废
    assert client.get(f"/proofs/{certificate.number}/pdf").status_code == 404


def test_without_a_cjk_font_no_image_is_offered(app, client, db, login, confirmed, caplog, monkeypatch):
    task, member, record = confirmed
    certificate = proofs.issue_certificate(actor=member.user, member=member, organization=task.organization)
    db.session.commit()
    monkeypatch.setitem(app.config, "PROOF_FONT", "/nonexistent/proof-font.ttc")
    login(member.user)
    page = client.get(f"/proofs/{certificate.number}").get_data(as_text=True)
    assert "志愿服务证明" in page and "保存为图片" not in page
    assert client.get(f"/proofs/{certificate.number}/image").status_code == 404
    client.get(f"/proofs/{certificate.number}")
    warnings = [r for r in caplog.records if "PROOF_FONT" in r.getMessage()]
    assert len(warnings) == 1                                        # logged once per process, not per request
