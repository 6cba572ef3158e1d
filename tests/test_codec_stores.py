"""Every codec behind ``sb.open``: extensions, ``?codec=``, foreign files, cut files, order and hand edits.

test_codecs.py tests the codecs alone; this module opens real files through
the cached file backend, so the registry's wiring and the backend's fragment
cache are exercised with every format. The conformance machine runs once per
codec, in test_local_files.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import storagebackend as sb
from storagebackend import CorruptStoreError
from storagebackend.registry import codec_by_name, known_codecs

EXTENSIONS = [(name, extension) for name in known_codecs() for extension in codec_by_name(name).extensions]


@pytest.mark.parametrize(("name", "extension"), EXTENSIONS)
def test_a_store_written_by_extension_reads_back(tmp_path: Path, name: str, extension: str) -> None:
    path = tmp_path / f"notes{extension}"
    with sb.open(str(path)) as store:
        note = store.create({"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"})
        store.create({})
        uid = note.uid
    assert b"Hello world" in path.read_bytes()
    with sb.open(str(path), flag="r") as store:
        assert len(store) == 2
        assert store[uid] == {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}
    with sb.open(str(path), flag="r", codec=name) as store:
        assert store.get_document(uid)["blob"] == b"\xde\xad\xbe\xef"


@pytest.mark.parametrize("name", known_codecs())
def test_codec_query_overrides_the_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / "notes.data"
    with sb.open(f"{path}?codec={name}") as store:
        uid = store.create({"k": b"v"}).uid
    assert codec_by_name(name).decode(path.read_bytes()) == {uid.hex: {"k": b"v"}}


FOREIGN_FILES = {
    ".json": b'{"name": "app", "documents": {}}\n',
    ".yaml": b"services:\n  web:\n    image: nginx\n    ports: [80]\n",
    ".toml": b'[tool.app]\nname = "app"\n',
    ".ini": b"[server]\nport = 8080\n",
    ".cfg": b"[metadata]\nname = app\n",
    ".msgpack": b"\x81\xa4name\xa3app",
}


@pytest.mark.parametrize(("extension", "content"), FOREIGN_FILES.items())
@pytest.mark.parametrize("flag", ["c", "w", "r"])
def test_a_file_that_is_not_a_store_is_refused_and_left_alone(
    tmp_path: Path, extension: str, content: bytes, flag: str
) -> None:
    path = tmp_path / f"config{extension}"
    path.write_bytes(content)
    with pytest.raises(CorruptStoreError, match="marker"):
        sb.open(str(path), flag=flag)
    assert path.read_bytes() == content


@pytest.mark.parametrize("name", known_codecs())
def test_an_empty_file_is_corrupt_and_flag_n_starts_anew(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"empty.{name}"
    path.write_bytes(b"")
    with pytest.raises(CorruptStoreError):
        sb.open(f"{path}?codec={name}")
    with sb.open(f"{path}?codec={name}", flag="n") as store:
        assert len(store) == 0
    assert codec_by_name(name).decode(path.read_bytes()) == {}


@pytest.mark.parametrize("name", known_codecs())
@pytest.mark.parametrize("cut", ["in a line", "at a line's end", "before the last byte"])
def test_a_cut_store_file_is_refused_and_left_alone(tmp_path: Path, name: str, cut: str) -> None:
    """A file cut short (by another program, a full disk elsewhere) never opens as a smaller store (API.md 7)."""
    path = tmp_path / f"notes.{name}"
    with sb.open(f"{path}?codec={name}") as store:
        store.create({"title": b"Hello world", "body": b"first line\nsecond line", "blob": b"\xde\xad\xbe\xef"})
        store.create({"title": b"Second note", "tags": b"work home"})
    data = path.read_bytes()
    end = {
        "in a line": data.rindex(b"Second note") + 6,
        "at a line's end": data.rindex(b"\n", 0, len(data) - 2) + 1,
        "before the last byte": len(data) - 1,
    }[cut]
    path.write_bytes(data[:end])
    for flag in ("c", "w", "r"):
        with pytest.raises(CorruptStoreError):
            sb.open(f"{path}?codec={name}", flag=flag)
        assert path.read_bytes() == data[:end]


@pytest.mark.parametrize("name", known_codecs())
def test_a_store_lists_documents_and_keys_in_the_order_of_its_file(tmp_path: Path, name: str) -> None:
    """The codec keeps insertion order, text and binary values mixed, through the file (API.md 3)."""
    documents = {
        "f" * 32: {"Title": b"Notes", "blob": b"\xff\x00", "Body": b"text", "a": b""},
        "0" * 32: {},
        "9" * 32: {"z": b"\x00", "A": b"A", "y": b"y\nz", "b": b"\x80"},
    }
    path = tmp_path / f"notes.{name}"
    path.write_bytes(codec_by_name(name).encode(documents))
    with sb.open(str(path), flag="r") as store:
        assert [uid.hex for uid in store] == list(documents)
        assert [(uid.hex, list(store[uid].items())) for uid in store] == [
            (uid, list(document.items())) for uid, document in documents.items()
        ]


U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
# Files written by a person: comments, their own layout and quoting, keys in upper case, binary in the middle.
HAND_WRITTEN = {
    "json": f'{{"format": "storagebackend", "version": 2,\n "documents": {{\n  "{U1}": '
    '{"Author": "Bob", "blob": {"base64": "3q2+7w=="}, "Title": "Notes"}\n }\n}\n',
    "yaml": f"# Notes kept by Bob\nformat: storagebackend\nversion: 2\ndocuments:\n  {U1}:  # the first note\n"
    '    Author: Bob\n    blob: !!binary 3q2+7w==\n    Title: "Notes"\n...\n',
    "toml": f'# Notes kept by Bob\nformat = "storagebackend"\nversion = 2\n[documents.{U1}]  # the first note\n'
    "Author = \"Bob\"\nblob = {base64 = '3q2+7w=='}\nTitle = 'Notes'\n# end of store\n",
    "ini": f"# Notes kept by Bob\n[storagebackend]\nformat = storagebackend\nversion = 2\n[{U1}]\n"
    "; the first note\nAuthor = Bob\nblob = base64:3q2+7w==\nTitle=Notes\n# end of store\n",
}


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_what_a_sync_keeps_of_a_hand_edited_file(tmp_path: Path, name: str) -> None:
    """As the README's "What a sync keeps" says: reading keeps the file as it is; a sync that
    changes something writes the codec's own layout, with every key's spelling, case and place kept."""
    path = tmp_path / f"notes.{name}"
    path.write_text(HAND_WRITTEN[name], encoding="utf-8")
    expected = {U1: {"Author": b"Bob", "blob": b"\xde\xad\xbe\xef", "Title": b"Notes"}}
    with sb.open(str(path)) as store:
        assert {uid.hex: store.get_document(uid) for uid in store} == expected
        assert list(store[U1]) == ["Author", "blob", "Title"]
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN[name]  # comments and all, until a change
    with sb.open(str(path)) as store:
        new = store.create({"Title": b"Second"}).uid
    codec = codec_by_name(name)
    written = codec.decode(path.read_bytes())
    assert written == {**expected, new.hex: {"Title": b"Second"}}
    assert list(written[U1]) == ["Author", "blob", "Title"]
    assert path.read_bytes() == codec.encode(written)  # the codec's own layout: comments are not kept
