"""Command-line tasks: `flask regions load`, `flask create-admin`, `flask seed-demo`, `flask sessions purge`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db


def register_cli(app: Flask) -> None:
    regions = AppGroup("regions", help="The region tree.")

    @regions.command("load")
    @click.option("--prefix", default="", help="Only codes starting with this, e.g. 41 for Henan.")
    def regions_load(prefix: str):
        """Load or update regions from the shipped gazetteer."""
        from app.regions.services import load_gazetteer

        report = load_gazetteer(prefix=prefix)
        db.session.commit()
        click.echo(f"regions: {report.added} added, {report.updated} updated, "
                   f"{report.retired} no longer current")

    app.cli.add_command(regions)

    @app.cli.command("create-admin")
    @click.option("--phone", prompt="手机号码 (mobile number)")
    @click.option("--name", prompt="姓名 (name)")
    @click.option("--region", "region_code", default="410000", show_default=True,
                  help="Region code the admin runs: a province, city or county.")
    @click.password_option(prompt="密码 (password)")
    def create_admin_command(phone: str, name: str, region_code: str, password: str):
        """Create an admin (the first province admin) or add an admin grant to an account."""
        from app.accounts.services import create_admin
        from app.errors import DomainError
        from app.regions.models import Region, RegionLevel

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

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Only when there are no accounts yet (first run).")
    def seed_demo_command(if_empty: bool):
        """Load the demo regions, accounts and organizations (idempotent)."""
        from app.demo import seed_demo

        if seed_demo(if_empty=if_empty):
            db.session.commit()
            click.echo("demo data loaded")
        else:
            click.echo("demo data: accounts exist already, nothing loaded")

    @app.cli.command("demo-accounts")
    def demo_accounts_command():
        """Print the demo accounts and their password."""
        from app.demo import describe_accounts

        click.echo(describe_accounts())

    sessions = AppGroup("sessions", help="Server-side sessions.")

    @sessions.command("purge")
    def sessions_purge():
        """Delete expired sessions (run daily)."""
        from app.accounts.sessions import purge_expired

        count = purge_expired()
        db.session.commit()
        click.echo(f"{count} expired sessions deleted")

    app.cli.add_command(sessions)

    outbox = AppGroup("outbox", help="The email outbox.")

    @outbox.command("send")
    @click.option("--limit", default=200, show_default=True, help="At most this many emails.")
    def outbox_send(limit: int):
        """Send due emails through MAIL_SERVER (run every minute from cron or a timer)."""
        from app.notifications.services import send_outbox

        if not app.config.get("MAIL_SERVER"):
            raise click.ClickException("MAIL_SERVER is not configured; emails stay in the outbox")
        sent, failed = send_outbox(limit=limit)
        click.echo(f"{sent} sent, {failed} failed (kept for a later attempt)")

    app.cli.add_command(outbox)

    matching = AppGroup("matching", help="The skill-location index matching reads.")

    @matching.command("refresh")
    def matching_refresh():
        """Recompute which members have facts outside the index (run nightly): as hours, refusals
        and periods away age out, their index rows become exact again and cheaper to rank."""
        from app.members.index import refresh_facts

        flagged, cleared = refresh_facts()
        db.session.commit()
        click.echo(f"{flagged} index rows flagged, {cleared} cleared")

    app.cli.add_command(matching)
