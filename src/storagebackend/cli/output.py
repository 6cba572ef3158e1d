"""How the command line shows things: uids, keys, values, and a progress bar.

Stored bytes never reach a terminal raw: text is shown as text (quoted with
escapes when it holds control characters or would be ambiguous), binary as a
short hex preview with its length. ``get`` is the way to the exact bytes, and
it sends to a terminal only plain text (:func:`is_plain_text`) unless told to.
"""

from __future__ import annotations

import re
import time
from typing import Final, TextIO

from storagebackend.codecs.base import as_text

__all__ = ["Progress", "is_plain_text", "plural", "show_key", "show_value"]

#: Text longer than this is cut in ``show`` (``get`` prints a value whole).
TEXT_PREVIEW: Final = 200
#: How many bytes of a binary value ``show`` previews in hex.
HEX_PREVIEW: Final = 16

_PLAIN_KEY: Final = re.compile(r"[\w.@+/-]+")


def plural(count: int, word: str) -> str:
    """``"1 key"``, ``"2 keys"``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def show_key(key: str) -> str:
    """A key as typed on a command line: bare if it is a plain word, else quoted."""
    return key if _PLAIN_KEY.fullmatch(key) else repr(key)


def is_plain_text(value: bytes) -> bool:
    """True for UTF-8 text of printable characters, tabs and line breaks: safe to send to a terminal as it is.

    Anything else (escape sequences, carriage returns, bidi controls, bytes that are not
    UTF-8) can redraw, retitle or garble the terminal.
    """
    text = as_text(value)
    if text is None:
        return False
    return all(char.isprintable() or char in "\n\t" for char in text)


def show_value(value: bytes) -> str:
    """A value on one line: text as text, binary as ``<binary, N bytes: hex...>``."""
    text = as_text(value)
    if text is None:
        more = "..." if len(value) > HEX_PREVIEW else ""
        return f"<binary, {len(value)} bytes: {value[:HEX_PREVIEW].hex(' ')}{more}>"
    bare = text.isprintable() and text == text.strip() and text != "" and text[0] not in "'\"<"
    shown = text if bare else repr(text)
    if len(shown) > TEXT_PREVIEW:
        return f"{shown[:TEXT_PREVIEW]}... <{len(value)} bytes in all>"
    return shown


class Progress:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    WIDTH: Final = 30

    def __init__(self, total: int, label: str, stream: TextIO | None) -> None:
        self.total = total
        self.label = label
        self.stream = stream
        self._drawn = 0.0
        self._length = 0

    def update(self, done: int) -> None:
        """Show that ``done`` of ``total`` items are finished."""
        if self.stream is None:
            return
        now = time.monotonic()
        if done < self.total and now - self._drawn < 0.1:
            return
        self._drawn = now
        share = done / self.total if self.total else 1.0
        filled = round(share * self.WIDTH)
        line = f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%} {done}/{self.total}"
        self.stream.write("\r" + line.ljust(self._length))
        self.stream.flush()
        self._length = len(line)

    def close(self) -> None:
        """Erase the bar, so what follows starts on a clean line."""
        if self.stream is not None and self._length:
            self.stream.write("\r" + " " * self._length + "\r")
            self.stream.flush()
            self._length = 0
