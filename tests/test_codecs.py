"""The built-in codecs: the codec kit on each, and what is particular to each format.

The kit (``storagebackend.testing.CodecTests``) proves the contract every codec
keeps: exact round trips of every valid store, fragments joined equal to a
whole file, the marker, newer versions, cuts, damaged, random and dangerous
files, the format's own library reading the file. It runs below on the five
built-in codecs and on YAML's pure-Python fallback; the codec plugins in
``codecs/`` run it in their own tests. The tests after it are about the
particular formats: readable text, hand edits, the first release's files,
valid syntax of the wrong shape, positions in messages.
"""

from __future__ import annotations

import ast
import base64
import configparser
import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import msgpack
import pytest
from hypothesis import given
from ruamel.yaml import YAML

from helpers.support import readme_codec_examples
from storagebackend import CorruptStoreError
from storagebackend.codecs.base import Codec
from storagebackend.codecs.ini import INICodec
from storagebackend.codecs.json import JSONCodec
from storagebackend.codecs.msgpack import MsgpackCodec
from storagebackend.codecs.registry import CODECS
from storagebackend.codecs.toml import TOMLCodec
from storagebackend.codecs.yaml import LIBYAML, YAMLCodec
from storagebackend.registry import codec_by_name
from storagebackend.testing import CodecTests, stores
from storagebackend.testing.codecs import KIT_SETTINGS

PURE_YAML = "yaml-pure"
#: The built-in codecs (codec plugins installed beside them have their own tests in codecs/).
BUILTIN = sorted(CODECS.builtins)
NAMES = [*BUILTIN, PURE_YAML]

U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
U2 = "0123456789abcdef0123456789abcdef"
TEXT_CODECS = ["json", "yaml", PURE_YAML, "toml", "ini"]
#: The format version each codec writes: the text codecs' files end with an end line since version 2.
WRITTEN_VERSION = {"json": 2, "yaml": 2, "toml": 2, "ini": 2, "msgpack": 1}


def make(name: str) -> Codec:
    return YAMLCodec(pure=True) if name == PURE_YAML else codec_by_name(name)


def base_name(name: str) -> str:
    return "yaml" if name == PURE_YAML else name


# -- what the format's own standard parser makes of a file, as uid -> key -> bytes ------------


def _tagged(value: object) -> bytes:
    """A value as JSON and TOML hold it: a string, or a {"base64": ...} table."""
    if isinstance(value, str):
        return value.encode()
    assert isinstance(value, dict), value
    assert list(value) == ["base64"], value
    return base64.b64decode(value["base64"])


def _json(data: bytes) -> dict[str, dict[str, bytes]]:
    top = json.loads(data)
    assert (top["format"], top["version"]) == ("storagebackend", WRITTEN_VERSION["json"])
    return {uid: {k: _tagged(v) for k, v in doc.items()} for uid, doc in top["documents"].items()}


def _msgpack(data: bytes) -> dict[str, dict[str, bytes]]:
    top = msgpack.unpackb(data, raw=False)
    assert (top["format"], top["version"]) == ("storagebackend", WRITTEN_VERSION["msgpack"])
    return {uid: dict(doc) for uid, doc in top["documents"].items()}


def _yaml_loader(version: tuple[int, int] | None) -> Callable[[bytes], dict[str, dict[str, bytes]]]:
    def load(data: bytes) -> dict[str, dict[str, bytes]]:
        yaml = YAML(typ="safe", pure=True)
        if version:
            yaml.version = version
        top = yaml.load(data)
        assert (top["format"], top["version"]) == ("storagebackend", WRITTEN_VERSION["yaml"])
        return {
            uid: {k: v.encode() if isinstance(v, str) else v for k, v in doc.items()}
            for uid, doc in top["documents"].items()
        }

    return load


def _toml(data: bytes) -> dict[str, dict[str, bytes]]:
    top = tomllib.loads(data.decode())
    assert (top["format"], top["version"]) == ("storagebackend", WRITTEN_VERSION["toml"])
    return {uid: {k: _tagged(v) for k, v in doc.items()} for uid, doc in top["documents"].items()}


def _ini(data: bytes) -> dict[str, dict[str, bytes]]:
    # A stock parser (strict about duplicates), keeping keys as written as the README says;
    # keys and values are escaped, so only the count of keys per section can be compared here.
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(data.decode())
    assert parser["storagebackend"]["format"] == "storagebackend"
    assert parser["storagebackend"]["version"] == str(WRITTEN_VERSION["ini"])
    return {
        section: dict.fromkeys(parser[section], b"") for section in parser.sections() if section != "storagebackend"
    }


STANDARD_PARSERS: dict[str, list[Callable[[bytes], dict[str, dict[str, bytes]]]]] = {
    "json": [_json],
    "msgpack": [_msgpack],
    "yaml": [_yaml_loader(None), _yaml_loader((1, 1))],
    "toml": [_toml],
    "ini": [_ini],
}


# -- the codec kit on each built-in codec --------------------------------------------------------------

Store = dict[str, dict[str, bytes]]


class TestJSONCodec(CodecTests):
    codec = JSONCodec()
    version_spelling = (b'"version": 2', b'"version": 3')

    def read_with_library(self, data: bytes) -> Store:
        return _json(data)


class TestMsgpackCodec(CodecTests):
    codec = MsgpackCodec()
    version_spelling = (b"\xa7version\x01", b"\xa7version\x02")

    def read_with_library(self, data: bytes) -> Store:
        return _msgpack(data)

    def dangerous_files(self, marker: Path) -> Mapping[str, bytes]:
        def store_with(value: object) -> bytes:
            return msgpack.packb({"format": "storagebackend", "version": 1, "documents": {U1: {"k": value}}})

        return {
            "a timestamp (an ext type msgpack turns into an object)": store_with(msgpack.Timestamp(1)),
            "an application ext type": store_with(msgpack.ExtType(1, str(marker).encode())),
            "a float": store_with(1.5),
            "nil": store_with(None),
            "an array": store_with([b"x"]),
        }


class TestYAMLCodec(CodecTests):
    codec: ClassVar[Codec] = YAMLCodec()
    version_spelling = (b"version: 2", b"version: 3")

    def read_with_library(self, data: bytes) -> Store:
        read = _yaml_loader(None)(data)
        assert _yaml_loader((1, 1))(data) == read  # a YAML 1.1 reader reads the same strings
        return read

    def dangerous_files(self, marker: Path) -> Mapping[str, bytes]:
        tags = {
            "os.system through python/object/apply": f'!!python/object/apply:os.system ["touch {marker}"]',
            "a python name": "!!python/name:os.system",
            "Popen through python/object/new": f'!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
            "exec through python/object/apply": f"!!python/object/apply:builtins.exec [\"open('{marker}', 'w')\"]",
            "a set": "!!set {a, b}",
            "a local tag": f"!custom {marker}",
            "a timestamp": "!!timestamp 2001-02-03",
        }
        head = f"format: storagebackend\nversion: 2\ndocuments:\n  {U1}:\n"
        files = {what: f"{head}    key: {tag}\n...\n".encode() for what, tag in tags.items()}
        aliased = f"format: storagebackend\nversion: 2\ndocuments:\n  {U2}: &d {{k: x}}\n  {U1}: *d\n...\n"
        files["an alias of a mapping"] = aliased.encode()
        return files


class TestPureYAMLCodec(TestYAMLCodec):
    """The pure-Python parser and emitter, where libyaml is missing."""

    codec = YAMLCodec(pure=True)


class TestTOMLCodec(CodecTests):
    codec = TOMLCodec()
    version_spelling = (b"version = 2", b"version = 3")

    def read_with_library(self, data: bytes) -> Store:
        return _toml(data)

    def dangerous_files(self, marker: Path) -> Mapping[str, bytes]:
        head = f'format = "storagebackend"\nversion = 2\n\n[documents]\n\n[documents.{U1}]\n'
        values = {"a date": "1979-05-27", "a date and time": "1979-05-27T07:32:00Z", "a float": "inf", "a list": "[1]"}
        return {what: f"{head}k = {value}\n\n# end of store\n".encode() for what, value in values.items()}


class TestINICodec(CodecTests):
    codec = INICodec()
    version_spelling = (b"version = 2", b"version = 3")

    @KIT_SETTINGS
    @given(store=stores())
    def test_the_formats_own_library_reads_the_documents(self, store: Store) -> None:
        """Keys and values are escaped: a stock configparser sees every section and as many keys in each."""
        parsed = _ini(self.codec.encode(store))
        assert {uid: len(doc) for uid, doc in parsed.items()} == {uid: len(doc) for uid, doc in store.items()}
        assert list(parsed) == list(store)


KIT_CLASSES = [TestJSONCodec, TestMsgpackCodec, TestYAMLCodec, TestTOMLCodec, TestINICodec]


def test_the_kit_runs_on_every_built_in_codec() -> None:
    """A codec added to the built-ins later gets its kit class here."""
    assert sorted(cls.codec.name for cls in KIT_CLASSES) == BUILTIN


# -- the files themselves ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_hello_world_is_written_as_readable_text(name: str) -> None:
    data = make(name).encode({U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}})
    assert b"Hello world" in data
    assert b"storagebackend" in data  # the format marker


def test_yaml_uses_libyaml_where_it_is_installed() -> None:
    """ruamel.yaml.clib is a dependency on CPython: the fast C parser and emitter are used."""
    import platform

    if platform.python_implementation() != "CPython":
        pytest.skip("ruamel.yaml.clib is installed on CPython only")
    assert LIBYAML
    assert YAMLCodec().libyaml
    assert not YAMLCodec(pure=True).libyaml


def test_yaml_quotes_what_other_yaml_readers_would_not_read_as_text() -> None:
    data = YAMLCodec().encode({U1: {"yes": b"no", "date": b"2026-11-27", "<<": b"~", "n": b"1e3", "plain": b"text"}})
    text = data.decode()
    for quoted in ("'yes': 'no'", "date: '2026-11-27'", "'<<': '~'", "'n': '1e3'", "plain: text"):
        assert quoted in text


def test_ini_keys_keep_their_case_as_written() -> None:
    """A person's ``Author = Bob`` stays ``Author``; keys differing only in case stay apart."""
    store = {U1: {"Author": b"Bob", "Key": b"1", "key": b"2", "KEY": b"3", "İ": b"4", "i̇": b"5", "ǅ": b"6"}}
    data = make("ini").encode(store)
    assert b"\nAuthor = Bob\n" in data
    parser = configparser.ConfigParser(interpolation=None)  # strict: a key twice is an error
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # as the README tells readers to
    parser.read_string(data.decode())
    assert list(parser[U1]) == list(store[U1])
    assert make("ini").decode(data) == store
    hand_written = f"[storagebackend]\nformat = storagebackend\nversion = 2\n[{U1}]\nTitle = Hi\n# end of store\n"
    assert make("ini").decode(hand_written.encode()) == {U1: {"Title": b"Hi"}}
    assert make("ini").encode({U1: {"Title": b"Hi"}}).count(b"Title = Hi\n") == 1


# -- corrupt files --------------------------------------------------------------------------------

SMALL = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "quote": b'"quoted"'}, U2: {}}


def test_a_version_that_is_no_whole_number_is_corrupt() -> None:
    for cls in KIT_CLASSES:
        assert cls.version_spelling is not None
        written, _ = cls.version_spelling
        data = cls.codec.encode(SMALL)
        with pytest.raises(CorruptStoreError, match="version"):
            cls.codec.decode(data.replace(written, written[:-1] + (b"\x00" if cls is TestMsgpackCodec else b"0")))


@pytest.mark.parametrize("name", TEXT_CODECS)
def test_a_file_saved_again_by_an_editor_still_reads(name: str) -> None:
    """An editor may add a final line break, turn line breaks into CR LF, or a person add a note at the end."""
    codec = make(name)
    store = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}, U2: {}}
    data = codec.encode(store)
    assert data.endswith(b"\n")
    resaved = [data + b"\n", data.replace(b"\n", b"\r\n"), data + b"\n  \n"]
    if base_name(name) != "json":
        resaved += [data + b"# checked by Bob\n", data + b"\n# checked by Bob"]
    for edited in resaved:
        assert codec.decode(edited) == store, edited


@pytest.mark.parametrize("name", TEXT_CODECS)
def test_a_version_2_file_without_its_end_is_corrupt(name: str) -> None:
    """A file of version 2 must end with its end line and a line break; only notes may follow."""
    codec = make(name)
    data = codec.encode(SMALL)
    for cut in (data.rstrip(b"\n"), data[: data.rindex(b"\n", 0, -1) + 1]):
        with pytest.raises(CorruptStoreError, match="cut short"):
            codec.decode(cut)
    if base_name(name) in ("toml", "ini"):
        with pytest.raises(CorruptStoreError, match="cut short"):
            codec.decode(data + f"[{'f' * 32}]\n".encode())  # a document after the end line


# The files of the first release (format version 1, without an end line): still read, cut or not.
VERSION_1_FILES: dict[str, tuple[bytes, dict[str, dict[str, bytes]]]] = {
    "json": (
        f'{{"format": "storagebackend", "version": 1, "documents": {{\n'
        f'"{U1}": {{"title": "Hello world", "blob": {{"base64": "3q2+7w=="}}}}\n}}}}'.encode(),
        {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}},
    ),
    "yaml": (
        f"format: storagebackend\nversion: 1\ndocuments:\n  {U1}:\n    title: Hello world\n"
        "    blob: !!binary |\n      3q2+7w==\n    Body: |-\n      first line\n      second line\n".encode(),
        {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "Body": b"first line\nsecond line"}},
    ),
    "toml": (
        f'format = "storagebackend"\nversion = 1\n\n[documents]\n\n[documents.{U1}]\ntitle = "Hello world"\n'
        f'Body = "x"\n\n[documents.{U1}.blob]\nbase64 = "3q2+7w=="\n\n[documents.{U2}]\n'.encode(),
        {U1: {"title": b"Hello world", "Body": b"x", "blob": b"\xde\xad\xbe\xef"}, U2: {}},
    ),
    "ini": (
        f"[storagebackend]\nformat = storagebackend\nversion = 1\n\n[{U1}]\n\\title = Hello world\n"
        f'blob = base64:3q2+7w==\n\\a\\u\\t\\h\\o\\r\\{{3d}} = Bob\nback\\\\slash = "x "\n'.encode(),
        {U1: {"Title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "AUTHOR=": b"Bob", "back\\slash": b"x "}},
    ),
    "msgpack": (
        msgpack.packb({"format": "storagebackend", "version": 1, "documents": {U1: {"title": b"Hello world"}}}),
        {U1: {"title": b"Hello world"}},
    ),
}


@pytest.mark.parametrize("name", NAMES)
def test_version_1_files_of_the_first_release_still_read(name: str) -> None:
    data, expected = VERSION_1_FILES[base_name(name)]
    codec = make(name)
    assert codec.decode(data) == expected
    assert codec.decode(codec.encode(expected)) == expected  # the next sync writes the newest version


def test_toml_writes_a_binary_value_in_its_place() -> None:
    """An inline ``{base64 = ...}`` keeps the key's line between its neighbours."""
    store = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "body": b"two\nlines", "z": b"\xff"}}
    text = make("toml").encode(store).decode()
    blob = 'blob = {base64 = "3q2+7w=="}'
    assert f'[documents.{U1}]\ntitle = "Hello world"\n{blob}\nbody = """\ntwo\nlines"""\n' in text
    assert text.endswith('z = {base64 = "/w=="}\n\n# end of store\n')


HEADERS = {
    "json": '{"format": "storagebackend", "version": 1, "documents": %s}',
    "yaml": "format: storagebackend\nversion: 1\ndocuments: %s\n",
}

# Valid syntax, wrong shape: (what, JSON documents, YAML documents, TOML text, msgpack structure).
WRONG_SHAPES: list[tuple[str, str, str, str, Any]] = [
    ("documents a list", "[]", "[]", "documents = []", []),
    ("documents a string", '"x"', "x", 'documents = "x"', "x"),
    ("uid not hex", '{"xyz": {}}', "{xyz: {}}", "[documents.xyz]", {"xyz": {}}),
    ("uid too short", '{"0123": {}}', "{'0123': {}}", '[documents."0123"]', {"0123": {}}),
    (
        "uid twice",
        f'{{"{U2}": {{}}, "{U2.upper()}": {{}}}}',
        f"{{{U2}: {{}}, {U2.upper()}: {{}}}}",
        f"[documents.{U2}]\n[documents.{U2.upper()}]",
        {U2: {}, U2.upper(): {}},
    ),
    ("document a list", f'{{"{U1}": []}}', f"{{{U1}: []}}", f"documents.{U1} = []", {U1: []}),
    ("document a string", f'{{"{U1}": "x"}}', f"{{{U1}: x}}", f'documents.{U1} = "x"', {U1: "x"}),
    ("empty key", f'{{"{U1}": {{"": "x"}}}}', f"{{{U1}: {{'': x}}}}", f'[documents.{U1}]\n"" = "x"', {U1: {"": b"x"}}),
    (
        "key with a newline",
        f'{{"{U1}": {{"a\\nb": "x"}}}}',
        f'{{{U1}: {{"a\\nb": x}}}}',
        f'[documents.{U1}]\n"a\\nb" = "x"',
        {U1: {"a\nb": b"x"}},
    ),
    (
        "key with a NUL",
        f'{{"{U1}": {{"a\\u0000": "x"}}}}',
        f'{{{U1}: {{"a\\0": x}}}}',
        f'[documents.{U1}]\n"a\\u0000" = "x"',
        {U1: {"a\0": b"x"}},
    ),
    (
        "value a number",
        f'{{"{U1}": {{"k": 1}}}}',
        f"{{{U1}: {{k: !!int 1}}}}",
        f"[documents.{U1}]\nk = 1",
        {U1: {"k": 1}},
    ),
    (
        "value a list",
        f'{{"{U1}": {{"k": ["x"]}}}}',
        f"{{{U1}: {{k: [x]}}}}",
        f'[documents.{U1}]\nk = ["x"]',
        {U1: {"k": [b"x"]}},
    ),
    (
        "value a bool",
        f'{{"{U1}": {{"k": true}}}}',
        f"{{{U1}: {{k: !!bool true}}}}",
        f"[documents.{U1}]\nk = true",
        {U1: {"k": True}},
    ),
    (
        "value null (TOML: a date)",
        f'{{"{U1}": {{"k": null}}}}',
        f"{{{U1}: {{k: !!null ''}}}}",
        f"[documents.{U1}]\nk = 1979-05-27",
        {U1: {"k": None}},
    ),
    (
        "value a mapping",
        f'{{"{U1}": {{"k": {{"a": "b"}}}}}}',
        f"{{{U1}: {{k: {{a: b}}}}}}",
        f'[documents.{U1}]\nk = {{a = "b"}}',
        {U1: {"k": {"a": b"b"}}},
    ),
    (
        "invalid base64 (msgpack: a float)",
        f'{{"{U1}": {{"k": {{"base64": "!!!"}}}}}}',
        f'{{{U1}: {{k: !!binary "!!!"}}}}',
        f'[documents.{U1}]\nk = {{base64 = "!!!"}}',
        {U1: {"k": 1.5}},
    ),
    (
        "base64 with a second key (msgpack: an ext type)",
        f'{{"{U1}": {{"k": {{"base64": "AA==", "x": "y"}}}}}}',
        f"{{{U1}: {{k: {{base64: AA==, x: y}}}}}}",
        f'[documents.{U1}]\nk = {{base64 = "AA==", x = "y"}}',
        {U1: {"k": msgpack.ExtType(1, b"x")}},
    ),
]


def _wrong_shape_file(name: str, shape: tuple[str, str, str, str, Any]) -> bytes:
    _, as_json, as_yaml, as_toml, as_msgpack = shape
    if name == "json":
        return (HEADERS["json"] % as_json).encode()
    if name == "yaml":
        return (HEADERS["yaml"] % as_yaml).encode()
    if name == "toml":
        return f'format = "storagebackend"\nversion = 1\n{as_toml}\n'.encode()
    assert name == "msgpack"
    return msgpack.packb({"format": "storagebackend", "version": 1, "documents": as_msgpack})


@pytest.mark.parametrize("name", ["json", "yaml", PURE_YAML, "toml", "msgpack"])
@pytest.mark.parametrize("shape", WRONG_SHAPES, ids=[shape[0] for shape in WRONG_SHAPES])
def test_valid_syntax_of_the_wrong_shape_is_corrupt(name: str, shape: tuple[str, str, str, str, Any]) -> None:
    data = _wrong_shape_file(base_name(name), shape)
    with pytest.raises(CorruptStoreError):
        make(name).decode(data)


CORRUPT_FILES: dict[str, list[tuple[str, bytes]]] = {
    "json": [
        ("top-level list", b"[]"),
        ("top-level string", b'"storagebackend"'),
        ("no marker", b'{"version": 1, "documents": {}}'),
        ("version as text", b'{"format": "storagebackend", "version": "1", "documents": {}}'),
        ("version true", b'{"format": "storagebackend", "version": true, "documents": {}}'),
        ("no documents", b'{"format": "storagebackend", "version": 1}'),
        ("duplicate key", (HEADERS["json"] % f'{{"{U1}": {{"k": "a", "k": "b"}}}}').encode()),
        ("duplicate uid", (HEADERS["json"] % f'{{"{U1}": {{}}, "{U1}": {{}}}}').encode()),
        ("lone surrogate", (HEADERS["json"] % f'{{"{U1}": {{"k": "\\ud800"}}}}').encode()),
        ("NaN value", (HEADERS["json"] % f'{{"{U1}": {{"k": NaN}}}}').encode()),
        ("huge number", b'{"format": "storagebackend", "version": ' + b"9" * 5000 + b"}"),
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
        ("cut", b'{"format": "storagebackend", "version": 1, "documents": {'),
        ("trailing data", (HEADERS["json"] % "{}").encode() + b"{}"),
    ],
    "yaml": [
        ("top-level list", b"- format\n- storagebackend\n"),
        ("top-level scalar", b"storagebackend\n"),
        ("only a comment", b"# format: storagebackend\n"),
        ("no marker", b"version: 1\ndocuments: {}\n"),
        ("version as text", b"format: storagebackend\nversion: one\ndocuments: {}\n"),
        ("no documents", b"format: storagebackend\nversion: 1\n"),
        ("two YAML documents", (HEADERS["yaml"] % "{}").encode() + b"---\nx: 1\n"),
        ("duplicate top key", b"format: storagebackend\nformat: storagebackend\nversion: 1\ndocuments: {}\n"),
        ("duplicate key", (HEADERS["yaml"] % f"{{{U1}: {{k: a, k: b}}}}").encode()),
        ("duplicate uid", (HEADERS["yaml"] % f"{{{U1}: {{}}, {U1}: {{}}}}").encode()),
        ("python object tag", (HEADERS["yaml"] % f"{{{U1}: {{k: !!python/object/apply:os.system [true]}}}}").encode()),
        ("local tag", (HEADERS["yaml"] % f"{{{U1}: {{k: !thing x}}}}").encode()),
        ("timestamp tag", (HEADERS["yaml"] % f"{{{U1}: {{k: !!timestamp 2001-02-30}}}}").encode()),
        ("set", (HEADERS["yaml"] % f"{{{U1}: !!set {{k: null}}}}").encode()),
        ("alias of a mapping", (HEADERS["yaml"] % f"{{{U2}: &d {{k: x}}, {U1}: *d}}").encode()),
        ("merge key", (HEADERS["yaml"] % f"{{{U2}: &d {{k: x}}, {U1}: {{<<: *d}}}}").encode()),
        ("undefined alias", (HEADERS["yaml"] % f"{{{U1}: {{k: *nowhere}}}}").encode()),
        ("complex key", (HEADERS["yaml"] % f"{{{U1}: {{[a, b]: x}}}}").encode()),
        ("binary key", (HEADERS["yaml"] % f"{{{U1}: {{!!binary AAAA: x}}}}").encode()),
        ("binary uid", (HEADERS["yaml"] % "{!!binary AAAA: {}}").encode()),
        ("lone surrogate", (HEADERS["yaml"] % f'{{{U1}: {{k: "\\ud800"}}}}').encode()),
        ("tab indentation", b"format: storagebackend\nversion: 1\ndocuments:\n\tx: y\n"),
        ("control character", b"format: storagebackend\x01\nversion: 1\ndocuments: {}\n"),
        ("unclosed quote", (HEADERS["yaml"] % f'{{{U1}: {{k: "abc}}}}').encode()),
        ("deep flow nesting", b"format: storagebackend\nversion: 1\nx: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("deep block nesting", b"format: storagebackend\nversion: 1\nx: " + b"- " * 50_000 + b"x\n"),
        ("huge version", b"format: storagebackend\nversion: " + b"9" * 5000 + b"\ndocuments: {}\n"),
    ],
    "toml": [
        ("no marker", b"version = 1\n[documents]\n"),
        ("version as text", b'format = "storagebackend"\nversion = "1"\n[documents]\n'),
        ("version a float", b'format = "storagebackend"\nversion = 1.0\n[documents]\n'),
        ("no documents", b'format = "storagebackend"\nversion = 1\n'),
        ("duplicate key", f'format = "storagebackend"\nversion = 1\n[documents.{U1}]\nk = "a"\nk = "b"\n'.encode()),
        ("duplicate table", f'format = "storagebackend"\nversion = 1\n[documents.{U1}]\n[documents.{U1}]\n'.encode()),
        ("invalid date", f'format = "storagebackend"\nversion = 1\n[documents.{U1}]\nk = 2001-02-30\n'.encode()),
        ("huge version", b'format = "storagebackend"\nversion = ' + b"9" * 5000 + b"\n"),
        ("deep nesting", b'format = "storagebackend"\nversion = 1\nx = ' + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("unclosed string", f'format = "storagebackend"\nversion = 1\n[documents.{U1}]\nk = "abc\n'.encode()),
        ("control character", f'format = "storagebackend"\nversion = 1\n[documents.{U1}]\nk = "a\x01"\n'.encode()),
    ],
    "ini": [
        ("no section", b"format = storagebackend\nversion = 1\n"),
        ("no marker section", f"[{U1}]\nk = v\n".encode()),
        ("wrong marker", b"[storagebackend]\nformat = other\nversion = 1\n"),
        ("no version", b"[storagebackend]\nformat = storagebackend\n"),
        ("version as text", b"[storagebackend]\nformat = storagebackend\nversion = one\n"),
        ("version with digits of another script", "[storagebackend]\nformat = storagebackend\nversion = ١\n".encode()),
        ("huge version", b"[storagebackend]\nformat = storagebackend\nversion = " + b"9" * 5000 + b"\n"),
        ("DEFAULT section", b"[storagebackend]\nformat = storagebackend\nversion = 1\n[DEFAULT]\nk = v\n"),
        ("section not a uid", b"[storagebackend]\nformat = storagebackend\nversion = 1\n[settings]\nk = v\n"),
        ("duplicate section", f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n[{U1}]\n".encode()),
        ("duplicate uid", f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n[{U1.upper()}]\n".encode()),
        ("duplicate key", f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = 1\nk = 2\n".encode()),
        (
            "same key escaped two ways",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n\\{{3d}} = 1\n\\{{03d}} = 2\n".encode(),
        ),
        ("line without =", f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk\n".encode()),
        ("empty key", f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n= v\n".encode()),
        (
            "escaped empty key",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n\\{{0}} = v\n".encode(),
        ),
        (
            "key escape without hex digits",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n\\{{}} = v\n".encode(),
        ),
        (
            "unclosed key escape",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\na\\{{3d = v\n".encode(),
        ),
        ("invalid key escape", f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n\\- = v\n".encode()),
        (
            "key ending in a backslash",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk\\ = v\n".encode(),
        ),
        (
            "escaped upper-case letter",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n\\Q = v\n".encode(),
        ),
        (
            "key escape out of range",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\n\\{{110000}} = v\n".encode(),
        ),
        ("unclosed quote", f'[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = "abc\n'.encode()),
        ("lone quote", f'[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = "\n'.encode()),
        (
            "invalid value escape",
            f'[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = "\\q"\n'.encode(),
        ),
        ("trailing backslash", f'[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = "a\\"\n'.encode()),
        ("lone surrogate", f'[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = "\\ud800"\n'.encode()),
        (
            "invalid base64",
            f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = base64:!!!\n".encode(),
        ),
    ],
    "msgpack": [
        ("top-level list", msgpack.packb(["storagebackend", 1])),
        ("no marker", msgpack.packb({"version": 1, "documents": {}})),
        ("marker as bin", msgpack.packb({"format": b"storagebackend", "version": 1, "documents": {}})),
        ("version as text", msgpack.packb({"format": "storagebackend", "version": "1", "documents": {}})),
        ("version a float", msgpack.packb({"format": "storagebackend", "version": 1.0, "documents": {}})),
        ("uid as bin", msgpack.packb({"format": "storagebackend", "version": 1, "documents": {U1.encode(): {}}})),
        ("key as bin", msgpack.packb({"format": "storagebackend", "version": 1, "documents": {U1: {b"k": b"v"}}})),
        (
            "duplicate uid",
            b"\x83"
            + b"".join(msgpack.packb(x) for x in ("format", "storagebackend", "version", 1, "documents"))
            + b"\x82"
            + msgpack.packb(U1)
            + b"\x80"
            + msgpack.packb(U1)
            + b"\x80",
        ),
        (
            "invalid UTF-8 key",
            msgpack.packb({"format": "storagebackend", "version": 1, "documents": {U1: {}}}).replace(
                msgpack.packb(U1), b"\xd9\x20" + b"\xff" * 32
            ),
        ),
        (
            "timestamp value",
            msgpack.packb(
                {"format": "storagebackend", "version": 1, "documents": {U1: {"k": msgpack.Timestamp(1)}}},
                datetime=False,
            ),
        ),
        ("list as map key", b"\x81\x91\x01\x01"),
        ("invalid byte", b"\xc1"),
        ("deep nesting", b"\x91" * 100_000 + b"\x01"),
        ("trailing data", msgpack.packb({"format": "storagebackend", "version": 1, "documents": {}}) + b"\x00"),
        ("map longer than the file", b"\xdf\xff\xff\xff\xff"),
    ],
}


def _corrupt_cases() -> list[tuple[str, str, bytes]]:
    cases = []
    for name, files in CORRUPT_FILES.items():
        for names in [name, PURE_YAML] if name == "yaml" else [name]:
            cases.extend((names, what, data) for what, data in files)
    return cases


@pytest.mark.parametrize(("name", "what", "data"), _corrupt_cases(), ids=[f"{n}-{w}" for n, w, _ in _corrupt_cases()])
def test_corrupt_files_raise_corrupt_store_error(name: str, what: str, data: bytes) -> None:
    with pytest.raises(CorruptStoreError) as raised:
        make(name).decode(data)
    assert type(raised.value) is CorruptStoreError, what


@pytest.mark.parametrize(
    ("name", "data", "position"),
    [
        ("json", b'{"format": "storagebackend",\n "version" 1}', "line 2, column 12"),
        ("yaml", b"format: storagebackend\nversion: [1\n", "line 3"),
        ("toml", b'format = "storagebackend"\nversion = = 1\n', "line 2"),
        ("ini", b"[storagebackend]\nformat = storagebackend\nno delimiter here\n", "line 3"),
        ("msgpack", msgpack.packb({"format": "storagebackend", "version": 1, "documents": {}}) + b"\x00", "byte 43"),
        ("ini", f"[storagebackend]\nformat = storagebackend\nversion = 1\n[{U1}]\nk = 1\nk = 2\n".encode(), "line 6"),
        ("yaml", (HEADERS["yaml"] % f"{{{U1}: {{k: [x]}}}}").encode(), "line 3"),
    ],
)
def test_corrupt_files_name_the_position(name: str, data: bytes, position: str) -> None:
    with pytest.raises(CorruptStoreError, match=position):
        make(name).decode(data)


# -- lenient reading where it is unambiguous --------------------------------------------------------


def test_a_utf8_byte_order_mark_is_skipped() -> None:
    for name in ("json", "yaml", "toml", "ini"):
        codec = make(name)
        assert codec.decode(b"\xef\xbb\xbf" + codec.encode(SMALL)) == SMALL


def test_yaml_reads_plain_scalars_as_text_and_accepts_scalar_aliases() -> None:
    data = (
        "format: storagebackend\nversion: 1\ndocuments:\n"
        f"  {U1}:\n    count: 12\n    date: 2026-11-27\n    flag: yes\n    empty:\n    a: &x shared\n    b: *x\n"
        f"  {U2}: !!map {{k: !!str 1, bin: !!binary AAEC}}\n"
    ).encode()
    assert make("yaml").decode(data) == {
        U1: {"count": b"12", "date": b"2026-11-27", "flag": b"yes", "empty": b"", "a": b"shared", "b": b"shared"},
        U2: {"k": b"1", "bin": b"\x00\x01\x02"},
    }


def test_msgpack_reads_str_values_as_text() -> None:
    data = msgpack.packb({"format": "storagebackend", "version": 1, "documents": {U1: {"k": "text é"}}})
    assert make("msgpack").decode(data) == {U1: {"k": "text é".encode()}}


def test_toml_reads_an_inline_base64_table() -> None:
    data = f'format = "storagebackend"\nversion = 1\n[documents.{U1}]\nblob = {{base64 = "3q2+7w=="}}\n'.encode()
    assert make("toml").decode(data) == {U1: {"blob": b"\xde\xad\xbe\xef"}}


def test_upper_case_uids_are_normalised() -> None:
    for name in ("json", "yaml", "toml", "ini", "msgpack"):
        codec = make(name)
        data = codec.encode({U1: {"k": b"v"}}).replace(U1.encode(), U1.upper().encode())
        assert codec.decode(data) == {U1: {"k": b"v"}}, name


README_EXAMPLE = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}}


@pytest.mark.parametrize("name", ["json", "yaml", "toml", "ini"])
def test_the_readme_example_files_read_as_documented(name: str) -> None:
    example = readme_codec_examples()[name].encode()
    assert make(name).decode(example) == README_EXAMPLE
    assert make(name).encode(README_EXAMPLE) == example


def test_the_readme_msgpack_example_is_what_msgpack_reads() -> None:
    example = ast.literal_eval(readme_codec_examples()["msgpack"])
    assert msgpack.unpackb(make("msgpack").encode(README_EXAMPLE)) == example


def test_a_value_no_utf8_can_hold_names_its_document_and_key() -> None:
    data = HEADERS["json"] % f'{{"{U1}": {{"the key": "\\ud800"}}}}'  # a lone surrogate
    with pytest.raises(CorruptStoreError, match=f"document {U1}, key 'the key'"):
        make("json").decode(data.encode())
