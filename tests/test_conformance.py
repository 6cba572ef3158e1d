"""The conformance state machine (storagebackend.testing) on the core backends."""

from __future__ import annotations

import storagebackend as sb
from storagebackend.storage import Storage
from storagebackend.testing import StorageMachine


class MemoryMachine(StorageMachine):
    def open_storage(self, flag: str) -> Storage:
        return sb.open("memory://", flag=flag)


class SQLiteMachine(StorageMachine):
    def open_storage(self, flag: str) -> Storage:
        return sb.open(f"sqlite:///{self.tmp}/store.db", flag=flag)


TestMemory = MemoryMachine.TestCase
TestSQLite = SQLiteMachine.TestCase
