"""API.md section 3: a store garbage-collected while open is closed then, like a ``shelve``.

Its changes are synced and a ResourceWarning says that ``close()`` was missing; a
sync that fails then is logged (nothing can be raised from a finaliser) and the
store's lock and connection are released all the same.
"""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import storagebackend as sb
from storagebackend.backends.memory import MemoryBackend
from storagebackend.backends.sqlite import SQLiteBackend
from storagebackend.storage import Storage

KINDS = ["json", "sqlite"]


def url_of(kind: str, folder: Path) -> str:
    """A store of ``kind`` inside ``folder``: a JSON file or a SQLite database."""
    return str(folder / "notes.json") if kind == "json" else f"sqlite:///{folder}/notes.db"


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """What a finaliser raised: sys.unraisablehook collects it here instead of printing it."""
    caught: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: caught.append(info.exc_value))
    return caught


@pytest.mark.parametrize("kind", KINDS)
def test_a_dropped_store_is_synced_and_warns(kind: str, tmp_path: Path, unraisable: list[BaseException]) -> None:
    url = url_of(kind, tmp_path)
    store = sb.open(url)
    doc = store.create({"title": b"kept"})
    uid = doc.uid
    del doc
    with pytest.warns(ResourceWarning, match="was not closed"):
        del store
    assert unraisable == []
    with sb.open(url, flag="w", lock_timeout=0) as again:  # the lock was released too
        assert again.get_document(uid) == {"title": b"kept"}


def test_a_view_keeps_its_store_open_until_it_goes_too(tmp_path: Path) -> None:
    url = url_of("sqlite", tmp_path)
    store = sb.open(url)
    doc = store.create({"a": b"1"})
    del store
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        gc.collect()
        doc["b"] = b"2"  # the view still works: its store is alive
        assert seen == []
        uid = doc.uid
        del doc
        gc.collect()
    assert [warning.category for warning in seen] == [ResourceWarning]
    with sb.open(url, flag="r") as again:
        assert again.get_document(uid) == {"a": b"1", "b": b"2"}


def test_a_dropped_read_only_store_releases_its_lock_and_writes_nothing(tmp_path: Path) -> None:
    url = url_of("json", tmp_path)
    with sb.open(url) as store:
        store.create({"a": b"1"})
    before = os.stat(url)
    reader = sb.open(url, flag="r")
    with pytest.raises(sb.StorageLockedError):
        sb.open(url, flag="w", lock_timeout=0)
    with pytest.warns(ResourceWarning, match="read-only"):
        del reader
    after = os.stat(url)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    sb.open(url, flag="w", lock_timeout=0).close()


def test_a_closed_store_says_nothing_when_dropped(tmp_path: Path) -> None:
    store = sb.open(url_of("json", tmp_path))
    store.close()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        del store
        gc.collect()
    assert seen == []


def break_sync(kind: str, folder: Path) -> sqlite3.Connection | None:
    """Make the next sync of the store of ``kind`` in ``folder`` fail for real.

    JSON: a directory stands where the file was (moved aside to ``notes.json.away``).
    SQLite: another connection holds the database's exclusive lock; it is returned.
    """
    if kind == "json":
        os.rename(folder / "notes.json", folder / "notes.json.away")
        os.mkdir(folder / "notes.json")
        return None
    other = sqlite3.connect(folder / "notes.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


@pytest.mark.parametrize("kind", KINDS)
def test_a_dropped_store_whose_sync_fails_logs_the_error_and_is_released(
    kind: str, tmp_path: Path, unraisable: list[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    url = url_of(kind, tmp_path)
    store = sb.open(url, lock_timeout=0)
    kept = store.create({"a": b"synced"}).uid
    store.sync()
    store.create({"b": b"lost"})
    other = break_sync(kind, tmp_path)
    with caplog.at_level(logging.ERROR, logger="storagebackend"), pytest.warns(ResourceWarning):
        del store
    assert unraisable == []  # nothing escaped the finaliser
    [record] = [r for r in caplog.records if r.name == "storagebackend.storage"]
    assert record.levelno == logging.ERROR
    assert "final sync failed" in record.getMessage()
    assert ("nothing was overwritten" if kind == "json" else "locked") in record.getMessage()  # the error itself
    if other is not None:
        other.execute("COMMIT")
        other.close()
    else:
        os.rmdir(tmp_path / "notes.json")
        os.rename(tmp_path / "notes.json.away", tmp_path / "notes.json")
    with sb.open(url, flag="w", lock_timeout=0) as again:  # released: no lock, no open transaction
        assert again.copy() == {kept: {"a": b"synced"}}


class _Unreleasable(MemoryBackend):
    """A backend whose save and close both fail, as a dead connection's would."""

    def describe(self) -> str:
        return "unreleasable://x"

    def save(self) -> None:
        raise sb.StorageIOError("the disk is gone")

    def close(self) -> None:
        raise sb.StorageIOError("the connection is gone")


def test_a_dropped_store_that_cannot_be_released_logs_both_errors(
    unraisable: list[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    store = Storage(_Unreleasable())
    store.create({"b": b"lost"})
    with caplog.at_level(logging.ERROR, logger="storagebackend"), pytest.warns(ResourceWarning):
        del store
    assert unraisable == []
    messages = [r.getMessage() for r in caplog.records if r.name == "storagebackend.storage"]
    assert messages == [
        "unreleasable://x was not closed, and its final sync failed (changes lost): the disk is gone",
        "unreleasable://x was not closed, and could not be released: the connection is gone",
    ]


def test_a_half_built_store_leaves_its_backend_to_the_caller(tmp_path: Path, unraisable: list[BaseException]) -> None:
    backend = SQLiteBackend(str(tmp_path / "notes.db"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="max_key_length"):
            Storage(backend, max_key_length=0)
        with pytest.raises(TypeError):
            Storage(object())  # type: ignore[arg-type]
        gc.collect()
    assert seen == []
    assert unraisable == []
    with Storage(backend) as store:  # the backend is still open, and still the caller's
        store.create({"a": b"1"})
        assert len(store) == 1


SCRIPT = """
import sys
import storagebackend as sb

folder = sys.argv[1]


def write(url, value):
    store = sb.open(url)
    store.put("0" * 32, "k", value)
    # returns without close(): the store is dropped here


write(folder + "/dropped.json", b"json dropped")
write("sqlite:///" + folder + "/dropped.db", b"sqlite dropped")
json_store = sb.open(folder + "/at_exit.json")
json_store.put("0" * 32, "k", b"json at exit")
sqlite_store = sb.open("sqlite:///" + folder + "/at_exit.db")
sqlite_store.put("0" * 32, "k", b"sqlite at exit")
print("done")
# the two globals are still open when the interpreter exits
"""


def test_stores_dropped_without_close_in_a_real_process_keep_their_data(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    result = subprocess.run(
        [sys.executable, "-W", "default", str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    assert "Exception ignored" not in result.stderr
    expected = {
        str(tmp_path / "dropped.json"): b"json dropped",
        f"sqlite:{tmp_path}/dropped.db": b"sqlite dropped",
        str(tmp_path / "at_exit.json"): b"json at exit",
        f"sqlite:{tmp_path}/at_exit.db": b"sqlite at exit",
    }
    for shown, value in expected.items():
        assert f"ResourceWarning: <Storage {shown}> was not closed" in result.stderr
        url = shown.replace("sqlite:", "sqlite://")
        with sb.open(url, flag="r") as store:
            assert store.get_value("0" * 32, "k") == value, shown
