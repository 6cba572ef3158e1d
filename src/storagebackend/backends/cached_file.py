"""CachedFileBackend: a whole store in one file, held in memory between syncs.

The file is read and decoded once at open; reads and writes are served from
memory (see MemoryBackend); ``sync`` writes the whole file once, atomically,
and only if something changed. With a fragment codec (every built-in one),
each document's encoded fragment is kept, so a sync re-encodes only the
documents changed since the last one; a whole-file codec encodes the whole
store at each sync that has something to write.

Where the file lives is a Transport, found by the URL's scheme (local disk,
FTP, memory, a plugin's); its format is a Codec. This one backend opens every
transport: a new place for a file is a new Transport, not a new backend.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from storagebackend.backends.memory import MemoryBackend
from storagebackend.codecs.base import Codec, FragmentCodec
from storagebackend.codecs.registry import choose_codec
from storagebackend.defaults import LOCK_TIMEOUT
from storagebackend.errors import ConflictError, CorruptStoreError, StoreNotFoundError
from storagebackend.transports.base import Transport
from storagebackend.transports.registry import scheme_of, transport_class

__all__ = ["CachedFileBackend"]

log = logging.getLogger(__name__)


class CachedFileBackend(MemoryBackend):
    """A store in one file of any codec, behind any transport.

    ``codec``: a Codec, a codec name, or None for the one the transport's
    ``?codec=`` or the extension of its path names. Closes the transport if
    the open fails.
    """

    #: The options of the backend itself; each transport adds its own (:meth:`options_for`).
    options: ClassVar[frozenset[str]] = frozenset({"codec"})
    persistent: ClassVar[bool] = True

    def __init__(
        self,
        transport: Transport,
        codec: Codec | str | None = None,
        flag: str = "c",
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        super().__init__(flag)
        self.transport = transport
        self._fragments: dict[str, bytes] = {}
        self._conflict = False  # a write found the file changed by someone else
        try:
            self.codec = choose_codec(transport.path, codec, transport.query, transport.describe())
            self._fragment_codec = self.codec if isinstance(self.codec, FragmentCodec) else None
            if self.flag in ("w", "r") and not transport.exists():
                raise self._not_found()  # before lock(), which may create a lock file
            transport.lock(exclusive=not self.read_only, timeout=float(lock_timeout))
            self._load()
        except BaseException:
            transport.close()
            raise

    @classmethod
    def options_for(cls, scheme: str) -> frozenset[str]:
        """``codec`` and the options of the scheme's transport (``timeout``, ``ssl_context`` for FTP)."""
        return cls.options | transport_class(scheme).options

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> CachedFileBackend:
        """Open the file a URL names on the transport its scheme names (a bare path: a local file).

        Options: ``codec``, ``lock_timeout`` and the transport's own.
        """
        transport_cls = transport_class(scheme_of(url))
        own = {name: options[name] for name in transport_cls.options & set(options)}
        transport = transport_cls.from_url(url, **own)
        return cls(transport, options.get("codec"), flag, options.get("lock_timeout", LOCK_TIMEOUT))

    def describe(self) -> str:
        return self.transport.describe()

    def _load(self) -> None:
        """Read and decode the file (flag ``"n"``: start empty whatever is there)."""
        where = self.transport.describe()
        if self.flag == "n":
            # What is there is dropped, unread where the transport can tell a change without its
            # bytes, but noted: a file changed before the first sync is a conflict, not overwritten.
            exists = self.transport.observe()
            self._must_write = True
            if exists:
                log.info("%s: starting empty (flag 'n'); the file is replaced at the next sync", where)
            elif not self.transport.remote:
                self.sync()  # a local store is created at open
            return
        data = self.transport.read()
        if data is None:
            if self.flag in ("w", "r"):
                raise self._not_found()
            self._must_write = True
            if not self.transport.remote:
                self.sync()  # flag "c" creates a local store at open
            return
        if not data:
            raise CorruptStoreError(
                f"{where}: the file is empty (0 bytes), so it is not a store; open it with flag 'n' to start anew"
            )
        try:
            self._docs = self.codec.decode(data)
        except CorruptStoreError as exc:
            raise CorruptStoreError(f"{where}: {exc}") from exc

    def _not_found(self) -> StoreNotFoundError:
        where = self.transport.describe()
        return StoreNotFoundError(f"{where}: no such store (flag {self.flag!r} needs an existing one)")

    def save(self) -> None:
        """Encode the store (with a fragment codec: only the changed documents, then join), replace the file."""
        try:
            self.transport.write(self._encode())
        except ConflictError:
            self._conflict = True
            raise

    def _encode(self) -> bytes:
        codec = self._fragment_codec
        if codec is None:
            return self.codec.encode(self._docs)
        fragments = self._fragments
        docs = self._docs
        encode = codec.encode_document
        for uid in self.changed():
            document = docs.get(uid)
            if document is None:
                fragments.pop(uid, None)
            else:
                fragments[uid] = encode(uid, document)
        if len(fragments) != len(docs):  # after open or discard: fill in the ones never encoded
            missing = {uid: document for uid, document in docs.items() if uid not in fragments}
            fragments.update(zip(missing, codec.encode_documents(missing), strict=True))
        return codec.join([fragments[uid] for uid in docs])  # the documents' order

    def discard(self) -> None:
        """Drop the changes; after a ConflictError also the pending creation (flag ``"c"``
        on a missing remote file) or emptying (flag ``"n"``), so that ``close()`` can
        succeed and leaves the other version (another writer's, a hand edit) alone."""
        for uid in self.changed():
            self._fragments.pop(uid, None)
        super().discard()
        if self._conflict:
            self._must_write = False

    def close(self) -> None:
        self._fragments = {}
        self.transport.close()
