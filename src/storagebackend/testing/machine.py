"""The conformance suite: a hypothesis state machine that any backend can run.

It applies random operations (every method of the contract's sections 3 and
4, plus invalid inputs that must raise and change nothing, sync, discard,
close and reopen) to a store and to a plain dict model, and compares them
after every step. A backend opts in with a few lines::

    from storagebackend.testing import StorageMachine

    class MyMachine(StorageMachine):
        def open_storage(self, flag):
            return sb.open(f"mydb://localhost/{self.name}", flag=flag)

    TestMyBackend = MyMachine.TestCase

``self.tmp`` is a fresh temporary folder and ``self.name`` a fresh name for
each example. Needs the ``test`` extra (hypothesis). ``STORAGEBACKEND_EXAMPLES=500``
in the environment runs more examples than the default 25.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from storagebackend.errors import (
    DocumentNotFoundError,
    InvalidKeyError,
    InvalidUIDError,
    InvalidValueError,
    ReadOnlyError,
    StorageClosedError,
)
from storagebackend.storage import Storage
from storagebackend.testing.strategies import (
    INVALID_UIDS,
    INVALID_VALUES,
    documents,
    invalid_keys,
    keys,
    uid_forms,
    values,
)
from storagebackend.uid import UID

__all__ = ["StorageMachine"]


class StorageMachine(RuleBasedStateMachine):
    """Drives a store and a dict model through the same operations and compares them.

    Subclasses implement :meth:`open_storage`; override :meth:`cleanup` if a
    location needs more than removing ``self.tmp``.
    """

    uids = Bundle("uids")

    #: The settings every subclass's TestCase starts with (hypothesis keeps one TestCase
    #: per class, so they are set for each subclass; assign to ``MyMachine.TestCase.settings``
    #: afterwards to change them).
    default_settings: ClassVar[settings] = settings(
        max_examples=int(os.environ.get("STORAGEBACKEND_EXAMPLES", "25")),
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.TestCase.settings = cls.default_settings

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="sb-conformance-")
        self.name = "sb_" + uuid.uuid4().hex[:16]
        self.model: dict[str, dict[str, bytes]] = {}
        self.synced: dict[str, dict[str, bytes]] = {}
        self.store = self.open_storage("c")
        self.persistent = self.store.backend.persistent

    def open_storage(self, flag: str) -> Storage:
        """Open this example's store with ``flag``; each call opens the same store."""
        raise NotImplementedError("subclasses of StorageMachine implement open_storage(flag)")

    def cleanup(self) -> None:
        """Remove what this example left behind."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def teardown(self) -> None:
        try:
            self.store.close()
        finally:
            self.cleanup()

    # -- helpers -------------------------------------------------------------------------------

    def _doc_copy(self) -> dict[str, dict[str, bytes]]:
        return {uid: dict(doc) for uid, doc in self.model.items()}

    def _expect(self, error: type[BaseException], action: Callable[[], object]) -> None:
        try:
            action()
        except error:
            return
        raise AssertionError(f"expected {error.__name__}")

    # -- creating and replacing ------------------------------------------------------------------

    @rule(target=uids, document=documents())
    def create(self, document: dict[str, bytes]) -> str:
        view = self.store.create(document)
        assert isinstance(view.uid, UID)
        assert view.uid.hex not in self.model
        self.model[view.uid.hex] = dict(document)
        assert view == document
        return view.uid.hex

    @rule(target=uids, hex_uid=st.uuids().map(lambda u: u.hex), document=documents(), data=st.data())
    def assign_new(self, hex_uid: str, document: dict[str, bytes], data: st.DataObject) -> str:
        self.store[data.draw(uid_forms(hex_uid))] = {k: bytearray(v) for k, v in document.items()}
        self.model[hex_uid] = dict(document)
        return hex_uid

    @rule(hex_uid=uids, document=documents(), data=st.data())
    def replace(self, hex_uid: str, document: dict[str, bytes], data: st.DataObject) -> None:
        source = dict(document)
        self.store[data.draw(uid_forms(hex_uid))] = source
        source["mutated-after"] = b"x"  # assigned mappings are copied
        self.model[hex_uid] = dict(document)

    @rule(batch=st.lists(st.tuples(st.uuids().map(lambda u: u.hex), documents()), max_size=3))
    def update_store(self, batch: list[tuple[str, dict[str, bytes]]]) -> None:
        self.store.update(batch)
        for hex_uid, document in batch:
            self.model[hex_uid] = dict(document)

    # -- single values -----------------------------------------------------------------------------

    @rule(hex_uid=uids, key=keys(), value=values(), data=st.data())
    def put(self, hex_uid: str, key: str, value: bytes, data: st.DataObject) -> None:
        self.store.put(data.draw(uid_forms(hex_uid)), key, memoryview(value))
        self.model.setdefault(hex_uid, {})[key] = value

    @rule(hex_uid=uids, key=keys(), value=values())
    def set_through_view(self, hex_uid: str, key: str, value: bytes) -> None:
        if hex_uid not in self.model:
            self._expect(DocumentNotFoundError, lambda: self.store[hex_uid])
            return
        view = self.store[hex_uid]
        buffer = bytearray(value)
        view[key] = buffer
        buffer.extend(b"mutated")  # values are copied
        self.model[hex_uid][key] = value
        assert view[key] == value

    @rule(hex_uid=uids, pairs=documents(max_keys=3))
    def update_document(self, hex_uid: str, pairs: dict[str, bytes]) -> None:
        if hex_uid not in self.model:
            return
        self.store[hex_uid].update(pairs)
        self.model[hex_uid].update(pairs)

    @rule(hex_uid=uids, key=keys(), data=st.data())
    def delete_key(self, hex_uid: str, key: str, data: st.DataObject) -> None:
        existing = sorted(self.model.get(hex_uid, {}))
        if data.draw(st.booleans()) and existing:  # a random key is rarely one that is there
            key = data.draw(st.sampled_from(existing))
        present = key in self.model.get(hex_uid, {})
        how = data.draw(st.sampled_from(["delete", "del", "pop"]))
        if how == "delete":
            assert self.store.delete(hex_uid, key) is present
        elif hex_uid not in self.model:
            self._expect(DocumentNotFoundError, lambda: self.store[hex_uid])
            return
        elif how == "del":
            if present:
                del self.store[hex_uid][key]
            else:
                self._expect(KeyError, lambda: self.store[hex_uid].__delitem__(key))
        else:
            assert self.store[hex_uid].pop(key, None) == self.model[hex_uid].get(key)
        if present:
            del self.model[hex_uid][key]

    @rule(hex_uid=uids, data=st.data())
    def delete_document(self, hex_uid: str, data: st.DataObject) -> None:
        present = hex_uid in self.model
        how = data.draw(st.sampled_from(["delete_document", "del", "pop"]))
        uid = data.draw(uid_forms(hex_uid))
        if how == "delete_document":
            assert self.store.delete_document(uid) is present
        elif how == "pop":
            assert self.store.pop(uid, None) == self.model.get(hex_uid)
        elif present:
            view = self.store[uid]
            del self.store[uid]
            self._expect(DocumentNotFoundError, lambda: view["x"])
            self._expect(DocumentNotFoundError, lambda: len(view))
            self._expect(DocumentNotFoundError, lambda: view.__setitem__("x", b"y"))
        else:
            self._expect(DocumentNotFoundError, lambda: self.store.__delitem__(uid))
        self.model.pop(hex_uid, None)

    @rule(data=st.data())
    def clear_all(self, data: st.DataObject) -> None:
        if data.draw(st.integers(0, 9)) == 0:  # rare: it empties the model
            self.store.clear()
            self.model.clear()

    # -- reads ---------------------------------------------------------------------------------------

    @rule(hex_uid=uids, key=keys(), data=st.data())
    def read(self, hex_uid: str, key: str, data: st.DataObject) -> None:
        uid = data.draw(uid_forms(hex_uid))
        expected = self.model.get(hex_uid, {}).get(key)
        assert self.store.get_value(uid, key) == expected
        assert self.store.count(uid) == len(self.model.get(hex_uid, {}))
        assert (uid in self.store) is (hex_uid in self.model)
        if hex_uid not in self.model:
            self._expect(DocumentNotFoundError, lambda: self.store[uid])
            self._expect(DocumentNotFoundError, lambda: self.store.get_document(uid))
            assert self.store.get(uid) is None
            return
        view = self.store[uid]
        assert view.get(key) == expected
        assert (key in view) is (expected is not None)
        if expected is None:
            self._expect(KeyError, lambda: view[key])
        else:
            assert view[key] == expected
            assert type(view[key]) is bytes
        assert self.store.get_document(uid) == self.model[hex_uid]
        assert dict(view.items()) == self.model[hex_uid]

    # -- invalid input: must raise, and change nothing (the invariant checks that) ------------

    @rule(hex_uid=uids, bad_key=invalid_keys(), value=values())
    def invalid_key(self, hex_uid: str, bad_key: Any, value: bytes) -> None:
        # The limits are for writing: a printable key that is only too long is read as a miss.
        only_too_long = isinstance(bad_key, str) and bad_key != "" and bad_key.isprintable()
        self._expect(InvalidKeyError, lambda: self.store.put(hex_uid, bad_key, value))
        self._expect(InvalidKeyError, lambda: self.store.__setitem__(hex_uid, {"ok": b"1", bad_key: value}))
        self._expect(InvalidKeyError, lambda: self.store.create({"ok": b"1", bad_key: value}))
        if only_too_long:
            assert self.store.get_value(hex_uid, bad_key) is None
        else:
            self._expect(InvalidKeyError, lambda: self.store.get_value(hex_uid, bad_key))
        if hex_uid in self.model:
            view = self.store[hex_uid]
            self._expect(KeyError if only_too_long else InvalidKeyError, lambda: view[bad_key])
            self._expect(InvalidKeyError, lambda: view.__setitem__(bad_key, value))
            self._expect(InvalidKeyError, lambda: view.update({"ok": b"1", bad_key: value}))

    @rule(hex_uid=uids, key=keys(), bad_value=st.sampled_from(INVALID_VALUES))
    def invalid_value(self, hex_uid: str, key: str, bad_value: Any) -> None:
        self._expect(InvalidValueError, lambda: self.store.put(hex_uid, key, bad_value))
        self._expect(InvalidValueError, lambda: self.store.__setitem__(hex_uid, {"ok": b"1", key: bad_value}))
        other = uuid.uuid4().hex
        self._expect(
            InvalidValueError,
            lambda: self.store.update({other: {"ok": b"1"}, hex_uid: {"ok": b"1", key: bad_value}}),
        )
        if hex_uid in self.model:
            view = self.store[hex_uid]
            self._expect(InvalidValueError, lambda: view.__setitem__(key, bad_value))
            self._expect(InvalidValueError, lambda: view.update({"ok": b"1", key: bad_value}))

    @rule(bad_uid=st.sampled_from(INVALID_UIDS))
    def invalid_uid(self, bad_uid: Any) -> None:
        self._expect(InvalidUIDError, lambda: bad_uid in self.store)
        self._expect(InvalidUIDError, lambda: self.store[bad_uid])
        self._expect(InvalidUIDError, lambda: self.store.__setitem__(bad_uid, {"a": b"b"}))
        self._expect(InvalidUIDError, lambda: self.store.put(bad_uid, "a", b"b"))
        self._expect(InvalidUIDError, lambda: self.store.update({uuid.uuid4().hex: {}, bad_uid: {}}))

    # -- durability ----------------------------------------------------------------------------------

    @rule()
    def sync(self) -> None:
        self.store.sync()
        self.synced = self._doc_copy()

    @rule()
    def discard(self) -> None:
        self.store.discard()
        self.model = {uid: dict(doc) for uid, doc in self.synced.items()}

    @rule()
    def close_and_reopen(self) -> None:
        self.store.close()
        self._expect(StorageClosedError, lambda: len(self.store))
        self.store.close()  # twice is fine
        self.store = self.open_storage("c")
        if not self.persistent:
            self.model = {}
        self.synced = self._doc_copy()

    @rule()
    def reopen_read_only(self) -> None:
        if not self.persistent:
            return
        self.store.close()
        self.synced = self._doc_copy()
        self.store = self.open_storage("r")
        self.check_same()
        self._expect(ReadOnlyError, lambda: self.store.create({}))
        self._expect(ReadOnlyError, lambda: self.store.put(uuid.uuid4().hex, "k", b"v"))
        self.store.close()
        self.store = self.open_storage("w")

    # -- the comparison after every step ---------------------------------------------------------------

    @invariant()
    def check_same(self) -> None:
        store = self.store
        assert len(store) == len(self.model)
        listed = [uid.hex for uid in store]
        assert sorted(listed) == sorted(self.model)
        for hex_uid, document in self.model.items():
            assert store.get_document(hex_uid) == document, hex_uid
        assert {uid.hex: document for uid, document in store.copy().items()} == self.model
