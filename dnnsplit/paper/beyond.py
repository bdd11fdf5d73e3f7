"""Beyond the paper: the device quantum and the snapshot assumption (notebook 04).

How greedy's gain moves with the round-robin quantum q the paper leaves open (both forms of
eq. 1), and how greedy's solutions change when tasks reach the BS only when their tensors
do (the timeline model, :mod:`dnnsplit.timeline`): summaries, figures and the report's
section.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from dnnsplit.paper.captions import Caption
from dnnsplit.paper.output import setup_of
from dnnsplit.paper.plots import (
    PANEL,
    band,
    finish_figure,
    paper_style,
    policy_colour,
    ticks,
)
from dnnsplit.paper.stats import (
    summarise,
)
from dnnsplit.paper.text import percent, render
from dnnsplit.paper.verdicts import trend_slope, trend_words
from dnnsplit.policies import display_name

__all__ = [
    "model_gap",
    "model_gap_summary",
    "quantum_sensitivity",
    "quantum_summary",
    "report_section",
]


def quantum_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Greedy's improvement over the baseline against the device quantum q (in ms)."""
    chosen = rows[(rows.solver == "greedy") & (rows.metric == "improvement_pct")].copy()
    chosen["quantum_ms"] = 1000 * chosen["quantum_s"]
    return summarise(chosen, ["policy", "devices", "local_delay", "quantum_ms"], seed=seed)


def model_gap_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Timeline against snapshot: % change of total delay and of variance per (policy, N)."""
    chosen = rows[rows.metric.isin(["total_gap_pct", "variance_gap_pct"])]
    return summarise(chosen, ["metric", "policy", "devices"], seed=seed)


def quantum_sensitivity(
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
        ax.set(
            xlabel="device round-robin quantum q (ms, log scale)",
            ylabel=f"improvement of {objective} (%)",
            title="Sensitivity to the quantum the paper leaves open",
        )
        return finish_figure(fig, [ax], caption, zero=0, legend_size=7)


def model_gap(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Timeline against snapshot model: % change of total delay and of variance against N."""
    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(PANEL[0] * 2, PANEL[1] * 1.2))
        for ax, metric, what in zip(
            axes,
            ("total_gap_pct", "variance_gap_pct"),
            ("total delay", "variance of delays"),
            strict=True,
        ):
            mine = summary[summary.metric == metric]
            for policy, part in mine.groupby("policy", sort=True):
                band(ax, part["devices"], part, display_name(policy),
                      color=policy_colour(policy))
            ticks(ax, mine["devices"])
            ax.set(
                xlabel="devices N",
                ylabel="timeline vs snapshot (%)",
                title=f"Greedy's solution re-evaluated: {what}",
            )
        fig.tight_layout()
        return finish_figure(fig, list(axes), caption, zero=0, legend_size=7)


def _span(values: pd.Series) -> str:
    return f"{values.min():.1f}% to {values.max():.1f}%"


def report_section(directory: Path) -> str:
    setup = setup_of(directory, "beyond")
    quantum, timeline = None, []
    path = directory / "beyond_quantum_summary.csv"
    if path.exists() and setup is not None:
        frame = pd.read_csv(path)
        lines = []
        for (form, _n, _policy), part in frame.groupby(["local_delay", "devices", "policy"]):
            part = part.sort_values("quantum_ms")
            slope = trend_slope(part.quantum_ms, part["mean"], log_x=True)
            lines.append(
                {
                    "form": form,
                    "first": percent(part["mean"].iloc[0]),
                    "last": percent(part["mean"].iloc[-1]),
                    "q_first": f"{part.quantum_ms.iloc[0]:g}",
                    "q_last": f"{part.quantum_ms.iloc[-1]:g}",
                    "trend": trend_words(part.quantum_ms, part["mean"], slope, "q"),
                    "half": f"{float(((part['high'] - part['low']) / 2).max()):.0f}",
                }
            )
        quantum = {
            "devices": ", ".join(str(n) for n in sorted(frame.devices.unique())),
            "policy": ", ".join(display_name(str(p)) for p in sorted(frame.policy.unique())),
            "lines": lines,
            "used": f"{1000 * setup.quantum_s:g}",
        }
    path = directory / "beyond_timeline_summary.csv"
    if path.exists():
        frame = pd.read_csv(path)
        for policy, part in frame.groupby("policy"):
            total = part[part.metric == "total_gap_pct"]
            timeline.append(
                {
                    "policy": display_name(str(policy)),
                    "total": _span(total["mean"]),
                    "variance": _span(part[part.metric == "variance_gap_pct"]["mean"]),
                    "sizes": f"{total.devices.min()}–{total.devices.max()}",
                }
            )
    if quantum is None and not timeline:
        return ""
    return render("beyond", quantum=quantum, timeline=timeline)
