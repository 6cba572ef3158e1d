"""Redis backend (redis-py): ``redis://[user:password@]host:port/db?prefix=NAME``.

For a store with prefix ``P`` (option or query ``prefix``, default
``storagebackend``) three kinds of keys exist: ``P:meta``, a hash ``{format,
version}`` that marks the store and holds its schema version; ``P:docs``, the
set of document uids (so a document without keys exists); ``P:doc:UID``, a
hash per document (key -> value bytes). "Missing" means neither ``P:meta`` nor
``P:docs`` exists. Several stores share one server through their prefixes.

``sync`` is one MULTI/EXEC transaction, so readers see all of it or none. It
needs no WATCH: every command in it (HSET, HDEL, DEL, SADD, SREM) sets a final
state that does not depend on anything read before, so concurrent writers of
other documents, or of other keys of the same document, lose nothing. Only
emptying the store (``clear()`` or flag ``"n"``) depends on what is stored, the
set of uids to delete: that sync WATCHes ``P:docs`` and starts again if another
writer added or removed a document meanwhile.

Every redis-py error is mapped in :meth:`RedisBackend._error`; redis-py
reconnects by itself, with the bounded retries set in :meth:`RedisBackend.__init__`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Final, cast

import redis
from redis import exceptions as rx
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from storagebackend.backends.base import DocumentData
from storagebackend.backends.buffered import BufferedBackend, Pending
from storagebackend.errors import (
    BackendUnavailableError,
    CorruptStoreError,
    StorageError,
    StorageIOError,
    StorageLockedError,
    StoreNotFoundError,
)
from storagebackend.urls import ServerURL, parse_server, query_setting

__all__ = ["DEFAULT_PREFIX", "FORMAT", "SCHEMA_VERSION", "RedisBackend"]

log = logging.getLogger(__name__)

DEFAULT_PREFIX: Final = "storagebackend"
DEFAULT_PORT: Final = 6379
#: The ``P:meta`` hash: ``{"format": FORMAT, "version": SCHEMA_VERSION}``.
FORMAT: Final = b"storagebackend"
SCHEMA_VERSION: Final = 1
_PREFIX: Final = re.compile(r"[^\s]{1,100}")
_UID: Final = re.compile(rb"[0-9a-f]{32}")
_WATCH_ATTEMPTS: Final = 10  # emptying the store restarts this often if other writers keep changing P:docs


class RedisBackend(BufferedBackend):
    """Documents as hashes in a Redis database, under a key prefix.

    Opening connects and checks (or creates) the marker: raises ValueError for
    a bad prefix, database or timeout, StoreNotFoundError, CorruptStoreError,
    BackendUnavailableError or StorageIOError.
    """

    schemes: ClassVar[tuple[str, ...]] = ("redis",)
    options: ClassVar[frozenset[str]] = frozenset({"prefix", "timeout"})
    remote: ClassVar[bool] = True

    def __init__(self, server: ServerURL, prefix: str = DEFAULT_PREFIX, flag: str = "c", timeout: float = 10.0) -> None:
        super().__init__(flag)
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix) or not prefix.isprintable():
            raise ValueError(f"invalid Redis key prefix {prefix!r}: 1 to 100 printable characters, no spaces")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"invalid timeout {timeout!r}: expected a number of seconds > 0")
        if not re.fullmatch(r"[0-9]{1,5}", server.path or "0"):
            raise ValueError(f"invalid Redis database {server.path!r} in URL {server}: expected a number >= 0")
        database = int(server.path or "0")
        self.server = server
        self.prefix = prefix
        self.database = database
        self._meta = f"{prefix}:meta"
        self._docs = f"{prefix}:docs"
        self._client = redis.Redis(
            host=server.host,
            port=server.port or DEFAULT_PORT,
            db=database,
            username=server.user or None,
            password=server.password,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            # A lost connection (server restarted) is reopened and the command sent again, a bounded number of times.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), 3),
            retry_on_error=[rx.ConnectionError, rx.TimeoutError],
            decode_responses=False,
            client_name="storagebackend",
        )
        try:
            self._open()
        except BaseException:
            self._client.close()
            raise

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> RedisBackend:
        """Open ``redis://[user[:password]@]host[:port][/db][?prefix=NAME]``.

        Raises ValueError for a malformed URL, an unknown query parameter or a
        bad prefix, and everything :class:`RedisBackend` raises.
        """
        server = parse_server(url, default_port=DEFAULT_PORT)
        return cls(
            server,
            prefix=query_setting(server, server.query, "prefix", options.get("prefix"), DEFAULT_PREFIX),
            flag=flag,
            timeout=options.get("timeout", 10.0),
        )

    def describe(self) -> str:
        return str(dataclasses.replace(self.server, path=str(self.database), query={"prefix": self.prefix}))

    def _doc(self, uid: str) -> str:
        return f"{self.prefix}:doc:{uid}"

    # -- errors: every redis-py call runs inside _mapped -------------------------------------

    @contextmanager
    def _mapped(self, action: str) -> Iterator[None]:
        try:
            yield
        except (rx.RedisError, UnicodeDecodeError) as exc:
            raise self._error(exc, action) from exc

    def _error(self, exc: rx.RedisError | UnicodeDecodeError, action: str) -> StorageError:
        """Map a redis-py error to the StorageError a user should see, without the password."""
        detail = " ".join(str(exc).split()) or type(exc).__name__
        password = self.server.password
        if password:
            detail = detail.replace(password, "***")
        where = f"{self.describe()}: {action}"
        if isinstance(exc, (rx.ConnectionError, rx.TimeoutError)):  # also authentication, loading
            return BackendUnavailableError(f"Redis server at {self.server.address} is unavailable ({where}): {detail}")
        if isinstance(exc, UnicodeDecodeError) or (isinstance(exc, rx.ResponseError) and "WRONGTYPE" in str(exc)):
            return CorruptStoreError(
                f"{where}: a key under prefix {self.prefix!r} holds data that is not ours: {detail}"
            )
        if isinstance(exc, rx.WatchError):
            return StorageLockedError(f"{where}: other writers kept changing {self._docs!r}: {detail}")
        return StorageIOError(f"{where}: {detail}")

    # -- opening ------------------------------------------------------------------------------

    def _open(self) -> None:
        """Check that the prefix holds a storagebackend store; create its marker under flag c or n."""
        with self._mapped("cannot open"):
            state = self._state()
            if state == "missing" and self.flag in ("w", "r"):
                raise StoreNotFoundError(
                    f"{self.describe()}: no such Redis store (no key {self._meta!r}; flag {self.flag!r} needs one)"
                )
            if state == "missing":
                with self._client.pipeline(transaction=True) as pipe:
                    pipe.hsetnx(self._meta, "format", FORMAT)
                    pipe.hsetnx(self._meta, "version", SCHEMA_VERSION)
                    pipe.execute()
                state = self._state()
        if state == "foreign":
            raise CorruptStoreError(
                f"{self.describe()}: keys {self._meta!r} / {self._docs!r} exist but are not a storagebackend store; "
                "choose another prefix"
            )
        if state == "newer":
            raise CorruptStoreError(
                f"{self.describe()}: the store's schema version is newer than {SCHEMA_VERSION}; upgrade storagebackend"
            )

    def _state(self) -> str:
        """``"ours"``, ``"newer"``, ``"missing"`` or ``"foreign"``."""
        with self._client.pipeline(transaction=False) as pipe:
            pipe.type(self._meta)
            pipe.type(self._docs)
            meta_type, docs_type = pipe.execute()
        if meta_type == b"none":
            return "missing" if docs_type == b"none" else "foreign"
        if meta_type != b"hash" or docs_type not in (b"none", b"set"):
            return "foreign"
        meta = self._client.hgetall(self._meta)
        version = meta.get(b"version", b"")
        if meta.get(b"format") != FORMAT or not version.isdigit():
            return "foreign"
        return "newer" if int(version) > SCHEMA_VERSION else "ours"

    # -- stored state ---------------------------------------------------------------------------

    def stored_value(self, uid: str, key: str) -> bytes | None:
        with self._mapped("cannot read"):
            # decode_responses=False: every reply is bytes (redis-py types them as bytes | str).
            return cast(bytes | None, self._client.hget(self._doc(uid), key))

    def stored_document(self, uid: str) -> DocumentData | None:
        with self._mapped("cannot read"):
            with self._client.pipeline(transaction=True) as pipe:
                pipe.sismember(self._docs, uid)
                pipe.hgetall(self._doc(uid))
                exists, pairs = pipe.execute()
            if not exists:
                return None
            return {key.decode(): value for key, value in pairs.items()}

    def stored_has(self, uid: str) -> bool:
        with self._mapped("cannot read"):
            return bool(self._client.sismember(self._docs, uid))

    def stored_uids(self) -> list[str]:
        with self._mapped("cannot list documents"):
            members = cast(set[bytes], self._client.smembers(self._docs))
        if not all(_UID.fullmatch(member) for member in members):
            raise CorruptStoreError(f"{self.describe()}: the set {self._docs!r} holds something that is not a uid")
        return [member.decode() for member in members]

    def stored_count(self) -> int:
        with self._mapped("cannot count documents"):
            count: int = self._client.scard(self._docs)
        return count

    # -- writing ----------------------------------------------------------------------------------

    def commit(self, cleared: bool, pending: Mapping[str, Pending | None]) -> None:
        with self._mapped("cannot sync"):
            for _ in range(_WATCH_ATTEMPTS):
                with self._client.pipeline(transaction=True) as pipe:
                    try:
                        if cleared:
                            pipe.watch(self._docs)  # type: ignore[no-untyped-call]
                            stored = cast(set[bytes], pipe.smembers(self._docs))
                            pipe.multi()
                            pipe.delete(self._docs, *(self._doc(uid.decode()) for uid in stored))
                        self._queue(pipe, pending)
                        pipe.execute()
                        return
                    except rx.WatchError:
                        log.info("%s: the documents changed while emptying the store; trying again", self.describe())
            raise rx.WatchError(f"{self._docs} changed during {_WATCH_ATTEMPTS} attempts")

    def _queue(self, pipe: Any, pending: Mapping[str, Pending | None]) -> None:
        """Queue the buffer's changes in a MULTI block: final states only, no reads."""
        for uid, change in pending.items():
            key = self._doc(uid)
            if change is None:
                pipe.delete(key)
                pipe.srem(self._docs, uid)
                continue
            if change.replace:
                pipe.delete(key)
            values = {k: v for k, v in change.values.items() if v is not None}
            if values:
                pipe.hset(key, mapping=values)
            removed = [k for k, v in change.values.items() if v is None]
            if removed and not change.replace:
                pipe.hdel(key, *removed)
            pipe.sadd(self._docs, uid)

    def close(self) -> None:
        with self._mapped("cannot close"):
            self._client.close()
