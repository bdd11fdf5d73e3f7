"""The quick start: one paper scenario, every solver, every objective (notebook 00)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from dnnsplit.paper.captions import Caption
from dnnsplit.paper.plots import (
    INK,
    PANEL,
    finish_figure,
    paper_style,
)

__all__ = [
    "solver_delays",
]


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
