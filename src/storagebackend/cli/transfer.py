"""``copy`` (any store to any other) and ``check`` (read and validate a whole store).

``copy`` opens SRC read-only (``memory://``, which keeps nothing, as an empty
store) and DST with flag ``"c"``, writes every document
under its own uid and syncs once at the end, so a failed copy leaves DST as it
was (file stores and SQL databases write everything in one step; a DST that
did not exist is left empty). A DST that already holds documents is refused
unless ``--merge`` (SRC's documents replace those with the same uid, the
others stay) or ``--replace`` (DST ends up an exact copy of SRC) is given. A
DST that cannot be read (corrupt, or not a store) is opened with flag ``"n"``,
which discards it, only with ``--replace --force``, and only once SRC has been
read and found valid.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from storagebackend.cli.exits import CommandError, ExitCode
from storagebackend.cli.messages import for_cli
from storagebackend.cli.output import Progress, plural, show_key
from storagebackend.cli.stores import opened, same_store, store_options
from storagebackend.errors import CorruptStoreError, InvalidKeyError, InvalidUIDError, InvalidValueError
from storagebackend.opening import backend_class_for
from storagebackend.redaction import redact
from storagebackend.storage import Storage

__all__ = ["check", "copy"]


def copy(args: argparse.Namespace) -> int:
    """Copy every document of SRC into DST; print how many."""
    src_shown, dst_shown = redact(args.src), redact(args.dst)
    if args.force and not args.replace:
        raise CommandError(
            "--force goes with --replace: it lets --replace overwrite a DST that cannot be read", ExitCode.USAGE
        )
    if same_store(args.src, args.dst):
        raise CommandError(f"SRC and DST are the same store: {src_shown}", ExitCode.USAGE)
    if args.codec is not None and not (_takes_codec(args.src) or _takes_codec(args.dst)):
        raise CommandError("--codec: neither SRC nor DST is a file store, so no codec applies", ExitCode.USAGE)
    src_codec = args.src_codec or (args.codec if _takes_codec(args.src) else None)
    dst_codec = args.dst_codec or (args.codec if _takes_codec(args.dst) else None)
    show_progress = not args.quiet and sys.stderr is not None and sys.stderr.isatty()
    with ExitStack() as stack:
        src = stack.enter_context(opened(args.src, _source_flag(args.src), store_options(args, src_codec)))
        dst = _open_destination(stack, args, src, store_options(args, dst_codec))
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


def _takes_codec(url: str) -> bool:
    """Whether the store ``url`` names takes a ``codec`` option (a file store), for ``copy --codec``."""
    try:
        return "codec" in backend_class_for(url).options
    except ValueError:
        return True  # an unknown scheme: opening it reports that as a usage error


def _source_flag(url: str) -> str:
    """``"r"``, or ``"c"`` for a SRC that keeps nothing (``memory://``): it is empty, not missing."""
    try:
        return "r" if backend_class_for(url).persistent else "c"
    except ValueError:
        return "r"  # an unknown scheme: opening it reports that as a usage error


def _open_destination(stack: ExitStack, args: argparse.Namespace, src: Storage, options: dict[str, Any]) -> Storage:
    """Open DST with flag ``"c"``; one that cannot be read with ``"n"`` (discarding it), only if forced.

    Raises CommandError if DST cannot be read and ``--replace --force`` was not
    given, or if SRC holds data that could not be copied (DST is then left as it was).
    """
    try:
        return stack.enter_context(opened(args.dst, "c", options))
    except CorruptStoreError as exc:
        if not args.force:
            raise CommandError(
                f"{exc}; nothing was copied (to overwrite DST with a copy of SRC, losing what DST holds, "
                "pass --replace --force)",
                ExitCode.STORE,
            ) from exc
    report = _Report()
    _check_store(src, report)  # before DST is discarded, so a copy that cannot succeed leaves it alone
    if report.problems:
        raise CommandError(
            f"{redact(args.src)}: {report.problems[0]}; nothing was copied and DST was left as it was "
            "(see: storagebackend check)",
            ExitCode.STORE,
        )
    return stack.enter_context(opened(args.dst, "n", options))


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
        print(f"problem: {for_cli(problem)}")
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
        report.documents += 1  # a uid is always valid here: the backend refuses one that is not (CorruptStoreError)
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
            report.size += len(value)
            try:
                limits.check_value(value)
            except InvalidValueError as exc:
                report.problems.append(f"document {uid}, key {show_key(key)}: {exc}")
