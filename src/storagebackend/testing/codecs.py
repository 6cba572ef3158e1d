"""CodecTests: the Codec contract as pytest tests, which a codec's own test module runs in a few lines.

A codec opts in by subclassing (the class name must start with ``Test`` for
pytest to collect it)::

    from storagebackend.testing import CodecTests
    from my_package import MyCodec

    class TestMyCodec(CodecTests):
        codec = MyCodec()
        version_spelling = (b'"version": 1', b'"version": 2')  # how a newer file differs

It proves, with hypothesis where examples help (API.md 6, 7 and 9): every
valid store round-trips exactly, tricky keys and values, empty documents and
the order of documents and keys included; a fragment codec's joined fragments
equal a whole ``encode``; a file without the format marker, of a newer
version, empty, cut at any byte, or with a document or key twice is
``CorruptStoreError``; random bytes and damaged files raise nothing else; what
``decode`` returns is only ``dict``, ``str`` and ``bytes`` (nothing built from
a tag); the format's own library reads the file into the documents; and the
codec opens by its extensions and by ``?codec=NAME`` (so it must be registered:
built in, an installed entry point, or ``register_codec``).

A subclass sets :attr:`CodecTests.codec` and, where the defaults do not fit,
the hooks: :attr:`~CodecTests.version_spelling` or :meth:`~CodecTests.newer_version`,
:meth:`~CodecTests.without_marker`, :meth:`~CodecTests.read_with_library`,
:meth:`~CodecTests.corrupt_files`, :meth:`~CodecTests.dangerous_files` and
:attr:`~CodecTests.text_is_literal`. Needs the ``test`` extra (hypothesis, pytest).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storagebackend.codecs.base import Codec, FragmentCodec
from storagebackend.codecs.registry import codec_by_name, codec_for_path
from storagebackend.errors import CorruptStoreError
from storagebackend.opening import open as open_store
from storagebackend.testing.strategies import TRICKY_KEYS, TRICKY_VALUES, documents, keys, stores, values
from storagebackend.validation import is_key

__all__ = ["KIT_SETTINGS", "CodecTests", "check_shape"]

Store = dict[str, dict[str, bytes]]

#: The settings of the kit's properties, defined here once: a hundred examples each (fewer where an
#: example decodes every cut of its file), no deadline (a busy machine), big examples allowed. The
#: kit runs on every codec at every CI run; the fuzzers in ``fuzz/`` search deeper. Each subclass
#: runs the same test functions with its own ``self`` (hypothesis' differing_executors check): an
#: example saved when one codec failed is then also tried on the others, which only adds a case.
KIT_SETTINGS: Final = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.differing_executors],
)
_FEWER: Final = settings(KIT_SETTINGS, max_examples=40)

U1: Final = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
U2: Final = "0123456789abcdef0123456789abcdef"
_HEX: Final = frozenset("0123456789abcdef")

#: Small stores: each example decodes every cut of its file.
_SMALL_STORES: Final = st.dictionaries(
    st.uuids().map(lambda u: u.hex), documents(max_keys=4, max_value_size=24), max_size=3
)
#: Text that every text format writes as it is (letters, digits, a little punctuation, no edge spaces).
_READABLE_TEXT: Final = st.text(
    st.characters(categories=["L", "N"], max_codepoint=0xFFFF) | st.sampled_from(" .,!?()/-"), min_size=1, max_size=60
).filter(lambda text: text == text.strip() and not text.startswith(("-", "?", "!")))
#: Stores whose files get their marker or version changed.
_MARKED: Final[tuple[Store, ...]] = ({}, {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef"}, U2: {}})
#: Bytes a damaged file may have gained: the syntax of one format or another.
_INSERTED: Final = (b"\n", b" ", b"[", b"{", b'"', b"\\", b"\x00", b"\xff", b"- ", b": ", b"&a ", b"*a", b"!!binary ")


def check_shape(documents: object, codec: str) -> None:
    """Fail unless ``documents`` is what ``decode`` may return: a dict of 32-hex-digit uids to dicts of keys to bytes.

    Exact types, not subclasses: a decoder that builds objects from a file's tags is caught here.
    """
    assert type(documents) is dict, f"{codec}: decode returned {type(documents).__name__}, not a dict"
    for uid, document in documents.items():
        valid_uid = type(uid) is str and len(uid) == 32 and set(uid) <= _HEX
        assert valid_uid, f"{codec}: decode returned the uid {uid!r}"
        assert type(document) is dict, f"{codec}: document {uid} is {type(document).__name__}, not a dict"
        for key, value in document.items():
            valid_key = type(key) is str and is_key(key)
            assert valid_key, f"{codec}: document {uid} has the key {key!r}"
            assert type(value) is bytes, f"{codec}: document {uid}, key {key!r}: {type(value).__name__}, not bytes"


def _order(store: Mapping[str, Mapping[str, bytes]]) -> list[tuple[str, list[str]]]:
    return [(uid, list(document)) for uid, document in store.items()]


def _tricky_stores() -> list[Store]:
    """Small stores that hold every tricky key and every tricky value, a few of each per file."""
    found: list[Store] = []
    for start in range(0, len(TRICKY_KEYS), 4):
        chunk = TRICKY_KEYS[start : start + 4]
        items = [(key, TRICKY_VALUES[(start + n) % len(TRICKY_VALUES)]) for n, key in enumerate(chunk)]
        found.append({U1: dict(items[:2]), U2: dict(items[2:])})
    for start in range(0, len(TRICKY_VALUES), 4):
        found.append({U2: {f"v{n}": value for n, value in enumerate(TRICKY_VALUES[start : start + 4])}})
    return found


class CodecTests:
    """The contract's tests; subclasses set :attr:`codec` (and, where the defaults do not fit, the hooks)."""

    #: The codec under test (an instance).
    codec: ClassVar[Codec]
    #: How the version this codec writes is spelled in its files, and how a newer one would be, e.g.
    #: ``(b'"version": 2', b'"version": 3')``; the first must occur exactly once in a file. Used by the
    #: default :meth:`newer_version`; a codec whose version has no fixed spelling overrides that instead.
    version_spelling: ClassVar[tuple[bytes, bytes] | None] = None
    #: Whether text values appear in the file as their UTF-8 bytes (true of every text format; false
    #: where text is stored otherwise, as UTF-16 in a binary plist).
    text_is_literal: ClassVar[bool] = True

    # -- the hooks ------------------------------------------------------------------------------------------

    def newer_version(self, data: bytes) -> bytes:
        """``data`` (a valid file) as a file of a newer format version; by default with :attr:`version_spelling`."""
        if self.version_spelling is None:
            raise NotImplementedError(
                f"{type(self).__name__}: set version_spelling = (written, newer), or override newer_version()"
            )
        written, newer = self.version_spelling
        assert data.count(written) == 1, f"{written!r} occurs {data.count(written)} times in {data[:200]!r}"
        return data.replace(written, newer)

    def without_marker(self, data: bytes) -> bytes:
        """``data`` (a valid file) with its format marker misspelt (by default: every ``storagebackend`` in it)."""
        assert b"storagebackend" in data, f"no format marker 'storagebackend' in {data[:200]!r}"
        return data.replace(b"storagebackend", b"storagebackenx")

    def read_with_library(self, data: bytes) -> Mapping[str, Mapping[str, bytes]]:
        """The documents of a file as the format's own standard library reads them (``json.loads``,
        ``cbor2.loads``, ``plistlib.loads``...), uid -> key -> bytes. Without it, that test is skipped."""
        raise NotImplementedError

    def corrupt_files(self) -> Mapping[str, bytes]:
        """Files of this format that are no store, by what is wrong with them: each must be CorruptStoreError."""
        return {}

    def dangerous_files(self, marker: Path) -> Mapping[str, bytes]:
        """Files that a careless decoder would turn into objects, or run code from (which would create
        ``marker``), by what they try: each must be CorruptStoreError, and ``marker`` must not appear."""
        return {}

    # -- helpers --------------------------------------------------------------------------------------------

    def decode(self, data: bytes) -> Store:
        """``codec.decode(data)``, checked to have the shape of a store."""
        documents = self.codec.decode(data)
        check_shape(documents, self.codec.name)
        return documents

    def assert_corrupt(self, data: bytes, what: str, match: str | None = None) -> None:
        """``decode(data)`` raises CorruptStoreError itself (not a subclass of another error), with a message."""
        try:
            documents = self.codec.decode(data)
        except CorruptStoreError as exc:
            error = exc
        else:
            pytest.fail(f"{self.codec.name}: {what} reads as {documents!r}")
        message = str(error)
        assert type(error) is CorruptStoreError, f"{what}: {type(error).__name__}"
        assert message.strip(), f"{what}: CorruptStoreError without a message"
        if match is not None:
            assert match in message, f"{what}: {match!r} not in the message {message!r}"

    def assert_round_trip(self, store: Store) -> bytes:
        """Encode ``store``, decode it back, and check both: equal, in order, and encoded again the same."""
        data = self.codec.encode(store)
        assert type(data) is bytes
        decoded = self.decode(data)
        assert decoded == store
        assert _order(decoded) == _order(store)
        assert self.codec.encode(decoded) == data  # reading a file and writing it back changes nothing
        return data

    def assert_every_cut_corrupt(self, data: bytes) -> None:
        """``decode`` refuses ``data`` cut at every byte, the last one included (API.md 7)."""
        for end in range(len(data)):
            self.assert_corrupt(data[:end], f"the file cut at byte {end} of {len(data)}")

    # -- round trips ----------------------------------------------------------------------------------------

    @KIT_SETTINGS
    @given(store=stores())
    def test_every_store_round_trips_exactly_in_order(self, store: Store) -> None:
        self.assert_round_trip(store)

    @_FEWER
    @given(store=stores(), uid=st.uuids().map(lambda u: u.hex), document=documents())
    def test_fragments_joined_equal_a_whole_encode(self, store: Store, uid: str, document: dict[str, bytes]) -> None:
        """What the cached file backend does at a sync: re-encode the changed document, join all."""
        codec = self.codec
        if not isinstance(codec, FragmentCodec):
            pytest.skip(f"{codec.name} is a whole-file codec (a Codec, not a FragmentCodec): no fragments")
        fragments = [codec.encode_document(uid, document) for uid, document in store.items()]
        assert codec.join(fragments) == codec.encode(store)
        assert codec.encode_documents(store) == fragments
        by_uid = dict(zip(store, fragments, strict=True))
        by_uid[uid] = codec.encode_document(uid, document)
        assert self.decode(codec.join(list(by_uid.values()))) == {**store, uid: document}

    @_FEWER
    @given(document=st.dictionaries(keys(max_length=200), values(), min_size=1, max_size=4))
    def test_keys_longer_than_the_default_limit_round_trip(self, document: dict[str, bytes]) -> None:
        """``max_key_length`` can be raised, so every codec reads longer keys too."""
        self.assert_round_trip({U1: document})

    def test_every_tricky_key_and_value_round_trips(self) -> None:
        store: Store = {
            uuid.UUID(int=index).hex: {
                key: TRICKY_VALUES[(index + n) % len(TRICKY_VALUES)] for n, key in enumerate(TRICKY_KEYS)
            }
            for index in range(len(TRICKY_VALUES))
        }
        self.assert_round_trip(store)
        self.assert_round_trip({U1: {f"v{n}": value for n, value in enumerate(TRICKY_VALUES)}})

    def test_empty_stores_documents_and_values_round_trip(self) -> None:
        empty: list[Store] = [{}, {U1: {}}, {U1: {}, U2: {"k": b""}}, {U1: {"k": b""}}, {U2: {}, U1: {}}]
        for store in empty:
            self.assert_round_trip(store)

    def test_the_largest_values_round_trip(self) -> None:
        rng = random.Random(7)
        text = "".join(rng.choice("abc def\nghi é 日本 \t") for _ in range(20_000)).encode()[:65536]
        self.assert_round_trip({U1: {"blob": rng.randbytes(65536), "text": text, "all bytes": bytes(range(256)) * 256}})

    # -- the file -------------------------------------------------------------------------------------------

    @_FEWER
    @given(text=_READABLE_TEXT, other=values())
    def test_text_values_appear_literally(self, text: str, other: bytes) -> None:
        if not self.text_is_literal:
            pytest.skip(f"{self.codec.name} does not store text as its UTF-8 bytes")
        assert text.encode() in self.codec.encode({U1: {"title": text.encode(), "other": other}})

    @_FEWER
    @given(store=stores())
    def test_the_formats_own_library_reads_the_documents(self, store: Store) -> None:
        data = self.codec.encode(store)
        try:
            read = self.read_with_library(data)
        except NotImplementedError:
            pytest.skip(f"{type(self).__name__} names no standard library for {self.codec.name} (read_with_library)")
        assert read == store
        assert _order(read) == _order(store)

    # -- what is not a store --------------------------------------------------------------------------------

    def test_a_file_without_the_marker_is_corrupt(self) -> None:
        for store in _MARKED:
            self.assert_corrupt(self.without_marker(self.codec.encode(store)), "a file without the marker", "marker")

    def test_a_file_of_a_newer_format_version_is_corrupt(self) -> None:
        for store in _MARKED:
            self.assert_corrupt(self.newer_version(self.codec.encode(store)), "a file of a newer version", "newer")

    def test_empty_garbage_and_foreign_files_are_corrupt(self) -> None:
        valid = self.codec.encode({U1: {"title": b"Hello world"}})
        utf16 = b"\xff\xfe" + valid.decode("latin-1").encode("utf-16-le")
        files = {
            "a file of zero bytes": b"",
            "a NUL byte": b"\x00",
            "garbage": b"\xff\xfe\xfd garbage \x00\x01",
            "the bare marker": b"storagebackend",
            "line breaks": b"\n\n",
            "a space": b" ",
            "UTF-16": utf16,
            **self.corrupt_files(),
        }
        for what, data in files.items():
            self.assert_corrupt(data, what)

    @settings(KIT_SETTINGS, max_examples=25)
    @given(store=_SMALL_STORES)
    def test_every_cut_of_a_file_is_corrupt(self, store: Store) -> None:
        """A file cut at any byte, in a line or at a line's end, is CorruptStoreError, never a smaller store."""
        self.assert_every_cut_corrupt(self.codec.encode(store))

    def test_every_cut_of_a_file_of_tricky_keys_and_values_is_corrupt(self) -> None:
        for store in _tricky_stores():
            self.assert_every_cut_corrupt(self.assert_round_trip(store))

    def test_a_document_or_a_key_that_appears_twice_is_corrupt(self) -> None:
        """A file with one uid twice (in one spelling or two), or one key twice in a document, is ambiguous."""
        data = self.codec.encode({U1: {"k": b"one"}, U2: {"k": b"two"}})
        assert data.count(U2.encode()) == 1, data
        self.assert_corrupt(data.replace(U2.encode(), U1.encode()), "a file with a document twice")
        self.assert_corrupt(data.replace(U2.encode(), U1.upper().encode()), "a file with a uid in two spellings")
        data = self.codec.encode({U1: {"key1": b"one", "key2": b"two"}})
        assert data.count(b"key2") == 1, data
        self.assert_corrupt(data.replace(b"key2", b"key1"), "a file with a key twice in one document")
        if isinstance(self.codec, FragmentCodec):
            fragment = self.codec.encode_document(U1, {"k": b"one"})
            self.assert_corrupt(self.codec.join([fragment, fragment]), "a file with one fragment twice")

    @KIT_SETTINGS
    @given(data=st.binary(max_size=200))
    def test_random_bytes_are_corrupt(self, data: bytes) -> None:
        self.assert_corrupt(data, "random bytes")

    @KIT_SETTINGS
    @given(store=stores(max_documents=3), data=st.data())
    def test_damaged_files_raise_only_corrupt_store_error(self, store: Store, data: st.DataObject) -> None:
        """Flipped bits, inserted syntax, deleted runs, cuts: CorruptStoreError, or a store of the right shape."""
        damaged = bytearray(self.codec.encode(store))
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(damaged)))
            how = data.draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
            if how == "flip" and position < len(damaged):
                damaged[position] ^= 1 << data.draw(st.integers(0, 7))
            elif how == "insert":
                damaged[position:position] = data.draw(st.sampled_from(_INSERTED))
            elif how == "delete":
                del damaged[position : position + data.draw(st.integers(1, 8))]
            else:
                del damaged[position:]
        try:
            self.decode(bytes(damaged))
        except CorruptStoreError as exc:
            message = str(exc)
        else:
            return
        assert message.strip(), "CorruptStoreError without a message"

    def test_decoding_never_runs_code_or_builds_objects(self, tmp_path: Path) -> None:
        """The codec's sample of dangerous files is refused, and nothing they ask for happens."""
        marker = tmp_path / "ran"
        for what, data in self.dangerous_files(marker).items():
            self.assert_corrupt(data, what)
            assert not marker.exists(), f"{self.codec.name}: decoding {what} created {marker}"

    # -- the codec in a store -------------------------------------------------------------------------------

    def test_the_codec_opens_by_extension_and_by_name(self, tmp_path: Path) -> None:
        name = self.codec.name
        try:
            registered = codec_by_name(name)
        except ValueError as exc:
            pytest.fail(
                f"{exc}: a codec opens by name once registered: install its package (an entry point in the "
                "group 'storagebackend.codecs') or call storagebackend.register_codec()"
            )
        assert type(registered) is type(self.codec)
        store = {U1: {"title": b"Hello world", "blob": b"\xde\xad\xbe\xef", "=; #": b"line\nbreak"}, U2: {}}
        for extension in self.codec.extensions:
            path = tmp_path / f"notes{extension}"
            assert type(codec_for_path(str(path))) is type(self.codec), f"{path.name} opens with another codec"
            with open_store(path) as opened:
                opened.update(store)
            assert self.decode(path.read_bytes()) == store  # the store wrote this codec's file
            with open_store(path, flag="r") as opened:
                assert {str(uid): dict(document) for uid, document in opened.items()} == store
        other = tmp_path / "notes.data"
        other.write_bytes(self.codec.encode(store))
        with open_store(f"{other}?codec={name}", flag="r") as opened:
            assert {str(uid): dict(document) for uid, document in opened.items()} == store
