"""Benchmark suite: every store of the project against its peers and the raw limits.

    python benchmarks/run.py --docs 10000        # the full run (about 6 minutes)
    python benchmarks/run.py --quick             # under a minute
    python benchmarks/run.py --docs 1000 10000 50000 --only sb-sqlite raw-sqlite3

Each (subject, phase) runs in a fresh process (``worker.py``), ``--repeat``
times; the table shows medians, each with its ratio to the raw limit measured
in the same run. See benchmarks/README.md for what each phase and limit does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import ftpserver
import report
import workload
from catalog import subjects
from subject import PHASES, Subject, folder_size

from storagebackend.registry import backend_class
from storagebackend.urls import redact

HERE = Path(__file__).resolve().parent
#: Order of the groups in the table: each raw limit with the subjects compared with it.
LIMIT_ORDER = ("raw-dict", "raw-sqlite3", "raw-json", "raw-msgpack")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", help="document counts (default 10000; quick: 1000)")
    parser.add_argument("--repeat", type=int, help="runs of each phase, the median is shown (default 3; quick: 1)")
    parser.add_argument("--gets", type=int, help="random reads in the get phases (default 100000; quick: 20000)")
    parser.add_argument("--updates", type=int, help="update+sync samples at most (default 200; quick: 20)")
    parser.add_argument(
        "--update-budget", type=float, help="stop sampling updates after this many seconds (default 10; quick: 0.5)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: the whole run takes under a minute")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="run only these subjects")
    parser.add_argument("--skip", nargs="+", default=[], metavar="NAME", help="leave these subjects out")
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="NAME=URL[@LIMIT]",
        help="also measure our store at URL ({folder} is replaced), e.g. a server backend",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="where stores are made (default: a folder under benchmarks/results)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one phase may take")
    parser.add_argument("--json", type=Path, help="also write every figure of every repeat to this file")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument(
        "--cpu", action="store_true", help="show CPU time (this process, user + system) instead of wall-clock time"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "docs": [1000] if quick else [10_000],
        "repeat": 1 if quick else 3,
        "gets": 20_000 if quick else 100_000,
        "updates": 20 if quick else 200,
        "update_budget": 0.5 if quick else 10.0,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def ordered(found: list[Subject], args: argparse.Namespace) -> list[Subject]:
    """The subjects to run, grouped by their raw limit (the limit first in its group)."""
    chosen = [s for s in found if (not args.only or s.name in args.only) and s.name not in args.skip]
    groups = {limit: [s for s in chosen if s.limit == limit and s.name != limit] for limit in LIMIT_ORDER}
    out: list[Subject] = []
    for limit in LIMIT_ORDER:
        out += [s for s in chosen if s.name == limit] + groups[limit]
    out += [s for s in chosen if s not in out]  # no raw limit of ours (servers): last, without ratios
    return out


def phase(subject: Subject, name: str, size: int, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one phase in a fresh process; its JSON result, or {"error": ...}."""
    command = [
        sys.executable, str(HERE / "worker.py"), subject.name, name, "--docs", str(size), "--folder", str(folder),
        "--seed", str(args.seed), "--gets", str(args.gets), "--updates", str(args.updates),
        "--budget", str(args.update_budget), *(f"--url={spec}" for spec in args.url),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"{name}: timed out after {args.timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{name}: {last}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(subjects: list[Subject], size: int, work: Path, expected: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every phase of every subject once, each on a fresh store: name -> figure -> value (or "error").

    Phase by phase across the subjects, not subject by subject: a row and its raw
    limit are then measured seconds apart, not minutes, so a burst of load from
    elsewhere on the machine skews both alike.
    """
    folders = {subject.name: work / subject.name for subject in subjects}
    results: dict[str, dict[str, Any]] = {subject.name: {} for subject in subjects}
    rss = dict.fromkeys(folders, 0)
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for name in PHASES:
        for subject in subjects:
            figures, folder = results[subject.name], folders[subject.name]
            if name not in subject.phases() or "error" in figures:
                continue
            result = phase(subject, name, size, folder, args)
            if "error" in result:
                figures["error"] = result["error"]
                continue
            if "bytes" in result and result["bytes"] != expected:
                figures["error"] = f"{name} read {result['bytes']} bytes, the workload has {expected}"
                continue
            figures[name] = result["cpu"] if args.cpu else result["value"]
            figures[f"{name}_wall"], figures[f"{name}_cpu"] = result["value"], result["cpu"]
            if "samples" in result:
                figures["update_samples"] = result["samples"]
            rss[subject.name] = max(rss[subject.name], result["rss_kib"])
            if name == "create" and subject.persistent:
                figures["size"] = folder_size(folder) / 2**20
        print(f"  {size} docs: {name} done", file=sys.stderr, flush=True)
    for subject in subjects:
        if "{table}" in getattr(subject, "url", ""):  # a server row: empty its table or prefix
            result = phase(subject, "cleanup", size, folders[subject.name], args)
            if "error" in result:
                results[subject.name].setdefault("error", result["error"])
        results[subject.name]["rss"] = rss[subject.name] / 1024
        shutil.rmtree(folders[subject.name], ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    started = time.perf_counter()
    base = args.dir or HERE / "results" / "work"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    server, why_no_ftp = start_ftp(work, args)
    try:
        return run(args, work, started, why_no_ftp)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
            if server.stdout is not None:
                server.stdout.close()
        shutil.rmtree(work, ignore_errors=True)


def start_ftp(work: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[str] | None, str | None]:
    """Serve ``work`` over FTP on 127.0.0.1 for the sb-ftp-json row, if this machine can."""
    if find_spec("pyftpdlib") is None:
        return None, "pyftpdlib not installed (pip install -e '.[test]')"
    try:
        backend_class("ftp")
    except ValueError as exc:
        return None, str(exc)
    if (args.only and "sb-ftp-json" not in args.only) or "sb-ftp-json" in args.skip:
        return None, None
    server, port = ftpserver.start(work)
    user = ftpserver.USER
    args.url.append(f"sb-ftp-json=ftp://{user}:{ftpserver.PASSWORD}@127.0.0.1:{port}/{{name}}/store.json@raw-json")
    return server, None


def run(args: argparse.Namespace, work: Path, started: float, why_no_ftp: str | None) -> int:
    """Measure every chosen subject at every size; print the tables."""
    found, skipped = subjects(args.url)
    if why_no_ftp:
        skipped["sb-ftp-json"] = why_no_ftp
    chosen = ordered(found, args)
    skipped = {name: why for name, why in skipped.items() if (not args.only or name in args.only)}
    shown = {**vars(args), "url": [redact(spec) for spec in args.url]}  # no password in the results file
    everything: dict[str, Any] = {"arguments": {k: str(v) for k, v in shown.items()}, "sizes": {}}
    medians: dict[int, dict[str, dict[str, float]]] = {}
    failed = False
    for size in args.docs:
        expected = sum(len(value) for _, doc in workload.documents(size, args.seed) for value in doc.values())
        runs: dict[str, list[dict[str, Any]]] = {subject.name: [] for subject in chosen}
        errors: dict[str, str] = {name: f"skipped: {why}" for name, why in skipped.items()}
        for _ in range(args.repeat):
            measured = measure([s for s in chosen if s.name not in errors], size, work, expected, args)
            for name, figures in measured.items():
                if "error" in figures:
                    errors[name] = f"ERROR {figures['error']}"
                    failed = True
                runs[name].append(figures)
        medians[size] = {name: report.medians(figures) for name, figures in runs.items()}
        everything["sizes"][size] = {"runs": runs, "medians": medians[size]}
        rows = [(s.name, s.limit) for s in chosen] + [(name, name) for name in skipped]
        clock = "CPU time" if args.cpu else "wall-clock time"
        print(f"\n{size} documents, {clock}, median of {args.repeat} run(s); (x) = ratio to the raw limit of its group")
        print(report.table(rows, medians[size], errors, markdown=args.markdown))
    print("\nwhat a sync guarantees:")
    for subject in chosen:
        print(f"  {subject.name}: {subject.durability}")
    if len(args.docs) > 1:
        print("\nupdate+sync as the store grows (ms; ms per MiB of store: flat = linear in bytes written)")
        print(report.scaling(args.docs, medians, [s.name for s in chosen]))
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    print(f"\ntotal {time.perf_counter() - started:.1f} s; python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
