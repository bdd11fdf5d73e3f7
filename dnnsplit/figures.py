"""The paper's figures: plotting the tidy tables of :mod:`dnnsplit.experiments` and saving
each figure as PDF and PNG next to the CSV it was drawn from.

Files are written whole or not at all (temporary file, then rename), and the same table
gives the same bytes: rows are sorted, floats have a fixed format, figure metadata carry no
dates, and bootstrap intervals are seeded.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from dnnsplit._io import atomic_write
from dnnsplit.experiments import summarise
from dnnsplit.paths import FIGURES_DIR

__all__ = [
    "FLOAT_FORMAT",
    "plot_greedy_vs_optimal",
    "plot_improvement_vs_devices",
    "plot_improvement_vs_ratio",
    "plot_local_share",
    "plot_model_gap",
    "plot_quantum_sensitivity",
    "plot_solver_delays",
    "plot_stage_profiles",
    "save_figure",
    "write_table",
]

FLOAT_FORMAT = "%.10g"
POLICY_NAMES = {"sjf": "SJF", "rr": "RR", "ps": "PS", "fcfs": "FCFS"}


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` as CSV with sorted rows and a fixed float format, atomically."""
    path = Path(path)
    ordered = frame.sort_values(list(frame.columns), kind="stable", na_position="last")
    buffer = io.StringIO()
    ordered.to_csv(buffer, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    atomic_write(path, buffer.getvalue().encode())
    return path


def save_figure(
    fig: Figure,
    name: str,
    tables: dict[str, pd.DataFrame],
    out_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Save ``fig`` as ``NAME.pdf`` and ``NAME.png`` with its tables as CSV beside it.

    ``tables`` maps a suffix to a table: ``""`` gives ``NAME.csv`` (the tidy rows the figure
    was drawn from), ``"summary"`` gives ``NAME_summary.csv``, and so on.
    """
    out = Path(out_dir) if out_dir is not None else FIGURES_DIR
    written = []
    for suffix, frame in tables.items():
        stem = f"{name}_{suffix}" if suffix else name
        written.append(write_table(frame, out / f"{stem}.csv"))
    for fmt, metadata in (
        ("pdf", {"CreationDate": None, "Producer": None, "Creator": None}),
        ("png", {"Software": None}),
    ):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, metadata=metadata, dpi=150, bbox_inches="tight")
        path = out / f"{name}.{fmt}"
        atomic_write(path, buffer.getvalue())
        written.append(path)
    return written


def _theme() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)


def _band(
    ax, x, summary: pd.DataFrame, label: str, marker: str = "o", color: str | None = None
) -> None:
    line = ax.plot(x, summary["mean"], marker=marker, label=label, color=color)[0]
    ax.fill_between(x, summary["low"], summary["high"], color=line.get_color(), alpha=0.2, lw=0)


def _caption(fig: Figure, text: str) -> None:
    fig.text(0.0, -0.02, text, ha="left", va="top", fontsize=8, wrap=True)


def plot_improvement_vs_devices(
    rows: pd.DataFrame, objective: str, *, caption: str = "", seed: int = 0
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 3 (A) or (B): improvement over all-local against N, one line per policy.

    Plots the mean over seeds of ``improvement_pct`` of greedy for ``objective``, with a
    seeded 95% bootstrap interval, and, dashed, that of the certified optimum where the
    rows hold one (``exact``, total delay); returns the figure and the summary it drew.
    """
    _theme()
    chosen = rows[(rows.objective == objective) & (rows.metric == "improvement_pct")]
    summary = summarise(chosen, ["solver", "policy", "ratio", "devices"], seed=seed)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for (solver, policy, ratio), part in summary.groupby(["solver", "policy", "ratio"]):
        label = f"{solver}, {POLICY_NAMES.get(policy, policy)}, R = {ratio:g}"
        if solver == "greedy":
            _band(ax, part["devices"], part, label)
        else:
            ax.plot(part["devices"], part["mean"], ls="--", marker="x", color="k", label=label)
    ax.axhline(0, color="0.3", lw=0.8)
    what = "variance of delays" if objective == "variance" else "total delay"
    ax.set(
        xlabel="devices N",
        ylabel=f"improvement of {what} (%)",
        title=f"Greedy vs all-local: {what}",
    )
    ax.legend(frameon=False)
    if caption:
        _caption(fig, caption)
    return fig, summary


def plot_improvement_vs_ratio(
    rows: pd.DataFrame, *, objective: str = "variance", caption: str = "", seed: int = 0
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 3 (C): improvement of ``objective`` over all-local against R, a line per N."""
    _theme()
    chosen = rows[
        (rows.solver == "greedy")
        & (rows.objective == objective)
        & (rows.metric == "improvement_pct")
    ]
    summary = summarise(chosen, ["policy", "devices", "ratio"], seed=seed)
    policies = sorted(summary.policy.unique())
    fig, axes = plt.subplots(1, len(policies), figsize=(5.5 * len(policies), 3.6), squeeze=False)
    for ax, policy in zip(axes[0], policies, strict=True):
        for n, part in summary[summary.policy == policy].groupby("devices", sort=True):
            _band(ax, part["ratio"], part, f"N = {n}")
        ax.set_xscale("log")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set(
            xlabel="BS / device speed ratio R",
            ylabel=f"improvement of {objective} (%)",
            title=f"Greedy vs all-local, {POLICY_NAMES.get(policy, policy)}",
        )
        ax.legend(frameon=False, fontsize=8)
    if caption:
        _caption(fig, caption)
    return fig, summary


def plot_local_share(
    rows: pd.DataFrame, *, caption: str = "", seed: int = 0
) -> tuple[Figure, pd.DataFrame]:
    """Share of stages run locally by greedy against N (the paper's text on Fig. 3)."""
    _theme()
    chosen = rows[(rows.solver == "greedy") & (rows.metric == "local_share")].copy()
    chosen["value"] = 100 * chosen["value"]
    summary = summarise(chosen, ["objective", "policy", "ratio", "devices"], seed=seed)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for (objective, policy, ratio), part in summary.groupby(["objective", "policy", "ratio"]):
        label = f"{objective}, {POLICY_NAMES.get(policy, policy)}, R = {ratio:g}"
        _band(ax, part["devices"], part, label)
    ax.set(
        xlabel="devices N",
        ylabel="stages run locally (%)",
        ylim=(0, 100),
        title="Share of locally executed stages (greedy)",
    )
    ax.legend(frameon=False, fontsize=8)
    if caption:
        _caption(fig, caption)
    return fig, summary


def plot_greedy_vs_optimal(
    rows: pd.DataFrame, *, caption: str = "", seed: int = 0
) -> tuple[Figure, pd.DataFrame]:
    """Fig. 5: variance of greedy and local-search against the exhaustive optimum.

    Left: mean variance per N, each heuristic's point labelled with its mean % gap.
    Middle: the ratio of standard deviations sqrt(V/V*). Right: mean delay of each solution.
    """
    _theme()
    wanted = rows[rows.metric.isin(["variance", "gap_pct", "std_ratio", "mean"])]
    summary = summarise(wanted, ["solver", "metric", "devices"], seed=seed)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    styles = {"exhaustive": ("s", "C0"), "greedy": ("o", "C1"), "local-search": ("^", "C2")}
    for solver, (marker, color) in styles.items():
        part = summary[(summary.solver == solver) & (summary.metric == "variance")]
        _band(axes[0], part["devices"], part, solver, marker, color)
        if solver != "exhaustive":
            gaps = summary[(summary.solver == solver) & (summary.metric == "gap_pct")]
            for x, y, gap in zip(part["devices"], part["mean"], gaps["mean"], strict=True):
                axes[0].annotate(
                    f"{gap:.1f}%",
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 6 if solver == "greedy" else -12),
                    ha="center",
                    fontsize=7,
                )
            ratio = summary[(summary.solver == solver) & (summary.metric == "std_ratio")]
            _band(axes[1], ratio["devices"], ratio, solver, marker, color)
        mean = summary[(summary.solver == solver) & (summary.metric == "mean")]
        _band(axes[2], mean["devices"], mean, solver, marker, color)
    axes[0].set(
        xlabel="devices N",
        ylabel="variance of delays (s²)",
        title="Variance: heuristics vs optimum (label: mean % gap)",
    )
    axes[1].axhline(1, color="0.3", lw=0.8)
    axes[1].set(
        xlabel="devices N",
        ylabel="std of delays / optimal std",
        title="Gap as a ratio of standard deviations",
    )
    axes[2].set(
        xlabel="devices N",
        ylabel="mean delay (s)",
        title="Mean delay of each variance-optimised solution",
    )
    for ax in axes:
        ax.legend(frameon=False, fontsize=8)
    if caption:
        _caption(fig, caption)
    return fig, summary


def plot_stage_profiles(frame: pd.DataFrame, *, caption: str = "") -> Figure:
    """Fig. 4: stage delays of each profile, side by side (log scale), per DNN model."""
    _theme()
    frame = frame.copy()
    frame["label"] = frame["hardware"] + " (" + frame["method"] + ")"
    models = list(dict.fromkeys(frame["model"]))
    fig, axes = plt.subplots(len(models), 1, figsize=(11, 3.4 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        part = frame[frame.model == model].copy()
        part["time_ms"] = 1000 * part["time_s"]
        order = list(dict.fromkeys(part.sort_values("stage_index")["stage"]))
        sns.barplot(
            data=part, x="stage", y="time_ms", hue="label", order=order, ax=ax, errorbar=None
        )
        ax.set_yscale("log")
        ax.set(xlabel=f"{model} stage", ylabel="time (ms, log scale)", title=f"{model}")
        ax.tick_params(axis="x", rotation=45)
        ax.legend(
            frameon=False, fontsize=8, title=None, loc="upper left", bbox_to_anchor=(1.01, 1.0)
        )
    fig.tight_layout()
    if caption:
        _caption(fig, caption)
    return fig


def plot_solver_delays(solutions: dict, objective: str, solvers: Sequence[str]) -> Figure:
    """Per-device delays of several solutions of one scenario, one column per solver."""
    _theme()
    rows = []
    for solver in solvers:
        solution = solutions.get((objective, solver))
        if solution is None:
            continue
        for device, delay in enumerate(solution.evaluation.delays):
            rows.append({"solver": solver, "device": device, "delay_s": float(delay)})
    data = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    sns.stripplot(data=data, x="solver", y="delay_s", ax=ax, jitter=False, size=6, alpha=0.8)
    means = data.groupby("solver", sort=False)["delay_s"].mean()
    ax.scatter(
        np.arange(len(means)),
        means.to_numpy(),
        marker="_",
        s=600,
        color="k",
        label="mean",
        zorder=3,
    )
    ax.set(
        ylabel="delay per device (s)", xlabel="", title=f"Per-device delays, objective {objective}"
    )
    ax.tick_params(axis="x", rotation=20)
    ax.legend(frameon=False)
    return fig


def plot_quantum_sensitivity(
    rows: pd.DataFrame, *, caption: str = "", seed: int = 0
) -> tuple[Figure, pd.DataFrame]:
    """Greedy's improvement over all-local against the device quantum q, per form of eq. (1)."""
    _theme()
    chosen = rows[(rows.solver == "greedy") & (rows.metric == "improvement_pct")].copy()
    chosen["quantum_ms"] = 1000 * chosen["quantum_s"]
    summary = summarise(chosen, ["policy", "devices", "local_delay", "quantum_ms"], seed=seed)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for (policy, n, form), part in summary.groupby(["policy", "devices", "local_delay"]):
        label = f"eq. (1) {form}, {POLICY_NAMES.get(policy, policy)}, N = {n}"
        _band(ax, part["quantum_ms"], part, label)
    ax.set_xscale("log")
    ax.axhline(0, color="0.3", lw=0.8)
    objective = str(rows.objective.iloc[0])
    ax.set(
        xlabel="device round-robin quantum q (ms, log scale)",
        ylabel=f"improvement of {objective} (%)",
        title="Sensitivity to the quantum the paper leaves open",
    )
    ax.legend(frameon=False, fontsize=8)
    if caption:
        _caption(fig, caption)
    return fig, summary


def plot_model_gap(
    rows: pd.DataFrame, *, caption: str = "", seed: int = 0
) -> tuple[Figure, pd.DataFrame]:
    """Timeline against snapshot model: % change of total delay and of variance against N."""
    _theme()
    chosen = rows[rows.metric.isin(["total_gap_pct", "variance_gap_pct"])]
    summary = summarise(chosen, ["metric", "policy", "devices"], seed=seed)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, metric, what in zip(
        axes,
        ("total_gap_pct", "variance_gap_pct"),
        ("total delay", "variance of delays"),
        strict=True,
    ):
        for policy, part in summary[summary.metric == metric].groupby("policy"):
            _band(ax, part["devices"], part, POLICY_NAMES.get(policy, policy))
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set(
            xlabel="devices N",
            ylabel=f"timeline vs snapshot, {what} (%)",
            title=f"Greedy's solution re-evaluated: {what}",
        )
        ax.legend(frameon=False, fontsize=8)
    if caption:
        _caption(fig, caption)
    return fig, summary
