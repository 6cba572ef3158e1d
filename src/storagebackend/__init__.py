"""storagebackend: store documents (uid -> {key: bytes}) anywhere a URL points.

>>> import storagebackend as sb
>>> with sb.open("memory://") as store:
...     note = store.create({"title": b"Hello"})
...     store[note.uid]["title"]
b'Hello'
"""

from storagebackend.backends.base import Backend
from storagebackend.codecs.base import Codec, FragmentCodec
from storagebackend.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConflictError,
    CorruptStoreError,
    DocumentNotFoundError,
    InvalidKeyError,
    InvalidUIDError,
    InvalidValueError,
    ReadOnlyError,
    ReplicaError,
    StorageClosedError,
    StorageError,
    StorageIOError,
    StorageLockedError,
    StoreNotFoundError,
    WrongKeyError,
)
from storagebackend.opening import open, open_config
from storagebackend.registry import register_backend, register_codec, register_transport
from storagebackend.storage import Document, Storage
from storagebackend.transports.base import Transport
from storagebackend.transports.memory import MemoryTransport
from storagebackend.transports.wrapper import TransportWrapper
from storagebackend.uid import UID

__version__ = "0.1.0"

__all__ = [
    "UID",
    "AuthenticationError",
    "Backend",
    "BackendUnavailableError",
    "Codec",
    "ConflictError",
    "CorruptStoreError",
    "Document",
    "DocumentNotFoundError",
    "FragmentCodec",
    "InvalidKeyError",
    "InvalidUIDError",
    "InvalidValueError",
    "MemoryTransport",
    "ReadOnlyError",
    "ReplicaError",
    "Storage",
    "StorageClosedError",
    "StorageError",
    "StorageIOError",
    "StorageLockedError",
    "StoreNotFoundError",
    "Transport",
    "TransportWrapper",
    "WrongKeyError",
    "__version__",
    "open",
    "open_config",
    "register_backend",
    "register_codec",
    "register_transport",
]
