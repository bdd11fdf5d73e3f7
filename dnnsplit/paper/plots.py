"""The style and drawing pieces of the paper's figures, and the verdict map.

Plot functions only draw: they take a summary and return a figure, inside
:func:`paper_style`. The paper's numbers are drawn hatched and labelled "paper"; x ticks sit
only at the values a sweep evaluated; the short caption goes under the figure.
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
from matplotlib.patches import Patch, Rectangle

from dnnsplit.paper.captions import Caption, text
from dnnsplit.paper.claims import Claim

__all__ = ["paper_style", "verdict_map"]

#: One colour per BS policy in every figure (the paper's numbers for a policy share it),
#: from seaborn's colour-blind palette, and never a red–green pair.
POLICY_COLOURS = {"sjf": "C0", "rr": "C1", "ps": "C4", "fcfs": "C7"}
#: The paper's band per policy: a hatch of its own, so two overlapping bands stay apart.
POLICY_HATCHES = {"sjf": "///", "rr": "\\\\\\", "ps": "xxx", "fcfs": "..."}
#: The near-black of seaborn's colour codes ("k" under its theme).
INK = (0.1, 0.1, 0.1)
REFERENCE_LINE: dict[str, Any] = {"color": "0.3", "lw": 0.8}
#: How the paper's single numbers are drawn: black-edged diamonds.
PAPER_MARKER: dict[str, Any] = {"marker": "D", "s": 40, "edgecolors": INK, "zorder": 4}
CAPTION_SIZE = 8
#: Panel size (inches): two fit the width of a notebook column or a printed page.
PANEL = (5.0, 3.4)


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Draw (and save) figures in seaborn's ``set_theme(context="paper", style="whitegrid",
    font_scale=1.1)``; the reader's settings are restored after, all but the interactive
    mode: drawing may switch it on (a notebook's inline backend does), and switched off
    again, no later figure would be shown."""
    theme = {
        **sns.axes_style("whitegrid", rc={"font.family": "sans-serif"}),
        **sns.plotting_context("paper", font_scale=1.1),
        "axes.prop_cycle": cycler("color", sns.color_palette("colorblind")),
    }
    with mpl.rc_context(cast(Any, theme)):
        try:
            yield
        finally:
            interactive = mpl.is_interactive()
    if mpl.is_interactive() != interactive:
        mpl.interactive(interactive)


def policy_colour(policy: str) -> Any:
    return POLICY_COLOURS.get(policy, INK)


def band(
    ax: Axes, x: Any, summary: pd.DataFrame, label: str, marker: str = "o", color: Any = None,
    *, ls: str = "-", alpha: float = 0.2,
) -> None:
    """A mean line with its shaded interval (``low``..``high``)."""
    line = ax.plot(x, summary["mean"], marker=marker, ls=ls, label=label, color=color)[0]
    ax.fill_between(x, summary["low"], summary["high"], color=line.get_color(), alpha=alpha, lw=0)


def ticks(ax: Axes, values: Any, *, log: bool = False) -> None:
    """X ticks at the evaluated values only."""
    values = sorted({float(v) for v in values})
    if log:
        ax.set_xscale("log")
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def paper_values(
    ax: Axes, claim: Claim, xs: Sequence[float], color: Any, label: str, *, hatch: str = "///",
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
    ax.fill_between(xs, [bottom] * len(xs), [high] * len(xs), edgecolor=color, label=label,
                    facecolor="none", hatch=hatch, lw=0.0)
    pinned = [(x, v) for x, v in claim.paper.at.items() if min(xs) <= x <= max(xs)]
    if pinned:
        span = (max(xs) - min(xs)) or 1.0
        shifted = [(x + nudge * span, v) for x, v in pinned]
        ax.scatter(*zip(*shifted, strict=True), color=color, **PAPER_MARKER)


def finish_figure(
    fig: Figure, axes: Sequence[Axes], caption: Caption | str, *, zero: float | None = None,
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
    caption_text(fig, caption, int(fig.get_size_inches()[0] * 15))
    fig.canvas.draw()
    return fig


def caption_text(fig: Figure, caption: Caption | str, width: int) -> None:
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


def legend_below(ax: Axes, columns: int = 2) -> None:
    """The legend under the axes, off the lines and bands."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
                  ncol=columns)


#: Markers that tell lines apart where their colours are close or the lines meet.
LINE_MARKERS = ("o", "s", "^", "D", "v", "P")


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
    readings, ids = list(columns), [c.id for c in claims]
    wide, labels = (
        cells.pivot(index="reading", columns="claim", values=values)
        .reindex(index=readings, columns=ids).fillna(empty)
        for values, empty in (("verdict", "not evaluated"), ("label", ""))
    )
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
                ax.add_patch(Rectangle((col, top), 1, size, facecolor=colour, edgecolor="white",
                                       hatch=hatch, lw=0.8))
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
        ax.spines[:].set_visible(False)
        ax.set_title(title, pad=8 + 11 * max(h.count("\n") + 1 for h in heads), fontsize=10)
        handles = [Patch(facecolor=c, hatch=h, edgecolor="white", label=f"{v} ({w})")
                   for v, (c, h, w) in VERDICT_STYLES.items()]
        fig.legend(handles=handles, frameon=False, fontsize=9, loc="upper left",
                   bbox_to_anchor=(0.01, (bottom - 0.1) / height), ncol=len(VERDICT_STYLES))
        caption_text(fig, caption, int(width * 14))
        fig.canvas.draw()
        return fig


def _wrap_plus(name: str, width: int) -> str:
    """A combination's id on several lines, broken after a ``+`` where a line would pass
    ``width`` characters."""
    lines = [""]
    for part in name.split("+"):
        if lines[-1] and len(f"{lines[-1]}+{part}") > width:
            lines.append(part)
        else:
            lines[-1] = f"{lines[-1]}+{part}" if lines[-1] else part
    return "+\n".join(lines)


