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
from collections.abc import Sequence
from typing import Any

import numpy as np

from dnnsplit._checks import number
from dnnsplit._limits import Budget, deferred_interrupts, duration
from dnnsplit._params import Flag, Nullable, Whole, declare
from dnnsplit._progress import progress_bar
from dnnsplit.errors import InputError, SolverRefusal
from dnnsplit.evaluate import MODEL, SCENARIO, batch_outcomes, model_supports_policy
from dnnsplit.model import DEADLINE_TOLERANCE_S, ENERGY_TOLERANCE_J, DelayTables
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import OBJECTIVE, Found, budget, objective_values, solver
from dnnsplit.solvers._moves import CELLS_PER_CHUNK

__all__ = [
    "DEFAULT_SECONDS",
    "VECTORS_PER_SECOND",
    "default_cap",
    "estimated_rate",
    "exhaustive",
    "exhaustive_front",
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


def _stopped(clock: Budget, done: int, size: int) -> BaseException:
    """What a search its budget stopped raises (it certifies nothing): the Ctrl-C that
    stopped it, or the refusal of its time limit."""
    if clock.stopped == "interrupted":
        return KeyboardInterrupt()
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


#: One search's answer per cap: the best offset vector (point − lowest point), or None.
Offsets = list[np.ndarray | None]


def _uses_energy(tables: DelayTables, objective: str, caps: Any, secondary: bool) -> bool:
    """Whether a search needs the devices' energies (the energy objective, an energy
    budget, a cap, or ties told apart by energy)."""
    return objective == "energy" or tables.has_energy_budgets or caps is not None or secondary


def _compiled(
    tables: DelayTables,
    objective: str,
    radices: np.ndarray,
    progress: bool,
    clock: Budget,
    caps: np.ndarray | None = None,
    secondary: bool = False,
) -> Offsets:
    """Best offset vector per cap (one cap of +inf when ``caps`` is None) by the compiled
    kernel.

    The kernel runs in blocks of about :data:`BLOCK_VECTORS` vectors; between two blocks
    the time limit and Ctrl-C are looked at (a Ctrl-C never reaches the compiled code:
    :func:`~dnnsplit._limits.deferred_interrupts`)."""
    from numba import get_num_threads

    from dnnsplit._kernels import NONE, better, exhaustive_snapshot

    low = tables.min_stage
    shift = float(np.median(tables.offload_delay))
    offload = _shifted(tables.offload_delay - shift, low)
    work = _shifted(np.asarray(tables.remote_work), low)
    deadline = tables.deadline - shift + DEADLINE_TOLERANCE_S
    energy = None
    if _uses_energy(tables, objective, caps, secondary):
        energy = (
            _shifted(tables.energy_offload, low),
            np.asarray(tables.idle_power, dtype=float),
            tables.energy_budget + ENERGY_TOLERANCE_J,
        )
    limits = radices - 1
    outer_total = math.prod(int(r) for r in radices[:-1])
    inner = int(radices[-1])
    block = max(1, BLOCK_VECTORS // inner)
    bins = 1 if caps is None else len(caps)
    best = [NONE] * bins
    bar = progress_bar(
        total=outer_total * inner, desc="exhaustive", enabled=progress, unit="vec", unit_scale=True
    )
    try:
        with deferred_interrupts():
            for lo in range(0, outer_total, block):
                if clock.stop():
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
                    energy=energy,
                    caps=caps,
                    secondary=secondary,
                )
                for b in range(bins):  # blocks are in enumeration order: earlier ones win ties
                    if better(found[b], best[b], inner, secondary):
                        best[b] = found[b]
                bar.update((hi - lo) * inner)
    finally:
        bar.close()
    out: Offsets = []
    for _, _, outer, last in best:
        if outer < 0:
            out.append(None)
            continue
        outer_digits = np.unravel_index(outer, tuple(int(r) for r in radices[:-1]))
        out.append(np.array([*(int(d) for d in outer_digits), last], dtype=np.int64))
    return out


def _chunked(
    tables: DelayTables,
    objective: str,
    model: str,
    radices: np.ndarray,
    progress: bool,
    clock: Budget,
    caps: np.ndarray | None = None,
    secondary: bool = False,
) -> Offsets:
    """Best offset vector per cap by NumPy (any policy, either model), in chunks, with the
    kernel's rules: a vector's bin is the first cap at least its total energy; the best of
    a bin has the least value (then, with ``secondary``, the least other quantity), then
    comes first in order; a cap's answer is the best over its bin and those below."""
    size = math.prod(int(r) for r in radices)
    per_row = tables.n_devices * (tables.n_devices if tables.policy == "rr" else 1)
    chunk = max(1, CELLS_PER_CHUNK // per_row)
    bins = 1 if caps is None else len(caps)
    cap_values = np.array([np.inf] if caps is None else caps)
    best: list[tuple[float, float, int] | None] = [None] * bins
    bar = progress_bar(total=size, desc="exhaustive", enabled=progress, unit="vec", unit_scale=True)
    for lo in range(0, size, chunk):
        if clock.stop():
            bar.close()
            raise _stopped(clock, lo, size)
        flat = np.arange(lo, min(size, lo + chunk), dtype=np.int64)
        offsets = np.stack(np.unravel_index(flat, tuple(int(r) for r in radices)), axis=1)
        delays, energies = batch_outcomes(tables, offsets + tables.min_stage[None, :], model)
        values = objective_values(delays, objective, energies)
        spent = energies.sum(axis=-1)
        others = delays.sum(axis=-1) if objective == "energy" else spent
        if not secondary:
            others = np.zeros_like(values)
        feasible = tables.excess(delays, energies) == 0
        where = np.searchsorted(cap_values, spent, side="left")
        for b in np.unique(where[feasible & (where < bins)]):
            rows = np.flatnonzero(feasible & (where == b))
            k = rows[np.lexsort((flat[rows], others[rows], values[rows]))[0]]
            candidate = (float(values[k]), float(others[k]), int(flat[k]))
            if best[b] is None or candidate < best[b]:
                best[b] = candidate
        bar.update(flat.size)
    bar.close()
    out: Offsets = []
    running: tuple[float, float, int] | None = None
    for found in best:
        if found is not None and (running is None or found < running):
            running = found
        out.append(
            None
            if running is None
            else np.array(np.unravel_index(running[2], tuple(int(r) for r in radices)))
        )
    return out


def _search(
    scenario: Scenario,
    objective: str,
    model: str,
    max_vectors: int | None,
    progress: bool,
    clock: Budget,
    caps: np.ndarray | None = None,
    secondary: bool = False,
) -> tuple[Offsets, str]:
    """Every vector of the space, searched by the path ``model`` and the policy take (its
    name returned beside the answers), after the refusals of a space too large for
    ``max_vectors`` or for the time limit."""
    tables = scenario.tables
    radices = (tables.max_stage - tables.min_stage + 1).astype(np.int64)
    size = scenario.space_size
    route = _path(model, tables.policy)
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
            "solver" if max_vectors is None else "max_vectors",
            f"exhaustive: {size:.3g} partition vectors (Π(s̃_i − min_i + 1) over "
            f"{scenario.n_devices} devices), about {_duration(size / rate)} at "
            f"{_rate_text(rate)} ({path} path); {limit}; or use "
            f"{'optimal, ' if model == 'snapshot' else ''}local-search or greedy",
        )
    clock.refuse_beyond(
        size / rate, f"exhaustive: {size:.3g} partition vectors at {_rate_text(rate)} ({path} path)"
    )
    if route == "compiled":
        offsets = _compiled(tables, objective, radices, progress, clock, caps, secondary)
    else:
        offsets = _chunked(tables, objective, model, radices, progress, clock, caps, secondary)
    return offsets, path


@solver("exhaustive")
def exhaustive(
    scenario: Scenario,
    *,
    objective: str = "total",
    model: str = "snapshot",
    max_vectors: int | None = None,
    progress: bool = False,
    time_limit: float | None = None,
    energy_cap: float | None = None,
) -> Found:
    """Every partition vector in ``Π_i {min_i..s̃_i}``: the certified optimum.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    objective : {"total", "variance", "max", "energy"}
        Total delay, eq. (4), variance of delays, eq. (8), the largest delay, or the total
        device energy (docs/model.md, "Energy").
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
    energy_cap : float, optional
        The most total device energy ``Σ_i E_i`` a vector may take, J (the ε of the
        ε-constraint method); default none.

    Returns
    -------
    Solution
        ``optimal`` is true; ``iterations`` is the number of vectors enumerated.

    Raises
    ------
    SolverRefusal
        The space is larger than ``max_vectors`` (the message names its size and the
        estimated time), or its estimated time exceeds ``time_limit``, or the search ran
        past ``time_limit``; or no vector meets every deadline, energy budget and the cap.
    InputError
        ``max_vectors`` is not a whole number ≥ 1, ``time_limit`` not positive, or
        ``energy_cap`` below 0.

    Notes
    -----
    **Guarantee**: the global optimum of the objective among vectors meeting every deadline
    (constraints (5), (7)), every energy budget and the energy cap.

    **Ties**: the first optimal vector in lexicographic order of ``(p_0, …, p_{N−1})``.

    **Complexity**: ``Π_i (s̃_i − min_i + 1)`` vectors. Snapshot ``sjf``/``ps`` run in a
    compiled, multi-threaded kernel at a few O(log N) operations per vector
    (:mod:`dnnsplit._kernels`; O(N) with energy budgets); other policies and the timeline
    model are evaluated in NumPy chunks.

    References
    ----------
    Kafetzis and Koutsopoulos: the exhaustive search of Fig. 5; objectives eq. (4), (8).
    """
    clock = budget(time_limit, default=None)
    caps = None if energy_cap is None else np.array([energy_cap + ENERGY_TOLERANCE_J])
    (offsets,), path = _search(scenario, objective, model, max_vectors, progress, clock, caps)
    if offsets is None:
        uncapped = caps is not None and (
            _search(scenario, "total", model, max_vectors, False, clock, None)[0][0] is not None
        )  # a vector meets every deadline and budget: the cap is what none meets
        raise SolverRefusal(
            "energy_cap" if uncapped else "deadline_s",
            f"exhaustive: none of the {scenario.space_size} partition vectors meets every "
            "deadline and energy budget"
            + (f" within the energy cap {energy_cap:g} J" if uncapped else ""),
        )
    return Found(
        offsets + scenario.tables.min_stage,
        iterations=scenario.space_size,
        optimal=True,
        note=f"every vector of the space enumerated ({path}); ties to the first in order",
    )


def _caps(caps: Any) -> np.ndarray:
    """The ε values of a front, sorted, each a number ≥ 0 or +inf (named ``caps[k]``)."""
    if isinstance(caps, str | bytes | dict) or not hasattr(caps, "__len__"):
        raise InputError("caps", "must be a list of energies in joules")
    if not len(caps):
        raise InputError("caps", "an empty list of energies")
    values = []
    for k, value in enumerate(caps):
        if isinstance(value, float | np.floating) and value == np.inf:
            values.append(np.inf)
        else:
            values.append(number(value, f"caps[{k}]", minimum=0.0))
    return np.sort(np.array(values, dtype=float))


@declare(
    {
        "scenario": SCENARIO,
        "objective": OBJECTIVE,
        "model": MODEL,
        "max_vectors": Nullable(Whole(1)),
        "progress": Flag(),
    },
    then=model_supports_policy,
)
def exhaustive_front(
    scenario: Scenario,
    caps: Sequence[float],
    *,
    objective: str = "total",
    model: str = "snapshot",
    max_vectors: int | None = None,
    progress: bool = False,
) -> list[np.ndarray | None]:
    """The ε-constraint points of the delay–energy trade-off, by one exhaustive pass.

    For each ε of ``caps``: the vector minimising ``objective`` among those meeting every
    deadline and energy budget with total device energy ``Σ_i E_i ≤ ε`` (within
    :data:`~dnnsplit.model.ENERGY_TOLERANCE_J`), ties told apart by the other quantity
    (total energy for a delay objective, total delay for ``energy``), then by order. With
    ``objective="total"`` and ε over ``[E_min, E(D_min)]`` these are points of the Pareto
    front of total delay against total energy (docs/model.md, "Energy").

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    caps : sequence of float
        The ε values, J (at least 0; ``inf`` is no cap); returned in increasing order.
    objective : {"total", "variance", "max", "energy"}
        What each point minimises.
    model, max_vectors, progress
        As :func:`exhaustive`.

    Returns
    -------
    list
        Per ε in increasing order, the optimal partition vector, or None where no vector
        meets the constraints. Each is certified: the whole space is enumerated once for
        every ε together (one bin per ε, :mod:`dnnsplit._kernels`).

    Raises
    ------
    InputError
        A bad ε (named ``caps[k]``) or option.
    SolverRefusal
        A space too large for ``max_vectors`` (as :func:`exhaustive`).
    """
    values = _caps(caps) + ENERGY_TOLERANCE_J
    offsets, _ = _search(
        scenario, objective, model, max_vectors, progress, Budget(None), values, secondary=True
    )
    low = scenario.tables.min_stage
    return [None if o is None else o + low for o in offsets]
