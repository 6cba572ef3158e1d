"""The README's examples run as written: a test fails as soon as they drift from the code.

Each ```python block of a section is executed, in order, in one namespace, in
a fresh folder; the codec and backend examples are then held to their own
promises (the round-trip property, the conformance suite).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest

from helpers.support import codec_plugin
from storagebackend.cli.exits import MEANINGS, ExitCode
from storagebackend.codecs.registry import CODECS
from storagebackend.registry import BACKENDS
from storagebackend.transports.registry import TRANSPORTS

README = Path(__file__).parent.parent / "README.md"


def section(title: str) -> str:
    """The text of the README section ``## title``, up to the next section."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(title: str, language: str = "python") -> list[str]:
    """The fenced code blocks of one language in a section."""
    return re.findall(rf"```{language}\n(.*?)```", section(title), flags=re.DOTALL)


@pytest.fixture
def namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Where the examples run; what they register is forgotten once the test ends."""
    for table in (BACKENDS, CODECS, TRANSPORTS):
        monkeypatch.setattr(table, "_registered", {})
    return {"__name__": "readme_example", "folder": tmp_path}


def run(code: str, name: str, namespace: dict[str, Any]) -> None:
    """Execute one example in its own folder (then come back: hypothesis keeps its cache in ./.hypothesis)."""
    with contextlib.chdir(namespace["folder"]):
        exec(compile(code, name, "exec"), namespace)


def run_blocks(title: str, namespace: dict[str, Any]) -> None:
    code = blocks(title)
    assert code, f"no python block in README section {title!r}"
    for number, block in enumerate(code, start=1):
        run(block, f"README.md ## {title} (block {number})", namespace)


def test_the_opening_example_runs(namespace: dict[str, Any]) -> None:
    text = README.read_text(encoding="utf-8")
    first = re.search(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert first is not None
    run(first.group(1), "README.md (opening example)", namespace)
    assert (namespace["folder"] / "notes.json").exists()


def test_quick_start_runs(namespace: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run_blocks("Quick start", namespace)
    assert capsys.readouterr().out.startswith("2 [UID(")
    assert (namespace["folder"] / "notes.db").exists()


#: The first line of a README block that shows part of a file of the repository (shown, not run).
FILE_EXCERPT = re.compile(r"# (codecs/[\w/.]+)(?:,.*)?\n")


def test_write_a_codec_walks_through_the_jsonl_package_as_it_is(namespace: dict[str, Any]) -> None:
    """The excerpts of codecs/jsonl stand in its files as shown; the other examples run, with the plugin installed."""
    codec_plugin("storagebackend_jsonl", "jsonl")
    root = README.parent
    shown = blocks("Write a codec") + blocks("Write a codec", "toml")
    excerpts = [(match, block) for block in shown if (match := FILE_EXCERPT.match(block))]
    assert {match.group(1) for match, _ in excerpts} == {
        "codecs/jsonl/storagebackend_jsonl.py",
        "codecs/jsonl/pyproject.toml",
        "codecs/jsonl/tests/test_jsonl_codec.py",
    }
    for match, block in excerpts:
        assert block[match.end() :] in (root / match.group(1)).read_text(encoding="utf-8"), match.group(1)
    (example,) = blocks("Write a codec", "jsonl")
    assert example in (root / "codecs/jsonl/README.md").read_text(encoding="utf-8")
    for number, block in enumerate(blocks("Write a codec"), start=1):
        if not FILE_EXCERPT.match(block):
            run(block, f"README.md ## Write a codec (block {number})", namespace)
    data = (namespace["folder"] / "notes.jsonl").read_bytes()
    assert data.startswith(b'{"format": "storagebackend", "version": 1}\n{"uid": ')
    assert data.endswith(b'"blob": {"base64": "AP8="}}}\n{"end": "storagebackend"}\n')
    todo = (namespace["folder"] / "list.todo").read_bytes()
    assert b'"task": "write a codec"' in todo
    assert CODECS.source("todo") == "registered"
    assert CODECS.source("jsonl") == "plugin"


def test_the_transports_examples_run(namespace: dict[str, Any]) -> None:
    run_blocks("Transports", namespace)
    checked = (namespace["folder"] / "checked.json").read_bytes()
    assert checked.startswith(b'{"format": "storagebackend"')
    (namespace["folder"] / "checked.json").write_bytes(checked[:-1] + bytes([checked[-1] ^ 1]))
    sb = namespace["sb"]
    damaged = namespace["ChecksumTransport"](sb.Transport.from_url(str(namespace["folder"] / "checked.json")))
    with pytest.raises(sb.CorruptStoreError, match="checksum"):
        namespace["CachedFileBackend"](damaged)


def test_write_a_transport_example_runs_and_passes_the_transport_suite(
    namespace: dict[str, Any], tmp_path: Path
) -> None:
    run_blocks("Write a transport", namespace)
    assert (namespace["folder"] / "files.db").exists()
    suite = namespace["TestTableTransport"]
    names = [name for name in dir(suite) if name.startswith("test_")]
    assert len(names) > 10
    passed = 0
    for number, name in enumerate(names):
        tests = suite()
        folder = tmp_path / f"t{number}"
        folder.mkdir()
        try:
            getattr(tests, name)(tests.make_location(folder))
            passed += 1
        except pytest.skip.Exception:
            pass
        finally:
            tests.close_transports()
    assert passed >= 6
    (entry_point,) = blocks("Write a transport", "toml")
    assert 'table = "my_package.table:TableTransport"' in entry_point


def test_write_a_backend_example_runs_and_passes_the_conformance_suite(namespace: dict[str, Any]) -> None:
    run_blocks("Write a backend", namespace)
    assert namespace["SHELVES"]["notes"]  # the example's store was saved to its "server"
    namespace["TestShelf"]("runTest").runTest()


def test_the_command_line_section_lists_every_command_and_exit_code() -> None:
    text = section("Command line")
    for command in ("demo", "ls", "show", "get", "put", "rm", "copy", "check"):
        assert f"storagebackend {command} " in text
    for code, meaning in MEANINGS.items():
        assert f"| {int(code)} | {meaning} |" in text
    assert len(MEANINGS) == len(ExitCode)


def test_every_test_the_guarantees_section_names_exists() -> None:
    """Each promise names its tests as `tests/MODULE.py::name`, or `::name` of the module before."""
    root = README.parent
    text = section("Guarantees")
    named: list[tuple[str, str | None]] = []
    module = ""
    for path, name in re.findall(r"`(?:((?:tests|fuzz)/[\w/]+\.py))?(?:::(\w+\*?)(?:\[[\w-]+\])?)?`", text):
        if path:
            module = path
        if path or name:
            named.append((module, name or None))
    assert len(named) > 40
    for path, name in named:
        assert (root / path).is_file(), path
        if name is None:
            continue
        defined = re.findall(r"^(?:def|class) (\w+)|^(\w+) = ", (root / path).read_text(), flags=re.MULTILINE)
        names = {found for pair in defined for found in pair if found}
        if name.endswith("*"):  # TestLocalFile*: classes made in a loop, named by a prefix in the source
            assert name[:-1] in (root / path).read_text(), f"{path}::{name}"
        else:
            assert name in names, f"{path}::{name} is named in the README's Guarantees but does not exist"
