"""API.md section 3: ``update`` (and every write of a whole document) reads its argument as ``dict.update`` does.

A mapping, an object with ``keys()`` and ``__getitem__``, or an iterable of pairs,
plus keyword arguments; anything else is InvalidValueError naming its type at once.
The objects below answer ``__getitem__`` for any key, as a ``defaultdict`` does, so
the old sequence protocol (``[0]``, ``[1]``, ...) would never end: they stop it
after a few calls, and every test here also has a small timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import storagebackend as sb
from storagebackend.storage import Storage
from storagebackend.validation import Limits

pytestmark = pytest.mark.timeout(30)

#: More calls of __getitem__ than any test needs: past this, a loop is endless.
CALLS = 50


class Endless(RuntimeError):
    """__getitem__ was called more often than any finite read needs."""


class KeysAndGetitem:
    """Has ``keys()`` and ``__getitem__``, but is no Mapping and has no ``__iter__``."""

    def __init__(self, data: dict[Any, Any], missing: Any) -> None:
        self.data = data
        self.missing = missing
        self.calls = 0

    def keys(self) -> list[Any]:
        return list(self.data)

    def __getitem__(self, key: Any) -> Any:
        self.calls += 1
        if self.calls > CALLS:
            raise Endless(f"__getitem__ called {self.calls} times")
        return self.data.get(key, self.missing)


class KeysGetitemAndIter(KeysAndGetitem):
    """Also iterates, over its keys (as a mapping does): dict.update still takes keys() and [k]."""

    def __iter__(self) -> Any:
        return iter(self.data)


class GetitemOnly:
    """Only ``__getitem__``, answering any index: an old-style sequence without end."""

    def __init__(self) -> None:
        self.calls = 0

    def __getitem__(self, index: Any) -> Any:
        self.calls += 1
        if self.calls > CALLS:
            raise Endless(f"__getitem__ called {self.calls} times")
        return ("ab", b"v")


PAIRS = {"ab": b"1", "cd": b"2", "long key": b"3"}


def as_dict(source: object) -> dict[Any, Any]:
    """What ``dict.update`` makes of ``source``: the oracle."""
    result: dict[Any, Any] = {}
    result.update(source)  # type: ignore[call-overload]
    return result


@pytest.mark.parametrize("kind", [KeysAndGetitem, KeysGetitemAndIter])
def test_document_writes_read_an_object_with_keys_like_dict_update(store: Storage, kind: type) -> None:
    doc = store.create({"first": b"0"})
    doc.update(kind(PAIRS, b"missing"), extra=b"e")
    assert doc == {"first": b"0", **as_dict(kind(PAIRS, b"missing")), "extra": b"e"}
    assert store.create(kind(PAIRS, b"missing")) == PAIRS
    uid = sb.UID.new()
    store[uid] = kind(PAIRS, b"missing")
    assert store[uid] == PAIRS
    other = sb.UID.new()
    assert store.setdefault(other, kind(PAIRS, b"missing")) == PAIRS
    assert list(store[other]) == list(PAIRS)  # the order of keys()
    assert Limits().check_document(kind(PAIRS, b"missing")) == PAIRS


@pytest.mark.parametrize("kind", [KeysAndGetitem, KeysGetitemAndIter])
def test_store_update_reads_an_object_with_keys_like_dict_update(store: Storage, kind: type) -> None:
    first, second = sb.UID.new(), sb.UID.new()
    documents = {first: {"a": b"1"}, second.hex: KeysAndGetitem({"b": b"2"}, {})}
    store.update(kind(documents, {}))
    assert store.copy() == {first: {"a": b"1"}, second: {"b": b"2"}}


@pytest.mark.parametrize(
    "source",
    [5, None, 2.5, object(), "text", b"bytes", bytearray(b"ab"), GetitemOnly()],
    ids=["int", "None", "float", "object", "str", "bytes", "bytearray", "getitem-only"],
)
def test_anything_else_is_refused_at_once_naming_its_type(store: Storage, source: object) -> None:
    doc = store.create({"a": b"1"})
    before = store.copy()
    attempts: list[Callable[[], object]] = [
        lambda: store.update(source),
        lambda: doc.update(source),
        lambda: store.create(source),  # type: ignore[arg-type]
        lambda: store.__setitem__(doc.uid, source),  # type: ignore[arg-type]
        lambda: store.update({sb.UID.new(): source}),
        lambda: store.setdefault(sb.UID.new(), source),
    ]
    if source is None:  # create(None) and setdefault(uid, None) mean an empty document
        del attempts[2], attempts[-1]
    for attempt in attempts:
        with pytest.raises(sb.InvalidValueError) as info:
            attempt()
        assert isinstance(info.value, TypeError)
        assert type(source).__name__ in str(info.value)
    assert store.copy() == before


def test_elements_that_are_not_pairs_are_refused(store: Storage) -> None:
    doc = store.create({"a": b"1"})
    for bad in ([("k", b"v", b"extra")], [("k",)], [5], [("k", b"v"), GetitemOnly()]):
        if not isinstance(bad[-1], GetitemOnly):  # dict.update would walk that one without end
            with pytest.raises((TypeError, ValueError)):
                as_dict(bad)  # dict.update refuses them too
        with pytest.raises(sb.InvalidValueError, match="not a pair"):
            doc.update(bad)
        with pytest.raises(sb.InvalidValueError, match="not a pair"):
            store.update([(sb.UID.new(), {}), bad[-1]])
    assert store.copy() == {doc.uid: {"a": b"1"}}


def test_iterables_of_pairs_and_keywords_as_dict_update(store: Storage) -> None:
    doc = store.create()
    doc.update(iter([("a", b"1"), ["b", b"2"]]), c=b"3")
    doc.update(pair for pair in [("a", b"changed")])
    assert doc == {"a": b"changed", "b": b"2", "c": b"3"}
    uid = sb.UID.new()
    store.update(iter([(uid, iter([("k", b"v")]))]), **{sb.UID.new().hex: {}})
    assert store[uid] == {"k": b"v"}
    assert len(store) == 3
