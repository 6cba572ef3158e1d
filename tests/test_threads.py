"""Several threads sharing one Storage: writes are serialised by the store's lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.servers import Stores
from storagebackend import UID
from storagebackend.storage import Storage


def test_threads_writing_and_syncing_lose_nothing(reopen: object) -> None:
    store: Storage = reopen()  # type: ignore[operator]
    shared = store.create()
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for number in range(150):
                uid = UID(f"{worker:02x}{number:030x}")
                store[uid] = {"n": str(number).encode()}
                shared[f"w{worker}-{number % 10}"] = b"x"
                assert store[uid]["n"] == str(number).encode()
                list(store)
                if number % 25 == 0:
                    store.sync()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(store) == 4 * 150 + 1
    assert len(shared) == 40
    store.close()
    if reopen.persistent:  # type: ignore[attr-defined]
        with reopen("r") as again:  # type: ignore[operator]
            assert len(again) == 601


THREAD_STORES = ["memory", "sqlite", "json", "yaml"]


@pytest.mark.parametrize("kind", THREAD_STORES)
def test_readers_see_whole_documents_while_a_writer_writes_syncs_and_discards(tmp_path: Path, kind: str) -> None:
    """Reads take no lock: they must still never fail, nor see a document half replaced or half synced."""
    url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path}/s.db"}.get(kind, f"{tmp_path}/s.{kind}")
    # A file store's sync writes and fsyncs the whole file while three readers compete for the GIL: fewer rounds.
    readers_during_writes(url, rounds=100 if kind in ("json", "yaml") else 400)


def test_readers_see_whole_documents_on_servers(stores: Stores) -> None:
    readers_during_writes(stores.url())


def readers_during_writes(url: str, rounds: int = 400) -> None:
    """One thread writes, syncs and discards; three read everything over and over meanwhile."""
    store = sb.open(url)
    whole = [UID(f"{i:032x}") for i in range(10)]  # always replaced whole: "a" == "b"
    grown = [UID(f"{i + 100:032x}") for i in range(10)]  # replaced, then keys added one by one
    store.update({uid: {"a": b"0", "b": b"0"} for uid in whole + grown})
    store.sync()
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for n in range(1, rounds):
                value = str(n).encode()
                store[whole[n % 10]] = {"a": value, "b": value}
                store[grown[n % 10]] = {"a": value, "b": value}
                for key in range(n % 7):
                    store[grown[n % 10]][f"k{key}"] = value
                if n % 3 == 0:
                    store.sync()
                elif n % 31 == 0:
                    store.discard()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                assert len(store) == 20
                for uid in list(store):
                    document = store.get_document(uid)
                    assert "a" in document and document["a"] == document["b"], (uid, document)
                    assert uid in store
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    store.close()
