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

#: One colour per BS policy in every figure (the paper's numbers for a policy share it),
#: from seaborn's colour-blind palette, and never a red–green pair.
POLICY_COLOURS = {"sjf": "C0", "rr": "C1", "ps": "C4", "fcfs": "C7"}
#: The paper's band per policy: a hatch of its own, so two overlapping bands stay apart.
POLICY_HATCHES = {"sjf": "///", "rr": "\\\\\\", "ps": "xxx", "fcfs": "..."}
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
    rc["axes.prop_cycle"] = cycler("color", sns.color_palette("colorblind"))
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


def _paper(
    ax: Axes,
    claim: Claim,
    xs: Sequence[float],
    color: Any,
    label: str,
    *,
    hatch: str = "///",
    nudge: float = 0.0,
) -> None:
    """The paper's numbers of a ``value`` claim over ``xs``: its band, hatched, and its
    single values as diamonds (the ends of a range read as the axis' ends), moved by
    ``nudge`` (a share of the axis' span) so that two claims' diamonds never hide each
    other."""
    if claim.paper is None:
        return
    xs = sorted(float(x) for x in xs)
    low, high = claim.paper.band
    bottom = low if math.isfinite(low) else ax.get_ylim()[0]
    ax.fill_between(
        xs, [bottom] * len(xs), [high] * len(xs), edgecolor=color, label=label,
        **{**PAPER_BAND, "hatch": hatch},
    )
    pinned = [(x, v) for x, v in claim.paper.at.items() if min(xs) <= x <= max(xs)]
    if pinned:
        span = (max(xs) - min(xs)) or 1.0
        shifted = [(x + nudge * span, v) for x, v in pinned]
        ax.scatter(*zip(*shifted, strict=True), color=color, **PAPER_MARKER)


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
    _caption_text(fig, caption, int(fig.get_size_inches()[0] * 15))
    fig.canvas.draw()
    return fig


def _caption_text(fig: Figure, caption: Caption | str, width: int) -> None:
    """The short caption under everything drawn so far (legends below the axes included),
    wrapped; literal text (a ``$`` from a data file never starts mathtext)."""
    short = text(caption)
    if not short:
        return
    fig.canvas.draw()
    lowest = fig.get_tightbbox().y0  # inches, may be below 0
    y = (lowest - 0.08) / fig.get_size_inches()[1]
    wrapped = textwrap.fill(short.replace("$", r"\$"), width=width)
    fig.text(0.0, y, wrapped, ha="left", va="top", fontsize=CAPTION_SIZE)


def _legend_below(ax: Axes, columns: int = 2) -> None:
    """The legend under the axes, off the lines and bands."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncol=columns)


def improvement_vs_devices(
    summary: pd.DataFrame,
    objective: str,
    *,
    caption: Caption | str = "",
    paper: Sequence[Claim] = (),
    baseline: str = "all-local",
) -> Figure:
    """Fig. 3 (A) or (B): improvement over ``baseline`` against N, one line per policy.

    Greedy's mean with its interval; dashed, the other baseline's vector (``max-local`` or
    ``all-local``) and the certified optimum where the summary holds them; hatched, the
    paper's numbers of each claim in ``paper`` (in its policy's colour and hatch, its
    diamonds nudged apart).
    """
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.5))
        for (solver, policy, ratio), part in summary.groupby(["solver", "policy", "ratio"]):
            label = f"{solver}, {display_name(policy)}, R = {ratio:g}"
            color = _policy_colour(policy)
            if solver == "greedy":
                _band(ax, part["devices"], part, label, color=color)
            else:
                style = ":" if solver in ("all-local", "max-local") else "--"
                ax.plot(
                    part["devices"], part["mean"], ls=style, marker="x", color=color, lw=1.0,
                    label=label,
                )
        for k, claim in enumerate(paper):
            policy = claim.policies[0] if len(claim.policies) == 1 else ""
            color = _policy_colour(policy) if policy else "0.5"
            _paper(
                ax, claim, summary["devices"].unique(), color,
                f"paper{', ' + display_name(policy) if policy else ''}: {claim.paper_text}",
                hatch=POLICY_HATCHES.get(policy, "..."), nudge=0.012 * (2 * k - 1),
            )
        what = "variance of delays" if objective == "variance" else "total delay"
        _ticks(ax, summary["devices"])
        ax.set(
            xlabel="devices N",
            ylabel=f"improvement of {what} (%)",
            title=f"Greedy vs {baseline}: {what}",
        )
        ax.axhline(0, **REFERENCE_LINE)
        _legend_below(ax)
        return finish_figure(fig, [], caption)


def improvement_vs_ratio(
    summary: pd.DataFrame,
    *,
    objective: str = "variance",
    caption: Caption | str = "",
    paper: Sequence[Claim] = (),
    baseline: str = "all-local",
) -> Figure:
    """Fig. 3 (C): improvement of ``objective`` over ``baseline`` against R, a line per N
    (a marker of its own each, so lines that meet stay apart); the paper's numbers (hatched,
    diamonds) for the N its claims name, labelled once."""
    with paper_style():
        policies = sorted(summary.policy.unique())
        fig, axes = plt.subplots(
            len(policies), 1, figsize=(PANEL[0] * 1.3, PANEL[1] * 1.5 * len(policies)),
            squeeze=False,
        )
        for ax, policy in zip(axes[:, 0], policies, strict=True):
            mine = summary[summary.policy == policy]
            for k, (n, part) in enumerate(mine.groupby("devices", sort=True)):
                _band(ax, part["ratio"], part, f"N = {n}", marker=LINE_MARKERS[k % 6])
            for claim in paper:
                if policy in claim.policies:
                    n = claim.reads[0].rows.get("devices")
                    _paper(ax, claim, mine["ratio"].unique(), INK, f"paper (N = {n})")
            _ticks(ax, mine["ratio"], log=True)
            ax.set(
                xlabel="BS / device speed ratio R (log scale)",
                ylabel=f"improvement of {objective} (%)",
                title=f"Greedy vs {baseline}, {display_name(policy)}",
            )
            ax.axhline(0, **REFERENCE_LINE)
            _legend_below(ax, columns=4)
        fig.tight_layout()
        return finish_figure(fig, [], caption)


def local_share(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Share of stages run locally by greedy against N (the paper's text on Fig. 3)."""
    with paper_style():
        fig, ax = plt.subplots(figsize=(PANEL[0] * 1.3, PANEL[1] * 1.5))
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
        _legend_below(ax)
        return finish_figure(fig, [], caption)


SOLVER_STYLES = {"optimal": ("s", "C0"), "greedy": ("o", "C1"), "local-search": ("^", "C4")}
#: Markers that tell lines apart where their colours are close or the lines meet.
LINE_MARKERS = ("o", "s", "^", "D", "v", "P")
# Fig. 5's gap and hit-rate panels: (panel, metric, line style, what the line is).
_FIG5_LINES = (
    (1, "median_gap_pct", "-", "median case"),
    (1, "gap_pct", ":", "mean of cases"),
    (2, "within_pct", "-", "within the paper's bound"),
    (2, "optimum_pct", ":", "at the optimum"),
)


def _gap_labels(ax: Axes, x: Any, y: Any, gaps: Any, solver: str) -> None:
    """Each point's gap beside it, greedy's up and right, local-search's down and left, on a
    white ground so that a band behind does not hide it."""
    for px, py, gap in zip(x, y, gaps, strict=True):
        label = "∞" if np.isinf(gap) else f"{gap:.0f}%" if abs(gap) >= 100 else f"{gap:.1f}%"
        ax.annotate(
            label,
            (px, py),
            textcoords="offset points",
            xytext=(7, 7) if solver == "greedy" else (-7, -13),
            ha="left" if solver == "greedy" else "right",
            fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 0.4},
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
        drawn = [v for line in axes[1].get_lines() for v in line.get_ydata() if np.isfinite(v)]
        axes[1].set_ylim(0, 3 * max([1.0, *drawn]))  # room above the highest point
        axes[0].margins(y=0.25)  # room for the gap labels above the highest points
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
                if not full.empty:
                    ax.scatter(full["devices"], full["mean"], marker=marker, color=color,
                               label="optimal, every case certified", zorder=3)
                if not partial.empty:
                    ax.scatter(partial["devices"], partial["mean"], marker=marker,
                               facecolors="white", edgecolors=color,
                               label="optimal or best found: some case not certified",
                               zorder=3)
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
            _plain_log_ticks(ax)
            what = "variance of delays (s², log)" if objective == "variance" else (
                "largest delay (s, log)"
            )
            ax.set(xlabel="devices N", ylabel=what, title=f"{objective}, {display_name(policy)}")
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout()
        return finish_figure(fig, axes[: len(panels)], caption, legend_size=7)


def _plain_log_ticks(ax: Axes) -> None:
    """Log-scale y ticks at 1, 2 and 5 per decade, written as plain numbers (0.02, not
    2×10⁻²), so that a range within one decade still has labels."""
    ax.yaxis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(mpl.ticker.NullFormatter())


def stage_profiles(frame: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Fig. 4: stage delays of each profile, side by side (log scale), one panel per DNN
    model; the legend says per profile whether it is measured or ESTIMATED."""
    with paper_style():
        frame = frame.copy()
        frame["label"] = frame["hardware"] + " (" + frame["method"].str.upper() + ")"
        labels = list(dict.fromkeys(frame["label"]))  # one colour per profile in every panel
        colours = dict(zip(labels, sns.color_palette("colorblind", len(labels)), strict=True))
        models = list(dict.fromkeys(frame["model"]))
        fig, axes = plt.subplots(
            len(models), 1, figsize=(PANEL[0] * 2, 3.0 * len(models)), squeeze=False
        )
        for ax, model in zip(axes[:, 0], models, strict=True):
            part = frame[frame.model == model].copy()
            part["time_ms"] = 1000 * part["time_s"]
            order = list(dict.fromkeys(part.sort_values("stage_index")["stage"]))
            sns.barplot(
                data=part, x="stage", y="time_ms", hue="label", order=order, ax=ax,
                errorbar=None, hue_order=labels, palette=colours,
            )
            ax.set_yscale("log")
            ax.set(xlabel=f"{model} stage", ylabel="time (ms, log scale)", title=f"{model}")
            ax.tick_params(axis="x", rotation=45, labelsize=8)
            ax.get_legend().remove()
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        handles = [mpl.patches.Patch(color=colours[label], label=label) for label in labels]
        fig.legend(handles=handles, frameon=False, fontsize=8, loc="upper center", ncol=2)
        return finish_figure(fig, [], caption)


def solver_delays(
    solutions: dict,
    solvers: Sequence[str],
    *,
    objectives: Sequence[str] = ("total", "variance", "max"),
    caption: Caption | str = "",
) -> Figure:
    """Per-device delays of one scenario's solutions, a panel per objective (stacked), a
    column of dots per solver with their mean."""
    with paper_style():
        fig, axes = plt.subplots(
            len(objectives), 1, figsize=(PANEL[0] * 1.6, PANEL[1] * 1.1 * len(objectives)),
            squeeze=False, sharex=True,
        )
        for ax, objective in zip(axes[:, 0], objectives, strict=True):
            rows = [
                {"solver": solver, "device": device, "delay_s": float(delay)}
                for solver in solvers
                if (objective, solver) in solutions
                for device, delay in enumerate(solutions[(objective, solver)].evaluation.delays)
            ]
            data = pd.DataFrame(rows)
            sns.stripplot(data=data, x="solver", y="delay_s", ax=ax, jitter=False, size=5,
                          alpha=0.8, order=list(solvers))
            means = data.groupby("solver", sort=False)["delay_s"].mean().reindex(solvers)
            ax.scatter(np.arange(len(means)), means.to_numpy(), marker="_", s=600, color=INK,
                       label="mean", zorder=3)
            ax.set(ylabel="delay per device (s)", xlabel="", title=f"objective: {objective}")
            ax.tick_params(axis="x", rotation=20)
        fig.tight_layout()
        return finish_figure(fig, [axes[0, 0]], caption)


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
    cell_w, line_h = 1.0, 0.16
    # a combination's parts one to a line ('+' ends a line), so the map stays narrow
    names = [_wrap_plus(r, 26) for r in readings]
    heights = [max(0.42, line_h * (n.count("\n") + 1) + 0.14) for n in names]
    name_w = 0.068 * max(len(line) for n in names for line in n.splitlines()) + 0.3
    heads = [textwrap.fill(c.title, 15) for c in claims]
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
                    ha="center", va="center", fontsize=9, color=INK, linespacing=0.95,
                    bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 0.5},
                )
        ax.set_xlim(0, len(ids))
        ax.set_ylim(tops[-1], 0)
        ax.set_yticks((tops[:-1] + tops[1:]) / 2, names, fontsize=9)
        ax.set_xticks([c + 0.5 for c in range(len(ids))], heads, fontsize=9)
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
            fontsize=9,
            loc="upper left",
            bbox_to_anchor=(0.01, (bottom - 0.1) / height),
            ncol=len(VERDICT_STYLES),
        )
        _caption_text(fig, caption, int(width * 14))
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
