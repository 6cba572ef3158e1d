"""API.md section 4: Document is a live MutableMapping[str, bytes] view."""

from __future__ import annotations

import copy
import pickle
from collections.abc import MutableMapping

import pytest

import storagebackend as sb
from storagebackend import UID, DocumentNotFoundError, ReadOnlyError
from storagebackend.storage import Storage


def test_is_a_live_mutable_mapping(store: Storage) -> None:
    doc = store.create({"a": b"1"})
    assert isinstance(doc, MutableMapping)
    other_view = store[doc.uid]
    doc["b"] = b"2"
    assert other_view["b"] == b"2"  # reads see every earlier write at once
    store.put(doc.uid, "c", b"3")
    assert doc["c"] == b"3"
    assert len(doc) == 3
    assert sorted(doc) == ["a", "b", "c"]
    assert "a" in doc
    assert "zz" not in doc
    assert doc == {"a": b"1", "b": b"2", "c": b"3"}
    assert doc != {"a": b"1"}
    assert doc == other_view


def test_missing_key_is_plain_key_error(store: Storage) -> None:
    doc = store.create()
    with pytest.raises(KeyError) as info:
        doc["missing"]
    assert not isinstance(info.value, DocumentNotFoundError)
    with pytest.raises(KeyError):
        del doc["missing"]
    assert doc.get("missing") is None
    assert doc.get("missing", b"d") == b"d"


def test_mutable_mapping_methods(store: Storage) -> None:
    doc = store.create({"a": b"1", "b": b"2"})
    assert doc.pop("a") == b"1"
    assert doc.pop("a", None) is None
    with pytest.raises(KeyError):
        doc.pop("a")
    assert doc.setdefault("s", b"S") == b"S"
    assert doc.setdefault("s", b"other") == b"S"
    doc.update({"u": b"U"}, v=b"V")
    doc.update([("w", b"W")])
    assert doc.copy() == {"b": b"2", "s": b"S", "u": b"U", "v": b"V", "w": b"W"}
    key, value = doc.popitem()
    assert key not in doc
    assert value in (b"2", b"S", b"U", b"V", b"W")
    doc.clear()
    assert doc == {}
    assert doc.uid in store  # clearing keys keeps the document
    with pytest.raises(KeyError):
        doc.popitem()


def test_deleted_document_view_raises(store: Storage) -> None:
    doc = store.create({"a": b"1"})
    del store[doc.uid]
    for call in (
        lambda: doc["a"],
        lambda: doc.get("a"),
        lambda: "a" in doc,
        lambda: doc.__setitem__("a", b"x"),
        lambda: doc.__delitem__("a"),
        lambda: len(doc),
        lambda: list(doc),
        lambda: doc.update(a=b"x"),
        lambda: doc.pop("a", None),
        lambda: doc.clear(),
        lambda: doc == {},
    ):
        with pytest.raises(DocumentNotFoundError):
            call()
    assert doc.uid not in store  # nothing was recreated


def test_a_deleted_documents_error_names_it(store: Storage) -> None:
    doc = store.create({"a": b"1"})
    del store[doc.uid]
    for call in (lambda: doc["a"], lambda: len(doc), lambda: doc.__setitem__("a", b"x")):
        with pytest.raises(DocumentNotFoundError, match=str(doc.uid)):
            call()


def test_view_of_recreated_document_sees_new_one(store: Storage) -> None:
    doc = store.create({"a": b"1"})
    del store[doc.uid]
    store[doc.uid] = {"b": b"2"}
    assert doc == {"b": b"2"}


def test_read_only_views_refuse_writes(reopen: object) -> None:
    if not reopen.persistent:  # type: ignore[attr-defined]
        pytest.skip("memory:// cannot be reopened")
    with reopen() as store:  # type: ignore[operator]
        uid = store.create({"a": b"1"}).uid
    with reopen("r") as store:  # type: ignore[operator]
        doc = store[uid]
        assert store.read_only
        for call in (
            lambda: doc.__setitem__("a", b"x"),
            lambda: doc.__delitem__("a"),
            lambda: doc.update(a=b"x"),
            lambda: doc.clear(),
            lambda: store.create(),
            lambda: store.__setitem__(uid, {}),
            lambda: store.__delitem__(uid),
            lambda: store.put(uid, "k", b"v"),
            lambda: store.delete(uid, "a"),
            lambda: store.delete_document(uid),
            lambda: store.pop(uid),
            lambda: store.popitem(),
            lambda: store.clear(),
            lambda: store.update({}),
        ):
            with pytest.raises(ReadOnlyError):
                call()
        assert doc == {"a": b"1"}


def test_document_unhashable_and_repr(store: Storage) -> None:
    doc = store.create()
    with pytest.raises(TypeError):
        hash(doc)
    assert str(doc.uid) in repr(doc)


def test_items_and_values_iterate_a_snapshot(store: Storage) -> None:
    doc = store.create({"a": b"1", "b": b"2", "c": b"3"})
    assert list(doc.items()) == [("a", b"1"), ("b", b"2"), ("c", b"3")]
    assert list(doc.values()) == [b"1", b"2", b"3"]
    for key, _ in doc.items():  # changing the document while iterating is safe: a snapshot
        del doc[key]
    assert doc == {}
    assert len(doc.items()) == 0 and ("a", b"1") not in doc.items()
    doc["x"] = b"9"
    assert ("x", b"9") in doc.items() and b"9" in doc.values()  # the views stay live


def test_store_items_and_values_are_views_of_every_document(store: Storage) -> None:
    first = store.create({"a": b"1"})
    second = store.create()
    assert {uid: dict(doc) for uid, doc in store.items()} == {first.uid: {"a": b"1"}, second.uid: {}}
    assert sorted(len(doc) for doc in store.values()) == [0, 1]
    assert len(store.values()) == 2
    for uid, doc in store.items():
        doc["seen"] = b"y"  # each is a live view of its document
        assert store.get_value(uid, "seen") == b"y"
    assert (first.uid, store[first.uid]) in store.items()


def test_a_view_cannot_be_copied_or_pickled(store: Storage) -> None:
    doc = store.create({"a": b"1"})
    for duplicate in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match=r"dict\(doc\)"):
            duplicate(doc)
    assert dict(doc) == doc.copy() == {"a": b"1"}  # what to use instead
    assert pickle.loads(pickle.dumps(dict(doc))) == {"a": b"1"}


def test_two_views_are_equal_exactly_when_their_documents_are(store: Storage) -> None:
    """``==`` between views compares what the documents hold (as between their dicts), not that both are views."""
    first = store.create({"k": b"1"})
    second = store.create({"k": b"2"})
    same_content = store.create({"k": b"1"})
    assert first != second
    assert not first == second  # noqa: SIM201  the __eq__ itself, not only __ne__
    assert first == same_content
    assert first == store[first.uid]
    second["k"] = b"1"
    assert first == second  # live: the views compare what the documents hold now


def test_a_view_made_by_hand_is_a_working_view(store: Storage) -> None:
    """``sb.Document(store, uid)`` is the view ``store[uid]`` gives (its repr works); bad arguments are refused."""
    uid = store.create({"a": b"1"}).uid
    view = sb.Document(store, str(uid).upper())
    assert view.uid == uid
    assert str(uid) in repr(view)
    assert view == {"a": b"1"}
    assert sb.Document(store, UID.new()).uid not in store  # a view of a missing document ...
    with pytest.raises(DocumentNotFoundError):
        len(sb.Document(store, UID.new()))  # ... says so when used
    with pytest.raises(TypeError):
        sb.Document()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="Storage"):
        sb.Document({}, uid)  # type: ignore[arg-type]
    with pytest.raises(sb.InvalidUIDError):
        sb.Document(store, "not a uid")
