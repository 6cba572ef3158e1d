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
from storagebackend.codecs.base import Codec

__all__ = [
    "SQLITE_EXTENSIONS",
    "backend_class",
    "codec_by_name",
    "codec_for_path",
    "known_codecs",
    "known_schemes",
    "register_backend",
    "register_codec",
]

log = logging.getLogger(__name__)


class _Entry(NamedTuple):
    target: str  # "package.module:Class"
    extra: str | None  # the pip extra that installs its dependency


_BUILTIN_BACKENDS: Final[dict[str, _Entry]] = {
    "memory": _Entry("storagebackend.backends.memory:MemoryBackend", None),
    "sqlite": _Entry("storagebackend.backends.sqlite:SQLiteBackend", None),
    "file": _Entry("storagebackend.backends.cached_file:CachedFileBackend", None),
    "ftp": _Entry("storagebackend.backends.cached_file:FTPFileBackend", None),
    "ftps": _Entry("storagebackend.backends.cached_file:FTPFileBackend", None),
    "postgresql": _Entry("storagebackend.backends.postgresql:PostgreSQLBackend", "postgres"),
    "redis": _Entry("storagebackend.backends.redis:RedisBackend", "redis"),
}

_BUILTIN_CODECS: Final[dict[str, _Entry]] = {
    "json": _Entry("storagebackend.codecs.json:JSONCodec", None),
    "msgpack": _Entry("storagebackend.codecs.msgpack:MsgpackCodec", None),
    "yaml": _Entry("storagebackend.codecs.yaml:YAMLCodec", None),
    "toml": _Entry("storagebackend.codecs.toml:TOMLCodec", None),
    "ini": _Entry("storagebackend.codecs.ini:INICodec", None),
}
_BUILTIN_EXTENSIONS: Final[dict[str, str]] = {
    ".json": "json",
    ".msgpack": "msgpack",
    ".mpk": "msgpack",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
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


_registered_codecs: dict[str, type[Codec] | _Entry] = {}


def register_codec(codec: type[Codec]) -> None:
    """Make ``codec`` available by its ``name`` and its ``extensions``."""
    if not (isinstance(codec, type) and issubclass(codec, Codec)):
        raise TypeError(f"register_codec() needs a Codec subclass, got {codec!r}")
    _registered_codecs[codec.name.lower()] = codec


@cache
def _plugin_codecs() -> dict[str, _Entry]:
    """The ``storagebackend.codecs`` entry points, read once."""
    return {ep.name.lower(): _Entry(ep.value, None) for ep in entry_points(group="storagebackend.codecs")}


def _codec_table() -> dict[str, type[Codec] | _Entry]:
    return {**_plugin_codecs(), **_BUILTIN_CODECS, **_registered_codecs}


def known_codecs() -> list[str]:
    """Every codec name that ``?codec=`` understands, sorted."""
    return sorted(_codec_table())


def _load_codec(name: str, entry: type[Codec] | _Entry) -> type[Codec]:
    if isinstance(entry, type):
        return entry
    module_name, _, class_name = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"the {name!r} codec cannot be loaded: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise ValueError(f"the {name!r} codec {entry.target!r} is not a storagebackend Codec class")
    return cls


def codec_by_name(name: str) -> Codec:
    """Return a new codec by its name (``json``, ``yaml``, ...); ValueError if unknown."""
    entry = _codec_table().get(name.lower()) if isinstance(name, str) else None
    if entry is None:
        raise ValueError(f"unknown codec {name!r}; known codecs: {', '.join(known_codecs())}")
    return _load_codec(name, entry)()


def _extension_table() -> dict[str, str]:
    """Extension -> codec name; plugin and registered codecs are imported to learn theirs."""
    table = dict(_BUILTIN_EXTENSIONS)
    for name, entry in {**_plugin_codecs(), **_registered_codecs}.items():
        try:
            cls = _load_codec(name, entry)
        except ValueError:
            log.warning("codec plugin %r cannot be loaded; its extensions are unknown", name, exc_info=True)
            continue
        for extension in cls.extensions:
            table[extension.lower()] = name
    return table


def codec_for_path(path: str) -> Codec:
    """Return the codec a file's extension names; ValueError listing the known ones if none."""
    table = _extension_table()
    lowered = path.lower()
    for extension in sorted(table, key=len, reverse=True):
        if lowered.endswith(extension):
            return codec_by_name(table[extension])
    raise ValueError(
        f"cannot tell the format of {path!r} from its extension; known extensions: "
        f"{', '.join(sorted(table))} (or pass codec=NAME / ?codec=NAME); "
        f"SQLite: {', '.join(SQLITE_EXTENSIONS)}; known URL schemes: {', '.join(known_schemes())}"
    )
