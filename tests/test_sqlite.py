"""SQLite backend: schema, durability, sharing between processes, several stores in one file,
``sqlite::memory:``, migration from version 1, close racing reads (API.md sections 2, 3, 7).

The order of documents and keys is in test_sqlite_order.py; file types, zero-byte
files and read-only folders in test_sqlite_files.py.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.forked import run_together
from storagebackend import UID
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
    assert raw.execute("SELECT name, version FROM stores").fetchall() == [("storagebackend", SCHEMA_VERSION)]
    tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"documents", "entries"} <= tables
    assert raw.execute("SELECT count(*) FROM documents").fetchone()[0] == 1  # empty documents are kept
    raw.close()


def test_the_first_sync_waits_for_a_writer_of_a_rollback_journal(tmp_path: Path) -> None:
    """Switching a database at rest to WAL waits for another connection's write lock (SQLite would refuse at once)."""
    with sb.open(_url(tmp_path)) as store:
        store.create()
    holder = sqlite3.connect(tmp_path / "s.db", isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode = DELETE")  # as another program may leave it
    holder.execute("BEGIN IMMEDIATE")  # a writer of the rollback journal
    threading.Timer(0.3, holder.execute, ("ROLLBACK",)).start()
    with sb.open(_url(tmp_path), lock_timeout=30) as store:
        store.create({"a": b"1"})
        store.sync()
        assert len(store) == 2
    holder.close()


def test_changes_wait_for_sync(tmp_path: Path) -> None:
    store = sb.open(_url(tmp_path))
    doc = store.create({"a": b"1"})
    assert (tmp_path / "s.db").stat().st_size == 0  # an empty database until a sync has something to store
    raw = sqlite3.connect(tmp_path / "s.db")
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
    with sb.open(_url(tmp_path)) as store:
        store.create()
    raw = sqlite3.connect(tmp_path / "s.db")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(sb.CorruptStoreError, match="newer"):
        sb.open(_url(tmp_path))


@pytest.mark.parametrize(
    "damage",
    [
        "DROP TABLE stores",
        "DROP TABLE entries",
        "ALTER TABLE entries RENAME COLUMN key TO name",
        "CREATE TABLE x (uid TEXT PRIMARY KEY) WITHOUT ROWID; INSERT INTO x SELECT uid FROM documents; "
        "DROP TABLE documents; ALTER TABLE x RENAME TO documents",
    ],
)
@pytest.mark.parametrize("flag", ["c", "w", "r"])
def test_a_database_marked_ours_with_a_changed_schema_is_corrupt(tmp_path: Path, damage: str, flag: str) -> None:
    with sb.open(_url(tmp_path)) as store:
        store.create({"k": b"v"})
    raw = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    raw.executescript(damage)
    raw.close()
    before = (tmp_path / "s.db").read_bytes()
    with pytest.raises(sb.CorruptStoreError, match="s.db"):
        _read_everything(_url(tmp_path), flag)
    assert (tmp_path / "s.db").read_bytes() == before


def _read_everything(url: str, flag: str) -> None:
    with sb.open(url, flag=flag) as store:
        store.copy()
        for uid in store:
            store.get_document(uid)


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


def test_an_infinite_lock_timeout_waits_for_the_lock(tmp_path: Path) -> None:
    """``lock_timeout=math.inf`` waits (SQLite's own busy timeout overflows to "do not wait" past ~24 days)."""
    with sb.open(_url(tmp_path), lock_timeout=math.inf) as store:
        store.create()
        store.sync()
        holder = sqlite3.connect(tmp_path / "s.db", isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        threading.Timer(0.3, holder.execute, ("ROLLBACK",)).start()
        store.create({"a": b"1"})
        store.sync()  # waits for the holder instead of failing at once
        assert len(store) == 2
    holder.close()


# -- close() while other threads read -----------------------------------------------------------------

# Rounds of five reader threads reading in a loop while the main thread closes the store under them.
# In a child process: a crash of the interpreter (a read on a connection being freed) fails the test
# instead of killing pytest. Prints what the readers saw: "answer", "closed", or another error's text.
_CLOSE_RACE = r"""
import json, random, sys, threading, time
import storagebackend as sb

url, rounds = sys.argv[1], int(sys.argv[2])
uid = "7" * 32

def fill(store):
    for number in range(150):
        store[f"{number:032x}"] = {"a": b"x" * 100, "b": b"y"}
    store[uid] = {"k": b"v"}
    store.sync()

def opened():
    if url == "sqlite::memory:":
        store = sb.open(url)
        fill(store)
        return store
    return sb.open(url, flag="r")

if url != "sqlite::memory:":
    with sb.open(url, flag="n") as store:
        fill(store)
reads = {
    "len": len,
    "copy": lambda store: store.copy(),
    "store[uid]": lambda store: store[uid],
    "iteration": lambda store: list(store),
    "get_document": lambda store: store.get_document(uid),
}
seen = {}
lock = threading.Lock()

def reader(store, name, go):
    go.wait()
    answers = 0
    while True:
        try:
            reads[name](store)
        except sb.StorageClosedError:
            outcome = "closed"
        except BaseException as exc:
            outcome = f"{name}: {type(exc).__name__}: {exc}"
        else:
            answers += 1
            continue
        with lock:
            seen[outcome] = seen.get(outcome, 0) + 1
            seen["answer"] = seen.get("answer", 0) + answers
        return

for _ in range(rounds):
    store = opened()
    go = threading.Event()
    threads = [threading.Thread(target=reader, args=(store, name, go)) for name in reads]
    for thread in threads:
        thread.start()
    go.set()
    time.sleep(random.random() * 0.004)
    store.close()
    for thread in threads:
        thread.join()
print(json.dumps(seen))
"""


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_close_while_other_threads_read_gives_closed_or_answers(tmp_path: Path, kind: str) -> None:
    """Reads racing a close get their answer or StorageClosedError, nothing else, and the process lives."""
    url = "sqlite::memory:" if kind == "memory" else _url(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", _CLOSE_RACE, url, "120"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, f"exit status {result.returncode} (-11: a segfault)\n{result.stderr[-3000:]}"
    seen = json.loads(result.stdout)
    assert set(seen) <= {"answer", "closed"}, seen
    assert seen["closed"] == 5 * 120  # every reader ended on StorageClosedError


# -- several stores in one file: ?table= and table= ------------------------------------------------


def _tables(path: Path) -> set[str]:
    raw = sqlite3.connect(path)
    names = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    raw.close()
    return names


def test_several_stores_live_in_one_file_each_with_its_own_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    urls = {"default": f"sqlite:///{path}", "notes": f"sqlite:///{path}?table=notes"}
    with sb.open(urls["default"]) as store:
        store["1" * 32] = {"in": b"default"}
    with sb.open(urls["notes"]) as store:
        store["2" * 32] = {"in": b"notes"}
    with sb.open(urls["default"], table="Tasks") as store:  # the option, as for PostgreSQL
        store["3" * 32] = {"in": b"tasks"}
        assert repr(store).endswith("?table=Tasks>")
    with sb.open_config({"backend": "sqlite", "path": str(path), "table": "tasks", "flag": "r"}) as store:
        assert store.copy() == {UID("3" * 32): {"in": b"tasks"}}  # names ignore case, as SQLite's do
    with sb.open(urls["default"], flag="r") as store:
        assert store.copy() == {UID("1" * 32): {"in": b"default"}}
    with sb.open(urls["notes"], flag="w") as store:
        assert store.copy() == {UID("2" * 32): {"in": b"notes"}}
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID  # one marker for the file
    stores = dict(raw.execute("SELECT name, version FROM stores"))
    assert stores == {"storagebackend": SCHEMA_VERSION, "notes": SCHEMA_VERSION, "tasks": SCHEMA_VERSION}
    raw.close()
    assert _tables(path) == {"stores", "documents", "entries", "notes_documents", "notes_entries"} | {
        "tasks_documents",
        "tasks_entries",
    }


def test_flag_n_on_one_store_leaves_the_others(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    for table in ("a", "b"):
        with sb.open(f"sqlite:///{path}?table={table}") as store:
            store.create({"in": table.encode()})
    with sb.open(f"sqlite:///{path}?table=a", flag="n") as store:
        assert len(store) == 0
    with sb.open(f"sqlite:///{path}?table=a", flag="r") as store:
        assert len(store) == 0
    with sb.open(f"sqlite:///{path}?table=b", flag="r") as store:
        assert [doc["in"] for doc in store.values()] == [b"b"]


@pytest.mark.parametrize("flag", ["w", "r"])
def test_a_missing_store_in_a_file_of_stores_is_not_found_and_nothing_is_made(tmp_path: Path, flag: str) -> None:
    path = tmp_path / "s.db"
    with sb.open(f"sqlite:///{path}?table=a") as store:
        store.create()
    before = path.read_bytes()
    for url in (f"sqlite:///{path}?table=other", f"sqlite:///{path}"):  # the default store is missing too
        with pytest.raises(sb.StoreNotFoundError, match="s.db"):
            sb.open(url, flag=flag)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["s.db"]


def test_flag_c_on_a_missing_store_in_a_file_of_stores_creates_it_at_open(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sb.open(f"sqlite:///{path}?table=a") as store:
        store.create()
    with sb.open(f"sqlite:///{path}?table=b"):
        pass
    with sb.open(f"sqlite:///{path}?table=b", flag="r") as store:
        assert len(store) == 0


@pytest.mark.parametrize(
    "table", ["", "1abc", "a-b", "a b", "sqlite", "sqlite_x", "SQLite_master", "x" * 49, "ж", "a;DROP TABLE x"]
)
def test_a_bad_table_name_is_refused_before_anything_is_made(tmp_path: Path, table: str) -> None:
    with pytest.raises(ValueError, match="table name"):
        sb.open(f"sqlite:///{tmp_path}/s.db", table=table)
    assert os.listdir(tmp_path) == []


def test_table_in_url_and_option_must_agree(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="table given twice"):
        sb.open(f"sqlite:///{tmp_path}/s.db?table=a", table="b")
    with pytest.raises(ValueError, match="unknown query parameter 'colour'"):
        sb.open(f"sqlite:///{tmp_path}/s.db?colour=red")
    assert os.listdir(tmp_path) == []


# -- sqlite::memory: ---------------------------------------------------------------------------------


def test_sqlite_memory_url_is_an_in_memory_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with sb.open("sqlite::memory:") as store:
        uid = store.create({"a": b"1"}).uid
        store.sync()
        assert store.get_document(uid) == {"a": b"1"}
        assert "sqlite::memory:" in repr(store)
        assert store.backend.persistent is False
        with sb.open("sqlite::memory:?table=other") as other:  # every open is a database of its own
            assert len(other) == 0
    with sb.open("sqlite::memory:", flag="n") as store:
        assert len(store) == 0
    for flag in ("w", "r"):
        with pytest.raises(sb.StoreNotFoundError):
            sb.open("sqlite::memory:", flag=flag)
    assert os.listdir(tmp_path) == []  # no file named ":memory:" (or anything else)


# -- version 1 databases ----------------------------------------------------------------------------

V1_ROWS = [  # (uid, key, value) in the order version 1 wrote them; U5 has no keys
    ("9" * 32, "b", b"first pair"),
    ("9" * 32, "a", b"second pair"),
    ("1" * 32, "z", b"z"),
    ("3" * 32, "k", b"k"),
]


def _version_1(path: Path, rows: list[tuple[str, str, bytes]] = V1_ROWS, extra: str | None = None) -> None:
    """A database as storagebackend 1 left it: WAL at rest, documents in uid order (WITHOUT ROWID)."""
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("CREATE TABLE documents (uid TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID")
    raw.execute(
        "CREATE TABLE entries (uid TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (uid, key))"
    )
    raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    raw.execute("PRAGMA user_version = 1")
    raw.executemany("INSERT INTO documents VALUES (?)", [(uid,) for uid in {row[0] for row in rows} | {"5" * 32}])
    raw.executemany("INSERT INTO entries VALUES (?, ?, ?)", rows)
    if extra:
        raw.execute(extra)
    raw.close()


V1_ORDER = [UID("9" * 32), UID("1" * 32), UID("3" * 32), UID("5" * 32)]  # by first pair; keyless last


def test_a_version_1_database_is_read_as_it_is_in_the_order_it_can(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_1(path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with sb.open(str(path), flag="r") as store:
        assert list(store) == V1_ORDER
        assert list(store.copy()) == V1_ORDER
        assert list(store.get_document("9" * 32)) == ["b", "a"]
        assert list(store.copy()[UID("9" * 32)]) == ["b", "a"]
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert os.listdir(tmp_path) == ["old.db"]


@pytest.mark.parametrize("flag", ["c", "w"])
def test_a_writable_open_migrates_a_version_1_database_keeping_its_order(tmp_path: Path, flag: str) -> None:
    path = tmp_path / "old.db"
    _version_1(path)
    with sb.open(str(path), flag=flag) as store:
        assert list(store) == V1_ORDER
        store["0" * 32] = {"new": b"last"}
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("SELECT name, version FROM stores").fetchall() == [("storagebackend", SCHEMA_VERSION)]
    assert _tables(path) == {"stores", "documents", "entries"}  # the old tables are gone
    columns = [row[1] for row in raw.execute("PRAGMA table_info(documents)")]
    assert columns == ["position", "uid"]
    raw.close()
    with sb.open(str(path), flag="r") as store:
        assert list(store) == [*V1_ORDER, UID("0" * 32)]
        assert store.get_document("9" * 32) == {"b": b"first pair", "a": b"second pair"}
        assert list(store.get_document("9" * 32)) == ["b", "a"]
        assert store.get_document("5" * 32) == {}


def test_a_damaged_version_1_database_is_refused_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_1(path, extra="INSERT INTO documents VALUES ('not a uid')")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with pytest.raises(sb.CorruptStoreError, match="old.db"):
        sb.open(str(path))
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_a_named_store_in_a_version_1_file_migrates_it_and_keeps_the_default_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_1(path)
    with pytest.raises(sb.StoreNotFoundError):
        sb.open(f"sqlite:///{path}?table=new", flag="r")
    with sb.open(f"sqlite:///{path}?table=new") as store:
        store.create({"k": b"v"})
    with sb.open(str(path), flag="r") as store:
        assert list(store) == V1_ORDER
    with sb.open(f"sqlite:///{path}?table=new", flag="r") as store:
        assert len(store) == 1
