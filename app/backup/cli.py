"""`flask backup create | restore FILE | verify [FILE] | list`."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.backup.files import BackupError, newest_backup
from app.backup.services import (
    BackupSettings,
    Verification,
    create_backup,
    list_backups,
    restore_backup,
    verify_backup,
)

backup = AppGroup("backup", help="Backups of the database: create, restore, verify, list.")


def _settings() -> BackupSettings:
    return BackupSettings.from_app(current_app)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _echo_verification(verification: Verification) -> None:
    width = max([len("table")] + [len(check.table) for check in verification.tables])
    click.echo(f"{'table':<{width}}  {'rows (manifest)':>15}  {'rows (restored)':>15}  checksum")
    for check in verification.tables:
        expected = str(check.expected.rows) if check.expected else "—"
        actual = str(check.actual.rows) if check.actual else "—"
        if check.ok:
            mark = "ok"
        elif check.expected is None:
            mark = "MISMATCH: table not in the manifest 清单里没有这个表"
        elif check.actual is None:
            mark = "MISMATCH: table missing 表不见了"
        else:
            mark = "MISMATCH 不一致"
        click.echo(f"{check.table:<{width}}  {expected:>15}  {actual:>15}  {mark}")
    revision = "ok" if verification.revision_expected == verification.revision_actual else "MISMATCH 不一致"
    click.echo(f"alembic revision: {verification.revision_expected} → {verification.revision_actual}  {revision}")


@backup.command("create")
def backup_create() -> None:
    """Back up the database into BACKUP_DIR with a manifest; delete backups older than BACKUP_KEEP_DAYS."""
    started = time.perf_counter()
    try:
        created = create_backup(settings=_settings())
    except BackupError as e:
        raise click.ClickException(e.message) from e
    rows = sum(table["rows"] for table in created.manifest["tables"].values())
    click.echo(f"backup: {created.path} ({_size(created.manifest['size'])}, {len(created.manifest['tables'])} tables,"
               f" {rows} rows, revision {created.manifest['alembic_revision']},"
               f" {time.perf_counter() - started:.2f} s)")
    click.echo(f"sha256: {created.manifest['sha256']}")
    for old in created.pruned:
        click.echo(f"deleted (older than {_settings().keep_days} days): {old.name}")


@backup.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def backup_restore(file: Path) -> None:
    """Restore FILE into the configured database, which must be empty (no tables)."""
    try:
        verification = restore_backup(file=file, settings=_settings())
    except BackupError as e:
        raise click.ClickException(e.message) from e
    _echo_verification(verification)
    if not verification.ok:
        raise click.ClickException("恢复后的数据与清单不一致，见上表。 The restored rows differ from the manifest (above).")
    rows = sum(check.actual.rows for check in verification.tables if check.actual)
    click.echo(f"restored {file.name}: {len(verification.tables)} tables, {rows} rows, identical to the manifest")


@backup.command("verify")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
def backup_verify(file: Path | None) -> None:
    """Restore FILE (default: the newest backup) into a scratch database and compare every table's
    row count and checksum with the manifest; exits non-zero on any difference."""
    settings = _settings()
    started = time.perf_counter()
    try:
        target = file or newest_backup(settings.directory)
        verification = verify_backup(file=target, settings=settings)
    except BackupError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"verify {target}")
    _echo_verification(verification)
    if not verification.ok:
        raise click.ClickException("备份与清单不一致，见上表：不要用它恢复。 The backup differs from its manifest (above).")
    click.echo(f"ok: {len(verification.tables)} tables identical ({time.perf_counter() - started:.2f} s)")


@backup.command("list")
def backup_list() -> None:
    """The backups in BACKUP_DIR: when, size, migration revision, and whether verify passed."""
    settings = _settings()
    found = list_backups(settings=settings)
    if not found:
        click.echo(f"no backups in {settings.directory}")
        return
    width = max(len(item.path.name) for item in found)
    click.echo(f"{'file':<{width}}  {'taken (UTC)':<19}  {'size':>10}  {'revision':<28}  verified")
    for item in found:
        taken = item.taken_at.strftime("%Y-%m-%d %H:%M:%S") if item.taken_at else "?"
        if not item.manifest_ok:
            verified = "manifest missing or damaged 清单缺失或损坏"
        elif item.verified is None:
            verified = "no 未检查"
        elif item.verified["ok"]:
            verified = f"yes 已通过 ({item.verified['at'][:16]})"
        else:
            verified = f"FAILED 未通过 ({item.verified['at'][:16]})"
        click.echo(f"{item.path.name:<{width}}  {taken:<19}  {_size(item.size):>10}  {item.revision or '—':<28}"
                   f"  {verified}")
