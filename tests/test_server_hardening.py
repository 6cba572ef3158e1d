"""Hardening of the server backends (issue 10), on the real PostgreSQL and Redis servers.

Reads racing a close (API.md 2), refused credentials (API.md 8), the meaning of
``timeout`` and ``lock_timeout`` at 0 and at ``math.inf`` (API.md 2), and the
``postgres://`` alias (API.md 2). Most tests run on both servers (``stores``).
"""

from __future__ import annotations

import math
import threading
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

import storagebackend as sb
from helpers.servers import PASSWORD, RedisServer, Stores, free_port, passwordless_redis_server, redis_connect
from storagebackend import UID
from storagebackend.storage import Storage
from storagebackend.urls import parse_server

__all__ = ["passwordless_redis_server"]  # a fixture, imported for the tests below

# -- reads racing a close ------------------------------------------------------------------------------

RACE_ROUNDS = 25
RACE_DOCUMENTS = [UID(f"{i:032x}") for i in range(1, 6)]
RACE_READS: dict[str, Callable[[Storage], object]] = {
    "len": len,
    "copy": lambda store: store.copy(),
    "getitem": lambda store: store[RACE_DOCUMENTS[0]],
    "iterate": list,
    "get_document": lambda store: store.get_document(RACE_DOCUMENTS[1]),
    "value": lambda store: store[RACE_DOCUMENTS[2]]["k"],
}


def _read_until_closed(
    store: Storage, action: Callable[[Storage], object], started: threading.Event, errors: list[BaseException]
) -> None:
    """Read over and over until the store says it is closed; anything else is an error."""
    try:
        while True:
            assert action(store) is not None
            started.set()
    except sb.StorageClosedError:
        pass
    except BaseException as exc:  # reported by the test
        errors.append(exc)
    finally:
        started.set()


def test_reads_racing_a_close_get_their_answer_or_storage_closed(stores: Stores) -> None:
    """Threads read in every way while the main thread closes: each read answers, or raises StorageClosedError."""
    url = stores.url()
    with sb.open(url) as store:
        store.update({uid: {"k": b"v"} for uid in RACE_DOCUMENTS})
    for _ in range(RACE_ROUNDS):
        store = sb.open(url)
        store.put(RACE_DOCUMENTS[3], "unsynced", b"1")  # the close syncs while the readers read
        errors: list[BaseException] = []
        started = [threading.Event() for _ in RACE_READS]
        threads = [
            threading.Thread(target=_read_until_closed, args=(store, action, event, errors))
            for action, event in zip(RACE_READS.values(), started, strict=True)
        ]
        for thread in threads:
            thread.start()
        for event in started:  # every reader has answered once: the close comes in the middle of reads
            event.wait()
        store.close()
        for thread in threads:
            thread.join()
        assert errors == [], errors[0]
    with sb.open(url, flag="r") as store:
        assert store.get_document(RACE_DOCUMENTS[3]) == {"k": b"v", "unsynced": b"1"}


def test_a_read_that_began_before_the_close_never_reconnects(stores: Stores) -> None:
    """A thread that holds the backend when the store closes (the race above, made certain) gets StorageClosedError."""
    store = sb.open(stores.url())
    store.create({"k": b"v"})
    backend = store.backend
    store.close()
    for read in (backend.document_count, backend.uids, lambda: list(backend.read_all())):
        with pytest.raises(sb.StorageClosedError, match="closed"):
            read()
    for uid_read in (backend.read_document, backend.has_document, lambda uid: backend.read_value(uid, "k")):
        with pytest.raises(sb.StorageClosedError, match="closed"):
            uid_read(RACE_DOCUMENTS[0].hex)
    backend.close()  # closing the backend twice is fine too


# -- refused credentials -----------------------------------------------------------------------------

WRONG = "Wr0ngPw s3cr@t:/%?#ж"  # must be percent-encoded; "Wr0ngPw" survives any encoding


def _url(stores: Stores, user: str | None, password: str | None) -> str:
    """A store URL on the server of ``stores`` with these credentials."""
    server = parse_server(stores.base_url)
    auth = quote(user or "", safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    return f"{server.scheme}://{auth}{'@' if auth else ''}{server.address}/{server.path}?{stores.option}=sb_refused"


def _chain(error: BaseException) -> list[BaseException]:
    """The error and every exception behind it (causes and contexts)."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _assert_hidden(error: BaseException, *passwords: str | None) -> None:
    """No password in the message, repr, traceback or attributes of the error or of anything in its chain."""
    texts = ["".join(traceback.format_exception(error))]
    for link in _chain(error):
        texts += [str(link), repr(link), repr(link.args), repr(vars(link))]
    for password in passwords:
        if password:
            for text in texts:
                assert password not in text
                assert quote(password, safe="") not in text
                assert password.encode() not in text.encode()


def _assert_refused(error: BaseException, address: str) -> None:
    assert isinstance(error, sb.AuthenticationError), repr(error)
    assert isinstance(error, PermissionError)
    assert not isinstance(error, (sb.BackendUnavailableError, ConnectionError))
    assert address in str(error)


@pytest.mark.parametrize("case", ["wrong-password", "no-password", "unknown-user"])
def test_refused_credentials_are_an_authentication_error_without_the_password(
    stores: Stores, case: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = parse_server(stores.base_url)
    monkeypatch.delenv("PGPASSWORD", raising=False)  # libpq must not find a password of its own
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    user = {"unknown-user": "sb_nobody"}.get(case, server.user)
    password = None if case == "no-password" else WRONG
    with pytest.raises(sb.StorageError) as caught:
        sb.open(_url(stores, user, password), timeout=5)
    _assert_refused(caught.value, server.address)
    _assert_hidden(caught.value, WRONG, server.password)


def test_a_password_sent_to_redis_without_one_is_an_authentication_error(
    passwordless_redis_server: RedisServer,
) -> None:
    url = f"redis://:{quote(WRONG, safe='')}@127.0.0.1:{passwordless_redis_server.port}/0?prefix=sb_refused"
    with pytest.raises(sb.StorageError) as caught:
        sb.open(url)
    _assert_refused(caught.value, f"127.0.0.1:{passwordless_redis_server.port}")
    _assert_hidden(caught.value, WRONG)
    with sb.open(passwordless_redis_server.url + "?prefix=sb_open") as store:  # without a password it opens
        store.clear()


def test_refused_credentials_are_not_tried_again(stores: Stores, caplog: pytest.LogCaptureFixture) -> None:
    """A refusal is an answer, not a lost connection: one attempt, no retry (nor its back-off)."""
    user = "sb_nobody_" + uuid.uuid4().hex[:12]
    with caplog.at_level("DEBUG"), pytest.raises(sb.AuthenticationError):
        sb.open(_url(stores, user, WRONG))
    assert "trying again" not in caplog.text  # what PostgreSQL's retries log
    if stores.kind == "redis":  # Redis logs every refused AUTH, counted by user
        with redis_connect(stores.base_url) as client:
            attempts = [entry["count"] for entry in client.acl_log(count=128) if entry.get("username") == user]
        assert attempts == [1]


# -- timeout and lock_timeout: 0 does not wait, math.inf waits forever -------------------------------


@pytest.mark.parametrize("seconds", [0, 0.0, math.inf, 1e300], ids=["0", "0.0", "inf", "huge"])
def test_lock_timeout_of_zero_or_infinity_opens_and_works(stores: Stores, seconds: float) -> None:
    url = stores.url()
    with sb.open(url, lock_timeout=seconds) as store:
        store["1" * 32] = {"k": b"v"}
    with sb.open(url, flag="r", lock_timeout=seconds) as store:
        assert store.get_document("1" * 32) == {"k": b"v"}


@pytest.mark.parametrize("seconds", [math.inf, 1e300], ids=["inf", "huge"])
def test_a_timeout_of_infinity_opens_and_works(stores: Stores, seconds: float) -> None:
    url = stores.url()
    with sb.open(url, timeout=seconds) as store:
        store["1" * 32] = {"k": b"v"}
    with sb.open(url, flag="r", timeout=seconds) as store:
        assert store.get_document("1" * 32) == {"k": b"v"}


def test_a_timeout_of_zero_does_not_wait_for_a_server_that_is_not_there(stores: Stores) -> None:
    url = f"{stores.kind}://user:{quote(PASSWORD, safe='')}@127.0.0.1:{free_port()}/0?{stores.option}=x"
    with pytest.raises(sb.BackendUnavailableError, match="127.0.0.1"):
        sb.open(url, timeout=0)


@pytest.mark.parametrize("seconds", [-1, math.nan, "5", True, None])
def test_a_bad_timeout_is_refused_before_connecting(stores: Stores, seconds: object) -> None:
    url = f"{stores.kind}://127.0.0.1:{free_port()}/0"
    for option in ("timeout", "lock_timeout") if stores.kind == "postgresql" else ("timeout",):
        with pytest.raises((ValueError, TypeError), match=option):
            sb.open(url, **{option: seconds})


# -- postgres:// is postgresql:// ----------------------------------------------------------------------


def test_postgres_is_an_alias_of_postgresql(postgres_url: str) -> None:
    pg = Stores("postgresql", postgres_url)
    try:
        name = pg.new_name()
        alias = "postgres://" + pg.url(name).partition("://")[2]
        with sb.open(alias) as store:
            assert repr(store).startswith("<Storage postgres://")
            store["1" * 32] = {"k": b"alias"}
        with sb.open(pg.url(name), flag="r") as store:
            assert store.get_document("1" * 32) == {"k": b"alias"}
        server = parse_server(postgres_url)
        settings = {"backend": "postgres", "host": server.host, "port": server.port, "user": server.user}
        settings |= {"password": server.password, "path": server.path, "table": name}
        with sb.open_config(settings) as store:
            assert store.get_document("1" * 32) == {"k": b"alias"}
    finally:
        pg.drop_all()
