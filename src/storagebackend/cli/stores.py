"""Opening stores for the commands: options from the command line, and a clean exit.

``sb.open`` documents ValueError and TypeError for a bad URL, flag, codec or
option; they become usage errors here, at the one call that can raise them, so
a ValueError from anywhere else still counts as a bug.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from storagebackend.cli.exits import CommandError, ExitCode
from storagebackend.errors import StorageError
from storagebackend.opening import open as open_store
from storagebackend.storage import Storage
from storagebackend.urls import parse_local, split_scheme

__all__ = ["abandon", "local_path", "opened", "same_store", "store_options"]

log = logging.getLogger(__name__)


def store_options(args: argparse.Namespace, codec: str | None = None) -> dict[str, Any]:
    """The options of ``sb.open`` that the command line set (none means the defaults)."""
    options: dict[str, Any] = {}
    if codec is not None:
        options["codec"] = codec
    for name in ("lock_timeout", "max_key_length", "max_value_size"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


@contextmanager
def opened(url: str, flag: str, options: dict[str, Any]) -> Iterator[Storage]:
    """Open a store; close it (syncing) after the block, or drop its changes if the block failed.

    Raises CommandError (usage) for a bad URL, codec or option, and the
    StorageErrors of ``sb.open`` and ``close``.
    """
    try:
        store = open_store(url, flag=flag, **options)
    except StorageError:
        raise
    except (ValueError, TypeError) as exc:
        raise CommandError(str(exc), ExitCode.USAGE) from exc
    try:
        yield store
    except BaseException:
        abandon(store)
        raise
    try:
        store.close()
    except BaseException:
        # A failed close leaves the store open with its changes (API.md 2): drop them, so that
        # neither a later garbage-collection close nor anything else writes what the user was told failed.
        abandon(store)
        raise


def abandon(store: Storage) -> None:
    """Drop a store's unsynced changes and close it; a failure here is only logged."""
    try:
        store.discard()
        store.close()
    except StorageError as exc:
        log.debug("closing %r after an error failed too: %s", store, exc)


def local_path(url: str) -> str | None:
    """The local file a bare path, ``file:`` or ``sqlite:`` URL names, or None for any other URL."""
    scheme, _ = split_scheme(url)
    if scheme not in (None, "file", "sqlite"):
        return None
    try:
        return parse_local(url).path
    except ValueError:
        return None


def same_store(first: str, second: str) -> bool:
    """True when two URLs name the same existing local file."""
    paths = local_path(first), local_path(second)
    if paths[0] is None or paths[1] is None:
        return False
    try:
        return os.path.samefile(paths[0], paths[1])
    except OSError:
        return False
