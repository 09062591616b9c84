"""`flask backup`: the restore drill, refusals (damaged file, non-empty target), and retention.
Run on SQLite by default and on PostgreSQL with TEST_DATABASE_URL, like the rest of the suite."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.backup import engines
from app.backup.digest import digest_database
from app.backup.files import BackupError, manifest_path, parse_name, reserve
from app.backup.services import BackupSettings, create_backup
from app.clock import utcnow
from tests.backup.conftest import rows_of
from tests.conftest import reset_database


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=["backup", *args])


def digests(url: str):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return digest_database(conn)
    finally:
        engine.dispose()


def copy_backup(backup: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(manifest_path(backup), manifest_path(folder / backup.name))
    return Path(shutil.copy(backup, folder / backup.name))


def test_restore_drill_seed_backup_drop_restore_verify_identical(database):
    url, app = database("drill", seeded=True)
    before_rows, before = rows_of(url), digests(url)
    assert before_rows["users"] and before_rows["import_jobs"] and len(before_rows["regions"]) > 3000

    result = run(app, "create")
    assert result.exit_code == 0, result.output
    backups = Path(app.config["BACKUP_DIR"])
    (backup,) = [p for p in backups.iterdir() if not p.name.endswith(".json")]
    manifest = json.loads(manifest_path(backup).read_text())
    assert manifest["alembic_revision"] and manifest["sha256"] in result.output
    assert backup.stat().st_mode & 0o777 == 0o600 == manifest_path(backup).stat().st_mode & 0o777  # personal data
    assert {t: d["rows"] for t, d in manifest["tables"].items()} == {t: len(r) for t, r in before_rows.items()}

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)   # drop: the database is gone
    reset_database(url)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()

    result = run(app, "restore", str(backup))
    assert result.exit_code == 0, result.output
    assert "identical to the manifest" in result.output
    assert rows_of(url) == before_rows                     # row by row, read without app.backup
    assert digests(url) == before                           # and by the per-table checksums

    result = run(app, "verify")                             # the newest backup by default
    assert result.exit_code == 0, result.output
    assert backup.name in result.output and "MISMATCH" not in result.output
    assert json.loads(manifest_path(backup).read_text())["verified"]["ok"] is True
    assert "yes 已通过" in run(app, "list").output


def test_verify_refuses_a_corrupted_backup(source, tmp_path):
    _url, app, original = source
    backup = copy_backup(original, tmp_path)
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0x01                            # one bit, same size
    backup.write_bytes(bytes(data))

    result = run(app, "verify", str(backup))
    assert result.exit_code != 0
    assert "备份文件已损坏" in result.output and "SHA-256" in result.output and "does not match" in result.output
    verified = json.loads(manifest_path(backup).read_text())["verified"]
    assert verified["ok"] is False and "SHA-256" in verified["detail"]


def test_verify_refuses_a_truncated_backup(source, tmp_path):
    _url, app, original = source
    backup = copy_backup(original, tmp_path)
    backup.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])

    result = run(app, "verify", str(backup))
    assert result.exit_code != 0
    assert "可能被截断" in result.output and "truncated" in result.output


def test_verify_fails_when_a_table_differs_from_the_manifest(source, tmp_path):
    _url, app, original = source
    backup = copy_backup(original, tmp_path)
    manifest = json.loads(manifest_path(backup).read_text())
    manifest["tables"]["users"]["rows"] += 1
    manifest_path(backup).write_text(json.dumps(manifest))

    result = run(app, "verify", str(backup))
    assert result.exit_code != 0
    users_line = next(line for line in result.output.splitlines() if line.startswith("users "))
    assert "MISMATCH" in users_line
    assert "regions" in result.output and "MISMATCH" not in next(
        line for line in result.output.splitlines() if line.startswith("regions "))
    assert "users" in json.loads(manifest_path(backup).read_text())["verified"]["detail"]


def test_restore_into_a_non_empty_database_is_refused_and_changes_nothing(source):
    url, app, backup = source
    before = rows_of(url)
    result = run(app, "restore", str(backup))
    assert result.exit_code != 0
    assert "目标数据库不是空的" in result.output and "not empty" in result.output and "createdb" in result.output
    assert rows_of(url) == before


def test_restore_of_a_corrupted_backup_is_refused_before_touching_the_target(source, database, tmp_path):
    _url, _app, original = source
    backup = copy_backup(original, tmp_path / "copy")
    data = bytearray(backup.read_bytes())
    data[100] ^= 0xFF
    backup.write_bytes(bytes(data))
    url, app = database("corrupt_target")

    result = run(app, "restore", str(backup))
    assert result.exit_code != 0 and "备份文件已损坏" in result.output
    assert rows_of(url) == {}


def test_a_backup_taken_while_a_write_is_in_progress_holds_only_committed_rows(database):
    url, app = database("busy", seeded=True)
    committed = rows_of(url)["skills"]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as writer:                          # a write transaction left open
        if writer.dialect.name == "sqlite":
            writer.exec_driver_sql("BEGIN IMMEDIATE")
        writer.execute(sa.text("UPDATE skills SET name = name || '（改）'"))
        result = run(app, "create")
        writer.commit()
    engine.dispose()
    assert result.exit_code == 0, result.output
    result = run(app, "verify")
    assert result.exit_code == 0, result.output
    target_url, target = database("busy_restored")
    backup = max(p for p in Path(app.config["BACKUP_DIR"]).iterdir() if not p.name.endswith(".json"))
    assert run(target, "restore", str(backup)).exit_code == 0
    assert rows_of(target_url)["skills"] == committed
    assert rows_of(url)["skills"] != committed                # the write did go through afterwards


def _fake_backup(folder: Path, days_ago: float, engine: str) -> Path:
    stamp = (utcnow() - timedelta(days=days_ago)).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"yinhui-{stamp}-{engine}.{'db' if engine == 'sqlite' else 'dump'}"
    path.write_bytes(b"old backup")
    manifest_path(path).write_text("{}")
    return path


def test_retention_deletes_only_backups_older_than_keep_days(source, tmp_path):
    url, _app, _backup = source
    folder = tmp_path / "backups"
    folder.mkdir()
    engine = sa.engine.make_url(url).get_backend_name()
    old, older = _fake_backup(folder, 15, engine), _fake_backup(folder, 40, engine)
    recent = _fake_backup(folder, 13, engine)
    unrelated = [folder / "notes.txt", folder / "yinhui-old.db", folder / "yinhui-20200101T000000Z-sqlite.db.bak"]
    for path in unrelated:
        path.write_text("keep me")

    created = create_backup(settings=BackupSettings(database_url=sa.engine.make_url(url), directory=folder,
                                                    keep_days=14))
    assert sorted(created.pruned) == sorted([old, older]) and "2 old backups deleted" in created.summary()
    assert not old.exists() and not manifest_path(old).exists() and not older.exists()
    assert recent.exists() and manifest_path(recent).exists()
    assert created.path.exists() and manifest_path(created.path).exists()
    assert all(path.exists() for path in unrelated)
    assert len(list(folder.iterdir())) == 4 + len(unrelated)


def test_two_backups_in_the_same_second_get_different_names(tmp_path):
    at = utcnow()
    first, first_partial = reserve(tmp_path, "sqlite", at)
    second, second_partial = reserve(tmp_path, "sqlite", at)
    assert first != second and first_partial.exists() and second_partial.exists()
    assert parse_name(first) == parse_name(second) == (at.replace(microsecond=0), "sqlite")
    assert second.name == first.name.replace("Z-sqlite", "Z-2-sqlite")


def test_a_failed_backup_deletes_nothing(tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    old = _fake_backup(folder, 30, "sqlite")
    settings = BackupSettings(database_url=sa.engine.make_url(f"sqlite:///{tmp_path / 'missing.db'}"),
                              directory=folder, keep_days=1)
    with pytest.raises(BackupError, match="找不到要备份的 SQLite 数据库文件"):
        create_backup(settings=settings)
    assert old.exists() and sorted(p.name for p in folder.iterdir()) == sorted([old.name, manifest_path(old).name])
    assert not (tmp_path / "missing.db").exists()


def test_a_missing_pg_dump_is_explained_in_chinese_and_english(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(engines, "DEBIAN_PG_BIN", tmp_path / "none")
    with pytest.raises(BackupError) as error:
        engines.pg_tool("pg_dump", None)
    assert "找不到 PostgreSQL 的 pg_dump 命令" in error.value.message and "pg_dump not found" in error.value.message
    assert "PG_BIN_DIR" in error.value.message
    tool = tmp_path / "pg_dump"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert engines.pg_tool("pg_dump", str(tmp_path)) == str(tool)


def test_list_shows_time_size_revision_and_whether_verified(source):
    _url, app, backup = source
    output = run(app, "list").output
    line = next(line for line in output.splitlines() if line.startswith(backup.name))
    manifest = json.loads(manifest_path(backup).read_text())
    assert manifest["alembic_revision"] in line and re.search(r"\d \S?iB\b", line)   # a size with its unit
    assert ("no 未检查" in line) == (manifest["verified"] is None)
