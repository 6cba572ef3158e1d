"""Shared fixtures: every core test runs on every core backend (memory, SQLite)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storagebackend as sb
from storagebackend.storage import Storage

CORE_BACKENDS = ["memory", "sqlite"]


def core_url(kind: str, folder: Path) -> str:
    """A URL of the kind of store named, inside ``folder``."""
    return "memory://" if kind == "memory" else f"sqlite:///{folder}/store.db"


@pytest.fixture(params=CORE_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """An open, empty store of each core backend."""
    with sb.open(core_url(request.param, tmp_path)) as opened:
        yield opened


@pytest.fixture(params=CORE_BACKENDS)
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Storage]:
    """Opens the same persistent store again and again (memory:// is skipped where reopening matters)."""
    url = core_url(request.param, tmp_path)

    def opener(flag: str = "c", **options: object) -> Storage:
        return sb.open(url, flag=flag, **options)

    opener.persistent = request.param != "memory"  # type: ignore[attr-defined]
    return opener
