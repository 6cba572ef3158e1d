"""LocalTransport: a store file on the local disk, replaced atomically and locked.

Writes go to a new temporary file in the same folder (unique name, created
with mode ``0o666`` so the umask applies exactly as for ``open()``), which is
written, fsynced and moved over the store with ``os.replace``; then the folder
is fsynced so the rename itself survives a power cut. A replaced file keeps
its permission bits, and its owner and group where the process may set them
(``fchown`` of the temporary file; a user who may not give the file away keeps
at least the group, if a member of it). A failed write removes its temporary
file and leaves the store byte-identical.

Only a regular file (or a symlink to one) is a store file: a folder, FIFO,
device or socket at the path is refused by a ``stat``, never opened (opening a
FIFO blocks, opening a device may act on it), under every flag, before the lock
file is created. A writer is refused (``ReadOnlyError``) a file this user may
not write, as the kernel decides for ``open(path, "r+")`` (mode bits, ACLs, a
read-only mount), asked with ``access`` so the file is not opened for writing:
the rename needs only the folder's permission, and would replace a read-only
file or one of another user.

The lock is ``flock`` on a sidecar file beside the store (``notes.json.lock``),
never on the store itself: ``os.replace`` swaps the store's inode, so a lock
on it would stop excluding anyone after the first sync. ``flock`` (not
``fcntl``/``lockf`` record locks) because it belongs to the open file, not to
the process: two stores opened by one process exclude each other too, and
closing some other descriptor of the file never drops the lock. The kernel
releases it when the process dies, so a crash leaves no stale lock. The
sidecar is never deleted: unlinking a lock file others may be waiting on would
let two holders lock two different files.

Editors and other programs ignore the lock, so every write first checks that
the file is still the one this store last read or wrote, and raises
ConflictError (nothing written) if not. The check is a ``stat``, not a read:
the file's device, inode, size, mtime and ctime must be as recorded. The
inode alone proves nothing (the number of an unlinked file is reused at
once), and a kernel timestamp is coarse (a few ms), so an edit soon after our
write could keep the mtime; hence each write sets the temporary file's mtime
to the exact ``time.time_ns()`` of the write, a value an edit made later,
stamped by the kernel, does not reproduce. An edit that sets the mtime back
changes the ctime, which no program can set. Where that is not enough (the
store only read the file, and it was changed less than ``_RACY_NS`` before:
another change might keep the same timestamps; or the file system dropped the
exact mtime), the SHA-256 of the bytes is kept too, and the next write reads
the file once to compare. A change of mode, owner or links changes the ctime,
so it is a conflict as well. The check is repeated, as a ``stat``, right
before the rename; what it cannot see is a program that replaces the file in
the moment between that ``stat`` and the rename.

A shared (read-only) opener in a folder where it may not create the sidecar
reads without a lock: every write is an atomic rename, so it still sees
either the old or the new file, never a mix; it only cannot hold writers off.

The journal is another file beside the store (``notes.json.journal``), of
framed records (``transports/records.py``) appended with ``O_APPEND`` and
fsynced (the folder too when the append created it); a new journal gets the
store file's mode, owner and group, since it holds the same data. An append
first cuts off a record a crash left unfinished. It is the caller's to append
only under the exclusive lock.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import BinaryIO, Final

from storagebackend.errors import ConflictError, ReadOnlyError, StorageError, StorageIOError, StorageLockedError
from storagebackend.transports.base import Transport
from storagebackend.transports.records import frame, split_records
from storagebackend.urls import parse_local

__all__ = ["JOURNAL_SUFFIX", "LOCK_SUFFIX", "LocalTransport", "check_folder", "check_local_store", "store_file_exists"]

log = logging.getLogger(__name__)

#: The sidecar lock file is the store's path plus this suffix.
LOCK_SUFFIX: Final = ".lock"
#: The journal is the store's path plus this suffix.
JOURNAL_SUFFIX: Final = ".journal"
# Errors that mean "you may not create a file here" (read-only folder or file system).
_NOT_ALLOWED: Final = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
# Errors of fsync on a folder from file systems that cannot sync one: nothing to do there.
_NO_FOLDER_SYNC: Final = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})
# Errors of fchown from file systems without owners (FAT, some FUSE ones): nothing to keep there.
_NO_OWNERS: Final = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})
_FIRST_PAUSE: Final = 0.002
_LONGEST_PAUSE: Final = 0.05
# A file whose mtime or ctime is less than this before the moment we look at it may change again
# without its timestamps showing it (a kernel tick is a few ms; FAT and some NFS servers keep
# 1 or 2 s): then a digest of its bytes is kept as well. Generous, since it only costs one re-read.
_RACY_NS: Final = 3_000_000_000
_KINDS: Final = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _not_a_store_file(path: str, mode: int) -> StorageIOError:
    return StorageIOError(
        f"{path}: not a store file but {_kind(mode)}; only a regular file (or a symlink to one) is a store, "
        "and nothing was changed"
    )


def _stat_store(path: str) -> os.stat_result | None:
    """The ``stat`` of the store file at ``path``, None if there is none; StorageIOError as store_file_exists."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageIOError(f"{path}: cannot look at the file: {_reason(exc)}") from exc
    if stat.S_ISREG(info.st_mode):
        return info
    error = _not_a_store_file(path, info.st_mode)
    if stat.S_ISDIR(info.st_mode):  # what open() would have said
        raise error from IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    raise error


def store_file_exists(path: str) -> bool:
    """Whether a store file exists at ``path`` (a regular file, or a symlink to one).

    Never opens the path, so a FIFO cannot block. Raises StorageIOError naming
    what is there when it is a folder, FIFO, device or socket, or when the path
    cannot be looked at. One rule for every local store (file stores and
    SQLite): only a regular file is a store file (API.md 7).
    """
    return _stat_store(path) is not None


def check_folder(path: str) -> None:
    """Raise StorageIOError naming the folder when a new store file cannot be created because it is missing."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.lexists(folder) else "does not exist"
        raise StorageIOError(f"{path}: cannot create the store: the folder {folder} {what}")


def check_local_store(path: str, *, write: bool, create: bool) -> bool:
    """What every local open checks first, opening and creating nothing; whether a store file exists at ``path``.

    The rule of file stores and SQLite alike (API.md 7): only a regular file is a
    store (StorageIOError naming what is there); an open that will ``write`` is
    refused a file this user may not write (ReadOnlyError, which names flag
    ``"r"``); one that may ``create`` a missing file needs its folder
    (StorageIOError naming the folder).
    """
    if store_file_exists(path):
        if write and not _may_write(path):
            raise ReadOnlyError(
                f"{path}: this user may not write the store file (its permissions, or a read-only file "
                "system), so it cannot be opened for writing; flag 'r' opens it read-only"
            )
        return True
    if create:
        check_folder(path)
    return False


def _may_write(path: str) -> bool:
    """Whether ``open(path, "r+")`` may write the file, as the kernel decides for this process's
    effective user (mode bits, ACLs, a read-only mount, an immutable file), without opening it."""
    if os.access in os.supports_effective_ids:
        return os.access(path, os.W_OK, effective_ids=True)
    return os.access(path, os.W_OK)  # pragma: no cover  (every Linux has effective_ids)


def _open_nonblocking(path: str, flags: int) -> int:
    """``open()``'s opener: a FIFO put in the file's place since its ``stat`` cannot block the read."""
    return os.open(path, flags | os.O_NONBLOCK)


def _racy(info: os.stat_result, since: int) -> bool:
    """Whether a change made after ``since`` (``time.time_ns()``) might leave the file's timestamps as they are."""
    return max(info.st_mtime_ns, info.st_ctime_ns) >= since - _RACY_NS


def _what_changed(before: os.stat_result | None, now: os.stat_result | None) -> str | None:
    """How the file changed between two ``stat`` results (None: missing); None if it did not."""
    if before is None:
        return None if now is None else "was created"
    if now is None:
        return "was deleted"
    if not stat.S_ISREG(now.st_mode):
        return f"was replaced by {_kind(now.st_mode)}"
    if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
        return "was replaced by another file"
    if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return "was changed"
    if now.st_ctime_ns != before.st_ctime_ns:
        return "was changed (its content with the mtime set back, or its mode, owner or links)"
    return None


@dataclass(frozen=True, slots=True)
class _Seen:
    """The store file as this store last read or wrote it.

    ``info`` is its ``stat`` (None: there was no file); ``digest`` the SHA-256
    of its bytes, kept only while a change might leave the ``stat`` as it was.
    """

    info: os.stat_result | None
    digest: bytes | None = None


class LocalTransport(Transport):
    """A file on the local disk: atomic replace, ``flock`` on a sidecar file, conflicts detected."""

    remote = False
    supports_locking = True
    supports_journal = True

    def __init__(self, path: str | os.PathLike[str], query: Mapping[str, str] | None = None) -> None:
        self.path = os.fspath(path)
        self.query = MappingProxyType(dict(query or {}))
        # Through a symlink, replace the file it points to and keep the link;
        # the lock sits beside that real file, where every opener finds it.
        self._target = os.path.realpath(self.path)
        self._folder, self._name = os.path.split(self._target)
        self.lock_path = self._target + LOCK_SUFFIX
        self.journal_path = self._target + JOURNAL_SUFFIX
        # Where the journal's whole records end, as last read or appended; None: not read yet.
        self._journal_end: int | None = None
        # A file object, not a bare descriptor: a store that is never closed still
        # releases its lock when it is garbage-collected (with a ResourceWarning).
        self._lock_file: BinaryIO | None = None
        # The file as last read, observed or written; None before any of them (nothing to check).
        self._seen: _Seen | None = None

    @classmethod
    def from_url(cls, url: str) -> LocalTransport:
        """A bare path (``notes.json``, ``notes.json?codec=yaml``), ``file:rel`` or ``file:///abs``.

        Raises ValueError for a malformed URL, one naming another host, or a path no file can have.
        """
        local = parse_local(url)
        return cls(local.path, local.query)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"

    def describe(self) -> str:
        return self.path

    # -- reading -------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the store file exists; StorageIOError if that cannot be told or something
        other than a regular file is there (never opened, so a FIFO cannot block)."""
        return store_file_exists(self.path)

    def read(self) -> bytes | None:
        """The whole file, or None if it does not exist; remembered for the conflict check of :meth:`write`.

        Raises StorageIOError on failure, or naming what is there if it is not a regular file.
        """
        since = time.time_ns()
        if not store_file_exists(self.path):
            self._seen = _Seen(None)
            return None
        try:
            with open(self._target, "rb", opener=_open_nonblocking) as file:
                info = os.fstat(file.fileno())
                if not stat.S_ISREG(info.st_mode):  # put there since the stat above
                    raise _not_a_store_file(self.path, info.st_mode)
                data = file.read()
        except FileNotFoundError:
            self._seen = _Seen(None)
            return None
        except StorageError:
            raise
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot read: {_reason(exc)}") from exc
        self._seen = _Seen(info, hashlib.sha256(data).digest() if _racy(info, since) else None)
        return data

    def observe(self) -> bool:
        """Remember the file as it is now without reading it (flag ``"n"`` drops it unread); True if it exists.

        Reads it after all if it changed so recently that a digest is needed. Raises StorageIOError as :meth:`read`.
        """
        since = time.time_ns()
        info = _stat_store(self.path)
        if info is not None and _racy(info, since):
            return self.read() is not None
        self._seen = _Seen(info)
        return info is not None

    # -- writing -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Replace the file atomically (temporary file, fsync, ``os.replace``, folder fsync).

        Raises ConflictError if the file is not the one last read or written
        (nothing written), StorageIOError (its ``__cause__`` the OSError) if
        any step before the rename fails; either way the old file is as it was.
        """
        before = self._check_unchanged()
        fd, temporary = self._create_temporary()
        step = "write"
        try:
            try:
                if before is not None:
                    step = "chown"
                    self._keep_owner(fd, before)
                    step = "chmod"
                    os.fchmod(fd, stat.S_IMODE(before.st_mode))
                step = "write"
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    if written <= 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    view = view[written:]
                # An exact mtime, which no later edit stamped by the kernel's coarse clock has (module docstring).
                step = "utime"
                stamp = time.time_ns()
                os.utime(fd, ns=(stamp, stamp))
                step = "fsync"
                os.fsync(fd)
                step = "fstat"
                made = os.fstat(fd)
            finally:
                os.close(fd)
            self._check_still(before)
            step = "replace"
            os.replace(temporary, self._target)
        except BaseException as exc:
            try:
                os.unlink(temporary)
            except OSError:
                log.warning("%s: cannot remove the temporary file %s", self.path, temporary, exc_info=True)
            if isinstance(exc, OSError) and not isinstance(exc, StorageError):
                raise StorageIOError(
                    f"{self.path}: cannot write ({step} of {os.path.basename(temporary)} failed: "
                    f"{_reason(exc)}); the file is unchanged"
                ) from exc
            raise
        self._seen = self._written(made, stamp, data)
        self._sync_folder()

    def _conflict(self, what: str) -> ConflictError:
        return ConflictError(
            f"{self.path}: the file {what} since this store last read or wrote it (edited by hand, or by a "
            f"program that ignores the lock {self.lock_path}); nothing was overwritten and the changes are "
            "kept: discard() and close(), then reopen to see the other version"
        )

    def _stat_now(self) -> os.stat_result | None:
        """The file's ``stat`` now (following a symlink), None if it is missing; StorageIOError."""
        try:
            return os.stat(self._target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageIOError(
                f"{self.path}: cannot write (cannot look at the file: {_reason(exc)}); the file is unchanged"
            ) from exc

    def _check_unchanged(self) -> os.stat_result | None:
        """The file's ``stat`` now (None: missing), after checking it is the one last read or written.

        Raises ConflictError if it is not, StorageIOError if it cannot be looked at or read.
        """
        now = self._stat_now()
        seen = self._seen
        if seen is None:  # never read (a transport used on its own): nothing to compare with
            if now is not None and not stat.S_ISREG(now.st_mode):
                raise _not_a_store_file(self.path, now.st_mode)
            return now
        what = _what_changed(seen.info, now)
        if what is None and seen.digest is not None and now is not None:
            what = self._compare_bytes(now, seen.digest)
        if what is not None:
            raise self._conflict(what)
        return now

    def _compare_bytes(self, now: os.stat_result, digest: bytes) -> str | None:
        """Read the file again: "was changed" unless it still has the bytes of ``digest``."""
        try:
            with open(self._target, "rb", opener=_open_nonblocking) as file:
                info = os.fstat(file.fileno())
                what = _what_changed(now, info)
                if what is not None:
                    return what
                if hashlib.sha256(file.read()).digest() != digest:
                    return "was changed"
        except FileNotFoundError:
            return "was deleted"
        except OSError as exc:
            raise StorageIOError(
                f"{self.path}: cannot write (cannot read the file to check it is unchanged: {_reason(exc)}); "
                "the file is unchanged"
            ) from exc
        log.debug("%s: same bytes as last read; the check needs only a stat from now on", self.path)
        return None

    def _check_still(self, before: os.stat_result | None) -> None:
        """Right before the rename: ConflictError if the file changed since :meth:`_check_unchanged`."""
        what = _what_changed(before, self._stat_now())
        if what is not None:
            raise self._conflict(what)

    def _written(self, made: os.stat_result, stamp: int, data: bytes) -> _Seen:
        """What the next write compares with, after ``os.replace`` moved our temporary file (``made``) in place."""
        try:
            info = os.stat(self._target)  # the rename changed the ctime
        except OSError:
            info = made
        if (info.st_dev, info.st_ino) != (made.st_dev, made.st_ino):
            info = made  # replaced by someone else already: the next write sees that
        if info.st_mtime_ns == stamp or not _racy(info, stamp):
            return _Seen(info)
        # The file system did not keep the exact mtime (a coarse one): an edit could leave the stat as it is.
        return _Seen(info, hashlib.sha256(data).digest())

    def _keep_owner(self, fd: int, before: os.stat_result) -> None:
        """Give the temporary file the owner and group of the file it replaces, where the process may."""
        try:
            os.fchown(fd, before.st_uid, before.st_gid)
            return
        except PermissionError:
            pass  # only root may give a file away; a member of the group may still set that
        except OSError as exc:
            if exc.errno in _NO_OWNERS:
                return
            raise
        try:
            os.fchown(fd, -1, before.st_gid)
        except PermissionError:
            log.debug("%s: may not keep owner %d and group %d", self.path, before.st_uid, before.st_gid)
        except OSError as exc:
            if exc.errno not in _NO_OWNERS:
                raise

    def _create_temporary(self) -> tuple[int, str]:
        """Create ``.NAME.<random>.tmp`` beside the store; mode 0o666 minus the umask."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        while True:
            temporary = os.path.join(self._folder, f".{self._name}.{secrets.token_hex(8)}.tmp")
            try:
                return os.open(temporary, flags, 0o666), temporary
            except FileExistsError:
                continue
            except OSError as exc:
                raise StorageIOError(
                    f"{self.path}: cannot write (cannot create a temporary file in {self._folder}: "
                    f"{_reason(exc)}); the file is unchanged"
                ) from exc

    def _sync_folder(self) -> None:
        """fsync the folder so that the rename is durable too."""
        try:
            fd = os.open(self._folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno in _NO_FOLDER_SYNC:
                return
            raise StorageIOError(
                f"{self.path}: written, but syncing the folder failed ({_reason(exc)}); the new file may not "
                "survive a power cut"
            ) from exc

    def _remove_stale_temporaries(self) -> None:
        """Remove temporary files a killed writer left; only safe under the exclusive lock."""
        pattern = re.compile(rf"\.{re.escape(self._name)}\.[0-9a-f]{{16}}\.tmp")
        try:
            names = os.listdir(self._folder)
        except OSError:
            return
        for name in names:
            if pattern.fullmatch(name):
                try:
                    os.unlink(os.path.join(self._folder, name))
                    log.info("%s: removed %s, left by a writer that did not finish", self.path, name)
                except OSError:
                    log.warning("%s: cannot remove the stale temporary file %s", self.path, name, exc_info=True)

    # -- locking -------------------------------------------------------------------

    def lock(self, exclusive: bool, timeout: float) -> None:
        """Take ``flock`` on the sidecar file, held until :meth:`close`.

        First, at once and creating nothing: StorageIOError if something other
        than a regular file is at the path; for a writer, ReadOnlyError if this
        user may not write the file, StorageIOError naming a missing folder.
        Then polls for up to ``timeout`` seconds, and raises StorageLockedError
        naming the store. Raises StorageIOError if the sidecar cannot be opened.
        """
        if self._lock_file is not None:
            return
        check_local_store(self.path, write=exclusive, create=exclusive)
        fd = self._open_sidecar(exclusive)
        if fd is None:
            return
        operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + max(timeout, 0.0)
        pause = _FIRST_PAUSE
        try:
            while True:
                try:
                    fcntl.flock(fd, operation)
                    break
                except BlockingIOError:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        kind = "an exclusive" if exclusive else "a shared"
                        raise StorageLockedError(
                            f"{self.path}: the store is locked (another process or open store holds "
                            f"{self.lock_path}); gave up waiting for {kind} lock after {timeout:g} s "
                            "(lock_timeout)"
                        ) from None
                    time.sleep(min(pause, remaining))
                    pause = min(pause * 2, _LONGEST_PAUSE)
                except OSError as exc:
                    raise StorageIOError(f"{self.path}: cannot lock {self.lock_path}: {_reason(exc)}") from exc
        except BaseException:
            os.close(fd)
            raise
        self._lock_file = os.fdopen(fd, "rb", buffering=0)
        if exclusive:
            self._remove_stale_temporaries()

    def _open_sidecar(self, exclusive: bool) -> int | None:
        """Open (or create) the lock file; None for a reader that may not create it."""
        flags = os.O_RDONLY | os.O_CLOEXEC  # flock needs no write access
        try:
            return os.open(self.lock_path, flags | os.O_CREAT, 0o666)
        except OSError as exc:
            if exclusive or exc.errno not in _NOT_ALLOWED:
                raise StorageIOError(
                    f"{self.path}: cannot create the lock file {self.lock_path}: {_reason(exc)}"
                ) from exc
        try:
            return os.open(self.lock_path, flags)
        except FileNotFoundError:
            log.info("%s: may not create %s, so reading without a lock", self.path, self.lock_path)
            return None
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot open the lock file {self.lock_path}: {_reason(exc)}") from exc

    def close(self) -> None:
        """Release the lock (closing the sidecar's descriptor); twice is fine."""
        lock_file, self._lock_file = self._lock_file, None
        if lock_file is not None:
            lock_file.close()

    # -- the journal -----------------------------------------------------------------

    def read_journal(self) -> list[bytes] | None:
        """The journal's whole records (None: no journal); a record cut by a crash is dropped.

        Raises StorageIOError if it cannot be read or is not a regular file,
        CorruptStoreError if a record before the last is damaged.
        """
        try:
            with open(self.journal_path, "rb", opener=_open_nonblocking) as file:
                info = os.fstat(file.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise _not_a_store_file(self.journal_path, info.st_mode)
                data = file.read()
        except FileNotFoundError:
            self._journal_end = 0
            return None
        except StorageError:
            raise
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot read the journal {self.journal_path}: {_reason(exc)}") from exc
        records, end = split_records(data, self.journal_path)
        if end < len(data):
            log.warning(
                "%s: the last %d bytes of the journal are a record cut short (a crash while appending); ignored",
                self.path, len(data) - end,
            )  # fmt: skip
        self._journal_end = end
        return records

    def append_journal(self, record: bytes) -> None:
        """Append one framed record with ``O_APPEND`` and fsync it (and the folder, for a new journal).

        Raises StorageIOError (nothing but a cut record, dropped by readers, is
        left), ConflictError if the journal shrank since it was read.
        """
        framed = frame(record)
        if self._journal_end is None:
            self.read_journal()
        end = self._journal_end or 0
        created = False
        step = "open"
        try:
            try:
                fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            except FileNotFoundError:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
                fd = os.open(self.journal_path, flags, 0o666)
                created = True
            try:
                step = "fstat"
                size = os.fstat(fd).st_size
                if size < end:
                    raise ConflictError(
                        f"{self.path}: the journal {self.journal_path} shrank since this store read it (changed by "
                        "a program that ignores the lock); nothing was appended"
                    )
                if size > end:
                    step = "truncate"
                    os.ftruncate(fd, end)  # a record a crash cut short
                if created:
                    self._like_the_store(fd)
                step = "write"
                view = memoryview(framed)
                while view:
                    written = os.write(fd, view)
                    if written <= 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    view = view[written:]
                step = "fsync"
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            if isinstance(exc, StorageError):
                raise
            raise StorageIOError(
                f"{self.path}: cannot append to the journal {self.journal_path} ({step} failed: {_reason(exc)})"
            ) from exc
        self._journal_end = end + len(framed)
        if created:
            self._sync_folder()

    def _like_the_store(self, fd: int) -> None:
        """Give a new journal the store file's mode, owner and group (where the process may): same data, same eyes."""
        try:
            info = os.stat(self._target)
        except FileNotFoundError:
            return
        self._keep_owner(fd, info)
        os.fchmod(fd, stat.S_IMODE(info.st_mode))

    def remove_journal(self) -> None:
        """Delete the journal (nothing if there is none) and fsync the folder. Raises StorageIOError."""
        try:
            os.unlink(self.journal_path)
        except FileNotFoundError:
            self._journal_end = 0
            return
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot remove the journal {self.journal_path}: {_reason(exc)}") from exc
        self._journal_end = 0
        self._sync_folder()
