"""BufferedBackend: a database backend whose changes wait in a write buffer.

Between syncs, changes live in memory and every read looks through them to
the database; ``sync`` hands the whole buffer to :meth:`BufferedBackend.commit`,
which applies it in one transaction. So no database lock is held between
syncs, several processes can share one database, and ``discard`` just drops
the buffer. SQLite, PostgreSQL and Redis fill in the same six hooks.

Order is a dict's (API.md 3): the stored documents in the order the backend
lists them (``stored_uids`` and ``stored_items`` agree: creation order), then
the documents made since the last sync in the order they were made; keys
likewise. ``Pending`` tells ``commit`` what it needs to keep that order.
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

    ``replace`` True: ``values`` is the whole new document, in its key order.
    ``replace`` False: ``values`` patches the stored document, a None value
    deleting that key; a stored key keeps its place, new keys follow in the
    order of ``values``. ``renewed``: keys of a patch deleted and set again
    since the last sync: ``commit`` removes the stored pair first, so that the
    key comes last, as in a dict. ``recreated``: the document was deleted and
    made again since the last sync (``replace`` is then True): ``commit``
    removes the stored document first, so that it comes last among documents.
    """

    replace: bool
    values: dict[str, bytes | None] = field(default_factory=dict)
    renewed: set[str] = field(default_factory=set)
    recreated: bool = False


class BufferedBackend(Backend):
    """Base for backends over a database: a write buffer plus six hooks.

    ``self.pending`` maps uid -> :class:`Pending`, or None for a deleted
    document, in the order the documents were changed: a document made since
    the last sync sits where it was made (a recreated one moves to the end).
    ``self.cleared`` means every stored document is gone (after ``clear()`` or
    flag ``"n"``) and the database is not consulted.
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
        """Every stored uid, in the order the documents were created."""

    @abstractmethod
    def stored_count(self) -> int:
        """How many documents are stored."""

    @abstractmethod
    def commit(self, cleared: bool, pending: Mapping[str, Pending | None]) -> None:
        """Apply the buffer in one transaction: first delete everything if
        ``cleared``, then each pending change. Raise a StorageError and change
        nothing if it fails."""

    def stored_items(self) -> Iterable[tuple[str, DocumentData]]:
        """Every stored document as (uid, dict), in ``stored_uids`` order; override with one bulk read."""
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
            return _merged(None, change)
        return _merged(None if self.cleared else self.stored_document(uid), change)

    def has_document(self, uid: str) -> bool:
        change = self.pending.get(uid, _NOTHING)
        if change is _NOTHING:
            return not self.cleared and self.stored_has(uid)
        return change is not None

    def uids(self) -> Iterable[str]:
        stored = [] if self.cleared else self.stored_uids()
        pending = dict(self.pending)  # a snapshot: other threads may write while we read
        if not pending:
            return stored
        # Stored documents keep their place (a deleted or recreated one leaves it); new ones follow.
        uids = [uid for uid in stored if _keeps_place(pending.get(uid, _NOTHING))]
        known = set(stored)
        uids.extend(_new_uids(pending, known))
        return uids

    def read_all(self) -> Iterator[tuple[str, DocumentData]]:
        cleared = self.cleared
        pending = dict(self.pending)  # a snapshot: other threads may write while we read
        if not pending:
            if not cleared:
                yield from self.stored_items()
            return
        known: set[str] = set()
        if not cleared:
            for uid, document in self.stored_items():
                known.add(uid)
                change = pending.get(uid, _NOTHING)
                if change is _NOTHING:
                    yield uid, document
                elif _keeps_place(change):
                    assert isinstance(change, Pending)
                    yield uid, _merged(document, change)
        for uid in _new_uids(pending, known):
            change = pending[uid]
            assert isinstance(change, Pending)
            yield uid, _merged(None, change)

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
        change = self.pending.get(uid, _NOTHING)
        if change is None:  # deleted since the last sync: made again, it comes last
            del self.pending[uid]
            self.pending[uid] = Pending(True, document, recreated=True)  # type: ignore[arg-type]
        else:  # replaced in its place
            recreated = isinstance(change, Pending) and change.recreated
            self.pending[uid] = Pending(True, document, recreated=recreated)  # type: ignore[arg-type]

    def write_value(self, uid: str, key: str, value: bytes) -> None:
        change = self.pending.get(uid, _NOTHING)
        if change is _NOTHING:
            # A patch over the stored document, or a new document when nothing stored can be under it.
            self.pending[uid] = Pending(self.cleared, {key: value})
        elif change is None:  # deleted since the last sync: made again, it comes last
            del self.pending[uid]
            self.pending[uid] = Pending(True, {key: value}, recreated=True)
        else:
            assert isinstance(change, Pending)
            values = change.values
            if key in values and values[key] is None:  # deleted in this patch: set again, it comes last
                del values[key]
                change.renewed.add(key)
            values[key] = value

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


def _merged(stored: DocumentData | None, change: Pending) -> DocumentData:
    """The document a change leaves: the replacement, or ``stored`` (a dict the caller owns) patched in dict order."""
    values = dict(change.values)  # a snapshot, for threads writing meanwhile
    if change.replace:
        return {key: value for key, value in values.items() if value is not None}
    document = {} if stored is None else stored
    renewed = change.renewed
    for key, value in values.items():
        if value is None:
            document.pop(key, None)
        else:
            if key in renewed:
                document.pop(key, None)
            document[key] = value
    return document


def _keeps_place(change: object) -> bool:
    """Whether a stored document with this pending change (or none) stays where it is stored."""
    return change is _NOTHING or (isinstance(change, Pending) and not change.recreated)


def _new_uids(pending: Mapping[str, Pending | None], known: set[str]) -> Iterator[str]:
    """The pending documents not in a stored place (new or recreated), in the order they were made."""
    for uid, change in pending.items():
        if change is not None and (change.recreated or uid not in known):
            yield uid
