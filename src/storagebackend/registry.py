"""Which backend opens which URL, which codec reads which file: built-ins as data, plugins by entry point.

Built-in backends and codecs are named by ``"module:Class"`` strings and
imported only when first used, so a missing optional dependency (psycopg,
redis) costs nothing until its scheme is opened, and then gives an install
hint. Third-party packages add schemes and codecs through the
``storagebackend.backends`` and ``storagebackend.codecs`` entry-point groups,
read once on first need. Precedence, lowest first: plugins, built-ins, then
classes passed to :func:`register_backend` / :func:`register_codec` at run time.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import EntryPoint, entry_points
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

BACKEND_GROUP: Final = "storagebackend.backends"
CODEC_GROUP: Final = "storagebackend.codecs"


class _Entry(NamedTuple):
    target: str  # "package.module:Class", the syntax of an entry point's value
    extra: str | None  # the pip extra that installs its dependency
    plugin: str | None = None  # for plugins: which entry point of which distribution


_BUILTIN_BACKENDS: Final[dict[str, _Entry]] = {
    "memory": _Entry("storagebackend.backends.memory:MemoryBackend", None),
    "sqlite": _Entry("storagebackend.backends.sqlite:SQLiteBackend", None),
    "file": _Entry("storagebackend.backends.cached_file:CachedFileBackend", None),
    "ftp": _Entry("storagebackend.backends.cached_file:FTPFileBackend", None),
    "ftps": _Entry("storagebackend.backends.cached_file:FTPFileBackend", None),
    "postgresql": _Entry("storagebackend.backends.postgresql:PostgreSQLBackend", "postgres"),
    "postgres": _Entry("storagebackend.backends.postgresql:PostgreSQLBackend", "postgres"),
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


# -- loading "module:Class" targets, built-in or plugin --------------------------------------------


def _plugins(group: str, builtins: dict[str, _Entry]) -> dict[str, _Entry]:
    """The entry points of ``group`` (lower-cased names); a built-in name cannot be taken over."""
    found: dict[str, _Entry] = {}
    for ep in entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
        name = ep.name.lower()
        where = f"entry point '{ep.name} = {ep.value}' in group {group!r} of {dist!r}"
        if name in builtins:
            log.warning("ignoring the %s: %r is built in", where, name)
            continue
        found[name] = _Entry(ep.value, None, where)
    return found


def _what(kind: str, name: str, entry: _Entry) -> str:
    return f"the {name!r} {kind}" + (" plugin" if entry.plugin else "")


def _import(kind: str, name: str, entry: _Entry) -> object:
    """Import what an entry names; ValueError naming the plugin, or the extra to install, if that fails."""
    try:
        return EntryPoint(name, entry.target, "").load()
    except ImportError as exc:
        hint = f"; install it with: pip install 'pystoragebackend[{entry.extra}]'" if entry.extra else ""
        origin = f" ({entry.plugin})" if entry.plugin else ""
        raise ValueError(f"{_what(kind, name, entry)} cannot be loaded{origin}: {exc}{hint}") from exc
    except Exception as exc:
        if entry.plugin is None:
            raise  # a bug in storagebackend itself: keep its traceback
        raise ValueError(
            f"{_what(kind, name, entry)} cannot be loaded ({entry.plugin}): {type(exc).__name__}: {exc}"
        ) from exc


def _not_a_class(kind: str, name: str, entry: _Entry, base: str, loaded: object) -> ValueError:
    origin = entry.plugin or repr(entry.target)
    return ValueError(f"{_what(kind, name, entry)} ({origin}) is not a storagebackend {base} class: {loaded!r}")


# -- backends --------------------------------------------------------------------------------------

_registered: dict[str, type[Backend] | _Entry] = {}


def register_backend(scheme: str, backend: type[Backend] | str) -> None:
    """Make ``scheme:...`` URLs open with ``backend`` (a Backend subclass or "module:Class").

    Raises TypeError for anything else.
    """
    if not isinstance(backend, str) and not (isinstance(backend, type) and issubclass(backend, Backend)):
        raise TypeError(f"register_backend() needs a Backend subclass or 'module:Class', got {backend!r}")
    if not isinstance(scheme, str) or not scheme:
        raise TypeError(f"register_backend() needs a scheme name, got {scheme!r}")
    _registered[scheme.lower()] = backend if not isinstance(backend, str) else _Entry(backend, None)


@cache
def _plugin_backends() -> dict[str, _Entry]:
    """The ``storagebackend.backends`` entry points, read once."""
    return _plugins(BACKEND_GROUP, _BUILTIN_BACKENDS)


def _table() -> dict[str, type[Backend] | _Entry]:
    return {**_plugin_backends(), **_BUILTIN_BACKENDS, **_registered}


def known_schemes() -> list[str]:
    """Every scheme that ``open`` understands (built-in, plugin, registered), sorted."""
    return sorted(_table())


def backend_class(scheme: str) -> type[Backend]:
    """Return the backend class for a URL scheme.

    Raises ValueError if none is known, or if its module cannot be imported
    (naming the plugin, or the extra to install).
    """
    entry = _table().get(scheme.lower())
    if entry is None:
        raise ValueError(f"unknown URL scheme {scheme!r}; known schemes: {', '.join(known_schemes())}")
    if isinstance(entry, type):
        return entry
    loaded = _import("backend", scheme.lower(), entry)
    if isinstance(loaded, type) and issubclass(loaded, Backend):
        return loaded
    raise _not_a_class("backend", scheme.lower(), entry, "Backend", loaded)


# -- codecs ----------------------------------------------------------------------------------------

_registered_codecs: dict[str, type[Codec] | _Entry] = {}


def register_codec(codec: type[Codec]) -> None:
    """Make ``codec`` available by its ``name`` (``?codec=NAME``) and its ``extensions``.

    Raises TypeError if ``codec`` is not a Codec subclass with a name.
    """
    if not (isinstance(codec, type) and issubclass(codec, Codec)):
        raise TypeError(f"register_codec() needs a Codec subclass, got {codec!r}")
    name = getattr(codec, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_codec(): {codec.__name__}.name must be a non-empty str, got {name!r}")
    _registered_codecs[name.lower()] = codec


@cache
def _plugin_codecs() -> dict[str, _Entry]:
    """The ``storagebackend.codecs`` entry points, read once."""
    return _plugins(CODEC_GROUP, _BUILTIN_CODECS)


def _codec_table() -> dict[str, type[Codec] | _Entry]:
    return {**_plugin_codecs(), **_BUILTIN_CODECS, **_registered_codecs}


def known_codecs() -> list[str]:
    """Every codec name that ``?codec=`` understands, sorted."""
    return sorted(_codec_table())


def codec_by_name(name: str) -> Codec:
    """Return a new codec by its name (``json``, ``yaml``, ...).

    Raises ValueError if the name is unknown or its module cannot be imported.
    """
    entry = _codec_table().get(name.lower()) if isinstance(name, str) else None
    if entry is None:
        raise ValueError(f"unknown codec {name!r}; known codecs: {', '.join(known_codecs())}")
    return _codec_class(name.lower(), entry)()


def _codec_class(name: str, entry: type[Codec] | _Entry) -> type[Codec]:
    if isinstance(entry, type):
        return entry
    loaded = _import("codec", name, entry)
    if isinstance(loaded, type) and issubclass(loaded, Codec):
        return loaded
    raise _not_a_class("codec", name, entry, "Codec", loaded)


@cache
def _plugin_extensions() -> tuple[dict[str, str], dict[str, str]]:
    """Extension -> plugin codec name, and plugin name -> why it failed to load; found once.

    Plugin codecs must be imported to learn their extensions; one that fails is
    logged once and named again when a path matches no known extension.
    """
    table: dict[str, str] = {}
    failed: dict[str, str] = {}
    for name, entry in _plugin_codecs().items():
        try:
            cls = _codec_class(name, entry)
        except ValueError as exc:
            log.warning("%s; its file extensions are unknown", exc)
            failed[name] = str(exc)
            continue
        for extension in cls.extensions:
            table[extension.lower()] = name
    return table, failed


def _extension_table() -> dict[str, str]:
    """Extension -> codec name: plugins, then built-ins, then registered codecs."""
    table = {**_plugin_extensions()[0], **_BUILTIN_EXTENSIONS}
    for name, cls in _registered_codecs.items():
        if isinstance(cls, type):
            for extension in cls.extensions:
                table[extension.lower()] = name
    return table


def codec_for_path(path: str) -> Codec:
    """Return the codec a file's extension names (the longest match wins).

    Raises ValueError listing the known extensions (and any codec plugin that
    failed to load) if none matches.
    """
    table = _extension_table()
    lowered = path.lower()
    for extension in sorted(table, key=len, reverse=True):
        if lowered.endswith(extension):
            return codec_by_name(table[extension])
    failed = _plugin_extensions()[1]
    broken = f"; codec plugins that failed to load: {'; '.join(failed.values())}" if failed else ""
    raise ValueError(
        f"cannot tell the format of {path!r} from its extension; known extensions: "
        f"{', '.join(sorted(table))} (or pass codec=NAME / ?codec=NAME); "
        f"SQLite: {', '.join(SQLITE_EXTENSIONS)}; known URL schemes: {', '.join(known_schemes())}{broken}"
    )
