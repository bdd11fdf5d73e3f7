"""One verdict function per kind of claim: rows in, ``reproduced`` / ``partly`` /
``not reproduced`` out, with our number as text and the numbers behind it.

The rules are stated in :mod:`dnnsplit.paper.claims` (module docstring) and their
thresholds in :data:`~dnnsplit.paper.claims.RULES`; no claim number appears here: every
threshold comes from the claim record.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit.paper.claims import RULES, Claim, Reads
from dnnsplit.paper.stats import same_value

__all__ = [
    "VERDICTS",
    "MissingInput",
    "Verdict",
    "bound_verdict",
    "direction_verdict",
    "frequency_verdict",
    "judge",
    "range_verdict",
    "select",
    "trend_slope",
]

REPRODUCED, PARTLY, NOT = "reproduced", "partly", "not reproduced"
#: The largest distance one term may add (an infinite gap is still a finite distance).
DISTANCE_CAP = 10.0
#: How the text names a column a claim runs along.
AXIS_NAMES = {"devices": "N", "ratio": "R", "quantum_s": "q"}


def _axis(column: str) -> str:
    return AXIS_NAMES.get(column, column)


class MissingInput(LookupError):
    """A claim's input is absent: the file, or the rows it reads (names which)."""


@dataclass(frozen=True)
class Verdict:
    """The answer to one claim.

    Attributes
    ----------
    verdict : str
        ``reproduced``, ``partly`` or ``not reproduced``.
    ours : str
        Our number(s) as text.
    numbers : dict
        The numbers behind ``ours`` (for ``readings.csv`` and tests).
    distance : float
        How far our numbers are from the paper's, 0 when reproduced (see each kind); it
        ranks readings ("the closest reading") and guides the readings search.
    """

    verdict: str
    ours: str
    numbers: dict[str, float] = field(default_factory=dict)
    distance: float = 0.0


def _fmt(value: float, unit: str = "%") -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.1f}{unit}"


def select(directory: str | os.PathLike[str], reads: Reads) -> pd.DataFrame:
    """The rows ``reads`` names, from ``directory``; :class:`MissingInput` if none."""
    path = Path(directory) / f"{reads.csv}.csv"
    if not path.exists():
        raise MissingInput(f"{path.name} is missing")
    frame = pd.read_csv(path)
    for column, wanted in reads.rows.items():
        if column not in frame:
            raise MissingInput(f"{path.name} has no column {column!r}")
        frame = frame[frame[column] == wanted]
    for column in (reads.x, reads.value, *reads.lines):
        if column not in frame:
            raise MissingInput(f"{path.name} has no column {column!r}")
    if frame.empty:
        wanted = ", ".join(f"{k} = {v}" for k, v in reads.rows.items())
        raise MissingInput(f"{path.name} has no rows with {wanted}")
    return frame.sort_values(reads.x, kind="stable")


def trend_slope(x: Any, y: Any, *, log_x: bool = False) -> float:
    """Slope of the least-squares line of y on x (or on log10 x); its sign is the trend."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if log_x:
        x = np.log10(x)
    keep = np.isfinite(y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0:
        return 0.0
    return float(np.polyfit(x[keep], y[keep], 1)[0])


def _direction(slope: float) -> str:
    return "grows" if slope > 0 else "shrinks" if slope < 0 else "is flat"


def _trend_holds(slope: float, trend: str) -> bool:
    return (trend == "grows" and slope > 0) or (trend == "shrinks" and slope < 0)


def _verdict(checks: list[bool]) -> str:
    return REPRODUCED if all(checks) else PARTLY if any(checks) else NOT


def range_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``range`` claim: inside the widened range, the stated trend, the stated sign."""
    reads = claim.reads
    rows = rows[rows[reads.value].notna()]
    if rows.empty:
        raise MissingInput(
            f"{reads.csv}.csv: every value is undefined (NaN: a zero baseline, e.g. an "
            "all-local variance of 0)"
        )
    values = rows[reads.value].to_numpy(dtype=float)
    x = rows[reads.x].to_numpy()
    if reads.span == "ends":
        first, last = float(values[0]), float(values[-1])
        low, high = min(first, last), max(first, last)
        axis = _axis(reads.x)
        span = f"{_fmt(first)} at {axis} = {x[0]:g} to {_fmt(last)} at {axis} = {x[-1]:g}"
    else:
        low, high = float(np.min(values)), float(np.max(values))
        span = (
            f"{_fmt(low)} to {_fmt(high)} (means over seeds, "
            f"{_axis(reads.x)} = {x.min():g}–{x.max():g})"
        )
    paper_low, paper_high = claim.numbers["low"], claim.numbers["high"]
    slack = (
        claim.slack
        if claim.slack is not None
        else max(RULES["range_slack_points"], RULES["range_slack_fraction_of_high"] * paper_high)
    )
    checks = [low >= paper_low - slack and high <= paper_high + slack]
    slope = trend_slope(x, values, log_x=reads.log_x)
    text = span
    if claim.trend is not None:
        checks.append(_trend_holds(slope, claim.trend))
        text += f"; it {_direction(slope)} with {_axis(reads.x)}"
    if claim.sign == "positive":
        checks.append(low > 0)
    numbers = {"low": low, "high": high, "slope": slope, "slack": float(slack)}
    # distance: how far our range lies outside the widened one, in widths of the paper's
    # range, plus 1 for each other check that fails
    width = max(paper_high - paper_low, 1.0)
    outside = max(0.0, paper_low - slack - low) + max(0.0, high - paper_high - slack)
    distance = min(outside / width, DISTANCE_CAP) + sum(not ok for ok in checks[1:])
    return Verdict(_verdict(checks), text, numbers, distance)


def bound_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``bound`` claim: the worst mean within the bound, or at least the median."""
    values = rows[claim.reads.value].to_numpy(dtype=float)
    x = rows[claim.reads.x].to_numpy()
    bound = claim.numbers["bound"]
    worst, median, best = float(np.max(values)), float(np.median(values)), float(np.min(values))
    verdict = REPRODUCED if worst <= bound else PARTLY if median <= bound else NOT
    # distance: decades beyond the bound
    distance = 0.0 if worst <= bound else min(math.log10(worst / bound), DISTANCE_CAP)
    text = (
        f"mean {_fmt(best)} to {_fmt(worst)} over {_axis(claim.reads.x)} = {x.min():g}–{x.max():g}"
    )
    return Verdict(verdict, text, {"best": best, "median": median, "worst": worst}, distance)


def direction_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``direction`` claim: how many lines move in the stated direction along ``x``."""
    reads = claim.reads
    parts = []
    groups = rows.groupby(list(reads.lines), sort=True) if reads.lines else [((), rows)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        part = part.sort_values(reads.x)
        slope = trend_slope(part[reads.x], part[reads.value], log_x=reads.log_x)
        label = "/".join(str(k).upper() if k in ("sjf", "rr", "ps") else str(k) for k in key)
        first, last = float(part[reads.value].iloc[0]), float(part[reads.value].iloc[-1])
        parts.append((label, _trend_holds(slope, claim.trend or "grows"), first, last))
    holding = sum(ok for _, ok, _, _ in parts)
    verdict = REPRODUCED if holding == len(parts) else PARTLY if holding else NOT
    detail = "; ".join(f"{label}: {first:.0f}% → {last:.0f}%" for label, _, first, last in parts)
    verb = {"grows": "grow", "shrinks": "shrink"}.get(claim.trend or "grows", "move")
    text = f"{holding} of {len(parts)} lines {verb} with {_axis(reads.x)} ({detail})"
    numbers = {"lines": float(len(parts)), "holding": float(holding)}
    return Verdict(verdict, text, numbers, (len(parts) - holding) / len(parts))


def frequency_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``frequency`` claim: the share of cases where ``solver`` reaches ``reference``."""
    reads = claim.reads
    wide = rows.pivot_table(
        index=[reads.x, "seed"], columns="solver", values=reads.value, aggfunc="first"
    )
    if claim.solver not in wide or claim.reference not in wide:
        raise MissingInput(
            f"{reads.csv}.csv has no rows of solver {claim.solver!r} and {claim.reference!r}"
        )
    found = [
        same_value(v, ref, relative=RULES["same_value_relative"])
        for v, ref in zip(wide[claim.solver], wide[claim.reference], strict=True)
    ]
    hits = pd.Series(found, index=wide.index, dtype=float)
    by_x = hits.groupby(level=0).mean()
    wanted = claim.numbers["share"]
    meeting = int((by_x >= wanted).sum())
    verdict = REPRODUCED if meeting == len(by_x) else PARTLY if meeting else NOT
    overall = float(hits.mean())
    text = (
        f"{claim.solver} reaches the optimum in {100 * overall:.0f}% of {len(hits)} cases "
        f"({100 * by_x.min():.0f}–{100 * by_x.max():.0f}% per {_axis(reads.x)}, "
        f"{_axis(reads.x)} = {by_x.index.min():g}–{by_x.index.max():g})"
    )
    lowest = float(by_x.min())
    # distance: the mean shortfall of the share below the paper's, as a fraction of it
    shortfall = float(np.mean(np.maximum(0.0, wanted - by_x.to_numpy()))) / wanted
    return Verdict(
        verdict,
        text,
        {"overall": overall, "lowest": lowest, "highest": float(by_x.max())},
        shortfall,
    )


VERDICTS: dict[str, Callable[[Claim, pd.DataFrame], Verdict]] = {
    "range": range_verdict,
    "bound": bound_verdict,
    "direction": direction_verdict,
    "frequency": frequency_verdict,
}


def judge(claim: Claim, directory: str | os.PathLike[str]) -> Verdict:
    """The verdict on ``claim`` from the CSVs in ``directory`` (:class:`MissingInput` if
    its rows are absent)."""
    return VERDICTS[claim.kind](claim, select(directory, claim.reads))
