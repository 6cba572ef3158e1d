"""A whole-file codec for the tests: the store as a binary property list (stdlib ``plistlib``).

A binary plist ends with a trailer that points into an offset table of the
whole file, so it cannot be cut into one fragment per document: the codec is
a plain :class:`~storagebackend.Codec` (``encode`` and ``decode`` only), and
the cached file backend encodes the whole store at each sync. The trailer is
also where the file shows its end: a file cut at any byte is refused.
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping
from typing import ClassVar

import storagebackend as sb
from storagebackend.codecs.base import Documents, check_header, check_key, documents_mapping, new_uid

__all__ = ["PlistCodec"]


class PlistCodec(sb.Codec):
    """``{"format": "storagebackend", "version": 1, "documents": {uid: {key: data}}}`` as a binary plist."""

    name: ClassVar[str] = "plist"
    extensions: ClassVar[tuple[str, ...]] = (".plist",)

    def encode(self, documents: Mapping[str, Mapping[str, bytes]]) -> bytes:
        tree = {
            "format": "storagebackend",
            "version": 1,
            "documents": {uid: dict(doc) for uid, doc in documents.items()},
        }
        return plistlib.dumps(tree, fmt=plistlib.FMT_BINARY, sort_keys=False)

    def decode(self, data: bytes) -> Documents:
        try:
            tree = plistlib.loads(data, fmt=plistlib.FMT_BINARY)
        except Exception as exc:  # plistlib raises many kinds on damaged input (struct.error, IndexError, ...)
            raise sb.CorruptStoreError(f"not a plist store: {type(exc).__name__}: {exc}") from None
        top = documents_mapping(tree, "plist store")
        check_header(top.get("format"), top.get("version"), "plist", newest=1)
        documents: Documents = {}
        for raw_uid, raw_document in documents_mapping(top.get("documents"), '"documents"').items():
            uid = new_uid(documents, raw_uid, '"documents"')
            document = {}
            for key, value in documents_mapping(raw_document, f"document {uid}").items():
                if type(value) is not bytes:
                    raise sb.CorruptStoreError(f"document {uid}, key {str(key)[:40]!r}: not data")
                document[check_key(key, uid)] = value
            documents[uid] = document
        return documents
