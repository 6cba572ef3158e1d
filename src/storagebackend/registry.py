"""Which backend opens which URL: built-ins as data, plugins by entry point.

Built-in backends are named by ``"module:Class"`` strings and imported only
when first used, so a missing optional dependency (psycopg, redis) costs
nothing until its scheme is opened, and then gives an install hint.
Third-party packages add schemes through the ``storagebackend.backends``
entry-point group, read once on first need.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from importlib.metadata import entry_points
from typing import Final, NamedTuple

from storagebackend.backends.base import Backend

__all__ = ["SQLITE_EXTENSIONS", "backend_class", "known_schemes", "register_backend"]

log = logging.getLogger(__name__)


class _Entry(NamedTuple):
    target: str  # "package.module:Class"
    extra: str | None  # the pip extra that installs its dependency


_BUILTIN_BACKENDS: Final[dict[str, _Entry]] = {
    "memory": _Entry("storagebackend.backends.memory:MemoryBackend", None),
    "sqlite": _Entry("storagebackend.backends.sqlite:SQLiteBackend", None),
}

#: Bare paths with these extensions open in SQLite; any other path is a file store.
SQLITE_EXTENSIONS: Final = (".db", ".sqlite", ".sqlite3")

_registered: dict[str, type[Backend] | _Entry] = {}


def register_backend(scheme: str, backend: type[Backend] | str) -> None:
    """Make ``scheme://...`` URLs open with ``backend`` (a class or "module:Class")."""
    if not isinstance(backend, str) and not (isinstance(backend, type) and issubclass(backend, Backend)):
        raise TypeError(f"register_backend() needs a Backend subclass or 'module:Class', got {backend!r}")
    _registered[scheme.lower()] = backend if not isinstance(backend, str) else _Entry(backend, None)


@cache
def _plugin_backends() -> dict[str, _Entry]:
    """The ``storagebackend.backends`` entry points, read once."""
    return {ep.name.lower(): _Entry(ep.value, None) for ep in entry_points(group="storagebackend.backends")}


def _table() -> dict[str, type[Backend] | _Entry]:
    return {**_plugin_backends(), **_BUILTIN_BACKENDS, **_registered}


def known_schemes() -> list[str]:
    """Every scheme that ``open`` understands, sorted."""
    schemes = set(_table())
    return sorted(schemes)


def backend_class(scheme: str) -> type[Backend]:
    """Return the backend class for a URL scheme; ValueError if none is known."""
    entry = _table().get(scheme.lower())
    if entry is None:
        raise ValueError(f"unknown URL scheme {scheme!r}; known schemes: {', '.join(known_schemes())}")
    if isinstance(entry, type):
        return entry
    module_name, _, class_name = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"; install it with: pip install 'pystoragebackend[{entry.extra}]'" if entry.extra else ""
        raise ValueError(f"the {scheme!r} backend cannot be loaded: {exc}{hint}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ValueError(f"the {scheme!r} backend {entry.target!r} is not a storagebackend Backend class")
    return cls
