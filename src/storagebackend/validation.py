"""What is a valid key, value and document (section 6 of the contract).

Storage calls these before anything changes, so backends only ever see valid,
normalised input: keys as ``str`` and values as ``bytes``. The limits of a store
restrict what is written; a read or a delete only refuses a key that no store
can hold (``any_key``), so what was written with higher limits stays readable.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

from storagebackend.defaults import MAX_KEY_LENGTH, MAX_VALUE_SIZE
from storagebackend.errors import (
    InvalidKeyError,
    InvalidKeyTypeError,
    InvalidValueError,
    InvalidValueTypeError,
)

__all__ = ["Limits", "all_keys", "any_key", "is_key", "plain_document", "update_pairs"]

#: How many distinct valid keys a Limits remembers; an application uses a handful.
_KNOWN_KEYS_MAX: Final = 4096
_STR: Final = frozenset({str})
_BYTES: Final = frozenset({bytes})


def _shown(key: str) -> str:
    """A key as it appears in a message: its repr, shortened if long."""
    return repr(key) if len(key) <= 60 else repr(key[:57]) + "..."


def is_key(key: object) -> TypeGuard[str]:
    """Whether some store could hold ``key``: a non-empty ``str`` of printable characters, of any length.

    The one rule for a key; the limits of a store only add a length (:class:`Limits`).
    """
    return type(key) is str and bool(key) and key.isprintable()


def all_keys(keys: Collection[object]) -> bool:
    """Whether :func:`is_key` holds for every item, in a few passes in C (for bulk reads and decoding)."""
    return set(map(type, keys)) <= _STR and "" not in keys and all(map(str.isprintable, keys))  # type: ignore[arg-type]


def plain_document(document: Mapping[Any, object]) -> bool:
    """Whether every key of ``document`` is a key and every value ``bytes``, in a few passes in C."""
    return set(map(type, document.values())) <= _BYTES and all_keys(document)


def any_key(key: object) -> str:
    """Return ``key`` (as ``str``) if some store could hold it (:func:`is_key`).

    The check of reads and deletes, which no limit restricts. Raises InvalidKeyError
    (also a TypeError for a key that is not a str).
    """
    if is_key(key):
        return key
    if not isinstance(key, str):
        raise InvalidKeyTypeError(f"invalid key {key!r}: keys must be str, not {type(key).__name__}")
    if not key:
        raise InvalidKeyError("invalid key '': keys must have at least 1 character")
    if not key.isprintable():
        raise InvalidKeyError(f"invalid key {_shown(key)}: keys may only hold printable characters")
    return str(key)


def update_pairs(source: object, what: str) -> Iterable[tuple[Any, Any]]:
    """The (key, value) pairs of ``source``, read as ``dict.update`` reads its argument.

    A mapping gives its items; another object with ``keys()`` gives ``(k, source[k])``
    for each of its keys; any other iterable (but str and bytes-likes) must yield
    pairs. Anything else raises InvalidValueError naming its type at once, so an
    object that only has ``__getitem__`` is never walked as an endless sequence.
    """
    if type(source) is dict or isinstance(source, Mapping):
        return source.items()
    if hasattr(source, "keys"):
        keys = source.keys()
        return ((key, source[key]) for key in keys)  # type: ignore[index]
    if isinstance(source, Iterable) and not isinstance(source, (str, bytes, bytearray, memoryview)):
        return (_pair(item, number, what) for number, item in enumerate(source))
    raise InvalidValueTypeError(
        f"invalid {what} of type {type(source).__name__}: expected a mapping, an object with keys() "
        "and __getitem__, or an iterable of pairs"
    )


def _pair(item: Any, number: int, what: str) -> tuple[Any, Any]:
    """One element of an iterable given to update: exactly two items, else InvalidValueError."""
    try:
        key, value = item
    except (TypeError, ValueError):
        raise InvalidValueTypeError(
            f"invalid {what}: element #{number} is not a pair (two items): {item!r:.80}"
        ) from None
    return key, value


@dataclass(frozen=True, slots=True)
class Limits:
    """The size limits of one store, set by the options of ``open``."""

    max_key_length: int = MAX_KEY_LENGTH
    max_value_size: int = MAX_VALUE_SIZE
    #: Keys already found valid: the read and write paths look a key up here (one set
    #: lookup) before the full check. Only exact ``str`` keys are ever added.
    known_keys: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_key_length", "max_value_size"):
            limit = getattr(self, name)
            if type(limit) is not int or limit < 1:
                raise ValueError(f"{name} must be a positive int, got {limit!r}")

    def check_key(self, key: object) -> str:
        """Return ``key`` if it may be written (valid and within the limit), else raise InvalidKeyError."""
        if type(key) is str and key in self.known_keys:
            return key
        return self.new_key(key)

    def new_key(self, key: object) -> str:
        """check_key for a key not seen yet: check it fully and remember it if valid."""
        if type(key) is str and 0 < len(key) <= self.max_key_length and key.isprintable():
            if len(self.known_keys) < _KNOWN_KEYS_MAX:
                self.known_keys.add(key)
            return key
        return self.bad_key(key)

    def bad_key(self, key: object) -> str:
        """The slow path of check_key: raise InvalidKeyError saying what is wrong (or return a str subclass as str)."""
        key = any_key(key)
        if len(key) > self.max_key_length:
            raise InvalidKeyError(
                f"invalid key {_shown(key)}: {len(key)} characters, at most {self.max_key_length} allowed"
            )
        return key

    def check_value(self, value: object) -> bytes:
        """Return ``value`` as ``bytes`` if valid, else raise InvalidValueError."""
        if type(value) is bytes and len(value) <= self.max_value_size:
            return value
        return self._slow_value(value)

    def _slow_value(self, value: object) -> bytes:
        """check_value for anything but short enough ``bytes``: copy bytes-likes, refuse the rest."""
        if type(value) is bytes:
            data = value
        elif isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        elif isinstance(value, str):
            raise InvalidValueTypeError(
                f"invalid value: str is not bytes; encode it first, e.g. {_shown(value[:20])}.encode()"
            )
        else:
            try:  # any other bytes-like object: memoryview, array.array, ...
                data = memoryview(value).tobytes()  # type: ignore[arg-type]
            except TypeError:
                raise InvalidValueTypeError(
                    f"invalid value of type {type(value).__name__}: values must be bytes-like "
                    "(bytes, bytearray, memoryview)"
                ) from None
        if len(data) > self.max_value_size:
            raise InvalidValueError(f"invalid value: {len(data)} bytes, at most {self.max_value_size} allowed")
        return data

    def check_document(self, pairs: object) -> dict[str, bytes]:
        """Return a validated copy of a document to write: what ``dict.update`` accepts (see update_pairs).

        The whole input is checked before anything is returned, so a bulk write
        with one bad pair changes nothing. Raises InvalidKeyError or
        InvalidValueError naming the bad pair.
        """
        # The checks of check_key and check_value, inlined: this loop runs for every pair written in bulk.
        known, max_value = self.known_keys, self.max_value_size
        document: dict[str, bytes] = {}
        for given_key, value in update_pairs(pairs, "document"):
            key = given_key if type(given_key) is str and given_key in known else self.new_key(given_key)
            if type(value) is bytes and len(value) <= max_value:
                document[key] = value
                continue
            try:
                document[key] = self._slow_value(value)
            except InvalidValueError as exc:
                raise type(exc)(f"key {_shown(key)}: {exc}") from None
        return document
