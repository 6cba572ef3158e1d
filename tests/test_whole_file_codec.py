"""A whole-file codec (encode/decode only, no fragments) behind the cached file backend (API.md 9).

The codec is the binary plist codec of the plist plugin (codecs/plist, ``.bplist``),
found through its entry point. The store re-encodes the whole file at each
sync that has something to write, and is otherwise the same store: the
conformance machine, reopen, sync only on change, discard.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import storagebackend as sb
from helpers.support import codec_plugin
from storagebackend.backends.cached_file import CachedFileBackend
from storagebackend.storage import Storage
from storagebackend.testing import StorageMachine
from storagebackend.transports.memory import MemoryTransport

U1 = sb.UID("1" * 32)
PlistCodec = codec_plugin("storagebackend_plist", "plist").BinaryPlistCodec


def test_a_whole_file_codec_is_not_a_fragment_codec() -> None:
    assert not isinstance(PlistCodec(), sb.FragmentCodec)
    assert not hasattr(PlistCodec, "encode_document")


def test_a_store_of_a_whole_file_codec_reopens_syncs_only_on_change_and_discards() -> None:
    url = f"memfile://{uuid.uuid4().hex}/notes.bplist"
    with sb.open(url) as store:
        assert type(store.backend.codec) is PlistCodec  # type: ignore[attr-defined]
        store[U1] = {"title": b"Hello"}
    faults = MemoryTransport(url.removeprefix("memfile://"))
    assert faults.data is not None and faults.data.startswith(b"bplist00")
    writes = faults.writes
    with sb.open(url) as store:  # open, read, sync, close: nothing changed, nothing written
        assert store[U1] == {"title": b"Hello"}
        store.sync()
    assert faults.writes == writes
    with sb.open(url) as store:
        store[U1]["title"] = b"Changed"
        other = store.create({"k": b"v"}).uid
        store.discard()
        assert dict(store[U1]) == {"title": b"Hello"} and other not in store
        store[U1]["more"] = b"x"
        store.sync()
        assert faults.writes == writes + 1
        store.sync()
    assert faults.writes == writes + 1
    with sb.open(url, flag="r") as store:
        assert store.get_document(U1) == {"title": b"Hello", "more": b"x"}


def test_a_whole_file_codec_on_a_local_file_by_option(tmp_path: Path) -> None:
    path = tmp_path / "notes.bin"
    with sb.Storage(CachedFileBackend(sb.Transport.from_url(str(path)), PlistCodec())) as store:
        store[U1] = {"title": b"Hello"}
    assert path.read_bytes().startswith(b"bplist00")
    with sb.open(path, codec=PlistCodec(), flag="r") as store:
        assert store[U1] == {"title": b"Hello"}


class PlistMachine(StorageMachine):
    """The conformance machine on a memory file of the binary plist codec, given as an option."""

    def open_storage(self, flag: str) -> Storage:
        return sb.open(f"memfile://{self.name}/store.data", flag=flag, codec=PlistCodec())


TestPlistStore = PlistMachine.TestCase
