"""Fuzz opening a store file: random bytes as a file of each codec, or as a SQLite database.

The first byte picks the kind (json, msgpack, yaml, toml, ini, sqlite), the rest
is the file. Opening it with flag "r" must raise CorruptStoreError or read a
store, and leave the file byte-identical either way. A store that reads must
take a new document (flag "w"), and read back as before plus that document.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import _common

_common.load("tomllib", "configparser", "ruamel", "msgpack")
import storagebackend as sb
from storagebackend.errors import CorruptStoreError, StorageError

KINDS = (".json", ".msgpack", ".yaml", ".toml", ".ini", ".db")
NEW_UID = "f" * 32
NEW_DOCUMENT = {"fuzz": b"new \x00 value"}

SANDBOX = Path(tempfile.mkdtemp(prefix="sb-fuzz-open-file-"))
atexit.register(shutil.rmtree, SANDBOX, ignore_errors=True)


def _clean() -> None:
    for name in os.listdir(SANDBOX):
        os.unlink(SANDBOX / name)


# A file may hold keys and values beyond the default limits (written by an opener with larger
# ones); the limits are the opener's, so this harness opens with limits nothing exceeds.
LIMITS = {"max_key_length": 1 << 30, "max_value_size": 1 << 30}


def _read_all(path: Path) -> dict[str, dict[str, bytes]]:
    with sb.open(path, flag="r", **LIMITS) as store:
        documents = {uid.hex: store.get_document(uid) for uid in store}
        if len(store) != len(documents):
            raise AssertionError(f"len() says {len(store)}, iteration found {len(documents)}")
        # The bulk read sees every row, so it refuses damage that reads of listed documents never meet
        # (pairs of a document the database does not list), as a writable open does.
        bulk = {uid.hex: document for uid, document in store.copy().items()}
        if bulk != documents:
            raise AssertionError("store.copy() and the reads of each document differ")
        for uid, document in documents.items():
            view = store[uid]
            if dict(view) != document or len(view) != len(document):
                raise AssertionError(f"document {uid}: the view and the copy differ")
    return documents


def _damaged_database(path: Path) -> bool:
    """Whether SQLite itself finds the database inconsistent (``PRAGMA integrity_check``).

    Such damage, e.g. an index that disagrees with its table, is invisible to
    queries short of that check, so a store on it may read inconsistently:
    there the harness only asks for StorageError subclasses and an untouched file.
    """
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except (sqlite3.Error, UnicodeDecodeError):
        return True
    connection.text_factory = bytes  # the check's messages quote the damaged text
    try:
        return connection.execute("PRAGMA integrity_check").fetchall() != [(b"ok",)]
    except (sqlite3.Error, UnicodeDecodeError):  # a damaged schema can hold names that are not UTF-8
        return True
    finally:
        connection.close()


def test_one_input(data: bytes) -> None:
    if not data:
        return
    _clean()
    path = SANDBOX / ("store" + KINDS[data[0] % len(KINDS)])
    content = data[1:]
    path.write_bytes(content)
    if path.suffix == ".db" and content and _damaged_database(path):
        try:
            with sb.open(path, flag="r", **LIMITS) as store:
                for uid in store:
                    store.get_value(uid, "k")
        except StorageError:
            pass
        if path.read_bytes() != content:
            raise AssertionError("opening a damaged database changed the file")
        return
    try:
        documents = _read_all(path)
    except CorruptStoreError as exc:
        _common.check_message(exc)
        if str(path) not in str(exc):
            raise AssertionError(f"the message does not name the file: {exc}") from exc
        if path.read_bytes() != content:
            raise AssertionError("opening a corrupt store changed the file") from exc
        return
    if path.read_bytes() != content:
        raise AssertionError("opening with flag 'r' changed the file")
    _common.check_documents(documents)
    expected = {**documents, NEW_UID: NEW_DOCUMENT}
    with sb.open(path, flag="w", **LIMITS) as store:
        store[NEW_UID] = NEW_DOCUMENT
    again = _read_all(path)
    if again != expected:
        raise AssertionError(f"after adding a document, the store reads {again!r}, not {expected!r}")


if __name__ == "__main__":
    _common.main(test_one_input)
