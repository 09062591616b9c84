"""Issuing proofs of service, and revoking them when the hours they counted are corrected."""

from __future__ import annotations

from sqlalchemy import select, update

from app.clock import utcnow
from app.db import rowcount
from app.extensions import db
from app.proofs.models import Certificate, CertificateRecord


def revoke_for_records(*, record_ids: list[int], reason: str) -> int:
    """Revoke every valid proof that counted one of these ledger entries; how many were revoked."""
    counted = select(CertificateRecord.certificate_id).where(CertificateRecord.record_id.in_(record_ids))
    return rowcount(db.session.execute(update(Certificate).where(
        Certificate.id.in_(counted), Certificate.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoke_reason=reason[:300])))
