"""What every solver shares: the objectives, the tie tolerance, start vectors, and the
:class:`Solution` a solver returns (built, timed and evaluated by :func:`solver`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec

import numpy as np

from dnnsplit._checks import number
from dnnsplit._limits import Budget
from dnnsplit.errors import check_choice, unknown_choice
from dnnsplit.evaluate import Evaluation, as_partition, check_model, evaluate
from dnnsplit.model import read_only
from dnnsplit.scenario import Scenario
from dnnsplit.setup import STARTS

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "MAX_TIME_LIMIT_S",
    "OBJECTIVES",
    "RELATIVE_TOLERANCE",
    "STARTS",
    "Found",
    "Solution",
    "budget",
    "objective_values",
    "solver",
    "start_vector",
    "tolerance",
]

#: Objectives: total delay (eq. 4), variance of delays (eq. 8), and the largest delay
#: (min-max, beyond the paper).
OBJECTIVES = ("total", "variance", "max")
#: Objective values within this relative distance are ties; a move must improve by more.
RELATIVE_TOLERANCE = 1e-12
#: Seconds a searching solver (greedy, local-search, exact, optimal) may take when its
#: ``time_limit`` is not given.
DEFAULT_TIME_LIMIT_S = 120.0
#: The largest ``time_limit`` any solver takes (about 116 days).
MAX_TIME_LIMIT_S = 1e7


def budget(time_limit: float | None, default: float | None = DEFAULT_TIME_LIMIT_S) -> Budget:
    """The :class:`~dnnsplit._limits.Budget` of a solver called with ``time_limit``
    (seconds, positive; None: ``default``), starting now; a bad value is an
    :class:`~dnnsplit.errors.InputError` naming ``time_limit``."""
    if time_limit is None:
        return Budget(default)
    return Budget(number(time_limit, "time_limit", positive=True, maximum=MAX_TIME_LIMIT_S))


def objective_values(delays: np.ndarray, objective: str) -> np.ndarray:
    """The objective of each row of per-device delays: eq. (4) ``total``, (8) ``variance``,
    or ``max``, the slowest device's delay ``max_i D_i``."""
    if objective == "total":
        return delays.sum(axis=-1)
    if objective == "variance":
        return delays.var(axis=-1)
    if objective == "max":
        return delays.max(axis=-1)
    raise unknown_choice("objective", "objective", objective, OBJECTIVES)


def tolerance(reference: float) -> float:
    """The tie tolerance around ``reference``: :data:`RELATIVE_TOLERANCE` relative."""
    return RELATIVE_TOLERANCE * max(abs(reference), 1e-300)


def start_vector(scenario: Scenario, start: str) -> np.ndarray:
    """Greedy's start ``p⁽⁰⁾`` (eq. 6): ``half`` = ⌊s̃_i/2⌋, ``ones`` = 1, ``local`` = s̃_i.

    Each is clipped into the device's allowed points ``min_i..s̃_i`` (``ones`` on a device
    whose limit is 0 is 0; ``half`` is at least the lowest point).
    """
    limits = scenario.max_stage
    if start == "half":
        wanted = limits // 2
    elif start == "ones":
        wanted = np.ones_like(limits)
    elif start == "local":
        wanted = limits.copy()
    else:
        raise unknown_choice("start", "start", start, STARTS)
    return np.clip(wanted, scenario.min_stage, limits).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Solution:
    """The outcome of a solver.

    Attributes
    ----------
    partition : numpy.ndarray
        The chosen ``p`` (read-only).
    objective : str
        ``total``, ``variance`` or ``max``.
    value : float
        The objective at ``partition`` (from a full evaluation).
    evaluation : Evaluation
        Delays and metrics at ``partition``.
    solver : str
        Solver name.
    optimal : bool
        True only when the solver certifies a global optimum (exhaustive, exact, optimal).
    seconds : float
        Wall time of the solver.
    iterations : int
        Moves taken (greedy, local-search), vectors enumerated (exhaustive), 1 otherwise.
    start : str or None
        Start rule of greedy / local-search.
    note : str
        What the solver certifies or assumed.
    extra : dict
        Solver-specific facts (bounds, node counts, ...), JSON-ready.
    """

    partition: np.ndarray
    objective: str
    value: float
    evaluation: Evaluation
    solver: str
    optimal: bool
    seconds: float
    iterations: int
    start: str | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "partition", read_only(np.array(self.partition)))

    @property
    def feasible(self) -> bool:
        return self.evaluation.feasible

    def to_dict(self) -> dict[str, Any]:
        """The command line's ``solve`` output (docs/interface.md) plus the extra metrics."""
        ev = self.evaluation
        return {
            "partition": [int(p) for p in self.partition],
            "objective": self.value,
            "objective_name": self.objective,
            "total": ev.total,
            "variance": ev.variance,
            "mean": ev.mean,
            "max": ev.max,
            "jain": ev.jain,
            "local_share": ev.local_share,
            "delays": [float(d) for d in ev.delays],
            "solver": self.solver,
            "optimal": self.optimal,
            "seconds": self.seconds,
            "iterations": self.iterations,
            "feasible": ev.feasible,
            "within_limits": ev.within_limits,
            "model": ev.model,
            "start": self.start,
            "note": self.note,
            **self.extra,
        }


@dataclass
class Found:
    """What a solver's search returns before it is evaluated (see :func:`solver`)."""

    partition: np.ndarray
    iterations: int = 1
    optimal: bool = False
    note: str = ""
    start: str | None = None
    enforce_limits: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


P = ParamSpec("P")


def solver(name: str) -> Callable[[Callable[P, Found]], Callable[P, Solution]]:
    """Make a search function a public solver: check ``objective`` and ``model``, time the
    search, evaluate its answer with the model, and return a :class:`Solution`.

    The wrapped function takes ``(scenario, *, objective=..., model=..., **options)`` and
    returns a :class:`Found`. Its answer is re-evaluated by :func:`dnnsplit.evaluate`, so
    a reported value never carries a search's own arithmetic.
    """

    def wrap(search: Callable[P, Found]) -> Callable[P, Solution]:
        @functools.wraps(search)
        def run(*args: P.args, **kwargs: P.kwargs) -> Solution:
            scenario = args[0] if args else kwargs["scenario"]
            if not isinstance(scenario, Scenario):
                raise TypeError(f"{name}: the first argument must be a Scenario")
            objective = str(kwargs.get("objective", "total"))
            model = str(kwargs.get("model", "snapshot"))
            check_choice(objective, OBJECTIVES, "objective", "objective")
            check_model(model, scenario.policy)
            began = time.perf_counter()
            found = search(*args, **kwargs)
            seconds = time.perf_counter() - began
            evaluation = evaluate(
                scenario,
                as_partition(found.partition, scenario.n_devices),
                model=model,
                enforce_limits=found.enforce_limits,
            )
            return Solution(
                partition=evaluation.partition,
                objective=objective,
                value=evaluation.objective(objective),
                evaluation=evaluation,
                solver=name,
                optimal=found.optimal,
                seconds=seconds,
                iterations=int(found.iterations),
                start=found.start,
                note=found.note,
                extra=found.extra,
            )

        return run

    return wrap
