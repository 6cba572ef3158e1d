"""Real PostgreSQL and Redis servers for the tests, and the fixtures that hand them out.

``postgres_url`` / ``redis_url`` (session): the server in ``SB_POSTGRES_URL`` /
``SB_REDIS_URL`` when set (``.ci/run`` sets them, see ``.ci/services.sh``),
else a private server started here from the installed binaries.
``postgres_server`` / ``redis_server`` (session): always a private server on a
free loopback port, which the restart tests stop and start at will.

A test that cannot get its server skips, saying what to install or set; with
``CI=true`` it fails instead (and there the URL must come from the CI script),
so a CI run never passes by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import quote

import pytest

from storagebackend.storage import Storage

if TYPE_CHECKING:  # the drivers are imported where used: tests of codecs alone run without them
    import psycopg
    import redis

POSTGRES_ENV = "SB_POSTGRES_URL"
REDIS_ENV = "SB_REDIS_URL"
#: The password of the private servers: characters that must be percent-encoded in a URL.
PASSWORD = "s3cret p@ss:w/rd%"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI=true, where every server must be there."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing server fails the run)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def with_query(url: str, name: str, value: str) -> str:
    """``url`` with one more query parameter."""
    return f"{url}{'&' if '?' in url else '?'}{name}={quote(value, safe='')}"


def _wait(ready: Callable[[], object], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready within {seconds:g} s")
        time.sleep(0.1)


# -- PostgreSQL ----------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if debian:
        return debian[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


class PostgresServer:
    """A private PostgreSQL cluster in a temporary folder, on a free loopback port.

    PostgreSQL refuses to run as root, so as root its programs run as the
    ``postgres`` user (``runuser``) and the folder belongs to that user.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="sb-postgres-"))
        self.data = self.folder / "data"
        self.as_root = os.geteuid() == 0
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
            shutil.chown(password_file, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C",
            "--auth=scram-sha-256", f"--pwfile={password_file}",
        )  # fmt: skip
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.folder)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stdout}{result.stderr}")

    def start(self) -> None:
        settings = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder} "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60", "-o", settings, "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def drop_postgres_store(url: str, table: str) -> None:
    """Remove the three tables of store ``table`` (cleanup after a test)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {}, {}, {}").format(
                *(sql.Identifier(table + suffix) for suffix in ("", "_documents", "_entries"))
            )
        )


def _libpq_url(url: str) -> str:
    """The URL without our query parameters, as psycopg itself accepts it."""
    return url.partition("?")[0]


def postgres_connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A direct psycopg connection, to look at or tamper with the tables."""
    import psycopg

    return psycopg.connect(_libpq_url(url), autocommit=True)


# -- Redis -----------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server on a free loopback port, persisting to an append-only file.

    It requires ``password`` (the private servers' PASSWORD unless told otherwise; None: no password);
    ``settings`` adds lines to its configuration file.
    """

    def __init__(self, program: str, password: str | None = PASSWORD, settings: str = "") -> None:
        self.program = program
        self.password = password
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="sb-redis-"))
        config = self.folder / "redis.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.folder}\nappendonly yes\nappendfsync always\n"
            f'save ""\nlogfile {self.folder / "log"}\n' + (f'requirepass "{password}"\n' if password else "") + settings
        )
        config.chmod(0o600)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password)

    def start(self) -> None:
        self.process = subprocess.Popen([self.program, str(self.folder / "redis.conf")], cwd=self.folder)
        with self.client() as client:
            _wait(client.ping, f"redis-server on port {self.port}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()  # SIGTERM: redis flushes its append-only file and exits
            process.wait(30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def redis_connect(url: str) -> redis.Redis:
    """A direct redis-py client, to look at or tamper with the keys."""
    import redis

    return redis.Redis.from_url(_libpq_url(url))


def drop_redis_store(url: str, prefix: str) -> None:
    """Remove every key of store ``prefix`` (cleanup after a test)."""
    with redis_connect(url) as client:
        keys = [f"{prefix}:{name}" for name in ("meta", "docs", "order", "seq")]
        for kind in ("doc", "pos"):
            keys += client.scan_iter(match=f"{prefix}:{kind}:*", count=1000)
        client.delete(*keys)


def ordered_contents(store: Storage) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """The whole store as ordered lists, read every way that shows order (they must all agree)."""
    listed = [(uid.hex, list(store[uid].items())) for uid in store]
    copied = [(uid.hex, list(document.items())) for uid, document in store.copy().items()]
    fetched = [(uid.hex, list(store.get_document(uid).items())) for uid in store]
    viewed = [(uid.hex, [(key, document[key]) for key in document]) for uid, document in store.items()]
    assert listed == copied == fetched == viewed
    return listed


# -- fresh stores on a server --------------------------------------------------------------


class Stores:
    """Hands out URLs of fresh stores on one server (a new table or prefix each) and removes them."""

    def __init__(self, kind: str, base_url: str, server: PostgresServer | RedisServer | None = None) -> None:
        self.kind = kind  # "postgresql" or "redis"
        self.base_url = base_url
        self.server = server  # a private server the test may stop and start, or None
        self.option = "table" if kind == "postgresql" else "prefix"
        self.names: list[str] = []

    def __repr__(self) -> str:
        return f"<Stores {self.kind}>"

    def new_name(self) -> str:
        name = "sb_" + uuid.uuid4().hex[:12]
        self.names.append(name)
        return name

    def url(self, name: str | None = None) -> str:
        """The URL of store ``name`` (a fresh one if None)."""
        return with_query(self.base_url, self.option, name or self.new_name())

    def exists(self, name: str) -> bool:
        """Whether anything of store ``name`` is on the server."""
        if self.kind == "postgresql":
            with postgres_connect(self.base_url) as conn:
                found = conn.execute(
                    "SELECT count(*) FROM pg_class WHERE relname = ANY(%s)",
                    ([name, name + "_documents", name + "_entries"],),
                ).fetchone()
            return bool(found and found[0])
        with redis_connect(self.base_url) as client:
            return bool(client.exists(f"{name}:meta", f"{name}:order", f"{name}:docs"))

    def drop(self, name: str) -> None:
        if self.kind == "postgresql":
            drop_postgres_store(self.base_url, name)
        else:
            drop_redis_store(self.base_url, name)

    def drop_all(self) -> None:
        for name in self.names:
            self.drop(name)


SERVER_KINDS = ["postgresql", "redis"]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server that the test may stop and start."""
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL is not installed (no initdb/pg_ctl; Debian: apt-get install postgresql)")
    server = PostgresServer(bindir)
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private Redis server that the test may stop and start."""
    program = shutil.which("redis-server")
    if program is None:
        unavailable("Redis is not installed (no redis-server; Debian: apt-get install redis-server)")
    server = RedisServer(program)
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def passwordless_redis_server() -> Iterator[RedisServer]:
    """A private Redis server that asks for no password (a client that sends one is refused)."""
    program = shutil.which("redis-server")
    if program is None:
        unavailable("Redis is not installed (no redis-server; Debian: apt-get install redis-server)")
    server = RedisServer(program, password=None)
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The URL of a PostgreSQL server (database level; add ``?table=``)."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if in_ci():
        unavailable(f"{POSTGRES_ENV} is not set: .ci/run starts PostgreSQL and sets it")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """The URL of a Redis server (database level; add ``?prefix=``)."""
    url = os.environ.get(REDIS_ENV)
    if url:
        return url
    if in_ci():
        unavailable(f"{REDIS_ENV} is not set: .ci/run starts redis-server and sets it")
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture(params=SERVER_KINDS)
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """Fresh stores on each server (PostgreSQL, Redis), removed after the test."""
    kind = request.param
    made = Stores(kind, request.getfixturevalue("postgres_url" if kind == "postgresql" else "redis_url"))
    yield made
    made.drop_all()


@pytest.fixture(params=SERVER_KINDS)
def private_stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """Fresh stores on each private server, which the test may stop and start (``.server``)."""
    kind = request.param
    server: PostgresServer | RedisServer = request.getfixturevalue(
        "postgres_server" if kind == "postgresql" else "redis_server"
    )
    made = Stores(kind, server.url, server)
    yield made
    made.drop_all()
