"""API.md sections 4 and 6: the limits restrict what is written, never what is read.

A store written with higher limits (or by hand) and reopened with the defaults
lists, reads, finds, copies and deletes its long keys and large values like any
others; only writing them is refused. A key that no store can hold (``""``, a
non-printable one, a non-str) is still refused by reads too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import storagebackend as sb

LONG = "L" * 64  # twice the default max_key_length
WIDE = "ж" * 40  # 40 characters, 80 bytes in UTF-8
BIG = b"x" * (65536 + 1)  # one byte above the default max_value_size
WRITTEN = {"short": b"s", LONG: b"long key", WIDE: b"wide key", "big": BIG}
HIGHER = {"max_key_length": 64, "max_value_size": 2 * 65536}
U = sb.UID("0123456789abcdef0123456789abcdef")


@pytest.fixture(params=["json", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store holding one document (UID ``U``) written with higher limits than the defaults."""
    name = f"sqlite:///{tmp_path}/store.db" if request.param == "sqlite" else str(tmp_path / "store.json")
    with sb.open(name, **HIGHER) as store:  # type: ignore[arg-type]
        store[U] = WRITTEN
    return name


def test_reads_see_what_higher_limits_wrote(url: str) -> None:
    with sb.open(url, flag="r") as store:
        assert store.limits.max_key_length == 32
        doc = store[U]
        assert list(doc) == list(WRITTEN)
        assert len(doc) == store.count(U) == 4
        for key, value in WRITTEN.items():
            assert doc[key] == value
            assert doc.get(key) == value
            assert key in doc
            assert store.get_value(U, key) == value
        assert dict(doc) == doc.copy() == dict(doc.items()) == WRITTEN
        assert doc == WRITTEN
        assert store.get_document(U) == WRITTEN
        assert store.copy() == {U: WRITTEN}
        assert doc.get(LONG + "x") is None  # a long key that is not there is a miss
        assert store.get_value(U, LONG + "x", b"d") == b"d"
        assert LONG + "x" not in doc
        with pytest.raises(KeyError):
            doc[LONG + "x"]


def test_deletes_take_what_higher_limits_wrote(url: str) -> None:
    with sb.open(url) as store:
        doc = store[U]
        assert doc.setdefault(LONG, b"other") == b"long key"  # there: a read, nothing written
        assert doc.setdefault("big", b"other") == BIG
        del doc[LONG]
        assert store.delete(U, WIDE) is True
        assert store.delete(U, WIDE) is False
        assert doc.pop("big") == BIG
        assert doc.pop(LONG, None) is None
        with pytest.raises(KeyError):
            del doc[LONG]
        assert doc == {"short": b"s"}
        store.discard()
        assert dict(doc.popitem() for _ in range(4)) == WRITTEN
        assert doc == {}
    with sb.open(url, flag="r") as store:
        assert store[U] == {}


def test_writing_beyond_the_limits_is_still_refused(url: str) -> None:
    with sb.open(url) as store:
        doc = store[U]
        other = sb.UID.new()
        for attempt in (
            lambda: doc.__setitem__(LONG, b"v"),
            lambda: doc.__setitem__(WIDE, b"v"),
            lambda: store.put(U, LONG, b"v"),
            lambda: doc.update({"ok": b"1", LONG: b"v"}),
            lambda: store.__setitem__(other, dict(doc)),
            lambda: store.__setitem__(U, doc),
            lambda: store.create(doc),
            lambda: store.update({other: {"ok": b"1"}, U: doc.copy()}),
            lambda: doc.setdefault(LONG + "x", b"v"),
            lambda: store.setdefault(other, {LONG: b"v"}),
        ):
            with pytest.raises(sb.InvalidKeyError, match="at most 32"):
                attempt()
        for attempt in (
            lambda: doc.__setitem__("big", doc["big"]),
            lambda: store.put(U, "new", BIG),
            lambda: doc.update(big=BIG),
            lambda: store.__setitem__(other, {"big": BIG}),
            lambda: doc.setdefault("new", BIG),
        ):
            with pytest.raises(sb.InvalidValueError, match="at most 65536"):
                attempt()
        assert store.copy() == {U: WRITTEN}


@pytest.mark.parametrize("key", ["", "a\nb", "\x00", LONG + "\n", 1, None, b"short"])
def test_keys_that_no_store_can_hold_are_refused_by_reads_too(url: str, key: object) -> None:
    with sb.open(url) as store:
        doc = store[U]
        for attempt in (
            lambda: doc[key],
            lambda: doc.get(key),
            lambda: key in doc,
            lambda: doc.pop(key, None),
            lambda: doc.__delitem__(key),
            lambda: store.get_value(U, key),
            lambda: store.delete(U, key),
        ):
            with pytest.raises(sb.InvalidKeyError):
                attempt()
        assert store.copy() == {U: WRITTEN}
