"""Smoke test of the benchmark suite: the quick mode runs on tiny sizes and prints every row.

No timing is asserted (the machine is shared): only that every subject ran
or says why it was skipped, and that every scan read back the whole workload;
and that the server rows of one run keep to a store of their own, removed after.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from helpers.servers import Stores
from storagebackend.registry import known_codecs

ROOT = Path(__file__).resolve().parent.parent
PEERS = {"sqlitedict": "sqlitedict", "diskcache": "diskcache", "tinydb": "tinydb", "shelve": "shelve"}
LIMITS = ("raw-dict", "raw-sqlite3", "raw-json", "raw-msgpack")


def test_quick_run_prints_every_row(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--docs", "50", "--repeat", "1",
            "--gets", "500", "--updates", "3", "--update-budget", "0.05",
            "--dir", str(tmp_path), "--json", str(results),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    ours = ["sb-memory", "sb-sqlite", "sb-ftp-json", "sb-postgresql", "sb-redis"]
    ours += [f"sb-{name}" for name in known_codecs()]
    for name in [*ours, *PEERS, *LIMITS]:
        assert name in rows, f"no row for {name}:\n{done.stdout}"
        assert "ERROR" not in rows[name]
    # Every subject that can run here has figures; only missing optional modules are skipped.
    for name in ["sb-memory", "sb-sqlite", "sb-json", "sb-ftp-json", "raw-dict", "raw-sqlite3", "raw-json", "shelve"]:
        assert "skipped" not in rows[name], rows[name]
    for name, module in PEERS.items():
        assert ("skipped" in rows[name]) == (find_spec(module) is None), rows[name]
    medians = json.loads(results.read_text())["sizes"]["50"]["medians"]
    assert medians["sb-sqlite"].keys() >= {
        "create",
        "scan",
        "scan_views",
        "scan_copy",
        "get",
        "get_value",
        "update",
        "size",
        "rss",
    }
    assert medians["sb-memory"].keys() >= {"create", "get", "get_value", "update", "rss"}


@pytest.mark.parametrize("kind", ["postgresql", "redis"])
def test_a_server_row_uses_a_store_of_its_own_run_and_removes_it(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    """Two runs on one shared server (other engineers, CI jobs) each keep to their own table or prefix.

    The rows used fixed names (``bench_sb_postgresql``): a second run's create (flag "n")
    emptied the first run's store, and cleanup left an empty store behind.
    """
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import ours

    base_url = request.getfixturevalue("postgres_url" if kind == "postgresql" else "redis_url")
    server = Stores(kind, base_url)
    subject = ours.OurStore(f"sb-{kind}", f"{base_url}?{server.option}={{table}}", "", "")
    first, second = tmp_path / "run-1" / subject.name, tmp_path / "run-2" / subject.name  # one row, two runs
    for folder in (first, second):
        folder.mkdir(parents=True)
        request.addfinalizer(lambda folder=folder: server.drop(ours.server_name(folder)))
    subject.create(first, [("1" * 32, {"k": b"first run"})])
    subject.create(second, [("2" * 32, {"k": b"2nd"})])
    assert subject.scan(first) == len(b"first run")  # untouched by the second run
    assert subject.scan(second) == len(b"2nd")
    for folder in (first, second):
        subject.cleanup(folder)
        assert not server.exists(ours.server_name(folder))


def test_transforms_quick_run_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "transforms.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("gzip 6 (used)", "xz 6 (used)", "zstd 3 (used)"):
        assert done.stdout.count(name) == 2, done.stdout  # the JSON and the msgpack store
    for figure in ("file envelope of the JSON store", "one value of", "scrypt N=2**10"):
        assert figure in done.stdout, done.stdout
