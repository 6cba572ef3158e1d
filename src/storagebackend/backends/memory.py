"""MemoryBackend: documents in a dict, with an undo log so ``discard`` works.

``memory://`` stores use it directly (nothing is persisted); the cached file
backend extends it with a load at open and a save at ``sync``, using
:meth:`MemoryBackend.changed` to know which documents to re-encode.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from storagebackend.backends.base import Backend, DocumentData
from storagebackend.errors import StoreNotFoundError

__all__ = ["MemoryBackend"]


class MemoryBackend(Backend):
    """Keeps every document in memory.

    ``_undo`` maps each uid changed since the last sync to the dict it had
    then (None if it did not exist). A changed document gets a new dict on its
    first change, so the old one stays intact for ``discard``: copy on write,
    once per document and sync.
    """

    schemes: ClassVar[tuple[str, ...]] = ("memory",)
    persistent: ClassVar[bool] = False

    def __init__(self, flag: str = "c", documents: Mapping[str, DocumentData] | None = None) -> None:
        super().__init__(flag)
        self._docs: dict[str, DocumentData] = {uid: dict(doc) for uid, doc in (documents or {}).items()}
        self._undo: dict[str, DocumentData | None] = {}
        # The documents' order at the last sync, noted at the first delete after it: a document
        # put back by discard() returns to its place, not to the end of the dict.
        self._order: list[str] | None = None
        # Flag "n" makes the empty start a change of its own, kept until a sync succeeds.
        self._must_write = self.flag == "n"

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> MemoryBackend:
        """Open ``memory://``: always a new, empty store, so ``"w"``/``"r"`` fail."""
        if flag in ("w", "r"):
            raise StoreNotFoundError(f"{url}: a memory store never exists before it is opened (flag {flag!r})")
        return cls(flag)

    def describe(self) -> str:
        return "memory://"

    # -- reads ---------------------------------------------------------------

    def read_value(self, uid: str, key: str) -> bytes | None:
        doc = self._docs.get(uid)
        return None if doc is None else doc.get(key)

    def read_document(self, uid: str) -> DocumentData | None:
        doc = self._docs.get(uid)
        return None if doc is None else dict(doc)

    def read_keys(self, uid: str) -> list[str] | None:
        doc = self._docs.get(uid)
        return None if doc is None else list(doc)

    def has_document(self, uid: str) -> bool:
        return uid in self._docs

    def uids(self) -> Iterable[str]:
        return list(self._docs)  # a snapshot: another thread may write while the caller iterates

    def read_all(self) -> Iterator[tuple[str, DocumentData]]:
        return ((uid, dict(doc)) for uid, doc in list(self._docs.items()))

    def document_count(self) -> int:
        return len(self._docs)

    # -- writes --------------------------------------------------------------

    def _for_update(self, uid: str) -> DocumentData:
        """Return the document's dict, safe to change in place (created if missing)."""
        if uid not in self._undo:
            old = self._docs.get(uid)
            self._undo[uid] = old
            doc: DocumentData = {} if old is None else dict(old)
            self._docs[uid] = doc
            return doc
        doc_or_none = self._docs.get(uid)
        if doc_or_none is None:
            doc_or_none = self._docs[uid] = {}
        return doc_or_none

    def write_document(self, uid: str, document: DocumentData) -> None:
        if uid not in self._undo:
            self._undo[uid] = self._docs.get(uid)
        self._docs[uid] = document

    def write_value(self, uid: str, key: str, value: bytes) -> None:
        self._for_update(uid)[key] = value

    def write_values(self, uid: str, values: Mapping[str, bytes]) -> None:
        self._for_update(uid).update(values)

    def delete_value(self, uid: str, key: str) -> bool:
        doc = self._docs.get(uid)
        if doc is None or key not in doc:
            return False
        del self._for_update(uid)[key]
        return True

    def delete_document(self, uid: str) -> bool:
        if uid not in self._docs:
            return False
        if self._order is None:
            self._order = list(self._docs)
        if uid not in self._undo:
            self._undo[uid] = self._docs[uid]
        del self._docs[uid]
        return True

    def clear(self) -> None:
        if self._order is None:
            self._order = list(self._docs)
        for uid, doc in self._docs.items():
            if uid not in self._undo:
                self._undo[uid] = doc
        self._docs = {}

    # -- lifecycle -----------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when a sync has something to write."""
        return self._must_write or bool(self._undo)

    def changed(self) -> set[str]:
        """The uids of the documents created, changed or deleted since the last sync."""
        return set(self._undo)

    def sync(self) -> None:
        if not self.dirty:
            return
        self.save()
        self._undo.clear()
        self._order = None
        self._must_write = False

    def save(self) -> None:
        """Persist the current documents; called by ``sync`` only when something changed.

        Subclasses override it; on failure they raise and ``sync`` keeps the changes.
        """

    def discard(self) -> None:
        for uid, old in self._undo.items():
            if old is None:
                self._docs.pop(uid, None)
            else:
                self._docs[uid] = old
        self._undo.clear()
        if self._order is not None:
            docs = self._docs
            self._docs = {uid: docs[uid] for uid in self._order if uid in docs}
            self._order = None
