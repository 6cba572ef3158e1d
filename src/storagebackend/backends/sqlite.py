"""SQLite backend (stdlib ``sqlite3``): ``sqlite:///abs.db``, ``sqlite:rel.db``, ``x.db``, ``sqlite::memory:``.

Layout (version 2): ``PRAGMA application_id`` marks the file as ours and
``PRAGMA user_version`` is the layout version. The ``stores`` table lists the
stores the file holds, each with its schema version. Store ``T`` (``?table=T``)
keeps its documents in ``T_documents(position, uid)`` and its pairs in
``T_entries(position, uid, key, value)``; the default store uses ``documents``
and ``entries``. ``position`` (the rowid) keeps the order in which documents
were created and keys first set. Version 1 (one store, no ``stores`` table,
documents without a position) is read as it is and migrated by a writable open.

A zero-byte file is an empty database: nothing is written to it until a sync
has something to store. Writers use WAL and ``synchronous=FULL`` (a sync that
returned survives a power cut). Flag ``"r"`` makes no file and needs no write
access (see :meth:`SQLiteBackend._reader_mode`). Changes wait in the write
buffer of :class:`BufferedBackend`, so SQLite's write lock is held only for the
one short transaction of each sync.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar, Final, NamedTuple
from urllib.parse import quote

from storagebackend.backends.base import DocumentData
from storagebackend.backends.buffered import BufferedBackend, Pending
from storagebackend.errors import (
    CorruptStoreError,
    StorageClosedError,
    StorageError,
    StorageIOError,
    StorageLockedError,
    StoreNotFoundError,
)
from storagebackend.transports.local import check_folder, store_file_exists
from storagebackend.urls import parse_local, query_setting

__all__ = ["APPLICATION_ID", "DEFAULT_TABLE", "SCHEMA_VERSION", "SQLiteBackend", "SQLiteMemoryBackend"]

log = logging.getLogger(__name__)

#: Written to ``PRAGMA application_id``: "sbk1" in ASCII, marks a storagebackend database.
APPLICATION_ID: Final = 0x73626B31
#: The layout version (``PRAGMA user_version``) and each store's schema version (table ``stores``).
SCHEMA_VERSION: Final = 2
#: The store of a URL without ``?table=``: tables ``documents`` and ``entries``, as in version 1.
DEFAULT_TABLE: Final = "storagebackend"
MEMORY: Final = ":memory:"
_HEADER: Final = b"SQLite format 3\x00"
# Letters, digits, underscores; SQLite keeps names starting with "sqlite_" for itself.
_TABLE_NAME: Final = re.compile(r"(?!sqlite(?:_|$))[a-z_][a-z0-9_]{0,47}", re.IGNORECASE)
_EMPTY, _FOREIGN = 0, -1  # layouts that are no storagebackend database: new (or zero bytes), someone else's
# SQLite counts its busy timeout in milliseconds in a C int: longer waits are forever (~23 days).
_LONGEST_WAIT: Final = 2_000_000.0
_RETRY_PAUSE: Final = 0.02  # seconds between tries of the switch to WAL

_FILE_SCHEMA: Final = (
    "CREATE TABLE stores (name TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL)",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_STORE_VERSION: Final = "SELECT version FROM stores WHERE name = ?"
_ADD_STORE: Final = "INSERT OR REPLACE INTO stores (name, version) VALUES (?, ?)"
_TABLES: Final = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)"
# The file's marker, layout and whether it has any table, in one statement: one consistent snapshot.
_HEAD: Final = (
    "SELECT a.application_id, u.user_version, EXISTS (SELECT 1 FROM sqlite_master) "
    "FROM pragma_application_id() AS a, pragma_user_version() AS u"
)


def _v1_order(documents: str, entries: str) -> str:
    """Version 1 kept no order: documents by their first pair (as its bulk read gave them), keyless ones by uid."""
    return (
        f"SELECT d.uid AS uid, row_number() OVER (ORDER BY e.first IS NULL, e.first, d.uid) AS position "
        f"FROM {documents} AS d LEFT JOIN (SELECT uid, min(rowid) AS first FROM {entries} GROUP BY uid) AS e "
        "ON e.uid = d.uid"
    )


def _statements(documents: str, entries: str, order: str) -> dict[str, str]:
    """The statements of one store; ``order`` lists its documents as (uid, position)."""
    return {
        "create_documents": f"CREATE TABLE {documents} (position INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE)",
        "create_entries": (
            f"CREATE TABLE {entries} (position INTEGER PRIMARY KEY, uid TEXT NOT NULL, key TEXT NOT NULL, "
            "value BLOB NOT NULL, UNIQUE (uid, key))"
        ),
        "drop_documents": f"DROP TABLE IF EXISTS {documents}",
        "drop_entries": f"DROP TABLE IF EXISTS {entries}",
        # One query answers both "does it exist" (no row: no) and "what does it hold" (a row of NULLs: no keys).
        "document": (
            f"SELECT e.key, e.value FROM {documents} AS d LEFT JOIN {entries} AS e ON e.uid = d.uid "
            "WHERE d.uid = ? ORDER BY e.rowid"
        ),
        "value": f"SELECT value FROM {entries} WHERE uid = ? AND key = ?",
        "has": f"SELECT 1 FROM {documents} WHERE uid = ?",
        "count": f"SELECT count(*) FROM {documents}",
        "uids": f"SELECT uid FROM ({order}) ORDER BY position",
        # Every pair in storage order, then one row per document with its position: one statement, so one
        # consistent snapshot, and no join or sort in SQLite (the documents are put in order in Python).
        "all": f"SELECT uid, key, value FROM {entries} UNION ALL SELECT uid, NULL, position FROM ({order})",
        "any": f"SELECT 1 FROM {documents} LIMIT 1",
        "clear_entries": f"DELETE FROM {entries}",
        "clear_documents": f"DELETE FROM {documents}",
        "remove_pairs": f"DELETE FROM {entries} WHERE uid = ?",
        "remove_document": f"DELETE FROM {documents} WHERE uid = ?",
        "add_document": f"INSERT OR IGNORE INTO {documents} (uid) VALUES (?)",
        "remove_key": f"DELETE FROM {entries} WHERE uid = ? AND key = ?",
        # A new key comes last; a changed value keeps its row, so its place.
        "upsert": (
            f"INSERT INTO {entries} (uid, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (uid, key) DO UPDATE SET value = excluded.value"
        ),
    }


def _current(documents: str, entries: str) -> dict[str, str]:
    return _statements(documents, entries, f"SELECT uid, rowid AS position FROM {documents}")


_V1: Final = _statements("documents", "entries", _v1_order("documents", "entries"))
_V2_DEFAULT: Final = _current("documents", "entries")
# Version 1 -> 2 in the writer's transaction: the old tables are renamed, copied in their order, dropped.
_MIGRATION: Final = (
    "ALTER TABLE documents RENAME TO documents_v1",
    "ALTER TABLE entries RENAME TO entries_v1",
    _V2_DEFAULT["create_documents"],
    _V2_DEFAULT["create_entries"],
    f"INSERT INTO documents (uid) SELECT uid FROM ({_v1_order('documents_v1', 'entries_v1')}) ORDER BY position",
    "INSERT INTO entries (uid, key, value) SELECT uid, key, value FROM entries_v1 ORDER BY rowid",
    "DROP TABLE documents_v1",
    "DROP TABLE entries_v1",
    *_FILE_SCHEMA,
)

_BYTES: Final = frozenset({bytes})
_INT: Final = frozenset({int})
_FIRST, _SECOND, _THIRD, _PAIR = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(1, 2)
_STR: Final = frozenset({str})
_CORRUPT_CODES: Final = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
_LOCKED_CODES: Final = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
_UID: Final = re.compile(r"[0-9a-f]{32}")
_HEX_DIGITS: Final = b"0123456789abcdef"
# The start of sqlite3's message for TEXT that is not UTF-8 (an OperationalError without an error code).
_UNDECODABLE: Final = "Could not decode to UTF-8"
# SQLite's messages for a statement of ours that the schema cannot answer: a file marked as ours, changed.
_SCHEMA_CHANGED: Final = ("no such table", "no such column")
# What the sqlite3 module raises: its own errors, and UnicodeDecodeError for a damaged schema or message.
_DRIVER_ERRORS: Final = (sqlite3.Error, UnicodeDecodeError)


def _all_uids(texts: list[str]) -> bool:
    """Whether every text is 32 lower-case hex digits; a few passes in C, so listing stays cheap."""
    try:
        joined = "".join(texts)
    except TypeError:  # a uid stored as a BLOB
        return False
    return set(map(len, texts)) == {32} and joined.isascii() and not joined.encode().translate(None, _HEX_DIGITS)


def _table_names(name: str) -> tuple[str, str]:
    """The documents and entries tables of the store ``name`` (lower case: SQLite's names ignore case)."""
    if name == DEFAULT_TABLE:
        return "documents", "entries"
    return f"{name}_documents", f"{name}_entries"


class _Found(NamedTuple):
    """What a database holds for one store."""

    layout: int  # the file's layout version, or _EMPTY / _FOREIGN
    version: int | None  # the store's schema version; None when the file does not hold the store
    broken: bool = False  # listed, but its tables are missing


class SQLiteBackend(BufferedBackend):
    """Documents in a SQLite database file (one or several stores in it); several processes may share it.

    Raises ValueError for a bad table name, StoreNotFoundError, CorruptStoreError,
    StorageIOError (e.g. a folder or FIFO at the path) and StorageLockedError.
    """

    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    extensions: ClassVar[tuple[str, ...]] = (".db", ".sqlite", ".sqlite3")
    options: ClassVar[frozenset[str]] = frozenset({"table"})
    _in_memory: ClassVar[bool] = False

    def __init__(
        self, path: str | os.PathLike[str], flag: str = "c", lock_timeout: float = 5.0, table: str = DEFAULT_TABLE
    ) -> None:
        super().__init__(flag)
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(
                f"invalid SQLite table name {table!r}: 1 to 48 letters, digits and underscores, "
                "not starting with a digit, not 'sqlite' nor starting with 'sqlite_'"
            )
        self.path = os.fspath(path)
        self.table = table
        self._name = table.lower()
        names = _table_names(self._name)
        self._tables = names
        self._current = _current(*(f'"{name}"' for name in names))
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
        self._lock_timeout = min(float(lock_timeout), _LONGEST_WAIT)
        self._conn: sqlite3.Connection | None = None
        if self._in_memory:
            if self.flag in ("w", "r"):
                raise StoreNotFoundError(f"{self.describe()}: an in-memory database never exists before its open")
            wal_header = False
        else:
            wal_header = self._check_file()
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
        lock_timeout = options.get("lock_timeout", 5.0)
        if local.path == MEMORY:
            return SQLiteMemoryBackend(flag=flag, lock_timeout=lock_timeout, table=table)
        return cls(local.path, flag=flag, lock_timeout=lock_timeout, table=table)

    def describe(self) -> str:
        if self._in_memory:
            where = "sqlite::memory:"
        else:
            where = f"sqlite:{quote(self.path, safe='/', errors='surrogateescape')}"
        return where if self._name == DEFAULT_TABLE else f"{where}?table={self.table}"

    # -- opening ---------------------------------------------------------------------

    def _check_file(self) -> bool:
        """Check what is at the path before SQLite opens it; True if it is a database in WAL mode.

        Only a regular file is a store (a FIFO would block the open); a missing one
        needs flag c or n and its folder. Raises StoreNotFoundError, StorageIOError,
        CorruptStoreError (a file that is no database, unless flag ``"n"`` replaces it).
        """
        if not store_file_exists(self.path):
            if self.flag in ("w", "r"):
                raise StoreNotFoundError(f"{self.path}: no such SQLite store (flag {self.flag!r} needs one)")
            check_folder(self.path)
            return False
        try:
            with open(self.path, "rb") as file:
                header = file.read(100)
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        if header and not header.startswith(_HEADER):
            if self.flag != "n":
                raise CorruptStoreError(f"{self.path}: not a SQLite database (open with flag 'n' to replace it)")
            self._remove_files()
            return False
        return len(header) >= 20 and 2 in header[18:20]  # the file format's read/write versions: 2 is WAL

    def _remove_files(self) -> None:
        """Flag ``"n"`` over a file that is no storagebackend database: remove it and its journals."""
        log.info("replacing %s, which is not a storagebackend database (flag 'n')", self.path)
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(self.path + suffix)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StorageIOError(f"{self.path}{suffix}: cannot remove: {exc.strerror or exc}") from exc

    def _connect(self, wal_header: bool) -> sqlite3.Connection:
        """Connect in autocommit mode: transactions are begun only by ``commit``.

        A new database file is created here first, with mode 0o666 less the
        umask as ``open()`` would, not SQLite's 0o644; its -wal and -shm files
        take the database's mode. Flag ``"r"`` opens without making any file.
        """
        if self._in_memory:
            target, query_only = MEMORY, False
        elif self.read_only:
            mode = self._reader_mode(wal_header)
            target, query_only, self._immutable = self._uri(mode), mode == "mode=rw", mode == "immutable=1"
        else:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
            except FileExistsError:
                pass
            except OSError as exc:
                raise StorageIOError(f"{self.path}: cannot create: {exc.strerror or exc}") from exc
            target, query_only = self._uri("mode=rw"), False
        try:
            conn = self._sqlite_connect(target)
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, "cannot open") from exc
        try:
            # Settings of this connection only: neither writes to the file.
            setting = "PRAGMA query_only = ON" if query_only else "PRAGMA synchronous = FULL"
            conn.execute(setting)
        except _DRIVER_ERRORS as exc:
            conn.close()
            raise self._error(exc, "cannot open") from exc
        return conn

    def _sqlite_connect(self, target: str) -> sqlite3.Connection:
        """Autocommit, shared by the store's threads (each statement under ``_busy``)."""
        return sqlite3.connect(
            target, uri=True, timeout=self._lock_timeout, isolation_level=None, check_same_thread=False
        )

    def _uri(self, mode: str) -> str:
        return f"file:{quote(os.path.abspath(self.path), errors='surrogateescape')}?{mode}"

    def _reader_mode(self, wal_header: bool) -> str:
        """How flag ``"r"`` opens the file so that it makes no file and needs no write access (a URI parameter).

        A file in rollback-journal mode (or empty) opens with ``mode=ro``. In WAL
        mode SQLite needs the -shm file: a writer's if there is one (``mode=ro``);
        else one this connection makes and, opened read-write but ``query_only``,
        removes at close. Where it cannot be made (a folder or file the user may
        not write, read-only media), no writer is at work and the last one
        checkpointed the file at its close: it is read as ``immutable``, until a
        writer's -shm file appears (see :meth:`_reader`).
        """
        if not wal_header or os.path.exists(self.path + "-shm"):
            return "mode=ro"
        folder = os.path.dirname(os.path.abspath(self.path))
        if os.access(folder, os.W_OK | os.X_OK) and os.access(self.path, os.R_OK | os.W_OK):
            return "mode=rw"
        log.debug("%s: no -shm file and no write access: reading the WAL database as immutable", self.path)
        return "immutable=1"

    def _prepare(self) -> None:
        """Check that the file is a storagebackend database holding this store; create or migrate it if needed."""
        conn = self._live()
        with self._mapped("cannot open"):
            found = self._inspect(conn)  # before any write: a foreign file must stay untouched
        if found.layout == _FOREIGN and self.flag == "n" and not self._in_memory:
            conn.close()
            self._remove_files()
            self._conn = self._connect(False)
            self._prepare()
            return
        self._check(found)
        if found.layout == _EMPTY:
            return  # an empty database: every store in it is empty, and nothing is written before a sync
        if found.version is None:
            if self.flag in ("w", "r"):
                raise StoreNotFoundError(
                    f"{self.describe()}: no such SQLite store (no table {self.table!r}; flag {self.flag!r} needs one)"
                )
        elif found.layout == 1 and self.read_only:
            self._sql, self._state = _V1, "v1"
            return
        elif found.layout == SCHEMA_VERSION and not found.broken:
            self._state = "ready"
            return
        # A store to create, a version-1 database to migrate, or (flag n) broken tables to make anew.
        with self._mapped("cannot open"):
            self._start_writing(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._ensure(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        self._sql, self._state = self._current, "ready"

    def _inspect(self, conn: sqlite3.Connection) -> _Found:
        """What the database holds for this store (reads only).

        The later statements cannot contradict the first even if another process
        writes in between: a layout only grows, and a store is listed in the same
        transaction that makes its tables.
        """
        application_id, layout, has_tables = conn.execute(_HEAD).fetchone()
        if application_id != APPLICATION_ID:
            return _Found(_FOREIGN if application_id or has_tables else _EMPTY, None)
        if layout == 1:
            if self._name != DEFAULT_TABLE:
                return _Found(1, None)
            version = 1
        elif layout == SCHEMA_VERSION:
            row = conn.execute(_STORE_VERSION, (self._name,)).fetchone()
            if row is None:
                return _Found(layout, None)
            version = row[0]
        elif layout > SCHEMA_VERSION:
            return _Found(layout, None)
        else:
            return _Found(_FOREIGN, None)  # our marker without a layout: nothing storagebackend writes
        broken = conn.execute(_TABLES, self._tables).fetchone()[0] != 2
        return _Found(layout, version, broken)

    def _check(self, found: _Found) -> None:
        """Raise CorruptStoreError for a database this version cannot use."""
        where = self._where()
        if found.layout == _FOREIGN:
            raise CorruptStoreError(
                f"{where}: a SQLite database, but not a storagebackend store (open with flag 'n' to replace it)"
            )
        version = found.version
        if version is not None and type(version) is not int:
            raise self._foreign(f"the schema version {str(version)[:40]!r} of the store")
        newest = max(found.layout, version or 0)
        if newest > SCHEMA_VERSION:
            raise CorruptStoreError(
                f"{where}: storagebackend schema version {newest} is newer than {SCHEMA_VERSION}; "
                "upgrade storagebackend"
            )
        if found.layout == SCHEMA_VERSION and version not in (None, SCHEMA_VERSION):
            raise self._foreign(f"the schema version {version} of the store")
        if found.broken and self.flag != "n":
            raise CorruptStoreError(
                f"{where}: the tables {' and '.join(self._tables)} of the store are missing "
                "(open with flag 'n' to make the store anew)"
            )

    def _ensure(self, conn: sqlite3.Connection) -> None:
        """In the writer's transaction: bring the file to the current layout with this store in it."""
        found = self._inspect(conn)  # again: another process may have changed it meanwhile
        self._check(found)
        if found.layout == _EMPTY:
            for statement in _FILE_SCHEMA:
                conn.execute(statement)
        elif found.layout == 1:
            self._migrate(conn)
            found = self._inspect(conn)
        if found.broken:  # flag n only (_check): make them anew
            log.info("making the damaged tables of %s anew (flag 'n')", self.describe())
            conn.execute(self._current["drop_documents"])
            conn.execute(self._current["drop_entries"])
        if found.version is None or found.broken:
            conn.execute(self._current["create_documents"])
            conn.execute(self._current["create_entries"])
            conn.execute(_ADD_STORE, (self._name, SCHEMA_VERSION))

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Version 1 -> 2, in the caller's transaction, documents and keys in the order version 1 read them.

        First every row is read and checked as a read would (except under flag
        ``"n"``, which discards them): a damaged store is refused, not migrated.
        """
        log.info("%s: migrating the database from version 1 to %s", self.path, SCHEMA_VERSION)
        if self.flag != "n":
            self._documents_from(conn.execute(_V1["all"]).fetchall())
        for statement in _MIGRATION:
            conn.execute(statement)
        conn.execute(_ADD_STORE, (DEFAULT_TABLE, SCHEMA_VERSION))

    def _start_writing(self, conn: sqlite3.Connection) -> None:
        """WAL mode before this connection's first write (never before: a zero-byte file stays zero bytes).

        While another connection holds the write lock of a rollback journal,
        SQLite refuses the switch at once instead of waiting (its deadlock rule):
        it is tried again until ``lock_timeout`` has passed.
        """
        if self._wal or self._in_memory:
            return
        deadline = time.monotonic() + self._lock_timeout
        while True:
            try:
                with self._busy:  # a read's statement must not be running on the connection meanwhile
                    conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                locked = getattr(exc, "sqlite_errorname", "") in _LOCKED_CODES
                if not locked or time.monotonic() >= deadline:
                    raise
            time.sleep(_RETRY_PAUSE)
        self._wal = True

    # -- errors ------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error | UnicodeDecodeError, action: str) -> StorageError:
        """Map a sqlite3 error to the StorageError a user should see."""
        where = self._where()
        if isinstance(exc, UnicodeDecodeError):  # sqlite3 decodes names and messages from a damaged file
            return CorruptStoreError(f"{where}: {action}: the database is corrupt (text that is not UTF-8)")
        code = getattr(exc, "sqlite_errorname", "")
        if code in _CORRUPT_CODES or _UNDECODABLE in str(exc) or str(exc).startswith(_SCHEMA_CHANGED):
            return CorruptStoreError(f"{where}: {action}: the database is corrupt ({exc})")
        if code in _LOCKED_CODES or "locked" in str(exc):
            return StorageLockedError(f"{where}: {action}: the database stays locked by another connection ({exc})")
        return StorageIOError(f"{where}: {action}: {exc}")

    def _foreign(self, what: str) -> CorruptStoreError:
        """Data that storagebackend never writes: the file was changed by something else."""
        return CorruptStoreError(f"{self._where()}: the database holds {what}, which no storagebackend store holds")

    def _where(self) -> str:
        """The file (and the store in it) for messages."""
        where = "sqlite::memory:" if self._in_memory else self.path
        return where if self._name == DEFAULT_TABLE else f"{where} (store {self.table!r})"

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
            shared = self._sqlite_connect(self._uri("mode=ro"))
        except _DRIVER_ERRORS as exc:
            log.debug("%s: cannot read through the writer's -shm file: %s", self.path, exc)
            return conn
        try:
            shared.execute(_HEAD).fetchone()
        except _DRIVER_ERRORS as exc:
            log.debug("%s: cannot read through the writer's -shm file: %s", self.path, exc)
            shared.close()
            return conn
        conn.close()
        self._conn = shared
        return shared

    def _refresh(self, conn: sqlite3.Connection) -> bool:
        """Look again for a store that was not in the database (another process may have made it since)."""
        found = self._inspect(conn)
        self._check(found)
        if found.layout == _EMPTY or found.version is None:
            return False
        self._sql, self._state = (_V1, "v1") if found.layout == 1 else (self._current, "ready")
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
            raise self._foreign(f"a value of type {type(row[0]).__name__} in document {uid}")
        return row[0]

    def stored_document(self, uid: str) -> DocumentData | None:
        with self._mapped("cannot read"), self._busy:
            conn = self._reader()
            if conn is None:
                return None
            rows = conn.execute(self._sql["document"], (uid,)).fetchall()
        if not rows:
            return None
        return self._checked(uid, dict(row for row in rows if row[0] is not None))

    def stored_items(self) -> list[tuple[str, DocumentData]]:
        """Every stored document in one query (one read transaction: a consistent snapshot), in order."""
        with self._mapped("cannot read"), self._busy:
            conn = self._reader()
            if conn is None:
                return []
            rows = conn.execute(self._sql["all"]).fetchall()
        return list(self._documents_from(rows).items())

    def _documents_from(self, rows: list[Any]) -> dict[str, DocumentData]:
        """The documents of a bulk read, in order, checked in C-level passes (per-row checks only on damage)."""
        keys = list(map(_SECOND, rows))
        count = keys.count(None)  # one row per document, after the pairs: a pair's key is never NULL
        split = len(rows) - count
        if keys[split:].count(None) == count:
            pairs, listing, pair_keys = rows[:split], rows[split:], keys[:split]
        else:  # the two halves interleaved: sort them out row by row
            pairs = [row for row in rows if row[1] is not None]
            listing = [row for row in rows if row[1] is None]
            pair_keys = list(map(_SECOND, pairs))
        if not set(map(type, map(_THIRD, listing))) <= _INT:  # a pair whose key is NULL
            bad = next(row for row in listing if type(row[2]) is not int)
            raise self._foreign(f"a pair without a key in document {str(bad[0])[:40]!r}")
        listing.sort(key=_THIRD)  # by position: already in order, so one linear pass
        uids = list(map(_FIRST, listing))
        if uids and not _all_uids(uids):
            bad_uid = next(uid for uid in uids if type(uid) is not str or not _UID.fullmatch(uid))
            raise self._foreign(f"the uid {str(bad_uid)[:40]!r}")
        # Pairs of one document are mostly adjacent, as they were written.
        grouped: dict[str, DocumentData] = {}
        for uid, group in groupby(pairs, _FIRST):
            document = grouped.get(uid)
            if document is None:
                grouped[uid] = dict(map(_PAIR, group))
            else:
                document.update(map(_PAIR, group))
        documents = {uid: grouped.pop(uid, {}) for uid in uids}
        if grouped:
            raise self._foreign(f"pairs of a document {str(next(iter(grouped)))[:40]!r} that it does not list")
        key_set = set(pair_keys)
        if not (
            set(map(type, map(_THIRD, pairs))) <= _BYTES
            and set(map(type, key_set)) <= _STR
            and "" not in key_set
            and all(map(str.isprintable, key_set))
        ):
            for uid, document in documents.items():
                self._checked(uid, document)
        return documents

    def _checked(self, uid: str, document: DocumentData) -> DocumentData:
        """A document read back, if every key is a valid key and every value a BLOB (C-level checks first)."""
        if (
            set(map(type, document.values())) <= _BYTES
            and set(map(type, document)) <= _STR
            and "" not in document
            and all(map(str.isprintable, document))
        ):
            return document
        for key, value in document.items():
            if type(key) is not str or not key or not key.isprintable():
                raise self._foreign(f"the key {str(key)[:40]!r} in document {uid}")
            if type(value) is not bytes:
                raise self._foreign(f"a value of type {type(value).__name__} in document {uid}")
        return document

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
        if uids and not _all_uids(uids):
            bad = next(uid for uid in uids if type(uid) is not str or not _UID.fullmatch(uid))
            raise self._foreign(f"the uid {str(bad)[:40]!r}")
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
                try:
                    if self._state != "ready":
                        self._ensure(conn)
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
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
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

    def __init__(self, flag: str = "c", lock_timeout: float = 5.0, table: str = DEFAULT_TABLE) -> None:
        super().__init__(MEMORY, flag=flag, lock_timeout=lock_timeout, table=table)
