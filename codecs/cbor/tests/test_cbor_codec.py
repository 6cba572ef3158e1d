"""The CBOR codec: storagebackend's codec kit, then what is particular to CBOR."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cbor2
import pytest
from storagebackend_cbor import CBORCodec

from storagebackend import CorruptStoreError
from storagebackend.testing import CodecTests

U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
U2 = "0123456789abcdef0123456789abcdef"
HEAD = {"format": "storagebackend", "version": 1}


def store_file(documents: object, **top: object) -> bytes:
    """A CBOR file of the store's shape, written by cbor2 itself."""
    return cbor2.dumps({**HEAD, **top, "documents": documents})


def with_value(encoded: bytes) -> bytes:
    """A store whose one value is the CBOR item ``encoded`` (raw bytes, so any item fits)."""
    return store_file({U1: {"k": "PLACEHOLDER"}}).replace(cbor2.dumps("PLACEHOLDER"), encoded)


class TestCBORCodec(CodecTests):
    codec = CBORCodec()
    version_spelling = (b"gversion\x01", b"gversion\x02")

    def read_with_library(self, data: bytes) -> dict[str, dict[str, bytes]]:
        top = cbor2.loads(data)
        assert {key: top[key] for key in HEAD} == HEAD
        return {
            uid: {key: value.encode() if isinstance(value, str) else value for key, value in document.items()}
            for uid, document in top["documents"].items()
        }

    def corrupt_files(self) -> Mapping[str, bytes]:
        return {
            "an empty map": cbor2.dumps({}),
            "an array": cbor2.dumps(["storagebackend", 1]),
            "another format": cbor2.dumps({"format": "other", "version": 1, "documents": {}}),
            "the marker as bytes": cbor2.dumps({"format": b"storagebackend", "version": 1, "documents": {}}),
            "the version as text": store_file({}, version="1"),
            "the version a float": store_file({}, version=1.0),
            "the version true": store_file({}, version=True),
            "no documents": cbor2.dumps(HEAD),
            "documents an array": store_file([]),
            "a uid as bytes": store_file({U1.encode(): {}}),
            "a uid that is no uid": store_file({"xyz": {}}),
            "a key as bytes": store_file({U1: {b"k": b"v"}}),
            "an integer key": cbor2.dumps({**HEAD, "documents": {U1: {1: b"v"}}}),
            "an empty key": store_file({U1: {"": b"v"}}),
            "a key with a line break": store_file({U1: {"a\nb": b"v"}}),
            "a document an array": store_file({U1: []}),
            "data after the end": store_file({}) + b"\x00",
            "a second store after the end": store_file({}) * 2,
            "a map longer than the file": b"\xbb\xff\xff\xff\xff\xff\xff\xff\xff",
            "a string longer than the file": b"\x7b\xff\xff\xff\xff\xff\xff\xff\xff",
            "text that is not UTF-8": store_file({U1: {"k": "x"}}).replace(b"\x61\x78", b"\x61\xff"),
            "a lone surrogate": with_value(b"\x63\xed\xa0\x80"),
            "a reserved initial byte": with_value(b"\x1c"),
            "a break outside an indefinite item": with_value(b"\xff"),
            "deep nesting": b"\x81" * 100_000 + b"\x00",
        }

    def dangerous_files(self, marker: Path) -> Mapping[str, bytes]:
        tagged = {
            "a set (tag 258)": cbor2.CBORTag(258, [1, 2]),
            "a date (tag 0)": cbor2.CBORTag(0, "2026-11-27T00:00:00Z"),
            "an epoch date (tag 1)": cbor2.CBORTag(1, 0),
            "a big number (tag 2)": cbor2.CBORTag(2, b"\x01" * 1000),
            "a bigfloat of a huge exponent (tag 5)": cbor2.CBORTag(5, [0x7FFFFFFF, 1]),
            "a decimal fraction (tag 4)": cbor2.CBORTag(4, [-(2**62), 1]),
            "a regular expression (tag 35)": cbor2.CBORTag(35, "(a+)+$"),
            "a MIME message (tag 36)": cbor2.CBORTag(36, "Content-Type: text/plain\n\nhi"),
            "embedded CBOR (tag 24)": cbor2.CBORTag(24, cbor2.dumps("x")),
            "a UUID (tag 37)": cbor2.CBORTag(37, b"\x00" * 16),
            "an IP address (tag 260)": cbor2.CBORTag(260, b"\x7f\x00\x00\x01"),
            "a tag no decoder knows (65), naming a file": cbor2.CBORTag(65, str(marker)),
            "text under the self-describe tag (55799)": cbor2.CBORTag(55799, "text"),
        }
        files = {what: with_value(cbor2.dumps(value)) for what, value in tagged.items()}
        files["a shared reference to itself (tags 28, 29)"] = with_value(b"\xd8\x1c\x81\xd8\x1d\x00")
        files["a tagged uid"] = store_file({cbor2.CBORTag(65, U1): {}})
        files["a tagged key"] = store_file({U1: {cbor2.CBORTag(65, "k"): b"v"}})
        files["a tagged document"] = store_file({U1: cbor2.CBORTag(258, [])})
        files["a document that is a bigfloat of a huge exponent"] = store_file({U1: cbor2.CBORTag(5, [2**62, 1])})
        files["a document that refers to itself (tags 28, 29)"] = store_file({U1: "PLACEHOLDER"}).replace(
            cbor2.dumps("PLACEHOLDER"), b"\xd8\x1c\xa1\x61k\xd8\x1d\x00"
        )
        files["the whole file under the self-describe tag"] = b"\xd9\xd9\xf7" + store_file({})
        files["the whole file under a tag no decoder knows"] = b"\xd8\x41" + store_file({})
        for what, item in {
            "a float": 1.5,
            "null": None,
            "true": True,
            "an array": [b"x"],
            "a map": {"a": b"b"},
        }.items():
            files[f"a value that is {what}"] = with_value(cbor2.dumps(item))
        files["a value that is undefined"] = with_value(b"\xf7")
        files["a value that is a simple value"] = with_value(b"\xf8\x20")
        files["a value that is a negative number"] = with_value(b"\x20")
        return files


# -- what is particular to CBOR ------------------------------------------------------------------------------


def test_text_is_a_text_string_and_other_bytes_a_byte_string() -> None:
    data = CBORCodec().encode({U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "empty": b""}})
    assert cbor2.loads(data)["documents"][U1] == {"title": "Hello world", "blob": b"\xde\xad\xbe\xef", "empty": ""}
    assert b"\x6bHello world" in data  # a text string of 11 bytes, as any CBOR tool shows it


def test_what_other_cbor_writers_make_of_a_store_reads() -> None:
    """Text or bytes for any value, indefinite-length strings and maps: the same documents."""
    written = store_file({U1: {"title": "Hello world", "blob": b"\xde\xad\xbe\xef"}, U2: {}})
    expected = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}, U2: {}}
    assert CBORCodec().decode(written) == expected
    indefinite = b"\xbf" + cbor2.dumps("format") + b"\x7f\x64stor\x6aagebackend\xff" + cbor2.dumps("version")
    indefinite += (
        b"\x01" + cbor2.dumps("documents") + b"\xbf" + cbor2.dumps(U1) + b"\xbf\x61k\x5f\x41a\x41b\xff\xff\xff\xff"
    )
    assert CBORCodec().decode(indefinite) == {U1: {"k": b"ab"}}
    assert CBORCodec().decode(cbor2.dumps({"documents": {}, "version": 1, "format": "storagebackend"})) == {}


def test_a_uid_in_upper_case_is_normalised() -> None:
    assert CBORCodec().decode(store_file({U1.upper(): {"k": b"v"}})) == {U1: {"k": b"v"}}


@pytest.mark.parametrize("count", [0, 23, 24, 255, 256, 65535, 65536])
def test_the_documents_map_header_counts_every_document(count: int) -> None:
    """The header of the documents map is written by the codec itself: check it at each of its sizes."""
    store = {f"{n:032x}": {} for n in range(count)}
    data = CBORCodec().encode(store)
    assert len(cbor2.loads(data)["documents"]) == count
    assert CBORCodec().decode(data) == store


@pytest.mark.parametrize(
    ("data", "tag"),
    [
        (with_value(cbor2.dumps(cbor2.CBORTag(1, 0))), 1),
        (store_file({U1: cbor2.CBORTag(258, [])}), 258),
        (store_file({U1: "x"}).replace(cbor2.dumps("x"), b"\xd8\x1c\xa0"), 28),
        (b"\xd9\xd9\xf7" + store_file({}), 55799),
    ],
)
def test_a_tag_is_refused_before_it_becomes_an_object_and_named(data: bytes, tag: int) -> None:
    with pytest.raises(CorruptStoreError, match=f"semantic tag {tag} "):
        CBORCodec().decode(data)
