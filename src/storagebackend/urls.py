"""Parsing store URLs: scheme, local paths, server addresses (``redact`` lives in :mod:`storagebackend.redaction`).

Bare paths are never percent-decoded; the path of a ``file:`` or ``sqlite:``
URL and the user and password of a server URL are (RFC 3986 / RFC 8089).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from storagebackend.redaction import redact

__all__ = [
    "LocalURL",
    "ServerURL",
    "local_url",
    "parse_local",
    "parse_server",
    "query_setting",
    "redact",
    "split_scheme",
]

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def split_scheme(url: str) -> tuple[str | None, str]:
    """Split ``"sqlite:x.db"`` into ``("sqlite", "x.db")``; a bare path has no scheme.

    A one-letter scheme is taken as a Windows drive, i.e. a path.
    """
    match = _SCHEME.match(url)
    if match is None or len(match.group(1)) == 1:
        return None, url
    return match.group(1).lower(), url[match.end() :]


def _query(text: str, url: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise ValueError(f"malformed query {text!r} in URL {redact(url)!r}") from None
    query: dict[str, str] = {}
    for name, value in pairs:
        if name in query:
            raise ValueError(f"query parameter {name!r} given twice in URL {redact(url)!r}")
        query[name] = value
    return query


@dataclass(frozen=True)
class LocalURL:
    """A store in a local file: its path and query parameters (e.g. ``codec``)."""

    path: str
    query: dict[str, str] = field(default_factory=dict)


def _file_name(path: str, url: str | os.PathLike[str]) -> str:
    """``path`` if the operating system can take it as a file name; else ValueError saying why."""
    if "\0" in path:
        raise ValueError(f"the path of {url!r} holds a NUL character, which no file name can")
    try:
        os.fsencode(path)
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the path of {url!r} holds {path[exc.start]!r} at position {exc.start}, which no file name can hold "
            "(a lone surrogate)"
        ) from None
    return path


def parse_local(url: str | os.PathLike[str]) -> LocalURL:
    """Parse a bare path, ``file:``/``sqlite:`` URL into path and query.

    ``file:///abs/x`` and ``file:rel/x`` (also ``//localhost/abs``) are
    accepted; a bare path may end in ``?codec=NAME``. Raises ValueError for a
    malformed URL or a path no file can have (a NUL character, a lone surrogate).
    """
    if isinstance(url, os.PathLike):
        return LocalURL(_file_name(os.fspath(url), url))
    scheme, rest = split_scheme(url)
    if scheme is None:
        path, sep, query = rest.rpartition("?")
        if sep and re.fullmatch(r"codec=[\w-]+", query):
            return LocalURL(_file_name(path, url), _query(query, url))
        return LocalURL(_file_name(rest, url))
    rest, _, query = rest.partition("?")
    if "#" in rest:
        raise ValueError(f"a fragment ('#') is not allowed in URL {url!r}; percent-encode it as %23")
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        if authority not in ("", "localhost"):
            host = authority.rpartition("@")[2]  # without a user and password before it
            raise ValueError(f"URL {redact(url)!r} names host {host!r}; only local paths are allowed here")
        rest = slash + path
    path = unquote(rest, errors="surrogateescape")  # %FF: the byte 0xFF of a file name, as os.fsdecode
    if path.startswith("//"):  # "sqlite:////abs" (SQLAlchemy's spelling) is "/abs" too
        path = "/" + path.lstrip("/")
    if not path:
        raise ValueError(f"URL {url!r} has no path")
    return LocalURL(_file_name(path, url), _query(query, url))


def local_url(scheme: str, path: str) -> str:
    """Build a ``scheme:`` URL for a local path (the inverse of :func:`parse_local`); ValueError if none can be."""
    quoted = quote(_file_name(path, path), safe="/", errors="surrogateescape")  # a non-UTF-8 byte: its %XX
    return f"{scheme}://{quoted}" if os.path.isabs(path) else f"{scheme}:{quoted}"


@dataclass(frozen=True)
class ServerURL:
    """A store on a server: ``scheme://user:password@host:port/path?query``."""

    scheme: str
    host: str
    port: int | None
    user: str | None
    password: str | None = field(repr=False)
    path: str
    query: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        """The URL without its password (``***`` in its place)."""
        auth = ""
        if self.user is not None:
            auth = quote(self.user, safe="") + (":***" if self.password is not None else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in self.query.items())
        return f"{self.scheme}://{auth}{host}{port}/{quote(self.path)}" + (f"?{query}" if query else "")

    @property
    def address(self) -> str:
        """``host:port`` for messages (never the password)."""
        return f"{self.host}:{self.port}" if self.port is not None else self.host


def parse_server(url: str, default_port: int | None = None) -> ServerURL:
    """Parse ``scheme://[user[:password]@]host[:port]/path[?query]``.

    Raises ValueError (never showing the password) when the URL is malformed.
    """
    shown = redact(url)
    try:
        url.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"malformed URL {shown!r}: a lone surrogate at position {exc.start}") from None
    control = _CONTROL.search(url)
    if control is not None:
        raise ValueError(
            f"malformed URL {shown!r}: the control character {control.group()!r} at position {control.start()} "
            "(percent-encode it)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if shown != url:  # the parser's own words may quote a piece of the password
            raise ValueError(
                f"malformed URL {shown!r}: is the port a number up to 65535, and are '@', ':', '/', '?' and '#' "
                "in the user and password percent-encoded (%40, %3A, %2F, %3F, %23)?"
            ) from None
        raise ValueError(f"malformed URL {shown!r}: {exc}") from None
    if not parts.hostname:
        raise ValueError(f"URL {shown!r} has no host")
    if parts.fragment:
        raise ValueError(f"a fragment ('#') is not allowed in URL {shown!r}")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return ServerURL(
        scheme=parts.scheme.lower(),
        host=parts.hostname,
        port=port if port is not None else default_port,
        user=user,
        password=password,
        path=unquote(parts.path.removeprefix("/")),
        query=_query(parts.query, shown),
    )


def query_setting(url: object, query: dict[str, str], name: str, option: str | None, default: str) -> str:
    """The one setting a server backend takes from its URL query (``?table=``) or the same-named option.

    Raises ValueError for any other query parameter, or when both are given and differ.
    """
    unknown = sorted(set(query) - {name})
    if unknown:
        raise ValueError(f"unknown query parameter {unknown[0]!r} in URL {url}; only {name!r} is allowed")
    from_url = query.get(name)
    if from_url is not None and option is not None and option != from_url:
        raise ValueError(f"{name} given twice, as {from_url!r} in the URL and as {option!r}")
    if option is not None:
        return option
    return from_url if from_url is not None else default
