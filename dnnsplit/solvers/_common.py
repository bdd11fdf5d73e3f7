"""What every solver shares: the objectives, the tie tolerance, start vectors, and the
:class:`Solution` a solver returns (built, timed and evaluated by :func:`solver`)."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec

import numpy as np

from dnnsplit._limits import Budget, Interrupted, deferred_interrupts
from dnnsplit._params import (
    NEAR_ZERO,
    Choice,
    Constraint,
    Flag,
    Nullable,
    Real,
    Seed,
    Whole,
    declare,
)
from dnnsplit.errors import unknown_choice
from dnnsplit.evaluate import (
    MODEL,
    SCENARIO,
    Evaluation,
    as_partition,
    evaluate,
    model_supports_policy,
)
from dnnsplit.model import ENERGY_TOLERANCE_J, read_only
from dnnsplit.scenario import Scenario

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "DELAY_OBJECTIVES",
    "MAX_RESTARTS",
    "MAX_TIME_LIMIT_S",
    "OBJECTIVE",
    "OBJECTIVES",
    "RELATIVE_TOLERANCE",
    "SOLVER_OPTION_CONSTRAINTS",
    "STARTS",
    "Found",
    "Solution",
    "budget",
    "objective_values",
    "solver",
    "start_vector",
    "tolerance",
]

#: Greedy's start vectors (eq. 6): ⌊s̃_i/2⌋, all ones, s̃_i.
STARTS = ("half", "ones", "local")
#: The most random starts local-search takes (each is a whole improvement run).
MAX_RESTARTS = 100_000
#: The objectives of the delays: total delay (eq. 4), variance of delays (eq. 8), and the
#: largest delay (min-max, beyond the paper).
DELAY_OBJECTIVES = ("total", "variance", "max")
#: Every objective: the delays', and the total device energy (docs/model.md, "Energy";
#: beyond the paper, its first next step).
OBJECTIVES = (*DELAY_OBJECTIVES, "energy")
#: Objective values within this relative distance are ties; a move must improve by more.
RELATIVE_TOLERANCE = 1e-12
#: Seconds a searching solver (greedy, local-search, exact, optimal) may take when its
#: ``time_limit`` is not given.
DEFAULT_TIME_LIMIT_S = 120.0
#: The largest ``time_limit`` any solver takes (about 116 days).
MAX_TIME_LIMIT_S = 1e7

#: The declaration of ``objective`` every solver shares (see :mod:`dnnsplit._params`).
OBJECTIVE = Choice(OBJECTIVES, "objective")
#: What each solver option takes, declared once for every solver that has it (a solver
#: declares the options of its signature: :func:`solver`): ``time_limit`` in seconds (None:
#: the solver's default), ``energy_cap`` the most total device energy, J (None: no cap).
SOLVER_OPTION_CONSTRAINTS: dict[str, Constraint] = {
    "start": Choice(STARTS, "start"),
    "restarts": Whole(0, MAX_RESTARTS),
    "seed": Seed(),
    "max_iterations": Nullable(Whole(0)),
    "time_limit": Nullable(Real(high=MAX_TIME_LIMIT_S, positive=True)),
    "max_vectors": Nullable(Whole(1)),
    "progress": Flag(),
    "max_nodes": Nullable(Whole(1)),
    "energy_cap": Nullable(Real(low=0.0)),
}


def budget(
    time_limit: float | None,
    default: float | None = DEFAULT_TIME_LIMIT_S,
    nodes: int | None = None,
) -> Budget:
    """The :class:`~dnnsplit._limits.Budget` of a solver called with ``time_limit``
    (seconds, checked by the solver's declaration; None: ``default``) and an optional
    node limit, starting now; a Ctrl-C stops it with ``"interrupted"``."""
    return Budget(default if time_limit is None else time_limit, nodes=nodes, interrupts="stop")


def objective_values(
    delays: np.ndarray, objective: str, energies: np.ndarray | None = None
) -> np.ndarray:
    """The objective of each row of per-device delays (and energies): eq. (4) ``total``,
    (8) ``variance``, ``max``, the slowest device's delay ``max_i D_i``, or ``energy``, the
    total device energy ``Σ_i E_i`` (needs ``energies``)."""
    if objective == "total":
        return delays.sum(axis=-1)
    if objective == "variance":
        return delays.var(axis=-1)
    if objective == "max":
        return delays.max(axis=-1)
    if objective == "energy" and energies is not None:
        return energies.sum(axis=-1)
    raise unknown_choice("objective", "objective", objective, OBJECTIVES)


def tolerance(reference: float) -> float:
    """The tie tolerance around ``reference``: :data:`RELATIVE_TOLERANCE` relative."""
    return RELATIVE_TOLERANCE * max(abs(reference), NEAR_ZERO)


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
        ``total``, ``variance``, ``max`` or ``energy``.
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
        What the solver certifies or assumed (prose for a reader; :attr:`stopped` and
        :attr:`extra` hold the facts).
    stopped : str or None
        Why the solver stopped before its search was done: ``"time_limit"``,
        ``"node_limit"``, ``"iteration_limit"``, ``"memory_limit"`` or
        ``"interrupted"`` (:data:`~dnnsplit._limits.STOPS`); None when it was done (a
        fixed rule, a finished search, a certified optimum).
    extra : dict
        Solver-specific facts (bounds, node counts, ...), JSON-ready.
    energy_cap : float or None
        The cap on total device energy the solver was given (J), if any.
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
    energy_cap: float | None = None
    stopped: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "partition", read_only(np.array(self.partition)))

    @property
    def feasible(self) -> bool:
        """Every deadline and energy budget met, and the energy cap if one was given."""
        cap = self.energy_cap
        within = cap is None or self.evaluation.energy <= cap + ENERGY_TOLERANCE_J
        return self.evaluation.feasible and within

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
            "energy": ev.energy,
            "energies": [float(e) for e in ev.energies],
            "energy_cap": self.energy_cap,
            "solver": self.solver,
            "optimal": self.optimal,
            "seconds": self.seconds,
            "iterations": self.iterations,
            "feasible": self.feasible,
            "within_limits": ev.within_limits,
            "model": ev.model,
            "start": self.start,
            "note": self.note,
            "stopped": self.stopped,
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
    stopped: str | None = None


P = ParamSpec("P")


def solver(name: str) -> Callable[[Callable[P, Found]], Callable[P, Solution]]:
    """Make a search function a public solver: declare what it takes (``scenario``,
    ``objective``, ``model`` and each option of its signature, by
    :data:`SOLVER_OPTION_CONSTRAINTS`: the solver's ``constraints``), time the search, and
    return a :class:`Solution` whose answer is re-evaluated by :func:`dnnsplit.evaluate`
    (a reported value never carries a search's own arithmetic).

    The search runs inside :func:`~dnnsplit._limits.deferred_interrupts`: a Ctrl-C is taken
    by the search's budget at its next look, the search ends with its answer
    (``stopped="interrupted"``), and :class:`~dnnsplit._limits.Interrupted` carries that
    answer to the caller (a ``KeyboardInterrupt``).
    """

    def wrap(search: Callable[P, Found]) -> Callable[P, Solution]:
        signature = inspect.signature(search)
        options = [p for p in signature.parameters if p not in ("scenario", "objective", "model")]
        undeclared = [p for p in options if p not in SOLVER_OPTION_CONSTRAINTS]
        if undeclared:  # pragma: no cover - a programming error, caught at import
            raise TypeError(f"{name}: options without a declaration: {undeclared}")
        declared = {
            "scenario": SCENARIO,
            "objective": OBJECTIVE,
            "model": MODEL,
            **{p: SOLVER_OPTION_CONSTRAINTS[p] for p in options},
        }

        @functools.wraps(search)
        def run(*args: P.args, **kwargs: P.kwargs) -> Solution:
            began = time.perf_counter()
            with deferred_interrupts():
                found = search(*args, **kwargs)
            seconds = time.perf_counter() - began
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            scenario, objective = bound.arguments["scenario"], bound.arguments["objective"]
            evaluation = evaluate(  # trusted: ``run`` is called by its declaration
                scenario,
                as_partition(found.partition, scenario.n_devices),
                model=bound.arguments["model"],
                enforce_limits=found.enforce_limits,
            )
            solution = Solution(
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
                energy_cap=bound.arguments.get("energy_cap"),
                stopped=found.stopped,
            )
            if found.stopped == "interrupted":
                raise Interrupted(solution)
            return solution

        # declared around ``run``, so that the solution holds the canonical values
        return declare(declared, then=model_supports_policy)(run)

    return wrap
