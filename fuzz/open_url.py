"""Fuzz ``sb.open(url)``: URL parsing of every scheme, without a network and inside a sandbox.

The first byte picks flag "r" or "w" (neither creates a store); the rest, as
UTF-8 (invalid bytes become lone surrogates), is the URL. ``open`` must return a
store or raise a StorageError or a plain ValueError (a malformed URL), and:

- where the URL has a password containing ``Pw7xQ``, that never appears in the
  error's message, repr, traceback, or anything logged;
- the files in the sandbox (a store of each kind, a corrupt one, a folder) are
  byte-identical afterwards, and nothing but lock files appears there.

No traffic leaves the process: every socket connect and name lookup fails at
once (so FTP, S3, PostgreSQL and Redis URLs meet an unreachable server), and the
retry pauses are skipped. Local paths that resolve outside the sandbox are not
opened (a lock file beside ``/etc/passwd`` is not what a fuzzer should make).
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import _common

_common.load()
import storagebackend as sb
from storagebackend.backends.sqlite import SQLiteBackend
from storagebackend.errors import StorageError
from storagebackend.transports.local import LocalTransport
from storagebackend.urls import split_scheme

SECRET = "Pw7xQ"
SERVER_SCHEMES = ("ftp", "ftps", "postgresql", "redis", "s3")


class Outside(Exception):
    """A local path outside the sandbox: not opened, not a finding."""


# -- no network, no waiting ---------------------------------------------------------------------


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise ConnectionRefusedError(111, "Connection refused (the fuzzer has no network)")


def _no_name(*args: Any, **kwargs: Any) -> Any:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (the fuzzer has no network)")


socket.create_connection = _refuse  # type: ignore[assignment]
socket.socket.connect = _refuse  # type: ignore[method-assign]
socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
socket.getaddrinfo = _no_name
time.sleep = lambda seconds: None
try:
    import psycopg

    def _no_postgres(*args: Any, **kwargs: Any) -> Any:
        raise psycopg.OperationalError("connection refused (the fuzzer has no network)")

    psycopg.connect = _no_postgres  # type: ignore[assignment]
    psycopg.Connection.connect = _no_postgres  # type: ignore[method-assign,assignment]
except ImportError:  # the postgres extra is not installed: its URLs fail with an install hint
    pass

# -- a sandbox folder for local paths ---------------------------------------------------------------

SANDBOX = Path(tempfile.mkdtemp(prefix="sb-fuzz-open-url-")).resolve()
atexit.register(shutil.rmtree, SANDBOX, ignore_errors=True)
os.chdir(SANDBOX)
for _name in ("s.json", "s.msgpack", "s.yaml", "s.toml", "s.ini", "s.db"):
    with sb.open(_name) as _store:
        _store["0123456789abcdef0123456789abcdef"] = {"title": b"Hello", "blob": b"\xff"}
Path("corrupt.yaml").write_bytes(b"format: storagebackend\nversion: [1\n")
Path("empty.json").write_bytes(b"")
Path("folder.toml").mkdir()
FILES = {name: Path(name).read_bytes() for name in os.listdir(".") if Path(name).is_file()}
# Lock files beside the stores; SQLite's WAL index and log, which a read-only connection leaves.
ALLOWED = {*FILES, "folder.toml", "s.db-wal", "s.db-shm"} | {name + ".lock" for name in (*FILES, "folder.toml")}


def _inside(path: str | os.PathLike[str]) -> None:
    try:
        real = os.path.realpath(os.fspath(path))
    except (ValueError, OSError):
        return  # let the code under test meet it
    if os.path.commonpath([real, SANDBOX]) != str(SANDBOX):
        raise Outside(real)


def _sandboxed(cls: Any) -> None:
    original = cls.__init__

    def __init__(self: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        _inside(path)
        original(self, path, *args, **kwargs)

    cls.__init__ = __init__


_sandboxed(LocalTransport)
_sandboxed(SQLiteBackend)

# -- every log record, formatted, to look for the password -----------------------------------------

LOG = io.StringIO()
_handler = logging.StreamHandler(LOG)
_handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
logging.getLogger().addHandler(_handler)
logging.getLogger().setLevel(logging.DEBUG)


def _password(url: str) -> str | None:
    """The password that the URL spells with the marker in it, if it holds exactly one."""
    if url.count(SECRET) != 1 or split_scheme(url)[0] not in SERVER_SCHEMES:
        return None  # a bare path may hold anything, and shows in messages whole
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return SECRET if password is not None and SECRET in unquote(password) else None


def _check_hidden(secret: str, texts: list[str]) -> None:
    for text in texts:
        if secret in text:
            raise AssertionError(f"the password shows: {text!r}")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flag = "r" if data[0] & 1 else "w"
    url = data[1:].decode("utf-8", "surrogateescape")
    secret = _password(url)
    LOG.seek(0)
    LOG.truncate()
    try:
        store = sb.open(url, flag=flag)
    except Outside:
        return
    except (StorageError, ValueError) as exc:
        if not isinstance(exc, StorageError) and type(exc) is not ValueError:
            raise
        _common.check_message(exc)
        if secret is not None:
            _check_hidden(secret, [str(exc), repr(exc), "".join(traceback.format_exception(exc)), LOG.getvalue()])
    else:
        shown = [repr(store), str(store), LOG.getvalue()]
        store.close()
        if secret is not None:
            _check_hidden(secret, shown)
    for name, content in FILES.items():
        if Path(name).read_bytes() != content:
            raise AssertionError(f"opening {url!r} with flag {flag!r} changed {name}")
    extra = set(os.listdir(".")) - ALLOWED
    if extra:
        raise AssertionError(f"opening {url!r} with flag {flag!r} created {sorted(extra)}")


if __name__ == "__main__":
    _common.main(test_one_input)
