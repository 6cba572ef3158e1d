"""Our stores, found at run time: memory, SQLite and a file store for every codec that loads.

Phases use the mapping API a user writes: ``store[uid] = document`` to insert,
``store[uid][key]`` to read (the targets are held to it), ``store[uid][key] =
value`` then ``store.sync()`` to update. The seed API is measured beside it:
``store.get_value(uid, key)`` ("get_value") and the scan through
``store.get_document(uid)`` ("scan"), against the scan through the views
(``for uid, doc in store.items(): doc.items()``, "scan_views"). Reads use
:class:`UID` objects, as a user holding ``note.uid`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from subject import Documents, Reads, Subject

import storagebackend as sb
from storagebackend.registry import codec_by_name, known_codecs

#: The raw limit of each codec's file store; a codec not named here is compared with raw-json.
CODEC_LIMITS = {"msgpack": "raw-msgpack"}


class OurStore(Subject):
    """One of our stores, opened by URL; ``url`` may hold ``{folder}``."""

    durability: ClassVar[str] = ""
    extra_phases: ClassVar[tuple[str, ...]] = ("scan_views", "get_value")

    def __init__(self, name: str, url: str, limit: str, durability: str, persistent: bool = True) -> None:
        self.name = name  # type: ignore[misc]
        self.url = url
        self.limit = limit  # type: ignore[misc]
        self.durability = durability  # type: ignore[misc]
        self.persistent = persistent  # type: ignore[misc]

    def _url(self, folder: Path) -> str:
        return self.url.format(folder=folder)

    def create(self, folder: Path, docs: Documents) -> None:
        store = sb.open(self._url(folder))
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

    def open(self, folder: Path, docs: Documents) -> None:
        self.store = sb.open(self._url(folder))
        if not self.persistent:
            for uid, doc in docs:
                self.store[uid] = doc

    def prepare(self, reads: Reads) -> list[Any]:
        return [(sb.UID(uid), key) for uid, key in reads]

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


def our_stores() -> tuple[list[Subject], dict[str, str]]:
    """Our built-in stores that load here, and why the others are skipped (name -> reason)."""
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
        stores.append(
            OurStore(
                f"sb-{name}",
                f"{{folder}}/store{codec.extensions[0]}",
                CODEC_LIMITS.get(name, "raw-json"),
                "atomic write through the local transport",
            )
        )
    return stores, skipped


def extra_store(spec: str) -> Subject:
    """A store given on the command line as ``NAME=URL[@LIMIT]`` (e.g. a server backend)."""
    name, _, rest = spec.partition("=")
    url, _, limit = rest.rpartition("@") if "@raw-" in rest else (rest, "", "raw-sqlite3")
    if not name or not url:
        raise ValueError(f"--url needs NAME=URL[@raw-LIMIT], got {spec!r}")
    return OurStore(name, url, limit or "raw-sqlite3", "as the backend does")
