"""API.md section 2: opening by URL, flags, options and config mappings."""

from __future__ import annotations

import math
import os
import ssl
import threading
from pathlib import Path

import pytest

import storagebackend as sb
from storagebackend.urls import redact


def test_sqlite_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    uids = {}
    for url in (
        "sqlite:///" + str(tmp_path / "abs.db"),
        "sqlite:rel.db",
        "bare.db",
        "x.sqlite",
        "y.sqlite3",
        tmp_path / "path.db",
    ):
        with sb.open(url) as store:
            assert type(store.backend).__name__ == "SQLiteBackend"
            uids[str(url)] = store.create({"k": b"v"}).uid
    assert (tmp_path / "abs.db").exists()
    assert (tmp_path / "rel.db").exists()
    assert (tmp_path / "bare.db").exists()
    with sb.open("sqlite:" + str(tmp_path / "abs.db"), flag="r") as store:
        assert list(store) == [uids["sqlite:///" + str(tmp_path / "abs.db")]]
    with sb.open("sqlite:////" + str(tmp_path / "abs.db").lstrip("/"), flag="r") as store:
        assert len(store) == 1


def test_percent_encoded_sqlite_path(tmp_path: Path) -> None:
    with sb.open("sqlite://" + str(tmp_path) + "/with%20space.db"):
        pass
    assert (tmp_path / "with space.db").exists()


def test_memory_url() -> None:
    with sb.open("memory://") as store:
        assert not store.backend.persistent
        store.create()
    with sb.open("memory://") as store:
        assert len(store) == 0  # nothing persisted


@pytest.mark.parametrize("url", ["nosuch://x", "gopher://host/x.json"])
def test_unknown_scheme_lists_known_ones(url: str) -> None:
    with pytest.raises(ValueError, match="known schemes: .*sqlite") as info:
        sb.open(url)
    assert "memory" in str(info.value)


def test_bad_flag_and_bad_url_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flag"):
        sb.open("memory://", flag="x")
    with pytest.raises(TypeError):
        sb.open(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty URL"):
        sb.open("")


def test_unknown_option_is_type_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'colour'"):
        sb.open("memory://", colour="blue")
    with pytest.raises(TypeError, match="'codec'"):
        sb.open(f"sqlite:///{tmp_path}/x.db", codec="json")
    assert not (tmp_path / "x.db").exists()


def test_common_options_accepted_everywhere(tmp_path: Path) -> None:
    for url in ("memory://", f"sqlite:///{tmp_path}/x.db"):
        with sb.open(url, max_key_length=40, max_value_size=10, lock_timeout=1.0) as store:
            store.create({"k" * 40: b"0123456789"})


# -- option values (API.md section 2): checked at open, each error naming the option ---------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"lock_timeout": math.nan}, ValueError),
        ({"lock_timeout": -1}, ValueError),
        ({"lock_timeout": -math.inf}, ValueError),
        ({"lock_timeout": True}, TypeError),
        ({"lock_timeout": "3"}, TypeError),
        ({"lock_timeout": "x"}, TypeError),
        ({"lock_timeout": None}, TypeError),
        ({"max_key_length": 0}, ValueError),
        ({"max_key_length": True}, TypeError),
        ({"max_key_length": "64"}, TypeError),
        ({"max_value_size": 2.0}, TypeError),
        ({"max_value_size": -5}, ValueError),
    ],
)
def test_option_values_are_checked_at_open_naming_the_option(
    tmp_path: Path, options: dict[str, object], error: type[Exception]
) -> None:
    for url in (tmp_path / "x.json", f"sqlite:{tmp_path}/x.db", "memory://"):
        with pytest.raises(error) as caught:
            sb.open(url, **options)
        assert type(caught.value) is error  # a wrong type is not also a ValueError, nor the reverse
        assert f"{next(iter(options))} must be" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # checked before anything was created


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"timeout": math.nan}, ValueError),
        ({"timeout": -0.5}, ValueError),
        ({"timeout": "30"}, TypeError),
        ({"timeout": False}, TypeError),
        ({"ssl_context": "yes"}, TypeError),
        ({"ssl_context": ssl.SSLSocket}, TypeError),
    ],
)
def test_server_option_values_are_checked_before_connecting(options: dict[str, object], error: type[Exception]) -> None:
    # Port 1: nothing listens there, so only a check at open can raise the option's error.
    with pytest.raises(error) as caught:
        sb.open("ftps://user:pw@127.0.0.1:1/x.json", **options)
    assert type(caught.value) is error
    assert f"{next(iter(options))} must be" in str(caught.value)


def test_open_config_takes_numbers_as_numbers_or_decimal_strings(tmp_path: Path) -> None:
    url = str(tmp_path / "x.json")
    settings = {"url": url, "lock_timeout": "2.5", "max_key_length": "64", "max_value_size": " 10 "}
    with sb.open_config(settings) as store:
        assert (store.limits.max_key_length, store.limits.max_value_size) == (64, 10)
        store.create({"k" * 64: b"0123456789"})
    with sb.open_config({"url": url, "lock_timeout": 2, "max_key_length": 64, "max_value_size": 10}) as store:
        assert (store.limits.max_key_length, store.limits.max_value_size) == (64, 10)
    with sb.open_config({"url": url, "lock_timeout": "inf", "flag": "r"}) as store:
        assert len(store) == 1
    with pytest.raises(TypeError, match="max_key_length"):
        sb.open(url, max_key_length="64")  # only open_config reads text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("lock_timeout", "x"),
        ("lock_timeout", "nan"),
        ("lock_timeout", "-1"),
        ("lock_timeout", ""),
        ("max_key_length", "64.0"),
        ("max_key_length", "0"),
        ("max_value_size", "1e3"),
        ("max_value_size", "0x10"),
    ],
)
def test_open_config_refuses_a_string_that_is_no_such_number(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be .*{text!r}") as caught:
        sb.open_config({"url": str(tmp_path / "x.json"), name: text})
    assert type(caught.value) is ValueError
    assert list(tmp_path.iterdir()) == []


def test_open_config_refuses_a_port_that_is_no_port() -> None:
    for port, error in (("abc", ValueError), ("70000", ValueError), (True, TypeError), ("0", ValueError)):
        with pytest.raises(error, match="^port must be"):
            sb.open_config({"backend": "ftp", "host": "127.0.0.1", "port": port, "path": "x.json"})


def test_lock_timeout_0_tries_once_and_inf_waits_until_the_lock_is_free(tmp_path: Path) -> None:
    path = tmp_path / "locked.json"
    outcome: list[object] = []

    def wait_forever() -> None:
        try:
            with sb.open(path, lock_timeout=math.inf) as store:
                outcome.append(len(store))
        except Exception as exc:  # the main thread reports it
            outcome.append(exc)

    with sb.open(path) as holder:
        holder.create()
        holder.sync()
        with pytest.raises(sb.StorageLockedError, match="after 0 s"):
            sb.open(path, lock_timeout=0)
        waiter = threading.Thread(target=wait_forever)
        waiter.start()
        waiter.join(0.5)
        assert waiter.is_alive() and outcome == []  # still waiting: inf never gives up
    waiter.join(60)
    assert outcome == [1]


@pytest.mark.parametrize("flag", ["w", "r"])
def test_missing_store_with_w_or_r(tmp_path: Path, flag: str) -> None:
    with pytest.raises(sb.StoreNotFoundError) as info:
        sb.open(f"sqlite:///{tmp_path}/missing.db", flag=flag)
    assert isinstance(info.value, FileNotFoundError)
    assert "missing.db" in str(info.value)
    assert os.listdir(tmp_path) == []
    with pytest.raises(sb.StoreNotFoundError):
        sb.open("memory://", flag=flag)


def test_flag_c_creates_at_open(tmp_path: Path) -> None:
    store = sb.open(f"sqlite:///{tmp_path}/new.db")
    assert (tmp_path / "new.db").exists()
    store.close()
    with sb.open(f"sqlite:///{tmp_path}/new.db", flag="w") as store:
        assert len(store) == 0


def test_flag_n_starts_empty_and_close_leaves_it_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/n.db"
    with sb.open(url) as store:
        store.create({"a": b"1"})
    with sb.open(url, flag="n") as store:
        assert len(store) == 0
        store.discard()  # the empty start is the state of the open
        assert len(store) == 0
    with sb.open(url, flag="r") as store:
        assert len(store) == 0


def test_flag_n_over_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database at all" * 10)
    with sb.open(str(path), flag="n") as store:
        store.create({"a": b"1"})
    with sb.open(str(path), flag="r") as store:
        assert len(store) == 1


def test_open_config(tmp_path: Path) -> None:
    path = str(tmp_path / "conf.db")
    with sb.open_config({"backend": "sqlite", "path": path}) as store:
        uid = store.create({"a": b"1"}).uid
    with sb.open_config({"url": "sqlite:" + path, "flag": "r", "max_key_length": 10}) as store:
        assert store.read_only
        assert store.limits.max_key_length == 10
        assert store[uid]["a"] == b"1"
    with sb.open_config({"backend": "memory"}) as store:
        assert not store.backend.persistent


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"backend": "sqlite", "path": "x.db", "colour": 1}, "'colour'"),
        ({"url": "memory://", "bogus": True}, "'bogus'"),
        ({"url": "memory://", "path": "x"}, "'path'"),
        ({}, "exactly one"),
        ({"url": "memory://", "backend": "memory"}, "exactly one"),
        ({"backend": "sqlite"}, "'path'"),
        ({"backend": "memory", "path": "x"}, "'path'"),
    ],
)
def test_open_config_errors(settings: dict[str, object], words: str, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=words):
        sb.open_config(settings)


def test_open_config_unknown_backend() -> None:
    with pytest.raises(ValueError, match="known schemes"):
        sb.open_config({"backend": "nosuch", "path": "x"})


# -- URLs the fuzzer found (fuzz/open_url.py) -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:Pw7xQ\udcff@127.0.0.1:1/x.json",  # a lone surrogate in the password
        "ftp:/\r/user:Pw7xQ@127.0.0.1:1/x.json",  # urlsplit drops the \r and finds a password
        "redis://:Pw7xQ@127.0.0.1:1/0\n",
        "postgresql://u:Pw7xQ@127.0.0.1:1/db\t?table=x",
    ],
)
def test_a_malformed_server_url_is_a_value_error_that_hides_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="malformed URL") as caught:
        sb.open(url)
    assert type(caught.value) is ValueError
    assert "Pw7xQ" not in str(caught.value)
    assert redact(url).count("Pw7xQ") == 0


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("notes\0.json", "NUL"),
        ("file:notes%00.json", "NUL"),
        ("notes\ud800.json", "lone surrogate"),
        ("sqlite:notes\udfff.db", "lone surrogate"),
    ],
)
def test_a_path_no_file_can_have_is_a_value_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=words) as caught:
        sb.open(url)
    assert type(caught.value) is ValueError
    assert list(tmp_path.iterdir()) == []


def test_a_percent_escape_of_a_byte_that_is_not_utf8_is_that_byte_of_the_file_name(tmp_path: Path) -> None:
    with sb.open(f"file://{tmp_path}/caf%E9.json") as store:
        store.create({"k": b"v"})
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [b"caf\xe9.json", b"caf\xe9.json.lock"]
