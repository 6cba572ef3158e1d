"""The ``storagebackend`` command: argument parsing, dispatch, and error reporting.

Every failure ends as one line on stderr (``storagebackend: error: ...``) and
an exit code from :mod:`storagebackend.cli.exits`; ``--debug`` adds tracebacks
and the library's debug log.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Final

from storagebackend import __version__
from storagebackend.cli import documents, transfer
from storagebackend.cli.demo import demo
from storagebackend.cli.exits import EXIT_CODES_HELP, ExitCode, exit_code_for
from storagebackend.cli.messages import for_cli
from storagebackend.defaults import LOCK_TIMEOUT, MAX_KEY_LENGTH, MAX_VALUE_SIZE
from storagebackend.options import OPTION_KINDS

__all__ = ["main", "parser"]

PROG: Final = "storagebackend"

_DESCRIPTION: Final = """\
Look into and edit document stores anywhere a URL points: a .json, .yaml,
.toml, .ini or .msgpack file, file:, sqlite:, ftp://, postgresql://, redis://,
memory:// or a plugin's scheme. A UID is 32 hex digits; keys are short
strings; values are bytes."""


def _option(name: str) -> Callable[[str], object]:
    """The argparse type of option ``name``: its text read and checked by the library's one option check."""
    kind = OPTION_KINDS[name]

    def read(text: str) -> object:
        try:
            return kind.check(text, from_text=True)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return read


def _store_options(codec: bool) -> argparse.ArgumentParser:
    """The options every store command shares (``codec`` only where one URL is opened)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("store options")
    if codec:
        group.add_argument("--codec", metavar="NAME", help="file format, instead of the one the extension names")
    group.add_argument(
        "--lock-timeout",
        type=_option("lock_timeout"),
        metavar="SECONDS",
        help=f"wait this long for another process's lock ({LOCK_TIMEOUT:g}; inf: wait forever)",
    )
    group.add_argument(
        "--max-key-length", type=_option("max_key_length"), metavar="N", help=f"longest key allowed ({MAX_KEY_LENGTH})"
    )
    group.add_argument(
        "--max-value-size",
        type=_option("max_value_size"),
        metavar="BYTES",
        help=f"largest value allowed ({MAX_VALUE_SIZE})",
    )
    return common


def parser() -> argparse.ArgumentParser:
    """The argument parser of the whole command."""
    root = argparse.ArgumentParser(
        prog=PROG,
        description=_DESCRIPTION,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    root.add_argument("--debug", action="store_true", help="show tracebacks and the library's debug log")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    one_store = [_store_options(codec=True)]

    def command(
        name: str, run: Callable[[argparse.Namespace], int], summary: str, parents: list[argparse.ArgumentParser]
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=summary,
            parents=parents,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(run=run)
        return sub

    ls = command("ls", documents.ls, "list the documents (uid and number of keys)", one_store)
    ls.add_argument("url", metavar="URL")

    show = command("show", documents.show, "print a document's keys and values (every document without UID)", one_store)
    show.add_argument("url", metavar="URL")
    show.add_argument("uid", metavar="UID", nargs="?")

    get = command("get", documents.get, "write one value's exact bytes to stdout or a file", one_store)
    get.add_argument("url", metavar="URL")
    get.add_argument("uid", metavar="UID")
    get.add_argument("key", metavar="KEY")
    get.add_argument("-o", "--output", metavar="FILE", help="write the value to FILE instead of stdout")
    get.add_argument(
        "--raw",
        action="store_true",
        help="write a value that is not plain text to a terminal anyway (refused without it: it can mess up the "
        "terminal; 'show' prints it escaped)",
    )

    put = command(
        "put", documents.put, "set one value, from --value, --file or stdin (UID 'new': a new document)", one_store
    )
    put.add_argument("url", metavar="URL")
    put.add_argument("uid", metavar="UID", help="32 hex digits, or 'new' for a new document (its uid is printed)")
    put.add_argument("key", metavar="KEY")
    source = put.add_mutually_exclusive_group()
    source.add_argument("--value", metavar="TEXT", help="the value as text (stored as UTF-8)")
    source.add_argument("--file", metavar="PATH", help="the value is this file's bytes")
    put.add_argument("--create", action="store_true", help="create the store if it is missing (flag 'c', not 'w')")

    rm = command("rm", documents.rm, "remove a document, or one key of it", one_store)
    rm.add_argument("url", metavar="URL")
    rm.add_argument("uid", metavar="UID")
    rm.add_argument("key", metavar="KEY", nargs="?")

    copy = command(
        "copy",
        transfer.copy,
        "copy every document from one store to another (any backend, any format)",
        [_store_options(codec=False)],
    )
    copy.add_argument("src", metavar="SRC_URL")
    copy.add_argument("dst", metavar="DST_URL", help="created if missing")
    mode = copy.add_mutually_exclusive_group()
    mode.add_argument("--merge", action="store_true", help="DST may hold documents: same uid replaced, others kept")
    mode.add_argument("--replace", action="store_true", help="DST may hold documents: it becomes an exact copy")
    copy.add_argument(
        "--force",
        action="store_true",
        help="with --replace: overwrite a DST that cannot be read (corrupt, or not a store); what it holds is lost",
    )
    copy.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no count at the end")
    copy.add_argument("--codec", metavar="NAME", help="file format of SRC and DST (each that is a file store)")
    copy.add_argument("--src-codec", metavar="NAME", help="file format of SRC, instead of its extension's")
    copy.add_argument("--dst-codec", metavar="NAME", help="file format of DST, instead of its extension's")

    check = command("check", transfer.check, "read and validate the whole store; exit 1 on any problem", one_store)
    check.add_argument("url", metavar="URL")

    demo_parser = command("demo", demo, "write a small store, reopen it and print it", [])
    demo_parser.add_argument(
        "folder",
        metavar="FOLDER",
        nargs="?",
        help="where to write notes.json, kept afterwards (without FOLDER: a temporary folder, removed at the end)",
    )
    return root


def _report(exc: BaseException, debug: bool) -> int:
    """Print one line about ``exc`` on stderr; return its exit code."""
    code = exit_code_for(exc)
    if debug:
        traceback.print_exception(exc)
    if code is ExitCode.INTERRUPTED:
        message = "interrupted"
    elif code is ExitCode.INTERNAL:
        message = f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    else:
        message = f"error: {for_cli(str(exc))}"
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (argparse exits 2 itself on bad usage)."""
    args = parser().parse_args(argv)
    # Errors reach the user as exceptions; the library's warnings (a retry, a plugin ignored) only with --debug.
    logging.basicConfig(
        format=f"{PROG}: %(message)s", level=logging.DEBUG if args.debug else logging.ERROR, stream=sys.stderr
    )
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")  # a key in a non-UTF-8 terminal never crashes a listing
    try:
        code: int = args.run(args)
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at interpreter exit
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a tool killed by SIGPIPE does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.BROKEN_PIPE
    except (Exception, KeyboardInterrupt) as exc:
        return _report(exc, args.debug)
    return code
