"""Engine and session set-up, and schema upgrades through Alembic."""

from __future__ import annotations

import multiprocessing
import os
import select
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Executable, Row, create_engine, event, make_url
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from storage.errors import BackupRefused, DatabaseUnavailable
from storage.known_states import KnownStates

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Accept Heroku's ``postgres://`` and plain ``postgresql://``; use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _unavailable(context: ExceptionContext) -> DatabaseUnavailable | None:
    """Every engine's ``handle_error`` hook: an OperationalError (no connection, a dropped
    one, a locked SQLite file) leaves storage as :class:`DatabaseUnavailable`, whichever
    statement, session or Alembic migration met it."""
    if not isinstance(context.sqlalchemy_exception, OperationalError):
        return None
    return DatabaseUnavailable(context.original_exception)


# Connections a process keeps: one for each thread that may use one at once (the web
# process's ten request threads and Bolt's five listener threads). Fewer made the pool open
# and close a connection on many answers, each a new PostgreSQL backend.
POOL_SIZE = 15


def make_engine(url: str, pool_size: int = POOL_SIZE, connect_args: dict | None = None) -> Engine:
    engine = _make_engine(normalise_url(url), pool_size, connect_args or {})
    event.listen(engine, "handle_error", _unavailable)
    return engine


def _make_engine(url: str, pool_size: int, connect_args: dict) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, **connect_args})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL lets readers work while one writer commits; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # SQLAlchemy, not the driver, starts transactions (see below).
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # Take the write lock up front: two deferred transactions that both read then
            # write would deadlock, and SQLite then fails one at once instead of waiting.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        # Every transaction write-locks the file, so this process's threads take turns at
        # the pool instead: a thread waiting in SQLite's busy handler sleeps in growing
        # steps (1, 2, 5, 10 ms…) and wakes late, which stretched the latency tail; one
        # waiting on a lock wakes when it is released. Other processes still meet the
        # busy handler. Re-entrant, so a thread that opens a second transaction meets
        # SQLite's busy error as before rather than waiting on itself forever.
        turns = threading.RLock()
        event.listen(engine, "checkout", lambda *_: turns.acquire())
        event.listen(engine, "checkin", lambda *_: turns.release())
        return engine
    # Last in, first out: under light load the few connections it needs stay the ones in
    # use, warm (psycopg prepares a statement on its fifth run on a connection, and
    # PostgreSQL plans a prepared one afresh five times more); first in, first out spread
    # every answer over all fifteen, each planning the same statements for itself. In one
    # interleaved run (5 rounds of 300 answers) it cut PostgreSQL's CPU an answer by a
    # tenth and raised the rate 0.65 → 0.72 of the lean app's at 8 clients, 0.78 → 0.88 at 32.
    engine = create_engine(url, pool_size=pool_size, max_overflow=5, pool_use_lifo=True, connect_args=connect_args)
    event.listen(engine, "checkout", _replace_if_closed_by_server)
    return engine


def _replace_if_closed_by_server(dbapi_connection, _record, _proxy) -> None:
    """A restarted database must not leave broken pooled connections. Instead of the pool's
    pre-ping (a query, that is a round trip, on every checkout: one in ten of an answer's),
    look at the idle connection's socket: it has something to read only when the server
    sent its termination notice or closed it (a restart, a crash, an idle timeout).
    Raising DisconnectionError makes the pool open a fresh connection instead. A connection
    lost silently (a network cut) fails its first statement, which invalidates the pool."""
    if dbapi_connection.closed:
        raise DisconnectionError("the connection is closed")
    idle_socket = select.poll()
    idle_socket.register(dbapi_connection.fileno(), select.POLLIN)
    if idle_socket.poll(0):
        raise DisconnectionError("the server closed the connection")


# Alembic is imported inside these functions: with Mako, which it loads, it would cost a
# long-running server some 35 MB for a check made once at start (see ensure_schema).


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    _upgrade(database.engine, revision)


def current_revision(database: Database) -> str | None:
    return _current_revision(database.engine)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def _current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class SchemaUpgradeFailed(RuntimeError):
    pass


def _ensure_schema_here(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    if _current_revision(engine) != head_revision():
        _upgrade(engine)
    engine.dispose()


def ensure_schema(database: Database) -> None:
    """Bring an empty or older database up to date; cheap when it already is.

    The check runs in a short-lived child process, so that Alembic never loads into this
    one. The connection is tried here first, so an unreachable database fails here, with
    :class:`DatabaseUnavailable`.
    """
    database.ping()
    child = multiprocessing.get_context("fork").Process(
        target=_ensure_schema_here, args=(database.engine.url.render_as_string(hide_password=False),),
        name="schema-upgrade"
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SchemaUpgradeFailed(f"the schema check exited with status {child.exitcode}")


@cache
def insert_unless_present(dialect: str, model: type, returning: str | None = None):
    """``INSERT … ON CONFLICT (primary key) DO NOTHING`` into ``model``'s table in
    ``dialect``, executed with the rows as parameters. With ``returning``, a row comes
    back only when one was inserted (rowcount is unreliable after ON CONFLICT).

    Built once per process: building and cache-keying a statement on every call cost
    more than sending it, on paths taken by every answer and every reminder."""
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(model).on_conflict_do_nothing()
    return statement.returning(getattr(model, returning)) if returning else statement


class StatementCounter:
    """How many SQL statements this process has sent: for /metrics and the benchmarks.

    Counted by the driver's own cursors (:meth:`connect_args`), not by an SQLAlchemy
    ``before_cursor_execute`` listener: any such listener sends every statement of the
    engine through SQLAlchemy's event path, which cost some 0.1 ms of CPU a statement on
    the three statements of every answer."""

    def __init__(self):
        self.total = 0
        self._lock = threading.Lock()

    def count(self, statement: object) -> None:
        if isinstance(statement, str) and statement.startswith("BEGIN"):
            return  # transaction control (SQLite's BEGIN IMMEDIATE), not a query
        with self._lock:
            self.total += 1

    def connect_args(self, url: str) -> dict:
        """The driver's connect arguments that make its cursors count here."""
        return ({"factory": _sqlite_counting_connection(self)} if url.startswith("sqlite")
                else {"cursor_factory": _psycopg_counting_cursor(self)})


def _psycopg_counting_cursor(counter: StatementCounter) -> type:
    import psycopg

    class CountingCursor(psycopg.Cursor):
        def execute(self, query, *args, **kwargs):
            counter.count(query)
            return super().execute(query, *args, **kwargs)

        def executemany(self, query, *args, **kwargs):
            counter.count(query)
            return super().executemany(query, *args, **kwargs)

    return CountingCursor


def _sqlite_counting_connection(counter: StatementCounter) -> type:
    import sqlite3

    class CountingCursor(sqlite3.Cursor):
        def execute(self, sql, *args):
            counter.count(sql)
            return super().execute(sql, *args)

        def executemany(self, sql, *args):
            counter.count(sql)
            return super().executemany(sql, *args)

    class CountingConnection(sqlite3.Connection):
        def cursor(self, factory=CountingCursor):
            return super().cursor(factory)

    return CountingConnection


def rows_ahead(connection: Connection, statements: Sequence[Executable]) -> Iterator[Sequence[Row]]:
    """Every row of each of ``statements``, statement by statement, in order, on the caller's
    connection (its transaction). On PostgreSQL the statements run one after the other on a
    thread of their own while the caller works through the rows of the earlier ones: the
    server's time for each overlaps Python's for the rows before it (psycopg lets go of the
    GIL while it waits for the server). SQLite does its work inside this process, and a
    thread of its own would take the GIL back for every row it steps through, so there each
    statement runs when its rows are asked for. Left early, the statements not yet started
    are not run, and the thread is done when this ends."""
    if connection.dialect.name == "sqlite":
        for statement in statements:
            yield connection.execute(statement).all()
        return
    # One thread: the connection runs one statement at a time, and every one of them is
    # sent as soon as the one before it is done.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rows-ahead") as fetcher:
        fetched = [fetcher.submit(lambda statement: connection.execute(statement).all(), statement)
                   for statement in statements]
        try:
            for rows in fetched:
                yield rows.result()
        finally:
            # Left early (an error, or the caller stopped): the statements not started are
            # dropped, and leaving the block waits for the one running.
            for rows in fetched:
                rows.cancel()


class DriverStatement:
    """A SELECT (data-modifying CTEs allowed) compiled once by SQLAlchemy for PostgreSQL and
    run by psycopg itself (:meth:`Database.first_row`).

    Around each execution SQLAlchemy makes a ``Connection`` of the pooled connection,
    switches it to autocommit and back, and converts every parameter and result value
    through its execution context: on the statements every answer sends, that cost more
    CPU than the statement itself (the item message's statement: 0.29 ms through
    SQLAlchemy, 0.13 on the pooled driver connection, measured sequentially). The SQL and
    each parameter's conversion (its type's bind processor) are still SQLAlchemy's;
    statements that need more of its execution (Python-side defaults, expanding
    parameters, result values to convert) are refused here rather than run wrongly."""

    def __init__(self, statement: Select, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        if (compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params
                or compiled.literal_execute_params):
            raise ValueError("the statement needs SQLAlchemy's execution: run it through a Connection")
        if any(column.type.dialect_impl(dialect).result_processor(dialect, None) is not None
               for column in statement.selected_columns):
            raise ValueError("the statement's results need SQLAlchemy's conversion: run it through a Connection")
        self.sql = compiled.string
        self._compiled = compiled
        conversions = ((name, bind.type.dialect_impl(dialect).bind_processor(dialect))
                       for bind, name in compiled.bind_names.items())
        self._conversions = {name: convert for name, convert in conversions if convert is not None}

    def parameters(self, values: dict[str, Any]) -> dict[str, Any]:
        """The driver's parameters for ``values``: the statement's own (a LIMIT's, say) added,
        each converted as SQLAlchemy would."""
        parameters = self._compiled.construct_params(values)
        for name, convert in self._conversions.items():
            parameters[name] = convert(parameters[name])
        return parameters


class Database:
    """One engine and its session factory; sessions are scoped to one unit of work.
    ``url`` comes from the caller (the bot reads ``DATABASE_URL`` in :mod:`bot.config`)."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE):
        self.url = normalise_url(url)
        self.statements = StatementCounter()
        self.engine = make_engine(self.url, pool_size, self.statements.connect_args(self.url))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.known_states = KnownStates()
        self._driver_statements: dict[Select, DriverStatement] = {}

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def single_statement(self) -> Iterator[Connection]:
        """A connection for one statement that is atomic by itself. On PostgreSQL it runs
        in autocommit mode, saving a transaction's BEGIN and COMMIT round trips on a path
        every answer takes; SQLite has no round trips to save, and its driver's
        autocommit switch would outlive the connection, so there it is a transaction."""
        if self.is_sqlite:
            with self.engine.begin() as connection:
                yield connection
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

    def first_row(self, statement: Select, values: dict[str, Any]) -> tuple | None:
        """The first row of ``statement`` (a named tuple), run on PostgreSQL as one statement
        in autocommit mode by the pooled connection's driver (:class:`DriverStatement`,
        compiled once per statement); an OperationalError leaves it as
        :class:`DatabaseUnavailable`, and the connection is not pooled again."""
        from psycopg import OperationalError as DriverOperationalError
        from psycopg.rows import namedtuple_row

        driver_statement = self._driver_statements.get(statement)
        if driver_statement is None:
            driver_statement = self._driver_statements[statement] = DriverStatement(statement, self.engine.dialect)
        try:
            pooled = self.engine.raw_connection()
        except (DriverOperationalError, OperationalError) as error:  # no connection to be had
            raise DatabaseUnavailable(error) from error
        try:
            connection = pooled.driver_connection
            connection.autocommit = True
            try:
                cursor = connection.cursor(row_factory=namedtuple_row)
                return cursor.execute(driver_statement.sql, driver_statement.parameters(values)).fetchone()
            finally:
                if not connection.broken:
                    connection.autocommit = False
        except DriverOperationalError as error:
            pooled.invalidate(error)
            raise DatabaseUnavailable(error) from error
        finally:
            pooled.close()

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def shown(self) -> str:
        """Which database this is, for people: an SQLite file's path, else the URL without
        its password."""
        url = make_url(self.url)
        return url.database if self.is_sqlite else url.render_as_string(hide_password=True)

    def ping(self) -> None:
        """Run ``SELECT 1``; raises :class:`DatabaseUnavailable` on any failure (health checks)."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except DatabaseUnavailable:
            raise
        except Exception as error:  # any failure means unavailable
            raise DatabaseUnavailable(error) from error


@cache
def default_database(url: str) -> Database:
    """The process's database at ``url``, its schema brought up to date (once per process)."""
    database = Database(url)
    ensure_schema(database)
    return database


def backup_sqlite(database: Database, path: str) -> None:
    """A consistent copy of a live SQLite database (SQLite's online backup API): safe
    while the bot is running, unlike copying the file.

    Written to a temporary file beside ``path`` and renamed into place once complete, so a
    missing folder or a full disk leaves no file behind — above all no empty one, which
    SQLite would open as a valid, empty database. Raises :class:`BackupRefused`."""
    import sqlite3

    target_path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target_path.name}.", suffix=".partial",
                                             dir=target_path.parent)
    except OSError as error:
        raise BackupRefused(f"cannot write {path}: {error.strerror}") from None
    os.close(handle)
    try:
        target = sqlite3.connect(temporary)
        try:
            with database.engine.connect() as connection:
                connection.connection.driver_connection.backup(target)
        finally:
            target.close()
        os.replace(temporary, target_path)
    except (sqlite3.Error, OSError) as error:
        Path(temporary).unlink(missing_ok=True)
        raise BackupRefused(f"cannot write {path}: {getattr(error, 'strerror', None) or error}") from None


def restore_sqlite(database: Database, path: str) -> None:
    """Replace the SQLite ``database``'s content with the backup at ``path`` (the online
    backup API again, so the target is never half-written). Refuses, with
    :class:`BackupRefused`, a file that is not an SQLite database, one without the bot's
    schema at a revision this version knows (a foreign or empty database: SQLite opens an
    empty file as one), and one that holds no application."""
    import sqlite3

    from alembic.script import ScriptDirectory

    if not Path(path).is_file():
        raise BackupRefused(f"no file {path}")
    source = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        try:
            tables = {name for (name,) in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = (source.execute("SELECT version_num FROM alembic_version").fetchone()
                        if "alembic_version" in tables else None)
            known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
            if revision is None or revision[0] not in known or "applications" not in tables:
                raise BackupRefused(f"{path} is not a backup of competency-bot (an empty or foreign database)")
            if not source.execute("SELECT EXISTS (SELECT 1 FROM applications)").fetchone()[0]:
                raise BackupRefused(f"{path} holds no application: restoring it would empty the bot")
        except sqlite3.DatabaseError as error:
            raise BackupRefused(f"{path} is not an SQLite database ({error})") from None
        with database.engine.connect() as connection:
            source.backup(connection.connection.driver_connection)
    finally:
        source.close()
