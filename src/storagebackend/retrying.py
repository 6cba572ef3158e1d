"""Bounded retries with backoff: one policy for every backend and transport that reconnects.

An operation that failed in a way worth another try (a dropped connection, a
server restarting, a deadlock) runs again, at most ``attempts`` times in all,
after a pause that doubles each time (0.2 s, then 0.4 s). Any other failure,
and the last one, reaches the caller as it was raised, to be mapped to a
StorageError there. PostgreSQL and FTP run their operations through
:meth:`Retry.call`; Redis gives the same numbers to redis-py's own retry loop
(:meth:`Retry.pause`), which reconnects by itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

from storagebackend.redaction import scrub

__all__ = ["RETRY", "Retry"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Retry:
    """At most ``attempts`` tries of one operation, waiting ``first_pause`` seconds, then twice as long each time."""

    attempts: int = 3
    first_pause: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1 or not self.first_pause >= 0:
            raise ValueError(f"a Retry needs attempts >= 1 and first_pause >= 0, got {self}")

    def pause(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (1, 2, ...) before the next try."""
        return float(self.first_pause * 2 ** (failures - 1))

    def call(
        self,
        operation: Callable[[], T],
        again: Callable[[Exception], bool],
        what: str,
        secrets: Iterable[str | None] = (),
    ) -> T:
        """Return what ``operation`` returns, trying it again after each failure that ``again`` accepts.

        ``again(exc)`` is asked about every failure, the last one too, so it may
        also tidy up after it (drop a broken connection). The last failure, or
        the first one ``again`` refuses, is raised as it is. Each new try is
        logged (a warning naming ``what``, the message without ``secrets``).
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return operation()
            except Exception as exc:
                if not again(exc) or attempt == self.attempts:
                    raise
                reason = " ".join(scrub(str(exc), secrets).split()) or type(exc).__name__
                log.warning("%s: %s; trying again (%d of %d)", what, reason, attempt + 1, self.attempts)
            time.sleep(self.pause(attempt))
        raise AssertionError("unreachable")  # pragma: no cover


#: The policy of the built-in backends and transports: three tries, 0.2 s and 0.4 s apart.
RETRY: Final = Retry()
