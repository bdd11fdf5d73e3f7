"""Whether a re-run reproduces the committed results, judged by meaning, not by bytes
(another machine may print a float's last digits differently): the engine of
``./run_all.sh --check``. A CSV is compared cell by cell (numbers within :data:`RTOL` or
:data:`ATOL`; integers such as counts, seeds, N or a certified flag, and labels such as a
solver or a verdict, exactly), a run's manifest field by field (but for
:data:`MANIFEST_IGNORED`), the report (``REPRODUCTION.md``) by the verdicts of its tables
(its prose is made from the CSVs); a figure by its CSVs, its caption file not at all (it is
made from the manifest and the profiles). Each file gives a :class:`Difference`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ATOL", "COMPARED", "RTOL", "Difference", "compare_files", "compare_folders", "verdicts"]

#: Two numbers agree when they differ by at most this share of the larger one ...
RTOL = 1e-6
#: ... or by at most this much (two values that are zero up to rounding).
ATOL = 1e-12
#: The files compared (glob patterns in the figures' folder); the report is compared too.
COMPARED = ("*.csv", "*.manifest.json")
#: Manifest fields that may differ between two runs of the same results.
MANIFEST_IGNORED = ("version",)

_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Difference:
    """What differs in one file between the committed results and the re-run.

    Attributes
    ----------
    file : str
        The file (its name in the figures' folder, or ``REPRODUCTION.md``).
    what : str
        What differs, with the first place where it does (``""``: nothing).
    largest : float
        The largest relative difference between two numbers of the file (0 where all
        numbers are equal; ``inf`` where a label, a verdict, a shape or the file itself
        differs).
    """

    file: str
    what: str
    largest: float = 0.0

    @property
    def reproduces(self) -> bool:
        return not self.what


#: A cell as a number: ``(value, the integer it is or None)``, or None for a label.
Number = tuple[float, int | None] | None


def _number(text: str) -> Number:
    """A CSV cell (or a manifest's value as JSON text: ``true`` and ``"1"`` are labels)."""
    try:
        return float(text), int(text) if _INTEGER.match(text) else None
    except ValueError:
        return None


def _cell(a: Any, b: Any, number: Callable[[Any], Number]) -> tuple[bool, float]:
    """Whether two cells agree, and their difference relative to the larger (0 within
    :data:`ATOL`, a rounding residue; ``inf`` for two labels, or a number and a label, that
    differ). Two integers must be equal."""
    if a == b:
        return True, 0.0
    x, y = number(a), number(b)
    if x is None or y is None:
        return False, math.inf
    (u, whole_a), (v, whole_b) = x, y
    scale = max(abs(u), abs(v))
    nans = math.isnan(u) and math.isnan(v)
    if nans or abs(u - v) <= ATOL:
        relative = 0.0
    else:
        relative = abs(u - v) / scale if math.isfinite(scale) and scale else math.inf
    if whole_a is not None and whole_b is not None:
        return whole_a == whole_b, relative
    return nans or abs(u - v) <= max(RTOL * scale, ATOL), relative


def _judge(
    name: str, cells: Iterable[tuple[str, Any, Any]], number: Callable[[Any], Number], unit: str,
    show: Callable[[Any], str] = str,
) -> Difference:  # fmt: skip
    """The difference of ``(place, committed, re-run)`` cells: the first that disagrees
    (and how many ``unit`` do), and the largest relative difference."""
    first, count, largest = "", 0, 0.0
    for place, a, b in cells:
        agree, relative = _cell(a, b, number)
        largest = max(largest, relative)
        if not agree:
            count += 1
            first = first or f"{place}: {show(a)} committed, {show(b)} re-run"
    more = f" ({count} {unit} differ)" if count > 1 else ""
    return Difference(name, first + more, largest)


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _compare_csv(name: str, committed: Path, rerun: Path) -> Difference:
    old, new = _rows(committed), _rows(rerun)
    if not old or not new or old[0] != new[0]:
        header = (old or [[]])[0], (new or [[]])[0]
        return Difference(
            name, f"columns differ: {header[0]} committed, {header[1]} re-run", math.inf
        )
    if len(old) != len(new):
        return Difference(
            name, f"{len(old) - 1} rows committed, {len(new) - 1} in the re-run", math.inf
        )
    cells: list[tuple[str, str, str]] = []
    for line, (a_row, b_row) in enumerate(zip(old[1:], new[1:], strict=True), start=2):
        if len(a_row) != len(b_row):
            return Difference(
                name, f"line {line}: {len(a_row)} cells committed, {len(b_row)} re-run", math.inf
            )
        # a row of another length than the header: ValueError, "cannot be read"
        cells += (
            (f"line {line}, column {column}", a, b)
            for column, a, b in zip(old[0], a_row, b_row, strict=True)
        )
    return _judge(name, cells, _number, "cells")


def _keyed(
    old: dict[Any, Any], new: dict[Any, Any], place: Callable[[Any], str] = str
) -> Iterator[tuple[str, Any, Any]]:
    """``(place, committed, re-run)`` for every key of either, in order (``(absent)``
    where one lacks it)."""
    for key in sorted(old.keys() | new.keys()):
        yield place(key), old.get(key, "(absent)"), new.get(key, "(absent)")


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _walk(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        yield path, len(value)  # a list's length is part of what it says
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, value


def _compare_manifest(name: str, committed: Path, rerun: Path) -> Difference:
    old, new = (json.loads(p.read_text(encoding="utf-8")) for p in (committed, rerun))
    for key in MANIFEST_IGNORED:
        old.pop(key, None)
        new.pop(key, None)
    cells = _keyed(dict(_walk(old)), dict(_walk(new)))
    return _judge(name, cells, lambda value: _number(json.dumps(value)), "fields", repr)


def verdicts(report: str) -> dict[tuple[str, str, str], str]:
    """Every verdict in the Markdown tables of ``report``: ``(section, row, column)`` →
    the verdict, where the column's name holds ``verdict`` and the row is named by its
    first cell."""
    found: dict[tuple[str, str, str], str] = {}
    section, header = "", None
    for line in report.splitlines():
        if line.startswith("#"):
            section, header = line.lstrip("#").strip(), None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = cells
        elif not all(set(c) <= set(":- ") for c in cells):
            for column, value in zip(header, cells, strict=False):
                if "verdict" in column.lower():
                    found[(section, cells[0], column)] = value
    return found


def _compare_report(name: str, committed: Path, rerun: Path) -> Difference:
    old, new = (verdicts(p.read_text(encoding="utf-8")) for p in (committed, rerun))
    if not old:
        return Difference(name, "no verdict table in the committed report", math.inf)
    cells = _keyed(old, new, lambda key: f"{key[2]} of {key[1]!r} ({key[0]})")
    return _judge(name, cells, lambda _: None, "verdicts", repr)


def compare_files(name: str, committed: Path, rerun: Path) -> Difference:
    """Compare one file of the committed results with the re-run's (by its kind: a CSV, a
    manifest, the report)."""
    if not rerun.exists():
        return Difference(name, "not written by the re-run", math.inf)
    if not committed.exists():
        return Difference(name, "written by the re-run, not in the committed results", math.inf)
    try:
        if name.endswith(".csv"):
            return _compare_csv(name, committed, rerun)
        if name.endswith(".manifest.json"):
            return _compare_manifest(name, committed, rerun)
        return _compare_report(name, committed, rerun)
    except (OSError, ValueError, csv.Error) as error:
        return Difference(name, f"cannot be read: {error}", math.inf)


def compare_folders(
    committed: Path, rerun: Path, *, report: tuple[Path, Path] | None = None,
    files: Iterable[str] | None = None,
) -> list[Difference]:  # fmt: skip
    """One :class:`Difference` per file of the figures' folders ``committed`` and
    ``rerun`` (``files``: these names; default every :data:`COMPARED` file of either), in
    name order, then the ``report`` pair (committed, re-run) by its verdicts if given."""
    if files is None:
        files = {p.name for folder in (committed, rerun) for g in COMPARED for p in folder.glob(g)}
    results = [compare_files(n, committed / n, rerun / n) for n in sorted(set(files))]
    if report is not None:
        results.append(compare_files("REPRODUCTION.md", *report))
    return results
