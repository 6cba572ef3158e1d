"""Fuzz the plist codec plugin's decode (codecs/plist), XML and binary, with plistlib instrumented.

Both codecs read both forms: each must raise CorruptStoreError or return a
store that round-trips in its own form, and both must read the same.
"""

from __future__ import annotations

import _common

_common.load("plistlib", plugins=("storagebackend_plist",))
XML = _common.codec("plist")
BINARY = _common.codec("bplist")


def test_one_input(data: bytes) -> None:
    read = _common.check_decode(XML, data)
    if read is not None and _common.check_decode(BINARY, data) != read:
        raise AssertionError(f"the plist and bplist codecs read {data!r} differently")


if __name__ == "__main__":
    _common.main(test_one_input)
