"""The paper's experiments as sweeps: a setup, a grid, and tidy rows out.

A sweep is ``rows = sweep(setup, grid)``: the setup (:class:`dnnsplit.Setup`) holds every
choice the paper leaves open; the grid lists what varies (N, seeds, and per sweep R,
policies, quanta, ...). Each point of the grid is the scenario of ``(N, seed, setup')``
with ``setup' = replace(setup, ...)``, drawn by :func:`dnnsplit.paper_scenario` under the
one seeding rule, so any row can be traced back to its scenario with ``dnnsplit scenario
--devices N --seed s`` and the setup recorded in the figure's manifest.

Rows are "tidy": one per (profile, seed, policy, ratio, devices, solver, objective,
metric), the number in ``value``. Points are independent: :func:`run_points` evaluates
them (in this process, on every core, or on a Dask cluster: :mod:`dnnsplit.paper.engine`,
which also caches the rows of each point) and the rows are sorted, so whatever ran them the
bytes of a CSV are the same.

The sweeps of Fig. 3, Fig. 5 (and at scale) and the quantum study are made of *solves*
(:class:`Solved`): a point asks for solves (a scenario, a solver, an objective, the
solver's options), :func:`run_solved` computes each distinct solve once, as a task of the
engine cached on its own (:func:`solution_record`), and the point's rows are assembled
from the records. Two points that differ only in what their rows make of the same solves
(Fig. 3's baseline; greedy's start, for Fig. 5's optimum) share them.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._checks import number
from dnnsplit._progress import progress_bar
from dnnsplit.draw import paper_scenario
from dnnsplit.errors import InputError, SolverRefusal, check_choice
from dnnsplit.evaluate import Evaluation, batch_delays, evaluate
from dnnsplit.paper import stats
from dnnsplit.paper.engine import Engine, Shape, yields
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.experiment import Experiment
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.profiles import list_profiles, load_profile
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import (
    DEFAULT_TIME_LIMIT_S,
    OBJECTIVES,
    RELATIVE_TOLERANCE,
    SOLVER_OPTIONS,
    SOLVERS,
    Solution,
    solve,
)

__all__ = [
    "ID_COLUMNS",
    "IMPROVEMENT",
    "OPTIMUM",
    "Grid",
    "Point",
    "Solved",
    "compare_solvers",
    "delay_curves",
    "devices_table",
    "greedy_at_scale",
    "greedy_mechanism",
    "greedy_vs_optimal",
    "improvement",
    "improvement_points",
    "improvement_rows",
    "model_gap",
    "optimum_points",
    "optimum_rows",
    "quantum_sensitivity",
    "run_points",
    "run_solved",
    "solution_record",
    "solver_rows",
    "stage_profiles",
    "tidy",
]

#: The experiment's default knobs (:class:`~dnnsplit.paper.experiment.Experiment`).
DEFAULT_EXPERIMENT = Experiment()
ID_COLUMNS = ["profile", "seed", "policy", "ratio", "devices", "solver", "objective", "metric"]
#: Fig. 5 at scale stops each proof by a node limit; this time limit only guards a machine
#: far slower than expected (it would make the result depend on the machine).
SCALE_TIME_LIMIT_S = 600.0
#: A baseline whose delays spread less than this fraction of their mean has zero variance
#: (what is left is rounding), so a % gain over it is undefined rather than astronomical.
ZERO_SPREAD = 1e-9


# --- grids and points -------------------------------------------------------------------


def _values(name: str, values: Any) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputError(f"grid.{name}", f"must be a list, got {values!r}")
    out = tuple(values)
    if not out:
        raise InputError(f"grid.{name}", "an empty list of values")
    return out


#: The columns of a sweep's rows that already name a setup field: a varied field among
#: them is not added as a label of its own.
SETUP_COLUMNS = {"profile": "profile", "policy": "policy", "ratio": "ratio"}


@dataclass(frozen=True)
class Grid:
    """What a sweep varies: N, the seeds, and values of :class:`~dnnsplit.Setup` fields.

    Each point is the scenario of ``(N, seed, setup.replace(**values))`` for every
    combination of the ``vary`` values, in the order given. A sweep declares which setup
    fields it may vary and refuses any other, naming it; what the grid does not vary comes
    from the setup, never from a default of the sweep.

    Attributes
    ----------
    devices : tuple of int
        N.
    seeds : tuple of int
        Scenario seeds per point.
    vary : mapping of str to tuple
        Setup field → the values it takes (e.g. ``{"ratio": (1, 10, 100)}``).
    """

    devices: Sequence[int] = (10,)
    seeds: Sequence[int] = tuple(range(10))
    vary: Mapping[str, Sequence[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, minimum in (("devices", 1), ("seeds", 0)):
            values = _values(name, getattr(self, name))
            checked = tuple(
                number(v, f"grid.{name}[{k}]", whole=True, minimum=minimum)
                for k, v in enumerate(values)
            )
            object.__setattr__(self, name, checked)
        if not isinstance(self.vary, Mapping):
            raise InputError("grid.vary", f"must be a mapping of setup fields, got {self.vary!r}")
        known = {f.name for f in dataclasses.fields(Setup)}
        vary: dict[str, tuple[Any, ...]] = {}
        for name, given in self.vary.items():
            if name not in known:
                raise InputError(
                    f"grid.vary.{name}", f"not a setup field; fields: {', '.join(sorted(known))}"
                )
            values = _values(f"vary.{name}", given)
            for k, value in enumerate(values):  # each value checked by the setup's own rule
                try:
                    Setup().replace(**{name: value})
                except InputError as error:
                    raise InputError(f"grid.vary.{name}[{k}]", error.problem) from None
            vary[name] = values
        object.__setattr__(self, "vary", MappingProxyType(vary))

    def setups(self, setup: Setup, *, sweep: str, varies: Sequence[str]) -> list[Setup]:
        """``setup`` with every combination of the varied values (just ``setup`` when
        nothing varies); an :class:`InputError` names a field ``sweep`` does not vary."""
        for name in self.vary:
            if name not in varies:
                allowed = ", ".join(varies) if varies else "no setup field"
                raise InputError(
                    f"grid.vary.{name}", f"{sweep} does not vary {name}; it varies {allowed}"
                )
        names = list(self.vary)
        return [
            setup.replace(**dict(zip(names, combination, strict=True)))
            for combination in itertools.product(*(self.vary[n] for n in names))
        ]

    def labels(self, setup: Setup) -> tuple[tuple[str, Any], ...]:
        """The identifying columns a point of ``setup`` carries for the varied fields that
        are not already columns of every row (:data:`SETUP_COLUMNS`)."""
        return tuple(
            (name, getattr(setup, name)) for name in self.vary if name not in SETUP_COLUMNS
        )

    def shrunk(self, quick: bool, **keep: int) -> Grid:
        """A smoke-test grid when ``quick``: the first ``keep[name]`` values of ``devices``,
        ``seeds`` or a varied field (a numeric field kept at 3 keeps its first, middle and
        last values)."""
        if not quick:
            return self
        devices, seeds, vary = self.devices, self.seeds, dict(self.vary)
        for name, count in keep.items():
            values: Sequence[Any] | None = self.vary.get(name, getattr(self, name, None))
            if values is None:
                raise InputError(f"grid.{name}", "neither devices, seeds nor a varied field")
            numeric = all(isinstance(v, (int, float)) for v in values) and name in self.vary
            if numeric and count == 3 and len(values) > 3:
                kept = (values[0], values[len(values) // 2], values[-1])
            else:
                kept = tuple(values)[:count]
            if name == "devices":
                devices = tuple(kept)
            elif name == "seeds":
                seeds = tuple(kept)
            else:
                vary[name] = kept
        return Grid(devices=devices, seeds=seeds, vary=vary)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a manifest."""
        return {
            "devices": list(self.devices),
            "seeds": list(self.seeds),
            "vary": {k: list(v) for k, v in self.vary.items()},
        }


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the scenario of ``(devices, seed, setup)``, the extra
    identifying columns its rows carry, and the options its rows depend on (the knobs of
    the experiment it uses among them: they are part of its cache key)."""

    setup: Setup
    devices: int
    seed: int
    labels: tuple[tuple[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    def scenario(self) -> Scenario:
        """The scenario of this point (the one seeding rule of :func:`~dnnsplit.paper_scenario`)."""
        return paper_scenario(self.devices, self.seed, self.setup)

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


def points(
    setup: Setup,
    grid: Grid,
    *,
    sweep: str,
    varies: Sequence[str],
    options: Mapping[str, Any] | None = None,
) -> list[Point]:
    """Every point of ``grid`` on ``setup``: each combination of the varied fields, then
    each N, then each seed; ``options`` go to every point."""
    return [
        Point(one, n, s, labels=grid.labels(one), options=dict(options or {}))
        for one in grid.setups(setup, sweep=sweep, varies=varies)
        for n in grid.devices
        for s in grid.seeds
    ]


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
        "energy": evaluation.energy,
    }


def _rows(keys: dict[str, Any], solver: str, objective: str, metrics: dict[str, float]) -> list:
    return [
        {**keys, "solver": solver, "objective": objective, "metric": m, "value": v}
        for m, v in metrics.items()
    ]


def _tidy_shape(point: Point, count: int, labels: Sequence[str] = ()) -> Shape:
    """The shape of ``count`` tidy rows of ``point``: its identifying columns, ``labels``
    (text), the solver, objective and metric, and a number in ``value``."""
    columns: dict[str, tuple[type, ...]] = {k: (type(v),) for k, v in point.keys().items()}
    columns.update({name: (str,) for name in (*labels, "solver", "objective", "metric")})
    columns["value"] = (float,)
    return count, columns


def tidy(rows: list[dict[str, Any]], extra_ids: Sequence[str] = ()) -> pd.DataFrame:
    """Rows as a frame sorted by the identifying columns (``extra_ids`` first), so that
    whatever ran the points, the rows come out in one order."""
    frame = pd.DataFrame(rows)
    return frame.sort_values([*extra_ids, *ID_COLUMNS], kind="stable").reset_index(drop=True)


# --- solutions: the unit of work the Fig. 3 and Fig. 5 sweeps share ----------------------

#: The metrics of an evaluation that rows carry (:func:`_metrics`).
METRICS = ("total", "variance", "std", "mean", "max", "jain", "local_share", "energy")

#: One solve of a scenario: ``(name, value)`` pairs, sorted by name, of ``solver``,
#: ``objective``, the solver's options and ``certify`` (the optimum must be certified).
Request = tuple[tuple[str, Any], ...]
#: What a sweep keeps of a solve (:func:`solution_record`).
Record = dict[str, Any]


def _request(solver: str, objective: str, **options: Any) -> Request:
    """The request of ``solver`` for ``objective`` with those of ``options`` it takes."""
    taken = {k: v for k, v in options.items() if k in SOLVER_OPTIONS[solver] or k == "certify"}
    return tuple(sorted({"solver": solver, "objective": objective, **taken}.items()))


@lru_cache(maxsize=16)
def _scenario(setup: Setup, devices: int, seed: int) -> Scenario:
    """The scenario of ``(devices, seed, setup)``, drawn once for the solves in a row that
    share it (the solves of one point, or of one scenario in a batch)."""
    return paper_scenario(devices, seed, setup)


def _record_shape(unit: Point) -> Shape:
    """The one row a solve yields: :data:`METRICS`, ``iterations`` and ``optimal``, and for
    the certifying solver its ``lower_bound`` and ``nodes``."""
    columns: dict[str, tuple[type, ...]] = {m: (float,) for m in METRICS}
    columns.update(iterations=(int,), optimal=(bool,))
    if unit.options["solver"] == "optimal":
        columns.update(lower_bound=(float,), nodes=(int,))
    return 1, columns


@yields(_record_shape)
def solution_record(unit: Point) -> list[Record]:
    """The solve a unit asks for (its options are a :data:`Request`), as one row: what
    the sweeps' rows are made of (:func:`_record_shape`). A ``certify`` request fails
    when the optimum is not certified within its ``time_limit``."""
    options = dict(unit.options)
    solver, objective = options.pop("solver"), options.pop("objective")
    scenario = _scenario(unit.setup, unit.devices, unit.seed)
    if options.pop("certify", False):
        found = _certified(scenario, objective, options["time_limit"])
    else:
        found = solve(scenario, objective=objective, solver=solver, **options)
    record: Record = {m: float(v) for m, v in _metrics(found.evaluation).items()}
    record.update(iterations=int(found.iterations), optimal=bool(found.optimal))
    if solver == "optimal":
        record.update(
            lower_bound=float(found.extra["lower_bound"]), nodes=int(found.extra["nodes"])
        )
    return [record]


def _unit(point: Point, request: Request) -> Point:
    return Point(point.setup, point.devices, point.seed, options=dict(request))


@dataclass(frozen=True)
class Solved:
    """A sweep whose rows are made of solves: the requests of a point, and the point's
    rows from the records of those requests."""

    requests: Callable[[Point], list[Request]]
    assemble: Callable[[Point, Mapping[Request, Record]], list[dict[str, Any]]]

    def rows(self, point: Point) -> list[dict[str, Any]]:
        """The rows of ``point``, solved in this process."""
        asked = self.requests(point)
        return self.assemble(point, {r: solution_record(_unit(point, r))[0] for r in asked})


def run_solved(
    work: Sequence[tuple[Solved, Point]],
    *,
    desc: str,
    progress: bool = True,
    engine: Engine | None = None,
) -> list[list[dict[str, Any]]]:
    """The rows of each ``(sweep, point)`` of ``work``, in order.

    Each distinct solve the points ask for (a scenario, a solver, an objective and the
    solver's options) is computed once, however many points, sweeps or readings ask for
    it, and cached on its own by ``engine`` (one task per solve, the solves of one
    scenario side by side); each point's rows are then assembled from the records, in
    this process. A point that changes only what the rows make of the solves (Fig. 3's
    baseline, say) therefore costs no solve that another point has made.
    """
    asked = [(sweep, point, sweep.requests(point)) for sweep, point in work]
    units: dict[tuple[Any, ...], Point] = {}
    for _, point, requests in asked:
        for request in requests:
            key = (point.setup, point.devices, point.seed, request)
            units.setdefault(key, _unit(point, request))
    solved = (engine or current_engine()).run_each(
        solution_record, list(units.values()), desc=desc, progress=progress
    )
    records = {key: rows[0] for key, rows in zip(units, solved, strict=True)}
    return [
        sweep.assemble(
            point, {r: records[(point.setup, point.devices, point.seed, r)] for r in requests}
        )
        for sweep, point, requests in asked
    ]


def _run_solved(
    sweep: Solved, points: Sequence[Point], *, desc: str, progress: bool, engine: Engine | None
) -> list[dict[str, Any]]:
    each = run_solved([(sweep, p) for p in points], desc=desc, progress=progress, engine=engine)
    return [row for rows in each for row in rows]


def _metrics_of(record: Record) -> dict[str, float]:
    """The :data:`METRICS` of a record (in the order of :func:`_metrics`)."""
    return {m: record[m] for m in METRICS}


# --- Fig. 3: greedy against the all-local baseline ------------------------------------


def _baseline_value(baseline: Record, objective: str) -> float:
    """The baseline's objective for a % gain: its variance counts as 0 (the gain is then
    undefined, NaN) when its delays are equal up to rounding (:data:`ZERO_SPREAD`)."""
    value = float(baseline[objective])
    if objective == "variance" and value <= (ZERO_SPREAD * baseline["mean"]) ** 2:
        return 0.0
    return value


ALL_LOCAL = _request("all-local", "total")
MAX_LOCAL = _request("max-local", "total")
EXACT_TOTAL = _request("exact", "total")


def _improvement_solvers(point: Point, objective: str) -> list[tuple[str, Request]]:
    """The solvers Fig. 3 compares with the baseline for ``objective`` at ``point``: greedy
    from the experiment's start, and ``exact`` for total delay where the policy has it."""
    found = [("greedy", _request("greedy", objective, start=point.options["start"]))]
    if objective == "total" and POLICY_TABLE[point.setup.policy].exact_total:
        found.append(("exact", EXACT_TOTAL))
    return found


def _improvement_requests(point: Point) -> list[Request]:
    chosen = [r for o in point.options["objectives"] for _, r in _improvement_solvers(point, o)]
    return list(dict.fromkeys([ALL_LOCAL, MAX_LOCAL, *chosen]))


def _improvement_assemble(point: Point, solved: Mapping[Request, Record]) -> list[dict[str, Any]]:
    keys = point.keys()
    all_local, max_local = solved[ALL_LOCAL], solved[MAX_LOCAL]
    baseline = all_local if point.options["baseline"] == "all-local" else max_local
    rows: list[dict[str, Any]] = []
    for objective in point.options["objectives"]:
        base_value = _baseline_value(baseline, objective)
        rows += _rows(keys, "all-local", objective, _metrics_of(all_local))
        rows += _rows(keys, "max-local", objective, _metrics_of(max_local))
        for solver, request in _improvement_solvers(point, objective):
            record = solved[request]
            metrics = _metrics_of(record)
            metrics["improvement_pct"] = stats.improvement_pct(base_value, record[objective])
            metrics["iterations"] = float(record["iterations"])
            rows += _rows(keys, solver, objective, metrics)
    return rows


#: Fig. 3's sweeps: all-local, max-local, greedy (and exact) from one scenario each.
IMPROVEMENT = Solved(_improvement_requests, _improvement_assemble)


def improvement_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one point of :func:`improvement`, solved in this process."""
    return IMPROVEMENT.rows(point)


#: The setup fields each sweep may vary (a grid that varies another is refused).
IMPROVEMENT_VARIES = ("policy", "ratio")


def improvement(
    setup: Setup,
    grid: Grid,
    *,
    objectives: Sequence[str] = ("total", "variance"),
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The paper's greedy against the all-local baseline over a grid (Fig. 3).

    For every point of the grid (it may vary the policy and R) and every objective of
    ``objectives``: greedy (eq. 6) from ``experiment.start``; the paper's all-local vector
    (p = S, even beyond the memory limits); ``max-local`` (p = s̃_i); and, for total delay
    where the policy has an exact method, the certified optimum (``exact``). Greedy and
    exact rows hold ``improvement_pct`` = 100·(baseline − solver)/baseline of the
    objective, the quantity Fig. 3 plots, where the baseline is ``experiment.baseline``
    (``all-local`` or ``max-local``).

    Returns
    -------
    pandas.DataFrame
        Tidy rows (:data:`ID_COLUMNS` and ``value``).
    """
    rows = _run_solved(
        IMPROVEMENT,
        improvement_points(setup, grid, objectives=objectives, experiment=experiment),
        desc="Fig. 3 grid",
        progress=progress,
        engine=engine,
    )
    return tidy(rows)


def improvement_points(
    setup: Setup,
    grid: Grid,
    *,
    objectives: Sequence[str] = ("total", "variance"),
    experiment: Experiment = DEFAULT_EXPERIMENT,
) -> list[Point]:
    """The points of :func:`improvement`."""
    options = {
        "objectives": _objectives(objectives),
        "start": experiment.start,
        "baseline": experiment.baseline,
    }
    return points(setup, grid, sweep="improvement", varies=IMPROVEMENT_VARIES, options=options)


def _objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    values = _values("objectives", objectives)
    return tuple(
        check_choice(o, OBJECTIVES, f"objectives[{k}]", "objective") for k, o in enumerate(values)
    )


# --- Fig. 5: greedy against the optimum ---------------------------------------------

#: Seconds ``optimal`` may take to certify a Fig. 5 optimum before the point fails.
CERTIFY_TIME_LIMIT_S = DEFAULT_TIME_LIMIT_S


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


def _heuristics(point: Point, objective: str) -> dict[str, Request]:
    """The paper's greedy and our local-search, as Fig. 5 runs them: the experiment's
    start and restarts, the point's seed."""
    options = {
        "start": point.options["start"],
        "restarts": point.options["restarts"],
        "seed": point.seed,
    }
    return {solver: _request(solver, objective, **options) for solver in ("greedy", "local-search")}


def _certify(objective: str) -> Request:
    return _request("optimal", objective, time_limit=CERTIFY_TIME_LIMIT_S, certify=True)


def _optimum_requests(point: Point) -> list[Request]:
    return [
        request
        for objective in point.options["objectives"]
        for request in (_certify(objective), *_heuristics(point, objective).values())
    ]


def _optimum_assemble(point: Point, solved: Mapping[Request, Record]) -> list[dict[str, Any]]:
    keys = point.keys()
    rows: list[dict[str, Any]] = []
    for objective in point.options["objectives"]:
        best = solved[_certify(objective)]
        # 1 in every row: a point whose optimum is not certified is refused (its solve fails)
        certified = {**_metrics_of(best), "certified": float(best["optimal"])}
        rows += _rows(keys, "optimal", objective, certified)
        for solver, request in _heuristics(point, objective).items():
            found = solved[request]
            metrics = _metrics_of(found)
            metrics["gap_pct"] = stats.gap_pct(found[objective], best[objective])
            if objective == "variance":
                metrics["std_ratio"] = stats.std_ratio(found[objective], best[objective])
            rows += _rows(keys, solver, objective, metrics)
    return rows


#: Fig. 5's sweep: the certified optimum, greedy and local-search of one scenario each.
OPTIMUM = Solved(_optimum_requests, _optimum_assemble)


def optimum_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one point of :func:`greedy_vs_optimal`, solved in this process."""
    return OPTIMUM.rows(point)


#: Fig. 5 may be drawn at other policies and R (the paper does not give them).
OPTIMUM_VARIES = ("policy", "ratio")


def greedy_vs_optimal(
    setup: Setup,
    grid: Grid,
    *,
    objectives: Sequence[str] = ("variance", "max"),
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The paper's greedy and ``local-search`` against the certified optimum (Fig. 5).

    For every point of the grid (at the setup's R and policy unless the grid varies them)
    and every objective (the paper's variance, and the min-max delay beside it): the
    certified optimum by ``optimal`` (branch and bound; the same optimum exhaustive search
    finds, hundreds of times faster), greedy and local-search (the experiment's start and
    restarts). Rows hold the metrics (the optimum's with ``certified`` = 1: a point it
    cannot certify is refused) and, for the heuristics, ``gap_pct`` =
    100·(V − V*)/V* (the paper's gap; see :func:`~dnnsplit.paper.stats.gap_pct` for
    V* = 0) and, for the variance, ``std_ratio`` = sqrt(V / V*), the ratio of standard
    deviations of delays.
    """
    chosen = optimum_points(setup, grid, objectives, experiment=experiment)
    rows = _run_solved(OPTIMUM, chosen, desc="Fig. 5 grid", progress=progress, engine=engine)
    return tidy(rows)


def optimum_points(
    setup: Setup,
    grid: Grid,
    objectives: Sequence[str],
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
) -> list[Point]:
    """The points of :func:`greedy_vs_optimal`."""
    options = {
        "objectives": _objectives(objectives),
        "start": experiment.start,
        "restarts": experiment.restarts,
    }
    return points(setup, grid, sweep="greedy_vs_optimal", varies=OPTIMUM_VARIES, options=options)


def _scale_optimal(point: Point, objective: str) -> Request:
    options = point.options
    return _request(
        "optimal",
        objective,
        max_nodes=options["max_nodes"],
        time_limit=SCALE_TIME_LIMIT_S,
        start=options["start"],
        restarts=options["restarts"],
        seed=point.seed,
    )


def _scale_requests(point: Point) -> list[Request]:
    return [
        request
        for objective in point.options["objectives"]
        for request in (_scale_optimal(point, objective), *_heuristics(point, objective).values())
    ]


def _scale_assemble(point: Point, solved: Mapping[Request, Record]) -> list[dict[str, Any]]:
    keys = point.keys()
    rows: list[dict[str, Any]] = []
    for objective in point.options["objectives"]:
        best = solved[_scale_optimal(point, objective)]
        bound = best["lower_bound"]
        found = {s: solved[r] for s, r in _heuristics(point, objective).items()}
        known = min(best[objective], *(f[objective] for f in found.values()))
        metrics = _metrics_of(best)
        metrics["lower_bound"] = bound
        metrics["certified"] = float(best["optimal"])
        metrics["best_known"] = known
        metrics["gap_to_bound_pct"] = stats.gap_pct(best[objective], bound)
        metrics["nodes"] = float(best["nodes"])
        rows += _rows(keys, "optimal", objective, metrics)
        for solver, record in found.items():
            metrics = _metrics_of(record)
            metrics["gap_pct"] = stats.gap_pct(record[objective], known)
            metrics["gap_to_bound_pct"] = stats.gap_pct(record[objective], bound)
            rows += _rows(keys, solver, objective, metrics)
    return rows


#: Fig. 5 at scale: the certifying solver under a node limit, greedy and local-search.
SCALE = Solved(_scale_requests, _scale_assemble)


#: Fig. 5 at scale runs under each BS policy.
SCALE_VARIES = ("policy",)


def greedy_at_scale(
    setup: Setup,
    grid: Grid,
    *,
    max_nodes: int = 200_000,
    objectives: Sequence[str] = ("variance",),
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Fig. 5 at the paper's sizes: greedy and local-search against the certified optimum,
    or the best bound, of each objective of ``objectives`` (``"variance"``, ``"max"``),
    for every point of ``grid`` (it may vary the policy).

    ``optimal`` scores at most ``max_nodes`` nodes a point and objective (a node limit,
    not a time limit, so that the same grid gives the same bytes on any machine;
    :data:`SCALE_TIME_LIMIT_S` is only a safety net), from the better of greedy and
    local-search with the experiment's start and restarts (so its vector is never worse
    than theirs). Its rows hold the metrics of the best vector it found, its proven
    ``lower_bound``, ``certified`` (1 when the search finished: the vector is optimal),
    ``best_known`` (the least value any of the three solvers found), ``gap_to_bound_pct``
    (its own gap, 0 when certified) and ``nodes``. The heuristics' rows hold ``gap_pct``
    against ``best_known`` (the true gap when certified, a lower estimate otherwise) and
    ``gap_to_bound_pct`` against the bound (an upper estimate).
    """
    options = {
        "max_nodes": int(number(max_nodes, "max_nodes", whole=True, minimum=1)),
        "objectives": _objectives(objectives),
        "start": experiment.start,
        "restarts": experiment.restarts,
    }
    chosen = points(setup, grid, sweep="greedy_at_scale", varies=SCALE_VARIES, options=options)
    rows = _run_solved(SCALE, chosen, desc="Fig. 5 at scale", progress=progress, engine=engine)
    return tidy(rows)


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


#: The metrics of greedy's end point in the mechanism study.
MECHANISM_METRICS = ("step_improves", "jump_improves", "pair_improves", "devices_differ", "gap_pct")


@yields(lambda point: _tidy_shape(point, len(MECHANISM_METRICS)))
def _mechanism_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys = point.scenario(), point.keys()
    found = solve(scenario, objective="variance", start=point.options["start"])
    best = _certified(scenario, "variance", CERTIFY_TIME_LIMIT_S)
    metrics = _improving_moves(scenario, np.array(found.partition))
    metrics["devices_differ"] = float(np.sum(found.partition != best.partition))
    metrics["gap_pct"] = stats.gap_pct(found.value, best.value)
    return _rows(keys, "greedy", "variance", metrics)


def greedy_mechanism(
    setup: Setup,
    grid: Grid,
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Why the paper's greedy stops where it does on the variance objective.

    At greedy's end point (from ``experiment.start``) of every (N, seed) of the grid (which
    varies no setup field): ``step_improves`` (0 by construction: it is a one-stage local
    optimum), ``jump_improves`` (1 if moving one device by two or more stages would lower
    the variance), ``pair_improves`` (1 if moving two devices one stage each would),
    ``devices_differ`` (how many devices greedy's answer and the certified optimum place
    differently) and ``gap_pct``.
    """
    chosen = points(
        setup, grid, sweep="greedy_mechanism", varies=(), options={"start": experiment.start}
    )
    rows = run_points(
        _mechanism_point, chosen, desc="greedy's end points", progress=progress, engine=engine
    )
    return tidy(rows)


def delay_curves(
    setup: Setup, devices: int, seed: int, *, experiment: Experiment = DEFAULT_EXPERIMENT
) -> pd.DataFrame:
    """For the scenario of ``(devices, seed, setup)``: each device's delay against its own
    partition point, the other devices held at greedy's (variance) choices, with greedy's
    and the certified optimum's points marked. Delays are not monotone in p: the bytes
    sent jump between layers."""
    scenario = paper_scenario(devices, seed, setup)
    greedy = np.array(
        solve(scenario, objective="variance", start=experiment.start).partition
    )
    best = np.array(_certified(scenario, "variance", CERTIFY_TIME_LIMIT_S).partition)
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


def _quantum_greedy(point: Point) -> Request:
    return _request("greedy", point.options["objective"], start=point.options["start"])


def _quantum_requests(point: Point) -> list[Request]:
    baseline = [] if point.options["baseline"] == "all-local" else [MAX_LOCAL]
    return [ALL_LOCAL, *baseline, _quantum_greedy(point)]


def _quantum_assemble(point: Point, solved: Mapping[Request, Record]) -> list[dict[str, Any]]:
    keys, objective = point.keys(), point.options["objective"]
    all_local = solved[ALL_LOCAL]
    baseline = all_local if point.options["baseline"] == "all-local" else solved[MAX_LOCAL]
    greedy = solved[_quantum_greedy(point)]
    rows = _rows(keys, "all-local", objective, _metrics_of(all_local))
    metrics = _metrics_of(greedy)
    metrics["improvement_pct"] = stats.improvement_pct(
        _baseline_value(baseline, objective), greedy[objective]
    )
    return rows + _rows(keys, "greedy", objective, metrics)


#: The quantum study: greedy and the baseline of one scenario each.
QUANTUM = Solved(_quantum_requests, _quantum_assemble)


#: The quantum study varies the device quantum and the form of eq. (1).
QUANTUM_VARIES = ("quantum_s", "local_delay")


def quantum_sensitivity(
    setup: Setup,
    grid: Grid,
    *,
    objective: str = "variance",
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """How much the device's round-robin quantum q matters (docs/model.md).

    The paper gives no q. For every point of the grid (it may vary ``quantum_s`` and the
    form of eq. (1), ``local_delay``): greedy for ``objective`` and all-local, with
    greedy's ``improvement_pct`` over the experiment's baseline, as in Fig. 3. Rows carry
    ``quantum_s`` and ``local_delay`` besides :data:`ID_COLUMNS`, varied or not.
    """
    options = {
        "objective": _objectives([objective])[0],
        "start": experiment.start,
        "baseline": experiment.baseline,
    }
    chosen = [
        replace_labels(
            p, ("quantum_s", float(p.setup.quantum_s)), ("local_delay", p.setup.local_delay)
        )
        for p in points(
            setup, grid, sweep="quantum_sensitivity", varies=QUANTUM_VARIES, options=options
        )
    ]
    rows = _run_solved(QUANTUM, chosen, desc="quantum sweep", progress=progress, engine=engine)
    return tidy(rows, ("quantum_s", "local_delay"))


def replace_labels(point: Point, *labels: tuple[str, Any]) -> Point:
    """``point`` with exactly these identifying columns (in this order)."""
    return Point(point.setup, point.devices, point.seed, tuple(labels), point.options)


@yields(lambda point: _tidy_shape(point, 2 * len(METRICS) + 2, ("model",)))
def _model_gap_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys = point.scenario(), point.keys()
    objective = point.options["objective"]
    solution = solve(scenario, objective=objective, start=point.options["start"])
    snapshot = solution.evaluation
    timeline = evaluate(scenario, solution.partition, model="timeline")
    rows = _rows({**keys, "model": "snapshot"}, "greedy", objective, _metrics(snapshot))
    metrics = _metrics(timeline)
    metrics["total_gap_pct"] = stats.change_pct(timeline.total, snapshot.total)
    metrics["variance_gap_pct"] = stats.change_pct(timeline.variance, snapshot.variance)
    return rows + _rows({**keys, "model": "timeline"}, "greedy", objective, metrics)


#: The timeline study runs under each BS policy.
MODEL_GAP_VARIES = ("policy",)


def model_gap(
    setup: Setup,
    grid: Grid,
    *,
    objective: str = "total",
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The snapshot model against the timeline model (docs/model.md, "The timeline model").

    Greedy (from ``experiment.start``) solves each scenario under the paper's snapshot
    model; the same partition is then re-evaluated under the timeline model, where each
    residual task reaches the BS only when its tensor does. The grid may vary the policy.
    Rows: the metrics of both (``model`` column) and, on the timeline rows,
    ``total_gap_pct`` and ``variance_gap_pct`` = 100·(timeline − snapshot)/snapshot.
    """
    options = {"objective": _objectives([objective])[0], "start": experiment.start}
    chosen = points(setup, grid, sweep="model_gap", varies=MODEL_GAP_VARIES, options=options)
    rows = run_points(_model_gap_point, chosen, desc="model gap", progress=progress, engine=engine)
    return tidy(rows, ("model",))


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
    warm_up: bool = False,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[tuple[str, str], Solution]]:
    """Run every solver on one scenario for every objective.

    ``warm_up``: first run the same solvers on a three-device scenario of the same BS
    policy, so that the ``seconds`` column times the solvers, not the one-off compilation of
    their numba kernels (tens of seconds on a first run). ``progress``: a bar over the
    (objective, solver) pairs (exhaustive search under RR takes a minute at N = 8).

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
        compare_solvers(small, objectives=objectives, solvers=solvers, model=model,
                        progress=False)  # fmt: skip
    rows, solutions = [], {}
    options = {"model": model, "seed": seed, "start": start, "restarts": restarts}
    pairs = list(itertools.product(objectives, solvers))
    for objective, solver in progress_bar(pairs, desc="solvers", enabled=progress):
        row: dict[str, Any] = {"objective": objective, "solver": solver}
        try:
            solution = solve(
                scenario,
                objective=objective,
                solver=solver,
                **{k: v for k, v in options.items() if k in SOLVER_OPTIONS[solver]},
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


def devices_table(scenario: Scenario) -> pd.DataFrame:
    """The devices of a scenario as a table: distance, uplink rate (Mbit/s), background
    processes, memory limit s̃ and lowest point, quantum (ms), speed and deadline."""
    rows = []
    distances = scenario.meta.get("distances_m") or [math.nan] * scenario.n_devices
    for index, device in enumerate(scenario.to_dict()["devices"]):
        rows.append(
            {
                "device": index,
                "distance_m": distances[index],
                "uplink_mbit_s": device["rate_bps"] / 1e6,
                "background": device["background"],
                "max_stage": device["max_stage"],
                "min_stage": device.get("min_stage", 0),
                "quantum_ms": 1000 * device["quantum_s"],
                "speed": device.get("speed", 1.0),
                "deadline_s": device.get("deadline_s"),
            }
        )
    return pd.DataFrame(rows).set_index("device")


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


def stage_profiles(names: Sequence[str] = ()) -> pd.DataFrame:
    """Stage times of several profiles as a tidy table (Fig. 4), with provenance columns.

    Rows follow the order of ``names`` (empty: every shipped profile, by name), then the
    stages.
    """
    rows = []
    for name in tuple(names) or tuple(list_profiles()):
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
