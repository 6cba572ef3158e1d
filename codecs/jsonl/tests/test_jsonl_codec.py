"""The JSON Lines codec: storagebackend's codec kit, then what is particular to JSON Lines."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from storagebackend_jsonl import JSONLinesCodec

from storagebackend import CorruptStoreError
from storagebackend.testing import CodecTests, stores
from storagebackend.testing.codecs import KIT_SETTINGS

U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
U2 = "0123456789abcdef0123456789abcdef"
HEADER = '{"format": "storagebackend", "version": 1}\n'
END = '{"end": "storagebackend"}\n'
Store = dict[str, dict[str, bytes]]


def lines(*middle: str) -> bytes:
    """A file of the header, the given lines and the end line."""
    return (HEADER + "".join(line + "\n" for line in middle) + END).encode()


def _tagged(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode()
    assert isinstance(value, dict)
    assert list(value) == ["base64"]
    return base64.b64decode(value["base64"])


class TestJSONLinesCodec(CodecTests):
    codec = JSONLinesCodec()
    version_spelling = (b'"version": 1', b'"version": 2')

    def read_with_library(self, data: bytes) -> Store:
        """Line by line with ``json.loads``, as every JSON Lines reader does."""
        parsed = [json.loads(line) for line in data.decode().splitlines()]
        assert parsed[0] == {"format": "storagebackend", "version": 1}
        assert parsed[-1] == {"end": "storagebackend"}
        return {line["uid"]: {k: _tagged(v) for k, v in line["document"].items()} for line in parsed[1:-1]}

    def corrupt_files(self) -> Mapping[str, bytes]:
        return {
            "a JSON Lines file of something else": b'{"name": "Gilbert", "wins": [["straight", "7"]]}\n',
            "a JSON store (the json codec's file)": (
                b'{"format": "storagebackend", "version": 2, "documents": {\n}}\n'
            ),
            "a header line with more in it": (HEADER[:-2] + ', "documents": {}}\n' + END).encode(),
            "no end line": HEADER.encode(),
            "an end line with more in it": (HEADER + '{"end": "storagebackend", "documents": 0}\n').encode(),
            "a document after the end line": (HEADER + END + f'{{"uid": "{U1}", "document": {{}}}}\n').encode(),
            "a line that is an array": lines("[]"),
            "a line that is not JSON": lines("uid: " + U1),
            "a line cut in two": lines(f'{{"uid": "{U1}",', '"document": {}}'),
            "a document line without its uid": lines('{"document": {}}'),
            "a document line with more in it": lines(f'{{"uid": "{U1}", "document": {{}}, "x": 1}}'),
            "a uid that is no uid": lines('{"uid": "xyz", "document": {}}'),
            "a uid that is a number": lines('{"uid": 1, "document": {}}'),
            "a document that is an array": lines(f'{{"uid": "{U1}", "document": []}}'),
            "a value that is a number": lines(f'{{"uid": "{U1}", "document": {{"k": 1}}}}'),
            "a value that is null": lines(f'{{"uid": "{U1}", "document": {{"k": null}}}}'),
            "a value of invalid base64": lines(f'{{"uid": "{U1}", "document": {{"k": {{"base64": "!!"}}}}}}'),
            "a lone surrogate": lines(f'{{"uid": "{U1}", "document": {{"k": "\\ud800"}}}}'),
            "an empty key": lines(f'{{"uid": "{U1}", "document": {{"": "v"}}}}'),
            "a key with a line break": lines(f'{{"uid": "{U1}", "document": {{"a\\nb": "v"}}}}'),
            "a huge number": lines('{"uid": ' + "9" * 5000 + "}"),
            "deep nesting": lines("[" * 100_000 + "]" * 100_000),
            "NaN": lines(f'{{"uid": "{U1}", "document": {{"k": NaN}}}}'),
        }


# -- what is particular to JSON Lines ---------------------------------------------------------------------


@KIT_SETTINGS
@given(store=stores())
def test_one_line_per_document(store: Store) -> None:
    """Line breaks in keys and values are escaped: a line per document and two more, for any line splitter."""
    data = JSONLinesCodec().encode(store)
    assert data.count(b"\n") == len(store) + 2
    assert len(data.decode().splitlines()) == len(store) + 2  # str.splitlines breaks at U+2028, U+0085 too
    for uid, line in zip(store, data.split(b"\n")[1:-2], strict=True):
        assert line.startswith(f'{{"uid": "{uid}", "document": '.encode())


def test_grep_finds_a_document_with_its_uid() -> None:
    data = JSONLinesCodec().encode({U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}, U2: {"n": b"x"}})
    (found,) = [line for line in data.decode().splitlines() if "Hello world" in line]
    assert json.loads(found) == {"uid": U1, "document": {"title": "Hello world", "blob": {"base64": "3q2+7w=="}}}


def test_a_file_written_by_another_program_reads() -> None:
    """jq -c spacing, CR LF line ends, blank lines, an upper-case uid, a line added by hand before the end."""
    data = (
        '{"version":1,"format":"storagebackend"}\r\n\r\n'
        f'{{"document":{{"title":"Hi"}},"uid":"{U1.upper()}"}}\r\n'
        f'{{"uid": "{U2}", "document": {{"blob": {{"base64": "3q2+7w=="}}}}}}\n'
        '{"end":"storagebackend"}\r\n\n'
    ).encode()
    assert JSONLinesCodec().decode(data) == {U1: {"title": b"Hi"}, U2: {"blob": b"\xde\xad\xbe\xef"}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (lines("nonsense"), "line 2, column 1"),
        (lines(f'{{"uid": "{U1}", "document": {{}}}}', f'{{"uid": "{U1}", "document": {{}}}}'), "line 3"),
        (HEADER.encode() + b'{"uid": "' + U1.encode() + b'", "document": {}}\n', "cut short"),
        (lines()[:-1], "cut short"),
    ],
)
def test_errors_name_the_line(data: bytes, message: str) -> None:
    with pytest.raises(CorruptStoreError, match=message):
        JSONLinesCodec().decode(data)


def test_the_example_of_the_readme(tmp_path: Path) -> None:
    example = (Path(__file__).parent.parent / "README.md").read_text().split("```json\n", 1)[1].split("```", 1)[0]
    expected = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}}
    assert JSONLinesCodec().decode(example.encode()) == expected
    assert JSONLinesCodec().encode(expected) == example.encode()
