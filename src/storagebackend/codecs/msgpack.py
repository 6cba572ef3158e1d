"""msgpack codec: the JSON codec's shape in msgpack, every value a msgpack ``bin``.

    {"format": "storagebackend", "version": 1, "documents": {"6f1c...": {"title": b"Hello world"}}}

Keys are msgpack ``str`` and values msgpack ``bin``, so text and bytes need no
tagging and every key and value round-trips exactly. On reading, a ``str``
value (as another msgpack writer may produce for text) is taken as UTF-8 text.
A fragment is a packed uid followed by the packed document; ``join`` writes the
map header with the document count in front, so joining is one copy.

The end of the file is its structure: every map and string carries its length,
so a file cut at any byte is incomplete and refused. The format did not change
when the text codecs gained an end line (format version 2): msgpack files stay
at version 1, and a version 2 is refused as newer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

import msgpack  # type: ignore[import-untyped]  # msgpack ships no type hints

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    Documents,
    FragmentCodec,
    documents_from_tree,
    text_value,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["MSGPACK_VERSION", "MsgpackCodec"]

_packb: Callable[..., bytes] = msgpack.packb

#: The msgpack format's version (see the module docstring).
MSGPACK_VERSION: Final = 1

# The top-level map of three entries, up to the header of the "documents" map.
_HEAD: Final = b"\x83" + b"".join(
    _packb(item) for item in ("format", FORMAT_MARKER, "version", MSGPACK_VERSION, "documents")
)


def _map_header(count: int) -> bytes:
    """The msgpack header of a map of ``count`` entries (fixmap, map 16 or map 32)."""
    if count < 16:
        return bytes((0x80 | count,))
    if count < 1 << 16:
        return b"\xde" + count.to_bytes(2, "big")
    return b"\xdf" + count.to_bytes(4, "big")


class MsgpackCodec(FragmentCodec):
    """Stores as compact msgpack."""

    name: ClassVar[str] = "msgpack"
    extensions: ClassVar[tuple[str, ...]] = (".msgpack", ".mpk")

    def __init__(self) -> None:
        # One Packer per codec (a store's codec is used under its lock): packb makes one per call.
        self._pack: Callable[[object], bytes] = msgpack.Packer(use_bin_type=True).pack

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        # A uid is 32 ASCII characters: msgpack "str 8" with length 32, then the characters.
        return b"\xd9\x20" + uid.encode() + self._pack(document if type(document) is dict else dict(document))

    def join(self, fragments: Sequence[bytes]) -> bytes:
        return b"".join([_HEAD, _map_header(len(fragments)), *fragments])

    def decode(self, data: bytes) -> Documents:
        try:
            parsed = msgpack.unpackb(data, raw=False, strict_map_key=True, object_pairs_hook=_unique_pairs)
        except CorruptStoreError:
            raise
        except msgpack.ExtraData as exc:
            raise CorruptStoreError(
                f"not a msgpack store: unexpected data after the end, at byte {len(data) - len(exc.extra)}"
            ) from None
        except (ValueError, TypeError, RecursionError) as exc:
            # msgpack reports truncation, invalid bytes and nesting as ValueError subclasses.
            raise CorruptStoreError(f"not a msgpack store: {exc or type(exc).__name__}") from None
        return documents_from_tree(parsed, "msgpack", _value, MSGPACK_VERSION)


def _unique_pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """A map's pairs as a dict; a key that appears twice makes the file ambiguous."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise CorruptStoreError("not a msgpack store: a map holds the same key twice")
    return result


def _value(value: object, uid: str, key: str) -> bytes:
    """A decoded value: ``bin`` as it is, ``str`` as UTF-8 text."""
    if type(value) is bytes:
        return value
    if type(value) is str:
        return text_value(value, uid, key)
    raise CorruptStoreError(f"document {uid}, key {key!r}: expected bin or str, found {type(value).__name__}")
