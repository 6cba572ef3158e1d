"""The Redis backend's own promises: its keys, foreign keys, prefixes, a clear racing a writer, migration."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import storagebackend as sb
from helpers.servers import Stores, drop_redis_store, free_port, ordered_contents, redis_connect, with_query
from storagebackend.backends.redis import SCHEMA_VERSION, RedisBackend
from storagebackend.timeouts import socket_timeout as _socket_timeout


@pytest.fixture
def rs(redis_url: str) -> Iterator[Stores]:
    """Fresh stores (prefixes) on the Redis server, removed afterwards."""
    made = Stores("redis", redis_url)
    yield made
    made.drop_all()


def test_the_store_is_a_marker_an_ordered_set_of_uids_and_two_hashes_per_document(rs: Stores) -> None:
    name = rs.new_name()
    with sb.open(rs.url(name)) as store:
        doc = store.create({"b": b"\x00\xff", "ключ": b"text", "a": b""})
        empty = store.create()
    with redis_connect(rs.base_url) as client:
        assert client.hgetall(f"{name}:meta") == {b"format": b"storagebackend", b"version": b"%d" % SCHEMA_VERSION}
        assert client.zrange(f"{name}:order", 0, -1) == [doc.uid.hex.encode(), empty.uid.hex.encode()]
        assert client.hgetall(f"{name}:doc:{doc.uid.hex}") == {b"b": b"\x00\xff", "ключ".encode(): b"text", b"a": b""}
        positions = client.hgetall(f"{name}:pos:{doc.uid.hex}")
        assert sorted(positions, key=lambda key: int(positions[key])) == [b"b", "ключ".encode(), b"a"]
        assert int(client.get(f"{name}:seq")) >= 5  # every position handed out so far
        # a document without keys is only in the sorted set
        assert not client.exists(f"{name}:doc:{empty.uid.hex}", f"{name}:pos:{empty.uid.hex}")
        assert sorted(client.scan_iter(match=f"{name}:*")) == sorted(
            f"{name}:{key}".encode() for key in ("meta", "order", "seq", f"doc:{doc.uid.hex}", f"pos:{doc.uid.hex}")
        )


@pytest.mark.parametrize("flag", ["c", "w", "r", "n"])
@pytest.mark.parametrize(
    ("key", "command"),
    [
        ("meta", ("SET", "x")),
        ("meta", ("HSET", "format", "other", "version", "1")),
        ("docs", ("SADD", "x")),
        ("order", ("ZADD", "1", "x")),
        ("order", ("SET", "x")),
    ],
    ids=["meta-string", "meta-other-format", "docs-without-meta", "order-without-meta", "order-string"],
)
def test_keys_that_are_not_a_store_are_corrupt_and_left_alone(
    rs: Stores, flag: str, key: str, command: tuple[str, ...]
) -> None:
    name = rs.new_name()
    if key == "order" and command[0] == "SET":
        sb.open(rs.url(name)).close()  # a store's marker, but its sorted set replaced by a string
    with redis_connect(rs.base_url) as client:
        client.execute_command(command[0], f"{name}:{key}", *command[1:])
        kept = client.dump(f"{name}:{key}")
    with pytest.raises(sb.CorruptStoreError, match="not a storagebackend store"):
        sb.open(rs.url(name), flag=flag)
    with redis_connect(rs.base_url) as client:
        assert client.dump(f"{name}:{key}") == kept


@pytest.mark.parametrize("flag", ["c", "w", "r", "n"])
def test_a_newer_schema_version_is_refused(rs: Stores, flag: str) -> None:
    name = rs.new_name()
    sb.open(rs.url(name)).close()
    with redis_connect(rs.base_url) as client:
        client.hset(f"{name}:meta", "version", SCHEMA_VERSION + 1)
    with pytest.raises(sb.CorruptStoreError, match="newer"):
        sb.open(rs.url(name), flag=flag)


def test_a_document_key_of_another_type_is_corrupt_not_missing(rs: Stores) -> None:
    name = rs.new_name()
    with sb.open(rs.url(name)) as store:
        uid = store.create({"k": b"v"}).uid
    with redis_connect(rs.base_url) as client:
        client.delete(f"{name}:doc:{uid.hex}")
        client.set(f"{name}:doc:{uid.hex}", b"not a hash")
    with sb.open(rs.url(name), flag="r") as store:
        with pytest.raises(sb.CorruptStoreError, match="not ours"):
            store.get_value(uid, "k")
        with pytest.raises(sb.CorruptStoreError):
            store.get_document(uid)


def test_emptying_the_store_starts_again_when_another_writer_adds_a_document(
    rs: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = rs.url()
    with sb.open(url) as store:
        store["a" * 32] = {"old": b"1"}
    store, other = sb.open(url), sb.open(url)
    store.clear()
    store["b" * 32] = {"mine": b"1"}
    original = RedisBackend._queue
    attempts: list[int] = []

    def queue(self: RedisBackend, pipe: Any, pending: Any, positions: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:  # another writer adds a document between our WATCH and EXEC
            other["c" * 32] = {"theirs": b"1"}
            other.sync()
        original(self, pipe, pending, positions)

    monkeypatch.setattr(RedisBackend, "_queue", queue)
    store.sync()
    monkeypatch.undo()
    assert len(attempts) == 3  # ours, the other writer's, ours again after the EXEC was refused
    store.close()
    other.close()
    with sb.open(url, flag="r") as reader:
        assert {uid.hex: reader.get_document(uid) for uid in reader} == {"b" * 32: {"mine": b"1"}}
    with redis_connect(rs.base_url) as client:
        assert not client.exists(f"{rs.names[-1]}:doc:{'c' * 32}", f"{rs.names[-1]}:pos:{'c' * 32}")  # none left


def test_databases_are_separate(rs: Stores) -> None:
    name = rs.new_name()
    other_db = rs.base_url.rpartition("/")[0] + "/1"
    try:
        with sb.open(rs.url(name)) as store:
            store["1" * 32] = {"k": b"db0"}
        with pytest.raises(sb.StoreNotFoundError):
            sb.open(with_query(other_db, "prefix", name), flag="r")
    finally:
        drop_redis_store(other_db, name)


@pytest.mark.parametrize("path", ["abc", "0/1", "-1", "²"])
def test_a_bad_database_number_is_refused_before_connecting(path: str) -> None:
    with pytest.raises(ValueError, match="invalid Redis database"):
        sb.open(f"redis://127.0.0.1:{free_port()}/{path}")


@pytest.mark.parametrize("prefix", ["", "has space", "tab\there", "nul\x00", "x" * 101])
def test_bad_prefixes_are_refused_before_connecting(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid Redis key prefix"):
        sb.open(f"redis://127.0.0.1:{free_port()}/0", prefix=prefix)


def test_the_default_prefix_and_the_prefix_option(redis_url: str) -> None:
    try:
        with sb.open(redis_url) as store:
            assert "prefix=storagebackend" in repr(store)
            store["1" * 32] = {"k": b"default"}
        with sb.open(with_query(redis_url, "prefix", "storagebackend"), flag="r") as store:
            assert store.get_document("1" * 32) == {"k": b"default"}
        with sb.open(redis_url, flag="r", prefix="storagebackend") as store:
            assert len(store) == 1
    finally:
        drop_redis_store(redis_url, "storagebackend")


# -- schema version 1 (a set of uids, no order): read as it is, migrated by a writable open -------------

A, B, C, E = ("a" * 32, "b" * 32, "c" * 32, "e" * 32)
# As storagebackend 0.1 wrote them: a set of uids, a hash per document (B has no keys).
V1_DOCUMENTS = {E: {"y": b"1", "b": b"3"}, C: {"z": b"2", "a": b"5"}, A: {"k": b"4"}, B: {}}
# Version 1 kept no order of documents: they read by uid; keys as their (small) hash lists them.
V1_ORDER = [(A, [("k", b"4")]), (B, []), (C, [("z", b"2"), ("a", b"5")]), (E, [("y", b"1"), ("b", b"3")])]


def make_version_1_store(rs: Stores) -> str:
    """A store as schema version 1 made it; returns its prefix."""
    name = rs.new_name()
    with redis_connect(rs.base_url) as client:
        client.hset(f"{name}:meta", mapping={"format": "storagebackend", "version": 1})
        client.sadd(f"{name}:docs", *V1_DOCUMENTS)
        for uid, document in V1_DOCUMENTS.items():
            if document:
                client.hset(f"{name}:doc:{uid}", mapping=document)
    return name


def keys_of(rs: Stores, name: str) -> set[bytes]:
    with redis_connect(rs.base_url) as client:
        return set(client.scan_iter(match=f"{name}:*"))


def test_a_version_1_store_opens_read_only_in_order_and_unchanged(rs: Stores) -> None:
    name = make_version_1_store(rs)
    before = keys_of(rs, name)
    with sb.open(rs.url(name), flag="r") as store:
        assert ordered_contents(store) == V1_ORDER
        assert len(store) == 4
        assert store.get_value(C, "a") == b"5"
    assert keys_of(rs, name) == before
    with redis_connect(rs.base_url) as client:
        assert client.hget(f"{name}:meta", "version") == b"1"


@pytest.mark.parametrize("flag", ["c", "w", "n"])
def test_a_writable_open_migrates_a_version_1_store_keeping_its_order(rs: Stores, flag: str) -> None:
    name = make_version_1_store(rs)
    with sb.open(rs.url(name), flag=flag) as store:
        with redis_connect(rs.base_url) as client:  # at the open, in one MULTI/EXEC
            assert client.hget(f"{name}:meta", "version") == b"%d" % SCHEMA_VERSION
            assert not client.exists(f"{name}:docs")
            assert client.zrange(f"{name}:order", 0, -1) == [uid.encode() for uid, _ in V1_ORDER]
            assert int(client.get(f"{name}:seq")) == 4 + 5  # four documents, five keys
        store["d" * 32] = {"new": b"1"}
        store.put(C, "c", b"6")
    if flag == "n":  # migrated, then emptied by the first sync
        expected = [("d" * 32, [("new", b"1")]), (C, [("c", b"6")])]
    else:
        expected = [*V1_ORDER[:2], (C, [*V1_ORDER[2][1], ("c", b"6")]), V1_ORDER[3], ("d" * 32, [("new", b"1")])]
    with sb.open(rs.url(name), flag="r") as store:
        assert ordered_contents(store) == expected


def test_processes_migrating_one_store_at_once_all_succeed(rs: Stores) -> None:
    name = make_version_1_store(rs)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            sb.open(rs.url(name), flag="w").close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sb.open(rs.url(name), flag="r") as store:
        assert ordered_contents(store) == V1_ORDER
    with redis_connect(rs.base_url) as client:
        assert int(client.get(f"{name}:seq")) == 9  # migrated once


@pytest.mark.parametrize(("seconds", "socket_timeout"), [(2.5, 2.5), (math.inf, None), (1e300, None)])
def test_timeouts_reach_redis_py_as_it_reads_them(rs: Stores, seconds: float, socket_timeout: float | None) -> None:
    """math.inf must become None (no timeout); 0 must not become a socket's 0, which means non-blocking."""
    assert _socket_timeout(0) == 0.001  # the least wait a socket measures (a live server may not answer that fast)
    with sb.open(rs.url(), timeout=seconds) as store:
        backend = store.backend
        assert isinstance(backend, RedisBackend)
        settings = backend._client.connection_pool.connection_kwargs
        assert settings["socket_timeout"] == settings["socket_connect_timeout"] == socket_timeout
        store["1" * 32] = {"k": b"v"}
