"""Our stores, found at run time: every backend and codec that loads here.

- ``sb-memory``, ``sb-sqlite``, and ``sb-CODEC`` (a local file store) for every
  codec of ``storagebackend.registry.known_codecs()`` that imports;
- ``sb-ftp-json`` when the FTP backend and pyftpdlib are there (run.py starts a
  server on 127.0.0.1);
- ``sb-postgresql`` / ``sb-redis`` when ``SB_POSTGRES_URL`` / ``SB_REDIS_URL``
  name a server (as for the tests), each row in a table or key prefix of its
  own run (named after the run's folder, which ``run.py`` makes unique), so
  runs on a shared server never meet; it is removed after the run;
- any ``--url NAME=URL[@LIMIT]`` given on the command line.

Phases use the mapping API a user writes: ``store[uid] = document`` to insert,
``store[uid][key]`` to read (the targets are held to it), ``store[uid][key] =
value`` then ``store.sync()`` to update. The seed API is measured beside it:
``store.get_value(uid, key)`` ("get_value") and the scan through
``store.get_document(uid)`` ("scan"), against the scan through the views
(``for uid, doc in store.items(): doc.items()``, "scan_views") and through
``store.copy()``, one bulk read ("scan_copy"). Reads use one
:class:`UID` object per document, as a user holding ``note.uid`` does.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from subject import Documents, Reads, Subject

import storagebackend as sb
from storagebackend.registry import backend_class, codec_by_name, known_codecs

#: The raw limit of each codec's file store; a codec not named here is compared with raw-json.
CODEC_LIMITS = {"msgpack": "raw-msgpack"}
#: Server backends measured when these environment variables name a server.
SERVERS = {"postgresql": ("SB_POSTGRES_URL", "table"), "redis": ("SB_REDIS_URL", "prefix")}
FILE_DURABILITY = "atomic replace: fsync file + folder (local transport)"


class OurStore(Subject):
    """One of our stores, opened by URL.

    The URL may hold ``{folder}`` (the row's folder), ``{name}`` (its name, for a
    path on the FTP server, whose home is the run's folder) and ``{table}`` (a
    table or key prefix for this row of this run, see :func:`server_name`).
    """

    durability: ClassVar[str] = ""
    extra_phases: ClassVar[tuple[str, ...]] = ("scan_views", "scan_copy", "get_value")

    def __init__(self, name: str, url: str, limit: str, durability: str, persistent: bool = True) -> None:
        self.name = name  # type: ignore[misc]
        self.url = url
        self.limit = limit  # type: ignore[misc]
        self.durability = durability  # type: ignore[misc]
        self.persistent = persistent  # type: ignore[misc]

    def warm(self) -> None:
        """Import the backend, codec and transport: a local store is opened once in a scratch folder."""
        if "{folder}" in self.url or self.url == "memory://":
            with tempfile.TemporaryDirectory() as scratch:
                sb.open(self._url(Path(scratch)), flag="n").close()
        else:
            backend_class(self.url.partition(":")[0])
            importlib.import_module("storagebackend.transports.ftp" if self.url.startswith("ftp") else "storagebackend")

    def _url(self, folder: Path) -> str:
        return self.url.format(folder=folder, name=folder.name, table=server_name(folder))

    def create(self, folder: Path, docs: Documents) -> None:
        store = sb.open(self._url(folder), flag="n")  # "n": a server table of an earlier run starts empty too
        for uid, doc in docs:
            store[uid] = doc
        store.sync()
        store.close()

    def scan(self, folder: Path) -> int:
        store = sb.open(self._url(folder), flag="r")
        total = 0
        for uid in store:
            for value in store.get_document(uid).values():
                total += len(value)
        store.close()
        return total

    def scan_views(self, folder: Path) -> int:
        store = sb.open(self._url(folder), flag="r")
        total = 0
        for _, doc in store.items():
            for _, value in doc.items():
                total += len(value)
        store.close()
        return total

    def scan_copy(self, folder: Path) -> int:
        store = sb.open(self._url(folder), flag="r")
        total = 0
        for document in store.copy().values():
            for value in document.values():
                total += len(value)
        store.close()
        return total

    def open(self, folder: Path, docs: Documents) -> None:
        self.store = sb.open(self._url(folder))
        if not self.persistent:
            for uid, doc in docs:
                self.store[uid] = doc

    def prepare(self, reads: Reads) -> list[Any]:
        uids = {uid: sb.UID(uid) for uid in dict.fromkeys(uid for uid, _ in reads)}  # one UID per document
        return [(uids[uid], key) for uid, key in reads]

    def get(self, reads: list[Any]) -> None:
        store = self.store
        for uid, key in reads:
            store[uid][key]

    def get_value(self, reads: list[Any]) -> None:
        store = self.store
        for uid, key in reads:
            store.get_value(uid, key)

    def update(self, uid: Any, key: str, value: bytes) -> None:
        self.store[uid][key] = value
        self.store.sync()

    def close(self) -> None:
        self.store.close()

    def cleanup(self, folder: Path) -> None:
        """Remove this row's server table or key prefix (a local folder is simply removed)."""
        if "{table}" not in self.url:
            return
        url, name = self._url(folder), server_name(folder)
        scheme = url.partition(":")[0].lower()
        if scheme in ("postgresql", "postgres"):
            _drop_postgresql(url, name)
        elif scheme == "redis":
            _drop_redis(url, name)
        else:  # a server backend of a plugin: at least leave it empty
            with sb.open(url) as store:
                store.clear()


def server_name(folder: Path) -> str:
    """The table or key prefix of the row working in ``folder``: letters, digits and ``_``, at most 48.

    ``run.py`` makes each run's folder anew (``mkdtemp``), and every worker of the
    run is given the same folder, so the name is one run's own: two runs on a
    shared server (or a test beside them) never touch each other's store.
    """
    digest = hashlib.sha256(os.fsencode(folder.resolve())).hexdigest()[:12]
    row = re.sub(r"\W", "_", folder.name)
    return f"bench_{digest}_{row}"[:48]


def _without_query(url: str) -> str:
    """The URL as the driver itself takes it (our ``?table=`` / ``?prefix=`` removed)."""
    return urlunsplit(urlsplit(url)._replace(query=""))


def _drop_postgresql(url: str, table: str) -> None:
    import psycopg
    from psycopg import sql

    names = [sql.Identifier(table + suffix) for suffix in ("", "_documents", "_entries")]
    with psycopg.connect(_without_query(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}, {}").format(*names))


def _drop_redis(url: str, prefix: str) -> None:
    import redis

    with redis.Redis.from_url(_without_query(url)) as client:
        keys = [f"{prefix}:{name}" for name in ("meta", "order", "seq", "docs")]
        for kind in ("doc", "pos"):
            keys += client.scan_iter(match=f"{prefix}:{kind}:*", count=1000)
        client.delete(*keys)


def _loads(scheme: str) -> str | None:
    """Why the backend of ``scheme`` cannot be used here, or None."""
    try:
        backend_class(scheme)
    except ValueError as exc:
        return str(exc)
    return None


def our_stores(urls: list[str]) -> tuple[list[Subject], dict[str, str]]:
    """Our stores that can run here, and why the others cannot (name -> reason)."""
    stores: list[Subject] = [
        OurStore("sb-memory", "memory://", "raw-dict", "nothing persisted", persistent=False),
        OurStore("sb-sqlite", "sqlite:///{folder}/store.db", "raw-sqlite3", "fsync per sync (WAL, synchronous=FULL)"),
    ]
    skipped: dict[str, str] = {}
    for name in known_codecs():
        try:
            codec = codec_by_name(name)
        except (ValueError, ImportError) as exc:
            skipped[f"sb-{name}"] = f"codec does not load: {exc}"
            continue
        limit = CODEC_LIMITS.get(name, "raw-json")
        stores.append(OurStore(f"sb-{name}", f"{{folder}}/store{codec.extensions[0]}", limit, FILE_DURABILITY))
    for scheme, (variable, parameter) in SERVERS.items():
        reason = _loads(scheme) or (None if os.environ.get(variable) else f"set {variable} to measure a server")
        if reason:
            skipped[f"sb-{scheme}"] = reason
            continue
        url = os.environ[variable]
        url += ("&" if "?" in url else "?") + parameter + "={table}"
        stores.append(OurStore(f"sb-{scheme}", url, "", "as the server commits (see its row's notes)"))
    stores.extend(extra_store(spec) for spec in urls)
    return stores, skipped


def extra_store(spec: str) -> Subject:
    """A store given as ``NAME=URL[@LIMIT]``; the FTP row of run.py comes this way too."""
    name, _, rest = spec.partition("=")
    url, limit = rest.rsplit("@", 1) if re.search(r"@raw-[\w-]+$", rest) else (rest, "")
    if not name or not url:
        raise ValueError(f"--url needs NAME=URL[@raw-LIMIT], got {spec!r}")
    remote = url.startswith(("ftp://", "ftps://"))
    return OurStore(name, url, limit, "atomic upload (rename on the server)" if remote else "as the backend does")
