"""The exceptions of storagebackend.

Every error the library raises is a :class:`StorageError` and also the builtin
exception a Python user would already catch (``KeyError`` for a missing
document, ``FileNotFoundError`` for a missing store, ...), as listed in
section 8 of the contract.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AuthenticationError",
    "BackendUnavailableError",
    "ConflictError",
    "CorruptStoreError",
    "DocumentNotFoundError",
    "InvalidKeyError",
    "InvalidKeyTypeError",
    "InvalidUIDError",
    "InvalidUIDTypeError",
    "InvalidValueError",
    "InvalidValueTypeError",
    "ReadOnlyError",
    "ReplicaError",
    "StorageClosedError",
    "StorageError",
    "StorageIOError",
    "StorageLockedError",
    "StoreNotFoundError",
    "WrongKeyError",
]


class StorageError(Exception):
    """Base class of every error raised by storagebackend."""


class InvalidKeyError(StorageError, ValueError):
    """A key is not a str of 1 to ``max_key_length`` printable characters."""


class InvalidKeyTypeError(InvalidKeyError, TypeError):
    """A key is not a ``str`` at all (so ``except TypeError`` catches it too)."""


class InvalidValueError(StorageError, ValueError):
    """A value is not bytes-like or is larger than ``max_value_size``."""


class InvalidValueTypeError(InvalidValueError, TypeError):
    """A value (or a document) has the wrong type, e.g. ``str`` instead of bytes."""


class InvalidUIDError(StorageError, ValueError):
    """A uid is neither a :class:`~storagebackend.UID` nor 32 hex digits."""


class InvalidUIDTypeError(InvalidUIDError, TypeError):
    """A uid has the wrong type, e.g. ``bytes`` or ``int``."""


class DocumentNotFoundError(StorageError, KeyError):
    """No document has this uid (a ``KeyError``, as from a ``dict``)."""

    def __str__(self) -> str:
        # KeyError's own __str__ shows the repr of its argument; a sentence reads better.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class StoreNotFoundError(StorageError, FileNotFoundError):
    """Flag ``"w"`` or ``"r"`` was given for a store that does not exist."""


class CorruptStoreError(StorageError, ValueError):
    """The stored data cannot be decoded; the message names the file or URL."""


class StorageIOError(StorageError, OSError):
    """Reading or writing failed; ``__cause__`` is the original error."""


class StorageLockedError(StorageError, TimeoutError):
    """Another process holds the store's lock longer than ``lock_timeout``."""


class ConflictError(StorageError):
    """The file changed since this store read or wrote it (another writer, a hand edit); nothing was overwritten."""


class ReadOnlyError(StorageError, PermissionError):
    """A write on a store opened with flag ``"r"``, or a writable open of a file the user may not write."""


class StorageClosedError(StorageError, ValueError):
    """The store was closed; like an operation on a closed file."""


class BackendUnavailableError(StorageError, ConnectionError):
    """A server cannot be reached; the message names host and port, never the password."""


class AuthenticationError(StorageError, PermissionError):
    """A server refused the credentials (never a BackendUnavailableError, which means "cannot reach")."""


class WrongKeyError(StorageError, PermissionError):
    """An encrypted store was opened without its key or with a wrong one (or a plain store with a key)."""


class ReplicaError(StorageError):
    """The primary synced, but one or more replicas could not be brought up to date.

    ``failures`` maps each failed replica (as its ``repr``, never with a password)
    to the error it raised; the next sync tries those replicas again.
    """

    def __init__(self, message: str, failures: Mapping[str, BaseException] | None = None) -> None:
        super().__init__(message)
        self.failures: dict[str, BaseException] = dict(failures or {})
