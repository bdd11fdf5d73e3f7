"""Choosing the partition points: the paper's greedy, local search, exact solvers, baselines.

Every solver is a public function with its guarantee, complexity and tie rules in its
docstring, and returns a :class:`Solution` (its answer re-evaluated by the model, with its
wall time, whether it is certified optimal, and in ``stopped`` which limit, if any, ended
its search). Objectives: total delay (eq. 4), the variance of delays (eq. 8), the largest
delay, and the total device energy (docs/model.md, "Energy"); constraints: deadlines,
per-device energy budgets, and a cap on total energy (``energy_cap``, the ε of the
ε-constraint method).

- Heuristics: :func:`greedy` (eq. 6), :func:`local_search`; :func:`is_local_optimum`
  checks their stopping rules by full evaluation.
- Certified: :func:`exhaustive` (small N; :func:`exhaustive_front` for the ε-constraint
  points), :func:`exact_total` (total delay as a linear assignment), :func:`optimal`
  (branch and bound; ``docs/optimal.md``).
- Baselines: :func:`all_local` (p = S, the paper's), :func:`max_local` (p = s̃_i),
  :func:`all_offload` (the lowest point), :func:`independent` (each device alone).

:func:`solve` picks one by name (the command line's ``--solver``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dnnsplit._params import Choice
from dnnsplit.errors import InputError
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import (
    DEFAULT_TIME_LIMIT_S,
    DELAY_OBJECTIVES,
    MAX_RESTARTS,
    MAX_TIME_LIMIT_S,
    OBJECTIVES,
    RELATIVE_TOLERANCE,
    STARTS,
    Solution,
    start_vector,
)
from dnnsplit.solvers.baselines import all_local, all_offload, independent, max_local
from dnnsplit.solvers.exact import exact_total
from dnnsplit.solvers.exhaustive import exhaustive, exhaustive_front
from dnnsplit.solvers.heuristics import MOVE_KINDS, greedy, is_local_optimum, local_search
from dnnsplit.solvers.optimal import optimal

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "DELAY_OBJECTIVES",
    "MAX_RESTARTS",
    "MAX_TIME_LIMIT_S",
    "MOVE_KINDS",
    "OBJECTIVES",
    "RELATIVE_TOLERANCE",
    "SOLVERS",
    "SOLVER_FUNCTIONS",
    "SOLVER_OPTIONS",
    "STARTS",
    "Solution",
    "all_local",
    "all_offload",
    "exact_total",
    "exhaustive",
    "exhaustive_front",
    "greedy",
    "independent",
    "is_local_optimum",
    "local_search",
    "max_local",
    "optimal",
    "solve",
    "start_vector",
]

#: The solvers by their command-line names, in the order tables list them.
SOLVER_FUNCTIONS: dict[str, Callable[..., Solution]] = {
    "greedy": greedy,
    "local-search": local_search,
    "exhaustive": exhaustive,
    "exact": exact_total,
    "optimal": optimal,
    "all-local": all_local,
    "max-local": max_local,
    "all-offload": all_offload,
    "independent": independent,
}
SOLVERS = tuple(SOLVER_FUNCTIONS)
SOLVER = Choice(SOLVERS, "solver")
#: The options each solver takes, by its name (``solve`` passes exactly these and refuses
#: any other).
SOLVER_OPTIONS: dict[str, frozenset[str]] = {
    name: frozenset(
        p for p in inspect.signature(function).parameters if p not in ("scenario", "objective")
    )
    for name, function in SOLVER_FUNCTIONS.items()
}
#: Every option some solver takes.
OPTIONS = frozenset().union(*SOLVER_OPTIONS.values())


def solve(
    scenario: Scenario,
    *,
    objective: str = "total",
    solver: str = "greedy",
    **options: Any,
) -> Solution:
    """Choose a partition vector for ``scenario`` with the solver called ``solver``.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    objective : {"total", "variance", "max", "energy"}
        Total delay, eq. (4), variance of delays, eq. (8), the largest delay (min-max), or
        the total device energy (docs/model.md, "Energy"; every solver but ``exact``).
    solver : str
        One of :data:`SOLVERS`: ``greedy`` (the paper's eq. 6), ``local-search``,
        ``exhaustive``, ``exact``, ``optimal``, ``all-local``, ``max-local``,
        ``all-offload``, ``independent``.
    **options
        Passed to the solver, which must take each (:data:`SOLVER_OPTIONS`; one it does not
        take is refused, naming it) and checks its value (its ``constraints``): ``model``
        (every solver), ``start``, ``restarts``, ``seed``, ``max_iterations``,
        ``max_vectors``, ``progress``, ``time_limit``, ``max_nodes``, ``energy_cap`` (the
        most total device energy, J). See each solver.

    Returns
    -------
    Solution

    Raises
    ------
    InputError
        An unknown objective or solver, an option the solver does not take, or a bad
        option value.
    SolverRefusal
        ``exhaustive`` on a space too large, ``exact`` where it cannot certify optimality,
        ``optimal`` under the timeline model; ``exhaustive`` and ``optimal`` when no vector
        meets every constraint; a search its ``time_limit`` cannot hold.
    """
    name = SOLVER.check(solver, "solver")
    unknown = sorted(set(options) - OPTIONS, key=str)
    if unknown:
        raise InputError(
            str(unknown[0]),
            f"not an option of any solver; options: {', '.join(sorted(OPTIONS))}",
        )
    accepted = SOLVER_OPTIONS[name]
    foreign = sorted(set(options) - accepted)
    if foreign:
        raise InputError(
            foreign[0],
            f"{name} does not take this option; it takes: {', '.join(sorted(accepted))}",
        )
    return SOLVER_FUNCTIONS[name](scenario, objective=objective, **options)
