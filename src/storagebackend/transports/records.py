"""The framing of journal records, for transports that keep the journal as bytes (a local file).

Each record is ``length (4 bytes, big-endian) | CRC-32 of the payload (4 bytes) | payload``.
Appends only ever add whole frames at the end, so a crash can only cut the
last one short (or, on file systems that grow a file before its data lands,
leave its bytes zero): a last frame that is incomplete or fails its CRC is
dropped, and the next append cuts it off first. A bad frame with more bytes
after it is not a crash's doing: CorruptStoreError.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

from storagebackend.errors import CorruptStoreError

__all__ = ["frame", "split_records"]

_HEADER: Final = struct.Struct(">II")
#: The most one record may hold: what the 4-byte length can say.
MAX_RECORD: Final = 2**32 - 1


def frame(record: bytes) -> bytes:
    """``record`` framed for appending; ValueError if it is longer than 4 GiB."""
    if len(record) > MAX_RECORD:
        raise ValueError(f"a journal record holds at most {MAX_RECORD} bytes, not {len(record)}")
    return _HEADER.pack(len(record), zlib.crc32(record)) + record


def split_records(data: bytes, where: str) -> tuple[list[bytes], int]:
    """The whole records of ``data`` and the offset where they end (the rest is a record cut by a crash).

    Raises CorruptStoreError naming ``where`` and the offset if a damaged frame has more bytes after it.
    """
    records: list[bytes] = []
    view = memoryview(data)
    offset = 0
    size = len(data)
    while offset < size:
        start = offset + _HEADER.size
        if start > size:
            break  # a header cut short: the last append did not finish
        length, checksum = _HEADER.unpack_from(view, offset)
        end = start + length
        if end > size:
            break  # a payload cut short
        payload = bytes(view[start:end])
        if zlib.crc32(payload) != checksum:
            if end == size:
                break  # the last frame, whole in length but not in content: cut by a crash too
            raise CorruptStoreError(f"{where}: the journal record at byte {offset} is damaged (its CRC-32 differs)")
        records.append(payload)
        offset = end
    return records, offset
