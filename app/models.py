"""Every model, imported in one place so that SQLAlchemy's metadata (and Alembic) hold the whole schema."""

import app.members.index  # noqa: F401  (its flush hook keeps the index's has_facts flag current)
from app.accounts.models import RecoveryCode, Role, RoleGrant, User, UserSession  # noqa: F401
from app.attendance.models import Attendance, AttendanceScan  # noqa: F401
from app.audit.models import AuditEvent  # noqa: F401
from app.bookings.models import Booking, BookingHost, BookingOccurrence, BookingReminder, CalendarFeed  # noqa: F401
from app.jobs.models import Job, ScheduleLease, ScheduleRun  # noqa: F401
from app.members.models import (  # noqa: F401
    ImportJob,
    MemberProfile,
    MemberSkill,
    PoolEntry,
    PoolEvent,
    ProfileDraft,
    Skill,
    SkillCategory,
    SkillLocation,
    UnavailablePeriod,
)
from app.notifications.models import EmailOutbox, Notification, SmsOutbox  # noqa: F401
from app.organizations.models import Organization  # noqa: F401
from app.proofs.models import Certificate, CertificateRecord, Commendation, Training  # noqa: F401
from app.regions.models import Region  # noqa: F401
from app.reports.models import FigureRefresh, RegionFigure  # noqa: F401
from app.tasks.models import Assignment, ServiceRecord, Task, TaskReminder, TaskSession, TaskSkill  # noqa: F401
from app.venues.models import (  # noqa: F401
    ActivityPackage,
    Closure,
    OpeningHours,
    PackageFacility,
    Venue,
    VenueFacility,
)
