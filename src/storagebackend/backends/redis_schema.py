"""The keys of a Redis store: their names, what is there, making and migrating them.

For a store with prefix ``P`` (option or query ``prefix``, default
``storagebackend``) these keys exist: ``P:meta``, a hash ``{format, version}``
that marks the store and holds its schema version; ``P:order``, a sorted set
of the document uids scored by position (so a document without keys exists,
and documents keep the order they were created in); ``P:doc:UID``, a hash per
document (key -> value bytes); ``P:pos:UID``, a hash per document (key ->
position), since a Redis hash keeps no order of its own; and ``P:seq``, the
counter that hands out positions. "Missing" means none of ``P:meta``,
``P:order`` and ``P:docs`` exists. Several stores share one server through
their prefixes.

Schema version 1 kept the uids in a set ``P:docs`` and no order: a writable
open migrates it in one MULTI/EXEC (documents by uid, keys in the order their
hash lists them), a read-only open reads it in that same order. What is found
is a :class:`~storagebackend.schema.State`, refused with the words of
:func:`~storagebackend.schema.check_state`.
"""

from __future__ import annotations

import logging
import re
from typing import Final, cast

import redis
from redis import exceptions as rx

from storagebackend.errors import CorruptStoreError
from storagebackend.schema import State, check_state, version_state
from storagebackend.uid import all_stored_uids

__all__ = ["DEFAULT_PREFIX", "FORMAT", "SCHEMA_VERSION", "WATCH_ATTEMPTS", "StoreKeys", "stored_uids"]

log = logging.getLogger(__name__)

DEFAULT_PREFIX: Final = "storagebackend"
#: The ``P:meta`` hash: ``{"format": FORMAT, "version": SCHEMA_VERSION}``.
FORMAT: Final = b"storagebackend"
#: 2: ``P:order``, ``P:pos:UID`` and ``P:seq`` keep the order; 1 (``P:docs``, a set) is read, and migrated when written.
SCHEMA_VERSION: Final = 2
#: Emptying or migrating the store starts again this often if other writers keep changing it.
WATCH_ATTEMPTS: Final = 10
_PREFIX: Final = re.compile(r"[^\s]{1,100}")


def stored_uids(members: list[bytes]) -> list[str] | None:
    """The members of the order (or version 1's set) as uids; None if any is not one (data that is not ours)."""
    uids = [member.decode("latin-1") for member in members]  # never fails: a byte that is no hex digit stays one
    return uids if all_stored_uids(uids) else None


class StoreKeys:
    """The keys of the store under ``prefix``: their names, what is there, making and migrating them.

    Raises ValueError for a prefix this layout cannot take.
    """

    def __init__(self, prefix: str) -> None:
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix) or not prefix.isprintable():
            raise ValueError(f"invalid Redis key prefix {prefix!r}: 1 to 100 printable characters, no spaces")
        self.prefix = prefix
        self.meta = f"{prefix}:meta"
        self.order = f"{prefix}:order"
        self.seq = f"{prefix}:seq"
        self.docs = f"{prefix}:docs"  # schema version 1 only

    def doc(self, uid: str) -> str:
        """The hash of a document's pairs."""
        return f"{self.prefix}:doc:{uid}"

    def pos(self, uid: str) -> str:
        """The hash of a document's key positions."""
        return f"{self.prefix}:pos:{uid}"

    def check(self, state: State, version: int, flag: str, where: str) -> None:
        """Raise the error for a store in ``state`` that an open with ``flag`` cannot use (``schema.check_state``)."""
        if state is State.MISSING:
            detail = f"no key {self.meta!r}"
        else:
            detail = (
                f"the Redis keys {self.meta!r} / {self.order!r} / {self.docs!r} hold something else; "
                "choose another prefix"
            )
        check_state(
            state,
            where=where,
            kind="Redis",
            newest=SCHEMA_VERSION,
            version=version,
            detail=detail,
            flag=flag,
        )

    def state(self, client: redis.Redis) -> tuple[State, int]:
        """What the prefix holds (never DAMAGED: a partial store is FOREIGN), and its schema version."""
        with client.pipeline(transaction=False) as pipe:
            pipe.type(self.meta)
            pipe.type(self.order)
            pipe.type(self.docs)
            meta_type, order_type, docs_type = pipe.execute()
        if meta_type == b"none":
            return (State.MISSING, SCHEMA_VERSION) if order_type == docs_type == b"none" else (State.FOREIGN, 0)
        if meta_type != b"hash":
            return State.FOREIGN, 0
        meta = client.hgetall(self.meta)
        version = int(meta[b"version"]) if meta.get(b"version", b"").isdigit() else 0
        state = version_state(version, SCHEMA_VERSION)
        if meta.get(b"format") != FORMAT or state is State.DAMAGED:
            return State.FOREIGN, 0
        if state is State.OLD:  # version 1: a set of uids, no order
            return (state, version) if docs_type in (b"none", b"set") and order_type == b"none" else (State.FOREIGN, 0)
        if state is State.OURS and order_type not in (b"none", b"zset"):
            return State.FOREIGN, 0
        return state, version

    def create(self, client: redis.Redis) -> None:
        """Mark a missing store as ours (a second process doing the same at once changes nothing)."""
        with client.pipeline(transaction=True) as pipe:
            pipe.hsetnx(self.meta, "format", FORMAT)
            pipe.hsetnx(self.meta, "version", SCHEMA_VERSION)
            pipe.execute()

    def migrate(self, client: redis.Redis, where: str) -> None:
        """Bring a version-1 store to version 2 in one MULTI/EXEC, again if a writer changed it meanwhile."""
        for _ in range(WATCH_ATTEMPTS):
            with client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self.meta, self.docs)  # type: ignore[no-untyped-call]
                    if pipe.hget(self.meta, "version") != b"1":
                        return  # another process migrated it first
                    members = stored_uids(list(cast(set[bytes], pipe.smembers(self.docs))))
                    if members is None:
                        raise CorruptStoreError(f"{where}: {self.docs!r} holds something that is not a uid")
                    uids = sorted(members)
                    if uids:
                        pipe.watch(*(self.doc(uid) for uid in uids))  # type: ignore[no-untyped-call]
                    with client.pipeline(transaction=False) as read:  # the keys, in one round trip
                        for uid in uids:
                            read.hkeys(self.doc(uid))
                        keys = cast(list[list[bytes]], read.execute())
                    pipe.multi()
                    position = 0
                    for uid, names in zip(uids, keys, strict=True):
                        position += 1
                        pipe.zadd(self.order, {uid: position})
                        if names:
                            pipe.hset(self.pos(uid), mapping={name: position + n for n, name in enumerate(names, 1)})
                            position += len(names)
                    pipe.set(self.seq, position)
                    pipe.delete(self.docs)
                    pipe.hset(self.meta, "version", SCHEMA_VERSION)
                    pipe.execute()
                    log.info("migrated %s from schema version 1 to %d", where, SCHEMA_VERSION)
                    return
                except rx.WatchError:
                    log.info("%s: the store changed while migrating it; trying again", where)
        raise rx.WatchError(f"{self.docs} changed during {WATCH_ATTEMPTS} attempts to migrate it")
