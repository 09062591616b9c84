"""Accounts, their region-scoped role grants and their server-side sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.db import TimestampMixin, enum_type
from app.extensions import Model
from app.organizations.models import Organization
from app.regions.models import Region
from app.venues.models import Venue


class Role(enum.Enum):
    MEMBER = "member"
    ORGANIZER = "organizer"
    VENUE_MANAGER = "venue_manager"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.MEMBER: "银发人才",
    Role.ORGANIZER: "组织者（支部书记、社区工作者）",
    Role.VENUE_MANAGER: "场地管理员",
    Role.ADMIN: "老干部局管理员",
}


class User(UserMixin, TimestampMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))  # optional, for email notifications
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    elder_mode: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]

    # The channels the user chose for notifications (app.notifications.channels.channels_for):
    # SMS unset means the default, on for those without an email address.
    notify_sms: Mapped[bool | None]
    notify_email: Mapped[bool] = mapped_column(default=True, server_default=true())
    notify_app: Mapped[bool] = mapped_column(default=True, server_default=true())

    # Failed password checks since `failed_logins_since` (a rolling day), and when the member was
    # last told about them: see app.accounts.services.authenticate.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    failed_logins_since: Mapped[datetime | None]
    failed_logins_told_at: Mapped[datetime | None]

    # Loaded when asked: the signed-in user's come with them (app._load_user), and the users met
    # along the way (a member's account, the actor of a pool event) rarely need theirs.
    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", foreign_keys="RoleGrant.user_id", lazy="select",
        cascade="all, delete-orphan", order_by="RoleGrant.id")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def can_log_in(self) -> bool:
        return self.active and self.password_hash is not None

    def has_role(self, role: Role) -> bool:
        return any(g.role is role for g in self.grants)

    def grants_for(self, role: Role) -> list[RoleGrant]:
        return [g for g in self.grants if g.role is role]

    @property
    def staff_grants(self) -> list[RoleGrant]:
        """The roles beyond being a member: organizer, venue manager, admin."""
        return [g for g in self.grants if g.role is not Role.MEMBER]

    def __repr__(self) -> str:
        return f"<User {self.id}>"


class RoleGrant(Model):
    """A role held by a user within a scope: nothing (member), an organization, a venue or a region."""

    __tablename__ = "role_grants"
    __table_args__ = (
        CheckConstraint(
            "(role = 'member' AND region_code IS NULL AND organization_id IS NULL AND venue_id IS NULL)"
            " OR (role = 'organizer' AND organization_id IS NOT NULL AND region_code IS NULL AND venue_id IS NULL)"
            " OR (role = 'venue_manager' AND venue_id IS NOT NULL AND region_code IS NULL AND organization_id IS NULL)"
            " OR (role = 'admin' AND region_code IS NOT NULL AND organization_id IS NULL AND venue_id IS NULL)",
            name="scope_matches_role",
        ),
        Index("uq_role_grants_member", "user_id", unique=True,
              sqlite_where=text("role = 'member'"), postgresql_where=text("role = 'member'")),
        Index("uq_role_grants_organizer", "user_id", "organization_id", unique=True,
              sqlite_where=text("role = 'organizer'"), postgresql_where=text("role = 'organizer'")),
        Index("uq_role_grants_venue_manager", "user_id", "venue_id", unique=True,
              sqlite_where=text("role = 'venue_manager'"), postgresql_where=text("role = 'venue_manager'")),
        Index("uq_role_grants_admin", "user_id", "region_code", unique=True,
              sqlite_where=text("role = 'admin'"), postgresql_where=text("role = 'admin'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_type(Role))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    region: Mapped[Region | None] = relationship(lazy="joined")
    organization: Mapped[Organization | None] = relationship(lazy="joined")
    venue: Mapped[Venue | None] = relationship()  # loaded when asked: most grants have none

    @property
    def scope_label(self) -> str:
        if self.region is not None:
            return self.region.name
        if self.organization is not None:
            return self.organization.name
        if self.venue is not None:
            return self.venue.name
        return ""


class UserSession(Model):
    """A signed-in user's server-side session; see app/accounts/sessions.py (anonymous ones have no row)."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie value
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RecoveryPurpose(enum.Enum):
    SMS = "sms"        # a 6-digit code texted to the registered phone, 10 minutes
    STAFF = "staff"    # a code issued by the member's organizer or admin, read out or handed over, 24 hours


class RecoveryCode(Model):
    """A one-time code to set a new password without the old one (app/accounts/recovery.py).

    Only a keyed digest of the code is kept. An SMS code asked for a number nobody registered
    gets a row too (user_id NULL, a digest no code matches), so that asking and guessing behave
    the same whether or not the number exists. A code is spent by its last wrong try, by use,
    or by a newer code for the same phone."""

    __tablename__ = "recovery_codes"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("purpose <> 'staff' OR (user_id IS NOT NULL)", name="staff_code_has_user"),
        Index("ix_recovery_codes_phone_created_at", "phone", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[RecoveryPurpose] = mapped_column(enum_type(RecoveryPurpose))
    phone: Mapped[str] = mapped_column(String(11))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
