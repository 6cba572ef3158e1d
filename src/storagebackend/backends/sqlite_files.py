"""The SQLite database file on disk: what is checked before SQLite opens it, and how each flag connects.

Only a regular file is a store (a FIFO would block the open), and a writable
open of a file this user may not write is ReadOnlyError at once: the rule of
every local store (:func:`~storagebackend.transports.local.check_local_store`),
not SQLite's, which opens such a file read-only and fails at the first write.
A new database file is created with mode 0o666 less the umask, as ``open()``
would, not SQLite's 0o644; its -wal and -shm files take the database's mode.
Flag ``"r"`` makes no file and needs no write access (:func:`reader_mode`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from typing import Final
from urllib.parse import quote

from storagebackend.errors import CorruptStoreError, StorageIOError
from storagebackend.schema import State, check_state
from storagebackend.timeouts import driver_timeout
from storagebackend.transports.local import check_local_store

__all__ = [
    "LOCKED_CODES",
    "MEMORY",
    "check_file",
    "connect",
    "create_file",
    "reader_mode",
    "remove_files",
    "switch_to_wal",
    "uri",
]

log = logging.getLogger(__name__)

#: SQLite's name of a private in-memory database.
MEMORY: Final = ":memory:"
_HEADER: Final = b"SQLite format 3\x00"
#: sqlite3's error names for "another connection holds the lock".
LOCKED_CODES: Final = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
# SQLite counts its busy timeout in milliseconds in a C int: longer waits are forever (~23 days).
_LONGEST_WAIT: Final = 2_000_000.0
_RETRY_PAUSE: Final = 0.02  # seconds between tries of the switch to WAL


def check_file(path: str, flag: str) -> bool:
    """Check what is at ``path`` before SQLite opens it; True if it is a database in WAL mode.

    A missing file needs flag c or n and its folder. Raises StoreNotFoundError,
    ReadOnlyError, StorageIOError, CorruptStoreError (a file that is no
    database, unless flag ``"n"`` replaces it).
    """
    if not check_local_store(path, write=flag != "r", create=flag in ("c", "n")):
        check_state(State.MISSING, where=path, kind="SQLite", flag=flag)
        return False
    try:
        with open(path, "rb") as file:
            header = file.read(100)
    except OSError as exc:
        raise StorageIOError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if header and not header.startswith(_HEADER):
        if flag != "n":
            raise CorruptStoreError(f"{path}: not a SQLite database (open with flag 'n' to replace it)")
        remove_files(path)
        return False
    return len(header) >= 20 and 2 in header[18:20]  # the file format's read/write versions: 2 is WAL


def remove_files(path: str) -> None:
    """Flag ``"n"`` over a file that is no storagebackend database: remove it and its journals."""
    log.info("replacing %s, which is not a storagebackend database (flag 'n')", path)
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageIOError(f"{path}{suffix}: cannot remove: {exc.strerror or exc}") from exc


def create_file(path: str) -> None:
    """Create the database file if it is missing, with mode 0o666 less the umask; StorageIOError if it cannot be."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageIOError(f"{path}: cannot create: {exc.strerror or exc}") from exc


def uri(path: str, mode: str) -> str:
    """The ``file:`` URI that opens ``path`` with a URI parameter (``mode=ro``, ``immutable=1``...)."""
    return f"file:{quote(os.path.abspath(path), errors='surrogateescape')}?{mode}"


def reader_mode(path: str, wal_header: bool) -> str:
    """How flag ``"r"`` opens the file so that it makes no file and needs no write access (a URI parameter).

    A file in rollback-journal mode (or empty) opens with ``mode=ro``. In WAL
    mode SQLite needs the -shm file: a writer's if there is one (``mode=ro``);
    else one this connection makes and, opened read-write but ``query_only``,
    removes at close. Where it cannot be made (a folder or file the user may
    not write, read-only media), no writer is at work and the last one
    checkpointed the file at its close: it is read as ``immutable``, until a
    writer's -shm file appears (see ``SQLiteBackend._reader``).
    """
    if not wal_header or os.path.exists(path + "-shm"):
        return "mode=ro"
    folder = os.path.dirname(os.path.abspath(path))
    if os.access(folder, os.W_OK | os.X_OK) and os.access(path, os.R_OK | os.W_OK):
        return "mode=rw"
    log.debug("%s: no -shm file and no write access: reading the WAL database as immutable", path)
    return "immutable=1"


def connect(target: str, lock_timeout: float) -> sqlite3.Connection:
    """Autocommit (transactions are begun only by a commit), shared by the store's threads.

    Raises the driver's error. ``lock_timeout`` is SQLite's busy timeout, as
    ``timeouts.driver_timeout`` spells it for SQLite.
    """
    busy = driver_timeout(lock_timeout, forever=_LONGEST_WAIT, longest=_LONGEST_WAIT)
    return sqlite3.connect(target, uri=True, timeout=busy, isolation_level=None, check_same_thread=False)


def switch_to_wal(conn: sqlite3.Connection, busy: threading.Lock, lock_timeout: float) -> None:
    """Put the database in WAL mode (before a connection's first write); raises the driver's error.

    While another connection holds the write lock of a rollback journal, SQLite
    refuses the switch at once instead of waiting (its deadlock rule): it is
    tried again until ``lock_timeout`` has passed. ``busy`` is held for each try,
    so that no read's statement runs on the connection meanwhile.
    """
    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            with busy:
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            locked = getattr(exc, "sqlite_errorname", "") in LOCKED_CODES
            if not locked or time.monotonic() >= deadline:
                raise
        time.sleep(_RETRY_PAUSE)
