"""The two engines' own ways to copy a database out and back in.

SQLite: the online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot while the
application goes on writing (in WAL mode readers never block the writer). PostgreSQL: `pg_dump
--format=custom` under a snapshot exported by a repeatable-read transaction, in which the manifest's
checksums are computed too, so that the manifest describes exactly what the archive holds; and
`pg_restore --no-owner` into an empty database, in one transaction (all or nothing).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from psycopg.conninfo import make_conninfo
from sqlalchemy.pool import NullPool

from app.backup.files import BackupError

ENGINES = ("sqlite", "postgresql")
DEBIAN_PG_BIN = Path("/usr/lib/postgresql")
TOOL_TIMEOUT_S = 6 * 3600


def engine_of(url: sa.URL) -> str:
    name = url.get_backend_name()
    if name not in ENGINES:
        raise BackupError(f"不支持备份 {name} 数据库，只支持 SQLite 和 PostgreSQL。"
                          f" Backups support SQLite and PostgreSQL only, not {name}.")
    return name


def open_engine(url: sa.URL, **options: object) -> sa.Engine:
    """An engine of our own, outside the application's pool and its session hooks."""
    return sa.create_engine(url, poolclass=NullPool, **options)


@contextlib.contextmanager
def connect(engine: sa.Engine) -> Iterator[sa.Connection]:
    """engine.connect(), with a failure to connect explained (a database that does not exist yet,
    a server that is down) instead of a traceback."""
    try:
        connection = engine.connect()
    except sa.exc.OperationalError as e:
        where = engine.url.render_as_string(hide_password=True)
        raise BackupError(f"无法连接数据库 {where}：{e.orig}。请确认服务器在运行、数据库已建好（createdb）。"
                          f" Cannot connect to {where}: is the server up and the database created?") from e
    with connection:
        yield connection


# --- SQLite ------------------------------------------------------------------------------------

def sqlite_path(url: sa.URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"SQLite 数据库必须是一个文件：{url.database!r}。"
                          f" The SQLite database must be a plain file path, not {url.database!r}.")
    return Path(url.database)


def sqlite_url(path: Path, *, read_only: bool = False) -> sa.URL:
    if read_only:
        return sa.engine.make_url(f"sqlite:///{path.resolve().as_uri()}?mode=ro&uri=true")
    return sa.engine.make_url(f"sqlite:///{path}")


def sqlite_copy(source: Path, target: Path, *, busy_timeout_s: float, source_read_only: bool) -> None:
    """Copy a whole SQLite database page by page in one step (a consistent snapshot of the source,
    even while another connection writes), leaving the copy as one self-contained file."""
    source_uri = source.resolve().as_uri() + ("?mode=ro" if source_read_only else "")
    with contextlib.closing(sqlite3.connect(source_uri, uri=True, timeout=busy_timeout_s)) as src, \
            contextlib.closing(sqlite3.connect(target, timeout=busy_timeout_s)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # no -wal file beside a backup


def sqlite_check(path: Path) -> None:
    """SQLite's own check of a database file's structure (pages, b-trees, indexes)."""
    try:
        with contextlib.closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as e:
        raise BackupError(f"备份文件不是可读的 SQLite 数据库：{e}。 The file is not a readable SQLite database: {e}.") \
            from e
    if problems != ["ok"]:
        raise BackupError(f"SQLite 结构检查失败：{'; '.join(problems[:5])}。 SQLite quick_check failed.")


# --- PostgreSQL ---------------------------------------------------------------------------------

def pg_tool(name: str, bin_dir: str | None) -> str:
    """The path of pg_dump or pg_restore: in PG_BIN_DIR if set, else on PATH, else the newest
    Debian cluster's bin directory."""
    candidates = [Path(bin_dir) / name] if bin_dir else []
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    if DEBIAN_PG_BIN.is_dir():
        versions = sorted((p for p in DEBIAN_PG_BIN.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        candidates += [version / "bin" / name for version in reversed(versions)]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(
        f"找不到 PostgreSQL 的 {name} 命令。请安装与服务器同一大版本或更新的客户端"
        f"（Debian/Ubuntu：apt-get install postgresql-client-15），或把 PG_BIN_DIR 设为它所在的目录。"
        f" {name} not found: install the PostgreSQL client tools (same major version as the server or"
        f" newer, e.g. `apt-get install postgresql-client-15`) or set PG_BIN_DIR to their directory.")


def libpq_target(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the tools, and their environment: the password goes in
    PGPASSWORD, never on a command line other users can read."""
    options = {key: value for key, value in url.query.items() if isinstance(value, str)}
    conninfo = make_conninfo(host=url.host, port=url.port, user=url.username, dbname=url.database, **options)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BackupError(f"{what}失败（{Path(command[0]).name} 退出码 {done.returncode}）：{detail}"
                          f" {Path(command[0]).name} failed with exit code {done.returncode}.")


def pg_dump(url: sa.URL, archive: Path, *, snapshot: str, bin_dir: str | None) -> None:
    conninfo, env = libpq_target(url)
    _run([pg_tool("pg_dump", bin_dir), "--format=custom", "--no-password", f"--snapshot={snapshot}",
          f"--file={archive}", f"--dbname={conninfo}"], env, "pg_dump 备份")


def pg_restore(url: sa.URL, archive: Path, *, bin_dir: str | None, analyze: bool) -> None:
    """Restore an archive in one transaction; objects belong to the user who restores. `analyze`
    gathers the planner's statistics, which pg_restore leaves empty (wanted before serving)."""
    conninfo, env = libpq_target(url)
    _run([pg_tool("pg_restore", bin_dir), "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", "--no-password", f"--dbname={conninfo}", str(archive)], env, "pg_restore 恢复")
    if analyze:
        engine = open_engine(url, isolation_level="AUTOCOMMIT")
        with connect(engine) as conn:
            conn.execute(sa.text("ANALYZE"))
        engine.dispose()


def pg_archive_check(archive: Path, *, bin_dir: str | None) -> None:
    """pg_restore's reading of the archive's table of contents: refuses what is not an archive."""
    _run([pg_tool("pg_restore", bin_dir), "--list", str(archive)], dict(os.environ), "读取 pg_dump 归档")


@contextlib.contextmanager
def scratch_postgres(url: sa.URL) -> Iterator[sa.URL]:
    """A new empty database on url's server, named after url's database, dropped afterwards."""
    name = f"{(url.database or 'yinhui')[:40]}_verify_{secrets.token_hex(4)}"
    admin = open_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(name)
    with connect(admin) as conn:
        conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
    try:
        yield url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        admin.dispose()


@contextlib.contextmanager
def snapshot_of(url: sa.URL) -> Iterator[tuple[sa.Connection, str]]:
    """A read-only repeatable-read transaction and the id of its exported snapshot: pg_dump given
    that id sees exactly what the transaction sees, while the application goes on writing."""
    engine = open_engine(url, isolation_level="REPEATABLE READ")
    try:
        with connect(engine) as conn:
            conn.execute(sa.text("SET TRANSACTION READ ONLY"))
            snapshot = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
            yield conn, str(snapshot)
            conn.rollback()
    finally:
        engine.dispose()
