"""API.md 3: order is kept like a dict's on every backend and codec, across sync, discard, close and reopen.

Documents iterate in the order they were created, keys in the order they were
first set; changing a value keeps its place; ``store[uid] = mapping`` on an
existing document keeps the document's place and takes the mapping's key
order; a document deleted and created again goes last, as in a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.servers import Stores
from helpers.support import available_codecs
from storagebackend.registry import codec_by_name
from storagebackend.storage import Storage

A, B, C, D = (f"{n:032x}" for n in (0xA, 0xB, 0xC, 0xD))

Opener = Callable[[str], Storage]


def _file_opener(extension: str) -> Callable[[Path], Opener]:
    def make(folder: Path) -> Opener:
        return lambda flag: sb.open(str(folder / f"store{extension}"), flag=flag)

    return make


KINDS: dict[str, Callable[[Path], Opener]] = {
    "sqlite": lambda folder: lambda flag: sb.open(f"sqlite:///{folder}/store.db", flag=flag),
    **{name: _file_opener(codec_by_name(name).extensions[0]) for name in available_codecs()},
}


@pytest.fixture(params=[*KINDS, "postgresql", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens one persistent store of each kind, again and again."""
    kind = request.param
    if kind in KINDS:
        yield KINDS[kind](tmp_path)
        return
    stores = Stores(kind, request.getfixturevalue("postgres_url" if kind == "postgresql" else "redis_url"))
    url = stores.url()
    try:
        yield lambda flag: sb.open(url, flag=flag)
    finally:
        stores.drop_all()


def order(store: Storage) -> list[tuple[str, list[str]]]:
    """Every document's uid and keys, in iteration order, read through each way the API offers."""
    listed = [(uid.hex, list(doc)) for uid, doc in store.items()]
    assert [uid for uid, _ in listed] == [uid.hex for uid in store]
    assert [(uid.hex, list(document)) for uid, document in store.copy().items()] == listed
    assert [(uid, list(store.get_document(uid))) for uid, _ in listed] == listed
    return listed


def test_order_is_kept_across_sync_discard_close_and_reopen(opener: Opener) -> None:
    store = opener("n")
    try:
        store[A] = {"x": b"1", "y": b"\xff"}
        store[B] = {}
        store[C] = {"k1": b"1"}
        store.put(B, "k2", b"2")
        store[A]["b"] = b"binary \xff after text"
        expected = [(A, ["x", "y", "b"]), (B, ["k2"]), (C, ["k1"])]
        assert order(store) == expected
        store.sync()
        assert order(store) == expected
        store.close()

        store = opener("w")
        assert order(store) == expected
        store[A]["x"] = b"changed keeps its place"
        del store[B]
        store[B] = {"z": b"z"}  # deleted and created again: last, as in a dict
        store[C] = {"m": b"m", "k1": b"1"}  # replaced: keeps its place, takes the mapping's order
        expected = [(A, ["x", "y", "b"]), (C, ["m", "k1"]), (B, ["z"])]
        assert order(store) == expected
        store.sync()
        store.close()

        store = opener("w")
        assert order(store) == expected
        store[D] = {"d": b"d"}
        del store[A]
        store.delete(C, "m")
        store.discard()  # back to the order of the last sync
        assert order(store) == expected
        store.close()

        store = opener("r")
        assert order(store) == expected
    finally:
        store.close()


def test_a_key_deleted_and_set_again_goes_last(opener: Opener) -> None:
    with opener("n") as store:
        store[A] = {"a": b"1", "b": b"2", "c": b"3"}
        store.sync()
        del store[A]["a"]
        store[A]["a"] = b"again"
        assert order(store) == [(A, ["b", "c", "a"])]
    with opener("r") as store:
        assert order(store) == [(A, ["b", "c", "a"])]
