"""What a SQLite file holds for one store: its layout, its statements, and whether it is ours.

Layout (version 2): ``PRAGMA application_id`` marks the file as ours and
``PRAGMA user_version`` is the layout version. The ``stores`` table lists the
stores the file holds, each with its schema version. Store ``T`` (``?table=T``)
keeps its documents in ``T_documents(position, uid)`` and its pairs in
``T_entries(position, uid, key, value)``; the default store uses ``documents``
and ``entries``. ``position`` (the rowid) keeps the order in which documents
were created and keys first set. Version 1 (one store, no ``stores`` table,
documents without a position) is read as it is and migrated by a writable open.

:class:`StoreSchema` looks at a connection (reads only), refuses what this
release cannot use with the words of :mod:`storagebackend.schema`, makes or
migrates the store in a writer's transaction, and checks the rows read back:
data that storagebackend never writes is CorruptStoreError, never a bad uid,
key or value handed to the user.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from itertools import groupby
from operator import itemgetter
from typing import Any, Final, NamedTuple

from storagebackend.backends.base import DocumentData
from storagebackend.errors import CorruptStoreError
from storagebackend.schema import State, check_state
from storagebackend.uid import all_stored_uids, is_stored_uid
from storagebackend.validation import all_keys, is_key, plain_document

__all__ = ["APPLICATION_ID", "DEFAULT_TABLE", "HEAD", "SCHEMA_VERSION", "V1", "Found", "StoreSchema"]

log = logging.getLogger(__name__)

#: Written to ``PRAGMA application_id``: "sbk1" in ASCII, marks a storagebackend database.
APPLICATION_ID: Final = 0x73626B31
#: The layout version (``PRAGMA user_version``) and each store's schema version (table ``stores``).
SCHEMA_VERSION: Final = 2
#: The store of a URL without ``?table=``: tables ``documents`` and ``entries``, as in version 1.
DEFAULT_TABLE: Final = "storagebackend"
#: The file's marker, layout and whether it has any table, in one statement: one consistent snapshot.
HEAD: Final = (
    "SELECT a.application_id, u.user_version, EXISTS (SELECT 1 FROM sqlite_master) "
    "FROM pragma_application_id() AS a, pragma_user_version() AS u"
)
EMPTY, FOREIGN = 0, -1  # layouts that are no storagebackend database: new (or zero bytes), someone else's

# Letters, digits, underscores; SQLite keeps names starting with "sqlite_" for itself.
_TABLE_NAME: Final = re.compile(r"(?!sqlite(?:_|$))[a-z_][a-z0-9_]{0,47}", re.IGNORECASE)
_FILE_SCHEMA: Final = (
    "CREATE TABLE stores (name TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL)",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)
_STORE_VERSION: Final = "SELECT version FROM stores WHERE name = ?"
_ADD_STORE: Final = "INSERT OR REPLACE INTO stores (name, version) VALUES (?, ?)"
_TABLES: Final = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)"
_INT: Final = frozenset({int})
_BYTES: Final = frozenset({bytes})
_FIRST, _SECOND, _THIRD, _PAIR = itemgetter(0), itemgetter(1), itemgetter(2), itemgetter(1, 2)


def _v1_order(documents: str, entries: str) -> str:
    """Version 1 kept no order: documents by their first pair (as its bulk read gave them), keyless ones by uid."""
    return (
        f"SELECT d.uid AS uid, row_number() OVER (ORDER BY e.first IS NULL, e.first, d.uid) AS position "
        f"FROM {documents} AS d LEFT JOIN (SELECT uid, min(rowid) AS first FROM {entries} GROUP BY uid) AS e "
        "ON e.uid = d.uid"
    )


def _statements(documents: str, entries: str, order: str) -> dict[str, str]:
    """The statements of one store; ``order`` lists its documents as (uid, position)."""
    return {
        "create_documents": f"CREATE TABLE {documents} (position INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE)",
        "create_entries": (
            f"CREATE TABLE {entries} (position INTEGER PRIMARY KEY, uid TEXT NOT NULL, key TEXT NOT NULL, "
            "value BLOB NOT NULL, UNIQUE (uid, key))"
        ),
        "drop_documents": f"DROP TABLE IF EXISTS {documents}",
        "drop_entries": f"DROP TABLE IF EXISTS {entries}",
        # One query answers both "does it exist" (no row: no) and "what does it hold" (a row of NULLs: no keys).
        "document": (
            f"SELECT e.key, e.value FROM {documents} AS d LEFT JOIN {entries} AS e ON e.uid = d.uid "
            "WHERE d.uid = ? ORDER BY e.rowid"
        ),
        "value": f"SELECT value FROM {entries} WHERE uid = ? AND key = ?",
        "has": f"SELECT 1 FROM {documents} WHERE uid = ?",
        "count": f"SELECT count(*) FROM {documents}",
        "uids": f"SELECT uid FROM ({order}) ORDER BY position",
        # Every pair in storage order, then one row per document with its position: one statement, so one
        # consistent snapshot, and no join or sort in SQLite (the documents are put in order in Python).
        "all": f"SELECT uid, key, value FROM {entries} UNION ALL SELECT uid, NULL, position FROM ({order})",
        "any": f"SELECT 1 FROM {documents} LIMIT 1",
        "clear_entries": f"DELETE FROM {entries}",
        "clear_documents": f"DELETE FROM {documents}",
        "remove_pairs": f"DELETE FROM {entries} WHERE uid = ?",
        "remove_document": f"DELETE FROM {documents} WHERE uid = ?",
        "add_document": f"INSERT OR IGNORE INTO {documents} (uid) VALUES (?)",
        "remove_key": f"DELETE FROM {entries} WHERE uid = ? AND key = ?",
        # A new key comes last; a changed value keeps its row, so its place.
        "upsert": (
            f"INSERT INTO {entries} (uid, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (uid, key) DO UPDATE SET value = excluded.value"
        ),
    }


def _current(documents: str, entries: str) -> dict[str, str]:
    return _statements(documents, entries, f"SELECT uid, rowid AS position FROM {documents}")


#: The statements of a version-1 store (the default one: version 1 held one store).
V1: Final = _statements("documents", "entries", _v1_order("documents", "entries"))
_V2_DEFAULT: Final = _current("documents", "entries")
# Version 1 -> 2 in the writer's transaction: the old tables are renamed, copied in their order, dropped.
_MIGRATION: Final = (
    "ALTER TABLE documents RENAME TO documents_v1",
    "ALTER TABLE entries RENAME TO entries_v1",
    _V2_DEFAULT["create_documents"],
    _V2_DEFAULT["create_entries"],
    f"INSERT INTO documents (uid) SELECT uid FROM ({_v1_order('documents_v1', 'entries_v1')}) ORDER BY position",
    "INSERT INTO entries (uid, key, value) SELECT uid, key, value FROM entries_v1 ORDER BY rowid",
    "DROP TABLE documents_v1",
    "DROP TABLE entries_v1",
    *_FILE_SCHEMA,
)


class Found(NamedTuple):
    """What a database holds for one store."""

    layout: int  # the file's layout version, or EMPTY / FOREIGN
    version: int | None  # the store's schema version; None when the file does not hold the store
    broken: bool = False  # listed, but its tables are missing


class StoreSchema:
    """One store in a SQLite file: its tables and statements, what the file holds for it, its rows read back.

    ``where`` names the file (and the store in it) in messages. Raises
    ValueError for a table name SQLite or this layout cannot take.
    """

    def __init__(self, table: str, where: str) -> None:
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(
                f"invalid SQLite table name {table!r}: 1 to 48 letters, digits and underscores, "
                "not starting with a digit, not 'sqlite' nor starting with 'sqlite_'"
            )
        self.table = table
        self.name = table.lower()  # SQLite's names ignore case
        default = self.name == DEFAULT_TABLE
        self.tables = ("documents", "entries") if default else (f"{self.name}_documents", f"{self.name}_entries")
        #: The statements of the current layout, for this store's tables.
        self.current = _current(*(f'"{name}"' for name in self.tables))
        self.where = where if self.name == DEFAULT_TABLE else f"{where} (store {table!r})"

    # -- what the file holds -------------------------------------------------------------

    def inspect(self, conn: sqlite3.Connection) -> Found:
        """What the database holds for this store (reads only).

        The later statements cannot contradict the first even if another process
        writes in between: a layout only grows, and a store is listed in the same
        transaction that makes its tables.
        """
        application_id, layout, has_tables = conn.execute(HEAD).fetchone()
        if application_id != APPLICATION_ID:
            return Found(FOREIGN if application_id or has_tables else EMPTY, None)
        if layout == 1:
            if self.name != DEFAULT_TABLE:
                return Found(1, None)
            version = 1
        elif layout == SCHEMA_VERSION:
            row = conn.execute(_STORE_VERSION, (self.name,)).fetchone()
            if row is None:
                return Found(layout, None)
            version = row[0]
        elif layout > SCHEMA_VERSION:
            return Found(layout, None)
        else:
            return Found(FOREIGN, None)  # our marker without a layout: nothing storagebackend writes
        broken = conn.execute(_TABLES, self.tables).fetchone()[0] != 2
        return Found(layout, version, broken)

    def check(self, found: Found, flag: str) -> None:
        """Raise CorruptStoreError for a database this release cannot use (see ``schema.check_state``)."""
        if found.layout == FOREIGN:
            detail = "a SQLite database of something else (open it with flag 'n' to replace it)"
            check_state(State.FOREIGN, where=self.where, kind="SQLite", detail=detail)
        version = found.version
        if version is not None and type(version) is not int:
            raise self.foreign(f"the schema version {str(version)[:40]!r} of the store")
        newest = max(found.layout, version or 0)
        if newest > SCHEMA_VERSION:
            check_state(State.NEWER, where=self.where, kind="SQLite", version=newest, newest=SCHEMA_VERSION)
        if found.layout == SCHEMA_VERSION and version not in (None, SCHEMA_VERSION):
            raise self.foreign(f"the schema version {version} of the store")
        if found.broken and flag != "n":
            detail = f"the tables {' and '.join(self.tables)} of the store are missing"
            check_state(State.DAMAGED, where=self.where, kind="SQLite", detail=detail)

    # -- making and migrating, in a writer's transaction ------------------------------------

    def ensure(self, conn: sqlite3.Connection, flag: str) -> None:
        """In the writer's transaction: bring the file to the current layout with this store in it."""
        found = self.inspect(conn)  # again: another process may have changed it meanwhile
        self.check(found, flag)
        if found.layout == EMPTY:
            for statement in _FILE_SCHEMA:
                conn.execute(statement)
        elif found.layout == 1:
            self._migrate(conn, flag)
            found = self.inspect(conn)
        if found.broken:  # flag n only (check): make them anew
            log.info("making the damaged tables of %s anew (flag 'n')", self.where)
            conn.execute(self.current["drop_documents"])
            conn.execute(self.current["drop_entries"])
        if found.version is None or found.broken:
            conn.execute(self.current["create_documents"])
            conn.execute(self.current["create_entries"])
            conn.execute(_ADD_STORE, (self.name, SCHEMA_VERSION))

    def _migrate(self, conn: sqlite3.Connection, flag: str) -> None:
        """Version 1 -> 2, in the caller's transaction, documents and keys in the order version 1 read them.

        First every row is read and checked as a read would (except under flag
        ``"n"``, which discards them): a damaged store is refused, not migrated.
        """
        log.info("%s: migrating the database from version 1 to %s", self.where, SCHEMA_VERSION)
        if flag != "n":
            self.documents_from(conn.execute(V1["all"]).fetchall())
        for statement in _MIGRATION:
            conn.execute(statement)
        conn.execute(_ADD_STORE, (DEFAULT_TABLE, SCHEMA_VERSION))

    # -- rows read back ---------------------------------------------------------------------

    def foreign(self, what: str) -> CorruptStoreError:
        """Data that storagebackend never writes: the file was changed by something else."""
        return CorruptStoreError(f"{self.where}: the database holds {what}, which no storagebackend store holds")

    def check_uids(self, uids: list[Any]) -> None:
        """CorruptStoreError naming the first of ``uids`` that is not a uid (C-level passes first)."""
        if uids and not all_stored_uids(uids):
            bad = next(uid for uid in uids if not is_stored_uid(uid))
            raise self.foreign(f"the uid {str(bad)[:40]!r}")

    def documents_from(self, rows: list[Any]) -> dict[str, DocumentData]:
        """The documents of a bulk read, in order, checked in C-level passes (per-row checks only on damage)."""
        keys = list(map(_SECOND, rows))
        count = keys.count(None)  # one row per document, after the pairs: a pair's key is never NULL
        split = len(rows) - count
        if keys[split:].count(None) == count:
            pairs, listing, pair_keys = rows[:split], rows[split:], keys[:split]
        else:  # the two halves interleaved: sort them out row by row
            pairs = [row for row in rows if row[1] is not None]
            listing = [row for row in rows if row[1] is None]
            pair_keys = list(map(_SECOND, pairs))
        if not set(map(type, map(_THIRD, listing))) <= _INT:  # a pair whose key is NULL
            bad = next(row for row in listing if type(row[2]) is not int)
            raise self.foreign(f"a pair without a key in document {str(bad[0])[:40]!r}")
        listing.sort(key=_THIRD)  # by position: already in order, so one linear pass
        uids = list(map(_FIRST, listing))
        self.check_uids(uids)
        # Pairs of one document are mostly adjacent, as they were written.
        grouped: dict[str, DocumentData] = {}
        for uid, group in groupby(pairs, _FIRST):
            document = grouped.get(uid)
            if document is None:
                grouped[uid] = dict(map(_PAIR, group))
            else:
                document.update(map(_PAIR, group))
        documents = {uid: grouped.pop(uid, {}) for uid in uids}
        if grouped:
            raise self.foreign(f"pairs of a document {str(next(iter(grouped)))[:40]!r} that it does not list")
        if not (set(map(type, map(_THIRD, pairs))) <= _BYTES and all_keys(set(pair_keys))):
            for uid, document in documents.items():
                self.checked(uid, document)
        return documents

    def checked(self, uid: str, document: DocumentData) -> DocumentData:
        """A document read back, if every key is a valid key and every value a BLOB (C-level checks first)."""
        if plain_document(document):
            return document
        for key, value in document.items():
            if not is_key(key):
                raise self.foreign(f"the key {str(key)[:40]!r} in document {uid}")
            if type(value) is not bytes:
                raise self.foreign(f"a value of type {type(value).__name__} in document {uid}")
        return document
