"""What the fuzz harnesses share: instrumented imports, the checks they make, and ``main``.

Importing this module imports storagebackend and the parsers it uses under
atheris' instrumentation, so that coverage of their Python code guides the
fuzzer (the C parts, libyaml, msgpack and json's scanner, are not
instrumented). A harness raises, and so reports a finding, when the code under
test raises anything but what its contract documents, or when a check fails.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import atheris

# Every storagebackend module a harness reaches: a module first imported after load() is not instrumented.
_MODULES = (
    "storagebackend",
    "storagebackend.backends.cached_file",
    "storagebackend.backends.sqlite",
    "storagebackend.codecs.ini",
    "storagebackend.codecs.json",
    "storagebackend.codecs.msgpack",
    "storagebackend.codecs.toml",
    "storagebackend.codecs.yaml",
    "storagebackend.compression",
    "storagebackend.encryption",
    "storagebackend.keyring",
    "storagebackend.transports.ftp",
    "storagebackend.transports.local",
    "storagebackend.transports.memory",
)


def load(*libraries: str, plugins: tuple[str, ...] = ()) -> None:
    """Import storagebackend instrumented, and with it the named libraries (e.g. "tomllib").

    Call it before importing anything from storagebackend. Instrumenting a big
    library costs seconds at start (ruamel.yaml about two), so each harness
    names only the parsers it exercises. ``plugins`` are the modules of codec
    plugins (``storagebackend_cbor``...), imported here too, instrumented; they
    must be installed (``pip install ./codecs/NAME``).
    """
    with atheris.instrument_imports(include=["storagebackend", *libraries, *plugins]):
        for name in (*_MODULES, *plugins):
            importlib.import_module(name)


__all__ = ["check_decode", "check_documents", "check_message", "codec", "main"]

START = os.getcwd()  # the folder the fuzzer was started in, before a harness moves


if TYPE_CHECKING:
    from storagebackend.codecs.base import Codec


def codec(name: str) -> Codec:
    """The registered codec of that name."""
    from storagebackend.registry import codec_by_name

    return codec_by_name(name)


def check_documents(documents: object) -> None:
    """Whatever a codec accepts has the shape of a store: uid -> {key: bytes}."""
    if type(documents) is not dict:
        raise AssertionError(f"decode returned {type(documents).__name__}, not a dict")
    for uid, document in documents.items():
        if (
            type(uid) is not str
            or len(uid) != 32
            or uid != uid.lower()
            or not all(c in "0123456789abcdef" for c in uid)
        ):
            raise AssertionError(f"decode returned the uid {uid!r}")
        if type(document) is not dict:
            raise AssertionError(f"decode returned {type(document).__name__} as document {uid}")
        for key, value in document.items():
            if type(key) is not str or not key or not key.isprintable():
                raise AssertionError(f"decode returned the key {key!r} in document {uid}")
            if type(value) is not bytes:
                raise AssertionError(f"decode returned {type(value).__name__} as the value of {key!r}")


def check_message(exc: BaseException) -> None:
    """An error says what is wrong: a non-empty message."""
    if not str(exc).strip():
        raise AssertionError(f"{type(exc).__name__} without a message") from exc


def check_decode(codec: Codec, data: bytes) -> Mapping[str, Mapping[str, bytes]] | None:
    """Decode ``data``: CorruptStoreError, or a store that encodes and decodes to itself."""
    from storagebackend.errors import CorruptStoreError

    try:
        documents = codec.decode(data)
    except CorruptStoreError as exc:
        check_message(exc)
        return None
    check_documents(documents)
    encoded = codec.encode(documents)
    again = codec.decode(encoded)
    if again != documents:
        raise AssertionError(f"{codec.name}: decode(encode(x)) != x for x = {documents!r}: {encoded!r}")
    return documents


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Run the fuzzer with libFuzzer's command line (corpus folders, -max_total_time=...).

    Folders and ``-artifact_prefix`` are made absolute first: a harness may change its folder.
    """
    argv = [sys.argv[0]]
    for arg in sys.argv[1:]:
        if arg.startswith("-artifact_prefix="):
            argv.append("-artifact_prefix=" + os.path.join(START, arg.partition("=")[2]))
        else:
            argv.append(arg if arg.startswith("-") else os.path.join(START, arg))
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
