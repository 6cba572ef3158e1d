"""The PostgreSQL backend's own promises: its tables, foreign tables, locks, table names."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

import storagebackend as sb
from servers import Stores, drop_postgres_store, free_port, postgres_connect, with_query
from storagebackend.backends.postgresql import FORMAT, SCHEMA_VERSION


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
