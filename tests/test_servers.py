"""What PostgreSQL and Redis stores promise alike (API.md sections 2, 7, 8), on real servers.

Every test runs on both (the ``stores`` fixture); the restart tests use private
servers that they stop and start (``private_stores``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import traceback
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis.stateful import run_state_machine_as_test

import storagebackend as sb
from helpers.servers import PASSWORD, Stores, free_port
from storagebackend.storage import Storage
from storagebackend.testing import StorageMachine
from storagebackend.urls import parse_server


def shown(error: BaseException) -> str:
    """All a user may see of an error: its message, its causes, its traceback."""
    return "".join(traceback.format_exception(error))


def assert_no_password(text: str, url: str = "") -> None:
    """Neither the private servers' password nor the one in ``url`` appears in ``text``."""
    for password in (PASSWORD, parse_server(url).password if url else None):
        if password:
            assert password not in text
            assert quote(password, safe="") not in text


# -- the conformance state machine -----------------------------------------------------------------


def test_conformance(stores: Stores) -> None:
    class ServerMachine(StorageMachine):
        """A fresh table or prefix per example (``self.name``), removed afterwards."""

        def open_storage(self, flag: str) -> Storage:
            return sb.open(stores.url(self.name), flag=flag)

        def cleanup(self) -> None:
            stores.drop(self.name)
            super().cleanup()

    run_state_machine_as_test(ServerMachine, settings=ServerMachine.run_settings())  # 25 examples: ~30 s for both


# -- opening: flags, names, sharing one server ------------------------------------------------------


@pytest.mark.parametrize("flag", ["w", "r"])
def test_w_and_r_on_a_missing_store_create_nothing(stores: Stores, flag: str) -> None:
    name = stores.new_name()
    with pytest.raises(sb.StoreNotFoundError, match=name):
        sb.open(stores.url(name), flag=flag)
    assert not stores.exists(name)


def test_c_creates_the_store_at_open(stores: Stores) -> None:
    name = stores.new_name()
    with sb.open(stores.url(name)) as store:
        assert stores.exists(name)
        assert len(store) == 0
    with sb.open(stores.url(name), flag="w") as store:
        assert len(store) == 0


def test_n_starts_empty_and_empties_the_store_at_the_first_sync(stores: Stores) -> None:
    url = stores.url()
    with sb.open(url) as store:
        store["0" * 32] = {"a": b"1"}
    emptied = sb.open(url, flag="n")
    assert len(emptied) == 0
    with sb.open(url, flag="r") as reader:
        assert reader.get_document("0" * 32) == {"a": b"1"}  # not applied before the sync
    emptied.close()
    with sb.open(url, flag="r") as reader:
        assert len(reader) == 0


def test_stores_on_one_server_are_separate(stores: Stores) -> None:
    first, second = stores.url(), stores.url()
    with sb.open(first) as one, sb.open(second) as two:
        one["1" * 32] = {"k": b"one"}
        two["2" * 32] = {"k": b"two"}
    with sb.open(first, flag="r") as one, sb.open(second, flag="r") as two:
        assert [uid.hex for uid in one] == ["1" * 32]
        assert [uid.hex for uid in two] == ["2" * 32]


def test_values_round_trip_exactly(stores: Stores) -> None:
    document = {"bin": bytes(range(256)), "empty": b"", "text": "ж日本𝄞".encode(), "ключ 日本": b"\x00"}
    with sb.open(stores.url()) as store:
        doc = store.create(document)
        empty = store.create()
    with sb.open(stores.url(stores.names[-1]), flag="r") as store:
        assert store.get_document(doc.uid) == document
        assert store[empty.uid] == {}  # a document without keys exists


def test_every_kind_of_change_reaches_the_server_at_sync(stores: Stores) -> None:
    url = stores.url()
    a, b, c, d = (letter * 32 for letter in "abcd")
    before = {a: {"keep": b"1", "drop": b"2", "change": b"3"}, b: {"x": b"1"}, c: {"y": b"1"}}
    with sb.open(url) as store:
        store.update(before)
    with sb.open(url) as store, sb.open(url, flag="r") as other:
        del store[a]["drop"]  # a patch: one key removed, one changed, one added
        store[a]["change"] = b"new"
        store[a]["add"] = b"4"
        store[b] = {"z": b"2"}  # a replacement
        del store[c]  # a deletion
        store[d] = {}  # a document without keys
        assert {uid.hex: other.get_document(uid) for uid in other} == before
        store.sync()
        assert {uid.hex: other.get_document(uid) for uid in other} == {
            a: {"keep": b"1", "change": b"new", "add": b"4"},
            b: {"z": b"2"},
            d: {},
        }
        store.clear()  # emptied and refilled in one sync
        store[c] = {"again": b"5"}
        store.sync()
        assert {uid.hex: other.get_document(uid) for uid in other} == {c: {"again": b"5"}}


def test_readers_see_a_sync_whole_or_not_at_all(stores: Stores) -> None:
    url = stores.url()
    with sb.open(url) as writer, sb.open(url, flag="r") as reader:
        uid = writer.create({f"k{i}": b"v" for i in range(20)}).uid
        assert uid not in reader  # the write buffer is private until sync
        writer.sync()
        assert reader.get_document(uid) == {f"k{i}": b"v" for i in range(20)}


def test_repr_and_errors_never_show_the_password(stores: Stores) -> None:
    with sb.open(stores.url()) as store:
        assert_no_password(repr(store), stores.base_url)
        assert "127.0.0.1" in repr(store)
        assert stores.names[-1] in repr(store)


def test_a_wrong_password_is_an_authentication_error_without_the_password(stores: Stores) -> None:
    server = parse_server(stores.url())
    wrong = "wrong p@ss:w/rd%"
    auth = f"{quote(server.user or '', safe='')}:{quote(wrong, safe='')}"
    url = f"{server.scheme}://{auth}@{server.address}/{server.path}"
    with pytest.raises(sb.AuthenticationError) as info:  # the server was reached: not BackendUnavailableError
        sb.open(url)
    text = shown(info.value)
    assert server.address in str(info.value)
    assert wrong not in text
    assert quote(wrong, safe="") not in text


def test_no_server_is_backend_unavailable_naming_host_and_port(stores: Stores) -> None:
    port = free_port()
    url = f"{stores.kind}://user:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/0?{stores.option}=x"
    with pytest.raises(sb.BackendUnavailableError, match=f"127.0.0.1:{port}") as info:
        sb.open(url, timeout=2)
    assert isinstance(info.value, ConnectionError)
    assert_no_password(shown(info.value))


def test_url_errors_are_value_errors_before_connecting(stores: Stores) -> None:
    dead = f"{stores.kind}://127.0.0.1:{free_port()}/0"
    with pytest.raises(ValueError, match="unknown query parameter 'colour'"):
        sb.open(dead + "?colour=blue")
    with pytest.raises(ValueError, match="given twice"):
        sb.open(f"{dead}?{stores.option}=a", **{stores.option: "b"})
    with pytest.raises(ValueError, match="invalid"):
        sb.open(dead, **{stores.option: "has space"})
    with pytest.raises(TypeError, match="unknown option 'codec'"):
        sb.open(dead, codec="json")


def test_open_config_builds_the_url_from_parts(stores: Stores) -> None:
    server = parse_server(stores.base_url)
    name = stores.new_name()
    settings = {
        "backend": stores.kind,
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "password": server.password,
        "path": server.path,
        stores.option: name,
    }
    with sb.open_config(settings) as store:
        store["3" * 32] = {"k": b"v"}
    with sb.open(stores.url(name), flag="r") as store:
        assert store.get_document("3" * 32) == {"k": b"v"}


# -- sharing: two processes writing at once ------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import os, sys, time
    import storagebackend as sb

    url, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    shared = "5" * 32
    while not os.path.exists(go):
        time.sleep(0.01)
    with sb.open(url, flag="w") as store:
        for i in range(count):
            store.put(shared, f"{name}-{i}", b"%d" % i)   # both write one document
            store[f"{name}{i:031x}"] = {"i": b"%d" % i}   # and documents of their own
            store.put(f"{name}{'f' * 31}", "last", b"%d" % i)
            store.put(f"{name}{'e' * 31}", "tmp", b"x")
            if i % 2:
                del store[f"{name}{'e' * 31}"]
            store.sync()
    """
)


def test_two_processes_write_concurrently_and_lose_nothing(stores: Stores, tmp_path: Path) -> None:
    url, count = stores.url(), 150
    with sb.open(url):
        pass
    go = tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, name, str(count), str(go)], stderr=subprocess.PIPE)
        for name in ("a", "b")
    ]
    go.touch()
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors.decode()
    with sb.open(url, flag="r") as store:
        assert store.get_document("5" * 32) == {f"{n}-{i}": b"%d" % i for n in "ab" for i in range(count)}
        for name in "ab":
            for i in range(count):
                assert store.get_document(f"{name}{i:031x}") == {"i": b"%d" % i}
            assert store.get_document(f"{name}{'f' * 31}") == {"last": b"%d" % (count - 1)}
            assert f"{name}{'e' * 31}" not in store
        assert len(store) == 2 * count + 2 + 1
        # Each writer's documents, and its keys of the shared one, in the order it made them (API.md 3).
        uids, keys = [uid.hex for uid in store], list(store["5" * 32])
        for name in "ab":
            made = [f"{name}{i:031x}" for i in range(count)]
            assert [uid for uid in uids if uid in made] == made
            assert [key for key in keys if key[0] == name] == [f"{name}-{i}" for i in range(count)]


def test_threads_sharing_one_store_lose_nothing(stores: Stores) -> None:
    url = stores.url()
    store = sb.open(url)
    shared = store.create()
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for number in range(60):
                uid = f"{worker:02x}{number:030x}"
                store[uid] = {"n": b"%d" % number}
                shared[f"w{worker}-{number % 10}"] = b"x"
                assert store[uid]["n"] == b"%d" % number  # reads take no lock: they share the connection
                list(store)
                if number % 15 == 0:
                    store.sync()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store.close()
    with sb.open(url, flag="r") as again:
        assert len(again) == 4 * 60 + 1
        assert len(again[shared.uid]) == 40


# -- a server that goes away and comes back ----------------------------------------------------------


def test_server_restart_in_the_middle_of_a_session(private_stores: Stores) -> None:
    server = private_stores.server
    assert server is not None
    url = private_stores.url()
    with sb.open(url) as store:
        uid = store.create({"before": b"1"}).uid
        store.sync()
        store.put(uid, "unsynced", b"2")
        server.restart()
        assert store.get_value(uid, "before") == b"1"  # the lost connection is reopened by itself
        store.sync()
        server.stop()
        try:
            store.put(uid, "while-down", b"3")  # only the write buffer: works without a server
            with pytest.raises(sb.BackendUnavailableError, match=f"127.0.0.1:{server.port}") as info:
                store.sync()
            assert_no_password(shown(info.value))
            with pytest.raises(sb.BackendUnavailableError, match=f"127.0.0.1:{server.port}"):
                store.get_value(uid, "before")
        finally:
            server.start()
        assert store.get_document(uid) == {"before": b"1", "unsynced": b"2", "while-down": b"3"}
        store.sync()  # the failed sync kept its changes
    with sb.open(url, flag="r") as store:
        assert store.get_document(uid) == {"before": b"1", "unsynced": b"2", "while-down": b"3"}


def test_close_while_the_server_is_down_keeps_the_store_open(private_stores: Stores) -> None:
    server = private_stores.server
    assert server is not None
    url = private_stores.url()
    store = sb.open(url)
    store["4" * 32] = {"k": b"v"}
    server.stop()
    try:
        with pytest.raises(sb.BackendUnavailableError):
            store.close()
        assert not store.closed
    finally:
        server.start()
    store.close()
    with sb.open(url, flag="r") as reader:
        assert reader.get_document("4" * 32) == {"k": b"v"}
