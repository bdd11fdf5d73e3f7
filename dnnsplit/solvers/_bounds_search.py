"""The count-vector branch and bound of :func:`dnnsplit.solvers.optimal` (variance and
min-max, one shared BS-work row). The proofs are in the Notes of ``optimal``; the
compiled kernels are in :mod:`dnnsplit.solvers._bounds`."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dnnsplit.model import DEADLINE_TOLERANCE_S, MAX_MEMORY_BYTES, DelayTables, whole_quanta
from dnnsplit.solvers import _bounds
from dnnsplit.solvers._bounds import Classes
from dnnsplit.solvers.optimal import Outcome, stop_reason

__all__ = ["class_structure", "count_search"]

#: Grid intervals of the centre c a node starts with.
FIRST_INTERVALS = 2
#: Most evaluations of the relaxation at one node (inner nodes; leaves refine further).
NODE_EVALUATIONS = 12
#: Most evaluations of the exact leaf program at one leaf.
LEAF_EVALUATIONS = 60
#: Most states of one index-order program (float64 value + int64 back pointer each).
PROGRAM_STATES = 2_000_000
#: At an inner node the program (a bound there) runs only up to this many states: beyond,
#: it costs more than the assignment it would help.
INNER_STATES = 200_000
#: ... and only when at most this many devices are left to the later classes (the
#: program sees them without their ranks, so it helps only near the leaves).
REST_DEVICES = 3
#: Bytes of one open node besides its counts (the object, its tuple, the heap's slot).
NODE_BYTES = 400
#: The open nodes may take at most this share of :data:`~dnnsplit.model.MAX_MEMORY_BYTES`.
HEAP_MEMORY_SHARE = 0.5
#: Relative tolerance of a certificate: no vector is better than the returned one by more.
CERTIFY_TOLERANCE = 1e-9


def class_structure(tables: DelayTables, most_classes: int) -> Classes | None:
    """The BS service classes of ``tables``, or None when the count-vector search does not
    apply: the devices' BS-work rows differ, there are more than ``most_classes`` classes,
    or (``rr``) two points with different work need the same number of turns."""
    work = np.asarray(tables.remote_work, dtype=float)
    if work.shape[0] == 0 or not np.all(work == work[0]):
        return None
    row = work[0]
    allowed = tables.allowed
    used = allowed.any(axis=0)
    key = whole_quanta(row, tables.bs_quantum) if tables.policy == "rr" else row
    keys = np.unique(key[used])
    if keys.size > most_classes:
        return None
    width = row.size
    n_classes = keys.size
    points = np.full((n_classes, width), -1, dtype=np.int64)
    n_points = np.zeros(n_classes, dtype=np.int64)
    class_work = np.zeros(n_classes)
    turns = np.zeros(n_classes)
    for j, k in enumerate(keys):
        members = np.flatnonzero(used & (key == k))
        if np.unique(row[members]).size != 1:
            return None
        points[j, : members.size] = members
        n_points[j] = members.size
        class_work[j] = row[members[0]]
        turns[j] = float(whole_quanta(row[members[0]], tables.bs_quantum))
    member = np.zeros((tables.n_devices, n_classes), dtype=np.bool_)
    for j in range(n_classes):
        member[:, j] = allowed[:, points[j, : n_points[j]]].any(axis=1)
    return Classes(
        offload=np.ascontiguousarray(tables.offload_delay, dtype=float),
        allowed=np.ascontiguousarray(allowed),
        deadline=np.asarray(tables.deadline + DEADLINE_TOLERANCE_S, dtype=float),
        points=points,
        n_points=n_points,
        work=class_work,
        turns=turns,
        member=member,
        members_before=np.cumsum(member, axis=0) - member,
        policy=_bounds.POLICY_CODES[tables.policy],
        quantum=float(tables.bs_quantum),
    )


@dataclass(order=True)
class _Node:
    bound: float
    order: int
    counts: tuple[int, ...] = field(compare=False)
    fixed: int = field(compare=False)
    c_low: float = field(compare=False, default=-math.inf)
    c_high: float = field(compare=False, default=math.inf)
    scored: bool = field(compare=False, default=False)


class _Search:
    def __init__(
        self,
        tables: DelayTables,
        classes: Classes,
        objective: str,
        value_of: Callable[[np.ndarray], float],
        upper: float,
        incumbent: np.ndarray | None,
    ) -> None:
        self.classes = classes
        self.objective = objective
        self.code = _bounds.OBJECTIVE_CODES[objective]
        self.value_of = value_of
        self.upper = upper
        self.incumbent = incumbent
        self.n = tables.n_devices
        self.n_classes = classes.work.size
        self.cost = np.empty((self.n, self.n))
        self.pick = np.empty((self.n, self.n), dtype=np.int64)
        self.match = np.empty(self.n, dtype=np.int64)
        self.vector = np.empty(self.n, dtype=np.int64)
        self.delays = np.empty(self.n)
        self.potential = np.zeros(self.n)
        self.warm_node: _Node | None = None  # the node whose last assignment left them
        self.members = classes.member.sum(axis=0)
        self.nodes = 0
        self.closed_lower = math.inf  # least bound of leaves closed at full resolution
        self.unresolved_lower = math.inf  # least bound of leaves too big to solve

    @property
    def cutoff(self) -> float:
        if not math.isfinite(self.upper):
            return math.inf
        return self.upper - CERTIFY_TOLERANCE * abs(self.upper)

    def offer(self, vector: np.ndarray) -> None:
        """Make ``vector`` the incumbent if the model says it is better (a compiled
        evaluation screens it first)."""
        if not _bounds.vector_delays(self.classes, vector, self.delays):
            return
        if (self.delays > self.classes.deadline).any():
            return
        if self.code == _bounds.LARGEST:
            quick = float(self.delays.max())
        else:
            quick = float(self.delays.var())
        if self.incumbent is not None and not quick < self.upper * (1 + 1e-9):
            return
        value = self.value_of(vector)
        if not math.isfinite(value):
            return
        if self.incumbent is None or value < self.upper - 1e-12 * abs(self.upper):
            self.upper = value
            self.incumbent = vector.copy()

    # --- the relaxation at one node ---------------------------------------------------

    def _relaxed(self, node: _Node, centre: float, code: int) -> float:
        counts = np.asarray(node.counts, dtype=np.int64)
        _bounds.node_costs(self.classes, counts, node.fixed, centre, code, self.cost, self.pick)
        if code == _bounds.LARGEST and self.code == _bounds.LARGEST:
            return float(_bounds.bottleneck_value(self.cost, self.match))
        warm = code == _bounds.VARIANCE and self.warm_node is node
        value = _bounds.assignment_value(self.cost, self.match, self.potential, warm)
        self.warm_node = node if code == _bounds.VARIANCE else None
        return float(value)

    def _program(self, node: _Node, centre: float) -> float:
        """The index-order program at ``node`` (exact at a leaf), nan when too big; its
        vector is offered as an incumbent."""
        counts = np.asarray(node.counts, dtype=np.int64)
        limit = PROGRAM_STATES
        if node.fixed < self.n_classes:
            if self.n - sum(node.counts[: node.fixed]) > REST_DEVICES:
                return math.nan
            limit = INNER_STATES
        value, states = _bounds.program(
            self.classes, counts, node.fixed, centre, self.code, self.vector, limit
        )
        if states < 0:
            return math.nan
        if math.isfinite(value):
            self.offer(self.vector)
        return float(value)

    def score(self, node: _Node) -> float:
        """A lower bound on the objective of every completion of ``node`` (inf: none can
        beat the incumbent, or a leaf is closed); narrows the node's range of centres."""
        self.nodes += 1
        leaf = node.fixed == self.n_classes
        if self.code == _bounds.LARGEST:
            value = self._program(node, 0.0)
            exact = leaf and not math.isnan(value)
            if not exact:
                relaxed = self._relaxed(node, 0.0, _bounds.LARGEST)
                value = relaxed if math.isnan(value) else max(value, relaxed)
            if leaf:
                if not exact:
                    self.unresolved_lower = min(self.unresolved_lower, value)
                return math.inf  # exact: its vector was offered
            return value
        return self._score_variance(node, leaf)

    def _score_variance(self, node: _Node, leaf: bool) -> float:
        n = self.n
        use_program = True
        unknown = not (math.isfinite(node.c_low) and math.isfinite(node.c_high))
        if unknown or not leaf:
            low = self._relaxed(node, 0.0, _bounds.LARGEST)
            if not math.isfinite(low):
                return math.inf
            high = -self._relaxed(node, 0.0, _bounds.NEG_HIGH)
            node.c_low = max(node.c_low, low / n)
            node.c_high = min(node.c_high, high / n)
            if not node.c_low <= node.c_high:
                return math.inf

        def phi(c: float) -> float:
            nonlocal use_program
            value = -math.inf
            if use_program:
                exact = self._program(node, c)
                if math.isnan(exact):
                    use_program = False
                else:
                    value = exact
            if not use_program or not leaf:
                value = max(value, self._relaxed(node, c, _bounds.VARIANCE))
            return value

        grid: list[float] = []
        values: list[float] = []
        first = 2 if leaf else FIRST_INTERVALS
        for c in np.linspace(node.c_low, node.c_high, first + 1):
            grid.append(float(c))
            values.append(phi(float(c)))
            if not math.isfinite(values[-1]):
                return math.inf  # no completion meets the deadlines
        exact = leaf and use_program
        limit = LEAF_EVALUATIONS if exact else NODE_EVALUATIONS
        while True:
            cutoff = self.cutoff * n
            bounds = [
                _bounds.parabola_bound(grid[k], values[k], grid[k + 1], values[k + 1], n)
                for k in range(len(grid) - 1)
            ]
            worst = int(np.argmin(bounds))
            if bounds[worst] >= cutoff:
                return math.inf
            c1, c2 = grid[worst], grid[worst + 1]
            width = c2 - c1
            hopeful = min(values[worst], values[worst + 1]) >= cutoff
            fine = n * width * width <= 0.1 * CERTIFY_TOLERANCE * max(abs(cutoff), 1e-300)
            if len(grid) - 1 >= limit + first or fine or not (hopeful or exact):
                break
            middle = 0.5 * (c1 + c2)
            grid.insert(worst + 1, middle)
            values.insert(worst + 1, phi(middle))
            exact = exact and use_program
        live = [k for k, b in enumerate(bounds) if b < cutoff]
        node.c_low = grid[live[0]]
        node.c_high = grid[live[-1] + 1]
        bound = max(0.0, bounds[worst] / n)
        if leaf:  # closed: exact at full resolution, or as far as the limits allow
            if exact:
                self.closed_lower = min(self.closed_lower, bound)
            else:
                self.unresolved_lower = min(self.unresolved_lower, bound)
            return math.inf
        return bound

    def children(self, node: _Node, order: int) -> list[_Node]:
        j = node.fixed
        placed = sum(node.counts[:j])
        remaining = self.n - placed
        out: list[_Node] = []
        last = j == self.n_classes - 1
        for count in range(remaining + 1):
            if count > self.members[j]:
                break
            if last and count != remaining:
                continue
            counts = list(node.counts)
            counts[j] = count
            fixed = j + 1
            if fixed == self.n_classes - 1:  # the last class takes the rest
                counts[fixed] = remaining - count
                if counts[fixed] > self.members[fixed]:
                    continue
                fixed += 1
            out.append(
                _Node(node.bound, order + len(out), tuple(counts), fixed, node.c_low, node.c_high)
            )
        return out


def count_search(
    tables: DelayTables,
    classes: Classes,
    objective: str,
    value_of: Callable[[np.ndarray], float],
    *,
    start: np.ndarray | None,
    start_value: float,
    deadline: float,
    max_nodes: int | None,
) -> Outcome:
    """Best-first branch and bound over the class counts (see ``optimal``'s Notes)."""
    search = _Search(
        tables,
        classes,
        objective,
        value_of,
        start_value if start is not None else math.inf,
        None if start is None else np.asarray(start).copy(),
    )
    root = _Node(0.0, 0, tuple([0] * classes.work.size), 0)
    if classes.work.size == 1:
        root = _Node(0.0, 0, (tables.n_devices,), 1)
    heap = [root]
    order = 1
    root_bound: float | None = None
    certified = False
    stopped = ""
    most_nodes = int(HEAP_MEMORY_SHARE * MAX_MEMORY_BYTES) // (NODE_BYTES + 8 * classes.work.size)
    while True:
        cutoff = search.cutoff
        while heap and not heap[0].bound < cutoff:
            heapq.heappop(heap)
        if not heap:
            certified = True
            break
        stopped = stop_reason(deadline, search.nodes, max_nodes, len(heap) > most_nodes)
        if stopped:
            break
        node = heapq.heappop(heap)
        if not node.scored:
            bound = max(node.bound, search.score(node))
            if root_bound is None:
                root_bound = bound
            if bound < search.cutoff:
                node.bound = bound
                node.scored = True
                heapq.heappush(heap, node)
            continue
        children = search.children(node, order)
        order += len(children)
        for child in children:
            heapq.heappush(heap, child)
    open_lower = heap[0].bound if heap else math.inf
    closed = min(search.closed_lower, search.unresolved_lower)
    lower = min(open_lower, closed, search.upper)
    if closed < search.cutoff:
        certified = False
    return Outcome(
        partition=search.incumbent,
        value=search.upper,
        lower=lower,
        certified=certified,
        nodes=search.nodes,
        root_bound=root_bound,
        search="counts",
        stopped=stopped,
    )
