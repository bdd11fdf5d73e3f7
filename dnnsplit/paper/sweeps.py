"""The primitives of the paper's sweeps: a setup, a grid, and tidy rows out.

A sweep, ``rows = sweep(setup, grid)``, lives in its study's module. Each :class:`Point`
of the :class:`Grid` is the scenario of ``(N, seed, setup.replace(...))`` drawn by
:func:`dnnsplit.paper_scenario` (``dnnsplit scenario --devices N --seed s`` redraws it).
Rows are "tidy": one per :data:`ID_COLUMNS`, the number in ``value``, computed on an engine
(:mod:`dnnsplit.paper.engine`, cached) and sorted by :func:`tidy`, so the bytes of a CSV
do not depend on what ran them. Most sweeps are made of *solves* (:class:`Solved`), each
distinct one computed once (:func:`run_solved`) and shared by the points that ask for it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._checks import number
from dnnsplit.draw import paper_scenario
from dnnsplit.errors import InputError, SolverRefusal, check_choice
from dnnsplit.evaluate import Evaluation
from dnnsplit.paper.engine import Engine, RowFunction, Shape, yields
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.experiment import Experiment
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import (
    DEFAULT_TIME_LIMIT_S,
    OBJECTIVES,
    SOLVER_OPTIONS,
    Solution,
    solve,
)

__all__ = [
    "ALL_LOCAL", "CERTIFY_TIME_LIMIT_S", "DEFAULT_EXPERIMENT", "ID_COLUMNS", "MAX_LOCAL",
    "METRICS", "Grid", "Point", "Solved", "baseline_value", "certified_optimum",
    "check_objectives", "evaluation_metrics", "metric_rows", "points", "record_metrics",
    "request", "run_points", "run_solved", "solution_record", "solved_rows",
    "tidy", "tidy_shape",
]

#: The experiment's default knobs (:class:`~dnnsplit.paper.experiment.Experiment`).
DEFAULT_EXPERIMENT = Experiment()
ID_COLUMNS = ["profile", "seed", "policy", "ratio", "devices", "solver", "objective", "metric"]
#: A baseline whose delays spread less than this fraction of their mean has zero variance
#: (what is left is rounding), so a % gain over it is undefined rather than astronomical.
ZERO_SPREAD = 1e-9
#: The metrics of an evaluation that rows carry (:func:`evaluation_metrics`).
METRICS = ("total", "variance", "std", "mean", "max", "jain", "local_share", "energy")


# --- grids and points -------------------------------------------------------------------


def _values(name: str, values: Any) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputError(f"grid.{name}", f"must be a list, got {values!r}")
    out = tuple(values)
    if not out:
        raise InputError(f"grid.{name}", "an empty list of values")
    return out


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

    def shrunk(self, quick: bool, **keep: int) -> Grid:
        """A smoke-test grid when ``quick``: the first ``keep[name]`` values of ``devices``,
        ``seeds`` or a varied field (a numeric field kept at 3 keeps its first, middle and
        last values)."""
        if not quick:
            return self
        values = {"devices": self.devices, "seeds": self.seeds, **self.vary}
        for name, count in keep.items():
            if name not in values:
                raise InputError(f"grid.{name}", "neither devices, seeds nor a varied field")
            given = tuple(values[name])
            numeric = name in self.vary and all(isinstance(v, (int, float)) for v in given)
            if numeric and count == 3 and len(given) > 3:
                values[name] = (given[0], given[len(given) // 2], given[-1])
            else:
                values[name] = given[:count]
        devices, seeds = values.pop("devices"), values.pop("seeds")
        return Grid(devices=devices, seeds=seeds, vary=values)

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
    each N, then each seed; ``options`` go to every point. A point's labels are its varied
    fields but those every row names (profile, policy, ratio); an :class:`InputError` names
    a field ``sweep`` does not vary."""
    for name in grid.vary:
        if name not in varies:
            allowed = ", ".join(varies) if varies else "no setup field"
            raise InputError(
                f"grid.vary.{name}", f"{sweep} does not vary {name}; it varies {allowed}"
            )
    labels = [name for name in grid.vary if name not in ("profile", "policy", "ratio")]
    setups = [
        setup.replace(**dict(zip(grid.vary, combination, strict=True)))
        for combination in itertools.product(*grid.vary.values())
    ]
    return [
        Point(one, n, s, tuple((k, getattr(one, k)) for k in labels), dict(options or {}))
        for one in setups
        for n in grid.devices
        for s in grid.seeds
    ]


def run_points(
    compute: RowFunction,
    points: Sequence[Point],
    *,
    desc: str,
    progress: bool = True,
    engine: Engine | None = None,
) -> list[dict[str, Any]]:
    """The rows of every point, in their order, computed (or recalled from the cache) by
    ``engine``, by default :func:`dnnsplit.paper.engine.current`."""
    each = (engine or current_engine()).run_each(compute, points, desc=desc, progress=progress)
    return [row for rows in each for row in rows]


def evaluation_metrics(evaluation: Evaluation) -> dict[str, float]:
    """The :data:`METRICS` of an evaluation (eqs. 4–5 and the rest), by name."""
    return {
        m: float(np.sqrt(evaluation.variance)) if m == "std" else getattr(evaluation, m)
        for m in METRICS
    }


def metric_rows(
    keys: dict[str, Any], solver: str, objective: str, metrics: dict[str, float]
) -> list:
    """One tidy row per metric: the point's ``keys``, the solver, objective and metric."""
    return [
        {**keys, "solver": solver, "objective": objective, "metric": m, "value": v}
        for m, v in metrics.items()
    ]


def tidy_shape(point: Point, count: int, labels: Sequence[str] = ()) -> Shape:
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

#: One solve of a scenario: ``(name, value)`` pairs, sorted by name, of ``solver``,
#: ``objective``, the solver's options and ``certify`` (the optimum must be certified).
Request = tuple[tuple[str, Any], ...]
#: What a sweep keeps of a solve (:func:`solution_record`).
Record = dict[str, Any]


def request(solver: str, objective: str, **options: Any) -> Request:
    """The request of ``solver`` for ``objective`` with those of ``options`` it takes."""
    taken = {k: v for k, v in options.items() if k in SOLVER_OPTIONS[solver] or k == "certify"}
    return tuple(sorted({"solver": solver, "objective": objective, **taken}.items()))


#: :func:`~dnnsplit.paper_scenario`, each scenario drawn once for the solves in a row on it.
_scenario = lru_cache(maxsize=16)(paper_scenario)


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
    scenario = _scenario(unit.devices, unit.seed, unit.setup)
    if options.pop("certify", False):
        found = certified_optimum(scenario, objective, options["time_limit"])
    else:
        found = solve(scenario, objective=objective, solver=solver, **options)
    record: Record = {m: float(v) for m, v in evaluation_metrics(found.evaluation).items()}
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
    """The rows of each ``(sweep, point)`` of ``work``, in order: each distinct solve
    (scenario, solver, objective, options) computed once by ``engine`` as a task cached on
    its own, however many points ask for it; each point's rows assembled from the records,
    in this process."""
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


def solved_rows(
    sweep: Solved, points: Sequence[Point], *, desc: str, progress: bool, engine: Engine | None
) -> list[dict[str, Any]]:
    """The rows of every point of one :class:`Solved` sweep, flat (:func:`run_solved`)."""
    each = run_solved([(sweep, p) for p in points], desc=desc, progress=progress, engine=engine)
    return [row for rows in each for row in rows]


def record_metrics(record: Record) -> dict[str, float]:
    """The :data:`METRICS` of a record (in the order of :func:`evaluation_metrics`)."""
    return {m: record[m] for m in METRICS}


def baseline_value(baseline: Record, objective: str) -> float:
    """The baseline's objective for a % gain: its variance counts as 0 (the gain is then
    undefined, NaN) when its delays are equal up to rounding (:data:`ZERO_SPREAD`)."""
    value = float(baseline[objective])
    if objective == "variance" and value <= (ZERO_SPREAD * baseline["mean"]) ** 2:
        return 0.0
    return value


#: The two baselines of Fig. 3 (and of the quantum study), one solve each.
ALL_LOCAL = request("all-local", "total")
MAX_LOCAL = request("max-local", "total")


def check_objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    """``objectives`` as a tuple, each checked against :data:`dnnsplit.solvers.OBJECTIVES`."""
    values = _values("objectives", objectives)
    return tuple(
        check_choice(o, OBJECTIVES, f"objectives[{k}]", "objective") for k, o in enumerate(values)
    )


#: Seconds ``optimal`` may take to certify a Fig. 5 optimum before the point fails.
CERTIFY_TIME_LIMIT_S = DEFAULT_TIME_LIMIT_S


def certified_optimum(scenario: Scenario, objective: str, time_limit: float) -> Solution:
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
