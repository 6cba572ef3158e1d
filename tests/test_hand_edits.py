"""Local files changed behind an open store (API.md section 7): a sync never overwrites them.

Editors and other programs ignore the lock. Whatever they do to the file
between two syncs (an edit in place of the same size in the same millisecond,
a file saved over it, a new file under a reused inode number, an mtime set
back, a deletion), the next ``sync()`` raises ConflictError, leaves their
version as it is and keeps the store's changes; ``discard()`` and ``close()``
then succeed and still leave it alone. The check costs a ``stat``, not a read.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import storagebackend as sb
from storagebackend.storage import Storage
from storagebackend.transports import local

OLD = b"aaaaaaaa"
NEW = b"bbbbbbbb"  # the same size: the file's size does not change


def edit_in_place(path: Path) -> None:
    """What an editor that writes into the file does: the same bytes but one value, same size, same inode."""
    content = path.read_bytes()
    assert content.count(OLD) == 1
    with open(path, "r+b") as file:
        file.seek(content.index(OLD))
        file.write(NEW)


def save_over(path: Path) -> None:
    """What most editors do: write a new file beside it and rename it over the store."""
    edited = path.with_name(path.name + ".editor-tmp")
    edited.write_bytes(path.read_bytes().replace(OLD, NEW))
    os.replace(edited, path)


def recreate(path: Path) -> None:
    """Delete the file and write a new one of the same size: the new file usually gets the same inode number."""
    content = path.read_bytes().replace(OLD, NEW)
    path.unlink()
    path.write_bytes(content)


def edit_and_set_the_mtime_back(path: Path) -> None:
    """An edit in place whose tool restores the mtime (as ``touch -r`` or ``rsync -t`` can)."""
    before = path.stat()
    edit_in_place(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    while path.stat().st_ctime_ns == before.st_ctime_ns:  # within one tick of the kernel clock: wait for the next
        time.sleep(0.001)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


EDITS: dict[str, Callable[[Path], None]] = {
    "edited-in-place": edit_in_place,
    "saved-over": save_over,
    "recreated": recreate,
    "mtime-set-back": edit_and_set_the_mtime_back,
}


@pytest.fixture
def path(tmp_path: Path, extension: str) -> Path:
    """A store of the codec holding one document whose value OLD an edit turns into NEW."""
    path = tmp_path / f"live{extension}"
    with sb.open(path) as store:
        store.create({"v": OLD})
    return path


def open_after(path: Path, baseline: str) -> Storage:
    """Open the store; ``baseline`` "sync": it also wrote the file since (the check compares with its own write)."""
    store = sb.open(path)
    if baseline == "sync":
        store.create({"written": b"by the store"})
        store.sync()
    return store


def assert_conflict_keeps_both(store: Storage, path: Path, other: bytes | None, what: str = "") -> None:
    """The sync and the close conflict (saying ``what`` changed); the store keeps its changes; discard()
    and close() leave ``other`` alone."""
    mine = store.create({"mine": b"unsynced"}).uid
    with pytest.raises(sb.ConflictError, match=path.name) as caught:
        store.sync()
    assert "nothing was overwritten" in str(caught.value)
    assert what in str(caught.value)
    with pytest.raises(sb.ConflictError):
        store.close()
    assert not store.closed
    assert store[mine] == {"mine": b"unsynced"}, "the store lost its changes"
    assert (path.read_bytes() if path.exists() else None) == other
    store.discard()
    store.close()
    assert (path.read_bytes() if path.exists() else None) == other, "the other version was overwritten"
    assert [name for name in os.listdir(path.parent) if name.endswith(".tmp")] == []


@pytest.mark.parametrize("baseline", ["open", "sync"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_a_file_changed_behind_the_store_is_a_conflict(path: Path, baseline: str, edit: str) -> None:
    """Right after the store's open or its own sync: the same size, often the same inode, within the same ms."""
    store = open_after(path, baseline)
    EDITS[edit](path)
    assert_conflict_keeps_both(store, path, path.read_bytes())


@pytest.mark.parametrize("baseline", ["open", "sync"])
def test_a_file_deleted_behind_the_store_is_a_conflict_and_stays_deleted(path: Path, baseline: str) -> None:
    store = open_after(path, baseline)
    path.unlink()
    assert_conflict_keeps_both(store, path, None, "was deleted")


def test_an_edit_while_the_sync_writes_is_a_conflict_too(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is made again right before the rename: an edit saved while the new file is being fsynced."""
    store = sb.open(path)
    store.create({"first": b"sync"})
    store.sync()
    real_fsync = os.fsync

    def fsync_while_someone_edits(fd: int) -> None:
        if not os.path.isdir(f"/proc/self/fd/{fd}") and b"unsynced" in Path(f"/proc/self/fd/{fd}").read_bytes():
            edit_in_place(path)  # the moment the temporary file holds the new data
        real_fsync(fd)

    monkeypatch.setattr(local.os, "fsync", fsync_while_someone_edits)
    assert_conflict_keeps_both(store, path, path.read_bytes().replace(OLD, NEW))


def test_flag_n_conflicts_if_the_file_changes_before_the_first_sync(path: Path) -> None:
    """Flag "n" drops the file unread, but a change made after the open is not someone else's to lose."""
    store = sb.open(path, flag="n")
    edit_in_place(path)
    assert_conflict_keeps_both(store, path, path.read_bytes())


def test_flag_n_over_an_unchanged_file_empties_it(path: Path) -> None:
    with sb.open(path, flag="n") as store:
        store.create({"new": b"start"})
    with sb.open(path, flag="r") as store:
        assert [document for _, document in store.items()] == [{"new": b"start"}]


def test_after_a_conflict_a_reopened_store_sees_the_edit(path: Path) -> None:
    store = sb.open(path)
    save_over(path)
    store.create({})
    with pytest.raises(sb.ConflictError):
        store.sync()
    store.discard()
    store.close()
    with sb.open(path) as store:
        [(uid, document)] = store.items()
        assert document == {"v": NEW}
        store[uid]["after"] = b"the edit"  # the reopened store writes over the edit it has read
    with sb.open(path, flag="r") as store:
        assert store[uid] == {"v": NEW, "after": b"the edit"}


def test_syncs_check_with_a_stat_and_never_read_the_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first sync the file's stat is the store's own (an exact mtime): later syncs do not read it."""
    store = sb.open(path)
    store.create({"n": b"0"})
    store.sync()

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a sync read the store file")

    with monkeypatch.context() as patch:
        patch.setattr(local, "open", no_reading, raising=False)  # LocalTransport's reads of the file
        for number in range(1, 20):
            store.create({"n": str(number).encode()})
            store.sync()
        edit_in_place(path)
        store.create({})
        with pytest.raises(sb.ConflictError):
            store.sync()
    store.discard()
    store.close()


def test_timestamps_that_show_nothing_fall_back_to_the_bytes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system whose timestamps do not move (here: frozen in the future, as on a server whose clock
    is ahead): a same-size edit in place leaves the whole stat as it was, and is found by its bytes.

    That file system is simulated (the store's ``stat`` calls see frozen times), since none is mounted here.
    """
    frozen = time.time_ns() + 3600 * 10**9
    real_stat, real_fstat = os.stat, os.fstat

    def frozen_times(info: os.stat_result) -> os.stat_result:
        fields = list(info)
        fields[7:10] = [frozen // 10**9] * 3  # st_atime, st_mtime, st_ctime (whole seconds)
        extra = {"st_atime_ns": frozen, "st_mtime_ns": frozen, "st_ctime_ns": frozen}
        return os.stat_result(fields, extra)

    def stat(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_stat(name, *args, **kwargs)
        return frozen_times(info) if os.path.realpath(name) == os.path.realpath(path) else info

    def fstat(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        return frozen_times(info) if info.st_ino == real_stat(path).st_ino else info

    monkeypatch.setattr(local.os, "stat", stat)
    monkeypatch.setattr(local.os, "fstat", fstat)
    store = sb.open(path)
    store.create({"first": b"sync"})
    store.sync()  # reads the file again to check it (no conflict), and keeps the digest of what it wrote
    edit_in_place(path)
    assert_conflict_keeps_both(store, path, path.read_bytes())
