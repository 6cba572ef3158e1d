"""API.md section 3: Storage is a MutableMapping[UID, Document] with the seed's methods."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, MutableMapping
from pathlib import Path

import pytest

import storagebackend as sb
from storagebackend import UID, DocumentNotFoundError
from storagebackend.backends.memory import MemoryBackend
from storagebackend.storage import Document, Storage


def test_is_a_mutable_mapping(store: Storage) -> None:
    assert isinstance(store, MutableMapping)
    assert len(store) == 0
    assert list(store) == []


def test_create_and_get(store: Storage) -> None:
    doc = store.create({"title": b"Hello"})
    assert isinstance(doc, Document)
    assert isinstance(doc.uid, UID)
    assert store[doc.uid]["title"] == b"Hello"
    assert store[str(doc.uid)]["title"] == b"Hello"
    assert store[str(doc.uid).upper()]["title"] == b"Hello"
    assert doc.uid in store
    assert str(doc.uid) in store
    assert list(store) == [doc.uid]
    assert len(store) == 1


def test_missing_document_is_document_not_found(store: Storage) -> None:
    uid = UID.new()
    with pytest.raises(DocumentNotFoundError) as info:
        store[uid]
    assert isinstance(info.value, KeyError)
    assert str(uid) in str(info.value)
    with pytest.raises(KeyError):
        del store[uid]
    with pytest.raises(DocumentNotFoundError):
        store.get_document(uid)
    assert uid not in store
    assert store.get(uid) is None
    assert store.get(uid, "default") == "default"


def test_assign_replaces_whole_document(store: Storage) -> None:
    uid = UID.new()
    store[uid] = {"a": b"1", "b": b"2"}
    store[uid] = {"c": b"3"}
    assert store.get_document(uid) == {"c": b"3"}
    store[uid] = [("d", b"4")]
    assert store[uid] == {"d": b"4"}


def test_assigned_mapping_is_copied(store: Storage) -> None:
    source = {"a": b"1"}
    uid = UID.new()
    store[uid] = source
    source["b"] = b"2"
    assert store[uid] == {"a": b"1"}


def test_assign_a_view_of_another_document(store: Storage) -> None:
    first = store.create({"a": b"1"})
    second = UID.new()
    store[second] = first
    first["a"] = b"changed"
    assert store[second] == {"a": b"1"}
    store[first.uid] = store[first.uid]  # self-assignment keeps it
    assert store[first.uid] == {"a": b"changed"}


def test_empty_document_exists(store: Storage) -> None:
    doc = store.create()
    assert doc.uid in store
    assert len(store) == 1
    assert store.count(doc.uid) == 0
    assert store.get_document(doc.uid) == {}
    doc["k"] = b"v"
    del doc["k"]
    assert doc.uid in store
    assert store[doc.uid] == {}


def test_delete_and_pop(store: Storage) -> None:
    a = store.create({"k": b"a"})
    b = store.create({"k": b"b"})
    del store[a.uid]
    assert a.uid not in store
    popped = store.pop(b.uid)
    assert popped == {"k": b"b"}
    assert type(popped) is dict
    assert store.pop(b.uid, None) is None
    with pytest.raises(DocumentNotFoundError):
        store.pop(b.uid)
    assert len(store) == 0


def test_popitem_returns_plain_copy(store: Storage) -> None:
    doc = store.create({"k": b"v"})
    uid, document = store.popitem()
    assert uid == doc.uid
    assert document == {"k": b"v"}
    assert type(document) is dict
    with pytest.raises(KeyError):
        store.popitem()


def test_setdefault_update_clear_items_values_eq(store: Storage) -> None:
    uid = UID.new()
    created = store.setdefault(uid, {"a": b"1"})
    assert isinstance(created, Document)
    assert created == {"a": b"1"}
    assert store.setdefault(uid, {"a": b"other"}) == {"a": b"1"}
    empty = store.setdefault(UID.new())
    assert empty == {}
    other = UID.new()
    store.update({other: {"b": b"2"}})
    store.update([(UID.new(), {})])
    assert len(store) == 4
    assert dict(store.items())[other] == {"b": b"2"}
    assert {"b": b"2"} in [dict(v) for v in store.values()]
    assert store == {u: store.get_document(u) for u in store}
    assert store != {}
    store.clear()
    assert len(store) == 0
    assert store == {}


@pytest.mark.parametrize("changes", [3, 100])  # SQLite looks each pending change up, or past 64 scans
def test_len_counts_unsynced_changes_to_synced_documents(store: Storage, changes: int) -> None:
    """len() before a sync: documents deleted, made and deleted-then-made since the last one all count."""
    synced = [store.create({"n": b"%d" % n}).uid for n in range(2 * changes)]
    store.sync()
    for uid in synced[:changes]:
        del store[uid]
    assert len(store) == changes
    for uid in synced[: changes // 2]:
        store[uid] = {}  # made again
    made = [store.create().uid for _ in range(changes)]
    assert len(store) == changes + changes // 2 + changes
    for uid in made:
        del store[uid]  # made and deleted since the sync: never stored
    assert len(store) == len(list(store)) == changes + changes // 2
    store.sync()
    assert len(store) == changes + changes // 2


def test_update_is_all_or_nothing(store: Storage) -> None:
    keep = store.create({"a": b"1"})
    with pytest.raises(sb.InvalidUIDError):
        store.update({UID.new(): {"x": b"1"}, "bad": {"x": b"1"}})
    with pytest.raises(sb.InvalidValueError):
        store.update({keep.uid: {"a": b"2"}, UID.new(): {"x": "text"}})
    assert dict(store.items()) == {keep.uid: {"a": b"1"}}


def test_seed_methods(store: Storage) -> None:
    uid = UID.new()
    assert store.get_value(uid, "k") is None
    assert store.get_value(uid, "k", b"dflt") == b"dflt"
    assert store.count(uid) == 0
    store.put(uid, "k", b"v")  # creates the document
    assert uid in store
    store.put(str(uid), "k2", bytearray(b"v2"))
    assert store.get_value(uid, "k") == b"v"
    assert store.count(uid) == 2
    document = store.get_document(uid)
    document["mutated"] = b"x"  # a copy
    assert store.get_document(uid) == {"k": b"v", "k2": b"v2"}
    assert store.delete(uid, "k") is True
    assert store.delete(uid, "k") is False
    assert store.delete(UID.new(), "k") is False
    assert store.delete_document(uid) is True
    assert store.delete_document(uid) is False
    assert store.count(uid) == 0


def test_discard_drops_changes_since_last_sync(reopen: object) -> None:
    store: Storage = reopen()  # type: ignore[operator]
    kept = store.create({"a": b"1"})
    store.sync()
    gone = store.create({"b": b"2"})
    kept["a"] = b"changed"
    kept["new"] = b"n"
    store.discard()
    assert gone.uid not in store
    assert store.get_document(kept.uid) == {"a": b"1"}
    del store[kept.uid]
    store.discard()
    assert store[kept.uid] == {"a": b"1"}
    store.clear()
    store.discard()
    assert len(store) == 1
    store.close()


def test_discard_without_sync_returns_to_the_open_state(reopen: object) -> None:
    opener = reopen
    first: Storage = opener()  # type: ignore[operator]
    doc = first.create({"a": b"1"})
    first.close()
    second: Storage = opener()  # type: ignore[operator]
    if not opener.persistent:  # type: ignore[attr-defined]
        second.close()
        return
    second[doc.uid]["a"] = b"2"
    second.create()
    second.discard()
    assert dict(second.items()) == {doc.uid: {"a": b"1"}}
    second.close()


def test_discard_puts_deleted_documents_back_in_their_places(store: Storage) -> None:
    uids = [store.create({"n": b"%d" % n}).uid for n in range(3)]
    store.sync()
    del store[uids[0]]
    store[uids[2]] = {"replaced": b"x"}
    made = store.create().uid
    del store[made]  # made and deleted since the sync
    store.discard()
    assert list(store) == uids
    assert store.get_document(uids[2]) == {"n": b"2"}
    store.pop(uids[1])
    store.clear()
    store.discard()
    assert list(store) == uids
    store[uids[2]]["changed"] = b"first"  # changed before the clear: still back in its place
    store.clear()
    store.discard()
    assert list(store) == uids


def test_a_cleared_store_reads_nothing_it_held_until_the_sync(store: Storage) -> None:
    uid = store.create({"k": b"1", "j": b"2"}).uid
    store.sync()
    store.clear()
    assert uid not in store
    assert store.get_value(uid, "k") is None
    with pytest.raises(DocumentNotFoundError):
        store.get_document(uid)
    store.put(uid, "new", b"3")  # made again: none of what it held comes back
    assert store.get_value(uid, "k") is None
    assert store.get_document(uid) == {"new": b"3"}
    assert store[uid] == {"new": b"3"}
    store.sync()
    assert store.copy() == {uid: {"new": b"3"}}


def test_discard_under_flag_n_returns_to_the_empty_start(tmp_path: Path) -> None:
    """Flag "n" starts empty, and discard() before the first sync goes back there, not to what the file held."""
    for url in (str(tmp_path / "notes.json"), f"sqlite:///{tmp_path}/notes.db"):
        with sb.open(url) as store:
            old = store.create({"a": b"1"}).uid
        with sb.open(url, flag="n") as store:
            assert len(store) == 0
            new = store.create({"b": b"2"}).uid
            store.discard()
            assert old not in store
            assert len(store) == 0, url
            assert list(store) == []
            store.put(new, "c", b"3")
        with sb.open(url, flag="r") as store:
            assert store.copy() == {new: {"c": b"3"}}


def test_a_delete_waiting_for_sync_that_another_opener_made_first(tmp_path: Path) -> None:
    """Two openers of one SQLite store delete the same keys; the other's unsynced deletes still read and sync."""
    url = f"sqlite:///{tmp_path}/shared.db"
    with sb.open(url) as store:
        uid = store.create({"k1": b"1", "k2": b"2", "k3": b"3"}).uid
    with sb.open(url) as first, sb.open(url) as second:
        del first[uid]["k1"]  # waits for the sync in first's buffer
        del first[uid]["k2"]
        first[uid]["k2"] = b"again"  # set again: it goes last
        for key in ("k1", "k2"):
            del second[uid][key]
        second.sync()
        assert list(first.get_document(uid).items()) == [("k3", b"3"), ("k2", b"again")]
        assert first.copy() == {uid: {"k3": b"3", "k2": b"again"}}
        first.sync()
    with sb.open(url, flag="r") as store:
        assert list(store.get_document(uid).items()) == [("k3", b"3"), ("k2", b"again")]


def test_close_syncs_and_closed_store_refuses_everything(reopen: object) -> None:
    store: Storage = reopen()  # type: ignore[operator]
    doc = store.create({"a": b"1"})
    store.close()
    store.close()  # twice is fine
    assert store.closed
    assert "closed" in repr(store)
    assert isinstance(doc.uid, UID)  # keeps working
    assert str(doc.uid) in repr(doc)
    for call in (
        lambda: store[doc.uid],
        lambda: len(store),
        lambda: list(store),
        lambda: iter(store),
        lambda: doc.uid in store,
        lambda: store.create(),
        lambda: store.put(doc.uid, "k", b"v"),
        lambda: store.get_value(doc.uid, "a"),
        lambda: store.sync(),
        lambda: store.discard(),
        lambda: doc["a"],
        lambda: doc.__setitem__("a", b"x"),
        lambda: len(doc),
        lambda: store.__enter__(),
        lambda: store["not a uid"],
        lambda: store.__setitem__("not a uid", {}),
    ):
        with pytest.raises(sb.StorageClosedError):
            call()
    if reopen.persistent:  # type: ignore[attr-defined]
        with reopen() as again:  # type: ignore[operator]
            assert again[doc.uid]["a"] == b"1"


def test_context_manager_syncs(reopen: object) -> None:
    with reopen() as store:  # type: ignore[operator]
        uid = store.create({"k": b"v"}).uid
    assert store.closed
    if reopen.persistent:  # type: ignore[attr-defined]
        with reopen("r") as again:  # type: ignore[operator]
            assert again.get_value(uid, "k") == b"v"


def test_repr_names_backend(store: Storage) -> None:
    text = repr(store)
    assert text.startswith("<Storage ")
    assert ("memory://" in text) or ("sqlite:" in text)


def test_repr_says_whether_a_store_is_read_only_or_closed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with sb.open("memory://") as store:
        assert repr(store) == "<Storage memory://>"
    assert repr(store) == "<Storage memory:// closed>"
    with sb.open(url) as store:
        assert not repr(store).endswith(("read-only>", "closed>"))
    with sb.open(url, flag="r") as store:
        assert repr(store) == f"<Storage sqlite:{tmp_path}/store.db read-only>"
    assert repr(store).endswith(" closed>")  # what it is now, whatever its flag was


def test_two_stores_compare_by_their_documents(tmp_path: Path) -> None:
    with sb.open("memory://") as first, sb.open(f"sqlite:///{tmp_path}/other.db") as second:
        assert first == second
        uid = first.create({"k": b"v"}).uid
        assert first != second
        second[uid] = {"k": b"v"}
        assert first == second
        second[uid]["k"] = b"w"
        assert not first == second  # noqa: SIM201  the __eq__ itself, not only __ne__


def test_popitem_on_an_empty_store_says_so(store: Storage) -> None:
    with pytest.raises(DocumentNotFoundError, match="empty"):
        store.popitem()


class _SavingBackend(MemoryBackend):
    """A backend built on MemoryBackend as the README's example is: it counts its saves."""

    def __init__(self, flag: str, documents: dict[str, dict[str, bytes]]) -> None:
        super().__init__(flag, documents)
        self.saves = 0

    def save(self) -> None:
        self.saves += 1


def test_a_memory_based_backend_starts_from_a_copy_and_saves_only_changes() -> None:
    given = {"1" * 32: {"k": b"v"}}
    backend = _SavingBackend("c", given)
    with sb.Storage(backend) as store:
        store["1" * 32]["k"] = b"changed"
        assert store.copy() == {"1" * 32: {"k": b"changed"}}
        assert given == {"1" * 32: {"k": b"v"}}  # the documents given were copied
        store.sync()
        store.sync()  # nothing changed since: no save
    assert backend.saves == 1
    emptied = _SavingBackend("n", {})
    sb.Storage(emptied).close()  # flag "n": the empty start is a change of its own
    assert emptied.saves == 1


def test_errors_name_what_was_wrong(tmp_path: Path) -> None:
    """Each error names the store, the document or the key it is about; a missing key is KeyError(key), as in a dict."""
    url = f"sqlite:///{tmp_path}/named.db"
    missing = UID.new()
    with pytest.raises(TypeError, match="Backend, got dict"):
        sb.Storage({})  # type: ignore[arg-type]
    with pytest.raises(sb.StoreNotFoundError, match=r"memory://: .* \(flag 'w'\)"):
        sb.open("memory://", flag="w")
    with sb.open(url) as store:
        doc = store.create({"a": b"1"})
        with pytest.raises(TypeError, match="Storage, got dict"):
            Document({}, doc.uid)  # type: ignore[arg-type]
        for call in (
            lambda: store.__delitem__(missing),
            lambda: store.pop(missing),
            lambda: store.get_document(missing),
            lambda: store[missing],
        ):
            with pytest.raises(DocumentNotFoundError, match=str(missing)):
                call()
        for call in (lambda: doc["zz"], lambda: doc.__delitem__("zz"), lambda: doc.pop("zz")):
            with pytest.raises(KeyError) as info:
                call()
            assert info.value.args == ("zz",)
        doc.clear()
        with pytest.raises(KeyError, match=f"{doc.uid} is empty"):
            doc.popitem()
        with pytest.raises(sb.InvalidValueError, match=r"update\(\) argument"):
            store.update(42)
    with pytest.raises(sb.StorageClosedError, match="named.db is closed"):
        len(store)
    with sb.open(url, flag="r") as store, pytest.raises(sb.ReadOnlyError, match="named.db is open read-only"):
        store.create()


def test_storage_wraps_a_backend_object() -> None:
    from storagebackend.backends.memory import MemoryBackend

    with sb.Storage(MemoryBackend()) as store:
        store.create({"a": b"1"})
        assert len(store) == 1
    with pytest.raises(TypeError):
        sb.Storage(object())  # type: ignore[arg-type]


def test_copy_is_a_plain_snapshot_of_everything(store: Storage) -> None:
    first = store.create({"a": b"1"})
    empty = store.create()
    store.sync()
    first["b"] = b"2"  # pending changes are part of the copy
    third = store.create({"c": b"3"})
    snapshot = store.copy()
    assert snapshot == {first.uid: {"a": b"1", "b": b"2"}, empty.uid: {}, third.uid: {"c": b"3"}}
    assert all(type(document) is dict for document in snapshot.values())
    snapshot[first.uid]["x"] = b"not stored"
    assert "x" not in first
    del store[empty.uid]
    assert empty.uid not in store.copy()
    assert store == store.copy()


def test_a_snapshot_is_found_by_hex_string(store: Storage) -> None:
    doc = store.create({"a": b"1"})
    hex_uid = str(doc.uid)
    snapshot = store.copy()
    assert snapshot[hex_uid] == {"a": b"1"}
    assert hex_uid in snapshot
    assert snapshot.get(hex_uid) == {"a": b"1"}
    assert store == {hex_uid: {"a": b"1"}}
    assert list(store) == [hex_uid]


DUPLICATES: dict[str, Callable[[object], object]] = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    **{
        f"pickle{protocol}": lambda value, protocol=protocol: pickle.dumps(value, protocol)
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
    },
}


@pytest.mark.parametrize("duplicate", DUPLICATES.values(), ids=DUPLICATES.keys())
def test_a_store_cannot_be_copied_or_pickled(duplicate: Callable[[object], object], tmp_path: Path) -> None:
    # A copy would be a second owner of the lock and connection: closing it would free
    # the lock (or close SQLite's connection) under the original.
    for url in (str(tmp_path / "notes.json"), f"sqlite:///{tmp_path}/notes.db", "memory://"):
        with sb.open(url) as store:
            doc = store.create({"a": b"1"})
            with pytest.raises(TypeError, match=r"store\.copy\(\)"):
                duplicate(store)
            doc["b"] = b"2"  # the store is untouched and still works
            store.sync()
            if url.endswith(".json"):
                with pytest.raises(sb.StorageLockedError):
                    sb.open(url, lock_timeout=0)  # its lock is still held
        if url != "memory://":
            with sb.open(url, flag="r") as again:
                assert again[doc.uid] == {"a": b"1", "b": b"2"}
