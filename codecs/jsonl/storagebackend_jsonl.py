"""JSON Lines codec (stdlib ``json``): a header line, one line per document, an end line.

    {"format": "storagebackend", "version": 1}
    {"uid": "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c", "document": {"title": "Hello world", "blob": {"base64": "3q2+7w=="}}}
    {"end": "storagebackend"}

Every line is a JSON object (https://jsonlines.org), so ``grep`` finds a
document by any word in it with its uid on the same line, ``jq -c`` and
``pandas.read_json(lines=True)`` read the file, and a change to one document
is a change to one line in a diff or a merge. Values are as in the JSON
codec: a value that is valid UTF-8 is a JSON string, any other value an object
``{"base64": "..."}``; keys need only JSON's escaping. Line breaks in keys and
values are escapes (``\\n``, and ``\\u2028``, ``\\u2029``, ``\\u0085``, which
some line splitters also break at), so a document never spans lines.

The last line is the end line ``{"end": "storagebackend"}``, followed by a
line break: a file cut at any byte, in a line or at a line's end, lacks it
and is refused. Blank lines are allowed anywhere, lines may end in CR LF, and
a line may be written with other spacing (as ``jq -c`` writes it). A document
is added by inserting its line before the end line. Each line is a fragment,
so a sync re-encodes only the documents that changed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    Documents,
    FragmentCodec,
    as_text,
    check_header,
    check_key,
    new_uid,
    string_or_base64,
    utf8_text,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["JSONL_VERSION", "JSONLinesCodec"]

#: The version of this format (its first).
JSONL_VERSION: Final = 1

_HEADER: Final = f'{{"format": "{FORMAT_MARKER}", "version": {JSONL_VERSION}}}\n'.encode()
_END: Final = {"end": FORMAT_MARKER}
_END_LINE: Final = f'{{"end": "{FORMAT_MARKER}"}}\n'.encode()
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
#: The characters beyond ASCII that some line splitters take for a line break (Python's str.splitlines,
#: JavaScript's line terminators): escaped, so every reader sees one line per document. JSON escapes
#: the control characters itself.
_LINE_BREAKS: Final = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


class JSONLinesCodec(FragmentCodec):
    """Stores as JSON Lines: one document per line, between a header line and an end line."""

    name: ClassVar[str] = "jsonl"
    extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".ndjson")

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        pairs: dict[str, Any] = {}
        for key, value in document.items():
            text = as_text(value)
            pairs[key] = text if text is not None else {"base64": base64.b64encode(value).decode("ascii")}
        return f'{{"uid": "{uid}", "document": {_dumps(pairs).translate(_LINE_BREAKS)}}}'.encode()

    def join(self, fragments: Sequence[bytes]) -> bytes:
        return b"".join([_HEADER, *(fragment + b"\n" for fragment in fragments), _END_LINE])

    def decode(self, data: bytes) -> Documents:
        text = utf8_text(data, "JSON Lines")
        lines = text.split("\n")  # only "\n" ends a line: U+2028 and friends may stand in a JSON string
        numbered = ((number, line) for number, line in enumerate(lines, start=1) if line.strip())
        first = next(numbered, None)
        if first is None:
            raise CorruptStoreError("not a JSON Lines store: the file holds no line")
        header = _object(*first)
        check_header(header.get("format"), header.get("version"), "JSON Lines", JSONL_VERSION)
        if set(header) != {"format", "version"}:
            raise CorruptStoreError(f"JSON Lines store, line {first[0]}: a header line holds only format and version")
        documents: Documents = {}
        last: dict[str, Any] | None = None
        for number, line in numbered:
            if last is not None:
                raise CorruptStoreError(f"JSON Lines store, line {number}: a line after the end line")
            parsed = _object(number, line)
            if parsed == _END:
                last = parsed
                continue
            uid, document = _document(parsed, number, documents)
            documents[uid] = document
        if last is None:
            raise CorruptStoreError(
                f"JSON Lines store cut short: it ends without its end line {_END_LINE.decode().strip()!r} "
                "(keep that line last when editing by hand)"
            )
        if lines[-1].strip():
            raise CorruptStoreError("JSON Lines store cut short: no line break after its end line")
        return documents


def _object(number: int, line: str) -> dict[str, Any]:
    """One line as a JSON object; CorruptStoreError naming the line otherwise."""
    try:
        parsed = json.loads(line, object_pairs_hook=_unique_pairs)
    except _Twice as exc:
        raise CorruptStoreError(
            f"JSON Lines store, line {number}: the key {str(exc)[:40]!r} appears twice in one object"
        ) from None
    except json.JSONDecodeError as exc:
        raise CorruptStoreError(
            f"not a JSON Lines store: {exc.msg} at line {number}, column {exc.colno} (it may be cut short)"
        ) from None
    except RecursionError:
        raise CorruptStoreError(f"not a JSON Lines store: line {number} is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than int() allows
        raise CorruptStoreError(f"not a JSON Lines store: line {number}: {exc}") from None
    if type(parsed) is not dict:
        raise CorruptStoreError(f"not a JSON Lines store: line {number} is {type(parsed).__name__}, not an object")
    return parsed


def _document(parsed: dict[str, Any], number: int, documents: Documents) -> tuple[str, dict[str, bytes]]:
    """The uid and document of one document line ``{"uid": ..., "document": {...}}``."""
    where = f"JSON Lines store, line {number}"
    if set(parsed) != {"uid", "document"}:
        raise CorruptStoreError(f'{where}: expected {{"uid": ..., "document": {{...}}}} or the end line')
    uid = new_uid(documents, parsed["uid"], where)
    pairs = parsed["document"]
    if type(pairs) is not dict:
        raise CorruptStoreError(f"{where}: document {uid} is {type(pairs).__name__}, not an object")
    return uid, {check_key(key, uid): string_or_base64(value, uid, key) for key, value in pairs.items()}


class _Twice(Exception):
    """A key twice in one JSON object (not a ValueError, so it is told apart from json's own errors)."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's pairs as a dict; a key that appears twice makes the line ambiguous."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Twice(key)
            seen.add(key)
    return result
