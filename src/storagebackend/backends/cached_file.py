"""CachedFileBackend: a whole store in one file, held in memory between syncs.

The file is read and decoded once at open; reads and writes are served from
memory (see MemoryBackend); ``sync`` writes the whole file once, atomically,
and only if something changed. Each document's encoded fragment is kept, so a
sync re-encodes only the documents changed since the last one.

Where the file lives is a Transport (local disk, FTP); its format is a Codec.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from storagebackend.backends.memory import MemoryBackend
from storagebackend.codecs.base import Codec
from storagebackend.defaults import FTP_TIMEOUT, LOCK_TIMEOUT
from storagebackend.errors import ConflictError, CorruptStoreError, StoreNotFoundError
from storagebackend.registry import codec_by_name, codec_for_path
from storagebackend.transports.base import Transport
from storagebackend.urls import parse_local

__all__ = ["CachedFileBackend", "FTPFileBackend", "choose_codec"]

log = logging.getLogger(__name__)


def choose_codec(path: str, codec: Codec | str | None, query: dict[str, str], url: str) -> Codec:
    """The codec from the ``codec=`` option, else ``?codec=``, else the path's extension."""
    query = dict(query)
    from_query = query.pop("codec", None)
    if query:
        raise ValueError(f"unknown query parameter {next(iter(query))!r} in URL {url!r}; only 'codec' is allowed")
    if isinstance(codec, Codec):
        return codec
    if codec is not None and not isinstance(codec, str):
        raise TypeError(f"codec must be a codec name or a Codec, got {type(codec).__name__}")
    name = codec or from_query
    return codec_by_name(name) if name else codec_for_path(path)


class CachedFileBackend(MemoryBackend):
    """A store in one file of any codec, behind any transport."""

    schemes: ClassVar[tuple[str, ...]] = ("file",)
    options: ClassVar[frozenset[str]] = frozenset({"codec"})
    persistent: ClassVar[bool] = True

    def __init__(self, transport: Transport, codec: Codec, flag: str = "c", lock_timeout: float = LOCK_TIMEOUT) -> None:
        super().__init__(flag)
        self.transport = transport
        self.codec = codec
        self._fragments: dict[str, bytes] = {}
        self._conflict = False  # a write found the file changed by someone else
        try:
            if self.flag in ("w", "r") and not transport.exists():
                raise self._not_found()  # before lock(), which may create a lock file
            transport.lock(exclusive=not self.read_only, timeout=float(lock_timeout))
            self._load()
        except BaseException:
            transport.close()
            raise

    @property
    def supports_locking(self) -> bool:  # type: ignore[override]
        """Whether the transport really locks (local files do, FTP cannot)."""
        return self.transport.supports_locking

    @property
    def remote(self) -> bool:  # type: ignore[override]
        """Whether the file lives on another host."""
        return self.transport.remote

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> CachedFileBackend:
        """Open a local file: a bare path, ``file:rel`` or ``file:///abs``."""
        from storagebackend.transports.local import LocalTransport

        local = parse_local(url)
        codec = choose_codec(local.path, options.get("codec"), local.query, url)
        return cls(LocalTransport(local.path), codec, flag, options.get("lock_timeout", LOCK_TIMEOUT))

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
        """Re-encode the changed documents, join all fragments, replace the file."""
        fragments = self._fragments
        docs = self._docs
        encode = self.codec.encode_document
        for uid in self.changed():
            document = docs.get(uid)
            if document is None:
                fragments.pop(uid, None)
            else:
                fragments[uid] = encode(uid, document)
        if len(fragments) != len(docs):  # after open or discard: fill in the ones never encoded
            missing = {uid: document for uid, document in docs.items() if uid not in fragments}
            fragments.update(zip(missing, self.codec.encode_documents(missing), strict=True))
        try:
            self.transport.write(self.codec.join([fragments[uid] for uid in docs]))  # the documents' order
        except ConflictError:
            self._conflict = True
            raise

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


class FTPFileBackend(CachedFileBackend):
    """A cached file store on an FTP or FTPS server: ``ftp://user:pw@host:port/dir/x.json``."""

    schemes: ClassVar[tuple[str, ...]] = ("ftp", "ftps")
    options: ClassVar[frozenset[str]] = frozenset({"codec", "timeout", "ssl_context"})

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> CachedFileBackend:
        """Open ``ftp://`` or ``ftps://`` (explicit TLS, protected data channel).

        Options: ``codec``, ``timeout`` (seconds, default 30), ``ssl_context``
        (an ``ssl.SSLContext`` for ftps://, e.g. to trust a private CA).
        """
        from storagebackend.transports.ftp import FTPTransport

        transport = FTPTransport.from_url(
            url, timeout=options.get("timeout", FTP_TIMEOUT), ssl_context=options.get("ssl_context")
        )
        try:
            codec = choose_codec(transport.path, options.get("codec"), transport.query, transport.describe())
        except BaseException:
            transport.close()
            raise
        return cls(transport, codec, flag, options.get("lock_timeout", LOCK_TIMEOUT))
