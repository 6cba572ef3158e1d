"""The ``storagebackend`` command on documents: ls, show, get, put, rm, demo, and its errors.

Every test runs the real command in a subprocess (``python -m storagebackend``
or the installed script) against a store the test builds in-process.
"""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import storagebackend as sb
from clirun import SCRIPT, error_line, run
from storagebackend.cli.exits import ExitCode

TEXT = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
BINARY = "0123456789abcdef0123456789abcdef"
MISSING = "ffffffffffffffffffffffffffffffff"
BLOB = bytes(range(256))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder holding notes.json with a text document and a binary one."""
    with sb.open(tmp_path / "notes.json") as store:
        store[TEXT] = {"title": b"Hello", "body": b"first note", "key = value": b"  padded "}
        store[BINARY] = {"blob": BLOB}
    return tmp_path


def stored(folder: Path, name: str = "notes.json") -> dict[str, dict[str, bytes]]:
    with sb.open(folder / name, flag="r") as store:
        return {uid.hex: store.get_document(uid) for uid in store}


def test_help_lists_every_command_and_the_exit_codes(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path, script=True)
    assert result.returncode == 0
    text = result.stdout.decode()
    for command in ("ls", "show", "get", "put", "rm", "copy", "check", "demo"):
        assert f"\n    {command} " in text
    for code in ExitCode:
        assert f"\n  {int(code):<3}  " in text


def test_demo_prints_the_store_it_wrote(tmp_path: Path) -> None:
    result = run("demo", str(tmp_path), cwd=tmp_path, script=True)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert f"wrote 2 documents to {tmp_path / 'notes.json'}" in text
    assert "title = b'Hello'" in text
    assert (tmp_path / "notes.json").read_text(encoding="utf-8") in text


def test_ls_lists_uids_and_key_counts(folder: Path) -> None:
    result = run("ls", "notes.json", cwd=folder, script=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [f"{BINARY}  1 key", f"{TEXT}  3 keys"]
    assert result.stderr == b""


def test_show_prints_text_as_text_and_binary_as_a_hex_preview(folder: Path) -> None:
    result = run("show", "notes.json", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        f"{BINARY}  1 key",
        "  blob = <binary, 256 bytes: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f...>",
        f"{TEXT}  3 keys",
        "  title = Hello",
        "  body = first note",
        "  'key = value' = '  padded '",
    ]


def test_get_writes_the_exact_bytes_to_a_pipe_and_to_a_file(folder: Path) -> None:
    result = run("get", "notes.json", BINARY, "blob", cwd=folder)
    assert (result.returncode, result.stdout, result.stderr) == (0, BLOB, b"")
    result = run("get", "notes.json", TEXT.upper(), "title", "-o", "title.txt", cwd=folder, script=True)
    assert (result.returncode, result.stdout) == (0, b"")
    assert (folder / "title.txt").read_bytes() == b"Hello"


def test_put_takes_the_value_from_stdin_a_file_or_text(folder: Path) -> None:
    tricky = b"\x00\r\n\xff\xfe last line\n"
    assert run("put", "notes.json", BINARY, "piped", cwd=folder, stdin=tricky).returncode == 0
    (folder / "value.bin").write_bytes(b"\x80from a file")
    assert run("put", "notes.json", BINARY, "filed", "--file", "value.bin", cwd=folder).returncode == 0
    assert run("put", "notes.json", MISSING, "title", "--value", "Grüße", cwd=folder, script=True).returncode == 0
    documents = stored(folder)
    assert documents[BINARY] == {"blob": BLOB, "piped": tricky, "filed": b"\x80from a file"}
    assert documents[MISSING] == {"title": "Grüße".encode()}  # put creates a missing document
    assert run("get", "notes.json", BINARY, "piped", cwd=folder).stdout == tricky


def test_put_new_makes_a_document_and_prints_its_uid(folder: Path) -> None:
    result = run("put", "notes.json", "new", "title", "--value", "fresh", cwd=folder)
    assert result.returncode == 0, result.stderr
    uid = result.stdout.decode().strip()
    assert stored(folder)[str(sb.UID(uid))] == {"title": b"fresh"}


def test_put_creates_a_missing_store_only_with_create(tmp_path: Path) -> None:
    result = run("put", "new.json", "new", "k", "--value", "v", cwd=tmp_path)
    assert result.returncode == ExitCode.STORE
    assert "new.json: no such store" in error_line(result)
    assert not (tmp_path / "new.json").exists()
    assert run("put", "--create", "sqlite:new.db", TEXT, "k", "--value", "v", cwd=tmp_path).returncode == 0
    with sb.open(tmp_path / "new.db", flag="r") as store:
        assert store.get_document(TEXT) == {"k": b"v"}


def test_rm_removes_a_key_or_a_document_and_exits_1_when_missing(folder: Path) -> None:
    assert run("rm", "notes.json", TEXT, "body", cwd=folder).returncode == 0
    assert run("rm", "notes.json", BINARY, cwd=folder, script=True).returncode == 0
    assert stored(folder) == {TEXT: {"title": b"Hello", "key = value": b"  padded "}}
    result = run("rm", "notes.json", TEXT, "body", cwd=folder)
    assert result.returncode == ExitCode.NO
    assert f"no key 'body' in document {TEXT} of notes.json" in error_line(result)
    result = run("rm", "notes.json", BINARY, cwd=folder)
    assert result.returncode == ExitCode.NO
    assert f"no document {BINARY}" in error_line(result)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ls", "nope.json"], ExitCode.STORE, "nope.json: no such store"),
        (["ls", "sqlite:nope.db"], ExitCode.STORE, "no such SQLite store"),
        (["ls", "corrupt.json"], ExitCode.STORE, "format marker"),
        (["ls", "foo:bar"], ExitCode.USAGE, "unknown URL scheme 'foo'; known schemes: "),
        (["ls", "notes.txt"], ExitCode.USAGE, "cannot tell the format of 'notes.txt'"),
        (["ls", "notes.json", "--codec", "nope"], ExitCode.USAGE, "unknown codec 'nope'"),
        (["ls", "sqlite:x.db", "--codec", "json"], ExitCode.USAGE, "unknown option 'codec'"),
        (["show", "notes.json", "xyz"], ExitCode.USAGE, "invalid uid 'xyz'"),
        (["get", "notes.json", MISSING, "title"], ExitCode.NO, f"no document {MISSING} in notes.json"),
        (["get", "notes.json", TEXT, "nokey"], ExitCode.NO, f"no key 'nokey' in document {TEXT}"),
        (["get", "notes.json", TEXT, ""], ExitCode.USAGE, "invalid key ''"),
        (["get", "notes.json", TEXT, "title", "-o", "no/such/dir"], ExitCode.STORE, "cannot write no/such/dir"),
        (["put", "notes.json", TEXT, "tab\there", "--value", "x"], ExitCode.USAGE, "invalid key 'tab\\there'"),
        (["put", "notes.json", TEXT, "k", "--value", "12345", "--max-value-size", "4"], ExitCode.USAGE, "5 bytes"),
        (["put", "notes.json", TEXT, "k", "--file", "nope.bin"], ExitCode.STORE, "cannot read nope.bin"),
    ],
)
def test_errors_are_one_line_with_their_exit_code(folder: Path, args: list[str], code: int, message: str) -> None:
    (folder / "corrupt.json").write_text('{"documents": {}}')
    before = (folder / "notes.json").read_bytes()
    result = run(*args, cwd=folder)
    assert result.returncode == code
    assert message in error_line(result)
    assert (folder / "notes.json").read_bytes() == before
    assert not (folder / "nope.json").exists()
    assert not (folder / "nope.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["put", "notes.json", TEXT, "k", "--value", "a", "--file", "b"], "not allowed with argument"),
        (["ls", "notes.json", "--lock-timeout", "soon"], "'soon' is not a number of seconds"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == ExitCode.USAGE
    assert message in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_a_locked_store_exits_4_after_the_lock_timeout(tmp_path: Path) -> None:
    with sb.open(tmp_path / "locked.db") as store:
        store[TEXT] = {"k": b"v"}
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = run("put", "locked.db", TEXT, "k", "--value", "new", "--lock-timeout", "0.2", cwd=tmp_path)
    finally:
        holder.close()
    assert result.returncode == ExitCode.BUSY
    assert "locked" in error_line(result)
    assert stored(tmp_path, "locked.db") == {TEXT: {"k": b"v"}}


def test_a_locked_file_store_exits_4_after_the_lock_timeout(folder: Path) -> None:
    from storagebackend.transports.local import LocalTransport

    if not LocalTransport.supports_locking:
        pytest.skip("the local transport does not lock on this branch yet")
    with sb.open(folder / "notes.json", flag="w"):  # holds the exclusive lock
        result = run("ls", "notes.json", "--lock-timeout", "0.2", cwd=folder)
    assert result.returncode == ExitCode.BUSY
    assert "notes.json" in error_line(result)


def test_an_unreachable_server_exits_5_without_showing_the_password(tmp_path: Path) -> None:
    pytest.importorskip("storagebackend.transports.ftp", reason="the FTP transport is not on this branch yet")
    import socket

    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("ls", f"ftp://user:s3cret-pw@127.0.0.1:{port}/x.json", cwd=tmp_path)
    assert result.returncode == ExitCode.UNAVAILABLE
    line = error_line(result)
    assert f"127.0.0.1:{port}" in line
    assert "s3cret-pw" not in line


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.exists(), f"pip install -e . should have put the storagebackend script at {SCRIPT}"


def test_a_reader_that_goes_away_ends_the_command_quietly(folder: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "storagebackend", "show", "notes.json"],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # like `| head -0`, before the command has written anything
    errors = process.stderr.read()
    assert process.wait(timeout=120) == ExitCode.BROKEN_PIPE
    assert errors == b""


def test_put_without_a_value_on_a_terminal_asks_for_one_instead_of_waiting(folder: Path) -> None:
    main, terminal = pty.openpty()
    try:
        result = run("put", "notes.json", TEXT, "k", cwd=folder, stdin_from=terminal)
    finally:
        os.close(terminal)
        os.close(main)
    assert result.returncode == ExitCode.USAGE
    assert "no value: give --value TEXT or --file PATH, or pipe the value on stdin" in error_line(result)
