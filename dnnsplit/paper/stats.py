"""Statistics of the paper layer: the figures' quantities and their summaries over seeds.

The quantities (:func:`improvement_pct`, :func:`gap_pct`, :func:`std_ratio`,
:func:`change_pct`) are computed per point by the sweeps; the summaries (mean over seeds
with a seeded bootstrap interval) are computed here, once, from the tidy rows, and the
plots only draw them. Each ``*_summary`` function is the summary one figure draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "at_scale_summary",
    "change_pct",
    "fig3_tables",
    "fig5_tables",
    "gap_pct",
    "greedy_vs_optimal_summary",
    "improvement_by_devices",
    "improvement_by_ratio",
    "improvement_pct",
    "local_share_summary",
    "mechanism_summary",
    "model_gap_summary",
    "quantum_summary",
    "std_ratio",
    "summarise",
    "verdict_cells",
    "where",
]

#: Two objective values this close (relative) are the same value: greedy "found" the optimum.
SAME_VALUE_RELATIVE = 1e-9


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


def same_value(value: float, optimum: float, relative: float = SAME_VALUE_RELATIVE) -> bool:
    """Whether ``value`` equals ``optimum`` within ``relative`` (relative distance)."""
    return abs(value - optimum) <= relative * max(abs(optimum), abs(value), 1e-300)


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


def summarise(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    statistic: Callable[[np.ndarray], float] = np.mean,
) -> pd.DataFrame:
    """Mean over seeds with a seeded percentile-bootstrap interval, per group.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy rows with a ``value`` column.
    by : sequence of str
        Columns that identify a point (everything but ``seed``, typically).
    confidence : float
        Interval level.
    resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the bootstrap (pass an int for reproducible output).
    statistic : callable
        The statistic (default the mean).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``mean``, ``low``, ``high``, ``n`` (number of values used). NaN
        values are left out; an infinite value makes the mean (and the bound it reaches)
        infinite rather than being dropped.
    """
    rng = np.random.default_rng(seed)
    out = []
    for key, group in frame.groupby(list(by), sort=True):
        values = group["value"].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        centre = float(statistic(values)) if values.size else math.nan
        if values.size >= 2:
            picks = rng.integers(0, values.size, size=(resamples, values.size))
            samples = values[picks]
            # the mean of each row at once; the same bits as np.mean row by row
            if statistic is np.mean:
                stats = samples.mean(axis=1)
            else:
                stats = np.apply_along_axis(statistic, 1, samples)
            alpha = (1 - confidence) / 2
            if np.all(np.isfinite(stats)):
                low, high = np.quantile(stats, [alpha, 1 - alpha])
            else:  # no interpolation between infinities
                low, high = np.quantile(stats, [alpha, 1 - alpha], method="inverted_cdf")
        else:
            low = high = centre
        key = key if isinstance(key, tuple) else (key,)
        out.append(
            {
                **dict(zip(by, key, strict=True)),
                "mean": centre,
                "low": float(low),
                "high": float(high),
                "n": int(values.size),
            }
        )
    return pd.DataFrame(out)


# --- the summary each figure draws ----------------------------------------------------


def improvement_by_devices(rows: pd.DataFrame, objective: str, *, seed: int = 0) -> pd.DataFrame:
    """Fig. 3 (A) or (B): ``improvement_pct`` of greedy (and exact, where present) for
    ``objective``, per (solver, policy, R, N)."""
    chosen = rows[(rows.objective == objective) & (rows.metric == "improvement_pct")]
    return summarise(chosen, ["solver", "policy", "ratio", "devices"], seed=seed)


def improvement_by_ratio(
    rows: pd.DataFrame, objective: str = "variance", *, seed: int = 0
) -> pd.DataFrame:
    """Fig. 3 (C): greedy's ``improvement_pct`` for ``objective`` per (policy, N, R)."""
    chosen = rows[
        (rows.solver == "greedy")
        & (rows.objective == objective)
        & (rows.metric == "improvement_pct")
    ]
    return summarise(chosen, ["policy", "devices", "ratio"], seed=seed)


def local_share_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Share of stages greedy runs locally, in %, per (objective, policy, R, N)."""
    chosen = rows[(rows.solver == "greedy") & (rows.metric == "local_share")].copy()
    chosen["value"] = 100 * chosen["value"]
    return summarise(chosen, ["objective", "policy", "ratio", "devices"], seed=seed)


def greedy_vs_optimal_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Fig. 5: per (objective, solver, N): the variance, the largest and the mean delay,
    the gap to the optimum and the ratio of standard deviations."""
    wanted = rows[rows.metric.isin(["variance", "max", "gap_pct", "std_ratio", "mean"])]
    return summarise(wanted, ["objective", "solver", "metric", "devices"], seed=seed)


def at_scale_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Fig. 5 at scale: per (policy, solver, N): the variance, the optimum's lower bound and
    certified share, the heuristics' gaps to the best vector and to the bound."""
    wanted = rows[
        rows.metric.isin(["variance", "lower_bound", "certified", "gap_pct", "gap_to_bound_pct"])
    ]
    return summarise(wanted, ["policy", "solver", "metric", "devices"], seed=seed)


def mechanism_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per N: the share of greedy's end points where a jump or a pair of moves would lower
    the variance (means of 0/1), and the mean number of devices placed differently."""
    wanted = rows[rows.metric.isin(["jump_improves", "pair_improves", "devices_differ"])]
    return summarise(wanted, ["metric", "devices"], seed=seed)


def quantum_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Greedy's improvement over the baseline against the device quantum q (in ms)."""
    chosen = rows[(rows.solver == "greedy") & (rows.metric == "improvement_pct")].copy()
    chosen["quantum_ms"] = 1000 * chosen["quantum_s"]
    return summarise(chosen, ["policy", "devices", "local_delay", "quantum_ms"], seed=seed)


def model_gap_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Timeline against snapshot: % change of total delay and of variance per (policy, N)."""
    chosen = rows[rows.metric.isin(["total_gap_pct", "variance_gap_pct"])]
    return summarise(chosen, ["metric", "policy", "devices"], seed=seed)


# --- the CSVs each figure writes --------------------------------------------------------


def fig3_tables(
    rows_by_devices: pd.DataFrame, rows_by_ratio: pd.DataFrame, *, seed: int = 0
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables Fig. 3's four figures are saved with: per figure, its tidy rows (``""``)
    and the summary it draws (``"summary"``). The claims of the report read these."""
    return {
        "fig3a": {
            "": where(rows_by_devices, objective="variance"),
            "summary": improvement_by_devices(rows_by_devices, "variance", seed=seed),
        },
        "fig3b": {
            "": where(rows_by_devices, objective="total"),
            "summary": improvement_by_devices(rows_by_devices, "total", seed=seed),
        },
        "fig3c": {
            "": rows_by_ratio,
            "summary": improvement_by_ratio(rows_by_ratio, "variance", seed=seed),
        },
        "fig3_local_share": {
            "": where(rows_by_devices, metric="local_share"),
            "summary": local_share_summary(rows_by_devices, seed=seed),
        },
    }


def fig5_tables(rows: pd.DataFrame, *, seed: int = 0) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables Fig. 5 is saved with: its tidy rows and its summary (the claims read
    both)."""
    return {"fig5": {"": rows, "summary": greedy_vs_optimal_summary(rows, seed=seed)}}


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
    number (a range ``low…high`` in %, a bound's worst mean, a share of cases, a count of
    lines), for the verdict map."""

    def label(row: pd.Series) -> str:
        if row.verdict == "not evaluated":
            return ""
        if not math.isnan(row.get("low", math.nan)):
            return f"{_short(row.low)}…{_short(row.high)}"
        if not math.isnan(row.get("worst", math.nan)):
            return _short(row.worst)
        if not math.isnan(row.get("overall", math.nan)):
            return f"{100 * row.overall:.0f}% found"
        if not math.isnan(row.get("lines", math.nan)):
            return f"{row.holding:.0f}/{row.lines:.0f} lines"
        return ""

    cells = table[["claim", "reading", "verdict"]].copy()
    cells["label"] = table.apply(label, axis=1)
    return cells
