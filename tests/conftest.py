"""Shared fixtures: every core test runs on every core backend (memory, SQLite); real servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storagebackend as sb
from servers import (
    POSTGRES_ENV,
    REDIS_ENV,
    postgres_server,
    postgres_url,
    private_stores,
    redis_server,
    redis_url,
    stores,
)
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


# The server fixtures (real PostgreSQL and Redis, tests/servers.py), for every test module.
__all__ = ["postgres_server", "postgres_url", "private_stores", "redis_server", "redis_url", "stores"]


def pytest_report_header() -> list[str]:
    """Say in the test output which servers the server tests use."""
    from storagebackend.urls import redact

    return [
        f"{name}: {redact(os.environ[name]) if os.environ.get(name) else 'not set (a private server is started)'}"
        for name in (POSTGRES_ENV, REDIS_ENV)
    ]
