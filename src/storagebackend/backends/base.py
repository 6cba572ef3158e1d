"""Backend: the small contract between Storage and the place documents live.

Storage validates every uid, key and value, checks the flag and whether the store
is closed, and implements the whole mapping API; a backend only stores and
fetches already valid, normalised data: uids as 32 lower-case hex digits,
keys as ``str`` and values as ``bytes``.

A backend subclasses :class:`Backend` and fills in nine methods (four reads,
four writes, ``sync``/``discard``); the other methods have defaults built on
those and may be overridden where the backend has something faster. Two
ready-made bases cover the usual shapes:

- :class:`~storagebackend.backends.memory.MemoryBackend`: everything in a dict,
  with an undo log for ``discard``; file backends extend it with load and save.
- :class:`~storagebackend.backends.buffered.BufferedBackend`: the data lives in
  a database; changes wait in a write buffer that reads see through, and
  ``sync`` applies them in one transaction.

Every failure a backend meets must reach the caller as a
:class:`~storagebackend.StorageError` subclass: each backend maps its own
driver's exceptions in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

__all__ = ["FLAGS", "Backend", "DocumentData", "check_flag"]

#: The flags of ``dbm.open``: create if missing, must exist, read-only, always new.
FLAGS: Final = ("c", "w", "r", "n")

#: A document as backends hold it: key -> value, already validated.
DocumentData = dict[str, bytes]


def check_flag(flag: object) -> str:
    """Return ``flag`` if it is one of c, w, r, n; else raise ValueError."""
    if flag not in FLAGS:
        raise ValueError(f"invalid flag {flag!r}: expected one of 'c', 'w', 'r', 'n' (as in dbm.open)")
    return str(flag)


class Backend(ABC):
    """Stores documents for a :class:`~storagebackend.Storage`.

    Subclasses set the capability flags below, take ``flag`` in their
    constructor (and raise ``StoreNotFoundError`` for ``"w"``/``"r"`` on a
    missing store), and implement the abstract methods.
    """

    #: URL schemes this backend opens, for the registry (e.g. ``("sqlite",)``).
    schemes: ClassVar[tuple[str, ...]] = ()
    #: Options this backend's ``from_url`` accepts beyond the common ones (see :meth:`options_for`).
    options: ClassVar[frozenset[str]] = frozenset()
    #: Data survives ``close()`` and can be opened again.
    persistent: ClassVar[bool] = True

    def __init__(self, flag: str = "c") -> None:
        self.flag = check_flag(flag)

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> Backend:
        """Open the store a URL names; ``options`` are limited to :attr:`options`.

        Raise ValueError for a URL this backend cannot use.
        """
        raise NotImplementedError(f"{cls.__name__} cannot be opened by URL")

    @classmethod
    def options_for(cls, scheme: str) -> frozenset[str]:
        """The options ``from_url`` accepts for URLs of ``scheme``, beyond the common ones; ``open`` refuses
        any other. This default: :attr:`options`, whatever the scheme."""
        return cls.options

    @property
    def read_only(self) -> bool:
        """True when the store was opened with flag ``"r"``."""
        return self.flag == "r"

    def describe(self) -> str:
        """A short description for ``repr`` (a URL or path), never with a password."""
        return type(self).__name__

    # -- reads ---------------------------------------------------------------

    @abstractmethod
    def read_value(self, uid: str, key: str) -> bytes | None:
        """Return the value of ``key``, or None if the key or the document is missing."""

    @abstractmethod
    def read_document(self, uid: str) -> DocumentData | None:
        """Return a new dict with the document's pairs, or None if it is missing."""

    @abstractmethod
    def uids(self) -> Iterable[str]:
        """Return the uids of all documents (a snapshot or a live view)."""

    def has_document(self, uid: str) -> bool:
        """Return True if the document exists (it may have no keys)."""
        return self.read_document(uid) is not None

    def read_keys(self, uid: str) -> list[str] | None:
        """Return the document's keys, or None if it is missing."""
        document = self.read_document(uid)
        return None if document is None else list(document)

    def read_all(self) -> Iterator[tuple[str, DocumentData]]:
        """Every document as (uid, new dict), for ``Storage.copy``; override with one bulk read."""
        for uid in list(self.uids()):
            document = self.read_document(uid)
            if document is not None:
                yield uid, document

    def document_count(self) -> int:
        """Return how many documents exist."""
        return sum(1 for _ in self.uids())

    # -- writes --------------------------------------------------------------

    @abstractmethod
    def write_document(self, uid: str, document: DocumentData) -> None:
        """Create or replace a whole document; the backend may keep ``document``."""

    @abstractmethod
    def write_value(self, uid: str, key: str, value: bytes) -> None:
        """Set one value, creating the document if it is missing."""

    @abstractmethod
    def delete_value(self, uid: str, key: str) -> bool:
        """Remove one key; return True if it existed."""

    @abstractmethod
    def delete_document(self, uid: str) -> bool:
        """Remove a document; return True if it existed."""

    def write_values(self, uid: str, values: Mapping[str, bytes]) -> None:
        """Set several values of one document at once (for ``Document.update``)."""
        for key, value in values.items():
            self.write_value(uid, key, value)

    def clear(self) -> None:
        """Remove every document."""
        for uid in list(self.uids()):
            self.delete_document(uid)

    # -- lifecycle -----------------------------------------------------------

    @abstractmethod
    def sync(self) -> None:
        """Make every change durable; write nothing when nothing changed.

        On failure raise a StorageError and keep the changes for a retry.
        """

    @abstractmethod
    def discard(self) -> None:
        """Drop every change since the last successful sync (or since the open)."""

    def close(self) -> None:  # noqa: B027  optional hook: most backends hold something to release
        """Release connections, locks and memory; Storage has already synced."""
