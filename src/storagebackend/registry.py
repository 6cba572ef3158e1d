"""Which backend opens which URL: the backend table, and every transport scheme routed to the cached file backend.

Built-in backends are named by ``"module:Class"`` strings and imported only
when first used, so a missing optional dependency (psycopg, redis) costs
nothing until its scheme is opened, and then gives an install hint.
Third-party packages add schemes through the ``storagebackend.backends``
entry-point group, read once on first need (``plugins.py`` has the rules).

A scheme names either a backend (``sqlite``, ``redis``) or a transport
(``file``, ``ftp``, ``memfile``: the table of ``transports/registry.py``),
which the cached file backend opens with a codec (the table of
``codecs/registry.py``). The stronger source wins a scheme both claim: one
registered at run time, then a built-in, then a plugin; two plugins claiming
one scheme make it ambiguous. :func:`register_backend` and
:func:`register_transport` refuse a scheme the other table has, unless
``replace=True``.
"""

from __future__ import annotations

from typing import Final

from storagebackend.backends.base import Backend
from storagebackend.backends.cached_file import CachedFileBackend
from storagebackend.codecs.registry import codec_by_name, codec_for_path, known_codecs, register_codec
from storagebackend.plugins import Entry, PluginTable, Source
from storagebackend.transports.base import Transport
from storagebackend.transports.registry import TRANSPORTS

__all__ = [
    "BACKENDS",
    "SQLITE_EXTENSIONS",
    "backend_class",
    "codec_by_name",
    "codec_for_path",
    "known_codecs",
    "known_schemes",
    "register_backend",
    "register_codec",
    "register_transport",
]

_CACHED_FILE: Final = "storagebackend.backends.cached_file:CachedFileBackend"

#: Scheme -> backend class (the transport schemes are in ``TRANSPORTS``).
BACKENDS: Final = PluginTable[Backend](
    "backend",
    "storagebackend.backends",
    Backend,
    {
        "memory": Entry("storagebackend.backends.memory:MemoryBackend"),
        "sqlite": Entry("storagebackend.backends.sqlite:SQLiteBackend"),
        "postgresql": Entry("storagebackend.backends.postgresql:PostgreSQLBackend", "postgres"),
        "postgres": Entry("storagebackend.backends.postgresql:PostgreSQLBackend", "postgres"),
        "redis": Entry("storagebackend.backends.redis:RedisBackend", "redis"),
    },
)

#: Bare paths with these extensions open in SQLite; any other path is a file store.
SQLITE_EXTENSIONS: Final = (".db", ".sqlite", ".sqlite3")

_RANK: Final[dict[Source | None, int]] = {None: -1, "plugin": 0, "built-in": 1, "registered": 2}


def register_backend(scheme: str, backend: type[Backend] | str, *, replace: bool = False) -> None:
    """Make ``scheme:...`` URLs open with ``backend`` (a Backend subclass or "module:Class").

    Raises TypeError for anything else; ValueError if the scheme already names
    another backend or a transport (built in, a plugin's, registered) and
    ``replace`` is false.
    """
    if not replace and isinstance(scheme, str) and scheme in TRANSPORTS:
        raise ValueError(
            f"register_backend(): {scheme.lower()!r} is already {TRANSPORTS.origin(scheme)}; pass replace=True "
            "to open it with this backend instead"
        )
    BACKENDS.register(scheme, backend, replace=replace, caller="register_backend")


def register_transport(scheme: str, transport: type[Transport] | str, *, replace: bool = False) -> None:
    """Make ``scheme:...`` URLs open as cached file stores on ``transport`` (a Transport subclass or "module:Class").

    Raises TypeError for anything else; ValueError if the scheme already names
    another transport or a backend and ``replace`` is false.
    """
    if isinstance(scheme, str) and scheme in BACKENDS and BACKENDS.taken(scheme, Entry(_CACHED_FILE)):
        if not replace:
            raise ValueError(
                f"register_transport(): {scheme.lower()!r} is already {BACKENDS.origin(scheme)}; pass "
                "replace=True to open it with this transport instead"
            )
        TRANSPORTS.register(scheme, transport, replace=True, caller="register_transport")
        BACKENDS.register(scheme, _CACHED_FILE, replace=True, caller="register_transport")
        return
    TRANSPORTS.register(scheme, transport, replace=replace, caller="register_transport")


def known_schemes() -> list[str]:
    """Every scheme that ``open`` understands (backends and transports: built-in, plugin, registered), sorted."""
    return sorted({*BACKENDS.names(), *TRANSPORTS.names()})


def backend_class(scheme: str) -> type[Backend]:
    """Return the backend class for a URL scheme (the cached file backend for a transport's).

    Raises ValueError if none is known, if its module cannot be imported
    (naming the plugin, or the extra to install), or if two plugins claim it.
    """
    backend = BACKENDS.source(scheme)
    transport = TRANSPORTS.source(scheme)
    if backend is None and transport is None:
        raise ValueError(f"unknown URL scheme {scheme!r}; known schemes: {', '.join(known_schemes())}")
    if backend == transport == "plugin":
        raise ValueError(
            f"two plugins claim the URL scheme {scheme.lower()!r}: {BACKENDS.origin(scheme)} and "
            f"{TRANSPORTS.origin(scheme)}; uninstall one, or choose with register_backend() or "
            "register_transport() and replace=True"
        )
    if _RANK[backend] > _RANK[transport]:
        found = BACKENDS.load(scheme)
        assert found is not None
        return found
    TRANSPORTS.load(scheme)  # a broken or ambiguous transport plugin fails here, naming itself
    return CachedFileBackend
