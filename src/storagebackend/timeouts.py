"""How a driver spells a wait: one rule for "do not wait", "wait forever" and everything between.

Options give seconds, checked at open (``options.py``): 0 means "do not wait",
``math.inf`` "wait forever". Drivers count in their own units, and each has its
own word for forever and its own floor: a socket takes None for forever and 0
as "non-blocking" (not a wait), libpq's ``connect_timeout`` counts whole
seconds from 2, PostgreSQL's ``lock_timeout`` milliseconds with 0 for forever,
SQLite's busy timeout milliseconds in a C int. :func:`driver_timeout` turns
seconds into any of them; :func:`socket_timeout` is the one for sockets (Redis, FTP).
"""

from __future__ import annotations

import math
from typing import Final, TypeVar

__all__ = ["driver_timeout", "socket_timeout"]

F = TypeVar("F")

# A socket's shortest wait (0 would make it non-blocking), and its longest: Python's sockets cannot
# count much past 31 years (OverflowError), so a longer finite wait is forever too.
_SOCKET_LEAST: Final = 0.001
_SOCKET_LONGEST: Final = 1e9


def driver_timeout(
    seconds: float, *, forever: F, longest: float, least: float = 0.0, unit: float = 1.0, whole: bool = False
) -> float | F:
    """``seconds`` as a driver takes it: in ``unit`` per second (1000: milliseconds), rounded up if ``whole``,
    at least ``least``; ``forever`` (the driver's own word) for ``math.inf`` or more than ``longest`` units."""
    amount = seconds * unit
    if not math.isfinite(amount) or amount > longest:
        return forever
    if whole:
        amount = math.ceil(amount)
    return max(amount, least)


def socket_timeout(seconds: float) -> float | None:
    """A socket's timeout for ``seconds``: None waits forever, and 0 ("do not wait") is the least wait, 1 ms."""
    return driver_timeout(seconds, forever=None, longest=_SOCKET_LONGEST, least=_SOCKET_LEAST)
