"""File permissions of local stores (API.md section 7): a file the user may not write is never replaced.

The rename that replaces a store needs only the folder's permission, so
without a check a read-only file, or another user's file in a shared folder,
was emptied or taken over. A writable open (flags c, w, n) of a file the user
may not write is ``ReadOnlyError``; flag ``"r"`` opens it. A replaced file
keeps its mode, and its owner and group where the process may set them.

The tests run as root, which may write anything, so each user's part runs in
a forked child that drops to ``nobody`` (uid and gid 65534), in a folder of
its own under the system's temporary folder that the child can reach.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.forked import run_in_child
from storagebackend.registry import backend_class, codec_by_name
from storagebackend.transports import local

NOBODY = 65534
OTHER_GROUP = 4321  # a group nobody is given in the child, and root is not in


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A world-writable folder (mode 0o777, no sticky bit) that an unprivileged child can reach."""
    folder = Path(tempfile.mkdtemp(prefix="sb-permissions-"))
    try:
        folder.chmod(0o777)
        yield folder
    finally:
        shutil.rmtree(folder)


def as_nobody(work: Callable[[], object], groups: Sequence[int] = ()) -> None:
    """Run ``work`` in a forked child as the unprivileged user nobody (also in ``groups``)."""

    # Import here what the child needs: as nobody it may not read this Python's installation (under /root).
    assert codec_by_name("json") and local.LocalTransport and backend_class("sqlite")

    def unprivileged() -> None:
        os.setgroups(list(groups))
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        assert os.geteuid() == NOBODY
        work()

    run_in_child(unprivileged, timeout=60)


def assert_read_only_under_every_writable_flag(path: Path) -> None:
    """Flags c, w and n: ReadOnlyError naming the file and flag 'r', nothing changed; flag 'r' reads it."""
    before = path.read_bytes()
    for flag in ("c", "w", "n"):
        with pytest.raises(sb.ReadOnlyError, match=path.name) as caught:
            sb.open(path, flag=flag)
        assert isinstance(caught.value, PermissionError)
        assert "flag 'r'" in str(caught.value)
        assert path.read_bytes() == before
    with sb.open(path, flag="r") as store:
        assert len(store) == 1


def _snapshot(path: Path) -> tuple[bytes, int, int, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_ino, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


@pytest.mark.parametrize("name", ["mine.json", "mine.db"])
def test_a_read_only_file_is_not_emptied(shared_folder: Path, name: str) -> None:
    """``chmod 0444 mine.json``, then a writable open, clear() and close() emptied it.

    SQLite opened such a database read-only without a word and failed at the first sync
    (StorageIOError): now it is ReadOnlyError at open, by the rule of every local store.
    """
    path = shared_folder / name

    def work() -> None:
        with sb.open(path) as store:
            store.create({"keep": b"me"})
        path.chmod(0o444)
        before = _snapshot(path)
        assert_read_only_under_every_writable_flag(path)
        assert _snapshot(path) == before

    as_nobody(work)
    assert path.stat().st_uid == NOBODY


@pytest.mark.parametrize("name", ["roots.json", "roots.db"])
def test_another_users_file_in_a_world_writable_folder_is_not_taken_over(shared_folder: Path, name: str) -> None:
    """root's 0o644 file in a folder everyone may write: another user replaced it and became its owner."""
    path = shared_folder / name
    with sb.open(path) as store:
        store.create({"owner": b"root"})
    path.chmod(0o644)
    before = _snapshot(path)
    as_nobody(lambda: assert_read_only_under_every_writable_flag(path))
    assert _snapshot(path) == before


def test_whether_a_file_may_be_written_is_the_kernels_answer(shared_folder: Path) -> None:
    """The decision is the kernel's for this user, not the mode bits alone: a 0o666 file is writable by nobody,
    a 0o664 file of nobody's group too, and root's 0o444 file by root (as ``open(path, "r+")`` would allow)."""
    for name, mode, group in (("everyone.json", 0o666, 0), ("group.json", 0o664, OTHER_GROUP)):
        path = shared_folder / name
        with sb.open(path) as store:
            store.create({})
        os.chown(path, 0, group)
        path.chmod(mode)

        def work(path: Path = path) -> None:
            with sb.open(path, flag="w") as store:
                store.create({"by": b"nobody"})

        as_nobody(work, groups=[OTHER_GROUP])
        with sb.open(path, flag="r") as store:
            assert len(store) == 2
    path = shared_folder / "root-read-only.json"
    with sb.open(path) as store:
        store.create({})
    path.chmod(0o444)
    with sb.open(path, flag="w") as store:  # root may write it, as open(path, "r+") may
        store.create({"by": b"root"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_a_replaced_file_keeps_its_owner_and_group(tmp_path: Path) -> None:
    """root rewrites a store that belongs to someone else: it still belongs to them afterwards."""
    path = tmp_path / "theirs.json"
    with sb.open(path) as store:
        uid = store.create({"v": b"1"}).uid
    os.chown(path, NOBODY, OTHER_GROUP)
    path.chmod(0o640)
    with sb.open(path) as store:
        store[uid]["v"] = b"2"
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, OTHER_GROUP, 0o640)
    with sb.open(path, flag="r") as store:
        assert store[uid]["v"] == b"2"


def test_a_user_who_may_not_give_the_file_away_keeps_its_group(shared_folder: Path) -> None:
    """nobody rewrites root's group-writable file: the owner cannot stay root, but the group (nobody's too) stays."""
    path = shared_folder / "team.json"
    with sb.open(path) as store:
        uid = store.create({"v": b"1"}).uid
    os.chown(path, 0, OTHER_GROUP)
    path.chmod(0o664)

    def work() -> None:
        with sb.open(path, flag="w") as store:
            store[uid]["v"] = b"2"

    as_nobody(work, groups=[OTHER_GROUP])
    info = path.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, OTHER_GROUP, 0o664)
    with sb.open(path, flag="r") as store:
        assert store[uid]["v"] == b"2"
