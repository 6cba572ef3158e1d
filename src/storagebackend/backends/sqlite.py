"""SQLite backend (stdlib ``sqlite3``): ``sqlite:///abs.db``, ``sqlite:rel.db``, ``x.db``.

Schema: ``documents(uid)`` keeps documents even without keys, ``entries(uid,
key, value)`` holds the pairs; ``PRAGMA application_id`` marks the file as
ours and ``PRAGMA user_version`` is the schema version. WAL and
``synchronous=FULL``: a sync that returned survives a power cut. Changes wait
in the write buffer of :class:`BufferedBackend`, so SQLite's write lock is held
only for the one short transaction of each sync.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from typing import Any, ClassVar, Final
from urllib.parse import quote

from storagebackend.backends.base import DocumentData
from storagebackend.backends.buffered import BufferedBackend, Pending
from storagebackend.errors import (
    CorruptStoreError,
    StorageError,
    StorageIOError,
    StorageLockedError,
    StoreNotFoundError,
)
from storagebackend.urls import parse_local

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "SQLiteBackend"]

log = logging.getLogger(__name__)

#: Written to ``PRAGMA application_id``: "sbk1" in ASCII, marks a storagebackend database.
APPLICATION_ID: Final = 0x73626B31
SCHEMA_VERSION: Final = 1
_HEADER: Final = b"SQLite format 3\x00"
_SCHEMA: Final = (
    "CREATE TABLE documents (uid TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID",
    "CREATE TABLE entries (uid TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (uid, key))",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_READ_DOCUMENT: Final = (
    "SELECT e.key, e.value FROM documents AS d LEFT JOIN entries AS e ON e.uid = d.uid WHERE d.uid = ? ORDER BY e.rowid"
)
# Every pair in insertion order (rowid), then the documents without keys: one statement,
# so one consistent snapshot, and no sort (a LEFT JOIN ordered by document costs twice as much).
_READ_ALL: Final = (
    "SELECT uid, key, value FROM entries UNION ALL SELECT uid, NULL, NULL FROM documents AS d "
    "WHERE NOT EXISTS (SELECT 1 FROM entries AS e WHERE e.uid = d.uid)"
)
_ANY_DOCUMENT: Final = "SELECT 1 FROM documents LIMIT 1"
_UPSERT: Final = (
    "INSERT INTO entries (uid, key, value) VALUES (?, ?, ?) ON CONFLICT (uid, key) DO UPDATE SET value = excluded.value"
)
_BYTES: Final = frozenset({bytes})
_BYTES_OR_NONE: Final = frozenset({bytes, type(None)})
_FIRST, _SECOND, _THIRD, _PAIR = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(1, 2)
_STR: Final = frozenset({str})
_CORRUPT_CODES: Final = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
_LOCKED_CODES: Final = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
_UID: Final = re.compile(r"[0-9a-f]{32}")
_HEX_DIGITS: Final = b"0123456789abcdef"
# The start of sqlite3's message for TEXT that is not UTF-8 (an OperationalError without an error code).
_UNDECODABLE: Final = "Could not decode to UTF-8"
# What the sqlite3 module raises: its own errors, and UnicodeDecodeError for a damaged schema or message.
_DRIVER_ERRORS: Final = (sqlite3.Error, UnicodeDecodeError)


def _all_uids(texts: list[str]) -> bool:
    """Whether every text is 32 lower-case hex digits; a few passes in C, so listing stays cheap."""
    try:
        joined = "".join(texts)
    except TypeError:  # a uid stored as a BLOB
        return False
    return set(map(len, texts)) == {32} and joined.isascii() and not joined.encode().translate(None, _HEX_DIGITS)


class SQLiteBackend(BufferedBackend):
    """Documents in a SQLite database file; several processes may share it."""

    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    extensions: ClassVar[tuple[str, ...]] = (".db", ".sqlite", ".sqlite3")

    def __init__(self, path: str | os.PathLike[str], flag: str = "c", lock_timeout: float = 5.0) -> None:
        super().__init__(flag)
        self.path = os.fspath(path)
        self._has_schema = False
        # Readers in other threads share the connection, and a statement run during a commit would see
        # the transaction half done: each read, and each commit's changes, hold this lock.
        self._busy = threading.Lock()
        if not os.path.exists(self.path):
            if self.flag in ("w", "r"):
                raise StoreNotFoundError(f"{self.path}: no such SQLite store (flag {self.flag!r} needs one)")
        elif not self._looks_like_sqlite():
            if self.flag != "n":
                raise CorruptStoreError(f"{self.path}: not a SQLite database (open with flag 'n' to replace it)")
            self._remove_files()
        self._lock_timeout = float(lock_timeout)
        self._conn = self._connect(self._lock_timeout)
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> SQLiteBackend:
        """Open ``sqlite:PATH``, ``sqlite:///ABS`` or a bare ``x.db`` path."""
        local = parse_local(url)
        if local.query:
            raise ValueError(f"unknown query parameter {next(iter(local.query))!r} in SQLite URL {url!r}")
        return cls(local.path, flag=flag, lock_timeout=options.get("lock_timeout", 5.0))

    def describe(self) -> str:
        return f"sqlite:{quote(self.path, safe='/', errors='surrogateescape')}"

    # -- opening ---------------------------------------------------------------------

    def _looks_like_sqlite(self) -> bool:
        """True for a SQLite file or an empty one (an empty database, as in SQLite)."""
        try:
            with open(self.path, "rb") as file:
                header = file.read(len(_HEADER))
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        return header in (b"", _HEADER)

    def _remove_files(self) -> None:
        """Flag ``"n"`` over a file that is no database: remove it and its journals."""
        log.info("replacing %s, which is not a SQLite database (flag 'n')", self.path)
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(self.path + suffix)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StorageIOError(f"{self.path}{suffix}: cannot remove: {exc.strerror or exc}") from exc

    def _connect(self, lock_timeout: float) -> sqlite3.Connection:
        """Connect in autocommit mode: transactions are begun only by ``commit``.

        A new database file is created here first, with mode 0o666 less the
        umask as ``open()`` would, not SQLite's 0o644; its -wal and -shm files
        take the database's mode.
        """
        target, uri = self.path, False
        if self.read_only:
            target, uri = "file:" + quote(os.path.abspath(self.path), errors="surrogateescape") + "?mode=ro", True
        else:
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
            except FileExistsError:
                pass
            except OSError as exc:
                raise StorageIOError(f"{self.path}: cannot create: {exc.strerror or exc}") from exc
        try:
            return sqlite3.connect(target, uri=uri, timeout=lock_timeout, isolation_level=None, check_same_thread=False)
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, "cannot open") from exc

    def _prepare(self) -> None:
        """Check that the file is a storagebackend database; create the schema if empty."""
        with self._mapped("cannot open"):
            state = self._schema_state()  # before any write: a foreign file must stay untouched
            if state in ("ours", "empty") and not self.read_only:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = FULL")
            if state == "empty" and not self.read_only:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    if self._schema_state() == "empty":
                        for statement in _SCHEMA:
                            self._conn.execute(statement)
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                state = self._schema_state()
        if state == "foreign" and self.flag == "n":
            self._conn.close()
            self._remove_files()
            self._conn = self._connect(self._lock_timeout)
            self._prepare()
            return
        if state == "foreign":
            raise CorruptStoreError(
                f"{self.path}: a SQLite database, but not a storagebackend store (open with flag 'n' to replace it)"
            )
        if state == "newer":
            raise CorruptStoreError(
                f"{self.path}: storagebackend schema version is newer than {SCHEMA_VERSION}; upgrade storagebackend"
            )
        self._has_schema = state == "ours"

    def _schema_state(self) -> str:
        """``"ours"``, ``"newer"``, ``"empty"`` (no tables at all) or ``"foreign"``."""
        application_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if application_id == APPLICATION_ID:
            return "ours" if version <= SCHEMA_VERSION else "newer"
        has_tables = self._conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None
        return "foreign" if has_tables or application_id else "empty"

    # -- errors ------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error | UnicodeDecodeError, action: str) -> StorageError:
        """Map a sqlite3 error to the StorageError a user should see."""
        if isinstance(exc, UnicodeDecodeError):  # sqlite3 decodes names and messages from a damaged file
            return CorruptStoreError(f"{self.path}: {action}: the database is corrupt (text that is not UTF-8)")
        code = getattr(exc, "sqlite_errorname", "")
        if code in _CORRUPT_CODES or _UNDECODABLE in str(exc):
            return CorruptStoreError(f"{self.path}: {action}: the database is corrupt ({exc})")
        if code in _LOCKED_CODES or "locked" in str(exc):
            return StorageLockedError(f"{self.path}: {action}: the database stays locked by another connection ({exc})")
        return StorageIOError(f"{self.path}: {action}: {exc}")

    def _foreign(self, what: str) -> CorruptStoreError:
        """Data that storagebackend never writes: the file was changed by something else."""
        return CorruptStoreError(f"{self.path}: the database holds {what}, which no storagebackend store holds")

    @contextmanager
    def _mapped(self, action: str) -> Iterator[None]:
        try:
            yield
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, action) from exc

    # -- stored state --------------------------------------------------------------------

    def stored_value(self, uid: str, key: str) -> bytes | None:
        if not self._has_schema:
            return None
        try:
            with self._busy:
                row = self._conn.execute("SELECT value FROM entries WHERE uid = ? AND key = ?", (uid, key)).fetchone()
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, "cannot read") from exc
        if row is None:
            return None
        if type(row[0]) is not bytes:
            raise self._foreign(f"a value of type {type(row[0]).__name__} in document {uid}")
        return row[0]

    def stored_document(self, uid: str) -> DocumentData | None:
        if not self._has_schema:
            return None
        # One query answers both "does it exist" (no row: no) and "what does it hold"
        # (a row of NULLs: no keys): every statement costs a read transaction.
        with self._mapped("cannot read"), self._busy:
            rows = self._conn.execute(_READ_DOCUMENT, (uid,)).fetchall()
        if not rows:
            return None
        return self._checked(uid, dict(row for row in rows if row[0] is not None))

    def stored_items(self) -> list[tuple[str, DocumentData]]:
        """Every stored document in one query (one read transaction: a consistent snapshot)."""
        if not self._has_schema:
            return []
        with self._mapped("cannot read"), self._busy:
            rows = self._conn.execute(_READ_ALL).fetchall()
        # Grouped and checked in C-level passes over all rows (rows of one document are
        # mostly adjacent, as they were written); the per-row checks only run on damage.
        documents: dict[str, DocumentData] = {}
        for uid, group in groupby(rows, _FIRST):
            pairs = dict(map(_PAIR, group))
            pairs.pop(None, None)  # the row of a document without keys
            document = documents.get(uid)
            if document is None:
                documents[uid] = pairs
            else:
                document.update(pairs)
        uids = list(documents)
        if uids and not _all_uids(uids):
            bad = next(uid for uid in uids if type(uid) is not str or not _UID.fullmatch(uid))
            raise self._foreign(f"the uid {str(bad)[:40]!r}")
        all_keys, values = list(map(_SECOND, rows)), list(map(_THIRD, rows))
        keys = set(all_keys)
        keys.discard(None)
        if not (
            set(map(type, values)) <= _BYTES_OR_NONE
            and values.count(None) == all_keys.count(None)  # NULL values only in rows of keyless documents
            and set(map(type, keys)) <= _STR
            and "" not in keys
            and all(map(str.isprintable, keys))
        ):
            for uid, document in documents.items():
                self._checked(uid, document)
        return list(documents.items())

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
        if not self._has_schema:
            return False
        try:
            with self._busy:
                row = self._conn.execute("SELECT 1 FROM documents WHERE uid = ?", (uid,)).fetchone()
        except _DRIVER_ERRORS as exc:
            raise self._error(exc, "cannot read") from exc
        return row is not None

    def stored_uids(self) -> list[str]:
        if not self._has_schema:
            return []
        with self._mapped("cannot read"), self._busy:
            uids = [uid for (uid,) in self._conn.execute("SELECT uid FROM documents")]
        if uids and not _all_uids(uids):
            bad = next(uid for uid in uids if type(uid) is not str or not _UID.fullmatch(uid))
            raise self._foreign(f"the uid {str(bad)[:40]!r}")
        return uids

    def stored_count(self) -> int:
        if not self._has_schema:
            return 0
        with self._mapped("cannot read"), self._busy:
            count: int = self._conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        return count

    # -- writing -----------------------------------------------------------------------------

    def commit(self, cleared: bool, pending: Mapping[str, Pending | None]) -> None:
        gone: list[tuple[str]] = []  # documents replaced or deleted: their stored pairs go first
        deleted: list[tuple[str]] = []
        kept: list[tuple[str]] = []
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
            for key, value in change.values.items():
                if value is not None:
                    values.append((uid, key, value))
                elif not change.replace:
                    removed_keys.append((uid, key))
        conn = self._conn
        with self._mapped("cannot sync"):
            conn.execute("BEGIN IMMEDIATE")  # may wait for another process; reads here go on meanwhile
            with self._busy:  # readers in other threads wait: they must not see the transaction half done
                try:
                    if cleared:
                        conn.execute("DELETE FROM entries")
                        conn.execute("DELETE FROM documents")
                    # Deletes before the inserts, but none in an empty store (the first load of one).
                    if (gone or deleted) and not cleared and conn.execute(_ANY_DOCUMENT).fetchone() is not None:
                        conn.executemany("DELETE FROM entries WHERE uid = ?", gone)
                        conn.executemany("DELETE FROM documents WHERE uid = ?", deleted)
                    if kept:
                        conn.executemany("INSERT OR IGNORE INTO documents (uid) VALUES (?)", kept)
                    if values:
                        conn.executemany(_UPSERT, values)
                    if removed_keys:
                        conn.executemany("DELETE FROM entries WHERE uid = ? AND key = ?", removed_keys)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        with self._mapped("cannot close"):
            self._conn.close()
