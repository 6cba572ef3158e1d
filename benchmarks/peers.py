"""The peers: other Python libraries a user might pick for the same job.

Each stores a document as one value (its five keys in a dict), as a user of
these libraries naturally would, and reads ``store[uid][key]``. None of them is
a runtime dependency: they come with the ``bench`` extra, and a missing one is
shown as skipped. What their sync guarantees is in ``durability`` (read from
their source and checked with ``strace -e fsync,fdatasync``): most of their
faster writes come from skipping the fsync that ours and the raw limits do.
"""

from __future__ import annotations

import dbm
import shelve
from pathlib import Path
from typing import Any, ClassVar

from subject import Documents, Reads, Subject
from workload import bytes_value, json_value


class SqliteDictPeer(Subject):
    name: ClassVar[str] = "sqlitedict"
    limit: ClassVar[str] = "raw-sqlite3"
    durability: ClassVar[str] = "NO fsync: it sets synchronous=OFF (journal DELETE)"
    requires: ClassVar[tuple[str, ...]] = ("sqlitedict",)

    def _open(self, folder: Path, flag: str = "c") -> Any:
        from sqlitedict import SqliteDict

        return SqliteDict(str(folder / "store.sqlite"), tablename="notes", flag=flag, outer_stack=False)

    def create(self, folder: Path, docs: Documents) -> None:
        store = self._open(folder)
        for uid, doc in docs:
            store[uid] = doc
        store.commit()
        store.close()

    def scan(self, folder: Path) -> int:
        store = self._open(folder, "r")
        total = sum(len(value) for _, doc in store.items() for value in doc.values())
        store.close()
        return total

    def open(self, folder: Path, docs: Documents) -> None:
        self.store = self._open(folder)

    def get(self, reads: list[Any]) -> None:
        store = self.store
        for uid, key in reads:
            store[uid][key]

    def update(self, uid: Any, key: str, value: bytes) -> None:
        doc = self.store[uid]
        doc[key] = value
        self.store[uid] = doc
        self.store.commit()

    def close(self) -> None:
        self.store.close()


class DiskCachePeer(Subject):
    name: ClassVar[str] = "diskcache"
    limit: ClassVar[str] = "raw-sqlite3"
    durability: ClassVar[str] = "NO fsync per commit: WAL with synchronous=NORMAL"
    requires: ClassVar[tuple[str, ...]] = ("diskcache",)

    def _open(self, folder: Path) -> Any:
        from diskcache import Cache

        return Cache(str(folder / "cache"))

    def create(self, folder: Path, docs: Documents) -> None:
        store = self._open(folder)
        with store.transact():
            for uid, doc in docs:
                store[uid] = doc
        store.close()

    def scan(self, folder: Path) -> int:
        store = self._open(folder)
        total = sum(len(value) for uid in store for value in store[uid].values())
        store.close()
        return total

    def open(self, folder: Path, docs: Documents) -> None:
        self.store = self._open(folder)

    def get(self, reads: list[Any]) -> None:
        store = self.store
        for uid, key in reads:
            store[uid][key]

    def update(self, uid: Any, key: str, value: bytes) -> None:
        doc = self.store[uid]
        doc[key] = value
        self.store[uid] = doc  # each set is its own committed transaction

    def close(self) -> None:
        self.store.close()


class ShelvePeer(Subject):
    name: ClassVar[str] = "shelve"
    limit: ClassVar[str] = "raw-sqlite3"
    durability: ClassVar[str] = "dbm.dumb here (no gdbm/ndbm in this Python): NO fsync"

    def create(self, folder: Path, docs: Documents) -> None:
        with shelve.open(str(folder / "store"), flag="n") as store:
            for uid, doc in docs:
                store[uid] = doc
            store.sync()

    def scan(self, folder: Path) -> int:
        with shelve.open(str(folder / "store"), flag="r") as store:
            return sum(len(value) for uid in store for value in store[uid].values())

    def open(self, folder: Path, docs: Documents) -> None:
        self.store = shelve.open(str(folder / "store"), flag="w")  # noqa: SIM115  closed by close()

    def get(self, reads: list[Any]) -> None:
        store = self.store
        for uid, key in reads:
            store[uid][key]

    def update(self, uid: Any, key: str, value: bytes) -> None:
        doc = self.store[uid]
        doc[key] = value
        self.store[uid] = doc
        self.store.sync()

    def close(self) -> None:
        self.store.close()


def shelve_module(folder: Path) -> str:
    """Which dbm module shelve used for the store in ``folder``."""
    return dbm.whichdb(str(folder / "store")) or "unknown"


class TinyDBPeer(Subject):
    """TinyDB with CachingMiddleware over JSONStorage; documents by doc_id, values as our JSON codec writes them."""

    name: ClassVar[str] = "tinydb"
    limit: ClassVar[str] = "raw-json"
    durability: ClassVar[str] = "fsync, but rewrites the file in place (a crash can corrupt it)"
    requires: ClassVar[tuple[str, ...]] = ("tinydb",)
    imports: ClassVar[tuple[str, ...]] = ("tinydb.middlewares", "tinydb.storages", "tinydb.table")

    def _open(self, folder: Path, access_mode: str = "r+") -> Any:
        from tinydb import TinyDB
        from tinydb.middlewares import CachingMiddleware
        from tinydb.storages import JSONStorage

        return TinyDB(str(folder / "store.json"), storage=CachingMiddleware(JSONStorage), access_mode=access_mode)

    def create(self, folder: Path, docs: Documents) -> None:
        from tinydb.table import Document

        store = self._open(folder)
        store.insert_multiple(
            Document({key: json_value(value) for key, value in doc.items()}, doc_id=number)
            for number, (_, doc) in enumerate(docs, 1)
        )
        store.close()

    def scan(self, folder: Path) -> int:
        store = self._open(folder, "r")
        total = sum(len(bytes_value(value)) for doc in store.all() for value in doc.values())
        store.close()
        return total

    def open(self, folder: Path, docs: Documents) -> None:
        self.store = self._open(folder)
        self.numbers = {uid: number for number, (uid, _) in enumerate(docs, 1)}

    def prepare(self, reads: Reads) -> list[Any]:
        return [(self.numbers[uid], key) for uid, key in reads]

    def get(self, reads: list[Any]) -> None:
        get = self.store.get
        for number, key in reads:
            bytes_value(get(doc_id=number)[key])

    def update(self, uid: Any, key: str, value: bytes) -> None:
        self.store.update({key: json_value(value)}, doc_ids=[self.numbers[uid]])
        self.store.storage.flush()

    def close(self) -> None:
        self.store.close()


PEERS: tuple[type[Subject], ...] = (SqliteDictPeer, DiskCachePeer, ShelvePeer, TinyDBPeer)
