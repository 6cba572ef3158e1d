"""The codec plugins' tests in the project's own test run (``pytest`` at the top of the repository).

Each folder here is a package installed on its own; the README's test command
installs them all (``pip install ./codecs/*/``) and its tests import the
installed module, as a user's would. A plugin that is not installed has its
tests skipped, naming the command that installs it; with ``CI=true`` they fail
instead, so a CI run never passes by skipping. (Inside a plugin's folder,
``pytest`` runs its tests alone, without this file.)
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _modules(folder: Path) -> list[str]:
    """The modules a plugin package installs (its pyproject's ``py-modules``)."""
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    return list(project["tool"]["setuptools"]["py-modules"])


class NotInstalled(pytest.Module):
    """A plugin's test module whose plugin is not installed: skipped, or under CI=true failed."""

    plugin: Path

    def collect(self) -> Iterable[pytest.Item]:
        reason = f"the codec plugin {self.plugin.name} is not installed: pip install ./codecs/{self.plugin.name}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI=true: a missing plugin fails the run)", pytrace=False)
        pytest.skip(reason)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """The test module as usual when its plugin is installed; a NotInstalled one otherwise."""
    plugin = HERE / module_path.relative_to(HERE).parts[0]
    if all(importlib.util.find_spec(module) is not None for module in _modules(plugin)):
        return None
    collector = NotInstalled.from_parent(parent, path=module_path)
    collector.plugin = plugin
    return collector
