"""TransportWrapper: a transport that delegates everything to an inner one, so that layers stack.

Like TinyDB's ``Middleware`` and zarr's ``WrapperStore``: the wrapper *is* a
Transport, so a cached file backend, the test suite, or another wrapper takes
it as it takes any transport. A subclass overrides only what it changes:

- the bytes, both ways: :meth:`TransportWrapper.to_inner` (what the inner
  transport stores for the bytes it is given: compressed, encrypted) and
  :meth:`TransportWrapper.from_inner` (the way back; it may raise
  CorruptStoreError or WrongKeyError). They apply to the file and to each
  journal record alike;
- any method, calling ``super()`` (or ``self.inner``) for the rest: a
  replicating wrapper would write to its inner transport and then to others.

The capability flags, ``path`` and ``query`` are the inner transport's, copied
at construction; a subclass may change them after ``super().__init__``.
"""

from __future__ import annotations

from storagebackend.transports.base import Transport

__all__ = ["TransportWrapper"]


class TransportWrapper(Transport):
    """Delegates every method to :attr:`inner`, passing the bytes through :meth:`to_inner` / :meth:`from_inner`."""

    def __init__(self, inner: Transport) -> None:
        if not isinstance(inner, Transport):
            raise TypeError(f"{type(self).__name__} wraps a Transport, got {type(inner).__name__}")
        self.inner = inner
        self.path = inner.path
        self.query = inner.query
        self.remote = inner.remote
        self.supports_locking = inner.supports_locking
        self.supports_journal = inner.supports_journal

    def __repr__(self) -> str:
        return f"<{type(self).__name__} over {self.inner!r}>"

    # -- the two hooks ---------------------------------------------------------------------------------

    def to_inner(self, data: bytes) -> bytes:
        """The bytes the inner transport stores for ``data`` (the file, or one journal record); as they are here."""
        return data

    def from_inner(self, data: bytes) -> bytes:
        """The bytes ``data`` of the inner transport stands for; as they are here.

        Called for every file that exists, a zero-byte one included, and for
        each journal record. Raises CorruptStoreError (or WrongKeyError) for
        bytes it cannot turn back.
        """
        return data

    # -- the contract, delegated -----------------------------------------------------------------------

    def describe(self) -> str:
        return self.inner.describe()

    def read(self) -> bytes | None:
        data = self.inner.read()
        return None if data is None else self.from_inner(data)

    def write(self, data: bytes) -> None:
        self.inner.write(self.to_inner(data))

    def observe(self) -> bool:
        return self.inner.observe()

    def exists(self) -> bool:
        return self.inner.exists()

    def lock(self, exclusive: bool, timeout: float) -> None:
        self.inner.lock(exclusive, timeout)

    def close(self) -> None:
        self.inner.close()

    def read_journal(self) -> list[bytes] | None:
        records = self.inner.read_journal()
        return None if records is None else [self.from_inner(record) for record in records]

    def append_journal(self, record: bytes) -> None:
        self.inner.append_journal(self.to_inner(record))

    def remove_journal(self) -> None:
        self.inner.remove_journal()
