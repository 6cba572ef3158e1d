"""LocalTransport: a store file on the local disk, replaced atomically and locked.

Writes go to a new temporary file in the same folder (unique name, created
with mode ``0o666`` so the umask applies exactly as for ``open()``), which is
written, fsynced and moved over the store with ``os.replace``; then the folder
is fsynced so the rename itself survives a power cut. A replaced file keeps
its permission bits. A failed write removes its temporary file and leaves the
store byte-identical.

The lock is ``flock`` on a sidecar file beside the store (``notes.json.lock``),
never on the store itself: ``os.replace`` swaps the store's inode, so a lock
on it would stop excluding anyone after the first sync. ``flock`` (not
``fcntl``/``lockf`` record locks) because it belongs to the open file, not to
the process: two stores opened by one process exclude each other too, and
closing some other descriptor of the file never drops the lock. The kernel
releases it when the process dies, so a crash leaves no stale lock. The
sidecar is never deleted: unlinking a lock file others may be waiting on would
let two holders lock two different files.

A shared (read-only) opener in a folder where it may not create the sidecar
reads without a lock: every write is an atomic rename, so it still sees
either the old or the new file, never a mix; it only cannot hold writers off.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import secrets
import stat
import time
from typing import BinaryIO, Final

from storagebackend.errors import StorageIOError, StorageLockedError
from storagebackend.transports.base import Transport

__all__ = ["LOCK_SUFFIX", "LocalTransport", "check_folder", "store_file_exists"]

log = logging.getLogger(__name__)

#: The sidecar lock file is the store's path plus this suffix.
LOCK_SUFFIX: Final = ".lock"
# Errors that mean "you may not create a file here" (read-only folder or file system).
_NOT_ALLOWED: Final = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
# Errors of fsync on a folder from file systems that cannot sync one: nothing to do there.
_NO_FOLDER_SYNC: Final = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})
_FIRST_PAUSE: Final = 0.002
_LONGEST_PAUSE: Final = 0.05


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def store_file_exists(path: str) -> bool:
    """Whether a store file exists at ``path`` (a regular file, or a symlink to one).

    Never opens the path, so a FIFO cannot block. Raises StorageIOError naming
    what is there when it is a folder, FIFO, device or socket, or when the path
    cannot be looked at. One rule for every local store (file stores and
    SQLite): only a regular file is a store file (API.md 7).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StorageIOError(f"{path}: cannot look at the file: {_reason(exc)}") from exc
    if stat.S_ISREG(mode):
        return True
    raise StorageIOError(f"{path}: not a store file but {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}")


def check_folder(path: str) -> None:
    """Raise StorageIOError naming the folder when a new store file cannot be created because it is missing."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StorageIOError(f"{path}: cannot create the store: the folder {folder} does not exist")


_KINDS: Final = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class LocalTransport(Transport):
    """A file on the local disk: atomic replace, ``flock`` on a sidecar file."""

    remote = False
    supports_locking = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        # Through a symlink, replace the file it points to and keep the link;
        # the lock sits beside that real file, where every opener finds it.
        self._target = os.path.realpath(self.path)
        self._folder, self._name = os.path.split(self._target)
        self.lock_path = self._target + LOCK_SUFFIX
        # A file object, not a bare descriptor: a store that is never closed still
        # releases its lock when it is garbage-collected (with a ResourceWarning).
        self._lock_file: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"

    def describe(self) -> str:
        return self.path

    # -- reading -------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the store file exists; StorageIOError if that cannot be told."""
        try:
            os.stat(self._target)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot look at the file: {_reason(exc)}") from exc
        return True

    def read(self) -> bytes | None:
        """The whole file, or None if it does not exist; StorageIOError on failure."""
        try:
            with open(self._target, "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot read: {_reason(exc)}") from exc

    # -- writing -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Replace the file atomically (temporary file, fsync, ``os.replace``, folder fsync).

        Raises StorageIOError (its ``__cause__`` the OSError) and leaves the
        old file as it was when any step before the rename fails.
        """
        try:
            mode: int | None = stat.S_IMODE(os.stat(self._target).st_mode)
        except FileNotFoundError:
            mode = None  # a new file: the umask decides, as for open()
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot write: {_reason(exc)}") from exc
        fd, temporary = self._create_temporary()
        step = "write"
        try:
            try:
                if mode is not None:
                    step = "chmod"
                    os.fchmod(fd, mode)
                step = "write"
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    if written <= 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    view = view[written:]
                step = "fsync"
                os.fsync(fd)
            finally:
                os.close(fd)
            step = "replace"
            os.replace(temporary, self._target)
        except BaseException as exc:
            try:
                os.unlink(temporary)
            except OSError:
                log.warning("%s: cannot remove the temporary file %s", self.path, temporary, exc_info=True)
            if isinstance(exc, OSError):
                raise StorageIOError(
                    f"{self.path}: cannot write ({step} of {os.path.basename(temporary)} failed: "
                    f"{_reason(exc)}); the file is unchanged"
                ) from exc
            raise
        self._sync_folder()

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

        Polls for up to ``timeout`` seconds, then raises StorageLockedError
        naming the store. Raises StorageIOError if the sidecar cannot be opened.
        """
        if self._lock_file is not None:
            return
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
