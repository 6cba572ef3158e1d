"""Storage and Document: the mapping API over any backend.

Everything a user calls lands here first, and every method has one shape: check
the state (``_reader()``: not closed; ``_writer()``: not closed nor read-only),
normalise the uid and validate keys and values, then call the backend. So a
closed store says so before judging its input, and backends only see valid input
(see ``backends/base.py``).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, ValuesView
from types import TracebackType
from typing import Any, NoReturn, SupportsIndex, overload

from storagebackend.backends.base import Backend, DocumentData
from storagebackend.defaults import MAX_KEY_LENGTH, MAX_VALUE_SIZE
from storagebackend.errors import (
    DocumentNotFoundError,
    ReadOnlyError,
    StorageClosedError,
)
from storagebackend.uid import UID, uid_hex
from storagebackend.validation import Limits, any_key, update_pairs

__all__ = ["Document", "Storage"]

log = logging.getLogger(__name__)

_MISSING: Any = object()


class Storage(MutableMapping[UID, "Document"]):
    """A store of documents: a ``MutableMapping`` of :class:`UID` -> :class:`Document`.

    Made by :func:`storagebackend.open` or around a backend object. A context
    manager: leaving the ``with`` block syncs and closes. It is the one owner of
    its backend's lock and connection, so it cannot be copied or pickled; one
    garbage-collected while open is closed then, like a ``shelve``.
    """

    def __init__(
        self, backend: Backend, *, max_key_length: int = MAX_KEY_LENGTH, max_value_size: int = MAX_VALUE_SIZE
    ) -> None:
        if not isinstance(backend, Backend):
            raise TypeError(f"Storage needs a Backend, got {type(backend).__name__}")
        self._limits = Limits(max_key_length, max_value_size)
        self._description = backend.describe()
        # Writes, sync, discard and close take this lock; reads take none (see README, Threads).
        self._lock = threading.RLock()
        self._closed = False
        self._backend = backend  # last: from here on the store owns the backend (see __del__)

    # -- properties ------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """The backend object (still available after close, for its flags)."""
        return self._backend

    @property
    def limits(self) -> Limits:
        """The key length and value size limits of this store."""
        return self._limits

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has succeeded."""
        return self._closed

    @property
    def read_only(self) -> bool:
        """True when opened with flag ``"r"`` (the backend's flag says so)."""
        return self._backend.read_only

    def __repr__(self) -> str:
        state = " closed" if self._closed else (" read-only" if self.read_only else "")
        return f"<Storage {self._description}{state}>"

    # -- the state checks: every method calls one of these first, then validates its input ------

    def _reader(self) -> Backend:
        """The backend, for a read; StorageClosedError once the store is closed."""
        if self._closed:
            raise StorageClosedError(f"{self._description} is closed")
        return self._backend

    def _writer(self) -> Backend:
        """The backend, for a write; StorageClosedError once closed, ReadOnlyError under flag ``"r"``."""
        backend = self._reader()
        if backend.read_only:
            raise ReadOnlyError(f"{self._description} is open read-only (flag 'r')")
        return backend

    def _missing(self, uid: str) -> DocumentNotFoundError:
        return DocumentNotFoundError(f"no document {uid} in {self._description}")

    # -- Mapping[UID, Document] ------------------------------------------------------

    def __getitem__(self, uid: UID | str) -> Document:
        backend = self._reader()
        view = Document(self, uid)  # normalises the uid, or raises InvalidUIDError
        if not backend.has_document(view._hex):
            raise self._missing(view._hex)
        return view

    def __contains__(self, uid: object) -> bool:
        backend = self._reader()
        return backend.has_document(uid_hex(uid))

    def __iter__(self) -> Iterator[UID]:
        hex_uids = self._reader().uids()
        return (UID._trusted(hex_uid) for hex_uid in hex_uids)

    def __len__(self) -> int:
        return self._reader().document_count()

    def copy(self) -> dict[UID, dict[str, bytes]]:
        """A plain dict of every document (UID -> dict copy), read in bulk (SQLite: one query)."""
        return {UID._trusted(hex_uid): document for hex_uid, document in self._reader().read_all()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Storage):
            return self.copy() == other.copy()
        if isinstance(other, Mapping):
            return self.copy() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def items(self) -> ItemsView[UID, Document]:
        """(UID, Document) pairs over a snapshot of the uids, without a lookup per document."""
        return _StorageItems(self)

    def values(self) -> ValuesView[Document]:
        """A Document view of each document (over a snapshot of the uids)."""
        return _StorageValues(self)

    def __setitem__(self, uid: UID | str, document: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        with self._lock:
            backend = self._writer()
            hex_uid = uid_hex(uid)
            backend.write_document(hex_uid, self._limits.check_document(document))

    def __delitem__(self, uid: UID | str) -> None:
        with self._lock:
            backend = self._writer()
            hex_uid = uid_hex(uid)
            if not backend.delete_document(hex_uid):
                raise self._missing(hex_uid)

    # -- MutableMapping methods with a better meaning or a faster path ----------------------

    def pop(self, uid: UID | str, default: Any = _MISSING) -> Any:
        """Remove a document and return a plain dict copy of it (a view would be dead)."""
        with self._lock:
            backend = self._writer()
            hex_uid = uid_hex(uid)
            document = backend.read_document(hex_uid)
            if document is None:
                if default is _MISSING:
                    raise self._missing(hex_uid)
                return default
            backend.delete_document(hex_uid)
            return document

    def popitem(self) -> tuple[UID, dict[str, bytes]]:  # type: ignore[override]
        """Remove some document; return its UID and a plain dict copy of it."""
        with self._lock:
            backend = self._writer()
            for hex_uid in backend.uids():
                document = backend.read_document(hex_uid)
                if document is not None:
                    backend.delete_document(hex_uid)
                    return UID._trusted(hex_uid), document
            raise DocumentNotFoundError(f"popitem(): {self._description} is empty")

    def setdefault(self, uid: UID | str, default: Any = None) -> Document:
        """Return the document; if missing, create it from ``default`` (None: empty)."""
        with self._lock:
            backend = self._reader()
            view = Document(self, uid)
            if not backend.has_document(view._hex):
                backend = self._writer()
                backend.write_document(view._hex, self._limits.check_document({} if default is None else default))
            return view

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Create or replace several documents, from what ``dict.update`` accepts; one invalid pair changes nothing.

        Raises InvalidUIDError, InvalidKeyError or InvalidValueError (also for an
        ``other`` that is neither a mapping nor an iterable of pairs).
        """
        with self._lock:
            backend = self._writer()
            checked: list[tuple[str, DocumentData]] = []
            for pairs in (update_pairs(other, "update() argument"), kwargs.items()):
                for uid, document in pairs:
                    checked.append((uid_hex(uid), self._limits.check_document(document)))
            for hex_uid, document in checked:
                backend.write_document(hex_uid, document)

    def clear(self) -> None:
        """Remove every document."""
        with self._lock:
            self._writer().clear()

    # -- the seed's method API ---------------------------------------------------------------

    def create(self, mapping: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> Document:
        """Create a document with a new random UID and return its view."""
        with self._lock:
            backend = self._writer()
            document = self._limits.check_document({} if mapping is None else mapping)
            view = Document(self, UID.new())
            backend.write_document(view._hex, document)
            return view

    def put(self, uid: UID | str, key: str, data: Any) -> None:
        """Set one value, creating the document if it is missing."""
        with self._lock:
            backend = self._writer()
            hex_uid = uid_hex(uid)
            backend.write_value(hex_uid, self._limits.check_key(key), self._limits.check_value(data))

    def get_value(self, uid: UID | str, key: str, default: Any = None) -> Any:
        """Return one value, or ``default`` when the key or the document is missing.

        Any key a store can hold is looked up, even one longer than this opener's limit.
        """
        backend = self._reader()
        value = backend.read_value(uid_hex(uid), any_key(key))
        return default if value is None else value

    def get_document(self, uid: UID | str) -> dict[str, bytes]:
        """Return a plain dict copy of a document; DocumentNotFoundError if missing."""
        backend = self._reader()
        hex_uid = uid_hex(uid)
        document = backend.read_document(hex_uid)
        if document is None:
            raise self._missing(hex_uid)
        return document

    def delete(self, uid: UID | str, key: str) -> bool:
        """Remove one key (any key a store can hold); True if it was there (no error if missing)."""
        with self._lock:
            backend = self._writer()
            return backend.delete_value(uid_hex(uid), any_key(key))

    def delete_document(self, uid: UID | str) -> bool:
        """Remove a document; True if it was there (no error if missing)."""
        with self._lock:
            backend = self._writer()
            return backend.delete_document(uid_hex(uid))

    def count(self, uid: UID | str) -> int:
        """The number of keys in a document (0 if it is missing)."""
        backend = self._reader()
        keys = backend.read_keys(uid_hex(uid))
        return 0 if keys is None else len(keys)

    # -- lifecycle ---------------------------------------------------------------------------

    def sync(self) -> None:
        """Make every change durable; on failure raise and keep the changes."""
        with self._lock:
            self._reader().sync()

    def discard(self) -> None:
        """Drop every change since the last sync (or since the open)."""
        with self._lock:
            self._reader().discard()

    def close(self) -> None:
        """Sync, then release everything; calling it twice is fine.

        If the sync fails, the error is raised and the store stays open with its
        changes: retry, or ``discard()`` and then ``close()``.
        """
        with self._lock:
            if self._closed:
                return
            self._backend.sync()
            self._release()

    def _release(self) -> None:
        """Close the backend without a sync; from here on the store is closed."""
        self._closed = True
        self._backend.close()

    def __del__(self) -> None:
        """Close a store dropped while open, as ``shelve`` does: sync, release, and warn that close() was missing.

        Nothing can be raised from here: a failed sync is logged (its message only:
        a driver's error behind it might show a connection string), and the backend
        is released all the same.
        """
        if "_backend" not in vars(self) or self._closed:
            return  # __init__ raised (the backend is still its caller's), or closed already
        try:
            warnings.warn(f"{self!r} was not closed; closing it now", ResourceWarning, source=self, stacklevel=2)
        finally:
            try:
                self.close()
            except Exception as exc:
                log.error("%s was not closed, and its final sync failed (changes lost): %s", self._description, exc)
                try:
                    self._release()
                except Exception as again:
                    log.error("%s was not closed, and could not be released: %s", self._description, again)

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(
            f"{self!r} cannot be copied or pickled: it alone owns its lock and connection; "
            "store.copy() gives a plain dict of every document"
        )

    def __enter__(self) -> Storage:
        self._reader()  # a closed store cannot be entered again
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Document(MutableMapping[str, bytes]):
    """A live view of one document: a ``MutableMapping`` of ``str`` -> ``bytes``.

    Reads see every earlier write through the same Storage at once. Using a
    view whose document was deleted raises DocumentNotFoundError. ``store[uid]``
    and ``store.create()`` make them; ``Document(store, uid)`` is the same view
    without the existence check of ``store[uid]``.
    """

    __slots__ = ("_hex", "_storage")

    def __init__(self, storage: Storage, uid: UID | str) -> None:
        """A view of document ``uid`` of ``storage``; TypeError for a non-Storage, InvalidUIDError for a bad uid."""
        if not isinstance(storage, Storage):
            raise TypeError(f"Document(storage, uid) needs a Storage, got {type(storage).__name__}")
        self._storage = storage
        self._hex = uid_hex(uid)

    @property
    def uid(self) -> UID:
        """The document's UID (works after the store is closed)."""
        return UID._trusted(self._hex)

    def __repr__(self) -> str:
        return f"<Document {self._hex} of {self._storage!r}>"

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(
            "a Document view cannot be copied or pickled (it belongs to its open store): "
            f"dict(doc) or doc.copy() gives a plain dict of document {self._hex}"
        )

    def _missing(self) -> DocumentNotFoundError:
        return self._storage._missing(self._hex)

    def _writer(self) -> Backend:
        """The store's backend, for a write to this document: it must still exist."""
        backend = self._storage._writer()
        if not backend.has_document(self._hex):
            raise self._missing()
        return backend

    def __getitem__(self, key: str) -> bytes:
        backend = self._storage._reader()
        value = backend.read_value(self._hex, any_key(key))
        if value is not None:
            return value
        if not backend.has_document(self._hex):
            raise self._missing()
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value of ``key``, or ``default`` if the key is missing."""
        try:
            return self[key]
        except DocumentNotFoundError:
            raise
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        backend = self._storage._reader()
        if backend.read_value(self._hex, any_key(key)) is not None:
            return True
        if not backend.has_document(self._hex):
            raise self._missing()
        return False

    def __setitem__(self, key: str, value: Any) -> None:
        with self._storage._lock:
            backend = self._writer()
            limits = self._storage._limits
            backend.write_value(self._hex, limits.check_key(key), limits.check_value(value))

    def __delitem__(self, key: str) -> None:
        with self._storage._lock:
            backend = self._writer()
            key = any_key(key)
            if not backend.delete_value(self._hex, key):
                raise KeyError(key)

    def _keys(self) -> list[str]:
        keys = self._storage._reader().read_keys(self._hex)
        if keys is None:
            raise self._missing()
        return keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def items(self) -> ItemsView[str, bytes]:
        """(key, value) pairs; iterating reads the whole document once (a snapshot)."""
        return _DocumentItems(self)

    def values(self) -> ValuesView[bytes]:
        """The values; iterating reads the whole document once (a snapshot)."""
        return _DocumentValues(self)

    def copy(self) -> dict[str, bytes]:
        """A plain dict copy of the document."""
        document = self._storage._reader().read_document(self._hex)
        if document is None:
            raise self._missing()
        return document

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Document):
            return self.copy() == other.copy()
        if isinstance(other, Mapping):
            return self.copy() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @overload
    def pop(self, key: str, /) -> bytes: ...
    @overload
    def pop(self, key: str, default: Any, /) -> bytes | Any: ...

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (or ``default`` if it is missing)."""
        with self._storage._lock:
            backend = self._writer()
            key = any_key(key)
            value = backend.read_value(self._hex, key)
            if value is None:
                if default is _MISSING:
                    raise KeyError(key)
                return default
            backend.delete_value(self._hex, key)
            return value

    def popitem(self) -> tuple[str, bytes]:
        """Remove the first key and return it with its value."""
        with self._storage._lock:
            backend = self._writer()
            for key in self._keys():
                value = backend.read_value(self._hex, key)
                if value is not None:
                    backend.delete_value(self._hex, key)
                    return key, value
            raise KeyError(f"popitem(): document {self._hex} is empty")

    def setdefault(self, key: str, default: Any = None) -> bytes:
        """Return the value of ``key``; if missing, set it to ``default`` first."""
        with self._storage._lock:  # no other thread's write between the look and the set
            value = self.get(key)
            if value is not None:
                return value  # type: ignore[no-any-return]
            self[key] = default
            return self._storage._limits.check_value(default)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Set several values, from what ``dict.update`` accepts; one invalid pair changes nothing.

        Raises InvalidKeyError or InvalidValueError (also for an ``other`` that is
        neither a mapping nor an iterable of pairs).
        """
        with self._storage._lock:
            backend = self._writer()
            limits = self._storage._limits
            values = limits.check_document(other)
            if kwargs:
                values.update(limits.check_document(kwargs))
            backend.write_values(self._hex, values)

    def clear(self) -> None:
        """Remove every key; the document itself stays."""
        with self._storage._lock:
            self._writer().write_document(self._hex, {})


# Views whose iteration reads in bulk: a snapshot, like iterating the keys, and one
# backend read instead of one per item (for SQLite, one query instead of one per key).


class _StorageItems(ItemsView[UID, Document]):
    _mapping: Storage

    def __iter__(self) -> Iterator[tuple[UID, Document]]:
        storage = self._mapping
        for hex_uid in storage._reader().uids():
            uid = UID._trusted(hex_uid)
            yield uid, Document(storage, uid)


class _StorageValues(ValuesView[Document]):
    _mapping: Storage

    def __iter__(self) -> Iterator[Document]:
        storage = self._mapping
        for hex_uid in storage._reader().uids():
            yield Document(storage, UID._trusted(hex_uid))


class _DocumentItems(ItemsView[str, bytes]):
    _mapping: Document

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return iter(self._mapping.copy().items())


class _DocumentValues(ValuesView[bytes]):
    _mapping: Document

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._mapping.copy().values())
