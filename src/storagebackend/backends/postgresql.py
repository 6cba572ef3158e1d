"""PostgreSQL backend (psycopg 3): ``postgresql://user:password@host:port/dbname?table=NAME`` (or ``postgres://``).

A store is three tables (:mod:`~storagebackend.backends.postgresql_schema`
says which, and makes, checks and migrates them); documents and keys iterate
in the order they were first written, like a dict's, whichever process wrote
them. Changes wait in the write buffer of :class:`BufferedBackend`; ``sync``
applies them in one transaction, so several processes and hosts can share one
database and a reader never sees half a sync.

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
from collections.abc import Callable, Iterator, Mapping
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar, Final, TypeVar

import psycopg

from storagebackend import server_errors
from storagebackend.backends.base import DocumentData
from storagebackend.backends.buffered import BufferedBackend, Pending
from storagebackend.backends.closing import CloseGate
from storagebackend.backends.postgresql_schema import (
    DEFAULT_TABLE,
    FORMAT,
    SCHEMA_VERSION,
    StoreTables,
    statements,
)
from storagebackend.defaults import LOCK_TIMEOUT, SERVER_TIMEOUT
from storagebackend.errors import (
    CorruptStoreError,
    StorageError,
    StorageIOError,
    StorageLockedError,
)
from storagebackend.redaction import scrub_exception
from storagebackend.retrying import RETRY
from storagebackend.schema import State
from storagebackend.timeouts import driver_timeout
from storagebackend.uid import all_stored_uids
from storagebackend.urls import ServerURL, parse_server, query_setting

__all__ = ["DEFAULT_TABLE", "FORMAT", "SCHEMA_VERSION", "PostgreSQLBackend"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Connection = psycopg.Connection[Any]

DEFAULT_PORT: Final = 5432
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
    bad table name, StoreNotFoundError, CorruptStoreError, AuthenticationError,
    BackendUnavailableError, StorageLockedError or StorageIOError. The timeouts come
    checked (``options.py``, at open): seconds >= 0, ``math.inf`` for no limit.
    """

    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    options: ClassVar[frozenset[str]] = frozenset({"table", "timeout"})

    def __init__(
        self,
        server: ServerURL,
        table: str = DEFAULT_TABLE,
        flag: str = "c",
        lock_timeout: float = LOCK_TIMEOUT,
        timeout: float = SERVER_TIMEOUT,
    ) -> None:
        super().__init__(flag)
        self.server = server
        self._secrets = (server.password,)
        self.table = table
        self._tables = StoreTables(table, self.describe())
        self._lock_timeout = float(lock_timeout)
        self._sql = self._tables.current
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
        """Check that the tables are a storagebackend store; create or migrate it unless read-only."""
        tables = self._tables
        state, version = self._run("cannot open", tables.snapshot_state)
        if state is State.MISSING:
            tables.check(state, version, self.flag)  # flags w and r: no such store
        damaged_under_n = state is State.DAMAGED and self.flag == "n"
        if not self.read_only and (state in (State.MISSING, State.OLD) or damaged_under_n):
            state, version = self._run(
                "cannot create or migrate the store", lambda conn: tables.prepare(conn, self.flag)
            )
        tables.check(state, version, self.flag)
        if version != SCHEMA_VERSION:  # an old store, read-only: read it as it is
            self._sql = statements(self.table, version)

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
