"""The conformance suite: a hypothesis state machine that any backend can run.

It applies random operations (every method of the contract's sections 3 and
4, plus invalid inputs that must raise and change nothing, sync, discard,
close and reopen) to a store and to a model, a plain dict of dicts, and compares
them after every step: contents and order alike, since a dict keeps exactly the
order the contract promises (documents in creation order, keys in first-set
order, a replaced document in its place with the new mapping's key order, a
document deleted and made again last). A backend opts in with a few lines::

    from storagebackend.testing import StorageMachine

    class MyMachine(StorageMachine):
        def open_storage(self, flag):
            return sb.open(f"mydb://localhost/{self.name}", flag=flag)

    TestMyBackend = MyMachine.TestCase

``self.tmp`` is a fresh temporary folder and ``self.name`` a fresh name for
each example. Needs the ``test`` extra (hypothesis). Each machine runs
``max_examples`` examples (25) of up to ``step_count`` steps (25); a subclass
may set fewer, and ``STORAGEBACKEND_EXAMPLES=500`` in the environment sets the
number of examples of every machine.
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
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition, rule

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

__all__ = ["EXAMPLES_VARIABLE", "StorageMachine"]

#: The environment variable that sets how many examples every machine runs.
EXAMPLES_VARIABLE = "STORAGEBACKEND_EXAMPLES"


def _has_documents(machine: StorageMachine) -> bool:
    return bool(machine.model)


class StorageMachine(RuleBasedStateMachine):
    """Drives a store and a dict model through the same operations and compares them.

    Subclasses implement :meth:`open_storage`; override :meth:`cleanup` if a
    location needs more than removing ``self.tmp``. The rules that need an
    existing document run only when the model has one and pick it from the
    model; those that take any uid draw from ``uids``, which holds deleted ones too.
    """

    uids = Bundle("uids")

    #: Examples of each run (``STORAGEBACKEND_EXAMPLES`` in the environment overrides it).
    max_examples: ClassVar[int] = 25
    #: Steps of each example at most.
    step_count: ClassVar[int] = 25

    @classmethod
    def run_settings(cls) -> settings:
        """The hypothesis settings of this machine's runs (made here and nowhere else).

        No deadline (a step may sync to a server) and no health check for slow or
        big examples: a step is real I/O, and a document up to a few kB.
        """
        return settings(
            max_examples=int(os.environ.get(EXAMPLES_VARIABLE, cls.max_examples)),
            stateful_step_count=cls.step_count,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Hypothesis keeps one TestCase per class, so each subclass gets its settings here.
        super().__init_subclass__(**kwargs)
        cls.TestCase.settings = cls.run_settings()

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

    def _model_copy(self) -> dict[str, dict[str, bytes]]:
        return {uid: dict(doc) for uid, doc in self.model.items()}

    def _expect(self, error: type[BaseException], action: Callable[[], object]) -> None:
        try:
            action()
        except error:
            return
        raise AssertionError(f"expected {error.__name__}")

    def _existing(self, data: st.DataObject) -> str:
        """One of the documents the model holds (the rule's precondition says there is one)."""
        return data.draw(st.sampled_from(list(self.model)), label="existing uid")

    def _some_key(self, hex_uid: str, key: str, data: st.DataObject) -> str:
        """``key``, or often one the document holds (a random key is rarely one that is there)."""
        held = list(self.model.get(hex_uid, {}))
        if not held:
            return key
        take_held: bool = data.draw(st.booleans(), label="a key it holds")
        return data.draw(st.sampled_from(held), label="held key") if take_held else key

    # -- the start: a few documents, so that the rules taking a uid have some from the first step

    @initialize(target=uids, start=st.lists(documents(), min_size=1, max_size=3))
    def fill(self, start: list[dict[str, bytes]]) -> Any:
        made = [self.store.create(document).uid.hex for document in start]
        for hex_uid, document in zip(made, start, strict=True):
            self.model[hex_uid] = dict(document)
        return multiple(*made)

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

    @rule(hex_uid=uids, document=documents(), data=st.data())
    def setdefault_store(self, hex_uid: str, document: dict[str, bytes], data: st.DataObject) -> None:
        view = self.store.setdefault(data.draw(uid_forms(hex_uid)), document)
        assert view.uid == hex_uid
        assert view == self.model.setdefault(hex_uid, dict(document))

    # -- single values -----------------------------------------------------------------------------

    @rule(hex_uid=uids, key=keys(), value=values(), data=st.data())
    def put(self, hex_uid: str, key: str, value: bytes, data: st.DataObject) -> None:
        key = self._some_key(hex_uid, key, data)
        self.store.put(data.draw(uid_forms(hex_uid)), key, memoryview(value))
        self.model.setdefault(hex_uid, {})[key] = value

    @precondition(_has_documents)
    @rule(key=keys(), value=values(), data=st.data())
    def set_through_view(self, key: str, value: bytes, data: st.DataObject) -> None:
        hex_uid = self._existing(data)
        key = self._some_key(hex_uid, key, data)
        view = self.store[hex_uid]
        buffer = bytearray(value)
        view[key] = buffer
        buffer.extend(b"mutated")  # values are copied
        self.model[hex_uid][key] = value
        assert view[key] == value

    @precondition(_has_documents)
    @rule(pairs=documents(max_keys=3), data=st.data())
    def update_document(self, pairs: dict[str, bytes], data: st.DataObject) -> None:
        hex_uid = self._existing(data)
        self.store[hex_uid].update(pairs)
        self.model[hex_uid].update(pairs)

    @precondition(_has_documents)
    @rule(key=keys(), value=values(), data=st.data())
    def setdefault_view(self, key: str, value: bytes, data: st.DataObject) -> None:
        hex_uid = self._existing(data)
        key = self._some_key(hex_uid, key, data)
        assert self.store[hex_uid].setdefault(key, value) == self.model[hex_uid].setdefault(key, value)

    @rule(hex_uid=uids, key=keys(), data=st.data())
    def delete_value(self, hex_uid: str, key: str, data: st.DataObject) -> None:
        key = self._some_key(hex_uid, key, data)
        present = key in self.model.get(hex_uid, {})
        assert self.store.delete(data.draw(uid_forms(hex_uid)), key) is present
        if present:
            del self.model[hex_uid][key]

    @precondition(_has_documents)
    @rule(key=keys(), how=st.sampled_from(["del", "pop", "popitem"]), data=st.data())
    def delete_through_view(self, key: str, how: str, data: st.DataObject) -> None:
        hex_uid = self._existing(data)
        key = self._some_key(hex_uid, key, data)
        document = self.model[hex_uid]
        view = self.store[hex_uid]
        if how == "popitem":
            if document:
                popped, value = view.popitem()
                assert document.pop(popped) == value
            else:
                self._expect(KeyError, view.popitem)
        elif how == "pop":
            assert view.pop(key, None) == document.pop(key, None)
        elif key in document:
            del view[key]
            del document[key]
        else:
            self._expect(KeyError, lambda: view.__delitem__(key))

    @precondition(_has_documents)
    @rule(data=st.data())
    def clear_view(self, data: st.DataObject) -> None:
        hex_uid = self._existing(data)
        self.store[hex_uid].clear()
        self.model[hex_uid].clear()

    # -- whole documents ---------------------------------------------------------------------------

    @rule(hex_uid=uids, how=st.sampled_from(["delete_document", "del", "pop"]), data=st.data())
    def delete_document(self, hex_uid: str, how: str, data: st.DataObject) -> None:
        present = hex_uid in self.model
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

    @precondition(_has_documents)
    @rule()
    def popitem_store(self) -> None:
        uid, document = self.store.popitem()
        assert self.model.pop(uid.hex) == document

    @precondition(lambda self: len(self.model) >= 3)  # only now and then: it empties the model
    @rule()
    def clear_all(self) -> None:
        self.store.clear()
        self.model.clear()

    # -- reads ---------------------------------------------------------------------------------------

    @rule(hex_uid=uids, key=keys(), data=st.data())
    def read(self, hex_uid: str, key: str, data: st.DataObject) -> None:
        key = self._some_key(hex_uid, key, data)
        uid = data.draw(uid_forms(hex_uid))
        document = self.model.get(hex_uid)
        expected = None if document is None else document.get(key)
        assert self.store.get_value(uid, key) == expected
        assert self.store.count(uid) == len(document or {})
        assert (uid in self.store) is (document is not None)
        if document is None:
            self._expect(DocumentNotFoundError, lambda: self.store[uid])
            self._expect(DocumentNotFoundError, lambda: self.store.get_document(uid))
            assert self.store.get(uid) is None
        else:
            assert self.store.get_document(uid) == document

    @precondition(_has_documents)
    @rule(key=keys(), data=st.data())
    def read_view(self, key: str, data: st.DataObject) -> None:
        hex_uid = self._existing(data)
        key = self._some_key(hex_uid, key, data)
        document = self.model[hex_uid]
        view = self.store[data.draw(uid_forms(hex_uid))]
        assert view.uid == hex_uid
        expected = document.get(key)
        assert view.get(key) == expected
        assert (key in view) is (expected is not None)
        if expected is None:
            self._expect(KeyError, lambda: view[key])
        else:
            assert view[key] == expected
            assert type(view[key]) is bytes
        assert len(view) == len(document)
        assert list(view) == list(document)
        assert list(view.items()) == list(document.items())
        assert list(view.values()) == list(document.values())

    @precondition(_has_documents)
    @rule(data=st.data())
    def compare(self, data: st.DataObject) -> None:
        """``==`` between two views, a view and a dict, the store and a dict: as between the model's dicts."""
        first, second = self._existing(data), self._existing(data)
        assert (self.store[first] == self.store[second]) is (self.model[first] == self.model[second])
        assert (self.store[first] != self.model[second]) is (self.model[first] != self.model[second])
        assert self.store == self.model

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
        self.synced = self._model_copy()

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
        self.synced = self._model_copy()

    @precondition(lambda self: self.persistent)
    @rule()
    def reopen_read_only(self) -> None:
        self.store.close()
        self.synced = self._model_copy()
        self.store = self.open_storage("r")
        self.check_same()
        self._expect(ReadOnlyError, lambda: self.store.create({}))
        self._expect(ReadOnlyError, lambda: self.store.put(uuid.uuid4().hex, "k", b"v"))
        self.store.close()
        self.store = self.open_storage("w")

    # -- the comparison after every step: contents and order -----------------------------------------

    @invariant()
    def check_same(self) -> None:
        store = self.store
        expected = [(hex_uid, list(document.items())) for hex_uid, document in self.model.items()]
        assert len(store) == len(self.model)
        assert [uid.hex for uid in store] == list(self.model), "documents out of creation order"
        assert [(hex_uid, list(store.get_document(hex_uid).items())) for hex_uid in self.model] == expected
        assert [(uid.hex, list(document.items())) for uid, document in store.copy().items()] == expected
