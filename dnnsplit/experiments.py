"""Experiments of the paper's evaluation, as tidy tables.

Every function here returns a "tidy" :class:`pandas.DataFrame`: one row per (scenario,
seed, policy, ratio, devices, solver, metric), with the value in ``value``. The figures
module draws from these tables and writes them next to each figure, so every number in a
figure can be traced to a row.

Seeds: scenario ``seed`` s with N devices is drawn from ``numpy.random.default_rng([N, s])``,
so the same devices are used for every policy, ratio and solver at that (N, s): comparisons
across policies and ratios are paired (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._progress import progress_bar
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import Evaluation, evaluate
from dnnsplit.profiles import load_profile
from dnnsplit.scenario import DEFAULT_PROFILE, Scenario
from dnnsplit.solvers import SOLVERS, Solution, solve

__all__ = [
    "ID_COLUMNS",
    "compare_solvers",
    "greedy_vs_optimal",
    "improvement_sweep",
    "model_gap",
    "paper_scenario",
    "quantum_sensitivity",
    "stage_profiles",
    "summarise",
]

ID_COLUMNS = ["profile", "seed", "policy", "ratio", "devices", "solver", "objective", "metric"]
METRICS = ("total", "variance", "std", "mean", "max", "jain", "local_share")
EXACT_POLICIES = ("sjf", "ps")  # where the exact solver certifies the optimum of total delay


def paper_scenario(n_devices: int, seed: int, **options: Any) -> Scenario:
    """The paper's scenario for ``(N, seed)``, drawn from ``default_rng([N, seed])``."""
    return Scenario.paper(n_devices, seed, **options)


def _draw_point(n: int, seed: int, **options: Any) -> tuple[Scenario, dict[str, Any]]:
    """The scenario of one point of a sweep and the identifying columns of its rows."""
    scenario = paper_scenario(n, seed, **options)
    keys = {
        "profile": options["profile"],
        "seed": seed,
        "policy": options["policy"],
        "ratio": float(options["ratio"]),
        "devices": n,
    }
    return scenario, keys


def _improvement_pct(baseline: float, value: float) -> float:
    """``100·(baseline − value)/baseline``: the quantity of Fig. 3 (NaN for a zero baseline)."""
    return 100.0 * (baseline - value) / baseline if baseline > 0 else np.nan


def _metrics(evaluation: Evaluation) -> dict[str, float]:
    return {
        "total": evaluation.total,
        "variance": evaluation.variance,
        "std": float(np.sqrt(evaluation.variance)),
        "mean": evaluation.mean,
        "max": evaluation.max,
        "jain": evaluation.jain,
        "local_share": evaluation.local_share,
    }


def _rows(keys: dict[str, Any], solver: str, objective: str, metrics: dict[str, float]) -> list:
    return [
        {**keys, "solver": solver, "objective": objective, "metric": m, "value": v}
        for m, v in metrics.items()
    ]


def _tidy(rows: list[dict[str, Any]], extra_ids: Sequence[str] = ()) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame.sort_values([*extra_ids, *ID_COLUMNS], kind="stable").reset_index(drop=True)


def compare_solvers(
    scenario: Scenario,
    *,
    objectives: Sequence[str] = ("total", "variance"),
    solvers: Sequence[str] = SOLVERS,
    model: str = "snapshot",
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[tuple[str, str], Solution]]:
    """Run every solver on one scenario for every objective.

    Returns
    -------
    table : pandas.DataFrame
        One row per (objective, solver): the metrics, ``optimal``, ``feasible``,
        ``seconds`` and the partition; a solver that declines (``exact`` on variance, say)
        has its reason in ``note`` and no metrics.
    solutions : dict
        ``(objective, solver) -> Solution`` for the solvers that answered.
    """
    rows, solutions = [], {}
    for objective in objectives:
        for solver in solvers:
            row: dict[str, Any] = {"objective": objective, "solver": solver}
            try:
                solution = solve(
                    scenario, objective=objective, solver=solver, model=model, seed=seed
                )
            except SolverRefusal as refusal:
                rows.append({**row, "note": refusal.problem})
                continue
            solutions[(objective, solver)] = solution
            rows.append(
                {
                    **row,
                    **_metrics(solution.evaluation),
                    "optimal": solution.optimal,
                    "feasible": solution.feasible,
                    "seconds": solution.seconds,
                    "partition": " ".join(str(int(p)) for p in solution.partition),
                    "note": "",
                }
            )
    return pd.DataFrame(rows), solutions


def improvement_sweep(
    *,
    devices: Sequence[int],
    ratios: Sequence[float],
    policies: Sequence[str],
    seeds: Sequence[int],
    objectives: Sequence[str] = ("total", "variance"),
    profile: str = DEFAULT_PROFILE,
    start: str = "half",
    quantum_s: float = 0.01,
    bs_quantum_s: float = 0.01,
    local_delay: str = "paper",
    progress: bool = True,
) -> pd.DataFrame:
    """The paper's greedy against the all-local baseline over a grid (Fig. 3).

    For every (policy, ratio, N, seed) and objective: greedy (eq. 6) from ``start``
    minimising that objective; the paper's all-local baseline (p = S, even beyond the
    memory limits); ``max-local`` (p = s̃_i, the most local choice the limits allow); and,
    for total delay under sjf or ps, the certified optimum (``exact``). Greedy and exact
    rows hold ``improvement_pct`` = 100·(all-local − solver)/all-local of the objective,
    the quantity Fig. 3 plots.

    Returns
    -------
    pandas.DataFrame
        Tidy rows (:data:`ID_COLUMNS` and ``value``).
    """
    grid = [(pol, r, n, s) for pol in policies for r in ratios for n in devices for s in seeds]
    rows: list[dict[str, Any]] = []
    for policy, ratio, n, seed in progress_bar(grid, desc="Fig. 3 grid", enabled=progress):
        scenario, keys = _draw_point(
            n,
            seed,
            ratio=ratio,
            policy=policy,
            profile=profile,
            quantum_s=quantum_s,
            bs_quantum_s=bs_quantum_s,
            local_delay=local_delay,
        )
        baseline = solve(scenario, solver="all-local")
        feasible_local = solve(scenario, solver="max-local")
        for objective in objectives:
            base_value = baseline.evaluation.objective(objective)
            rows += _rows(keys, "all-local", objective, _metrics(baseline.evaluation))
            rows += _rows(keys, "max-local", objective, _metrics(feasible_local.evaluation))
            found = [("greedy", solve(scenario, objective=objective, solver="greedy", start=start))]
            if objective == "total" and policy in EXACT_POLICIES:
                found.append(("exact", solve(scenario, objective="total", solver="exact")))
            for solver, solution in found:
                metrics = _metrics(solution.evaluation)
                metrics["improvement_pct"] = _improvement_pct(base_value, solution.value)
                metrics["iterations"] = float(solution.iterations)
                rows += _rows(keys, solver, objective, metrics)
    return _tidy(rows)


def greedy_vs_optimal(
    *,
    devices: Sequence[int],
    seeds: Sequence[int],
    policy: str = "sjf",
    ratio: float = 1.0,
    objective: str = "variance",
    profile: str = DEFAULT_PROFILE,
    start: str = "half",
    restarts: int = 8,
    quantum_s: float = 0.01,
    bs_quantum_s: float = 0.01,
    local_delay: str = "paper",
    progress: bool = True,
) -> pd.DataFrame:
    """The paper's greedy and ``local-search`` against the exhaustive optimum (Fig. 5).

    Rows per (N, seed) and solver (greedy, local-search, exhaustive): the metrics, and for
    the two heuristics ``gap_pct`` = 100·(V − V*)/V* (the paper's gap, which explodes
    when the optimum V* is near zero) and ``std_ratio`` = sqrt(V / V*) (the ratio of
    standard deviations of delays).
    """
    grid = [(n, s) for n in devices for s in seeds]
    rows: list[dict[str, Any]] = []
    for n, seed in progress_bar(grid, desc="Fig. 5 grid", enabled=progress):
        scenario, keys = _draw_point(
            n,
            seed,
            ratio=ratio,
            policy=policy,
            profile=profile,
            quantum_s=quantum_s,
            bs_quantum_s=bs_quantum_s,
            local_delay=local_delay,
        )
        best = solve(scenario, objective=objective, solver="exhaustive")
        rows += _rows(keys, "exhaustive", objective, _metrics(best.evaluation))
        for solver in ("greedy", "local-search"):
            found = solve(
                scenario,
                objective=objective,
                solver=solver,
                start=start,
                restarts=restarts,
                seed=seed,
            )
            metrics = _metrics(found.evaluation)
            optimum = best.value
            metrics["gap_pct"] = 100.0 * (found.value - optimum) / optimum if optimum > 0 else 0.0
            metrics["std_ratio"] = float(np.sqrt(found.value / optimum)) if optimum > 0 else 1.0
            rows += _rows(keys, solver, objective, metrics)
    return _tidy(rows)


def quantum_sensitivity(
    *,
    quanta_s: Sequence[float],
    local_delays: Sequence[str] = ("paper", "exact"),
    devices: Sequence[int] = (20,),
    seeds: Sequence[int],
    policy: str = "sjf",
    ratio: float = 1.0,
    objective: str = "variance",
    profile: str = DEFAULT_PROFILE,
    start: str = "half",
    progress: bool = True,
) -> pd.DataFrame:
    """How much the device's round-robin quantum q matters (docs/model.md, "Round-robin quantum").

    The paper gives no q. For every q, form of eq. (1), N and seed: greedy for
    ``objective`` and all-local, with greedy's ``improvement_pct`` over all-local, as in
    Fig. 3. Rows carry ``quantum_s`` and ``local_delay`` besides :data:`ID_COLUMNS`.
    """
    grid = [(q, f, n, s) for q in quanta_s for f in local_delays for n in devices for s in seeds]
    rows: list[dict[str, Any]] = []
    for quantum, form, n, seed in progress_bar(grid, desc="quantum sweep", enabled=progress):
        scenario, keys = _draw_point(
            n,
            seed,
            ratio=ratio,
            policy=policy,
            profile=profile,
            quantum_s=quantum,
            bs_quantum_s=0.01,
            local_delay=form,
        )
        keys = {**keys, "quantum_s": float(quantum), "local_delay": form}
        baseline = solve(scenario, solver="all-local")
        greedy = solve(scenario, objective=objective, solver="greedy", start=start)
        rows += _rows(keys, "all-local", objective, _metrics(baseline.evaluation))
        metrics = _metrics(greedy.evaluation)
        base_value = baseline.evaluation.objective(objective)
        metrics["improvement_pct"] = _improvement_pct(base_value, greedy.value)
        rows += _rows(keys, "greedy", objective, metrics)
    return _tidy(rows, ("quantum_s", "local_delay"))


def model_gap(
    *,
    devices: Sequence[int],
    seeds: Sequence[int],
    policies: Sequence[str] = ("sjf", "rr"),
    ratio: float = 1.0,
    objective: str = "total",
    profile: str = DEFAULT_PROFILE,
    start: str = "half",
    progress: bool = True,
) -> pd.DataFrame:
    """The snapshot model against the timeline model (docs/model.md, "The timeline model").

    Greedy solves each scenario under the paper's snapshot model; the same partition is
    then re-evaluated under the timeline model, where each residual task reaches the BS
    only when its tensor does. Rows: the metrics of both (solver ``greedy``, ``model``
    column) and, on the timeline rows, ``gap_pct`` = 100·(timeline − snapshot)/snapshot of
    total delay and of variance.
    """
    grid = [(pol, n, s) for pol in policies for n in devices for s in seeds]
    rows: list[dict[str, Any]] = []
    for policy, n, seed in progress_bar(grid, desc="model gap", enabled=progress):
        scenario, keys = _draw_point(
            n,
            seed,
            ratio=ratio,
            policy=policy,
            profile=profile,
            quantum_s=0.01,
            bs_quantum_s=0.01,
            local_delay="paper",
        )
        solution = solve(scenario, objective=objective, solver="greedy", start=start)
        snapshot = solution.evaluation
        timeline = evaluate(scenario, solution.partition, model="timeline")
        rows += _rows({**keys, "model": "snapshot"}, "greedy", objective, _metrics(snapshot))
        metrics = _metrics(timeline)
        metrics["total_gap_pct"] = 100.0 * (timeline.total - snapshot.total) / snapshot.total
        metrics["variance_gap_pct"] = (
            100.0 * (timeline.variance - snapshot.variance) / snapshot.variance
            if snapshot.variance > 0
            else np.nan
        )
        rows += _rows({**keys, "model": "timeline"}, "greedy", objective, metrics)
    return _tidy(rows, ("model",))


def stage_profiles(names: Sequence[str]) -> pd.DataFrame:
    """Stage times of several profiles as a tidy table (Fig. 4), with provenance columns.

    Rows follow the order of ``names``, then the stages.
    """
    rows = []
    for name in names:
        profile = load_profile(name)
        for index, (stage, seconds) in enumerate(
            zip(profile.stage_names, profile.time_s, strict=True), start=1
        ):
            rows.append(
                {
                    "profile": name,
                    "model": profile.model,
                    "stage_index": index,
                    "stage": stage,
                    "time_s": float(seconds),
                    "output_bytes": int(profile.output_bytes[index - 1]),
                    **profile.provenance,
                }
            )
    return pd.DataFrame(rows)  # in the order given: the figure keeps it


def summarise(
    frame: pd.DataFrame,
    by: Sequence[str],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    statistic: Callable[[np.ndarray], float] = np.mean,
) -> pd.DataFrame:
    """Mean over seeds with a seeded percentile-bootstrap interval, per group.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy rows with a ``value`` column.
    by : sequence of str
        Columns that identify a point (everything but ``seed``, typically).
    confidence : float
        Interval level.
    resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the bootstrap (pass an int for reproducible output).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``mean``, ``low``, ``high``, ``n`` (number of seeds).
    """
    rng = np.random.default_rng(seed)
    out = []
    for key, group in frame.groupby(list(by), sort=True):
        values = group["value"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        centre = float(statistic(values)) if values.size else np.nan
        if values.size >= 2:
            picks = rng.integers(0, values.size, size=(resamples, values.size))
            stats = np.apply_along_axis(statistic, 1, values[picks])
            alpha = (1 - confidence) / 2
            low, high = np.quantile(stats, [alpha, 1 - alpha])
        else:
            low = high = centre
        key = key if isinstance(key, tuple) else (key,)
        out.append(
            {
                **dict(zip(by, key, strict=True)),
                "mean": centre,
                "low": float(low),
                "high": float(high),
                "n": int(values.size),
            }
        )
    return pd.DataFrame(out)
