"""Hypothesis strategies for valid and invalid stores: keys, values, documents, uids.

The conformance machine, the transport tests and the codec kit draw from these;
a plugin's own tests may too. The tricky keys and values are the ones that broke
naive codecs: separators, comments, quotes, case, spaces, markers, any byte.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from hypothesis import strategies as st

from storagebackend.uid import UID

__all__ = [
    "INVALID_UIDS",
    "INVALID_VALUES",
    "TRICKY_KEYS",
    "TRICKY_VALUES",
    "documents",
    "invalid_keys",
    "keys",
    "stores",
    "uid_forms",
    "values",
]

#: Keys that break naive codecs: separators, comments, quotes, case, spaces, non-ASCII.
TRICKY_KEYS: Final = (
    "=",
    ":",
    "[",
    "]",
    "[section]",
    "#",
    ";",
    "#comment",
    "; semi",
    "a=b",
    "a:b",
    "key = value",
    " lead",
    "trail ",
    " ",
    "  both  ",
    "Key",
    "key",
    "KEY",
    '"',
    "'",
    '"quoted"',
    "'single'",
    "\\",
    "\\n",
    "%(x)s",
    "$x",
    "{}",
    "[]",
    "null",
    "true",
    "~",
    "-",
    "- x",
    "? x",
    "!!binary",
    "<<",
    "*a",
    "&a",
    "0x10",
    "1e3",
    "1",
    ".",
    "..",
    "a.b",
    "DEFAULT",
    "ж" * 32,
    "日本語",
    "é",
    "𝄞",
    "__sb__",
    "$sb",
    "__storagebackend__",
    "~b64",
    "base64:",
    # YAML 1.1/1.2 scalars that are not strings when plain, and YAML indicators
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "0o17",
    "012",
    "1_000",
    "12:30",
    "2001-02-03",
    ".inf",
    "NaN",
    "---",
    "...",
    "|",
    ">",
    "!",
    "&",
    "*",
    "%",
    "@",
    "`",
    "{",
    ",",
    "?",
    "a: b",
    "a #b",
    # letters whose case does not map back and forth one to one (INI keys are lower-cased)
    "İ",
    "ǅ",
    "\u212a",
    "ẞ",
    "ΑΣ",
    "ß",
    # escapes and names that the codecs use themselves
    "\\{3d}",
    "\\T",
    "format",
    "version",
    "documents",
    "base64",
    "storagebackend",
    '"""',
    "'''",
    "[documents]",
    "a.b.c",
    "x" * 32,
)
#: Values with the shapes codecs must keep apart: text, binary, markers, empty.
TRICKY_VALUES: Final = (
    b"",
    b" ",
    b"Hello world",
    b"\x00",
    b"\xff\xfe",
    b"\x80",
    b"caf\xc3\xa9",
    b"caf\xe9",
    b"line\nbreak",
    b"\r\n",
    b"\t",
    b"  padded  ",
    b"null",
    b"true",
    b"~",
    b"123",
    b"1e3",
    b"!!binary",
    b"base64:AAAA",
    b"~b64:AAAA",
    b'{"$b": "x"}',
    b"#",
    b";",
    b"=",
    b"[x]",
    b"'",
    b'"',
    b"\\",
    b"%(x)s",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xef\xbb\xbfbom",
    "ж日本𝄞".encode(),
    b"\x1b[0m",
    b"a\x00b",
    b"\x7f",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
    b'"quoted"',
    b' "x" ',
    b"base64:",
    b"<<",
    b"---",
    b"...",
    b"- x",
    b"yes",
    b"No",
    b"0o17",
    b"2001-02-30",
    b"line\n",
    b"\nline",
    b"\n\n",
    b" \n ",
    b"trailing \nspace",
    b"  indented\nblock",
    b"first line\nsecond line",
    b"a\r\nb",
    b"\r",
    b"|",
    b">",
    b"\\n",
    b"\\x41",
    b"\\{3d}",
    b'"""',
    b"'''",
    b"\t\tx",
    b"x\t",
    b"\x0b\x0c\x1c",
    b"\xc2\xa0",
    b"\xe2\x80\xa9",
    b"\xef\xbb\xbf",
    b"\xe2\x80\x8b",
    b"%",
    b"word " * 60,
    b"# not a comment\n",
    b"key = value",
    b"[section]",
    b"!!binary AAAA",
    b'{"base64": "AAAA"}',
    b"{base64 = 'AAAA'}",
)


#: Characters that some file format treats specially, to build keys and values from.
_SPECIAL_CHARACTERS: Final = " \t\n\r=:[]#;\\{}'\"!&*-?|>%@`,.~<aAzZéÉ"


def keys(max_length: int = 32) -> st.SearchStrategy[str]:
    """Every valid key: 1 to ``max_length`` printable characters, tricky ones often."""
    # str.isprintable() is False exactly for categories C* and Z* except " ": excluding them
    # up front spares hypothesis a filter that rejects most code points (a flaky health check).
    printable = st.characters(codec="utf-8", exclude_categories=["C", "Z"], include_characters=" ")
    text = st.text(printable, min_size=1, max_size=max_length)
    special = st.text(
        st.sampled_from([c for c in _SPECIAL_CHARACTERS if c.isprintable()]), min_size=1, max_size=max_length
    )
    return st.one_of(st.sampled_from([k for k in TRICKY_KEYS if len(k) <= max_length]), text, special)


def values(max_size: int = 256) -> st.SearchStrategy[bytes]:
    """Valid values: any bytes, valid UTF-8 text, and the tricky ones."""
    return st.one_of(
        st.sampled_from([v for v in TRICKY_VALUES if len(v) <= max_size]),
        st.binary(max_size=max_size),
        st.text(max_size=max_size // 4).map(lambda text: text.encode("utf-8")),
        st.text(st.sampled_from(_SPECIAL_CHARACTERS), max_size=max_size // 4).map(lambda text: text.encode("utf-8")),
    )


def documents(max_keys: int = 6, max_value_size: int = 256) -> st.SearchStrategy[dict[str, bytes]]:
    """Valid documents (key -> value dicts), empty ones included."""
    return st.dictionaries(keys(), values(max_value_size), max_size=max_keys)


def stores(max_documents: int = 8) -> st.SearchStrategy[dict[str, dict[str, bytes]]]:
    """Valid whole stores: uid (32 hex digits) -> document."""
    uids = st.uuids().map(lambda u: u.hex)
    return st.dictionaries(uids, documents(), max_size=max_documents)


def invalid_keys() -> st.SearchStrategy[Any]:
    """Keys that every write must refuse with InvalidKeyError (reads refuse those no store can hold).

    A printable key longer than 32 characters only breaks the default limit: a read
    looks it up (a miss here), since a store written with higher limits may hold it.
    """
    return st.one_of(
        st.just(""),
        st.text(min_size=33, max_size=40).filter(lambda k: len(k) > 32),
        st.sampled_from(["a\nb", "tab\there", "\x00", "end\r", "\u2028", "\x7f", "\u200b"]),
        st.sampled_from([1, None, b"key", 2.5, ("k",)]),
    )


INVALID_VALUES: Final = ("text", 1, None, 2.5, ["b"], {"a": b"b"}, b"x" * 65537)
INVALID_UIDS: Final = ("", "xyz", "0" * 31, "0" * 33, "g" * 32, b"0" * 32, 12, None, "{" + "0" * 32 + "}")


def uid_forms(hex_uid: str) -> st.SearchStrategy[Any]:
    """The accepted spellings of one uid: UID, lower, upper, hyphenated, uuid.UUID."""
    return st.sampled_from(
        [UID(hex_uid), hex_uid, hex_uid.upper(), str(uuid.UUID(hex=hex_uid)), uuid.UUID(hex=hex_uid)]
    )
