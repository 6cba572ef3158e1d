"""SQLite backend (stdlib ``sqlite3``): ``sqlite:///abs.db``, ``sqlite:rel.db``, ``x.db``, ``sqlite::memory:``.

One file may hold several stores (``?table=``); the layout, and what is ours,
is in :mod:`~storagebackend.backends.sqlite_schema`, the checks before the
file is opened and how each flag connects in
:mod:`~storagebackend.backends.sqlite_files`. This module reads and commits.

A zero-byte file is an empty database: nothing is written to it until a sync
has something to store. Writers use WAL and ``synchronous=FULL`` (a sync that
returned survives a power cut). Flag ``"r"`` makes no file and needs no write
access. Changes wait in the write buffer of :class:`BufferedBackend`, so
SQLite's write lock is held only for the one short transaction of each sync.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Final
from urllib.parse import quote

from storagebackend.backends import sqlite_files as files
from storagebackend.backends.base import DocumentData
from storagebackend.backends.buffered import BufferedBackend, Pending
from storagebackend.backends.sqlite_schema import (
    APPLICATION_ID,
    DEFAULT_TABLE,
    EMPTY,
    FOREIGN,
    HEAD,
    SCHEMA_VERSION,
    V1,
    StoreSchema,
)
from storagebackend.defaults import LOCK_TIMEOUT
from storagebackend.errors import (
    CorruptStoreError,
    StorageClosedError,
    StorageError,
    StorageIOError,
    StorageLockedError,
    StoreNotFoundError,
)
from storagebackend.schema import State, check_state
from storagebackend.urls import parse_local, query_setting

__all__ = ["APPLICATION_ID", "DEFAULT_TABLE", "SCHEMA_VERSION", "SQLiteBackend", "SQLiteMemoryBackend"]

log = logging.getLogger(__name__)

_CORRUPT_CODES: Final = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
# The start of sqlite3's message for TEXT that is not UTF-8 (an OperationalError without an error code).
_UNDECODABLE: Final = "Could not decode to UTF-8"
# SQLite's messages for a statement of ours that the schema cannot answer: a file marked as ours, changed.
_SCHEMA_CHANGED: Final = ("no such table", "no such column")
# What the sqlite3 module raises: its own errors, and UnicodeDecodeError for a damaged schema or message.
_DRIVER_ERRORS: Final = (sqlite3.Error, UnicodeDecodeError)


@contextmanager
def _committed(conn: sqlite3.Connection) -> Iterator[None]:
    """End the transaction begun before: COMMIT if the block succeeds, else ROLLBACK, and the error goes on."""
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class SQLiteBackend(BufferedBackend):
    """Documents in a SQLite database file (one or several stores in it); several processes may share it.

    Raises ValueError for a bad table name, StoreNotFoundError, CorruptStoreError,
    ReadOnlyError (a writable open of a file this user may not write),
    StorageIOError (e.g. a folder or FIFO at the path) and StorageLockedError.
    """

    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    options: ClassVar[frozenset[str]] = frozenset({"table"})
    _in_memory: ClassVar[bool] = False

    def __init__(
        self,
        path: str | os.PathLike[str],
        flag: str = "c",
        lock_timeout: float = LOCK_TIMEOUT,
        table: str = DEFAULT_TABLE,
    ) -> None:
        super().__init__(flag)
        self.path = os.fspath(path)
        self._schema = StoreSchema(table, "sqlite::memory:" if self._in_memory else self.path)
        self.table = table
        self._current = self._schema.current
        self._sql = self._current
        # "absent": nothing of this store in the database yet (an empty database: reads look again each
        # time); "v1": a version-1 store, read as it is; "ready": a current store.
        self._state = "absent"
        self._wal = False  # this connection has put the database in WAL mode
        self._immutable = False  # flag "r" without write access: read as immutable until a writer comes
        # Readers in other threads share the connection, and a statement run during a commit would see
        # the transaction half done, or a closed connection: each read, each commit's changes and close()
        # hold this lock.
        self._busy = threading.Lock()
        self._lock_timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        if self._in_memory:
            if self.flag in ("w", "r"):
                raise StoreNotFoundError(f"{self.describe()}: an in-memory database never exists before its open")
            wal_header = False
        else:
            wal_header = files.check_file(self.path, self.flag)
        self._conn = self._connect(wal_header)
        try:
            self._prepare()
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            raise

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> SQLiteBackend:
        """Open ``sqlite:PATH``, ``sqlite:///ABS``, a bare ``x.db`` path or ``sqlite::memory:``.

        ``?table=NAME`` (or the ``table`` option) names the store in the file. Raises
        ValueError for another query parameter, and everything :class:`SQLiteBackend` raises.
        """
        local = parse_local(url)
        table = query_setting(repr(url), local.query, "table", options.get("table"), DEFAULT_TABLE)
        lock_timeout = options.get("lock_timeout", LOCK_TIMEOUT)
        if local.path == files.MEMORY:
            return SQLiteMemoryBackend(flag=flag, lock_timeout=lock_timeout, table=table)
        return cls(local.path, flag=flag, lock_timeout=lock_timeout, table=table)

    def describe(self) -> str:
        if self._in_memory:
            where = "sqlite::memory:"
        else:
            where = f"sqlite:{quote(self.path, safe='/', errors='surrogateescape')}"
        return where if self._schema.name == DEFAULT_TABLE else f"{where}?table={self.table}"

    # -- opening ---------------------------------------------------------------------

    def _connect(self, wal_header: bool) -> sqlite3.Connection:
        """Connect in autocommit mode; flag ``"r"`` without making any file (see ``sqlite_files``)."""
        if self._in_memory:
            target, query_only = files.MEMORY, False
        elif self.read_only:
            mode = files.reader_mode(self.path, wal_header)
            target, query_only, self._immutable = files.uri(self.path, mode), mode == "mode=rw", mode == "immutable=1"
        else:
            files.create_file(self.path)
            target, query_only = files.uri(self.path, "mode=rw"), False
        with self._mapped("cannot open"):
            conn = files.connect(target, self._lock_timeout)
        setting = "PRAGMA query_only = ON" if query_only else "PRAGMA synchronous = FULL"
        try:
            # Settings of this connection only: neither writes to the file.
            with self._mapped("cannot open"):
                conn.execute(setting)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self) -> None:
        """Check that the file is a storagebackend database holding this store; create or migrate it if needed."""
        conn = self._live()
        with self._mapped("cannot open"):
            found = self._schema.inspect(conn)  # before any write: a foreign file must stay untouched
        if found.layout == FOREIGN and self.flag == "n" and not self._in_memory:
            conn.close()
            files.remove_files(self.path)
            self._conn = self._connect(False)
            self._prepare()
            return
        self._schema.check(found, self.flag)
        if found.layout == EMPTY:
            return  # an empty database: every store in it is empty, and nothing is written before a sync
        if found.version is None:
            check_state(
                State.MISSING, where=self.describe(), kind="SQLite", detail=f"no table {self.table!r}", flag=self.flag
            )
        elif found.layout == 1 and self.read_only:
            self._sql, self._state = V1, "v1"
            return
        elif found.layout == SCHEMA_VERSION and not found.broken:
            self._state = "ready"
            return
        # A store to create, a version-1 database to migrate, or (flag n) broken tables to make anew.
        with self._mapped("cannot open"):
            self._start_writing(conn)
            conn.execute("BEGIN IMMEDIATE")
            with _committed(conn):
                self._schema.ensure(conn, self.flag)
        self._sql, self._state = self._current, "ready"

    def _start_writing(self, conn: sqlite3.Connection) -> None:
        """WAL mode before this connection's first write (never before: a zero-byte file stays zero bytes)."""
        if not self._wal and not self._in_memory:
            files.switch_to_wal(conn, self._busy, self._lock_timeout)
            self._wal = True

    # -- errors and the connection ---------------------------------------------------

    def _error(self, exc: sqlite3.Error | UnicodeDecodeError, action: str) -> StorageError:
        """Map a sqlite3 error to the StorageError a user should see."""
        where = self._schema.where
        if isinstance(exc, UnicodeDecodeError):  # sqlite3 decodes names and messages from a damaged file
            return CorruptStoreError(f"{where}: {action}: the database is corrupt (text that is not UTF-8)")
        code = getattr(exc, "sqlite_errorname", "")
        if code in _CORRUPT_CODES or _UNDECODABLE in str(exc) or str(exc).startswith(_SCHEMA_CHANGED):
            return CorruptStoreError(f"{where}: {action}: the database is corrupt ({exc})")
        if code in files.LOCKED_CODES or "locked" in str(exc):
            return StorageLockedError(f"{where}: {action}: the database stays locked by another connection ({exc})")
        return StorageIOError(f"{where}: {action}: {exc}")

    @contextmanager
    def _mapped(self, action: str) -> Iterator[None]:
        try:
            yield
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, action) from exc

    def _live(self) -> sqlite3.Connection:
        """The connection; StorageClosedError once ``close()`` has begun."""
        conn = self._conn
        if conn is None:
            raise StorageClosedError(f"{self.describe()} is closed")
        return conn

    def _reader(self) -> sqlite3.Connection | None:
        """The connection for a read (the caller holds ``_busy``), or None while the store is not in the database."""
        conn = self._conn
        if conn is None:
            raise StorageClosedError(f"{self.describe()} is closed")
        if self._immutable and os.path.exists(self.path + "-shm"):
            conn = self._share(conn)
        if self._state == "absent" and not self._refresh(conn):
            return None
        return conn

    def _share(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        """A writer has come to a file read as immutable: from now on read through its -shm file, with locks.

        If that cannot be opened, reading goes on as immutable (what was there at the open).
        """
        self._immutable = False
        try:
            shared = files.connect(files.uri(self.path, "mode=ro"), self._lock_timeout)
        except _DRIVER_ERRORS as exc:
            log.debug("%s: cannot read through the writer's -shm file: %s", self.path, exc)
            return conn
        try:
            shared.execute(HEAD).fetchone()
        except _DRIVER_ERRORS as exc:
            log.debug("%s: cannot read through the writer's -shm file: %s", self.path, exc)
            shared.close()
            return conn
        conn.close()
        self._conn = shared
        return shared

    def _refresh(self, conn: sqlite3.Connection) -> bool:
        """Look again for a store that was not in the database (another process may have made it since)."""
        found = self._schema.inspect(conn)
        self._schema.check(found, self.flag)
        if found.layout == EMPTY or found.version is None:
            return False
        self._sql, self._state = (V1, "v1") if found.layout == 1 else (self._current, "ready")
        return True

    # -- stored state --------------------------------------------------------------------

    def stored_value(self, uid: str, key: str) -> bytes | None:
        try:
            with self._busy:
                conn = self._reader()
                if conn is None:
                    return None
                row = conn.execute(self._sql["value"], (uid, key)).fetchone()
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, "cannot read") from exc
        if row is None:
            return None
        if type(row[0]) is not bytes:
            raise self._schema.foreign(f"a value of type {type(row[0]).__name__} in document {uid}")
        return row[0]

    def stored_document(self, uid: str) -> DocumentData | None:
        with self._mapped("cannot read"), self._busy:
            conn = self._reader()
            if conn is None:
                return None
            rows = conn.execute(self._sql["document"], (uid,)).fetchall()
        if not rows:
            return None
        return self._schema.checked(uid, dict(row for row in rows if row[0] is not None))

    def stored_items(self) -> list[tuple[str, DocumentData]]:
        """Every stored document in one query (one read transaction: a consistent snapshot), in order."""
        with self._mapped("cannot read"), self._busy:
            conn = self._reader()
            if conn is None:
                return []
            rows = conn.execute(self._sql["all"]).fetchall()
        return list(self._schema.documents_from(rows).items())

    def stored_has(self, uid: str) -> bool:
        try:
            with self._busy:
                conn = self._reader()
                if conn is None:
                    return False
                row = conn.execute(self._sql["has"], (uid,)).fetchone()
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, "cannot read") from exc
        return row is not None

    def stored_uids(self) -> list[str]:
        with self._mapped("cannot read"), self._busy:
            conn = self._reader()
            if conn is None:
                return []
            uids = [uid for (uid,) in conn.execute(self._sql["uids"])]
        self._schema.check_uids(uids)
        return uids

    def stored_count(self) -> int:
        with self._mapped("cannot read"), self._busy:
            conn = self._reader()
            if conn is None:
                return 0
            count: int = conn.execute(self._sql["count"]).fetchone()[0]
        return count

    # -- writing -----------------------------------------------------------------------------

    def commit(self, cleared: bool, pending: Mapping[str, Pending | None]) -> None:
        gone: list[tuple[str]] = []  # documents replaced or deleted: their stored pairs go first
        deleted: list[tuple[str]] = []  # documents deleted or recreated: their place goes too
        kept: list[tuple[str]] = []  # in the order of the buffer: new documents come last, in order
        renewed: list[tuple[str, str]] = []  # keys deleted and set again: they come last
        values: list[tuple[str, str, bytes]] = []
        removed_keys: list[tuple[str, str]] = []
        for uid, change in pending.items():  # one pass: a sync after a bulk load holds every document
            if change is None:
                gone.append((uid,))
                deleted.append((uid,))
                continue
            kept.append((uid,))
            if change.replace:
                gone.append((uid,))
                if change.recreated:
                    deleted.append((uid,))
            else:
                renewed.extend((uid, key) for key in change.renewed)
            for key, value in change.values.items():
                if value is not None:
                    values.append((uid, key, value))
                elif not change.replace:
                    removed_keys.append((uid, key))
        conn = self._live()
        with self._mapped("cannot sync"):
            if self._state == "absent" and not kept:
                # Nothing to store, and (unless another process made the store since) nothing stored to
                # change: an empty database stays as it is, zero bytes included.
                with self._busy:
                    if not self._refresh(conn):
                        return
            self._start_writing(conn)
            conn.execute("BEGIN IMMEDIATE")  # may wait for another process; reads here go on meanwhile
            with self._busy:  # readers in other threads wait: they must not see the transaction half done
                with _committed(conn):
                    if self._state != "ready":
                        self._schema.ensure(conn, self.flag)
                    sql = self._current
                    if cleared:
                        conn.execute(sql["clear_entries"])
                        conn.execute(sql["clear_documents"])
                    # Deletes before the inserts, but none in an empty store (the first load of one).
                    if (gone or deleted or renewed) and not cleared and conn.execute(sql["any"]).fetchone() is not None:
                        conn.executemany(sql["remove_pairs"], gone)
                        conn.executemany(sql["remove_document"], deleted)
                        conn.executemany(sql["remove_key"], renewed)
                    if kept:
                        conn.executemany(sql["add_document"], kept)
                    if values:
                        conn.executemany(sql["upsert"], values)
                    if removed_keys:
                        conn.executemany(sql["remove_key"], removed_keys)
                self._sql, self._state = self._current, "ready"

    def close(self) -> None:
        """Close the connection (reads in other threads then get StorageClosedError, never a dead connection)."""
        with self._busy:  # no read is running a statement on the connection now, and none will start
            conn, self._conn = self._conn, None
        if conn is not None:
            with self._mapped("cannot close"):
                conn.close()


class SQLiteMemoryBackend(SQLiteBackend):
    """``sqlite::memory:``: a private in-memory SQLite database; nothing persists, no file is made.

    Flags ``"w"`` and ``"r"`` raise StoreNotFoundError, as for ``memory://``.
    """

    persistent: ClassVar[bool] = False
    _in_memory: ClassVar[bool] = True

    def __init__(self, flag: str = "c", lock_timeout: float = LOCK_TIMEOUT, table: str = DEFAULT_TABLE) -> None:
        super().__init__(files.MEMORY, flag=flag, lock_timeout=lock_timeout, table=table)
