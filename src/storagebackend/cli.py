"""The ``storagebackend`` command (also ``python -m storagebackend``)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from storagebackend.opening import open as open_store

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
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
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storagebackend", description="Store documents anywhere a URL points.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="write a small store, reopen it and print it")
    demo.add_argument("folder", nargs="?", help="where to write notes.json (default: a new temporary folder)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
