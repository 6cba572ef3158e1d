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


def test_str_repr_copy_pickle() -> None:
    uid = UID(HEX)
    assert str(uid) == HEX
    assert HEX in repr(uid)
    assert eval(repr(uid), {"UID": UID}) == uid
    assert pickle.loads(pickle.dumps(uid)) == uid
    assert copy.deepcopy(uid) == uid


def test_a_uid_equals_its_lower_case_hex_string() -> None:
    uid = UID(HEX)
    assert uid == HEX
    assert HEX == uid  # noqa: SIM300  str.__eq__ defers to UID.__eq__
    assert not uid != HEX  # noqa: SIM202  != must agree with ==
    assert hash(uid) == hash(HEX)
    assert {uid: 1}[HEX] == 1 and {HEX: 1}[uid] == 1
    assert {uid, HEX} == {uid}
    assert UID.new() != HEX
    assert UID(HEX.upper()) == HEX  # UID() normalises other spellings


@pytest.mark.parametrize(
    "other",
    [HEX.upper(), str(uuid.UUID(hex=HEX)), " " + HEX, HEX.encode(), uuid.UUID(hex=HEX), int(HEX, 16)],
    ids=["upper", "hyphenated", "space", "bytes", "uuid", "int"],
)
def test_a_uid_equals_no_other_spelling(other: object) -> None:
    # Equal objects must hash alike, and a UID hashes like its lower-case digits:
    # other spellings are accepted by UID() and every store method, never by ==.
    assert UID(HEX) != other and other != UID(HEX)


def test_ordering_against_a_str_stays_refused() -> None:
    with pytest.raises(TypeError):
        UID(HEX) < HEX  # type: ignore[operator]  # noqa: B015
