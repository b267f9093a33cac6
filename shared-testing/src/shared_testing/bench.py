"""README tables from benchmark runs.

A benchmark script calls :func:`readme_row` with the header of the README table a figure belongs
to and the row's cells. The row is printed (under its header, the first time) and, when
``BENCH_README_TABLE`` names a file, appended there; ``nox -s bench-<dist>`` sets it and prints
the collected tables at the end, in the README's layout, with this run's figures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

_printed_headers: set[str] = set()


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def readme_row(header: Sequence[str], cells: Sequence[str]) -> None:
    """Print one README table row (and its header once), and collect it for the bench session."""
    if len(cells) != len(header):
        raise ValueError(f"{len(cells)} cells for a table of {len(header)} columns: {cells!r}")
    head, row = _line(header), _line(cells)
    out = [] if head in _printed_headers else [head, "|" + "---|" * len(header)]
    _printed_headers.add(head)
    print("\n".join([*out, row]))
    target = os.environ.get("BENCH_README_TABLE")
    if target:
        path = Path(target)
        collected = path.read_text() if path.exists() else ""
        lines = [] if head in collected.splitlines() else ["", head, "|" + "---|" * len(header)]
        with path.open("a") as file:
            file.write("\n".join([*lines, row]) + "\n")


def ratio_range(values: Sequence[float], digits: int = 2) -> str:
    """``0.26`` or ``0.26–0.28``: the spread of a ratio over rounds, as the READMEs write it."""
    low, high = min(values), max(values)
    text = f"{low:.{digits}f}"
    return text if f"{high:.{digits}f}" == text else f"{text}–{high:.{digits}f}"
