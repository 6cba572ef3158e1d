"""PostgreSQL backend (psycopg 3): ``postgresql://user:password@host:port/dbname?table=NAME`` (or ``postgres://``).

For a store named ``T`` (option or query ``table``, default ``storagebackend``)
three tables live in the connection's current schema: ``T(format, version)``
holds one row that marks the store and its schema version; ``T_documents(uid,
position)`` keeps documents even without keys; ``T_entries(uid, key, value
bytea, position)`` holds the pairs. Both ``position`` columns are identity
columns: a new document or key takes the next number, an existing one keeps
its own, so documents and keys iterate in the order they were first written,
like a dict's, whichever process wrote them. "Missing" means none of the three
exists. Changes wait in the write buffer of :class:`BufferedBackend`; ``sync``
applies them in one transaction, so several processes and hosts can share one
database and a reader never sees half a sync.

Schema version 1 had no ``T_documents.position``: a writable open migrates
such a store in one transaction (documents numbered in the order of their
first key), a read-only open reads it in that same order without changing it.

Every psycopg error is mapped in :meth:`PostgreSQLBackend._error`, cleaned of
the password (:mod:`storagebackend.redaction`); a lost connection is reopened
and the operation tried again as :mod:`storagebackend.retrying` says
(:meth:`PostgreSQLBackend._run`), until ``close``, after which every operation
raises StorageClosedError.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar, Final, TypeVar

import psycopg
from psycopg import sql

from storagebackend import server_errors
from storagebackend.backends.base import DocumentData
from storagebackend.backends.buffered import BufferedBackend, Pending
from storagebackend.backends.closing import CloseGate
from storagebackend.defaults import LOCK_TIMEOUT, SERVER_TIMEOUT
from storagebackend.errors import (
    CorruptStoreError,
    StorageError,
    StorageIOError,
    StorageLockedError,
)
from storagebackend.redaction import scrub_exception
from storagebackend.retrying import RETRY
from storagebackend.schema import State, check_state, version_state
from storagebackend.timeouts import driver_timeout
from storagebackend.uid import all_stored_uids
from storagebackend.urls import ServerURL, parse_server, query_setting

__all__ = ["DEFAULT_TABLE", "FORMAT", "SCHEMA_VERSION", "PostgreSQLBackend"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Connection = psycopg.Connection[Any]

DEFAULT_TABLE: Final = "storagebackend"
DEFAULT_PORT: Final = 5432
#: The marker row of the ``T`` table: ``(FORMAT, SCHEMA_VERSION)``.
FORMAT: Final = "storagebackend"
#: 2: documents keep their order (``T_documents.position``); 1 is read, and migrated by a writable open.
SCHEMA_VERSION: Final = 2
# Letters, digits, underscores: safe in any schema, and "_documents" still fits in 63 bytes.
_TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")
# The columns of each table, by schema version.
_COLUMNS: Final = {
    1: {"": ("format", "version"), "_documents": ("uid",), "_entries": ("uid", "key", "value", "position")},
    2: {"": ("format", "version"), "_documents": ("uid", "position"), "_entries": ("uid", "key", "value", "position")},
}
# SQLSTATEs: connection exceptions (08...), shutdown / starting up, too many connections.
_UNAVAILABLE_STATES: Final = ("08", "57P01", "57P02", "57P03", "53300")
_LOCKED_STATES: Final = frozenset({"55P03", "40P01", "40001", "57014"})
# Tried again in a new transaction (retrying.RETRY), as is a lost connection: deadlock, serialization failure.
_RETRY_STATES: Final = frozenset({"40P01", "40001"})
# The server refused the credentials: invalid password, invalid authorization specification.
_REFUSED_STATES: Final = frozenset({"28P01", "28000"})
# A refusal while connecting carries no SQLSTATE (libpq reports it as text): the server's and libpq's words.
_REFUSED_WORDS: Final = re.compile(
    r"authentication failed|no password supplied|password is required|pg_hba\.conf|role \"[^\"]*\" does not exist"
    r"|permission denied for database",
    re.IGNORECASE,
)
_INT_MAX: Final = 2**31 - 1  # the largest connect_timeout (s) and lock_timeout (ms) PostgreSQL takes

# The documents with their order, as a relation (uid, position). Version 2 stores it; for a
# version-1 store it is the position of each document's first key (documents without keys last),
# which is also the order that migrating to version 2 writes down.
_ORDERED: Final = {
    1: "(SELECT v.uid, f.first AS position FROM {documents} AS v "
    "LEFT JOIN (SELECT uid, min(position) AS first FROM {entries} GROUP BY uid) AS f ON f.uid = v.uid)",
    2: "{documents}",
}
# Every statement, with the store's tables as {meta}, {documents}, {entries} and {ordered}: quoted
# identifiers (psycopg.sql), and values only ever as bound parameters. New documents and keys are
# inserted in the order given (ORDER BY n), so their identity positions follow it.
_SQL: Final = {
    "create_meta": "CREATE TABLE {meta} (format text NOT NULL, version integer NOT NULL)",
    "mark": "INSERT INTO {meta} (format, version) VALUES (%s, %s)",
    "set_version": "UPDATE {meta} SET version = %s",
    "marker": "SELECT format, version FROM {meta}",
    "create_documents": "CREATE TABLE {documents} (uid text PRIMARY KEY, "
    "position bigint GENERATED BY DEFAULT AS IDENTITY)",
    "create_entries": "CREATE TABLE {entries} (uid text NOT NULL, key text NOT NULL, value bytea NOT NULL, "
    "position bigint GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (uid, key))",
    "drop_data": "DROP TABLE IF EXISTS {documents}, {entries}",
    # Version 1 -> 2: adding the identity column numbers the rows 1..n; the update puts them in order.
    "add_positions": "ALTER TABLE {documents} ADD COLUMN position bigint GENERATED BY DEFAULT AS IDENTITY",
    "order_positions": "UPDATE {documents} AS d SET position = r.n FROM (SELECT o.uid, "
    "row_number() OVER (ORDER BY o.position NULLS LAST, o.uid) AS n FROM {ordered} AS o) AS r WHERE d.uid = r.uid",
    "value": "SELECT value FROM {entries} WHERE uid = %s AND key = %s",
    "document": "SELECT e.key, e.value FROM {documents} d LEFT JOIN {entries} e ON e.uid = d.uid "
    "WHERE d.uid = %s ORDER BY e.position",
    "items": "SELECT o.uid, e.key, e.value FROM {ordered} AS o LEFT JOIN {entries} AS e ON e.uid = o.uid "
    "ORDER BY o.position NULLS LAST, o.uid, e.position",
    "has": "SELECT 1 FROM {documents} WHERE uid = %s",
    "uids": "SELECT o.uid FROM {ordered} AS o ORDER BY o.position NULLS LAST, o.uid",
    "count": "SELECT count(*) FROM {documents}",
    "clear_entries": "DELETE FROM {entries}",
    "clear_documents": "DELETE FROM {documents}",
    "drop_entries": "DELETE FROM {entries} WHERE uid = ANY(%s)",
    "drop_documents": "DELETE FROM {documents} WHERE uid = ANY(%s)",
    "add_documents": "INSERT INTO {documents} (uid) SELECT uid FROM unnest(%s::text[]) WITH ORDINALITY AS t(uid, n) "
    "ORDER BY n ON CONFLICT DO NOTHING",
    "set_values": "INSERT INTO {entries} (uid, key, value) SELECT uid, key, value "
    "FROM unnest(%s::text[], %s::text[], %s::bytea[]) WITH ORDINALITY AS t(uid, key, value, n) ORDER BY n "
    "ON CONFLICT (uid, key) DO UPDATE SET value = excluded.value",
    "drop_values": "DELETE FROM {entries} WHERE (uid, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
}


def _statements(table: str, version: int) -> dict[str, sql.Composed]:
    """Every statement of ``_SQL`` for store ``table`` of schema ``version``."""
    names = {"meta": table, "documents": table + "_documents", "entries": table + "_entries"}
    identifiers = {part: sql.Identifier(name) for part, name in names.items()}
    ordered = sql.SQL(_ORDERED[version]).format(**identifiers)
    return {name: sql.SQL(text).format(ordered=ordered, **identifiers) for name, text in _SQL.items()}


def _connect_timeout(seconds: float) -> int:
    """libpq's ``connect_timeout``: whole seconds, at least 2 (libpq's least, so 0 waits that long).

    Neither libpq's 0 nor psycopg's reading of it (130 s) is "forever": ``math.inf`` is the largest value, 68 years.
    """
    return int(driver_timeout(seconds, forever=_INT_MAX, longest=_INT_MAX, least=2, whole=True))


def _lock_timeout(seconds: float) -> int:
    """PostgreSQL's ``lock_timeout`` in milliseconds, where 0 means wait forever: ``0`` s is the least, 1 ms."""
    return int(driver_timeout(seconds, forever=0, longest=_INT_MAX, least=1, unit=1000, whole=True))


class PostgreSQLBackend(BufferedBackend):
    """Documents in three tables of a PostgreSQL database, shared by any number of processes.

    Opening connects and checks (or creates, or migrates) the tables: raises ValueError for a
    bad table name or timeout, StoreNotFoundError, CorruptStoreError, AuthenticationError,
    BackendUnavailableError, StorageLockedError or StorageIOError.
    """

    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    options: ClassVar[frozenset[str]] = frozenset({"table", "timeout"})
    remote: ClassVar[bool] = True

    def __init__(
        self,
        server: ServerURL,
        table: str = DEFAULT_TABLE,
        flag: str = "c",
        lock_timeout: float = LOCK_TIMEOUT,
        timeout: float = SERVER_TIMEOUT,
    ) -> None:
        super().__init__(flag)
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(
                f"invalid PostgreSQL table name {table!r}: 1 to 48 letters, digits and underscores, "
                "not starting with a digit"
            )
        self.server = server
        self._secrets = (server.password,)
        self.table = table
        self._lock_timeout = float(lock_timeout)
        self._sql = _statements(table, SCHEMA_VERSION)
        settings = f"-c lock_timeout={_lock_timeout(lock_timeout)}"
        if self.read_only:
            settings += " -c default_transaction_read_only=on"
        connect_args: dict[str, Any] = {
            "host": server.host,
            "port": server.port,
            "dbname": server.path or None,
            "user": server.user or None,
            "password": server.password,
            "connect_timeout": _connect_timeout(timeout),
            "application_name": "storagebackend",
            "options": settings,
        }
        self._connect_args = {name: value for name, value in connect_args.items() if value is not None}
        self._conn: Connection | None = None
        self._guard = threading.Lock()
        # Threads share the connection, and a read run during a commit's transaction would see it
        # half done: every read and every commit holds this lock for its statements.
        self._busy = threading.Lock()
        self._gate = CloseGate(self.describe())
        try:
            self._open()
        except BaseException:
            self._drop()
            raise

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> PostgreSQLBackend:
        """Open ``postgresql://[user[:password]@]host[:port]/dbname[?table=NAME]`` (``postgres://`` alike).

        Raises ValueError for a malformed URL, an unknown query parameter or a
        bad table name, and everything :class:`PostgreSQLBackend` raises.
        """
        server = parse_server(url, default_port=DEFAULT_PORT)
        return cls(
            server,
            table=query_setting(server, server.query, "table", options.get("table"), DEFAULT_TABLE),
            flag=flag,
            lock_timeout=options.get("lock_timeout", LOCK_TIMEOUT),
            timeout=options.get("timeout", SERVER_TIMEOUT),
        )

    def describe(self) -> str:
        return str(dataclasses.replace(self.server, query={"table": self.table}))

    # -- connection and errors: every psycopg call goes through _run ------------------------

    def _connection(self) -> Connection:
        """The open connection, or a new one after a loss (autocommit: each read stands alone).

        psycopg connections serialise their own use; the guard makes threads
        that read at once (Storage locks only writes) share one reconnect.
        """
        with self._guard:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                conn = self._conn = psycopg.connect(autocommit=True, **self._connect_args)
            return conn

    def _drop(self, conn: Connection | None = None) -> None:
        """Close and forget the connection (only if it is still ``conn``, when given)."""
        with self._guard:
            if self._conn is None or (conn is not None and self._conn is not conn):
                return
            conn, self._conn = self._conn, None
        try:
            conn.close()
        except psycopg.Error:
            log.debug("closing a broken PostgreSQL connection to %s failed", self.server.address, exc_info=True)

    def _run(self, action: str, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a live connection, tried again as :mod:`storagebackend.retrying` says.

        A lost connection (the server restarted) is reopened and ``work`` runs
        again: reads are idempotent, and so is a commit (it sets final states).
        A deadlock is retried in a new transaction. Refused credentials, anything
        else, or the last failure, is raised mapped by :meth:`_error`; after
        ``close`` (even one that comes while waiting), StorageClosedError.
        """
        lost: list[psycopg.Error] = []  # failures after which the server could not be reached

        def attempt() -> T:
            conn = None
            try:
                conn = self._connection()
                with self._busy:
                    return work(conn)
            except psycopg.Error as exc:
                if not _refused(exc) and _unavailable(exc, conn):
                    self._drop(conn)
                    lost.append(exc)
                raise

        def again(exc: Exception) -> bool:
            return any(exc is each for each in lost) or getattr(exc, "sqlstate", None) in _RETRY_STATES

        with self._gate.passage():
            try:
                return RETRY.call(attempt, again, f"{self.describe()}: {action}", self._secrets)
            except psycopg.Error as exc:
                failure = exc
            # Raised outside the except block: only the failure, cleaned, is linked to the error.
            error = self._error(failure, action, unavailable=any(failure is each for each in lost))
            raise error from scrub_exception(failure, self._secrets)

    def _error(self, exc: psycopg.Error, action: str, unavailable: bool) -> StorageError:
        """Map a psycopg error to the StorageError a user should see, without the password.

        A failed connection attempt keeps libpq's connection, with the password among its
        settings, in ``exc.pgconn``: it is dropped, as psycopg itself does when pickling.
        """
        refused = _refused(exc)  # before the connection goes: it tells whether a password was asked for
        exc._pgconn = None
        scrub_exception(exc, self._secrets)
        detail = " ".join(str(exc).split()) or type(exc).__name__
        where = f"{self.describe()}: {action}"
        if refused:
            return server_errors.refused("PostgreSQL", self.server, where, detail)
        if unavailable:
            return server_errors.unavailable("PostgreSQL", self.server, where, detail)
        if exc.sqlstate in _LOCKED_STATES:
            return StorageLockedError(
                f"{where}: table {self.table!r} stays locked by another connection "
                f"(lock_timeout={self._lock_timeout:g} s): {detail}"
            )
        return StorageIOError(f"{where}: {detail}")

    # -- opening ----------------------------------------------------------------------------

    def _open(self) -> None:
        """Check that the table is a storagebackend store; create or migrate it unless read-only."""
        state, version = self._run("cannot open", self._snapshot_state)
        if state is State.MISSING:
            self._check(state, version)  # flags w and r: no such store
        damaged_under_n = state is State.DAMAGED and self.flag == "n"
        if not self.read_only and (state in (State.MISSING, State.OLD) or damaged_under_n):
            state, version = self._run("cannot create or migrate the store", self._prepare)
        self._check(state, version)
        if version != SCHEMA_VERSION:  # an old store, read-only: read it as it is
            self._sql = _statements(self.table, version)

    def _check(self, state: State, version: int) -> None:
        """Raise the error for a store in ``state`` that this open cannot use (see ``schema.check_state``)."""
        details = {
            State.MISSING: f"no table {self.table!r}",
            State.FOREIGN: f"the PostgreSQL table {self.table!r} (or {self.table}_documents, {self.table}_entries) "
            "holds something else; choose another table name",
            State.DAMAGED: f"the tables {self.table}_documents / {self.table}_entries are missing or changed",
        }
        check_state(
            state,
            where=self.describe(),
            kind="PostgreSQL",
            newest=SCHEMA_VERSION,
            version=version,
            detail=details.get(state, ""),
            flag=self.flag,
        )

    def _snapshot_state(self, conn: Connection) -> tuple[State, int]:
        """:meth:`_schema_state` in one snapshot: a migration committed between its two reads is seen whole or not."""
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return self._schema_state(conn)

    def _schema_state(self, conn: Connection) -> tuple[State, int]:
        """What the tables hold, and their schema version (0 for a FOREIGN store)."""
        rows = conn.execute(
            "SELECT c.relname, c.relkind, array_agg(a.attname::text ORDER BY a.attnum) "
            "FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE c.relname = ANY(%s) AND c.relnamespace = "
            "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema()) "
            "GROUP BY c.relname, c.relkind",
            ([self.table + suffix for suffix in _COLUMNS[SCHEMA_VERSION]],),
        ).fetchall()
        found = {name: (kind, tuple(columns)) for name, kind, columns in rows}
        if not found:
            return State.MISSING, SCHEMA_VERSION
        if found.get(self.table) != ("r", _COLUMNS[SCHEMA_VERSION][""]):
            return State.FOREIGN, 0
        marker = conn.execute(self._sql["marker"]).fetchall()
        state = version_state(marker[0][1], SCHEMA_VERSION) if len(marker) == 1 else State.FOREIGN
        if state in (State.FOREIGN, State.DAMAGED) or marker[0][0] != FORMAT:  # no marker, or no version: not ours
            return State.FOREIGN, 0
        version: int = marker[0][1]
        if state is State.NEWER:
            return state, version
        if any(found.get(self.table + suffix) != ("r", columns) for suffix, columns in _COLUMNS[version].items()):
            return State.DAMAGED, version
        return state, version

    def _prepare(self, conn: Connection) -> tuple[State, int]:
        """Create the missing store, recreate the damaged tables (flag n) or migrate an old store: one transaction."""
        with conn.transaction():
            # Two processes opening the same new or old store at once: the second waits, then finds it done.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(f"storagebackend:{self.table}".encode()),))
            state, version = self._schema_state(conn)
            if state is State.OLD:
                log.info("migrating %s from schema version %d to %d", self.describe(), version, SCHEMA_VERSION)
                migration = _statements(self.table, version)
                conn.execute(migration["add_positions"])
                conn.execute(migration["order_positions"])
                conn.execute(self._sql["set_version"], (SCHEMA_VERSION,))
                return self._schema_state(conn)
            if state is State.MISSING:
                conn.execute(self._sql["create_meta"])
                conn.execute(self._sql["mark"], (FORMAT, SCHEMA_VERSION))
            elif state is State.DAMAGED and self.flag == "n":
                log.info("recreating the damaged tables of %s (flag 'n')", self.describe())
                conn.execute(self._sql["drop_data"])
                conn.execute(self._sql["set_version"], (SCHEMA_VERSION,))
            else:
                return state, version
            conn.execute(self._sql["create_documents"])
            conn.execute(self._sql["create_entries"])
            return self._schema_state(conn)

    # -- stored state -------------------------------------------------------------------------

    def _query(self, action: str, name: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run the read statement ``name`` of ``_SQL``; return its rows."""
        statement = self._sql[name]
        return self._run(action, lambda conn: conn.execute(statement, params).fetchall())

    def stored_value(self, uid: str, key: str) -> bytes | None:
        rows = self._query("cannot read", "value", (uid, key))
        return bytes(rows[0][0]) if rows else None

    def stored_document(self, uid: str) -> DocumentData | None:
        rows = self._query("cannot read", "document", (uid,))
        if not rows:
            return None
        return {key: bytes(value) for key, value in rows if key is not None}

    def stored_has(self, uid: str) -> bool:
        return bool(self._query("cannot read", "has", (uid,)))

    def stored_uids(self) -> list[str]:
        uids = [uid for (uid,) in self._query("cannot list documents", "uids")]
        self._check_uids(uids)
        return uids

    def _check_uids(self, uids: list[str]) -> None:
        """CorruptStoreError if a uid read back is not one (a row written by something else)."""
        if not all_stored_uids(uids):
            raise CorruptStoreError(
                f"{self.describe()}: table {self.table}_documents holds a uid that is not 32 lower-case hex digits"
            )

    def stored_count(self) -> int:
        count: int = self._query("cannot count documents", "count")[0][0]
        return count

    def stored_items(self) -> Iterator[tuple[str, DocumentData]]:
        """Every document in order, read in one statement (one consistent snapshot)."""
        rows = self._query("cannot read", "items")
        self._check_uids(list(map(itemgetter(0), rows)))
        for uid, pairs in groupby(rows, key=itemgetter(0)):
            yield uid, {key: bytes(value) for _, key, value in pairs if key is not None}

    # -- writing ----------------------------------------------------------------------------

    def commit(self, cleared: bool, pending: Mapping[str, Pending | None]) -> None:
        # Sorted by uid, so two processes lock rows in the same order (fewer deadlocks); new
        # documents are added in the buffer's order, which numbers them in the order they were made.
        changes = sorted(pending.items())
        gone = [uid for uid, change in changes if change is None or change.replace]
        # A document deleted and made again since the last sync loses its place: it comes last, as in a dict.
        deleted = [uid for uid, change in changes if change is None or change.recreated]
        kept = [uid for uid, change in pending.items() if change is not None]
        values = [
            (uid, key, value)
            for uid, change in changes
            if change is not None
            for key, value in change.values.items()
            if value is not None
        ]
        removed = [
            (uid, key)
            for uid, change in changes
            if change is not None and not change.replace
            for key, value in change.values.items()
            if value is None
        ]
        # Keys deleted and set again since the last sync: their stored pair goes first, so they come last.
        renewed = [(uid, key) for uid, change in changes if change is not None for key in sorted(change.renewed)]
        steps: list[tuple[str, tuple[Any, ...]]] = []
        if cleared:
            steps += [("clear_entries", ()), ("clear_documents", ())]
        if gone:
            steps.append(("drop_entries", (gone,)))
        if deleted:
            steps.append(("drop_documents", (deleted,)))
        if kept:
            steps.append(("add_documents", (kept,)))
        if renewed:
            steps.append(("drop_values", tuple(list(column) for column in zip(*renewed, strict=True))))
        if values:
            steps.append(("set_values", tuple(list(column) for column in zip(*values, strict=True))))
        if removed:
            steps.append(("drop_values", tuple(list(column) for column in zip(*removed, strict=True))))

        def apply(conn: Connection) -> None:
            with conn.transaction():
                for name, params in steps:
                    conn.execute(self._sql[name], params)

        self._run("cannot sync", apply)

    def close(self) -> None:
        """Wait for the reads in progress, then close the connection; later reads raise StorageClosedError."""
        if self._gate.close():
            self._drop()


def _unavailable(exc: psycopg.Error, conn: Connection | None) -> bool:
    """True when the server cannot be reached (``conn`` is None) or dropped the connection."""
    state = exc.sqlstate or ""
    if state.startswith(_UNAVAILABLE_STATES):
        return True
    return isinstance(exc, psycopg.OperationalError) and (not state or conn is None or conn.broken)


def _refused(exc: psycopg.Error) -> bool:
    """True when the server refused the credentials (a wrong or missing password, an unknown user)."""
    if exc.sqlstate in _REFUSED_STATES:
        return True
    if exc.sqlstate or not isinstance(exc, psycopg.OperationalError):
        return False
    pgconn = exc.pgconn  # a failed connection attempt: libpq knows whether the server asked for a password
    return bool(pgconn is not None and pgconn.needs_password) or _REFUSED_WORDS.search(str(exc)) is not None
