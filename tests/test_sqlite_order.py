"""Order on SQLite (API.md section 3): documents iterate in the order they were created, keys in the order
they were first set, across sync, close and reopen, and in the write buffer before a sync; changing a value
keeps its place; ``store[uid] = mapping`` keeps the document's place and takes the mapping's key order.

Every read path is checked: iteration, ``items()``, ``values()``, ``copy()``, ``get_document`` and the
Document view. The uids are chosen so that creation order is not uid order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storagebackend as sb
from storagebackend import UID
from storagebackend.storage import Storage

A, B, C, D, E = (UID(digit * 32) for digit in "93715")  # creation order A..E is not uid order


@pytest.fixture(params=["file", "memory"])
def opener(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Opener]:
    """Opens a SQLite store: a file (reopened each time) or ``sqlite::memory:`` (one store, never closed)."""
    monkeypatch.chdir(tmp_path)
    if request.param == "file":
        yield Opener(f"sqlite:///{tmp_path}/order.db", None)
        return
    memory = sb.open("sqlite::memory:")
    yield Opener("sqlite::memory:", memory)
    memory.close()


class Opener:
    def __init__(self, url: str, memory: Storage | None) -> None:
        self.url = url
        self.memory = memory

    def open(self, flag: str = "c") -> Storage:
        return self.memory if self.memory is not None else sb.open(self.url, flag=flag)

    def done(self, store: Storage) -> None:
        """Close a file store (its changes synced); an in-memory one is only synced, or it would be gone."""
        if store is self.memory:
            store.sync()
        else:
            store.close()


def document_order(store: Storage) -> list[list[UID]]:
    """The document order as each read path gives it."""
    return [
        list(store),
        list(store.keys()),
        [uid for uid, _ in store.items()],
        [doc.uid for doc in store.values()],
        list(store.copy()),
    ]


def key_order(store: Storage, uid: UID) -> list[list[str]]:
    """The key order of one document as each read path gives it."""
    return [
        list(store[uid]),
        list(store[uid].keys()),
        [key for key, _ in store[uid].items()],
        list(store[uid].copy()),
        list(store.get_document(uid)),
        list(store.copy()[uid]),
        list(dict(store.items())[uid]),
    ]


def assert_everywhere(read: Callable[[], list[list[object]]], expected: list[object]) -> None:
    for got in read():
        assert got == expected


def test_documents_keep_creation_order_across_sync_close_and_reopen(opener: Opener) -> None:
    store = opener.open()
    for uid in (A, B, C):
        store[uid] = {"k": b"v"}
    store.sync()
    store[D] = {}
    store.create()  # a random uid, after D
    made = [A, B, C, D, list(store)[-1]]
    assert_everywhere(lambda: document_order(store), made)
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: document_order(store), made)
    opener.done(store)


def test_keys_keep_the_order_first_set_and_a_changed_value_keeps_its_place(opener: Opener) -> None:
    store = opener.open()
    store[A] = {"zeta": b"1", "alpha": b"2", "mu": b"3"}
    store.sync()
    doc = store[A]
    doc["beta"] = b"4"  # a new key comes last
    doc["zeta"] = b"changed"  # a changed value keeps its place
    del doc["alpha"]
    doc["alpha"] = b"again"  # deleted and set again: last, as in a dict
    doc["mu"] = b"changed too"
    expected = ["zeta", "mu", "beta", "alpha"]
    assert_everywhere(lambda: key_order(store, A), expected)  # before the sync: the write buffer
    store.sync()
    assert_everywhere(lambda: key_order(store, A), expected)
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: key_order(store, A), expected)
    assert store.get_document(A) == {"zeta": b"changed", "mu": b"changed too", "beta": b"4", "alpha": b"again"}
    opener.done(store)


def test_a_key_deleted_and_set_again_in_one_sync_moves_behind_new_keys(opener: Opener) -> None:
    store = opener.open()
    store[A] = {"x": b"1", "y": b"2"}
    store.sync()
    doc = store[A]
    doc["new"] = b"3"
    del doc["x"]
    doc["other"] = b"4"
    doc["x"] = b"back"
    expected = ["y", "new", "other", "x"]
    assert_everywhere(lambda: key_order(store, A), expected)
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: key_order(store, A), expected)
    opener.done(store)


def test_replacing_a_document_keeps_its_place_and_takes_the_mapping_key_order(opener: Opener) -> None:
    store = opener.open()
    for uid in (A, B, C):
        store[uid] = {"first": b"1", "second": b"2"}
    store.sync()
    store[B] = {"second": b"new 2", "third": b"3", "first": b"new 1"}
    assert_everywhere(lambda: document_order(store), [A, B, C])
    assert_everywhere(lambda: key_order(store, B), ["second", "third", "first"])
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: document_order(store), [A, B, C])
    assert_everywhere(lambda: key_order(store, B), ["second", "third", "first"])
    opener.done(store)


def test_unsynced_changes_mixed_with_stored_documents_read_in_dict_order(opener: Opener) -> None:
    """The write buffer merges into the stored order: patched and replaced documents stay where they are,
    new ones follow in the order made, a document deleted and made again comes last."""
    store = opener.open()
    for uid in (A, B, C):
        store[uid] = {"k": b"stored"}
    store.sync()
    store[B]["k"] = b"patched"
    store[D] = {"k": b"new"}
    del store[A]
    store[E] = {"k": b"new"}
    store.put(A, "k", b"made again")  # after D and E, as in a dict
    store[C] = {"k": b"replaced"}
    del store[E]
    store[E] = {"k": b"made again"}  # new, deleted and made again: after A
    expected = [B, C, D, A, E]
    assert_everywhere(lambda: document_order(store), expected)
    assert {uid: doc["k"] for uid, doc in store.copy().items()} == {
        A: b"made again",
        B: b"patched",
        C: b"replaced",
        D: b"new",
        E: b"made again",
    }
    store.sync()
    assert_everywhere(lambda: document_order(store), expected)
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: document_order(store), expected)
    opener.done(store)


def test_a_stored_document_deleted_and_made_again_comes_last(opener: Opener) -> None:
    store = opener.open()
    for uid in (C, A, B):
        store[uid] = {"k": b"v"}
    store.sync()
    store.pop(C)
    store[C] = {"k": b"again"}
    assert_everywhere(lambda: document_order(store), [A, B, C])
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: document_order(store), [A, B, C])
    opener.done(store)


def test_a_document_made_again_then_replaced_still_comes_last(opener: Opener) -> None:
    """Replacing a document made again since the sync keeps it where it was made again: last."""
    store = opener.open()
    for uid in (C, A, B):
        store[uid] = {"k": b"v"}
    store.sync()
    del store[C]
    store.put(C, "k", b"again")  # made again: it comes last ...
    store[C] = {"j": b"replaced"}  # ... and replacing it keeps that place
    assert_everywhere(lambda: document_order(store), [A, B, C])
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: document_order(store), [A, B, C])
    assert store.get_document(C) == {"j": b"replaced"}
    opener.done(store)


def test_order_after_clear_is_the_order_made_since(opener: Opener) -> None:
    store = opener.open()
    for uid in (A, B):
        store[uid] = {"k": b"v"}
    store.sync()
    store.clear()
    for uid in (C, B, A):
        store[uid] = {"k": b"v"}
    assert_everywhere(lambda: document_order(store), [C, B, A])
    opener.done(store)
    store = opener.open("r")
    assert_everywhere(lambda: document_order(store), [C, B, A])
    opener.done(store)
