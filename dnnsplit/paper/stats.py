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

from dnnsplit.paper.claims import FIG5_BOUND_PCT

__all__ = [
    "at_scale_summary",
    "change_pct",
    "fig3_by_devices_tables",
    "fig3_by_ratio_tables",
    "fig3_tables",
    "fig5_tables",
    "gap_pct",
    "gap_statistics",
    "greedy_vs_optimal_summary",
    "improvement_by_devices",
    "improvement_by_ratio",
    "improvement_pct",
    "informative_bound",
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


def _bootstrap_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    if np.all(np.isfinite(stats)):
        low, high = np.quantile(stats, [alpha, 1 - alpha])
    else:  # no interpolation between infinities
        low, high = np.quantile(stats, [alpha, 1 - alpha], method="inverted_cdf")
    return float(low), float(high)


def summarise(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    statistic: Callable[[np.ndarray], float] = np.mean,
) -> pd.DataFrame:
    """Mean over seeds with a seeded percentile-bootstrap interval, and the seed-to-seed
    spread, per group.

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
        if values.size >= 2:
            picks = rng.integers(0, values.size, size=(resamples, values.size))
            samples = values[picks]
            # the mean of each row at once; the same bits as np.mean row by row
            if statistic is np.mean:
                stats = samples.mean(axis=1)
            else:
                stats = np.apply_along_axis(statistic, 1, samples)
            low, high = _bootstrap_interval(stats, confidence)
        else:
            low = high = centre
        key = key if isinstance(key, tuple) else (key,)
        spread = (
            (float(values.min()), float(np.median(values)), float(values.max()))
            if values.size
            else (math.nan,) * 3
        )
        out.append(
            {
                **dict(zip(by, key, strict=True)),
                "mean": centre,
                "low": float(low),
                "high": float(high),
                "min": spread[0],
                "median": spread[1],
                "max": spread[2],
                "n": int(values.size),
            }
        )
    return pd.DataFrame(out)


# --- the summary each figure draws ----------------------------------------------------


def improvement_by_devices(
    rows: pd.DataFrame, objective: str, *, baseline: str = "all-local", seed: int = 0
) -> pd.DataFrame:
    """Fig. 3 (A) or (B): ``improvement_pct`` of greedy (and exact, where present) for
    ``objective`` over ``baseline``, per (solver, policy, R, N); and the other baseline's
    vector (``max-local`` beside ``all-local``) over the same baseline, so that a figure
    shows both."""
    chosen = rows[(rows.objective == objective) & (rows.metric == "improvement_pct")]
    other = "max-local" if baseline == "all-local" else "all-local"
    values = rows[(rows.objective == objective) & (rows.metric == objective)]
    keys = ["policy", "ratio", "devices", "seed"]
    wide = values[values.solver.isin([baseline, other])].pivot_table(
        index=keys, columns="solver", values="value", aggfunc="first"
    )
    if {baseline, other} <= set(wide.columns):
        gains = [
            improvement_pct(float(b), float(o))
            for b, o in zip(wide[baseline], wide[other], strict=True)
        ]
        extra = wide.index.to_frame(index=False).assign(solver=other, value=gains)
        chosen = pd.concat([chosen, extra], ignore_index=True)
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


def gap_statistics(
    rows: pd.DataFrame,
    *,
    within_pct: float,
    reference: str = "optimal",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Three ways to state a heuristic's gap to the optimum over seeds, per (objective,
    solver, N), as summary rows (``metric``, ``mean``, ``low``, ``high``, spread, ``n``):

    - ``gap_of_means_pct``: ``100·(mean V − mean V*)/mean V*``, the gap between the two
      curves a figure of mean values shows (a paired bootstrap over seeds gives its
      interval);
    - ``median_gap_pct``: the median of the per-case gaps (a typical case);
    - ``within_pct``: the share of cases (%) whose gap is at most ``within_pct``;
    - ``optimum_pct``: the share of cases (%) that reach the optimum (:func:`same_value`).

    The mean of per-case gaps (``gap_pct`` in :func:`greedy_vs_optimal_summary`) is
    dominated by cases with a tiny optimum; these three are not.
    """
    rng = np.random.default_rng(seed)
    out = []
    values = rows[rows.metric == rows.objective]
    wide = values.pivot_table(
        index=["objective", "devices", "seed"], columns="solver", values="value", aggfunc="first"
    )
    gaps = rows[rows.metric == "gap_pct"]
    for (objective, solver, n), part in gaps.groupby(["objective", "solver", "devices"]):
        ids = {"objective": objective, "solver": solver, "devices": n}
        case_gaps = part.sort_values("seed")["value"].to_numpy(dtype=float)
        within = 100.0 * (case_gaps <= within_pct)
        pair = wide.loc[(objective, n)][[solver, reference]].dropna()
        reached = 100.0 * np.array(
            [same_value(float(v), float(b)) for v, b in pair.to_numpy(dtype=float)]
        )
        for metric, statistic, data in (
            ("median_gap_pct", np.median, case_gaps),
            ("within_pct", np.mean, within),
            ("optimum_pct", np.mean, reached),
        ):
            row = summarise(
                pd.DataFrame({"value": data, "k": 0}),
                ["k"],
                confidence=confidence,
                resamples=resamples,
                seed=seed,
                statistic=statistic,
            ).drop(columns="k")
            out.append({**ids, "metric": metric, **row.iloc[0].to_dict()})
        mine, best = pair[solver].to_numpy(dtype=float), pair[reference].to_numpy(dtype=float)
        centre = gap_pct(float(mine.mean()), float(best.mean()))
        picks = rng.integers(0, len(pair), size=(resamples, len(pair)))
        means = zip(mine[picks].mean(axis=1), best[picks].mean(axis=1), strict=True)
        boot = np.array([gap_pct(float(m), float(b)) for m, b in means])
        low, high = _bootstrap_interval(boot, confidence) if len(pair) >= 2 else (centre, centre)
        out.append(
            {
                **ids,
                "metric": "gap_of_means_pct",
                "mean": centre,
                "low": low,
                "high": high,
                "min": math.nan,
                "median": math.nan,
                "max": math.nan,
                "n": len(pair),
            }
        )
    frame = pd.DataFrame(out)
    frame["n"] = frame["n"].astype(int)
    return frame


def greedy_vs_optimal_summary(
    rows: pd.DataFrame, *, within_pct: float = FIG5_BOUND_PCT, seed: int = 0
) -> pd.DataFrame:
    """Fig. 5: per (objective, solver, N): the variance, the largest and the mean delay,
    the mean per-case gap to the optimum and the ratio of standard deviations, and the gap
    statistics of :func:`gap_statistics` (``within_pct``: the gap a case may have and still
    count as close; default the paper's bound of Fig. 5)."""
    wanted = rows[rows.metric.isin(["variance", "max", "gap_pct", "std_ratio", "mean"])]
    base = summarise(wanted, ["objective", "solver", "metric", "devices"], seed=seed)
    extra = gap_statistics(rows, within_pct=within_pct, seed=seed)
    return pd.concat([base, extra[base.columns]], ignore_index=True)


#: A lower bound is informative when it is at least this fraction of the best value found:
#: below it, "greedy is at most X% above the optimum" says little, and no such gap is drawn.
INFORMATIVE_BOUND = 0.5


def informative_bound(lower_bound: float, best_known: float) -> bool:
    """Whether a proven lower bound says something about the optimum: at least
    :data:`INFORMATIVE_BOUND` of the best value found (a certified case always is)."""
    return bool(lower_bound >= INFORMATIVE_BOUND * best_known)


def at_scale_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Fig. 5 at scale: per (objective, policy, solver, N): each objective's value, the
    optimum's lower bound and certified share, the heuristics' gaps to the best vector and
    to the bound, and ``informative`` (the share of cases whose bound is informative:
    :func:`informative_bound`) on the optimal rows."""
    keys = ["objective", "policy", "solver", "metric", "devices"]
    values = rows[rows.metric == rows.objective]
    wanted = rows[
        rows.metric.isin(["lower_bound", "certified", "gap_pct", "gap_to_bound_pct"])
    ]
    best = rows[rows.solver == "optimal"].pivot_table(
        index=["objective", "policy", "devices", "seed"], columns="metric", values="value"
    )
    flags = pd.DataFrame(
        {
            "value": [
                100.0 * informative_bound(b, k)
                for b, k in zip(best["lower_bound"], best["best_known"], strict=True)
            ],
            "metric": "informative_pct",
            "solver": "optimal",
        },
        index=best.index,
    ).reset_index()
    return summarise(pd.concat([values, wanted, flags], ignore_index=True), keys, seed=seed)


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


def fig3_by_devices_tables(
    rows_by_devices: pd.DataFrame, *, baseline: str = "all-local", seed: int = 0
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables of Fig. 3 (A), (B) and the local share, from the sweep against N: per
    figure, its tidy rows (``""``) and the summary it draws (``"summary"``)."""
    return {
        "fig3a": {
            "": where(rows_by_devices, objective="variance"),
            "summary": improvement_by_devices(
                rows_by_devices, "variance", baseline=baseline, seed=seed
            ),
        },
        "fig3b": {
            "": where(rows_by_devices, objective="total"),
            "summary": improvement_by_devices(
                rows_by_devices, "total", baseline=baseline, seed=seed
            ),
        },
        "fig3_local_share": {
            "": where(rows_by_devices, metric="local_share"),
            "summary": local_share_summary(rows_by_devices, seed=seed),
        },
    }


def fig3_by_ratio_tables(
    rows_by_ratio: pd.DataFrame, *, seed: int = 0
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables of Fig. 3 (C), from the sweep against R."""
    return {
        "fig3c": {
            "": rows_by_ratio,
            "summary": improvement_by_ratio(rows_by_ratio, "variance", seed=seed),
        }
    }


def fig3_tables(
    rows_by_devices: pd.DataFrame,
    rows_by_ratio: pd.DataFrame,
    *,
    baseline: str = "all-local",
    seed: int = 0,
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables Fig. 3's four figures are saved with: per figure, its tidy rows (``""``)
    and the summary it draws (``"summary"``). The claims of the report read these."""
    return {
        **fig3_by_devices_tables(rows_by_devices, baseline=baseline, seed=seed),
        **fig3_by_ratio_tables(rows_by_ratio, seed=seed),
    }


def fig5_tables(
    rows: pd.DataFrame, *, within_pct: float = FIG5_BOUND_PCT, seed: int = 0
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables Fig. 5 is saved with: its tidy rows and its summary (the claims read
    both; ``within_pct`` as in :func:`gap_statistics`)."""
    summary = greedy_vs_optimal_summary(rows, within_pct=within_pct, seed=seed)
    return {"fig5": {"": rows, "summary": summary}}


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
