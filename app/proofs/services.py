"""Issuing proofs of service, looking them up to verify, and revoking them when the hours they
counted are corrected.

A proof is issued in the name of the organization that confirmed the service: it counts that
organization's confirmed entries for the member (hours after corrections), from the first to the
last date. The member asks for it themselves, or the organization's organizers or the admins of
its region issue it. Its number is 80 random bits: knowing one number tells nothing of another."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update

from app import access
from app.accounts.models import User
from app.audit.services import record_audit
from app.clock import local_today, utcnow
from app.db import rowcount
from app.errors import Invalid, PermissionDenied
from app.extensions import db
from app.members.models import MemberProfile
from app.organizations.models import Organization
from app.proofs.models import Certificate, CertificateRecord, Commendation, CommendationLevel, Training
from app.tasks.ledger import served_records

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"   # Crockford's base 32: no I, L, O, U to misread


def new_number() -> str:
    """YH-XXXX-XXXX-XXXX-XXXX: 16 random base-32 characters (80 bits)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "YH-" + "-".join(chars[i:i + 4] for i in range(0, 16, 4))


def normalise_number(text: str) -> str:
    """What a person types (spaces, lower case, O for 0) as a number to look up."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum())
    raw = raw.translate(str.maketrans("OIL", "011"))
    if raw.startswith("YH"):
        raw = raw[2:]
    if len(raw) != 16:
        return ""
    return "YH-" + "-".join(raw[i:i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class Served:
    """What a member served with one organization: the hours a proof would count."""

    organization: Organization
    hours: float
    first: date
    last: date
    count: int


def served_by_organization(member: MemberProfile) -> list[Served]:
    lines = served_records(member.id)
    by_org: dict[int, list] = {}
    for line in lines:
        by_org.setdefault(line.record.organization_id, []).append(line)
    return [Served(group[0].organization, round(sum(x.hours for x in group), 2), group[0].served_on,
                   group[-1].served_on, len(group)) for group in by_org.values()]


def issue_for_form(*, actor: User, member: MemberProfile, organization_id: str) -> Certificate:
    """issue_certificate() as the member's proof page asks: the organization by its id."""
    organization = db.session.get(Organization, int(organization_id)) if organization_id.isdigit() else None
    if organization is None:
        raise Invalid("请选择开具证明的服务组织", field="organization")
    return issue_certificate(actor=actor, member=member, organization=organization)


def issue_certificate(*, actor: User, member: MemberProfile, organization: Organization) -> Certificate:
    """Issue a proof of the member's service confirmed by `organization`, numbered and recorded."""
    if not access.may_issue_certificate(actor, member, organization):
        raise PermissionDenied("只有本人或服务组织可以开具志愿服务证明")
    lines = served_records(member.id, organization.id)
    if not lines:
        raise Invalid(f"在{organization.name}还没有确认的服务时长，不能开具证明", field="organization")
    certificate = Certificate(
        number=new_number(), member_id=member.id, organization_id=organization.id,
        period_start=lines[0].served_on, period_end=lines[-1].served_on,
        total_hours=round(sum(x.hours for x in lines), 2), issued_at=utcnow(), issued_by_id=actor.id)
    certificate.lines = [CertificateRecord(record_id=x.record.id, served_on=x.served_on,
                                           activity=x.session.task.title[:80], hours=x.hours) for x in lines]
    db.session.add(certificate)
    db.session.flush()
    record_audit(actor, "certificate.issue", certificate, region_code=organization.region_code,
                 detail={"number": certificate.number, "member": member.id, "hours": certificate.total_hours})
    return certificate


def certificate_by_number(number: str) -> Certificate | None:
    normalised = normalise_number(number)
    if not normalised:
        return None
    return db.session.scalar(select(Certificate).where(Certificate.number == normalised))


def member_certificates(member: MemberProfile) -> list[Certificate]:
    return list(db.session.scalars(select(Certificate).where(Certificate.member_id == member.id)
                                   .order_by(Certificate.issued_at.desc(), Certificate.id.desc())))


# --- training and commendations ----------------------------------------------------------------------


def _text(value: str, field: str, what: str, limit: int = 100) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(f"请填写{what}", field=field)
    if len(value) > limit:
        raise Invalid(f"{what}最多 {limit} 个字", field=field)
    return value


def _past_date(value: date | None, field: str) -> date:
    if value is None:
        raise Invalid("请填写日期", field=field)
    if value > local_today():
        raise Invalid("日期不能晚于今天", field=field)
    if value.year < 1950:
        raise Invalid("日期不对，请检查年份", field=field)
    return value


def record_training(*, actor: User, member: MemberProfile, name: str, trained_on: date | None, hours: float,
                    provider: str) -> Training:
    """Record a training the member took (培训情况)."""
    if not access.may_record_volunteer_history(actor, member):
        raise PermissionDenied("只有老同志所在支部或地区的工作人员可以登记")
    if not 0 < hours <= 200:
        raise Invalid("培训时长应在 0 到 200 小时之间", field="hours")
    row = Training(member_id=member.id, name=_text(name, "name", "培训名称"), trained_on=_past_date(trained_on, "trained_on"),
                   hours=round(hours, 1), provider=_text(provider, "provider", "培训单位"), recorded_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    record_audit(actor, "member.training", member, detail={"training": row.id})
    return row


def record_commendation(*, actor: User, member: MemberProfile, title: str, level: CommendationLevel,
                        awarded_by: str, awarded_on: date | None) -> Commendation:
    """Record a commendation or award (表彰奖励情况)."""
    if not access.may_record_volunteer_history(actor, member):
        raise PermissionDenied("只有老同志所在支部或地区的工作人员可以登记")
    row = Commendation(member_id=member.id, title=_text(title, "title", "表彰奖励名称"), level=level,
                       awarded_by=_text(awarded_by, "awarded_by", "授予单位"),
                       awarded_on=_past_date(awarded_on, "awarded_on"), recorded_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    record_audit(actor, "member.commendation", member, detail={"commendation": row.id})
    return row


def trainings_of(member_id: int) -> list[Training]:
    return list(db.session.scalars(select(Training).where(Training.member_id == member_id)
                                   .order_by(Training.trained_on, Training.id)))


def commendations_of(member_id: int) -> list[Commendation]:
    return list(db.session.scalars(select(Commendation).where(Commendation.member_id == member_id)
                                   .order_by(Commendation.awarded_on, Commendation.id)))


def revoke_for_records(*, record_ids: list[int], reason: str) -> int:
    """Revoke every valid proof that counted one of these ledger entries; how many were revoked."""
    counted = select(CertificateRecord.certificate_id).where(CertificateRecord.record_id.in_(record_ids))
    return rowcount(db.session.execute(update(Certificate).where(
        Certificate.id.in_(counted), Certificate.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason[:300])))


def mask_name(name: str) -> str:
    """The name with its middle character masked: 王建国 → 王*国, 李明 → 李*, 欧阳振华 → 欧阳*华."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*"
    middle = len(name) // 2 if len(name) >= 3 else 1
    return name[:middle] + "*" + name[middle + 1:]
