"""The quick start: one paper scenario, every solver, every objective (notebook 00)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from dnnsplit._progress import progress_bar
from dnnsplit.draw import paper_scenario
from dnnsplit.errors import SolverRefusal
from dnnsplit.paper.captions import Caption
from dnnsplit.paper.plots import INK, PANEL, finish_figure, paper_style
from dnnsplit.paper.sweeps import evaluation_metrics
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import OBJECTIVES, SOLVER_OPTIONS, SOLVERS, Solution, solve

__all__ = ["compare_solvers", "devices_table", "solver_delays", "solver_rows"]


def compare_solvers(
    scenario: Scenario,
    *,
    objectives: Sequence[str] = OBJECTIVES,
    solvers: Sequence[str] = SOLVERS,
    model: str = "snapshot",
    seed: int = 0,
    start: str = "half",
    restarts: int = 8,
    warm_up: bool = False,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[tuple[str, str], Solution]]:
    """Run every solver on one scenario for every objective.

    ``warm_up``: first run the same solvers on a three-device scenario of the same BS
    policy, so that ``seconds`` times the solvers, not the one-off compilation of their
    numba kernels. ``progress``: a bar over the (objective, solver) pairs.

    Returns
    -------
    table : pandas.DataFrame
        One row per (objective, solver): the metrics, ``optimal``, ``feasible``,
        ``seconds`` and the partition; a solver that declines (``exact`` on variance, say)
        has its reason in ``note`` and no metrics.
    solutions : dict
        ``(objective, solver) -> Solution`` for the solvers that answered.
    """
    if warm_up:
        small = paper_scenario(3, 0, Setup(policy=scenario.policy))
        compare_solvers(small, objectives=objectives, solvers=solvers, model=model, progress=False)
    rows, solutions = [], {}
    options = {"model": model, "seed": seed, "start": start, "restarts": restarts}
    pairs = list(itertools.product(objectives, solvers))
    for objective, solver in progress_bar(pairs, desc="solvers", enabled=progress):
        row: dict[str, Any] = {"objective": objective, "solver": solver}
        taken = {k: v for k, v in options.items() if k in SOLVER_OPTIONS[solver]}
        try:
            solution = solve(scenario, objective=objective, solver=solver, **taken)
        except SolverRefusal as refusal:
            rows.append({**row, "note": refusal.problem})
            continue
        solutions[(objective, solver)] = solution
        rows.append({
            **row, **evaluation_metrics(solution.evaluation), "optimal": solution.optimal,
            "feasible": solution.feasible, "seconds": solution.seconds,
            "partition": " ".join(str(int(p)) for p in solution.partition), "note": "",
        })
    return pd.DataFrame(rows), solutions


def devices_table(scenario: Scenario) -> pd.DataFrame:
    """The devices of a scenario as a table: distance, uplink rate (Mbit/s), background
    processes, memory limit s̃ and lowest point, quantum (ms), speed and deadline."""
    devices = pd.DataFrame([device.to_dict() for device in scenario.devices])
    devices["distance_m"] = scenario.meta.get("distances_m") or math.nan
    devices["uplink_mbit_s"] = devices["rate_bps"] / 1e6
    devices["quantum_ms"] = 1000 * devices["quantum_s"]
    columns = ["distance_m", "uplink_mbit_s", "background", "max_stage", "min_stage",
               "quantum_ms", "speed", "deadline_s"]
    return devices[columns].rename_axis("device")


def solver_rows(table: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """:func:`compare_solvers`'s table as the quick-start's CSV: without wall times (so
    reruns give the same bytes), with the scenario's identifying columns from its ``meta``."""
    meta = scenario.meta
    setup = meta.get("setup", {})
    return table.drop(columns=["seconds"]).assign(
        profile=setup.get("profile", scenario.profile_ref),
        seed=meta.get("seed"),
        policy=scenario.policy,
        ratio=float(scenario.ratio) if scenario.ratio is not None else math.nan,
        devices=scenario.n_devices,
    )


def solver_delays(
    solutions: dict,
    solvers: Sequence[str],
    *,
    objectives: Sequence[str] = ("total", "variance", "max"),
    caption: Caption | str = "",
) -> Figure:
    """Per-device delays of each solver's solution, a panel per objective (its caption)."""
    with paper_style():
        fig, axes = plt.subplots(
            len(objectives), 1, figsize=(PANEL[0] * 1.6, PANEL[1] * 1.1 * len(objectives)),
            squeeze=False, sharex=True,
        )
        for ax, objective in zip(axes[:, 0], objectives, strict=True):
            delays = [
                (solver, float(delay)) for solver in solvers if (objective, solver) in solutions
                for delay in solutions[(objective, solver)].evaluation.delays
            ]
            data = pd.DataFrame(delays, columns=["solver", "delay_s"])
            sns.stripplot(data=data, x="solver", y="delay_s", ax=ax, jitter=False, size=5,
                          alpha=0.8, order=list(solvers))
            means = data.groupby("solver", sort=False)["delay_s"].mean().reindex(solvers)
            ax.scatter(np.arange(len(means)), means.to_numpy(), marker="_", s=600, color=INK,
                       label="mean", zorder=3)
            ax.set(ylabel="delay per device (s)", xlabel="", title=f"objective: {objective}")
            ax.tick_params(axis="x", rotation=20)
        fig.tight_layout()
        return finish_figure(fig, [axes[0, 0]], caption)
