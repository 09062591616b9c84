"""Backup files on disk: their names, manifests, checksums, and retention.

A backup is named for the UTC instant it was taken and its engine, e.g.
`yinhui-20261206T031500Z-postgresql.dump` or `yinhui-20261206T031500Z-sqlite.db`, and its manifest
is the same name with `.json` added. Only files named so are ever listed or deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.errors import DomainError

MANIFEST_FORMAT = 1
SUFFIXES = {"sqlite": "db", "postgresql": "dump"}
NAME = re.compile(r"^yinhui-(?P<at>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?-(?P<engine>sqlite|postgresql)\.(?:db|dump)$")
STAMP = "%Y%m%dT%H%M%SZ"
CHUNK = 1 << 20
PRIVATE = 0o600


class BackupError(DomainError):
    """A backup, restore or verification could not be done; the message says why, in Chinese and English."""


def reserve(directory: Path, engine: str, at: datetime) -> tuple[Path, Path]:
    """A new backup's file name in `directory` for `engine` at `at`, and its partial file, created
    empty, readable by the owner only (backups hold members' personal data), and never one that
    another run has taken: (final path, partial path)."""
    stamp = at.astimezone(UTC).strftime(STAMP)
    n = 1
    while True:
        middle = stamp if n == 1 else f"{stamp}-{n}"
        final = directory / f"yinhui-{middle}-{engine}.{SUFFIXES[engine]}"
        partial = final.with_name(final.name + ".partial")
        if not final.exists() and not manifest_path(final).exists():
            try:
                os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
                return final, partial
            except FileExistsError:
                pass
        n += 1


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".json")


def parse_name(backup: Path) -> tuple[datetime, str] | None:
    """When a backup was taken and its engine, read from its name; None if not a backup's name."""
    match = NAME.match(backup.name)
    if match is None:
        return None
    return datetime.strptime(match["at"], STAMP).replace(tzinfo=UTC), match["engine"]


def backups_in(directory: Path) -> list[Path]:
    """Backup files in the directory, oldest first."""
    if not directory.is_dir():
        return []
    found = [(parsed[0], path.name, path) for path in directory.iterdir()
             if path.is_file() and (parsed := parse_name(path)) is not None]
    return [path for _at, _name, path in sorted(found)]


def newest_backup(directory: Path) -> Path:
    found = backups_in(directory)
    if not found:
        raise BackupError(f"{directory} 里没有备份；先运行 `flask backup create`。"
                          f" No backups in {directory}; run `flask backup create` first.")
    return found[-1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(backup: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest beside the backup, whole or not at all (a temporary file renamed)."""
    target = manifest_path(backup)
    temporary = target.with_name(target.name + ".tmp")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE), "w", encoding="utf-8") as f:
        f.write(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    os.replace(temporary, target)
    return target


def read_manifest(backup: Path) -> dict[str, Any]:
    path = manifest_path(backup)
    if not backup.is_file():
        raise BackupError(f"找不到备份文件 {backup}。 Backup file {backup} not found.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"找不到备份的清单 {path}，无法确认文件完好，不能使用。"
                          f" The manifest {path} is missing: the backup cannot be checked.") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"备份的清单 {path} 已损坏，无法确认文件完好，不能使用。"
                          f" The manifest {path} is not valid JSON: the backup cannot be checked.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or manifest.get("engine") not in SUFFIXES or not isinstance(manifest.get("size"), int) \
            or not isinstance(manifest.get("sha256"), str) or not isinstance(manifest.get("tables"), dict):
        raise BackupError(f"{path} 不是本系统的备份清单。 {path} is not a Yinhui backup manifest.")
    return manifest


def check_file(backup: Path, manifest: dict[str, Any]) -> None:
    """Refuse a file whose size or SHA-256 differs from its manifest: truncated or corrupted."""
    size = backup.stat().st_size
    if size != manifest["size"]:
        raise BackupError(
            f"备份文件已损坏或不完整：{backup.name} 有 {size} 字节，清单记录的是 {manifest['size']} 字节"
            f"（可能被截断）。不要用它恢复，请换一个较早的备份。"
            f" The backup file is truncated or damaged: {size} bytes, the manifest says {manifest['size']}.")
    actual = sha256_of(backup)
    if actual != manifest["sha256"]:
        raise BackupError(
            f"备份文件已损坏：{backup.name} 的 SHA-256 与清单不符（文件内容被改动过）。"
            f"不要用它恢复，请换一个较早的备份。"
            f" The backup file is corrupted: its SHA-256 {actual[:12]}… does not match the manifest's"
            f" {manifest['sha256'][:12]}….")


def prune(directory: Path, *, keep_days: int, now: datetime, keep: Path) -> list[Path]:
    """Delete backups (and their manifests) taken more than keep_days before now; `keep` (the one
    just made) stays whatever its age. Returns the deleted backup files."""
    cutoff = now - timedelta(days=keep_days)
    deleted = []
    for backup in backups_in(directory):
        parsed = parse_name(backup)
        if parsed is None or parsed[0] >= cutoff or backup == keep:
            continue
        manifest_path(backup).unlink(missing_ok=True)
        backup.unlink()
        deleted.append(backup)
    return deleted
