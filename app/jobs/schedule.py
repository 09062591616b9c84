"""The schedule, in code: what runs when, for which period, on one worker of one host at a time.
The same work is behind the CLI commands (`flask sessions purge` and the others).

Huey evaluates crontabs in UTC; the times below are given in UTC for the Beijing times in the
comments (China Standard Time is UTC+8 all year)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from app.accounts.sessions import purge_expired
from app.attendance.services import purge_scans
from app.backup.services import BackupSettings, create_backup
from app.bookings.calendars import remind_theme_days
from app.bookings.reminders import remind_tomorrow as remind_bookers
from app.bookings.services import release_no_shows
from app.clock import local_now
from app.extensions import db
from app.jobs.services import sweep
from app.members.exports import purge_old as purge_exports
from app.members.index import refresh_facts
from app.notifications.services import send_outbox
from app.notifications.sms_outbox import send_due as send_due_sms
from app.reports.summary import refresh_apart
from app.tasks.reminders import remind_tomorrow
from app.transactions import commit_fresh


def purge_sessions() -> str:
    count = purge_expired()
    db.session.commit()
    return f"{count} expired sessions deleted"


def send_emails(limit: int = 200) -> str:
    if not current_app.config.get("MAIL_SERVER"):
        return "MAIL_SERVER is not configured; emails stay in the outbox"
    sent, failed = send_outbox(limit=limit)
    return f"{sent} sent, {failed} failed (kept for a later attempt)"


def send_texts(limit: int = 200) -> str:
    sent, failed = send_due_sms(limit=limit)
    return f"{sent} texts sent, {failed} not sent (retried later unless given up)"


def refresh_matching() -> str:
    flagged, cleared = refresh_facts()
    db.session.commit()
    return f"{flagged} index rows flagged, {cleared} cleared"


def remind_venues() -> str:
    return f"{commit_fresh(remind_theme_days)} organizers reminded"


def refresh_dashboards() -> str:
    done = refresh_apart()
    return f"{done.rows} dashboard figures counted in {done.seconds:.1f} s"


def remind_members() -> str:
    sessions = commit_fresh(remind_tomorrow)
    bookings = commit_fresh(remind_bookers)
    return f"{sessions} members reminded of tomorrow's sessions, {bookings} bookers of tomorrow's bookings"


def release_bookings() -> str:
    released, purged = commit_fresh(lambda: (release_no_shows(), purge_scans()))
    return f"{len(released)} bookings released for nobody checking in, {purged} old scans purged"


def back_up() -> str:
    created = create_backup(settings=BackupSettings.from_app(current_app))
    return f"backup {created.path.name}, {len(created.pruned)} old backups deleted"


def sweep_jobs() -> str:
    return str(sweep())


@dataclass(frozen=True)
class Schedule:
    name: str
    when: dict[str, str]            # huey.crontab() arguments, UTC
    period: Callable[[], str]       # the period a run stands for, in local time
    lease: timedelta                # a run still going after this is taken to have died
    work: Callable[[], str]
    says: str                       # for the README and `flask jobs schedule`


def _minute() -> str:
    return local_now().strftime("%Y-%m-%dT%H:%M")


def _hour() -> str:
    return local_now().strftime("%Y-%m-%dT%H")


def _day() -> str:
    return local_now().strftime("%Y-%m-%d")


def _month() -> str:
    return local_now().strftime("%Y-%m")


SCHEDULES = (
    Schedule("jobs.sweep", {"minute": "*"}, _minute, timedelta(minutes=5), sweep_jobs,
             "every minute: jobs whose worker died run again or fail"),
    Schedule("outbox.send", {"minute": "*"}, _minute, timedelta(minutes=15), send_emails,
             "every minute: due emails, when MAIL_SERVER is set"),
    Schedule("sms.send", {"minute": "*"}, _minute, timedelta(minutes=15), send_texts,
             "every minute: due text messages (codes at once as well, by a job of their own)"),
    Schedule("matching.refresh", {"minute": "0", "hour": "19"}, _day, timedelta(hours=2), refresh_matching,
             "nightly at 03:00 Beijing time: the matching index's facts"),
    Schedule("sessions.purge", {"minute": "30", "hour": "19"}, _day, timedelta(hours=1), purge_sessions,
             "nightly at 03:30 Beijing time: expired sessions"),
    Schedule("backup.create", {"minute": "0", "hour": "18"}, _day, timedelta(hours=3), back_up,
             "nightly at 02:00 Beijing time: a checksummed backup into BACKUP_DIR, old ones deleted"),
    Schedule("exports.purge", {"minute": "0", "hour": "20"}, _day, timedelta(hours=1), purge_exports,
             "nightly at 04:00 Beijing time: export files older than EXPORT_KEEP_DAYS"),
    Schedule("tasks.remind", {"minute": "0", "hour": "2"}, _day, timedelta(hours=1), remind_members,
             "daily at 10:00 Beijing time: members on tomorrow's sessions and bookers of tomorrow's "
             "approved bookings, with a link to say 去不了了"),
    Schedule("reports.refresh", {"minute": "10"}, _hour, timedelta(minutes=30), refresh_dashboards,
             "every hour at :10: the dashboards' figures (region_figures)"),
    Schedule("bookings.release_no_shows", {"minute": "*"}, _minute, timedelta(minutes=5), release_bookings,
             "every minute: bookings nobody checked in to within the venue's minutes are released"),
    Schedule("venues.remind", {"minute": "0", "hour": "1", "day": "20"}, _month, timedelta(hours=1), remind_venues,
             "on the 20th of each month at 09:00 Beijing time: the 主题党日 reminder"),
)
