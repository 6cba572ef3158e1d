"""JSON codec (stdlib ``json``): one document per line, text values as JSON strings.

    {"format": "storagebackend", "version": 2, "documents": {
    "6f1c...": {"title": "Hello world", "blob": {"base64": "3q2+7w=="}}
    }}

A value that is valid UTF-8 is a JSON string; any other value is an object
``{"base64": "..."}``. Strings and objects never mix, so the tagging is
unambiguous: a text value that looks like a tag is still just a string. Keys
are JSON strings, so every key needs only JSON's own escaping.

The end of the file is its structure: the closing ``}}``, then a line break,
which version 2 requires (JSON itself would take a file cut before that last
line break). Version 1 files, which the first release wrote, are read as before.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    FORMAT_VERSION,
    Documents,
    FragmentCodec,
    as_text,
    documents_from_tree,
    string_or_base64,
    utf8_text,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["JSONCodec"]

_HEAD: Final = f'{{"format": "{FORMAT_MARKER}", "version": {FORMAT_VERSION}, "documents": {{\n'.encode()
_TAIL: Final = b"\n}}\n"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


class JSONCodec(FragmentCodec):
    """Stores as readable JSON (UTF-8)."""

    name: ClassVar[str] = "json"
    extensions: ClassVar[tuple[str, ...]] = (".json",)

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        pairs: dict[str, Any] = {}
        for key, value in document.items():
            text = as_text(value)
            pairs[key] = text if text is not None else {"base64": base64.b64encode(value).decode("ascii")}
        return f'"{uid}": {_dumps(pairs)}'.encode()

    def join(self, fragments: Sequence[bytes]) -> bytes:
        if not fragments:
            return _HEAD[:-1] + _TAIL[1:]
        # Head and tail ride on the first and last fragment, so the big join copies once.
        parts = list(fragments)
        parts[0] = _HEAD + parts[0]
        parts[-1] += _TAIL
        return b",\n".join(parts)

    def decode(self, data: bytes) -> Documents:
        text = utf8_text(data, "JSON")
        try:
            parsed = json.loads(text, object_pairs_hook=_unique_pairs)
        except CorruptStoreError:
            raise
        except json.JSONDecodeError as exc:
            cut = " (the file ends there: it may be cut short)" if exc.pos >= len(text) else ""
            raise CorruptStoreError(
                f"not a JSON store: {exc.msg} at line {exc.lineno}, column {exc.colno}{cut}"
            ) from None
        except RecursionError:
            raise CorruptStoreError("not a JSON store: nested too deeply") from None
        except ValueError as exc:  # e.g. an integer with more digits than int() allows
            raise CorruptStoreError(f"not a JSON store: {exc}") from None
        documents = documents_from_tree(parsed, "JSON", string_or_base64)
        if parsed["version"] >= 2 and "\n" not in text[text.rindex("}") :]:
            raise CorruptStoreError(
                "JSON store cut short: no line break after its closing brace "
                "(a file of format version 2 ends with a line break)"
            )
        return documents


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict; a key that appears twice makes the file ambiguous."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CorruptStoreError(f"the key {key[:40]!r} appears twice in one JSON object")
            seen.add(key)
    return result
