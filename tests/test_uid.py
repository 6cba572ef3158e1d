"""API.md section 5: UID."""

from __future__ import annotations

import copy
import pickle
import uuid

import pytest

from storagebackend import UID, InvalidUIDError

HEX = "0123456789abcdef0123456789abcdef"


def test_new_is_random_uuid4() -> None:
    first, second = UID.new(), UID.new()
    assert first != second
    assert first.uuid.version == 4
    assert len(str(first)) == 32


@pytest.mark.parametrize(
    "form",
    [HEX, HEX.upper(), "0123456789ABCDEF0123456789abcdef", str(uuid.UUID(hex=HEX)), str(uuid.UUID(hex=HEX)).upper()],
)
def test_text_forms_are_normalised(form: str) -> None:
    assert str(UID(form)) == HEX


def test_from_uuid_and_from_uid() -> None:
    value = uuid.UUID(hex=HEX)
    assert str(UID(value)) == HEX
    uid = UID(HEX)
    assert UID(uid) is uid
    assert uid.uuid == value
    assert uid.hex == HEX


@pytest.mark.parametrize(
    "text",
    [
        "",
        "xyz",
        HEX[:-1],
        HEX + "0",
        "g" * 32,
        "{" + HEX + "}",
        "urn:uuid:" + str(uuid.UUID(hex=HEX)),
        " " + HEX,
        HEX + "\n",
        "０" * 32,
        HEX[:8] + "-" + HEX[8:],
    ],
)
def test_invalid_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidUIDError) as info:
        UID(text)
    assert isinstance(info.value, ValueError)
    assert "uid" in str(info.value)


@pytest.mark.parametrize("value", [HEX.encode(), 12, None, 1.5, [HEX]])
def test_wrong_type_is_also_a_type_error(value: object) -> None:
    with pytest.raises(InvalidUIDError) as info:
        UID(value)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert type(value).__name__ in str(info.value)


def test_immutable_hashable_ordered() -> None:
    low, high = UID("0" * 32), UID("f" * 32)
    assert low < high <= high and high > low >= low
    assert sorted([high, low]) == [low, high]
    assert {UID(HEX): 1}[UID(HEX.upper())] == 1
    assert hash(UID(HEX)) == hash(UID(str(uuid.UUID(hex=HEX))))
    with pytest.raises(AttributeError):
        low._hex = "1" * 32  # type: ignore[misc]
    assert UID(HEX) != HEX  # like uuid.UUID, a UID is not equal to its text


def test_str_repr_copy_pickle() -> None:
    uid = UID(HEX)
    assert str(uid) == HEX
    assert HEX in repr(uid)
    assert eval(repr(uid), {"UID": UID}) == uid
    assert pickle.loads(pickle.dumps(uid)) == uid
    assert copy.deepcopy(uid) == uid
