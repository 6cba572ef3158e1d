"""Authenticated encryption of stores: AES-256-GCM from ``cryptography``, keys from a keyring.

Three shapes share one key scheme. A file store seals its whole file (after
any compression) in a *file envelope*; a journal seals each entry as a
self-delimiting *record*; SQLite, PostgreSQL and Redis seal each value on its
own, bound to the store, its uid and its key, and keep a *key header* in
their meta table or key. Nothing here does I/O; the wrappers and backends call it.

Keys. ``encryption_key=`` is a 32-byte ``bytes`` key, a ``str`` passphrase,
or a non-empty list of those (:class:`Keyring`): every key reads, the first
writes. A key opens a *key slot*: the KDF and its parameters, a 16-byte
random salt, and a 16-byte key check. The master key is the raw key, or
scrypt(passphrase as NFC UTF-8, salt, N, r, p, 32 bytes); HKDF-SHA256 (salt:
the slot's salt, info ``b"storagebackend v1 key"``) expands it to 48 bytes,
the AES-256 key and then the key check. So the check tells a wrong key apart
from damage without decrypting, reveals nothing of the key, and every store
has keys of its own even under one raw key. A store reuses its slot (salt and
all) while its first key and parameters stay, so a passphrase is stretched
once per open, not per sync; a write whose first key is another, or whose
recorded scrypt parameters are below today's, starts a new slot. scrypt runs at
N = 2**17, r = 8, p = 1 (128 MiB, ~0.45 s here; OWASP's recommendation); a slot is
read with any parameters up to N·r·p = 2**23 (1 GiB, ~6 s), more is damage.

Every integer is unsigned big-endian; a *slot* is 36 bytes::

    0   1   KDF: 0 = a raw 32-byte key, 1 = scrypt
    1   1   scrypt log2(N)  (0 for a raw key)
    2   1   scrypt r        (0 for a raw key)
    3   1   scrypt p        (0 for a raw key)
    4   16  salt
    20  16  key check

File envelope (a file store's whole file), 77 bytes more than the plaintext::

    0   8   magic  C1 53 42 45 4E 43 0D 0A  ("\\xc1SBENC\\r\\n": 0xC1 starts no UTF-8 text and no msgpack)
    8   1   format version: 1
    9   36  slot
    45  12  nonce, fresh and random for every write
    57  4   CRC-32 of bytes 0-56 (damage to the header, the key check above all, is told from a wrong key)
    61  n   ciphertext of the n-byte plaintext
    61+n 16 GCM tag; associated data: bytes 0-60

Record (one journal entry; a journal may start with a key header naming the
slot; several records follow one another), 36 bytes more than the payload::

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
in a repr, a message or the log; a :class:`Keyring` shows how many keys it holds.
"""

from __future__ import annotations

import hmac
import os
import struct
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, NoReturn, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from storagebackend.errors import CorruptStoreError, WrongKeyError

__all__ = [
    "DEFAULT_SCRYPT",
    "FILE_MAGIC",
    "KEY_HEADER_MAGIC",
    "KdfParams",
    "KeySlot",
    "Keyring",
    "SealingKey",
    "ValueCipher",
    "is_encrypted",
    "open_file",
    "open_record",
    "plain_store_error",
    "read_file_slot",
    "seal_file",
    "seal_record",
]

_K = TypeVar("_K")
_V = TypeVar("_V")

FILE_MAGIC: Final = b"\xc1SBENC\r\n"
KEY_HEADER_MAGIC: Final = b"\xc1SBKEY\r\n"
VERSION: Final = 1
KEY_SIZE: Final = 32

KDF_RAW: Final = 0
KDF_SCRYPT: Final = 1
_KDF_NAMES: Final = {KDF_RAW: "raw key", KDF_SCRYPT: "scrypt"}
#: The most scrypt work a slot may ask for: N·r·p (1 GiB of memory at p = 1; ~6 s on a 2020s core).
MAX_SCRYPT_WORK: Final = 1 << 23

_SALT: Final = 16
_CHECK: Final = 16
_NONCE: Final = 12
_TAG: Final = 16
_KEY_ID: Final = 4
_SLOT_FORMAT: Final = struct.Struct(">BBBB16s16s")
_CRC: Final = struct.Struct(">I")
_LENGTH_AND_CRC: Final = struct.Struct(">II")
_HKDF_INFO: Final = b"storagebackend v1 key"
_RECORD_LABEL: Final = b"\xc1SBREC\r\n"
_VALUE_LABEL: Final = b"\xc1SBVAL\r\n"

_FILE_HEADER: Final = len(FILE_MAGIC) + 1 + _SLOT_FORMAT.size + _NONCE + _CRC.size  # 61
#: Bytes a file envelope adds to its plaintext.
FILE_OVERHEAD: Final = _FILE_HEADER + _TAG
#: Bytes a record adds to its payload.
RECORD_OVERHEAD: Final = _LENGTH_AND_CRC.size + _NONCE + _TAG
_VALUE_HEADER: Final = 1 + _KEY_ID + _NONCE
#: Bytes a sealed value adds to the value.
VALUE_OVERHEAD: Final = _VALUE_HEADER + _TAG
_MAX_SLOTS: Final = 255
_STORE_ID: Final = 16


def _crc(data: bytes | memoryview) -> bytes:
    return _CRC.pack(zlib.crc32(data))


@dataclass(frozen=True)
class KdfParams:
    """How a slot's master key comes from its secret: a raw key as it is, or scrypt with N = 2**log2_n, r, p."""

    kdf: int
    log2_n: int = 0
    r: int = 0
    p: int = 0

    def at_least(self, other: KdfParams) -> bool:
        """Whether these parameters are of ``other``'s KDF and cost at least as much in each parameter."""
        return self.kdf == other.kdf and self.log2_n >= other.log2_n and self.r >= other.r and self.p >= other.p

    def problem(self) -> str | None:
        """What is wrong with these parameters, or None: each KDF has its own range."""
        if self.kdf == KDF_RAW:
            return None if (self.log2_n, self.r, self.p) == (0, 0, 0) else "a raw key with scrypt parameters"
        if self.kdf != KDF_SCRYPT:
            return f"an unknown key derivation {self.kdf}"
        if min(self.log2_n, self.r, self.p) < 1 or self.r * self.p << self.log2_n > MAX_SCRYPT_WORK:
            return (
                f"scrypt parameters N=2**{self.log2_n}, r={self.r}, p={self.p} outside the range read "
                f"(each at least 1, N·r·p at most 2**{MAX_SCRYPT_WORK.bit_length() - 1})"
            )
        return None


RAW_PARAMS: Final = KdfParams(KDF_RAW)
#: scrypt's cost for new passphrase slots: 128 MiB of memory, ~0.45 s on one core here.
DEFAULT_SCRYPT: Final = KdfParams(KDF_SCRYPT, 17, 8, 1)


@dataclass(frozen=True)
class KeySlot:
    """The public half of a key: KDF parameters, salt and key check (36 bytes in every format)."""

    params: KdfParams
    salt: bytes
    check: bytes

    SIZE: ClassVar[int] = _SLOT_FORMAT.size

    @property
    def key_id(self) -> bytes:
        """The first 4 bytes of the key check: what a sealed value names its slot by."""
        return self.check[:_KEY_ID]

    def pack(self) -> bytes:
        """The slot's 36 bytes."""
        params = self.params
        return _SLOT_FORMAT.pack(params.kdf, params.log2_n, params.r, params.p, self.salt, self.check)

    @classmethod
    def unpack(cls, data: bytes | memoryview, where: str) -> KeySlot:
        """The slot in ``data``'s first 36 bytes; CorruptStoreError if too short or its parameters are out of range."""
        if len(data) < _SLOT_FORMAT.size:
            raise CorruptStoreError(f"{where}: the key slot is cut short")
        kdf, log2_n, r, p, salt, check = _SLOT_FORMAT.unpack_from(data)
        params = KdfParams(kdf, log2_n, r, p)
        problem = params.problem()
        if problem is not None:
            raise CorruptStoreError(f"{where}: the key slot names {problem}")
        return cls(params, salt, check)


class SealingKey:
    """One AES-256-GCM key opened from a slot: seals and opens with a fresh random nonce each time."""

    __slots__ = ("_aead", "slot")

    def __init__(self, slot: KeySlot, key: bytes) -> None:
        self.slot: Final = slot
        self._aead: Final = AESGCM(key)

    def __repr__(self) -> str:
        return f"<SealingKey {_KDF_NAMES[self.slot.params.kdf]} slot>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SealingKey cannot be pickled or copied: it holds a key")

    def seal(self, plaintext: bytes | memoryview, associated: bytes) -> bytes:
        """Nonce (12 bytes, fresh, random), ciphertext and tag (16 bytes) of ``plaintext``, bound to ``associated``."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes | memoryview, associated: bytes, what: str) -> bytes:
        """The plaintext of :meth:`seal`'s output; CorruptStoreError ``"{what} ..."`` if it does not open."""
        if len(sealed) < _NONCE + _TAG:
            raise CorruptStoreError(f"{what} is cut short: {len(sealed)} bytes cannot hold a nonce and a tag")
        view = memoryview(sealed)
        return self._decrypt(view[:_NONCE], view[_NONCE:], associated, what)

    def _encrypt(self, nonce: bytes, plaintext: bytes | memoryview, associated: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, associated)

    def _decrypt(self, nonce: bytes | memoryview, sealed: bytes | memoryview, associated: bytes, what: str) -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, associated)
        except InvalidTag:
            raise CorruptStoreError(f"{what} does not decrypt: it was damaged or changed") from None


class _Secret:
    """A raw key or a passphrase, kept out of every repr."""

    __slots__ = ("material", "passphrase")

    def __init__(self, material: bytes, passphrase: bool) -> None:
        self.material: Final = material
        self.passphrase: Final = passphrase

    def __repr__(self) -> str:
        return "<secret>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a key cannot be pickled or copied")


def _secret(value: object, where: str) -> _Secret:
    """One key of the option; TypeError or ValueError saying what it is, never showing it."""
    if isinstance(value, bytes | bytearray | memoryview):
        material = bytes(value)
        if len(material) != KEY_SIZE:
            raise ValueError(f"got {where}{type(value).__name__} of length {len(material)}")
        return _Secret(material, passphrase=False)
    if isinstance(value, str):
        if not value:
            raise ValueError(f"got {where}an empty str")
        return _Secret(unicodedata.normalize("NFC", value).encode("utf-8", "surrogatepass"), passphrase=True)
    raise TypeError(f"got {where}{type(value).__name__}")


def _secrets(value: object) -> tuple[_Secret, ...]:
    """The keys of an ``encryption_key=`` value: one key or a non-empty list or tuple of keys."""
    if isinstance(value, list | tuple):
        kind = type(value).__name__
        if not value:
            raise ValueError(f"got an empty {kind}")
        return tuple(_secret(item, f"a {kind} whose item {i} is ") for i, item in enumerate(value))
    return (_secret(value, ""),)


_CACHED: Final = 64


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> _V:
    """``cache[key] = value``, dropping the oldest entry beyond 64: a keyring that meets many slots stays small."""
    if len(cache) >= _CACHED:
        del cache[next(iter(cache))]
    cache[key] = value
    return value


class Keyring:
    """The keys a store may use: every key reads, the first writes. Derived keys are cached per slot."""

    __slots__ = ("_derived", "_opened", "_scrypt", "_secrets", "_writer")

    def __init__(self, keys: object, *, scrypt: KdfParams = DEFAULT_SCRYPT) -> None:
        """``keys`` as ``encryption_key=`` takes them; ``scrypt``: the parameters of new passphrase slots.

        Raises TypeError or ValueError as :meth:`from_option`.
        """
        if scrypt.kdf != KDF_SCRYPT or scrypt.problem() is not None:
            raise ValueError("scrypt must be scrypt parameters within the range read")
        self._secrets: Final = _secrets(keys)
        self._scrypt: Final = scrypt
        self._opened: dict[tuple[int, KeySlot], SealingKey | None] = {}
        self._derived: dict[tuple[int, KdfParams, bytes], tuple[_Secret, bytes]] = {}
        self._writer: SealingKey | None = None

    @classmethod
    def from_option(cls, value: object) -> Keyring:
        """The keyring of ``encryption_key=``: a 32-byte bytes key, a non-empty str passphrase, or a list of those.

        A Keyring is taken as it is. Raises TypeError or ValueError saying what
        was given (its type and length), never the key itself.
        """
        return value if isinstance(value, Keyring) else cls(value)

    def __len__(self) -> int:
        return len(self._secrets)

    def __repr__(self) -> str:
        count = len(self._secrets)
        return f"<Keyring of {count} key{'s' if count != 1 else ''}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Keyring cannot be pickled or copied: it holds keys")

    def _derive(self, index: int, params: KdfParams, salt: bytes) -> tuple[bytes, bytes]:
        """The AES key and key check of key ``index`` under ``params`` and ``salt`` (cached)."""
        cache_key = (index, params, salt)
        derived = self._derived.get(cache_key)
        if derived is None:
            master = self._secrets[index].material
            if params.kdf == KDF_SCRYPT:
                scrypt = Scrypt(salt=salt, length=KEY_SIZE, n=1 << params.log2_n, r=params.r, p=params.p)
                master = scrypt.derive(master)
            both = HKDF(hashes.SHA256(), KEY_SIZE + _CHECK, salt, _HKDF_INFO).derive(master)
            derived = _remember(self._derived, cache_key, (_Secret(both[:KEY_SIZE], passphrase=False), both[KEY_SIZE:]))
        return derived[0].material, derived[1]

    def _try(self, index: int, slot: KeySlot) -> SealingKey | None:
        """Key ``index`` opened on ``slot``, or None if it is of another kind or its check differs."""
        cache_key = (index, slot)
        if cache_key in self._opened:
            return self._opened[cache_key]
        opened = None
        if self._secrets[index].passphrase == (slot.params.kdf == KDF_SCRYPT):
            key, check = self._derive(index, slot.params, slot.salt)
            if hmac.compare_digest(check, slot.check):
                opened = SealingKey(slot, key)
        _remember(self._opened, cache_key, opened)
        return opened

    def find(self, slot: KeySlot) -> SealingKey | None:
        """The first key of the ring that opens ``slot``, or None (a passphrase is stretched once per slot)."""
        for index in range(len(self._secrets)):
            opened = self._try(index, slot)
            if opened is not None:
                return opened
        return None

    def unlock(self, slot: KeySlot, where: str) -> SealingKey:
        """The key of the ring that opens ``slot``; WrongKeyError naming ``where`` if none does."""
        opened = self.find(slot)
        if opened is None:
            raise WrongKeyError(f"{where}: {self._none_opens()}")
        return opened

    def _none_opens(self) -> str:
        count = len(self._secrets)
        given = "the encryption_key given does not" if count == 1 else f"none of the {count} encryption keys given"
        return f"{given} open{'s' if count != 1 else ''} it (a wrong key or passphrase); nothing was changed"

    def writer(self, existing: Iterable[KeySlot] = ()) -> SealingKey:
        """The first key, to seal with: on the first ``existing`` slot it opens at today's parameters, or a new slot.

        A new slot (fresh salt; a passphrase stretched once) is made at most
        once per keyring and reused by later calls.
        """
        wanted = self._scrypt if self._secrets[0].passphrase else RAW_PARAMS
        for slot in existing:
            if slot.params.at_least(wanted):
                opened = self._try(0, slot)
                if opened is not None:
                    return opened
        if self._writer is None:
            self._writer = self.new_writer()
        return self._writer

    def new_writer(self) -> SealingKey:
        """The first key on a new slot of its own (fresh salt; a passphrase is stretched)."""
        params = self._scrypt if self._secrets[0].passphrase else RAW_PARAMS
        salt = os.urandom(_SALT)
        key, check = self._derive(0, params, salt)
        slot = KeySlot(params, salt, check)
        opened = SealingKey(slot, key)
        _remember(self._opened, (0, slot), opened)
        return opened


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
    nonce = os.urandom(_NONCE)
    head = FILE_MAGIC + bytes([VERSION]) + key.slot.pack() + nonce
    head += _crc(head)
    return head + key._encrypt(nonce, plaintext, head)


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
    nonce_at = _FILE_HEADER - _CRC.size - _NONCE
    head = bytes(view[:_FILE_HEADER])
    plaintext = key._decrypt(view[nonce_at : nonce_at + _NONCE], view[_FILE_HEADER:], head, f"{where}: the file")
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
            raise WrongKeyError(f"{where}: {keyring._none_opens()}")
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
        prefix = view[: 1 + _KEY_ID]
        sealing = self._keys.get(bytes(prefix[1:]))
        if sealing is None:
            raise CorruptStoreError(f"{what} names a key this store does not record: it was damaged or moved here")
        return sealing.open(view[1 + _KEY_ID :], self._associated(prefix, uid, key), what)


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
