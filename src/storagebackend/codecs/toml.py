"""TOML codec (``tomllib`` reads, ``tomli-w`` writes): one table per document.

    format = "storagebackend"
    version = 1

    [documents]

    [documents.6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c]
    title = "Hello world"
    body = \"\"\"
    first line
    second line\"\"\"

    [documents.6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c.blob]
    base64 = "3q2+7w=="

A value that is valid UTF-8 is a TOML string (multi-line when it spans lines);
any other value is a table ``{base64 = "..."}``, which tomli-w writes as a
sub-table as above (an inline ``blob = {base64 = "3q2+7w=="}`` reads the same).
Strings and tables never mix, so a text value that looks like a tag is still a
string. Keys that are not bare TOML keys are quoted by tomli-w.
"""

from __future__ import annotations

import base64
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

import tomli_w

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    FORMAT_VERSION,
    Codec,
    Documents,
    documents_from_tree,
    string_or_base64,
    utf8_text,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["TOMLCodec"]

_HEAD: Final = f'format = "{FORMAT_MARKER}"\nversion = {FORMAT_VERSION}\n\n[documents]\n'.encode()


class TOMLCodec(Codec):
    """Stores as readable TOML (UTF-8)."""

    name: ClassVar[str] = "toml"
    extensions: ClassVar[tuple[str, ...]] = (".toml",)

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        pairs: dict[str, Any] = {}
        multiline = True
        for key, value in document.items():
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                pairs[key] = {"base64": base64.b64encode(value).decode("ascii")}
                continue
            pairs[key] = text
            # tomli-w writes CR LF inside a multi-line string as LF: keep such text on one line.
            multiline = multiline and "\r\n" not in text
        return tomli_w.dumps({"documents": {uid: pairs}}, multiline_strings=multiline).encode()

    def join(self, fragments: Sequence[bytes]) -> bytes:
        return b"\n".join([_HEAD, *fragments])

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
        return documents_from_tree(parsed, "TOML", string_or_base64)
