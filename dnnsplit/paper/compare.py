"""Whether a re-run reproduces the committed results, judged by meaning, not by bytes:
the engine of ``./run_all.sh --check``.

A re-run on another machine, with other library builds, may print the last digits of a
float differently; that is not a different result, and a byte comparison would call it
one. Here every file of the results is compared by what it says:

- a CSV, cell by cell: two numbers agree within a relative :data:`RTOL` of the larger
  (or an absolute :data:`ATOL`, a rounding residue near zero); two integers (counts,
  seeds, N, a certified flag's 0 or 1) and two labels (a solver, a policy, a verdict in
  ``readings.csv``) must be equal;
- the report (``REPRODUCTION.md``): every verdict of its tables (a column named
  ``verdict``), exactly; its prose is made from the CSVs, which are compared;
- a run's manifest (``*.manifest.json``: its setup, grids, seeds): every field, numbers
  within the tolerance; the package version that wrote it is not compared;
- a figure (PNG, PDF) by its CSVs, and its caption file not at all (it is made from the
  manifest and the profiles).

Each difference is a :class:`Difference`: the file, what differs (the first cell beyond
the tolerance, by line and column), and the largest difference found in that file.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ATOL",
    "COMPARED",
    "RTOL",
    "Difference",
    "compare_files",
    "compare_folders",
    "verdicts",
]

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


def _relative(a: float, b: float) -> float:
    """The difference of ``a`` and ``b`` relative to the larger (0 for a difference within
    :data:`ATOL`, a rounding residue)."""
    if a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= ATOL:
        return 0.0
    scale = max(abs(a), abs(b))
    return math.inf if not math.isfinite(scale) else abs(a - b) / scale


def _agree(a: float, b: float, rtol: float) -> bool:
    return (
        a == b
        or (math.isnan(a) and math.isnan(b))
        or abs(a - b) <= max(rtol * max(abs(a), abs(b)), ATOL)
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _cell(committed: str, rerun: str, rtol: float) -> tuple[bool, float]:
    """Whether two cells agree, and their relative difference (``inf`` for two labels, or
    a number and a label, that differ)."""
    if committed == rerun:
        return True, 0.0
    a, b = _number(committed), _number(rerun)
    if a is None or b is None:
        return False, math.inf
    if _INTEGER.match(committed) and _INTEGER.match(rerun):
        return int(committed) == int(rerun), _relative(a, b)
    return _agree(a, b, rtol), _relative(a, b)


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _compare_csv(name: str, committed: Path, rerun: Path, rtol: float) -> Difference:
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
    columns = old[0]
    first, count, largest = "", 0, 0.0
    for line, (a_row, b_row) in enumerate(zip(old[1:], new[1:], strict=True), start=2):
        if len(a_row) != len(b_row):
            return Difference(
                name, f"line {line}: {len(a_row)} cells committed, {len(b_row)} re-run", math.inf
            )
        for column, a, b in zip(columns, a_row, b_row, strict=True):
            agree, relative = _cell(a, b, rtol)
            largest = max(largest, relative)
            if not agree:
                count += 1
                if not first:
                    first = f"line {line}, column {column}: {a} committed, {b} re-run"
    if not count:
        return Difference(name, "", largest)
    more = f" ({count} cells differ)" if count > 1 else ""
    return Difference(name, first + more, largest)


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


def _compare_manifest(name: str, committed: Path, rerun: Path, rtol: float) -> Difference:
    old, new = (json.loads(p.read_text(encoding="utf-8")) for p in (committed, rerun))
    for key in MANIFEST_IGNORED:
        old.pop(key, None)
        new.pop(key, None)
    a, b = dict(_walk(old)), dict(_walk(new))
    first, count, largest = "", 0, 0.0
    for field in sorted(a.keys() | b.keys()):
        x, y = a.get(field, "(absent)"), b.get(field, "(absent)")
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
            relative = _relative(float(x), float(y))
            exact = isinstance(x, int) and isinstance(y, int)
            agree = x == y if exact else _agree(float(x), float(y), rtol)
        else:
            agree = x == y
            relative = 0.0 if agree else math.inf
        largest = max(largest, relative)
        if not agree:
            count += 1
            first = first or f"{field}: {x!r} committed, {y!r} re-run"
    if not count:
        return Difference(name, "", largest)
    more = f" ({count} fields differ)" if count > 1 else ""
    return Difference(name, first + more, largest)


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
    differing = [k for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
    if not differing:
        return Difference(name, "", 0.0)
    section, row, column = differing[0]
    more = f" ({len(differing)} verdicts differ)" if len(differing) > 1 else ""
    return Difference(
        name,
        f"{column} of {row!r} ({section}): {old.get(differing[0], '(absent)')!r} committed, "
        f"{new.get(differing[0], '(absent)')!r} re-run{more}",
        math.inf,
    )


def compare_files(name: str, committed: Path, rerun: Path, *, rtol: float = RTOL) -> Difference:
    """Compare one file of the committed results with the re-run's (by its kind: a CSV, a
    manifest, the report)."""
    if not rerun.exists():
        return Difference(name, "not written by the re-run", math.inf)
    if not committed.exists():
        return Difference(name, "written by the re-run, not in the committed results", math.inf)
    try:
        if name.endswith(".csv"):
            return _compare_csv(name, committed, rerun, rtol)
        if name.endswith(".manifest.json"):
            return _compare_manifest(name, committed, rerun, rtol)
        return _compare_report(name, committed, rerun)
    except (OSError, ValueError, csv.Error) as error:
        return Difference(name, f"cannot be read: {error}", math.inf)


def compare_folders(
    committed: Path,
    rerun: Path,
    *,
    report: tuple[Path, Path] | None = None,
    files: Iterable[str] | None = None,
    rtol: float = RTOL,
) -> list[Difference]:
    """Compare the results in ``committed`` with those in ``rerun`` (two figures'
    folders), file by file.

    Parameters
    ----------
    committed, rerun : Path
        The figures' folders.
    report : (Path, Path), optional
        The committed report and the re-run's, compared by their verdicts.
    files : iterable of str, optional
        The names to compare (default: every :data:`COMPARED` file of either folder).
    rtol : float
        The relative tolerance of two numbers.

    Returns
    -------
    list of Difference
        One per file, in name order (the report last); ``reproduces`` says whether it
        does.
    """
    if files is None:
        names = {p.name for folder in (committed, rerun) for g in COMPARED for p in folder.glob(g)}
    else:
        names = set(files)
    results = [compare_files(n, committed / n, rerun / n, rtol=rtol) for n in sorted(names)]
    if report is not None:
        results.append(compare_files("REPRODUCTION.md", *report, rtol=rtol))
    return results
