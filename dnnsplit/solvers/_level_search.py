"""The level search of :func:`dnnsplit.solvers.optimal`: a best-first branch and bound
that assigns devices level by level in the BS service order (every objective, policy,
deadline and energy budget; ``docs/optimal.md``, "The level search"). The compiled kernel
is :mod:`dnnsplit.solvers._branch_and_bound`; this module holds its tables, the heap of
open subtrees and the budget.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dnnsplit._limits import Budget
from dnnsplit.evaluate import batch_delays
from dnnsplit.model import (
    DEADLINE_TOLERANCE_S,
    ENERGY_TOLERANCE_J,
    MAX_MEMORY_BYTES,
    DelayTables,
    check_bytes,
    whole_quanta,
)
from dnnsplit.solvers import _branch_and_bound as bnb
from dnnsplit.solvers._common import RELATIVE_TOLERANCE
from dnnsplit.solvers._search import Outcome

__all__ = ["HEAP_MEMORY_SHARE", "SLICE_NODES", "SLICE_WORK", "level_search"]


#: Most nodes per depth-first slice between two looks at the clock and the heap.
SLICE_NODES = 20_000
#: A node costs O(N²): a slice holds at most ``SLICE_WORK / N²`` nodes, so it stays short
#: (a fraction of a second) at any N and the time limit holds. The slice sizes depend on N
#: alone, never on the clock, so the same problem and node limit give the same search,
#: whatever the machine's load (the same bytes in every figure).
SLICE_WORK = 25_000_000
#: The open nodes of the level search may take at most this share of
#: :data:`~dnnsplit.model.MAX_MEMORY_BYTES`; the search stops (with its bound) beyond.
HEAP_MEMORY_SHARE = 0.5
#: Bytes of a heap entry besides its arrays (the object, its tuple, five array headers).
NODE_OVERHEAD_BYTES = 700


@dataclass
class _Search:
    """The tables and the resumable state of one level-by-level branch and bound."""

    problem: Any
    stack: Any

    def run(self, budget: int) -> bool:
        return bool(bnb.run_search(self.problem, self.stack, budget))

    def seed(self, node: _Node) -> None:
        """Load ``node`` as frame 0 of a fresh depth-first slice."""
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
    k = int(bnb.score_root(search.problem, search.stack))
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


def level_search(
    tables: DelayTables,
    objective: str,
    start: np.ndarray | None,
    start_value: float,
    budget: Budget,
    least_total: float | None,
    energy_cap: float | None = None,
    most_nodes: int | None = None,
) -> Outcome:
    """Best-first over subtrees of the level tree (docs/optimal.md, "Level search"), from an
    optional incumbent, spending ``budget`` (its node limit counts expanded nodes) and at
    most ``most_nodes`` nodes of it; ``least_total`` is the least total delay of any vector,
    deadlines ignored (a floor on the mean), or None."""
    n = tables.n_devices
    upper = start_value if start is not None else math.inf
    floor = -math.inf  # a proven lower bound known without search
    if least_total is not None:
        least_total *= 1 - RELATIVE_TOLERANCE  # rounding of the model's sum
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
    stopped: str | None = None
    heap_bytes = 0
    heap_limit = HEAP_MEMORY_SHARE * MAX_MEMORY_BYTES
    cap = max(1, min(SLICE_NODES, SLICE_WORK // (n * n)))
    slice_nodes = min(1_000, cap)
    spent = 0
    while True:
        cutoff = float(bnb.cutoff(stack.upper[0]))
        while heap and not heap[0][0] < cutoff:
            heap_bytes -= heapq.heappop(heap)[2].nbytes  # can no longer beat the incumbent
        if not heap:
            certified = True
            break
        if heap_bytes > heap_limit:
            budget.halt("memory_limit")
        if budget.stop():
            stopped = budget.stopped
            break
        if most_nodes is not None and spent >= most_nodes:
            stopped = "node_limit"
            break
        _, _, node = heapq.heappop(heap)
        heap_bytes -= node.nbytes
        search.seed(node)
        allowed = slice_nodes
        left = budget.nodes_left()
        if most_nodes is not None:
            left = most_nodes - spent if left is None else min(left, most_nodes - spent)
        if left is not None:
            allowed = max(1, min(allowed, left))
        finished = search.run(allowed)
        budget.spend(int(stack.control[1]) - spent)
        spent = int(stack.control[1])
        slice_nodes = min(cap, 2 * slice_nodes)  # slices grow to the cap: a fixed schedule
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
