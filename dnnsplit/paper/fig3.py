"""Fig. 3: the paper's greedy against all-local execution (notebook 02).

Greedy's improvement over the baseline (all-local, or max-local) of the variance of delays
(A) and the total delay (B) against N, of the variance against R (C), and the share of
stages greedy runs locally: the sweep, its summaries, tables and figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from dnnsplit.paper import sweeps
from dnnsplit.paper.captions import Caption
from dnnsplit.paper.claims import Claim
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.plots import (
    INK,
    LINE_MARKERS,
    PANEL,
    POLICY_HATCHES,
    REFERENCE_LINE,
    band,
    finish_figure,
    legend_below,
    paper_style,
    paper_values,
    policy_colour,
    ticks,
)
from dnnsplit.paper.stats import improvement_pct, summarise, where
from dnnsplit.paper.sweeps import ALL_LOCAL, DEFAULT_EXPERIMENT, MAX_LOCAL, Grid, Point, Record
from dnnsplit.policies import POLICY_TABLE, display_name
from dnnsplit.setup import Setup

__all__ = [
    "EXACT_TOTAL",
    "IMPROVEMENT",
    "IMPROVEMENT_VARIES",
    "fig3_by_devices_tables",
    "fig3_by_ratio_tables",
    "fig3_tables",
    "improvement",
    "improvement_by_devices",
    "improvement_by_ratio",
    "improvement_points",
    "improvement_rows",
    "improvement_vs_devices",
    "improvement_vs_ratio",
    "local_share",
    "local_share_summary",
]


EXACT_TOTAL = sweeps.request("exact", "total")


def _improvement_solvers(point: Point, objective: str) -> list[tuple[str, sweeps.Request]]:
    """The solvers Fig. 3 compares with the baseline for ``objective`` at ``point``: greedy
    from the experiment's start, and ``exact`` for total delay where the policy has it."""
    found = [("greedy", sweeps.request("greedy", objective, start=point.options["start"]))]
    if objective == "total" and POLICY_TABLE[point.setup.policy].exact_total:
        found.append(("exact", EXACT_TOTAL))
    return found


def _improvement_requests(point: Point) -> list[sweeps.Request]:
    chosen = [r for o in point.options["objectives"] for _, r in _improvement_solvers(point, o)]
    return list(dict.fromkeys([ALL_LOCAL, MAX_LOCAL, *chosen]))


def _improvement_assemble(
    point: Point, solved: Mapping[sweeps.Request, Record]
) -> list[dict[str, Any]]:
    keys = point.keys()
    all_local, max_local = solved[ALL_LOCAL], solved[MAX_LOCAL]
    baseline = all_local if point.options["baseline"] == "all-local" else max_local
    rows: list[dict[str, Any]] = []
    for objective in point.options["objectives"]:
        base_value = sweeps.baseline_value(baseline, objective)
        for name, record in (("all-local", all_local), ("max-local", max_local)):
            rows += sweeps.metric_rows(keys, name, objective, sweeps.record_metrics(record))
        for solver, asked in _improvement_solvers(point, objective):
            record = solved[asked]
            metrics = sweeps.record_metrics(record)
            metrics["improvement_pct"] = improvement_pct(base_value, record[objective])
            metrics["iterations"] = float(record["iterations"])
            rows += sweeps.metric_rows(keys, solver, objective, metrics)
    return rows


#: Fig. 3's sweeps: all-local, max-local, greedy (and exact) from one scenario each.
IMPROVEMENT = sweeps.Solved(_improvement_requests, _improvement_assemble)


def improvement_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one point of :func:`improvement`, solved in this process."""
    return IMPROVEMENT.rows(point)


#: The setup fields each sweep may vary (a grid that varies another is refused).
IMPROVEMENT_VARIES = ("policy", "ratio")


def improvement(
    setup: Setup,
    grid: Grid,
    *,
    objectives: Sequence[str] = ("total", "variance"),
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The paper's greedy against the all-local baseline over a grid (Fig. 3).

    For every point of the grid (it may vary the policy and R) and every objective: greedy
    (eq. 6) from ``experiment.start``; the paper's all-local vector (p = S, even beyond the
    memory limits); ``max-local`` (p = s̃_i); and, for total delay where the policy has an
    exact method, the certified optimum (``exact``). Greedy and exact rows hold
    ``improvement_pct`` = 100·(baseline − solver)/baseline, the quantity Fig. 3 plots, over
    ``experiment.baseline``. Returns tidy rows (:data:`ID_COLUMNS` and ``value``).
    """
    chosen = improvement_points(setup, grid, objectives=objectives, experiment=experiment)
    rows = sweeps.solved_rows(
        IMPROVEMENT, chosen, desc="Fig. 3 grid", progress=progress, engine=engine
    )
    return sweeps.tidy(rows)


def improvement_points(
    setup: Setup,
    grid: Grid,
    *,
    objectives: Sequence[str] = ("total", "variance"),
    experiment: Experiment = DEFAULT_EXPERIMENT,
) -> list[Point]:
    """The points of :func:`improvement`."""
    options = {"objectives": sweeps.check_objectives(objectives), "start": experiment.start,
               "baseline": experiment.baseline}
    return sweeps.points(
        setup, grid, sweep="improvement", varies=IMPROVEMENT_VARIES, options=options
    )


def improvement_by_devices(
    rows: pd.DataFrame, objective: str, *, baseline: str = "all-local", seed: int = 0
) -> pd.DataFrame:
    """Fig. 3 (A) or (B): ``improvement_pct`` of greedy (and exact, where present) for
    ``objective`` over ``baseline``, per (solver, policy, R, N); and the other baseline's
    vector (``max-local`` beside ``all-local``) over the same baseline, so that a figure
    shows both."""
    chosen = where(rows, objective=objective, metric="improvement_pct")
    other = "max-local" if baseline == "all-local" else "all-local"
    values = where(rows, objective=objective, metric=objective)
    wide = values[values.solver.isin([baseline, other])].pivot_table(
        index=["policy", "ratio", "devices", "seed"], columns="solver", values="value",
        aggfunc="first",
    )
    if {baseline, other} <= set(wide.columns):
        gains = [improvement_pct(b, o) for b, o in zip(wide[baseline], wide[other], strict=True)]
        extra = wide.index.to_frame(index=False).assign(solver=other, value=gains)
        chosen = pd.concat([chosen, extra], ignore_index=True)
    return summarise(chosen, ["solver", "policy", "ratio", "devices"], seed=seed)


def improvement_by_ratio(
    rows: pd.DataFrame, objective: str = "variance", *, seed: int = 0
) -> pd.DataFrame:
    """Fig. 3 (C): greedy's ``improvement_pct`` for ``objective`` per (policy, N, R)."""
    chosen = where(rows, solver="greedy", objective=objective, metric="improvement_pct")
    return summarise(chosen, ["policy", "devices", "ratio"], seed=seed)


def local_share_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Share of stages greedy runs locally, in %, per (objective, policy, R, N)."""
    chosen = where(rows, solver="greedy", metric="local_share")
    chosen = chosen.assign(value=100 * chosen["value"])
    return summarise(chosen, ["objective", "policy", "ratio", "devices"], seed=seed)


def fig3_by_devices_tables(
    rows_by_devices: pd.DataFrame, *, baseline: str = "all-local", seed: int = 0
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables of Fig. 3 (A), (B) and the local share, from the sweep against N: per
    figure, its tidy rows (``""``) and the summary it draws (``"summary"``)."""
    rows = rows_by_devices
    tables = {
        name: {
            "": where(rows, objective=objective),
            "summary": improvement_by_devices(rows, objective, baseline=baseline, seed=seed),
        }
        for name, objective in (("fig3a", "variance"), ("fig3b", "total"))
    }
    share = {"": where(rows, metric="local_share"), "summary": local_share_summary(rows, seed=seed)}
    return {**tables, "fig3_local_share": share}


def fig3_by_ratio_tables(
    rows_by_ratio: pd.DataFrame, *, seed: int = 0
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables of Fig. 3 (C), from the sweep against R."""
    return {"fig3c": {"": rows_by_ratio, "summary": improvement_by_ratio(rows_by_ratio, seed=seed)}}


def fig3_tables(
    rows_by_devices: pd.DataFrame,
    rows_by_ratio: pd.DataFrame,
    *,
    baseline: str = "all-local",
    seed: int = 0,
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables Fig. 3's four figures are saved with (the claims of the report read
    them): :func:`fig3_by_devices_tables` and :func:`fig3_by_ratio_tables`."""
    return {
        **fig3_by_devices_tables(rows_by_devices, baseline=baseline, seed=seed),
        **fig3_by_ratio_tables(rows_by_ratio, seed=seed),
    }


def improvement_vs_devices(
    summary: pd.DataFrame,
    objective: str,
    *,
    caption: Caption | str = "",
    paper: Sequence[Claim] = (),
    baseline: str = "all-local",
) -> Figure:
    """Fig. 3 (A) or (B), as their captions say; ``paper``: the claims whose numbers are
    drawn, each in its policy's colour and hatch, their diamonds nudged apart."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.5))
        for (solver, policy, ratio), part in summary.groupby(["solver", "policy", "ratio"]):
            label = f"{solver}, {display_name(policy)}, R = {ratio:g}"
            color = policy_colour(policy)
            if solver == "greedy":
                band(ax, part["devices"], part, label, color=color)
            else:
                style = ":" if solver in ("all-local", "max-local") else "--"
                ax.plot(
                    part["devices"], part["mean"], ls=style, marker="x", color=color, lw=1.0,
                    label=label,
                )
        for k, claim in enumerate(paper):
            policy = claim.policies[0] if len(claim.policies) == 1 else ""
            color = policy_colour(policy) if policy else "0.5"
            paper_values(
                ax, claim, summary["devices"].unique(), color,
                f"paper{', ' + display_name(policy) if policy else ''}: {claim.paper_text}",
                hatch=POLICY_HATCHES.get(policy, "..."), nudge=0.012 * (2 * k - 1),
            )
        what = "variance of delays" if objective == "variance" else "total delay"
        ticks(ax, summary["devices"])
        ax.set(xlabel="devices N", ylabel=f"improvement of {what} (%)",
               title=f"Greedy vs {baseline}: {what}")
        ax.axhline(0, **REFERENCE_LINE)
        legend_below(ax)
        return finish_figure(fig, [], caption)


def improvement_vs_ratio(
    summary: pd.DataFrame,
    *,
    objective: str = "variance",
    caption: Caption | str = "",
    paper: Sequence[Claim] = (),
    baseline: str = "all-local",
) -> Figure:
    """Fig. 3 (C), as its caption says: a line per N, each with a marker of its own so that
    lines that meet stay apart."""
    with paper_style():
        policies = sorted(summary.policy.unique())
        fig, axes = plt.subplots(
            len(policies), 1, figsize=(PANEL[0] * 1.3, PANEL[1] * 1.5 * len(policies)),
            squeeze=False,
        )
        for ax, policy in zip(axes[:, 0], policies, strict=True):
            mine = summary[summary.policy == policy]
            for k, (n, part) in enumerate(mine.groupby("devices", sort=True)):
                band(ax, part["ratio"], part, f"N = {n}", marker=LINE_MARKERS[k % 6])
            for claim in paper:
                if policy in claim.policies:
                    n = claim.reads[0].rows.get("devices")
                    paper_values(ax, claim, mine["ratio"].unique(), INK, f"paper (N = {n})")
            ticks(ax, mine["ratio"], log=True)
            ax.set(xlabel="BS / device speed ratio R (log scale)",
                   ylabel=f"improvement of {objective} (%)",
                   title=f"Greedy vs {baseline}, {display_name(policy)}")
            ax.axhline(0, **REFERENCE_LINE)
            legend_below(ax, columns=4)
        fig.tight_layout()
        return finish_figure(fig, [], caption)


def local_share(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Share of stages run locally by greedy against N (the paper's text on Fig. 3)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.5))
        for (objective, policy, ratio), part in summary.groupby(
            ["objective", "policy", "ratio"], sort=True
        ):
            variance = objective == "variance"
            band(
                ax, part["devices"], part, f"{objective}, {display_name(policy)}, R = {ratio:g}",
                "o" if variance else "s", policy_colour(policy), ls="-" if variance else "--",
                alpha=0.15,
            )
        ticks(ax, summary["devices"])
        ax.set(xlabel="devices N", ylabel="stages run locally (%)", ylim=(0, 100),
               title="Share of locally executed stages (greedy)")
        legend_below(ax)
        return finish_figure(fig, [], caption)
