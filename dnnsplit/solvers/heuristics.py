"""The paper's greedy (eq. 6), our any-step local search, and the local-optimum check."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnnsplit._params import Choice, declare
from dnnsplit.evaluate import MODEL, SCENARIO, as_partition, model_supports_policy
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import (
    OBJECTIVE,
    SOLVER_OPTION_CONSTRAINTS,
    Found,
    budget,
    solver,
    start_vector,
)
from dnnsplit.solvers._moves import MOVE_KINDS, FullMoves, improve, make_moves

__all__ = ["MOVE_KINDS", "greedy", "is_local_optimum", "local_search"]


@solver("greedy")
def greedy(
    scenario: Scenario,
    *,
    objective: str = "total",
    start: str = "half",
    model: str = "snapshot",
    max_iterations: int | None = None,
    time_limit: float | None = None,
    energy_cap: float | None = None,
) -> Found:
    """The paper's greedy heuristic, eq. (6).

    From the start vector ``p⁽⁰⁾``, at each iteration try, for every device, one step right
    (``p_i + 1``) and one step left (``p_i − 1``) inside its allowed points; take the single
    move with the largest strict improvement of the objective; stop when no move improves.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    objective : {"total", "variance", "max", "energy"}
        Total delay, eq. (4), variance of delays, eq. (8), the largest delay (min-max), or
        the total device energy (docs/model.md, "Energy").
    start : {"half", "ones", "local"}
        ``p⁽⁰⁾``: ⌊s̃_i/2⌋, all ones, or s̃_i (each clipped into the allowed points).
    model : {"snapshot", "timeline"}
        The BS model the objective is computed under.
    max_iterations : int, optional
        Stop after this many moves (default: until no move improves).
    time_limit : float, optional
        Stop, before the next move, after this many seconds (positive; default
        :data:`~dnnsplit.solvers.DEFAULT_TIME_LIMIT_S`, 120 s). The setup of the scorers
        counts.
    energy_cap : float, optional
        The most total device energy the answer may take, J: a constraint like the
        deadlines (the ε of the ε-constraint method); default none.

    Returns
    -------
    Solution
        ``stopped`` is ``"time_limit"`` or ``"iteration_limit"`` when that limit ended the
        loop (the vector may then not be a local optimum), None otherwise.

    Notes
    -----
    **Guarantee**: a one-stage local optimum (:func:`is_local_optimum` with
    ``moves="step"``); no bound on the gap to the global optimum. With constraints
    (deadlines, energy budgets, the energy cap), a move may not make a feasible vector
    infeasible; from an infeasible start, moves first reduce the total excess (seconds
    late plus joules over, :meth:`~dnnsplit.model.DelayTables.excess`).

    **Ties**: values within :data:`~dnnsplit.solvers.RELATIVE_TOLERANCE` (relative) are
    equal, and a move must improve by more; among equal best moves the lowest device index
    wins, then the right move.

    **Complexity**: 2N candidates per iteration. Under ``sjf``/``ps`` without constraints
    (snapshot model) total delay is scored incrementally in O(N) per iteration and the
    variance in O(N + K log N) (K ≤ S + 1 distinct work values; docs/solvers.md,
    "Incremental scoring"); otherwise every candidate is evaluated in full, O(N² log N) per
    iteration (O(N³) for ``rr``).

    References
    ----------
    Kafetzis and Koutsopoulos, eq. (6); the objectives are eq. (4) and (8).
    """
    clock = budget(time_limit)
    vector = start_vector(scenario, start)
    moves = make_moves(scenario.tables, vector, "step", objective, model, clock, energy_cap)
    iterations = improve(moves, max_iterations)
    capped = max_iterations is not None and iterations >= max_iterations
    return Found(
        moves.p,
        iterations=iterations,
        start=start,
        note="the paper's greedy (eq. 6): one-stage moves, best improvement, from " + start,
        stopped=clock.stopped or ("iteration_limit" if capped else None),
    )


@solver("local-search")
def local_search(
    scenario: Scenario,
    *,
    objective: str = "total",
    start: str = "half",
    model: str = "snapshot",
    restarts: int = 8,
    seed: int | np.random.Generator = 0,
    max_iterations: int | None = None,
    time_limit: float | None = None,
    energy_cap: float | None = None,
) -> Found:
    """Any-step local search with seeded restarts (beyond the paper).

    The paper's improvement loop, but a device may jump to any of its allowed points in one
    move; run from ``start`` and from ``restarts`` random vectors (uniform on each device's
    allowed points, drawn from ``seed``), keeping the best end point (least deadline
    excess, then least objective; ties to the earlier run).

    Parameters
    ----------
    scenario, objective, model
        As :func:`greedy`'s.
    start : {"half", "ones", "local"}
        The first start vector (as :func:`greedy`'s).
    restarts : int
        Random starts besides ``start`` (a whole number ≥ 0; default 8).
    seed : int or numpy.random.Generator
        Seed of the random starts; pass an int for reproducible output.
    max_iterations : int, optional
        Cap on the moves of each run.
    time_limit : float, optional
        Stop, before the next move or run, after this many seconds (positive; default
        :data:`~dnnsplit.solvers.DEFAULT_TIME_LIMIT_S`, 120 s), keeping the best end point
        so far.
    energy_cap : float, optional
        The most total device energy the answer may take, J (as :func:`greedy`'s).

    Returns
    -------
    Solution
        ``stopped`` is ``"time_limit"`` when the limit ended the search, or
        ``"iteration_limit"`` when ``max_iterations`` ended a run (the vector may then not
        be a local optimum), None otherwise.

    Notes
    -----
    **Guarantee**: an any-step local optimum (:func:`is_local_optimum` with
    ``moves="any"``), never worse than greedy's end point from ``start`` under the any-step
    loop; no bound on the gap to the global optimum.

    **Ties**: as :func:`greedy`; the any-step candidates of a device are tried from
    ``p = S`` down to 0.

    **Complexity**: N·(S+1) candidates per iteration, per run (``restarts + 1`` runs),
    each scored as in :func:`greedy` (incrementally for total and variance under
    ``sjf``/``ps`` without constraints).

    References
    ----------
    The improvement loop of Kafetzis and Koutsopoulos, eq. (6), with any-step moves.
    """
    clock = budget(time_limit)
    tables = scenario.tables
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    best_key: tuple[float, float] | None = None
    partition = start_vector(scenario, start)
    iterations = 0
    capped = False
    for run in range(restarts + 1):
        if run and clock.stop():
            break
        # each random start is drawn when its run begins (the same draws as all at once)
        vector = partition if run == 0 else rng.integers(tables.min_stage, tables.max_stage + 1)
        moves = make_moves(tables, vector, "any", objective, model, clock, energy_cap)
        taken = improve(moves, max_iterations)
        iterations += taken
        capped = capped or (max_iterations is not None and taken >= max_iterations)
        value, excess = moves.current()
        if best_key is None or (excess, value) < best_key:
            best_key, partition = (excess, value), moves.p.copy()
    return Found(
        partition,
        iterations=iterations,
        start=start,
        note=f"any-step moves from {start} and {restarts} seeded random starts; best kept",
        stopped=clock.stopped or ("iteration_limit" if capped else None),
    )


MOVES = Choice(MOVE_KINDS, "move kind")


@declare(
    {
        "scenario": SCENARIO,
        "objective": OBJECTIVE,
        "moves": MOVES,
        "model": MODEL,
        "energy_cap": SOLVER_OPTION_CONSTRAINTS["energy_cap"],
    },
    then=model_supports_policy,
)
def is_local_optimum(
    scenario: Scenario,
    partition: Any,
    objective: str = "total",
    moves: str = "step",
    *,
    model: str = "snapshot",
    energy_cap: float | None = None,
) -> bool:
    """Whether no single-device move improves ``partition`` (the stopping rule of eq. 6).

    Parameters
    ----------
    scenario, objective, model
        As :func:`greedy`'s.
    partition : sequence of int
        The vector to test, within the allowed points.
    moves : {"step", "any"}
        ``step``: one device one stage left or right (the paper's greedy);
        ``any``: one device to any allowed point (``local-search``).
    energy_cap : float, optional
        The cap on total device energy the solver was given, J.

    Returns
    -------
    bool
        True when no candidate improves by more than the tie tolerance, using the rules of
        :func:`greedy` (with constraints: no feasible candidate improves the objective,
        or, from an infeasible vector, none reduces the excess).

    Notes
    -----
    Scores every candidate by a full evaluation (never a fast path), so it can check the
    solvers' fast paths.
    """
    vector = as_partition(partition, scenario.n_devices)
    scenario.tables.check_partitions(vector[None, :])
    candidates = FullMoves(scenario.tables, vector, moves, objective, model, None, energy_cap)
    return improve(candidates, max_iterations=1) == 0
