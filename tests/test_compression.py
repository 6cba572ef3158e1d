"""Compression (API.md section 10): each format round-trips, its own tool reads our files and we read its,
the format is told by its magic bytes, and damaged, cut or bloated data is CorruptStoreError, never a wrong answer.

The standard tools (``gzip``, ``xz``, ``zstd``; Debian: gzip, xz-utils, zstd) are
required under ``CI=true``; elsewhere a missing one skips its test, saying which.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.servers import in_ci
from helpers.support import available_codecs
from storagebackend import CorruptStoreError
from storagebackend.compression import COMPRESSIONS, Compression, by_extension, by_name, detect
from storagebackend.encryption import seal_file
from storagebackend.keyring import Keyring
from storagebackend.registry import codec_by_name
from storagebackend.testing import stores

NAMES = list(COMPRESSIONS)
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: The command that decompresses each format to stdout, and the one that compresses stdin to stdout.
TOOLS = {
    "gzip": (["gzip", "-dc"], ["gzip", "-c"]),
    "xz": (["xz", "-dc"], ["xz", "-c"]),
    "zstd": (["zstd", "-dc"], ["zstd", "-c", "-q"]),
}
U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
STORE = {U1: {"title": b"Hello world", "body": "Grüße, déjà vu. ".encode() * 40, "blob": bytes(range(256))}}


def json_file() -> bytes:
    return codec_by_name("json").encode(STORE)


def tool(name: str, which: int) -> list[str]:
    """The command line of format ``name``'s tool (0: decompress, 1: compress); skip, or fail in CI, if missing."""
    command = TOOLS[name][which]
    if shutil.which(command[0]) is None:
        package = "xz-utils" if name == "xz" else name
        reason = f"the {command[0]!r} program is not installed (Debian: apt-get install {package})"
        if in_ci():
            pytest.fail(f"{reason}; CI=true needs it", pytrace=False)
        pytest.skip(reason)
    return command


@pytest.fixture(params=NAMES)
def compression(request: pytest.FixtureRequest) -> Compression:
    return by_name(request.param)


@given(data=st.binary(max_size=4096))
@FEW
def test_every_format_round_trips_any_bytes(data: bytes) -> None:
    for compression in COMPRESSIONS.values():
        packed = compression.compress(data)
        assert detect(packed) is compression
        assert compression.decompress(packed, "notes.json") == data


@given(store=stores(max_documents=4))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_codecs_file_round_trips_and_is_never_taken_for_compressed(store: dict[str, dict[str, bytes]]) -> None:
    for codec in map(codec_by_name, available_codecs()):
        file = codec.encode(store)
        assert detect(file) is None, codec.name
        for compression in COMPRESSIONS.values():
            assert codec.decode(compression.decompress(compression.compress(file), "s")) == store


def test_an_encrypted_file_is_not_taken_for_compressed() -> None:
    sealed = seal_file(Keyring(b"k" * 32).writer(), json_file())
    assert detect(sealed) is None


def test_the_standard_tool_decompresses_our_file_to_the_codecs_file(compression: Compression, tmp_path: Path) -> None:
    path = tmp_path / f"notes.json{compression.extension}"
    path.write_bytes(compression.compress(json_file()))
    shown = subprocess.run([*tool(compression.name, 0), str(path)], capture_output=True, check=True).stdout
    assert shown == json_file()
    assert codec_by_name("json").decode(shown) == STORE


def test_we_read_what_the_standard_tool_compressed(compression: Compression, tmp_path: Path) -> None:
    # gzip -c records the file's name and time in its header, zstd -c writes its own frame options: all read.
    path = tmp_path / "notes.json"
    path.write_bytes(json_file())
    packed = subprocess.run([*tool(compression.name, 1), str(path)], capture_output=True, check=True).stdout
    assert detect(packed) is compression
    assert compression.decompress(packed, "notes.json") == json_file()


def test_streams_one_after_another_read_as_their_tool_reads_them(compression: Compression, tmp_path: Path) -> None:
    path = tmp_path / f"both{compression.extension}"
    path.write_bytes(compression.compress(b"first\n") + compression.compress(b"second\n"))
    assert compression.decompress(path.read_bytes(), "both") == b"first\nsecond\n"
    assert subprocess.run([*tool(compression.name, 0), str(path)], capture_output=True, check=True).stdout == (
        b"first\nsecond\n"
    )


def test_every_cut_of_a_compressed_file_is_refused(compression: Compression) -> None:
    packed = compression.compress(json_file())
    for end in range(len(packed)):
        with pytest.raises(CorruptStoreError, match="notes.json.z"):
            compression.decompress(packed[:end], "notes.json.z")


def test_a_cut_file_is_refused_even_when_the_cut_falls_between_blocks(compression: Compression) -> None:
    # Big enough for several blocks: a cut at a block's end leaves valid data before it, never returned.
    data = b"".join(str(i).encode() * 50 for i in range(40_000))
    packed = compression.compress(data)
    for end in range(len(packed) // 8, len(packed), max(1, len(packed) // 64)):
        with pytest.raises(CorruptStoreError, match="cut short|damaged"):
            compression.decompress(packed[:end], "big")


def test_a_flipped_byte_anywhere_is_refused_or_harmless_never_a_wrong_answer(compression: Compression) -> None:
    # Header fields that do not touch the data (gzip's time and OS bytes) may change unnoticed, as with gzip itself;
    # every other damage is refused, thanks to the format's checksum.
    original = json_file()
    packed = compression.compress(original)
    refused = 0
    for position in range(len(packed)):
        damaged = bytearray(packed)
        damaged[position] ^= 0x24
        try:
            result = compression.decompress(bytes(damaged), "s")
        except CorruptStoreError:
            refused += 1
        else:
            assert result == original, f"a flip at byte {position} read as other data"
    assert refused >= len(packed) - 8


def test_bytes_after_the_last_stream_are_refused(compression: Compression) -> None:
    packed = compression.compress(json_file())
    for tail in (b"\x00", b"\x00" * 4, b"garbage"):
        with pytest.raises(CorruptStoreError, match="after the end"):
            compression.decompress(packed + tail, "s")
    with pytest.raises(CorruptStoreError, match="cut short"):  # the start of a second stream
        compression.decompress(packed + compression.magic, "s")


def test_data_that_expands_beyond_the_limit_is_refused_as_a_bomb(compression: Compression) -> None:
    bomb = compression.compress(bytes(8 << 20))
    assert len(bomb) < 1 << 20
    with pytest.raises(CorruptStoreError, match="expands to more than 1000000 bytes"):
        compression.decompress(bomb, "bomb.json", max_size=1_000_000)
    # The limit counts every stream together.
    two = compression.compress(bytes(600_000)) * 2
    with pytest.raises(CorruptStoreError, match="expands to more than"):
        compression.decompress(two, "bomb.json", max_size=1_000_000)
    assert compression.decompress(bomb, "bomb.json", max_size=8 << 20) == bytes(8 << 20)


def test_data_of_another_format_or_none_is_refused(compression: Compression) -> None:
    for other in COMPRESSIONS.values():
        if other is not compression:
            with pytest.raises(CorruptStoreError, match=f"not {compression.name} data"):
                compression.decompress(other.compress(b"x"), "s")
    with pytest.raises(CorruptStoreError, match=f"not {compression.name} data"):
        compression.decompress(json_file(), "s")
    with pytest.raises(CorruptStoreError):
        compression.decompress(b"", "s")


def test_names_and_extensions() -> None:
    assert [c.extension for c in COMPRESSIONS.values()] == [".gz", ".xz", ".zst"]
    assert by_extension("notes.json.gz") is by_name("gzip")
    assert by_extension("NOTES.JSON.XZ") is by_name("xz")
    assert by_extension("dir.zst/notes.json.zst") is by_name("zstd")
    assert by_extension("notes.json") is None
    assert by_extension("notes.gzip") is None
    with pytest.raises(ValueError, match="unknown compression 'bz2'; known: 'gzip', 'xz', 'zstd'"):
        by_name("bz2")


def test_compressing_the_same_data_twice_gives_the_same_file(compression: Compression) -> None:
    # No time stamp in the header: a sync that changes nothing writes the same bytes.
    assert compression.compress(json_file()) == compression.compress(json_file())
