"""Statistics of the paper layer: the figures' quantities, computed per point by the sweeps
(:func:`improvement_pct`, :func:`gap_pct`, ...), and their summaries over seeds
(:func:`summarise`), computed once from the tidy rows; the plots only draw them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from dnnsplit._params import NEAR_ZERO

__all__ = [
    "change_pct", "gap_pct", "improvement_pct", "std_ratio", "summarise", "verdict_cells", "where"
]

#: Two objective values this close (relative) are the same value: greedy "found" the optimum.
SAME_VALUE_RELATIVE = 1e-9
#: The level of :func:`summarise`'s interval, and its bootstrap resamples.
CONFIDENCE, RESAMPLES = 0.95, 2000


def where(rows: pd.DataFrame, **equal: object) -> pd.DataFrame:
    """The rows whose columns equal the given values, e.g. ``where(rows, objective="total")``."""
    keep = pd.Series(True, index=rows.index)
    for column, value in equal.items():
        keep &= rows[column] == value
    return rows[keep]


def improvement_pct(baseline: float, value: float) -> float:
    """``100·(baseline − value)/baseline``: the quantity of Fig. 3 (NaN for a zero baseline)."""
    return 100.0 * (baseline - value) / baseline if baseline > 0 else math.nan


def change_pct(new: float, old: float) -> float:
    """``100·(new − old)/old`` (NaN when ``old`` is 0)."""
    return 100.0 * (new - old) / old if old > 0 else math.nan


def same_value(value: float, optimum: float) -> bool:
    """Whether ``value`` equals ``optimum`` within :data:`SAME_VALUE_RELATIVE`."""
    scale = max(abs(optimum), abs(value), NEAR_ZERO)
    return abs(value - optimum) <= SAME_VALUE_RELATIVE * scale


def gap_pct(value: float, optimum: float) -> float:
    """The paper's gap of Fig. 5, ``100·(V − V*)/V*``.

    For ``V* > 0`` the plain ratio (floating-point rounding can leave ±1e-14 for equal
    values). For ``V* = 0``: 0 when ``V`` is 0 too (:func:`same_value`), and ``+inf``
    otherwise: a solution worse than an optimum of zero variance (every delay equal) is
    infinitely far from it in this measure, never 0%.
    """
    if optimum > 0:
        return 100.0 * (value - optimum) / optimum
    return 0.0 if same_value(value, optimum) else math.inf


def std_ratio(value: float, optimum: float) -> float:
    """``sqrt(V / V*)``, the ratio of standard deviations (1 when equal, +inf when V* = 0 < V)."""
    if optimum > 0:
        return float(np.sqrt(value / optimum))
    return 1.0 if same_value(value, optimum) else math.inf


def _bootstrap_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    finite = bool(np.all(np.isfinite(stats)))  # else no interpolation between infinities
    low, high = np.quantile(
        stats, [alpha, 1 - alpha], method="linear" if finite else "inverted_cdf"
    )
    return float(low), float(high)


def summarise(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    seed: int = 0,
    statistic: Callable[[np.ndarray], float] = np.mean,
) -> pd.DataFrame:
    """Mean over seeds with a seeded percentile-bootstrap interval (:data:`CONFIDENCE`,
    :data:`RESAMPLES`), and the seed-to-seed spread, per group.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy rows with a ``value`` column.
    by : sequence of str
        Columns that identify a point (everything but ``seed``, typically).
    seed : int
        Seed of the bootstrap (pass an int for reproducible output).
    statistic : callable
        The statistic (default the mean).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``mean`` (the statistic), ``low`` and ``high`` (its bootstrap
        interval: where the *statistic* is likely to lie), ``min``, ``median`` and ``max``
        (the spread of the seeds themselves: where *one draw* lies) and ``n`` (number of
        values used). NaN values are left out; an infinite value makes the mean (and the
        bound it reaches) infinite rather than being dropped.
    """
    rng = np.random.default_rng(seed)
    out = []
    for key, group in frame.groupby(list(by), sort=True):
        values = group["value"].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        centre = float(statistic(values)) if values.size else math.nan
        low = high = centre
        if values.size >= 2:
            samples = values[rng.integers(0, values.size, size=(RESAMPLES, values.size))]
            # the mean of each row at once: the same bits as np.mean row by row
            stats = (samples.mean(axis=1) if statistic is np.mean
                     else np.apply_along_axis(statistic, 1, samples))
            low, high = _bootstrap_interval(stats, CONFIDENCE)
        spread = (values.min(), np.median(values), values.max()) if values.size else (math.nan,) * 3
        out.append(
            {
                **dict(zip(by, key, strict=True)),  # a tuple: ``by`` is a list
                "mean": centre,
                "low": float(low),
                "high": float(high),
                **dict(zip(("min", "median", "max"), map(float, spread), strict=True)),
                "n": int(values.size),
            }
        )
    return pd.DataFrame(out)


# --- the verdict map ---------------------------------------------------------------------


def _short(value: float, unit: str = "%") -> str:
    if not math.isfinite(value):
        return "∞" if value > 0 else ("−∞" if value < 0 else "–")
    if unit == "%":
        if abs(value) >= 1e4:
            return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
        return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"
    return f"{value:.2g}"


def verdict_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Per (claim, reading) of a readings table: the verdict and a short label of our
    number (a range ``low…high`` in %, a share of cases found, or the points that hold),
    for the verdict map."""

    def label(row: pd.Series) -> str:
        if row.verdict == "not evaluated":
            return ""
        if not math.isnan(row.get("overall", math.nan)):
            return f"{100 * row.overall:.0f}% found"
        if not math.isnan(row.get("low", math.nan)) and not math.isnan(row.get("tolerance", 1)):
            return f"{_short(row.low)}…{_short(row.high)}"
        if not math.isnan(row.get("points", math.nan)):
            return f"{row.holding:.0f}/{row.points:.0f} hold"
        return ""

    cells = table[["claim", "reading", "verdict"]].copy()
    cells["label"] = table.apply(label, axis=1)
    return cells
