"""The verdict on each claim: its points judged one by one against the paper's value there,
a level by the rules of :data:`dnnsplit.paper.claims.RULES`, and how robust that level is.

A claim's per-seed rows (:class:`Evidence`) are reduced over seeds by its statistic, then
judged point by point by its kind's function (:data:`VERDICTS`; the sign first, then the
tolerance, so one number at one point has one status under every claim). Every array carries
a leading axis of *variants*: the full set of seeds, then what :func:`robustness` tries (the
median, other tolerances, bootstrap resamples). Trends are least-squares slopes in closed
form, summed in a fixed order: no BLAS reduction decides a committed digit.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit.paper.claims import LEVELS, Claim, Reads
from dnnsplit.paper.stats import gap_pct, same_value, where
from dnnsplit.paper.text import percent
from dnnsplit.policies import display_name

__all__ = [
    "RESAMPLES",
    "VERDICTS",
    "Evidence",
    "Folder",
    "JudgedPoint",
    "MissingInput",
    "Robustness",
    "Verdict",
    "evidence",
    "judge",
    "level",
    "reduce",
    "robustness",
    "trend_slope",
    "trend_words",
    "within",
]

#: The levels' indices in :data:`LEVELS`.
REPRODUCED, PARTLY, DIRECTION_ONLY, NOT = range(len(LEVELS))
#: The largest distance one point may add (an infinite gap is still a finite distance).
DISTANCE_CAP = 10.0
#: How the text names a column a claim runs along.
AXIS_NAMES = {"devices": "N", "ratio": "R", "quantum_s": "q"}
#: Bootstrap resamples of the seeds behind each verdict's robustness, and their seed.
RESAMPLES = 200
RESAMPLE_SEED = 0
#: A verdict is robust when at most this share of the resamples gives another level.
ROBUST_SHARE = 0.05


class MissingInput(LookupError):
    """A claim's input is absent: the file, or the rows it reads (names which)."""


class Folder:
    """The CSVs of one folder, each read once (a claim names them by stem)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory)
        self._frames: dict[str, pd.DataFrame] = {}

    def frame(self, stem: str) -> pd.DataFrame:
        """``stem.csv`` as a frame; :class:`MissingInput` naming the file when it is absent,
        empty or unreadable."""
        if stem not in self._frames:
            path = self.path / f"{stem}.csv"
            if not path.exists():
                raise MissingInput(f"{path.name} is missing")
            try:
                self._frames[stem] = pd.read_csv(path)
            except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as err:
                raise MissingInput(f"{path.name} cannot be read: {err}") from None
        return self._frames[stem]


# --- the evidence: per point, per seed ----------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """The per-seed numbers behind a claim's points.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per point, in a fixed order (line, then x): ``_line`` (its line, as text),
        ``_x`` (its place along the axis), ``_label`` (``SJF, N = 10``), ``_key`` (what the
        point is, whichever claim reads it) and the line columns.
    ours, reference : numpy.ndarray
        ``(points, seeds)``: our number per point and seed (NaN where a seed is absent), and
        the reference's (the optimum's; None unless the statistic is paired).
    statistic : str
        How the seeds are reduced (:data:`~dnnsplit.paper.claims.STATISTICS`).
    """

    points: pd.DataFrame
    ours: np.ndarray
    reference: np.ndarray | None
    statistic: str

    @property
    def seeds(self) -> int:
        return int(self.ours.shape[1])


_LINE_PARTS: dict[str, Callable[[Any], str]] = {
    "policy": lambda value: display_name(str(value)),
    "devices": lambda value: f"N = {value}",
    "network": lambda value: str(value).removeprefix("network-"),
    "objective": str,
}


def _line_part(column: str, value: Any) -> str:
    return _LINE_PARTS.get(column, lambda v: f"{column} = {v}")(value)


def _per_seed(folder: Folder, reads: Reads) -> pd.DataFrame:
    """The rows ``reads`` names: one row per point that has rows (line, then x), one column
    per seed (a NaN value stays: the point is shown, and fails); :class:`MissingInput`
    naming the file and the column or rows that are missing."""
    frame, name = folder.frame(reads.csv), f"{reads.csv}.csv"
    for column in (*reads.rows, reads.x, *reads.lines):
        if column not in frame:
            raise MissingInput(f"{name} has no column {column!r}")
    frame = where(frame, **reads.rows)
    if reads.x_in:
        frame = frame[frame[reads.x].astype(float).isin(reads.x_in)]
    if frame.empty:
        wanted = ", ".join(f"{k} = {v}" for k, v in reads.rows.items())
        raise MissingInput(f"{name} has no rows with {wanted}")
    if "seed" not in frame:
        raise MissingInput(f"{name} has no column 'seed'")
    grouped = frame.groupby([*reads.lines, reads.x, "seed"], sort=True, dropna=False)["value"]
    return grouped.first().unstack("seed").sort_index(kind="stable")


def _plain(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, int | float | np.number) else str(value)


def evidence(claim: Claim, directory: str | os.PathLike[str] | Folder) -> Evidence:
    """The per-seed numbers of every point ``claim`` covers, from ``directory``
    (:class:`MissingInput` when a file, a column or the rows are absent)."""
    folder = directory if isinstance(directory, Folder) else Folder(directory)
    frames, ours, reference = [], [], []
    for reads in claim.reads:
        wide = _per_seed(folder, reads) * reads.scale
        if reads.against:
            ref = _per_seed(folder, replace(reads, rows=reads.against))
            reference.append(ref.reindex(index=wide.index, columns=wide.columns))
        index = wide.index.to_frame(index=False)
        fixed = index[[*reads.lines, reads.x]].to_dict("records")
        index["_line"] = [
            ", ".join(p for p in (reads.label, *(_line_part(c, w[c]) for c in reads.lines)) if p)
            for w in fixed
        ]
        index["_x"] = index[reads.x].to_numpy(dtype=float)
        axis = AXIS_NAMES.get(reads.x, reads.x)
        index["_label"] = [
            f"{line + ', ' if line else ''}{axis} = {x:g}"
            for line, x in zip(index["_line"], index["_x"], strict=True)
        ]
        # what a point is, whichever claim reads it: its file and every column that fixes it
        index["_key"] = [
            "|".join(
                [reads.csv, *(f"{k}={_plain(v)}" for k, v in sorted({**reads.rows, **w}.items()))]
            )
            for w in fixed
        ]
        frames.append(index)
        ours.append(wide)
    seeds = sorted(set().union(*(w.columns for w in ours)))

    def stacked(frames: list[pd.DataFrame]) -> np.ndarray:
        return np.vstack([w.reindex(columns=seeds).to_numpy(dtype=float) for w in frames])

    return Evidence(
        pd.concat(frames, ignore_index=True),
        stacked(ours),
        stacked(reference) if reference else None,
        claim.reads[0].statistic,
    )


#: :func:`dnnsplit.paper.stats.gap_pct` and :func:`~dnnsplit.paper.stats.same_value`
#: elementwise.
_GAP_PCT = np.vectorize(gap_pct, otypes=[float])
_SAME = np.vectorize(same_value, otypes=[bool])


def reduce(found: Evidence, *, picks: np.ndarray | None = None, how: str = "mean") -> np.ndarray:
    """The claim's number at every point, ``(variants, points)``: reduced over all seeds
    (``picks`` None: one variant) or over each row of ``picks`` (seed indices drawn with
    replacement: one variant per row); ``how``: ``mean`` or ``median`` over seeds.
    NaN seeds are left out; a point with none is NaN."""
    picks = np.arange(found.seeds)[None, :] if picks is None else picks
    center = np.nanmedian if how == "median" else np.nanmean

    def over_seeds(values: np.ndarray) -> np.ndarray:
        drawn = values[:, picks]  # (points, variants, seeds)
        with warnings.catch_warnings():  # a point with no seed is NaN, silently
            warnings.simplefilter("ignore", RuntimeWarning)
            return center(drawn, axis=2).T

    if found.statistic == "mean":
        return over_seeds(found.ours)
    if found.reference is None:
        raise ValueError(f"statistic {found.statistic!r} needs a reference")
    if found.statistic == "gap_of_means":
        return _GAP_PCT(over_seeds(found.ours), over_seeds(found.reference))
    missing = np.isnan(found.ours) | np.isnan(found.reference)
    return over_seeds(np.where(missing, np.nan, _SAME(found.ours, found.reference) * 1.0))


# --- points and levels -------------------------------------------------------------------


def within(value: Any, paper: tuple[Any, Any], tolerance: float) -> Any:
    """Whether ``value`` lies at most ``tolerance`` outside the paper's interval
    ``paper = (low, high)`` (a single value is ``(v, v)``; NaN is never within); works on
    arrays elementwise."""
    low, high = paper
    return (low - tolerance <= value) & (value <= high + tolerance)


def trend_slope(x: Any, y: Any, *, log_x: bool = False) -> float:
    """Slope of the least-squares line of y on x (or on log10 x); its sign is the trend.

    A closed form summed with :func:`math.fsum` over the points in their given order, so
    the result is the same on any machine; 0 with fewer than two finite points or no
    spread in x.
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


def trend_words(x: Any, y: Any, slope: float, axis: str) -> str:
    """'grows with N', or, where the line does not move that way at every step, 'grows
    with N overall, not at every step'."""
    direction = "grows" if slope > 0 else "shrinks" if slope < 0 else "is flat"
    ys = np.asarray(y, dtype=float)[np.argsort(np.asarray(x, dtype=float), kind="stable")]
    steps = np.diff(ys[np.isfinite(ys)])
    steady = bool(np.all(steps > 0)) if slope > 0 else bool(np.all(steps < 0))
    unsteady = slope != 0 and len(steps) > 1 and not steady
    return f"{direction} with {axis}" + (" overall, not at every step" if unsteady else "")


def _line_slopes(claim: Claim, found: Evidence, values: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`trend_slope` of every line under every variant (rows of ``values``)."""
    xs, log_x = found.points["_x"].to_numpy(dtype=float), claim.reads[0].log_x
    return {
        line: np.array([trend_slope(xs[idx], row, log_x=log_x) for row in values[:, idx]])
        for line, idx in _lines(found).items()
    }


def _trend_holds(slope: Any, trend: str) -> Any:
    return slope > 0 if trend == "grows" else slope < 0


@dataclass(frozen=True)
class _Judged:
    """One kind's judgement of every point (K of them) under every variant: ``values``
    (variants, K), whether each point ``holds``, is ``within`` tolerance (value kinds),
    has the stated sign (``sign_ok``); whether every line moves as stated (``trend_ok``,
    (variants,)) and the lines' ``slopes``."""

    labels: list[str]
    xs: np.ndarray
    paper: list[str]
    values: np.ndarray
    holds: np.ndarray
    within: np.ndarray | None = None
    sign_ok: np.ndarray | None = None
    trend_ok: np.ndarray | None = None
    slopes: dict[str, np.ndarray] = field(default_factory=dict)


def level(claim: Claim, judged: _Judged) -> np.ndarray:
    """The verdict level of every variant (indices into :data:`LEVELS`), by the rules of
    :data:`dnnsplit.paper.claims.RULES`."""
    holds = judged.holds
    out = np.full(holds.shape[0], NOT)
    if claim.universal:
        out[holds.all(axis=1)] = REPRODUCED
        return out
    ranged = claim.kind in ("value", "frequency")  # the rule of values and ranges
    signs = judged.sign_ok if ranged and judged.sign_ok is not None else np.ones_like(holds)
    sign = signs.all(axis=1)
    if ranged and (claim.sign is not None or claim.trend is not None):  # a stated direction
        out[sign & (True if judged.trend_ok is None else judged.trend_ok)] = DIRECTION_ONLY
    inside = judged.within if judged.within is not None else holds
    out[sign & (2 * inside.sum(axis=1) >= holds.shape[1])] = PARTLY
    out[sign & inside.all(axis=1)] = REPRODUCED
    return out


def _lines(found: Evidence) -> dict[str, np.ndarray]:
    """Point indices of each line, in order."""
    lines = found.points["_line"].astype(str)
    return {line: np.flatnonzero(lines == line) for line in lines.unique()}


def _judge_points(claim: Claim, found: Evidence, values: np.ndarray, tolerance: float) -> _Judged:
    """Every point on its own (the value, frequency and sign kinds): the stated sign first,
    then the tolerance around the paper's value or band there."""
    xs = found.points["_x"].to_numpy(dtype=float)
    labels = list(found.points["_label"])
    # an undefined point (NaN: a zero baseline) does not hold, but says nothing of the sign
    signed = claim.kind == "sign" or claim.sign == "positive"
    sign_ok = (values > 0) | np.isnan(values) if signed else None
    if claim.kind == "sign":
        return _Judged(labels, xs, ["> 0"] * len(xs), values, values > 0, sign_ok=sign_ok)
    if claim.kind == "frequency":
        papers = [(claim.share, 1.0)] * len(xs)
        shown = [f"≥ {100 * claim.share:.0f}%"] * len(xs)
    elif claim.paper is None:
        raise ValueError(f"claim {claim.id} of kind 'value' has no paper values")
    else:
        papers = [claim.paper.at_point(x) for x in xs]
        shown = [  # a value, a bound (≤), a band (low–high)
            percent(lo) if lo == hi
            else f"≤ {percent(hi)}" if math.isinf(lo) else f"{lo:g}–{percent(hi)}"
            for lo, hi in papers
        ]
    low, high = (np.array(ends) for ends in zip(*papers, strict=True))
    inside = within(values, (low, high), tolerance)
    trend_ok, slopes = None, {}
    if claim.trend is not None:
        slopes = _line_slopes(claim, found, values)
        trend_ok = np.all([_trend_holds(s, claim.trend) for s in slopes.values()], axis=0)
    holds = inside & sign_ok if sign_ok is not None else inside
    return _Judged(labels, xs, shown, values, holds, inside, sign_ok, trend_ok, slopes)


def _by_x(claim: Claim, at: dict[Any, tuple[str, np.ndarray, np.ndarray]], why: str) -> _Judged:
    """A judgement at each x (the ordering and largest kinds): ``at`` maps x to the paper's
    text there, our number and whether it holds, per variant; :class:`MissingInput` saying
    ``why`` when no x can be judged."""
    if not at:
        raise MissingInput(f"{claim.reads[0].csv}.csv: {why}")
    axis = AXIS_NAMES.get(claim.reads[0].x, claim.reads[0].x)
    paper, ours, holds = zip(*at.values(), strict=True)
    labels = [f"{axis} = {x:g}" for x in at]
    return _Judged(labels, np.array(list(at)), list(paper), np.stack(ours, 1), np.stack(holds, 1))


def _judge_ordering(claim: Claim, found: Evidence, values: np.ndarray, tolerance: float) -> _Judged:
    policy = found.points["policy"].astype(str).to_numpy()
    at_x = found.points["_x"].to_numpy(dtype=float)
    first, second = claim.policies[:2]
    at = {}
    for x, above in claim.order.items():
        a, b = (np.flatnonzero((at_x == x) & (policy == p)) for p in (first, second))
        if len(a) and len(b):
            diff = values[:, a[0]] - values[:, b[0]]
            below = second if above == first else first
            paper = f"{display_name(above)} above {display_name(below)}"
            at[x] = (paper, diff, diff > 0 if above == first else diff < 0)
    return _by_x(claim, at, "no point has both policies")


def _judge_largest(claim: Claim, found: Evidence, values: np.ndarray, tolerance: float) -> _Judged:
    column = claim.reads[0].lines[0]
    line_values = found.points[column].to_numpy(dtype=float)
    all_x = found.points["_x"].to_numpy(dtype=float)
    target = float(claim.target) if claim.target is not None else math.nan
    shown = _line_part(column, int(target) if float(target).is_integer() else target)
    at = {}
    for x in sorted(set(all_x)):
        idx = np.flatnonzero(all_x == x)
        defined = ~np.isnan(values[:, idx])
        if defined.any():
            best = np.argmax(np.where(defined, values[:, idx], -np.inf), axis=1)
            at[x] = (shown, line_values[idx][best], line_values[idx][best] == target)
    return _by_x(claim, at, "every value is undefined")


def _judge_trend(claim: Claim, found: Evidence, values: np.ndarray, tolerance: float) -> _Judged:
    slopes = _line_slopes(claim, found, values)
    holds = [_trend_holds(slope, claim.trend or "grows") for slope in slopes.values()]
    n = len(slopes)
    paper, ours = [claim.trend or ""] * n, np.stack(list(slopes.values()), 1)
    return _Judged(list(slopes), np.full(n, math.nan), paper, ours, np.stack(holds, 1))


VERDICTS: dict[str, Callable[[Claim, Evidence, np.ndarray, float], _Judged]] = {
    "value": _judge_points,
    "frequency": _judge_points,
    "direction": _judge_trend,
    "sign": _judge_points,
    "ordering": _judge_ordering,
    "largest": _judge_largest,
}


def _judged(
    claim: Claim, found: Evidence, values: np.ndarray, tolerance: float | None = None
) -> _Judged:
    if np.isnan(values).all():
        raise MissingInput(
            f"{', '.join(f'{c}.csv' for c in claim.csvs)}: every value is undefined (NaN: a "
            "zero baseline, e.g. an all-local variance of 0)"
        )
    stated = claim.tolerance.tolerance if tolerance is None else tolerance
    return VERDICTS[claim.kind](claim, found, values, stated)


# --- the verdict ------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgedPoint:
    """One point of a claim, judged.

    Attributes
    ----------
    label, x, ours, paper : str, float, float, str
        Which point (``SJF, N = 10``), its place along the claim's axis (NaN for a line,
        e.g. a trend's), our number and the paper's value there ("21%", "2–21%", "> 0",
        "SJF above RR").
    holds, sign_ok : bool, bool or None
        The point holds (the stated sign first, then the tolerance); our sign is the stated
        one (None: the claim states none).
    seeds_below : float or None
        The share of our seeds below the paper's value there (for a band, below its low
        end; for a sign, at or below 0): where the paper's number falls among our seeds.
    key : str
        What the point is, the same under every claim that reads it (its file and the
        columns that fix it); "" for a point made of several (an ordering, a line).
    """

    label: str
    x: float
    ours: float
    paper: str
    holds: bool
    sign_ok: bool | None = None
    seeds_below: float | None = None
    key: str = ""


@dataclass(frozen=True)
class Robustness:
    """How a verdict moves under other statistics, tolerances and resampled seeds.

    Attributes
    ----------
    median, tolerance_zero, tolerance_double : str
        The level with the median over seeds instead of the mean, with tolerance 0, and
        with twice the stated tolerance.
    verdict, other_share, other_levels : str, float, dict
        The verdict's own level; the share of :data:`RESAMPLES` bootstrap resamples of the
        seeds whose level differs from it; level → share, for each of those levels.
    """

    median: str
    tolerance_zero: str
    tolerance_double: str
    other_share: float
    other_levels: dict[str, float]
    verdict: str

    @property
    def robust(self) -> bool:
        """At most :data:`ROBUST_SHARE` of the resamples give another level."""
        return self.other_share <= ROBUST_SHARE

    def words(self) -> str:
        """'robust', or 'fragile: 23% of 200 resamples differ (partly 20%, ...)'."""
        if self.robust:
            return "robust"
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in self.other_levels.items())
        return f"fragile: {100 * self.other_share:.0f}% of {RESAMPLES} resamples differ ({shares})"


@dataclass(frozen=True)
class Verdict:
    """The answer to one claim.

    Attributes
    ----------
    verdict, ours : str
        One of :data:`~dnnsplit.paper.claims.LEVELS`; our number(s), in a few words.
    numbers : dict
        The numbers behind ``ours`` (for ``readings.csv`` and tests): ``points`` and
        ``holding`` always; ``low``/``high``, ``slope``, ``overall`` by kind.
    distance : float
        How far our numbers are from the paper's, 0 when every point holds; it ranks
        readings ("the closest reading") and guides the readings search.
    points, robustness : tuple of JudgedPoint, Robustness or None
        Every point, judged; the verdict's robustness (None: not computed).
    """

    verdict: str
    ours: str
    numbers: dict[str, float] = field(default_factory=dict)
    distance: float = 0.0
    points: tuple[JudgedPoint, ...] = ()
    robustness: Robustness | None = None


def _seeds_below(claim: Claim, found: Evidence, judged: _Judged) -> list[float | None]:
    """Per judged point, the share of our seeds below the paper's value (value kinds: its
    low end; sign kinds: at or below 0)."""
    if claim.kind not in ("value", "sign") or found.statistic != "mean":
        return [None] * len(judged.labels)
    if claim.kind == "sign":
        low, below = np.zeros(len(judged.xs)), found.ours <= 0
    else:
        low = np.array([claim.paper.at_point(x)[0] if claim.paper else math.nan for x in judged.xs])
        below = found.ours < low[:, None]
    seeds = (~np.isnan(found.ours)).sum(axis=1)
    return [
        float(n_below / n) if n and math.isfinite(end) else None
        for n_below, n, end in zip(below.sum(axis=1), seeds, low, strict=True)
    ]


def _distance(claim: Claim, judged: _Judged, tolerance: float) -> float:
    holds = judged.holds[0]
    if claim.kind != "value" or claim.paper is None:
        return float((~holds).sum() / len(holds))
    outside = []
    for value, x in zip(judged.values[0], judged.xs, strict=True):
        low, high = claim.paper.at_point(float(x))
        scale = max(high - low, 1.0) if math.isfinite(high - low) else max(abs(high), 1.0)
        excess = max(0.0, low - tolerance - value, value - high - tolerance)
        outside.append(min(math.log1p(excess / scale), DISTANCE_CAP))
    wrong = judged.trend_ok is not None and not bool(judged.trend_ok[0])
    wrong |= judged.sign_ok is not None and not bool(judged.sign_ok[0].all())
    return float(np.mean(outside)) + wrong


def _ours(claim: Claim, found: Evidence, judged: _Judged, points: list[JudgedPoint]) -> str:
    """Our number(s) in a few words (the point-by-point table has the rest)."""
    axis = AXIS_NAMES.get(claim.reads[0].x, claim.reads[0].x)
    values = judged.values[0]
    failing = [p for p in points if not p.holds]
    count, held = len(points), len(points) - len(failing)
    if claim.kind == "value":
        text = (
            f"{percent(float(np.nanmin(values)))} to {percent(float(np.nanmax(values)))}; "
            f"{sum(bool(w) for w in judged.within[0])} of {count} within tolerance"
            if judged.within is not None
            else ""
        )
        wrong = [p for p in points if p.sign_ok is False]
        if wrong:
            text += f"; below 0 at {len(wrong)} of {count}"
        for line, slopes in judged.slopes.items():
            idx = _lines(found)[line]
            xs = found.points["_x"].to_numpy()[idx]
            words = trend_words(xs, values[idx], float(slopes[0]), axis)
            text += f"; {line + ': ' if line else ''}{words}"
        return text
    if claim.kind == "frequency":
        return (
            f"{100 * np.nanmin(values):.0f}–{100 * np.nanmax(values):.0f}% of cases per "
            f"{axis}; ≥ {100 * claim.share:.0f}% at {held} of {count} points"
        )
    if claim.kind == "sign":
        text = f"above 0 at {held} of {count} points"
        if failing:
            worst = min(failing, key=lambda p: p.ours if math.isfinite(p.ours) else math.inf)
            text += f"; worst {worst.label}: {percent(worst.ours)}"
        return text
    if claim.kind == "ordering":
        parts = ", ".join(f"{p.ours:+.1f} points at {p.label}" for p in points)
        return f"SJF − RR: {parts}; as the paper reads at {held} of {count}"
    if claim.kind == "largest":
        column = claim.reads[0].lines[0]
        others = sorted({int(p.ours) for p in failing})
        text = f"{points[0].paper} largest at {held} of {count} points"
        if others:
            text += "; elsewhere " + " or ".join(_line_part(column, n) for n in others)
        return text
    verb = {"grows": "grow", "shrinks": "shrink"}.get(claim.trend or "grows", "move")
    return f"{held} of {count} lines {verb} with {axis}"


def _numbers(claim: Claim, judged: _Judged, points: list[JudgedPoint]) -> dict[str, float]:
    numbers = {"points": float(len(points)), "holding": float(sum(p.holds for p in points))}
    values = judged.values[0]
    if claim.kind in ("value", "sign", "frequency"):
        numbers["low"], numbers["high"] = float(np.nanmin(values)), float(np.nanmax(values))
    if claim.kind == "value":
        numbers["tolerance"] = claim.tolerance.tolerance
        if len(judged.slopes) == 1:
            numbers["slope"] = float(next(iter(judged.slopes.values()))[0])
    if claim.kind == "frequency":
        numbers["overall"] = float(np.nanmean(values))
    return numbers


def robustness(claim: Claim, found: Evidence, verdict: str) -> Robustness:
    """The verdict under the median over seeds, under tolerance 0 and twice the stated one,
    and under :data:`RESAMPLES` seeded bootstrap resamples of the seeds (each resample
    draws the seeds with replacement, the same draw for every point of the claim)."""
    mean = reduce(found)
    stated = claim.tolerance.tolerance

    def name(values: np.ndarray, tolerance: float | None = None) -> list[str]:
        return [LEVELS[k] for k in level(claim, _judged(claim, found, values, tolerance))]

    rng = np.random.default_rng(RESAMPLE_SEED)
    picks = rng.integers(0, found.seeds, size=(RESAMPLES, found.seeds))
    resampled = pd.Series(name(reduce(found, picks=picks))).value_counts(normalize=True)
    others = {k: float(resampled[k]) for k in LEVELS if k in resampled and k != verdict}
    return Robustness(
        median=name(reduce(found, how="median"))[0],
        tolerance_zero=name(mean, 0.0)[0],
        tolerance_double=name(mean, 2 * stated)[0],
        other_share=float(sum(others.values())),
        other_levels=others,
        verdict=verdict,
    )


def judge(
    claim: Claim, directory: str | os.PathLike[str] | Folder, *, with_robustness: bool = True
) -> Verdict:
    """The verdict on ``claim`` from the per-seed rows in ``directory``
    (:class:`MissingInput` if they are absent), with its robustness unless
    ``with_robustness`` is False."""
    found = evidence(claim, directory)
    values = reduce(found)
    judged = _judged(claim, found, values)
    verdict = LEVELS[int(level(claim, judged)[0])]
    below = _seeds_below(claim, found, judged)
    pointwise = claim.kind in ("value", "sign", "frequency")
    keys = list(found.points["_key"]) if pointwise else [""] * len(judged.labels)
    values = judged.values[0]
    signs = [
        None if judged.sign_ok is None or math.isnan(v) else bool(judged.sign_ok[0][k])
        for k, v in enumerate(values)
    ]
    columns = (judged.labels, map(float, judged.xs), map(float, values), judged.paper)
    points = [
        JudgedPoint(*point)
        for point in zip(*columns, map(bool, judged.holds[0]), signs, below, keys, strict=True)
    ]
    return Verdict(
        verdict,
        _ours(claim, found, judged, points),
        _numbers(claim, judged, points),
        _distance(claim, judged, claim.tolerance.tolerance),
        tuple(points),
        robustness(claim, found, verdict) if with_robustness else None,
    )
