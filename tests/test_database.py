"""How requests end their transactions: on PostgreSQL a read-only one keeps the connection's
prepared statements, and anything that wrote is still rolled back; generic_plans(); and results
described when asked (app/db.py)."""

import os
import uuid

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import ProgrammingError

from app.db import GENERIC_PLANS, PREPARED_MAX, DescribingCursor, generic_plans
from app.extensions import db
from app.members.models import SkillCategory

pytestmark = pytest.mark.skipif("postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
                                reason="prepared statements and transaction ids are PostgreSQL's")


def _prepared(statement_start: str) -> list[str]:
    return [s for s in db.session.scalars(text("SELECT statement FROM pg_prepared_statements"))
            if s.startswith(statement_start)]


def _request(run):
    """One request's database work: a fresh session, ended as Flask-SQLAlchemy ends it."""
    try:
        return run()
    finally:
        db.session.remove()


def _backend_pid() -> int:
    return db.session.scalar(text("SELECT pg_backend_pid()"))


def test_a_read_only_request_leaves_its_statements_prepared(extra_app):
    with extra_app().app_context():
        pid = _request(_backend_pid)
        for _ in range(8):      # psycopg prepares a statement on its fifth run
            assert _request(lambda: db.session.execute(text("SELECT name FROM regions WHERE code = :code"),
                                                       {"code": "410104"}).scalar()) == "管城回族区"
        assert _backend_pid() == pid      # the same pooled connection throughout
        assert _prepared("SELECT name FROM regions WHERE code = $1")
        assert db.session.connection().connection.dbapi_connection.prepared_max == PREPARED_MAX


def test_integers_of_any_size_share_one_prepared_statement(extra_app):
    """psycopg would send 7 as smallint and 70,000 as integer, preparing the statement once for
    each; integers go as integer (bigint only when larger), so one statement serves both."""
    statement = "SELECT count(*) FROM regions WHERE length(code) > :short OR length(code) > :long"
    with extra_app().app_context():
        assert _request(lambda: db.session.scalar(text("SELECT pg_typeof(:n)::text"), {"n": 7})) == "integer"
        assert _request(lambda: db.session.scalar(text("SELECT pg_typeof(:n)::text"), {"n": 2**40})) == "bigint"
        for short, long in [(7, 70_000), (70_000, 7), (8, 9), (2**20, 2**30)] * 2:
            _request(lambda short=short, long=long: db.session.execute(text(statement), {"short": short, "long": long}))
        prepared = db.session.execute(text("SELECT parameter_types::text FROM pg_prepared_statements "
                                           "WHERE statement LIKE 'SELECT count(*) FROM regions WHERE length(code)%'")).all()
        assert [row[0] for row in prepared] == ["{integer,integer}"]


def test_a_request_that_wrote_without_committing_is_rolled_back(extra_app):
    names = [f"回滚{uuid.uuid4().hex[:8]}", f"回滚{uuid.uuid4().hex[:8]}"]
    with extra_app().app_context():
        try:
            def write_orm():
                db.session.add(SkillCategory(name=names[0], sort_order=99))
                db.session.flush()

            def write_core():
                db.session.execute(insert(SkillCategory).values(name=names[1], sort_order=99))

            _request(write_orm)
            _request(write_core)
            assert _request(lambda: db.session.scalar(
                select(func.count()).select_from(SkillCategory).where(SkillCategory.name.in_(names)))) == 0
        finally:
            db.session.execute(SkillCategory.__table__.delete().where(SkillCategory.name.in_(names)))
            db.session.commit()


def test_a_failed_request_is_rolled_back_and_the_connection_works_on(extra_app):
    with extra_app().app_context():
        def fail():
            with pytest.raises(ProgrammingError):
                db.session.execute(text("SELECT * FROM no_such_table"))
        _request(fail)
        assert _request(lambda: db.session.scalar(text("SELECT 1"))) == 1


def test_row_locks_of_a_request_end_with_it(extra_app):
    """SELECT … FOR UPDATE gives the transaction an id: the request's end releases the lock."""
    first, second = extra_app(), extra_app()
    with first.app_context():
        _request(lambda: db.session.execute(text("SELECT code FROM regions WHERE code = '410104' FOR UPDATE")))
    with second.app_context():
        db.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert _request(lambda: db.session.scalar(text(
            "SELECT code FROM regions WHERE code = '410104' FOR UPDATE NOWAIT"))) == "410104"



def _begun_before_any_statement() -> bool:
    """Whether the request's connection is in a transaction as soon as the pool hands it over."""
    return _driver().pgconn.transaction_status == TransactionStatus.INTRANS


def test_the_pools_ping_begins_the_requests_transaction(extra_app):
    """A pooled connection's ping (pool_pre_ping) is a BEGIN: psycopg then sends none of its own
    before the first statement, and the request waits once less."""
    with extra_app().app_context():
        pid = _request(_backend_pid)
        assert _request(_begun_before_any_statement)
        assert _request(lambda: (_backend_pid(), db.session.scalar(text("SELECT now() = transaction_timestamp()"))))\
            == (pid, True)
        assert _request(_backend_pid) == pid     # the same connection, its transactions ended each time


def test_a_connection_the_server_dropped_is_replaced_before_the_request_uses_it(extra_app):
    """After a database restart (here: the server ends the pooled connection's backend) the ping
    fails, and the request gets a new connection instead of an error."""
    app = extra_app()
    with app.app_context():
        pid = _request(_backend_pid)
    with extra_app().app_context():
        assert _request(lambda: db.session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}))
    with app.app_context():
        assert _request(lambda: db.session.scalar(text("SELECT count(*) FROM regions WHERE code = '410104'"))) == 1
        assert _request(_backend_pid) != pid


def test_a_connection_of_its_own_isolation_level_begins_as_psycopg_begins_it(extra_app):
    """A plain BEGIN would lose an engine's isolation level (a backup's REPEATABLE READ): such a
    connection is pinged as the dialect pings it, and psycopg begins its transactions."""
    with extra_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "isolation_level": "REPEATABLE READ"}
                   ).app_context():
        for _ in range(3):      # the first request on a new connection, then on the pooled one
            assert _request(lambda: db.session.scalar(text("SHOW transaction_isolation"))) == "repeatable read"


def test_a_pooled_connection_can_still_be_switched_to_autocommit(extra_app):
    """SQLAlchemy sets a connection's isolation level (or autocommit) before it begins anything;
    the transaction the ping began is ended first, as psycopg refuses the switch inside one."""
    with extra_app().app_context():
        for _ in range(3):
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                assert connection.scalar(text("SELECT 1")) == 1
                driver = connection.connection.dbapi_connection
                assert driver.autocommit and driver.pgconn.transaction_status == TransactionStatus.IDLE
        # Back in the pool, it is put back out of autocommit (with the default isolation level set
        # by name, so psycopg begins its transactions from now on).
        assert _request(lambda: (db.session.scalar(text("SELECT now() = transaction_timestamp()")),
                                 _driver().autocommit, _driver().pgconn.transaction_status)) \
            == (True, False, TransactionStatus.INTRANS)


def _plan_settings() -> tuple[str, str]:
    return tuple(db.session.execute(text(
        "SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather')")).one())


def test_generic_plans_hold_within_the_block_and_are_put_back_after_it(extra_app):
    with extra_app().app_context():
        def run():
            before, driver = _plan_settings(), db.session.connection().connection.dbapi_connection
            threshold = driver.prepare_threshold      # psycopg's: prepared at the fifth run
            with generic_plans(db.session.connection()):
                assert _plan_settings() == GENERIC_PLANS and driver.prepare_threshold == 0
            assert _plan_settings() == before != GENERIC_PLANS
            assert driver.prepare_threshold == threshold != 0
            return before
        before = _request(run)
        assert _request(_plan_settings) == before


def test_generic_plans_end_with_the_transaction_when_the_block_fails(extra_app):
    with extra_app().app_context():
        before = _request(_plan_settings)

        def fail():
            driver = db.session.connection().connection.dbapi_connection
            threshold = driver.prepare_threshold
            with pytest.raises(ProgrammingError), generic_plans(db.session.connection()):
                db.session.execute(text("SELECT * FROM no_such_table"))
            assert driver.prepare_threshold == threshold != 0
        _request(fail)
        assert _request(_plan_settings) == before


def test_generic_plans_go_with_the_first_statement_and_are_put_back_before_the_next_one_after(extra_app):
    """The settings ride with the block's first statement (a pipeline) and are put back just before
    the transaction's next statement after the block: whatever the transaction had before, a
    transaction-local value included, is what that statement sees."""
    with extra_app().app_context():
        def run():
            db.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            before = _plan_settings()
            connection = db.session.connection()
            with generic_plans(connection):
                assert _plan_settings() == GENERIC_PLANS
                assert db.session.scalar(text("SELECT count(*) FROM regions WHERE code = :c"), {"c": "410104"}) == 1
            with generic_plans(connection):    # a second block in the same transaction
                assert _plan_settings() == GENERIC_PLANS
            assert _plan_settings() == before == ("force_custom_plan", "2")
            assert _plan_settings() == before      # put back once, then left alone
        _request(run)


def test_generic_plans_end_with_the_transaction_when_nothing_follows_the_block(extra_app):
    with extra_app().app_context():
        before = _request(_plan_settings)

        def only_the_block():
            with generic_plans(db.session.connection()):
                assert _plan_settings() == GENERIC_PLANS
        _request(only_the_block)
        assert _request(_plan_settings) == before

        def commit_after_the_block():
            with generic_plans(db.session.connection()):
                _plan_settings()
            db.session.commit()
            assert _plan_settings() == before       # a new transaction: nothing of the block's
        _request(commit_after_the_block)


def test_a_block_without_statements_sets_nothing(extra_app):
    with extra_app().app_context():
        def run():
            before, driver = _plan_settings(), db.session.connection().connection.dbapi_connection
            factory = driver.cursor_factory
            with generic_plans(db.session.connection()):
                pass
            assert driver.cursor_factory is factory
            assert _plan_settings() == before
        _request(run)


def test_a_streaming_read_after_the_block_sees_the_settings_put_back(extra_app):
    """A server-side cursor (a streaming read) cannot ride in a pipeline: within the block it gets
    the settings in a round trip of its own, after it the settings are put back before it."""
    def streamed() -> tuple[str, str]:
        return tuple(db.session.execute(text(
            "SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather')"),
            execution_options={"stream_results": True}).one())

    with extra_app().app_context():
        def run():
            before, driver = _plan_settings(), db.session.connection().connection.dbapi_connection
            factories = driver.cursor_factory, driver.server_cursor_factory
            with generic_plans(db.session.connection()):
                assert streamed() == GENERIC_PLANS
            assert streamed() == before != GENERIC_PLANS
            assert (driver.cursor_factory, driver.server_cursor_factory) == factories
            with generic_plans(db.session.connection()):
                assert _plan_settings() == GENERIC_PLANS
            assert streamed() == before
        _request(run)


def _driver() -> psycopg.Connection:
    return db.session.connection().connection.dbapi_connection


def test_a_description_names_the_columns_of_its_own_result_as_psycopg_does(extra_app):
    with extra_app().app_context():
        driver = _driver()
        assert driver.cursor_factory is DescribingCursor
        lazy, eager = driver.cursor(), psycopg.Cursor(driver)
        for cursor in (lazy, eager):
            cursor.execute("SELECT code, name, lat FROM regions WHERE code = %s", ["410104"])
        described, expected = lazy.description, eager.description
        assert len(described) == 3
        assert [(c.name, c.type_code) for c in described] == [(c.name, c.type_code) for c in expected]
        assert [c.name for c in described[1:]] == ["name", "lat"] and described[-1].name == "lat"
        assert [tuple(c)[:2] for c in described] == [tuple(c)[:2] for c in expected]   # DB-API's 7 items
        lazy.execute("SELECT 1 AS other")
        assert [c.name for c in described] == ["code", "name", "lat"]    # still its own result's
        assert [c.name for c in lazy.description] == ["other"]
        lazy.execute("SET LOCAL statement_timeout = 0")
        assert lazy.description is None


def test_sqlalchemy_builds_a_statements_columns_only_the_first_time_it_runs(extra_app, monkeypatch):
    built = []

    class Counted(psycopg.Column):
        def __init__(self, *args):
            built.append(1)
            super().__init__(*args)

    monkeypatch.setattr(psycopg, "Column", Counted)
    statement = select(SkillCategory.id, SkillCategory.name).where(SkillCategory.id > 0).order_by(SkillCategory.id)
    with extra_app().app_context():
        first = _request(lambda: db.session.execute(statement).all())
        assert built and first
        built.clear()
        again = _request(lambda: db.session.execute(statement).mappings().all())
        assert built == [] and [tuple(row.values()) for row in again] == [tuple(row) for row in first]
        assert _request(lambda: list(db.session.execute(text("SELECT 2 AS two, 'x' AS ex")).mappings())) == \
            [{"two": 2, "ex": "x"}]      # a textual statement reads the names it was given
