"""The plist codecs, XML and binary: storagebackend's codec kit, then what is particular to property lists."""

from __future__ import annotations

import plistlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from storagebackend_plist import BinaryPlistCodec, PlistCodec

import storagebackend as sb
from storagebackend.testing import CodecTests, stores
from storagebackend.testing.codecs import KIT_SETTINGS

U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
U2 = "0123456789abcdef0123456789abcdef"
HEAD = {"format": "storagebackend", "version": 1}
Store = dict[str, dict[str, bytes]]


def tree(data: bytes) -> Any:
    return plistlib.loads(data)


def as_documents(data: bytes) -> Store:
    """What ``plistlib.loads`` reads from a store file: its documents, strings as UTF-8."""
    top = plistlib.loads(data)
    assert {key: top[key] for key in HEAD} == HEAD
    return {
        uid: {key: value.encode() if isinstance(value, str) else value for key, value in document.items()}
        for uid, document in top["documents"].items()
    }


def xml_store(documents: str, version: str = "<integer>1</integer>") -> bytes:
    """An XML plist of the store's shape around ``documents`` (the inside of the documents dictionary)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n'
        f"<key>format</key><string>storagebackend</string>\n<key>version</key>{version}\n"
        f"<key>documents</key><dict>{documents}</dict>\n</dict>\n</plist>\n"
    ).encode()


def binary_store(documents: object, **top: object) -> bytes:
    return plistlib.dumps({**HEAD, **top, "documents": documents}, fmt=plistlib.FMT_BINARY, sort_keys=False)


class PlistKit(CodecTests):
    """What both forms share: the files that are no store, and the dangerous ones."""

    def read_with_library(self, data: bytes) -> Store:
        return as_documents(data)

    def corrupt_files(self) -> Mapping[str, bytes]:
        app = {"CFBundleName": "Notes", "CFBundleVersion": "1"}
        return {
            "an app's Info.plist": plistlib.dumps(app),
            "an app's Info.plist, binary": plistlib.dumps(app, fmt=plistlib.FMT_BINARY),
            "an array": plistlib.dumps(["storagebackend", 1]),
            "the version as a string": xml_store("", "<string>1</string>"),
            "the version a real": xml_store("", "<real>1</real>"),
            "the version true": xml_store("", "<true/>"),
            "documents an array": xml_store("").replace(b"<dict></dict>", b"<array/>"),
            "a uid that is no uid": xml_store("<key>xyz</key><dict/>"),
            "an empty key": xml_store(f"<key>{U1}</key><dict><key></key><string>v</string></dict>"),
            "a document that is a string": xml_store(f"<key>{U1}</key><string>x</string>"),
            "a value without its key": xml_store(f"<key>{U1}</key><dict><string>v</string></dict>"),
            "unclosed tags": xml_store("").replace(b"</dict>\n</plist>", b""),
            "an unknown element": xml_store(f"<key>{U1}</key><dict><key>k</key><blob>v</blob></dict>"),
            "XML that is not well formed": xml_store(f"<key>{U1}</key><dict><key>k</string></dict>"),
            "a binary plist with its magic only": b"bplist00",
            "a binary plist with data after its trailer": binary_store({}) + b"\x00",
            "a binary plist whose trailer points outside": b"bplist00"
            + b"\x00" * 8
            + b"\x00" * 6
            + b"\x01\x01"
            + (1).to_bytes(8, "big")
            + (0).to_bytes(8, "big")
            + (2**62).to_bytes(8, "big"),
            "a binary plist whose dictionary refers to itself": _self_referring_binary(),
            "XML in UTF-16": plistlib.dumps({**HEAD, "documents": {}}).decode().encode("utf-16"),
            "XML declared in another encoding": xml_store("").replace(b"UTF-8", b"ISO-8859-1"),
            "XML declared in an unknown encoding": xml_store("").replace(b"UTF-8", b"TTF-8"),
        }

    def dangerous_files(self, marker: Path) -> Mapping[str, bytes]:
        entities = {
            "an external entity (XXE) naming a file": f'<!DOCTYPE plist [<!ENTITY x SYSTEM "file://{marker}">]>',
            "an external parameter entity": f'<!DOCTYPE plist [<!ENTITY % p SYSTEM "file://{marker}"> %p;]>',
            "entities that expand a billion times": '<!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(8))
            + "]>",
        }
        value = f"<key>{U1}</key><dict><key>k</key><string>&x;</string></dict>"
        files = {
            what: xml_store(value).replace(b"<plist", doctype.encode() + b"\n<plist")
            for what, doctype in entities.items()
        }
        files["an entity declared, not used"] = xml_store("").replace(
            b"<plist", f'<!DOCTYPE plist [<!ENTITY x SYSTEM "file://{marker}">]>\n<plist'.encode()
        )
        files["an external DTD naming a file"] = xml_store(value).replace(
            b"<plist", f'<!DOCTYPE plist SYSTEM "file://{marker}">\n<plist'.encode()
        )
        for what, element in {
            "a date": "<date>2026-11-27T00:00:00Z</date>",
            "a real": "<real>1.5</real>",
            "an integer": "<integer>1</integer>",
            "a huge integer": f"<integer>{'9' * 5000}</integer>",
            "true": "<true/>",
            "an array": "<array><string>x</string></array>",
            "a dictionary": "<dict><key>a</key><string>b</string></dict>",
        }.items():
            files[f"{what} as a value"] = xml_store(f"<key>{U1}</key><dict><key>k</key>{element}</dict>")
        uid_object = plistlib.UID(1)
        files["a binary UID as a value"] = binary_store({U1: {"k": uid_object}})
        files["a binary date as a value"] = binary_store({U1: {"k": __import__("datetime").datetime(2026, 11, 27)}})
        files["a binary array as a document"] = binary_store({U1: [b"x"]})
        return files


def _self_referring_binary() -> bytes:
    """A binary plist whose top dictionary holds itself under "documents" (object 0 refers to object 0)."""
    data = bytearray(binary_store({}))
    start = data.index(b"\xd3")  # the top dictionary of three pairs
    data[start + 6] = 0  # its third value ref (documents) -> object 0, the dictionary itself
    return bytes(data)


class TestPlistCodec(PlistKit):
    codec = PlistCodec()
    version_spelling = (b"<integer>1</integer>", b"<integer>2</integer>")


class TestBinaryPlistCodec(PlistKit):
    codec = BinaryPlistCodec()
    text_is_literal = False  # text beyond ASCII is UTF-16 in a binary plist

    def newer_version(self, data: bytes) -> bytes:
        top = plistlib.loads(data)
        return plistlib.dumps({**top, "version": 2}, fmt=plistlib.FMT_BINARY, sort_keys=False)


# -- what is particular to property lists --------------------------------------------------------------------


@KIT_SETTINGS
@given(store=stores())
def test_the_xml_file_is_what_plistlib_writes(store: Store) -> None:
    """Byte for byte: the fragments cut from plistlib's output join into plistlib's output for the whole tree."""
    data = PlistCodec().encode(store)
    assert data == plistlib.dumps(tree(data), sort_keys=False)
    assert tree(BinaryPlistCodec().encode(store)) == tree(data)  # one tree in both forms


def test_text_is_a_string_and_other_bytes_are_data() -> None:
    store = {
        U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "cr": b"a\r\nb", "nul": b"a\x00", "tab": b"\t\n"}
    }
    for codec in (PlistCodec(), BinaryPlistCodec()):
        document = tree(codec.encode(store))["documents"][U1]
        assert document == {
            "title": "Hello world",
            "blob": b"\xde\xad\xbe\xef",
            "cr": b"a\r\nb",
            "nul": b"a\x00",
            "tab": "\t\n",
        }
    text = PlistCodec().encode(store).decode()
    assert "\t\t\t<key>title</key>\n\t\t\t<string>Hello world</string>\n" in text
    assert "\t\t\t<key>blob</key>\n\t\t\t<data>\n\t\t\t3q2+7w==\n\t\t\t</data>\n" in text


def test_each_codec_reads_the_other_form() -> None:
    """``plutil -convert binary1 notes.plist`` (or xml1) keeps the store readable; the next sync writes its own form."""
    store = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}, U2: {}}
    xml, binary = PlistCodec().encode(store), BinaryPlistCodec().encode(store)
    assert binary.startswith(b"bplist00")
    assert PlistCodec().decode(binary) == BinaryPlistCodec().decode(xml) == store


def test_a_plist_written_by_another_program_reads() -> None:
    """Other indentation, keys in another order, an empty document as <dict/>, a comment after the end."""
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
        f"<key>documents</key><dict><key>{U1.upper()}</key><dict><key>Title</key><string>Hi &amp; bye</string>"
        f"<key>blob</key><data>3q2+\n7w==</data></dict><key>{U2}</key><dict/></dict>"
        "<key>version</key><integer>1</integer><key>format</key><string>storagebackend</string></dict>\n"
        "</plist>\n<!-- checked by Bob -->\n"
    ).encode()
    assert PlistCodec().decode(data) == {U1: {"Title": b"Hi & bye", "blob": b"\xde\xad\xbe\xef"}, U2: {}}


def test_an_entity_xml_readers_would_skip_is_refused_not_dropped() -> None:
    data = xml_store(f"<key>{U1}</key><dict><key>k</key><string>a&nbsp;b &amp; &#233;</string></dict>")
    with pytest.raises(sb.CorruptStoreError, match="'&nbsp;' at line 6"):
        PlistCodec().decode(data)
    assert PlistCodec().decode(data.replace(b"&nbsp;", b"&#160;")) == {U1: {"k": "a\xa0b & é".encode()}}


def test_an_xml_file_without_the_line_break_after_its_end_is_cut_short() -> None:
    data = PlistCodec().encode({U1: {"k": b"v"}})
    with pytest.raises(sb.CorruptStoreError, match="cut short"):
        PlistCodec().decode(data.rstrip(b"\n"))
