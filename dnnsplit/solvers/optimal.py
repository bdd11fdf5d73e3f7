"""A certifying solver for total delay, variance, the largest delay and the total device
energy: branch and bound over the BS service order (snapshot model, ``sjf``, ``ps`` and
``rr``; deadlines and energy budgets). It runs :mod:`dnnsplit.solvers._level_search` or
:mod:`dnnsplit.solvers._bounds_search`; ``docs/optimal.md`` states their bounds and proves
them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import numpy as np

from dnnsplit._limits import Budget, Interrupted
from dnnsplit.errors import SolverRefusal, check_choice
from dnnsplit.evaluate import batch_outcomes
from dnnsplit.model import DelayTables
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import (
    DEFAULT_TIME_LIMIT_S,
    Found,
    Solution,
    budget,
    objective_values,
    solver,
    start_vector,
    tolerance,
)
from dnnsplit.solvers._search import Outcome, relative_gap
from dnnsplit.solvers.exact import assignment, assignment_seconds
from dnnsplit.solvers.heuristics import greedy, local_search

__all__ = [
    "COUNT_CLASSES",
    "COUNT_DEVICES",
    "DEFAULT_TIME_LIMIT",
    "LEVEL_FIRST_NODES",
    "SEARCHES",
    "Outcome",
    "branch_and_bound",
    "optimal",
]

#: Seconds :func:`optimal` searches by default (the searching solvers' shared default).
DEFAULT_TIME_LIMIT = DEFAULT_TIME_LIMIT_S
#: Nodes of the level search run first where the count search applies (it certifies the
#: small cases in a fraction of a second; beyond, the count search takes over). Under a
#: node limit it gets a tenth of the limit (at most this many).
LEVEL_FIRST_NODES = 100_000
#: The count-vector search (variance and min-max) runs up to this many devices and this
#: many BS service classes.
COUNT_DEVICES = 200
COUNT_CLASSES = 64
#: Share of the time limit the setup may take: the heuristics' warm start and the O(N³)
#: assignment each run only when their estimated time fits in this share (an estimate
#: from N, S and the policy alone, so the choice never depends on the clock).
SETUP_SHARE = 0.25
#: Elementary operations per second assumed by those estimates (conservative for a
#: loaded 2-core machine).
OPERATIONS_PER_SECOND = 5e7
#: Operations charged for each fully evaluated candidate besides its arithmetic (the
#: NumPy calls of one evaluation take tens of microseconds at any N).
CALL_OPERATIONS = 3_000.0
#: Searches :func:`branch_and_bound` can run.
SEARCHES = ("auto", "levels", "counts")


def _searches() -> tuple[ModuleType, ModuleType]:
    """The two searches, imported on first use: they compile numba kernels, and importing
    numba takes a moment that ``import dnnsplit`` should not pay (neither imports this
    module)."""
    from dnnsplit.solvers import _bounds_search, _level_search

    return _level_search, _bounds_search


@solver("optimal")
def optimal(
    scenario: Scenario,
    *,
    objective: str = "total",
    model: str = "snapshot",
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    max_nodes: int | None = None,
    start: str = "half",
    restarts: int = 8,
    seed: int | np.random.Generator = 0,
    energy_cap: float | None = None,
) -> Found:
    """The certified optimum by branch and bound, or a proven bound when stopped.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS; policy ``sjf``, ``ps`` or ``rr``; deadlines and
        energy budgets allowed.
    objective : {"total", "variance", "max", "energy"}
        Total delay, eq. (4); variance of delays, eq. (8); the largest delay (min-max); or
        the total device energy (docs/model.md, "Energy").
    model : {"snapshot"}
        Only the paper's snapshot model (eq. 2).
    time_limit : float, optional
        Seconds (positive and finite) after which the search stops and reports its best
        vector with a lower bound; None means the default, :data:`DEFAULT_TIME_LIMIT`
        (120 s). There is no way to switch the limit off. Setup counts: greedy, the
        local search and the O(N³) assignment run only when their estimated time (from
        N, S and the policy alone, :data:`OPERATIONS_PER_SECOND`) fits in
        :data:`SETUP_SHARE` of the limit (the heuristics with their iterations capped
        to fit), and the search looks at the clock between bounded slices of work.
    max_nodes : int, optional
        Stop after about this many search nodes (a whole number ≥ 1): nodes expanded
        (level search, checked between slices of at most
        :data:`~dnnsplit.solvers._level_search.SLICE_NODES`) or scored, expanded and
        closed (count search). A node limit makes the result independent of the machine.
    start, restarts, seed
        The first incumbent is the better of greedy from ``start`` and the any-step
        local search from ``start`` with ``restarts`` random starts drawn from ``seed``
        (a whole number or a :class:`numpy.random.Generator`; pass an int for
        reproducible output; see :func:`~dnnsplit.solvers.greedy` and
        :func:`~dnnsplit.solvers.local_search`), so the returned vector is never worse
        than either whenever they ran in full (``extra["warm_start"]`` says which ran).
    energy_cap : float, optional
        The most total device energy a vector may take, J (the ε of the ε-constraint
        method); default none.

    Returns
    -------
    Solution
        ``optimal`` is true only when the search finished; otherwise ``stopped`` says
        which limit stopped it (``"time_limit"``, ``"node_limit"``, ``"memory_limit"`` or
        ``"interrupted"``). ``extra`` holds ``lower_bound`` (a proven lower bound on the
        optimum: the optimum itself when certified, else the least bound over the open
        nodes), ``gap`` (``(value − lower_bound) / value``), ``nodes``, ``root_bound``,
        ``search`` (``"counts"`` or ``"levels"``) and ``warm_start``. ``iterations`` is
        the number of nodes.

    Raises
    ------
    SolverRefusal
        The timeline model (field ``model``); or no vector meets every deadline and
        energy budget (field ``deadline_s``; proven by the exhausted search).
    InputError
        A bad ``time_limit``, ``max_nodes``, ``start``, ``restarts`` or ``seed``; or a
        search whose stack would exceed :data:`~dnnsplit.model.MAX_MEMORY_BYTES`
        (field ``devices`` or ``profile``, with the size), refused before allocating it.

    Notes
    -----
    **Searches** (``docs/optimal.md``, "Two searches", with the bounds and their proofs).
    The variance and the largest delay, when every device has the same BS-work row, at
    most :data:`COUNT_DEVICES` devices and :data:`COUNT_CLASSES` service classes, and no
    energy budget or cap, take the *count search* (best-first over the number of devices
    in each service class), after a short level search (:data:`LEVEL_FIRST_NODES`);
    everything else takes the *level search* (devices assigned level by level in the BS
    service order).

    **Guarantee**: when the search finishes, no vector meeting every deadline and energy
    budget has an objective below the returned one by more than a relative 10⁻⁹ (the
    count search) or :data:`~dnnsplit.solvers.RELATIVE_TOLERANCE` (the level search). The
    returned vector is re-evaluated by the model. When stopped, ``lower_bound`` is a
    proven lower bound on the optimum.

    **Ties**: the first vector found among those within the tolerance of the optimum
    (greedy's, else local-search's, if it is optimal).

    **Complexity**: exponential in the worst case (the leaves are the partition vectors,
    or the count vectors). A level-search node costs O(N²) at most; a count-search
    expansion O(centres · N²), its root O(J · buckets · N²) per subgradient step, a leaf
    the program's ``Π_j (n_j + 1)`` states. Measured (``benchmarks/solvers.py --scale``;
    the README's "Speed" table): see docs/optimal.md, "Measured".

    References
    ----------
    Kafetzis and Koutsopoulos, eq. (2) (BS delay), (4) (total) and (8) (variance);
    constraints (5), (7); the energy of docs/model.md. The proofs and the other references
    (Fisher 1981 for the Lagrangian relaxation): docs/optimal.md; checked against brute
    force in ``tests/test_optimal.py`` and, for energy and budgets, ``tests/test_energy.py``.
    """
    if model != "snapshot":
        raise SolverRefusal(
            "model",
            f"optimal certifies under the snapshot model only (eq. 2), not {model}; "
            "use exhaustive for small N under the timeline model",
        )
    if time_limit is None:
        time_limit = DEFAULT_TIME_LIMIT
    clock = budget(time_limit, nodes=max_nodes)
    tables = scenario.tables
    first, first_value, warm, interrupted = _warm_start(
        scenario, objective, start, restarts, seed, time_limit * SETUP_SHARE, energy_cap
    )
    if interrupted:
        clock.halt("interrupted")
    least_total = None
    if (
        not interrupted
        and POLICY_TABLE[tables.policy].exact_total
        and objective in ("total", "variance")
        and assignment_seconds(tables.n_devices) <= time_limit * SETUP_SHARE
    ):
        free, _ = assignment(tables)  # the least total delay, constraints ignored
        delays, energies = batch_outcomes(tables, free[None, :])
        least_total = float(delays[0].sum())
        if objective == "total" and tables.excess(delays, energies, energy_cap)[0] == 0:
            return Found(  # the unconstrained optimum meets every deadline and budget
                free,
                iterations=0,
                optimal=True,
                note="linear assignment (docs/model.md): certified optimal, no search needed",
                extra={"lower_bound": least_total, "gap": 0.0, "nodes": 0, "root_bound": None},
            )
    result = branch_and_bound(
        tables,
        objective,
        start=first,
        start_value=first_value,
        budget=clock,
        least_total=least_total,
        energy_cap=energy_cap,
    )
    extra = {
        "lower_bound": result.lower,
        "gap": None,
        "nodes": result.nodes,
        "root_bound": result.root_bound,
        "search": result.search,
        "warm_start": warm,
    }
    if result.partition is None:
        if result.certified:
            uncapped = energy_cap is not None and (
                branch_and_bound(tables, "total", budget=budget(time_limit, nodes=max_nodes))
                .partition is not None
            )  # a vector meets every deadline and budget: the cap is what none meets
            raise SolverRefusal(
                "energy_cap" if uncapped else "deadline_s",
                "optimal: no partition vector meets every deadline and energy budget"
                + (f" within the energy cap {energy_cap:g} J" if uncapped else "")
                + f" (proven by a search of {result.nodes} nodes)",
            )
        fallback = first if first is not None else start_vector(scenario, start)
        return Found(
            np.asarray(fallback).copy(),
            iterations=result.nodes,
            note="no vector meeting every deadline found before the search stopped",
            extra=extra,
            stopped=result.stopped,
        )
    extra["gap"] = 0.0 if result.certified else relative_gap(result.value, result.lower)
    return Found(
        result.partition,
        iterations=result.nodes,
        optimal=result.certified,
        note=f"branch and bound ({result.search} search)",
        extra=extra,
        stopped=None if result.certified else result.stopped,
    )


def _heuristic_seconds(
    tables: DelayTables, objective: str, any_step: bool, capped: bool = False
) -> float:
    """Estimated seconds of one improvement iteration of greedy (``any_step`` False) or of
    one local-search run (True): candidates per iteration times the cost of scoring one
    (the complexities in :mod:`dnnsplit.solvers.heuristics`)."""
    n, width = tables.n_devices, tables.n_stages + 1
    candidates = n * width if any_step else 2 * n
    incremental = (
        tables.policy in ("sjf", "ps")
        and objective in ("total", "variance")
        and not tables.has_constraints
        and not capped
    )
    if incremental:
        each = 50.0 + 4.0 * width
    elif tables.policy == "rr":
        each = CALL_OPERATIONS + 4.0 * n * n
    else:
        each = CALL_OPERATIONS + 4.0 * n * max(1.0, math.log2(n))
    return candidates * each / OPERATIONS_PER_SECOND


def _warm_start(
    scenario: Scenario,
    objective: str,
    start: str,
    restarts: int,
    seed: int | np.random.Generator,
    seconds: float,
    energy_cap: float | None = None,
) -> tuple[np.ndarray | None, float, str, bool]:
    """The first incumbent: the better of greedy from ``start`` and local-search
    (``restarts``, ``seed``), each run only if its estimated time fits in ``seconds``
    (iterations capped so that it does). Returns ``(vector or None, value, what ran,
    interrupted)``; a vector missing a deadline is not an incumbent, and a Ctrl-C during a
    heuristic ends the warm start with what it has (``interrupted`` true)."""
    tables = scenario.tables
    found = []
    ran = []
    share = seconds / 2
    capped = energy_cap is not None
    most = 10 * tables.n_devices * (tables.n_stages + 1)
    runs: list[tuple[str, Callable[[], Solution]]] = []
    per_greedy = _heuristic_seconds(tables, objective, any_step=False, capped=capped)
    if per_greedy <= share:
        cap = int(min(share / per_greedy, most))
        runs.append(
            (
                "greedy",
                lambda: greedy(
                    scenario,
                    objective=objective,
                    start=start,
                    max_iterations=cap,
                    energy_cap=energy_cap,
                ),
            )
        )
    per_run = _heuristic_seconds(tables, objective, any_step=True, capped=capped) * (restarts + 1)
    if per_run <= share:
        runs_cap = int(min(share / per_run, most))
        runs.append(
            (
                "local-search",
                lambda: local_search(
                    scenario,
                    objective=objective,
                    start=start,
                    restarts=restarts,
                    seed=seed,
                    max_iterations=runs_cap,
                    energy_cap=energy_cap,
                ),
            )
        )
    interrupted = False
    for name, run in runs:
        try:
            found.append(run())
        except Interrupted as stop:  # the heuristic's answer so far, then no more work
            found.append(stop.solution)
            interrupted = True
        ran.append(name)
        if interrupted:
            break
    best: np.ndarray | None = None
    value = math.inf
    for solution in found:  # greedy first: ties keep it
        if solution.feasible and (best is None or solution.value < value - tolerance(value)):
            best, value = np.asarray(solution.partition).copy(), float(solution.value)
    if best is None and not ran:
        vector = start_vector(scenario, start)
        delays, energies = batch_outcomes(tables, vector[None, :])
        if tables.excess(delays, energies, energy_cap)[0] == 0:
            best, value = vector, float(objective_values(delays, objective, energies)[0])
        ran.append(f"start vector ({start})")
    return best, value, " + ".join(ran), interrupted


def branch_and_bound(
    tables: DelayTables,
    objective: str,
    *,
    start: np.ndarray | None = None,
    start_value: float = math.inf,
    budget: Budget | None = None,
    least_total: float | None = None,
    search: str = "auto",
    energy_cap: float | None = None,
) -> Outcome:
    """The search of :func:`optimal` (docs/optimal.md), from an optional incumbent.

    Parameters
    ----------
    tables : DelayTables
        The scenario's tables (snapshot model).
    objective : {"total", "variance", "max", "energy"}
        The objective.
    start : numpy.ndarray, optional
        A vector meeting every deadline, the first incumbent; None to start without one
        (the search must then find the optimum itself, which the tests use).
    start_value : float
        Its objective.
    budget : Budget, optional
        What the search may spend (its time and node limits); None: no limit.
    least_total : float, optional
        The least total delay of any vector, deadlines ignored (the level search's floor
        on the mean; not computed here).
    search : {"auto", "levels", "counts"}
        ``counts``: the count-vector search (variance and min-max, one shared BS-work row,
        at most :data:`COUNT_DEVICES` devices, no energy budget or cap); ``levels``: the
        level-by-level search; ``auto``: a short level search, then ``counts`` where it
        applies.
    energy_cap : float, optional
        The most total device energy a vector may take (level search).

    Returns
    -------
    Outcome
    """
    check_choice(search, SEARCHES, "search", "search")
    levels, counts = _searches()
    if budget is None:
        budget = Budget(None)
    if budget.stopped:  # stopped before the search began (a Ctrl-C in the warm start)
        value = start_value if start is not None else math.inf
        return Outcome(start, value, 0.0, False, 0, None, stopped=budget.stopped)
    classes = None
    energy_free = not tables.has_energy_budgets and energy_cap is None
    if search != "levels" and objective in ("variance", "max") and energy_free:
        if tables.n_devices <= COUNT_DEVICES:
            classes = counts.class_structure(tables, COUNT_CLASSES)
    if search == "counts" and classes is None:
        raise SolverRefusal(
            "search",
            "the count-vector search needs variance or min-max, one BS-work row shared by "
            f"every device, at most {COUNT_DEVICES} devices and no energy budget or cap",
        )
    if classes is None:
        return levels.level_search(
            tables, objective, start, start_value, budget, least_total, energy_cap
        )
    spent = 0
    first_nodes = LEVEL_FIRST_NODES
    if budget.nodes is not None:
        first_nodes = min(first_nodes, budget.nodes // 10)
    if search == "auto" and first_nodes > 0:  # a short level search: it settles small N
        quick = levels.level_search(
            tables, objective, start, start_value, budget, least_total, most_nodes=first_nodes
        )
        if quick.certified or budget.stopped:
            return quick
        if quick.partition is not None and quick.value < start_value:
            start, start_value = quick.partition, quick.value
        spent = quick.nodes

    def value_of(vector: np.ndarray) -> float:
        delays, energies = batch_outcomes(tables, vector[None, :])
        if tables.excess(delays, energies)[0] > 0:
            return math.inf
        return float(objective_values(delays, objective)[0])

    out = counts.count_search(
        tables, classes, objective, value_of, start=start, start_value=start_value, budget=budget
    )
    out.nodes += spent
    return out
