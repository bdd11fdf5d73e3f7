"""Choosing the partition points: the paper's greedy, local search, exact solvers, baselines.

All solvers share one entry point, :func:`solve`, and return a :class:`Solution` that
records the solver, its wall time, its iterations and whether the answer is certified
optimal.

- ``greedy`` (eq. 6): from a start vector, repeatedly take the single one-stage move (one
  device, one step right or left) that improves the objective most; stop when none does.
- ``local-search``: the same loop, but a device may jump to any of its partition points,
  restarted from K seeded random starts (MODEL.md, "Beyond the paper's greedy").
- ``exhaustive``: every vector in ``Π_i {0..s̃_i}``; compiled and multi-threaded for the
  ``sjf`` and ``ps`` snapshot models, chunked NumPy otherwise; refuses a space too large.
- ``exact``: total delay under ``sjf``/``ps`` (snapshot) as a linear assignment, O(N³).
- Baselines: ``all-local`` (p = S for every device: the paper's baseline, kept as the
  paper has it even where S exceeds a device's memory limit s̃_i, so it can be infeasible;
  its evaluation says ``within_limits=False`` then), ``max-local`` (p = s̃_i, the most local
  feasible choice), ``all-offload`` (p = 0) and ``independent`` (each device picks the
  point best for itself as if alone at the BS: the coupling-blind rule of single-device
  partitioners such as Neurosurgeon).

Comparisons of objective values use a relative tolerance :data:`RELATIVE_TOLERANCE`: two
values closer than that are ties, and a move must improve by more than that to count.
This keeps the tie rules of eq. (6) (lowest device index, then the right move) the same
whether a candidate is scored incrementally or by a full evaluation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dnnsplit._progress import progress_bar
from dnnsplit.errors import SolverRefusal, check_choice, unknown_choice
from dnnsplit.evaluate import Evaluation, as_partition, batch_delays, check_model, evaluate
from dnnsplit.model import DEADLINE_TOLERANCE_S, DelayTables
from dnnsplit.scenario import Scenario

__all__ = [
    "BASELINES",
    "OBJECTIVES",
    "RELATIVE_TOLERANCE",
    "SOLVERS",
    "STARTS",
    "Solution",
    "solve",
    "start_vector",
]

OBJECTIVES = ("total", "variance")
STARTS = ("half", "ones", "local")
BASELINES = ("all-local", "max-local", "all-offload", "independent")
SOLVERS = ("greedy", "local-search", "exhaustive", "exact", *BASELINES)
RELATIVE_TOLERANCE = 1e-12
#: Exhaustive search refuses spaces larger than these (vectors), per evaluation path.
MAX_VECTORS_COMPILED = 2 * 10**10
MAX_VECTORS_NUMPY = 2 * 10**7
MAX_VECTORS_TIMELINE = 2 * 10**5
_CELLS_PER_CHUNK = 2_000_000  # bound on an (M, N[, N]) intermediate


@dataclass(frozen=True, eq=False)
class Solution:
    """The outcome of a solver.

    Attributes
    ----------
    partition : numpy.ndarray
        The chosen ``p``.
    objective : str
        ``total`` or ``variance``.
    value : float
        The objective at ``partition`` (from a full evaluation).
    evaluation : Evaluation
        Delays and metrics at ``partition``.
    solver : str
        Solver name.
    optimal : bool
        True only when the solver certifies a global optimum (exhaustive, exact).
    seconds : float
        Wall time of the solver.
    iterations : int
        Moves taken (greedy, local-search), vectors enumerated (exhaustive), 1 otherwise.
    start : str or None
        Start rule of greedy / local-search.
    note : str
        What the solver certifies or assumed.
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

    @property
    def feasible(self) -> bool:
        return self.evaluation.feasible

    def to_dict(self) -> dict[str, Any]:
        """The command line's ``solve`` output (INTERFACE.md) plus the extra metrics."""
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
        }


def start_vector(scenario: Scenario, start: str) -> np.ndarray:
    """Greedy's start ``p⁽⁰⁾``: ``half`` = ⌊s̃_i/2⌋, ``ones`` = 1, ``local`` = s̃_i (MODEL.md).

    ``ones`` is capped at s̃_i for a device whose limit is 0.
    """
    limits = scenario.max_stage
    if start == "half":
        return limits // 2
    if start == "ones":
        return np.minimum(1, limits)
    if start == "local":
        return limits.copy()
    raise unknown_choice("start", "start", start, STARTS)


def _objective_values(delays: np.ndarray, objective: str) -> np.ndarray:
    return delays.sum(axis=-1) if objective == "total" else delays.var(axis=-1)


def _tolerance(reference: float) -> float:
    return RELATIVE_TOLERANCE * max(abs(reference), 1e-300)


# --- the improvement loop of greedy and local-search ----------------------------------


class _Moves:
    """Candidate moves from the current vector: device ``dev[k]`` to point ``target[k]``.

    Each device has ``width`` candidate slots in preference order (greedy: right, left;
    any-step: S, S−1, …, 0); impossible ones are masked. The flat order is device-major,
    so the first of tied candidates is the lowest device, then the preferred slot.
    """

    def __init__(self, tables: DelayTables, p: np.ndarray, any_step: bool) -> None:
        self.tables = tables
        self.p = p.copy()
        self.any_step = any_step
        n = tables.n_devices
        self.width = tables.n_stages + 1 if any_step else 2
        self.dev = np.repeat(np.arange(n), self.width)
        self.target = np.zeros(n * self.width, dtype=np.int64)
        self.valid = np.zeros(n * self.width, dtype=bool)
        for i in range(n):
            self._refresh_targets(i)

    def _refresh_targets(self, i: int) -> None:
        lo, hi = i * self.width, (i + 1) * self.width
        if self.any_step:
            targets = np.arange(self.tables.n_stages, -1, -1)
        else:
            targets = np.array([self.p[i] + 1, self.p[i] - 1])
        self.target[lo:hi] = np.clip(targets, 0, self.tables.n_stages)
        self.valid[lo:hi] = (
            (targets >= 0) & (targets <= self.tables.max_stage[i]) & (targets != self.p[i])
        )

    def apply(self, k: int) -> None:
        i = int(self.dev[k])
        self.p[i] = self.target[k]
        self._refresh_targets(i)


class _FullMoves(_Moves):
    """Scores candidates by full evaluation of each candidate vector, in chunks."""

    def __init__(
        self, tables: DelayTables, p: np.ndarray, any_step: bool, objective: str, model: str
    ) -> None:
        super().__init__(tables, p, any_step)
        self.objective = objective
        self.model = model

    def current(self) -> tuple[float, float]:
        delays = batch_delays(self.tables, self.p[None, :], self.model)
        return float(_objective_values(delays, self.objective)[0]), float(
            self.tables.deadline_excess(delays)[0]
        )

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.tables.n_devices
        values = np.full(self.dev.shape[0], np.inf)
        excess = np.full(self.dev.shape[0], np.inf)
        candidates = np.flatnonzero(self.valid)
        per_row = n * (n if self.tables.policy == "rr" else 1)
        chunk = max(1, _CELLS_PER_CHUNK // per_row)
        for lo in range(0, candidates.size, chunk):
            ks = candidates[lo : lo + chunk]
            vectors = np.repeat(self.p[None, :], ks.size, axis=0)
            vectors[np.arange(ks.size), self.dev[ks]] = self.target[ks]
            delays = batch_delays(self.tables, vectors, self.model)
            values[ks] = _objective_values(delays, self.objective)
            excess[ks] = self.tables.deadline_excess(delays)
        return values, excess


class _IncrementalTotalMoves(_Moves):
    """Scores candidates for total delay under snapshot ``sjf``/``ps`` without deadlines in
    O(1) amortised each, by the pairwise form of the BS delay.

    Under sjf every pair of queued tasks delays the later one by the earlier one's work,
    so ``Σ_i D^R_i = Σ_i T_i + f·Σ_{i<j} min(T_i, T_j)`` with f = 1 (sjf) or 2 (ps, where
    each of the pair delays the other by ``min``). Moving device i from ``T_i`` to ``x``
    changes the total by ``Δa_i + (x − T_i) + f·(G(x) − min(T_i, x) − G(T_i) + T_i)``, with
    ``G(y) = Σ_j min(T_j, y)``. ``G`` at every candidate's ``x`` and at every device's own
    ``T`` is kept up to date in O(N) vector work per applied move, so an iteration costs
    O(N) instead of O(N² log N) (no re-sorting, no full re-evaluation).
    """

    def __init__(self, tables: DelayTables, p: np.ndarray, any_step: bool) -> None:
        super().__init__(tables, p, any_step)
        self.factor = 2.0 if tables.policy == "ps" else 1.0
        rows = np.arange(tables.n_devices)
        self.offload = tables.offload_delay
        self.work = tables.remote_work[rows, self.p].copy()
        self.total = float(batch_delays(tables, self.p[None, :])[0].sum())
        self.x = tables.remote_work[self.dev, self.target]
        sorted_work = np.sort(self.work)
        prefix = np.concatenate([[0.0], np.cumsum(sorted_work)])
        self.g_candidate = self._g(sorted_work, prefix, self.x)
        self.g_own = self._g(sorted_work, prefix, self.work)

    @staticmethod
    def _g(sorted_work: np.ndarray, prefix: np.ndarray, y: np.ndarray) -> np.ndarray:
        below = np.searchsorted(sorted_work, y, side="left")
        return prefix[below] + y * (sorted_work.size - below)

    def current(self) -> tuple[float, float]:
        return self.total, 0.0

    def _totals(self, ks: np.ndarray | slice) -> np.ndarray:
        """Total delay after each candidate move ``ks`` (the formula of the class docstring)."""
        rows, x = self.dev[ks], self.x[ks]
        own = self.work[rows]
        delta_offload = self.offload[rows, self.target[ks]] - self.offload[rows, self.p[rows]]
        delta_remote = (x - own) + self.factor * (
            self.g_candidate[ks] - np.minimum(own, x) - self.g_own[rows] + own
        )
        return self.total + delta_offload + delta_remote

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        values = np.where(self.valid, self._totals(slice(None)), np.inf)
        return values, np.where(self.valid, 0.0, np.inf)

    def apply(self, k: int) -> None:
        i = int(self.dev[k])
        old, new = self.work[i], self.x[k]
        self.total = float(self._totals(np.array([k]))[0])
        self.g_candidate += np.minimum(new, self.x) - np.minimum(old, self.x)
        self.g_own += np.minimum(new, self.work) - np.minimum(old, self.work)
        self.work[i] = new
        super().apply(k)
        lo, hi = i * self.width, (i + 1) * self.width
        self.x[lo:hi] = self.tables.remote_work[i, self.target[lo:hi]]
        self.g_candidate[lo:hi] = np.minimum(self.work[:, None], self.x[None, lo:hi]).sum(axis=0)
        self.g_own[i] = np.minimum(self.work, new).sum()


def _make_moves(
    tables: DelayTables, p: np.ndarray, any_step: bool, objective: str, model: str
) -> _Moves:
    incremental = (
        objective == "total"
        and model == "snapshot"
        and tables.policy in ("sjf", "ps")
        and not tables.has_deadlines
    )
    if incremental:
        return _IncrementalTotalMoves(tables, p, any_step)
    return _FullMoves(tables, p, any_step, objective, model)


def _improve(moves: Any, max_iterations: int | None = None) -> int:
    """Best-improvement loop of eq. (6) on ``moves``; returns the number of moves taken.

    While the current vector breaks a deadline, the score is the reduction of the total
    deadline excess; once it is feasible, the score is the reduction of the objective among
    candidates that stay feasible. A move counts only if it improves by more than the
    tolerance; among the best (within tolerance) the first in ``moves`` order wins.
    """
    iterations = 0
    while max_iterations is None or iterations < max_iterations:
        value, excess = moves.current()
        cand_values, cand_excess = moves.scores()
        if excess > 0:
            score = excess - cand_excess
            reference = excess
        else:
            score = np.where(cand_excess == 0, value - cand_values, -np.inf)
            reference = value
        score = np.where(np.isnan(score), -np.inf, score)
        best = float(score.max()) if score.size else -np.inf
        tolerance = _tolerance(reference)
        if not best > tolerance:
            break
        k = int(np.flatnonzero(score >= best - tolerance)[0])
        moves.apply(k)
        iterations += 1
    return iterations


# --- exhaustive -----------------------------------------------------------------------


def _exhaustive(
    scenario: Scenario, objective: str, model: str, max_vectors: int | None, progress: bool
) -> tuple[np.ndarray | None, int, str]:
    tables = scenario.tables
    limits = tables.max_stage
    size = scenario.space_size
    compiled = model == "snapshot" and tables.policy in ("sjf", "ps")
    if max_vectors is None:
        if compiled:
            max_vectors = MAX_VECTORS_COMPILED
        elif model == "snapshot":
            max_vectors = MAX_VECTORS_NUMPY
        else:
            max_vectors = MAX_VECTORS_TIMELINE
    if size > max_vectors:
        path = "compiled" if compiled else ("NumPy" if model == "snapshot" else "timeline")
        raise SolverRefusal(
            "solver",
            f"exhaustive: the space has {size:.3g} partition vectors "
            f"(Π(s̃_i+1) over {scenario.n_devices} devices), more than the {max_vectors:.3g} "
            f"this {path} search takes; use greedy, local-search or exact, or raise max_vectors",
        )
    n = scenario.n_devices
    if compiled:
        from numba import get_num_threads

        from dnnsplit._kernels import exhaustive_snapshot

        shift = float(np.median(tables.offload_delay))
        offload = tables.offload_delay - shift
        deadline = tables.deadline - shift + DEADLINE_TOLERANCE_S
        outer_total = math.prod(int(s) + 1 for s in limits[:-1])
        inner = int(limits[-1]) + 1
        block = max(1, 200_000_000 // inner)  # about a second or two per block
        best = (math.inf, -1, -1)
        bar = progress_bar(
            total=outer_total * inner,
            desc="exhaustive",
            enabled=progress,
            unit="vec",
            unit_scale=True,
        )
        for lo in range(0, outer_total, block):
            hi = min(outer_total, lo + block)
            parts = max(1, min(hi - lo, 8 * get_num_threads()))
            found = exhaustive_snapshot(
                offload,
                tables.remote_work,
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
        bar.close()
        if best[1] < 0:
            return None, size, "compiled"
        outer_digits = np.unravel_index(best[1], tuple(int(s) + 1 for s in limits[:-1]))
        vector = np.array([*(int(d) for d in outer_digits), best[2]], dtype=np.int64)
        return vector, size, "compiled"

    radices = limits + 1
    per_row = n * (n if tables.policy == "rr" else 1)
    chunk = max(1, _CELLS_PER_CHUNK // per_row)
    best_value, best_vector = math.inf, None
    bar = progress_bar(total=size, desc="exhaustive", enabled=progress, unit="vec", unit_scale=True)
    for lo in range(0, size, chunk):
        flat = np.arange(lo, min(size, lo + chunk), dtype=np.int64)
        vectors = np.stack(np.unravel_index(flat, tuple(int(r) for r in radices)), axis=1)
        delays = batch_delays(tables, vectors, model)
        values = np.where(
            tables.deadline_excess(delays) == 0, _objective_values(delays, objective), np.inf
        )
        k = int(np.argmin(values))
        if values[k] < best_value:
            best_value, best_vector = float(values[k]), vectors[k].copy()
        bar.update(flat.size)
    bar.close()
    return best_vector, size, "numpy" if model == "snapshot" else "timeline"


# --- exact: linear assignment ---------------------------------------------------------


def _assignment(tables: DelayTables) -> tuple[np.ndarray, float]:
    """Minimum total delay for sjf/ps (snapshot, no deadlines) as a linear assignment.

    For a fixed ``p`` the total BS delay is ``Σ_k w_k T_(k)`` over tasks ranked by size
    (k = 1 the shortest), which the shortest-first ranking minimises over all rankings
    (rearrangement inequality). So ``min_p D_tot = min_σ Σ_i c_{i σ(i)}`` with
    ``c_{ik} = min_p [D^L_i(p) + D^tr_i(p) + w_k T^R_i(p)]``, ``w_k = N − k + 1`` (sjf) or
    ``2(N − k) + 1`` (ps) (MODEL.md, "Exact solvers"). Solved by
    :func:`scipy.optimize.linear_sum_assignment` in O(N³); building ``c`` is O(N² S),
    done in blocks of ranks to bound memory.
    """
    from scipy.optimize import linear_sum_assignment

    n, width = tables.n_devices, tables.n_stages + 1
    k = np.arange(1, n + 1)
    weights = (n - k + 1.0) if tables.policy == "sjf" else (2.0 * (n - k) + 1.0)
    allowed = np.arange(width)[None, :] <= tables.max_stage[:, None]
    offload = np.where(allowed, tables.offload_delay, np.inf)
    work = tables.remote_work
    cost = np.empty((n, n))
    choice = np.empty((n, n), dtype=np.int64)
    block = max(1, _CELLS_PER_CHUNK // (n * width))
    for lo in range(0, n, block):
        w = weights[lo : lo + block]
        candidates = offload[:, None, :] + w[None, :, None] * work[:, None, :]
        choice[:, lo : lo + block] = np.argmin(candidates, axis=2)
        cost[:, lo : lo + block] = np.min(candidates, axis=2)
    rows, ranks = linear_sum_assignment(cost)
    partition = np.empty(n, dtype=np.int64)
    partition[rows] = choice[rows, ranks]
    return partition, float(cost[rows, ranks].sum())


# --- the entry point ------------------------------------------------------------------


def solve(
    scenario: Scenario,
    *,
    objective: str = "total",
    solver: str = "greedy",
    start: str = "half",
    model: str = "snapshot",
    restarts: int = 8,
    seed: int | np.random.Generator = 0,
    max_vectors: int | None = None,
    max_iterations: int | None = None,
    progress: bool = False,
) -> Solution:
    """Choose a partition vector for ``scenario`` with ``solver``.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    objective : {"total", "variance"}
        Total delay, eq. (4), or variance of delays, eq. (8).
    solver : str
        One of ``greedy`` (the paper's eq. 6), ``local-search``, ``exhaustive``, ``exact``,
        ``all-local``, ``max-local``, ``all-offload``, ``independent``.
    start : {"half", "ones", "local"}
        Start vector of ``greedy`` (and the first start of ``local-search``).
    model : {"snapshot", "timeline"}
        The paper's snapshot BS model or the discrete-event timeline.
    restarts : int
        ``local-search``: K random starts besides ``start`` (default 8).
    seed : int or numpy.random.Generator
        ``local-search``'s random starts; pass an int for reproducible output.
    max_vectors : int, optional
        ``exhaustive`` refuses a larger space (defaults depend on the evaluation path).
    max_iterations : int, optional
        Cap on the moves of ``greedy`` / ``local-search`` (default: until no move improves).
    progress : bool
        Show a progress bar on long exhaustive searches (needs tqdm).

    Returns
    -------
    Solution

    Raises
    ------
    InputError
        An unknown objective, solver, start or model.
    SolverRefusal
        ``exhaustive`` on a space too large, ``exact`` where it cannot certify optimality.
    """
    check_choice(objective, OBJECTIVES, "objective", "objective")
    check_choice(solver, SOLVERS, "solver", "solver")
    check_choice(start, STARTS, "start", "start")
    check_model(model, scenario.policy)
    tables = scenario.tables
    began = time.perf_counter()
    optimal = False
    iterations = 1
    note = ""
    used_start: str | None = None
    enforce_limits = True

    if solver == "greedy":
        moves = _make_moves(tables, start_vector(scenario, start), False, objective, model)
        iterations = _improve(moves, max_iterations)
        partition = moves.p
        used_start = start
        note = "the paper's greedy (eq. 6): one-stage moves, best improvement, from " + start
    elif solver == "local-search":
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        starts = [start_vector(scenario, start)]
        starts += [rng.integers(0, tables.max_stage + 1) for _ in range(int(restarts))]
        best_key: tuple[float, float] | None = None
        partition = starts[0]
        iterations = 0
        for vector in starts:
            moves = _make_moves(tables, vector, True, objective, model)
            iterations += _improve(moves, max_iterations)
            value, excess = moves.current()
            if best_key is None or (excess, value) < best_key:
                best_key, partition = (excess, value), moves.p.copy()
        used_start = start
        note = f"any-step moves from {start} and {int(restarts)} seeded random starts; best kept"
    elif solver == "exhaustive":
        vector, iterations, path = _exhaustive(scenario, objective, model, max_vectors, progress)
        if vector is None:
            raise SolverRefusal(
                "deadline_s",
                f"exhaustive: none of the {iterations} partition vectors meets every deadline",
            )
        partition, optimal = vector, True
        note = f"every vector of the space enumerated ({path}); ties to the first in order"
    elif solver == "exact":
        partition, optimal, note = _exact(scenario, objective, model)
    elif solver == "all-local":
        partition = np.full(scenario.n_devices, scenario.n_stages, dtype=np.int64)
        enforce_limits = False
        note = "p = S for every device (the paper's baseline), even beyond s̃_i"
    elif solver == "max-local":
        partition = tables.max_stage.copy()
        note = "p = s̃_i: as much locally as memory allows"
    elif solver == "all-offload":
        partition = np.zeros(scenario.n_devices, dtype=np.int64)
        note = "p = 0: the raw input is sent"
    else:  # independent
        alone = tables.offload_delay + tables.remote_work
        allowed = np.arange(scenario.n_stages + 1)[None, :] <= tables.max_stage[:, None]
        partition = np.argmin(np.where(allowed, alone, np.inf), axis=1).astype(np.int64)
        note = "each device minimises its own delay as if alone at the BS (coupling-blind)"
    seconds = time.perf_counter() - began
    evaluation = evaluate(
        scenario,
        as_partition(partition, scenario.n_devices),
        model=model,
        enforce_limits=enforce_limits,
    )
    return Solution(
        partition=evaluation.partition,
        objective=objective,
        value=evaluation.objective(objective),
        evaluation=evaluation,
        solver=solver,
        optimal=optimal,
        seconds=seconds,
        iterations=int(iterations),
        start=used_start,
        note=note,
    )


def _exact(scenario: Scenario, objective: str, model: str) -> tuple[np.ndarray, bool, str]:
    tables = scenario.tables
    if objective != "total" or model != "snapshot" or tables.policy not in ("sjf", "ps"):
        raise SolverRefusal(
            "solver",
            f"exact certifies only total delay under sjf or ps in the snapshot model, not "
            f"{objective} under {tables.policy} ({model}); use exhaustive for small N, or "
            "local-search",
        )
    partition, _ = _assignment(tables)
    if not tables.has_deadlines:
        return partition, True, "linear assignment (MODEL.md), certified optimal"
    delays = batch_delays(tables, partition[None, :])
    if tables.deadline_excess(delays)[0] == 0:
        return partition, True, "deadline-free optimum meets every deadline: certified optimal"
    late = np.flatnonzero(delays[0] > tables.deadline + DEADLINE_TOLERANCE_S)
    raise SolverRefusal(
        "solver",
        f"exact: the deadline-free optimum (a lower bound, {delays[0].sum():.6g} s) misses the "
        f"deadlines of devices {late.tolist()}; exact cannot certify an optimum with binding "
        "deadlines; use exhaustive for small N",
    )
