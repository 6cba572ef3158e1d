"""Redis backend (redis-py): ``redis://[user:password@]host:port/db?prefix=NAME``.

A store is a few keys under a prefix (:mod:`~storagebackend.backends.redis_schema`
says which, and makes, checks and migrates them); several stores share one
server through their prefixes.

``sync`` is one MULTI/EXEC transaction, so readers see all of it or none. It
needs no WATCH: every command in it sets a final state that does not depend on
anything read before, so concurrent writers of other documents, or of other
keys of the same document, lose nothing. Positions are reserved just before,
with one ``INCRBY P:seq N``; inside the MULTI, ``ZADD NX`` places a new
document and ``HSETNX`` a new key, while an existing one keeps its place (a
changed value, and a patched document, stay where they are); replacing a
document deletes both of its hashes and writes the mapping's order. Only
emptying the store (``clear()`` or flag ``"n"``) depends on what is stored, the
set of uids to delete: that sync WATCHes ``P:order`` and starts again if
another writer added or removed a document meanwhile.

Every redis-py error is mapped in :meth:`RedisBackend._error`, cleaned of the
password (:mod:`storagebackend.redaction`); redis-py reconnects by itself,
with the retries and pauses of :mod:`storagebackend.retrying` (never after
refused credentials), until ``close``, after which every operation raises
StorageClosedError.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, Final, TypeVar, cast

import redis
from redis import exceptions as rx
from redis.backoff import AbstractBackoff
from redis.retry import Retry

from storagebackend import server_errors
from storagebackend.backends.base import DocumentData
from storagebackend.backends.buffered import BufferedBackend, Pending
from storagebackend.backends.closing import CloseGate
from storagebackend.backends.redis_schema import (
    DEFAULT_PREFIX,
    FORMAT,
    SCHEMA_VERSION,
    WATCH_ATTEMPTS,
    StoreKeys,
    stored_uids,
)
from storagebackend.defaults import SERVER_TIMEOUT
from storagebackend.errors import (
    CorruptStoreError,
    StorageError,
    StorageIOError,
    StorageLockedError,
)
from storagebackend.redaction import scrub, scrub_exception
from storagebackend.retrying import RETRY
from storagebackend.schema import State
from storagebackend.timeouts import socket_timeout
from storagebackend.urls import ServerURL, parse_server, query_setting

__all__ = ["DEFAULT_PREFIX", "FORMAT", "SCHEMA_VERSION", "RedisBackend"]

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PORT: Final = 6379
_BATCH: Final = 256  # documents read per round trip by stored_items


class _Backoff(AbstractBackoff):
    """redis-py's pauses between tries, as :mod:`storagebackend.retrying` says."""

    def compute(self, failures: int) -> float:
        return RETRY.pause(failures)


class _Refused(Exception):
    """Carries refused credentials through redis-py's retry loop, which would try them again."""


class _Retry(Retry):
    """redis-py's bounded retry after a lost connection, except that refused credentials are never tried again."""

    def call_with_retry(self, do: Callable[[], T], fail: Callable[..., Any], *args: Any, **kwargs: Any) -> T:
        refusal: list[rx.AuthenticationError] = []

        def attempt() -> T:
            try:
                return do()
            except rx.AuthenticationError as exc:  # a ConnectionError, which the loop would retry
                refusal.append(exc)
                raise _Refused from None

        try:
            return super().call_with_retry(attempt, fail, *args, **kwargs)
        except _Refused:
            pass
        raise refusal[0]


class RedisBackend(BufferedBackend):
    """Documents as hashes in a Redis database, under a key prefix.

    Opening connects and checks (or creates, or migrates) the store: raises ValueError for
    a bad prefix or database, StoreNotFoundError, CorruptStoreError, AuthenticationError,
    BackendUnavailableError or StorageIOError. ``timeout`` comes checked (``options.py``,
    at open): seconds >= 0, ``math.inf`` for no limit.
    """

    schemes: ClassVar[tuple[str, ...]] = ("redis",)
    options: ClassVar[frozenset[str]] = frozenset({"prefix", "timeout"})

    def __init__(
        self, server: ServerURL, prefix: str = DEFAULT_PREFIX, flag: str = "c", timeout: float = SERVER_TIMEOUT
    ) -> None:
        super().__init__(flag)
        self._keys = StoreKeys(prefix)
        if not re.fullmatch(r"[0-9]{1,5}", server.path or "0"):
            raise ValueError(f"invalid Redis database {server.path!r} in URL {server}: expected a number >= 0")
        database = int(server.path or "0")
        self.server = server
        self._secrets = (server.password,)
        self.prefix = prefix
        self.database = database
        self._version = SCHEMA_VERSION
        self._gate = CloseGate(self.describe())
        self._client = redis.Redis(
            host=server.host,
            port=server.port or DEFAULT_PORT,
            db=database,
            username=server.user or None,
            password=server.password,
            socket_connect_timeout=socket_timeout(timeout),
            socket_timeout=socket_timeout(timeout),
            # A lost connection (server restarted) is reopened and the command sent again, a bounded number of times.
            retry=_Retry(_Backoff(), RETRY.attempts - 1),
            retry_on_error=[rx.ConnectionError, rx.TimeoutError],
            decode_responses=False,
            client_name="storagebackend",
            # RESP2, as redis-py 5 speaks by default: a password sent to a server that has none is refused
            # (RESP3's HELLO AUTH would take any password there), and replies have one shape across versions.
            protocol=2,
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
            timeout=options.get("timeout", SERVER_TIMEOUT),
        )

    def describe(self) -> str:
        return str(dataclasses.replace(self.server, path=str(self.database), query={"prefix": self.prefix}))

    # -- errors: every redis-py call runs inside _mapped -------------------------------------

    @contextmanager
    def _mapped(self, action: str) -> Iterator[None]:
        """Pass the close gate (StorageClosedError once closed) and map every redis-py error."""
        with self._gate.passage():
            try:
                yield
            except (rx.RedisError, UnicodeDecodeError) as exc:
                raise self._error(exc, action) from scrub_exception(exc, self._secrets)

    def _error(self, exc: rx.RedisError | UnicodeDecodeError, action: str) -> StorageError:
        """Map a redis-py error to the StorageError a user should see, without the password."""
        detail = " ".join(scrub(str(exc), self._secrets).split()) or type(exc).__name__
        where = f"{self.describe()}: {action}"
        if isinstance(exc, rx.AuthenticationError):  # WRONGPASS, NOAUTH, a password the server has not
            return server_errors.refused("Redis server", self.server, where, detail)
        if isinstance(exc, (rx.ConnectionError, rx.TimeoutError)):  # also loading
            return server_errors.unavailable("Redis server", self.server, where, detail)
        if isinstance(exc, UnicodeDecodeError) or (isinstance(exc, rx.ResponseError) and "WRONGTYPE" in str(exc)):
            return CorruptStoreError(
                f"{where}: a key under prefix {self.prefix!r} holds data that is not ours: {detail}"
            )
        if isinstance(exc, rx.WatchError):
            return StorageLockedError(f"{where}: other writers kept changing the store meanwhile: {detail}")
        return StorageIOError(f"{where}: {detail}")

    # -- opening ------------------------------------------------------------------------------

    def _open(self) -> None:
        """Check that the prefix holds a storagebackend store; create or migrate it unless read-only."""
        keys, where = self._keys, self.describe()
        with self._mapped("cannot open"):
            state, version = keys.state(self._client)
            keys.check(state, version, self.flag, where)
            if state is State.MISSING:
                keys.create(self._client)
                state, version = keys.state(self._client)
            if state is State.OLD and not self.read_only:
                keys.migrate(self._client, where)
                state, version = keys.state(self._client)
        keys.check(state, version, self.flag, where)
        self._version = version

    # -- stored state ---------------------------------------------------------------------------

    def _queue_read(self, pipe: Any, uid: str) -> int:
        """Queue what :meth:`_document` takes (is it there, its pairs, its keys' positions); return how many replies."""
        if self._version == 1:  # no positions: a hash lists its keys in the order it keeps
            pipe.sismember(self._keys.docs, uid)
            pipe.hgetall(self._keys.doc(uid))
            return 2
        pipe.zscore(self._keys.order, uid)
        pipe.hgetall(self._keys.doc(uid))
        pipe.hgetall(self._keys.pos(uid))
        return 3

    def _document(
        self, uid: str, member: Any, pairs: dict[bytes, bytes], positions: dict[bytes, bytes] | None = None
    ) -> DocumentData | None:
        """The document from the replies :meth:`_queue_read` queued, its keys in order; None if it is missing."""
        if not (bool(member) if self._version == 1 else member is not None):
            return None
        names = list(pairs)
        if positions:
            try:
                place = {name: int(position) for name, position in positions.items()}
            except ValueError:
                raise CorruptStoreError(
                    f"{self.describe()}: the hash {self._keys.pos(uid)!r} holds a position that is not a number"
                ) from None
            last = max(place.values()) + 1  # a key without a position (written by hand) comes after the others
            names.sort(key=lambda name: place.get(name, last))
        return {name.decode(): pairs[name] for name in names}

    def stored_value(self, uid: str, key: str) -> bytes | None:
        with self._mapped("cannot read"):
            # decode_responses=False: every reply is bytes (redis-py types them as bytes | str).
            return cast(bytes | None, self._client.hget(self._keys.doc(uid), key))

    def stored_document(self, uid: str) -> DocumentData | None:
        with self._mapped("cannot read"), self._client.pipeline(transaction=True) as pipe:
            self._queue_read(pipe, uid)
            return self._document(uid, *pipe.execute())

    def stored_has(self, uid: str) -> bool:
        with self._mapped("cannot read"):
            if self._version == 1:
                return bool(self._client.sismember(self._keys.docs, uid))
            return self._client.zscore(self._keys.order, uid) is not None

    def stored_uids(self) -> list[str]:
        with self._mapped("cannot list documents"):
            if self._version == 1:
                members = sorted(cast(set[bytes], self._client.smembers(self._keys.docs)))
            else:
                members = cast(list[bytes], self._client.zrange(self._keys.order, 0, -1))
        uids = stored_uids(members)
        if uids is None:
            where = self._keys.docs if self._version == 1 else self._keys.order
            raise CorruptStoreError(f"{self.describe()}: {where!r} holds something that is not a uid")
        return uids

    def stored_count(self) -> int:
        with self._mapped("cannot count documents"):
            count: int = (
                self._client.scard(self._keys.docs) if self._version == 1 else self._client.zcard(self._keys.order)
            )
        return count

    def stored_items(self) -> Iterator[tuple[str, DocumentData]]:
        """Every document in order, a batch of them per round trip (each document whole)."""
        uids = self.stored_uids()
        for start in range(0, len(uids), _BATCH):
            batch = uids[start : start + _BATCH]
            with self._mapped("cannot read"):
                with self._client.pipeline(transaction=True) as pipe:
                    size = 0
                    for uid in batch:
                        size = self._queue_read(pipe, uid)
                    replies = pipe.execute()
                documents = [self._document(uid, *replies[size * n : size * (n + 1)]) for n, uid in enumerate(batch)]
            for uid, document in zip(batch, documents, strict=True):
                if document is not None:  # deleted since the uids were listed
                    yield uid, document

    # -- writing ----------------------------------------------------------------------------------

    def commit(self, cleared: bool, pending: Mapping[str, Pending | None]) -> None:
        # One position per document and per value written: new ones take theirs, existing ones keep their own.
        needed = sum(
            1 + sum(value is not None for value in change.values.values())
            for change in pending.values()
            if change is not None
        )
        with self._mapped("cannot sync"):
            last = self._client.incrby(self._keys.seq, needed) if needed else 0
            positions = range(last - needed + 1, last + 1)
            for _ in range(WATCH_ATTEMPTS):
                with self._client.pipeline(transaction=True) as pipe:
                    try:
                        if cleared:
                            pipe.watch(self._keys.order)  # type: ignore[no-untyped-call]
                            stored = [uid.decode() for uid in cast(list[bytes], pipe.zrange(self._keys.order, 0, -1))]
                            pipe.multi()
                            pipe.delete(self._keys.order, *map(self._keys.doc, stored), *map(self._keys.pos, stored))
                        self._queue(pipe, pending, iter(positions))
                        pipe.execute()
                        return
                    except rx.WatchError:
                        log.info("%s: the documents changed while emptying the store; trying again", self.describe())
            raise rx.WatchError(f"{self._keys.order} changed during {WATCH_ATTEMPTS} attempts")

    def _queue(self, pipe: Any, pending: Mapping[str, Pending | None], positions: Iterator[int]) -> None:
        """Queue the buffer's changes in a MULTI block: final states only, no reads."""
        for uid, change in pending.items():
            doc, pos = self._keys.doc(uid), self._keys.pos(uid)
            if change is None:
                pipe.delete(doc, pos)
                pipe.zrem(self._keys.order, uid)
                continue
            # A stored document keeps its place; one deleted and made again since the last sync comes last.
            pipe.zadd(self._keys.order, {uid: next(positions)}, nx=not change.recreated)
            if change.replace:
                pipe.delete(doc, pos)
            values = {k: v for k, v in change.values.items() if v is not None}
            if values:
                pipe.hset(doc, mapping=values)
                if change.replace:
                    pipe.hset(pos, mapping={key: next(positions) for key in values})
                else:
                    for key in values:
                        if key in change.renewed:  # deleted and set again since the last sync: it comes last
                            pipe.hset(pos, key, next(positions))
                        else:
                            pipe.hsetnx(pos, key, next(positions))  # a stored key keeps its place
            removed = [k for k, v in change.values.items() if v is None]
            if removed and not change.replace:
                pipe.hdel(doc, *removed)
                pipe.hdel(pos, *removed)

    def close(self) -> None:
        """Wait for the reads in progress, then close the connections; later reads raise StorageClosedError."""
        if not self._gate.close():
            return
        try:
            self._client.close()
        except rx.RedisError as exc:
            raise self._error(exc, "cannot close") from scrub_exception(exc, self._secrets)
