"""Subject: one thing the suite measures (our store, a peer or a raw limit).

A subject implements the phases; ``worker.py`` times them in a fresh process.
Each subject works inside its own empty folder and names the raw limit its
figures are divided by (``limit``).
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

Documents = list[tuple[str, dict[str, bytes]]]
Reads = list[tuple[str, str]]

#: Every phase, in the order the suite runs them; "size" is read from the folder, "rss" from each process.
PHASES = ("create", "scan", "scan_views", "scan_copy", "get", "get_value", "update")


class Subject(ABC):
    """A store under test. Subclasses set the class attributes and the phases they support."""

    #: Row name in the table and on the command line.
    name: ClassVar[str]
    #: Name of the raw limit subject every figure is compared with.
    limit: ClassVar[str]
    #: What ``sync`` guarantees (shown in the table): fsync or not, atomic or in place.
    durability: ClassVar[str]
    #: Modules that must be importable, else the row is shown as skipped.
    requires: ClassVar[tuple[str, ...]] = ()
    #: False for stores that keep nothing on disk: no scan, no size.
    persistent: ClassVar[bool] = True
    #: Phases beyond the common ones (scan_views, scan_copy, get_value are ours only).
    extra_phases: ClassVar[tuple[str, ...]] = ()

    #: Modules the phases import, imported by :meth:`warm` before the clock starts.
    imports: ClassVar[tuple[str, ...]] = ()

    def warm(self) -> None:
        """Untimed, before any phase: import what the phases need, so no phase times an import."""
        for module in (*self.requires, *self.imports):
            importlib.import_module(module)

    def missing(self) -> str | None:
        """Why the subject cannot run here (a missing module), or None."""
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                return f"{module} not installed (pip install -e '.[bench]')"
        return None

    def phases(self) -> tuple[str, ...]:
        """The phases this subject runs."""
        wanted = {"create", "get", "update", *self.extra_phases}
        if self.persistent:
            wanted.add("scan")
        else:
            wanted -= {"scan", "scan_views", "scan_copy"}
        return tuple(phase for phase in PHASES if phase in wanted)

    # -- phases: each runs in its own process; only the marked part is timed ----------

    @abstractmethod
    def create(self, folder: Path, docs: Documents) -> None:
        """Timed: open an empty store, insert every document, sync, close."""

    @abstractmethod
    def scan(self, folder: Path) -> int:
        """Timed: open the store, read every value, close; return the bytes read."""

    @abstractmethod
    def open(self, folder: Path, docs: Documents) -> None:
        """Untimed: open the store made by create (non-persistent: fill it from ``docs``)."""

    def prepare(self, reads: Reads) -> list[Any]:
        """Untimed: turn (uid, key) pairs into what :meth:`get` takes (e.g. UID objects)."""
        return list(reads)

    @abstractmethod
    def get(self, reads: list[Any]) -> None:
        """Timed: read each (document, key) on the open store."""

    @abstractmethod
    def update(self, uid: Any, key: str, value: bytes) -> None:
        """Timed: change one value on the open store and sync."""

    @abstractmethod
    def close(self) -> None:
        """Untimed: close the open store."""

    def cleanup(self, folder: Path) -> None:  # noqa: B027  most subjects keep everything in their folder
        """Untimed, after the last phase: remove what lives outside ``folder`` (a server's table)."""


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` the durable way: temp file, fsync, rename, fsync the folder."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder`` (the store, its journals, locks and sidecars)."""
    return sum(entry.stat().st_size for entry in folder.rglob("*") if entry.is_file())
