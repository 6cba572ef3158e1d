"""Run one phase of one subject in this (fresh) process; print the result as JSON on stdout.

    python benchmarks/worker.py SUBJECT PHASE --docs N --folder DIR [...]

Only the phase itself is timed: generating the workload, opening the store for
``get``/``update`` and preparing the reads happen before the clock starts.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import workload
from catalog import by_name


def run(args: argparse.Namespace) -> dict[str, Any]:
    subject = by_name(args.subject, args.url)
    subject.warm()
    folder = Path(args.folder)
    phase = args.phase
    result: dict[str, Any] = {}
    if phase in ("scan", "scan_views", "scan_copy"):
        scan = subject.scan if phase == "scan" else getattr(subject, phase)
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        result["bytes"] = scan(folder)
        result["value"], result["cpu"] = time.perf_counter() - start, time.process_time() - cpu
        return result
    if phase == "cleanup":
        subject.cleanup(folder)
        return {"value": 0.0, "cpu": 0.0}
    docs = workload.documents(args.docs, args.seed)
    gc.collect()
    if phase == "create":
        start, cpu = time.perf_counter(), time.process_time()
        subject.create(folder, docs)
        result["value"], result["cpu"] = time.perf_counter() - start, time.process_time() - cpu
        return result
    subject.open(folder, docs)
    uids = [uid for uid, _ in docs]
    if phase in ("get", "get_value"):
        reads = subject.prepare(workload.reads(uids, args.gets, args.seed))
        get = subject.get if phase == "get" else subject.get_value  # type: ignore[attr-defined]
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        get(reads)
        result["value"] = (time.perf_counter() - start) / len(reads) * 1e6  # microseconds per read
        result["cpu"] = (time.process_time() - cpu) / len(reads) * 1e6
    elif phase == "update":
        times, cpus = [], []
        spent = 0.0
        for uid, key, value in workload.updates(uids, args.updates, args.seed):
            start, cpu = time.perf_counter(), time.process_time()
            subject.update(uid, key, value)
            took = time.perf_counter() - start
            cpus.append(time.process_time() - cpu)
            times.append(took)
            spent += took
            if spent > args.budget and len(times) >= 5:
                break
        result["value"] = statistics.median(times) * 1e3  # milliseconds
        result["cpu"] = statistics.median(cpus) * 1e3
        result["samples"] = len(times)
    else:
        raise SystemExit(f"unknown phase {phase!r}")
    subject.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("subject")
    parser.add_argument("phase")
    parser.add_argument("--docs", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gets", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--budget", type=float, default=10.0, help="stop updating after this many seconds")
    parser.add_argument("--url", action="append", default=[])
    result = run(parser.parse_args())
    result["rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
