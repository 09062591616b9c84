"""The migrations are the schema: upgrade from empty, no drift from the models, downgrade to base."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.demo import seed_demo
from app.extensions import db
from tests.conftest import database_url_for, make_app, reset_database


def test_upgrade_from_empty_matches_the_models_and_downgrades_to_base():
    url = database_url_for("mig")
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            drift = compare_metadata(context, db.metadata)
        assert drift == [], f"models and migrations differ: {drift}"

        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"regions", "users", "role_grants", "organizations", "user_sessions", "audit_events"} <= tables

        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}

        upgrade()  # and back up again: downgrades leave nothing behind that blocks a re-run
        assert "role_grants" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()


@pytest.mark.parametrize("columns,values", [
    ("role", "'admin'"),                                  # an admin needs a region
    ("role, organization_id", "'member', 1"),            # a member has no scope
    ("role, region_code", "'organizer', '410104'"),      # an organizer's scope is an organization
])
def test_the_role_scope_rule_is_enforced_by_the_database(db, create_user, create_org, columns, values):
    user = create_user()
    create_org()
    statement = sa.text(f"INSERT INTO role_grants (user_id, {columns}, created_at) "
                        f"VALUES (:u, {values}, CURRENT_TIMESTAMP)")
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.execute(statement, {"u": user.id})


def test_a_role_is_held_once_per_scope(db, create_user):
    user = create_user(roles=[("admin", "410104")])
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.text("INSERT INTO role_grants (user_id, role, region_code, created_at) "
                                       "VALUES (:u, 'admin', '410104', CURRENT_TIMESTAMP)"), {"u": user.id})


def test_0010_deletes_anonymous_sessions_and_requires_a_user():
    url = database_url_for("mig_sessions")
    reset_database(url)
    app = make_app(url)
    insert = sa.text("INSERT INTO user_sessions (id, user_id, data, created_at, last_seen_at, expires_at) "
                     "VALUES (:id, :user, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    with app.app_context():
        upgrade(revision="0009_jobs")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (phone, name, active, elder_mode, created_at, updated_at) "
                                 "VALUES ('13900000001', '甲', true, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            user = conn.scalar(sa.text("SELECT id FROM users"))
            conn.execute(insert, {"id": "a" * 64, "user": None})
            conn.execute(insert, {"id": "b" * 64, "user": user})
        upgrade(revision="0010_sessions_signed_in_only")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id, user_id FROM user_sessions")).all() == [("b" * 64, user)]
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(insert, {"id": "c" * 64, "user": None})

        downgrade(revision="0009_jobs")
        with db.engine.begin() as conn:
            conn.execute(insert, {"id": "c" * 64, "user": None})
            assert conn.scalar(sa.text("SELECT count(*) FROM user_sessions")) == 2
        db.engine.dispose()


def test_0012_keeps_finished_imports_and_remembers_one_mapping_per_header_signature():
    url = database_url_for("mig12")
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade(revision="0010_sessions_signed_in_only")
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO import_jobs (created_at, filename, mode, status, total_rows, processed_rows, valid_rows,"
                " error_rows, blank_rows, imported_rows, report, message)"
                " VALUES (CURRENT_TIMESTAMP, '旧名册.xlsx', 'valid', 'done', 3, 3, 3, 0, 0, 3, '[]', '导入了 3 人。')"))
        upgrade(revision="0012_roster_import")
        with db.engine.begin() as conn:
            row = conn.execute(sa.text("SELECT kind, sheets, mapping, updated_rows, skipped_rows, unknown_skills"
                                       " FROM import_jobs")).one()
            assert tuple(row) == ("xlsx", "[]", "{}", 0, 0, "{}")
            insert = sa.text("INSERT INTO import_mappings (signature, headers, columns, skills, updated_at)"
                             " VALUES ('abc', '[]', '[]', '{}', CURRENT_TIMESTAMP)")
            conn.execute(insert)
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(insert)
        downgrade(revision="0010_sessions_signed_in_only")
        assert "import_mappings" not in sa.inspect(db.engine).get_table_names()
        assert "kind" not in {c["name"] for c in sa.inspect(db.engine).get_columns("import_jobs")}
        db.engine.dispose()


def test_0013_keeps_existing_users_notified_as_before():
    url = database_url_for("mig_recovery")
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade(revision="0010_sessions_signed_in_only")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (phone, name, active, elder_mode, created_at, updated_at) "
                                 "VALUES ('13900000001', '甲', true, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        upgrade(revision="0013_recovery")
        with db.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT notify_sms, notify_email, notify_app, failed_logins FROM users")).one()
        assert (row[0], bool(row[1]), bool(row[2]), row[3]) == (None, True, True, 0)
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO sms_outbox (phone, template, params, urgent, state, created_at, "
                                 "next_attempt_at, attempts) VALUES ('13900000001', 'notice', '{}', false, 'lost', "
                                 "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)"))
        downgrade(revision="0010_sessions_signed_in_only")
        assert "sms_outbox" not in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_0014_adds_the_dashboard_tables_and_takes_them_away_again():
    url = database_url_for("mig_figures")
    reset_database(url)
    app = make_app(url)
    row = sa.text("INSERT INTO region_figures (county_code, org_id, metric, key, value) "
                  "VALUES ('410104', -1, 'members', '', 3)")
    with app.app_context():
        upgrade(revision="0010_sessions_signed_in_only")
        upgrade(revision="0014_dashboard_figures")
        inspector = sa.inspect(db.engine)
        assert {"region_figures", "figure_refreshes"} <= set(inspector.get_table_names())
        assert {ix["name"] for ix in inspector.get_indexes("region_figures")} == {"ix_region_figures_org_id_county_code"}
        with db.engine.begin() as conn:
            conn.execute(row)
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(row)                      # one figure per county, organization, metric and key
        downgrade(revision="0010_sessions_signed_in_only")
        assert not {"region_figures", "figure_refreshes"} & set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()


def test_0016_adds_the_index_by_metric_and_takes_it_away_again():
    url = database_url_for("mig_figures_metric")
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade(revision="0015_attendance")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO region_figures (county_code, org_id, metric, key, value) "
                                 "VALUES ('410104', -1, 'venue_hours', '7:2026-12', 2)"))
        upgrade(revision="0016_figures_by_metric")
        names = {ix["name"] for ix in sa.inspect(db.engine).get_indexes("region_figures")}
        assert names == {"ix_region_figures_org_id_county_code", "ix_region_figures_org_id_metric_county_code_key"}
        downgrade(revision="0015_attendance")
        assert {ix["name"] for ix in sa.inspect(db.engine).get_indexes("region_figures")} == {
            "ix_region_figures_org_id_county_code"}
        with db.engine.connect() as conn:       # the figures stay
            assert conn.execute(sa.text("SELECT count(*) FROM region_figures")).scalar_one() == 1
        db.engine.dispose()


def test_a_round_trip_of_the_newer_migrations_keeps_every_row():
    """Down to 0010 and up again on a database in use: every table that 0010 already had keeps all
    its rows. On SQLite a migration that rebuilds a table (batch mode) drops the old one, and with
    foreign keys enforced that deletes, by ON DELETE CASCADE, every row referring to it (rebuilding
    users once emptied member_profiles and role_grants); migrations/env.py turns enforcement off
    around migrations and checks the keys afterwards."""
    url = database_url_for("mig_round_trip")
    reset_database(url)
    app = make_app(url)
    with app.app_context():
        upgrade()
        seed_demo()
        db.session.commit()
        db.session.remove()

        def counts() -> dict[str, int]:
            with db.engine.connect() as conn:
                return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}

        downgrade(revision="0010_sessions_signed_in_only")
        tables = [t for t in sa.inspect(db.engine).get_table_names() if t != "alembic_version"]
        before = counts()
        assert before["member_profiles"] > 0 and before["role_grants"] > 0 and before["member_skills"] > 0
        upgrade()
        downgrade(revision="0010_sessions_signed_in_only")
        upgrade()
        assert counts() == before
        db.engine.dispose()
