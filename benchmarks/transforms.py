"""Micro-benchmark of the transforms of issue 13: compression levels, sealing, scrypt.

    python benchmarks/transforms.py               # a ~17 MB JSON store of 11,000 notes (about 40 s)
    python benchmarks/transforms.py --quick       # 500 notes, cheap scrypt: a few seconds

On the JSON (and msgpack) file of the "notes" workload (workload.py), it
measures each compression format at the levels compression.py may use (size,
ratio, compress and decompress time), the codec's own encode and decode for
scale, a file envelope's seal and open (and their share of encode + decode),
one value's seal and open, and scrypt at the default parameters. Each figure
is the best of ``--repeat`` runs (the machine is shared; the best is the
least disturbed). No figure is asserted anywhere: tests/test_benchmarks.py only
checks that the script runs.
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import time
from collections.abc import Callable
from typing import Any

import workload

from storagebackend.compression import COMPRESSIONS, GZIP_LEVEL, XZ_PRESET, ZSTD_LEVEL
from storagebackend.encryption import ValueCipher, open_file, seal_file
from storagebackend.keyring import DEFAULT_SCRYPT, KDF_SCRYPT, KdfParams, Keyring
from storagebackend.registry import codec_by_name


def best(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The shortest wall-clock time of ``repeat`` runs, in seconds, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def other_levels(quick: bool) -> list[tuple[str, Callable[[bytes], bytes]]]:
    """Levels compression.py does not use, for comparison (zstd through whatever compression.py uses)."""
    levels: list[tuple[str, Callable[[bytes], bytes]]] = [
        ("gzip 1", lambda data: gzip.compress(data, 1, mtime=0)),
        ("xz 0", lambda data: lzma.compress(data, preset=0)),
    ]
    try:
        import zstandard
    except ImportError:
        return levels
    for level in (1, 7, 10) if quick else (1, 7, 10, 19):
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        levels.append((f"zstd {level}", compressor.compress))
    return levels


def compression_table(name: str, data: bytes, repeat: int, quick: bool) -> None:
    print(f"\n{name}: {len(data):,} bytes")
    chosen = {"gzip": GZIP_LEVEL, "xz": XZ_PRESET, "zstd": ZSTD_LEVEL}
    for compression in COMPRESSIONS.values():
        packing, packed = best(lambda c=compression: c.compress(data), 1 if compression.name == "xz" else repeat)
        unpacking, _ = best(lambda c=compression, p=packed: c.decompress(p, name), repeat)
        label = f"{compression.name} {chosen[compression.name]} (used)"
        print(
            f"  {label:16s} {len(packed):>11,} bytes  {len(data) / len(packed):5.2f}x smaller  "
            f"compress {ms(packing)}  decompress {ms(unpacking)}"
        )
    for label, compress in other_levels(quick):
        packing, packed = best(lambda f=compress: f(data), 1)
        print(
            f"  {label:16s} {len(packed):>11,} bytes  {len(data) / len(packed):5.2f}x smaller  compress {ms(packing)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=11_000, help="notes in the store (11,000: ~17 MB of JSON)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="500 notes, cheap scrypt, one run each")
    args = parser.parse_args()
    docs, repeat = (500, 1) if args.quick else (args.docs, args.repeat)
    documents = dict(workload.documents(docs, seed=1))

    json_codec = codec_by_name("json")
    encoding, json_file = best(lambda: json_codec.encode(documents), repeat)
    decoding, _ = best(lambda: json_codec.decode(json_file), repeat)
    print(f"JSON codec on {docs:,} notes: encode {ms(encoding)}  decode {ms(decoding)}")
    compression_table("JSON store", json_file, repeat, args.quick)
    compression_table("msgpack store", codec_by_name("msgpack").encode(documents), repeat, args.quick)

    keyring = Keyring(bytes(32))
    writer = keyring.writer()
    sealing, sealed = best(lambda: seal_file(writer, json_file), repeat)
    opening, _ = best(lambda: open_file(keyring, sealed, "bench"), repeat)
    share = (sealing + opening) / (encoding + decoding)
    print(
        f"\nfile envelope of the JSON store ({len(json_file) / 2**20:.1f} MiB): seal {ms(sealing)} "
        f"({len(json_file) / sealing / 2**30:.2f} GiB/s)  open {ms(opening)} "
        f"({len(json_file) / opening / 2**30:.2f} GiB/s): {share:.0%} of the codec's encode + decode"
    )
    cipher = ValueCipher.create(keyring)
    uid = next(iter(documents))
    value = documents[uid]["body"]
    count = 20_000
    value_seal, blob = best(lambda: [cipher.seal(uid, "body", value) for _ in range(count)][-1], repeat)
    value_open, _ = best(lambda: [cipher.open(uid, "body", blob, "bench") for _ in range(count)], repeat)
    each = 1e6 / count
    print(f"one value of {len(value)} bytes: seal {value_seal * each:.1f} µs  open {value_open * each:.1f} µs")

    params = KdfParams(KDF_SCRYPT, 10, 8, 1) if args.quick else DEFAULT_SCRYPT
    stretching, _ = best(lambda: Keyring("a passphrase", scrypt=params).writer(), 1 if args.quick else repeat)
    print(
        f"scrypt N=2**{params.log2_n} r={params.r} p={params.p} ({128 * params.r << params.log2_n >> 20} MiB): "
        f"{ms(stretching)} per passphrase and salt"
    )


if __name__ == "__main__":
    main()
