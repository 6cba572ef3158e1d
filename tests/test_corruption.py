"""Corrupt stores through ``sb.open`` (API.md section 7): refused, named, and never touched.

For every codec: a truncated file, garbage, valid syntax of the wrong shape,
an empty file and the store in UTF-16; for SQLite: a file that is no database,
a truncated database, and rows storagebackend never writes. Under flags "c",
"w" and "r" each raises CorruptStoreError naming the file, and the file is
byte-identical afterwards (same bytes, same inode, same mtime: not rewritten).
test_codecs.py tests the codecs' decode alone with many more damaged files.
"""

from __future__ import annotations

import codecs as text_codecs
import json
import os
import sqlite3
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest

import storagebackend as sb
from helpers.support import available_codecs
from storagebackend import UID
from storagebackend.registry import codec_by_name

U1 = UID("1" * 32)
STORE = {U1.hex: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}}
HEADER = {"format": "storagebackend", "version": 1}

# Valid syntax, the marker and the version, but not the shape of a store.
WRONG_SHAPE = {
    "json": json.dumps({**HEADER, "documents": [1, 2]}).encode(),
    "msgpack": msgpack.packb({**HEADER, "documents": {U1.hex: {"k": 12}}}),
    "yaml": b"format: storagebackend\nversion: 1\ndocuments:\n  - one\n  - two\n",
    "toml": b'format = "storagebackend"\nversion = 1\n\n[documents.not-a-uid]\nk = "v"\n',
    "ini": b"[storagebackend]\nformat = storagebackend\nversion = 1\n\n[not-a-uid]\nk = v\n",
}


def corrupt_files(name: str) -> dict[str, bytes]:
    valid = codec_by_name(name).encode(STORE)
    text = valid.decode("latin-1")  # every byte to one character, so that msgpack has a UTF-16 form too
    return {
        "truncated": valid[:20],  # inside the header, in every format
        "truncated-late": valid[: len(valid) - 3],  # a cut near the end (text formats may read a shorter store)
        "garbage": bytes(range(256)),
        "wrong-shape": WRONG_SHAPE[name],
        "empty": b"",
        "utf-16": text_codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    }


CASES = [(name, what) for name in available_codecs() for what in corrupt_files(name)]


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_ino, info.st_mtime_ns


def read_everything(url: str, flag: str) -> None:
    with sb.open(url, flag=flag) as store:
        for uid in store:  # SQLite may find damage only when it reads
            store.get_document(uid)


def assert_refused_and_untouched(url: str, path: Path, flag: str) -> sb.CorruptStoreError:
    before = fingerprint(path)
    with pytest.raises(sb.CorruptStoreError) as caught:
        read_everything(url, flag)
    assert not isinstance(caught.value, KeyError)
    assert str(path) in str(caught.value), f"the message does not name the file: {caught.value}"
    assert fingerprint(path) == before, "the corrupt file was rewritten"
    assert [name for name in os.listdir(path.parent) if name.endswith(".tmp")] == []
    return caught.value


@pytest.mark.parametrize("flag", ["c", "w", "r"])
@pytest.mark.parametrize(("name", "what"), CASES, ids=[f"{name}-{what}" for name, what in CASES])
def test_a_corrupt_file_is_refused_named_and_left_as_it_was(tmp_path: Path, name: str, what: str, flag: str) -> None:
    data = corrupt_files(name)[what]
    path = tmp_path / f"store{codec_by_name(name).extensions[0]}"
    path.write_bytes(data)
    if what == "truncated-late" and name not in ("json", "msgpack"):
        try:  # a line-based format cut at a line's end reads as a shorter store: fine, if it reads whole
            codec_by_name(name).decode(data)
        except sb.CorruptStoreError:
            pass
        else:
            pytest.skip(f"{name}: this cut leaves a valid, shorter store")
    error = assert_refused_and_untouched(str(path), path, flag)
    if what == "empty":
        assert "flag 'n'" in str(error)


@pytest.mark.parametrize("what", ["garbage", "empty"])
def test_flag_n_over_a_corrupt_file_starts_empty(tmp_path: Path, codec_name: str, what: str) -> None:
    path = tmp_path / f"store{codec_by_name(codec_name).extensions[0]}"
    path.write_bytes(corrupt_files(codec_name)[what])
    with sb.open(path, flag="n") as store:
        assert len(store) == 0
        store[U1] = {"k": b"v"}
    with sb.open(path, flag="r") as store:
        assert store[U1] == {"k": b"v"}


# -- SQLite ---------------------------------------------------------------------------------------


def _sqlite_store(path: Path) -> bytes:
    """A valid SQLite store of a few pages in one file (no WAL beside it); its bytes."""
    with sb.open(f"sqlite:///{path}") as store:
        for i in range(60):
            store[UID(f"{i:032x}")] = {"value": bytes(300), "text": b"x" * 100}
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.close()
    return path.read_bytes()


def _foreign_rows(path: Path, *statements: str) -> None:
    """Change a valid store with statements no storagebackend writer would run."""
    connection = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        connection.execute(statement)
    connection.execute("PRAGMA journal_mode = WAL")  # as storagebackend keeps its databases
    connection.close()


SQLITE_CASES = {
    "text-file": lambda path: path.write_bytes(b"this is a text file, not a database\n"),
    "garbage": lambda path: path.write_bytes(bytes(range(256)) * 8),
    "header-only": lambda path: path.write_bytes(b"SQLite format 3\x00" + bytes(84)),
    "truncated": lambda path: path.write_bytes(_sqlite_store(path)[: 4096 + 100]),
    "truncated-half": lambda path: path.write_bytes(_sqlite_store(path)[: len(_sqlite_store(path)) // 2]),
    "short-uid": lambda path: (_sqlite_store(path), _foreign_rows(path, "INSERT INTO documents (uid) VALUES ('abc')")),
    "integer-uid": lambda path: (_sqlite_store(path), _foreign_rows(path, "INSERT INTO documents (uid) VALUES (12)")),
    "upper-case-uid": lambda path: (
        _sqlite_store(path),
        _foreign_rows(path, f"INSERT INTO documents (uid) VALUES ('{'A' * 32}')"),
    ),
    "schema-not-utf8": lambda path: (  # sqlite3 raises UnicodeDecodeError decoding SQLite's message
        _sqlite_store(path),
        _foreign_rows(
            path,
            "PRAGMA writable_schema = ON",
            "UPDATE sqlite_master SET name = CAST(x'b0b0' AS TEXT), sql = 'CREATE TABLE x (' WHERE name = 'entries'",
        ),
    ),
    "text-value": lambda path: (
        _sqlite_store(path),
        _foreign_rows(path, f"UPDATE entries SET value = 'text' WHERE uid = '{0:032x}'"),
    ),
    "not-utf8-key": lambda path: (
        _sqlite_store(path),
        _foreign_rows(path, f"UPDATE entries SET key = CAST(x'ff' AS TEXT) WHERE uid = '{0:032x}' AND key = 'text'"),
    ),
}


@pytest.mark.parametrize("flag", ["c", "w", "r"])
@pytest.mark.parametrize("what", list(SQLITE_CASES))
def test_a_corrupt_sqlite_file_is_refused_named_and_left_as_it_was(tmp_path: Path, what: str, flag: str) -> None:
    path = tmp_path / "store.db"
    SQLITE_CASES[what](path)
    assert_refused_and_untouched(f"sqlite:///{path}", path, flag)


@pytest.mark.parametrize(
    "what", ["short-uid", "integer-uid", "upper-case-uid", "text-value", "not-utf8-key", "null-value"]
)
def test_a_bulk_copy_refuses_foreign_sqlite_rows(tmp_path: Path, what: str) -> None:
    path = tmp_path / "store.db"
    if what == "null-value":  # only possible if the NOT NULL column was redefined by someone else
        _sqlite_store(path)
        _foreign_rows(
            path,
            "PRAGMA writable_schema = ON",
            "UPDATE sqlite_master SET sql = replace(sql, 'value BLOB NOT NULL', 'value BLOB') WHERE name = 'entries'",
            "PRAGMA writable_schema = OFF",
        )
        _foreign_rows(path, f"UPDATE entries SET value = NULL WHERE uid = '{0:032x}' AND key = 'text'")
    else:
        SQLITE_CASES[what](path)
    store = sb.open(f"sqlite:///{path}", flag="r")  # opening reads no rows: the copy finds them
    with pytest.raises(sb.CorruptStoreError, match="store.db"):
        store.copy()
    store.close()
