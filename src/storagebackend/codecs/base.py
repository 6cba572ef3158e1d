"""Codec: turns a whole store into the bytes of one file and back.

A :class:`Codec` needs two methods: ``encode(documents)`` (the whole store to
the bytes of a file, with the format marker and version) and ``decode(data)``.
A format that can be cut into one piece per document is a
:class:`FragmentCodec`: it encodes one document at a time into a *fragment*
and joins the fragments into the file; the cached file backend then keeps each
document's fragment between syncs and re-encodes only the documents that
changed, so a sync costs the bytes written, not a full re-encode. A format that
cannot be cut so (a binary plist ends with an offset table into the whole file)
stays a plain Codec, and every sync encodes the whole store.

``decode`` must raise :class:`~storagebackend.CorruptStoreError` for any input
it cannot read (never KeyError, TypeError, UnicodeDecodeError or the parser's
own exception), and must refuse a file without the marker: an unrelated config
file is never taken over. Every file shows where it ends (an end line, or a
structure that is incomplete until its last byte), so a file cut at any byte
is refused too.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

from storagebackend.errors import CorruptStoreError, InvalidUIDError
from storagebackend.schema import State, check_state, version_state
from storagebackend.uid import uid_hex
from storagebackend.validation import all_keys, is_key, plain_document

__all__ = [
    "FORMAT_MARKER",
    "FORMAT_VERSION",
    "Codec",
    "Documents",
    "FragmentCodec",
    "as_text",
    "base64_value",
    "check_end_line",
    "check_header",
    "check_key",
    "check_uid",
    "documents_from_tree",
    "documents_mapping",
    "new_uid",
    "string_or_base64",
    "text_value",
    "utf8_text",
]

#: Every store file names itself with this marker and a format version.
FORMAT_MARKER: Final = "storagebackend"
#: The version the text codecs write: 2 ends each file with an end line (1, the first
#: release's, had none; it is still read). msgpack, whose end is its structure, stays at 1.
FORMAT_VERSION: Final = 2

#: What a codec encodes and decodes: uid (32 lower-case hex digits) -> key -> value.
Documents = dict[str, dict[str, bytes]]


class Codec(ABC):
    """A file format for whole stores; subclasses set ``name`` and ``extensions``."""

    #: The name used in ``?codec=NAME`` and ``codec=``.
    name: ClassVar[str]
    #: File extensions, lower case with the dot, e.g. ``(".yaml", ".yml")``.
    extensions: ClassVar[tuple[str, ...]]

    @abstractmethod
    def encode(self, documents: Mapping[str, Mapping[str, bytes]]) -> bytes:
        """Encode a whole store (uid -> document, in order) into the bytes of a file, marker and end included."""

    @abstractmethod
    def decode(self, data: bytes) -> Documents:
        """Decode a whole file; CorruptStoreError (with the position, where known) otherwise."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse, with the fix, a codec of the first release's shape: fragments on a plain Codec."""
        super().__init_subclass__(**kwargs)
        fragments = hasattr(cls, "encode_document") and hasattr(cls, "join")
        if fragments and getattr(cls.encode, "__isabstractmethod__", False):
            raise TypeError(
                f"{cls.__qualname__} has encode_document() and join() but no encode(): subclass "
                "storagebackend.FragmentCodec instead of Codec (a Codec needs only encode() and decode())"
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class FragmentCodec(Codec):
    """A codec whose file is its documents' fragments joined: a sync re-encodes only the changed documents.

    ``join(fragments)`` must equal ``encode`` of the same documents; :meth:`encode` is defined so.
    """

    @abstractmethod
    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        """Encode one document into a fragment that :meth:`join` can place in a file."""

    @abstractmethod
    def join(self, fragments: Sequence[bytes]) -> bytes:
        """Join the fragments of every document into a whole file, marker included."""

    def encode_documents(self, documents: Mapping[str, Mapping[str, bytes]]) -> list[bytes]:
        """The fragments of many documents, in order; override where a batch is faster."""
        encode = self.encode_document
        return [encode(uid, document) for uid, document in documents.items()]

    def encode(self, documents: Mapping[str, Mapping[str, bytes]]) -> bytes:
        """Encode a whole store (uid -> document) into the bytes of a file: its fragments, joined."""
        return self.join(self.encode_documents(documents))


# -- helpers shared by the codecs ----------------------------------------------------------


def as_text(value: bytes) -> str | None:
    """``value`` as text if it is valid UTF-8, else None: text codecs write the first readably, the rest as base64."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def utf8_text(data: bytes, codec: str) -> str:
    """Decode a whole text file as strict UTF-8; CorruptStoreError with the offset otherwise.

    A leading UTF-8 byte order mark (some editors add one) is skipped; UTF-16
    and every other encoding are refused.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        article = "an" if codec[:1] in "AEIOU" else "a"  # "an INI store"
        raise CorruptStoreError(f"not {article} {codec} store: invalid UTF-8 at byte {exc.start}") from None
    return text[1:] if text.startswith("\ufeff") else text


def check_header(marker: object, version: object, codec: str, newest: int = FORMAT_VERSION) -> int:
    """The file's format version, from 1 to ``newest``; CorruptStoreError if the marker or version is not ours."""
    if marker != FORMAT_MARKER:
        detail = f"a {codec} file without the format marker {FORMAT_MARKER!r}"
        check_state(State.FOREIGN, where="", kind=codec, newest=newest, detail=detail)
    state = version_state(version, newest)
    detail = f"its format version {str(version)[:40]!r} is not a whole number >= 1"
    check_state(state, where="", kind=codec, newest=newest, version=version, unit="format version", detail=detail)
    assert type(version) is int  # OURS or OLD
    return version


def check_end_line(text: str, end: str, codec: str, comments: tuple[str, ...] = ("#",)) -> None:
    """Refuse a text file that is not closed by the line ``end`` and a line break: it was cut short.

    Only blank lines and comment lines may follow the end line, so a person may
    re-save the file with an editor (a final line break, CR LF) or add a note.
    Reads from the end of the text, so the check costs nothing on big files.
    """
    stop = len(text)
    while stop:
        start = text.rfind("\n", 0, stop - 1) + 1
        line = text[start:stop]
        content = line.rstrip()
        if content == end:
            if line.endswith("\n"):
                return
            break
        stripped = content.lstrip()
        if stripped and not stripped.startswith(comments):
            line_number = text.count("\n", 0, start) + 1
            raise CorruptStoreError(
                f"{codec} store cut short: it ends at line {line_number} without its end line {end!r} "
                "(a file of format version 2 ends with that line; keep it last when editing by hand)"
            )
        stop = start
    raise CorruptStoreError(
        f"{codec} store cut short: its end line {end!r} is missing or has no line break after it "
        "(a file of format version 2 ends with that line and a line break)"
    )


def check_uid(uid: object, where: str) -> str:
    """A decoded uid as 32 lower-case hex digits; CorruptStoreError otherwise."""
    try:
        return uid_hex(uid) if isinstance(uid, str) else uid_hex(_NOT_A_UID)
    except InvalidUIDError:
        raise CorruptStoreError(f"{where}: {str(uid)[:40]!r} is not a uid (32 hex digits)") from None


def check_key(key: object, uid: str) -> str:
    """A decoded key, if it is a valid key (any length: limits are the opener's); else CorruptStoreError."""
    if is_key(key):
        return key
    raise CorruptStoreError(f"document {uid}: {str(key)[:40]!r} is not a valid key")


def new_uid(documents: Documents, uid: object, where: str) -> str:
    """A decoded uid, normalised, that is not yet in ``documents``; CorruptStoreError otherwise."""
    hex_uid = check_uid(uid, where)
    if hex_uid in documents:
        raise CorruptStoreError(f"{where}: document {hex_uid} appears twice")
    return hex_uid


def text_value(text: str, uid: str, key: str) -> bytes:
    """A decoded text value as UTF-8 bytes; CorruptStoreError for text no UTF-8 can hold."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CorruptStoreError(
            f"document {uid}, key {key!r}: text with a lone surrogate at character {exc.start}"
        ) from None


def base64_value(text: str, uid: str, key: str) -> bytes:
    """A decoded base64 value (whitespace between the digits is ignored); CorruptStoreError if invalid."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise CorruptStoreError(f"document {uid}, key {key!r}: invalid base64") from None


def documents_from_tree(
    tree: object, codec: str, value: Callable[[object, str, str], bytes], newest: int = FORMAT_VERSION
) -> Documents:
    """The documents of a parsed file ``{format, version, documents: {uid: {key: value}}}``.

    Checks the marker, the version (up to ``newest``), every uid and key;
    ``value(raw, uid, key)`` turns one parsed value into bytes. Raises CorruptStoreError.
    """
    top = documents_mapping(tree, f"{codec} store")
    check_header(top.get("format"), top.get("version"), codec, newest)
    documents: Documents = {}
    for raw_uid, raw_document in documents_mapping(top.get("documents"), '"documents"').items():
        uid = new_uid(documents, raw_uid, '"documents"')
        if type(raw_document) is dict and plain_document(raw_document):
            documents[uid] = raw_document  # already str keys and bytes values: taken as it is
            continue
        pairs = documents_mapping(raw_document, f"document {uid}")
        if not all_keys(pairs):
            for key in pairs:
                check_key(key, uid)  # raises for the first key that is not one
        documents[uid] = {key: value(raw, uid, key) for key, raw in pairs.items()}
    return documents


def string_or_base64(value: object, uid: str, key: str) -> bytes:
    """A parsed value of the JSON/TOML form: a string is UTF-8 text, ``{base64: "..."}`` is binary."""
    if type(value) is str:
        return text_value(value, uid, key)
    if type(value) is dict and len(value) == 1 and type(value.get("base64")) is str:
        return base64_value(value["base64"], uid, key)
    raise CorruptStoreError(
        f"document {uid}, key {key[:40]!r}: expected a string or a base64 table, found {type(value).__name__}"
    )


def documents_mapping(value: object, where: str) -> dict[Any, Any]:
    """``value`` if it is a dict, else CorruptStoreError naming what was expected."""
    if isinstance(value, dict):
        return value
    raise CorruptStoreError(f"{where}: expected a mapping, found {type(value).__name__}")


_NOT_A_UID: Final = "not a uid"
