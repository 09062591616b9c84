"""Databases of their own for the backup tests: a seeded source, empty targets, each named
`<test database>_<name>` (on PostgreSQL `yinhui_backup_<name>` in this helper's runs), and an
application bound to each with BACKUP_DIR in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app.demo import seed_demo
from app.extensions import db as _db
from app.members.models import ImportJob
from tests.conftest import database_url_for, make_app, reset_database


def dispose(app: Flask) -> None:
    with app.app_context():
        for engine in _db.engines.values():
            engine.dispose()


def seed(app: Flask) -> None:
    """Migrate and load the demo data, plus a row with bytes, NULLs and Chinese text."""
    with app.app_context():
        upgrade()
        seed_demo()
        _db.session.add(ImportJob(filename="名单（第一批）.xlsx", mode="valid", content=bytes(range(256)) * 3,
                                  message="", finished_at=None))
        _db.session.commit()
        _db.session.remove()
    dispose(app)


def rows_of(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, read plainly (not through app.backup), sorted, to compare by."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return {table: sorted((tuple(row) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))),
                                  key=repr)
                    for table in tables}
    finally:
        engine.dispose()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Flask]]]:
    """database(name, seeded=False) → (url, app): a database made empty, and an app bound to it
    whose BACKUP_DIR is tmp_path/backups."""
    made: list[Flask] = []

    def make(name: str, *, seeded: bool = False, **config: object) -> tuple[str, Flask]:
        url = database_url_for(f"bk_{name}")
        reset_database(url)
        app = make_app(url, BACKUP_DIR=str(tmp_path / "backups"), **config)
        made.append(app)
        if seeded:
            seed(app)
        return url, app

    yield make
    for app in made:
        dispose(app)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask, Path]]:
    """A seeded database and one backup of it, shared by the module's tests that only read them:
    (url, app, backup file). Tests that damage the backup copy it first."""
    folder = tmp_path_factory.mktemp("backups")
    url = database_url_for("bk_source")
    reset_database(url)
    app = make_app(url, BACKUP_DIR=str(folder))
    seed(app)
    result = app.test_cli_runner().invoke(args=["backup", "create"])
    assert result.exit_code == 0, result.output
    (backup,) = [p for p in folder.iterdir() if not p.name.endswith(".json")]
    yield url, app, backup
    dispose(app)
