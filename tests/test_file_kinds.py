"""Only a regular file is a store file (API.md section 7).

A folder, FIFO, socket or device at a store's path (or a symlink to one) is
StorageIOError naming it and what it is, at once under every flag: opening a
FIFO would block forever, and flag "n" replaced a device by a regular file.
Nothing is created beside it (no lock file) and it stays as it was. Each open
runs in a forked child with a time limit, so a regression that blocks fails
the test instead of hanging the suite.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.forked import run_in_child

FLAGS = ["c", "w", "r", "n"]


def make_folder(path: Path) -> None:
    path.mkdir()


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))  # the socket file stays after the socket is closed


def make_device(path: Path) -> None:
    """A twin of /dev/null (character device 1, 3) in the test's folder: replacing it would harm nothing."""
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))


def make_link_to_fifo(path: Path) -> None:
    os.mkfifo(path.with_name("real-fifo"))
    path.symlink_to(path.with_name("real-fifo"))


KINDS: dict[str, tuple[Callable[[Path], None], str]] = {
    "folder": (make_folder, "a folder"),
    "fifo": (make_fifo, "a FIFO"),
    "socket": (make_socket, "a socket"),
    "device": (make_device, "a character device"),
    "link-to-fifo": (make_link_to_fifo, "a FIFO"),
}


def _state(folder: Path) -> dict[str, tuple[int, int]]:
    """Every name in the folder with its inode and type (without following symlinks)."""
    return {
        name: (info.st_ino, stat.S_IFMT(info.st_mode))
        for name in os.listdir(folder)
        for info in [os.lstat(folder / name)]
    }


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_only_a_regular_file_is_a_store_file(tmp_path: Path, kind: str, flag: str) -> None:
    make, what = KINDS[kind]
    path = tmp_path / "store.json"
    make(path)
    before = _state(tmp_path)

    def work() -> None:
        with pytest.raises(sb.StorageIOError) as caught:
            sb.open(path, flag=flag, lock_timeout=0)
        assert str(path) in str(caught.value)
        assert what in str(caught.value)

    run_in_child(work, timeout=20)
    assert _state(tmp_path) == before, "something was created or replaced beside or at the path"


@pytest.mark.parametrize("flag", FLAGS)
def test_a_symlink_to_a_store_file_is_a_store_under_every_flag(tmp_path: Path, flag: str) -> None:
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    with sb.open(real) as store:
        uid = store.create({"a": b"1"}).uid
    link.symlink_to(real)
    with sb.open(link, flag=flag) as store:
        assert (uid in store) == (flag != "n")
        if flag != "r":
            store.create({"through": b"the link"})
    assert link.is_symlink()
    with sb.open(real, flag="r") as store:
        assert len(store) == {"r": 1, "n": 1}.get(flag, 2)
