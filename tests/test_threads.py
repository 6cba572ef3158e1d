"""Several threads sharing one Storage: writes are serialised by the store's lock."""

from __future__ import annotations

import threading

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
