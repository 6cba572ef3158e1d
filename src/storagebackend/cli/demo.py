"""``storagebackend demo``: the README's demo, a small store written, reopened and printed."""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

from storagebackend.cli.documents import print_document
from storagebackend.cli.exits import CommandError, ExitCode
from storagebackend.opening import open as open_store

__all__ = ["demo"]


def demo(args: argparse.Namespace) -> int:
    """Write a small store, reopen it read-only and print it as ``show`` does.

    With FOLDER the store stays there (the folder is made if missing); without,
    it goes to a temporary folder that is removed at the end. Raises CommandError
    if FOLDER cannot be made.
    """
    if args.folder is None:
        with tempfile.TemporaryDirectory(prefix="storagebackend-demo-") as temporary:
            _write_and_show(Path(temporary) / "notes.json")
        print("(that was a temporary folder, now removed: 'storagebackend demo FOLDER' keeps the store)")
        return ExitCode.OK
    folder = Path(args.folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot make the folder {folder}: {exc.strerror or exc}", ExitCode.STORE) from exc
    url = _write_and_show(folder / "notes.json")
    print(f"next: storagebackend show {shlex.quote(url)}")
    return ExitCode.OK


def _write_and_show(path: Path) -> str:
    """Write the demo's two documents to ``path``, print them and the file; return its URL."""
    url = str(path)
    with open_store(url) as store:
        note = store.create({"title": b"Hello", "body": b"first note"})
        note["date"] = b"2026-11-27"
        store.create({"title": b"Binary too", "blob": bytes([0xDE, 0xAD, 0xBE, 0xEF])})
        first = note.uid
    print(f"wrote 2 documents to {url}")
    with open_store(url, flag="r") as store:
        for uid in sorted(store, key=lambda each: each != first):
            print_document(store, uid)
    print(f"\n{url} holds:\n{path.read_text(encoding='utf-8')}")
    return url
