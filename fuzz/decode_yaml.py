"""Fuzz the YAML codec's decode, on libyaml and on the pure-Python parser, and compare them.

Each must raise CorruptStoreError or return a store that round-trips; where both
read a file, they must read the same documents.
"""

from __future__ import annotations

import _common

_common.load("ruamel")
from storagebackend.codecs.yaml import YAMLCodec

LIBYAML = YAMLCodec()
PURE = YAMLCodec(pure=True)


def test_one_input(data: bytes) -> None:
    fast = _common.check_decode(LIBYAML, data)
    slow = _common.check_decode(PURE, data)
    if fast is not None and slow is not None and fast != slow:
        raise AssertionError(f"libyaml read {fast!r}, the pure-Python parser {slow!r}")


if __name__ == "__main__":
    _common.main(test_one_input)
