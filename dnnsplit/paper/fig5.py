"""Fig. 5: greedy against the certified optimum, and at the paper's sizes (notebook 03).

Greedy and local-search against the certified optimum (N = 3–10) on the variance of delays
and the largest delay, and against the certifying solver ``optimal`` under a node limit at
N = 10–50 (``fig5_scale``: certified, or bounded): the sweeps, three ways to state a gap,
the figures and the report's section on the paper's sizes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dnnsplit._checks import number
from dnnsplit.paper import stats, sweeps
from dnnsplit.paper.captions import Caption
from dnnsplit.paper.claims import FIG5_BOUND_PCT, Claim
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.output import read_manifest
from dnnsplit.paper.plots import INK, PANEL, PAPER_MARKER, band, finish_figure, paper_style, ticks
from dnnsplit.paper.stats import summarise, where
from dnnsplit.paper.sweeps import DEFAULT_EXPERIMENT, Grid, Point, Record, Request, request
from dnnsplit.paper.text import cases, percent, render, table
from dnnsplit.policies import display_name
from dnnsplit.setup import Setup

__all__ = [
    "OPTIMUM",
    "OPTIMUM_VARIES",
    "SCALE_VARIES",
    "at_scale",
    "at_scale_summary",
    "fig5_tables",
    "gap_statistics",
    "gap_vs_devices",
    "greedy_at_scale",
    "greedy_vs_optimal",
    "greedy_vs_optimal_summary",
    "min_max",
    "optimum_points",
    "optimum_rows",
    "report_section",
]


#: Fig. 5 at scale stops each proof by a node limit; this only guards a far slower machine.
SCALE_TIME_LIMIT_S = 600.0


def _heuristics(point: Point, objective: str) -> dict[str, Request]:
    """Greedy and local-search as Fig. 5 runs them: the experiment's start and restarts,
    the point's seed."""
    options = {"start": point.options["start"], "restarts": point.options["restarts"]}
    return {
        solver: request(solver, objective, **options, seed=point.seed)
        for solver in ("greedy", "local-search")
    }


def _best(point: Point, objective: str) -> Request:
    """The certified optimum or, at scale (``max_nodes``), ``optimal`` under a node limit
    (and :data:`SCALE_TIME_LIMIT_S`)."""
    options = point.options
    if "max_nodes" not in options:
        return request("optimal", objective, time_limit=sweeps.CERTIFY_TIME_LIMIT_S, certify=True)
    return request(
        "optimal", objective, max_nodes=options["max_nodes"], time_limit=SCALE_TIME_LIMIT_S,
        start=options["start"], restarts=options["restarts"], seed=point.seed,
    )


def _requests(point: Point) -> list[Request]:
    return [
        asked
        for objective in point.options["objectives"]
        for asked in (_best(point, objective), *_heuristics(point, objective).values())
    ]


def _assemble(point: Point, solved: Mapping[Request, Record]) -> list[dict[str, Any]]:
    keys, at_scale = point.keys(), "max_nodes" in point.options
    rows: list[dict[str, Any]] = []
    for objective in point.options["objectives"]:
        best = solved[_best(point, objective)]
        found = {s: solved[r] for s, r in _heuristics(point, objective).items()}
        # certified: 1 in every row of greedy_vs_optimal (a point not certified is refused)
        extra, optimum = {"certified": float(best["optimal"])}, best[objective]
        if at_scale:
            bound = best["lower_bound"]
            optimum = min(optimum, *(f[objective] for f in found.values()))
            extra = {"lower_bound": bound, **extra, "best_known": optimum,
                     "gap_to_bound_pct": stats.gap_pct(best[objective], bound),
                     "nodes": float(best["nodes"])}
        extra = {**sweeps.record_metrics(best), **extra}
        rows += sweeps.metric_rows(keys, "optimal", objective, extra)
        for solver, record in found.items():
            value = record[objective]
            metrics = {**sweeps.record_metrics(record), "gap_pct": stats.gap_pct(value, optimum)}
            if at_scale:
                metrics["gap_to_bound_pct"] = stats.gap_pct(value, bound)
            elif objective == "variance":
                metrics["std_ratio"] = stats.std_ratio(value, optimum)
            rows += sweeps.metric_rows(keys, solver, objective, metrics)
    return rows


#: Fig. 5's sweeps: the certified optimum (or, at scale, the best bound), greedy and
#: local-search of one scenario each.
OPTIMUM = sweeps.Solved(_requests, _assemble)


def optimum_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one point of :func:`greedy_vs_optimal`, solved in this process."""
    return OPTIMUM.rows(point)


#: Fig. 5 may be drawn at other policies and R (the paper does not give them).
OPTIMUM_VARIES = ("policy", "ratio")


def greedy_vs_optimal(
    setup: Setup,
    grid: Grid,
    *,
    objectives: Sequence[str] = ("variance", "max"),
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The paper's greedy and ``local-search`` against the certified optimum (Fig. 5).

    For every point of the grid (it may vary the policy and R) and every objective: the
    optimum by ``optimal`` (branch and bound: the optimum exhaustive search finds, hundreds
    of times faster), greedy and local-search (the experiment's start and restarts). Rows
    hold the metrics (the optimum's with ``certified`` = 1: a point it cannot certify is
    refused) and, for the heuristics, ``gap_pct`` = 100·(V − V*)/V* (the paper's gap; V* = 0:
    :func:`~dnnsplit.paper.stats.gap_pct`) and, for the variance, ``std_ratio`` =
    sqrt(V / V*), the ratio of standard deviations of delays.
    """
    chosen = optimum_points(setup, grid, objectives, experiment=experiment)
    rows = sweeps.solved_rows(OPTIMUM, chosen, desc="Fig. 5 grid", progress=progress, engine=engine)
    return sweeps.tidy(rows)


def optimum_points(
    setup: Setup,
    grid: Grid,
    objectives: Sequence[str],
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
    sweep: str = "greedy_vs_optimal",
    varies: Sequence[str] = OPTIMUM_VARIES,
    max_nodes: int | None = None,
) -> list[Point]:
    """The points of :func:`greedy_vs_optimal` (and, with its ``sweep``, ``varies`` and
    ``max_nodes``, of :func:`greedy_at_scale`)."""
    options = {
        "objectives": sweeps.check_objectives(objectives),
        "start": experiment.start,
        "restarts": experiment.restarts,
        **({} if max_nodes is None else {"max_nodes": max_nodes}),
    }
    return sweeps.points(setup, grid, sweep=sweep, varies=varies, options=options)


#: Fig. 5 at scale runs under each BS policy.
SCALE_VARIES = ("policy",)


def greedy_at_scale(
    setup: Setup,
    grid: Grid,
    *,
    max_nodes: int = 200_000,
    objectives: Sequence[str] = ("variance",),
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Fig. 5 at the paper's sizes: greedy and local-search against the certified optimum,
    or the best bound, of each objective, for every point of ``grid`` (it may vary the
    policy).

    ``optimal`` scores at most ``max_nodes`` nodes a point and objective (a node limit, so
    that a grid gives the same bytes on any machine), from the better of greedy and
    local-search (so its vector is never worse than theirs). Its rows hold the metrics of
    the best vector it found, its proven ``lower_bound``, ``certified`` (1: the search
    finished, the vector is optimal), ``best_known`` (the least value of the three
    solvers), ``gap_to_bound_pct`` (its own gap, 0 when certified) and ``nodes``. The
    heuristics' rows hold ``gap_pct`` against ``best_known`` (the true gap when certified,
    a lower estimate otherwise) and ``gap_to_bound_pct`` against the bound (an upper one).
    """
    chosen = optimum_points(
        setup, grid, objectives, experiment=experiment, sweep="greedy_at_scale",
        varies=SCALE_VARIES, max_nodes=int(number(max_nodes, "max_nodes", whole=True, minimum=1)),
    )
    rows = sweeps.solved_rows(
        OPTIMUM, chosen, desc="Fig. 5 at scale", progress=progress, engine=engine
    )
    return sweeps.tidy(rows)


def gap_statistics(rows: pd.DataFrame, *, within_pct: float, seed: int = 0) -> pd.DataFrame:
    """Three ways to state a heuristic's gap to the optimum over seeds, per (objective,
    solver, N), as summary rows (``metric``, ``mean``, ``low``, ``high``, spread, ``n``):

    - ``gap_of_means_pct``: ``100·(mean V − mean V*)/mean V*``, the gap between the two
      curves a figure of mean values shows (a paired bootstrap over seeds gives its
      95 % interval);
    - ``median_gap_pct``: the median of the per-case gaps (a typical case);
    - ``within_pct``: the share of cases (%) whose gap is at most ``within_pct``;
    - ``optimum_pct``: the share of cases (%) that reach the optimum
      (:func:`~dnnsplit.paper.stats.same_value`).

    The mean of per-case gaps (``gap_pct`` in :func:`greedy_vs_optimal_summary`) is
    dominated by cases with a tiny optimum; these three are not.
    """
    rng = np.random.default_rng(seed)
    out = []
    wide = rows[rows.metric == rows.objective].pivot_table(
        index=["objective", "devices", "seed"], columns="solver", values="value", aggfunc="first"
    )
    gaps, by = rows[rows.metric == "gap_pct"], ["objective", "solver", "devices", "metric"]
    for (objective, solver, n), part in gaps.groupby(by[:3]):
        ids = {"objective": objective, "solver": solver, "devices": n}
        case_gaps = part.sort_values("seed")["value"].to_numpy(dtype=float)
        pair = wide.loc[(objective, n)][[solver, "optimal"]].dropna()
        mine, best = pair[solver].to_numpy(dtype=float), pair["optimal"].to_numpy(dtype=float)
        reached = [stats.same_value(float(v), float(b)) for v, b in zip(mine, best, strict=True)]
        for metric, statistic, data in (
            ("median_gap_pct", np.median, case_gaps),
            ("within_pct", np.mean, 100.0 * (case_gaps <= within_pct)),
            ("optimum_pct", np.mean, 100.0 * np.array(reached)),
        ):
            one = pd.DataFrame({**ids, "metric": metric, "value": data})
            out += summarise(one, by, seed=seed, statistic=statistic).to_dict("records")
        centre = stats.gap_pct(float(mine.mean()), float(best.mean()))
        picks = rng.integers(0, len(pair), size=(stats.RESAMPLES, len(pair)))
        means = zip(mine[picks].mean(axis=1), best[picks].mean(axis=1), strict=True)
        boot = np.array([stats.gap_pct(float(m), float(b)) for m, b in means])
        low, high = (stats._bootstrap_interval(boot, stats.CONFIDENCE) if len(pair) >= 2
                     else (centre, centre))
        out.append({**ids, "metric": "gap_of_means_pct", "mean": centre, "low": low, "high": high,
                    **dict.fromkeys(("min", "median", "max"), math.nan), "n": len(pair)})
    return pd.DataFrame(out)


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
#: below it, "greedy is at most X% above the optimum" says little, and no such gap is drawn
#: (a certified case's bound always is).
INFORMATIVE_BOUND = 0.5


def _informative(frame: pd.DataFrame) -> pd.Series:
    return frame["lower_bound"] >= INFORMATIVE_BOUND * frame["best_known"]


def at_scale_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Fig. 5 at scale: per (objective, policy, solver, N): each objective's value, the
    optimum's lower bound and certified share, the heuristics' gaps to the best vector and
    to the bound, and ``informative_pct`` (the share of cases whose bound is informative:
    :data:`INFORMATIVE_BOUND`) on the optimal rows."""
    values = rows[rows.metric == rows.objective]
    wanted = rows[rows.metric.isin(["lower_bound", "certified", "gap_pct", "gap_to_bound_pct"])]
    best = rows[rows.solver == "optimal"].pivot_table(
        index=["objective", "policy", "devices", "seed"], columns="metric", values="value"
    )
    flags = (100.0 * _informative(best)).rename("value").reset_index()
    flags = flags.assign(metric="informative_pct", solver="optimal")
    keys = ["objective", "policy", "solver", "metric", "devices"]
    return summarise(pd.concat([values, wanted, flags], ignore_index=True), keys, seed=seed)


def fig5_tables(
    rows: pd.DataFrame, *, within_pct: float = FIG5_BOUND_PCT, seed: int = 0
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables Fig. 5 is saved with: its tidy rows and its summary (the claims read
    both; ``within_pct`` as in :func:`gap_statistics`)."""
    summary = greedy_vs_optimal_summary(rows, within_pct=within_pct, seed=seed)
    return {"fig5": {"": rows, "summary": summary}}


#: Marker and colour of each solver in every Fig. 5 figure.
SOLVER_STYLES = {"optimal": ("s", "C0"), "greedy": ("o", "C1"), "local-search": ("^", "C4")}


def _solver_lines(ax: Axes, rows: pd.DataFrame, metric: str, *, gaps: bool) -> None:
    """A band per solver of ``metric`` against N; with ``gaps``, each heuristic's points
    labelled with the gap between the means (``gap_of_means_pct``), greedy's up and right,
    local-search's down and left, on a white ground so that a band behind does not hide it."""
    for solver, (marker, color) in SOLVER_STYLES.items():
        line = where(rows, solver=solver, metric=metric)
        band(ax, line["devices"], line, solver, marker, color)
        if solver == "optimal" or not gaps:
            continue
        labels = where(rows, solver=solver, metric="gap_of_means_pct")["mean"]
        up = solver == "greedy"
        for x, y, gap in zip(line["devices"], line["mean"], labels, strict=True):
            text = "∞" if np.isinf(gap) else f"{gap:.0f}%" if abs(gap) >= 100 else f"{gap:.1f}%"
            ax.annotate(
                text, (x, y), textcoords="offset points", xytext=(7, 7) if up else (-7, -13),
                ha="left" if up else "right", fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 0.4},
            )


# Fig. 5's gap and hit-rate panels: (panel, metric, line style, what the line is).
_FIG5_LINES = (
    (1, "median_gap_pct", "-", "median case"),
    (1, "gap_pct", ":", "mean of cases"),
    (2, "within_pct", "-", "within the paper's bound"),
    (2, "optimum_pct", ":", "at the optimum"),
)
# Fig. 5's panels: (y label, title).
_FIG5_PANELS = (
    ("variance of delays (s²)", "(a) Mean variance; label: gap between means"),
    ("gap to the optimum (%, symlog)", "(b) Gap of each case to its optimum"),
    ("cases (%)", "(c) Cases at the optimum, and within the paper's bound"),
    ("mean delay (s)", "(d) Mean delay of each solution"),
)


def gap_vs_devices(
    summary: pd.DataFrame, *, caption: Caption | str = "", paper: Sequence[Claim] = ()
) -> Figure:
    """Fig. 5 (2×2, the variance), as its caption says; ``paper``: the Fig. 5 claims whose
    numbers are drawn."""
    bound = next((c for c in paper if c.kind == "value" and c.paper is not None), None)
    share = next((c for c in paper if c.kind == "frequency"), None)
    with paper_style():
        fig, grid = plt.subplots(2, 2, figsize=(PANEL[0] * 2, PANEL[1] * 2.2))
        axes = grid.ravel()
        variance_rows = where(summary, objective="variance")
        _solver_lines(axes[0], variance_rows, "variance", gaps=True)
        _solver_lines(axes[3], variance_rows, "mean", gaps=False)
        for solver, (marker, color) in list(SOLVER_STYLES.items())[1:]:
            for ax, metric, ls, what in _FIG5_LINES:
                line = where(variance_rows, solver=solver, metric=metric)
                axes[ax].plot(
                    line["devices"], line["mean"], marker=marker, ls=ls, color=color,
                    label=f"{solver}: {what}",
                )
        devices = variance_rows["devices"].unique()
        if bound is not None and bound.paper is not None:
            limit = bound.paper.band[1]
            axes[1].axhline(limit, color=INK, ls="--", lw=1.0, label=f"paper: {bound.paper_text}")
        if share is not None:
            axes[2].scatter(
                sorted(devices), [100 * share.share] * len(devices), color="0.6",
                label=f"paper: {share.paper_text}", **PAPER_MARKER,
            )
        axes[1].set_yscale("symlog", linthresh=1.0)
        drawn = [v for line in axes[1].get_lines() for v in line.get_ydata() if np.isfinite(v)]
        axes[1].set_ylim(0, 3 * max([1.0, *drawn]))  # room above the highest point
        axes[0].margins(y=0.25)  # room for the gap labels above the highest points
        for ax, (ylabel, title) in zip(axes, _FIG5_PANELS, strict=True):
            ticks(ax, devices)
            ax.set(xlabel="devices N", ylabel=ylabel, title=title)
        axes[2].set(ylim=(-3, 103))
        fig.tight_layout()
        return finish_figure(fig, list(axes), caption, legend_size=7)


def min_max(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Beside Fig. 5: the largest delay of each solver's min-max solution against N."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.2))
        rows = where(summary, objective="max")
        _solver_lines(ax, rows, "max", gaps=True)
        ticks(ax, rows["devices"])
        ax.set(
            xlabel="devices N",
            ylabel="largest delay (s)",
            title="Min-max objective: the slowest device (label: gap between means)",
        )
        return finish_figure(fig, [ax], caption, legend_size=7)


def at_scale(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Fig. 5 at the paper's sizes, as its caption says: a panel per (objective, policy),
    at most two wide."""
    objectives = sorted(summary.objective.unique()) if "objective" in summary else ["variance"]
    panels = [(o, p) for o in objectives for p in sorted(summary.policy.unique())]
    with paper_style():
        rows = math.ceil(len(panels) / 2)
        fig, grid = plt.subplots(
            rows, min(2, len(panels)), figsize=(PANEL[0] * 2, PANEL[1] * 1.25 * rows),
            squeeze=False,
        )
        axes = list(grid.ravel())
        for ax, (objective, policy) in zip(axes, panels, strict=False):
            mine = where(summary, policy=policy)
            if "objective" in summary:
                mine = where(mine, objective=objective)
            for solver, (marker, color) in SOLVER_STYLES.items():
                values = where(mine, solver=solver, metric=objective)
                if solver != "optimal":
                    band(ax, values["devices"], values, solver, marker, color)
                    continue
                certified = where(mine, solver="optimal", metric="certified")
                every = values["devices"].map(certified.set_index("devices")["mean"]).fillna(0)
                ax.plot(values["devices"], values["mean"], color=color, lw=1.0)
                for part, face, label in (
                    (values[every >= 1], color, "optimal, every case certified"),
                    (values[every < 1], "white", "optimal or best found: some case not certified"),
                ):
                    if not part.empty:
                        ax.scatter(part["devices"], part["mean"], marker=marker, facecolors=face,
                                   edgecolors=color, label=label, zorder=3)
            bound = where(mine, solver="optimal", metric="lower_bound")
            useful = where(mine, solver="optimal", metric="informative_pct").set_index("devices")
            bound = bound[bound["devices"].map(useful["mean"]).fillna(0) >= 100]
            if not bound.empty:
                ax.plot(bound["devices"], bound["mean"], ls="--", color=INK,
                        label="proven lower bound (informative)")
            ticks(ax, mine["devices"])
            ax.set_yscale("log")  # ticks at 1, 2 and 5 a decade, so one decade still has labels
            ax.yaxis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())
            what = "variance of delays (s²" if objective == "variance" else "largest delay (s"
            ax.set(xlabel="devices N", ylabel=f"{what}, log)",
                   title=f"{objective}, {display_name(policy)}")
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout()
        return finish_figure(fig, axes[: len(panels)], caption, legend_size=7)


def report_section(directory: Path) -> str:
    path = directory / "fig5_scale.csv"
    if not path.exists():
        return ""
    rows = pd.read_csv(path)
    best = where(rows, solver="optimal")
    nodes = ((read_manifest(directory, "fig5") or {}).get("notes") or {}).get("scale_max_nodes")
    out = []
    for (objective, policy, n), part in best.groupby(["objective", "policy", "devices"]):
        wide = part.pivot_table(index="seed", columns="metric", values="value")
        certified = wide["certified"] >= 1
        greedy = where(rows, solver="greedy", policy=policy, devices=n, objective=objective)
        gaps = greedy.pivot_table(index="seed", columns="metric", values="value")
        known = gaps.loc[certified[certified].index, "gap_pct"]
        bounded = gaps.loc[(~certified) & _informative(wide)]
        out.append(
            {
                "objective": objective,
                "policy": display_name(str(policy)),
                "N": n,
                "certified": f"{int(certified.sum())} of {len(wide)}",
                "greedy's gap, certified cases (median)": percent(float(np.median(known)))
                if len(known)
                else "—",
                "uncertified with an informative bound: gap to best found – to bound (median)": (
                    f"{percent(float(bounded.gap_pct.median()))} – "
                    f"{percent(float(bounded.gap_to_bound_pct.median()))} ({cases(len(bounded))})"
                    if len(bounded)
                    else "—"
                ),
            }
        )
    sizes = sorted(best.devices.unique())
    return render(
        "scale",
        sizes=f"{sizes[0]}–{sizes[-1]}" if sizes else "—",
        limit=f"node limit ({nodes:,} search nodes a case)" if nodes else "node limit",
        informative=f"{INFORMATIVE_BOUND:.0%}",
        table=table(pd.DataFrame(out)),
    )
