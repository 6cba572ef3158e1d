"""Turn a run's results into tables: medians, each with its ratio to the raw limit of the same run."""

from __future__ import annotations

import statistics
from typing import Any

#: Column heading, unit and number format of each measured figure.
COLUMNS: dict[str, tuple[str, str]] = {
    "create": ("create s", "{:.3f}"),
    "scan": ("reopen+scan s", "{:.3f}"),
    "scan_views": ("scan (views) s", "{:.3f}"),
    "scan_copy": ("scan (copy) s", "{:.3f}"),
    "get": ("get us", "{:.2f}"),
    "get_value": ("get_value us", "{:.2f}"),
    "update": ("update+sync ms", "{:.2f}"),
    "size": ("size MiB", "{:.1f}"),
    "rss": ("peak RSS MiB", "{:.0f}"),
}


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Median of each figure over the repeats (figures missing from a repeat are left out)."""
    figures: dict[str, list[float]] = {}
    for run in runs:
        for name, value in run.items():
            if isinstance(value, (int, float)):
                figures.setdefault(name, []).append(float(value))
    return {name: statistics.median(values) for name, values in figures.items()}


def cell(figure: str, value: float | None, limit: float | None) -> str:
    """``value (ratio x)``; the ratio is left out where there is no limit figure."""
    if value is None:
        return "-"
    text = COLUMNS[figure][1].format(value)
    if limit:
        text += f" ({value / limit:.2f}x)"
    return text


def table(
    rows: list[tuple[str, str]],
    results: dict[str, dict[str, float]],
    errors: dict[str, str],
    markdown: bool = False,
) -> str:
    """One row per subject (name, limit name), one column per figure."""
    figures = [figure for figure in COLUMNS if any(figure in results.get(name, {}) for name, _ in rows)]
    header = ["subject", *(COLUMNS[figure][0] for figure in figures)]
    lines: list[list[str]] = []
    for name, limit in rows:
        if name in errors:
            lines.append([name, errors[name]])
            continue
        mine = results.get(name, {})
        theirs = results.get(limit, {}) if limit != name else {}
        lines.append([name, *(cell(figure, mine.get(figure), theirs.get(figure)) for figure in figures)])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        out += ["| " + " | ".join(line + [""] * (len(header) - len(line))) + " |" for line in lines]
        return "\n".join(out)
    full = [line for line in [header, *lines] if len(line) == len(header)]
    widths = [max(len(line[i]) for line in full) for i in range(len(header))]
    return "\n".join(_aligned(line, widths) for line in [header, *lines])


def _aligned(line: list[str], widths: list[int]) -> str:
    if len(line) < len(widths):  # an error or skip: the name, then the reason
        return f"{line[0].ljust(widths[0])}  {' '.join(line[1:])}"
    return "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()


def scaling(sizes: list[int], results: dict[int, dict[str, dict[str, float]]], names: list[str]) -> str:
    """update+sync per size, and for stores on disk ms per MiB of store (flat = linear in bytes written)."""
    header = ["subject", *(f"update ms @{size}" for size in sizes), *(f"ms/MiB @{size}" for size in sizes)]
    lines = [header]
    for name in names:
        line = [name]
        per_size = [results[size].get(name, {}) for size in sizes]
        line += [f"{figures['update']:.2f}" if "update" in figures else "-" for figures in per_size]
        line += [
            f"{figures['update'] / figures['size']:.2f}" if figures.get("size") and "update" in figures else "-"
            for figures in per_size
        ]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(_aligned(line, widths) for line in lines)
