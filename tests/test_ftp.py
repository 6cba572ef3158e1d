"""Cached file stores on FTP and FTPS (API.md sections 2 and 7), on a real pyftpdlib server.

URLs, flags, conflicts instead of locks, reconnecting, and passwords that
never show.
"""

from __future__ import annotations

import logging
import math
import os
import ssl
import traceback
from pathlib import Path
from typing import Any, ClassVar

import pytest

import storagebackend as sb
from helpers.ftp_server import FTPServer
from helpers.support import FTP_PASSWORD, FTP_USER, available_codecs
from storagebackend.registry import codec_by_name
from storagebackend.storage import Storage
from storagebackend.testing import StorageMachine
from storagebackend.transports.ftp import FTPTransport

# -- the conformance state machine over FTP and FTPS ------------------------------------------------------


class FTPMachine(StorageMachine):
    """Each example in its own folder on the shared server (which the first sync creates)."""

    server: ClassVar[FTPServer]
    context: ClassVar[ssl.SSLContext | None] = None
    extension: ClassVar[str] = ".json"
    # Each step may download and upload the whole file, so fewer examples than on local files:
    # 10 examples of up to 20 steps per codec on FTP, 10 on FTPS with JSON (TLS on both channels).
    max_examples = 10
    step_count = 20

    def open_storage(self, flag: str) -> Storage:
        options: dict[str, Any] = {"ssl_context": self.context} if self.context else {}
        return sb.open(self.server.url(f"{self.name}/store{self.extension}"), flag=flag, **options)


def _ftp_case(codec: str, secure: bool) -> type[Any]:
    """The machine's TestCase on one codec, over the session's FTP or FTPS server."""
    name = f"FTP{'S' if secure else ''}{codec.title()}Machine"
    machine = type(name, (FTPMachine,), {"extension": codec_by_name(codec).extensions[0]})

    class Case(machine.TestCase):  # type: ignore[name-defined,misc]
        @pytest.fixture(autouse=True)
        def _server(self, request: pytest.FixtureRequest) -> None:
            machine.server = request.getfixturevalue("ftps_server" if secure else "ftp_server")
            machine.context = request.getfixturevalue("tls_context") if secure else None

    return Case


for _codec in available_codecs():
    globals()[f"TestFTP{_codec.title()}"] = _ftp_case(_codec, secure=False)
TestFTPSJson = _ftp_case("json", secure=True)
del _codec


# -- URLs (API.md section 2) --------------------------------------------------------------------------------


def test_url_parts_are_percent_decoded() -> None:
    transport = FTPTransport.from_url("ftp://sb%20user:p%40ss%3Aw%2Frd@example.com/dir/x%20y.json?codec=yaml")
    assert transport.server.user == "sb user"
    assert transport.server.password == "p@ss:w/rd"
    assert transport.server.port == 21
    assert transport.path == "dir/x y.json"
    assert transport.query == {"codec": "yaml"}
    assert transport.describe() == "ftp://sb%20user:***@example.com:21/dir/x%20y.json?codec=yaml"
    assert "p@ss" not in repr(transport)
    absolute = FTPTransport.from_url("ftps://u@example.com:2121//srv/x.json", timeout=3)
    assert (absolute.path, absolute.server.port, absolute.timeout) == ("/srv/x.json", 2121, 3.0)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com", "names no file"),
        ("ftp://example.com/dir/", "names no file"),
        ("ftp://u:secret@example.com:99999/x.json", "malformed URL"),
        ("ftp://u:secret@/x.json", "has no host"),
        ("ftp://u:secret@example.com/x.json?colour=red", "unknown query parameter 'colour'"),
        ("ftp://u:secret@example.com/x.unknown", "cannot tell the format"),
        ("ftp://u:secret@example.com/x.json?codec=nope", "unknown codec 'nope'"),
    ],
)
def test_bad_ftp_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        sb.open(url)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("password", ["top@secret", "top/secret", "top?secret", "top#secret", "top:secret"])
def test_an_unencoded_password_never_shows(password: str) -> None:
    """A password pasted without percent-encoding makes a malformed URL; the message hides it whole."""
    with pytest.raises(ValueError, match="malformed URL") as caught:
        sb.open(f"ftp://user:{password}@example.com:99999/x.json")
    assert "secret" not in str(caught.value)
    assert "user:***@" in str(caught.value)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="timeout"):
        sb.open("ftp://example.com/x.json", timeout=-1)
    with pytest.raises(ValueError, match="ssl_context is only for ftps"):
        sb.open("ftp://example.com/x.json", ssl_context=ssl.create_default_context())
    with pytest.raises(TypeError, match="'colour'"):
        sb.open("ftp://example.com/x.json", colour="red")


def test_timeout_inf_waits_forever_and_0_does_not_wait() -> None:
    """A socket timeout of 0 would make the socket non-blocking, so 0 becomes a tiny wait."""
    assert FTPTransport.from_url("ftp://example.com/x.json", timeout=math.inf).socket_timeout is None
    tiny = FTPTransport.from_url("ftp://example.com/x.json", timeout=0).socket_timeout
    assert tiny is not None and 0 < tiny <= 0.01
    assert FTPTransport.from_url("ftp://example.com/x.json", timeout=2.5).socket_timeout == 2.5


def test_timeout_inf_opens_a_connection_without_a_socket_timeout(ftp_server: FTPServer, folder: str) -> None:
    with sb.open(ftp_server.url(f"{folder}/forever.json"), timeout=math.inf) as store:
        store.create({"k": b"v"})
        connection = store.backend.transport._ftp  # type: ignore[attr-defined]
        assert connection.sock.gettimeout() is None
    with sb.open_config({"url": ftp_server.url(f"{folder}/forever.json"), "timeout": "inf", "flag": "r"}) as store:
        assert len(store) == 1


def test_a_timeout_longer_than_a_socket_can_count_waits_forever(ftp_server: FTPServer, folder: str) -> None:
    """Python's sockets cannot count past about 31 years (OverflowError): a longer timeout is no limit, as math.inf."""
    assert FTPTransport.from_url("ftp://example.com/x.json", timeout=1e10).socket_timeout is None
    with sb.open(ftp_server.url(f"{folder}/long.json"), timeout=1e10) as store:
        store.create({"k": b"v"})
        assert store.backend.transport._ftp.sock.gettimeout() is None  # type: ignore[attr-defined]


def test_open_config_builds_the_url(ftp_server: FTPServer, folder: str) -> None:
    settings = {
        "backend": "ftp",
        "host": "127.0.0.1",
        "port": ftp_server.port,
        "user": FTP_USER,
        "password": FTP_PASSWORD,
        "path": f"{folder}/conf.json",
    }
    with sb.open_config(settings) as store:
        uid = store.create({"a": b"1"}).uid
        assert FTP_PASSWORD not in repr(store)
    with sb.open_config({"url": ftp_server.url(f"{folder}/conf.json"), "flag": "r"}) as store:
        assert store[uid]["a"] == b"1"


# -- every codec, flags ----------------------------------------------------------------------------------


def test_round_trip_on_every_codec(ftp_server: FTPServer, folder: str, codec_name: str) -> None:
    url = ftp_server.url(f"{folder}/notes.data?codec={codec_name}")
    document = {"title": b"Hello world", "blob": b"\x00\xff", "empty": b""}
    with sb.open(url) as store:
        uid = store.create(document).uid
    with sb.open(url, flag="r") as store:
        assert store[uid] == document
    with sb.open(ftp_server.url(f"{folder}/notes.data"), codec=codec_name, flag="r") as store:
        assert store[uid] == document
    assert os.listdir(ftp_server.home / folder) == ["notes.data"]


def test_flag_c_creates_folders_and_file_at_the_first_sync(ftp_server: FTPServer, folder: str) -> None:
    store = sb.open(ftp_server.url(f"{folder}/a/b/c/new.json"))
    assert not (ftp_server.home / folder).exists()
    store.create({"a": b"1"})
    store.sync()
    assert (ftp_server.home / folder / "a/b/c/new.json").is_file()
    store.close()
    assert sorted(os.listdir(ftp_server.home / folder / "a/b/c")) == ["new.json"]  # no temporary file left


def test_flag_c_on_a_missing_file_creates_an_empty_store_at_close(ftp_server: FTPServer, folder: str) -> None:
    sb.open(ftp_server.url(f"{folder}/empty.json")).close()
    with sb.open(ftp_server.url(f"{folder}/empty.json"), flag="r") as store:
        assert len(store) == 0


@pytest.mark.parametrize("flag", ["w", "r"])
def test_flags_w_and_r_on_a_missing_file_create_nothing(ftp_server: FTPServer, folder: str, flag: str) -> None:
    with pytest.raises(sb.StoreNotFoundError, match=r"missing\.json"):
        sb.open(ftp_server.url(f"{folder}/sub/missing.json"), flag=flag)
    assert not (ftp_server.home / folder).exists()


def test_flag_r_never_writes(ftp_server: FTPServer, folder: str) -> None:
    with sb.open(ftp_server.url(f"{folder}/r.json")) as store:
        uid = store.create({"a": b"1"}).uid
    file = ftp_server.home / folder / "r.json"
    before = (file.read_bytes(), file.stat().st_mtime_ns, file.stat().st_ino)
    for flag in ("r", "w", "c"):
        with sb.open(ftp_server.url(f"{folder}/r.json"), flag=flag) as store:
            assert store[uid]["a"] == b"1"
    assert (file.read_bytes(), file.stat().st_mtime_ns, file.stat().st_ino) == before


def test_a_corrupt_remote_file(ftp_server: FTPServer, folder: str) -> None:
    (ftp_server.home / folder).mkdir()
    file = ftp_server.home / folder / "bad.json"
    file.write_bytes(b'{"not": "a store"}')
    with pytest.raises(sb.CorruptStoreError, match=r"bad\.json") as caught:
        sb.open(ftp_server.url(f"{folder}/bad.json"))
    assert FTP_PASSWORD not in str(caught.value)
    assert file.read_bytes() == b'{"not": "a store"}'
    file.write_bytes(b"")
    with pytest.raises(sb.CorruptStoreError, match="flag 'n'"):
        sb.open(ftp_server.url(f"{folder}/bad.json"))
    with sb.open(ftp_server.url(f"{folder}/bad.json"), flag="n") as store:
        store.create({})
    with sb.open(ftp_server.url(f"{folder}/bad.json"), flag="r") as store:
        assert len(store) == 1


def test_a_remote_folder_is_not_a_store(ftp_server: FTPServer, folder: str) -> None:
    (ftp_server.home / folder / "dir.json").mkdir(parents=True)
    with pytest.raises(sb.StorageIOError, match=r"dir\.json"):
        sb.open(ftp_server.url(f"{folder}/dir.json"))


# -- conflicts instead of locks (API.md section 7) ------------------------------------------------------------


def test_the_second_writer_gets_a_conflict(ftp_server: FTPServer, folder: str) -> None:
    url = ftp_server.url(f"{folder}/shared.json")
    with sb.open(url) as store:
        uid = store.create({"v": b"0"}).uid
    first, second = sb.open(url), sb.open(url)
    first[uid]["v"] = b"first"
    second[uid]["v"] = b"second"
    first.sync()
    with pytest.raises(sb.ConflictError, match=r"shared\.json"):
        second.sync()
    assert second[uid]["v"] == b"second"  # the changes stay, for the caller to decide
    with pytest.raises(sb.ConflictError):
        second.close()
    assert not second.closed
    second.discard()
    second.close()
    first.close()
    with sb.open(url, flag="r") as store:
        assert store[uid]["v"] == b"first"
    assert sorted(os.listdir(ftp_server.home / folder)) == ["shared.json"]


def test_a_same_size_change_within_the_second_is_a_conflict(ftp_server: FTPServer, folder: str) -> None:
    """Size and MDTM would not see this change; the content hash does."""
    url = ftp_server.url(f"{folder}/same.json")
    with sb.open(url) as store:
        uid = store.create({"v": b"aaaa"}).uid
    file = ftp_server.home / folder / "same.json"
    store = sb.open(url)
    info = file.stat()
    file.write_bytes(file.read_bytes().replace(b"aaaa", b"bbbb"))
    os.utime(file, ns=(info.st_atime_ns, info.st_mtime_ns))
    store[uid]["v"] = b"mine"
    with pytest.raises(sb.ConflictError):
        store.sync()
    store.discard()
    store.close()
    assert b"bbbb" in file.read_bytes()


def test_a_file_that_appeared_or_vanished_is_a_conflict(ftp_server: FTPServer, folder: str) -> None:
    url = ftp_server.url(f"{folder}/racy.json")
    first, second = sb.open(url), sb.open(url)  # both see no file
    first.create({"by": b"first"})
    first.close()
    second.create({"by": b"second"})
    with pytest.raises(sb.ConflictError, match="created"):
        second.sync()
    second.discard()
    second.close()

    third = sb.open(url)
    os.unlink(ftp_server.home / folder / "racy.json")
    third.create({})
    with pytest.raises(sb.ConflictError, match="deleted"):
        third.sync()
    third.discard()
    third.close()
    assert os.listdir(ftp_server.home / folder) == []


def test_the_same_bytes_written_twice_are_no_conflict(ftp_server: FTPServer, folder: str) -> None:
    url = ftp_server.url(f"{folder}/same-bytes.json")
    with sb.open(url) as store:
        uid = store.create({"v": b"0"}).uid
    first, second = sb.open(url), sb.open(url)
    first[uid]["v"] = second[uid]["v"] = b"1"
    first.sync()
    second.sync()  # the file already holds exactly what it would write
    first.close()
    second.close()


# -- servers that go away, refuse, or behave differently ---------------------------------------------------


def test_the_store_reconnects_after_a_server_restart(
    own_ftp_server: FTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_ftp_server.url("restart.json")
    store = sb.open(url)
    uid = store.create({"a": b"1"}).uid
    store.sync()
    own_ftp_server.kill()
    own_ftp_server.start()
    store[uid]["b"] = b"2"
    with caplog.at_level(logging.WARNING):
        store.sync()  # the old connection is dead: a new one, and the sync succeeds
    assert "trying again" in caplog.text
    assert FTP_PASSWORD not in caplog.text
    store.close()
    with sb.open(url, flag="r") as again:
        assert again[uid] == {"a": b"1", "b": b"2"}


def test_a_sync_while_the_server_is_down_keeps_the_changes(
    own_ftp_server: FTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = own_ftp_server.url("down.json")
    store = sb.open(url)
    uid = store.create({"a": b"1"}).uid
    own_ftp_server.kill()
    with caplog.at_level(logging.DEBUG), pytest.raises(sb.BackendUnavailableError) as caught:
        store.sync()
    assert f"127.0.0.1:{own_ftp_server.port}" in str(caught.value)
    assert FTP_PASSWORD not in str(caught.value) + repr(caught.value) + caplog.text
    assert store[uid]["a"] == b"1"
    with pytest.raises(sb.BackendUnavailableError):
        store.close()
    assert not store.closed
    own_ftp_server.start()
    store.close()
    with sb.open(url, flag="r") as again:
        assert again[uid]["a"] == b"1"


def test_an_unreachable_server(own_ftp_server: FTPServer, caplog: pytest.LogCaptureFixture) -> None:
    own_ftp_server.kill()
    with caplog.at_level(logging.DEBUG), pytest.raises(sb.BackendUnavailableError) as caught:
        sb.open(own_ftp_server.url("x.json"), timeout=5)
    message = str(caught.value)
    assert f"127.0.0.1:{own_ftp_server.port}" in message
    assert isinstance(caught.value, ConnectionError)
    for text in (message, repr(caught.value), caplog.text):
        assert FTP_PASSWORD not in text
        assert "p%40ss" not in text


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it links to, through both ``__cause__`` and ``__context__``."""
    found: list[BaseException] = []
    waiting = [exc]
    while waiting:
        each = waiting.pop()
        if each is not None and all(each is not seen for seen in found):
            found.append(each)
            waiting += [each.__cause__, each.__context__]  # type: ignore[list-item]
    return found


@pytest.mark.parametrize("secure", [False, True], ids=["ftp", "ftps"])
def test_a_refused_login_is_an_authentication_error_that_never_shows_the_password(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, secure: bool
) -> None:
    server: FTPServer = request.getfixturevalue("ftps_server" if secure else "ftp_server")
    options = {"ssl_context": request.getfixturevalue("tls_context")} if secure else {}
    wrong = "wr0ng:p@ss/%ж"
    url = server.url("x.json", password=wrong)
    with caplog.at_level(logging.DEBUG), pytest.raises(sb.AuthenticationError) as caught:
        sb.open(url, **options)
    assert isinstance(caught.value, PermissionError)
    assert not isinstance(caught.value, ConnectionError)  # "credentials refused", not "cannot reach"
    assert "refused the login of user 'sb user'" in str(caught.value)
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    chain = _chain(caught.value)
    assert len(chain) == 2  # the error and the server's reply as its cause
    shown = [caplog.text, "".join(traceback.format_exception(caught.value))]
    for exc in chain:
        shown += [str(exc), repr(exc), repr(exc.args)]
    for secret in (wrong, FTP_PASSWORD, "wr0ng", "p%40ss"):
        for text in shown:
            assert secret not in text


def test_an_open_store_never_shows_the_password(ftp_server: FTPServer) -> None:
    with sb.open(ftp_server.url("ok.json")) as store:
        for text in (repr(store), str(store), repr(store.backend.transport), store.backend.describe()):  # type: ignore[attr-defined]
            assert FTP_PASSWORD not in text
            assert "p%40ss" not in text


def test_a_server_that_will_not_rename_over_a_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The old file is deleted first, then the new one renamed into place (and a warning says so)."""
    home = tmp_path / "home"
    home.mkdir()
    server = FTPServer(home, FTP_USER, FTP_PASSWORD, no_rename_over=True)
    server.start()
    try:
        url = server.url("strict.json")
        with sb.open(url) as store:
            uid = store.create({"a": b"1"}).uid
        with caplog.at_level(logging.WARNING), sb.open(url) as store:
            store[uid]["a"] = b"2"
        assert "refused to rename over the existing file" in caplog.text
        with sb.open(url, flag="r") as store:
            assert store[uid]["a"] == b"2"
        assert server.files() == ["strict.json"]
    finally:
        server.kill()


# -- FTPS ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", available_codecs()[:1])
def test_ftps_round_trip(ftps_server: FTPServer, tls_context: ssl.SSLContext, folder: str, codec: str) -> None:
    """The server requires TLS on both channels, so a transfer that works was protected."""
    url = ftps_server.url(f"{folder}/secure.json")
    with sb.open(url, ssl_context=tls_context) as store:
        uid = store.create({"secret": b"\x00data"}).uid
    with sb.open(url, ssl_context=tls_context, flag="r") as store:
        assert store[uid]["secret"] == b"\x00data"
    assert b"storagebackend" in (ftps_server.home / folder / "secure.json").read_bytes()


def test_ftps_refuses_an_untrusted_certificate(ftps_server: FTPServer, folder: str) -> None:
    with pytest.raises(sb.BackendUnavailableError, match="not trusted") as caught:
        sb.open(ftps_server.url(f"{folder}/x.json"))
    assert FTP_PASSWORD not in str(caught.value)


def test_plain_ftp_to_a_server_that_requires_tls(ftps_server: FTPServer, folder: str) -> None:
    url = ftps_server.url(f"{folder}/x.json").replace("ftps://", "ftp://", 1)
    with pytest.raises(sb.BackendUnavailableError, match="refused") as caught:
        sb.open(url)
    assert FTP_PASSWORD not in str(caught.value)
