"""CBOR codec (RFC 8949, through cbor2): the JSON codec's shape as one CBOR map.

    {"format": "storagebackend", "version": 1,
     "documents": {"6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c": {"title": "Hello world", "blob": h'DEADBEEF'}}}

(CBOR's diagnostic notation.) Keys and uids are CBOR text strings. A value
that is valid UTF-8 is a text string, as the text codecs write it, so CBOR
tools show it as text; any other value is a byte string. Text and bytes are
told apart by CBOR's own major types, so nothing is escaped or tagged.

The end of the file is its structure: every map and string carries its
length, so a file cut at any byte is an incomplete item and refused, and
bytes after the map are refused too. A fragment is the uid followed by the
document's map; ``join`` writes the top map and the header of the documents
map (with their count) in front, so joining is one copy.

Reading refuses every semantic tag (major type 6) before cbor2 turns it into
an object: sets (258), shared references (28, 29), dates, big numbers,
regular expressions, MIME messages, embedded CBOR... A store holds only maps,
text strings, byte strings and the version number; anything else is corrupt,
as are duplicate keys, nesting deeper than a store's three maps, and map keys
other than strings.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import ClassVar, Final, NoReturn

import cbor2

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    Documents,
    FragmentCodec,
    as_text,
    documents_from_tree,
    text_value,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["CBOR_VERSION", "CBORCodec"]

#: The version of this format (its first).
CBOR_VERSION: Final = 1
#: The top map, the documents map and a document nest three deep; one level more (cbor2 counts a tag
#: as one) lets a tag or an array in a value's place be named as what it is. Deeper is refused at once.
_DEPTH: Final = 4

# The top map of three entries, up to the header of the "documents" map.
_HEAD: Final = b"\xa3" + b"".join(
    cbor2.dumps(item) for item in ("format", FORMAT_MARKER, "version", CBOR_VERSION, "documents")
)
_UID_HEAD: Final = b"\x78\x20"  # a text string of 32 bytes (a uid) follows


def _map_header(count: int) -> bytes:
    """The CBOR header of a map of ``count`` pairs (major type 5, the shortest form)."""
    if count < 24:
        return bytes((0xA0 | count,))
    for size, initial in ((1, 0xB8), (2, 0xB9), (4, 0xBA)):
        if count < 1 << (8 * size):
            return bytes((initial,)) + count.to_bytes(size, "big")
    return b"\xbb" + count.to_bytes(8, "big")


class _Tag(Exception):
    """A semantic tag in the file (an Exception, not a ValueError: cbor2 chains it, the codec reports it)."""

    def __init__(self, tag: int) -> None:
        super().__init__(tag)
        self.tag = tag


def _refuse(tag: int, *args: object) -> NoReturn:
    raise _Tag(tag)


class _EveryTag(Mapping[int, Callable[..., NoReturn]]):
    """cbor2's ``semantic_decoders`` for every tag number: each refuses its tag, so no tag becomes an object."""

    def __getitem__(self, tag: int) -> Callable[..., NoReturn]:
        return partial(_refuse, tag)

    def __len__(self) -> int:
        return 0  # every tag is answered, none is listed

    def __iter__(self) -> Iterator[int]:
        return iter(())


_NO_TAGS: Final = _EveryTag()


def _unknown_tag(tag: cbor2.CBORTag, immutable: bool) -> NoReturn:
    """The ``tag_hook`` for tags without a decoder (none reach it while every tag is answered above)."""
    raise _Tag(tag.tag)


class CBORCodec(FragmentCodec):
    """Stores as CBOR (RFC 8949)."""

    name: ClassVar[str] = "cbor"
    extensions: ClassVar[tuple[str, ...]] = (".cbor",)

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        pairs: dict[str, str | bytes] = {}
        for key, value in document.items():
            text = as_text(value)
            pairs[key] = value if text is None else text
        return _UID_HEAD + uid.encode("ascii") + cbor2.dumps(pairs)

    def join(self, fragments: Sequence[bytes]) -> bytes:
        return b"".join([_HEAD, _map_header(len(fragments)), *fragments])

    def decode(self, data: bytes) -> Documents:
        stream = io.BytesIO(data)
        decoder = cbor2.CBORDecoder(
            stream,
            semantic_decoders=_NO_TAGS,
            tag_hook=_unknown_tag,
            max_depth=_DEPTH,
            allow_duplicate_keys=False,
            strict_hashable_types=True,
        )
        try:
            parsed = decoder.decode()
        except cbor2.CBORDecodeEOF:
            raise CorruptStoreError("not a CBOR store: the file ends inside an item (it may be cut short)") from None
        except cbor2.CBORDecodeError as exc:
            cause = exc.__cause__
            if isinstance(cause, _Tag):
                raise CorruptStoreError(
                    f"not a CBOR store: semantic tag {cause.tag} (a store holds only maps, text and byte strings "
                    "and its version number; tags would build other objects)"
                ) from None
            detail = f"{exc}: {cause}" if cause is not None else str(exc)
            raise CorruptStoreError(f"not a CBOR store: {detail}") from None
        end = stream.tell()
        if end != len(data):
            raise CorruptStoreError(f"not a CBOR store: unexpected data after the end, at byte {end}")
        return documents_from_tree(parsed, "CBOR", _value, CBOR_VERSION)


def _value(value: object, uid: str, key: str) -> bytes:
    """A decoded value: a byte string as it is, a text string as UTF-8."""
    if type(value) is bytes:
        return value
    if type(value) is str:
        return text_value(value, uid, key)
    raise CorruptStoreError(
        f"document {uid}, key {key[:40]!r}: expected a text or byte string, found {type(value).__name__}"
    )
