"""Cached file stores on the local disk (API.md sections 2 and 7): every codec.

URLs, flags, atomic replacement when a write fails, permission bits, and the
sidecar lock between processes.
"""

from __future__ import annotations

import errno
import gc
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import storagebackend as sb
from helpers.support import available_codecs
from storagebackend.registry import codec_by_name
from storagebackend.storage import Storage
from storagebackend.testing import StorageMachine
from storagebackend.transports import local

# -- the conformance state machine, on every codec (its one run per codec on local files) --------------


class LocalFileMachine(StorageMachine):
    extension = ".json"

    def open_storage(self, flag: str) -> Storage:
        return sb.open(os.path.join(self.tmp, "store" + self.extension), flag=flag)


def _machine_for(codec: str) -> type[LocalFileMachine]:
    extension = codec_by_name(codec).extensions[0]
    return type(f"LocalFile{codec.title()}Machine", (LocalFileMachine,), {"extension": extension})


for _codec in available_codecs():
    globals()[f"TestLocalFile{_codec.title()}"] = _machine_for(_codec).TestCase
del _codec


# -- helpers ----------------------------------------------------------------------------------------------


def store_files(folder: Path) -> list[str]:
    """The names in ``folder`` (stores, lock files, and any temporary file left behind)."""
    return sorted(os.listdir(folder))


@pytest.fixture
def path(tmp_path: Path, extension: str) -> Path:
    """Where this test's store file goes, with the codec's extension."""
    return tmp_path / f"notes{extension}"


@pytest.fixture
def filled(path: Path) -> tuple[Path, sb.UID]:
    """A store holding one document; returns its path and the document's uid."""
    with sb.open(path) as store:
        uid = store.create({"title": b"Hello", "blob": b"\x00\xff"}).uid
    return path, uid


# -- URLs (API.md section 2) ------------------------------------------------------------------------


def test_bare_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extension: str) -> None:
    monkeypatch.chdir(tmp_path)
    with sb.open(f"data{extension}") as store:
        uid = store.create({"a": b"1"}).uid
    assert (tmp_path / f"data{extension}").exists()
    with sb.open(f"file:data{extension}", flag="r") as store:
        assert store[uid]["a"] == b"1"


def test_file_url_absolute_and_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extension: str) -> None:
    (tmp_path / "sub").mkdir()
    with sb.open(f"file://{tmp_path}/sub/x{extension}") as store:
        uid = store.create({"a": b"1"}).uid
    monkeypatch.chdir(tmp_path)
    with sb.open(f"file:sub/x{extension}", flag="r") as store:
        assert store[uid]["a"] == b"1"
    with sb.open(f"file://localhost{tmp_path}/sub/x{extension}", flag="r") as store:
        assert uid in store


def test_file_url_is_percent_decoded_but_bare_path_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sb.open(f"file://{tmp_path}/a%20b.json").close()
    sb.open("c%20d.json").close()
    assert {"a b.json", "c%20d.json"} <= set(store_files(tmp_path))


def test_codec_query_overrides_the_extension(tmp_path: Path, codec_name: str) -> None:
    target = tmp_path / "notes.txt"
    with sb.open(f"{target}?codec={codec_name}") as store:
        uid = store.create({"a": b"1"}).uid
    with sb.open(f"file://{target}?codec={codec_name}", flag="r") as store:
        assert store[uid]["a"] == b"1"
        assert store.backend.codec.name == codec_name  # type: ignore[attr-defined]
    with sb.open(target, codec=codec_name, flag="r") as store:
        assert uid in store
    assert store_files(tmp_path) == ["notes.txt", "notes.txt.lock"]


def test_codec_option_beats_the_extension(tmp_path: Path, codec_name: str) -> None:
    target = tmp_path / "notes.json"
    with sb.open(target, codec=codec_name) as store:
        store.create({"a": b"1"})
        assert store.backend.codec.name == codec_name  # type: ignore[attr-defined]
    with sb.open_config({"backend": "file", "path": str(target), "codec": codec_name, "flag": "r"}) as store:
        assert len(store) == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notes.unknown", "cannot tell the format"),
        ("notes.json?codec=nope", "unknown codec 'nope'"),
        ("file:notes.json?color=red", "unknown query parameter 'color'"),
        ("file://example.com/notes.json", "names host 'example.com'"),
    ],
)
def test_bad_local_urls_create_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        sb.open(url)
    assert store_files(tmp_path) == []


def test_unknown_option_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'timeout'"):
        sb.open(tmp_path / "x.json", timeout=3)


# -- flags on files ----------------------------------------------------------------------------------------


def test_flag_c_creates_the_file_at_open(path: Path) -> None:
    store = sb.open(path)
    assert path.exists()
    with sb.open(path.parent / "other.json") as other:
        assert len(other) == 0
    store.close()
    with sb.open(path, flag="r") as store:
        assert len(store) == 0


@pytest.mark.parametrize("flag", ["w", "r"])
def test_flags_w_and_r_on_a_missing_file_create_nothing(path: Path, flag: str) -> None:
    with pytest.raises(sb.StoreNotFoundError, match=path.name):
        sb.open(path, flag=flag)
    assert store_files(path.parent) == []


@pytest.mark.parametrize("flag", ["c", "n"])
def test_a_missing_folder_is_named_as_such(tmp_path: Path, flag: str) -> None:
    """Not a message about the lock file, which the user never asked for."""
    folder = tmp_path / "nofolder"
    with pytest.raises(sb.StorageIOError, match="folder") as caught:
        sb.open(folder / "x.json", flag=flag)
    assert f"{folder} does not exist" in str(caught.value)
    assert "lock" not in str(caught.value)
    assert store_files(tmp_path) == []


@pytest.mark.parametrize("flag", ["w", "r"])
def test_a_missing_folder_is_a_missing_store_for_flags_w_and_r(tmp_path: Path, flag: str) -> None:
    with pytest.raises(sb.StoreNotFoundError, match="x.json"):
        sb.open(tmp_path / "nofolder" / "x.json", flag=flag)
    assert store_files(tmp_path) == []


def test_flag_w_opens_an_existing_store(filled: tuple[Path, sb.UID]) -> None:
    path, uid = filled
    with sb.open(path, flag="w") as store:
        store[uid]["more"] = b"x"
    with sb.open(path, flag="r") as store:
        assert store[uid] == {"title": b"Hello", "blob": b"\x00\xff", "more": b"x"}


def test_flag_n_over_a_corrupt_file_starts_empty(path: Path) -> None:
    path.write_bytes(b"\x00garbage, not a store\xff")
    with sb.open(path, flag="n") as store:
        assert len(store) == 0
    with sb.open(path, flag="r") as store:
        assert len(store) == 0


def test_flag_n_over_a_full_store_leaves_an_empty_one(filled: tuple[Path, sb.UID]) -> None:
    path, _ = filled
    sb.open(path, flag="n").close()
    with sb.open(path, flag="r") as store:
        assert len(store) == 0


def _snapshot(path: Path) -> tuple[bytes, int, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, info.st_ino, stat.S_IMODE(info.st_mode)


@pytest.mark.parametrize("flag", ["r", "w", "c"])
def test_opening_reading_closing_never_rewrites(filled: tuple[Path, sb.UID], flag: str) -> None:
    path, uid = filled
    before = _snapshot(path)
    with sb.open(path, flag=flag) as store:
        assert store[uid]["title"] == b"Hello"
        assert list(store) == [uid]
        store.sync()
    assert _snapshot(path) == before


def test_zero_byte_file_is_corrupt_and_suggests_flag_n(path: Path) -> None:
    path.write_bytes(b"")
    for flag in ("c", "w", "r"):
        with pytest.raises(sb.CorruptStoreError, match="flag 'n'") as caught:
            sb.open(path, flag=flag)
        assert str(path) in str(caught.value)
    assert path.read_bytes() == b""


@pytest.mark.parametrize(
    "content",
    [b'{"name": "a config file", "debug": true}\n', b"name: config\nlist: [1, 2]\n", b"[server]\nport = 80\n"],
)
def test_a_file_that_is_not_a_store_is_corrupt_and_untouched(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    before = _snapshot(path)
    for flag in ("c", "w", "r"):
        with pytest.raises(sb.CorruptStoreError, match=path.name):
            sb.open(path, flag=flag)
    assert _snapshot(path) == before


def test_a_folder_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(sb.StorageIOError, match=r"dir\.json") as caught:
        sb.open(tmp_path / "dir.json")
    assert isinstance(caught.value.__cause__, OSError)


# -- permission bits ----------------------------------------------------------------------------------------


def test_a_replaced_file_keeps_its_mode(filled: tuple[Path, sb.UID]) -> None:
    path, uid = filled
    path.chmod(0o640)
    with sb.open(path) as store:
        store[uid]["x"] = b"y"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    path.chmod(0o604)
    with sb.open(path) as store:
        del store[uid]
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


# New files and the umask, for every codec, lock files and SQLite: test_security.py::test_new_files_follow_the_umask


def test_a_symlink_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    sb.open(real).close()
    link.symlink_to(real)
    with sb.open(link) as store:
        uid = store.create({"a": b"1"}).uid
    assert link.is_symlink()
    with sb.open(real, flag="r") as store:
        assert uid in store


# -- atomic replacement when a write fails (API.md section 7) ------------------------------------------------
# Each step of LocalTransport.write failing: tests/test_transports.py::test_a_failed_local_write_keeps_the_old_file_*;
# the store keeping its changes through a failed sync or close: tests/test_faults.py (MemoryTransport's faults).


def test_a_temporary_file_left_by_a_crash_is_removed_by_the_next_writer(filled: tuple[Path, sb.UID]) -> None:
    """A writer killed mid-write leaves its temporary file, never a partial store."""
    path, uid = filled
    before = path.read_bytes()
    stale = path.parent / f".{path.name}.0123456789abcdef.tmp"
    stale.write_bytes(before[: len(before) // 2])
    with sb.open(path, flag="r") as store:
        assert uid in store
    assert stale.exists()  # a reader never removes anything
    with sb.open(path) as store:
        assert uid in store
    assert not stale.exists()
    assert path.read_bytes() == before


# -- locks between processes (API.md section 7) ------------------------------------------------------------

_HOLDER = """
import sys
import storagebackend as sb
store = sb.open(sys.argv[1], flag=sys.argv[2])
for _ in sys.argv[3:]:  # "sync": replace the file while holding the lock
    store.create({"by": b"holder"})
    store.sync()
print("ready", flush=True)
sys.stdin.readline()
store.close()
"""


class Holder:
    """Another process that opens the store and keeps it open until told."""

    def __init__(self, path: Path, flag: str, *syncs: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path), flag, *syncs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "ready\n"

    def release(self) -> None:
        """Close the store and exit."""
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.wait(timeout=30) == 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def holder() -> Iterator[Callable[..., Holder]]:
    holders: list[Holder] = []

    def start(path: Path, flag: str, *syncs: str) -> Holder:
        holders.append(Holder(path, flag, *syncs))
        return holders[-1]

    yield start
    for each in holders:
        each.stop()


@pytest.fixture
def json_store(tmp_path: Path) -> tuple[Path, sb.UID]:
    with sb.open(tmp_path / "locked.json") as store:
        uid = store.create({"a": b"1"}).uid
    return tmp_path / "locked.json", uid


@pytest.mark.parametrize(("held", "wanted"), [("c", "c"), ("w", "w"), ("c", "r"), ("r", "w"), ("r", "n")])
def test_a_writer_or_reader_is_locked_out(
    json_store: tuple[Path, sb.UID], holder: Callable[..., Holder], held: str, wanted: str
) -> None:
    path, _ = json_store
    before = path.read_bytes()
    other = holder(path, held)
    with pytest.raises(sb.StorageLockedError, match=path.name) as caught:
        sb.open(path, flag=wanted, lock_timeout=0.2)
    assert isinstance(caught.value, TimeoutError)
    assert path.read_bytes() == before
    other.release()
    with sb.open(path, flag=wanted, lock_timeout=0.2) as store:
        assert len(store) == (0 if wanted == "n" else 1)


def test_the_lock_holds_across_syncs(json_store: tuple[Path, sb.UID], holder: Callable[..., Holder]) -> None:
    """The holder replaced the file twice (new inodes): the sidecar lock still keeps others out."""
    path, _ = json_store
    other = holder(path, "w", "sync", "sync")
    for flag in ("w", "r"):
        with pytest.raises(sb.StorageLockedError):
            sb.open(path, flag=flag, lock_timeout=0.2)
    other.release()
    with sb.open(path, flag="r") as store:
        assert len(store) == 3


def test_readers_share(json_store: tuple[Path, sb.UID], holder: Callable[..., Holder]) -> None:
    path, uid = json_store
    holder(path, "r")
    holder(path, "r")
    with sb.open(path, flag="r", lock_timeout=0.2) as store:
        assert store[uid]["a"] == b"1"


def test_a_killed_holder_leaves_no_stale_lock(json_store: tuple[Path, sb.UID], holder: Callable[..., Holder]) -> None:
    path, uid = json_store
    holder(path, "c").kill()
    with sb.open(path, lock_timeout=5) as store:
        assert store[uid]["a"] == b"1"


def test_an_opener_waits_for_the_lock(json_store: tuple[Path, sb.UID], holder: Callable[..., Holder]) -> None:
    path, uid = json_store
    other = holder(path, "w")
    releaser = threading.Timer(0.3, other.release)
    releaser.start()
    try:
        with sb.open(path, lock_timeout=60) as store:
            assert uid in store
    finally:
        releaser.join()


def test_two_stores_in_one_process_exclude_each_other(json_store: tuple[Path, sb.UID]) -> None:
    path, _ = json_store
    first = sb.open(path)
    with pytest.raises(sb.StorageLockedError):
        sb.open(path, lock_timeout=0)
    first.close()
    sb.open(path, lock_timeout=0).close()
    with sb.open(path, flag="r") as reader, sb.open(path, flag="r", lock_timeout=0) as other:
        assert len(reader) == len(other) == 1


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_store_never_closed_releases_its_lock_when_collected(json_store: tuple[Path, sb.UID]) -> None:
    path, _ = json_store
    store = sb.open(path)
    del store
    gc.collect()
    sb.open(path, lock_timeout=0).close()


def test_a_reader_in_a_read_only_folder_reads_without_a_lock(
    json_store: tuple[Path, sb.UID], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the lock file cannot be created (a read-only folder), a reader still reads; a writer cannot."""
    path, uid = json_store
    os.unlink(str(path) + ".lock")
    real_open = os.open

    def read_only_folder(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(local.os, "open", read_only_folder)
    with sb.open(path, flag="r") as store:
        assert store[uid]["a"] == b"1"
    with pytest.raises(sb.StorageIOError, match="lock file"):
        sb.open(path, flag="w")
    assert store_files(path.parent) == [path.name]
