"""SQLite backend: schema, durability, sharing between processes (API.md section 7)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.forked import run_together
from storagebackend.backends.sqlite import APPLICATION_ID, SCHEMA_VERSION


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/s.db"


def test_schema_marker_version_and_wal(tmp_path: Path) -> None:
    with sb.open(_url(tmp_path)) as store:
        store.create()
    raw = sqlite3.connect(tmp_path / "s.db")
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"documents", "entries"} <= tables
    assert raw.execute("SELECT count(*) FROM documents").fetchone()[0] == 1  # empty documents are kept
    raw.close()


def test_changes_wait_for_sync(tmp_path: Path) -> None:
    store = sb.open(_url(tmp_path))
    doc = store.create({"a": b"1"})
    raw = sqlite3.connect(tmp_path / "s.db")
    assert raw.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
    assert store[doc.uid]["a"] == b"1"  # reads see the write buffer
    store.sync()
    assert raw.execute("SELECT count(*) FROM entries").fetchone()[0] == 1
    raw.close()
    store.close()


def test_sync_with_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    store = sb.open(_url(tmp_path))
    store.create({"a": b"1"})
    store.sync()
    watcher = sqlite3.connect(tmp_path / "s.db")
    before = watcher.execute("PRAGMA data_version").fetchone()[0]
    store.sync()
    store.discard()
    store.sync()
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == before
    store.close()
    watcher.close()


def test_write_lock_not_held_between_syncs(tmp_path: Path) -> None:
    first = sb.open(_url(tmp_path), lock_timeout=0.5)
    second = sb.open(_url(tmp_path), lock_timeout=0.5)
    a = first.create({"who": b"first"})  # pending in first
    b = second.create({"who": b"second"})
    second.sync()  # must not wait for first
    first.sync()
    assert set(second) == {a.uid, b.uid}
    first.close()
    second.close()


def test_zero_byte_file_is_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "zero.db"
    path.touch()
    with sb.open(str(path), flag="r") as store:
        assert len(store) == 0
    assert path.stat().st_size == 0  # reading never writes
    with sb.open(str(path), flag="w") as store:
        store.create({"a": b"1"})
    with sb.open(str(path), flag="r") as store:
        assert len(store) == 1


@pytest.mark.parametrize("flag", ["c", "w", "r"])
def test_not_a_database_is_corrupt_and_untouched(tmp_path: Path, flag: str) -> None:
    path = tmp_path / "notes.db"
    content = b'{"not": "sqlite"}\n' * 100
    path.write_bytes(content)
    with pytest.raises(sb.CorruptStoreError, match="notes.db"):
        sb.open(str(path), flag=flag)
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE people (name TEXT)")
    raw.commit()
    raw.close()
    content = path.read_bytes()
    with pytest.raises(sb.CorruptStoreError, match="other.db.*not a storagebackend"):
        sb.open(str(path))
    assert path.read_bytes() == content


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with sb.open(_url(tmp_path)):
        pass
    raw = sqlite3.connect(tmp_path / "s.db")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(sb.CorruptStoreError, match="newer"):
        sb.open(_url(tmp_path))


def test_locked_database_gives_storage_locked_error(tmp_path: Path) -> None:
    with sb.open(_url(tmp_path)):
        pass
    holder = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    store = sb.open(_url(tmp_path), lock_timeout=0.2)
    store.create({"a": b"1"})
    with pytest.raises(sb.StorageLockedError):
        store.sync()
    holder.execute("ROLLBACK")
    store.sync()  # the changes were kept
    assert len(store) == 1
    store.close()
    holder.close()


def _writer(url: str, worker: int, count: int) -> None:
    with sb.open(url, lock_timeout=30) as store:
        for number in range(count):
            store.put(f"{worker:02x}{number:030x}", "n", str(number).encode())
            if number % 5 == 4:
                store.sync()


def test_two_processes_write_different_documents(tmp_path: Path) -> None:
    url = _url(tmp_path)
    with sb.open(url):
        pass
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(url, worker, 40)) for worker in (1, 2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    with sb.open(url, flag="r") as store:
        assert len(store) == 80
        assert store.get_value(f"{2:02x}{39:030x}", "n") == b"39"


def _keys_writer(url: str, worker: int) -> None:
    """Write 60 keys of one shared document and one document of its own, syncing every 4 writes."""
    shared = "5" * 32
    with sb.open(url, lock_timeout=30) as store:
        for number in range(60):
            store.put(shared, f"w{worker}-{number}", str(number).encode())
            store.put(f"{worker:02x}{number:030x}", "n", str(number).encode())
            if number % 4 == 3:
                store.sync()


def test_two_processes_write_different_keys_of_one_document_at_the_same_time(tmp_path: Path) -> None:
    """Released at the same moment, their syncs interleave; neither undoes the other's keys."""
    url = _url(tmp_path)
    with sb.open(url) as store:
        store["5" * 32] = {"before": b"both"}
    run_together([lambda: _keys_writer(url, 1), lambda: _keys_writer(url, 2)])
    with sb.open(url, flag="r") as store:
        shared = store.get_document("5" * 32)
        assert shared == {
            "before": b"both",
            **{f"w{worker}-{number}": str(number).encode() for worker in (1, 2) for number in range(60)},
        }
        assert len(store) == 1 + 2 * 60
