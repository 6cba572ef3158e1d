"""Which codec reads which file: the codec table (built-ins, ``storagebackend.codecs`` plugins, registered
codecs), the extension table, and the choice for one store (option, ``?codec=``, or extension).

An extension belongs to one codec. A built-in extension cannot be taken by a
plugin (the plugin's claim is ignored, with a warning); two plugins that claim
one extension make it ambiguous (a path with it is an error naming both, until
``codec=NAME`` picks one); :func:`register_codec` refuses a name or extension
already taken unless ``replace=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache
from typing import Final

from storagebackend.codecs.base import Codec
from storagebackend.plugins import Entry, PluginTable

__all__ = [
    "CODECS",
    "UnknownFormatError",
    "choose_codec",
    "codec_by_name",
    "codec_for_path",
    "known_codecs",
    "register_codec",
]

log = logging.getLogger(__name__)

#: Name -> codec class: built-ins, then the ``storagebackend.codecs`` plugins, then registered ones.
CODECS: Final = PluginTable[Codec](
    "codec",
    "storagebackend.codecs",
    Codec,
    {
        "json": Entry("storagebackend.codecs.json:JSONCodec"),
        "msgpack": Entry("storagebackend.codecs.msgpack:MsgpackCodec"),
        "yaml": Entry("storagebackend.codecs.yaml:YAMLCodec"),
        "toml": Entry("storagebackend.codecs.toml:TOMLCodec"),
        "ini": Entry("storagebackend.codecs.ini:INICodec"),
    },
)
# The built-in codecs' extensions, known without importing them.
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


class UnknownFormatError(ValueError):
    """No codec was named and the path's extension names none (a ValueError: the URL is at fault)."""


def register_codec(codec: type[Codec], *, replace: bool = False) -> None:
    """Make ``codec`` available by its ``name`` (``?codec=NAME``) and its ``extensions``.

    Raises TypeError if ``codec`` is not a Codec subclass with a name, ValueError
    if its name or one of its extensions already belongs to another codec
    (built in, a plugin's, or registered before) and ``replace`` is false.
    """
    if not (isinstance(codec, type) and issubclass(codec, Codec)):
        raise TypeError(f"register_codec() needs a Codec subclass, got {codec!r}")
    name = getattr(codec, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_codec(): {codec.__name__}.name must be a non-empty str, got {name!r}")
    extensions = getattr(codec, "extensions", ())
    if not isinstance(extensions, tuple) or not all(isinstance(ext, str) and ext for ext in extensions):
        raise TypeError(f"register_codec(): {codec.__name__}.extensions must be a tuple of str, got {extensions!r}")
    if not replace:
        table = _extension_table()
        for extension in extensions:
            owner = table.get(extension.lower())
            if owner is not None and owner != name.lower():
                owners = " and ".join(map(_owner, owner)) if isinstance(owner, tuple) else _owner(owner)
                raise ValueError(
                    f"register_codec(): the extension {extension!r} of {codec.__name__} already belongs to "
                    f"{owners}; pass replace=True to take it over"
                )
    CODECS.register(name, codec, replace=replace, caller="register_codec")


def known_codecs() -> list[str]:
    """Every codec name that ``?codec=`` understands, sorted."""
    return CODECS.names()


def codec_by_name(name: str) -> Codec:
    """Return a new codec by its name (``json``, ``yaml``, ...).

    Raises ValueError if the name is unknown or its module cannot be imported.
    """
    cls = CODECS.load(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown codec {name!r}; known codecs: {', '.join(known_codecs())}")
    return cls()


def codec_for_path(path: str) -> Codec:
    """Return the codec a file's extension names (the longest match wins).

    Raises UnknownFormatError (a ValueError) listing the known extensions (and
    any codec plugin that failed to load) if none matches, ValueError if two
    plugins claim the extension.
    """
    table = _extension_table()
    lowered = path.lower()
    for extension in sorted(table, key=len, reverse=True):
        if lowered.endswith(extension):
            owner = table[extension]
            if isinstance(owner, tuple):
                raise ValueError(
                    f"cannot tell the format of {path!r}: two codec plugins claim the extension {extension!r} "
                    f"({' and '.join(_owner(name) for name in owner)}); pass codec=NAME or ?codec=NAME"
                )
            return codec_by_name(owner)
    failed = _plugin_extensions()[1]
    broken = f"; codec plugins that failed to load: {'; '.join(failed.values())}" if failed else ""
    raise UnknownFormatError(
        f"cannot tell the format of {path!r} from its extension; known extensions: "
        f"{', '.join(sorted(table))} (or pass codec=NAME / ?codec=NAME){broken}"
    )


def choose_codec(path: str, codec: Codec | str | None, query: Mapping[str, str], url: str) -> Codec:
    """The codec from the ``codec=`` option, else ``?codec=``, else the path's extension.

    Raises ValueError for a query parameter other than ``codec``, an unknown
    codec or extension; TypeError if ``codec`` is neither a name nor a Codec.
    """
    rest = dict(query)
    from_query = rest.pop("codec", None)
    if rest:
        raise ValueError(f"unknown query parameter {next(iter(rest))!r} in URL {url!r}; only 'codec' is allowed")
    if isinstance(codec, Codec):
        return codec
    if codec is not None and not isinstance(codec, str):
        raise TypeError(f"codec must be a codec name or a Codec, got {type(codec).__name__}")
    name = codec or from_query
    return codec_by_name(name) if name else codec_for_path(path)


# -- the extension table -------------------------------------------------------------------------


def _owner(name: str) -> str:
    return CODECS.origin(name)


@cache
def _plugin_extensions() -> tuple[dict[str, str | tuple[str, ...]], dict[str, str]]:
    """Extension -> plugin codec name (a tuple of names when several claim it), and plugin name -> why it
    failed to load; found once.

    Plugin codecs must be imported to learn their extensions; one that fails is
    logged once and named again when a path matches no known extension. A
    plugin's claim on a built-in extension is ignored, with a warning.
    """
    table: dict[str, str | tuple[str, ...]] = {}
    failed: dict[str, str] = {}
    for name in CODECS.plugins():
        try:
            cls = CODECS.load(name)
        except ValueError as exc:
            log.warning("%s; its file extensions are unknown", exc)
            failed[name] = str(exc)
            continue
        assert cls is not None
        for claimed in cls.extensions:
            extension = claimed.lower()
            if extension in _BUILTIN_EXTENSIONS:
                log.warning("ignoring the claim of %s on %r: a built-in codec's extension", _owner(name), extension)
                continue
            before = table.get(extension)
            if before is None:
                table[extension] = name
            else:
                claims = before if isinstance(before, tuple) else (before,)
                log.warning(
                    "two codec plugins claim the extension %r: %s",
                    extension, " and ".join(_owner(claim) for claim in (*claims, name)),
                )  # fmt: skip
                table[extension] = (*claims, name)
    return table, failed


def _extension_table() -> dict[str, str | tuple[str, ...]]:
    """Extension -> codec name (a tuple: several plugins claim it): plugins, then built-ins, then registered."""
    table: dict[str, str | tuple[str, ...]] = {**_plugin_extensions()[0], **_BUILTIN_EXTENSIONS}
    for name, cls in CODECS.registered().items():
        if isinstance(cls, type):
            for extension in cls.extensions:
                table[extension.lower()] = name
    return table
