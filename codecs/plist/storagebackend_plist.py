"""Apple property list codecs (standard library ``plistlib``): XML (``plist``) and binary (``bplist``).

    <?xml version="1.0" encoding="UTF-8"?>
    <!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
    <plist version="1.0">
    <dict>
        <key>format</key>
        <string>storagebackend</string>
        <key>version</key>
        <integer>1</integer>
        <key>documents</key>
        <dict>
            <key>6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c</key>
            <dict>
                <key>title</key>
                <string>Hello world</string>
                <key>blob</key>
                <data>
                3q2+7w==
                </data>
            </dict>
        </dict>
    </dict>
    </plist>

A value that is text XML can hold (valid UTF-8 without control characters
other than tab and line feed: XML has no carriage return, its readers turn
one into a line feed) is a ``<string>``; any other value is ``<data>``. Keys
and uids are ``<key>``. The file is exactly what ``plistlib.dumps`` writes for
that tree, so Xcode, ``plutil -p`` and ``plistlib.loads`` read it as a normal
property list.

XML (``.plist``, ``?codec=plist``) is a fragment codec: each document is the
part of the file ``plistlib`` writes for it, so a sync re-encodes only the
changed documents. The file ends with the line ``</plist>`` and a line break
(only blank lines and XML comments may follow); XML itself refuses a file cut
before it. Binary (``.bplist``, ``?codec=bplist``) is a whole-file codec: a
binary plist ends with a trailer pointing into an offset table of the whole
file, so it cannot be cut into pieces, and every sync writes it whole. The
trailer also shows where the file ends: its offset table must end exactly 32
bytes before the end of the file, so a file cut at any byte is refused.

Both codecs read both forms (``plutil -convert binary1 notes.plist`` keeps a
store readable) and write their own. Reading accepts only dictionaries,
strings and data in a store's places and the integer version: a ``<date>``,
``<real>``, ``<integer>``, ``<true/>``, ``<array>`` or UID where a value is
expected is corrupt, as is a key twice in one dictionary. ``plistlib`` builds
no objects but those and refuses XML entity declarations (no entity expansion,
no external entities).
"""

from __future__ import annotations

import plistlib
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final
from xml.parsers.expat import ExpatError

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    Codec,
    Documents,
    FragmentCodec,
    as_text,
    check_end_line,
    documents_from_tree,
    text_value,
    utf8_text,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["PLIST_VERSION", "BinaryPlistCodec", "PlistCodec"]

#: The version of this format (its first), in both forms.
PLIST_VERSION: Final = 1

# What plistlib writes around a tree of one key, "documents": each document's fragment is cut out of it.
_PREAMBLE: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
    b'<plist version="1.0">\n<dict>\n'
)
_WRAPPER: Final = _PREAMBLE + b"\t<key>documents</key>\n\t<dict>\n"
_TAIL: Final = b"\t</dict>\n</dict>\n</plist>\n"
_HEAD: Final = (
    _PREAMBLE
    + f"\t<key>format</key>\n\t<string>{FORMAT_MARKER}</string>\n".encode()
    + f"\t<key>version</key>\n\t<integer>{PLIST_VERSION}</integer>\n".encode()
    + b"\t<key>documents</key>\n"
)
_END_LINE: Final = "</plist>"
_BINARY_MAGIC: Final = b"bplist00"
_TRAILER: Final = struct.Struct(">6xBBQQQ")  # unused, offset size, ref size, objects, top object, table offset

#: A reference to a named entity other than XML's five: with an external DTD (every plist names Apple's),
#: XML readers skip an entity they do not know, so "a&nbsp;b" would silently read as "ab".
_UNKNOWN_ENTITY: Final = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z_:][\w.:-]*);")
#: The encoding an XML declaration names (a store is UTF-8, as Apple's tools write plists).
_DECLARED_ENCODING: Final = re.compile(r"""<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']""")
#: Characters XML cannot hold, or that its readers change (a carriage return becomes a line feed).
_NOT_XML_TEXT: Final = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def _plist_value(value: bytes) -> str | bytes:
    """A value as the plist holds it: ``<string>`` for text XML can hold exactly, ``<data>`` otherwise."""
    text = as_text(value)
    return text if text is not None and not _NOT_XML_TEXT.search(text) else value


def _pairs(document: Mapping[str, bytes]) -> dict[str, str | bytes]:
    return {key: _plist_value(value) for key, value in document.items()}


class PlistCodec(FragmentCodec):
    """Stores as an XML property list."""

    name: ClassVar[str] = "plist"
    extensions: ClassVar[tuple[str, ...]] = (".plist",)

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        written = plistlib.dumps({"documents": {uid: _pairs(document)}}, sort_keys=False)
        if not (written.startswith(_WRAPPER) and written.endswith(_TAIL)):  # pragma: no cover - plistlib changed
            raise RuntimeError(f"unexpected plistlib output: {written[:200]!r}")
        return written[len(_WRAPPER) : -len(_TAIL)]

    def join(self, fragments: Sequence[bytes]) -> bytes:
        if not fragments:  # as plistlib writes an empty dictionary
            return _HEAD + b"\t<dict/>\n</dict>\n</plist>\n"
        return b"".join([_HEAD, b"\t<dict>\n", *fragments, _TAIL])

    def decode(self, data: bytes) -> Documents:
        return decode(data)


class BinaryPlistCodec(Codec):
    """Stores as a binary property list (a whole-file codec: every sync writes the whole file)."""

    name: ClassVar[str] = "bplist"
    extensions: ClassVar[tuple[str, ...]] = (".bplist",)

    def encode(self, documents: Mapping[str, Mapping[str, bytes]]) -> bytes:
        tree = {
            "format": FORMAT_MARKER,
            "version": PLIST_VERSION,
            "documents": {uid: _pairs(document) for uid, document in documents.items()},
        }
        return plistlib.dumps(tree, fmt=plistlib.FMT_BINARY, sort_keys=False)

    def decode(self, data: bytes) -> Documents:
        return decode(data)


# -- reading ------------------------------------------------------------------------------------------------


class _Twice(Exception):
    """A key twice in one dictionary (not a ValueError: plistlib turns those into "Invalid file")."""


class _UniqueDict(dict[Any, Any]):
    """plistlib's ``dict_type``: refuses a key the dictionary already holds, instead of keeping the last."""

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            raise _Twice(key)
        super().__setitem__(key, value)


def decode(data: bytes) -> Documents:
    """The documents of a plist store, XML or binary; CorruptStoreError for anything else."""
    binary = data.startswith(_BINARY_MAGIC)
    if binary:
        _check_trailer(data)
        text = ""
    else:
        text = utf8_text(data, "plist")
        declared = _DECLARED_ENCODING.match(text.lstrip())
        if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise CorruptStoreError(
                f"not a plist store: its XML declaration names the encoding {declared.group(1)[:40]!r}; "
                "a plist store is UTF-8"
            )
        entity = _UNKNOWN_ENTITY.search(text)
        if entity:
            line = text.count("\n", 0, entity.start()) + 1
            raise CorruptStoreError(
                f"not a plist store: the entity reference {entity.group()[:40]!r} at line {line} names no entity "
                "a plist has (only &amp; &lt; &gt; &quot; &apos; and character references)"
            )
    try:
        tree = plistlib.loads(data, dict_type=_UniqueDict)
    except _Twice as exc:
        raise CorruptStoreError(
            f"not a plist store: the key {str(exc.args[0])[:40]!r} appears twice in a dictionary"
        ) from None
    except ExpatError as exc:
        raise CorruptStoreError(f"not a plist store: {exc}") from None
    except RecursionError:
        raise CorruptStoreError("not a plist store: nested too deeply") from None
    except (ValueError, TypeError, LookupError, OverflowError, struct.error) as exc:
        # plistlib's InvalidFileException is a ValueError; its XML reader raises ValueError with the line.
        raise CorruptStoreError(f"not a plist store: {exc or type(exc).__name__}") from None
    documents = documents_from_tree(tree, "plist", _value, PLIST_VERSION)
    if not binary:
        check_end_line(text, _END_LINE, "plist", comments=("<!--",))
    return documents


def _check_trailer(data: bytes) -> None:
    """Refuse a binary plist whose trailer does not end it: the offset table must end where the trailer starts."""
    if len(data) < len(_BINARY_MAGIC) + _TRAILER.size:
        raise CorruptStoreError(f"binary plist store cut short: {len(data)} bytes, too few for a header and trailer")
    offset_size, _, objects, _, table = _TRAILER.unpack_from(data, len(data) - _TRAILER.size)
    if table + objects * offset_size != len(data) - _TRAILER.size:
        raise CorruptStoreError(
            "binary plist store cut short or lengthened: its trailer does not end the file "
            f"(its offset table ends at byte {table + objects * offset_size}, the trailer starts at byte "
            f"{len(data) - _TRAILER.size})"
        )


def _value(value: object, uid: str, key: str) -> bytes:
    """A decoded value: ``<data>`` as it is, ``<string>`` as UTF-8."""
    if type(value) is bytes:
        return value
    if type(value) is str:
        return text_value(value, uid, key)
    found = "a dictionary" if isinstance(value, dict) else type(value).__name__
    raise CorruptStoreError(f"document {uid}, key {key[:40]!r}: expected <string> or <data>, found {found}")
