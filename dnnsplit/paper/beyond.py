"""Beyond the paper: the device quantum and the snapshot assumption (notebook 04).

How greedy's gain moves with the round-robin quantum q the paper leaves open (both forms of
eq. 1), and how greedy's solutions change when tasks reach the BS only when their tensors
do (:mod:`dnnsplit.timeline`): the sweeps, summaries, figures and the report's section.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from dnnsplit.evaluate import evaluate
from dnnsplit.paper import stats, sweeps
from dnnsplit.paper.captions import Caption
from dnnsplit.paper.engine import Engine, yields
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.fig3 import IMPROVEMENT
from dnnsplit.paper.output import setup_of
from dnnsplit.paper.plots import PANEL, band, finish_figure, paper_style, policy_colour, ticks
from dnnsplit.paper.stats import summarise
from dnnsplit.paper.sweeps import DEFAULT_EXPERIMENT, Grid, Point
from dnnsplit.paper.text import percent, render
from dnnsplit.paper.verdicts import trend_slope, trend_words
from dnnsplit.policies import display_name
from dnnsplit.setup import Setup
from dnnsplit.solvers import solve

__all__ = [
    "MODEL_GAP_VARIES",
    "QUANTUM_VARIES",
    "improvement_vs_quantum",
    "model_gap",
    "model_gap_summary",
    "quantum_sensitivity",
    "quantum_summary",
    "report_section",
    "timeline_vs_snapshot",
]


#: The quantum study varies the device quantum and the form of eq. (1).
QUANTUM_VARIES = ("quantum_s", "local_delay")


def quantum_sensitivity(
    setup: Setup,
    grid: Grid,
    *,
    objective: str = "variance",
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """How much the device's round-robin quantum q matters (docs/model.md).

    The paper gives no q. For every point of the grid (it may vary ``quantum_s`` and the
    form of eq. (1), ``local_delay``): greedy for ``objective`` and all-local, with
    greedy's ``improvement_pct`` over the experiment's baseline: the rows of Fig. 3's sweep
    (:data:`~dnnsplit.paper.fig3.IMPROVEMENT`) of those two. Rows carry ``quantum_s`` and
    ``local_delay`` besides :data:`ID_COLUMNS`, varied or not.
    """
    options = {"objectives": sweeps.check_objectives([objective])[:1], "start": experiment.start,
               "baseline": experiment.baseline}
    chosen = [
        dataclasses.replace(p, labels=(("quantum_s", float(p.setup.quantum_s)),
                                       ("local_delay", p.setup.local_delay)))
        for p in sweeps.points(
            setup, grid, sweep="quantum_sensitivity", varies=QUANTUM_VARIES, options=options
        )
    ]
    rows = sweeps.tidy(
        sweeps.solved_rows(IMPROVEMENT, chosen, desc="quantum sweep", progress=progress,
                           engine=engine),
        ("quantum_s", "local_delay"),
    )
    kept = rows.solver.isin(["all-local", "greedy"]) & (rows.metric != "iterations")
    return rows[kept].reset_index(drop=True)


@yields(lambda point: sweeps.tidy_shape(point, 2 * len(sweeps.METRICS) + 2, ("model",)))
def _model_gap_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys = point.scenario(), point.keys()
    objective = point.options["objective"]
    solution = solve(scenario, objective=objective, start=point.options["start"])
    snapshot = solution.evaluation
    timeline = evaluate(scenario, solution.partition, model="timeline")
    metrics = sweeps.evaluation_metrics(timeline)
    metrics["total_gap_pct"] = stats.change_pct(timeline.total, snapshot.total)
    metrics["variance_gap_pct"] = stats.change_pct(timeline.variance, snapshot.variance)
    return sweeps.metric_rows(
        {**keys, "model": "snapshot"}, "greedy", objective, sweeps.evaluation_metrics(snapshot)
    ) + sweeps.metric_rows({**keys, "model": "timeline"}, "greedy", objective, metrics)


#: The timeline study runs under each BS policy.
MODEL_GAP_VARIES = ("policy",)


def model_gap(
    setup: Setup,
    grid: Grid,
    *,
    objective: str = "total",
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The snapshot model against the timeline model (docs/model.md, "The timeline model").

    Greedy (from ``experiment.start``) solves each scenario under the paper's snapshot
    model; the same partition is then re-evaluated under the timeline model, where each
    residual task reaches the BS only when its tensor does. The grid may vary the policy.
    Rows: the metrics of both (``model`` column) and, on the timeline rows,
    ``total_gap_pct`` and ``variance_gap_pct`` = 100·(timeline − snapshot)/snapshot.
    """
    options = {"objective": sweeps.check_objectives([objective])[0], "start": experiment.start}
    chosen = sweeps.points(setup, grid, sweep="model_gap", varies=MODEL_GAP_VARIES, options=options)
    rows = sweeps.run_points(_model_gap_point, chosen, desc="model gap", progress=progress,
                             engine=engine)
    return sweeps.tidy(rows, ("model",))


def quantum_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Greedy's improvement over the baseline against the device quantum q (in ms)."""
    chosen = stats.where(rows, solver="greedy", metric="improvement_pct")
    chosen = chosen.assign(quantum_ms=1000 * chosen["quantum_s"])
    return summarise(chosen, ["policy", "devices", "local_delay", "quantum_ms"], seed=seed)


def model_gap_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Timeline against snapshot: % change of total delay and of variance per (policy, N)."""
    chosen = rows[rows.metric.isin(["total_gap_pct", "variance_gap_pct"])]
    return summarise(chosen, ["metric", "policy", "devices"], seed=seed)


def improvement_vs_quantum(
    summary: pd.DataFrame, objective: str, *, caption: Caption | str = ""
) -> Figure:
    """Greedy's improvement over all-local against the device quantum q, per form of eq. (1)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.2))
        for (policy, n, form), part in summary.groupby(
            ["policy", "devices", "local_delay"], sort=True
        ):
            band(ax, part["quantum_ms"], part, f"eq. (1) {form}, {display_name(policy)}, N = {n}")
        ticks(ax, summary["quantum_ms"], log=True)
        ax.set(xlabel="device round-robin quantum q (ms, log scale)",
               ylabel=f"improvement of {objective} (%)",
               title="Sensitivity to the quantum the paper leaves open")
        return finish_figure(fig, [ax], caption, zero=0, legend_size=7)


def timeline_vs_snapshot(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Timeline against snapshot model: % change of total delay and of variance against N."""
    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(PANEL[0] * 2, PANEL[1] * 1.2))
        panels = (("total_gap_pct", "total delay"), ("variance_gap_pct", "variance of delays"))
        for ax, (metric, what) in zip(axes, panels, strict=True):
            mine = summary[summary.metric == metric]
            for policy, part in mine.groupby("policy", sort=True):
                band(ax, part["devices"], part, display_name(policy), color=policy_colour(policy))
            ticks(ax, mine["devices"])
            ax.set(xlabel="devices N", ylabel="timeline vs snapshot (%)",
                   title=f"Greedy's solution re-evaluated: {what}")
        fig.tight_layout()
        return finish_figure(fig, list(axes), caption, zero=0, legend_size=7)


def report_section(directory: Path) -> str:
    setup = setup_of(directory, "beyond")
    quantum, timeline = None, []
    path = directory / "beyond_quantum_summary.csv"
    if path.exists() and setup is not None:
        frame = pd.read_csv(path)
        lines = []
        for (form, _n, _policy), part in frame.groupby(["local_delay", "devices", "policy"]):
            part = part.sort_values("quantum_ms")
            q, mean = part.quantum_ms, part["mean"]
            lines.append({
                "form": form, "first": percent(mean.iloc[0]), "last": percent(mean.iloc[-1]),
                "q_first": f"{q.iloc[0]:g}", "q_last": f"{q.iloc[-1]:g}",
                "trend": trend_words(q, mean, trend_slope(q, mean, log_x=True), "q"),
                "half": f"{float(((part['high'] - part['low']) / 2).max()):.0f}",
            })
        quantum = {
            "devices": ", ".join(str(n) for n in sorted(frame.devices.unique())),
            "policy": ", ".join(display_name(str(p)) for p in sorted(frame.policy.unique())),
            "lines": lines,
            "used": f"{1000 * setup.quantum_s:g}",
        }
    path = directory / "beyond_timeline_summary.csv"
    if path.exists():
        for policy, part in pd.read_csv(path).groupby("policy"):
            gaps = {m: part[part.metric == f"{m}_gap_pct"] for m in ("total", "variance")}
            timeline.append({
                "policy": display_name(str(policy)),
                **{m: f"{g['mean'].min():.1f}% to {g['mean'].max():.1f}%" for m, g in gaps.items()},
                "sizes": f"{gaps['total'].devices.min()}–{gaps['total'].devices.max()}",
            })
    if quantum is None and not timeline:
        return ""
    return render("beyond", quantum=quantum, timeline=timeline)
