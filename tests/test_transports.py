"""The Transport contract (storagebackend.testing.TransportTests) on every built-in transport and on wrappers,
and what is particular to one: the local journal's framing, memory files shared by name, URLs by scheme.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

import storagebackend as sb
from helpers.ftp_server import FTPServer
from storagebackend.backends.cached_file import CachedFileBackend
from storagebackend.testing import TransportTests
from storagebackend.transports.ftp import FTPTransport
from storagebackend.transports.local import LocalTransport
from storagebackend.transports.memory import MemoryTransport
from storagebackend.transports.records import frame, split_records

# -- the suite on every built-in transport -----------------------------------------------------------------


class TestLocalTransport(TransportTests):
    """A file in tmp_path: the suite's defaults."""


class TestFTPTransport(TransportTests):
    @pytest.fixture
    def location(self, ftp_server: FTPServer, folder: str) -> str:
        return ftp_server.url(f"{folder}/store.bin")


class TestFTPSTransport(TransportTests):
    @pytest.fixture
    def location(self, ftps_server: FTPServer, folder: str) -> str:
        return ftps_server.url(f"{folder}/store.bin")

    @pytest.fixture(autouse=True)
    def _context(self, tls_context: Any) -> None:
        self.context = tls_context

    def open_transport(self, location: str) -> sb.Transport:
        return sb.Transport.from_url(location, ssl_context=self.context)


class TestMemoryTransport(TransportTests):
    """No lock, no journal: conflicts by version, like an object store."""

    def make_location(self, tmp_path: Path) -> str:
        return f"memfile://{uuid.uuid4().hex}/store.bin"

    def fail_next_write(self, transport: sb.Transport) -> bool:
        assert isinstance(transport, MemoryTransport)
        transport.fail_next_write()
        return True

    def fail_next_read(self, transport: sb.Transport) -> bool:
        assert isinstance(transport, MemoryTransport)
        transport.fail_next_read()
        return True


class TestLockingMemoryTransport(TestMemoryTransport):
    """``locking=True``: a lock between the transports of this process, and the journal."""

    def open_transport(self, location: str) -> sb.Transport:
        return sb.Transport.from_url(location, locking=True)


class TestTransportWrapper(TestLockingMemoryTransport):
    """A wrapper that changes nothing is the transport it wraps."""

    def open_transport(self, location: str) -> sb.Transport:
        return sb.TransportWrapper(super().open_transport(location))

    def fail_next_write(self, transport: sb.Transport) -> bool:
        assert isinstance(transport, sb.TransportWrapper)
        return super().fail_next_write(transport.inner)

    def fail_next_read(self, transport: sb.Transport) -> bool:
        assert isinstance(transport, sb.TransportWrapper)
        return super().fail_next_read(transport.inner)


class ZlibTransport(sb.TransportWrapper):
    """Compresses the file and each journal record; reads what is not zlib as it is."""

    def to_inner(self, data: bytes) -> bytes:
        return zlib.compress(data)

    def from_inner(self, data: bytes) -> bytes:
        if data[:1] != b"\x78":
            return data
        try:
            return zlib.decompress(data)
        except zlib.error as exc:
            raise sb.CorruptStoreError(f"{self.describe()}: not zlib after all: {exc}") from None


class TestTransformingWrapper(TestTransportWrapper):
    """Bytes transformed both ways, the journal's record by record: still the whole contract."""

    def open_transport(self, location: str) -> sb.Transport:
        return ZlibTransport(sb.Transport.from_url(location, locking=True))


def test_a_wrapper_transforms_the_file_and_each_journal_record() -> None:
    name = f"{uuid.uuid4().hex}.json"
    inner = MemoryTransport(name, locking=True)
    wrapper = ZlibTransport(inner)
    assert (wrapper.path, wrapper.supports_journal, wrapper.supports_locking, wrapper.remote) == (
        name,
        True,
        True,
        False,
    )
    wrapper.write(b"a" * 1000)
    assert inner.data == zlib.compress(b"a" * 1000)
    wrapper.append_journal(b"b" * 1000)
    assert inner.read_journal() == [zlib.compress(b"b" * 1000)]
    assert wrapper.read_journal() == [b"b" * 1000]
    assert repr(wrapper) == f"<ZlibTransport over <MemoryTransport memfile://{name}>>"


def test_a_store_over_a_wrapper_round_trips_and_its_file_is_transformed() -> None:
    name = f"{uuid.uuid4().hex}.json"
    with sb.Storage(CachedFileBackend(ZlibTransport(MemoryTransport(name)))) as store:
        uid = store.create({"title": b"Hello"}).uid
    assert zlib.decompress(MemoryTransport(name).data or b"").startswith(b'{"format": "storagebackend"')
    with sb.Storage(CachedFileBackend(ZlibTransport(MemoryTransport(name)), flag="r")) as store:
        assert store[uid] == {"title": b"Hello"}


# -- URLs and the transport table ------------------------------------------------------------------------


def test_transport_from_url_finds_the_transport_by_scheme(tmp_path: Path) -> None:
    assert isinstance(sb.Transport.from_url(str(tmp_path / "x.json")), LocalTransport)
    assert isinstance(sb.Transport.from_url(f"file://{tmp_path}/x.json"), LocalTransport)
    ftp = sb.Transport.from_url("ftps://u:secret@example.com/x.json", timeout=3)
    assert isinstance(ftp, FTPTransport) and ftp.timeout == 3
    memory = sb.Transport.from_url("memfile://a%20b/x.json?codec=yaml")
    assert isinstance(memory, MemoryTransport)
    assert (memory.path, dict(memory.query), memory.describe()) == (
        "a b/x.json",
        {"codec": "yaml"},
        "memfile://a b/x.json",
    )
    with pytest.raises(ValueError, match="unknown transport scheme 'nope'"):
        sb.Transport.from_url("nope://x")
    with pytest.raises(TypeError, match="unknown option 'timeout'"):
        sb.Transport.from_url(str(tmp_path / "x.json"), timeout=3)
    with pytest.raises(NotImplementedError, match="ZlibTransport cannot be opened by URL"):
        ZlibTransport.from_url("memfile://x")


def test_a_store_opens_on_every_transport_through_one_backend(tmp_path: Path) -> None:
    for url in (str(tmp_path / "x.json"), f"memfile://{uuid.uuid4().hex}/x.yaml"):
        with sb.open(url) as store:
            assert type(store.backend) is CachedFileBackend
            store.create({"k": b"v"})
        with sb.open(url, flag="r") as store:
            assert len(store) == 1


def test_each_scheme_takes_its_transports_options(tmp_path: Path) -> None:
    name = f"memfile://{uuid.uuid4().hex}/x.json"
    with sb.open(name, locking=True) as store:
        assert store.backend.transport.supports_locking  # type: ignore[attr-defined]
        with pytest.raises(sb.StorageLockedError):
            sb.open(name, locking=True, lock_timeout=0)
    with pytest.raises(TypeError, match="unknown option 'locking' for a 'file' store"):
        sb.open(tmp_path / "x.json", locking=True)
    with pytest.raises(TypeError, match="unknown option 'timeout' for a 'memfile' store; known options: codec, "):
        sb.open(name, timeout=1)
    with pytest.raises(TypeError, match="locking must be True or False"):
        sb.open(name, locking="yes")


# -- memory files -------------------------------------------------------------------------------------------


def test_memory_files_are_shared_by_name_and_faults_act_on_the_file() -> None:
    name = uuid.uuid4().hex
    store, test = MemoryTransport(name), MemoryTransport(name)
    assert store.read() is None
    test.fail_next_write(ConnectionResetError("connection reset by peer"))
    with pytest.raises(sb.BackendUnavailableError, match="connection reset") as caught:
        store.write(b"x")
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert test.data is None and test.writes == 0
    test.fail_next_write(OSError(errno.EIO, "I/O error"), done=True)  # the reply was lost after the change
    with pytest.raises(sb.StorageIOError):
        store.write(b"y")
    assert test.data == b"y" and test.writes == 1
    store.write(b"z")  # its own write: no conflict
    test.change_behind(None)
    with pytest.raises(sb.ConflictError, match="was deleted"):
        store.write(b"w")
    test.fail_next_read(sb.CorruptStoreError("bits flipped"))
    with pytest.raises(sb.CorruptStoreError, match="bits flipped"):
        store.exists()


# -- the local journal: real files, cut by a crash -------------------------------------------------------


def test_framing_drops_only_a_last_record_cut_short() -> None:
    records = [b"one", b"", b"three" * 100]
    data = b"".join(map(frame, records))
    assert split_records(data, "j") == (records, len(data))
    last = len(frame(records[-1]))
    for cut in range(len(data) - last + 1, len(data)):
        assert split_records(data[:cut], "j") == (records[:2], len(data) - last)
    zeroed = data[:-10] + bytes(10)  # a file system that grew the file before the bytes landed
    assert split_records(zeroed, "j") == (records[:2], len(data) - last)
    damaged = bytearray(data)
    damaged[len(frame(b"one")) - 1] ^= 1  # inside the first record, with records after it
    with pytest.raises(sb.CorruptStoreError, match="j: the journal record at byte 0 is damaged"):
        split_records(bytes(damaged), "j")


def test_a_local_journal_cut_by_a_crash_loses_only_the_cut_record(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    transport = LocalTransport(path)
    transport.lock(exclusive=True, timeout=1)
    transport.append_journal(b"whole")
    transport.close()
    journal = tmp_path / "notes.json.journal"
    with journal.open("ab") as file:
        file.write(frame(b"cut by a crash")[:9])
    transport = LocalTransport(path)
    transport.lock(exclusive=True, timeout=1)
    assert transport.read_journal() == [b"whole"]
    transport.append_journal(b"after")  # the cut record is cut off first
    assert LocalTransport(path).read_journal() == [b"whole", b"after"]
    assert journal.read_bytes() == frame(b"whole") + frame(b"after")
    transport.remove_journal()
    assert not journal.exists()


def test_a_new_local_journal_has_the_store_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_bytes(b"x")
    path.chmod(0o600)
    LocalTransport(path).append_journal(b"secret")
    assert stat.S_IMODE((tmp_path / "notes.json.journal").stat().st_mode) == 0o600


def test_a_failed_journal_append_is_an_io_error_and_leaves_the_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storagebackend.transports import local

    transport = LocalTransport(tmp_path / "notes.json")
    transport.append_journal(b"one")
    with monkeypatch.context() as patch:
        patch.setattr(local.os, "fsync", _failing(errno.EIO))
        with pytest.raises(sb.StorageIOError, match="fsync failed") as caught:
            transport.append_journal(b"two")
    assert isinstance(caught.value.__cause__, OSError)
    assert LocalTransport(tmp_path / "notes.json").read_journal() in ([b"one"], [b"one", b"two"])


# -- LocalTransport's own steps: each one failing leaves the old file and no temporary file ------------------


def _failing(code: int) -> Any:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    return fail


def _short_then_failing(code: int) -> Any:
    """os.write that writes part of the data once, then fails: a disk filling up mid-file."""
    calls = []
    real_write = os.write  # before the test patches it

    def write(fd: int, data: Any) -> int:
        calls.append(fd)
        if len(calls) == 1 and len(data) > 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(code, os.strerror(code))

    return write


# Each step of the write that can fail, with the errors a disk gives there (ENOSPC: full, EIO: failing).
_STEPS = {
    "create-EACCES": ("open", errno.EACCES),
    "write-ENOSPC": ("write", errno.ENOSPC),
    "write-EIO": ("write", errno.EIO),
    "short-write-ENOSPC": ("write", errno.ENOSPC),
    "fsync-ENOSPC": ("fsync", errno.ENOSPC),
    "fsync-EIO": ("fsync", errno.EIO),
    "replace-ENOSPC": ("replace", errno.ENOSPC),
    "replace-EIO": ("replace", errno.EIO),
}


@pytest.mark.parametrize("step", list(_STEPS))
def test_a_failed_local_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    from storagebackend.transports import local

    path = tmp_path / "notes.json"
    transport = LocalTransport(path)
    transport.read()
    transport.write(b"old")
    function, code = _STEPS[step]
    with monkeypatch.context() as patch:
        patch.setattr(local.os, function, (_short_then_failing if step.startswith("short") else _failing)(code))
        with pytest.raises(sb.StorageIOError, match=path.name) as caught:
            transport.write(b"new" * 1000)
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.errno == code
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["notes.json"]
    transport.write(b"new")
    assert path.read_bytes() == b"new"


@pytest.mark.parametrize("step", ["read", "stat"])
def test_a_local_read_error_is_an_io_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    from storagebackend.transports import local

    path = tmp_path / "notes.json"
    path.write_bytes(b"data")
    transport = LocalTransport(path)
    with monkeypatch.context() as patch:
        if step == "read":
            patch.setattr(local, "open", _failing(errno.EIO), raising=False)  # LocalTransport.read's open()
        else:
            patch.setattr(local.os, "stat", _failing(errno.EIO))
        for look in (transport.read, transport.exists, transport.observe) if step == "stat" else (transport.read,):
            with pytest.raises(sb.StorageIOError, match=str(path)) as caught:
                look()
            assert not isinstance(caught.value, FileNotFoundError)
