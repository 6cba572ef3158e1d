"""Write the seed corpora in fuzz/corpus/ (committed; run again only to change them).

Seeds are small valid inputs: stores of each codec (empty, text, binary, tricky
keys) as written now and as the first release wrote them (format version 1, no
end line), a SQLite store, URLs of every scheme, encrypted envelopes, key
headers and journals, and stores of the codec plugins in codecs/ (which must
be installed). The fuzzers mutate from there.

``make_corpus.py HARNESS...`` writes only those harnesses' seeds (a SQLite file
or a sealed envelope differs at every run, so rewriting all changes them all).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import storagebackend as sb
from storagebackend.registry import codec_by_name

CORPUS = Path(__file__).parent / "corpus"
CODECS = ("json", "msgpack", "yaml", "toml", "ini")
U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
U2 = "0123456789abcdef0123456789abcdef"
STORES: list[dict[str, dict[str, bytes]]] = [
    {},
    {U1: {}},
    {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}},
    {
        U1: {"Key = [x]": b"  spaced  ", "#;:\"'": b"line one\nline two\r\n", "ж": "ж".encode()},
        U2: {"empty": b"", "nul": b"\x00", "yes": b"yes", "num": b"1e3", "date": b"2026-11-27", "tab": b"\t\\"},
    },
]
# Files of the first release (format version 1): the text codecs still read them.
VERSION_1: dict[str, bytes] = {
    "json": f'{{"format": "storagebackend", "version": 1, "documents": {{\n"{U1}": {{"Title": "Hello world", '
    '"blob": {"base64": "3q2+7w=="}}\n}}\n'.encode(),
    "yaml": f"format: storagebackend\nversion: 1\ndocuments:\n  {U1}:\n    Title: Hello world\n"
    "    blob: !!binary |\n      3q2+7w==\n".encode(),
    "toml": f'format = "storagebackend"\nversion = 1\n\n[documents]\n\n[documents.{U1}]\nTitle = "Hello world"\n\n'
    f'[documents.{U1}.blob]\nbase64 = "3q2+7w=="\n'.encode(),
    "ini": f"[storagebackend]\nformat = storagebackend\nversion = 1\n\n[{U1}]\n\\title = Hello world\n"
    "blob = base64:3q2+7w==\n".encode(),
}
URLS = [
    "notes.json",
    "s.json",
    "s.yaml?codec=yaml",
    "file:s.toml",
    f"file://{'/tmp'}/s.ini",
    "file://localhost/tmp/x.cfg",
    "s.db",
    "sqlite:s.db",
    "sqlite:///tmp/s.db",
    "sqlite:////tmp/s.sqlite3",
    "memory://",
    "ftp://user:Pw7xQ@127.0.0.1:2121/dir/x.json",
    "ftps://us%40er:p%40Pw7xQ@localhost/x.yaml?codec=yaml",
    "ftp://127.0.0.1//abs/x.msgpack",
    "postgresql://postgres:Pw7xQ@127.0.0.1:5432/db?table=notes",
    "postgresql://u:Pw7xQ@[::1]:5432/db",
    "redis://:Pw7xQ@127.0.0.1:6379/0?prefix=notes",
    "redis://user:Pw7xQ@localhost:6379/15",
    "s3://bucket/dir/x.json",
    "s3://AKIAEXAMPLE:Pw7xQ@bucket/x.json",
    "s3://my.bucket/a%20b/x.yaml?codec=yaml",
]


def _write(harness: str, data: bytes) -> None:
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)  # libFuzzer's naming


def _sqlite_file(documents: dict[str, dict[str, bytes]]) -> bytes:
    folder = tempfile.mkdtemp()
    try:
        path = os.path.join(folder, "s.db")
        with sb.open(path) as store:
            store.update(documents)
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA journal_mode = DELETE")  # one file, no WAL beside it
        connection.execute("VACUUM")
        connection.close()
        return Path(path).read_bytes()
    finally:
        shutil.rmtree(folder)


def _encrypted() -> None:
    """Seeds of decode_envelope.py: envelopes, key headers, journals (its first byte picks which), damage."""
    from decode_envelope import KEYS

    from storagebackend.encryption import ValueCipher, seal_file, seal_record
    from storagebackend.keyring import Keyring

    ring = Keyring(KEYS[0])
    writer = ring.writer()
    codec = codec_by_name("json")
    for documents in STORES[:3]:
        _write("decode_envelope", b"\x00" + seal_file(writer, codec.encode(documents)))
    _write("decode_envelope", b"\x00" + seal_file(Keyring(KEYS[1]).writer(), b""))
    cipher = ValueCipher.create(ring)
    _write("decode_envelope", b"\x01" + cipher.header)
    rotated = ValueCipher.load(Keyring([KEYS[1], KEYS[0]]), cipher.header, "seed")
    _write("decode_envelope", b"\x01" + rotated.header)
    records = [seal_record(writer, payload, b"%d" % i) for i, payload in enumerate([b"first", b"", b"x" * 100])]
    _write("decode_envelope", b"\x02" + writer.slot.pack() + b"".join(records))
    _write("decode_envelope", b"\x02" + writer.slot.pack() + records[0] + records[1][:-3])
    for spot, plaintext in ((0, b""), (70, b"hello"), ((0x80 << 24) + 5, codec.encode(STORES[2]))):
        _write("decode_envelope", b"\x03" + struct.pack(">I", spot) + plaintext)


def _plain() -> None:
    """Seeds of every other harness."""
    for kind, name in enumerate(CODECS):
        codec = codec_by_name(name)
        for documents in STORES:
            data = codec.encode(documents)
            _write(f"decode_{name}", data)
            _write("open_file", bytes([kind]) + data)
        if name in VERSION_1:
            _write(f"decode_{name}", VERSION_1[name])
            _write("open_file", bytes([kind]) + VERSION_1[name])
    _write("open_file", bytes([len(CODECS)]) + _sqlite_file(STORES[2]))
    for url in URLS:
        for flag in (0, 1):
            _write("open_url", bytes([flag]) + url.encode())


#: The harness of each codec plugin in codecs/, and the codecs whose files are its seeds.
PLUGINS: dict[str, tuple[str, ...]] = {
    "decode_cbor": ("cbor",),
    "decode_plist": ("plist", "bplist"),
    "decode_jsonl": ("jsonl",),
}


def _plugin(harness: str) -> Callable[[], None]:
    """The writer of one plugin harness's seeds: the stores in each of its codecs."""

    def write() -> None:
        for name in PLUGINS[harness]:
            codec = codec_by_name(name)
            for documents in STORES:
                _write(harness, codec.encode(documents))

    return write


def main(harnesses: list[str]) -> None:
    """Write the seeds of the named harnesses (all if none), replacing theirs."""
    written: dict[str, Callable[[], None]] = {"decode_envelope": _encrypted}
    written.update({harness: _plugin(harness) for harness in PLUGINS})
    if not harnesses:
        shutil.rmtree(CORPUS, ignore_errors=True)
        _plain()
        for write in written.values():
            write()
        return
    for harness in harnesses:
        if harness not in written:
            raise SystemExit(f"make_corpus.py writes {harness}'s seeds only with all the others (no argument)")
        shutil.rmtree(CORPUS / harness, ignore_errors=True)
        written[harness]()


if __name__ == "__main__":
    main(sys.argv[1:])
