"""``copy`` (any store to any other) and ``check`` (read and validate a whole store).

``copy`` opens SRC read-only and DST with flag ``"c"``, writes every document
under its own uid and syncs once at the end, so a failed copy leaves DST as it
was (file stores and SQL databases write everything in one step; a DST that
did not exist is left empty). A DST that already holds documents is refused
unless ``--merge`` (SRC's documents replace those with the same uid, the
others stay) or ``--replace`` (DST ends up an exact copy of SRC) is given.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from typing import Final

from storagebackend.cli.exits import CommandError, ExitCode
from storagebackend.cli.output import Progress, plural, show_key
from storagebackend.cli.stores import opened, same_store, store_options
from storagebackend.errors import CorruptStoreError, InvalidKeyError, InvalidUIDError, InvalidValueError
from storagebackend.storage import Storage
from storagebackend.urls import redact

__all__ = ["check", "copy"]

_HEX_UID: Final = re.compile(r"[0-9a-f]{32}")


def copy(args: argparse.Namespace) -> int:
    """Copy every document of SRC into DST; print how many."""
    src_shown, dst_shown = redact(args.src), redact(args.dst)
    if same_store(args.src, args.dst):
        raise CommandError(f"SRC and DST are the same store: {src_shown}", ExitCode.USAGE)
    show_progress = not args.quiet and sys.stderr is not None and sys.stderr.isatty()
    with (
        opened(args.src, "r", store_options(args, args.src_codec)) as src,
        opened(args.dst, "c", store_options(args, args.dst_codec)) as dst,
    ):
        existing = len(dst)
        if existing and not (args.merge or args.replace):
            raise CommandError(
                f"{dst_shown} already holds {plural(existing, 'document')}; nothing was copied. "
                "Pass --merge to add SRC's documents (replacing those with the same uid) "
                "or --replace to make DST an exact copy of SRC",
                ExitCode.NO,
            )
        if args.replace:
            dst.clear()
        progress = Progress(len(src), "copying", sys.stderr if show_progress else None)
        try:
            documents, keys = _copy_documents(src, dst, progress, src_shown)
        finally:
            progress.close()
    if not args.quiet:
        print(f"copied {plural(documents, 'document')} ({plural(keys, 'key')}) from {src_shown} to {dst_shown}")
    return ExitCode.OK


def _copy_documents(src: Storage, dst: Storage, progress: Progress, src_shown: str) -> tuple[int, int]:
    """Write each document of ``src`` into ``dst``; return the documents and keys copied."""
    documents = keys = 0
    for uid in src:
        document = src.get_document(uid)
        try:
            dst[uid] = document
        except (InvalidUIDError, InvalidKeyError, InvalidValueError) as exc:
            raise CommandError(
                f"{src_shown}: document {uid}: {exc}; nothing was copied (see: storagebackend check)", ExitCode.STORE
            ) from exc
        documents += 1
        keys += len(document)
        progress.update(documents)
    return documents, keys


@dataclass
class _Report:
    """What ``check`` found."""

    documents: int = 0
    keys: int = 0
    size: int = 0
    problems: list[str] = field(default_factory=list)


def check(args: argparse.Namespace) -> int:
    """Read and validate every document of a store; exit 1 if anything is wrong."""
    shown = redact(args.url)
    report = _Report()
    try:
        with opened(args.url, "r", store_options(args, args.codec)) as store:
            _check_store(store, report)
    except CorruptStoreError as exc:
        report.problems.append(str(exc))
    for problem in report.problems:
        print(f"problem: {problem}")
    counts = [plural(report.documents, "document"), plural(report.keys, "key"), plural(report.size, "byte")]
    summary = ", ".join(counts) + " of values"
    if report.problems:
        print(f"{shown}: {summary}; {plural(len(report.problems), 'problem')}")
        return ExitCode.NO
    print(f"{shown}: {summary}; ok")
    return ExitCode.OK


def _check_store(store: Storage, report: _Report) -> None:
    """Decode every document and check every uid, key and value against the store's limits."""
    limits = store.limits
    for uid in store:
        report.documents += 1
        if not _HEX_UID.fullmatch(uid.hex):
            report.problems.append(f"document {uid.hex!r}: not a uid (32 lower-case hex digits)")
        try:
            document = store.get_document(uid)
        except CorruptStoreError as exc:
            report.problems.append(f"document {uid}: {exc}")
            continue
        for key, value in document.items():
            report.keys += 1
            try:
                limits.check_key(key)
            except InvalidKeyError as exc:
                report.problems.append(f"document {uid}: {exc}")
            try:
                report.size += len(limits.check_value(value))
            except InvalidValueError as exc:
                report.problems.append(f"document {uid}, key {show_key(key)}: {exc}")
