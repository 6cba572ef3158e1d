"""Encryption (API.md sections 8 and 10): keys, the file envelope, journal records and sealed database values.

What a user relies on: what was sealed opens only with its key and only in its
place; any damage or cut is CorruptStoreError and never a wrong answer; no key,
or a wrong one, is WrongKeyError (a PermissionError), told apart from damage;
a list of keys rotates them; and no key shows in a repr, a message or a log.
Passphrases use cheap scrypt parameters here (the default costs ~0.5 s each),
except in the tests of the default itself.
"""

from __future__ import annotations

import copy
import logging
import pickle
import struct
import traceback
import unicodedata
import zlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storagebackend import CorruptStoreError, StorageError, WrongKeyError
from storagebackend.encryption import (
    FILE_MAGIC,
    FILE_OVERHEAD,
    KEY_HEADER_MAGIC,
    RECORD_OVERHEAD,
    VALUE_OVERHEAD,
    ValueCipher,
    is_encrypted,
    open_file,
    open_record,
    plain_store_error,
    read_file_slot,
    seal_file,
    seal_record,
)
from storagebackend.keyring import DEFAULT_SCRYPT, KDF_SCRYPT, KdfParams, Keyring, KeySlot
from storagebackend.options import check_option
from storagebackend.testing import keys, values

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Cheap scrypt for tests whose point is not the KDF: 2**8 · 8 · 1.
CHEAP = KdfParams(KDF_SCRYPT, 8, 8, 1)
#: Secrets easy to look for in messages: a raw key and a passphrase.
RAW = b"RAWKEY-0123456789-abcdefghijklmn"
PASSPHRASE = "correct horse battery staple Zq9"
OTHER_RAW = b"OTHERKEY-0123456789-abcdefghijkl"
U1 = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
U2 = "0123456789abcdef0123456789abcdef"
PLAINTEXT = b'{"format": "storagebackend", "version": 2, "documents": {}}\n'


def ring(*keys: bytes | str) -> Keyring:
    return Keyring(list(keys), scrypt=CHEAP)


def sealed_file(keyring: Keyring, plaintext: bytes = PLAINTEXT) -> bytes:
    return seal_file(keyring.writer(), plaintext)


def flips(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``data`` with each byte in turn changed (one bit, then all bits)."""
    for position in range(len(data)):
        for mask in (0x01, 0xFF):
            damaged = bytearray(data)
            damaged[position] ^= mask
            yield position, bytes(damaged)


def all_text(exc: BaseException) -> str:
    """Everything an error shows: str and repr of it and of every error in its chain, and the traceback."""
    parts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), *map(str, current.args)]
        current = current.__cause__ or current.__context__
    parts.append("".join(traceback.format_exception(exc)))
    return "\n".join(parts)


def assert_no_secret(text: str) -> None:
    for secret in (RAW, OTHER_RAW):
        assert secret.decode() not in text and repr(secret) not in text and secret.hex() not in text
    assert PASSPHRASE not in text and "horse" not in text


# -- keys and the option -------------------------------------------------------------------------


def test_the_option_takes_a_raw_key_a_passphrase_or_a_list_and_the_keyring_shows_only_how_many() -> None:
    assert repr(check_option("encryption_key", RAW)) == "<Keyring of 1 key>"
    assert repr(check_option("encryption_key", PASSPHRASE)) == "<Keyring of 1 key>"
    assert repr(check_option("encryption_key", [PASSPHRASE, RAW])) == "<Keyring of 2 keys>"
    assert repr(check_option("encryption_key", (bytearray(RAW),))) == "<Keyring of 1 key>"
    assert check_option("encryption_key", None) is None
    keyring = ring(RAW)
    assert check_option("encryption_key", keyring) is keyring


@pytest.mark.parametrize(
    ("value", "error", "said"),
    [
        (RAW[:16], ValueError, "got bytes of length 16"),
        (RAW + b"!", ValueError, "got bytes of length 33"),
        ("", ValueError, "got an empty str"),
        ([], ValueError, "got an empty list"),
        ((), ValueError, "got an empty tuple"),
        ([PASSPHRASE, 32], TypeError, "got a list whose item 1 is int"),
        ([RAW, RAW[:8]], ValueError, "got a list whose item 1 is bytes of length 8"),
        ([[RAW]], TypeError, "got a list whose item 0 is list"),
        (32, TypeError, "got int"),
        (True, TypeError, "got bool"),
        ({"key": RAW}, TypeError, "got dict"),
    ],
)
def test_a_wrong_key_option_names_the_option_and_what_it_got_but_never_the_key(
    value: object, error: type[Exception], said: str
) -> None:
    with pytest.raises(error, match="^encryption_key must be a 32-byte bytes key") as info:
        check_option("encryption_key", value)
    assert str(info.value).endswith(said)
    assert_no_secret(all_text(info.value))
    with pytest.raises(error):
        check_option("encryption_key", value, from_text=True)


def test_compress_and_journal_options() -> None:
    assert [check_option("compress", name) for name in ("gzip", "xz", "zstd", None)] == ["gzip", "xz", "zstd", None]
    with pytest.raises(ValueError, match="^compress must be one of 'gzip', 'xz', 'zstd' .*, got str 'bz2'$"):
        check_option("compress", "bz2")
    with pytest.raises(TypeError, match="^compress must be one of .*, got int$"):
        check_option("compress", 9)
    assert check_option("journal", True) is True
    assert check_option("journal", " Off ", from_text=True) is False
    assert check_option("journal", "yes", from_text=True) is True
    with pytest.raises(TypeError, match="^journal must be True or False, got int 1$"):
        check_option("journal", 1)
    with pytest.raises(ValueError, match="^journal must be True or False, got the text 'maybe'"):
        check_option("journal", "maybe", from_text=True)


def test_keys_and_keyrings_cannot_be_pickled_or_copied() -> None:
    keyring = ring(RAW, PASSPHRASE)
    cipher = ValueCipher.create(keyring)
    for thing in (keyring, keyring.writer(), cipher):
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            pickle.dumps(thing)
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            copy.copy(thing)


def test_no_repr_shows_a_key() -> None:
    keyring = ring(RAW, PASSPHRASE)
    writer = keyring.writer()
    cipher = ValueCipher.create(keyring)
    shown = "\n".join(map(repr, (keyring, writer, writer.slot, cipher)))
    assert_no_secret(shown)
    assert repr(writer) == "<SealingKey raw key slot>"


# -- the file envelope -----------------------------------------------------------------------------


@given(plaintext=st.binary(max_size=2048), passphrase=st.booleans())
@FEW
def test_a_file_envelope_opens_to_its_plaintext(plaintext: bytes, passphrase: bool) -> None:
    keyring = ring(PASSPHRASE if passphrase else RAW)
    data = sealed_file(keyring, plaintext)
    assert is_encrypted(data) and data.startswith(FILE_MAGIC)
    assert len(data) == len(plaintext) + FILE_OVERHEAD
    opened, key = open_file(ring(PASSPHRASE if passphrase else RAW), data, "notes.json")
    assert opened == plaintext
    assert key.slot == read_file_slot(data, "notes.json")


def test_the_envelope_is_laid_out_as_documented() -> None:
    keyring = ring(PASSPHRASE)
    data = sealed_file(keyring, b"abc")
    assert data[:8] == b"\xc1SBENC\r\n" and data[8] == 1
    assert tuple(data[9:13]) == (KDF_SCRYPT, CHEAP.log2_n, CHEAP.r, CHEAP.p)
    slot = keyring.writer().slot
    assert data[13:29] == slot.salt and data[29:45] == slot.check
    assert data[57:61] == struct.pack(">I", zlib.crc32(data[:57]))
    assert len(data) == 61 + 3 + 16


def test_two_seals_of_the_same_data_differ_but_keep_the_slot() -> None:
    keyring = ring(PASSPHRASE)
    first, second = sealed_file(keyring), sealed_file(keyring)
    assert first != second
    assert first[:45] == second[:45]  # same slot: the passphrase is stretched once
    assert first[45:57] != second[45:57]  # a fresh nonce
    assert first[61:] != second[61:]


def test_every_flipped_byte_of_an_envelope_is_refused_as_damage_never_a_wrong_key_or_answer() -> None:
    keyring = ring(RAW)
    data = sealed_file(keyring, b"hello, world")
    for position, damaged in flips(data):
        with pytest.raises(CorruptStoreError, match="^notes.json: ") as info:
            open_file(keyring, damaged, "notes.json")
        assert not isinstance(info.value, WrongKeyError), position


def test_a_damaged_key_check_is_damage_not_a_wrong_key() -> None:
    keyring = ring(RAW)
    data = bytearray(sealed_file(keyring))
    data[40] ^= 0x10  # inside the key check
    with pytest.raises(CorruptStoreError, match="header is damaged"):
        open_file(keyring, bytes(data), "notes.json")


def test_every_cut_of_an_envelope_is_refused() -> None:
    keyring = ring(RAW)
    data = sealed_file(keyring, b"hello, world")
    for end in range(len(data)):
        with pytest.raises(CorruptStoreError, match="^notes.json: "):
            open_file(keyring, data[:end], "notes.json")
    with pytest.raises(CorruptStoreError):
        open_file(keyring, data + b"\x00", "notes.json")


def test_a_wrong_or_missing_key_is_wrong_key_error_and_tells_which() -> None:
    data = sealed_file(ring(RAW))
    for keyring in (ring(OTHER_RAW), ring(PASSPHRASE), ring(OTHER_RAW, PASSPHRASE)):
        with pytest.raises(WrongKeyError, match="^notes.json: .*does not open it|^notes.json: none of the 2") as info:
            open_file(keyring, data, "notes.json")
        assert isinstance(info.value, PermissionError)
    with pytest.raises(WrongKeyError, match="^notes.json is encrypted: open it with its encryption_key"):
        open_file(None, data, "notes.json")
    # A passphrase file and a raw key, a raw-key file and a passphrase: the kinds never mix.
    with pytest.raises(WrongKeyError):
        open_file(ring(RAW), sealed_file(ring(PASSPHRASE)), "notes.json")


def test_a_damaged_header_is_damage_even_without_a_key() -> None:
    data = bytearray(sealed_file(ring(RAW)))
    data[20] ^= 1
    with pytest.raises(CorruptStoreError):
        open_file(None, bytes(data), "notes.json")


def test_a_plain_file_is_not_an_envelope_and_a_key_on_it_points_to_copy() -> None:
    assert not is_encrypted(PLAINTEXT)
    with pytest.raises(CorruptStoreError, match="not an encrypted store"):
        open_file(ring(RAW), PLAINTEXT, "notes.json")
    error = plain_store_error("notes.json")
    assert isinstance(error, WrongKeyError) and isinstance(error, PermissionError)
    assert str(error).startswith("notes.json is not encrypted") and "storagebackend copy" in str(error)


def test_rotation_reads_with_every_key_and_writes_with_the_first() -> None:
    old_file = sealed_file(ring(PASSPHRASE), b"old")
    rotating = ring(RAW, PASSPHRASE)
    plaintext, key = open_file(rotating, old_file, "notes.json")
    assert plaintext == b"old"
    new_file = seal_file(rotating.writer([key.slot]), b"new")
    assert open_file(ring(RAW), new_file, "notes.json")[0] == b"new"
    with pytest.raises(WrongKeyError):
        open_file(ring(PASSPHRASE), new_file, "notes.json")


def test_a_file_keeps_its_slot_while_its_first_key_writes_and_moves_to_stronger_parameters() -> None:
    weak = Keyring(PASSPHRASE, scrypt=KdfParams(KDF_SCRYPT, 4, 8, 1))
    old_file = sealed_file(weak)
    # Same parameters: the slot (salt and all) stays.
    same = Keyring(PASSPHRASE, scrypt=KdfParams(KDF_SCRYPT, 4, 8, 1))
    _, key = open_file(same, old_file, "s")
    assert seal_file(same.writer([key.slot]), b"x")[:45] == old_file[:45]
    # Stronger parameters today: the next write stretches anew with them, under a new salt.
    stronger = ring(PASSPHRASE)
    _, key = open_file(stronger, old_file, "s")
    rewritten = seal_file(stronger.writer([key.slot]), b"x")
    assert tuple(rewritten[9:13]) == (KDF_SCRYPT, CHEAP.log2_n, CHEAP.r, CHEAP.p)
    assert rewritten[13:29] != old_file[13:29]
    assert open_file(ring(PASSPHRASE), rewritten, "s")[0] == b"x"


def test_a_passphrase_is_read_in_its_composed_form() -> None:
    composed, decomposed = unicodedata.normalize("NFC", "Grüße café"), unicodedata.normalize("NFD", "Grüße café")
    assert composed != decomposed
    assert open_file(ring(decomposed), sealed_file(ring(composed)), "s")[0] == PLAINTEXT


def test_the_default_scrypt_parameters_are_recorded_and_read() -> None:
    data = seal_file(Keyring(PASSPHRASE).writer(), b"x")
    assert tuple(data[9:13]) == (KDF_SCRYPT, 17, 8, 1) == (KDF_SCRYPT, DEFAULT_SCRYPT.log2_n, 8, 1)
    assert open_file(Keyring([PASSPHRASE]), data, "s")[0] == b"x"


def _with_slot(data: bytes, kdf: int, log2_n: int, r: int, p: int) -> bytes:
    """``data`` (an envelope) with other KDF parameters and a CRC that matches them."""
    head = data[:9] + bytes([kdf, log2_n, r, p]) + data[13:57]
    return head + struct.pack(">I", zlib.crc32(head)) + data[61:]


def test_a_slot_asking_for_too_much_scrypt_work_or_an_unknown_kdf_is_damage() -> None:
    data = sealed_file(ring(PASSPHRASE))
    for params in ((KDF_SCRYPT, 24, 8, 1), (KDF_SCRYPT, 20, 8, 2), (KDF_SCRYPT, 0, 8, 1), (KDF_SCRYPT, 10, 0, 1)):
        with pytest.raises(CorruptStoreError, match="outside the range read"):
            open_file(ring(PASSPHRASE), _with_slot(data, *params), "s")
    with pytest.raises(CorruptStoreError, match="unknown key derivation 7"):
        open_file(ring(PASSPHRASE), _with_slot(data, 7, 0, 0, 0), "s")
    with pytest.raises(CorruptStoreError, match="raw key with scrypt parameters"):
        open_file(ring(RAW), _with_slot(data, 0, 1, 1, 1), "s")


def test_a_newer_format_version_asks_for_an_upgrade() -> None:
    data = bytearray(sealed_file(ring(RAW)))
    data[8] = 2
    with pytest.raises(CorruptStoreError, match="format version 2, newer than 1: upgrade storagebackend"):
        open_file(ring(RAW), bytes(data), "s")


@given(tail=st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_bytes_after_the_magic_are_refused_cleanly(tail: bytes) -> None:
    with pytest.raises((CorruptStoreError, WrongKeyError)):
        open_file(ring(RAW), FILE_MAGIC + tail, "s")


# -- journal records ---------------------------------------------------------------------------------


def journal(key_ring: Keyring, payloads: list[bytes]) -> bytes:
    writer = key_ring.writer()
    return b"".join(seal_record(writer, payload, b"journal-1:%d" % i) for i, payload in enumerate(payloads))


def read_journal(key_ring: Keyring, data: bytes) -> tuple[list[bytes], bool]:
    """Every whole record, and whether a cut one follows them."""
    writer = key_ring.writer()
    payloads: list[bytes] = []
    offset = 0
    while True:
        record = open_record(writer, data, offset, b"journal-1:%d" % len(payloads), "notes.json.journal")
        if record is None:
            return payloads, offset != len(data)
        payload, offset = record
        payloads.append(payload)


@given(payloads=st.lists(st.binary(max_size=300), max_size=6))
@FEW
def test_records_read_back_one_after_another(payloads: list[bytes]) -> None:
    keyring = ring(RAW)
    data = journal(keyring, payloads)
    assert len(data) == sum(map(len, payloads)) + RECORD_OVERHEAD * len(payloads)
    assert read_journal(keyring, data) == (payloads, False)


def test_a_record_cut_anywhere_is_recognised_as_cut_and_the_records_before_it_hold() -> None:
    keyring = ring(RAW)
    payloads = [b"first", b"", b"third record"]
    data = journal(keyring, payloads)
    last = len(data) - len(payloads[-1]) - RECORD_OVERHEAD
    for end in range(last + 1, len(data)):
        assert read_journal(keyring, data[:end]) == (payloads[:2], True), end
    assert read_journal(keyring, data[:last]) == (payloads[:2], False)


def test_every_flipped_byte_of_a_whole_record_is_damage_never_a_cut_or_a_wrong_answer() -> None:
    keyring = ring(RAW)
    data = journal(keyring, [b"first", b"second"])
    for position, damaged in flips(data):
        with pytest.raises(CorruptStoreError, match="^notes.json.journal: the record at byte (0|41)"):
            read_journal(keyring, damaged)
        assert position >= 0


def test_a_record_moved_to_another_place_or_journal_does_not_open() -> None:
    keyring = ring(RAW)
    writer = keyring.writer()
    first, second = seal_record(writer, b"a", b"journal-1:0"), seal_record(writer, b"b", b"journal-1:1")
    with pytest.raises(CorruptStoreError, match="does not decrypt"):
        read_journal(keyring, second + first)  # reordered
    with pytest.raises(CorruptStoreError, match="does not decrypt"):
        open_record(writer, first, 0, b"journal-2:0", "j")  # from another journal


# -- sealed database values -------------------------------------------------------------------------


@given(key=keys(), value=values(max_size=1024), passphrase=st.booleans())
@FEW
def test_a_sealed_value_opens_with_its_store_uid_and_key(key: str, value: bytes, passphrase: bool) -> None:
    secret = PASSPHRASE if passphrase else RAW
    cipher = ValueCipher.create(ring(secret))
    sealed = cipher.seal(U1, key, value)
    assert len(sealed) == len(value) + VALUE_OVERHEAD
    reloaded = ValueCipher.load(ring(secret), cipher.header, "sqlite:notes.db")
    assert reloaded.open(U1, key, sealed, "sqlite:notes.db") == value


def test_a_value_moved_to_another_key_document_or_store_does_not_open() -> None:
    keyring = ring(RAW)
    cipher = ValueCipher.create(keyring)
    sealed = cipher.seal(U1, "title", b"secret title")
    for uid, key in ((U2, "title"), (U1, "Title"), (U1, "body")):
        with pytest.raises(CorruptStoreError, match="^db: the value of key"):
            cipher.open(uid, key, sealed, "db")
    # Another store under the same key and even the same slot: its store id differs.
    slot = _slots(cipher.header)[0]
    twin = ValueCipher(bytes(16), [slot], [], keyring.writer([slot]))
    with pytest.raises(CorruptStoreError, match="does not decrypt"):
        twin.open(U1, "title", sealed, "db")
    # Another store with its own slot: the value names a key it does not record.
    with pytest.raises(CorruptStoreError, match="names a key this store does not record"):
        ValueCipher.create(keyring).open(U1, "title", sealed, "db")


def test_values_swapped_between_two_keys_or_documents_are_refused() -> None:
    cipher = ValueCipher.create(ring(RAW))
    document = {"title": cipher.seal(U1, "title", b"A"), "body": cipher.seal(U1, "body", b"B")}
    with pytest.raises(CorruptStoreError):
        cipher.open(U1, "title", document["body"], "db")
    with pytest.raises(CorruptStoreError):
        cipher.open(U1, "body", document["title"], "db")
    other = cipher.seal(U2, "title", b"C")
    with pytest.raises(CorruptStoreError):
        cipher.open(U1, "title", other, "db")


def test_every_flipped_byte_and_every_cut_of_a_sealed_value_is_refused() -> None:
    cipher = ValueCipher.create(ring(RAW))
    sealed = cipher.seal(U1, "k", b"value")
    for _, damaged in flips(sealed):
        with pytest.raises(CorruptStoreError):
            cipher.open(U1, "k", damaged, "db")
    for end in range(len(sealed)):
        with pytest.raises(CorruptStoreError):
            cipher.open(U1, "k", sealed[:end], "db")


def test_two_seals_of_the_same_value_differ() -> None:
    cipher = ValueCipher.create(ring(RAW))
    assert cipher.seal(U1, "k", b"v") != cipher.seal(U1, "k", b"v")


def _slots(header: bytes) -> list[KeySlot]:
    count = header[25]
    return [KeySlot.unpack(header[26 + 36 * i :], "h") for i in range(count)]


def test_the_key_header_is_laid_out_as_documented() -> None:
    cipher = ValueCipher.create(ring(RAW))
    header = cipher.header
    assert header[:8] == KEY_HEADER_MAGIC == b"\xc1SBKEY\r\n" and header[8] == 1
    assert header[9:25] == cipher.store_id and header[25] == 1
    assert len(header) == 26 + 36 + 4 and header[-4:] == struct.pack(">I", zlib.crc32(header[:-4]))
    sealed = cipher.seal(U1, "k", b"v")
    assert sealed[0] == 1 and sealed[1:5] == _slots(header)[0].check[:4]


def test_every_flipped_byte_and_cut_of_the_key_header_is_damage() -> None:
    keyring = ring(RAW)
    header = ValueCipher.create(keyring).header
    for position, damaged in flips(header):
        with pytest.raises(CorruptStoreError, match="^db: ") as info:
            ValueCipher.load(keyring, damaged, "db")
        assert not isinstance(info.value, WrongKeyError), position
    for end in range(len(header)):
        with pytest.raises(CorruptStoreError, match="^db: "):
            ValueCipher.load(keyring, header[:end], "db")
    with pytest.raises(CorruptStoreError):
        ValueCipher.load(keyring, header + b"\x00", "db")


def test_a_store_opened_without_its_key_or_with_a_wrong_one_is_wrong_key_error() -> None:
    header = ValueCipher.create(ring(RAW)).header
    with pytest.raises(WrongKeyError, match="^db is encrypted: open it with its encryption_key"):
        ValueCipher.load(None, header, "db")
    with pytest.raises(WrongKeyError, match="^db: the encryption_key given does not open it"):
        ValueCipher.load(ring(OTHER_RAW), header, "db")


def test_rotation_of_database_values() -> None:
    old = ValueCipher.create(ring(PASSPHRASE))
    old_value = old.seal(U1, "k", b"old")
    rotating = ValueCipher.load(ring(RAW, PASSPHRASE), old.header, "db")
    assert rotating.header != old.header and rotating.header[25] == 2  # the new key's slot joins, first
    new_value = rotating.seal(U1, "k", b"new")
    assert rotating.open(U1, "k", old_value, "db") == b"old"
    assert rotating.open(U1, "k", new_value, "db") == b"new"
    # While old values may remain, the new key alone is refused at open, saying why.
    with pytest.raises(WrongKeyError, match="open only 1 of them.*storagebackend rekey"):
        ValueCipher.load(ring(RAW), rotating.header, "db")
    again = ValueCipher.load(ring(RAW, PASSPHRASE), rotating.header, "db")
    assert again.header == rotating.header  # nothing more to record
    # After every value is sealed anew (rekey), the old slot goes and the new key opens alone.
    rekeyed = again.seal(U1, "k", again.open(U1, "k", old_value, "db"))
    again.retire_old_keys()
    alone = ValueCipher.load(ring(RAW), again.header, "db")
    assert alone.open(U1, "k", rekeyed, "db") == b"old"
    with pytest.raises(CorruptStoreError, match="names a key this store does not record"):
        alone.open(U1, "k", old_value, "db")


# -- no key anywhere ------------------------------------------------------------------------------------


def _errors() -> Iterator[tuple[str, Callable[[], object]]]:
    raw_file = sealed_file(ring(RAW))
    pass_file = sealed_file(ring(PASSPHRASE))
    header = ValueCipher.create(ring(RAW)).header
    cipher = ValueCipher.create(ring(RAW, PASSPHRASE))
    yield "wrong raw key", lambda: open_file(ring(OTHER_RAW), raw_file, "f")
    yield "wrong passphrase", lambda: open_file(ring(PASSPHRASE), raw_file, "f")
    yield "passphrase file, raw key", lambda: open_file(ring(RAW, OTHER_RAW), pass_file, "f")
    yield "damaged", lambda: open_file(ring(RAW), raw_file[:-1] + bytes([raw_file[-1] ^ 1]), "f")
    yield "database wrong key", lambda: ValueCipher.load(ring(OTHER_RAW, PASSPHRASE), header, "db")
    yield "value moved", lambda: cipher.open(U2, "k", cipher.seal(U1, "k", RAW), "db")
    for value in (RAW[:31], [PASSPHRASE, RAW[:5]], [RAW, PASSPHRASE, 7]):
        yield "option", lambda value=value: check_option("encryption_key", value)


@pytest.mark.parametrize(("name", "action"), list(_errors()), ids=[name for name, _ in _errors()])
def test_no_error_message_chain_traceback_or_log_shows_a_key(
    name: str, action: Callable[[], object], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises((StorageError, TypeError, ValueError)) as info:
        action()
    assert_no_secret(all_text(info.value))
    assert_no_secret(caplog.text)


def test_a_keyring_that_meets_many_slots_keeps_a_bounded_cache() -> None:
    # A long-lived keyring (a server opening many stores) must not keep every slot it ever met.
    keyring = ring(RAW)
    for _ in range(300):
        ValueCipher.create(keyring)
        open_file(keyring, seal_file(keyring.new_writer(), b"x"), "s")
    assert len(keyring._opened) <= 64 and len(keyring._derived) <= 64
