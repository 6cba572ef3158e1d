"""Transport: where the file of a cached file store lives (local disk, FTP, ...).

Three jobs, nothing more: read the whole file, replace it atomically (only if
nobody else changed it since it was read), and (where possible) lock it
against other processes while the store is open.
Every failure reaches the caller as a StorageError subclass: each transport
maps its own exceptions, and never shows a password.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

__all__ = ["Transport"]


class Transport(ABC):
    """Reads and atomically replaces one file."""

    #: The file lives on another host: the store is created at the first sync, not at open.
    remote: ClassVar[bool] = False
    #: ``lock`` really keeps other processes out.
    supports_locking: ClassVar[bool] = False

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
        changed, replaced, created or deleted it; nothing was written).
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

        Waits up to ``timeout`` seconds, then raises StorageLockedError.
        """

    def close(self) -> None:  # noqa: B027  nothing to release is a valid answer
        """Release the lock and any connection."""
