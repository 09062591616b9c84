"""Proofs others can verify: numbered, issued in the organization's name, a public page with the
name masked, revoked when the hours are corrected after issue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.errors import Invalid, PermissionDenied
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
