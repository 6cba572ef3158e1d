"""The PostgreSQL backend's own promises: its tables, foreign tables, locks, table names, migration, timeouts."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest

import storagebackend as sb
from helpers.servers import Stores, drop_postgres_store, free_port, ordered_contents, postgres_connect, with_query
from storagebackend.backends.postgresql import FORMAT, SCHEMA_VERSION, PostgreSQLBackend


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Stores]:
    """Fresh stores (tables) on the PostgreSQL server, dropped afterwards."""
    made = Stores("postgresql", postgres_url)
    yield made
    made.drop_all()


def test_the_store_is_three_tables_with_bytea_values(pg: Stores) -> None:
    name = pg.new_name()
    with sb.open(pg.url(name)) as store:
        doc = store.create({"b": b"\x00\xff", "a": b"text"})
    with postgres_connect(pg.base_url) as conn:
        assert conn.execute(f"SELECT format, version FROM {name}").fetchall() == [(FORMAT, SCHEMA_VERSION)]
        assert conn.execute(f"SELECT uid FROM {name}_documents").fetchall() == [(doc.uid.hex,)]
        rows = conn.execute(f"SELECT key, value, pg_typeof(value)::text FROM {name}_entries ORDER BY position")
        assert rows.fetchall() == [("b", b"\x00\xff", "bytea"), ("a", b"text", "bytea")]


def test_keys_keep_their_insertion_order(pg: Stores) -> None:
    url = pg.url()
    with sb.open(url) as store:
        store["1" * 32] = {"z": b"1", "a": b"2", "m": b"3"}
    with sb.open(url) as store:
        store["1" * 32]["b"] = b"4"
        store["1" * 32]["z"] = b"5"  # a changed value keeps its place, as in a dict
    with sb.open(url, flag="r") as store:
        assert list(store["1" * 32]) == ["z", "a", "m", "b"]


@pytest.mark.parametrize("flag", ["c", "w", "r", "n"])
@pytest.mark.parametrize(
    "foreign",
    [
        "CREATE TABLE {name} (x integer); INSERT INTO {name} VALUES (42)",
        "CREATE TABLE {name} (format text, version integer); INSERT INTO {name} VALUES ('other', 1)",
        "CREATE TABLE {name}_entries (x integer); INSERT INTO {name}_entries VALUES (42)",
        "CREATE VIEW {name} AS SELECT 'storagebackend'::text AS format, 1 AS version",
    ],
    ids=["other-table", "other-marker", "only-entries", "view"],
)
def test_a_table_that_is_not_a_store_is_corrupt_and_left_alone(pg: Stores, flag: str, foreign: str) -> None:
    name = pg.new_name()
    with postgres_connect(pg.base_url) as conn:
        for statement in foreign.format(name=name).split("; "):
            conn.execute(statement)
    with pytest.raises(sb.CorruptStoreError, match="not a storagebackend store"):
        sb.open(pg.url(name), flag=flag)
    with postgres_connect(pg.base_url) as conn:
        table = name + ("_entries" if "_entries" in foreign else "")
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
        conn.execute(f"DROP VIEW IF EXISTS {name}" if "VIEW" in foreign else "SELECT 1")


@pytest.mark.parametrize("flag", ["c", "w", "r", "n"])
def test_a_newer_schema_version_is_refused(pg: Stores, flag: str) -> None:
    name = pg.new_name()
    sb.open(pg.url(name)).close()
    with postgres_connect(pg.base_url) as conn:
        conn.execute(f"UPDATE {name} SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(sb.CorruptStoreError, match="newer"):
        sb.open(pg.url(name), flag=flag)


def test_a_damaged_store_is_corrupt_and_flag_n_recreates_it(pg: Stores) -> None:
    name = pg.new_name()
    with sb.open(pg.url(name)) as store:
        store["1" * 32] = {"k": b"v"}
    with postgres_connect(pg.base_url) as conn:
        conn.execute(f"DROP TABLE {name}_entries")
    for flag in ("c", "w", "r"):
        with pytest.raises(sb.CorruptStoreError, match="flag 'n'"):
            sb.open(pg.url(name), flag=flag)
    with sb.open(pg.url(name), flag="n") as store:
        assert len(store) == 0
        store["2" * 32] = {"new": b"1"}
    with sb.open(pg.url(name), flag="r") as store:
        assert [uid.hex for uid in store] == ["2" * 32]


def test_a_uid_written_by_something_else_is_corrupt_not_a_uid(pg: Stores) -> None:
    """A row that is no uid is not ours: listing refuses it, as SQLite and Redis do, rather than hand out a bad UID."""
    name = pg.new_name()
    with sb.open(pg.url(name)) as store:
        store["1" * 32] = {"k": b"v"}
    with postgres_connect(pg.base_url) as conn:
        conn.execute(f"INSERT INTO {name}_documents (uid) VALUES ('not a uid')")
    with sb.open(pg.url(name), flag="r") as store:
        with pytest.raises(sb.CorruptStoreError, match="uid"):
            list(store)
        with pytest.raises(sb.CorruptStoreError, match="uid"):
            store.copy()
        assert store["1" * 32] == {"k": b"v"}


def test_a_sync_blocked_by_a_lock_is_storage_locked_and_can_be_retried(pg: Stores) -> None:
    name = pg.new_name()
    store = sb.open(pg.url(name), lock_timeout=0.3)
    store["1" * 32] = {"k": b"v"}
    with postgres_connect(pg.base_url) as other:
        with other.transaction():
            other.execute(f"LOCK TABLE {name}_entries IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(sb.StorageLockedError, match="lock_timeout=0.3"):
                store.sync()
        store.sync()  # the lock is gone; the failed sync kept its changes
    store.close()
    with sb.open(pg.url(name), flag="r") as reader:
        assert reader.get_document("1" * 32) == {"k": b"v"}


def test_processes_creating_one_store_at_once_all_succeed(pg: Stores) -> None:
    url = pg.url()
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            sb.open(url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.parametrize(
    "table",
    ["", "1abc", "a-b", "x; DROP TABLE y", 'quo"te', "space d", "ü", "t" * 49, "a.b"],
)
def test_bad_table_names_are_refused_before_connecting(table: str) -> None:
    url = f"postgresql://127.0.0.1:{free_port()}/db"
    with pytest.raises(ValueError, match="invalid PostgreSQL table name"):
        sb.open(url, table=table)


def test_table_names_keep_their_case(pg: Stores) -> None:
    name = "Sb_" + pg.new_name().upper()
    pg.names.append(name)
    with sb.open(pg.url(name)) as store:
        store["1" * 32] = {"k": b"v"}
    with postgres_connect(pg.base_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", (name,)).fetchone() == (1,)


def test_the_default_table_and_the_table_option(postgres_url: str) -> None:
    try:
        with sb.open(postgres_url) as store:
            assert "table=storagebackend" in repr(store)
            store["1" * 32] = {"k": b"default"}
        with sb.open(with_query(postgres_url, "table", "storagebackend"), flag="r") as store:
            assert store.get_document("1" * 32) == {"k": b"default"}
        with sb.open(postgres_url, flag="r", table="storagebackend") as store:
            assert len(store) == 1
    finally:
        drop_postgres_store(postgres_url, "storagebackend")


# -- schema version 1 (no document order): read as it is, migrated by a writable open -----------------

V1_SCHEMA = (
    "CREATE TABLE {t} (format text NOT NULL, version integer NOT NULL)",
    "INSERT INTO {t} (format, version) VALUES ('storagebackend', 1)",
    "CREATE TABLE {t}_documents (uid text PRIMARY KEY)",
    "CREATE TABLE {t}_entries (uid text NOT NULL, key text NOT NULL, value bytea NOT NULL, "
    "position bigint GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (uid, key))",
)
A, B, C, E = ("a" * 32, "b" * 32, "c" * 32, "e" * 32)
# As storagebackend 0.1 wrote them: documents in any order, pairs in the order they were written.
V1_DOCUMENTS = (A, C, E, B)
V1_ENTRIES = ((E, "y", b"1"), (C, "z", b"2"), (E, "b", b"3"), (A, "k", b"4"), (C, "a", b"5"))
# Documents by their first key, those without keys last: the order version 1 reads in and migrating writes.
V1_ORDER = [(E, [("y", b"1"), ("b", b"3")]), (C, [("z", b"2"), ("a", b"5")]), (A, [("k", b"4")]), (B, [])]


def make_version_1_store(pg: Stores) -> str:
    """A store as schema version 1 made it; returns its name."""
    name = pg.new_name()
    with postgres_connect(pg.base_url) as conn:
        for statement in V1_SCHEMA:
            conn.execute(statement.format(t=name))
        for uid in V1_DOCUMENTS:
            conn.execute(f"INSERT INTO {name}_documents (uid) VALUES (%s)", (uid,))
        for uid, key, value in V1_ENTRIES:
            conn.execute(f"INSERT INTO {name}_entries (uid, key, value) VALUES (%s, %s, %s)", (uid, key, value))
    return name


def schema_of(pg: Stores, name: str) -> tuple[int, list[str]]:
    """The store's schema version and the columns of its documents table."""
    with postgres_connect(pg.base_url) as conn:
        version = conn.execute(f"SELECT version FROM {name}").fetchone()
        columns = conn.execute(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
            (f"{name}_documents",),
        ).fetchall()
    assert version is not None
    return version[0], [column for (column,) in columns]


def test_a_version_1_store_opens_read_only_in_order_and_unchanged(pg: Stores) -> None:
    name = make_version_1_store(pg)
    with sb.open(pg.url(name), flag="r") as store:
        assert ordered_contents(store) == V1_ORDER
        assert len(store) == 4
    assert schema_of(pg, name) == (1, ["uid"])


@pytest.mark.parametrize("flag", ["c", "w", "n"])
def test_a_writable_open_migrates_a_version_1_store_keeping_its_order(pg: Stores, flag: str) -> None:
    name = make_version_1_store(pg)
    with sb.open(pg.url(name), flag=flag) as store:
        assert schema_of(pg, name) == (SCHEMA_VERSION, ["uid", "position"])  # at the open, in one transaction
        store["d" * 32] = {"new": b"1"}
        store.put(C, "c", b"6")
    if flag == "n":  # migrated, then emptied by the first sync
        expected = [("d" * 32, [("new", b"1")]), (C, [("c", b"6")])]
    else:
        expected = [V1_ORDER[0], (C, [*V1_ORDER[1][1], ("c", b"6")]), *V1_ORDER[2:], ("d" * 32, [("new", b"1")])]
    with sb.open(pg.url(name), flag="r") as store:
        assert ordered_contents(store) == expected


def test_processes_migrating_one_store_at_once_all_succeed(pg: Stores) -> None:
    name = make_version_1_store(pg)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            sb.open(pg.url(name), flag="w").close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert schema_of(pg, name) == (SCHEMA_VERSION, ["uid", "position"])
    with sb.open(pg.url(name), flag="r") as store:
        assert ordered_contents(store) == V1_ORDER


def test_timeouts_reach_the_server_as_postgresql_reads_them(pg: Stores) -> None:
    """lock_timeout 0 must not become PostgreSQL's 0 (which waits forever); math.inf must become it."""
    expected = {0: "1ms", 0.25: "250ms", 5: "5s", math.inf: "0", 1e300: "0"}
    for seconds, setting in expected.items():
        with sb.open(pg.url(), lock_timeout=seconds, timeout=seconds) as store:
            backend = store.backend
            assert isinstance(backend, PostgreSQLBackend)
            shown = backend._run("test", lambda conn: conn.execute("SHOW lock_timeout").fetchone())
            assert shown == (setting,)
            connect_timeout = int(backend._run("test", lambda conn: conn.info.get_parameters()["connect_timeout"]))
            assert connect_timeout >= 2 if seconds < math.inf else connect_timeout >= 2**31 - 1
