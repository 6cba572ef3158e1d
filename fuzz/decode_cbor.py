"""Fuzz the CBOR codec plugin's decode (codecs/cbor): CorruptStoreError, or a store that round-trips."""

from __future__ import annotations

import _common

_common.load(plugins=("storagebackend_cbor",))
CODEC = _common.codec("cbor")


def test_one_input(data: bytes) -> None:
    _common.check_decode(CODEC, data)


if __name__ == "__main__":
    _common.main(test_one_input)
