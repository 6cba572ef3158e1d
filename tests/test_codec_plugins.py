"""The codec plugins of codecs/, installed as packages: found by extension and name with no register_codec
call, in a fresh process, and converted by ``storagebackend copy`` to and from JSON without a change.

Each plugin's own tests (codecs/NAME/tests, the codec kit) prove the codec;
these prove the installed package in the project: its entry point, the command
line. A plugin that is not installed skips here (fails under CI=true).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import storagebackend as sb
from helpers.clirun import run
from helpers.support import codec_plugin, readme_codec_examples

U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
DOCUMENTS = {
    U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "ж" * 32: "ж日本𝄞".encode(), "[x] = y": b"a\r\nb"},
    "0123456789abcdef0123456789abcdef": {},
    "00000000000000000000000000000000": {"empty": b"", "nul": b"\x00", "yes": b"yes"},
}
#: (plugin folder, its module, codec name, an extension of the codec).
PLUGINS = [
    ("cbor", "storagebackend_cbor", "cbor", ".cbor"),
    ("plist", "storagebackend_plist", "plist", ".plist"),
    ("plist", "storagebackend_plist", "bplist", ".bplist"),
    ("jsonl", "storagebackend_jsonl", "jsonl", ".jsonl"),
]
IDS = [name for _, _, name, _ in PLUGINS]


@pytest.mark.parametrize(("folder", "module", "name", "extension"), PLUGINS, ids=IDS)
def test_an_installed_plugin_opens_by_extension_and_name_in_a_fresh_process(
    tmp_path: Path, folder: str, module: str, name: str, extension: str
) -> None:
    codec_plugin(module, folder)
    code = f"""
        import storagebackend as sb
        from storagebackend.codecs.registry import CODECS

        assert CODECS.source({name!r}) == "plugin", CODECS.source({name!r})
        with sb.open("notes{extension}") as store:
            store.update({DOCUMENTS!r})
        with sb.open("notes{extension}", flag="r") as store:
            assert {{uid.hex: dict(doc) for uid, doc in store.items()}} == {DOCUMENTS!r}
        with sb.open("notes{extension}?codec={name}", flag="r") as store:
            assert len(store) == {len(DOCUMENTS)}
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("folder", "module", "name", "extension"), PLUGINS, ids=IDS)
def test_copy_from_json_to_the_plugins_format_and_back_is_identical(
    tmp_path: Path, folder: str, module: str, name: str, extension: str
) -> None:
    codec_plugin(module, folder)
    with sb.open(tmp_path / "notes.json", flag="n") as store:
        store.update(DOCUMENTS)
    for source, target in (("notes.json", f"notes{extension}"), (f"notes{extension}", "back.json")):
        result = run("copy", source, target, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode().startswith(f"copied 3 documents (7 keys) from {source} to {target}")
    assert (tmp_path / "back.json").read_bytes() == (tmp_path / "notes.json").read_bytes()
    with sb.open(tmp_path / f"notes{extension}", flag="r") as store:
        assert type(store.backend).__name__ == "CachedFileBackend"
        assert store.backend.codec.name == name  # type: ignore[attr-defined]


README_EXAMPLE = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}}


def test_the_readme_examples_of_the_plugins_are_their_files() -> None:
    """The Codecs section shows each plugin's file of one document, as its codec writes it."""
    examples = readme_codec_examples()
    cbor = codec_plugin("storagebackend_cbor", "cbor")
    import cbor2  # a dependency of the plugin

    assert cbor2.loads(cbor.CBORCodec().encode(README_EXAMPLE)) == ast.literal_eval(examples["cbor"])
    plist = codec_plugin("storagebackend_plist", "plist").PlistCodec()
    assert plist.encode(README_EXAMPLE) == examples["plist"].encode()
    assert plist.decode(examples["plist"].encode()) == README_EXAMPLE
    jsonl = codec_plugin("storagebackend_jsonl", "jsonl").JSONLinesCodec()
    assert jsonl.encode(README_EXAMPLE) == examples["jsonl"].encode()
