"""The paper's figures, drawn from the summaries of :mod:`dnnsplit.paper.stats`.

Plot functions only draw: they take a summary (or tidy rows, for Fig. 4 and the
quick-start) and return a :class:`matplotlib.figure.Figure`; they compute no statistic.
Where the paper states numbers, the figure draws them too (a band or markers labelled
"paper", from the claims' data: :mod:`dnnsplit.paper.claims`), so a reader can check ours
against the paper's at a glance. No figure is more than two panels wide; x ticks sit only
at the values a sweep evaluated; each figure carries a short caption (the full one, with
every profile's provenance, is written beside it: :mod:`dnnsplit.paper.captions`).

Every figure is drawn inside :func:`paper_style`, a context that sets the seaborn "paper"
theme for the figure only and restores the reader's matplotlib settings afterwards, all
but the interactive mode, which drawing may switch on (the inline backend of a notebook
does) and must not be switched off again, or no later figure would be shown.
"""

from __future__ import annotations

import contextlib
import math
import textwrap
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

from dnnsplit.paper.captions import Caption, text
from dnnsplit.paper.claims import Claim
from dnnsplit.paper.stats import where
from dnnsplit.policies import display_name

__all__ = [
    "POLICY_COLOURS",
    "VERDICT_STYLES",
    "at_scale",
    "greedy_vs_optimal",
    "improvement_vs_devices",
    "improvement_vs_ratio",
    "local_share",
    "mechanism",
    "min_max",
    "model_gap",
    "paper_style",
    "quantum_sensitivity",
    "solver_delays",
    "stage_profiles",
    "verdict_map",
]

#: One colour per BS policy in every figure (the paper's numbers for a policy share it).
POLICY_COLOURS = {"sjf": "C0", "rr": "C1", "ps": "C2", "fcfs": "C3"}
#: The near-black of seaborn's colour codes ("k" under its theme).
INK = (0.1, 0.1, 0.1)
REFERENCE_LINE: dict[str, Any] = {"color": "0.3", "lw": 0.8}
#: How the paper's numbers are drawn: a hatched grey band and black-edged diamonds.
PAPER_BAND: dict[str, Any] = {"facecolor": "none", "hatch": "///", "lw": 0.0}
PAPER_MARKER: dict[str, Any] = {"marker": "D", "s": 40, "edgecolors": INK, "zorder": 4}
CAPTION_SIZE = 8
#: Panel size (inches): two fit the width of a notebook column or a printed page.
PANEL = (5.0, 3.4)


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
    """Draw (and save) figures in the paper theme; the global settings are restored after,
    except the interactive mode, which is left as drawing left it (module docstring)."""
    with mpl.rc_context(cast(Any, _theme())):
        try:
            yield
        finally:
            interactive = mpl.is_interactive()
    if mpl.is_interactive() != interactive:
        mpl.interactive(interactive)


def _policy_colour(policy: str) -> Any:
    return POLICY_COLOURS.get(policy, INK)


def _band(
    ax: Axes, x: Any, summary: pd.DataFrame, label: str, marker: str = "o", color: Any = None
) -> None:
    """A mean line with its shaded interval (``low``..``high``)."""
    line = ax.plot(x, summary["mean"], marker=marker, label=label, color=color)[0]
    ax.fill_between(x, summary["low"], summary["high"], color=line.get_color(), alpha=0.2, lw=0)


def _ticks(ax: Axes, values: Any, *, log: bool = False) -> None:
    """X ticks at the evaluated values only."""
    values = sorted({float(v) for v in values})
    if log:
        ax.set_xscale("log")
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def _paper(ax: Axes, claim: Claim, xs: Sequence[float], color: Any, label: str) -> None:
    """The paper's numbers of a ``value`` claim over ``xs``: its band, hatched, and its
    single values as diamonds (the ends of a range read as the axis' ends)."""
    if claim.paper is None:
        return
    xs = sorted(float(x) for x in xs)
    low, high = claim.paper.band
    bottom = low if math.isfinite(low) else ax.get_ylim()[0]
    ax.fill_between(
        xs, [bottom] * len(xs), [high] * len(xs), edgecolor=color, label=label, **PAPER_BAND
    )
    pinned = [(x, v) for x, v in claim.paper.at.items() if min(xs) <= x <= max(xs)]
    if pinned:
        ax.scatter(*zip(*pinned, strict=True), color=color, **PAPER_MARKER)


def finish_figure(
    fig: Figure,
    axes: Sequence[Axes],
    caption: Caption | str,
    *,
    zero: float | None = None,
    legend_size: float = 8,
) -> Figure:
    """Shared last steps: a reference line, legends without frames, the short caption
    (wrapped to the figure's width), and a draw inside the style so that ticks made later
    keep its look."""
    for ax in axes:
        if zero is not None:
            ax.axhline(zero, **REFERENCE_LINE)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(frameon=False, fontsize=legend_size)
    short = text(caption)
    if short:
        width = fig.get_size_inches()[0]
        wrapped = textwrap.fill(short, width=int(width * 15))
        fig.text(0.0, -0.01, wrapped, ha="left", va="top", fontsize=CAPTION_SIZE)
    fig.canvas.draw()
    return fig


def improvement_vs_devices(
    summary: pd.DataFrame,
    objective: str,
    *,
    caption: Caption | str = "",
    paper: Sequence[Claim] = (),
) -> Figure:
    """Fig. 3 (A) or (B): improvement over all-local against N, one line per policy.

    Greedy's mean with its interval; dashed, the certified optimum where the summary holds
    one (``exact``, total delay); hatched, the paper's numbers of each claim in ``paper``
    (in its policy's colour: the claim's first policy, or grey when it covers several).
    """
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.2))
        for (solver, policy, ratio), part in summary.groupby(["solver", "policy", "ratio"]):
            label = f"{solver}, {display_name(policy)}, R = {ratio:g}"
            color = _policy_colour(policy)
            if solver == "greedy":
                _band(ax, part["devices"], part, label, color=color)
            else:
                ax.plot(
                    part["devices"], part["mean"], ls="--", marker="x", color=color, label=label
                )
        for claim in paper:
            color = _policy_colour(claim.policies[0]) if len(claim.policies) == 1 else "0.5"
            _paper(ax, claim, summary["devices"].unique(), color, f"paper: {claim.paper_text}")
        what = "variance of delays" if objective == "variance" else "total delay"
        _ticks(ax, summary["devices"])
        ax.set(
            xlabel="devices N",
            ylabel=f"improvement of {what} (%)",
            title=f"Greedy vs all-local: {what}",
        )
        return finish_figure(fig, [ax], caption, zero=0, legend_size=7)


def improvement_vs_ratio(
    summary: pd.DataFrame,
    *,
    objective: str = "variance",
    caption: Caption | str = "",
    paper: Sequence[Claim] = (),
) -> Figure:
    """Fig. 3 (C): improvement of ``objective`` over all-local against R, a line per N; the
    paper's numbers (hatched, diamonds) for the N its claims name."""
    with paper_style():
        policies = sorted(summary.policy.unique())
        fig, axes = plt.subplots(
            len(policies), 1, figsize=(PANEL[0] * 1.3, PANEL[1] * 1.2 * len(policies)),
            squeeze=False,
        )
        for ax, policy in zip(axes[:, 0], policies, strict=True):
            mine = summary[summary.policy == policy]
            for n, part in mine.groupby("devices", sort=True):
                _band(ax, part["ratio"], part, f"N = {n}")
            for claim in paper:
                if policy in claim.policies:
                    n = claim.reads[0].rows.get("devices")
                    _paper(ax, claim, mine["ratio"].unique(), INK, f"paper (N = {n}): "
                           f"{claim.paper_text}")
            _ticks(ax, mine["ratio"], log=True)
            ax.set(
                xlabel="BS / device speed ratio R (log scale)",
                ylabel=f"improvement of {objective} (%)",
                title=f"Greedy vs all-local, {display_name(policy)}",
            )
        return finish_figure(fig, list(axes[:, 0]), caption, zero=0, legend_size=7)


def local_share(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Share of stages run locally by greedy against N (the paper's text on Fig. 3)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.2))
        for (objective, policy, ratio), part in summary.groupby(
            ["objective", "policy", "ratio"], sort=True
        ):
            marker = "o" if objective == "variance" else "s"
            line = ax.plot(
                part["devices"],
                part["mean"],
                marker=marker,
                ls="-" if objective == "variance" else "--",
                color=_policy_colour(policy),
                label=f"{objective}, {display_name(policy)}, R = {ratio:g}",
            )[0]
            ax.fill_between(
                part["devices"], part["low"], part["high"], color=line.get_color(), alpha=0.15,
                lw=0,
            )
        _ticks(ax, summary["devices"])
        ax.set(
            xlabel="devices N",
            ylabel="stages run locally (%)",
            ylim=(0, 100),
            title="Share of locally executed stages (greedy)",
        )
        return finish_figure(fig, [ax], caption, legend_size=7)


SOLVER_STYLES = {"optimal": ("s", "C2"), "greedy": ("o", "C3"), "local-search": ("^", "C4")}
# Fig. 5's gap and hit-rate panels: (panel, metric, line style, what the line is).
_FIG5_LINES = (
    (1, "median_gap_pct", "-", "median case"),
    (1, "gap_pct", ":", "mean of cases"),
    (2, "within_pct", "-", "within the paper's bound"),
    (2, "optimum_pct", ":", "at the optimum"),
)


def _gap_labels(ax: Axes, x: Any, y: Any, gaps: Any, solver: str) -> None:
    for px, py, gap in zip(x, y, gaps, strict=True):
        label = "∞" if np.isinf(gap) else f"{gap:.0f}%" if abs(gap) >= 100 else f"{gap:.1f}%"
        ax.annotate(
            label,
            (px, py),
            textcoords="offset points",
            xytext=(0, 6 if solver == "greedy" else -12),
            ha="center",
            fontsize=7,
        )


def greedy_vs_optimal(
    summary: pd.DataFrame, *, caption: Caption | str = "", paper: Sequence[Claim] = ()
) -> Figure:
    """Fig. 5 (2×2): greedy and local-search against the certified optimum, variance.

    (a) the mean variance per N, each heuristic labelled with the gap between the mean
    variances (the gap the two curves show); (b) the gap of each case to its optimum: the
    median case and the mean of the cases (symlog scale), with the paper's bound; (c) the
    share of cases within the paper's bound, with the paper's "almost all"; (d) the mean
    delay of each variance-optimised solution (minimising variance alone can make everyone
    slow).
    ``paper``: the Fig. 5 claims whose numbers are drawn.
    """
    bound = next((c for c in paper if c.kind == "value" and c.paper is not None), None)
    share = next((c for c in paper if c.kind == "frequency"), None)
    with paper_style():
        fig, grid = plt.subplots(2, 2, figsize=(PANEL[0] * 2, PANEL[1] * 2.2))
        axes = grid.ravel()
        variance_rows = where(summary, objective="variance")
        for solver, (marker, color) in SOLVER_STYLES.items():
            mine = where(variance_rows, solver=solver)
            variance = where(mine, metric="variance")
            _band(axes[0], variance["devices"], variance, solver, marker, color)
            mean = where(mine, metric="mean")
            _band(axes[3], mean["devices"], mean, solver, marker, color)
            if solver == "optimal":
                continue
            gaps = where(mine, metric="gap_of_means_pct")["mean"]
            _gap_labels(axes[0], variance["devices"], variance["mean"], gaps, solver)
            for ax, metric, ls, what in _FIG5_LINES:
                line = where(mine, metric=metric)
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
        axes[1].set_ylim(bottom=0)
        for ax in axes:
            _ticks(ax, devices)
        axes[0].set(
            xlabel="devices N",
            ylabel="variance of delays (s²)",
            title="(a) Mean variance; label: gap between means",
        )
        axes[1].set(
            xlabel="devices N",
            ylabel="gap to the optimum (%, symlog)",
            title="(b) Gap of each case to its optimum",
        )
        axes[2].set(
            xlabel="devices N",
            ylabel="cases (%)",
            ylim=(-3, 103),
            title="(c) Cases at the optimum, and within the paper's bound",
        )
        axes[3].set(
            xlabel="devices N",
            ylabel="mean delay (s)",
            title="(d) Mean delay of each solution",
        )
        fig.tight_layout()
        return finish_figure(fig, list(axes), caption, legend_size=7)


def min_max(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Beside Fig. 5: the min-max objective, the largest delay of each solver's solution
    per N, each heuristic labelled with the gap between the means."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.2))
        rows = where(summary, objective="max")
        for solver, (marker, color) in SOLVER_STYLES.items():
            slowest = where(rows, solver=solver, metric="max")
            _band(ax, slowest["devices"], slowest, solver, marker, color)
            if solver != "optimal":
                gaps = where(rows, solver=solver, metric="gap_of_means_pct")["mean"]
                _gap_labels(ax, slowest["devices"], slowest["mean"], gaps, solver)
        _ticks(ax, rows["devices"])
        ax.set(
            xlabel="devices N",
            ylabel="largest delay (s)",
            title="Min-max objective: the slowest device (label: gap between means)",
        )
        return finish_figure(fig, [ax], caption, legend_size=7)


def at_scale(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Fig. 5 at the paper's sizes: one panel per (objective, policy), at most two wide.

    The optimal line's markers say per N whether every case was certified (filled) or some
    value is only the best vector found (hollow; the legend says so); greedy and
    local-search beside it; the proven lower bound (dashed) only at the N where it is
    informative in every case (``informative_pct``, see
    :func:`dnnsplit.paper.stats.at_scale_summary`).
    """
    objectives = (
        sorted(summary.objective.unique()) if "objective" in summary else ["variance"]
    )
    policies = sorted(summary.policy.unique())
    panels = [(o, p) for o in objectives for p in policies]
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
                    _band(ax, values["devices"], values, solver, marker, color)
                    continue
                certified = where(mine, solver="optimal", metric="certified").set_index(
                    "devices"
                )["mean"]
                full = values[values["devices"].map(certified).fillna(0) >= 1]
                partial = values[values["devices"].map(certified).fillna(0) < 1]
                ax.plot(values["devices"], values["mean"], color=color, lw=1.0)
                ax.scatter(full["devices"], full["mean"], marker=marker, color=color,
                           label="optimal (certified)", zorder=3)
                ax.scatter(partial["devices"], partial["mean"], marker=marker,
                           facecolors="none", edgecolors=color,
                           label="best found (not certified)", zorder=3)
            bound = where(mine, solver="optimal", metric="lower_bound")
            useful = where(mine, solver="optimal", metric="informative_pct").set_index(
                "devices"
            )["mean"]
            bound = bound[bound["devices"].map(useful).fillna(0) >= 100]
            if not bound.empty:
                ax.plot(bound["devices"], bound["mean"], ls="--", color=INK,
                        label="proven lower bound (informative)")
            _ticks(ax, mine["devices"])
            ax.set_yscale("log")
            what = "variance of delays (s², log)" if objective == "variance" else (
                "largest delay (s, log)"
            )
            ax.set(xlabel="devices N", ylabel=what, title=f"{objective}, {display_name(policy)}")
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout()
        return finish_figure(fig, axes[: len(panels)], caption, legend_size=7)


def stage_profiles(frame: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Fig. 4: stage delays of each profile, side by side (log scale), one panel per DNN
    model; the legend says per profile whether it is measured or ESTIMATED."""
    with paper_style():
        frame = frame.copy()
        frame["label"] = frame["hardware"] + " (" + frame["method"].str.upper() + ")"
        models = list(dict.fromkeys(frame["model"]))
        fig, axes = plt.subplots(
            len(models), 1, figsize=(PANEL[0] * 2, 3.0 * len(models)), squeeze=False
        )
        for ax, model in zip(axes[:, 0], models, strict=True):
            part = frame[frame.model == model].copy()
            part["time_ms"] = 1000 * part["time_s"]
            order = list(dict.fromkeys(part.sort_values("stage_index")["stage"]))
            sns.barplot(
                data=part, x="stage", y="time_ms", hue="label", order=order, ax=ax, errorbar=None
            )
            ax.set_yscale("log")
            ax.set(xlabel=f"{model} stage", ylabel="time (ms, log scale)", title=f"{model}")
            ax.tick_params(axis="x", rotation=45, labelsize=8)
            ax.legend(frameon=False, fontsize=7, title=None, loc="upper right")
        fig.tight_layout()
        return finish_figure(fig, [], caption)


def solver_delays(
    solutions: dict, objective: str, solvers: Sequence[str], *, caption: Caption | str = ""
) -> Figure:
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
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.6, PANEL[1] * 1.2))
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
        return finish_figure(fig, [ax], caption)


def quantum_sensitivity(
    summary: pd.DataFrame, objective: str, *, caption: Caption | str = ""
) -> Figure:
    """Greedy's improvement over all-local against the device quantum q, per form of eq. (1)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.2))
        for (policy, n, form), part in summary.groupby(
            ["policy", "devices", "local_delay"], sort=True
        ):
            _band(ax, part["quantum_ms"], part, f"eq. (1) {form}, {display_name(policy)}, N = {n}")
        _ticks(ax, summary["quantum_ms"], log=True)
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
                _band(ax, part["devices"], part, display_name(policy),
                      color=_policy_colour(policy))
            _ticks(ax, mine["devices"])
            ax.set(
                xlabel="devices N",
                ylabel="timeline vs snapshot (%)",
                title=f"Greedy's solution re-evaluated: {what}",
            )
        fig.tight_layout()
        return finish_figure(fig, list(axes), caption, zero=0, legend_size=7)


#: Verdict → (colour, hatch, word): the Okabe–Ito colour-blind-safe palette, with a hatch
#: and a word per level so that the verdict never rests on colour alone.
VERDICT_STYLES: dict[str, tuple[str, str, str]] = {
    "reproduced": ("#009E73", "", "yes"),
    "partly": ("#56B4E9", "//", "partly"),
    "direction only": ("#F0E442", "..", "direction"),
    "not reproduced": ("#D55E00", "xx", "no"),
    "not evaluated": ("#DDDDDD", "", "–"),
}


def verdict_map(
    cells: pd.DataFrame,
    *,
    claims: Sequence[Claim],
    columns: Sequence[str],
    title: str = "Which reading makes each claim hold",
    caption: Caption | str = "",
) -> Figure:
    """A readings × claims grid (one row per reading in ``columns``' order, one column per
    claim, headed by its title): colour, hatch and word = verdict; label = our number (from
    :func:`dnnsplit.paper.stats.verdict_cells`). Text is at least 8 pt at the figure's size."""
    from matplotlib.patches import Patch, Rectangle

    readings = list(columns)
    ids = [c.id for c in claims]
    wide = cells.pivot(index="reading", columns="claim", values="verdict")
    labels = cells.pivot(index="reading", columns="claim", values="label")
    wide = wide.reindex(index=readings, columns=ids).fillna("not evaluated")
    labels = labels.reindex(index=readings, columns=ids).fillna("")
    cell_w, line_h = 0.86, 0.14
    # a combination's parts one to a line ('+' ends a line), so the map stays narrow
    names = [_wrap_plus(r, 26) for r in readings]
    heights = [max(0.42, line_h * (n.count("\n") + 1) + 0.14) for n in names]
    name_w = 0.068 * max(len(line) for n in names for line in n.splitlines()) + 0.3
    heads = [textwrap.fill(c.title, 14) for c in claims]
    head_h = 0.16 * max(h.count("\n") + 1 for h in heads) + 0.5
    bottom = 1.3  # the legend and the caption
    width = name_w + cell_w * len(ids) + 0.3
    rows_h = sum(heights)
    height = bottom + rows_h + head_h
    tops = np.concatenate([[0.0], np.cumsum(heights)]) / np.mean(heights)
    with paper_style():
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes(
            (name_w / width, bottom / height, cell_w * len(ids) / width, rows_h / height)
        )
        for row, reading in enumerate(readings):
            top, size = tops[row], tops[row + 1] - tops[row]
            for col, claim_id in enumerate(ids):
                verdict = wide.loc[reading, claim_id]
                colour, hatch, word = VERDICT_STYLES.get(verdict, VERDICT_STYLES["not evaluated"])
                ax.add_patch(
                    Rectangle(
                        (col, top), 1, size, facecolor=colour, edgecolor="white", hatch=hatch,
                        lw=0.8,
                    )
                )
                label = labels.loc[reading, claim_id]
                ax.text(
                    col + 0.5, top + size / 2, f"{word}\n{label}" if label else word,
                    ha="center", va="center", fontsize=8, color=INK, linespacing=0.95,
                    bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 0.5},
                )
        ax.set_xlim(0, len(ids))
        ax.set_ylim(tops[-1], 0)
        ax.set_yticks((tops[:-1] + tops[1:]) / 2, names, fontsize=8)
        ax.set_xticks([c + 0.5 for c in range(len(ids))], heads, fontsize=8)
        ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False,
                       length=0)
        ax.tick_params(axis="y", length=0)
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(title, pad=8 + 11 * max(h.count("\n") + 1 for h in heads), fontsize=10)
        fig.legend(
            handles=[
                Patch(facecolor=c, hatch=h, edgecolor="white", label=f"{v} ({w})")
                for v, (c, h, w) in VERDICT_STYLES.items()
            ],
            frameon=False,
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(0.01, (bottom - 0.1) / height),
            ncol=len(VERDICT_STYLES),
        )
        short = text(caption)
        if short:
            wrapped = textwrap.fill(short, width=int(width * 14))
            fig.text(0.01, (bottom - 0.45) / height, wrapped, ha="left", va="top",
                     fontsize=CAPTION_SIZE)
        fig.canvas.draw()
        return fig


def _wrap_plus(name: str, width: int) -> str:
    """A combination's id on several lines, broken after a ``+`` where a line would pass
    ``width`` characters."""
    lines = [""]
    for part in name.split("+"):
        candidate = f"{lines[-1]}+{part}" if lines[-1] else part
        if lines[-1] and len(candidate) > width:
            lines[-1] += "+"
            lines.append(part)
        else:
            lines[-1] = candidate
    return "\n".join(lines)


def mechanism(
    summary: pd.DataFrame, curves: pd.DataFrame, *, caption: Caption | str = ""
) -> Figure:
    """Why greedy stops where it does: at its end points, how often a jump or a pair of
    moves would lower the variance (top left); how many devices greedy and the optimum place
    differently (top right); one case's delay of each device against its point (bottom)."""
    with paper_style():
        fig = plt.figure(figsize=(PANEL[0] * 2, PANEL[1] * 2.3))
        top_left, top_right = fig.add_subplot(2, 2, 1), fig.add_subplot(2, 2, 2)
        bottom = fig.add_subplot(2, 1, 2)
        for metric, label in (
            ("jump_improves", "one device jumps ≥ 2 stages"),
            ("pair_improves", "two devices move one stage each"),
        ):
            part = summary[summary.metric == metric]
            scaled = part.assign(**{c: 100 * part[c] for c in ("mean", "low", "high")})
            _band(top_left, scaled["devices"], scaled, label)
        top_left.set(
            xlabel="devices N",
            ylabel="greedy's end points (%)",
            ylim=(0, 100),
            title="A better vector one move away, if...",
        )
        differ = summary[summary.metric == "devices_differ"]
        _band(top_right, differ["devices"], differ, "mean over seeds")
        top_right.plot(differ["devices"], differ["devices"], ls=":", color=INK,
                       label="all devices")
        top_right.set(
            xlabel="devices N",
            ylabel="devices placed differently",
            title="Greedy's answer against the optimum",
        )
        for ax in (top_left, top_right):
            _ticks(ax, summary["devices"])
        for device, part in curves.groupby("device", sort=True):
            line = bottom.plot(
                part["point"], part["delay_s"], marker=".", label=f"device {device}"
            )
            colour = line[0].get_color()
            chosen = part[part.greedy]
            bottom.scatter(
                chosen["point"], chosen["delay_s"], marker="o", s=80, facecolors="none",
                edgecolors=colour, zorder=3,
            )
            best = part[part.optimum]
            bottom.scatter(best["point"], best["delay_s"], marker="*", s=90, color=colour,
                           zorder=3)
        n, seed = int(curves.devices.iloc[0]), int(curves.seed.iloc[0])
        _ticks(bottom, curves["point"])
        bottom.set(
            xlabel="partition point p of the device",
            ylabel="its delay (s), others at greedy's",
            title=f"N = {n}, seed {seed}: ○ greedy, ★ optimum",
        )
        fig.tight_layout()
        return finish_figure(fig, [top_left, top_right, bottom], caption, legend_size=7)
