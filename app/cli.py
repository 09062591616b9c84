"""Command-line tasks: `flask regions load`, `flask create-admin`, `flask seed-demo`,
`flask demo-accounts`, `flask sessions purge`, `flask outbox send`, `flask outbox send-sms`,
`flask matching refresh`, `flask venues remind`, `flask reports refresh`, `flask backup …`
(app/backup/cli.py), `flask roster import …` (app/members/cli.py), `flask doctor`. Each is one use case in one
transaction."""

from __future__ import annotations

import click
import redis
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from app.accounts.services import create_admin
from app.backup.cli import backup
from app.demo import describe_accounts, seed_demo
from app.errors import DomainError
from app.extensions import db
from app.jobs import schedule
from app.members.cli import roster
from app.production import Problem, problems, web_workers
from app.regions.models import Region, RegionLevel
from app.regions.services import load_gazetteer

regions = AppGroup("regions", help="The region tree.")
sessions = AppGroup("sessions", help="Server-side sessions.")
outbox = AppGroup("outbox", help="The email and SMS outboxes.")
matching = AppGroup("matching", help="The skill-location index matching reads.")
venues = AppGroup("venues", help="Shared venues and their bookings.")
reports = AppGroup("reports", help="The bureaus' dashboards.")


def register_cli(app: Flask) -> None:
    for group in (regions, sessions, outbox, matching, venues, reports, backup, roster):
        app.cli.add_command(group)
    for command in (create_admin_command, seed_demo_command, demo_accounts_command, doctor_command):
        app.cli.add_command(command)


@regions.command("load")
@click.option("--prefix", default="", help="Only codes starting with this, e.g. 41 for Henan.")
def regions_load(prefix: str) -> None:
    """Load or update regions from the shipped gazetteer."""
    report = load_gazetteer(prefix=prefix)
    db.session.commit()
    click.echo(f"regions: {report.added} added, {report.updated} updated, {report.retired} no longer current")


@click.command("create-admin")
@click.option("--phone", prompt="手机号码 (mobile number)")
@click.option("--name", prompt="姓名 (name)")
@click.option("--region", "region_code", default="410000", show_default=True,
              help="Region code the admin runs: a province, city or county.")
@click.password_option(prompt="密码 (password)")
@with_appcontext
def create_admin_command(phone: str, name: str, region_code: str, password: str) -> None:
    """Create an admin (the first province admin) or add an admin grant to an account."""
    region = db.session.get(Region, region_code)
    if region is None or region.level not in (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY):
        raise click.ClickException(f"unknown region {region_code}; run `flask regions load` first")
    try:
        user = create_admin(phone=phone, name=name, password=password, region=region)
        db.session.commit()
    except DomainError as e:
        db.session.rollback()
        raise click.ClickException(e.message) from e
    click.echo(f"admin {user.name} ({user.phone}) for {region.name} {region.code}")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Only when there are no accounts yet (first run).")
@with_appcontext
def seed_demo_command(if_empty: bool) -> None:
    """Load the demo regions, accounts and organizations (idempotent)."""
    if current_app.config["YINHUI_ENV"] == "production":
        raise click.ClickException("生产环境不加载演示数据（演示账号的密码是公开的）/ refusing to load demo data "
                                   "in production: the demo accounts' password is published")
    if seed_demo(if_empty=if_empty):
        db.session.commit()
        click.echo("demo data loaded")
    else:
        click.echo("demo data: accounts exist already, nothing loaded")


@click.command("demo-accounts")
@with_appcontext
def demo_accounts_command() -> None:
    """Print the demo accounts and their password."""
    click.echo(describe_accounts())


@sessions.command("purge")
def sessions_purge() -> None:
    """Delete expired sessions (the worker runs this nightly)."""
    click.echo(schedule.purge_sessions())


@outbox.command("send")
@click.option("--limit", default=200, show_default=True, help="At most this many emails.")
def outbox_send(limit: int) -> None:
    """Send due emails through MAIL_SERVER (the worker does this every minute)."""
    if not current_app.config.get("MAIL_SERVER"):
        raise click.ClickException("MAIL_SERVER is not configured; emails stay in the outbox")
    click.echo(schedule.send_emails(limit))


@outbox.command("send-sms")
@click.option("--limit", default=200, show_default=True, help="At most this many texts.")
def outbox_send_sms(limit: int) -> None:
    """Send due text messages through SMS_BACKEND (the worker does this every minute)."""
    click.echo(schedule.send_texts(limit))


@matching.command("refresh")
def matching_refresh() -> None:
    """Recompute which members have facts outside the index (run nightly): as hours, refusals
    and periods away age out, their index rows become exact again and cheaper to rank.
    The worker runs this nightly."""
    click.echo(schedule.refresh_matching())


@reports.command("refresh")
def reports_refresh() -> None:
    """Count the dashboards' figures afresh (the worker does this every hour)."""
    click.echo(schedule.refresh_dashboards())


@venues.command("remind")
def venues_remind() -> None:
    """Remind party branches without a 主题党日 booked this month (the worker runs this on the 20th)."""
    click.echo(schedule.remind_venues())


@click.command("doctor")
@click.option("--workers", type=int, default=None, help="Number of web workers (default: as gunicorn.conf.py).")
@with_appcontext
def doctor_command(workers: int | None) -> None:
    """Print every production setting that is missing or unsafe, one line each; exit 1 if any."""
    found = problems(current_app.config, web_workers=workers if workers is not None else web_workers())
    found += _unreachable_services()
    for problem in found:
        click.echo(f"✗ {problem.line()}")
    if found:
        raise SystemExit(1)
    click.echo("✓ 生产环境设置齐全 / production settings are complete")


def _unreachable_services() -> list[Problem]:
    """The database (and its schema) and Redis, as the settings name them."""
    found = []
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except sa.exc.SQLAlchemyError as e:
        found.append(Problem("DATABASE_URL", "连接不上数据库", f"cannot connect: {type(e).__name__}"))
    else:
        head = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config()).get_current_head()
        if current != head:
            found.append(Problem("DATABASE_URL", f"数据库结构不是最新（{current or '空库'} → {head}），请运行 flask db upgrade",
                                 f"schema at {current or 'nothing'}, code expects {head}: run `flask db upgrade`"))
    if current_app.config.get("REDIS_URL"):
        try:
            with redis.Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2) as connection:
                connection.ping()
        except redis.RedisError as e:
            found.append(Problem("REDIS_URL", "连接不上 Redis", f"cannot connect: {type(e).__name__}"))
    return found
