"""Authenticated encryption of stores: the formats that AES-256-GCM keys of a keyring seal.

Three shapes share one key scheme (:mod:`storagebackend.keyring`, where the
36-byte key *slot* is laid out). A file store seals its whole file (after
any compression) in a *file envelope*; a journal seals each entry as a
self-delimiting *record*; SQLite, PostgreSQL and Redis seal each value on its
own, bound to the store, its uid and its key, and keep a *key header* in
their meta table or key. Nothing here does I/O; the wrappers and backends call it.

Every integer is unsigned big-endian.

File envelope (a file store's whole file), 77 bytes more than the plaintext::

    0   8   magic  C1 53 42 45 4E 43 0D 0A  ("\\xc1SBENC\\r\\n": 0xC1 starts no UTF-8 text and no msgpack)
    8   1   format version: 1
    9   36  slot
    45  12  nonce, fresh and random for every write
    57  4   CRC-32 of bytes 0-56 (damage to the header, the key check above all, is told from a wrong key)
    61  n   ciphertext of the n-byte plaintext
    61+n 16 GCM tag; associated data: bytes 0-60

Record (one journal entry; records follow one another, and a journal names
the slot of their key once, at its start), 36 bytes more than the payload::

    0   4   n, the payload's length
    4   4   CRC-32 of bytes 0-3 (a damaged length is not mistaken for a cut)
    8   12  nonce
    20  n   ciphertext
    20+n 16 GCM tag; associated data: "\\xc1SBREC\\r\\n", bytes 0-7, then the caller's (a journal
            binds its store and the record's number)

A record whose bytes end early is *cut* (a crash while appending): :func:`open_record`
says so and the journal ignores it; a whole record that does not open is damage.

Key header (a database's meta: the store is encrypted, with these keys)::

    0   8   magic  C1 53 42 4B 45 59 0D 0A  ("\\xc1SBKEY\\r\\n")
    8   1   format version: 1
    9   16  store id, random, made when the store was first encrypted
    25  1   k, the number of slots (1 to 255): the first belongs to the key that last wrote,
            the others to keys whose values may remain (until ``storagebackend rekey``)
    26  36k slots
    26+36k 4 CRC-32 of every byte before it

Sealed value (a database's value), 33 bytes more than the value::

    0   1   format version: 1
    1   4   key id: the first 4 bytes of the sealing slot's key check
    5   12  nonce
    17  n   ciphertext
    17+n 16 GCM tag; associated data: "\\xc1SBVAL\\r\\n", bytes 0-4, the store id, the uid
            (32 ASCII hex digits), then the key (UTF-8): a value moved to another key,
            document or store does not decrypt

A flipped byte anywhere, a cut anywhere, is :class:`~storagebackend.CorruptStoreError`
(the CRC-32 catches every error of up to 32 bits in a header; the GCM tag any
other change, but for a chance of 2**-128). No key, or no key of the ring
that opens the slot, is :class:`~storagebackend.WrongKeyError`. No key shows
in a repr, a message or the log.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from typing import Final, NoReturn

from storagebackend.errors import CorruptStoreError, WrongKeyError
from storagebackend.keyring import KEY_ID_SIZE, NONCE_SIZE, TAG_SIZE, Keyring, KeySlot, SealingKey

__all__ = [
    "FILE_MAGIC",
    "FILE_OVERHEAD",
    "KEY_HEADER_MAGIC",
    "RECORD_OVERHEAD",
    "VALUE_OVERHEAD",
    "ValueCipher",
    "is_encrypted",
    "open_file",
    "open_record",
    "plain_store_error",
    "read_file_slot",
    "seal_file",
    "seal_record",
]

FILE_MAGIC: Final = b"\xc1SBENC\r\n"
KEY_HEADER_MAGIC: Final = b"\xc1SBKEY\r\n"
VERSION: Final = 1

_CRC: Final = struct.Struct(">I")
_LENGTH_AND_CRC: Final = struct.Struct(">II")
_RECORD_LABEL: Final = b"\xc1SBREC\r\n"
_VALUE_LABEL: Final = b"\xc1SBVAL\r\n"

_FILE_HEADER: Final = len(FILE_MAGIC) + 1 + KeySlot.SIZE + NONCE_SIZE + _CRC.size  # 61
#: Bytes a file envelope adds to its plaintext.
FILE_OVERHEAD: Final = _FILE_HEADER + TAG_SIZE
#: Bytes a record adds to its payload.
RECORD_OVERHEAD: Final = _LENGTH_AND_CRC.size + NONCE_SIZE + TAG_SIZE
_VALUE_HEADER: Final = 1 + KEY_ID_SIZE + NONCE_SIZE
#: Bytes a sealed value adds to the value.
VALUE_OVERHEAD: Final = _VALUE_HEADER + TAG_SIZE
_MAX_SLOTS: Final = 255
_STORE_ID: Final = 16


def _crc(data: bytes | memoryview) -> bytes:
    return _CRC.pack(zlib.crc32(data))


def plain_store_error(where: str) -> WrongKeyError:
    """The error for a plain (unencrypted) store opened with an encryption_key: it points to ``copy``."""
    return WrongKeyError(
        f"{where} is not encrypted, but an encryption_key was given; nothing was changed. Open it without "
        "a key, or make an encrypted copy with `storagebackend copy` into a new store opened with the key"
    )


def _no_key_error(where: str) -> WrongKeyError:
    return WrongKeyError(f"{where} is encrypted: open it with its encryption_key; nothing was changed")


# -- file envelope --------------------------------------------------------------------------


def is_encrypted(data: bytes | memoryview) -> bool:
    """Whether ``data`` starts as a file envelope does (its magic bytes): an encrypted file store."""
    return bytes(data[: len(FILE_MAGIC)]) == FILE_MAGIC


def seal_file(key: SealingKey, plaintext: bytes | memoryview) -> bytes:
    """A file envelope holding ``plaintext``, sealed by ``key`` (from :meth:`Keyring.writer`) with a fresh nonce."""
    nonce = os.urandom(NONCE_SIZE)
    head = FILE_MAGIC + bytes([VERSION]) + key.slot.pack() + nonce
    head += _crc(head)
    return head + key.encrypt(nonce, plaintext, head)


def _check_version(data: bytes | memoryview, at: int, what: str, where: str) -> None:
    version = data[at]
    if version > VERSION:
        raise CorruptStoreError(
            f"{where}: {what} of format version {version}, newer than {VERSION}: upgrade storagebackend"
        )
    if version < 1:
        raise CorruptStoreError(f"{where}: {what} with an invalid format version {version}")


def read_file_slot(data: bytes | memoryview, where: str) -> KeySlot:
    """The slot of a file envelope, its header checked; CorruptStoreError if it is no whole envelope."""
    if not is_encrypted(data):
        raise CorruptStoreError(f"{where}: not an encrypted store (no envelope magic bytes)")
    if len(data) > len(FILE_MAGIC):
        _check_version(data, len(FILE_MAGIC), "encrypted file", where)
    if len(data) < FILE_OVERHEAD:
        raise CorruptStoreError(
            f"{where}: the encrypted file is cut short: {len(data)} bytes, an envelope has at least {FILE_OVERHEAD}"
        )
    crc_at = _FILE_HEADER - _CRC.size
    if _crc(data[:crc_at]) != bytes(data[crc_at:_FILE_HEADER]):
        raise CorruptStoreError(f"{where}: the encrypted file's header is damaged (its CRC-32 does not match)")
    return KeySlot.unpack(memoryview(data)[len(FILE_MAGIC) + 1 :], where)


def open_file(keyring: Keyring | None, data: bytes | memoryview, where: str) -> tuple[bytes, SealingKey]:
    """The plaintext of a file envelope and the key that opened it (pass its ``slot`` to :meth:`Keyring.writer`).

    Raises CorruptStoreError (damaged, cut, not an envelope) and WrongKeyError
    (no keyring, or no key of it opens the file), both naming ``where``.
    """
    slot = read_file_slot(data, where)
    if keyring is None:
        raise _no_key_error(where)
    key = keyring.unlock(slot, where)
    view = memoryview(data)
    nonce_at = _FILE_HEADER - _CRC.size - NONCE_SIZE
    head = bytes(view[:_FILE_HEADER])
    plaintext = key.decrypt(view[nonce_at : nonce_at + NONCE_SIZE], view[_FILE_HEADER:], head, f"{where}: the file")
    return plaintext, key


# -- records (journal entries) ----------------------------------------------------------------


def seal_record(key: SealingKey, payload: bytes | memoryview, associated: bytes = b"") -> bytes:
    """One self-delimiting record of ``payload``, bound to ``associated`` (the journal's id and the record's number)."""
    length = len(payload)
    if length >= 1 << 32:
        raise ValueError(f"a record holds less than 4 GiB, got {length} bytes")
    frame = _LENGTH_AND_CRC.pack(length, zlib.crc32(_CRC.pack(length)))
    return frame + key.seal(payload, _RECORD_LABEL + frame + associated)


def open_record(
    key: SealingKey, data: bytes | memoryview, offset: int, associated: bytes, where: str
) -> tuple[bytes, int] | None:
    """The payload of the record at ``data[offset:]`` and the offset after it, or None if the data ends first (cut).

    None also for ``offset == len(data)``: the caller tells the clean end
    apart. A whole record that does not open, or whose length is damaged, is
    CorruptStoreError naming ``where`` and the offset.
    """
    view = memoryview(data)
    if len(view) - offset < _LENGTH_AND_CRC.size:
        return None
    length, crc = _LENGTH_AND_CRC.unpack_from(view, offset)
    if zlib.crc32(_CRC.pack(length)) != crc:
        raise CorruptStoreError(f"{where}: the record at byte {offset} is damaged (its length's CRC-32 does not match)")
    end = offset + RECORD_OVERHEAD + length
    if end > len(view):
        return None
    frame = bytes(view[offset : offset + _LENGTH_AND_CRC.size])
    payload = key.open(
        view[offset + _LENGTH_AND_CRC.size : end],
        _RECORD_LABEL + frame + associated,
        f"{where}: the record at byte {offset}",
    )
    return payload, end


# -- values of database stores -------------------------------------------------------------------


class ValueCipher:
    """Seals and opens the values of one database store; :attr:`header` is what the store keeps in its meta.

    Make one with :meth:`create` (a store being encrypted) or :meth:`load`
    (the header a store kept). When the ring's first key is new to the store,
    its slot joins the header: the backend stores :attr:`header` whenever it
    differs from the bytes it read, in the same transaction as the first value
    sealed since (a value whose slot is not in the header cannot be opened).
    """

    __slots__ = ("_keys", "_slots", "_writer", "store_id")

    def __init__(
        self, store_id: bytes, slots: Sequence[KeySlot], keys: Sequence[SealingKey], writer: SealingKey
    ) -> None:
        """Use :meth:`create` or :meth:`load`."""
        self.store_id: Final = store_id
        self._keys = {key.slot.key_id: key for key in keys}
        self._slots = [writer.slot, *(slot for slot in slots if slot != writer.slot)]
        self._writer = writer
        self._keys[writer.slot.key_id] = writer

    def __repr__(self) -> str:
        return f"<ValueCipher store {self.store_id.hex()} with {len(self._slots)} key slot(s)>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a ValueCipher cannot be pickled or copied: it holds keys")

    @classmethod
    def create(cls, keyring: Keyring) -> ValueCipher:
        """A new store's cipher: a random store id and one slot, the ring's first key's."""
        writer = keyring.new_writer()
        return cls(os.urandom(_STORE_ID), [], [], writer)

    @classmethod
    def load(cls, keyring: Keyring | None, header: bytes | memoryview, where: str) -> ValueCipher:
        """The cipher of a store whose meta holds ``header``.

        Every slot in the header must open with some key of the ring (values
        sealed under any of them may remain). Raises CorruptStoreError for a
        damaged header and WrongKeyError when no keyring was given or a slot
        opens with none of its keys, naming ``where``; nothing is changed.
        """
        store_id, slots = _parse_key_header(header, where)
        if keyring is None:
            raise _no_key_error(where)
        keys = [keyring.find(slot) for slot in slots]
        opened = [key for key in keys if key is not None]
        if not opened:
            raise keyring.wrong_key_error(where)
        if len(opened) < len(slots):
            raise WrongKeyError(
                f"{where}: it holds values sealed with {len(slots)} keys, and the keys given open only "
                f"{len(opened)} of them; give them all (the new key first), or after `storagebackend rekey` "
                "the new one alone; nothing was changed"
            )
        writer = keyring.writer(slots)
        if writer.slot not in slots and any(slot.key_id == writer.slot.key_id for slot in slots):
            writer = keyring.new_writer()  # a key id taken by another slot (a chance of 2**-32): a new salt
        if writer.slot not in slots and len(slots) >= _MAX_SLOTS:
            raise WrongKeyError(
                f"{where}: it already holds values sealed with {len(slots)} keys, the most a store records: "
                "run `storagebackend rekey` with the old keys first"
            )
        return cls(store_id, slots, opened, writer)

    @property
    def header(self) -> bytes:
        """The key header the store must keep: store id and slots, the writer's first."""
        head = KEY_HEADER_MAGIC + bytes([VERSION]) + self.store_id + bytes([len(self._slots)])
        head += b"".join(slot.pack() for slot in self._slots)
        return head + _crc(head)

    def retire_old_keys(self) -> None:
        """Drop every slot but the writer's from :attr:`header`: call it once every value is sealed anew (rekey)."""
        self._slots = [self._writer.slot]
        self._keys = {self._writer.slot.key_id: self._writer}

    def _associated(self, prefix: bytes | memoryview, uid: str, key: str) -> bytes:
        if len(uid) != 32 or not uid.isascii():
            raise ValueError(f"a uid of 32 hex digits is needed, got {uid[:40]!r}")
        return b"".join(
            (_VALUE_LABEL, prefix, self.store_id, uid.encode("ascii"), key.encode("utf-8", "surrogatepass"))
        )

    def seal(self, uid: str, key: str, value: bytes | memoryview) -> bytes:
        """``value`` sealed for this store, document ``uid`` (32 hex digits) and ``key``, with the ring's first key."""
        prefix = bytes([VERSION]) + self._writer.slot.key_id
        return prefix + self._writer.seal(value, self._associated(prefix, uid, key))

    def open(self, uid: str, key: str, sealed: bytes | memoryview, where: str) -> bytes:
        """The value :meth:`seal` sealed for ``uid`` and ``key``; else CorruptStoreError naming ``where``, uid, key.

        A value damaged, cut, or moved from another key, document or store does not open.
        """
        what = f"{where}: the value of key {key[:40]!r} in document {uid}"
        if len(sealed) < VALUE_OVERHEAD:
            raise CorruptStoreError(
                f"{what} is cut short ({len(sealed)} bytes; a sealed value has {VALUE_OVERHEAD} or more)"
            )
        view = memoryview(sealed)
        if view[0] != VERSION:
            raise CorruptStoreError(f"{what} is of an unknown format version {view[0]}")
        prefix = view[: 1 + KEY_ID_SIZE]
        sealing = self._keys.get(bytes(prefix[1:]))
        if sealing is None:
            raise CorruptStoreError(f"{what} names a key this store does not record: it was damaged or moved here")
        return sealing.open(view[1 + KEY_ID_SIZE :], self._associated(prefix, uid, key), what)


def _parse_key_header(data: bytes | memoryview, where: str) -> tuple[bytes, list[KeySlot]]:
    """Store id and slots of a key header; CorruptStoreError for anything but a whole, undamaged one."""
    view = memoryview(data)
    what = f"{where}: the encryption key header"
    fixed = len(KEY_HEADER_MAGIC) + 1 + _STORE_ID + 1
    if bytes(view[: len(KEY_HEADER_MAGIC)]) != KEY_HEADER_MAGIC:
        raise CorruptStoreError(f"{what} is damaged (no magic bytes)")
    if len(view) < fixed + _CRC.size:
        raise CorruptStoreError(f"{what} is cut short")
    _check_version(view, len(KEY_HEADER_MAGIC), "encryption key header", where)
    count = view[fixed - 1]
    size = fixed + count * KeySlot.SIZE + _CRC.size
    if len(view) != size:
        raise CorruptStoreError(f"{what} is damaged: {len(view)} bytes where {count} slots need {size}")
    if _crc(view[: size - _CRC.size]) != bytes(view[size - _CRC.size :]):
        raise CorruptStoreError(f"{what} is damaged (its CRC-32 does not match)")
    if count < 1:
        raise CorruptStoreError(f"{what} names no key")
    slots = [KeySlot.unpack(view[fixed + i * KeySlot.SIZE :], where) for i in range(count)]
    if len({slot.key_id for slot in slots}) != count:
        raise CorruptStoreError(f"{what} names one key id twice")
    store_id = bytes(view[len(KEY_HEADER_MAGIC) + 1 : len(KEY_HEADER_MAGIC) + 1 + _STORE_ID])
    return store_id, slots
