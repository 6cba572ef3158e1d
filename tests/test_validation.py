"""API.md section 6: what is valid, and that invalid input changes nothing."""

from __future__ import annotations

import array
from collections.abc import Iterator

import pytest

import storagebackend as sb
from storagebackend.storage import Storage


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Storage]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/v.db"
    with sb.open(url) as opened:
        yield opened


@pytest.mark.parametrize("key", ["a", "k" * 32, "ж" * 32, " ", "=:[#;'\"", "日本語", "𝄞", "Key", "a b"])
def test_valid_keys(store: Storage, key: str) -> None:
    doc = store.create({key: b"v"})
    assert doc[key] == b"v"
    assert list(doc) == [key]


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("", "at least 1"),
        ("k" * 33, "33 characters"),
        ("a\nb", "printable"),
        ("\x00", "printable"),
        ("\u2028", "printable"),
        (1, "str"),
        (None, "str"),
        (b"k", "str"),
    ],
)
def test_invalid_keys_named_in_message(store: Storage, key: object, words: str) -> None:
    doc = store.create({"ok": b"1"})
    writes = [
        lambda: doc.__setitem__(key, b"v"),
        lambda: store.put(doc.uid, key, b"v"),
        lambda: store.create({key: b"v"}),
        lambda: store.__setitem__(sb.UID.new(), {"a": b"b", key: b"v"}),
        lambda: doc.update({"new": b"n", key: b"v"}),
    ]
    reads = [
        lambda: doc[key],
        lambda: key in doc,
        lambda: store.get_value(doc.uid, key),
        lambda: store.delete(doc.uid, key),
    ]
    too_long_only = isinstance(key, str) and key.isprintable() and key != ""
    for attempt in writes if too_long_only else writes + reads:  # a long key may be read (tests/test_limits.py)
        with pytest.raises(sb.InvalidKeyError) as info:
            attempt()
        assert words in str(info.value)
    assert store.get_document(doc.uid) == {"ok": b"1"}
    assert len(store) == 1


@pytest.mark.parametrize("value", [b"", b"x" * 65536, bytearray(b"ba"), memoryview(b"mv"), array.array("B", [1, 2])])
def test_valid_values_read_back_as_bytes(store: Storage, value: object) -> None:
    doc = store.create()
    doc["k"] = value
    assert doc["k"] == bytes(value)  # type: ignore[call-overload]
    assert type(doc["k"]) is bytes


def test_values_are_copied(store: Storage) -> None:
    buffer = bytearray(b"before")
    source = {"k": buffer}
    doc = store.create(source)
    buffer[:] = b"after!"
    source["other"] = bytearray(b"x")
    assert store.get_document(doc.uid) == {"k": b"before"}


@pytest.mark.parametrize(
    ("value", "words"),
    [("text", "encode"), (1, "int"), (None, "NoneType"), (b"x" * 65537, "65537 bytes"), ([b"x"], "list")],
)
def test_invalid_values(store: Storage, value: object, words: str) -> None:
    doc = store.create({"ok": b"1"})
    other = sb.UID.new()
    for attempt in (
        lambda: doc.__setitem__("k", value),
        lambda: store.put(doc.uid, "k", value),
        lambda: store.create({"k": value}),
        lambda: store.update({other: {"a": b"b"}, doc.uid: {"k": value}}),
        lambda: doc.update(k=value),
    ):
        with pytest.raises(sb.InvalidValueError) as info:
            attempt()
        assert words in str(info.value)
    assert dict(store.items()) == {doc.uid: {"ok": b"1"}}


def test_reads_with_impossible_input_raise(store: Storage) -> None:
    with pytest.raises(sb.InvalidUIDError):
        "xyz" in store  # noqa: B015
    doc = store.create()
    with pytest.raises(sb.InvalidKeyError):
        doc[""]


def test_limits_are_options(tmp_path: object) -> None:
    with sb.open("memory://", max_key_length=4, max_value_size=3) as store:
        assert store.limits.max_key_length == 4
        store.create({"four": b"123"})
        with pytest.raises(sb.InvalidKeyError, match="at most 4"):
            store.create({"fives": b"1"})
        with pytest.raises(sb.InvalidValueError, match="at most 3"):
            store.create({"k": b"1234"})
    with pytest.raises(ValueError, match="max_key_length"):
        sb.open("memory://", max_key_length=0)


def test_a_key_valid_in_one_store_is_judged_anew_in_another() -> None:
    # Each store remembers the keys it found valid (the fast path of every read and
    # write); that memory must never let a key past another store's tighter limit.
    with sb.open("memory://") as roomy, sb.open("memory://", max_key_length=4) as tight:
        roomy.create({"longer": b"1"})
        roomy.get_value(sb.UID.new(), "longer")
        doc = tight.create()
        assert tight.get_value(doc.uid, "longer") is None  # reading a long key is a miss, not an error
        with pytest.raises(sb.InvalidKeyError, match="at most 4"):
            doc["longer"] = b"1"
        with pytest.raises(sb.InvalidKeyError, match="at most 4"):
            tight.put(doc.uid, "longer", b"1")
        with pytest.raises(sb.InvalidKeyError, match="at most 4"):
            doc.update(longer=b"1")


def test_str_subclass_keys_reach_the_backend_as_str(store: Storage) -> None:
    class Key(str):
        pass

    doc = store.create({Key("a"): b"1"})
    doc[Key("b")] = b"2"
    store.put(doc.uid, Key("c"), b"3")
    assert doc[Key("a")] == b"1"
    assert store.get_value(doc.uid, Key("b")) == b"2"
    assert [type(key) for key in doc] == [str, str, str]
    assert all(type(key) is str for key in store.limits.known_keys)
