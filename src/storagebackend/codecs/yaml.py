"""YAML codec (ruamel.yaml on libyaml): block YAML, text as YAML strings, bytes as ``!!binary``.

    format: storagebackend
    version: 2
    documents:
      6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c:
        title: Hello world
        body: |-
          first line
          second line
        blob: !!binary |
          3q2+7w==
    ...

The file ends with YAML's own document end marker ``...`` on a line of its
own and a line break (format version 2; only blank and comment lines may
follow): a file cut anywhere lacks it and is refused. Version 1 files, which the
first release wrote without it, are read as before.

Writing: a value that is valid UTF-8 is a YAML string (plain where that reads
back as the same string, quoted otherwise, a literal block when it spans
lines, double-quoted with escapes when it holds characters YAML cannot show);
other bytes are ``!!binary``. A key or text that a YAML 1.1 or 1.2 reader would
take for something else (``yes``, ``1e3``, ``~``, ``<<``, ``2026-11-27``) is quoted,
so every YAML tool reads the same strings.

Reading is safe by construction: the parser's events are turned into
str/bytes/dict only, never into objects. Plain scalars are read as text
(YAML's failsafe schema: a hand-written ``count: 12`` is the text ``12``);
``!!str`` and ``!!binary`` are the only tags accepted; sequences, other tags,
aliases of mappings, duplicate keys and nesting beyond the store's shape are
corrupt. Events rather than ruamel's composer are used because the composer of
libyaml's bindings recurses in C and crashes the process on deeply nested input.

libyaml (ruamel.yaml.clib) parses and emits when it is installed, as it is on
CPython; the pure-Python ruamel.yaml classes, several times slower, are the
fallback elsewhere.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    FORMAT_VERSION,
    Documents,
    FragmentCodec,
    as_text,
    base64_value,
    check_end_line,
    check_header,
    check_key,
    new_uid,
    text_value,
    utf8_text,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["LIBYAML", "YAMLCodec"]

log = logging.getLogger(__name__)

_SAFE: Final = YAML(typ="safe")  # only asked which parser and emitter ruamel.yaml picks here
#: Whether ruamel.yaml parses and emits through libyaml (ruamel.yaml.clib) here.
LIBYAML: Final = _SAFE.Parser.__name__ == "CParser" and _SAFE.Emitter.__name__ == "CEmitter"

_STR: Final = "tag:yaml.org,2002:str"
_BINARY: Final = "tag:yaml.org,2002:binary"
_MAP: Final = "tag:yaml.org,2002:map"
_HEAD: Final = f"format: {FORMAT_MARKER}\nversion: {FORMAT_VERSION}\ndocuments:\n".encode()
_EMPTY: Final = f"format: {FORMAT_MARKER}\nversion: {FORMAT_VERSION}\ndocuments: {{}}\n...\n".encode()
_END_LINE: Final = "..."  # YAML's document end marker: the last line of a file of version 2
_END: Final = b"...\n"
_WRAPPER: Final = "documents:\n"  # each fragment is emitted under this key, then cut off
_WIDTH: Final = 1 << 30  # never fold long lines

# Plain scalars that a YAML 1.1 or 1.2 reader resolves to something other than a
# string, by first character (as the resolvers themselves look them up).
_IMPLICIT: Final[dict[str, tuple[re.Pattern[str], ...]]] = {}
for _version in ((1, 1), (1, 2)):
    for _first, _resolvers in VersionedResolver(version=_version).versioned_resolver.items():
        _IMPLICIT[_first] = _IMPLICIT.get(_first, ()) + tuple(regexp for _tag, regexp in _resolvers)


def _plain_reads_as_text(text: str) -> bool:
    """Whether ``text`` written plain reads back as a string in YAML 1.1 and 1.2."""
    return not any(regexp.match(text) for regexp in _IMPLICIT.get(text[:1], ()))


# The pure-Python emitter wants tags as Tag objects and a third ``implicit`` flag;
# libyaml reads the first two flags and is fastest with plain str tags.
_PURE_STR: Final = Tag(suffix=_STR)
_PURE_BINARY: Final = Tag(suffix=_BINARY)


def _text_event(text: str, pure: bool) -> ScalarEvent:
    """A string scalar: plain if unambiguous, a literal block for lines, escaped if it must be."""
    tag = _PURE_STR if pure else None
    if text.isprintable():
        return ScalarEvent(None, tag, (_plain_reads_as_text(text), True, True), text)
    if not pure and "\n" in text and text.replace("\n", "").isprintable():
        # libyaml falls back to double quotes where a block cannot hold the text exactly
        # (the pure emitter does not, so it always gets double quotes).
        return ScalarEvent(None, tag, (False, True, True), text, style="|")
    return ScalarEvent(None, tag, (False, True, True), text, style='"')


def _value_event(value: bytes, pure: bool) -> ScalarEvent:
    text = as_text(value)
    if text is None:
        encoded = base64.encodebytes(value).decode("ascii")
        return ScalarEvent(None, _PURE_BINARY if pure else _BINARY, (False, False, True), encoded, style="|")
    return _text_event(text, pure)


def _fragment_events(uid: str, document: Mapping[str, bytes], pure: bool) -> Iterator[Event]:
    """One document under a ``documents:`` key, as a whole YAML stream."""
    yield StreamStartEvent()
    yield DocumentStartEvent(explicit=False)
    yield MappingStartEvent(None, None, True, flow_style=False)
    yield _text_event("documents", pure)
    yield MappingStartEvent(None, None, True, flow_style=False)
    yield _text_event(uid, pure)
    yield MappingStartEvent(None, None, True, flow_style=not document)
    for key, value in document.items():
        yield _text_event(key, pure)
        yield _value_event(value, pure)
    yield MappingEndEvent()
    yield MappingEndEvent()
    yield MappingEndEvent()
    yield DocumentEndEvent(explicit=False)
    yield StreamEndEvent()


class YAMLCodec(FragmentCodec):
    """Stores as readable YAML (UTF-8)."""

    name: ClassVar[str] = "yaml"
    extensions: ClassVar[tuple[str, ...]] = (".yaml", ".yml")

    def __init__(self, *, pure: bool = False) -> None:
        """``pure=True`` forces the pure-Python parser and emitter (for tests and comparisons)."""
        self._yaml = YAML(typ="safe", pure=pure)
        self._pure = self._yaml.Emitter.__name__ != "CEmitter"
        if not pure and not LIBYAML:
            log.info("libyaml (ruamel.yaml.clib) is not available: YAML stores use the slower pure-Python code")

    @property
    def libyaml(self) -> bool:
        """Whether this codec parses and emits through libyaml."""
        return bool(self._yaml.Parser.__name__ == "CParser")

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        # One emitter run per document costs no more than one run for all of them
        # (measured with libyaml at 10,000 documents), so there is no batch path.
        stream = io.StringIO()
        events = _fragment_events(uid, document, self._pure)
        if self._pure:  # a fresh YAML object: its pure emitter cannot be reused after a stream ends
            yaml = YAML(typ="safe", pure=True)
            yaml.width = _WIDTH
            yaml.emit(events, stream)
        else:
            emitter = self._yaml.Emitter(stream, width=_WIDTH, allow_unicode=True)
            for event in events:
                emitter.emit(event)
        text = stream.getvalue()
        if not text.startswith(_WRAPPER):  # pragma: no cover - the emitter's layout changed
            raise RuntimeError(f"unexpected YAML emitter output: {text[:40]!r}")
        return text[len(_WRAPPER) :].encode("utf-8")

    def join(self, fragments: Sequence[bytes]) -> bytes:
        if not fragments:
            return _EMPTY
        return b"".join([_HEAD, *fragments, _END])

    def decode(self, data: bytes) -> Documents:
        text = utf8_text(data, "YAML")
        # A fresh YAML object per call: parsing keeps state in it, and codecs may be shared.
        events = YAML(typ="safe", pure=self._pure).parse(text)
        try:
            root = _Reader(events).read()
        except CorruptStoreError:
            raise
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise CorruptStoreError(f"not a YAML store: {exc.problem or exc.context}{where}") from None
        except (YAMLError, ValueError, TypeError) as exc:
            raise CorruptStoreError(f"not a YAML store: {exc}") from None
        return _documents(root, text)


# -- reading: parser events -> a tree of str, _Binary, _Map and _Other, at most three mappings deep


class _Binary(str):
    """The base64 text of a ``!!binary`` scalar."""

    __slots__ = ()


@dataclass(slots=True)
class _Map:
    """A mapping: (key, value, line of the key) triples, in file order."""

    pairs: list[tuple[object, object, int]]
    line: int


@dataclass(slots=True)
class _Other:
    """A node the store's shape has no place for; what it is and where."""

    what: str
    line: int


_MAX_DEPTH: Final = 3  # the top mapping, "documents", one document
_SKIP_DEPTH: Final = 100  # how deep a part of the file the store does not use may nest


class _Reader:
    """Reads one YAML document's events into the store's shape, never deeper."""

    def __init__(self, events: Iterator[Event]) -> None:
        self._events = events
        self._anchors: dict[str, object] = {}

    def _next(self) -> Event:
        event = next(self._events, None)
        if event is None:  # pragma: no cover - the parser ends every stream with StreamEndEvent
            raise CorruptStoreError("not a YAML store: the stream ends early")
        return event

    def read(self) -> object:
        self._expect(StreamStartEvent)
        event = self._next()
        if isinstance(event, StreamEndEvent):
            raise CorruptStoreError("not a YAML store: no YAML document in the file")
        if not isinstance(event, DocumentStartEvent):  # pragma: no cover - the parser guarantees it
            raise CorruptStoreError("not a YAML store: expected a document")
        root = self._node(self._next(), 1)
        self._expect(DocumentEndEvent)
        event = self._next()
        if not isinstance(event, StreamEndEvent):
            raise CorruptStoreError(f"not a YAML store: a second YAML document at line {_line(event)}")
        return root

    def _expect(self, kind: type[Event]) -> None:
        event = self._next()
        if not isinstance(event, kind):  # pragma: no cover - the parser guarantees the stream's frame
            raise CorruptStoreError(f"not a YAML store: unexpected {type(event).__name__} at line {_line(event)}")

    def _node(self, event: Event, depth: int) -> object:
        if type(event) is ScalarEvent:
            node = _scalar(event)
        elif type(event) is MappingStartEvent:
            node = self._mapping(event, depth)
        elif type(event) is SequenceStartEvent:
            self._skip()
            node = _Other("a sequence", _line(event))
        elif type(event) is AliasEvent:
            found = self._anchors.get(event.anchor)
            if found is None:
                raise CorruptStoreError(
                    f"not a YAML store: alias *{event.anchor} at line {_line(event)} "
                    "names no scalar anchored before it (aliases of mappings are not supported)"
                )
            return found
        else:  # pragma: no cover - the parser only puts nodes here
            raise CorruptStoreError(f"not a YAML store: unexpected {type(event).__name__} at line {_line(event)}")
        anchor = event.anchor
        if anchor is not None and not isinstance(node, (_Map, _Other)):
            self._anchors[anchor] = node
        return node

    def _mapping(self, event: MappingStartEvent, depth: int) -> _Map | _Other:
        line = _line(event)
        if event.tag not in (None, "!", _MAP):
            self._skip()
            return _Other(f"a mapping tagged {event.tag}", line)
        if depth > _MAX_DEPTH:
            self._skip()
            return _Other("a mapping", line)
        pairs: list[tuple[object, object, int]] = []
        while True:
            key_event = self._next()
            if type(key_event) is MappingEndEvent:
                return _Map(pairs, line)
            key = self._node(key_event, depth + 1)
            pairs.append((key, self._node(self._next(), depth + 1), _line(key_event)))

    def _skip(self) -> None:
        """Skip the rest of a collection without recursion; refuse absurd nesting early.

        libyaml's scanner slows down with the square of the flow nesting depth, so a
        file of nothing but brackets would take minutes to reject if skipped to its end.
        """
        depth = 1
        while depth:
            event = self._next()
            if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                depth += 1
                if depth > _SKIP_DEPTH:
                    raise CorruptStoreError(
                        f"not a YAML store: nested more than {_SKIP_DEPTH} levels deep at line {_line(event)}"
                    )
            elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
                depth -= 1


def _line(event: Event) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 0


def _scalar(event: ScalarEvent) -> object:
    """A scalar as text (plain, quoted or ``!!str``), _Binary, or _Other for any other tag."""
    tag = event.tag
    if tag is None or tag in ("!", _STR):
        return str(event.value)
    if tag == _BINARY:
        return _Binary(event.value)
    return _Other(f"a scalar tagged {tag}", _line(event))


def _what(node: object) -> str:
    if isinstance(node, _Other):
        return f"{node.what} (line {node.line})"
    if isinstance(node, _Map):
        return f"a mapping (line {node.line})"
    return "binary data" if isinstance(node, _Binary) else "a string"


def _mapping_of(node: object, where: str) -> _Map:
    if isinstance(node, _Map):
        return node
    raise CorruptStoreError(f"{where}: expected a mapping, found {_what(node)}")


def _documents(root: object, text: str) -> Documents:
    """Check the tree's shape, header and end first, and build the documents."""
    top: dict[object, object] = {}
    for key, value, line in _mapping_of(root, "YAML store").pairs:
        if isinstance(key, str) and key in top:
            raise CorruptStoreError(f"YAML store: the key {key!r} appears twice (line {line})")
        top[key if type(key) is str else object()] = value
    version = top.get("version")
    if type(version) is str and version.isascii() and version.isdigit() and len(version) < 10:
        version = int(version)
    if check_header(top.get("format"), version, "YAML") >= 2:
        check_end_line(text, _END_LINE, "YAML")
    documents: Documents = {}
    for raw_uid, raw_document, line in _mapping_of(top.get("documents"), '"documents"').pairs:
        where = f'"documents", line {line}'
        if type(raw_uid) is not str:
            raise CorruptStoreError(f"{where}: expected a uid (32 hex digits), found {_what(raw_uid)}")
        uid = new_uid(documents, raw_uid, where)
        document: dict[str, bytes] = {}
        for raw_key, value, key_line in _mapping_of(raw_document, f"document {uid}").pairs:
            if type(raw_key) is not str:
                raise CorruptStoreError(f"document {uid}: expected a key, found {_what(raw_key)} (line {key_line})")
            key = check_key(raw_key, uid)
            if key in document:
                raise CorruptStoreError(f"document {uid}: the key {key[:40]!r} appears twice (line {key_line})")
            if type(value) is str:
                document[key] = text_value(value, uid, key)
            elif type(value) is _Binary:
                document[key] = base64_value(value, uid, key)
            else:
                raise CorruptStoreError(
                    f"document {uid}, key {key[:40]!r}: expected a string or !!binary, found {_what(value)}"
                )
        documents[uid] = document
    return documents
