"""Order on the servers (API.md 3): kept like a dict's across sync, close and reopen, and among processes.

Documents iterate in the order they were created, keys in the order they were
first set; changing a value keeps its place; ``store[uid] = mapping`` on an
existing document keeps the document's place and takes the mapping's key order.
Each test runs on PostgreSQL and Redis (``stores``); the uids are chosen so that
no sorted order (by uid, by hash) could pass for the order of creation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import storagebackend as sb
from helpers.servers import Stores, ordered_contents
from storagebackend import UID

# Created in this order: neither sorted nor reverse-sorted.
C, A, E, B, D = (UID(letter * 32) for letter in "caebd")


def reopened(url: str) -> list[tuple[str, list[tuple[str, bytes]]]]:
    with sb.open(url, flag="r") as store:
        return ordered_contents(store)


def test_documents_and_keys_keep_their_order_across_sync_close_and_reopen(stores: Stores) -> None:
    url = stores.url()
    with sb.open(url) as store:
        store[C] = {"z": b"1", "a": b"2"}
        store[A] = {}
        store.sync()
        store[E] = {"m": b"3", "b": b"4", "y": b"5"}
        store[C]["k"] = b"6"  # a new key of a stored document goes last in it
        store[C]["z"] = b"7"  # a changed value keeps its place
    expected = [
        (C.hex, [("z", b"7"), ("a", b"2"), ("k", b"6")]),
        (A.hex, []),
        (E.hex, [("m", b"3"), ("b", b"4"), ("y", b"5")]),
    ]
    assert reopened(url) == expected
    with sb.open(url) as store:
        store[B] = {"q": b"8"}
        store[A]["x"] = b"9"  # a patched document keeps its place
        store[E]["b"] = b"changed"
        store.update({D: {"d2": b"1", "d1": b"2"}})
    expected[1] = (A.hex, [("x", b"9")])
    expected[2] = (E.hex, [("m", b"3"), ("b", b"changed"), ("y", b"5")])
    expected += [(B.hex, [("q", b"8")]), (D.hex, [("d2", b"1"), ("d1", b"2")])]
    assert reopened(url) == expected


def test_replacing_a_document_keeps_its_place_and_takes_the_mappings_key_order(stores: Stores) -> None:
    url = stores.url()
    with sb.open(url) as store:
        store.update({C: {"a": b"1", "b": b"2"}, A: {"x": b"1"}, E: {"y": b"1"}})
    with sb.open(url) as store:
        store[A] = {"new": b"1", "b": b"2", "a": b"3"}
        store.setdefault(E, {"ignored": b"1"})  # already there: nothing changes
    assert reopened(url) == [
        (C.hex, [("a", b"1"), ("b", b"2")]),
        (A.hex, [("new", b"1"), ("b", b"2"), ("a", b"3")]),
        (E.hex, [("y", b"1")]),
    ]


def test_what_was_deleted_and_made_again_goes_last(stores: Stores) -> None:
    url = stores.url()
    with sb.open(url) as store:
        store.update({C: {"a": b"1", "b": b"2", "c": b"3"}, A: {}, E: {}})
    with sb.open(url) as store:
        del store[C]["a"]
        del store[C]
        store.sync()
        store[C] = {"again": b"1"}  # deleted, then created again: a new document, the last one
        del store[A]
    with sb.open(url) as store:
        del store[C]["again"]
        store[E]["k"] = b"1"
        store.sync()
        store[C]["again"] = b"2"  # deleted, then set again: a new key, the last one
        store[C]["z"] = b"3"
    assert reopened(url) == [(E.hex, [("k", b"1")]), (C.hex, [("again", b"2"), ("z", b"3")])]


def test_a_cleared_store_fills_again_in_order(stores: Stores) -> None:
    url = stores.url()
    with sb.open(url) as store:
        store.update({C: {"a": b"1"}, A: {"b": b"1"}})
    with sb.open(url) as store:
        store.clear()
        store[E] = {"e": b"1"}
        store[C] = {"c2": b"1", "c1": b"2"}
    assert reopened(url) == [(E.hex, [("e", b"1")]), (C.hex, [("c2", b"1"), ("c1", b"2")])]
    with sb.open(url, flag="n") as store:
        store[A] = {"n": b"1"}
        store[B] = {}
    assert reopened(url) == [(A.hex, [("n", b"1")]), (B.hex, [])]


OTHER_PROCESS = textwrap.dedent(
    """
    import json, sys
    import storagebackend as sb

    with sb.open(sys.argv[1], flag="w") as store:
        for uid, key, value in json.loads(sys.argv[2]):
            store.put(uid, key, value.encode())
    """
)


def other_process(url: str, *puts: tuple[UID, str, str]) -> None:
    """Another process puts these (uid, key, value) triples, in this order, and syncs once."""
    writes = json.dumps([(uid.hex, key, value) for uid, key, value in puts])
    result = subprocess.run([sys.executable, "-c", OTHER_PROCESS, url, writes], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()


def test_order_holds_with_another_process_writing_in_between(stores: Stores) -> None:
    url = stores.url()
    with sb.open(url) as store:
        store[C] = {"c1": b"1"}
        store.sync()
        other_process(url, (A, "a1", "1"), (C, "theirs", "1"))  # a document of theirs, a key of theirs
        store[C]["c2"] = b"2"  # our next key goes after theirs
        store[C]["theirs"] = b"ours"  # and changing theirs keeps its place
        store[E] = {"e1": b"1"}
        store.sync()
        other_process(url, (B, "b1", "1"), (E, "e0", "1"), (A, "a1", "changed"))
        store[A]["a2"] = b"2"
        store[C] = {"new": b"1", "c1": b"2"}  # a replacement keeps C first
    assert reopened(url) == [
        (C.hex, [("new", b"1"), ("c1", b"2")]),
        (A.hex, [("a1", b"changed"), ("a2", b"2")]),
        (E.hex, [("e1", b"1"), ("e0", b"1")]),
        (B.hex, [("b1", b"1")]),
    ]
