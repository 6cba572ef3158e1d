"""No password in any exception a user can reach (API.md 7 and 8): the whole chain, not only the message.

An error raised while a driver's exception is being handled gets that exception
as its ``__context__``, whatever ``from`` names as the cause, and a traceback
printer, a logger's ``exc_info`` or an error tracker may follow either link.
So for every backend and transport that takes a password (FTP, FTPS,
PostgreSQL, Redis, and S3's secret key and session token), for a wrong password, a server that is down and a failure
in the middle of an operation, these tests follow ``__cause__`` and
``__context__`` from the error to every exception linked to it and look at
each one's message, ``repr``, ``args`` and formatted traceback. The servers
are real; the FTP servers here and one Redis server are set up to quote the
password back in their replies, as some servers do, so that a driver's
exception that holds it really exists.
"""

from __future__ import annotations

import logging
import shutil
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import storagebackend as sb
from helpers.ftp_server import FTPServer, running
from helpers.s3_server import S3Server
from helpers.servers import PASSWORD, PostgresServer, RedisServer, drop_postgres_store, drop_redis_store, free_port
from helpers.support import FTP_USER
from storagebackend.retrying import RETRY

#: The password of this module's FTP servers, and a wrong one. Characters that must be
#: percent-encoded, and a first word that survives any encoding, looked for on its own too.
CHATTY_PASSWORD = "Ch4tQ s3cr@t:/%?#ж"
WRONG = "Wr0nG p@ss:/%?#ж"
#: A session token (S3's temporary credentials), as AWS spells them: base64.
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/T0KEN+sent/in+a/header=="
STORE = "sb_secrets"


def linked(error: BaseException) -> list[BaseException]:
    """``error`` and every exception its ``__cause__`` and ``__context__`` lead to."""
    found: list[BaseException] = []
    waiting: list[BaseException | None] = [error]
    while waiting:
        each = waiting.pop()
        if each is not None and all(each is not seen for seen in found):
            found.append(each)
            waiting += [each.__cause__, each.__context__]
    return found


def shown(error: BaseException) -> list[str]:
    """Every text of every linked exception: message, repr, args, notes, and its traceback as printed."""
    texts = []
    for each in linked(error):
        texts += [str(each), repr(each), repr(each.args), repr(getattr(each, "__notes__", None))]
        texts.append("".join(traceback.format_exception(each)))
    return texts


def assert_hidden(error: BaseException, log: str, *passwords: str) -> None:
    texts = [*shown(error), log]
    for password in passwords:
        for form in {password, quote(password, safe=""), quote(password), password.split()[0]}:
            for text in texts:
                assert form not in text, f"{form!r} shows in:\n{text}"


# -- the servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chatty_ftp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    """An FTP server that quotes the password in every 4xx and 5xx reply."""
    yield from running(tmp_path_factory.mktemp("chatty-ftp"), FTP_USER, CHATTY_PASSWORD, chatty=True)


@pytest.fixture(scope="module")
def chatty_ftps(tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Path, Path]) -> Iterator[FTPServer]:
    """The same over FTPS."""
    yield from running(tmp_path_factory.mktemp("chatty-ftps"), FTP_USER, CHATTY_PASSWORD, tls=tls_files, chatty=True)


@pytest.fixture(scope="module")
def redis_without_auth() -> Iterator[RedisServer]:
    """A Redis server whose AUTH command is switched off: it quotes the arguments of an AUTH it is sent."""
    program = shutil.which("redis-server")
    if program is None:
        pytest.fail("Redis is not installed (no redis-server)")
    server = RedisServer(program, password=None, settings='rename-command AUTH ""\n')
    yield server
    server.destroy()


# -- the failures -------------------------------------------------------------------------------------


def _ftp(request: pytest.FixtureRequest, scheme: str, failure: str) -> tuple[BaseException, list[str]]:
    server: FTPServer = request.getfixturevalue(f"chatty_{scheme}")
    options = {"ssl_context": request.getfixturevalue("tls_context")} if scheme == "ftps" else {}
    if failure == "wrong-password":
        with pytest.raises(sb.AuthenticationError) as caught:
            sb.open(server.url("x.json", password=WRONG), **options)
        return caught.value, [WRONG, CHATTY_PASSWORD]
    if failure == "server-down":
        with pytest.raises(sb.BackendUnavailableError) as caught:
            sb.open(f"{scheme}://user:{quote(WRONG, safe='')}@127.0.0.1:{free_port()}/x.json", timeout=5, **options)
        return caught.value, [WRONG]
    # In the middle of a sync: the store file became a folder, so the server refuses to send it (550).
    name = f"{request.node.name.encode().hex()[:16]}.json"
    store = sb.open(server.url(name), **options)
    try:
        store.create({"k": b"v"})
        store.sync()
        (server.home / name).unlink()
        (server.home / name).mkdir()
        store.create({"k": b"w"})
        with pytest.raises(sb.StorageIOError) as caught:
            store.sync()
        store.discard()
    finally:
        store.close()
        (server.home / name).rmdir()
    return caught.value, [CHATTY_PASSWORD]


def _server_url(request: pytest.FixtureRequest, scheme: str) -> str:
    """The URL of the store on this scheme's private server (password PASSWORD), dropped after the test."""
    if scheme == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres_server")
        request.addfinalizer(lambda: drop_postgres_store(postgres.url, STORE))
        return f"{postgres.url}?table={STORE}"
    redis: RedisServer = request.getfixturevalue("redis_server")
    request.addfinalizer(lambda: drop_redis_store(redis.url, STORE))
    return f"{redis.url}?prefix={STORE}"


def _database(request: pytest.FixtureRequest, scheme: str, failure: str) -> tuple[BaseException, list[str]]:
    if failure == "server-down":
        path = "postgres" if scheme == "postgresql" else "0"
        with pytest.raises(sb.BackendUnavailableError) as caught:
            sb.open(f"{scheme}://user:{quote(WRONG, safe='')}@127.0.0.1:{free_port()}/{path}", timeout=5)
        return caught.value, [WRONG]
    if failure == "server-quotes-auth":  # Redis only
        server: RedisServer = request.getfixturevalue("redis_without_auth")
        with pytest.raises(sb.StorageError) as caught:
            sb.open(f"redis://:{quote(WRONG, safe='')}@127.0.0.1:{server.port}/0?prefix={STORE}")
        return caught.value, [WRONG]
    url = _server_url(request, scheme)
    if failure == "wrong-password":
        with pytest.raises(sb.AuthenticationError) as caught:
            sb.open(url.replace(quote(PASSWORD, safe=""), quote(WRONG, safe="")))
        return caught.value, [WRONG, PASSWORD]
    # In the middle of a session: the server stops, and a read cannot reach it.
    private: PostgresServer | RedisServer = request.getfixturevalue(
        "postgres_server" if scheme == "postgresql" else "redis_server"
    )
    store = sb.open(url, timeout=5)
    try:
        store.create({"k": b"v"})
        store.sync()
        private.stop()
        try:
            with pytest.raises(sb.BackendUnavailableError) as caught:
                len(store)
        finally:
            private.start()
    finally:
        store.close()
    return caught.value, [PASSWORD]


def _s3(request: pytest.FixtureRequest, scheme: str, failure: str) -> tuple[BaseException, list[str]]:
    """S3: the secret key (never sent, only used to sign) and a session token (sent in a header)."""
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    url = f"s3://{bucket}/x.json"
    if failure == "wrong-password":
        with pytest.raises(sb.AuthenticationError) as caught:
            sb.open(url, **server.options(secret_access_key=WRONG))
        return caught.value, [WRONG, server.secret_access_key]
    if failure == "wrong-session-token":
        with pytest.raises(sb.AuthenticationError) as caught:
            sb.open(url, **server.options(session_token=TOKEN))
        return caught.value, [TOKEN, server.secret_access_key]
    if failure == "server-down":
        with pytest.raises(sb.BackendUnavailableError) as caught:
            sb.open(url, **server.options(endpoint_url=f"http://127.0.0.1:{free_port()}", secret_access_key=WRONG))
        return caught.value, [WRONG]
    # In the middle of a sync: every try of the upload is cut off by the server.
    store = sb.open(url, **server.options())
    try:
        store.create({"k": b"v"})
        server.fault("cut-upload", RETRY.attempts)
        with pytest.raises(sb.BackendUnavailableError) as caught:
            store.sync()
    finally:
        store.close()
    return caught.value, [server.secret_access_key]


CASES: dict[str, Callable[[pytest.FixtureRequest], tuple[BaseException, list[str]]]] = {
    f"{scheme}-{failure}": (
        lambda request, scheme=scheme, failure=failure: (
            _ftp if scheme.startswith("ftp") else _s3 if scheme == "s3" else _database
        )(request, scheme, failure)
    )
    for scheme, failures in {
        "ftp": ["wrong-password", "server-down", "mid-operation"],
        "ftps": ["wrong-password", "server-down", "mid-operation"],
        "postgresql": ["wrong-password", "server-down", "mid-operation"],
        "redis": ["wrong-password", "server-down", "mid-operation", "server-quotes-auth"],
        "s3": ["wrong-password", "wrong-session-token", "server-down", "mid-operation"],
    }.items()
    for failure in failures
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_exception_linked_to_an_error_shows_the_password(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        error, passwords = CASES[case](request)
    assert error.__cause__ is not None, "the driver's error is the cause (API.md 8)"
    assert_hidden(error, caplog.text, *passwords)
