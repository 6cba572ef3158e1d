"""Fault injection (API.md sections 7 and 8): full disks, I/O errors and servers that die mid-sync.

Each time: ``sync()`` raises a StorageError promptly, the stored data is intact,
the unsynced changes are still in memory, and a later ``sync()`` succeeds and
loses nothing; a failed ``close()`` leaves the store open. An I/O error is
never reported as a missing store, document or key.

The cached file backend meets its faults through the Transport contract: a
MemoryTransport (``memfile://``) that fails a write (a full disk, an I/O
error, a dropped connection, a reply lost after the change), fails a read,
has its file changed behind the store, or writes slowly, on every codec. The
ENOSPC/EIO matrix at each step of a local write (monkeypatched ``os``
functions) is LocalTransport's own, in test_transports.py. Here too are the
real full disk (``RLIMIT_FSIZE`` in a child process), SQLite driver errors and
a real FTP server killed at exact moments of a sync.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import storagebackend as sb
from helpers.forked import HANG, run_in_child
from helpers.ftp_server import FAULTS, FTPServer
from helpers.support import available_codecs
from storagebackend import UID
from storagebackend.registry import codec_by_name
from storagebackend.storage import Storage
from storagebackend.transports import local
from storagebackend.transports.memory import MemoryTransport

FILE_STORES = [f"store{codec_by_name(name).extensions[0]}" for name in available_codecs()]
U1 = UID("1" * 32)
OLD = {U1: {"title": b"Hello", "blob": b"\x00\xff"}}


def snapshot(store: Storage) -> dict[UID, dict[str, bytes]]:
    return {uid: store.get_document(uid) for uid in store}


def promptly(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread; its exception (None if none). A call that hangs fails the test."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"{call} did not return within {HANG:g} s: it hangs"
    return failure[0] if failure else None


def assert_broken_not_missing(exc: BaseException | None, kind: type[BaseException] = sb.StorageError) -> None:
    """An I/O failure: the right StorageError, and never 'missing' (KeyError, FileNotFoundError)."""
    assert isinstance(exc, kind), f"expected {kind.__name__}, got {exc!r}"
    assert not isinstance(exc, (KeyError, FileNotFoundError)), repr(exc)


# -- a real full disk: RLIMIT_FSIZE in a child process ------------------------------------------------

LIMIT = 64 * 1024  # bytes any one file of the child may have; the stores start far below it


def _grow_past_the_limit(url: str, path: Path) -> None:
    """In the child: a sync that needs more than LIMIT bytes per file fails, cleanly, then succeeds."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process at the limit
    before = path.read_bytes()
    store = sb.open(url)
    big = {UID(f"{i:032x}"): {"value": bytes([i]) * 60_000} for i in range(8)}  # 480 kB
    store.update(big)
    store[U1]["title"] = b"Changed"
    changed = {**OLD, **big, U1: {**OLD[U1], "title": b"Changed"}}

    failure = promptly(store.sync)
    assert_broken_not_missing(failure, sb.StorageIOError)
    assert isinstance(failure.__cause__, (OSError, sqlite3.Error)), repr(failure.__cause__)
    if path.suffix != ".db":
        assert isinstance(failure.__cause__, OSError) and failure.__cause__.errno == errno.EFBIG
        assert path.read_bytes() == before, "a failed sync changed the store file"
        assert [name for name in os.listdir(path.parent) if name.endswith(".tmp")] == []
    else:
        with sb.open(url, flag="r") as reader:  # a second connection sees the stored data as it was
            assert snapshot(reader) == OLD
    assert snapshot(store) == changed, "a failed sync lost the changes"

    assert_broken_not_missing(promptly(store.close), sb.StorageIOError)
    assert not store.closed, "a failed close() closed the store"

    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # disk freed
    store.sync()
    store.close()
    with sb.open(url, flag="r") as again:
        assert snapshot(again) == changed


@pytest.mark.parametrize("name", [*FILE_STORES, "store.db"])
def test_a_full_disk_fails_the_sync_and_keeps_everything(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with sb.open(str(path)) as store:
        store.update(OLD)
    assert path.stat().st_size < LIMIT
    run_in_child(lambda: _grow_past_the_limit(str(path), path))


def _discard_after_a_full_disk(path: Path) -> None:
    """In the child: a sync fails (the disk is full), discard() drops its changes, a later sync writes none of them."""
    store = sb.open(str(path))
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    store[U1]["title"] = b"Discarded"  # encoded by the sync that fails, then dropped
    store.update({UID(f"{i:032x}"): {"value": bytes([i]) * 60_000} for i in range(2, 4)})  # past the limit
    assert_broken_not_missing(promptly(store.sync), sb.StorageIOError)
    store.discard()
    assert snapshot(store) == OLD
    other = store.create({"small": b"change"}).uid  # another change, and a sync that succeeds
    store.sync()
    store.close()
    with sb.open(str(path), flag="r") as again:
        assert snapshot(again) == {**OLD, other: {"small": b"change"}}, "the file holds a discarded value"


@pytest.mark.parametrize("name", FILE_STORES)
def test_a_discarded_change_stays_out_of_later_syncs_after_a_failed_one(tmp_path: Path, name: str) -> None:
    """discard() after a failed sync drops what that sync had prepared, too (the file stores' encoded fragments)."""
    path = tmp_path / name
    with sb.open(str(path)) as store:
        store.update(OLD)
    run_in_child(lambda: _discard_after_a_full_disk(path))


def test_a_failed_folder_sync_after_the_rename_keeps_the_changes_for_another_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new file is in place but the rename may not survive a power cut: sync() says so and tries again."""
    path = tmp_path / "store.json"
    store = sb.open(path)
    store.update(OLD)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(local.os, "fsync", fsync)
        with pytest.raises(sb.StorageIOError, match="power cut"):
            store.sync()
    assert snapshot(store) == OLD
    with monkeypatch.context() as patch:
        synced: list[int] = []
        patch.setattr(local.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
        store.sync()  # the changes were kept, so this sync writes (and syncs the folder) again
        assert len(synced) == 2
    store.close()
    with sb.open(path, flag="r") as again:
        assert snapshot(again) == OLD


# -- the cached file backend against the Transport contract: MemoryTransport's faults, every codec ------------

# What a write can meet, and the error the store must raise: the fault is the transport's, mapped by it.
WRITE_FAULTS: dict[str, tuple[Callable[[MemoryTransport], None], type[sb.StorageError]]] = {
    "full-disk": (lambda faults: faults.fail_next_write(), sb.StorageIOError),
    "io-error": (lambda faults: faults.fail_next_write(OSError(errno.EIO, os.strerror(errno.EIO))), sb.StorageIOError),
    "dropped-connection": (lambda faults: faults.fail_next_write(ConnectionResetError()), sb.BackendUnavailableError),
    # The new file is in place, but the write still failed (a reply lost after the rename, a folder fsync).
    "lost-reply": (
        lambda faults: faults.fail_next_write(ConnectionResetError(), done=True),
        sb.BackendUnavailableError,
    ),
}


@pytest.fixture
def memory_url(extension: str) -> str:
    """A fresh memory file of the codec's extension, holding OLD."""
    url = f"memfile://{uuid.uuid4().hex}/store{extension}"
    with sb.open(url) as store:
        store.update(OLD)
    return url


def faults_of(store: Storage) -> MemoryTransport:
    transport = store.backend.transport  # type: ignore[attr-defined]
    assert isinstance(transport, MemoryTransport)
    return transport


@pytest.mark.parametrize("fault", list(WRITE_FAULTS))
def test_a_failed_sync_keeps_the_old_file_and_the_changes(memory_url: str, fault: str) -> None:
    store = sb.open(memory_url)
    faults = faults_of(store)
    before, writes = faults.data, faults.writes
    store[U1]["title"] = b"Changed"
    new = store.create({"k": b"v"}).uid
    changed = {**OLD, U1: {**OLD[U1], "title": b"Changed"}, new: {"k": b"v"}}
    inject, error = WRITE_FAULTS[fault]
    inject(faults)
    failure = promptly(store.sync)
    assert_broken_not_missing(failure, error)
    if fault == "lost-reply":
        assert faults.writes == writes + 1, "the write happened"
    else:
        assert (faults.data, faults.writes) == (before, writes), "a failed sync changed the stored file"
    assert snapshot(store) == changed, "a failed sync lost the changes"
    store.sync()  # a retry writes them (after a lost reply too: the store's own write is no conflict)
    store.close()
    with sb.open(memory_url, flag="r") as again:
        assert snapshot(again) == changed


def test_a_failed_close_keeps_the_store_open(memory_url: str) -> None:
    store = sb.open(memory_url)
    before = faults_of(store).data
    store[U1]["title"] = b"Changed"
    faults_of(store).fail_next_write()
    with pytest.raises(sb.StorageIOError):
        store.close()
    assert not store.closed
    assert faults_of(store).data == before
    assert store[U1]["title"] == b"Changed"
    store.close()
    assert store.closed
    with sb.open(memory_url, flag="r") as again:
        assert again[U1]["title"] == b"Changed"


def test_discard_then_close_after_a_failed_close(memory_url: str) -> None:
    store = sb.open(memory_url)
    faults = faults_of(store)
    before = faults.data
    store[U1]["title"] = b"Changed"
    faults.fail_next_write()
    with pytest.raises(sb.StorageIOError):
        store.close()
    store.discard()
    store.close()
    assert faults.data == before


@pytest.mark.parametrize("flag", ["c", "w", "r", "n"])
def test_a_read_error_at_open_is_an_io_error_not_a_missing_store(memory_url: str, flag: str) -> None:
    """Whichever look at the file fails (exists, read, observe): broken, not missing; flag "c" does not start anew."""
    faults = MemoryTransport(memory_url.removeprefix("memfile://"))
    before, writes = faults.data, faults.writes
    faults.fail_next_read()
    with pytest.raises(sb.StorageIOError, match=re.escape(memory_url)) as caught:
        sb.open(memory_url, flag=flag)
    assert_broken_not_missing(caught.value, sb.StorageIOError)
    assert isinstance(caught.value.__cause__, OSError)
    assert (faults.data, faults.writes) == (before, writes)
    with sb.open(memory_url, flag="r") as store:
        assert snapshot(store) == OLD


@pytest.mark.parametrize("flag", ["c", "n"])
def test_a_file_changed_behind_the_store_is_a_conflict_that_overwrites_nothing(memory_url: str, flag: str) -> None:
    store = sb.open(memory_url, flag=flag)
    store[U1] = {"title": b"Mine"}
    theirs = codec_by_name(store.backend.codec.name).encode({U1.hex: {"title": b"Theirs"}})  # type: ignore[attr-defined]
    faults_of(store).change_behind(theirs)
    with pytest.raises(sb.ConflictError):
        store.sync()
    assert faults_of(store).data == theirs
    assert store[U1]["title"] == b"Mine", "the conflict lost the changes"
    with pytest.raises(sb.ConflictError):
        store.close()
    store.discard()
    store.close()  # flag "n": the emptying is dropped with the changes, so this leaves their version alone
    assert faults_of(store).data == theirs


def test_a_slow_sync_does_not_hold_up_readers(memory_url: str) -> None:
    """Reads take no lock: they answer while another thread's sync is still writing."""
    store = sb.open(memory_url)
    faults_of(store).write_delay = 2.0
    store[U1]["title"] = b"Changed"
    syncing = threading.Thread(target=store.sync)
    syncing.start()
    try:
        time.sleep(0.3)  # let the sync reach its slow write (if it has not, the reads prove less, never fail)
        assert store[U1]["title"] == b"Changed"
        assert len(store) == 1 and store.get_document(U1)["blob"] == b"\x00\xff"
        assert syncing.is_alive(), "the reads waited for the sync"
    finally:
        syncing.join()
        faults_of(store).write_delay = 0
        store.close()


class FailingConnection:
    """A sqlite3 connection whose statements fail with SQLITE_IOERR while ``failing`` is set."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.failing = True

    def _check(self) -> None:
        if self.failing:
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorcode = 10  # type: ignore[attr-defined]
            error.sqlite_errorname = "SQLITE_IOERR"  # type: ignore[attr-defined]
            raise error

    def execute(self, *args: Any) -> Any:
        self._check()
        return self.real.execute(*args)

    def executemany(self, *args: Any) -> Any:
        self._check()
        return self.real.executemany(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def failing_sqlite(tmp_path: Path) -> Iterator[tuple[Storage, FailingConnection]]:
    """A SQLite store holding OLD whose driver fails every statement from now on."""
    url = f"sqlite:///{tmp_path}/store.db"
    with sb.open(url) as store:
        store.update(OLD)
    store = sb.open(url)
    connection = FailingConnection(store.backend._conn)  # type: ignore[attr-defined]
    store.backend._conn = connection  # type: ignore[attr-defined]
    yield store, connection
    connection.failing = False
    store.close()


READS: dict[str, Callable[[Storage], object]] = {
    "store[uid]": lambda store: store[U1],
    "uid in store": lambda store: U1 in store,
    "store.get(uid)": lambda store: store.get(U1),
    "store.get_value": lambda store: store.get_value(U1, "title", b"default"),
    "store.get_document": lambda store: store.get_document(U1),
    "store.count": lambda store: store.count(U1),
    "len(store)": len,
    "list(store)": list,
    "store.items()": lambda store: list(store.items()),
}


@pytest.mark.parametrize("read", list(READS))
def test_a_sqlite_read_error_is_an_io_error_not_a_miss(
    failing_sqlite: tuple[Storage, FailingConnection], read: str
) -> None:
    store, _ = failing_sqlite
    with pytest.raises(sb.StorageIOError) as caught:
        READS[read](store)
    assert_broken_not_missing(caught.value, sb.StorageIOError)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_a_sqlite_read_error_through_a_document_view(failing_sqlite: tuple[Storage, FailingConnection]) -> None:
    store, connection = failing_sqlite
    connection.failing = False
    document = store[U1]
    connection.failing = True
    for read in (lambda: document["title"], lambda: "title" in document, lambda: len(document), document.copy):
        with pytest.raises(sb.StorageIOError) as caught:
            read()
        assert_broken_not_missing(caught.value, sb.StorageIOError)


def test_a_sqlite_write_error_keeps_the_changes(failing_sqlite: tuple[Storage, FailingConnection]) -> None:
    store, connection = failing_sqlite
    store.put(U1, "title", b"Changed")
    with pytest.raises(sb.StorageIOError):
        store.sync()
    with pytest.raises(sb.StorageIOError):
        store.close()
    assert not store.closed
    connection.failing = False
    assert store.get_value(U1, "title") == b"Changed"
    store.sync()
    with sb.open(store.backend.describe(), flag="r") as again:
        assert again.get_value(U1, "title") == b"Changed"


# -- a real FTP server that dies at exact moments of a sync --------------------------------------------


def test_an_ftp_server_down_at_open_then_back(own_ftp_server: FTPServer) -> None:
    url = own_ftp_server.url("dir/store.json")
    with sb.open(url) as store:
        store.update(OLD)
    stored = own_ftp_server.home / "dir" / "store.json"
    before = stored.read_bytes()
    own_ftp_server.kill()
    for flag in ("c", "w", "r"):
        failure = promptly(lambda flag=flag: sb.open(url, flag=flag, timeout=10))  # type: ignore[misc]
        assert_broken_not_missing(failure, sb.BackendUnavailableError)
        assert f"127.0.0.1:{own_ftp_server.port}" in str(failure)
    own_ftp_server.start()
    assert stored.read_bytes() == before
    with sb.open(url, flag="r") as store:
        assert snapshot(store) == OLD


@pytest.mark.parametrize("fault", FAULTS)
def test_an_ftp_server_that_dies_during_a_sync(own_ftp_server: FTPServer, fault: str) -> None:
    """upload: mid-STOR of the temporary file; rename: at RNFR; renamed: after RNTO, before its reply."""
    server = own_ftp_server
    url = server.url("dir/store.json")
    with sb.open(url) as store:
        store.update(OLD)
    stored = server.home / "dir" / "store.json"
    before = stored.read_bytes()
    store = sb.open(url)
    server.stop()
    server.fault = fault
    server.start()  # the store's connection is gone: the sync connects to the dying server
    new = UID("2" * 32)
    store[U1]["title"] = b"Changed"
    store[new] = {"big": bytes(range(256)) * 256}  # 64 kB: the upload takes more than one read
    changed = {U1: {**OLD[U1], "title": b"Changed"}, new: {"big": bytes(range(256)) * 256}}

    failure = promptly(store.sync)
    assert_broken_not_missing(failure, sb.BackendUnavailableError)
    assert server.died()
    if fault == "renamed":  # the rename happened, its reply was lost: the file is the new one, whole
        assert codec_by_name("json").decode(stored.read_bytes()) == {
            uid.hex: document for uid, document in changed.items()
        }
    else:
        assert stored.read_bytes() == before, "the stored file changed"
    assert snapshot(store) == changed, "a failed sync lost the changes"

    assert_broken_not_missing(promptly(store.close), sb.BackendUnavailableError)
    assert not store.closed, "a failed close() closed the store"

    server.fault = None
    server.start()
    store[U1]["after"] = b"the failure"  # a change made after the failed sync is synced too
    store.close()
    with sb.open(url, flag="r") as again:
        assert snapshot(again) == {**changed, U1: {**changed[U1], "after": b"the failure"}}
    assert server.files() == ["dir/store.json"], "temporary files were left on the server"
