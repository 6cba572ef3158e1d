"""A tiny storagebackend plugin: a "lines" codec, a "dictdb" backend and a "ramfile" transport.

The codec writes one line per document (its uid) and one per pair (uid, key,
value, tab-separated and percent-encoded, so text stays readable). The backend
keeps each store in a dict of this process, by name: ``dictdb://NAME``. The
transport keeps a file store's file in this process's memory:
``ramfile://NAME.json`` (a MemoryTransport under another scheme).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final
from urllib.parse import quote, quote_from_bytes, unquote, unquote_to_bytes

from storagebackend import CorruptStoreError, MemoryTransport, StoreNotFoundError
from storagebackend.backends.memory import MemoryBackend
from storagebackend.codecs.base import Documents, FragmentCodec, check_key, check_uid

__all__ = ["SHELVES", "DictBackend", "LinesCodec", "RamTransport"]

_SAFE: Final = "".join(char for char in string.punctuation + " " if char != "%")
_HEADER: Final = b"storagebackend lines 1"


class LinesCodec(FragmentCodec):
    """``uid`` lines for documents, ``uid<TAB>key<TAB>value`` lines for their pairs."""

    name: ClassVar[str] = "lines"
    extensions: ClassVar[tuple[str, ...]] = (".lines",)

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        pairs = [
            f"{uid}\t{quote(key, safe=_SAFE)}\t{quote_from_bytes(value, safe=_SAFE)}" for key, value in document.items()
        ]
        return "\n".join([uid, *pairs]).encode("ascii")

    def join(self, fragments: Sequence[bytes]) -> bytes:
        return b"\n".join([_HEADER, *fragments]) + b"\n"

    def decode(self, data: bytes) -> Documents:
        lines = data.split(b"\n")
        if lines[0] != _HEADER:
            raise CorruptStoreError(f"not a lines store: the header {_HEADER.decode()!r} is missing")
        documents: Documents = {}
        for number, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            try:
                raw_uid, *pair = line.decode("ascii").split("\t")
                uid = check_uid(raw_uid, f"line {number}")
                document = documents.setdefault(uid, {})
                if pair:
                    key, value = pair
                    document[check_key(unquote(key, errors="strict"), uid)] = unquote_to_bytes(value)
            except (UnicodeDecodeError, ValueError) as exc:  # CorruptStoreError is a ValueError too
                raise CorruptStoreError(f"not a lines store: line {number}: {exc}") from None
        return documents


#: name -> uid -> document: the "server" of dictdb:// stores, for this process only.
SHELVES: dict[str, dict[str, dict[str, bytes]]] = {}


class DictBackend(MemoryBackend):
    """``dictdb://NAME``: a store kept in :data:`SHELVES` between opens."""

    schemes: ClassVar[tuple[str, ...]] = ("dictdb",)
    persistent: ClassVar[bool] = True

    def __init__(self, name: str, flag: str = "c") -> None:
        if flag in ("w", "r") and name not in SHELVES:
            raise StoreNotFoundError(f"dictdb://{name}: no such store")
        super().__init__(flag, {} if flag == "n" else SHELVES.setdefault(name, {}))
        self.name = name

    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> DictBackend:
        name = url.partition("://")[2]
        if not name:
            raise ValueError(f"{url!r} names no store: expected dictdb://NAME")
        return cls(name, flag)

    def describe(self) -> str:
        return f"dictdb://{self.name}"

    def save(self) -> None:
        SHELVES[self.name] = {uid: self.read_document(uid) or {} for uid in self.uids()}


class RamTransport(MemoryTransport):
    """``ramfile://NAME``: a file in this process's memory."""

    @classmethod
    def from_url(cls, url: str, *, locking: bool = False) -> RamTransport:
        name = url.partition("://")[2]
        if not name:
            raise ValueError(f"{url!r} names no file: expected ramfile://NAME")
        return cls(name, locking=locking)

    def describe(self) -> str:
        return f"ramfile://{self.name}"
