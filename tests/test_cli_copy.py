"""``storagebackend copy`` and ``check``, and how the command line shows values and errors."""

from __future__ import annotations

import itertools
import os
import pty
import subprocess
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.clirun import error_line, run
from storagebackend.cli.exits import CommandError, ExitCode, exit_code_for
from storagebackend.cli.output import show_key, show_value
from storagebackend.registry import codec_by_name, known_codecs

FIRST = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
SECOND = "0123456789abcdef0123456789abcdef"
DOCUMENTS = {
    FIRST: {"title": b"Hello world", "key = value": b"", "ж" * 32: "ж日本𝄞".encode(), "[x]": b"#; comment"},
    SECOND: {"blob": bytes(range(256)), "crlf": b"\r\n\x00"},
    "00000000000000000000000000000000": {},
}


def write(path: Path | str, documents: dict[str, dict[str, bytes]], **options: int) -> None:
    with sb.open(path, flag="n", **options) as store:
        store.update(documents)


def read(url: Path | str) -> dict[str, dict[str, bytes]]:
    with sb.open(url, flag="r") as store:
        return {uid.hex: store.get_document(uid) for uid in store}


def _loadable_codecs() -> list[str]:
    """The codecs this install has (json always; msgpack, yaml, toml, ini once they land)."""
    names = []
    for name in known_codecs():
        try:
            codec_by_name(name)
        except ValueError:
            continue
        names.append(name)
    return names


def test_copy_goes_through_every_codec_and_sqlite_and_comes_back_equal(tmp_path: Path) -> None:
    write(tmp_path / "notes.json", DOCUMENTS)
    hops = [f"copy{codec_by_name(name).extensions[0]}" for name in _loadable_codecs() if name != "json"]
    chain = ["notes.json", *hops, "sqlite:copy.db", "back.json"]
    for src, dst in itertools.pairwise(chain):
        result = run("copy", src, dst, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode() == f"copied 3 documents (6 keys) from {src} to {dst}\n"
        assert result.stderr == b""  # no progress bar when stderr is not a terminal
    assert read(tmp_path / "back.json") == DOCUMENTS


def test_copy_refuses_a_destination_with_documents_unless_merge_or_replace(tmp_path: Path) -> None:
    write(tmp_path / "src.json", DOCUMENTS)
    other = {"ffffffffffffffffffffffffffffffff": {"kept": b"yes"}, FIRST: {"old": b"replaced"}}
    write(tmp_path / "dst.db", other)
    result = run("copy", "src.json", "dst.db", cwd=tmp_path)
    assert result.returncode == ExitCode.NO
    assert "dst.db already holds 2 documents; nothing was copied. Pass --merge" in error_line(result)
    assert read(tmp_path / "dst.db") == other
    assert run("copy", "--merge", "src.json", "dst.db", cwd=tmp_path).returncode == 0
    assert read(tmp_path / "dst.db") == {**other, **DOCUMENTS}
    assert run("copy", "--replace", "--quiet", "src.json", "dst.db", cwd=tmp_path).returncode == 0
    assert read(tmp_path / "dst.db") == DOCUMENTS


def test_copy_shows_a_progress_bar_on_a_terminal_and_nothing_with_quiet(tmp_path: Path) -> None:
    write(tmp_path / "src.json", DOCUMENTS)
    main, terminal = pty.openpty()
    try:
        result = run("copy", "src.json", "dst.json", cwd=tmp_path, stderr=terminal)
    finally:
        os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert result.returncode == 0
    assert b"copying [" in shown
    assert b"3/3" in shown
    assert result.stdout.startswith(b"copied 3 documents")
    quiet = run("copy", "--quiet", "--replace", "src.json", "dst.json", cwd=tmp_path, stderr=subprocess.STDOUT)
    assert (quiet.returncode, quiet.stdout) == (0, b"")


def test_copy_of_invalid_source_data_copies_nothing(tmp_path: Path) -> None:
    long_key = "k" * 40
    write(tmp_path / "src.json", {**DOCUMENTS, "ffffffffffffffffffffffffffffffff": {long_key: b"v"}}, max_key_length=40)
    write(tmp_path / "dst.json", {})
    result = run("copy", "src.json", "dst.json", cwd=tmp_path)
    assert result.returncode == ExitCode.STORE
    assert "40 characters, at most 32 allowed; nothing was copied" in error_line(result)
    assert read(tmp_path / "dst.json") == {}
    assert run("copy", "--max-key-length", "40", "src.json", "dst.json", cwd=tmp_path).returncode == 0


def test_copy_onto_itself_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "notes.json", DOCUMENTS)
    result = run("copy", "notes.json", f"file://{tmp_path}/notes.json", cwd=tmp_path)
    assert result.returncode == ExitCode.USAGE
    assert "SRC and DST are the same store" in error_line(result)


def test_copy_codec_applies_to_each_side_that_is_a_file_store(tmp_path: Path) -> None:
    write(tmp_path / "notes.json", DOCUMENTS)
    (tmp_path / "notes.json").rename(tmp_path / "notes.data")  # an extension that names no codec
    result = run("copy", "--codec", "json", "notes.data", "sqlite:copy.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / "copy.db") == DOCUMENTS
    result = run("copy", "copy.db", "out.data", "--codec", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert read(f"{tmp_path}/out.data?codec=json") == DOCUMENTS
    result = run("copy", "--codec", "json", "notes.data", "again.data", cwd=tmp_path)  # both sides
    assert result.returncode == 0, result.stderr
    assert read(f"{tmp_path}/again.data?codec=json") == DOCUMENTS
    result = run("copy", "--codec", "yaml", "--src-codec", "json", "notes.data", "mixed.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run("copy", "--codec", "json", "copy.db", "sqlite:other.db", cwd=tmp_path)
    assert result.returncode == ExitCode.USAGE
    assert "--codec: neither SRC nor DST is a file store" in error_line(result)


@pytest.mark.parametrize(
    ("name", "damage"),
    [("dst.json", b""), ("dst.json", b"garbage that is no store" * 20), ("dst.db", b"garbage that is no store" * 20)],
)  # (a zero-byte SQLite file is an empty database, as in SQLite itself)
def test_copy_replace_force_overwrites_a_destination_that_cannot_be_read(
    tmp_path: Path, name: str, damage: bytes
) -> None:
    write(tmp_path / "src.json", DOCUMENTS)
    (tmp_path / name).write_bytes(damage)
    for extra in ([], ["--merge"], ["--replace"]):
        result = run("copy", *extra, "src.json", name, cwd=tmp_path)
        assert result.returncode == ExitCode.STORE, result.stderr
        assert "pass --replace --force" in error_line(result)
        assert (tmp_path / name).read_bytes() == damage
    result = run("copy", "--replace", "--force", "src.json", name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / name) == DOCUMENTS
    result = run("copy", "--replace", "--force", "memory://", name, cwd=tmp_path)  # memory://: an empty SRC
    assert result.returncode == 0, result.stderr
    assert read(tmp_path / name) == {}


def test_copy_replace_force_leaves_a_destination_alone_when_the_source_cannot_be_copied(tmp_path: Path) -> None:
    write(tmp_path / "src.json", {FIRST: {"k" * 40: b"v"}}, max_key_length=40)
    (tmp_path / "dst.json").write_bytes(b"")
    result = run("copy", "--replace", "--force", "src.json", "dst.json", cwd=tmp_path)
    assert result.returncode == ExitCode.STORE
    assert "nothing was copied and DST was left as it was" in error_line(result)
    assert (tmp_path / "dst.json").read_bytes() == b""


def test_copy_replace_onto_a_healthy_destination_needs_no_force(tmp_path: Path) -> None:
    write(tmp_path / "src.json", DOCUMENTS)
    write(tmp_path / "dst.db", {"ffffffffffffffffffffffffffffffff": {"old": b"1"}})
    for extra in (["--replace"], ["--replace", "--force"]):
        result = run("copy", *extra, "src.json", "dst.db", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert read(tmp_path / "dst.db") == DOCUMENTS


def test_check_counts_a_valid_store(tmp_path: Path) -> None:
    write(tmp_path / "notes.db", DOCUMENTS)
    result = run("check", "notes.db", cwd=tmp_path, script=True)
    assert result.returncode == 0, result.stderr
    size = sum(len(value) for document in DOCUMENTS.values() for value in document.values())
    assert result.stdout.decode() == f"notes.db: 3 documents, 6 keys, {size} bytes of values; ok\n"


def test_check_reports_every_value_and_key_beyond_the_limits(tmp_path: Path) -> None:
    write(tmp_path / "big.json", {FIRST: {"k" * 33: b"v", "big": b"x" * 10}}, max_key_length=40)
    result = run("check", "big.json", "--max-value-size", "8", cwd=tmp_path)
    assert result.returncode == ExitCode.NO
    assert result.stdout.decode().splitlines() == [
        f"problem: document {FIRST}: invalid key '{'k' * 33}': 33 characters, at most 32 allowed",
        f"problem: document {FIRST}, key big: invalid value: 10 bytes, at most 8 allowed",
        "big.json: 1 document, 2 keys, 11 bytes of values; 2 problems",  # the value over the limit counts too
    ]
    assert run("check", "big.json", "--max-key-length", "33", cwd=tmp_path).returncode == 0


def test_check_of_a_corrupt_store_exits_1_and_of_a_missing_one_3(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_bytes(b'{"format": "storagebackend", "version": 1, "documents": {')
    result = run("check", "broken.json", cwd=tmp_path)
    assert result.returncode == ExitCode.NO
    assert result.stdout.decode().startswith("problem: broken.json: not a JSON store: ")
    assert (tmp_path / "broken.json").read_bytes().endswith(b"{")  # never rewritten
    result = run("check", "missing.json", cwd=tmp_path)
    assert result.returncode == ExitCode.STORE
    assert "missing.json: no such store" in error_line(result)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (b"Hello world", "Hello world"),
        (b"", "''"),
        (b" padded", "' padded'"),
        (b"line\nbreak\x1b[0m", "'line\\nbreak\\x1b[0m'"),
        ("日本".encode(), "日本"),
        (b"'quoted'", "\"'quoted'\""),
        (b"\xde\xad\xbe\xef", "<binary, 4 bytes: de ad be ef>"),
        (b"\xff" * 20, "<binary, 20 bytes: " + " ".join(["ff"] * 16) + "...>"),
        (bytes(3), "'\\x00\\x00\\x00'"),  # valid UTF-8 is text, as in the codecs
        (b"a" * 300, "a" * 200 + "... <300 bytes in all>"),
    ],
)
def test_show_value_keeps_one_line_and_never_sends_raw_control_bytes(value: bytes, shown: str) -> None:
    assert show_value(value) == shown


def test_show_key_quotes_anything_but_a_plain_word() -> None:
    assert [show_key(key) for key in ("title", "a.b-c", "key = value", " x", "ж")] == [
        "title",
        "a.b-c",
        "'key = value'",
        "' x'",
        "ж",
    ]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (sb.DocumentNotFoundError("x"), ExitCode.NO),
        (sb.InvalidUIDError("x"), ExitCode.USAGE),
        (sb.InvalidKeyError("x"), ExitCode.USAGE),
        (sb.InvalidValueError("x"), ExitCode.USAGE),
        (sb.StoreNotFoundError("x"), ExitCode.STORE),
        (sb.CorruptStoreError("x"), ExitCode.STORE),
        (sb.StorageIOError("x"), ExitCode.STORE),
        (sb.ReadOnlyError("x"), ExitCode.STORE),
        (sb.StorageLockedError("x"), ExitCode.BUSY),
        (sb.ConflictError("x"), ExitCode.BUSY),
        (sb.BackendUnavailableError("x"), ExitCode.UNAVAILABLE),
        (sb.AuthenticationError("x"), ExitCode.CREDENTIALS),
        (sb.WrongKeyError("x"), ExitCode.CREDENTIALS),
        (CommandError("x", ExitCode.USAGE), ExitCode.USAGE),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
        (ValueError("a bug"), ExitCode.INTERNAL),
    ],
)
def test_each_error_has_its_exit_code(error: BaseException, code: ExitCode) -> None:
    assert exit_code_for(error) is code
