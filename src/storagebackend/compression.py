"""Compression of a file store's whole file: gzip, xz or zstd, told apart by their first bytes.

A compressed store file is exactly the codec's file in that format, a single
stream as the format's own tool writes it, so ``zcat notes.json.gz``,
``xz -dc notes.json.xz`` and ``zstd -dc notes.json.zst`` show the codec's file.
Reading recognises the format from its magic bytes (:func:`detect`), whatever
the option or extension says.

Every format carries a checksum of the data (gzip CRC-32, xz CRC-64, zstd
XXH64, which zstd writes only when asked: we always ask), and decompression
refuses what the format's tool would refuse and more: a stream cut before its
end marker, damaged data, a checksum that does not match, and any bytes after
the last stream that are not a whole stream of the same format (gzip and xz
allow several streams one after the other, as ``cat a.gz b.gz`` makes; so does
zstd). Each is a :class:`~storagebackend.CorruptStoreError` naming the file;
a prefix of the data is never returned.

Levels, chosen on a 17 MB JSON store of ``benchmarks/workload.py`` (11,000
notes; each has 256 random bytes, which no compressor shrinks below 75% of
their base64): zstd level 3 (2.99x smaller; 83 ms to compress, 25 ms to
decompress; level 7 would reach 3.02x in 283 ms, level 19 3.46x in 12 s), gzip
level 6 (``gzip``'s own default: 2.91x in 650 ms; level 1 gives 2.47x in
210 ms, worse than zstd in both), xz preset 6 (``xz``'s own default: 3.49x in
10.6 s; presets 0 to 3 are larger than gzip 6 and still slower, so a user
who picks xz picks it for its ratio). Choose zstd for speed.

Decompression stops at :func:`max_decompressed_size` bytes (a quarter of
this machine's memory): a store that large could not be decoded into objects
anyway, so data that would expand beyond it (a "zip bomb") is refused as a
CorruptStoreError before it takes the memory, instead of failing with a
MemoryError or taking the machine down. Output is produced in bounded steps,
so the check comes at most a few megabytes late.
"""

from __future__ import annotations

import importlib
import lzma
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from storagebackend.errors import CorruptStoreError

__all__ = [
    "COMPRESSIONS",
    "Compression",
    "by_extension",
    "by_name",
    "detect",
    "max_decompressed_size",
]

#: Levels: see the module docstring for the measurements behind them.
GZIP_LEVEL: Final = 6
XZ_PRESET: Final = 6
ZSTD_LEVEL: Final = 3

#: Output asked of a decompressor per step, and zstd input fed per step (the ``zstandard``
#: package's decompressor has no output limit: 1 KiB of zstd input makes at most ~32 MiB).
_STEP: Final = 1 << 20
_ZSTD_INPUT_STEP: Final = 1 << 10

_GZIP_MAGIC: Final = b"\x1f\x8b"
_XZ_MAGIC: Final = b"\xfd7zXZ\x00"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"


def max_decompressed_size() -> int:
    """The most bytes decompression produces by default: a quarter of the machine's memory (1 GiB if unknown)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 30
    return max(memory // 4, 1 << 26)


@dataclass(frozen=True)
class Compression:
    """One compression format: its option name, file extension, magic bytes, and how to (de)compress."""

    name: str
    extension: str
    magic: bytes
    _compress: Callable[[bytes], bytes] = field(repr=False)
    _decompress: Callable[[bytes, int], tuple[list[bytes], bytes]] = field(repr=False)

    def compress(self, data: bytes) -> bytes:
        """``data`` as one stream of this format, at the level this module chose (with the format's checksum).

        Raises ImportError for zstd when neither ``compression.zstd`` nor ``zstandard`` is installed.
        """
        return self._compress(data)

    def decompress(self, data: bytes, where: str, max_size: int | None = None) -> bytes:
        """The data of every stream in ``data``, which must be whole streams of this format and nothing else.

        ``where`` names the file in messages. Raises CorruptStoreError for
        data that is damaged, cut short, followed by other bytes, or that
        expands beyond ``max_size`` bytes (default :func:`max_decompressed_size`).
        """
        limit = max_decompressed_size() if max_size is None else max_size
        if not data.startswith(self.magic):
            raise CorruptStoreError(f"{where}: not {self.name} data (it does not start with {self.name}'s magic bytes)")
        pieces: list[bytes] = []
        rest = data
        while rest:
            try:
                stream, rest = self._decompress(rest, limit)
            except _Cut:
                raise CorruptStoreError(
                    f"{where}: the {self.name} data is cut short (it ends before its end-of-stream marker)"
                ) from None
            except _TooBig:
                raise CorruptStoreError(
                    f"{where}: the {self.name} data expands to more than {limit} bytes; refused as damaged "
                    "or hostile (a decompression bomb)"
                ) from None
            except _Damaged as exc:
                raise CorruptStoreError(f"{where}: damaged {self.name} data ({exc})") from None
            pieces.extend(stream)
            limit -= sum(map(len, stream))
            if rest and not rest.startswith(self.magic):
                raise CorruptStoreError(
                    f"{where}: {len(rest)} bytes after the end of the {self.name} data that are not {self.name} data"
                )
        return b"".join(pieces)


class _Cut(Exception):
    """A stream ended before its end marker."""


class _TooBig(Exception):
    """A stream expands beyond the limit."""


class _Damaged(Exception):
    """The library found a stream damaged; the message is its own."""


def _gzip_compress(data: bytes) -> bytes:
    # wbits 31: a gzip header and trailer (CRC-32, length); zlib writes mtime 0 and no name, so same data, same file.
    return zlib.compress(data, GZIP_LEVEL, wbits=31)


def _gzip_stream(data: bytes, limit: int) -> tuple[list[bytes], bytes]:
    """The output of the first gzip member in ``data`` and the bytes after it."""
    decompressor = zlib.decompressobj(wbits=31)
    pieces: list[bytes] = []
    size = 0
    pending = data
    while not decompressor.eof:
        try:
            piece = decompressor.decompress(pending, _STEP)
        except zlib.error as exc:
            raise _Damaged(exc) from None
        if not piece and not pending:
            raise _Cut
        pending = decompressor.unconsumed_tail
        size += len(piece)
        if size > limit:
            raise _TooBig
        pieces.append(piece)
    return pieces, decompressor.unused_data


def _xz_compress(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=XZ_PRESET)


def _limited_stream(decompressor: Any, error: type[Exception], data: bytes, limit: int) -> tuple[list[bytes], bytes]:
    """The output of one stream of a decompressor with lzma's interface (``max_length``, ``needs_input``).

    ``error`` is the exception its library raises for damaged data.
    """
    pieces: list[bytes] = []
    size = 0
    pending = data
    while not decompressor.eof:
        if not pending and decompressor.needs_input:
            raise _Cut
        try:
            piece = decompressor.decompress(pending, _STEP)
        except error as exc:
            raise _Damaged(exc) from None
        pending = b""
        size += len(piece)
        if size > limit:
            raise _TooBig
        pieces.append(piece)
    return pieces, decompressor.unused_data


def _xz_stream(data: bytes, limit: int) -> tuple[list[bytes], bytes]:
    return _limited_stream(lzma.LZMADecompressor(format=lzma.FORMAT_XZ), lzma.LZMAError, data, limit)


def _zstd_library() -> tuple[str, Any]:
    """The standard library's ``compression.zstd`` (Python 3.14+) or else the ``zstandard`` package."""
    try:
        return "stdlib", importlib.import_module("compression.zstd")
    except ImportError:
        pass
    try:
        return "zstandard", importlib.import_module("zstandard")
    except ImportError as exc:
        raise ImportError("zstd compression needs the zstandard package: pip install zstandard") from exc


def _zstd_compress(data: bytes) -> bytes:
    kind, library = _zstd_library()
    if kind == "stdlib":
        parameter = library.CompressionParameter
        options = {parameter.compression_level: ZSTD_LEVEL, parameter.checksum_flag: 1}
        return bytes(library.compress(data, options=options))
    compressor = library.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True, write_content_size=True)
    return bytes(compressor.compress(data))


def _zstd_stream(data: bytes, limit: int) -> tuple[list[bytes], bytes]:
    """The output of the first zstd frame in ``data`` and the bytes after it."""
    kind, library = _zstd_library()
    if kind == "stdlib":
        return _limited_stream(library.ZstdDecompressor(), library.ZstdError, data, limit)
    decompressor = library.ZstdDecompressor().decompressobj()
    pieces: list[bytes] = []
    size = 0
    view = memoryview(data)
    start = 0
    while not decompressor.eof:
        if start >= len(view):
            raise _Cut
        try:
            piece = decompressor.decompress(view[start : start + _ZSTD_INPUT_STEP])
        except library.ZstdError as exc:
            raise _Damaged(exc) from None
        start += _ZSTD_INPUT_STEP
        size += len(piece)
        if size > limit:
            raise _TooBig
        pieces.append(piece)
    # The frame ended inside the last step: what it did not use follows the frame.
    return pieces, bytes(decompressor.unused_data) + bytes(view[start:])


GZIP: Final = Compression("gzip", ".gz", _GZIP_MAGIC, _gzip_compress, _gzip_stream)
XZ: Final = Compression("xz", ".xz", _XZ_MAGIC, _xz_compress, _xz_stream)
ZSTD: Final = Compression("zstd", ".zst", _ZSTD_MAGIC, _zstd_compress, _zstd_stream)

#: Every format by its option name (``compress="gzip"``), in the order the option lists them.
COMPRESSIONS: Final[dict[str, Compression]] = {c.name: c for c in (GZIP, XZ, ZSTD)}


def by_name(name: str) -> Compression:
    """The format of option value ``name``; ValueError listing the known names otherwise."""
    try:
        return COMPRESSIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(map(repr, COMPRESSIONS))
        raise ValueError(f"unknown compression {name!r}; known: {known}") from None


def by_extension(filename: str) -> Compression | None:
    """The format a file name's last extension names (``notes.json.gz``: gzip), or None; case is ignored."""
    lowered = filename.lower()
    for compression in COMPRESSIONS.values():
        if lowered.endswith(compression.extension):
            return compression
    return None


def detect(data: bytes) -> Compression | None:
    """The format whose magic bytes ``data`` starts with, or None (no store file of a codec starts so)."""
    for compression in COMPRESSIONS.values():
        if data.startswith(compression.magic):
            return compression
    return None
