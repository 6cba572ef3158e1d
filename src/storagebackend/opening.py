"""``open`` and ``open_config``: from a URL or a config mapping to a Storage."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from storagebackend.backends.base import Backend, check_flag
from storagebackend.codecs.registry import UnknownFormatError
from storagebackend.options import check_option, check_options
from storagebackend.registry import SQLITE_EXTENSIONS, backend_class, known_schemes
from storagebackend.storage import Storage
from storagebackend.urls import local_url, split_scheme

__all__ = ["backend_class_for", "open", "open_config"]

#: Options every backend accepts (ignored where they mean nothing).
COMMON_OPTIONS: Final = frozenset({"flag", "max_key_length", "max_value_size", "lock_timeout"})
_LIMIT_OPTIONS: Final = ("max_key_length", "max_value_size")
#: Keys of ``open_config`` that make up the URL rather than being options.
_URL_PARTS: Final = ("host", "port", "user", "password", "path")


def _scheme_of(url: str | os.PathLike[str]) -> str:
    """The scheme that opens ``url``: its own, or one chosen by a bare path's extension."""
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    elif not isinstance(url, str):
        raise TypeError(f"open() needs a URL or path as str or os.PathLike, got {type(url).__name__}")
    if not url:
        raise ValueError(f"empty URL; give a path or a URL with one of the schemes: {', '.join(known_schemes())}")
    scheme, _ = split_scheme(url)
    if scheme is not None:
        return scheme
    path = url.rpartition("?")[0] if "?codec=" in url else url
    return "sqlite" if path.lower().endswith(SQLITE_EXTENSIONS) else "file"


def open(url: str | os.PathLike[str], flag: str = "c", **options: Any) -> Storage:
    """Open the store that ``url`` names, like ``shelve.open``/``dbm.open``.

    ``flag``: ``"c"`` create if missing (default), ``"w"`` must exist, ``"r"``
    read-only, ``"n"`` always start empty. Options: ``max_key_length``,
    ``max_value_size``, ``lock_timeout`` and the backend's own (``codec``,
    ``timeout``, ...). Raises ValueError for a bad URL, flag or option value,
    TypeError for an unknown option or one of the wrong type, StoreNotFoundError,
    CorruptStoreError, StorageLockedError, AuthenticationError, BackendUnavailableError.
    """
    return _open(url, flag, options, caller="open", from_text=False)


def backend_class_for(url: str | os.PathLike[str]) -> type[Backend]:
    """The Backend class that opens ``url`` (its options, its flags); ValueError for an unknown scheme."""
    return backend_class(_scheme_of(url))


def _open(
    url: str | os.PathLike[str], flag: object, options: dict[str, Any], *, caller: str, from_text: bool
) -> Storage:
    """``open`` and ``open_config``: options checked (numbers from text too if ``from_text``), then opened."""
    flag = check_flag(flag)
    scheme = _scheme_of(url)
    cls = backend_class(scheme)
    accepted = cls.options_for(scheme)
    unknown = sorted(set(options) - COMMON_OPTIONS - accepted)
    if unknown:
        allowed = sorted((COMMON_OPTIONS | accepted) - {"flag"})
        raise TypeError(
            f"{caller}() got an unknown option {unknown[0]!r} for a {scheme!r} store; "
            f"known options: {', '.join(allowed)}"
        )
    options = check_options(options, from_text=from_text)
    limits = {name: options.pop(name) for name in _LIMIT_OPTIONS if name in options}
    target = os.fspath(url) if isinstance(url, os.PathLike) else url
    try:
        backend = cls.from_url(target, flag=flag, **options)
    except UnknownFormatError as exc:
        # A plain ValueError, as for any other bad URL; a bare path may have meant another backend.
        hint = f"; SQLite: {', '.join(SQLITE_EXTENSIONS)}; known URL schemes: {', '.join(known_schemes())}"
        raise ValueError(f"{exc}{'' if split_scheme(target)[0] else hint}") from None
    try:
        return Storage(backend, **limits)
    except BaseException:
        backend.close()
        raise


def open_config(settings: Mapping[str, Any]) -> Storage:
    """Open a store from a startup-config mapping.

    Either ``{"url": "...", **options}`` or ``{"backend": SCHEME, "path": ...}``
    (file-like backends) or ``{"backend": SCHEME, "host": ..., "port": ...,
    "user": ..., "password": ..., "path": ...}`` (servers), plus any option of
    :func:`open`; numbers may also be decimal strings (``"2.5"``, ``"64"``), as config
    files and the environment give them. An unknown key, or a value of the wrong
    type, is a TypeError naming it; a wrong value a ValueError naming it.
    """
    if not isinstance(settings, Mapping):
        raise TypeError(f"open_config() needs a mapping, got {type(settings).__name__}")
    options = dict(settings)
    url = options.pop("url", None)
    backend = options.pop("backend", None)
    if (url is None) == (backend is None):
        raise TypeError("open_config() needs exactly one of 'url' or 'backend'")
    if url is None:
        if not isinstance(backend, str):
            raise TypeError(f"open_config(): 'backend' must be a str, got {type(backend).__name__}")
        url = _url_from_parts(backend.lower(), {part: options.pop(part) for part in _URL_PARTS if part in options})
    else:
        stray = [part for part in _URL_PARTS if part in options]
        if stray:
            raise TypeError(f"open_config(): {stray[0]!r} cannot be combined with 'url'")
    flag = options.pop("flag", "c")
    return _open(url, flag, options, caller="open_config", from_text=True)


def _url_from_parts(scheme: str, parts: dict[str, Any]) -> str:
    """Build the URL of ``open_config``'s ``backend``/``path``/``host``... keys."""
    backend_class(scheme)  # an unknown backend name fails here, listing the known ones
    if scheme == "memory":
        if parts:
            raise TypeError(f"open_config(): {next(iter(parts))!r} means nothing for a memory store")
        return "memory://"
    if "host" not in parts:
        extra = sorted(set(parts) - {"path"})
        if extra:
            raise TypeError(f"open_config(): {extra[0]!r} needs 'host'")
        if "path" not in parts:
            raise TypeError(f"open_config(): a {scheme!r} store needs 'path'")
        return local_url(scheme, os.fspath(parts["path"]))
    auth = ""
    if parts.get("user") is not None:
        auth = _quoted(parts, "user", "")
        if parts.get("password") is not None:
            auth += ":" + _quoted(parts, "password", "")
        auth += "@"
    port = f":{check_option('port', parts['port'], from_text=True)}" if parts.get("port") is not None else ""
    path = _quoted({"path": str(parts.get("path", "")).lstrip("/")}, "path", "/")
    return f"{scheme}://{auth}{parts['host']}{port}/{path}"


def _quoted(parts: dict[str, Any], name: str, safe: str) -> str:
    """One part of a server URL, percent-encoded; ValueError (never showing it) if it cannot be."""
    try:
        return quote(str(parts[name]), safe=safe)
    except UnicodeEncodeError:
        raise ValueError(f"open_config(): {name!r} holds a lone surrogate, which no URL can hold") from None
