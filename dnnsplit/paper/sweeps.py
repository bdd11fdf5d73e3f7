"""The paper's experiments as sweeps: a setup, a grid, and tidy rows out.

A sweep is ``rows = sweep(setup, grid)``: the setup (:class:`dnnsplit.Setup`) holds every
choice the paper leaves open; the grid lists what varies (N, seeds, and per sweep R,
policies, quanta, ...). Each point of the grid is the scenario of ``(N, seed, setup')``
with ``setup' = replace(setup, ...)``, drawn by :meth:`dnnsplit.Scenario.paper` under the
one seeding rule, so any row can be traced back to its scenario with ``dnnsplit scenario
--devices N --seed s`` and the setup recorded in the figure's manifest.

Rows are "tidy": one per (profile, seed, policy, ratio, devices, solver, objective,
metric), the number in ``value``. Points are independent: :func:`run_points` evaluates
them (in this process, on every core, or on a Dask cluster: :mod:`dnnsplit.paper.engine`,
which also caches the rows of each point) and the rows are sorted, so whatever ran them the
bytes of a CSV are the same.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._checks import number
from dnnsplit.errors import InputError, SolverRefusal, check_choice
from dnnsplit.evaluate import Evaluation, batch_delays, evaluate
from dnnsplit.model import LOCAL_DELAY_FORMS
from dnnsplit.paper import stats
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.profiles import load_profile
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import OBJECTIVES, RELATIVE_TOLERANCE, SOLVERS, Solution, solve

__all__ = [
    "ID_COLUMNS",
    "METRICS",
    "Grid",
    "Point",
    "compare_solvers",
    "delay_curves",
    "greedy_at_scale",
    "greedy_mechanism",
    "greedy_vs_optimal",
    "improvement",
    "improvement_points",
    "model_gap",
    "optimum_points",
    "quantum_sensitivity",
    "run_points",
    "solver_rows",
    "stage_profiles",
]

ID_COLUMNS = ["profile", "seed", "policy", "ratio", "devices", "solver", "objective", "metric"]
METRICS = ("total", "variance", "std", "mean", "max", "jain", "local_share")
#: Fig. 5 at scale stops each proof by a node limit; this time limit only guards a machine
#: far slower than expected (it would make the result depend on the machine).
SCALE_TIME_LIMIT_S = 600.0
#: A baseline whose delays spread less than this fraction of their mean has zero variance
#: (what is left is rounding), so a % gain over it is undefined rather than astronomical.
ZERO_SPREAD = 1e-9


# --- grids and points -------------------------------------------------------------------


def _values(name: str, values: Sequence[Any]) -> tuple[Any, ...]:
    try:
        out = tuple(values)
    except TypeError:
        raise InputError(f"grid.{name}", f"must be a list, got {values!r}") from None
    if not out:
        raise InputError(f"grid.{name}", "an empty list of values")
    return out


@dataclass(frozen=True)
class Grid:
    """What a sweep varies. Empty fields are refused, naming them.

    Attributes
    ----------
    devices : tuple of int
        N.
    seeds : tuple of int
        Scenario seeds per point.
    ratios : tuple of float
        R (Fig. 3).
    policies : tuple of str
        BS policies (Fig. 3, timeline gap).
    objectives : tuple of str
        Objectives greedy minimises (Fig. 3).
    quanta_s : tuple of float
        Device quanta q (quantum sensitivity).
    local_delays : tuple of str
        Forms of eq. (1) (quantum sensitivity).
    """

    devices: Sequence[int] = (10,)
    seeds: Sequence[int] = tuple(range(10))
    ratios: Sequence[float] = (1.0,)
    policies: Sequence[str] = ("sjf",)
    objectives: Sequence[str] = ("total", "variance")
    quanta_s: Sequence[float] = (0.01,)
    local_delays: Sequence[str] = ("paper",)

    def __post_init__(self) -> None:
        checks: dict[str, Callable[[Any, str], Any]] = {
            "devices": lambda v, w: number(v, w, whole=True, minimum=1),
            "seeds": lambda v, w: number(v, w, whole=True, minimum=0),
            "ratios": lambda v, w: number(v, w, positive=True),
            "quanta_s": lambda v, w: number(v, w, positive=True),
            "policies": lambda v, w: check_choice(v, tuple(POLICY_TABLE), w, "policy"),
            "objectives": lambda v, w: check_choice(v, OBJECTIVES, w, "objective"),
            "local_delays": lambda v, w: check_choice(v, LOCAL_DELAY_FORMS, w, "form"),
        }
        for f in dataclasses.fields(self):
            values = _values(f.name, getattr(self, f.name))
            check = checks[f.name]
            checked = tuple(check(v, f"grid.{f.name}[{k}]") for k, v in enumerate(values))
            object.__setattr__(self, f.name, checked)

    def shrunk(self, quick: bool, **keep: int) -> Grid:
        """A smoke-test grid when ``quick``: the first ``keep[name]`` values of each named
        field (ratios and quanta keep their first, middle and last)."""
        if not quick:
            return self
        changes: dict[str, tuple[Any, ...]] = {}
        for name, count in keep.items():
            values = getattr(self, name)
            if name in ("ratios", "quanta_s") and count == 3 and len(values) > 3:
                changes[name] = (values[0], values[len(values) // 2], values[-1])
            else:
                changes[name] = values[:count]
        return replace(self, **changes)

    def to_dict(self) -> dict[str, list[Any]]:
        """Plain data for a manifest."""
        return {f.name: list(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the scenario of ``(devices, seed, setup)``, and the extra
    identifying columns its rows carry."""

    setup: Setup
    devices: int
    seed: int
    labels: tuple[tuple[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    def scenario(self) -> Scenario:
        """The scenario of this point (the one seeding rule of :meth:`Scenario.paper`)."""
        return Scenario.paper(self.devices, self.seed, self.setup)

    def keys(self) -> dict[str, Any]:
        """The identifying columns of this point's rows."""
        return {
            "profile": self.setup.profile,
            "seed": self.seed,
            "policy": self.setup.policy,
            "ratio": float(self.setup.ratio),
            "devices": self.devices,
            **dict(self.labels),
        }


RowFunction = Callable[[Point], list[dict[str, Any]]]


def run_points(
    compute: RowFunction,
    points: Sequence[Point],
    *,
    desc: str,
    progress: bool = True,
    engine: Engine | None = None,
) -> list[dict[str, Any]]:
    """The rows of every point, in the order of the points, one progress bar over the sweep.

    ``compute`` is a module-level function of one point, so that ``engine`` (default: the
    one the environment names, :func:`dnnsplit.paper.engine.current`) can run it in another
    process or on a cluster, and cache its rows.
    """
    return (engine or current_engine()).run(compute, points, desc=desc, progress=progress)


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


# --- Fig. 3: greedy against the all-local baseline ------------------------------------


def _baseline_value(baseline: Solution, objective: str) -> float:
    """The baseline's objective for a % gain: its variance counts as 0 (the gain is then
    undefined, NaN) when its delays are equal up to rounding (:data:`ZERO_SPREAD`)."""
    value = baseline.evaluation.objective(objective)
    if objective == "variance" and value <= (ZERO_SPREAD * baseline.evaluation.mean) ** 2:
        return 0.0
    return value


def _improvement_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys, setup = point.scenario(), point.keys(), point.setup
    objectives = point.options["objectives"]
    all_local = solve(scenario, solver="all-local")
    max_local = solve(scenario, solver="max-local")
    baseline = all_local if setup.baseline == "all-local" else max_local
    rows: list[dict[str, Any]] = []
    for objective in objectives:
        base_value = _baseline_value(baseline, objective)
        rows += _rows(keys, "all-local", objective, _metrics(all_local.evaluation))
        rows += _rows(keys, "max-local", objective, _metrics(max_local.evaluation))
        found = [("greedy", solve(scenario, objective=objective, start=setup.start))]
        if objective == "total" and POLICY_TABLE[setup.policy].exact_total:
            found.append(("exact", solve(scenario, objective="total", solver="exact")))
        for solver, solution in found:
            metrics = _metrics(solution.evaluation)
            metrics["improvement_pct"] = stats.improvement_pct(base_value, solution.value)
            metrics["iterations"] = float(solution.iterations)
            rows += _rows(keys, solver, objective, metrics)
    return rows


def improvement(
    setup: Setup, grid: Grid, *, progress: bool = True, engine: Engine | None = None
) -> pd.DataFrame:
    """The paper's greedy against the all-local baseline over a grid (Fig. 3).

    For every (policy, R, N, seed) of the grid and every objective of ``grid.objectives``:
    greedy (eq. 6) from ``setup.start``; the paper's all-local vector (p = S, even beyond
    the memory limits); ``max-local`` (p = s̃_i); and, for total delay where the policy has
    an exact method, the certified optimum (``exact``). Greedy and exact rows hold
    ``improvement_pct`` = 100·(baseline − solver)/baseline of the objective, the quantity
    Fig. 3 plots, where the baseline is ``setup.baseline`` (``all-local`` or
    ``max-local``).

    Returns
    -------
    pandas.DataFrame
        Tidy rows (:data:`ID_COLUMNS` and ``value``).
    """
    rows = run_points(
        _improvement_point,
        improvement_points(setup, grid),
        desc="Fig. 3 grid",
        progress=progress,
        engine=engine,
    )
    return _tidy(rows)


def improvement_points(setup: Setup, grid: Grid) -> list[Point]:
    """The points of :func:`improvement`: every (policy, R, N, seed) of ``grid``."""
    return [
        Point(replace(setup, policy=pol, ratio=r), n, s, options={"objectives": grid.objectives})
        for pol in grid.policies
        for r in grid.ratios
        for n in grid.devices
        for s in grid.seeds
    ]


# --- Fig. 5: greedy against the optimum ---------------------------------------------


def _certified(scenario: Scenario, objective: str, time_limit: float) -> Solution:
    """The certified optimum by ``optimal`` (branch and bound); :class:`SolverRefusal` when
    it cannot certify within ``time_limit`` (never reached at Fig. 5's sizes)."""
    best = solve(scenario, objective=objective, solver="optimal", time_limit=time_limit)
    if not best.optimal:
        raise SolverRefusal(
            "time_limit",
            f"optimal did not certify the {objective} optimum of N = {scenario.n_devices} in "
            f"{time_limit:g} s (gap {best.extra.get('gap', float('nan')):.3g})",
        )
    return best


def _heuristics(scenario: Scenario, point: Point, objective: str) -> dict[str, Solution]:
    """The paper's greedy and our local-search on ``scenario``, as Fig. 5 runs them: the
    setup's start and restarts, the point's seed."""
    setup = point.setup
    return {
        solver: solve(
            scenario,
            objective=objective,
            solver=solver,
            start=setup.start,
            restarts=setup.restarts,
            seed=point.seed,
        )
        for solver in ("greedy", "local-search")
    }


def _optimum_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys = point.scenario(), point.keys()
    rows: list[dict[str, Any]] = []
    for objective in point.options["objectives"]:
        best = _certified(scenario, objective, point.options.get("time_limit", 120.0))
        rows += _rows(keys, "optimal", objective, _metrics(best.evaluation))
        for solver, found in _heuristics(scenario, point, objective).items():
            metrics = _metrics(found.evaluation)
            metrics["gap_pct"] = stats.gap_pct(found.value, best.value)
            if objective == "variance":
                metrics["std_ratio"] = stats.std_ratio(found.value, best.value)
            rows += _rows(keys, solver, objective, metrics)
    return rows


def greedy_vs_optimal(
    setup: Setup,
    grid: Grid,
    *,
    objectives: Sequence[str] = ("variance", "max"),
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The paper's greedy and ``local-search`` against the certified optimum (Fig. 5).

    For every (N, seed) at the setup's R and policy and every objective (the paper's
    variance, and the min-max delay beside it): the certified optimum by ``optimal``
    (branch and bound; the same optimum exhaustive search finds, hundreds of times
    faster), greedy and local-search. Rows hold the metrics and, for the heuristics,
    ``gap_pct`` = 100·(V − V*)/V* (the paper's gap; see
    :func:`~dnnsplit.paper.stats.gap_pct` for V* = 0) and, for the variance,
    ``std_ratio`` = sqrt(V / V*), the ratio of standard deviations of delays.
    """
    points = optimum_points(setup, grid, objectives)
    rows = run_points(_optimum_point, points, desc="Fig. 5 grid", progress=progress, engine=engine)
    return _tidy(rows)


def optimum_points(setup: Setup, grid: Grid, objectives: Sequence[str]) -> list[Point]:
    """The points of :func:`greedy_vs_optimal`: every (N, seed) of ``grid``."""
    return [
        Point(setup, n, s, options={"objectives": tuple(objectives)})
        for n in grid.devices
        for s in grid.seeds
    ]


def _scale_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys, setup = point.scenario(), point.keys(), point.setup
    rows: list[dict[str, Any]] = []
    for objective in point.options["objectives"]:
        best = solve(
            scenario,
            objective=objective,
            solver="optimal",
            max_nodes=point.options["max_nodes"],
            time_limit=SCALE_TIME_LIMIT_S,
            start=setup.start,
            restarts=setup.restarts,
            seed=point.seed,
        )
        bound = float(best.extra["lower_bound"])
        found = _heuristics(scenario, point, objective)
        known = min(best.value, *(f.value for f in found.values()))
        metrics = _metrics(best.evaluation)
        metrics["lower_bound"] = bound
        metrics["certified"] = float(best.optimal)
        metrics["best_known"] = known
        metrics["gap_to_bound_pct"] = stats.gap_pct(best.value, bound)
        metrics["nodes"] = float(best.extra["nodes"])
        rows += _rows(keys, "optimal", objective, metrics)
        for solver, solution in found.items():
            metrics = _metrics(solution.evaluation)
            metrics["gap_pct"] = stats.gap_pct(solution.value, known)
            metrics["gap_to_bound_pct"] = stats.gap_pct(solution.value, bound)
            rows += _rows(keys, solver, objective, metrics)
    return rows


def greedy_at_scale(
    setup: Setup,
    grid: Grid,
    *,
    max_nodes: int = 20_000,
    objectives: Sequence[str] = ("variance",),
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Fig. 5 at the paper's sizes: greedy and local-search against the certified optimum,
    or the best bound, of each objective of ``objectives`` (``"variance"``, ``"max"``),
    for every (policy, N, seed) of ``grid``.

    ``optimal`` scores at most ``max_nodes`` nodes a point and objective (a node limit,
    not a time limit, so that the same grid gives the same bytes on any machine;
    :data:`SCALE_TIME_LIMIT_S` is only a safety net), from the better of greedy and
    local-search with the setup's start and restarts (so its vector is never worse than
    theirs). Its rows hold the metrics of the best vector it found, its proven
    ``lower_bound``, ``certified`` (1 when the search finished: the vector is optimal),
    ``best_known`` (the least value any of the three solvers found), ``gap_to_bound_pct``
    (its own gap, 0 when certified) and ``nodes``. The heuristics' rows hold ``gap_pct``
    against ``best_known`` (the true gap when certified, a lower estimate otherwise) and
    ``gap_to_bound_pct`` against the bound (an upper estimate).
    """
    for objective in objectives:
        check_choice(objective, OBJECTIVES, "objectives", "objective")
    points = [
        Point(
            replace(setup, policy=pol),
            n,
            s,
            options={"max_nodes": int(max_nodes), "objectives": tuple(objectives)},
        )
        for pol in grid.policies
        for n in grid.devices
        for s in grid.seeds
    ]
    rows = run_points(
        _scale_point, points, desc="Fig. 5 at scale", progress=progress, engine=engine
    )
    return _tidy(rows)


# --- why greedy stops where it does (the readings study's mechanism) -------------------


def _variances(scenario: Scenario, vectors: np.ndarray) -> np.ndarray:
    return batch_delays(scenario.tables, vectors).var(axis=-1)


def _improving_moves(scenario: Scenario, p: np.ndarray) -> dict[str, float]:
    """At ``p``: does some one-stage move, some jump of one device by two or more stages,
    or some pair of one-stage moves of two devices lower the variance (beyond ties)?"""
    tables, n = scenario.tables, scenario.n_devices
    value = float(_variances(scenario, p[None, :])[0])
    tie = RELATIVE_TOLERANCE * max(abs(value), 1e-300)
    allowed = tables.allowed
    steps: list[np.ndarray] = []
    jumps: list[np.ndarray] = []
    for i in range(n):
        for q in np.flatnonzero(allowed[i]):
            if q != p[i]:
                vector = p.copy()
                vector[i] = q
                (steps if abs(q - p[i]) == 1 else jumps).append(vector)
    pairs: list[np.ndarray] = []
    for i, j in itertools.combinations(range(n), 2):
        for di, dj in itertools.product((-1, 1), repeat=2):
            qi, qj = p[i] + di, p[j] + dj
            if 0 <= qi < allowed.shape[1] and 0 <= qj < allowed.shape[1]:
                if allowed[i, qi] and allowed[j, qj]:
                    vector = p.copy()
                    vector[i], vector[j] = qi, qj
                    pairs.append(vector)

    def improves(vectors: list[np.ndarray]) -> float:
        if not vectors:
            return 0.0
        return float(bool((_variances(scenario, np.array(vectors)) < value - tie).any()))

    return {
        "step_improves": improves(steps),
        "jump_improves": improves(jumps),
        "pair_improves": improves(pairs),
    }


def _mechanism_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys, setup = point.scenario(), point.keys(), point.setup
    found = solve(scenario, objective="variance", start=setup.start)
    best = _certified(scenario, "variance", 120.0)
    metrics = _improving_moves(scenario, np.array(found.partition))
    metrics["devices_differ"] = float(np.sum(found.partition != best.partition))
    metrics["gap_pct"] = stats.gap_pct(found.value, best.value)
    return _rows(keys, "greedy", "variance", metrics)


def greedy_mechanism(
    setup: Setup, grid: Grid, *, progress: bool = True, engine: Engine | None = None
) -> pd.DataFrame:
    """Why the paper's greedy stops where it does on the variance objective.

    At greedy's end point of every (N, seed): ``step_improves`` (0 by construction: it is a
    one-stage local optimum), ``jump_improves`` (1 if moving one device by two or more
    stages would lower the variance), ``pair_improves`` (1 if moving two devices one stage
    each would), ``devices_differ`` (how many devices greedy's answer and the exhaustive
    optimum place differently) and ``gap_pct``.
    """
    points = [Point(setup, n, s) for n in grid.devices for s in grid.seeds]
    rows = run_points(
        _mechanism_point, points, desc="greedy's end points", progress=progress, engine=engine
    )
    return _tidy(rows)


def delay_curves(setup: Setup, devices: int, seed: int) -> pd.DataFrame:
    """For the scenario of ``(devices, seed, setup)``: each device's delay against its own
    partition point, the other devices held at greedy's (variance) choices, with greedy's
    and the certified optimum's points marked. Delays are not monotone in p: the bytes
    sent jump between layers."""
    scenario = Scenario.paper(devices, seed, setup)
    greedy = np.array(solve(scenario, objective="variance", start=setup.start).partition)
    best = np.array(_certified(scenario, "variance", 120.0).partition)
    rows = []
    for i in range(devices):
        for q in np.flatnonzero(scenario.tables.allowed[i]):
            vector = greedy.copy()
            vector[i] = q
            delay = float(batch_delays(scenario.tables, vector[None, :])[0, i])
            rows.append(
                {
                    "devices": devices,
                    "seed": seed,
                    "device": i,
                    "point": int(q),
                    "delay_s": delay,
                    "greedy": bool(q == greedy[i]),
                    "optimum": bool(q == best[i]),
                }
            )
    return pd.DataFrame(rows)


# --- beyond the paper ---------------------------------------------------------------


def _quantum_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys, setup = point.scenario(), point.keys(), point.setup
    objective = point.options["objective"]
    all_local = solve(scenario, solver="all-local")
    baseline = all_local if setup.baseline == "all-local" else solve(scenario, solver="max-local")
    greedy = solve(scenario, objective=objective, start=setup.start)
    rows = _rows(keys, "all-local", objective, _metrics(all_local.evaluation))
    metrics = _metrics(greedy.evaluation)
    metrics["improvement_pct"] = stats.improvement_pct(
        _baseline_value(baseline, objective), greedy.value
    )
    return rows + _rows(keys, "greedy", objective, metrics)


def quantum_sensitivity(
    setup: Setup,
    grid: Grid,
    *,
    objective: str = "variance",
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """How much the device's round-robin quantum q matters (docs/model.md).

    The paper gives no q. For every q of ``grid.quanta_s``, form of eq. (1) of
    ``grid.local_delays``, N and seed: greedy for ``objective`` and all-local, with
    greedy's ``improvement_pct`` over the setup's baseline, as in Fig. 3. Rows carry
    ``quantum_s`` and ``local_delay`` besides :data:`ID_COLUMNS`.
    """
    points = [
        Point(
            replace(setup, quantum_s=q, local_delay=form),
            n,
            s,
            labels=(("quantum_s", float(q)), ("local_delay", form)),
            options={"objective": objective},
        )
        for q in grid.quanta_s
        for form in grid.local_delays
        for n in grid.devices
        for s in grid.seeds
    ]
    rows = run_points(
        _quantum_point, points, desc="quantum sweep", progress=progress, engine=engine
    )
    return _tidy(rows, ("quantum_s", "local_delay"))


def _model_gap_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys, setup = point.scenario(), point.keys(), point.setup
    objective = point.options["objective"]
    solution = solve(scenario, objective=objective, start=setup.start)
    snapshot = solution.evaluation
    timeline = evaluate(scenario, solution.partition, model="timeline")
    rows = _rows({**keys, "model": "snapshot"}, "greedy", objective, _metrics(snapshot))
    metrics = _metrics(timeline)
    metrics["total_gap_pct"] = stats.change_pct(timeline.total, snapshot.total)
    metrics["variance_gap_pct"] = stats.change_pct(timeline.variance, snapshot.variance)
    return rows + _rows({**keys, "model": "timeline"}, "greedy", objective, metrics)


def model_gap(
    setup: Setup,
    grid: Grid,
    *,
    objective: str = "total",
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The snapshot model against the timeline model (docs/model.md, "The timeline model").

    Greedy solves each scenario under the paper's snapshot model; the same partition is
    then re-evaluated under the timeline model, where each residual task reaches the BS
    only when its tensor does. Rows: the metrics of both (``model`` column) and, on the
    timeline rows, ``total_gap_pct`` and ``variance_gap_pct`` = 100·(timeline −
    snapshot)/snapshot.
    """
    points = [
        Point(replace(setup, policy=pol), n, s, options={"objective": objective})
        for pol in grid.policies
        for n in grid.devices
        for s in grid.seeds
    ]
    rows = run_points(_model_gap_point, points, desc="model gap", progress=progress, engine=engine)
    return _tidy(rows, ("model",))


# --- one scenario, and the stage profiles ---------------------------------------------


def compare_solvers(
    scenario: Scenario,
    *,
    objectives: Sequence[str] = OBJECTIVES,
    solvers: Sequence[str] = SOLVERS,
    model: str = "snapshot",
    seed: int = 0,
    start: str = "half",
    restarts: int = 8,
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
                    scenario,
                    objective=objective,
                    solver=solver,
                    model=model,
                    seed=seed,
                    start=start,
                    restarts=restarts,
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


def stage_profiles(names: Sequence[str]) -> pd.DataFrame:
    """Stage times of several profiles as a tidy table (Fig. 4), with provenance columns.

    Rows follow the order of ``names``, then the stages.
    """
    rows = []
    for name in _values("profiles", names):
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
