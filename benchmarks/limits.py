"""The raw limits: the least work that stores the workload the same way, without a library.

- ``raw-dict``: a plain dict of dicts (the limit of the memory store).
- ``raw-sqlite3``: stdlib sqlite3, one table ``kv(doc, key, value)`` with
  ``PRIMARY KEY (doc, key)``, WAL and ``synchronous=FULL`` like our SQLite
  backend; create is one ``executemany`` in one transaction; update-one is one
  ``UPDATE`` in its own (autocommit) transaction, so one fsync'd commit.
- ``raw-json``: the same JSON our codec writes (values that are valid UTF-8 as
  strings, others as ``{"base64": ...}``, the format marker, ``ensure_ascii=False``)
  built as one tree and written by one ``json.dumps``; every sync converts all
  values and dumps the whole tree again (no fragment cache), then an atomic
  write: temporary file, fsync, ``os.replace``, fsync of the folder. Reopen
  reads, ``json.loads`` and turns the values back into bytes.
- ``raw-msgpack``: the same with ``msgpack.packb``, values as msgpack bin.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

from subject import Documents, Subject, atomic_write
from workload import bytes_value, json_value

MARKER = {"format": "storagebackend", "version": 1}


class RawDict(Subject):
    name: ClassVar[str] = "raw-dict"
    limit: ClassVar[str] = "raw-dict"
    durability: ClassVar[str] = "nothing persisted"
    persistent: ClassVar[bool] = False

    def create(self, folder: Path, docs: Documents) -> None:
        store = {uid: dict(doc) for uid, doc in docs}
        store.clear()

    def scan(self, folder: Path) -> int:
        raise NotImplementedError

    def open(self, folder: Path, docs: Documents) -> None:
        self.store = {uid: dict(doc) for uid, doc in docs}

    def get(self, reads: list[Any]) -> None:
        store = self.store
        for uid, key in reads:
            store[uid][key]

    def update(self, uid: Any, key: str, value: bytes) -> None:
        self.store[uid][key] = value

    def close(self) -> None:
        del self.store


class RawSQLite(Subject):
    name: ClassVar[str] = "raw-sqlite3"
    limit: ClassVar[str] = "raw-sqlite3"
    durability: ClassVar[str] = "fsync per commit (WAL, synchronous=FULL)"

    @staticmethod
    def _connect(folder: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(folder / "store.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def create(self, folder: Path, docs: Documents) -> None:
        conn = self._connect(folder)
        conn.execute(
            "CREATE TABLE kv (doc TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (doc, key))"
        )
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO kv (doc, key, value) VALUES (?, ?, ?)",
            ((uid, key, value) for uid, doc in docs for key, value in doc.items()),
        )
        conn.execute("COMMIT")
        conn.close()

    def scan(self, folder: Path) -> int:
        conn = self._connect(folder)
        store: dict[str, dict[str, bytes]] = {}
        total = 0
        for uid, key, value in conn.execute("SELECT doc, key, value FROM kv"):
            document = store.get(uid)
            if document is None:
                document = store[uid] = {}
            document[key] = value
            total += len(value)
        conn.close()
        return total

    def open(self, folder: Path, docs: Documents) -> None:
        self.conn = self._connect(folder)

    def get(self, reads: list[Any]) -> None:
        execute = self.conn.execute
        for uid, key in reads:
            execute("SELECT value FROM kv WHERE doc = ? AND key = ?", (uid, key)).fetchone()[0]

    def update(self, uid: Any, key: str, value: bytes) -> None:
        self.conn.execute("UPDATE kv SET value = ? WHERE doc = ? AND key = ?", (value, uid, key))

    def close(self) -> None:
        self.conn.close()


class _RawFile(Subject):
    """A whole store in one file: load it all, keep it in a dict, write it all at each sync."""

    filename: ClassVar[str]

    def encode(self, store: dict[str, dict[str, bytes]]) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> dict[str, dict[str, bytes]]:
        raise NotImplementedError

    def create(self, folder: Path, docs: Documents) -> None:
        store = {uid: dict(doc) for uid, doc in docs}
        atomic_write(folder / self.filename, self.encode(store))

    def scan(self, folder: Path) -> int:
        store = self.decode((folder / self.filename).read_bytes())
        return sum(len(value) for document in store.values() for value in document.values())

    def open(self, folder: Path, docs: Documents) -> None:
        self.path = folder / self.filename
        self.store = self.decode(self.path.read_bytes())

    def get(self, reads: list[Any]) -> None:
        store = self.store
        for uid, key in reads:
            store[uid][key]

    def update(self, uid: Any, key: str, value: bytes) -> None:
        self.store[uid][key] = value
        atomic_write(self.path, self.encode(self.store))

    def close(self) -> None:
        del self.store


class RawJSON(_RawFile):
    name: ClassVar[str] = "raw-json"
    limit: ClassVar[str] = "raw-json"
    durability: ClassVar[str] = "atomic write, fsync file + folder"
    filename: ClassVar[str] = "store.json"

    def encode(self, store: dict[str, dict[str, bytes]]) -> bytes:
        tree = {
            **MARKER,
            "documents": {uid: {key: json_value(value) for key, value in doc.items()} for uid, doc in store.items()},
        }
        return json.dumps(tree, ensure_ascii=False).encode()

    def decode(self, data: bytes) -> dict[str, dict[str, bytes]]:
        tree = json.loads(data)
        return {uid: {key: bytes_value(value) for key, value in doc.items()} for uid, doc in tree["documents"].items()}


class RawMsgpack(_RawFile):
    name: ClassVar[str] = "raw-msgpack"
    limit: ClassVar[str] = "raw-msgpack"
    durability: ClassVar[str] = "atomic write, fsync file + folder"
    filename: ClassVar[str] = "store.msgpack"
    requires: ClassVar[tuple[str, ...]] = ("msgpack",)

    def encode(self, store: dict[str, dict[str, bytes]]) -> bytes:
        import msgpack  # imported already by warm(): the ``bench`` extra is optional

        data: bytes = msgpack.packb({**MARKER, "documents": store})
        return data

    def decode(self, data: bytes) -> dict[str, dict[str, bytes]]:
        import msgpack

        documents: dict[str, dict[str, bytes]] = msgpack.unpackb(data)["documents"]
        return documents


LIMITS: tuple[type[Subject], ...] = (RawDict, RawSQLite, RawJSON, RawMsgpack)
