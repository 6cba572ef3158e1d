"""Every codec behind ``sb.open``: extensions, ``?codec=``, foreign files, and the conformance machine.

test_codecs.py tests the codecs alone; this module opens real files through
the cached file backend, so the registry's wiring and the backend's fragment
cache are exercised with every format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import storagebackend as sb
from storagebackend import CorruptStoreError
from storagebackend.registry import codec_by_name, known_codecs
from storagebackend.storage import Storage
from storagebackend.testing import StorageMachine

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


def _machine(name: str) -> type[StorageMachine]:
    class CodecMachine(StorageMachine):
        def open_storage(self, flag: str) -> Storage:
            return sb.open(f"{self.tmp}/store.{name}?codec={name}", flag=flag)

    CodecMachine.__name__ = CodecMachine.__qualname__ = f"{name.capitalize()}FileMachine"
    return CodecMachine


# The conformance machine on a file store of each codec, with few examples: the codecs'
# own properties are tested in test_codecs.py; here it is the interplay with the cache.
for _name in known_codecs():
    _case = _machine(_name).TestCase
    _case.settings = settings(
        max_examples=20,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    globals()[f"Test{_name.capitalize()}FileStore"] = _case
del _case  # pytest would collect it a second time under this name
