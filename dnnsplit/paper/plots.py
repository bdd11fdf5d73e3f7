"""The paper's figures, drawn from the summaries of :mod:`dnnsplit.paper.stats`.

Plot functions only draw: they take a summary (or tidy rows, for Fig. 4 and the
quick-start) and return a :class:`matplotlib.figure.Figure`; they compute no statistic.
Every figure is drawn inside :func:`paper_style`, a context that sets the seaborn "paper"
theme for the figure only and restores the reader's matplotlib settings afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, cast

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dnnsplit.paper.stats import where

__all__ = [
    "POLICY_NAMES",
    "at_scale",
    "greedy_vs_optimal",
    "improvement_vs_devices",
    "improvement_vs_ratio",
    "local_share",
    "mechanism",
    "model_gap",
    "paper_style",
    "quantum_sensitivity",
    "solver_delays",
    "stage_profiles",
    "verdict_map",
]

POLICY_NAMES = {"sjf": "SJF", "rr": "RR", "ps": "PS", "fcfs": "FCFS"}
#: The near-black of seaborn's colour codes ("k" under its theme).
INK = (0.1, 0.1, 0.1)
REFERENCE_LINE: dict[str, Any] = {"color": "0.3", "lw": 0.8}


def _theme() -> dict[str, Any]:
    """The rcParams of seaborn's ``set_theme(context="paper", style="whitegrid",
    font_scale=1.1)``, as a dict instead of a change to global state."""
    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid", rc={"font.family": "sans-serif"}))
    rc.update(sns.plotting_context("paper", font_scale=1.1))
    rc["axes.prop_cycle"] = cycler("color", sns.color_palette("deep"))
    return rc


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Draw (and save) figures in the paper theme; the global settings are restored after."""
    with mpl.rc_context(cast(Any, _theme())):
        yield


def _policy(name: str) -> str:
    return POLICY_NAMES.get(name, name)


def _band(
    ax: Axes, x: Any, summary: pd.DataFrame, label: str, marker: str = "o", color: Any = None
) -> None:
    """A mean line with its shaded interval (``low``..``high``)."""
    line = ax.plot(x, summary["mean"], marker=marker, label=label, color=color)[0]
    ax.fill_between(x, summary["low"], summary["high"], color=line.get_color(), alpha=0.2, lw=0)


def _lines(ax: Axes, summary: pd.DataFrame, x: str, by: Sequence[str], label: Any) -> None:
    """One banded line per group of ``by``, labelled ``label(*group)``."""
    groups = summary.groupby(list(by), sort=True) if by else [((), summary)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        _band(ax, part[x], part, label(*key))


def _finish(
    fig: Figure,
    axes: Sequence[Axes],
    caption: str,
    *,
    zero: float | None = None,
    legend_size: float | None = None,
) -> Figure:
    """Shared last steps: a reference line, legends without frames, the caption, and a
    draw inside the style so that ticks made later keep its look."""
    for ax in axes:
        if zero is not None:
            ax.axhline(zero, **REFERENCE_LINE)
        ax.legend(frameon=False, fontsize=legend_size)
    if caption:
        fig.text(0.0, -0.02, caption, ha="left", va="top", fontsize=8, wrap=True)
    fig.canvas.draw()
    return fig


def improvement_vs_devices(summary: pd.DataFrame, objective: str, *, caption: str = "") -> Figure:
    """Fig. 3 (A) or (B): improvement over all-local against N, one line per policy.

    Greedy's mean with its interval; dashed, the certified optimum where the summary holds
    one (``exact``, total delay).
    """
    with paper_style():
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for (solver, policy, ratio), part in summary.groupby(["solver", "policy", "ratio"]):
            label = f"{solver}, {_policy(policy)}, R = {ratio:g}"
            if solver == "greedy":
                _band(ax, part["devices"], part, label)
            else:
                ax.plot(part["devices"], part["mean"], ls="--", marker="x", color=INK, label=label)
        what = "variance of delays" if objective == "variance" else "total delay"
        ax.set(
            xlabel="devices N",
            ylabel=f"improvement of {what} (%)",
            title=f"Greedy vs all-local: {what}",
        )
        return _finish(fig, [ax], caption, zero=0)


def improvement_vs_ratio(
    summary: pd.DataFrame, *, objective: str = "variance", caption: str = ""
) -> Figure:
    """Fig. 3 (C): improvement of ``objective`` over all-local against R, a line per N."""
    with paper_style():
        policies = sorted(summary.policy.unique())
        fig, axes = plt.subplots(
            1, len(policies), figsize=(5.5 * len(policies), 3.6), squeeze=False
        )
        for ax, policy in zip(axes[0], policies, strict=True):
            _lines(ax, summary[summary.policy == policy], "ratio", ["devices"], "N = {}".format)
            ax.set_xscale("log")
            ax.set(
                xlabel="BS / device speed ratio R",
                ylabel=f"improvement of {objective} (%)",
                title=f"Greedy vs all-local, {_policy(policy)}",
            )
        return _finish(fig, list(axes[0]), caption, zero=0, legend_size=8)


def local_share(summary: pd.DataFrame, *, caption: str = "") -> Figure:
    """Share of stages run locally by greedy against N (the paper's text on Fig. 3)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        _lines(
            ax,
            summary,
            "devices",
            ["objective", "policy", "ratio"],
            lambda o, p, r: f"{o}, {_policy(p)}, R = {r:g}",
        )
        ax.set(
            xlabel="devices N",
            ylabel="stages run locally (%)",
            ylim=(0, 100),
            title="Share of locally executed stages (greedy)",
        )
        return _finish(fig, [ax], caption, legend_size=8)


SOLVER_STYLES = {"optimal": ("s", "C0"), "greedy": ("o", "C1"), "local-search": ("^", "C2")}


def _gap_labels(ax: Axes, x: Any, y: Any, gaps: Any, solver: str) -> None:
    for px, py, gap in zip(x, y, gaps, strict=True):
        text = "∞" if np.isinf(gap) else f"{gap:.1f}%"
        ax.annotate(
            text,
            (px, py),
            textcoords="offset points",
            xytext=(0, 6 if solver == "greedy" else -12),
            ha="center",
            fontsize=7,
        )


def greedy_vs_optimal(summary: pd.DataFrame, *, caption: str = "") -> Figure:
    """Fig. 5: greedy and local-search against the certified optimum.

    Variance objective (the paper's): the mean variance per N, each heuristic's point
    labelled with its mean % gap; the ratio of standard deviations sqrt(V/V*); the mean
    delay of each solution. Min-max objective (beside it): the largest delay, labelled
    with the mean % gap.
    """
    with paper_style():
        fig, axes = plt.subplots(1, 4, figsize=(20, 3.8))
        for solver, (marker, color) in SOLVER_STYLES.items():
            by_variance = where(summary, objective="variance", solver=solver)
            by_max = where(summary, objective="max", solver=solver)
            variance = where(by_variance, metric="variance")
            _band(axes[0], variance["devices"], variance, solver, marker, color)
            slowest = where(by_max, metric="max")
            if not slowest.empty:
                _band(axes[3], slowest["devices"], slowest, solver, marker, color)
            if solver != "optimal":
                gaps = where(by_variance, metric="gap_pct")["mean"]
                _gap_labels(axes[0], variance["devices"], variance["mean"], gaps, solver)
                if not slowest.empty:
                    gaps = where(by_max, metric="gap_pct")["mean"]
                    _gap_labels(axes[3], slowest["devices"], slowest["mean"], gaps, solver)
                ratio = where(by_variance, metric="std_ratio")
                _band(axes[1], ratio["devices"], ratio, solver, marker, color)
            mean = where(by_variance, metric="mean")
            _band(axes[2], mean["devices"], mean, solver, marker, color)
        axes[0].set(
            xlabel="devices N",
            ylabel="variance of delays (s²)",
            title="Variance: heuristics vs optimum (label: mean % gap)",
        )
        axes[1].axhline(1, **REFERENCE_LINE)
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
        axes[3].set(
            xlabel="devices N",
            ylabel="largest delay (s)",
            title="Min-max objective: the slowest device (label: % gap)",
        )
        return _finish(fig, list(axes), caption, legend_size=8)


def at_scale(summary: pd.DataFrame, *, caption: str = "") -> Figure:
    """Fig. 5 at the paper's sizes: greedy and local-search against the certified optimum
    (solid) or, where the time limit stopped the proof, the best vector found and the
    proven lower bound (dashed), one panel per policy; the title gives the share certified."""
    with paper_style():
        policies = sorted(summary.policy.unique())
        fig, axes = plt.subplots(
            1, len(policies), figsize=(6.5 * len(policies), 3.8), squeeze=False
        )
        for ax, policy in zip(axes[0], policies, strict=True):
            mine = where(summary, policy=policy)
            for solver, (marker, color) in SOLVER_STYLES.items():
                variance = where(mine, solver=solver, metric="variance")
                label = "optimal (best found)" if solver == "optimal" else solver
                _band(ax, variance["devices"], variance, label, marker, color)
            bound = where(mine, solver="optimal", metric="lower_bound")
            ax.plot(bound["devices"], bound["mean"], ls="--", color=INK, label="lower bound")
            certified = where(mine, solver="optimal", metric="certified")
            share = ", ".join(
                f"N={n}: {100 * c:.0f}%"
                for n, c in zip(certified["devices"], certified["mean"], strict=True)
            )
            ax.set_yscale("log")
            ax.set(
                xlabel="devices N",
                ylabel="variance of delays (s², log)",
                title=f"{_policy(policy)}: certified {share}",
            )
            ax.title.set_fontsize(8)
        return _finish(fig, list(axes[0]), caption, legend_size=8)


def stage_profiles(frame: pd.DataFrame, *, caption: str = "") -> Figure:
    """Fig. 4: stage delays of each profile, side by side (log scale), per DNN model."""
    with paper_style():
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
            fig.text(0.0, -0.02, caption, ha="left", va="top", fontsize=8, wrap=True)
        fig.canvas.draw()
        return fig


def solver_delays(solutions: dict, objective: str, solvers: Sequence[str]) -> Figure:
    """Per-device delays of several solutions of one scenario, one column per solver."""
    rows = []
    for solver in solvers:
        solution = solutions.get((objective, solver))
        if solution is None:
            continue
        for device, delay in enumerate(solution.evaluation.delays):
            rows.append({"solver": solver, "device": device, "delay_s": float(delay)})
    data = pd.DataFrame(rows)
    with paper_style():
        fig, ax = plt.subplots(figsize=(8, 3.6))
        sns.stripplot(data=data, x="solver", y="delay_s", ax=ax, jitter=False, size=6, alpha=0.8)
        means = data.groupby("solver", sort=False)["delay_s"].mean()
        ax.scatter(
            np.arange(len(means)),
            means.to_numpy(),
            marker="_",
            s=600,
            color=INK,
            label="mean",
            zorder=3,
        )
        ax.set(
            ylabel="delay per device (s)",
            xlabel="",
            title=f"Per-device delays, objective {objective}",
        )
        ax.tick_params(axis="x", rotation=20)
        return _finish(fig, [ax], "")


def quantum_sensitivity(summary: pd.DataFrame, objective: str, *, caption: str = "") -> Figure:
    """Greedy's improvement over all-local against the device quantum q, per form of eq. (1)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        _lines(
            ax,
            summary,
            "quantum_ms",
            ["policy", "devices", "local_delay"],
            lambda p, n, f: f"eq. (1) {f}, {_policy(p)}, N = {n}",
        )
        ax.set_xscale("log")
        ax.set(
            xlabel="device round-robin quantum q (ms, log scale)",
            ylabel=f"improvement of {objective} (%)",
            title="Sensitivity to the quantum the paper leaves open",
        )
        return _finish(fig, [ax], caption, zero=0, legend_size=8)


def model_gap(summary: pd.DataFrame, *, caption: str = "") -> Figure:
    """Timeline against snapshot model: % change of total delay and of variance against N."""
    with paper_style():
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        for ax, metric, what in zip(
            axes,
            ("total_gap_pct", "variance_gap_pct"),
            ("total delay", "variance of delays"),
            strict=True,
        ):
            _lines(ax, summary[summary.metric == metric], "devices", ["policy"], _policy)
            ax.set(
                xlabel="devices N",
                ylabel=f"timeline vs snapshot, {what} (%)",
                title=f"Greedy's solution re-evaluated: {what}",
            )
        return _finish(fig, list(axes), caption, zero=0, legend_size=8)


VERDICT_COLOURS = {
    "reproduced": "#4c9a2a",
    "partly": "#e8b923",
    "not reproduced": "#c0392b",
    "not evaluated": "#bbbbbb",
}


def verdict_map(
    cells: pd.DataFrame,
    *,
    claims: Sequence[str],
    columns: Sequence[str],
    title: str = "Which reading makes each claim hold",
    caption: str = "",
) -> Figure:
    """A readings × claims grid (one row per reading in ``columns``' order, one column per
    claim): colour = verdict, label = our number (from
    :func:`dnnsplit.paper.stats.verdict_cells`)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    order = list(VERDICT_COLOURS)
    readings = list(columns)
    wide = cells.pivot(index="reading", columns="claim", values="verdict")
    labels = cells.pivot(index="reading", columns="claim", values="label")
    wide = wide.reindex(index=readings, columns=list(claims)).fillna("not evaluated")
    labels = labels.reindex(index=readings, columns=list(claims)).fillna("")
    codes = wide.apply(lambda col: col.map(order.index)).to_numpy(dtype=float)
    with paper_style():
        fig, ax = plt.subplots(figsize=(1.45 * len(claims) + 4.0, 0.32 * len(readings) + 1.8))
        ax.imshow(
            codes,
            cmap=ListedColormap([VERDICT_COLOURS[v] for v in order]),
            vmin=-0.5,
            vmax=len(order) - 0.5,
            aspect="auto",
        )
        for (row, col), text in np.ndenumerate(labels.to_numpy()):
            ax.text(col, row, text, ha="center", va="center", fontsize=6.5, color="white")
        ax.set_xticks(range(len(claims)), list(claims), rotation=25, ha="right", fontsize=7)
        ax.set_yticks(range(len(readings)), readings, fontsize=7)
        ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
        plt.setp(ax.get_xticklabels(), rotation=25, ha="left")
        ax.grid(False)
        ax.set_title(title, pad=40)
        ax.legend(
            handles=[Patch(color=VERDICT_COLOURS[v], label=v) for v in order],
            frameon=False,
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
        if caption:
            fig.text(0.0, -0.01, caption, ha="left", va="top", fontsize=8, wrap=True)
        fig.canvas.draw()
        return fig


def mechanism(summary: pd.DataFrame, curves: pd.DataFrame, *, caption: str = "") -> Figure:
    """Why greedy stops where it does: at its end points, how often a jump or a pair of
    moves would lower the variance (left); how many devices greedy and the optimum place
    differently (middle); one case's delay of each device against its point (right)."""
    with paper_style():
        fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
        for metric, label in (
            ("jump_improves", "one device jumps ≥ 2 stages"),
            ("pair_improves", "two devices move one stage each"),
        ):
            part = summary[summary.metric == metric]
            scaled = part.assign(**{c: 100 * part[c] for c in ("mean", "low", "high")})
            _band(axes[0], scaled["devices"], scaled, label)
        axes[0].set(
            xlabel="devices N",
            ylabel="greedy's end points (%)",
            ylim=(0, 100),
            title="A better vector exists one move away, if...",
        )
        differ = summary[summary.metric == "devices_differ"]
        _band(axes[1], differ["devices"], differ, "mean over seeds")
        axes[1].plot(differ["devices"], differ["devices"], ls=":", color=INK, label="all devices")
        axes[1].set(
            xlabel="devices N",
            ylabel="devices placed differently",
            title="Greedy's answer against the optimum",
        )
        for device, part in curves.groupby("device", sort=True):
            line = axes[2].plot(
                part["point"], part["delay_s"], marker=".", label=f"device {device}"
            )
            colour = line[0].get_color()
            chosen = part[part.greedy]
            axes[2].scatter(
                chosen["point"],
                chosen["delay_s"],
                marker="o",
                s=80,
                facecolors="none",
                edgecolors=colour,
                zorder=3,
            )
            best = part[part.optimum]
            axes[2].scatter(
                best["point"], best["delay_s"], marker="*", s=90, color=colour, zorder=3
            )
        n, seed = int(curves.devices.iloc[0]), int(curves.seed.iloc[0])
        axes[2].set(
            xlabel="partition point p of the device",
            ylabel="its delay (s), others at greedy's",
            title=f"N = {n}, seed {seed}: ○ greedy, ★ optimum",
        )
        return _finish(fig, list(axes), caption, legend_size=7)
