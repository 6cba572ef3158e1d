"""TOML codec (``tomllib`` reads; the codec writes its few kinds of lines itself): one table per document.

    format = "storagebackend"
    version = 2

    [documents]

    [documents.6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c]
    title = "Hello world"
    blob = {base64 = "3q2+7w=="}
    body = \"\"\"
    first line
    second line\"\"\"

    # end of store

A value that is valid UTF-8 is a TOML basic string (multi-line when it spans
lines); any other value is an inline table ``{base64 = "..."}`` on the key's
own line, so every key keeps its place (a sub-table ``[documents.UID.blob]``
with ``base64 = "..."`` reads the same). Strings and tables never mix, so a
text value that looks like a tag is still a string. Keys that are not bare TOML
keys are quoted. In strings, ``\\``, ``"``, the control characters TOML refuses
and the characters Python does not print are escaped (tab is written as it is).

The file ends with the comment line ``# end of store`` and a line break
(format version 2; only blank and comment lines may follow): a file cut
anywhere lacks it and is refused. Version 1 files, which the first release
wrote without it, are read as before.
"""

from __future__ import annotations

import base64
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    FORMAT_VERSION,
    Documents,
    FragmentCodec,
    as_text,
    check_end_line,
    documents_from_tree,
    string_or_base64,
    utf8_text,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["TOMLCodec"]

_HEAD: Final = f'format = "{FORMAT_MARKER}"\nversion = {FORMAT_VERSION}\n\n[documents]\n'.encode()
_END_LINE: Final = "# end of store"
_END: Final = f"{_END_LINE}\n".encode()
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")

# Escapes inside a basic string: the control characters TOML refuses (all but tab), quote, backslash.
_ONE_LINE: Final[dict[int, str]] = {
    **{code: f"\\u{code:04x}" for code in (*range(0x20), 0x7F) if code != 0x09},
    0x08: "\\b",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}
_MULTI_LINE: Final[dict[int, str]] = {**_ONE_LINE, 0x0A: "\n"}  # line feeds as they are; CR stays \r


def _unprintable(char: str) -> str:
    """A character Python does not print, escaped (tab and line feed are left to the caller's table)."""
    if char.isprintable() or char in "\t\n":
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _quoted(text: str) -> str:
    """Printable text with its backslashes and quotes escaped (str.replace: far faster than translate)."""
    return text.replace("\\", "\\\\").replace('"', '\\"') if "\\" in text or '"' in text else text


def _string(text: str) -> str:
    """``text`` as a TOML basic string: multi-line if it spans lines, every character shown."""
    if "\n" in text:
        if all(map(str.isprintable, text.split("\n"))):
            escaped = _quoted(text)
        else:
            escaped = "".join(map(_unprintable, text.translate(_MULTI_LINE)))
        # The line break right after the opening quotes is not part of the string.
        return f'"""\n{escaped}"""'
    if text.isprintable():
        return f'"{_quoted(text)}"'
    return '"' + "".join(map(_unprintable, text.translate(_ONE_LINE))) + '"'


def _key(key: str) -> str:
    """``key`` bare where TOML allows it, else quoted."""
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: bytes) -> str:
    text = as_text(value)
    if text is None:
        return f'{{base64 = "{base64.b64encode(value).decode("ascii")}"}}'
    return _string(text)


class TOMLCodec(FragmentCodec):
    """Stores as readable TOML (UTF-8)."""

    name: ClassVar[str] = "toml"
    extensions: ClassVar[tuple[str, ...]] = (".toml",)

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        lines = [f"[documents.{uid}]\n"]
        lines.extend(f"{_key(key)} = {_value(value)}\n" for key, value in document.items())
        return "".join(lines).encode()

    def join(self, fragments: Sequence[bytes]) -> bytes:
        return b"\n".join([_HEAD, *fragments, _END])

    def decode(self, data: bytes) -> Documents:
        text = utf8_text(data, "TOML")
        try:
            parsed = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # its message ends with the line and column
            raise CorruptStoreError(f"not a TOML store: {exc}") from None
        except RecursionError:
            raise CorruptStoreError("not a TOML store: nested too deeply") from None
        except ValueError as exc:  # e.g. an integer with more digits than int() allows
            raise CorruptStoreError(f"not a TOML store: {exc}") from None
        documents = documents_from_tree(parsed, "TOML", string_or_base64)
        if parsed["version"] >= 2:
            check_end_line(text, _END_LINE, "TOML")
        return documents
