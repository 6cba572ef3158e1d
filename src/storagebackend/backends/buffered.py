"""BufferedBackend: a database backend whose changes wait in a write buffer.

Between syncs, changes live in memory and every read looks through them to
the database; ``sync`` hands the whole buffer to :meth:`BufferedBackend.commit`,
which applies it in one transaction. So no database lock is held between
syncs, several processes can share one database, and ``discard`` just drops
the buffer. SQLite, PostgreSQL and Redis fill in the same six hooks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from storagebackend.backends.base import Backend, DocumentData

__all__ = ["BufferedBackend", "Pending"]

# len() looks each pending uid up in the database; past this many, one scan is cheaper.
_LOOKUPS_BEFORE_SCAN = 64


@dataclass(slots=True)
class Pending:
    """The unsynced change of one document.

    ``replace`` True: ``values`` is the whole new document. ``replace`` False:
    ``values`` patches the stored document, a None value deleting that key.
    """

    replace: bool
    values: dict[str, bytes | None] = field(default_factory=dict)


class BufferedBackend(Backend):
    """Base for backends over a database: a write buffer plus six hooks.

    ``self.pending`` maps uid -> :class:`Pending`, or None for a deleted
    document; ``self.cleared`` means every stored document is gone (after
    ``clear()`` or flag ``"n"``) and the database is not consulted.
    """

    def __init__(self, flag: str = "c") -> None:
        super().__init__(flag)
        self.pending: dict[str, Pending | None] = {}
        # Flag "n" starts from nothing; discard() returns there until a sync succeeds.
        self._cleared_at_open = self.flag == "n"
        self.cleared = self._cleared_at_open

    # -- hooks: the stored state, ignoring the buffer ---------------------------

    @abstractmethod
    def stored_value(self, uid: str, key: str) -> bytes | None:
        """The stored value, or None if the key or the document is missing."""

    @abstractmethod
    def stored_document(self, uid: str) -> DocumentData | None:
        """The stored document as a new dict, or None if it is missing."""

    @abstractmethod
    def stored_has(self, uid: str) -> bool:
        """True if the document is stored."""

    @abstractmethod
    def stored_uids(self) -> list[str]:
        """Every stored uid."""

    @abstractmethod
    def stored_count(self) -> int:
        """How many documents are stored."""

    @abstractmethod
    def commit(self, cleared: bool, pending: Mapping[str, Pending | None]) -> None:
        """Apply the buffer in one transaction: first delete everything if
        ``cleared``, then each pending change. Raise a StorageError and change
        nothing if it fails."""

    def stored_items(self) -> Iterable[tuple[str, DocumentData]]:
        """Every stored document as (uid, dict); override with one bulk read."""
        for uid in self.stored_uids():
            document = self.stored_document(uid)
            if document is not None:
                yield uid, document

    # -- reads through the buffer -------------------------------------------------

    def read_value(self, uid: str, key: str) -> bytes | None:
        change = self.pending.get(uid, _NOTHING)
        if change is _NOTHING:
            return None if self.cleared else self.stored_value(uid, key)
        if change is None:
            return None
        assert isinstance(change, Pending)
        if change.replace or key in change.values:
            return change.values.get(key)
        return None if self.cleared else self.stored_value(uid, key)

    def read_document(self, uid: str) -> DocumentData | None:
        change = self.pending.get(uid, _NOTHING)
        if change is None:
            return None
        if change is _NOTHING:
            return None if self.cleared else self.stored_document(uid)
        assert isinstance(change, Pending)
        if change.replace:
            return {k: v for k, v in change.values.items() if v is not None}
        document = (None if self.cleared else self.stored_document(uid)) or {}
        for key, value in dict(change.values).items():  # a snapshot, for threads writing meanwhile
            if value is None:
                document.pop(key, None)
            else:
                document[key] = value
        return document

    def has_document(self, uid: str) -> bool:
        change = self.pending.get(uid, _NOTHING)
        if change is _NOTHING:
            return not self.cleared and self.stored_has(uid)
        return change is not None

    def uids(self) -> Iterable[str]:
        stored = [] if self.cleared else self.stored_uids()
        pending = dict(self.pending)  # a snapshot: other threads may write while we read
        uids = [uid for uid in stored if uid not in pending]
        uids.extend(uid for uid, change in pending.items() if change is not None)
        return uids

    def read_all(self) -> Iterator[tuple[str, DocumentData]]:
        pending = dict(self.pending)  # a snapshot: other threads may write while we read
        if not self.cleared:
            for uid, document in self.stored_items():
                if uid not in pending:
                    yield uid, document
        for uid in pending:
            merged = self.read_document(uid)
            if merged is not None:
                yield uid, merged

    def document_count(self) -> int:
        pending = dict(self.pending)  # a snapshot: other threads may write while we read
        if self.cleared:
            return sum(1 for change in pending.values() if change is not None)
        if not pending:
            return self.stored_count()
        if len(pending) > _LOOKUPS_BEFORE_SCAN:
            return len(list(self.uids()))
        count = self.stored_count()
        for uid, change in pending.items():
            count += (change is not None) - self.stored_has(uid)
        return count

    # -- writes into the buffer ------------------------------------------------------

    def write_document(self, uid: str, document: DocumentData) -> None:
        # Storage hands over a fresh, validated dict that it keeps no reference to: no copy.
        self.pending[uid] = Pending(True, document)  # type: ignore[arg-type]

    def write_value(self, uid: str, key: str, value: bytes) -> None:
        change = self.pending.get(uid)
        if change is None:
            # Nothing pending, or a pending delete: a patch over the stored
            # document, or a new document when nothing stored can be under it.
            self.pending[uid] = Pending(self.cleared or uid in self.pending, {key: value})
        else:
            change.values[key] = value

    def write_values(self, uid: str, values: Mapping[str, bytes]) -> None:
        for key, value in values.items():
            self.write_value(uid, key, value)

    def delete_value(self, uid: str, key: str) -> bool:
        if self.read_value(uid, key) is None:
            return False
        change = self.pending.get(uid)
        if change is None:
            self.pending[uid] = Pending(False, {key: None})
        elif change.replace:
            del change.values[key]
        else:
            change.values[key] = None
        return True

    def delete_document(self, uid: str) -> bool:
        if not self.has_document(uid):
            return False
        self.pending[uid] = None
        return True

    def clear(self) -> None:
        self.pending = {}
        self.cleared = True

    # -- lifecycle -------------------------------------------------------------------------

    def sync(self) -> None:
        if not self.pending and not self.cleared:
            return
        self.commit(self.cleared, self.pending)
        # In this order, a reader in another thread sees the committed data at every moment.
        self.cleared = self._cleared_at_open = False
        self.pending = {}

    def discard(self) -> None:
        self.pending = {}
        self.cleared = self._cleared_at_open


_NOTHING = object()
