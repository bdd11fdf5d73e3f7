"""A certifying solver for total delay, variance, the largest delay and the total device
energy: branch and bound over the BS service order (snapshot model, ``sjf``, ``ps`` and
``rr``; deadlines and energy budgets).

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
from typing import Any

import numpy as np

from dnnsplit._checks import number
from dnnsplit.errors import SolverRefusal, check_choice
from dnnsplit.evaluate import batch_delays, batch_outcomes
from dnnsplit.model import (
    DEADLINE_TOLERANCE_S,
    ENERGY_TOLERANCE_J,
    MAX_MEMORY_BYTES,
    DelayTables,
    check_bytes,
    whole_quanta,
)
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import (
    DEFAULT_TIME_LIMIT_S,
    STARTS,
    Found,
    objective_values,
    solver,
    start_vector,
)
from dnnsplit.solvers.exact import assignment

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "SEARCHES",
    "SLICE_NODES",
    "Outcome",
    "branch_and_bound",
    "optimal",
]


def _kernel() -> ModuleType:
    """The compiled kernel, imported on first use (importing numba takes a moment)."""
    from dnnsplit.solvers import _branch_and_bound

    return _branch_and_bound


@dataclass
class _Search:
    """The tables and the resumable state of one level-by-level branch and bound."""

    problem: Any
    stack: Any

    def run(self, budget: int) -> bool:
        return bool(_kernel().run_search(self.problem, self.stack, budget))

    def seed(self, node: _Node) -> None:
        """Load ``node`` as frame 0 of a fresh depth-first slice."""
        bnb = _kernel()
        stack = self.stack
        stack.point[:] = node.point
        rows = np.flatnonzero(stack.point >= 0)
        stack.task_work[:] = 0.0
        stack.task_work[rows] = self.problem.work[rows, stack.point[rows]]
        stack.frames[0] = node.ints
        stack.values[0] = node.floats
        k = node.options.size
        stack.options[0, :k] = node.options
        stack.bounds[0, :k] = node.option_bounds
        stack.frames[0, bnb.F_OPTIONS] = k
        stack.frames[0, bnb.F_NEXT] = 0
        stack.frames[0, bnb.F_APPLIED] = -2
        stack.control[0] = 0

    def open_nodes(self) -> list[_Node]:
        """The open options of an interrupted slice, one node per frame that has any."""
        bnb = _kernel()
        stack = self.stack
        depth = int(stack.control[0])
        cutoff = float(bnb.cutoff(stack.upper[0]))
        compact = np.int8 if self.problem.offload.shape[1] <= 127 else np.int32
        nodes = []
        for f in range(depth, -1, -1):
            applied = int(stack.frames[f, bnb.F_APPLIED])
            if applied >= 0:  # the frame's state excludes its own explored choice
                device = int(stack.frames[f, bnb.F_DEVICE])
                stack.point[device] = -1
                stack.task_work[device] = 0.0
                stack.frames[f, bnb.F_APPLIED] = -2
            start = int(stack.frames[f, bnb.F_NEXT])
            stop = int(stack.frames[f, bnb.F_OPTIONS])
            bounds = stack.bounds[f, start:stop]
            keep = bounds < cutoff
            if keep.any():
                nodes.append(
                    _Node(
                        bound=float(bounds[keep].min()),
                        point=stack.point.astype(compact),
                        ints=stack.frames[f].copy(),
                        floats=stack.values[f].copy(),
                        options=stack.options[f, start:stop][keep].copy(),
                        option_bounds=bounds[keep].copy(),
                    )
                )
        stack.control[0] = -1
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

    @property
    def nbytes(self) -> int:
        return int(
            self.point.nbytes
            + self.ints.nbytes
            + self.floats.nbytes
            + self.options.nbytes
            + self.option_bounds.nbytes
            + NODE_OVERHEAD_BYTES
        )


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
    """``out[i, l]`` = min (or max) of ``table[i, q]`` over points q on levels ≥ l, in
    O(N·(S + levels))."""
    n = table.shape[0]
    fill = math.inf if reduce == "min" else -math.inf
    out = np.full((n, n_levels + 1), fill)
    rows, cols = np.nonzero(level_of >= 0)
    at = (rows, level_of[rows, cols])
    if reduce == "min":
        np.minimum.at(out, at, table[rows, cols])
        return np.minimum.accumulate(out[:, ::-1], axis=1)[:, ::-1]
    np.maximum.at(out, at, table[rows, cols])
    return np.maximum.accumulate(out[:, ::-1], axis=1)[:, ::-1]


def _search_bytes(tables: DelayTables, n_levels: int, option_width: int) -> int:
    """Bytes of the level search's tables and stack (before the heap of open nodes)."""
    bnb = _kernel()
    n, width = tables.n_devices, tables.n_stages + 1
    depth = n * n_levels + 2
    per_frame = 8 * (bnb.INT_FIELDS + bnb.FLOAT_FIELDS) + 16 * option_width
    tables_bytes = n * width * 8 * 4 + n * n_levels * 1 + 5 * n * (n_levels + 1) * 8
    return depth * per_frame + tables_bytes + 96 * n


def _prepare(
    tables: DelayTables,
    objective: str,
    shift: float,
    upper: float,
    energy_cap: float | None = None,
) -> _Search:
    bnb = _kernel()
    n = tables.n_devices
    level_of, level_value = _levels(tables)
    n_levels = level_value.size
    rows, cols = np.nonzero(level_of >= 0)
    per_level = np.zeros((n, n_levels), dtype=np.int64)
    np.add.at(per_level, (rows, level_of[rows, cols]), 1)
    option_width = int(per_level.max(initial=0)) + 1  # a level's points, and "defer"
    check_bytes(
        _search_bytes(tables, n_levels, option_width),
        "devices" if n >= tables.n_stages else "profile",
        f"optimal's search over {n} devices and {n_levels} BS service levels",
    )
    work = np.ascontiguousarray(tables.remote_work, dtype=float)
    offload = np.ascontiguousarray(tables.offload_delay - shift, dtype=float)
    energy_offload = np.ascontiguousarray(tables.energy_offload, dtype=float)
    idle = np.ascontiguousarray(tables.idle_power, dtype=float)
    on_level = per_level > 0
    last_level = level_of.max(axis=1).astype(np.int64)
    depth = n * n_levels + 2
    problem = bnb.Problem(
        offload=offload,
        work=work,
        level_of=level_of,
        on_level=on_level,
        last_level=last_level,
        level_value=level_value,
        best_from=_suffix(offload + work, level_of, n_levels, "min"),
        offload_max_from=_suffix(offload, level_of, n_levels, "max"),
        work_max_from=_suffix(work, level_of, n_levels, "max"),
        work_min_from=_suffix(work, level_of, n_levels, "min"),
        deadline=np.asarray(tables.deadline + DEADLINE_TOLERANCE_S - shift, dtype=float),
        policy=bnb.POLICY_CODES[tables.policy],
        objective=bnb.OBJECTIVE_CODES[objective],
        quantum=float(tables.bs_quantum),
        mean_floor=-math.inf,
        energy_offload=energy_offload,
        idle=idle,
        budget=np.asarray(tables.energy_budget + ENERGY_TOLERANCE_J, dtype=float),
        energy_best_from=_suffix(energy_offload + idle[:, None] * work, level_of, n_levels, "min"),
        energy_cap=math.inf if energy_cap is None else energy_cap + ENERGY_TOLERANCE_J,
        energy_terms=bool(
            objective == "energy" or tables.has_energy_budgets or energy_cap is not None
        ),
    )
    stack = bnb.Stack(
        frames=np.zeros((depth, bnb.INT_FIELDS), dtype=np.int64),
        values=np.zeros((depth, bnb.FLOAT_FIELDS)),
        options=np.zeros((depth, option_width), dtype=np.int64),
        bounds=np.full((depth, option_width), np.inf),
        control=np.zeros(2, dtype=np.int64),
        point=np.full(n, -1, dtype=np.int64),
        task_work=np.zeros(n),
        incumbent=np.full(n, -1, dtype=np.int64),
        upper=np.array([upper]),
        scratch=np.empty((5, n)),
    )
    return _Search(problem, stack)


def _root(search: _Search) -> _Node | None:
    """The root node (its options scored), or None when no option can beat the incumbent."""
    k = int(_kernel().score_root(search.problem, search.stack))
    if k == 0:
        return None
    stack = search.stack
    return _Node(
        bound=float(stack.bounds[0, :k].min()),
        point=stack.point.copy(),
        ints=stack.frames[0].copy(),
        floats=stack.values[0].copy(),
        options=stack.options[0, :k].copy(),
        option_bounds=stack.bounds[0, :k].copy(),
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
#: Seconds :func:`optimal` searches by default (the searching solvers' shared default).
DEFAULT_TIME_LIMIT = DEFAULT_TIME_LIMIT_S
#: Nodes of the level search run first where the count search applies (it certifies the
#: small cases in a fraction of a second; beyond, the count search takes over). Under a
#: node limit it gets a tenth of the limit (at most this many).
LEVEL_FIRST_NODES = 100_000
#: The count-vector search (variance and min-max) runs up to this many devices (a node
#: solves N×N assignments, O(N³) each) and this many BS service classes.
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
#: The open nodes of the level search may take at most this share of
#: :data:`~dnnsplit.model.MAX_MEMORY_BYTES`; the search stops (with its bound) beyond.
HEAP_MEMORY_SHARE = 0.5
#: Bytes of a heap entry besides its arrays (the object, its tuple, five array headers).
NODE_OVERHEAD_BYTES = 700


def stop_reason(deadline: float, nodes: int, max_nodes: int | None, over_memory: bool) -> str:
    """Why a search must stop now: ``"time"``, ``"node"``, ``"memory"``, or ``""``."""
    if time.perf_counter() > deadline:
        return "time"
    if max_nodes is not None and nodes >= max_nodes:
        return "node"
    return "memory" if over_memory else ""


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
    start: str = "half",
    restarts: int = 8,
    seed: int = 0,
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
        (level search, checked between slices of at most :data:`SLICE_NODES`) or scored
        (count search). A node limit makes the result independent of the machine.
    start, restarts, seed
        The first incumbent is the better of greedy from ``start`` and the any-step
        local search from ``start`` with ``restarts`` random starts drawn from ``seed``
        (see :func:`~dnnsplit.solvers.greedy` and :func:`~dnnsplit.solvers.local_search`),
        so the returned vector is never worse than either whenever they ran in full
        (``extra["warm_start"]`` says which ran).
    energy_cap : float, optional
        The most total device energy a vector may take, J (the ε of the ε-constraint
        method); default none.

    Returns
    -------
    Solution
        ``optimal`` is true only when the search finished. ``extra`` holds
        ``lower_bound`` (a proven lower bound on the optimum: the optimum itself when
        certified, else the least bound over the open nodes), ``gap`` (``(value −
        lower_bound) / value``), ``nodes``, ``root_bound``, ``search`` (``"counts"`` or
        ``"levels"``) and ``warm_start``. ``iterations`` is the number of nodes.

    Raises
    ------
    SolverRefusal
        The timeline model (field ``model``); or no vector meets every deadline and
        energy budget (field
        ``deadline_s``; proven by the exhausted search).
    InputError
        A bad ``time_limit``, ``max_nodes``, ``start``, ``restarts`` or ``seed``; or a
        search whose stack would exceed :data:`~dnnsplit.model.MAX_MEMORY_BYTES`
        (field ``devices`` or ``profile``, with the size), refused before allocating it.

    Notes
    -----
    **Two searches.** The variance and the largest delay, when every device has the same
    BS-work row ``T^R(p)`` (one network, one BS), at most :data:`COUNT_DEVICES` devices
    and :data:`COUNT_CLASSES` classes (under ``rr``, points of different work must need
    different turns), and no energy budget, use the *count search*; everything else (total
    delay, energy, budgets, different rows) the *level search*. Both are below.

    **Count search: classes.** A *class* is a set of allowed points of equal BS work
    ``w`` (``rr``: of equal turns ``t = ⌈w/q_R⌉``), numbered in service order (increasing
    work); a class of work 0 (all-local) has ``D^R = 0``. Given the count ``n_j`` of
    devices in each class, let ``B_j = Σ_{l<j} n_l w_l``, ``N_{<j} = Σ_{l<j} n_l`` and
    ``H_j = N − N_{<j} − n_j``.

    **Lemma 3 (delays from counts).** Device i in class j, the k-th of that class by
    index: ``sjf`` ``D^R_i = B_j + k·w_j`` (earlier classes, then the class in index
    order, eq. 2); ``ps`` ``D^R_i = B_j + (N − N_{<j})·w_j`` (``Σ_l min(T_l, w_j)``);
    ``rr`` ``D^R_i = B_j + (n_j + H_j)(t_j − 1)q + k·δ_j + q·X_i`` with ``δ_j = w_j −
    (t_j − 1)q`` and ``X_i`` the devices of later classes with a lower index than i
    (in :func:`dnnsplit.model.rr_completion` an earlier class needs fewer turns and
    gives its whole work; the same class gives ``w_j`` below i and ``(t_j − 1)q``
    above; a later class gives ``t_j q`` below i and ``(t_j − 1)q`` above).

    **Lemma 4 (a relaxed assignment per node).** A node fixes ``n_0 … n_{f−1}``; the
    other ``M`` devices go to classes ≥ f. Columns: the slots (class j < f, rank k) and
    the service ranks ``r = 1 … M`` of the other devices. Every completion maps its
    devices one-to-one onto the columns, and each device's delay lies in a range:
    fixed slot, Lemma 3 (``rr``: ``X_i`` between ``max(0, H_j − (N − 1 − i − (n_j −
    k)))`` and ``min(i − k + 1, H_j)``), possible only if k − 1 members of class j have
    a lower index than i and ``n_j − k`` a higher one; other device at rank r in class
    ``c ≥ f``, ``a_i + B_f + w_c + [(r − 1)w_f, r·w_c − w_c]`` (``sjf``: the r − 1
    others served before it have work between ``w_f`` and ``w_c``), ``a_i + B_f + w_c
    + (M − 1)·[w_f, w_c]`` (``ps``), ``a_i + B_f + w_c + (M − 1)·[min(w_f, (t_c −
    1)q), min(t_c q, max w)]`` (``rr``). So for every centre c the least assignment
    ``φ(c)`` of the costs ``dist(c, range)²`` is at most ``Σ_i (D_i − c)²`` of every
    completion, and the least bottleneck assignment of the ranges' lower ends is at
    most its largest delay. Which device of a class has the lower index is ignored:
    that only relaxes.

    **Lemma 5 (the index-order program).** Take the devices in index order with the
    state "how many so far in each fixed class, and among the others": device i's rank
    in its class, and under ``rr`` its ``X_i``, are then known, so a fixed-class delay
    is exact (Lemma 3); the others enter with their least cost over the ranges of Lemma
    4 without the rank term. The least total (or largest) cost is a lower bound on the
    node's completions, exact at a leaf (every count fixed); its vector is evaluated by
    the model as a candidate incumbent. It has ``Π_{j<f}(n_j + 1)·(M + 1)`` states; it
    runs at leaves (up to :data:`~dnnsplit.solvers._bounds_search.PROGRAM_STATES`) and
    at inner nodes with at most
    :data:`~dnnsplit.solvers._bounds_search.REST_DEVICES` others, where the larger of
    the two bounds is used.

    **Lemma 6 (the centre).** ``f_x(c) = Σ_i (D_i − c)² = N·V(x) + N·(c − m)²`` with m
    the mean delay of x. If ``f_x(c_1) ≥ φ_1`` and ``f_x(c_2) ≥ φ_2`` and ``m ∈ [c_1,
    c_2]``, then ``N·V(x) ≥ max(φ_1 − N(m − c_1)², φ_2 − N(c_2 − m)²)``, least over
    m in closed form (:func:`~dnnsplit.solvers._bounds.parabola_bound`). Every
    completion's total delay lies between the least assignment of the ranges' lower
    ends and the greatest of their upper ends, so its mean lies in a known range; a grid
    of centres over it, refined where the interval bound is least, gives the node's
    bound (the least interval bound). Intervals whose bound reaches the incumbent hold
    no better completion's mean, so the children keep only the rest of the range. At a
    leaf the exact program is refined until the interval reaches the incumbent or
    ``N·h² ≤ 10⁻¹⁰·N·V`` (h the interval's width), which closes it within
    :data:`~dnnsplit.solvers._bounds_search.CERTIFY_TOLERANCE` (10⁻⁹, relative).

    **Count search: order.** Best-first over nodes keyed by bound; a node is scored
    when first popped (its bound is the larger of its own and its parent's), expanded
    when popped again: ``n_f = 0 … M`` (at most the members of class f), the last class
    taking the rest. Guarantee: when the heap empties, no vector meeting every deadline
    beats the returned one by more than 10⁻⁹ (relative); a leaf too large for the
    program is counted unresolved and then the search reports a gap, never a
    certificate.

    **Level search.** Call a *level* a class of BS service: for ``sjf`` and ``ps`` one distinct
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
    - *energy* (docs/model.md, "Energy"): device i's energy is
      ``E_i = e_i(p_i) + w_i·D^R_i`` with ``e_i = P_cpu·C_i + P_tx·τ_i`` and
      ``w_i = P_idle,i ≥ 0``. By Lemma 1 an assigned device's ``D^R_i``, hence its
      ``E_i``, is final. For unassigned j, Lemma 2's ``β`` bounds its BS delay at the
      point it will take: ``D^R_j ≥ β + T_j(q)`` (the three cases of β count only what
      others surely add before j ends, then j's own work), and under ``sjf``
      ``D^R_j ≥ β + T_j(q) + ω_r`` at rank r. With ``w_j ≥ 0``,
      ``E_j ≥ L^E_j + w_j·ω_r``, ``L^E_j = w_j·β + min_{q∈Q_j} (e_j(q) + w_j·T_j(q))``.
      Summed: ``E_tot ≥ Σ_assigned E_i + Σ_j L^E_j + min_π Σ_j w_j ω_{π(j)}`` over the
      rank assignments π, and since ``ω_r`` rises with r the least sum pairs the largest
      ``w`` with the smallest ``ω`` (rearrangement inequality): the bound is
      ``Σ_assigned E_i + Σ_j L^E_j + Σ_r w_(desc r)·ω_r`` (``ω = 0`` for ps and rr).
      With ``w`` and ``e`` those of the delays (``w = 1``, ``e = a``) it is the total
      delay's bound, which it generalises.
    - *energy budgets* ``E_i ≤ Ẽ_i``: a node is infeasible if an assigned device is over
      (its energy is final) or ``L^E_j > Ẽ_j`` for some unassigned j (every completion
      gives j at least ``L^E_j``), whatever the objective.
    - *energy cap* ``E_tot ≤ ε``: a node is infeasible if the energy bound above exceeds
      ε (every completion spends at least that), and a leaf over ε is no solution,
      whatever the objective.

    **Order.** Best-first over subtrees: a heap of open nodes keyed by bound; the least
    is explored depth first (children in increasing bound) for a slice of nodes (at most
    :data:`SLICE_NODES`, fewer at large N, where a node costs O(N²): a schedule fixed by N,
    so that the search never depends on the clock but where the time limit stops it), and
    the options left open return to
    the heap. A node
    whose bound is at least the incumbent minus the tie tolerance is pruned. The
    least bound in the heap is therefore a lower bound on the optimum at every moment,
    and it only rises.

    **Guarantee**: when the heap empties, no vector meeting every deadline and energy
    budget has an objective below the returned one by more than
    :data:`~dnnsplit.solvers.RELATIVE_TOLERANCE` (relative; the bounds are computed on
    delays shifted by the incumbent's mean, in double precision). The returned vector
    is re-evaluated by the model (never the search's arithmetic).

    **Ties**: the first vector found among those within the tolerance of the optimum
    (greedy's, else local-search's, if it is optimal).

    **Complexity**: exponential in the worst case (the level search's tree has the
    ``Π_i (s̃_i − min_i + 1)`` vectors as leaves, the count search's the count vectors).
    A level-search node costs O(N log N)-like work (O(N²) insertion sorts at most; O(N)
    more under rr), its memory the O(N·levels·options) stack plus the heap (capped at
    :data:`HEAP_MEMORY_SHARE` of the memory limit); a count-search node a few O(N³)
    assignments and, near the leaves, the program. Measured on a 2-core machine under
    load (the scenarios of ``fig5_scale``, default setup, R = 1; ``benchmarks/solvers.py
    --scale`` and the README): SJF variance N = 30 certified within two minutes on 8 of
    seeds 0–9; SJF min-max N = 50 and RR variance N = 30 certified within seconds on all
    ten; SJF variance N = 50 is left with a gap (the README gives it).

    References
    ----------
    Kafetzis and Koutsopoulos, eq. (2) (BS delay), (4) (total) and (8) (variance);
    constraints (5), (7); the energy of docs/model.md. G. G. Lorentz, "An inequality for
    rearrangements", Amer. Math. Monthly 60 (1953) 176–179 (supermodular rearrangement).
    H. W. Kuhn, "The Hungarian method for the assignment problem", Naval Research
    Logistics Quarterly 2 (1955) 83–97. Lemmas 1–6 and the bounds are proved above and
    checked against brute force in ``tests/test_optimal.py`` (every node bound below every
    completion, the program exact per count vector, both searches alone equal to
    exhaustive search) and, for energy and budgets, in ``tests/test_energy.py``.
    """
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
    check_choice(start, STARTS, "start", "start")
    restarts = number(restarts, "restarts", whole=True, minimum=0)
    seed = number(seed, "seed", whole=True, minimum=0)
    deadline = time.perf_counter() + time_limit
    tables = scenario.tables
    first, first_value, warm = _warm_start(
        scenario, objective, start, restarts, seed, time_limit * SETUP_SHARE, energy_cap
    )
    least_total = None
    if (
        POLICY_TABLE[tables.policy].exact_total
        and objective in ("total", "variance")
        and _assignment_seconds(tables.n_devices) <= time_limit * SETUP_SHARE
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
        deadline=deadline,
        max_nodes=max_nodes,
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
            raise SolverRefusal(
                "deadline_s",
                "optimal: no partition vector meets every deadline and energy budget (proven "
                f"by a search "
                f"of {result.nodes} nodes)",
            )
        fallback = first if first is not None else start_vector(scenario, start)
        return Found(
            np.asarray(fallback).copy(),
            iterations=result.nodes,
            note=f"stopped by the {result.stopped} limit before finding a vector that meets "
            "every deadline",
            extra=extra,
        )
    if result.certified:
        note = f"branch and bound ({result.search}): certified optimal"
    else:
        note = (
            f"stopped by the {result.stopped} limit: best vector found, with a proven lower bound"
        )
    extra["gap"] = 0.0 if result.certified else _gap(result.value, result.lower)
    return Found(
        result.partition,
        iterations=result.nodes,
        optimal=result.certified,
        note=note,
        extra=extra,
    )


def _assignment_seconds(n: int) -> float:
    """Estimated seconds of the O(N³) linear assignment (dense Hungarian-type solver)."""
    return 20.0 * n**3 / OPERATIONS_PER_SECOND / 1_000


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
    seed: int,
    seconds: float,
    energy_cap: float | None = None,
) -> tuple[np.ndarray | None, float, str]:
    """The first incumbent: the better of greedy from ``start`` and local-search
    (``restarts``, ``seed``), each run only if its estimated time fits in ``seconds``
    (iterations capped so that it does). Returns ``(vector or None, value, what ran)``;
    a vector missing a deadline is not an incumbent."""
    from dnnsplit.solvers.heuristics import greedy, local_search

    tables = scenario.tables
    found = []
    ran = []
    share = seconds / 2
    capped = energy_cap is not None
    per_greedy = _heuristic_seconds(tables, objective, any_step=False, capped=capped)
    if per_greedy <= share:
        cap = int(min(share / per_greedy, 10 * tables.n_devices * (tables.n_stages + 1)))
        found.append(
            greedy(
                scenario,
                objective=objective,
                start=start,
                max_iterations=cap,
                energy_cap=energy_cap,
            )
        )
        ran.append("greedy")
    per_run = _heuristic_seconds(tables, objective, any_step=True, capped=capped) * (restarts + 1)
    if per_run <= share:
        cap = int(min(share / per_run, 10 * tables.n_devices * (tables.n_stages + 1)))
        found.append(
            local_search(
                scenario,
                objective=objective,
                start=start,
                restarts=restarts,
                seed=seed,
                max_iterations=cap,
                energy_cap=energy_cap,
            )
        )
        ran.append("local-search")
    best: np.ndarray | None = None
    value = math.inf
    for solution in found:  # greedy first: ties keep it
        if solution.feasible and (best is None or solution.value < value - 1e-12 * abs(value)):
            best, value = np.asarray(solution.partition).copy(), float(solution.value)
    if best is None and not ran:
        vector = start_vector(scenario, start)
        delays, energies = batch_outcomes(tables, vector[None, :])
        if tables.excess(delays, energies, energy_cap)[0] == 0:
            best, value = vector, float(objective_values(delays, objective, energies)[0])
        ran.append(f"start vector ({start})")
    return best, value, " + ".join(ran)


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
        Nodes expanded (level search) or scored (count search).
    root_bound : float or None
        The root's bound.
    search : str
        ``"levels"`` or ``"counts"``: which search ran.
    stopped : str
        What stopped an unfinished search: ``"time"``, ``"node"`` or ``"memory"``.
    """

    partition: np.ndarray | None
    value: float
    lower: float
    certified: bool
    nodes: int
    root_bound: float | None
    search: str = "levels"
    stopped: str = ""


#: Searches :func:`branch_and_bound` can run.
SEARCHES = ("auto", "levels", "counts")


def branch_and_bound(
    tables: DelayTables,
    objective: str,
    *,
    start: np.ndarray | None = None,
    start_value: float = math.inf,
    deadline: float = math.inf,
    max_nodes: int | None = None,
    least_total: float | None = None,
    search: str = "auto",
    energy_cap: float | None = None,
) -> Outcome:
    """The search of :func:`optimal` (see its Notes), from an optional incumbent.

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
    deadline : float
        ``time.perf_counter()`` value after which the search stops.
    max_nodes : int, optional
        Stop after about this many nodes.
    least_total : float, optional
        The least total delay of any vector, deadlines ignored (the level search's floor
        on the mean; not computed here).
    search : {"auto", "levels", "counts"}
        ``counts``: the count-vector search (variance and min-max, one shared BS-work row,
        at most :data:`COUNT_DEVICES` devices, no energy budget or cap); ``levels``: the
        level-by-level search; ``auto``: ``counts`` where it applies.
    energy_cap : float, optional
        The most total device energy a vector may take (level search).

    Returns
    -------
    Outcome
    """
    check_choice(search, SEARCHES, "search", "search")
    classes = None
    energy_free = not tables.has_energy_budgets and energy_cap is None
    if search != "levels" and objective in ("variance", "max") and energy_free:
        from dnnsplit.solvers._bounds_search import class_structure

        if tables.n_devices <= COUNT_DEVICES:
            classes = class_structure(tables, COUNT_CLASSES)
    if search == "counts" and classes is None:
        raise SolverRefusal(
            "search",
            "the count-vector search needs variance or min-max, one BS-work row shared by "
            f"every device, at most {COUNT_DEVICES} devices and no energy budget or cap",
        )
    if classes is None:
        return _level_search(
            tables, objective, start, start_value, deadline, max_nodes, least_total, energy_cap
        )
    spent = 0
    first_nodes = LEVEL_FIRST_NODES
    if max_nodes is not None:
        first_nodes = min(first_nodes, max_nodes // 10)
    if search == "auto" and first_nodes > 0:  # a short level search: it settles small N
        quick = _level_search(
            tables, objective, start, start_value, deadline, first_nodes, least_total
        )
        if quick.certified or quick.stopped == "time":
            return quick
        if quick.partition is not None and quick.value < start_value:
            start, start_value = quick.partition, quick.value
        spent = quick.nodes
        if max_nodes is not None:
            max_nodes = max(1, max_nodes - spent)
    out = _count_search(tables, classes, objective, start, start_value, deadline, max_nodes)
    out.nodes += spent
    return out


def _count_search(
    tables: DelayTables,
    classes: Any,
    objective: str,
    start: np.ndarray | None,
    start_value: float,
    deadline: float,
    max_nodes: int | None,
) -> Outcome:
    from dnnsplit.solvers._bounds_search import count_search

    def value_of(vector: np.ndarray) -> float:
        delays, energies = batch_outcomes(tables, vector[None, :])
        if tables.excess(delays, energies)[0] > 0:
            return math.inf
        return float(objective_values(delays, objective)[0])

    return count_search(
        tables,
        classes,
        objective,
        value_of,
        start=start,
        start_value=start_value,
        deadline=deadline,
        max_nodes=max_nodes,
    )


def _level_search(
    tables: DelayTables,
    objective: str,
    start: np.ndarray | None,
    start_value: float,
    deadline: float,
    max_nodes: int | None,
    least_total: float | None,
    energy_cap: float | None = None,
) -> Outcome:
    bnb = _kernel()
    n = tables.n_devices
    upper = start_value if start is not None else math.inf
    floor = -math.inf  # a proven lower bound known without search
    if least_total is not None:
        least_total *= 1 - 1e-12  # rounding of the model's sum
        if objective == "total":
            floor = least_total
    shift = 0.0
    if objective == "variance":
        reference = start if start is not None else tables.min_stage
        shift = float(batch_delays(tables, np.asarray(reference)[None, :])[0].mean())
    search = _prepare(tables, objective, shift, _shifted(upper, objective, shift, n), energy_cap)
    if objective == "variance" and least_total is not None:
        search = _Search(search.problem._replace(mean_floor=least_total / n - shift), search.stack)
    stack = search.stack
    heap: list[tuple[float, int, _Node]] = []
    root = _root(search)
    if root is not None:
        heap.append((root.bound, 0, root))
    root_bound = _unshift(root.bound, objective, shift, n) if root is not None else None
    pushed = 1
    certified = False
    stopped = ""
    heap_bytes = 0
    heap_limit = HEAP_MEMORY_SHARE * MAX_MEMORY_BYTES
    cap = max(1, min(SLICE_NODES, SLICE_WORK // (n * n)))
    budget = min(1_000, cap)
    while True:
        cutoff = float(bnb.cutoff(stack.upper[0]))
        while heap and not heap[0][0] < cutoff:
            heap_bytes -= heapq.heappop(heap)[2].nbytes  # can no longer beat the incumbent
        if not heap:
            certified = True
            break
        stopped = stop_reason(deadline, int(stack.control[1]), max_nodes, heap_bytes > heap_limit)
        if stopped:
            break
        _, _, node = heapq.heappop(heap)
        heap_bytes -= node.nbytes
        search.seed(node)
        allowed = budget
        if max_nodes is not None:
            allowed = max(1, min(allowed, max_nodes - int(stack.control[1])))
        finished = search.run(allowed)
        budget = min(cap, 2 * budget)  # slices grow to the cap: a fixed schedule
        if not finished:
            for child in search.open_nodes():
                heapq.heappush(heap, (child.bound, pushed, child))
                heap_bytes += child.nbytes
                pushed += 1
    nodes = int(stack.control[1])
    if stack.incumbent[0] >= 0:
        partition: np.ndarray | None = stack.incumbent.copy()
    else:
        partition = None if start is None else np.asarray(start).copy()
    value = _unshift(float(stack.upper[0]), objective, shift, n)
    if certified:
        lower = value if partition is not None else math.inf
    else:
        lower = max(floor, min(value, _unshift(heap[0][0], objective, shift, n)))
    return Outcome(partition, value, lower, certified, nodes, root_bound, "levels", stopped)
