"""CloseGate: keeps reads that race a ``close()`` from reaching a closed connection.

Storage refuses every call once closed, but a thread that passed that check just
before may still be inside one of its reads when ``close()`` runs, or may start
one just after. A server backend passes every operation through its gate:
``close()`` waits for the operations inside, and every later one raises
StorageClosedError, instead of failing in the driver or quietly reconnecting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from storagebackend.errors import StorageClosedError

__all__ = ["CloseGate"]


class CloseGate:
    """Counts the operations in progress; once closed, lets none in."""

    __slots__ = ("_changed", "_closed", "_inside", "_what")

    def __init__(self, what: str) -> None:
        self._what = what  # for the message: the store's description, never with a password
        self._changed = threading.Condition(threading.Lock())
        self._inside = 0
        self._closed = False

    @contextmanager
    def passage(self) -> Iterator[None]:
        """Run one operation through the gate; raises StorageClosedError once the gate is closed."""
        with self._changed:
            if self._closed:
                raise StorageClosedError(f"{self._what} is closed")
            self._inside += 1
        try:
            yield
        finally:
            with self._changed:
                self._inside -= 1
                if not self._inside:
                    self._changed.notify_all()

    def close(self) -> bool:
        """Let no new operation in and wait for those inside to finish; True the first time only."""
        with self._changed:
            if self._closed:
                return False
            self._closed = True
            self._changed.wait_for(lambda: not self._inside)
            return True
