"""A certifying solver for total delay, variance and the largest delay: branch and bound
over the BS service order (snapshot model, ``sjf``, ``ps`` and ``rr``).

:func:`optimal` returns a certified optimum, or, stopped by its time or node limit, its
best vector with a proven lower bound on the optimum and the relative gap. The search and
the proofs of its bounds are in its docstring; the compiled kernel is
:mod:`dnnsplit.solvers._branch_and_bound`.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from dnnsplit._checks import number
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import batch_delays
from dnnsplit.model import DEADLINE_TOLERANCE_S, DelayTables, whole_quanta
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import Found, solver
from dnnsplit.solvers.exact import assignment

__all__ = ["DEFAULT_TIME_LIMIT", "SLICE_NODES", "Outcome", "branch_and_bound", "optimal"]


def _kernel() -> ModuleType:
    """The compiled kernel, imported on first use (importing numba takes a moment)."""
    from dnnsplit.solvers import _branch_and_bound

    return _branch_and_bound


@dataclass
class _Search:
    """The tables and the resumable state of one branch and bound."""

    frames: np.ndarray
    values: np.ndarray
    options: np.ndarray
    bounds: np.ndarray
    control: np.ndarray
    point: np.ndarray
    task_work: np.ndarray
    offload: np.ndarray
    work: np.ndarray
    level_of: np.ndarray
    on_level: np.ndarray
    last_level: np.ndarray
    level_value: np.ndarray
    policy: int
    objective: int
    quantum: float
    best_from: np.ndarray
    offload_max_from: np.ndarray
    work_max_from: np.ndarray
    work_min_from: np.ndarray
    deadline: np.ndarray
    incumbent: np.ndarray
    upper: np.ndarray
    mean_floor: float = -math.inf

    def run(self, budget: int) -> bool:
        bnb = _kernel()
        return bool(
            bnb.run_search(
                self.frames,
                self.values,
                self.options,
                self.bounds,
                self.control,
                self.point,
                self.task_work,
                self.offload,
                self.work,
                self.level_of,
                self.on_level,
                self.last_level,
                self.level_value,
                self.level_value.size,
                self.policy,
                self.objective,
                self.quantum,
                self.best_from,
                self.offload_max_from,
                self.work_max_from,
                self.work_min_from,
                self.deadline,
                self.incumbent,
                self.upper,
                budget,
                self.mean_floor,
            )
        )

    def seed(self, node: _Node) -> None:
        """Load ``node`` as frame 0 of a fresh depth-first slice."""
        bnb = _kernel()
        self.point[:] = node.point
        assigned = self.point >= 0
        rows = np.flatnonzero(assigned)
        self.task_work[:] = 0.0
        self.task_work[rows] = self.work[rows, self.point[rows]]
        self.frames[0] = node.ints
        self.values[0] = node.floats
        k = node.options.size
        self.options[0, :k] = node.options
        self.bounds[0, :k] = node.option_bounds
        self.frames[0, bnb.F_OPTIONS] = k
        self.frames[0, bnb.F_NEXT] = 0
        self.frames[0, bnb.F_APPLIED] = -2
        self.control[0] = 0

    def open_nodes(self) -> list[_Node]:
        """The open options of an interrupted slice, one node per frame that has any."""
        bnb = _kernel()
        depth = int(self.control[0])
        cutoff = float(bnb._cutoff(self.upper[0]))
        compact = np.int8 if self.offload.shape[1] <= 127 else np.int16  # points, and -1
        nodes = []
        for f in range(depth, -1, -1):
            applied = int(self.frames[f, bnb.F_APPLIED])
            if applied >= 0:  # the frame's state excludes its own explored choice
                device = int(self.frames[f, bnb.F_DEVICE])
                self.point[device] = -1
                self.task_work[device] = 0.0
                self.frames[f, bnb.F_APPLIED] = -2
            start = int(self.frames[f, bnb.F_NEXT])
            stop = int(self.frames[f, bnb.F_OPTIONS])
            bounds = self.bounds[f, start:stop]
            keep = bounds < cutoff
            if keep.any():
                nodes.append(
                    _Node(
                        bound=float(bounds[keep].min()),
                        point=self.point.astype(compact),
                        ints=self.frames[f].copy(),
                        floats=self.values[f].copy(),
                        options=self.options[f, start:stop][keep].copy(),
                        option_bounds=bounds[keep].copy(),
                    )
                )
        self.control[0] = -1
        return nodes


@dataclass
class _Node:
    """An open node: the state of a decision frame and the options still to explore."""

    bound: float
    point: np.ndarray  # the partial vector (-1: unassigned), in a compact integer type
    ints: np.ndarray
    floats: np.ndarray
    options: np.ndarray
    option_bounds: np.ndarray


def _levels(tables: DelayTables) -> tuple[np.ndarray, np.ndarray]:
    """``(level_of, level_value)``: the BS service class of each (device, point)."""
    allowed = tables.allowed
    work = np.asarray(tables.remote_work, dtype=float)
    if tables.policy == "rr":
        key = whole_quanta(work, tables.bs_quantum).astype(float)
    else:
        key = work
    values = np.unique(key[allowed])
    level_of = np.where(allowed, np.searchsorted(values, key), -1).astype(np.int64)
    return level_of, values.astype(float)


def _suffix(table: np.ndarray, level_of: np.ndarray, n_levels: int, reduce: str) -> np.ndarray:
    """``out[i, l]`` = min (or max) of ``table[i, q]`` over points q on levels ≥ l."""
    n = table.shape[0]
    fill = math.inf if reduce == "min" else -math.inf
    out = np.full((n, n_levels + 1), fill)
    for level in range(n_levels - 1, -1, -1):
        here = np.where(level_of == level, table, fill)
        best = here.min(axis=1) if reduce == "min" else here.max(axis=1)
        out[:, level] = (
            np.minimum(out[:, level + 1], best)
            if reduce == "min"
            else np.maximum(out[:, level + 1], best)
        )
    return out


def _prepare(tables: DelayTables, objective: str, shift: float, upper: float) -> _Search:
    bnb = _kernel()
    n, width = tables.n_devices, tables.n_stages + 1
    level_of, level_value = _levels(tables)
    n_levels = level_value.size
    work = np.ascontiguousarray(tables.remote_work, dtype=float)
    offload = np.ascontiguousarray(tables.offload_delay - shift, dtype=float)
    on_level = np.zeros((n, n_levels), dtype=np.bool_)
    rows, cols = np.nonzero(level_of >= 0)
    on_level[rows, level_of[rows, cols]] = True
    last_level = level_of.max(axis=1).astype(np.int64)
    depth = n * n_levels + 2
    search = _Search(
        frames=np.zeros((depth, bnb.INT_FIELDS), dtype=np.int64),
        values=np.zeros((depth, bnb.FLOAT_FIELDS)),
        options=np.zeros((depth, width + 1), dtype=np.int64),
        bounds=np.full((depth, width + 1), np.inf),
        control=np.zeros(2, dtype=np.int64),
        point=np.full(n, -1, dtype=np.int64),
        task_work=np.zeros(n),
        offload=offload,
        work=work,
        level_of=level_of,
        on_level=on_level,
        last_level=last_level,
        level_value=level_value,
        policy=bnb.POLICY_CODES[tables.policy],
        objective=bnb.OBJECTIVE_CODES[objective],
        quantum=float(tables.bs_quantum),
        best_from=_suffix(offload + work, level_of, n_levels, "min"),
        offload_max_from=_suffix(offload, level_of, n_levels, "max"),
        work_max_from=_suffix(work, level_of, n_levels, "max"),
        work_min_from=_suffix(work, level_of, n_levels, "min"),
        deadline=np.asarray(tables.deadline + DEADLINE_TOLERANCE_S - shift, dtype=float),
        incumbent=np.full(n, -1, dtype=np.int64),
        upper=np.array([upper]),
    )
    return search


def _root(search: _Search) -> _Node | None:
    """The root node (its options scored), or None when no option can beat the incumbent."""
    bnb = _kernel()
    n = search.point.size
    search.point[:] = -1
    search.task_work[:] = 0.0
    level, device, taken, below, work_below, _ = bnb._advance(
        0,
        -1,
        0,
        0,
        0.0,
        0,
        search.point,
        search.on_level,
        search.level_value,
        search.policy,
        search.level_value.size,
    )
    ints = np.zeros(bnb.INT_FIELDS, dtype=np.int64)
    ints[[bnb.F_LEVEL, bnb.F_DEVICE, bnb.F_TAKEN, bnb.F_BELOW]] = level, device, taken, below
    floats = np.zeros(bnb.FLOAT_FIELDS)
    floats[bnb.G_WORK_BELOW] = work_below
    floats[bnb.G_MAX] = -math.inf
    floats[bnb.G_BOUND] = bnb.bound_of_state(
        level,
        device,
        taken,
        below,
        0,
        work_below,
        0.0,
        0.0,
        -math.inf,
        0.0,
        search.point,
        search.task_work,
        search.level_value,
        search.policy,
        search.objective,
        search.quantum,
        search.best_from,
        search.offload_max_from,
        search.work_max_from,
        search.work_min_from,
        search.deadline,
        np.empty((4, n)),
        search.mean_floor,
    )
    search.frames[0] = ints
    search.values[0] = floats
    bnb._expand(
        0,
        search.frames,
        search.values,
        search.options,
        search.bounds,
        search.point,
        search.task_work,
        search.offload,
        search.work,
        search.level_of,
        search.on_level,
        search.last_level,
        search.level_value,
        search.level_value.size,
        search.policy,
        search.objective,
        search.quantum,
        search.best_from,
        search.offload_max_from,
        search.work_max_from,
        search.work_min_from,
        search.deadline,
        np.empty((4, n)),
        search.incumbent,
        search.upper,
        search.mean_floor,
    )
    k = int(search.frames[0, bnb.F_OPTIONS])
    if k == 0:
        return None
    return _Node(
        bound=float(search.bounds[0, :k].min()),
        point=search.point.copy(),
        ints=search.frames[0].copy(),
        floats=search.values[0].copy(),
        options=search.options[0, :k].copy(),
        option_bounds=search.bounds[0, :k].copy(),
    )


def _unshift(value: float, objective: str, shift: float, n: int) -> float:
    if objective == "total":
        return value + n * shift
    if objective == "max":
        return value + shift
    return value


def _shifted(value: float, objective: str, shift: float, n: int) -> float:
    return value - (_unshift(0.0, objective, shift, n))


#: Most nodes per depth-first slice between two looks at the clock and the heap.
SLICE_NODES = 20_000
#: A node costs O(N²): a slice holds at most ``SLICE_WORK / N²`` nodes, so it stays short
#: (a fraction of a second) at any N and the time limit holds. The slice sizes depend on N
#: alone, never on the clock, so the same problem and node limit give the same search,
#: whatever the machine's load (the same bytes in every figure).
SLICE_WORK = 25_000_000
#: The variance bound's floor on the mean needs the least total delay, an O(N³)
#: assignment: computed up to this many devices.
FLOOR_DEVICES = 1_000
#: Seconds :func:`optimal` searches by default.
DEFAULT_TIME_LIMIT = 120.0


def _gap(value: float, lower: float) -> float:
    """Relative gap ``(value − lower) / value``, 0 when both are 0."""
    if value == 0:
        return 0.0 if lower >= 0 else 1.0
    return max(0.0, (value - lower) / abs(value))


@solver("optimal")
def optimal(
    scenario: Scenario,
    *,
    objective: str = "total",
    model: str = "snapshot",
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    max_nodes: int | None = None,
    restarts: int = 8,
    seed: int = 0,
) -> Found:
    """The certified optimum by branch and bound, or a proven bound when stopped.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS; policy ``sjf``, ``ps`` or ``rr``; deadlines allowed.
    objective : {"total", "variance", "max"}
        Total delay, eq. (4); variance of delays, eq. (8); or the largest delay (min-max).
    model : {"snapshot"}
        Only the paper's snapshot model (eq. 2).
    time_limit : float, optional
        Seconds (positive and finite) after which the search stops and reports its best
        vector with a lower bound; None means the default, :data:`DEFAULT_TIME_LIMIT`
        (120 s). There is no way to switch the limit off. The incumbent's local search
        counts.
    max_nodes : int, optional
        Stop after about this many search nodes (a whole number ≥ 1), checked between
        slices of at most :data:`SLICE_NODES` nodes.
    restarts, seed : int
        Random starts and seed of the any-step local search that gives the first
        incumbent (see :func:`~dnnsplit.solvers.local_search`).

    Returns
    -------
    Solution
        ``optimal`` is true only when the search finished. ``extra`` holds
        ``lower_bound`` (a proven lower bound on the optimum: the optimum itself when
        certified, else the least bound over the open nodes), ``gap`` (``(value −
        lower_bound) / value``), ``nodes`` (nodes expanded) and ``root_bound``.
        ``iterations`` is the number of nodes.

    Raises
    ------
    SolverRefusal
        The timeline model (field ``model``); or no vector meets every deadline (field
        ``deadline_s``; proven by the exhausted search).
    InputError
        A bad ``time_limit``, ``max_nodes``, ``restarts`` or ``seed``.

    Notes
    -----
    **Search.** Call a *level* a class of BS service: for ``sjf`` and ``ps`` one distinct
    residual work ``T^R`` among the allowed (device, point) pairs, for ``rr`` one number of
    turns ``k = ⌈T^R/q_R⌉``; levels are visited in increasing work (turns). Within a level
    the devices still unassigned are visited in increasing index, and each either takes
    one of its points on this level or, if it has points on later levels, is deferred.
    Every vector is exactly one leaf (each device takes its level when that level is
    visited), so the tree is complete and free of repeats. The first incumbent is the
    any-step local search's; leaves improve it.

    **Lemma 1 (a device's delay is final when it takes a point).** Let device i take
    point q with work ``T`` on level ℓ; let ``B`` be the work of the devices on lower
    levels, ``K`` their number, and ``k`` the devices that took level ℓ before i.

    - ``sjf`` serves by ``(T, index)`` (eq. 2): every lower level first, then level ℓ in
      index order. Unassigned devices have more work, or equal work and a larger index,
      so ``D^R_i = B + (k + 1)·T`` whatever they choose.
    - ``ps``: ``D^R_i = Σ_j min(T_j, T)``; devices on lower levels give ``T_j``, all
      others (unassigned included) have ``T_j ≥ T`` and give ``T``:
      ``D^R_i = B + T·(N − K)``.
    - ``rr`` (quantum q, cyclic in index order, eq. in :func:`dnnsplit.model.rr_completion`):
      ``D^R_i = T + Σ_{j<i} min(T_j, kq) + Σ_{j>i} min(T_j, (k−1)q)`` with k the
      turns of i. An unassigned device with a lower index was deferred from this level,
      so it needs more than k turns: ``min(T_j, kq) = kq``; one with a higher index
      needs at least k turns: ``min(T_j, (k−1)q) = (k−1)q``. Assigned devices' terms
      are known. So ``D^R_i`` is final, computed from the assigned devices and two counts.

    **Lemma 2 (what the unassigned devices can reach).** At a node on level ℓ with value
    ``v`` (work, or turns for rr), let ``Q_j`` be device j's points on levels ≥ ℓ (> ℓ if
    j was deferred in this pass), ``m`` the unassigned devices and ``W`` the assigned
    work. For every completion of the node, each unassigned j has

    ``L_j = β + min_{q∈Q_j} (a_j(q) + T_j(q)) ≤ D_j ≤ max_{q∈Q_j} a_j(q) + W +
    Σ_{l unassigned} max_{q∈Q_l} T_l(q) = U_j``,

    with ``a = D^L + D^tr`` and ``β`` what the others surely add to j's BS delay:
    ``sjf`` ``β = B + k·v`` (lower levels and this level's takers are served first);
    ``ps`` ``β = B + v·(N − K − 1)`` (every other device gives ``min(T_l, T_j) ≥ v``
    unless it is on a lower level, where it gives ``T_l``); ``rr``
    ``β = Σ_{assigned l} min(T_l, (v−1)q) + (m−1)(v−1)q`` (every device is served at
    least ``min(T_l, (k_j−1)q)`` before j ends, ``k_j ≥ v``, and an unassigned one has
    more than ``(v−1)q`` of work). The upper end holds because the BS is work-conserving
    and every task is present at time 0: no task ends after the total work. Under
    ``sjf`` moreover the r-th unassigned device in service order (r = 1, 2, …) waits
    for the r − 1 unassigned devices served before it, and each of those has at least
    its own least remaining work ``w_l = min_{q∈Q_l} T_l(q)`` (≥ v): so
    ``D ≥ L_j + ω_r`` with ``ω_r`` the sum of the r − 1 smallest ``w_l`` over all
    unassigned devices (dropping j from the set can only raise that sum). A device
    whose memory limit forbids the light points must queue behind even at the
    lightest levels; ``ω`` sees it.

    **Bounds** (each a lower bound on the objective of every completion of the node;
    a child's bound is at least its parent's, since its completions are the parent's):

    - *total*, eq. (4): ``Σ_assigned D_i + Σ_j L_j + Σ_r ω_r`` (sjf; ``ω = 0`` for ps
      and rr), by Lemma 2 summed over the ranks.
    - *max*: ``max(max_assigned D_i, max_r x_r)`` where ``x`` pairs the ``L_j`` sorted
      in decreasing order with the rank offsets ``ω_r`` (increasing): if two devices
      break that order, swapping their ranks does not raise the larger of their two
      bounds (exchange argument), so the anti-sorted pairing minimises the largest.
    - *variance*, eq. (8): ``V(p) = min_c (1/N) Σ_i (D_i − c)²``. For unassigned j at
      rank r, ``(D_j − c)² ≥ (L_j + ω_r − c)₊² + (c − U_j)₊²`` (at most one term is
      non-zero since ``L_j + ω_r ≤ D_j ≤ U_j``). The function
      ``(L, t) ↦ (L + t − c)₊²`` is supermodular (a convex function of ``L + t``), so by
      Lorentz's rearrangement inequality the sum over ranks is least for the
      anti-sorted pairing ``x`` above. Hence ``V ≥ min_c g(c)/N`` with
      ``g(c) = Σ_assigned (D_i − c)² + Σ_r (x_r − c)₊² + Σ_j (c − U_j)₊²``, a convex
      piecewise quadratic minimised exactly by one sweep over its breakpoints.
      Moreover the minimising c of ``V(p)`` is the mean delay of p, at least ``T*/N``
      where ``T*`` is the least total delay of any vector (the linear assignment of
      :func:`~dnnsplit.solvers.exact.assignment`, sjf and ps; a lower bound under
      deadlines too); g is convex, so the minimum over ``c ≥ T*/N`` is taken at
      ``max(argmin g, T*/N)``.
    - *deadlines* ``D_i ≤ D̃_i`` (constraints (5), (7)): a node is infeasible if an
      assigned device is late or ``L_j > D̃_j`` for some unassigned j; under ``sjf``
      also unless the slacks ``D̃_j − L_j``, sorted increasingly, satisfy
      ``s_(r) ≥ ω_r`` (the r-th served needs that much slack; giving the r-th smallest
      slack the r-th place is feasible whenever any order is, by exchange).

    **Order.** Best-first over subtrees: a heap of open nodes keyed by bound; the least
    is explored depth first (children in increasing bound) for a slice of nodes (at most
    :data:`SLICE_NODES`, fewer at large N, where a node costs O(N²): a schedule fixed by N,
    so that the search never depends on the clock but where the time limit stops it), and
    the options left open return to
    the heap. A node
    whose bound is at least the incumbent minus the tie tolerance is pruned. The
    least bound in the heap is therefore a lower bound on the optimum at every moment,
    and it only rises.

    **Guarantee**: when the heap empties, no vector meeting every deadline has an
    objective below the returned one by more than
    :data:`~dnnsplit.solvers.RELATIVE_TOLERANCE` (relative; the bounds are computed on
    delays shifted by the incumbent's mean, in double precision). The returned vector
    is re-evaluated by the model (never the search's arithmetic).

    **Ties**: the first vector found among those within the tolerance of the optimum
    (the local search's if it is optimal).

    **Complexity**: exponential in the worst case (the tree has the
    ``Π_i (s̃_i − min_i + 1)`` vectors as leaves). A node costs O(N log N)-like work
    (O(N²) insertion sorts at most; O(N) more under rr) and the memory is the
    O(N·levels·S) stack plus the heap. Measured on a 2-core machine (paper scenarios,
    R = 1, SJF, variance; ``benchmarks/solvers.py``): N = 10 certified in about 0.01 s
    (exhaustive search: 5–20 s), N = 15 in under a second, N = 20 in 3–30 s (eight
    seeds), N = 25 in about a minute on some seeds; at N = 50 the gap after a minute is
    still large (about 85 %): the bound sees the queueing of unassigned devices only
    through their least work.

    References
    ----------
    Kafetzis and Koutsopoulos, eq. (2) (BS delay), (4) (total) and (8) (variance);
    constraints (5), (7). G. G. Lorentz, "An inequality for rearrangements", Amer. Math.
    Monthly 60 (1953) 176–179 (supermodular rearrangement). Lemmas 1–2 and the bounds
    are proved above and checked against exhaustive search in ``tests/test_optimal.py``.
    """
    from dnnsplit.solvers.heuristics import local_search

    if model != "snapshot":
        raise SolverRefusal(
            "model",
            f"optimal certifies under the snapshot model only (eq. 2), not {model}; "
            "use exhaustive for small N under the timeline model",
        )
    if time_limit is None:
        time_limit = DEFAULT_TIME_LIMIT
    time_limit = number(time_limit, "time_limit", positive=True)
    if max_nodes is not None:
        max_nodes = number(max_nodes, "max_nodes", whole=True, minimum=1)
    deadline = time.perf_counter() + time_limit
    tables = scenario.tables
    start = local_search(
        scenario, objective=objective, restarts=restarts, seed=seed, model="snapshot"
    )
    least_total = None
    if POLICY_TABLE[tables.policy].exact_total and objective in ("total", "variance"):
        free, _ = assignment(tables)  # the least total delay, deadlines ignored
        delays = batch_delays(tables, free[None, :])
        least_total = float(delays[0].sum())
        if objective == "total" and tables.deadline_excess(delays)[0] == 0:
            return Found(  # the deadline-free optimum meets every deadline
                free,
                iterations=0,
                optimal=True,
                note="linear assignment (docs/model.md): certified optimal, no search needed",
                extra={"lower_bound": least_total, "gap": 0.0, "nodes": 0, "root_bound": None},
            )
    result = branch_and_bound(
        tables,
        objective,
        start=np.asarray(start.partition) if start.feasible else None,
        start_value=start.value,
        deadline=deadline,
        max_nodes=max_nodes,
        least_total=least_total,
    )
    if result.partition is None:
        if result.certified:
            raise SolverRefusal(
                "deadline_s",
                f"optimal: no partition vector meets every deadline (proven by a search "
                f"of {result.nodes} nodes)",
            )
        return Found(
            np.asarray(start.partition).copy(),
            iterations=result.nodes,
            note="stopped before finding a vector that meets every deadline",
            extra={
                "lower_bound": result.lower,
                "gap": None,
                "nodes": result.nodes,
                "root_bound": result.root_bound,
            },
        )
    if result.certified:
        note = "branch and bound over the BS service order: certified optimal"
    else:
        limit = "node" if max_nodes is not None and result.nodes >= max_nodes else "time"
        note = f"stopped by the {limit} limit: best vector found, with a proven lower bound"
    return Found(
        result.partition,
        iterations=result.nodes,
        optimal=result.certified,
        note=note,
        extra={
            "lower_bound": result.lower,
            "gap": _gap(result.value, result.lower),
            "nodes": result.nodes,
            "root_bound": result.root_bound,
        },
    )


@dataclass
class Outcome:
    """What :func:`branch_and_bound` found.

    Attributes
    ----------
    partition : numpy.ndarray or None
        The best vector meeting every deadline, None if none was found.
    value : float
        Its objective by the search's arithmetic (inf if none).
    lower : float
        A proven lower bound on the optimum (the optimum when certified).
    certified : bool
        The search finished: ``partition`` is optimal, or, if None, no vector meets every
        deadline.
    nodes : int
        Nodes expanded.
    root_bound : float or None
        The root's bound.
    """

    partition: np.ndarray | None
    value: float
    lower: float
    certified: bool
    nodes: int
    root_bound: float | None


def branch_and_bound(
    tables: DelayTables,
    objective: str,
    *,
    start: np.ndarray | None = None,
    start_value: float = math.inf,
    deadline: float = math.inf,
    max_nodes: int | None = None,
    least_total: float | None = None,
) -> Outcome:
    """The search of :func:`optimal` (see its Notes), from an optional incumbent.

    Parameters
    ----------
    tables : DelayTables
        The scenario's tables (snapshot model).
    objective : {"total", "variance", "max"}
        The objective.
    start : numpy.ndarray, optional
        A vector meeting every deadline, the first incumbent; None to start without one
        (the search must then find the optimum itself, which the tests use).
    start_value : float
        Its objective.
    deadline : float
        ``time.perf_counter()`` value after which the search stops.
    max_nodes : int, optional
        Stop after about this many nodes.
    least_total : float, optional
        The least total delay of any vector, deadlines ignored (computed here when the
        policy has an exact total-delay method and it is not given).

    Returns
    -------
    Outcome
    """
    bnb = _kernel()
    n = tables.n_devices
    upper = start_value if start is not None else math.inf
    floor = -math.inf  # a proven lower bound known without search
    exact = POLICY_TABLE[tables.policy].exact_total and objective in ("total", "variance")
    if exact and least_total is None and n <= FLOOR_DEVICES:
        free, _ = assignment(tables)  # the least total delay, deadlines ignored
        least_total = float(batch_delays(tables, free[None, :])[0].sum())
    if least_total is not None:
        least_total *= 1 - 1e-12  # rounding of the model's sum
        if objective == "total":
            floor = least_total
    shift = 0.0
    if objective == "variance":
        reference = start if start is not None else tables.min_stage
        shift = float(batch_delays(tables, np.asarray(reference)[None, :])[0].mean())
    search = _prepare(tables, objective, shift, _shifted(upper, objective, shift, n))
    if objective == "variance" and least_total is not None:
        search.mean_floor = least_total / n - shift
    heap: list[tuple[float, int, _Node]] = []
    root = _root(search)
    if root is not None:
        heap.append((root.bound, 0, root))
    root_bound = _unshift(root.bound, objective, shift, n) if root is not None else None
    pushed = 1
    certified = False
    cap = max(1, min(SLICE_NODES, SLICE_WORK // (n * n)))
    budget = min(1_000, cap)
    while True:
        cutoff = float(bnb._cutoff(search.upper[0]))
        while heap and not heap[0][0] < cutoff:
            heapq.heappop(heap)  # can no longer beat the incumbent
        if not heap:
            certified = True
            break
        if time.perf_counter() > deadline:
            break
        if max_nodes is not None and search.control[1] >= max_nodes:
            break
        _, _, node = heapq.heappop(heap)
        search.seed(node)
        allowed = budget
        if max_nodes is not None:
            allowed = max(1, min(allowed, max_nodes - int(search.control[1])))
        finished = search.run(allowed)
        budget = min(cap, 2 * budget)  # slices grow to the cap: a fixed schedule
        if not finished:
            for child in search.open_nodes():
                heapq.heappush(heap, (child.bound, pushed, child))
                pushed += 1
    nodes = int(search.control[1])
    if search.incumbent[0] >= 0:
        partition: np.ndarray | None = search.incumbent.copy()
    else:
        partition = None if start is None else np.asarray(start).copy()
    value = _unshift(float(search.upper[0]), objective, shift, n)
    if certified:
        lower = value if partition is not None else math.inf
    else:
        lower = max(floor, min(value, _unshift(heap[0][0], objective, shift, n)))
    return Outcome(partition, value, lower, certified, nodes, root_bound)
