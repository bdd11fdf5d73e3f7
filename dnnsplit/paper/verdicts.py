"""One verdict function per kind of claim: rows in, a verdict level out, judged point by
point against the paper's value at each point.

The levels and the rules are stated in :mod:`dnnsplit.paper.claims` (module docstring);
tolerances come from the quantity a claim is about (:data:`~dnnsplit.paper.claims.
QUANTITIES`). No claim number appears here: every threshold comes from the claim record.
Every point is judged by one function, :func:`within`, so one number at one point is never
inside tolerance under one claim and outside under another claim with the same paper value
and quantity.

Trends are least-squares slopes in closed form, summed with :func:`math.fsum` in a fixed
order: no BLAS or LAPACK reduction decides a committed digit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit.paper.claims import LEVELS, Claim, Reads
from dnnsplit.paper.stats import same_value
from dnnsplit.policies import display_name

__all__ = [
    "VERDICTS",
    "JudgedPoint",
    "MissingInput",
    "Verdict",
    "direction_verdict",
    "frequency_verdict",
    "judge",
    "largest_verdict",
    "level",
    "ordering_verdict",
    "select",
    "select_all",
    "sign_verdict",
    "trend_slope",
    "value_verdict",
    "within",
]

REPRODUCED, PARTLY, DIRECTION_ONLY, NOT = LEVELS
#: The largest distance one point may add (an infinite gap is still a finite distance).
DISTANCE_CAP = 10.0
#: How the text names a column a claim runs along.
AXIS_NAMES = {"devices": "N", "ratio": "R", "quantum_s": "q"}


def _axis(column: str) -> str:
    return AXIS_NAMES.get(column, column)


class MissingInput(LookupError):
    """A claim's input is absent: the file, or the rows it reads (names which)."""


@dataclass(frozen=True)
class JudgedPoint:
    """One point of a claim, judged.

    Attributes
    ----------
    label : str
        Which point (``SJF, N = 10``).
    x : float
        Its place along the claim's axis.
    ours : float
        Our number there.
    paper : str
        The paper's value there, as text ("21%", "2–21%", "SJF above RR"), or "".
    holds : bool
        Within tolerance of the paper's value (value, frequency), or the stated direction,
        sign or ordering holds there.
    """

    label: str
    x: float
    ours: float
    paper: str
    holds: bool


@dataclass(frozen=True)
class Verdict:
    """The answer to one claim.

    Attributes
    ----------
    verdict : str
        One of :data:`~dnnsplit.paper.claims.LEVELS`.
    ours : str
        Our number(s) as text.
    numbers : dict
        The numbers behind ``ours`` (for ``readings.csv`` and tests): ``points`` and
        ``holding`` always; ``low``/``high``, ``slope``, ``overall`` by kind.
    distance : float
        How far our numbers are from the paper's, 0 when every point holds; it ranks
        readings ("the closest reading") and guides the readings search.
    points : tuple of JudgedPoint
        Every point, judged.
    direction : bool or None
        Whether the trend or sign the paper states holds (None: the claim states none).
    """

    verdict: str
    ours: str
    numbers: dict[str, float] = field(default_factory=dict)
    distance: float = 0.0
    points: tuple[JudgedPoint, ...] = ()
    direction: bool | None = None


def within(value: float, paper: tuple[float, float], tolerance: float) -> bool:
    """Whether ``value`` lies at most ``tolerance`` outside the paper's interval
    ``paper = (low, high)`` (a single value is ``(v, v)``; NaN is never within)."""
    low, high = paper
    return bool(low - tolerance <= value <= high + tolerance)


def level(all_hold: bool, some_hold: bool, direction: bool | None) -> str:
    """The verdict level (:mod:`dnnsplit.paper.claims`): every point within tolerance and
    the direction right; some points and the direction; only the direction; otherwise."""
    right = direction is not False
    if all_hold and right:
        return REPRODUCED
    if some_hold and right:
        return PARTLY
    if direction is True:
        return DIRECTION_ONLY
    return NOT


def _fmt(value: float, unit: str = "%") -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if unit == "%" and abs(value) >= 1000:
        return f"{value:.0f}%"
    return f"{value:.1f}{unit}"


def _paper_text(paper: tuple[float, float]) -> str:
    low, high = paper
    if low == high:
        return _fmt(low)
    if math.isinf(low):
        return f"≤ {_fmt(high)}"
    return f"{low:g}–{_fmt(high)}"


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
    return frame.sort_values([*reads.lines, reads.x], kind="stable")


def select_all(directory: str | os.PathLike[str], claim: Claim) -> pd.DataFrame:
    """Every row a claim reads, one frame: ``_source`` names the :class:`Reads` (its label),
    ``_line`` the line a row belongs to, ``_x`` and ``_value`` its place and number."""
    frames = []
    for reads in claim.reads:
        rows = select(directory, reads)
        line = [
            ", ".join(_line_part(c, v) for c, v in zip(reads.lines, key, strict=True))
            for key in rows[list(reads.lines)].itertuples(index=False)
        ]
        frames.append(
            rows.assign(
                _source=reads.label,
                _line=[", ".join(p for p in (reads.label, ln) if p) for ln in line],
                _x=rows[reads.x].to_numpy(dtype=float),
                _value=rows[reads.value].to_numpy(dtype=float),
            )
        )
    return pd.concat(frames, ignore_index=True)


def _line_part(column: str, value: Any) -> str:
    if column == "policy":
        return display_name(str(value))
    if column == "devices":
        return f"N = {value}"
    if column == "objective":
        return str(value)
    return f"{column} = {value}"


def _point_label(line: str, axis: str, x: float) -> str:
    return f"{line + ', ' if line else ''}{axis} = {x:g}"


def trend_slope(x: Any, y: Any, *, log_x: bool = False) -> float:
    """Slope of the least-squares line of y on x (or on log10 x); its sign is the trend.

    A closed form summed with :func:`math.fsum` over the points in their given order, so
    the result is the same on any machine (no BLAS/LAPACK path); 0 with fewer than two
    finite points or no spread in x.
    """
    xs = [math.log10(v) if log_x else float(v) for v in np.asarray(x, dtype=float)]
    ys = [float(v) for v in np.asarray(y, dtype=float)]
    pairs = [(a, b) for a, b in zip(xs, ys, strict=True) if math.isfinite(b)]
    if len(pairs) < 2:
        return 0.0
    mean_x = math.fsum(a for a, _ in pairs) / len(pairs)
    mean_y = math.fsum(b for _, b in pairs) / len(pairs)
    spread = math.fsum((a - mean_x) ** 2 for a, _ in pairs)
    if spread == 0:
        return 0.0
    return math.fsum((a - mean_x) * (b - mean_y) for a, b in pairs) / spread


def _direction(slope: float) -> str:
    return "grows" if slope > 0 else "shrinks" if slope < 0 else "is flat"


def _unsteady(x: Any, y: Any, slope: float) -> bool:
    """Whether a line with a (nonzero) least-squares ``slope`` fails to move that way at
    some step along x."""
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    ys = np.asarray(y, dtype=float)[order]
    steps = np.diff(ys[np.isfinite(ys)])
    steady = (slope > 0 and bool(np.all(steps > 0))) or (slope < 0 and bool(np.all(steps < 0)))
    return slope != 0 and len(steps) > 1 and not steady


def trend_words(x: Any, y: Any, slope: float, axis: str) -> str:
    """'it grows with N', or, where the line does not move that way at every step,
    'it grows with N overall (least-squares slope), not at every step'."""
    words = f"it {_direction(slope)} with {axis}"
    if _unsteady(x, y, slope):
        words += " overall (least-squares slope), not at every step"
    return words


def _trend_holds(slope: float, trend: str) -> bool:
    return (trend == "grows" and slope > 0) or (trend == "shrinks" and slope < 0)


def _defined(claim: Claim, rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows[rows["_value"].notna()]
    if rows.empty:
        raise MissingInput(
            f"{', '.join(claim.csvs)}: every value is undefined (NaN: a zero baseline, e.g. "
            "an all-local variance of 0)"
        )
    return rows


def _counted(points: Sequence[JudgedPoint], *, name: bool = True) -> str:
    holding = [p for p in points if p.holds]
    text = f"{len(holding)} of {len(points)} points"
    if name and 0 < len(holding) < len(points) and len(holding) <= 3:
        text += f" ({'; '.join(p.label for p in holding)})"
    return text


def _verdict(
    claim: Claim,
    points: list[JudgedPoint],
    text: str,
    numbers: dict[str, float],
    distance: float,
    direction: bool | None = None,
) -> Verdict:
    holding = sum(p.holds for p in points)
    numbers = {"points": float(len(points)), "holding": float(holding), **numbers}
    verdict = level(holding == len(points), holding > 0, direction)
    return Verdict(verdict, text, numbers, distance, tuple(points), direction)


def _tolerance_text(claim: Claim) -> str:
    quantity = claim.tolerance
    if claim.paper is not None and math.isinf(claim.paper.band[0]) and not quantity.tolerance:
        return "within the paper's bound"
    return f"within ±{quantity.tolerance:g} {quantity.unit} of the paper"


def value_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``value`` claim: each point within the quantity's tolerance of the paper's value
    (or band) at that point; the stated trend (per line) and sign."""
    if claim.paper is None:
        raise ValueError(f"claim {claim.id} of kind 'value' has no paper values")
    rows = _defined(claim, rows)
    tolerance = claim.tolerance.tolerance
    axis = _axis(claim.reads[0].x)
    points, outside = [], []
    for _, row in rows.iterrows():
        paper = claim.paper.at_point(row._x)
        low, high = paper
        scale = max(high - low, 1.0) if math.isfinite(high - low) else max(abs(high), 1.0)
        excess = max(0.0, low - tolerance - row._value, row._value - high - tolerance)
        outside.append(min(math.log1p(excess / scale), DISTANCE_CAP))
        points.append(
            JudgedPoint(
                _point_label(row._line, axis, row._x),
                float(row._x),
                float(row._value),
                _paper_text(paper),
                within(row._value, paper, tolerance),
            )
        )
    values = rows["_value"].to_numpy(dtype=float)
    low, high = float(np.min(values)), float(np.max(values))
    xs = rows["_x"]
    text = (
        f"{_fmt(low)} to {_fmt(high)} over {axis} = {xs.min():g}–{xs.max():g}; "
        f"{_tolerance_text(claim)} at {_counted(points)}"
    )
    numbers: dict[str, float] = {"low": low, "high": high, "tolerance": tolerance}
    checks: list[bool] = []
    if claim.trend is not None:
        slopes, described = [], []
        for line, part in rows.groupby("_line", sort=False):
            slope = trend_slope(part["_x"], part["_value"], log_x=claim.reads[0].log_x)
            slopes.append((str(line), slope))
            checks.append(_trend_holds(slope, claim.trend))
            described.append(
                f"{(str(line) + ': ') if line else ''}"
                f"{trend_words(part['_x'], part['_value'], slope, axis)}"
            )
        numbers["slope"] = slopes[0][1] if len(slopes) == 1 else math.nan
        text += "; " + "; ".join(described)
    if claim.sign == "positive":
        checks.append(low > 0)
        text += "; all above 0" if low > 0 else "; not all above 0"
    direction = all(checks) if checks else None
    distance = float(np.mean(outside)) + (direction is False)
    return _verdict(claim, points, text, numbers, distance, direction)


def frequency_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``frequency`` claim: per x, the share of cases where ``solver`` reaches
    ``reference``; a point holds when the share is at least the paper's."""
    reads = claim.reads[0]
    wide = rows.pivot_table(
        index=[reads.x, "seed"], columns="solver", values=reads.value, aggfunc="first"
    )
    if claim.solver not in wide or claim.reference not in wide:
        raise MissingInput(
            f"{reads.csv}.csv has no rows of solver {claim.solver!r} and {claim.reference!r}"
        )
    found = [
        same_value(v, ref)
        for v, ref in zip(wide[claim.solver], wide[claim.reference], strict=True)
    ]
    hits = pd.Series(found, index=wide.index, dtype=float)
    by_x = hits.groupby(level=0).mean()
    wanted, tolerance = claim.share, claim.tolerance.tolerance
    axis = _axis(reads.x)
    points = [
        JudgedPoint(
            f"{axis} = {x:g}",
            float(x),
            float(share),
            f"≥ {100 * wanted:.0f}%",
            within(share, (wanted, 1.0), tolerance),
        )
        for x, share in by_x.items()
    ]
    overall = float(hits.mean())
    text = (
        f"{claim.solver} reaches the optimum in {100 * overall:.0f}% of {len(hits)} cases "
        f"({100 * by_x.min():.0f}–{100 * by_x.max():.0f}% per {axis}, "
        f"{axis} = {by_x.index.min():g}–{by_x.index.max():g}); at least "
        f"{100 * wanted:.0f}% at {_counted(points)}"
    )
    # distance: the mean shortfall of the share below the paper's, as a fraction of it
    shortfall = float(np.mean(np.maximum(0.0, wanted - by_x.to_numpy()))) / wanted
    numbers = {"overall": overall, "low": float(by_x.min()), "high": float(by_x.max())}
    return _verdict(claim, points, text, numbers, shortfall)


def direction_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``direction`` claim: every line (``lines``) moves in the stated direction along
    ``x``; each line is a point."""
    reads = claim.reads[0]
    axis = _axis(reads.x)
    points = []
    for line, part in rows.groupby("_line", sort=True):
        slope = trend_slope(part["_x"], part["_value"], log_x=reads.log_x)
        first, last = float(part["_value"].iloc[0]), float(part["_value"].iloc[-1])
        unsteady = ", not at every step" if _unsteady(part["_x"], part["_value"], slope) else ""
        points.append(
            JudgedPoint(
                f"{line}: {first:.0f}% → {last:.0f}%{unsteady}",
                math.nan,
                slope,
                claim.trend or "",
                _trend_holds(slope, claim.trend or "grows"),
            )
        )
    verb = {"grows": "grow", "shrinks": "shrink"}.get(claim.trend or "grows", "move")
    holding = sum(p.holds for p in points)
    text = (
        f"{holding} of {len(points)} lines {verb} with {axis} "
        f"({'; '.join(p.label for p in points)})"
    )
    distance = (len(points) - holding) / len(points)
    return _verdict(claim, points, text, {}, distance)


def sign_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``sign`` claim: every point's value is above 0."""
    rows = _defined(claim, rows)
    axis = _axis(claim.reads[0].x)
    points = [
        JudgedPoint(
            _point_label(row._line, axis, row._x),
            float(row._x),
            float(row._value),
            "> 0",
            bool(row._value > 0),
        )
        for _, row in rows.iterrows()
    ]
    failing = [p for p in points if not p.holds]
    low, high = float(rows["_value"].min()), float(rows["_value"].max())
    text = f"{_fmt(low)} to {_fmt(high)}; above 0 at {_counted(points)}"
    if failing:
        worst = min(failing, key=lambda p: p.ours)
        text += f"; worst {worst.label}: {_fmt(worst.ours)}"
    distance = len(failing) / len(points)
    return _verdict(claim, points, text, {"low": low, "high": high}, distance)


def ordering_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """An ``ordering`` claim: at every x, the first policy of ``claim.policies`` is above
    the second."""
    reads = claim.reads[0]
    axis = _axis(reads.x)
    first, second = claim.policies[:2]
    wide = rows.pivot_table(index="_x", columns="policy", values="_value", aggfunc="first")
    if first not in wide or second not in wide:
        raise MissingInput(f"{reads.csv}.csv has no rows of policy {first!r} and {second!r}")
    names = display_name(first), display_name(second)
    points = [
        JudgedPoint(
            f"{axis} = {x:g}",
            float(x),
            float(a - b),
            f"{names[0]} above {names[1]}",
            bool(a > b),
        )
        for x, a, b in zip(wide.index, wide[first], wide[second], strict=True)
        if math.isfinite(a) and math.isfinite(b)
    ]
    if not points:
        raise MissingInput(f"{reads.csv}.csv: no point has both policies defined")
    text = f"{names[0]} above {names[1]} at {_counted(points)} (mean difference " + ", ".join(
        f"{p.label}: {p.ours:+.1f}" for p in points
    ) + " points)"
    distance = sum(not p.holds for p in points) / len(points)
    return _verdict(claim, points, text, {}, distance)


def largest_verdict(claim: Claim, rows: pd.DataFrame) -> Verdict:
    """A ``largest`` claim: at every x, the line ``claim.target`` (N = 10) has the largest
    value of all lines."""
    reads = claim.reads[0]
    axis = _axis(reads.x)
    line_column = reads.lines[0]
    points, margins = [], {}
    for x, part in rows.groupby("_x", sort=True):
        part = part[part["_value"].notna()]
        if part.empty:
            continue
        best = part.loc[part["_value"].idxmax()]
        target = float(claim.target) if claim.target is not None else math.nan
        theirs = part[part[line_column].astype(float) == target]
        if float(best[line_column]) != target and not theirs.empty:
            margins[float(x)] = _margin(best, theirs.iloc[0], line_column)
        points.append(
            JudgedPoint(
                f"{axis} = {x:g}",
                float(x),
                float(best[line_column]),
                _line_part(line_column, int(target) if target.is_integer() else target),
                bool(float(best[line_column]) == target),
            )
        )
    if not points:
        raise MissingInput(f"{reads.csv}.csv: every value is undefined")
    found = "; ".join(
        f"{p.label}: {_line_part(line_column, int(p.ours))}{margins.get(p.x, '')}"
        for p in points
    )
    text = f"{points[0].paper} largest at {_counted(points, name=False)} (largest: {found})"
    distance = sum(not p.holds for p in points) / len(points)
    return _verdict(claim, points, text, {}, distance)


def _margin(best: pd.Series, target: pd.Series, line_column: str) -> str:
    """' (by 1.1 points over N = 10, inside both intervals of the mean)': how far the
    largest line is above the claim's, and whether the two 95% intervals overlap."""
    text = f" (by {best['_value'] - target['_value']:.1f} points over "
    text += _line_part(line_column, int(target[line_column]))
    if {"low", "high"} <= set(best.index) and best["low"] <= target["high"]:
        text += "; their intervals of the mean overlap"
    return text + ")"


VERDICTS: dict[str, Callable[[Claim, pd.DataFrame], Verdict]] = {
    "value": value_verdict,
    "frequency": frequency_verdict,
    "direction": direction_verdict,
    "sign": sign_verdict,
    "ordering": ordering_verdict,
    "largest": largest_verdict,
}


def judge(claim: Claim, directory: str | os.PathLike[str]) -> Verdict:
    """The verdict on ``claim`` from the CSVs in ``directory`` (:class:`MissingInput` if
    its rows are absent)."""
    return VERDICTS[claim.kind](claim, select_all(directory, claim))
