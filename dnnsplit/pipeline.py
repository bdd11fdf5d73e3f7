"""One call per notebook: run the experiment, draw the figure, save figure and tables.

The notebooks in ``notebooks/`` hold only parameters, prose and one call into this module
each, so that the same pipeline runs from papermill (``./run_all.sh``), from pytest and from
JupyterLab. ``quick=True`` shrinks every sweep to a smoke test (a couple of seeds and
points) for tests and ``./run_all.sh --quick``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from dnnsplit import experiments, figures
from dnnsplit.errors import InputError
from dnnsplit.paths import FIGURES_DIR
from dnnsplit.profiles import load_profile
from dnnsplit.solvers import SOLVERS

__all__ = ["Result", "beyond", "figure3", "figure4", "figure5", "quickstart"]


@dataclass
class Result:
    """What a pipeline call produced: figures to show, tables to show, files written."""

    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)

    def save(
        self, name: str, fig: Figure, rows: pd.DataFrame, summary: pd.DataFrame, out: Path
    ) -> None:
        """Save ``fig`` with its tidy rows and summary as ``name`` in ``out``, and keep them."""
        self.written += figures.save_figure(fig, name, {"": rows, "summary": summary}, out)
        self.figures[name], self.tables[name] = fig, summary

    def _repr_markdown_(self) -> str:
        names = ", ".join(p.name for p in self.written) or "nothing"
        return f"Wrote {len(self.written)} files: {names}"


def _out(output_dir: str | os.PathLike[str] | None) -> Path:
    return Path(output_dir) if output_dir else FIGURES_DIR


def _first(values: Sequence[Any], count: int, quick: bool) -> list[Any]:
    values = list(values)
    if not values:
        raise InputError("parameters", "an empty list of values")
    return values[:count] if quick else values


def _profile_caption(profile: str, ratio_text: str) -> str:
    loaded = load_profile(profile)
    prov = loaded.provenance
    return (
        f"Device stage times: {prov['hardware']}, {prov['method'].upper()} "
        f"({prov['source']}; {prov['framework']}; {prov['date']}). BS: {ratio_text}."
    )


def quickstart(
    *,
    n_devices: int = 8,
    seed: int = 1,
    ratio: float = 10.0,
    policy: str = "sjf",
    profile: str = experiments.DEFAULT_PROFILE,
    objectives: Sequence[str] = ("total", "variance"),
    output_dir: str | os.PathLike[str] | None = None,
) -> Result:
    """One paper scenario, every solver, both objectives: a table and a plot.

    Writes ``quickstart.{csv,pdf,png}`` (the CSV without wall times, so reruns give the
    same bytes).
    """
    scenario = experiments.paper_scenario(
        n_devices, seed, ratio=ratio, policy=policy, profile=profile
    )
    table, solutions = experiments.compare_solvers(scenario, objectives=objectives, seed=seed)
    result = Result(tables={"solvers": table})
    for objective in objectives:
        fig = figures.plot_solver_delays(solutions, objective, SOLVERS)
        result.figures[objective] = fig
    fig = result.figures[objectives[0]]
    saved = table.drop(columns=["seconds"]).assign(
        profile=profile, seed=seed, policy=policy, ratio=float(ratio), devices=n_devices
    )
    result.written = figures.save_figure(fig, "quickstart", {"": saved}, _out(output_dir))
    return result


def figure4(
    *,
    profiles: Sequence[str],
    output_dir: str | os.PathLike[str] | None = None,
) -> Result:
    """Fig. 4: stage delays of the device and BS profiles, estimated and measured."""
    frame = experiments.stage_profiles(profiles)
    lines = []
    for name in profiles:
        prov = load_profile(name).provenance
        lines.append(
            f"{name}: {prov['method'].upper()} on/for {prov['hardware']} "
            f"({prov['framework']}, {prov['date']})"
        )
    caption = "Profiles. " + " | ".join(lines)
    fig = figures.plot_stage_profiles(frame, caption=caption)
    written = figures.save_figure(fig, "fig4", {"": frame}, _out(output_dir))
    return Result(figures={"fig4": fig}, tables={"fig4": frame}, written=written)


def figure3(
    *,
    devices: Sequence[int] = (10, 20, 30, 40, 50),
    ratios: Sequence[float] = (1, 5, 10, 50, 100, 500, 1000),
    policies: Sequence[str] = ("sjf", "rr"),
    seeds: Sequence[int] = tuple(range(10)),
    profile: str = experiments.DEFAULT_PROFILE,
    start: str = "half",
    quantum_s: float = 0.01,
    bs_quantum_s: float = 0.01,
    local_delay: str = "paper",
    quick: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Result:
    """Fig. 3 (A, B, C) and the share of local stages, over several seeds per point.

    (A) and (B) sweep N at R = ``ratios[0]`` for every policy; (C) sweeps R for every N
    under ``policies[0]``. Quick mode: 2 seeds, the first two N and three ratios.
    """
    devices = _first(devices, 2, quick)
    seeds = _first(seeds, 2, quick)
    ratios = [ratios[0], ratios[len(ratios) // 2], ratios[-1]] if quick else list(ratios)
    common = {
        "profile": profile,
        "start": start,
        "quantum_s": quantum_s,
        "bs_quantum_s": bs_quantum_s,
        "local_delay": local_delay,
        "progress": progress,
    }
    by_n = experiments.improvement_sweep(
        devices=devices, ratios=ratios[:1], policies=policies, seeds=seeds, **common
    )
    by_r = experiments.improvement_sweep(
        devices=devices,
        ratios=ratios,
        policies=policies[:1],
        seeds=seeds,
        objectives=("variance",),
        **common,
    )
    base = (
        f"Mean over {len(seeds)} seeds, shaded: 95% seeded bootstrap interval. "
        + _profile_caption(profile, "ratio model t_s / R")
    )
    out = _out(output_dir)
    result = Result()
    for name, objective in (("fig3a", "variance"), ("fig3b", "total")):
        fig, summary = figures.plot_improvement_vs_devices(by_n, objective, caption=base)
        result.save(name, fig, by_n[by_n.objective == objective], summary, out)
    fig, summary = figures.plot_improvement_vs_ratio(by_r, caption=base)
    result.save("fig3c", fig, by_r, summary, out)
    fig, summary = figures.plot_local_share(by_n, caption=base)
    result.save("fig3_local_share", fig, by_n[by_n.metric == "local_share"], summary, out)
    return result


def figure5(
    *,
    devices: Sequence[int] = tuple(range(3, 11)),
    seeds: Sequence[int] = tuple(range(10)),
    policy: str = "sjf",
    ratio: float = 1.0,
    profile: str = experiments.DEFAULT_PROFILE,
    start: str = "half",
    restarts: int = 8,
    quantum_s: float = 0.01,
    bs_quantum_s: float = 0.01,
    local_delay: str = "paper",
    quick: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Result:
    """Fig. 5: greedy and local-search variance against the exhaustive optimum.

    Quick mode: 2 seeds and the first three N.
    """
    devices = _first(devices, 3, quick)
    seeds = _first(seeds, 2, quick)
    rows = experiments.greedy_vs_optimal(
        devices=devices,
        seeds=seeds,
        policy=policy,
        ratio=ratio,
        profile=profile,
        start=start,
        restarts=restarts,
        quantum_s=quantum_s,
        bs_quantum_s=bs_quantum_s,
        local_delay=local_delay,
        progress=progress,
    )
    caption = (
        f"{policy.upper()} at the BS, R = {ratio:g}; mean over {len(seeds)} seeds, "
        "shaded: 95% seeded bootstrap interval. " + _profile_caption(profile, "ratio model t_s / R")
    )
    fig, summary = figures.plot_greedy_vs_optimal(rows, caption=caption)
    result = Result()
    result.save("fig5", fig, rows, summary, _out(output_dir))
    return result


def beyond(
    *,
    quanta_s: Sequence[float] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1),
    local_delays: Sequence[str] = ("paper", "exact"),
    quantum_devices: Sequence[int] = (20,),
    gap_devices: Sequence[int] = (10, 20, 30, 40, 50),
    policies: Sequence[str] = ("sjf", "rr"),
    seeds: Sequence[int] = tuple(range(10)),
    ratio: float = 1.0,
    profile: str = experiments.DEFAULT_PROFILE,
    start: str = "half",
    quick: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Result:
    """Beyond the paper: sensitivity to the quantum q, and snapshot vs timeline BS model.

    Writes ``beyond_quantum`` (greedy's variance gain over all-local against q, for both
    forms of eq. 1, under ``policies[0]``) and ``beyond_timeline`` (greedy's total-delay
    solutions re-evaluated under the timeline model). Quick mode: 2 seeds, three quanta,
    the first two N.
    """
    seeds = _first(seeds, 2, quick)
    quanta = [quanta_s[0], quanta_s[len(quanta_s) // 2], quanta_s[-1]] if quick else quanta_s
    gap_devices = _first(gap_devices, 2, quick)
    quantum_devices = _first(quantum_devices, 1, quick)
    out = _out(output_dir)
    base = (
        f"Mean over {len(seeds)} seeds, shaded: 95% seeded bootstrap interval; R = {ratio:g}. "
        + _profile_caption(profile, "ratio model t_s / R")
    )
    result = Result()
    rows = experiments.quantum_sensitivity(
        quanta_s=quanta,
        local_delays=local_delays,
        devices=quantum_devices,
        seeds=seeds,
        policy=policies[0],
        ratio=ratio,
        profile=profile,
        start=start,
        progress=progress,
    )
    fig, summary = figures.plot_quantum_sensitivity(rows, caption=base)
    result.save("beyond_quantum", fig, rows, summary, out)
    rows = experiments.model_gap(
        devices=gap_devices,
        seeds=seeds,
        policies=policies,
        ratio=ratio,
        profile=profile,
        start=start,
        progress=progress,
    )
    fig, summary = figures.plot_model_gap(rows, caption=base)
    result.save("beyond_timeline", fig, rows, summary, out)
    return result
