"""Storage and Document: the mapping API over any backend.

Everything a user calls lands here first: uids are normalised, keys and values
validated, the closed and read-only states checked, all before the backend is
touched. Backends therefore only see valid input (see ``backends/base.py``).
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


class _Closed:
    """Stands in for the backend after ``close()``: any use raises StorageClosedError.

    Swapping the backend out keeps a closed check off every hot path.
    """

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> NoReturn:
        raise StorageClosedError(f"{self._what} is closed")


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
        self._known_keys = self._limits.known_keys  # the read paths' first check of a key
        self._description = backend.describe()
        self._read_only = backend.read_only
        # Writes, sync, discard and close take this lock; reads take none (see README, Threads).
        self._lock = threading.RLock()
        self._backend: Backend = backend
        self._open_backend = backend  # last: from here on the store owns the backend (see __del__)

    # -- properties ------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """The backend object (still available after close, for its flags)."""
        return self._open_backend

    @property
    def limits(self) -> Limits:
        """The key length and value size limits of this store."""
        return self._limits

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has succeeded."""
        return self._backend is not self._open_backend

    @property
    def read_only(self) -> bool:
        """True when opened with flag ``"r"``."""
        return self._read_only

    def __repr__(self) -> str:
        state = " closed" if self.closed else (" read-only" if self._read_only else "")
        return f"<Storage {self._description}{state}>"

    # -- internal checks ---------------------------------------------------------------

    def _writer(self) -> Backend:
        """The backend, for a write: raises if closed or read-only."""
        backend = self._backend
        if backend.flag == "r":  # on a closed store, reading .flag raises StorageClosedError
            raise ReadOnlyError(f"{self._description} is open read-only (flag 'r')")
        return backend

    def _missing(self, uid: str) -> DocumentNotFoundError:
        return DocumentNotFoundError(f"no document {uid} in {self._description}")

    # -- Mapping[UID, Document] ------------------------------------------------------

    # The hot paths take a UID's digits inline. Where a uid must be normalised, the
    # backend's method is looked up first: on a closed store that raises
    # StorageClosedError before any error about the uid.

    def __getitem__(self, uid: UID | str) -> Document:
        backend = self._backend
        if type(uid) is UID:
            hex_uid = uid._hex
            exists = backend.has_document(hex_uid)
        else:
            has_document = backend.has_document
            hex_uid = uid_hex(uid)
            exists = has_document(hex_uid)
        if exists:
            view = Document()  # what _view() does, inline: this is the hottest path
            view._storage = self
            view._hex = hex_uid
            return view
        raise self._missing(hex_uid)

    def __contains__(self, uid: object) -> bool:
        backend = self._backend
        if type(uid) is UID:
            return backend.has_document(uid._hex)
        has_document = backend.has_document
        return has_document(uid_hex(uid))

    def __iter__(self) -> Iterator[UID]:
        trusted = UID._trusted
        return (trusted(hex_uid) for hex_uid in self._backend.uids())

    def __len__(self) -> int:
        return self._backend.document_count()

    def copy(self) -> dict[UID, dict[str, bytes]]:
        """A plain dict of every document (UID -> dict copy), read in bulk (SQLite: one query)."""
        read_all = self._backend.read_all
        trusted = UID._trusted
        return {trusted(hex_uid): document for hex_uid, document in read_all()}

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
            has_document = self._backend.has_document
            hex_uid = uid_hex(uid)
            if has_document(hex_uid):
                return _view(self, hex_uid)
            backend = self._writer()
            backend.write_document(hex_uid, self._limits.check_document({} if default is None else default))
            return _view(self, hex_uid)

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
            hex_uid = UID.new().hex
            backend.write_document(hex_uid, document)
            return _view(self, hex_uid)

    def put(self, uid: UID | str, key: str, data: Any) -> None:
        """Set one value, creating the document if it is missing."""
        with self._lock:
            backend = self._writer()
            hex_uid = uid_hex(uid)
            limits = self._limits
            backend.write_value(hex_uid, limits.check_key(key), limits.check_value(data))

    def get_value(self, uid: UID | str, key: str, default: Any = None) -> Any:
        """Return one value, or ``default`` when the key or the document is missing.

        Any key a store can hold is looked up, even one longer than this opener's limit.
        """
        backend = self._backend
        if type(uid) is UID and type(key) is str and key in self._known_keys:
            value = backend.read_value(uid._hex, key)
        else:
            read_value = backend.read_value  # a closed store says so before the uid or key is judged
            value = read_value(uid_hex(uid), any_key(key))
        return default if value is None else value

    def get_document(self, uid: UID | str) -> dict[str, bytes]:
        """Return a plain dict copy of a document; DocumentNotFoundError if missing."""
        read_document = self._backend.read_document
        hex_uid = uid_hex(uid)
        document = read_document(hex_uid)
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
        read_keys = self._backend.read_keys
        keys = read_keys(uid_hex(uid))
        return 0 if keys is None else len(keys)

    # -- lifecycle ---------------------------------------------------------------------------

    def sync(self) -> None:
        """Make every change durable; on failure raise and keep the changes."""
        with self._lock:
            self._backend.sync()

    def discard(self) -> None:
        """Drop every change since the last sync (or since the open)."""
        with self._lock:
            self._backend.discard()

    def close(self) -> None:
        """Sync, then release everything; calling it twice is fine.

        If the sync fails, the error is raised and the store stays open with its
        changes: retry, or ``discard()`` and then ``close()``.
        """
        with self._lock:
            if self.closed:
                return
            self._backend.sync()
            self._release()

    def _release(self) -> None:
        """Close the backend without a sync; from here on the store is closed."""
        backend = self._backend
        self._backend = _Closed(self._description)  # type: ignore[assignment]
        backend.close()

    def __del__(self) -> None:
        """Close a store dropped while open, as ``shelve`` does: sync, release, and warn that close() was missing.

        Nothing can be raised from here: a failed sync is logged (its message only:
        a driver's error behind it might show a connection string), and the backend
        is released all the same.
        """
        if "_open_backend" not in vars(self) or self.closed:
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
        self._backend.flag  # noqa: B018  entering a closed store raises StorageClosedError
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Document(MutableMapping[str, bytes]):
    """A live view of one document: a ``MutableMapping`` of ``str`` -> ``bytes``.

    Reads see every earlier write through the same Storage at once. Using a
    view whose document was deleted raises DocumentNotFoundError.
    """

    __slots__ = ("_hex", "_storage")
    _storage: Storage
    _hex: str

    # No __init__: Storage makes views (see _view), and a call without one is much cheaper.

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
        backend = self._storage._writer()
        if not backend.has_document(self._hex):
            raise self._missing()
        return backend

    def __getitem__(self, key: str) -> bytes:
        storage = self._storage
        if type(key) is str and key in storage._known_keys:
            value = storage._backend.read_value(self._hex, key)
        else:
            read_value = storage._backend.read_value  # a closed store says so before the key is judged
            value = read_value(self._hex, any_key(key))
        if value is not None:
            return value
        if not storage._backend.has_document(self._hex):
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
        storage = self._storage
        read_value = storage._backend.read_value
        if read_value(self._hex, any_key(key)) is not None:
            return True
        if not storage._backend.has_document(self._hex):
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
        keys = self._storage._backend.read_keys(self._hex)
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
        document = self._storage._backend.read_document(self._hex)
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
        """Remove some key and return it with its value."""
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


def _view(storage: Storage, hex_uid: str) -> Document:
    """The Document view of ``hex_uid`` in ``storage`` (existence is the caller's business)."""
    view = Document()
    view._storage = storage
    view._hex = hex_uid
    return view


# Views whose iteration reads in bulk: a snapshot, like iterating the keys, and one
# backend read instead of one per item (for SQLite, one query instead of one per key).


class _StorageItems(ItemsView[UID, Document]):
    _mapping: Storage

    def __iter__(self) -> Iterator[tuple[UID, Document]]:
        storage = self._mapping
        trusted = UID._trusted
        for hex_uid in storage._backend.uids():
            yield trusted(hex_uid), _view(storage, hex_uid)


class _StorageValues(ValuesView[Document]):
    _mapping: Storage

    def __iter__(self) -> Iterator[Document]:
        storage = self._mapping
        for hex_uid in storage._backend.uids():
            yield _view(storage, hex_uid)


class _DocumentItems(ItemsView[str, bytes]):
    _mapping: Document

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return iter(self._mapping.copy().items())


class _DocumentValues(ValuesView[bytes]):
    _mapping: Document

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._mapping.copy().values())
