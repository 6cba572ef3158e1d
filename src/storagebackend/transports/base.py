"""Transport: where the file of a cached file store lives (local disk, FTP, memory, ...).

Three jobs, nothing more: read the whole file, replace it atomically (only if
nobody else changed it since it was read), and (where possible) lock it
against other processes while the store is open. Optionally a fourth: keep an
append-only *journal* beside the file. Every failure reaches the caller as a
StorageError subclass: each transport maps its own exceptions in one place,
and never shows a password.

A transport is found by the scheme of its URL (:meth:`Transport.from_url`,
through the table of ``transports/registry.py``: built-ins, the
``storagebackend.transports`` entry points, ``register_transport``), and the
cached file backend opens every one of them. Capability flags, not
``isinstance`` checks, tell the backend and the test suite
(``storagebackend.testing.TransportTests``) what a transport can do:
``remote`` (the store is created at the first sync, not at open),
``supports_locking`` (``lock`` keeps other processes out) and
``supports_journal`` (the three journal methods work).

Layers stack: a :class:`~storagebackend.transports.wrapper.TransportWrapper`
is itself a Transport that delegates everything to an inner one, transforming
the bytes on their way down (:meth:`to_inner`) and up (:meth:`from_inner`).
What comes next is each a small subclass of one of these:

- compression (API.md 10): a wrapper whose ``to_inner`` compresses and whose
  ``from_inner`` recognises gzip/xz/zstd from the first bytes (and passes
  anything else through), remembering what it read so that later writes keep
  it; its ``path`` drops the ``.gz`` so the codec is chosen from ``notes.json``.
- encryption (API.md 10): a wrapper whose ``to_inner`` encrypts (AES-256-GCM)
  and ``from_inner`` decrypts or raises WrongKeyError / CorruptStoreError.
  Journal records pass through the same two hooks one by one, so an encrypted
  store's journal is encrypted record by record, and appending needs no
  re-encryption of what is there.
- the journal (API.md 13): the cached file backend appends each sync's changed
  documents as one record (:meth:`append_journal`: durable when it returns),
  replays :meth:`read_journal` at every open (a record cut by a crash is
  dropped by the transport, every whole one before it is returned), and calls
  :meth:`remove_journal` after it rewrote the file. Only where
  ``supports_journal``: an append-only file needs a lock, so FTP and S3 have none.
- S3 (API.md 11): a transport with ``remote = True``, no lock, and a
  conditional write (``If-Match`` on the ETag read, ``If-None-Match: *`` for a
  new object) for the conflict check; :class:`MemoryTransport` checks the same
  way (a version number for the ETag) and is its model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

__all__ = ["Transport"]


class Transport(ABC):
    """Reads and atomically replaces one file; subclasses set :attr:`path` (and :attr:`query`) in ``__init__``."""

    #: The file lives on another host: the store is created at the first sync, not at open.
    remote: bool = False
    #: ``lock`` really keeps other processes out.
    supports_locking: bool = False
    #: The journal methods work (an append-only file beside the store, under the store's lock).
    supports_journal: bool = False
    #: Options of ``open`` this transport's ``from_url`` takes (``timeout``, ``ssl_context``, ...).
    options: ClassVar[frozenset[str]] = frozenset()

    #: The file's path or name as its URL gives it: its extension names the codec.
    path: str
    #: The URL's query parameters, left to the backend (``codec``).
    query: Mapping[str, str] = MappingProxyType({})

    @classmethod
    def from_url(cls, url: str, *args: Any, **options: Any) -> Transport:
        """``Transport.from_url(url, **options)``: the file a URL names, on the transport its scheme names.

        A bare path is a local file (``file``). Subclasses override this to
        parse their own URLs (any keyword signature: hence the ``*args``
        here, which takes nothing). Raises ValueError for an unknown scheme
        or a URL the transport cannot use, TypeError for an option it does
        not take (see :attr:`options`).
        """
        if cls is not Transport:
            raise NotImplementedError(f"{cls.__name__} cannot be opened by URL: it needs a from_url classmethod")
        if args:
            raise TypeError("Transport.from_url() takes its options by keyword")
        from storagebackend.transports.registry import scheme_of, transport_class

        found = transport_class(scheme_of(url))
        unknown = sorted(set(options) - found.options)
        if unknown:
            known = ", ".join(sorted(found.options)) or "none"
            raise TypeError(f"{found.__name__} got an unknown option {unknown[0]!r}; its options: {known}")
        return found.from_url(url, **options)

    @abstractmethod
    def describe(self) -> str:
        """The file's path or URL for messages, never with a password."""

    @abstractmethod
    def read(self) -> bytes | None:
        """Return the whole file, or None if it does not exist; remember it for :meth:`write`'s check.

        Raises StorageIOError or BackendUnavailableError on failure.
        """

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Replace the whole file atomically: afterwards it holds either the old
        bytes or ``data``, never a mix, even if the process dies.

        Raises StorageIOError, BackendUnavailableError, or ConflictError (when
        the file is not the one last read, observed or written: someone else
        changed, replaced, created or deleted it; nothing was written). A
        transport that never read the file has nothing to compare and writes.
        """

    def observe(self) -> bool:
        """Remember the file as it is now, as :meth:`read` does, for a store that drops it unread (flag ``"n"``).

        Returns whether it exists. This default reads it; a transport that can
        tell a change without the bytes (a local ``stat``) overrides it.
        Raises as :meth:`read`.
        """
        return self.read() is not None

    def exists(self) -> bool:
        """Whether the file exists now; a cheap hint, :meth:`read` has the last word.

        Asked before :meth:`lock` by an opener that must create nothing on a
        missing store (flags ``"w"``, ``"r"``), because a lock may create a file.
        A transport whose lock creates nothing may keep this default, True.
        Raises StorageIOError or BackendUnavailableError on failure.
        """
        return True

    def lock(self, exclusive: bool, timeout: float) -> None:  # noqa: B027  no lock is a valid answer
        """Hold a lock until :meth:`close`: exclusive for writers, shared for readers.

        Waits up to ``timeout`` seconds, then raises StorageLockedError. Without
        ``supports_locking`` it does nothing.
        """

    def close(self) -> None:  # noqa: B027  nothing to release is a valid answer
        """Release the lock and any connection; twice is fine."""

    # -- the journal: an append-only file beside the store (only where supports_journal) ---------------

    def read_journal(self) -> list[bytes] | None:
        """Every whole record of the journal, in order; None if there is none.

        A record cut short by a crash (the last one) is dropped; damage before
        the last record is CorruptStoreError. This default: None, as a
        transport without a journal never has one. Raises StorageIOError.
        """
        return None

    def append_journal(self, record: bytes) -> None:
        """Append one record to the journal (created if missing), durably before returning.

        A failure leaves at most a cut record, which :meth:`read_journal` drops.
        Raises StorageIOError; NotImplementedError without ``supports_journal``.
        """
        raise NotImplementedError(f"{type(self).__name__} keeps no journal (supports_journal is False)")

    def remove_journal(self) -> None:  # noqa: B027  no journal, nothing to remove
        """Remove the journal (nothing if there is none), durably. Raises StorageIOError."""
