"""The ``storagebackend`` command on documents: ls, show, get, put, rm, demo, and its errors.

Every test runs the real command in a subprocess (``python -m storagebackend``
or the installed script) against a store the test builds in-process.
"""

from __future__ import annotations

import os
import pty
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.clirun import SCRIPT, error_line, run
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


def test_demo_prints_the_store_it_wrote_as_show_does(tmp_path: Path) -> None:
    result = run("demo", str(tmp_path), cwd=tmp_path, script=True)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert f"wrote 2 documents to {tmp_path / 'notes.json'}" in text
    assert "\n  title = Hello\n" in text
    assert "\n  blob = <binary, 4 bytes: de ad be ef>\n" in text
    assert "b'" not in text  # no Python reprs
    assert (tmp_path / "notes.json").read_text(encoding="utf-8") in text
    shown = run("show", "notes.json", cwd=tmp_path).stdout.decode()
    for line in shown.splitlines():
        assert line in text.splitlines()  # the same lines as show prints


def test_demo_without_a_folder_leaves_nothing_behind(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = run("demo", cwd=tmp_path, env={"TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr
    assert f"wrote 2 documents to {temporary}" in result.stdout.decode()
    assert list(temporary.iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tmp"]


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
        (["ls", "sqlite:x.db", "--codec", "json"], ExitCode.USAGE, "--codec does not apply to a 'sqlite' store"),
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
        (["ls", "notes.json", "--lock-timeout", "soon"], "--lock-timeout: must be a number of seconds >= 0"),
        (["ls", "notes.json", "--lock-timeout", "nan"], "got the text 'nan'"),
        (["ls", "notes.json", "--lock-timeout", "-1"], "got the text '-1'"),
        (["ls", "notes.json", "--max-key-length", "2.5"], "--max-key-length: must be a whole number >= 1"),
        (["ls", "notes.json", "--max-value-size", "0"], "--max-value-size: must be a whole number >= 1"),
        (["copy", "a.json", "b.json", "--force"], "--force goes with --replace"),
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
    with sb.open(folder / "notes.json", flag="w"):  # holds the exclusive lock
        result = run("ls", "notes.json", "--lock-timeout", "0.2", cwd=folder)
    assert result.returncode == ExitCode.BUSY
    assert "notes.json" in error_line(result)


def test_an_unreachable_server_exits_5_without_showing_the_password(tmp_path: Path) -> None:
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


def test_messages_name_command_line_options_not_python_arguments(folder: Path) -> None:
    result = run("ls", "notes.txt", cwd=folder)
    assert result.returncode == ExitCode.USAGE
    line = error_line(result)
    assert "--codec NAME / ?codec=NAME" in line
    assert " codec=NAME" not in line
    (folder / "empty.json").write_bytes(b"")
    result = run("ls", "empty.json", cwd=folder)
    assert result.returncode == ExitCode.STORE
    line = error_line(result)
    assert "flag 'n'" not in line
    assert "overwrite it with 'storagebackend copy --replace --force SRC DST'" in line


def test_a_store_that_is_not_utf8_text_is_not_an_ini_store(tmp_path: Path) -> None:
    (tmp_path / "bad.ini").write_bytes(b"[storagebackend]\nformat = \xff\n")
    result = run("ls", "bad.ini", cwd=tmp_path)
    assert result.returncode == ExitCode.STORE
    assert "bad.ini: not an INI store" in error_line(result)
    result = run("check", "bad.ini", cwd=tmp_path)
    assert result.returncode == ExitCode.NO
    assert "not an INI store" in result.stdout.decode()
    assert "not a INI" not in result.stdout.decode()


def _terminal_output(main: int) -> bytes:
    """Everything written to the terminal whose other end is ``main`` so far."""
    import select

    data = b""
    while select.select([main], [], [], 0.2)[0]:
        chunk = os.read(main, 65536)
        if not chunk:
            break
        data += chunk
    return data


def test_get_sends_only_plain_text_to_a_terminal_unless_raw(folder: Path) -> None:
    """A stored escape sequence would clear the screen and retitle the window: refused, as curl refuses."""
    hostile = b"\x1b[2J\x1b]0;title\x07"
    with sb.open(folder / "notes.json") as store:
        store[TEXT]["hostile"] = hostile
        store[TEXT]["lines"] = b"one\ttwo\nthree"
    main, terminal = pty.openpty()
    try:
        refused = run("get", "notes.json", TEXT, "hostile", cwd=folder, stdout=terminal)
        after_refusal = _terminal_output(main)
        binary = run("get", "notes.json", BINARY, "blob", cwd=folder, stdout=terminal)
        after_binary = _terminal_output(main)
        text = run("get", "notes.json", TEXT, "lines", cwd=folder, stdout=terminal)
        after_text = _terminal_output(main)
        raw = run("get", "--raw", "notes.json", TEXT, "hostile", cwd=folder, stdout=terminal)
        after_raw = _terminal_output(main)
    finally:
        os.close(terminal)
        os.close(main)
    for result in (refused, binary):
        assert result.returncode == ExitCode.USAGE
        message = result.stderr.decode()
        assert "binary output can mess up your terminal" in message
        assert "--output FILE" in message and "--raw" in message
    assert (after_refusal, after_binary) == (b"", b"")
    assert text.returncode == 0
    assert after_text == b"one\ttwo\r\nthree"  # the terminal turns \n into \r\n
    assert raw.returncode == 0
    assert after_raw == hostile
    piped = run("get", "notes.json", TEXT, "hostile", cwd=folder)
    assert (piped.returncode, piped.stdout) == (0, hostile)  # a pipe gets the exact bytes


def test_a_refused_login_exits_6_without_showing_the_password(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    pytest.importorskip("pyftpdlib")
    server = request.getfixturevalue("ftp_server")
    result = run("ls", server.url("x.json", password="wr0ng-s3cret"), cwd=tmp_path)
    assert result.returncode == ExitCode.CREDENTIALS
    line = error_line(result)
    assert "refused the login" in line
    assert "s3cret" not in result.stderr.decode()
