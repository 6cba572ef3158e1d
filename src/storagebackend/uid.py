"""UID: the immutable identifier of a document (a uuid, written as 32 hex digits).

The one place for what a uid looks like: :func:`uid_hex` reads one a user gives
(any case, hyphens allowed); :func:`is_stored_uid` and :func:`all_stored_uids`
check the 32 lower-case hex digits that backends store and return.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any, Final

from storagebackend.errors import InvalidUIDError, InvalidUIDTypeError

__all__ = ["UID", "all_stored_uids", "is_stored_uid", "uid_hex"]

_PLAIN: Final = re.compile(r"[0-9a-fA-F]{32}")
_HYPHENATED: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_STORED_DIGITS: Final = b"0123456789abcdef"


def is_stored_uid(text: object) -> bool:
    """Whether ``text`` is a uid as backends store it: a ``str`` of 32 lower-case hex digits."""
    return (
        type(text) is str and len(text) == 32 and text.isascii() and not text.encode().translate(None, _STORED_DIGITS)
    )


def all_stored_uids(texts: Sequence[object]) -> bool:
    """Whether every item is a uid as backends store it; a few passes in C, so listing a store stays cheap."""
    try:
        joined = "".join(texts)  # type: ignore[arg-type]  # a TypeError answers for any item that is not a str
    except TypeError:
        return False
    return (
        set(map(len, texts)) <= {32}  # type: ignore[arg-type]
        and joined.isascii()
        and not joined.encode().translate(None, _STORED_DIGITS)
    )


def uid_hex(value: object) -> str:
    """Return the 32 lower-case hex digits of a UID, a uuid or a uid string.

    This is the one place where uids are normalised; Storage calls it for every
    uid it receives. Raises InvalidUIDError (also a TypeError for a wrong type).
    """
    if type(value) is UID:
        return value._hex
    if isinstance(value, str):
        if len(value) == 32 and _PLAIN.fullmatch(value):
            return value.lower()
        if len(value) == 36 and _HYPHENATED.fullmatch(value):
            return value.replace("-", "").lower()
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidUIDError(f"invalid uid {shown!r}: expected 32 hex digits (or the hyphenated uuid form)")
    if isinstance(value, UID):
        return value._hex
    if isinstance(value, uuid.UUID):
        return value.hex
    raise InvalidUIDTypeError(
        f"invalid uid of type {type(value).__name__}: expected a UID, a uuid.UUID or a str of 32 hex digits"
    )


class UID:
    """The unique id of a document: immutable, hashable and ordered.

    ``UID.new()`` makes a random one (uuid4); ``UID(text)`` accepts 32 hex
    digits in any case or the hyphenated uuid form; ``UID(uuid.UUID(...))``
    works too. ``str(uid)`` is the 32 lower-case hex digits, and a UID equals that
    string and hashes like it, so a dict keyed by UIDs finds it.
    """

    __slots__ = ("_hex",)
    _hex: str

    def __new__(cls, value: UID | uuid.UUID | str) -> UID:
        if type(value) is UID and cls is UID:
            return value
        self = object.__new__(cls)
        object.__setattr__(self, "_hex", uid_hex(value))
        return self

    @classmethod
    def new(cls) -> UID:
        """Return a new random UID (uuid4)."""
        return cls._trusted(uuid.uuid4().hex)

    @classmethod
    def _trusted(cls, hex_digits: str) -> UID:
        """Wrap 32 lower-case hex digits that are known to be valid (no checks)."""
        self = object.__new__(cls)
        object.__setattr__(self, "_hex", hex_digits)
        return self

    @property
    def hex(self) -> str:
        """The 32 lower-case hex digits."""
        return self._hex

    @property
    def uuid(self) -> uuid.UUID:
        """The same id as a :class:`uuid.UUID`."""
        return uuid.UUID(hex=self._hex)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("UID is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("UID is immutable")

    def __reduce__(self) -> tuple[type[UID], tuple[str]]:
        return (type(self), (self._hex,))

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        return f"UID('{self._hex}')"

    def __hash__(self) -> int:
        return hash(self._hex)

    def __eq__(self, other: object) -> bool:
        """Equal to a UID of the same id, or to its own 32 lower-case hex digits as a ``str``.

        Only that exact spelling: equal objects must hash alike, and a UID hashes like
        its lower-case digits, so ``UID(h) == h.upper()`` is False (``UID(h.upper())`` matches).
        """
        if isinstance(other, UID):
            return self._hex == other._hex
        if isinstance(other, str):
            return self._hex == other
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, UID):
            return self._hex < other._hex
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, UID):
            return self._hex <= other._hex
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, UID):
            return self._hex > other._hex
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, UID):
            return self._hex >= other._hex
        return NotImplemented
