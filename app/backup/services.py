"""Backup use cases: create (with retention), restore into an empty database, verify by restoring
into a scratch database, and list. Each takes its settings explicitly (BackupSettings.from_app reads
them from the application's configuration), so that the CLI and the job queue call them alike.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.backup import engines
from app.backup.digest import TableDigest, alembic_revision, digest_database, schema_objects
from app.backup.files import (
    MANIFEST_FORMAT,
    BackupError,
    backups_in,
    check_file,
    parse_name,
    prune,
    read_manifest,
    reserve,
    sha256_of,
    write_manifest,
)
from app.clock import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupSettings:
    database_url: sa.URL
    directory: Path
    keep_days: int = 14
    pg_bin_dir: str | None = None
    busy_timeout_s: float = 10.0

    @classmethod
    def from_app(cls, app: Flask) -> BackupSettings:
        directory = Path(app.config.get("BACKUP_DIR") or Path(app.instance_path) / "backups")
        if not directory.is_absolute():
            directory = Path(app.instance_path) / directory
        return cls(database_url=sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]), directory=directory,
                   keep_days=int(app.config.get("BACKUP_KEEP_DAYS", 14)), pg_bin_dir=app.config.get("PG_BIN_DIR"),
                   busy_timeout_s=app.config.get("SQLITE_BUSY_TIMEOUT_MS", 10_000) / 1000)


@dataclass(frozen=True)
class Created:
    path: Path
    manifest: dict[str, Any]
    pruned: list[Path]

    def summary(self) -> str:
        """One line for a log or a job's result."""
        tables = self.manifest["tables"]
        rows = sum(table["rows"] for table in tables.values())
        return (f"{self.path.name}: {self.manifest['size']} bytes, {len(tables)} tables, {rows} rows,"
                f" revision {self.manifest['alembic_revision']}; {len(self.pruned)} old backups deleted")


@dataclass(frozen=True)
class TableCheck:
    table: str
    expected: TableDigest | None    # from the manifest
    actual: TableDigest | None      # in the restored copy

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


@dataclass(frozen=True)
class Verification:
    path: Path
    revision_expected: str | None
    revision_actual: str | None
    tables: list[TableCheck]

    @property
    def ok(self) -> bool:
        return self.revision_expected == self.revision_actual and all(check.ok for check in self.tables)


@dataclass(frozen=True)
class Listed:
    path: Path
    taken_at: datetime | None
    engine: str
    size: int
    revision: str | None
    verified: dict[str, Any] | None     # {"at", "ok", "detail"} of the last verification
    manifest_ok: bool


def create_backup(*, settings: BackupSettings) -> Created:
    """Back up the configured database into settings.directory with its manifest; then delete
    backups older than settings.keep_days (only after this one is complete)."""
    engine = engines.engine_of(settings.database_url)
    settings.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = utcnow()
    path, partial = reserve(settings.directory, engine, now)
    try:
        if engine == "sqlite":
            source = engines.sqlite_path(settings.database_url)
            if not source.is_file():
                raise BackupError(f"找不到要备份的 SQLite 数据库文件 {source}。 SQLite database {source} not found.")
            engines.sqlite_copy(source, partial,
                                busy_timeout_s=settings.busy_timeout_s, source_read_only=False)
            with _connect(engines.sqlite_url(partial, read_only=True)) as conn:
                revision, tables = alembic_revision(conn), digest_database(conn)
        else:
            with engines.snapshot_of(settings.database_url) as (conn, snapshot):
                engines.pg_dump(settings.database_url, partial, snapshot=snapshot, bin_dir=settings.pg_bin_dir)
                revision, tables = alembic_revision(conn), digest_database(conn)
        size, sha256 = partial.stat().st_size, sha256_of(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    manifest = {
        "format": MANIFEST_FORMAT, "file": path.name, "engine": engine, "created_at": now.isoformat(),
        "database": settings.database_url.render_as_string(hide_password=True),
        "size": size, "sha256": sha256, "alembic_revision": revision,
        "tables": {name: digest.as_json() for name, digest in tables.items()}, "verified": None,
    }
    write_manifest(path, manifest)
    log.info("backup created: %s (%d bytes, %d tables)", path, manifest["size"], len(tables))
    pruned = prune(settings.directory, keep_days=settings.keep_days, now=now, keep=path)
    for old in pruned:
        log.info("backup deleted by retention (%d days): %s", settings.keep_days, old)
    return Created(path=path, manifest=manifest, pruned=pruned)


def restore_backup(*, file: Path, settings: BackupSettings) -> Verification:
    """Restore a backup into the configured database, which must be empty; the file's checksum is
    checked first, and the restored rows are compared with the manifest afterwards."""
    manifest = read_manifest(file)
    engine = engines.engine_of(settings.database_url)
    if manifest["engine"] != engine:
        raise BackupError(f"这是 {manifest['engine']} 的备份，不能恢复到 {engine} 数据库。"
                          f" A {manifest['engine']} backup cannot be restored into {engine}.")
    check_file(file, manifest)
    _require_empty(settings.database_url)
    _restore(file, settings.database_url, engine, settings, analyze=True)
    with _connect(settings.database_url) as conn:
        return _compare(file, manifest, conn)


def verify_backup(*, file: Path, settings: BackupSettings) -> Verification:
    """Check the file's checksum, restore it into a scratch database (a temporary SQLite file, or a
    temporary PostgreSQL database created and dropped on the configured server), and compare
    every table's row count and checksum with the manifest. The outcome is recorded in the manifest."""
    manifest = read_manifest(file)
    try:
        check_file(file, manifest)
        with _scratch(manifest["engine"], settings) as scratch:
            _restore(file, scratch, manifest["engine"], settings, analyze=False)
            with _connect(scratch) as conn:
                verification = _compare(file, manifest, conn)
    except BackupError as e:
        _record(file, manifest, ok=False, detail=e.message)
        raise
    bad = [check.table for check in verification.tables if not check.ok]
    _record(file, manifest, ok=verification.ok,
            detail="" if verification.ok else "不一致的表 mismatched: " + ", ".join(bad or ["alembic_version"]))
    return verification


def list_backups(*, settings: BackupSettings) -> list[Listed]:
    """The backups in settings.directory, oldest first, with what their manifests say."""
    listed = []
    for path in backups_in(settings.directory):
        taken_at, engine = parse_name(path) or (None, "")
        try:
            manifest: dict[str, Any] = read_manifest(path)
            manifest_ok = True
        except BackupError:
            manifest, manifest_ok = {}, False
        listed.append(Listed(path=path, taken_at=taken_at, engine=engine, size=path.stat().st_size,
                             revision=manifest.get("alembic_revision"), verified=manifest.get("verified"),
                             manifest_ok=manifest_ok))
    return listed


def _require_empty(url: sa.URL) -> None:
    with _connect(url) as conn:
        found = schema_objects(conn)
    if found:
        shown = "、".join(found[:5]) + ("…" if len(found) > 5 else "")
        raise BackupError(
            f"目标数据库不是空的（已有 {len(found)} 个表或对象：{shown}），恢复只写入空数据库，什么也没有改动。"
            "请准备一个空数据库再恢复：PostgreSQL 用 `createdb -h 主机 -U 用户 新库名` 新建一个库，"
            "SQLite 指向一个还不存在的文件，然后把 DATABASE_URL 指向它。"
            f" The target database is not empty ({len(found)} tables or other objects: {', '.join(found[:5])});"
            " nothing was changed. Restore only goes into an empty database: create one (PostgreSQL:"
            " `createdb newname`; SQLite: a file that does not exist yet) and point DATABASE_URL at it.")


def _restore(file: Path, url: sa.URL, engine: str, settings: BackupSettings, *, analyze: bool) -> None:
    if engine == "sqlite":
        engines.sqlite_check(file)
        engines.sqlite_copy(file, engines.sqlite_path(url), busy_timeout_s=settings.busy_timeout_s,
                            source_read_only=True)
    else:
        engines.pg_archive_check(file, bin_dir=settings.pg_bin_dir)
        engines.pg_restore(url, file, bin_dir=settings.pg_bin_dir, analyze=analyze)


@contextlib.contextmanager
def _scratch(engine: str, settings: BackupSettings) -> Iterator[sa.URL]:
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="yinhui-verify-") as folder:
            yield engines.sqlite_url(Path(folder) / "scratch.db")
        return
    if engines.engine_of(settings.database_url) != "postgresql":
        raise BackupError("检查 PostgreSQL 备份需要一个 PostgreSQL 服务器：请把 DATABASE_URL 指向它。"
                          " Verifying a PostgreSQL backup needs DATABASE_URL to name a PostgreSQL server.")
    with engines.scratch_postgres(settings.database_url) as url:
        yield url


@contextlib.contextmanager
def _connect(url: sa.URL) -> Iterator[sa.Connection]:
    engine = engines.open_engine(url)
    try:
        with engines.connect(engine) as conn:
            yield conn
    finally:
        engine.dispose()


def _compare(file: Path, manifest: dict[str, Any], conn: sa.Connection) -> Verification:
    expected = {name: TableDigest(rows=int(t["rows"]), sha256=str(t["sha256"]))
                for name, t in manifest["tables"].items()}
    actual = digest_database(conn)
    checks = [TableCheck(table=name, expected=expected.get(name), actual=actual.get(name))
              for name in sorted(expected.keys() | actual.keys())]
    return Verification(path=file, revision_expected=manifest.get("alembic_revision"),
                        revision_actual=alembic_revision(conn), tables=checks)


def _record(file: Path, manifest: dict[str, Any], *, ok: bool, detail: str) -> None:
    manifest["verified"] = {"at": utcnow().isoformat(), "ok": ok, "detail": detail}
    try:
        write_manifest(file, manifest)
    except OSError as e:  # e.g. a backup on a read-only mount: the verification itself stands
        log.warning("could not record the verification of %s in its manifest: %s", file, e)
