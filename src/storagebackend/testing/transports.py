"""TransportTests: the Transport contract as pytest tests, for any transport, in a few lines.

A third-party transport opts in by subclassing (the class name must start
with ``Test`` for pytest to collect it)::

    from storagebackend.testing import TransportTests

    class TestMyTransport(TransportTests):
        def make_location(self, tmp_path):
            return f"mine://{tmp_path}/store.bin"   # a fresh file no other test uses

Each test gets a fresh ``location`` from :meth:`TransportTests.make_location`
(override the ``location`` fixture itself where it needs other fixtures, a
server say) and opens transports on it with
:meth:`TransportTests.open_transport` (default: ``Transport.from_url``, so
the scheme must be registered). The capability flags decide what is asked:
with ``supports_locking`` locks must exclude, without it ``lock`` must do
nothing; with ``supports_journal`` the journal must keep its records. Every
transport must detect a change made behind its back (``ConflictError``),
since programs that ignore a lock exist. Where the transport offers a way to
inject a fault, :meth:`TransportTests.fail_next_write` and
:meth:`TransportTests.fail_next_read` use it, and the tests then check that
a failure is a StorageError and keeps the old file; elsewhere those tests skip.

Needs the ``test`` extra (pytest).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from storagebackend.errors import ConflictError, StorageError, StorageLockedError
from storagebackend.transports.base import Transport

__all__ = ["TransportTests"]

#: Every byte value, so a transport that mangles text or line ends is caught.
ALL_BYTES = bytes(range(256))


class TransportTests:
    """The contract's tests; subclasses give locations (and, optionally, fault hooks)."""

    #: Seconds a test waits for a lock it must not get.
    lock_timeout: ClassVar[float] = 0.2
    #: Size of the files written while another transport reads (big enough to take more than one read).
    big: ClassVar[int] = 128 * 1024

    # -- what a subclass gives ------------------------------------------------------------------------

    @pytest.fixture
    def location(self, tmp_path: Path) -> str:
        """This test's location: :meth:`make_location` of a fresh folder."""
        return self.make_location(tmp_path)

    def make_location(self, tmp_path: Path) -> str:
        """A location (path or URL) no other test uses, inside ``tmp_path`` where it is a local one."""
        return str(tmp_path / "store.bin")

    def open_transport(self, location: str) -> Transport:
        """A new transport on ``location``; each call a separate one, as two processes would have."""
        return Transport.from_url(location)

    def fail_next_write(self, transport: Transport) -> bool:
        """Make the next ``write`` of ``transport`` fail and return True; False (the default) if this transport
        offers no way to, which skips the tests that need it."""
        return False

    def fail_next_read(self, transport: Transport) -> bool:
        """As :meth:`fail_next_write`, for the next ``read``."""
        return False

    # -- helpers --------------------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _close_what_was_opened(self) -> Iterator[None]:
        yield
        self.close_transports()

    def transport(self, location: str) -> Transport:
        """:meth:`open_transport`, closed after the test (by :meth:`close_transports`)."""
        opened = self.open_transport(location)
        self.__dict__.setdefault("_opened", []).append(opened)
        return opened

    def close_transports(self) -> None:
        """Close every transport this test opened."""
        opened: list[Transport] = self.__dict__.pop("_opened", [])
        for transport in opened:
            transport.close()

    def _written(self, location: str, data: bytes) -> Transport:
        """A transport that wrote ``data`` (after reading, as a store does)."""
        writer = self.transport(location)
        writer.read()
        writer.write(data)
        return writer

    # -- reading and replacing ------------------------------------------------------------------------

    def test_a_missing_file_reads_as_none(self, location: str) -> None:
        transport = self.transport(location)
        assert transport.read() is None
        assert isinstance(transport.describe(), str)
        assert transport.describe()

    def test_what_is_written_reads_back_exactly(self, location: str) -> None:
        data = b"storagebackend\r\n" + ALL_BYTES * 3 + b"\n\x00"
        self._written(location, data)
        other = self.transport(location)
        assert other.exists()
        assert other.read() == data

    def test_a_write_replaces_the_whole_file(self, location: str) -> None:
        writer = self._written(location, b"x" * 10_000)
        writer.write(b"short")
        assert self.transport(location).read() == b"short"
        writer.write(b"")
        assert self.transport(location).read() == b"", "a zero-byte file exists: it is not None"

    def test_a_transport_may_write_again_what_it_wrote(self, location: str) -> None:
        writer = self._written(location, b"first")
        writer.write(b"second")
        writer.write(b"third")
        assert self.transport(location).read() == b"third"

    def test_readers_see_the_old_or_the_new_file_never_a_mix(self, location: str) -> None:
        versions = [bytes([n]) * self.big for n in range(3)]
        writer = self._written(location, versions[0])
        reader = self.transport(location)
        seen: list[bytes | None] = []
        failures: list[BaseException] = []

        def read() -> None:
            try:
                for _ in range(12):
                    seen.append(reader.read())
            except BaseException as exc:
                failures.append(exc)

        thread = threading.Thread(target=read)
        thread.start()
        for step in range(1, 9):
            writer.write(versions[step % 3])
        thread.join()
        assert not failures, failures
        assert all(data in versions for data in seen), "a reader saw a file that was neither old nor new"

    # -- conflicts ------------------------------------------------------------------------------------

    def test_a_change_by_another_transport_is_a_conflict(self, location: str) -> None:
        self._written(location, b"first")
        mine, theirs = self.transport(location), self.transport(location)
        assert mine.read() == theirs.read() == b"first"
        theirs.write(b"theirs")
        with pytest.raises(ConflictError):
            mine.write(b"mine")
        assert self.transport(location).read() == b"theirs", "a conflict overwrote the other version"
        assert mine.read() == b"theirs"
        mine.write(b"mine")  # after reading it again, the store may write
        assert self.transport(location).read() == b"mine"

    def test_a_file_created_behind_a_reader_is_a_conflict(self, location: str) -> None:
        mine, theirs = self.transport(location), self.transport(location)
        assert mine.read() is None
        self._written(location, b"theirs")
        with pytest.raises(ConflictError):
            mine.write(b"mine")
        assert theirs.read() == b"theirs"

    def test_observe_notes_the_file_as_read_does(self, location: str) -> None:
        mine = self.transport(location)
        assert mine.observe() is False
        self._written(location, b"theirs")
        with pytest.raises(ConflictError):
            mine.write(b"mine")
        assert mine.observe() is True
        mine.write(b"mine")
        assert self.transport(location).read() == b"mine"

    # -- locks ----------------------------------------------------------------------------------------

    def test_an_exclusive_lock_keeps_everyone_else_out(self, location: str) -> None:
        holder = self.transport(location)
        if not holder.supports_locking:
            pytest.skip(f"{type(holder).__name__} has no lock (supports_locking is False)")
        holder.lock(exclusive=True, timeout=self.lock_timeout)
        for exclusive in (True, False):
            with pytest.raises(StorageLockedError) as caught:
                self.transport(location).lock(exclusive=exclusive, timeout=self.lock_timeout)
            assert isinstance(caught.value, TimeoutError)
        holder.close()
        self.transport(location).lock(exclusive=True, timeout=self.lock_timeout)

    def test_shared_locks_share_and_keep_a_writer_out(self, location: str) -> None:
        first = self.transport(location)
        if not first.supports_locking:
            pytest.skip(f"{type(first).__name__} has no lock (supports_locking is False)")
        first.lock(exclusive=False, timeout=self.lock_timeout)
        self.transport(location).lock(exclusive=False, timeout=self.lock_timeout)
        with pytest.raises(StorageLockedError):
            self.transport(location).lock(exclusive=True, timeout=self.lock_timeout)

    def test_without_a_lock_locking_does_nothing(self, location: str) -> None:
        first = self.transport(location)
        if first.supports_locking:
            pytest.skip(f"{type(first).__name__} has a lock")
        first.lock(exclusive=True, timeout=self.lock_timeout)
        self.transport(location).lock(exclusive=True, timeout=self.lock_timeout)

    def test_close_twice_is_fine(self, location: str) -> None:
        transport = self._written(location, b"data")
        transport.lock(exclusive=True, timeout=self.lock_timeout)
        transport.close()
        transport.close()

    # -- faults, where the transport can inject them --------------------------------------------------

    def test_a_failed_write_is_a_storage_error_and_keeps_the_old_file(self, location: str) -> None:
        writer = self._written(location, b"old")
        if not self.fail_next_write(writer):
            pytest.skip("no way to make a write fail (fail_next_write)")
        with pytest.raises(StorageError) as caught:
            writer.write(b"new")
        assert not isinstance(caught.value, (KeyError, FileNotFoundError, ConflictError)), repr(caught.value)
        assert self.transport(location).read() == b"old"
        writer.write(b"new")  # nothing changed meanwhile: the retry is no conflict
        assert self.transport(location).read() == b"new"

    def test_a_failed_read_is_an_error_not_a_missing_file(self, location: str) -> None:
        self._written(location, b"data")
        reader = self.transport(location)
        if not self.fail_next_read(reader):
            pytest.skip("no way to make a read fail (fail_next_read)")
        with pytest.raises(StorageError) as caught:
            reader.read()
        assert not isinstance(caught.value, (KeyError, FileNotFoundError)), repr(caught.value)
        assert reader.read() == b"data"

    # -- the journal ----------------------------------------------------------------------------------

    def test_the_journal_keeps_whole_records_in_order(self, location: str) -> None:
        transport = self._written(location, b"the file")
        if not transport.supports_journal:
            pytest.skip(f"{type(transport).__name__} keeps no journal (supports_journal is False)")
        transport.lock(exclusive=True, timeout=self.lock_timeout)
        assert transport.read_journal() is None
        records = [b"first", b"", ALL_BYTES, b"x" * 70_000]
        for record in records:
            transport.append_journal(record)
        assert transport.read_journal() == records
        transport.close()
        reader = self.transport(location)
        assert reader.read_journal() == records
        assert reader.read() == b"the file", "appending to the journal changed the file"

    def test_the_journal_outlives_a_write_and_goes_only_when_removed(self, location: str) -> None:
        transport = self._written(location, b"the file")
        if not transport.supports_journal:
            pytest.skip(f"{type(transport).__name__} keeps no journal (supports_journal is False)")
        transport.lock(exclusive=True, timeout=self.lock_timeout)
        transport.append_journal(b"one")
        transport.write(b"rewritten")
        assert transport.read_journal() == [b"one"]
        transport.remove_journal()
        assert transport.read_journal() is None
        transport.remove_journal()  # nothing there: fine
        transport.append_journal(b"two")
        assert self.transport(location).read_journal() == [b"two"]

    def test_without_a_journal_there_is_never_one(self, location: str) -> None:
        transport = self._written(location, b"the file")
        if transport.supports_journal:
            pytest.skip(f"{type(transport).__name__} keeps a journal")
        assert transport.read_journal() is None
        transport.remove_journal()
        with pytest.raises(NotImplementedError):
            transport.append_journal(b"record")
