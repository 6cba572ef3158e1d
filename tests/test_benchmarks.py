"""Smoke test of the benchmark suite: the quick mode runs on tiny sizes and prints every row.

No timing is asserted (the machine is shared): only that every subject ran
or says why it was skipped, and that every scan read back the whole workload.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

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
