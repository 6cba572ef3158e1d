"""The commands on documents: ``ls``, ``show``, ``get``, ``put`` and ``rm``.

Read-only commands open with flag ``"r"``; ``put`` and ``rm`` with ``"w"``, so
a mistyped path is an error instead of a new, empty store (``put --create``
opens with ``"c"``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from storagebackend.cli.exits import CommandError, ExitCode
from storagebackend.cli.output import is_plain_text, plural, show_key, show_value
from storagebackend.cli.stores import opened, store_options
from storagebackend.errors import DocumentNotFoundError
from storagebackend.storage import Storage
from storagebackend.uid import UID

__all__ = ["get", "ls", "print_document", "put", "rm", "show"]


def ls(args: argparse.Namespace) -> int:
    """Print every document's uid and key count, sorted by uid."""
    with opened(args.url, "r", store_options(args, args.codec)) as store:
        for uid in sorted(store):
            print(f"{uid}  {plural(store.count(uid), 'key')}")
    return ExitCode.OK


def print_document(store: Storage, uid: UID) -> None:
    """Print a document's uid and key count, then each key and value as :func:`show_value` shows it."""
    document = store.get_document(uid)
    print(f"{uid}  {plural(len(document), 'key')}")
    for key, value in document.items():
        print(f"  {show_key(key)} = {show_value(value)}")


def show(args: argparse.Namespace) -> int:
    """Print one document (or every one) with its keys and values."""
    uid = UID(args.uid) if args.uid is not None else None
    with opened(args.url, "r", store_options(args, args.codec)) as store:
        for each in [uid] if uid is not None else sorted(store):
            print_document(store, each)
    return ExitCode.OK


def _missing_key(store: Storage, uid: UID, key: str) -> CommandError:
    return CommandError(f"no key {key!r} in document {uid} of {store.backend.describe()}", ExitCode.NO)


def get(args: argparse.Namespace) -> int:
    """Write one value's exact bytes to stdout or to ``-o FILE``.

    A value that is not plain text goes to a terminal only with ``--raw`` (as curl
    refuses binary output): its escape sequences would reach the terminal.
    """
    uid = UID(args.uid)
    with opened(args.url, "r", store_options(args, args.codec)) as store:
        value = store[uid].get(args.key)  # a missing document raises DocumentNotFoundError
        if value is None:
            raise _missing_key(store, uid, args.key)
    if args.output in (None, "-"):
        if not args.raw and sys.stdout.isatty() and not is_plain_text(value):
            raise CommandError(
                f"not writing the value to the terminal: its {plural(len(value), 'byte')} are not plain text, and "
                "binary output can mess up your terminal. Use --output FILE or a pipe, --raw to send it anyway, "
                "or 'storagebackend show' to see it escaped",
                ExitCode.USAGE,
            )
        sys.stdout.flush()
        sys.stdout.buffer.write(value)
        sys.stdout.buffer.flush()
    else:
        try:
            Path(args.output).write_bytes(value)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}", ExitCode.STORE) from exc
    return ExitCode.OK


def _value(args: argparse.Namespace) -> bytes:
    """The value to put: ``--value`` (as UTF-8), ``--file``, or all of stdin."""
    if args.value is not None:
        text: str = args.value
        return text.encode("utf-8", errors="surrogateescape")
    if args.file is not None:
        try:
            return Path(args.file).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}", ExitCode.STORE) from exc
    if sys.stdin is None or sys.stdin.isatty():
        raise CommandError("no value: give --value TEXT or --file PATH, or pipe the value on stdin", ExitCode.USAGE)
    return sys.stdin.buffer.read()


def put(args: argparse.Namespace) -> int:
    """Set one value; UID ``new`` creates a document with a fresh uid and prints it."""
    uid = None if args.uid == "new" else UID(args.uid)
    value = _value(args)
    with opened(args.url, "c" if args.create else "w", store_options(args, args.codec)) as store:
        if uid is None:
            print(store.create({args.key: value}).uid)
        else:
            store.put(uid, args.key, value)
    return ExitCode.OK


def rm(args: argparse.Namespace) -> int:
    """Remove a document, or one key of it; exit 1 if it is not there."""
    uid = UID(args.uid)
    with opened(args.url, "w", store_options(args, args.codec)) as store:
        if args.key is None:
            del store[uid]
        elif not store.delete(uid, args.key):
            if uid not in store:
                raise DocumentNotFoundError(f"no document {uid} in {store.backend.describe()}")
            raise _missing_key(store, uid, args.key)
    return ExitCode.OK
