"""Which transport holds the file a URL names: the transport table (built-ins, ``storagebackend.transports``
plugins, transports registered at run time), found by scheme, as fsspec's ``filesystem(protocol)``.

``Transport.from_url`` dispatches through it; ``storagebackend.registry``
routes every scheme of this table to the cached file backend.
"""

from __future__ import annotations

from typing import Final

from storagebackend.plugins import Entry, PluginTable
from storagebackend.transports.base import Transport
from storagebackend.urls import split_scheme

__all__ = ["LOCAL_SCHEME", "TRANSPORTS", "known_transport_schemes", "scheme_of", "transport_class"]

#: The scheme of a bare path: a local file.
LOCAL_SCHEME: Final = "file"

#: Scheme -> transport class.
TRANSPORTS: Final = PluginTable[Transport](
    "transport",
    "storagebackend.transports",
    Transport,
    {
        LOCAL_SCHEME: Entry("storagebackend.transports.local:LocalTransport"),
        "ftp": Entry("storagebackend.transports.ftp:FTPTransport"),
        "ftps": Entry("storagebackend.transports.ftp:FTPTransport"),
        "memfile": Entry("storagebackend.transports.memory:MemoryTransport"),
        "s3": Entry("storagebackend.transports.s3:S3Transport", "s3"),
    },
)


def scheme_of(url: str) -> str:
    """The scheme of ``url``, lower case; ``file`` for a bare path (a one-letter scheme is a Windows drive)."""
    return split_scheme(url)[0] or LOCAL_SCHEME


def known_transport_schemes() -> list[str]:
    """Every scheme that names a transport (built-in, plugin, registered), sorted."""
    return TRANSPORTS.names()


def transport_class(scheme: str) -> type[Transport]:
    """The transport class of a URL scheme.

    Raises ValueError if none is known, if its module cannot be imported
    (naming the plugin, or the extra to install), or if two plugins claim it.
    """
    found = TRANSPORTS.load(scheme)
    if found is None:
        raise ValueError(
            f"unknown transport scheme {scheme!r}; known transport schemes: {', '.join(known_transport_schemes())}"
        )
    return found
