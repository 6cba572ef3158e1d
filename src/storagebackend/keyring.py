"""Keys of encrypted stores: the keyring of ``encryption_key=``, key slots, and AES-256-GCM keys.

``encryption_key=`` is a 32-byte ``bytes`` key, a ``str`` passphrase, or a
non-empty list of those (:class:`Keyring`): every key reads, the first writes.
A key opens a *key slot*: the KDF and its parameters, a 16-byte random salt,
and a 16-byte key check. The master key is the raw key, or scrypt(passphrase
as NFC UTF-8, salt, N, r, p, 32 bytes); HKDF-SHA256 (salt: the slot's salt,
info ``b"storagebackend v1 key"``) expands it to 48 bytes, the AES-256 key and
then the key check. So the check tells a wrong key apart from damage without
decrypting, reveals nothing of the key, and every store has keys of its own
even under one raw key. A store reuses its slot (salt and all) while its first
key and parameters stay, so a passphrase is stretched once per open, not per
sync; a write whose first key is another, or whose recorded scrypt parameters
are below today's, starts a new slot. scrypt runs at N = 2**17, r = 8, p = 1
(128 MiB, ~0.45 s here; OWASP's recommendation); a slot is read with any
parameters up to N·r·p = 2**23 (1 GiB, ~6 s), more is damage.

A slot is 36 bytes (integers unsigned)::

    0   1   KDF: 0 = a raw 32-byte key, 1 = scrypt
    1   1   scrypt log2(N)  (0 for a raw key)
    2   1   scrypt r        (0 for a raw key)
    3   1   scrypt p        (0 for a raw key)
    4   16  salt
    20  16  key check

No key shows in a repr, a message or the log (a :class:`Keyring` shows how
many keys it holds), and none can be pickled or copied. The formats that use
these keys are in :mod:`storagebackend.encryption`.
"""

from __future__ import annotations

import hmac
import os
import struct
import unicodedata
from collections.abc import Iterable
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
    "KDF_RAW",
    "KDF_SCRYPT",
    "KEY_ID_SIZE",
    "NONCE_SIZE",
    "RAW_PARAMS",
    "TAG_SIZE",
    "KdfParams",
    "KeySlot",
    "Keyring",
    "SealingKey",
]

_K = TypeVar("_K")
_V = TypeVar("_V")

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
#: A slot's key id: the first bytes of its key check.
KEY_ID_SIZE: Final = 4

KDF_RAW: Final = 0
KDF_SCRYPT: Final = 1
_KDF_NAMES: Final = {KDF_RAW: "raw key", KDF_SCRYPT: "scrypt"}
#: The most scrypt work a slot may ask for: N·r·p (1 GiB of memory at p = 1; ~6 s on a 2020s core).
MAX_SCRYPT_WORK: Final = 1 << 23

_SALT: Final = 16
_CHECK: Final = 16
_SLOT_FORMAT: Final = struct.Struct(">BBBB16s16s")
_HKDF_INFO: Final = b"storagebackend v1 key"


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
        return self.check[:KEY_ID_SIZE]

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
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes | memoryview, associated: bytes, what: str) -> bytes:
        """The plaintext of :meth:`seal`'s output; CorruptStoreError ``"{what} ..."`` if it does not open."""
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise CorruptStoreError(f"{what} is cut short: {len(sealed)} bytes cannot hold a nonce and a tag")
        view = memoryview(sealed)
        return self.decrypt(view[:NONCE_SIZE], view[NONCE_SIZE:], associated, what)

    def encrypt(self, nonce: bytes, plaintext: bytes | memoryview, associated: bytes) -> bytes:
        """Ciphertext and tag under a nonce the caller keeps apart (a header); it must be fresh and random."""
        return self._aead.encrypt(nonce, plaintext, associated)

    def decrypt(self, nonce: bytes | memoryview, sealed: bytes | memoryview, associated: bytes, what: str) -> bytes:
        """The plaintext of :meth:`encrypt`'s output; CorruptStoreError ``"{what} ..."`` if it does not open."""
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
            raise self.wrong_key_error(where)
        return opened

    def wrong_key_error(self, where: str) -> WrongKeyError:
        """The error for a store that no key of this ring opens, naming ``where``."""
        count = len(self._secrets)
        given = "the encryption_key given does not" if count == 1 else f"none of the {count} encryption keys given"
        return WrongKeyError(
            f"{where}: {given} open{'s' if count != 1 else ''} it (a wrong key or passphrase); nothing was changed"
        )

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
