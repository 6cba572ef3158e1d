"""``storagebackend demo``: the README's demo, a small store written, reopened and printed."""

from __future__ import annotations

import argparse
import shlex
import tempfile
from pathlib import Path

from storagebackend.cli.exits import ExitCode
from storagebackend.opening import open as open_store

__all__ = ["demo"]


def demo(args: argparse.Namespace) -> int:
    """Create a store, write two documents, reopen it read-only and print them."""
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="storagebackend-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = str(folder / "notes.json")
    with open_store(url) as store:
        note = store.create({"title": b"Hello", "body": b"first note"})
        note["date"] = b"2026-11-27"
        store.create({"title": b"Binary too", "blob": bytes([0xDE, 0xAD, 0xBE, 0xEF])})
        first = note.uid
    print(f"wrote 2 documents to {url}")
    with open_store(url, flag="r") as store:
        for uid, document in sorted(store.items(), key=lambda item: item[0] != first):
            print(f"{uid}:")
            for key, value in document.items():
                print(f"  {key} = {value!r}")
    print(f"\n{url} holds:\n{Path(url).read_text(encoding='utf-8')}")
    print(f"next: storagebackend ls {shlex.quote(url)}")
    return ExitCode.OK
