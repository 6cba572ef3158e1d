"""Shared fixtures: core backends (memory, SQLite), every codec, real FTP/FTPS, S3, PostgreSQL and Redis servers."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import storagebackend as sb
from helpers.ftp_server import FTPServer, running
from helpers.s3_server import S3Server
from helpers.s3_server import running as running_s3
from helpers.servers import (
    POSTGRES_ENV,
    REDIS_ENV,
    postgres_server,
    postgres_url,
    private_stores,
    redis_server,
    redis_url,
    stores,
)
from helpers.support import FTP_PASSWORD, FTP_USER, available_codecs, make_certificate
from storagebackend.registry import codec_by_name
from storagebackend.storage import Storage

# Hypothesis settings for the whole suite, in this one place: no deadline (the machine is shared and
# slow at times) and no health check for examples that are slow to make or big; a test sets only its
# example count. The conformance machine's own settings are in storagebackend/testing/machine.py.
settings.register_profile(
    "storagebackend", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("storagebackend")

CORE_BACKENDS = ["memory", "sqlite"]


def core_url(kind: str, folder: Path) -> str:
    """A URL of the kind of store named, inside ``folder``."""
    return "memory://" if kind == "memory" else f"sqlite:///{folder}/store.db"


@pytest.fixture(params=CORE_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """An open, empty store of each core backend."""
    with sb.open(core_url(request.param, tmp_path)) as opened:
        yield opened


@pytest.fixture(params=CORE_BACKENDS)
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Storage]:
    """Opens the same persistent store again and again (memory:// is skipped where reopening matters)."""
    url = core_url(request.param, tmp_path)

    def opener(flag: str = "c", **options: object) -> Storage:
        return sb.open(url, flag=flag, **options)

    opener.persistent = request.param != "memory"  # type: ignore[attr-defined]
    return opener


@pytest.fixture(params=available_codecs())
def codec_name(request: pytest.FixtureRequest) -> str:
    """Each codec in turn (json, msgpack, yaml, toml, ini: those this checkout has)."""
    return str(request.param)


@pytest.fixture
def extension(codec_name: str) -> str:
    """The codec's first file extension, e.g. ``.json``."""
    return codec_by_name(codec_name).extensions[0]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Certificate and key files of the test FTPS server."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def tls_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the test server's certificate (and checks the host name)."""
    return ssl.create_default_context(cafile=str(tls_files[0]))


def _server(home: Path, tls: tuple[Path, Path] | None = None, **kwargs: bool) -> Iterator[FTPServer]:
    yield from running(home, FTP_USER, FTP_PASSWORD, tls=tls, **kwargs)


@pytest.fixture(scope="session")
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FTPServer]:
    """A plain FTP server shared by the session; tests use their own folders in it."""
    yield from _server(tmp_path_factory.mktemp("ftp-home"))


@pytest.fixture(scope="session")
def ftps_server(tmp_path_factory: pytest.TempPathFactory, tls_files: tuple[Path, Path]) -> Iterator[FTPServer]:
    """An FTPS server (TLS required on control and data channels) shared by the session."""
    yield from _server(tmp_path_factory.mktemp("ftps-home"), tls=tls_files)


@pytest.fixture
def own_ftp_server(tmp_path: Path) -> Iterator[FTPServer]:
    """An FTP server for one test, which may stop, kill and restart it."""
    home = tmp_path / "ftp-home"
    home.mkdir()
    yield from _server(home)


@pytest.fixture
def folder(request: pytest.FixtureRequest) -> str:
    """A folder name on the shared servers unique to this test."""
    return "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name)[:80]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3 API server (moto's standalone server) shared by the session, checking credentials; tests use their
    own buckets (``s3_bucket``)."""
    yield from running_s3()


@pytest.fixture
def s3_bucket(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """A new bucket on the shared S3 server for this test alone."""
    return s3_server.new_bucket(request.node.name)


@pytest.fixture
def own_s3_server() -> Iterator[S3Server]:
    """An S3 server for one test, which may kill and restart it (empty then); it takes any credentials,
    since a restarted server would have new ones."""
    yield from running_s3(authenticate=False)


# The server fixtures (real PostgreSQL and Redis, tests/helpers/servers.py), for every test module.
__all__ = ["postgres_server", "postgres_url", "private_stores", "redis_server", "redis_url", "stores"]


def pytest_report_header() -> list[str]:
    """Say in the test output which servers the server tests use."""
    from storagebackend.urls import redact

    return [
        f"{name}: {redact(os.environ[name]) if os.environ.get(name) else 'not set (a private server is started)'}"
        for name in (POSTGRES_ENV, REDIS_ENV)
    ]
