"""MemoryTransport: "files" in this process's memory, by name, with hooks that inject faults.

A real transport, like httpx's ``MockTransport``: the cached file backend is
tested against the Transport contract with it (a full disk at write, a
dropped connection, a file changed behind the store's back, a slow write),
and users test their own code with it: ``sb.open("memfile://notes.json")``
opens a store whose file lives in memory, encoded by the codec its extension
names, until the process ends.

Every MemoryTransport of one name shares one file, so two stores of that
name can conflict, and fault hooks set through any of them (a new
``MemoryTransport("notes.json")`` in a test, say) act on that file, like a
full disk acts on every program writing to it.

Conflicts are detected like an object store's conditional write (the S3
transport's model): each change of the file gets a new version number, and a
write succeeds only if the version is still the one this transport last read,
observed or wrote, checked and committed in one step. By default there is no
lock (``supports_locking`` False), like FTP or S3; ``locking=True`` (also an
option of ``open``) adds one that excludes other transports of this process,
like a local file's, and with it the journal (``supports_journal``), which
needs a lock.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar, Final, NamedTuple, NoReturn

from storagebackend.errors import (
    BackendUnavailableError,
    ConflictError,
    StorageError,
    StorageIOError,
    StorageLockedError,
)
from storagebackend.transports.base import Transport
from storagebackend.urls import parse_local

__all__ = ["SCHEME", "MemoryTransport"]

#: URLs of memory files: ``memfile://NAME`` (``memfile:NAME`` too).
SCHEME: Final = "memfile"


class _Fault(NamedTuple):
    error: BaseException
    done: bool  # the operation happens, then the error is raised (a reply lost after the change)


@dataclass
class _File:
    """One named file: its bytes, version, journal, pending faults and lock holders."""

    data: bytes | None = None
    version: int = 0
    writes: int = 0
    journal: list[bytes] | None = None
    write_delay: float = 0.0
    faults: dict[str, list[_Fault]] = field(default_factory=dict)
    readers: int = 0
    writer: bool = False


#: What a name without an entry reads as; never changed.
_NOTHING: Final = _File()


class _Seen(NamedTuple):
    version: int
    existed: bool


class MemoryTransport(Transport):
    """A file in memory, shared by every MemoryTransport of the same name; conflicts by version number."""

    remote = False
    options: ClassVar[frozenset[str]] = frozenset({"locking"})

    # Every memory file of the process, and one condition that guards them all (and wakes lock waiters).
    _files: ClassVar[dict[str, _File]] = {}
    _guard: ClassVar[threading.Condition] = threading.Condition()

    def __init__(self, name: str, *, locking: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a memory file needs a name, got {name!r}")
        if not isinstance(locking, bool):
            raise TypeError(f"locking must be True or False, got {type(locking).__name__} {locking!r}")
        self.name = self.path = name
        self.scheme = SCHEME  # for describe(): the scheme of the URL it was opened by
        self.supports_locking = self.supports_journal = locking
        self._seen: _Seen | None = None  # the version last read, observed or written; None: never
        self._held: bool | None = None  # the lock held: True exclusive, False shared, None none

    @classmethod
    def from_url(cls, url: str, *, locking: bool = False) -> MemoryTransport:
        """``memfile://NAME[?codec=NAME]`` (NAME percent-decoded; any scheme it is registered under).

        Raises ValueError if the URL names nothing.
        """
        scheme, colon, rest = url.partition(":")
        if not colon or not scheme:
            raise ValueError(f"URL {url!r} has no scheme: expected {SCHEME}://NAME")
        local = parse_local(f"{SCHEME}:{rest.removeprefix('//')}")
        transport = cls(local.path, locking=locking)
        transport.query = local.query
        transport.scheme = scheme.lower()
        return transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    @property
    def _file(self) -> _File:
        """The file's entry, to look at: a name nothing was done to reads as an empty file (and costs nothing)."""
        return self._files.get(self.name, _NOTHING)

    def _entry(self) -> _File:
        """The file's entry, to change: made on first need. Call with the guard held."""
        return self._files.setdefault(self.name, _File())

    def describe(self) -> str:
        return f"{self.scheme}://{self.name}"

    # -- fault hooks (they act on the file, through any transport of its name) -------------------------

    def fail_next_read(self, error: BaseException | None = None) -> None:
        """The next look at the file (``read``, ``observe``, ``exists``) raises ``error``, mapped as a real
        transport maps its failures; default: an I/O error (EIO)."""
        self._add_fault("read", error or OSError(errno.EIO, os.strerror(errno.EIO)), done=False)

    def fail_next_write(self, error: BaseException | None = None, *, done: bool = False) -> None:
        """The next ``write`` raises ``error`` (default: a full disk, ENOSPC) and leaves the file as it was;
        with ``done=True`` it replaces the file first (a reply lost after the rename, a folder fsync that failed).

        ``ConnectionResetError()`` is a dropped connection (BackendUnavailableError); a StorageError is raised as it is.
        """
        self._add_fault("write", error or OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), done=done)

    def fail_next_append(self, error: BaseException | None = None) -> None:
        """The next ``append_journal`` raises ``error`` (default: a full disk) and appends nothing."""
        self._add_fault("append", error or OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), done=False)

    def change_behind(self, data: bytes | None) -> None:
        """Another program replaces the file with ``data`` (None: deletes it), ignoring every lock."""
        with self._guard:
            file = self._entry()
            file.data = None if data is None else bytes(data)
            file.version += 1

    @property
    def write_delay(self) -> float:
        """Seconds each write of the file waits before it checks and commits (a slow disk or network)."""
        return self._file.write_delay

    @write_delay.setter
    def write_delay(self, seconds: float) -> None:
        with self._guard:
            self._entry().write_delay = float(seconds)

    @property
    def data(self) -> bytes | None:
        """The file's bytes now (None: missing), for tests to look at."""
        return self._file.data

    @property
    def writes(self) -> int:
        """How many writes replaced the file so far (``change_behind`` not counted)."""
        return self._file.writes

    def _add_fault(self, operation: str, error: BaseException, *, done: bool) -> None:
        if not isinstance(error, BaseException):
            raise TypeError(f"a fault is an exception, got {type(error).__name__}")
        with self._guard:
            self._entry().faults.setdefault(operation, []).append(_Fault(error, done))

    def _take_fault(self, operation: str) -> _Fault | None:
        with self._guard:
            pending = self._file.faults.get(operation)
            return pending.pop(0) if pending else None

    def _raise(self, fault: _Fault, what: str) -> NoReturn:
        """Raise a fault as the StorageError a real transport maps it to, the fault as its cause."""
        error = fault.error
        if isinstance(error, StorageError):
            raise error
        message = f"{self.describe()}: {what} failed: {error}"
        if isinstance(error, (ConnectionError, TimeoutError)):
            raise BackendUnavailableError(message) from error
        raise StorageIOError(message) from error

    # -- the contract ----------------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the file exists; raises a pending read fault."""
        self._look()
        return self._file.data is not None

    def read(self) -> bytes | None:
        """The file's bytes (None: missing), remembered by version for :meth:`write`'s check."""
        self._look()
        with self._guard:
            data = self._file.data
            self._seen = _Seen(self._file.version, data is not None)
        return data

    def observe(self) -> bool:
        """Remember the file's version without reading it; True if it exists."""
        self._look()
        with self._guard:
            self._seen = _Seen(self._file.version, self._file.data is not None)
            return self._seen.existed

    def _look(self) -> None:
        fault = self._take_fault("read")
        if fault is not None:
            self._raise(fault, "read")

    def write(self, data: bytes) -> None:
        """Replace the file if its version is still the one last seen (one step); else ConflictError."""
        fault = self._take_fault("write")
        delay = self._file.write_delay
        if delay > 0:
            time.sleep(delay)
        if fault is not None and not fault.done:
            self._raise(fault, "write")
        with self._guard:
            file = self._entry()
            seen = self._seen
            if seen is not None and file.version != seen.version:
                now = file.data is not None
                what = "was created" if now and not seen.existed else "was deleted" if not now else "was changed"
                raise ConflictError(
                    f"{self.describe()}: the file {what} since this store last read or wrote it; nothing was "
                    "overwritten and the changes are kept: discard() and close(), then reopen to see the other version"
                )
            file.data = bytes(data)
            file.version += 1
            file.writes += 1
            self._seen = _Seen(file.version, True)
        if fault is not None:
            self._raise(fault, "write")

    def lock(self, exclusive: bool, timeout: float) -> None:
        """With ``locking``: hold an exclusive or shared lock until :meth:`close`, waiting up to ``timeout``
        seconds (then StorageLockedError). Without it: nothing."""
        if not self.supports_locking or self._held is not None:
            return
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._guard:
            file = self._entry()
            while file.writer or (exclusive and file.readers):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    kind = "an exclusive" if exclusive else "a shared"
                    raise StorageLockedError(
                        f"{self.describe()}: the store is locked (another open store holds it); gave up waiting "
                        f"for {kind} lock after {timeout:g} s (lock_timeout)"
                    )
                self._guard.wait(remaining)
            if exclusive:
                file.writer = True
            else:
                file.readers += 1
            self._held = exclusive

    def close(self) -> None:
        """Release the lock; twice is fine."""
        held, self._held = self._held, None
        if held is None:
            return
        with self._guard:
            file = self._entry()
            if held:
                file.writer = False
            else:
                file.readers -= 1
            self._guard.notify_all()

    # -- the journal (with locking) ---------------------------------------------------------------------

    def read_journal(self) -> list[bytes] | None:
        if not self.supports_journal:
            return None
        with self._guard:
            journal = self._file.journal
            return None if journal is None else list(journal)

    def append_journal(self, record: bytes) -> None:
        if not self.supports_journal:
            super().append_journal(record)
        fault = self._take_fault("append")
        if fault is not None:
            self._raise(fault, "journal append")
        with self._guard:
            file = self._entry()
            file.journal = [*(file.journal or ()), bytes(record)]

    def remove_journal(self) -> None:
        if not self.supports_journal:
            return
        with self._guard:
            if self.name in self._files:
                self._files[self.name].journal = None
