"""Declarative base with a constraint naming convention, shared column types, and SQLite and PostgreSQL set-up."""

from __future__ import annotations

import contextlib
import contextvars
import enum
import functools
import math
import threading
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast, overload

import psycopg
import sqlalchemy as sa
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.numeric import Int4, Int4BinaryDumper, Int4Dumper, IntBinaryDumper, IntDumper
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, registry
from sqlalchemy.types import TypeDecorator

from app.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """An instant, stored in UTC and always returned timezone-aware.

    PostgreSQL keeps it as timestamptz; SQLite as naive UTC text.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class LocalDateTime(TypeDecorator):
    """A wall-clock time in the service's own time zone (Asia/Shanghai, UTC+8, no DST), stored
    naive: PostgreSQL `timestamp without time zone`, SQLite ISO text. For times that belong to a
    place's calendar (a booking from 9:00 to 11:00 at a venue), not for instants. Naive values
    compare correctly in both databases, so ranges over them (PostgreSQL's tsrange, SQLite's
    string comparison) agree. Aware values are refused: they are a bug at the caller.
    """

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            raise ValueError("LocalDateTime needs a naive local datetime")
        return value


def enum_type(enum_class: type[enum.Enum], name: str | None = None) -> sa.Enum:
    """Enums stored as their values in a VARCHAR with a CHECK constraint (no native types). A
    second column of the same enum in one table needs a `name` of its own (its CHECK's name)."""
    return sa.Enum(
        enum_class,
        name=name or enum_class.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_class),
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                        type_annotation_map={datetime: UTCDateTime()})


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- Uncommitted work --------------------------------------------------------------------------
#
# A view commits or rolls back its use case. Work that is still uncommitted when the response is
# finished is a bug; it must be discarded, never committed by a later transaction such as saving
# the server-side session. Sessions remember whether they hold such work.

UNCOMMITTED = "uncommitted_writes"


def rowcount(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (its result is a CursorResult)."""
    return cast(sa.CursorResult[Any], result).rowcount


def _mark(session, *_args) -> None:
    session.info[UNCOMMITTED] = True


def _clear(session, *_args) -> None:
    session.info.pop(UNCOMMITTED, None)


def _mark_dml(orm_execute_state) -> None:
    if orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete:
        _mark(orm_execute_state.session)


def has_uncommitted_writes(session) -> bool:
    return bool(session.new or session.dirty or session.deleted or session.info.get(UNCOMMITTED))


event.listen(Session, "after_flush", _mark)
event.listen(Session, "do_orm_execute", _mark_dml)
event.listen(Session, "after_commit", _clear)
event.listen(Session, "after_rollback", _clear)


# --- SQLite: foreign keys, WAL, busy timeout, and transactions we control -------------------
#
# pysqlite's own transaction handling defers BEGIN and cannot nest SAVEPOINTs properly, so we
# switch it off and emit BEGIN ourselves (the recipe in SQLAlchemy's SQLite dialect docs). A
# request that will write begins with BEGIN IMMEDIATE, taking the write lock up front: two
# writers then queue on the busy timeout instead of failing with "database is locked" when
# a read-then-write transaction tries to upgrade its lock.

write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


def _ensure_math_functions(dbapi_connection, cursor) -> None:
    """Distance filters use sin/cos/asin/sqrt/radians in SQL; SQLite has them only when compiled
    with SQLITE_ENABLE_MATH_FUNCTIONS, so provide them otherwise."""
    try:
        cursor.execute("SELECT sin(0), cos(0), asin(0), sqrt(1), radians(0)")
    except Exception:
        for name in ("sin", "cos", "asin", "sqrt", "radians"):
            dbapi_connection.create_function(name, 1, getattr(math, name), deterministic=True)


SQLITE_MMAP_BYTES = 1 << 30       # address space only: the OS pages in what is read
SQLITE_CACHE_KIB = 64 * 1024
STREAMING_CACHE_KIB = 8 * 1024


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        _ensure_math_functions(dbapi_connection, cursor)
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            # Pages read through memory mapping and a 64 MiB page cache per connection (the
            # default is 2 MiB): matching's index reads stay in memory instead of a read() each.
            cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        cursor.close()

    # SQLite's busy handler polls with growing sleeps (up to 100 ms), and writers that started
    # together poll together: a burst of writers then waits most of its time on sleeps while the
    # lock is free. Writers of this process therefore queue on a lock of our own first, handed on
    # at once; SQLite's own lock (BEGIN IMMEDIATE, busy_timeout) still serialises other processes,
    # and a writer that cannot get our lock within the busy timeout goes on to SQLite's.
    write_lock = threading.Lock()
    timeout = busy_timeout_ms / 1000

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if not write_intent.get():
            conn.exec_driver_sql("BEGIN")
            return
        conn.info["write_lock"] = write_lock.acquire(timeout=timeout)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn.info)
            raise

    def _release(info) -> None:
        if info.pop("write_lock", False):
            write_lock.release()

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(conn):
        _release(conn.info)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):  # a transaction that ended without either
        _release(record.info)


@contextlib.contextmanager
def streaming_read(session: Session):
    """Around a read that streams a whole large table once (an export of every member): on
    SQLite, without memory mapping, since every page read through the map stays resident and is
    counted in the process's memory (a million members' pages would be), and through a small
    page cache (a page is read once: a large cache only holds memory). A no-op on PostgreSQL."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    session.execute(sa.text("PRAGMA mmap_size = 0"))
    session.execute(sa.text(f"PRAGMA cache_size = -{STREAMING_CACHE_KIB}"))
    try:
        yield
    finally:
        session.execute(sa.text(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}"))
        session.execute(sa.text(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))


# --- PostgreSQL: prepared statements that outlive read-only requests -------------------------
#
# psycopg prepares a statement on the server once it has run it five times on a connection, so
# that PostgreSQL no longer parses it (and, once a generic plan is as good, no longer plans it):
# about half of what a small query costs. But psycopg forgets every prepared statement when a
# transaction is rolled back (a rolled-back DROP or ALTER could leave them wrong), and a request
# that only read ends with a rollback: no statement would ever stay prepared. A transaction that
# wrote nothing (PostgreSQL gave it no transaction id) is therefore ended with COMMIT instead,
# which for such a transaction does exactly what ROLLBACK does; the ROLLBACK that follows then
# finds nothing to end. A transaction that wrote, or failed, is rolled back as before.

PREPARED_MAX = 500
READ_ONLY_CHECK = "SELECT pg_current_xact_id_if_assigned() IS NULL"
MAY_HAVE_WRITTEN = "yinhui.may_have_written"     # Connection.info: a statement other than SELECT was sent

# psycopg sends a Python int as the smallest type that holds it (smallint up to 32767, then
# integer, bigint), and a prepared statement is psycopg's for one text *and* one list of parameter
# types: the same statement with a member id of 3,000 and one of 40,000, or a weekly mask with
# and without an evening bit, was prepared, parsed and planned once for each combination. On the
# benchmark's province 106 of the 147 statements matching ran came with several lists of types (up
# to 13), and 11 of 200 tasks met a new list in their run (16 ms median, the others 5 ms: planning
# a widened search's nine ranges takes 4-9 ms). Integers go as integer (bigint or numeric when larger);
# PostgreSQL casts integer up where bigint or a float is wanted, SQLAlchemy writes a cast beside
# integer, string and array parameters, and no column is a smallint, so nothing needed one.
# (psycopg_binary's own dumper classes cannot be subclassed; these are Python, ~0.2 µs an int.)


@functools.cache
def _integer_dumpers() -> tuple[type, type]:
    """psycopg's text and binary dumpers for int, with integer as the smallest type."""
    def at_least_integer(base: type[IntDumper] | type[IntBinaryDumper], int4: Int4Dumper) -> type:
        def upgrade(self: Any, obj: int, format_: Any) -> Any:
            return int4 if -(2**31) <= obj < 2**31 else base.upgrade(self, obj, format_)
        return type(f"AtLeastInteger{base.__name__}", (base,), {"upgrade": upgrade})

    return at_least_integer(IntDumper, Int4Dumper(Int4)), at_least_integer(IntBinaryDumper, Int4BinaryDumper(Int4))


# --- PostgreSQL: a result's columns described when asked --------------------------------------
#
# SQLAlchemy asks every cursor for its description, and psycopg builds one Column object per column
# of the result at each ask (the name decoded, the type looked up): for the member home page, 116
# objects in two statements. Yet SQLAlchemy reads the description only the first time a statement
# runs; after that the statement's compiled form keeps what it learnt, and the description is only
# tested for None. The connection's cursors describe their results on first use instead: 0.1 to
# 0.5 ms of CPU less a page at a million members (the driver's share of member home's CPU fell from
# 15 % to 7 %).


class _Described:
    """What psycopg's Column reads of a cursor, kept for the result it described."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, cursor: psycopg.Cursor[Any]):
        self.pgresult, self._encoding, self.adapters = cursor.pgresult, cursor._encoding, cursor.adapters


class Description(Sequence[psycopg.Column]):
    """A result's columns (psycopg's Cursor.description), each built when first read."""

    __slots__ = ("_columns", "_count", "_of")

    def __init__(self, cursor: psycopg.Cursor[Any], count: int):
        self._of, self._count = _Described(cursor), count
        self._columns: list[psycopg.Column] | None = None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> psycopg.Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[psycopg.Column]: ...

    def __getitem__(self, index: int | slice) -> psycopg.Column | list[psycopg.Column]:
        if self._columns is None:
            of: Any = self._of
            self._columns = [psycopg.Column(of, i) for i in range(self._count)]
        return self._columns[index]


class DescribingCursor(psycopg.Cursor):
    """The connection's cursor: its description built when read (see Description)."""

    @property
    def description(self) -> Any:
        result = self.pgresult
        if result is not None and result.nfields:
            return Description(self, result.nfields)
        return super().description      # None, or no columns for a result of none ("SELECT ;")


# The pool's ping before each use of a pooled connection (pool_pre_ping: a connection the server
# dropped, after a restart say, is replaced instead of failing the request) begins the transaction
# the request would otherwise begin in a round trip of its own: psycopg sends BEGIN before the
# first statement only when no transaction is open. A request thus waits once less. A connection
# set apart (autocommit, or its own isolation level, read-only or deferrable, whose BEGIN psycopg
# spells itself) and any failure get the dialect's own ping, which judges the connection.
BEGIN = b"BEGIN"


def _plain(dbapi_connection: psycopg.Connection) -> bool:
    """Whether the connection's transactions begin with a plain BEGIN."""
    return (not dbapi_connection.autocommit and dbapi_connection.isolation_level is None
            and dbapi_connection.read_only is None and dbapi_connection.deferrable is None)


def _ping_beginning(dialect: Any) -> Any:
    ping = dialect.do_ping

    def do_ping(dbapi_connection: psycopg.Connection) -> bool:
        pgconn = dbapi_connection.pgconn
        if (_plain(dbapi_connection) and pgconn.transaction_status == TransactionStatus.IDLE
                and pgconn.exec_(BEGIN).status == ExecStatus.COMMAND_OK):
            return True
        return ping(dbapi_connection)
    return do_ping


def _settable(dialect: Any) -> Any:
    """The dialect's set_isolation_level, first ending the transaction the ping began: a
    connection's isolation level (or autocommit) is set only before SQLAlchemy begins anything on
    it, and psycopg refuses to change either inside a transaction."""
    set_level = dialect.set_isolation_level

    def set_isolation_level(dbapi_connection: psycopg.Connection, level: Any) -> None:
        if dbapi_connection.pgconn.transaction_status == TransactionStatus.INTRANS:
            dbapi_connection.rollback()
        set_level(dbapi_connection, level)
    return set_isolation_level


def configure_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    # Instance attributes: this engine's dialect only.
    engine.dialect.do_ping = _ping_beginning(engine.dialect)    # type: ignore[method-assign]
    engine.dialect.set_isolation_level = _settable(engine.dialect)   # type: ignore[method-assign]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.cursor_factory = DescribingCursor
        # psycopg keeps 100 by default, least recently used out first; the ORM's IN lists of
        # every length and matching's query shapes need more, or statements churn.
        dbapi_connection.prepared_max = PREPARED_MAX
        for dumper in _integer_dumpers():
            dbapi_connection.adapters.register_dumper(int, dumper)

    # A transaction that sent nothing but SELECTs through SQLAlchemy (every page that only reads)
    # has written nothing it could undo: it is committed without asking the server first, which
    # saves every such request a round trip. Any other statement (an INSERT, a SAVEPOINT, a CTE)
    # marks the transaction, and its end asks as before.
    @event.listens_for(engine, "before_cursor_execute")
    def _note_statement(conn, _cursor, statement, _parameters, _context, _executemany):
        if not conn.info.get(MAY_HAVE_WRITTEN) and statement.lstrip()[:6].upper() != "SELECT":
            conn.info[MAY_HAVE_WRITTEN] = True

    @event.listens_for(engine, "commit")
    def _end(conn):
        conn.info.pop(MAY_HAVE_WRITTEN, None)
        forget_plan_settings(conn.connection.dbapi_connection)

    @event.listens_for(engine, "rollback")
    def _end_read_only(conn):
        may_have_written = conn.info.pop(MAY_HAVE_WRITTEN, False)
        dbapi_connection = conn.connection.dbapi_connection
        forget_plan_settings(dbapi_connection)
        if dbapi_connection.info.transaction_status != TransactionStatus.INTRANS:
            return      # nothing begun, or failed: only ROLLBACK will do
        if may_have_written:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(READ_ONLY_CHECK)
                if not cursor.fetchone()[0]:
                    return
        dbapi_connection.commit()


# --- PostgreSQL: plans made once for matching's reads ------------------------------------------
#
# PostgreSQL plans a prepared statement for its parameter values (a custom plan) for as long as
# a generic plan looks dearer; for matching's index and completion reads it always does, and
# planning a UNION of several index ranges takes longer than running it (1.3 ms against 0.4 ms
# for three ranges). Their best plan does not depend on the values: an index range keyed by
# skill, level and band. Within generic_plans() each statement's generic plan, made once per
# connection, is reused; and statements are prepared at their first run, not their fifth: a
# widened search's shapes are rare, and were planned afresh at each of their first five runs
# (8 ms for nine ranges). Parallel workers are switched off there too: the generic plan's row
# estimates are pessimistic enough to ask for workers, which take longer to start (2-10 ms)
# than these reads take.

PLAN_SETTINGS = ("SELECT current_setting('plan_cache_mode'), current_setting('max_parallel_workers_per_gather'), "
                 "set_config('plan_cache_mode', %s, true), set_config('max_parallel_workers_per_gather', %s, true)")
GENERIC_PLANS = ("force_generic_plan", "0")

# The settings cost no round trip of their own. They go to the server with the block's first
# statement, in one pipeline (psycopg's pipeline mode: one wait for both answers); and they are put
# back only when the transaction runs another statement after the block, just before it: a
# transaction that ends after the block (a request that only showed the list) loses them with
# its end, which is what putting them back would have done. A search thus waits for its reads
# alone (on a loaded machine each wait costs milliseconds: the process gives up its core).


class _Plans:
    """generic_plans() on one driver connection: the settings in force before the block (once the
    block has set its own) and what the block changed on the driver."""

    def __init__(self, raw: psycopg.Connection):
        self.raw, self.inside = raw, True
        self.previous: tuple[str, str] | None = None
        self.factory, self.threshold = raw.cursor_factory, raw.prepare_threshold
        self.server_factory = raw.server_cursor_factory

    def before(self) -> None:
        """Before a statement on the connection: set the settings with the block's first one (by
        the caller, in a pipeline), or put them back before the first one after the block."""
        raw = self.raw
        if self.previous is not None and raw.info.transaction_status == TransactionStatus.IDLE:
            self.previous = None        # the transaction that held them has ended, and they with it
        if not self.inside:
            self.forget()
            if self.previous is not None:
                psycopg.Cursor(raw).execute(PLAN_SETTINGS, self.previous)

    def forget(self) -> None:
        """The connection's cursors as before the block, and nothing left to put back."""
        self.raw.cursor_factory, self.raw.server_cursor_factory = self.factory, self.server_factory
        _PLANS.pop(self.raw, None)


_PLANS: weakref.WeakKeyDictionary[psycopg.Connection, _Plans] = weakref.WeakKeyDictionary()


class _PlanSettingsStatements:
    """A cursor of a connection within (or just after) generic_plans(): see _Plans.before()."""

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        raw: Any = self.connection       # type: ignore[attr-defined]
        plans = _PLANS.get(raw)
        if plans is not None:
            plans.before()
        if plans is None or not plans.inside or plans.previous is not None:
            return super().execute(query, params, **options)       # type: ignore[misc]
        with raw.pipeline():
            settings = psycopg.Cursor(raw).execute(PLAN_SETTINGS, GENERIC_PLANS)
            super().execute(query, params, **options)               # type: ignore[misc]
        before = settings.fetchone()
        assert before is not None
        plans.previous = before[:2]
        return self


class PlanSettingsCursor(_PlanSettingsStatements, DescribingCursor):
    pass


class PlanSettingsRawCursor(_PlanSettingsStatements, psycopg.RawCursor):
    pass


class PlanSettingsServerCursor(psycopg.ServerCursor):
    """A named (server-side) cursor of a connection within or just after generic_plans(): the
    settings are set, or put back, before its statement in a round trip of their own (psycopg runs
    no server-side cursor in a pipeline). Matching uses none; a request's later streaming read may."""

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        raw: Any = self.connection
        plans = _PLANS.get(raw)
        if plans is not None:
            plans.before()
            if plans.inside and plans.previous is None:
                before = psycopg.Cursor(raw).execute(PLAN_SETTINGS, GENERIC_PLANS).fetchone()
                assert before is not None
                plans.previous = before[:2]
        return super().execute(query, params, **options)


def raw_cursor(raw: psycopg.Connection) -> psycopg.RawCursor:
    """A cursor taking PostgreSQL's own $1, $2 … placeholders on the driver's connection `raw`
    (within generic_plans(), one that sets the block's settings)."""
    return PlanSettingsRawCursor(raw) if raw in _PLANS else psycopg.RawCursor(raw)


def forget_plan_settings(raw: Any) -> None:
    """The transaction on the driver's connection `raw` ends: settings still to be put back end
    with it."""
    plans = _PLANS.get(raw)
    if plans is not None and not plans.inside:
        plans.forget()


@contextlib.contextmanager
def generic_plans(connection):
    """Within the block, `connection` (a SQLAlchemy Connection) prepares each statement at once
    and reuses its generic plan, with no parallel workers; a no-op outside PostgreSQL. The
    server settings are the transaction's own: set with the block's first statement, and put back
    before the transaction's next statement after the block (or ended with the transaction);
    the driver's prepare threshold is put back when the block ends, always."""
    if connection.dialect.name != "postgresql":
        yield
        return
    raw = connection.connection.dbapi_connection
    plans = _PLANS.get(raw)
    if plans is not None:       # a block just before this one, its settings not yet put back
        plans.inside = True
    else:
        plans = _PLANS[raw] = _Plans(raw)
        raw.cursor_factory, raw.server_cursor_factory = PlanSettingsCursor, PlanSettingsServerCursor
    raw.prepare_threshold = 0
    try:
        yield
    finally:
        raw.prepare_threshold, plans.inside = plans.threshold, False
        if plans.previous is None:
            plans.forget()      # no statement ran: nothing was set
