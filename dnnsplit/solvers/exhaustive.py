"""Exhaustive search: every partition vector, the certified optimum for small N (Fig. 5).

It refuses a space it cannot finish in about :data:`DEFAULT_SECONDS` at the measured rate of
its evaluation path, unless the caller raises ``max_vectors``. The rates
(:data:`VECTORS_PER_SECOND`) were measured with timed solves of paper scenarios on the
2-core development machine with nothing else running:

- ``compiled`` (snapshot ``sjf``/``ps``, :mod:`dnnsplit._kernels`): 108–141 million
  vectors/s at N = 10 for all three objectives (61–70 M/s at N = 8, where the blocks are
  short; 35–90 M/s while other processes share the two cores);
- ``numpy`` (snapshot ``rr``, O(N²) per vector, vectorised in chunks): 1.6–1.8 million
  vectors/s at N = 6–8;
- ``timeline`` (discrete-event model, one event loop per vector): about 150,000 vectors/s
  for ``sjf``, ``ps`` and ``fcfs`` and 20,000 for ``rr`` at N = 4–6.

The estimate is a guide: a loaded machine is slower.
"""

from __future__ import annotations

import math

import numpy as np

from dnnsplit._limits import Budget, deferred_interrupts, duration
from dnnsplit._progress import progress_bar
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import batch_delays
from dnnsplit.model import DEADLINE_TOLERANCE_S, DelayTables
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import Found, budget, objective_values, solver
from dnnsplit.solvers._moves import CELLS_PER_CHUNK

__all__ = [
    "DEFAULT_SECONDS",
    "VECTORS_PER_SECOND",
    "default_cap",
    "estimated_rate",
    "exhaustive",
]

#: The default cap: the vectors the path evaluates in about this many seconds.
DEFAULT_SECONDS = 30.0
#: Measured vectors per second of each evaluation path (see the module docstring).
VECTORS_PER_SECOND = {
    "compiled": 1.0e8,
    "numpy": 1.7e6,
    "timeline": 1.5e5,
    "timeline-rr": 2.0e4,
}
#: Vectors per call of the compiled kernel: about 0.2 s at its rate, so that the time
#: limit and Ctrl-C are looked at five times a second.
BLOCK_VECTORS = 20_000_000


def _path(model: str, policy: str) -> str:
    """The evaluation path exhaustive search takes for ``model`` and ``policy``."""
    if model == "snapshot":
        return "compiled" if POLICY_TABLE[policy].compiled else "numpy"
    return "timeline-rr" if policy == "rr" else "timeline"


def estimated_rate(model: str, policy: str) -> float:
    """Measured vectors per second of the path that serves ``model`` and ``policy``."""
    return VECTORS_PER_SECOND[_path(model, policy)]


def default_cap(model: str, policy: str) -> int:
    """The default ``max_vectors``: about :data:`DEFAULT_SECONDS` of work at the rate."""
    return int(estimated_rate(model, policy) * DEFAULT_SECONDS)


def _duration(seconds: float) -> str:
    """``seconds`` in words, at least "1 s" (the refusal's estimate)."""
    return duration(max(seconds, 1.0))


def _stopped(clock: Budget, done: int, size: int) -> SolverRefusal:
    """The refusal of a search its time limit stopped (it certifies nothing)."""
    return SolverRefusal(
        "time_limit",
        f"exhaustive: stopped by the time limit of {clock.seconds:g} s after {done:.3g} of "
        f"{size:.3g} partition vectors; no optimum is certified; raise the limit, or use "
        "optimal or local-search",
    )


def _rate_text(rate: float) -> str:
    return f"~{rate / 1e6:.3g} M vectors/s" if rate >= 1e6 else f"~{rate:,.0f} vectors/s"


def _shifted(table: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Columns ``low_i..S`` of each row moved to the front: column k is point ``low_i + k``
    (the tail is padding that the enumeration never reads)."""
    width = table.shape[1]
    columns = np.minimum(low[:, None] + np.arange(width)[None, :], width - 1)
    return np.take_along_axis(table, columns, axis=1)


def _compiled(
    tables: DelayTables, objective: str, radices: np.ndarray, progress: bool, clock: Budget
) -> np.ndarray | None:
    """Best offset vector (point − lowest point) by the compiled kernel, or None.

    The kernel runs in blocks of about :data:`BLOCK_VECTORS` vectors; between two blocks
    the time limit and Ctrl-C are looked at (a Ctrl-C never reaches the compiled code:
    :func:`~dnnsplit._limits.deferred_interrupts`)."""
    from numba import get_num_threads

    from dnnsplit._kernels import exhaustive_snapshot

    low = tables.min_stage
    shift = float(np.median(tables.offload_delay))
    offload = _shifted(tables.offload_delay - shift, low)
    work = _shifted(np.asarray(tables.remote_work), low)
    deadline = tables.deadline - shift + DEADLINE_TOLERANCE_S
    limits = radices - 1
    outer_total = math.prod(int(r) for r in radices[:-1])
    inner = int(radices[-1])
    block = max(1, BLOCK_VECTORS // inner)
    best = (math.inf, -1, -1)
    bar = progress_bar(
        total=outer_total * inner, desc="exhaustive", enabled=progress, unit="vec", unit_scale=True
    )
    try:
        with deferred_interrupts():
            for lo in range(0, outer_total, block):
                if clock.expired():
                    raise _stopped(clock, lo * inner, outer_total * inner)
                hi = min(outer_total, lo + block)
                parts = max(1, min(hi - lo, 8 * get_num_threads()))
                found = exhaustive_snapshot(
                    offload,
                    work,
                    limits,
                    deadline,
                    policy=tables.policy,
                    objective=objective,
                    start=lo,
                    stop=hi,
                    tolerance=0.0,
                    parts=parts,
                )
                if found[1] >= 0 and found[0] < best[0]:
                    best = found
                bar.update((hi - lo) * inner)
    finally:
        bar.close()
    if best[1] < 0:
        return None
    outer_digits = np.unravel_index(best[1], tuple(int(r) for r in radices[:-1]))
    return np.array([*(int(d) for d in outer_digits), best[2]], dtype=np.int64)


def _chunked(
    tables: DelayTables,
    objective: str,
    model: str,
    radices: np.ndarray,
    progress: bool,
    clock: Budget,
) -> np.ndarray | None:
    """Best offset vector by NumPy (any policy, either model), in chunks, or None."""
    size = math.prod(int(r) for r in radices)
    per_row = tables.n_devices * (tables.n_devices if tables.policy == "rr" else 1)
    chunk = max(1, CELLS_PER_CHUNK // per_row)
    best_value, best_vector = math.inf, None
    bar = progress_bar(total=size, desc="exhaustive", enabled=progress, unit="vec", unit_scale=True)
    for lo in range(0, size, chunk):
        if clock.expired():
            bar.close()
            raise _stopped(clock, lo, size)
        flat = np.arange(lo, min(size, lo + chunk), dtype=np.int64)
        offsets = np.stack(np.unravel_index(flat, tuple(int(r) for r in radices)), axis=1)
        delays = batch_delays(tables, offsets + tables.min_stage[None, :], model)
        values = np.where(
            tables.deadline_excess(delays) == 0, objective_values(delays, objective), np.inf
        )
        k = int(np.argmin(values))
        if values[k] < best_value:
            best_value, best_vector = float(values[k]), offsets[k].copy()
        bar.update(flat.size)
    bar.close()
    return best_vector


@solver("exhaustive")
def exhaustive(
    scenario: Scenario,
    *,
    objective: str = "total",
    model: str = "snapshot",
    max_vectors: int | None = None,
    progress: bool = False,
    time_limit: float | None = None,
) -> Found:
    """Every partition vector in ``Π_i {min_i..s̃_i}``: the certified optimum.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    objective : {"total", "variance", "max"}
        Total delay, eq. (4), variance of delays, eq. (8), or the largest delay.
    model : {"snapshot", "timeline"}
        The BS model.
    max_vectors : int, optional
        Refuse a larger space (a whole number ≥ 1). Default: what the evaluation path
        finishes in about :data:`DEFAULT_SECONDS` at its measured rate
        (:data:`VECTORS_PER_SECOND`): 3·10⁹ compiled (snapshot sjf/ps), 5.1·10⁷ NumPy
        (snapshot rr), 4.5·10⁶ timeline (6·10⁵ for rr).
    progress : bool
        Show a progress bar (needs tqdm).
    time_limit : float, optional
        Seconds (positive) the search may take; default none (``max_vectors`` bounds it).
        A space whose estimated time exceeds it is refused up front; a search that runs
        past it stops and is refused (it certifies nothing).

    Returns
    -------
    Solution
        ``optimal`` is true; ``iterations`` is the number of vectors enumerated.

    Raises
    ------
    SolverRefusal
        The space is larger than ``max_vectors`` (the message names its size and the
        estimated time), or its estimated time exceeds ``time_limit``, or the search ran
        past ``time_limit``; or no vector meets every deadline.
    InputError
        ``max_vectors`` is not a whole number ≥ 1, or ``time_limit`` not positive.

    Notes
    -----
    **Guarantee**: the global optimum of the objective among vectors meeting every deadline
    (constraints (5), (7)).

    **Ties**: the first optimal vector in lexicographic order of ``(p_0, …, p_{N−1})``.

    **Complexity**: ``Π_i (s̃_i − min_i + 1)`` vectors. Snapshot ``sjf``/``ps`` run in a
    compiled, multi-threaded kernel at a few O(log N) operations per vector
    (:mod:`dnnsplit._kernels`); other policies and the timeline model are evaluated in
    NumPy chunks.

    References
    ----------
    Kafetzis and Koutsopoulos: the exhaustive search of Fig. 5; objectives eq. (4), (8).
    """
    clock = budget(time_limit, default=None)
    tables = scenario.tables
    radices = (tables.max_stage - tables.min_stage + 1).astype(np.int64)
    size = scenario.space_size
    route = _path(model, tables.policy)
    compiled = route == "compiled"
    path = route.split("-")[0]
    rate = VECTORS_PER_SECOND[route]
    if max_vectors is None:
        cap = default_cap(model, tables.policy)
        limit = (
            f"the default cap is {cap:.3g} (about {DEFAULT_SECONDS:.0f} s); pass max_vectors "
            "to raise it"
        )
    else:
        cap = max_vectors
        limit = f"more than max_vectors = {cap:.3g}; pass a larger max_vectors to run it"
    if size > cap:
        raise SolverRefusal(
            "solver",
            f"exhaustive: {size:.3g} partition vectors (Π(s̃_i − min_i + 1) over "
            f"{scenario.n_devices} devices), about {_duration(size / rate)} at "
            f"{_rate_text(rate)} ({path} path); {limit}; or use "
            f"{'optimal, ' if model == 'snapshot' else ''}local-search or greedy",
        )
    clock.refuse_beyond(
        size / rate, f"exhaustive: {size:.3g} partition vectors at {_rate_text(rate)} ({path} path)"
    )
    if compiled:
        offsets = _compiled(tables, objective, radices, progress, clock)
    else:
        offsets = _chunked(tables, objective, model, radices, progress, clock)
    if offsets is None:
        raise SolverRefusal(
            "deadline_s",
            f"exhaustive: none of the {size} partition vectors meets every deadline",
        )
    return Found(
        offsets + tables.min_stage,
        iterations=size,
        optimal=True,
        note=f"every vector of the space enumerated ({path}); ties to the first in order",
    )
