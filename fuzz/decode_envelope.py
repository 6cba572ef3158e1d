"""Fuzz the parsers of encrypted data: file envelope, key header, journal records, and damage to valid ones.

The first byte picks what the rest is:

- 0: a file envelope, opened with a ring of two raw keys and with none;
- 1: a database's key header, loaded with that ring, then a value sealed and opened;
- 2: a 36-byte key slot and journal records after it, read in turn until the end or a cut;
- 3: 4 bytes of position and mask, then a plaintext: sealed as an envelope, a value and
  two records with the ring's key, then damaged there or cut there.

Every refusal must be CorruptStoreError or WrongKeyError with a message naming
the place; damage or a cut of what was sealed must be CorruptStoreError (a cut
last record: "cut"), never a wrong answer and never WrongKeyError; whatever
opens must seal and open again to itself; no error shows a key. The ring holds
raw keys only, so a fuzzed slot never makes scrypt run (its parameters are
still parsed and range-checked).
"""

from __future__ import annotations

import struct
import traceback
from collections.abc import Callable

import _common

_common.load()
from storagebackend.encryption import FILE_OVERHEAD, ValueCipher, open_file, open_record, seal_file, seal_record
from storagebackend.errors import CorruptStoreError, StorageError, WrongKeyError
from storagebackend.keyring import Keyring, KeySlot, SealingKey

#: The ring's keys (make_corpus.py seals the seeds with the first).
KEYS = (b"fuzz key one, 32 bytes long 0001", b"fuzz key two, 32 bytes long 0002")
RING = Keyring(list(KEYS))
WRITER = RING.writer()
UID = "6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"
WHERE = "fuzzed.json"


def _check_error(exc: StorageError) -> None:
    """A refusal names the place, says something, and never shows a key."""
    _common.check_message(exc)
    text = "".join(traceback.format_exception(exc)) + repr(exc)
    for key in KEYS:
        if key.decode() in text or key.hex() in text or repr(key) in text:
            raise AssertionError(f"a key shows in {type(exc).__name__}: {exc}") from exc
    if WHERE not in str(exc) and "db" not in str(exc):
        raise AssertionError(f"{type(exc).__name__} does not name the place: {exc}") from exc


def _envelope(data: bytes) -> None:
    for keyring in (RING, None):
        try:
            plaintext, key = open_file(keyring, data, WHERE)
        except (CorruptStoreError, WrongKeyError) as exc:
            _check_error(exc)
            continue
        again = seal_file(RING.writer([key.slot]), plaintext)
        if open_file(RING, again, WHERE)[0] != plaintext:
            raise AssertionError("an envelope that opened does not seal and open to itself")


def _key_header(data: bytes) -> None:
    try:
        cipher = ValueCipher.load(RING, data, "db")
    except (CorruptStoreError, WrongKeyError) as exc:
        _check_error(exc)
        return
    again = ValueCipher.load(RING, cipher.header, "db")
    if again.open(UID, "k", cipher.seal(UID, "k", data), "db") != data:
        raise AssertionError("a value sealed under a loaded header does not open")


def _records(key: SealingKey, data: bytes) -> tuple[list[bytes], bool]:
    """The whole records in ``data`` and whether a cut one ends it (associated data: the record's number)."""
    payloads: list[bytes] = []
    offset = 0
    while True:
        record = open_record(key, data, offset, b"%d" % len(payloads), WHERE)
        if record is None:
            return payloads, offset != len(data)
        payload, offset = record
        payloads.append(payload)


def _journal(data: bytes) -> None:
    try:
        key = RING.find(KeySlot.unpack(data, WHERE))
        if key is not None:
            _records(key, data[KeySlot.SIZE :])
    except CorruptStoreError as exc:
        _check_error(exc)


def _expect_damage(action: Callable[[], object], what: str) -> None:
    try:
        result = action()
    except WrongKeyError as exc:
        raise AssertionError(f"damage to {what} read as a wrong key") from exc
    except CorruptStoreError as exc:
        _check_error(exc)
        return
    raise AssertionError(f"damaged {what} read as {result!r}")


def _damage(data: bytes) -> None:
    if len(data) < 4:
        return
    (spot,) = struct.unpack(">I", data[:4])
    plaintext = data[4:]
    mask = (spot >> 24) or 1
    envelope = seal_file(WRITER, plaintext)
    position = spot % len(envelope)
    damaged = bytearray(envelope)
    damaged[position] ^= mask
    _expect_damage(lambda: open_file(RING, bytes(damaged), WHERE), f"an envelope at byte {position}")
    _expect_damage(lambda: open_file(RING, envelope[:position], WHERE), f"an envelope cut at byte {position}")
    if open_file(RING, envelope, WHERE)[0] != plaintext or len(envelope) != len(plaintext) + FILE_OVERHEAD:
        raise AssertionError("an envelope does not open to its plaintext")

    cipher = ValueCipher.create(RING)
    value = cipher.seal(UID, "k", plaintext)
    damaged = bytearray(value)
    damaged[spot % len(value)] ^= mask
    _expect_damage(lambda: cipher.open(UID, "k", bytes(damaged), "db"), "a sealed value")
    _expect_damage(lambda: cipher.open(UID, "k", value[: spot % len(value)], "db"), "a cut value")

    journal = seal_record(WRITER, plaintext, b"0") + seal_record(WRITER, plaintext[::-1], b"1")
    position = spot % len(journal)
    damaged = bytearray(journal)
    damaged[position] ^= mask
    _expect_damage(lambda: _records(WRITER, bytes(damaged)), f"a journal at byte {position}")
    first = len(journal) // 2
    expected = ([plaintext] if position >= first else [], position not in (0, first))
    if _records(WRITER, journal[:position]) != expected:
        raise AssertionError(f"a journal cut at byte {position} did not read as its whole records and a cut")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0] % 4, data[1:]
    if mode == 0:
        _envelope(rest)
    elif mode == 1:
        _key_header(rest)
    elif mode == 2:
        _journal(rest)
    else:
        _damage(rest)


if __name__ == "__main__":
    _common.main(test_one_input)
