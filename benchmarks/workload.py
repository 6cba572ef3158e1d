"""The "notes" workload: D documents of five keys, deterministic from a seed.

Each document holds ``title`` (~40 bytes of UTF-8 text, some of it non-ASCII),
``body`` (~1,000 bytes of text), ``date`` (20 bytes, ISO 8601), ``tags``
(~50 bytes) and ``blob`` (256 random bytes that are never valid UTF-8, so text
codecs must take their binary path). The same seed gives the same documents,
the same random reads and the same updates in every process.
"""

from __future__ import annotations

import base64
import random
import uuid
from typing import Any, Final

KEYS: Final = ("title", "body", "date", "tags", "blob")

# Short words; a few are non-ASCII, so the text is real UTF-8 and not just ASCII.
_WORDS: Final = [
    "note",
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "data",
    "store",
    "file",
    "disk",
    "page",
    "line",
    "word",
    "list",
    "key",
    "value",
    "sync",
    "open",
    "close",
    "read",
    "write",
    "café",
    "naïve",
    "über",
    "straße",
    "Grüße",
    "déjà",
    "façade",
    "smörgåsbord",
    "jalapeño",
    "señor",
    "garçon",
    "coöperate",
    "élan",
    "日本",
    "東京",
    "данные",
    "ключ",
    "значение",
    "λόγος",
    "δεδομένα",
]
_TAGS: Final = ("work", "home", "draft", "todo", "idea", "urgent", "later", "review", "travel", "books")


def _text(rng: random.Random, size: int) -> bytes:
    """About ``size`` bytes of words, cut at a character boundary."""
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word.encode()) + 1
    return " ".join(words).encode()


def _blob(rng: random.Random) -> bytes:
    """256 random bytes; the leading 0xFF makes them invalid UTF-8 whatever follows."""
    return b"\xff" + rng.randbytes(255)


def make_document(rng: random.Random) -> dict[str, bytes]:
    """One note: title, body, date, tags and blob."""
    return {
        "title": _text(rng, 38),
        "body": _text(rng, 1000),
        "date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z".encode(),
        "tags": ",".join(rng.sample(_TAGS, 7)).encode()[:50],
        "blob": _blob(rng),
    }


def make_uid(rng: random.Random) -> str:
    """A random uuid4 as 32 lower-case hex digits."""
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def documents(count: int, seed: int) -> list[tuple[str, dict[str, bytes]]]:
    """``count`` (uid, document) pairs, the same for the same seed."""
    rng = random.Random(seed)
    return [(make_uid(rng), make_document(rng)) for _ in range(count)]


def reads(uid_list: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` random (uid, key) pairs over the given uids."""
    rng = random.Random(seed + 1)
    return [(rng.choice(uid_list), rng.choice(KEYS)) for _ in range(count)]


def updates(uid_list: list[str], count: int, seed: int) -> list[tuple[str, str, bytes]]:
    """``count`` random (uid, key, new value) changes; each value is of the key's kind and size."""
    rng = random.Random(seed + 2)
    changes = []
    for _ in range(count):
        key = rng.choice(KEYS)
        value = make_document(rng)[key]
        changes.append((rng.choice(uid_list), key, value))
    return changes


def json_value(value: bytes) -> Any:
    """A value as our JSON codec writes it: text as a string, other bytes as ``{"base64": ...}``."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def bytes_value(value: Any) -> bytes:
    """The inverse of :func:`json_value`."""
    return value.encode("utf-8") if type(value) is str else base64.b64decode(value["base64"])
