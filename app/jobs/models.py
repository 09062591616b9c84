"""Job rows (what a page shows while work runs in the worker) and the schedule's run ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import Model

STATE_LABELS = {"queued": "排队中", "running": "正在处理", "done": "已完成", "failed": "出错了"}


class Job(Model):
    """One piece of background work. queued → running → done or failed; a running job whose
    worker stopped sending heartbeats goes back to queued (when the kind is safe to run again)
    or to failed, by the sweeper."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_heartbeat", "state", "heartbeat_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))            # "import", "export"
    state: Mapped[str] = mapped_column(String(10), default="queued")
    params: Mapped[str] = mapped_column(Text, default="{}")   # JSON, the handler's input
    progress: Mapped[int] = mapped_column(default=0)
    total: Mapped[int | None]
    message: Mapped[str] = mapped_column(Text, default="")    # in Chinese, for the page
    result: Mapped[str | None] = mapped_column(String(200))   # an export's file name in EXPORT_DIR
    attempts: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=utcnow)   # queued: when last enqueued
    finished_at: Mapped[datetime | None]

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)


class ScheduleRun(Model):
    """A scheduled task's run for one period (a minute, a day, a month): the unique key lets only
    one worker on any host run a period."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("task", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10), default="running")   # running, done, failed, skipped
    host: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class ScheduleLease(Model):
    """Who runs a scheduled task now, until when: a run that finds it held skips its period
    instead of overlapping the one still going."""

    __tablename__ = "schedule_leases"

    task: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[int | None]            # the ScheduleRun id
    expires_at: Mapped[datetime | None]
