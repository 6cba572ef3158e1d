"""API.md section 8: every error is a StorageError and the builtin a user would catch."""

from __future__ import annotations

import pytest

import storagebackend as sb
from storagebackend import errors

CLASSES = [
    (sb.InvalidKeyError, ValueError),
    (sb.InvalidValueError, ValueError),
    (sb.InvalidUIDError, ValueError),
    (sb.DocumentNotFoundError, KeyError),
    (sb.StoreNotFoundError, FileNotFoundError),
    (sb.CorruptStoreError, ValueError),
    (sb.StorageIOError, OSError),
    (sb.StorageLockedError, TimeoutError),
    (sb.ConflictError, sb.StorageError),
    (sb.ReadOnlyError, PermissionError),
    (sb.StorageClosedError, ValueError),
    (sb.BackendUnavailableError, ConnectionError),
    (sb.AuthenticationError, PermissionError),
    (sb.WrongKeyError, PermissionError),
    (sb.ReplicaError, sb.StorageError),
]


@pytest.mark.parametrize(("cls", "builtin"), CLASSES)
def test_error_classes(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, sb.StorageError)
    assert issubclass(cls, builtin)
    assert issubclass(sb.StorageError, Exception)
    error = cls("something named")
    assert "something named" in str(error)


@pytest.mark.parametrize(
    ("cls", "base"),
    [
        (errors.InvalidKeyTypeError, sb.InvalidKeyError),
        (errors.InvalidValueTypeError, sb.InvalidValueError),
        (errors.InvalidUIDTypeError, sb.InvalidUIDError),
    ],
)
def test_type_flavours_are_also_type_errors(cls: type[Exception], base: type[Exception]) -> None:
    assert issubclass(cls, base)
    assert issubclass(cls, TypeError)
    assert issubclass(cls, ValueError)


def test_document_not_found_reads_as_a_sentence() -> None:
    assert str(sb.DocumentNotFoundError("no document abc")) == "no document abc"


def test_wrong_types_raise_type_flavours() -> None:
    with sb.open("memory://") as store:
        doc = store.create()
        with pytest.raises(TypeError):
            doc[1] = b"x"  # type: ignore[index]
        with pytest.raises(TypeError):
            doc["k"] = "text"
        with pytest.raises(TypeError):
            store[b"0" * 32]  # type: ignore[index]
        with pytest.raises(ValueError):  # a wrong value but the right type: not a TypeError
            doc[""] = b"x"
        try:
            doc[""] = b"x"
        except TypeError:
            pytest.fail("an empty key is a ValueError only")
        except ValueError:
            pass
