"""The Redis backend's own promises: its keys, foreign keys, prefixes, a clear racing a writer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import storagebackend as sb
from servers import Stores, drop_redis_store, free_port, redis_connect, with_query
from storagebackend.backends.redis import SCHEMA_VERSION, RedisBackend


@pytest.fixture
def rs(redis_url: str) -> Iterator[Stores]:
    """Fresh stores (prefixes) on the Redis server, removed afterwards."""
    made = Stores("redis", redis_url)
    yield made
    made.drop_all()


def test_the_store_is_a_marker_a_set_of_uids_and_a_hash_per_document(rs: Stores) -> None:
    name = rs.new_name()
    with sb.open(rs.url(name)) as store:
        doc = store.create({"a": b"\x00\xff", "ключ": b"text"})
        empty = store.create()
    with redis_connect(rs.base_url) as client:
        assert client.hgetall(f"{name}:meta") == {b"format": b"storagebackend", b"version": b"%d" % SCHEMA_VERSION}
        assert client.smembers(f"{name}:docs") == {doc.uid.hex.encode(), empty.uid.hex.encode()}
        assert client.hgetall(f"{name}:doc:{doc.uid.hex}") == {b"a": b"\x00\xff", "ключ".encode(): b"text"}
        assert not client.exists(f"{name}:doc:{empty.uid.hex}")  # a document without keys is only in the set
        assert sorted(client.scan_iter(match=f"{name}:*")) == sorted(
            [f"{name}:meta".encode(), f"{name}:docs".encode(), f"{name}:doc:{doc.uid.hex}".encode()]
        )


@pytest.mark.parametrize("flag", ["c", "w", "r", "n"])
@pytest.mark.parametrize(
    ("key", "command"),
    [
        ("meta", ("SET", "x")),
        ("meta", ("HSET", "format", "other", "version", "1")),
        ("docs", ("SADD", "x")),
        ("docs", ("SET", "x")),
    ],
    ids=["meta-string", "meta-other-format", "docs-without-meta", "docs-string"],
)
def test_keys_that_are_not_a_store_are_corrupt_and_left_alone(
    rs: Stores, flag: str, key: str, command: tuple[str, ...]
) -> None:
    name = rs.new_name()
    if key == "docs" and command[0] == "SET":
        sb.open(rs.url(name)).close()  # a store's marker, but its set replaced by a string
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

    def queue(self: RedisBackend, pipe: Any, pending: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:  # another writer adds a document between our WATCH and EXEC
            other["c" * 32] = {"theirs": b"1"}
            other.sync()
        original(self, pipe, pending)

    monkeypatch.setattr(RedisBackend, "_queue", queue)
    store.sync()
    monkeypatch.undo()
    assert len(attempts) == 3  # ours, the other writer's, ours again after the EXEC was refused
    store.close()
    other.close()
    with sb.open(url, flag="r") as reader:
        assert {uid.hex: reader.get_document(uid) for uid in reader} == {"b" * 32: {"mine": b"1"}}
    with redis_connect(rs.base_url) as client:
        assert not client.exists(f"{rs.names[-1]}:doc:{'c' * 32}")  # no document left behind


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
