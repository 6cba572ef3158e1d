"""Crash safety (API.md section 7): a writer killed at any moment leaves exactly one synced version.

A forked child opens the store and syncs ever-growing versions of it in a loop,
reporting each version once its ``sync()`` has returned. The test kills it
with SIGKILL 20 to 200 ms after its first report, 20 times per backend (every
codec on local files, and SQLite), and after each kill opens the store for
writing, which a stale lock would stop, and checks that it holds one whole
version: the last one reported (it was durable) or the one being synced when
the kill came, never a mix, never unreadable. The next child goes on from there.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.forked import Reporter
from helpers.support import available_codecs
from storagebackend import UID
from storagebackend.registry import codec_by_name
from storagebackend.storage import Storage

BACKENDS = [f"store{codec_by_name(name).extensions[0]}" for name in available_codecs()] + ["store.db"]
KILLS = 20
WIDEST = 40  # documents in a version at most, so that every sync costs about the same
MARKER = UID("f" * 32)


def expected(version: int) -> dict[UID, dict[str, bytes]]:
    """Version N: documents 0..min(N, WIDEST), each holding N, and the marker holding N."""
    if version == 0:
        return {}
    value = str(version).encode()
    documents = {
        UID(f"{i:032x}"): {"version": value, "pad": b"\xff" + value * i} for i in range(min(version, WIDEST) + 1)
    }
    documents[MARKER] = {"version": value}
    return documents


def version_of(store: Storage) -> int:
    marker = store.get(MARKER)
    return 0 if marker is None else int(marker["version"])


def writer(url: str) -> Callable[[Callable[[str], None]], None]:
    """The child's work: sync version after version, forever, reporting each."""

    def work(report: Callable[[str], None]) -> None:
        store = sb.open(url, lock_timeout=30)
        version = version_of(store)
        while True:
            version += 1
            store.update(expected(version))
            store.sync()
            report(str(version))

    return work


def temporary_files(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if name.endswith(".tmp")]


@pytest.mark.parametrize("name", BACKENDS)
def test_a_killed_writer_leaves_one_whole_synced_version(tmp_path: Path, name: str) -> None:
    url = str(tmp_path / name)
    sb.open(url).close()  # version 0: the empty store
    pause = random.Random(name)  # the same pauses on every run; where they land still varies
    versions = []
    for kill in range(KILLS):
        child = Reporter(writer(url))
        child.wait_for_line()
        time.sleep(pause.uniform(0.02, 0.2))
        child.kill()
        assert not [line for line in child.lines if line.startswith("error")], child.lines
        reported = int(child.lines[-1])
        with sb.open(url, flag="w", lock_timeout=5) as store:  # a stale lock: StorageLockedError
            version = version_of(store)
            assert reported <= version <= reported + 1, f"kill {kill}: reported {reported}, stored {version}"
            assert {uid: store.get_document(uid) for uid in store} == expected(version), f"kill {kill}"
        assert temporary_files(tmp_path) == []  # the writer that opened after the kill removed them
        versions.append(version)
    assert versions == sorted(versions)
    with sb.open(url, flag="r") as store:
        assert version_of(store) == versions[-1]
