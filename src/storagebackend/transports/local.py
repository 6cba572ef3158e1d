"""LocalTransport: a store file on the local disk (placeholder until the transport lands)."""

from __future__ import annotations

import os

from storagebackend.errors import StorageIOError
from storagebackend.transports.base import Transport

__all__ = ["LocalTransport"]


class LocalTransport(Transport):
    """Reads a local file and replaces it through a temporary file and ``os.replace``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def describe(self) -> str:
        return self.path

    def read(self) -> bytes | None:
        try:
            with open(self.path, "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc

    def write(self, data: bytes) -> None:
        temporary = self.path + ".tmp"
        try:
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise StorageIOError(f"{self.path}: cannot write: {exc.strerror or exc}") from exc
