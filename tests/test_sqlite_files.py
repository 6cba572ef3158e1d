"""What is at a SQLite store's path (API.md section 7): only a regular file is a store; a zero-byte file
is an empty database and stays zero bytes when nothing is written; flag "r" makes no file and works in a
folder the user may not write (checked as an unprivileged user, in a forked child)."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import sqlite3
import stat
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.forked import run_in_child
from storagebackend import UID

NOBODY = 65534
FLAGS = ["c", "w", "r", "n"]


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_ino, info.st_mtime_ns


# -- only a regular file is a store -----------------------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays


def _device(path: Path) -> None:
    path.symlink_to("/dev/null")  # a character device, through a symlink


NOT_FILES: dict[str, tuple[Callable[[Path], None], Callable[[int], bool], str]] = {
    "fifo": (_fifo, stat.S_ISFIFO, "FIFO"),
    "folder": (_folder, stat.S_ISDIR, "folder"),
    "socket": (_socket, stat.S_ISSOCK, "socket"),
    "device": (_device, stat.S_ISCHR, "device"),
}


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("kind", list(NOT_FILES))
def test_a_path_that_is_no_regular_file_is_refused_at_once_and_left_alone(tmp_path: Path, kind: str, flag: str) -> None:
    """A FIFO would block the open forever: the open runs in a child that is killed if it hangs."""
    make, is_kind, word = NOT_FILES[kind]
    path = tmp_path / "s.db"
    make(path)

    def work() -> None:
        with pytest.raises(sb.StorageIOError) as caught:
            sb.open(f"sqlite:///{path}", flag=flag)
        assert str(path) in str(caught.value) and word in str(caught.value), caught.value

    run_in_child(work, timeout=30)
    assert is_kind(path.stat().st_mode)
    assert listing(tmp_path) == ["s.db"]


@pytest.mark.parametrize("flag", ["c", "n"])
def test_a_missing_folder_is_named(tmp_path: Path, flag: str) -> None:
    with pytest.raises(sb.StorageIOError, match=f"folder {tmp_path / 'missing'} does not exist"):
        sb.open(f"sqlite:///{tmp_path}/missing/s.db", flag=flag)
    assert listing(tmp_path) == []


# -- zero-byte files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", FLAGS)
def test_a_zero_byte_database_stays_zero_bytes_when_nothing_is_written(tmp_path: Path, flag: str) -> None:
    path = tmp_path / "zero.db"
    path.touch()
    before = fingerprint(path)
    with sb.open(str(path), flag=flag) as store:
        assert len(store) == 0
        assert list(store) == []
        assert store.copy() == {}
        assert "1" * 32 not in store
        if flag != "r":
            uid = store.create({"k": b"v"}).uid
            del store[uid]  # written and deleted before any sync: nothing to store
            store.sync()
    assert fingerprint(path) == before
    assert listing(tmp_path) == ["zero.db"]


def test_a_zero_byte_database_gets_its_schema_at_the_first_sync_that_stores_something(tmp_path: Path) -> None:
    path = tmp_path / "zero.db"
    path.touch()
    with sb.open(str(path), flag="w") as store:
        store.create({"k": b"v"})
        assert path.stat().st_size == 0
        store.sync()
        assert path.stat().st_size > 0
    with sb.open(str(path), flag="r") as store:
        assert len(store) == 1
    assert listing(tmp_path) == ["zero.db"]


def test_a_reader_of_an_empty_database_sees_what_another_process_stores_later(tmp_path: Path) -> None:
    path = tmp_path / "zero.db"
    path.touch()
    reader = sb.open(str(path), flag="r")
    writer = sb.open(str(path), flag="w")
    assert len(reader) == 0
    uid = writer.create({"k": b"v"}).uid
    writer.sync()
    assert list(reader) == [uid]
    writer.close()
    reader.close()


# -- flag "r": no files made, no write access needed ---------------------------------------------------


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's tmp_path is root's alone); removed by its path."""
    folder = Path(tempfile.mkdtemp(prefix="sb-sqlite-ro-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def _ours(path: Path) -> None:
    """Made and cleanly closed by a storagebackend writer: a WAL database, checkpointed, no -wal or -shm left."""
    with sb.open(str(path)) as store:
        for number in range(20):
            store[UID(f"{number:032x}")] = {"n": str(number).encode()}
    assert listing(path.parent) == [path.name]


def _rollback_journal(path: Path) -> None:
    """The same in rollback-journal mode, as another program may leave it."""
    _ours(path)
    raw = sqlite3.connect(path, isolation_level=None)
    assert raw.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    raw.close()


DATABASES = {"wal": _ours, "rollback-journal": _rollback_journal, "zero-bytes": lambda path: path.touch()}


def _expected(kind: str) -> int:
    return 0 if kind == "zero-bytes" else 20


@pytest.mark.parametrize("kind", list(DATABASES))
def test_flag_r_makes_no_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "s.db"
    DATABASES[kind](path)
    before = fingerprint(path)
    with sb.open(str(path), flag="r") as store:
        assert len(store.copy()) == _expected(kind)
    assert listing(tmp_path) == ["s.db"]
    assert fingerprint(path) == before


def _as_nobody(work: Callable[[], object]) -> Callable[[], None]:
    def dropped() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        work()

    return dropped


@pytest.mark.parametrize("kind", list(DATABASES))
def test_flag_r_reads_in_a_folder_the_user_may_not_write(shared_folder: Path, kind: str) -> None:
    path = shared_folder / "s.db"
    DATABASES[kind](path)
    path.chmod(0o644)
    shared_folder.chmod(0o555)
    before = fingerprint(path)

    def read() -> None:
        assert not os.access(shared_folder, os.W_OK)
        with sb.open(str(path), flag="r") as store:
            assert len(store) == _expected(kind)
            assert len(store.copy()) == _expected(kind)
            if kind != "zero-bytes":
                assert store.get_document(f"{7:032x}") == {"n": b"7"}
                assert list(store)[:3] == [UID(f"{number:032x}") for number in range(3)]

    run_in_child(_as_nobody(read), timeout=60)
    assert listing(shared_folder) == ["s.db"]
    assert fingerprint(path) == before


def test_flag_r_without_write_access_reads_a_live_writers_commits(shared_folder: Path) -> None:
    """A writer has the database open in WAL mode, its last sync not yet checkpointed into the file."""
    path = shared_folder / "s.db"
    _ours(path)
    with sb.open(str(path)) as writer:
        writer[UID("f" * 32)] = {"n": b"latest"}
        writer.sync()
        for name in listing(shared_folder):
            (shared_folder / name).chmod(0o644)
        shared_folder.chmod(0o555)
        assert listing(shared_folder) == ["s.db", "s.db-shm", "s.db-wal"]

        def read() -> None:
            with sb.open(str(path), flag="r") as store:
                assert len(store) == 21
                assert store.get_value("f" * 32, "n") == b"latest"

        run_in_child(_as_nobody(read), timeout=60)
        shared_folder.chmod(0o755)
    assert listing(shared_folder) == ["s.db"]


def test_a_reader_without_write_access_sees_a_writer_that_comes_later(shared_folder: Path) -> None:
    """Read as immutable at its open (no writer, no -shm file, no write access), the reader switches to the
    writer's -shm file once it appears, and so sees what the writer stores."""
    path = shared_folder / "s.db"
    _ours(path)
    path.chmod(0o644)
    shared_folder.chmod(0o555)
    opened_read, opened_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the reader, unprivileged: reports "opened", then waits for the writer's document

        def read() -> None:
            os.close(opened_read)
            with sb.open(str(path), flag="r") as store:
                assert len(store) == 20
                os.write(opened_write, b"opened")
                deadline = time.monotonic() + 60
                while store.get_value("f" * 32, "n") is None:
                    assert time.monotonic() < deadline, "the writer's sync never showed"
                    time.sleep(0.02)
                assert len(store) == 21

        status = 0
        try:
            _as_nobody(read)()
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            os._exit(status)
    os.close(opened_write)
    try:
        ready, _, _ = select.select([opened_read], [], [], 60)
        assert ready and os.read(opened_read, 6) == b"opened", "the reader did not open"
        with sb.open(str(path)) as writer:  # root may write the read-only folder
            writer[UID("f" * 32)] = {"n": b"later"}
            writer.sync()
            _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        os.close(opened_read)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
