"""The count-vector branch and bound of :func:`dnnsplit.solvers.optimal` (variance and
min-max, one BS-work row shared by every device): ``docs/optimal.md``, "The count search".

Inner nodes are bounded by the index-order bound (``sjf`` variance; :class:`_IndexOrder`,
kernels in :mod:`dnnsplit.solvers._lagrangian`) or else the assignment bound
(:class:`_Relaxed`, kernels in :mod:`dnnsplit.solvers._bounds`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dnnsplit._limits import Budget
from dnnsplit._params import NEAR_ZERO
from dnnsplit.model import DEADLINE_TOLERANCE_S, MAX_MEMORY_BYTES, DelayTables, whole_quanta
from dnnsplit.solvers import _bounds, _lagrangian
from dnnsplit.solvers._bounds import Classes
from dnnsplit.solvers._common import RELATIVE_TOLERANCE
from dnnsplit.solvers._search import Outcome

__all__ = ["class_structure", "count_caps", "count_search", "index_order_applies"]

#: Grid intervals of the centre c a node starts with (assignment bound).
FIRST_INTERVALS = 2
#: Most evaluations of the assignment bound at one node (leaves refine further).
NODE_EVALUATIONS = 12
#: Most evaluations of the exact leaf program at one leaf.
LEAF_EVALUATIONS = 60
#: Most states of one index-order program (float64 value + int64 back pointer each).
PROGRAM_STATES = 2_000_000
#: The assignment bound also runs the program at an inner node (a bound there, the
#: devices of the later classes entering without their ranks) when at most this many
#: devices are left to the later classes and it has at most this many states.
REST_DEVICES = 3
INNER_STATES = 200_000
#: Bytes of one open node besides its counts (the object, its tuple, the heap's slot).
NODE_BYTES = 400
#: The open nodes may take at most this share of :data:`~dnnsplit.model.MAX_MEMORY_BYTES`.
HEAP_MEMORY_SHARE = 0.5
#: Relative tolerance of a certificate: no vector is better than the returned one by more.
CERTIFY_TOLERANCE = 1e-9
#: A variance below ``(ZERO_SPREAD_SHARE · mean delay)²`` is zero up to rounding: a
#: certificate of the variance is good to that much besides :data:`CERTIFY_TOLERANCE`
#: (without it, an optimum whose delays agree up to rounding, a variance like 1e-38 s²,
#: could never be certified: no bound can close a relative gap to it).
ZERO_SPREAD_SHARE = 1e-12
#: A leaf's interval of centres is closed when ``N·h² ≤ LEAF_RESOLUTION · N·V`` (h its
#: width): its parabola bound is then within a tenth of :data:`CERTIFY_TOLERANCE`.
LEAF_RESOLUTION = 0.1 * CERTIFY_TOLERANCE
#: A leaf's interval of centres whose ends differ by more than this factor (delays of
#: scales far apart) is split at their geometric mean, not the arithmetic one, so that its
#: refinement reaches the smaller scale within :data:`LEAF_EVALUATIONS` (any split is sound).
SCALE_SPAN = 1e3

#: Share of ``N·V`` (V the incumbent's variance) the grid of centres may lose: live
#: intervals are at most ``2·sqrt(GRID_LOSS·V)`` wide, so the parabola bound over one is
#: at most ``GRID_LOSS·N·V`` below the bound at its best centre.
GRID_LOSS = 1e-3
#: Bucket width of the class starts while the prices are sought, and for the tables the
#: nodes read, as a fraction of the incumbent's standard deviation of delays.
COARSE_BUCKET = 1 / 25
FINE_BUCKET = 1 / 200
#: Class starts beyond ``c + START_REACH·σ`` share the last bucket (a weaker bound there).
START_REACH = 2.0
#: Subgradient evaluations at the first centre, and at each later one (started from the
#: prices of the nearest centre evaluated).
FIRST_ITERATIONS = 30
WARM_ITERATIONS = 10
#: Most centres of the grid.
MOST_CENTRES = 64
#: Subgradient steps of a leaf's own prices at one centre before the program takes over,
#: aimed this share above the value that closes the leaf.
LEAF_ITERATIONS = 30
LEAF_MARGIN = 0.01
#: Most buckets of one table.
MOST_BUCKETS = 4096
#: The index-order bound runs when its root (about :data:`EXPECTED_EVALUATIONS` coarse
#: evaluations of ``2·J·buckets·N²`` steps, and :data:`EXPECTED_TABLES` fine ones) is
#: estimated at most this share of the time limit at :data:`STEPS_PER_SECOND` (an
#: estimate from the sizes alone: the choice never depends on the clock), and when at
#: least three of its tables (twice: they are gathered at the end) fit in
#: :data:`INDEX_ORDER_MEMORY_SHARE` of :data:`~dnnsplit.model.MAX_MEMORY_BYTES`; otherwise
#: the assignment bound serves.
INDEX_ORDER_TIME_SHARE = 0.5
EXPECTED_EVALUATIONS = FIRST_ITERATIONS + 20 * WARM_ITERATIONS
EXPECTED_TABLES = 10
STEPS_PER_SECOND = 3e8
INDEX_ORDER_MEMORY_SHARE = 0.25


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


def index_order_applies(tables: DelayTables, objective: str) -> bool:
    """Whether the index-order bound may serve this search: ``sjf`` and the variance (its
    cost is weighed once the incumbent gives the scale, :meth:`_IndexOrder.prepare`)."""
    return objective == "variance" and tables.policy == "sjf"


def count_caps(classes: Classes, n: int, cutoff: float) -> np.ndarray:
    """The most devices each class may hold in a vector with ``N·V`` below ``cutoff``
    (``sjf``; docs/optimal.md, Lemma 9)."""
    top = np.minimum(classes.member.sum(axis=0), n).astype(np.int64)
    for j in range(classes.work.size):
        w = float(classes.work[j])
        points = classes.points[j, : classes.n_points[j]]
        allowed = classes.allowed[:, points]
        if w <= 0.0 or not allowed.any():
            continue
        offload = classes.offload[:, points][allowed]
        spread = float(offload.max() - offload.min())
        for count in range(2, int(top[j]) + 1):
            scatter = count * max(0.0, w * math.sqrt((count * count - 1) / 12) - spread / 2) ** 2
            if scatter >= cutoff:
                top[j] = count - 1
                break
    return top


def _members(classes: Classes, top: np.ndarray) -> _lagrangian.Members:
    n_classes = classes.work.size
    n = classes.offload.shape[0]
    width = int(classes.n_points.max())
    device = np.full((n_classes, n), -1, dtype=np.int64)
    size = np.zeros(n_classes, dtype=np.int64)
    offload = np.full((n_classes, n, width), np.inf)
    deadline = np.zeros((n_classes, n))
    for j in range(n_classes):
        points = classes.points[j, : classes.n_points[j]]
        rows = np.flatnonzero(classes.member[:, j])
        size[j] = rows.size
        device[j, : rows.size] = rows
        grid = np.ix_(rows, points)
        offload[j, : rows.size, : points.size] = np.where(
            classes.allowed[grid], classes.offload[grid], np.inf
        )
        deadline[j, : rows.size] = classes.deadline[rows]
    work = classes.work.astype(float)
    positive = work[work > 0.0]
    return _lagrangian.Members(
        device=device,
        size=size,
        points=np.ascontiguousarray(classes.points[:, :width]),
        offload=offload,
        deadline=deadline,
        work=work,
        top=top,
        before=np.concatenate([[0.0], work[:-1]]),
        free=int(top[0]) if work[0] <= 0.0 else 0,
        least=float(positive.min()) if positive.size else 0.0,
    )


@dataclass(order=True)
class _Node:
    """A node: the counts of classes ``< fixed``; ``scored`` once its bound is its own
    (the assignment bound scores a node when first popped, the index-order bound when its
    parent is expanded; a leaf is scored when it is closed). ``c_low``/``c_high`` bound the
    mean delay of its completions; the index-order bound also keeps its live centres
    ``first..last``, the class start ``start`` and the sums of its fixed classes per
    centre."""

    bound: float
    order: int
    counts: tuple[int, ...] = field(compare=False)
    fixed: int = field(compare=False)
    c_low: float = field(compare=False, default=-math.inf)
    c_high: float = field(compare=False, default=math.inf)
    scored: bool = field(compare=False, default=False)
    first: int = field(compare=False, default=0)
    last: int = field(compare=False, default=0)
    start: float = field(compare=False, default=0.0)
    sums: np.ndarray | None = field(compare=False, default=None)


class _Search:
    """The incumbent, the leaves and the children of a count search; its bound at inner
    nodes is a subclass's."""

    #: Whether expanding a node spends a node of the budget (it does when the expansion
    #: bounds the children; scoring a node, or closing a leaf, always does).
    expansion_costs = False

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
        self.zero_spread = 0.0  # (ZERO_SPREAD_SHARE · the incumbent's mean delay)², variance
        self.n = tables.n_devices
        self.n_classes = classes.work.size
        self.vector = np.empty(self.n, dtype=np.int64)
        self.delays = np.empty(self.n)
        self.top = np.minimum(classes.member.sum(axis=0), self.n).astype(np.int64)
        self.closed_lower = math.inf  # least bound of leaves closed at full resolution
        self.unresolved_lower = math.inf  # least bound of leaves too big to solve
        if incumbent is not None and _bounds.vector_delays(classes, incumbent, self.delays):
            self._set_zero_spread()

    def _set_zero_spread(self) -> None:
        """The incumbent's rounding floor, from its delays (in :attr:`delays`)."""
        if self.code != _bounds.LARGEST:
            self.zero_spread = (ZERO_SPREAD_SHARE * float(self.delays.mean())) ** 2

    @property
    def cutoff(self) -> float:
        if not math.isfinite(self.upper):
            return math.inf
        return self.upper - max(CERTIFY_TOLERANCE * abs(self.upper), self.zero_spread)

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
        if self.incumbent is not None and not quick < self.upper * (1 + CERTIFY_TOLERANCE):
            return
        value = self.value_of(vector)
        if not math.isfinite(value):
            return
        floor = RELATIVE_TOLERANCE * max(abs(self.upper), NEAR_ZERO)
        if self.incumbent is None or value < self.upper - floor:
            self.upper = value
            self.incumbent = vector.copy()
            self._set_zero_spread()

    def root(self) -> _Node | None:
        """The root node (None: nothing can beat the incumbent)."""
        if self.n_classes == 1:
            return _Node(0.0, 0, (self.n,), 1)
        return _Node(0.0, 0, (0,) * self.n_classes, 0)

    def children(self, node: _Node, order: int) -> list[_Node]:
        """The children of a scored inner node: ``n_f = 0 … M`` (at most the class's
        members), the last class taking the rest; unscored, with the parent's bound."""
        j = node.fixed
        remaining = self.n - sum(node.counts[:j])
        out: list[_Node] = []
        last = j == self.n_classes - 1
        for count in range(min(remaining, int(self.top[j])) + 1):
            if last and count != remaining:
                continue
            counts = list(node.counts)
            counts[j] = count
            fixed = j + 1
            if fixed == self.n_classes - 1:  # the last class takes the rest
                counts[fixed] = remaining - count
                if counts[fixed] > self.top[fixed]:
                    continue
                fixed += 1
            out.append(
                _Node(node.bound, order + len(out), tuple(counts), fixed, node.c_low, node.c_high)
            )
        return out

    def score(self, node: _Node) -> float:
        """A lower bound on the objective of every completion of ``node`` (inf: none can
        beat the incumbent, or a leaf is closed)."""
        raise NotImplementedError

    def _program(self, node: _Node, centre: float) -> float:
        """The index-order program at a leaf, nan when too big; its vector is offered as
        an incumbent."""
        return self._run_program(node, self.n_classes, centre, PROGRAM_STATES)

    def _run_program(self, node: _Node, fixed: int, centre: float, limit: int) -> float:
        """The index-order program over ``node``'s counts with its first ``fixed`` classes
        fixed, nan when it needs more than ``limit`` states; a finite answer's vector is
        offered as an incumbent."""
        counts = np.asarray(node.counts, dtype=np.int64)
        value, states = _bounds.program(
            self.classes, counts, fixed, centre, self.code, self.vector, limit
        )
        if states < 0:
            return math.nan
        if math.isfinite(value):
            self.offer(self.vector)
        return float(value)

    def close_leaf(
        self, node: _Node, evaluate: Callable[[float, bool], tuple[float, bool]]
    ) -> None:
        """Close a leaf. ``evaluate(c, exact)`` gives a lower bound on the least ``Σ (D −
        c)²`` (min-max: the least largest delay) over the leaf's vectors and whether it is
        that least value (asked for it, it gives it whenever it can). The variance is
        closed over a grid of centres in the leaf's range of means (Lemma 6): first by
        cheap bounds; failing that, by least values, the grid refined where the parabola
        bound is least until it reaches the incumbent or the grid is fine. The leaf is then
        closed at full resolution (its bound joins :attr:`closed_lower`), or, after an
        inexact value, left unresolved (its bound joins :attr:`unresolved_lower`)."""
        if self.code == _bounds.LARGEST:
            value, exact = evaluate(0.0, True)
            if not exact:
                self.unresolved_lower = min(self.unresolved_lower, value)
            return
        n = self.n
        grid = [float(c) for c in np.linspace(node.c_low, node.c_high, 3)]
        found = [evaluate(c, False) for c in grid]
        values = [value for value, _ in found]
        if not all(math.isfinite(value) for value in values):
            return  # no completion meets the deadlines
        if self._parabolas(grid, values)[0] >= self.cutoff * n:
            return
        exact = True
        for k, (_, known) in enumerate(found):
            if not known:
                values[k], known = evaluate(grid[k], True)
                exact = exact and known
        while True:
            cutoff = self.cutoff * n
            least, worst = self._parabolas(grid, values)
            if least >= cutoff:
                return
            width = grid[worst + 1] - grid[worst]
            fine = n * width * width <= LEAF_RESOLUTION * max(abs(cutoff), NEAR_ZERO)
            if len(grid) - 3 >= LEAF_EVALUATIONS or fine or not exact:
                break
            low, high = grid[worst], grid[worst + 1]
            middle = math.sqrt(low * high) if 0.0 < SCALE_SPAN * low < high else 0.5 * (low + high)
            value, known = evaluate(middle, True)
            exact = exact and known
            grid.insert(worst + 1, middle)
            values.insert(worst + 1, value)
        bound = max(0.0, least / n)
        if exact:
            self.closed_lower = min(self.closed_lower, bound)
        else:
            self.unresolved_lower = min(self.unresolved_lower, bound)

    def _parabolas(self, grid: list[float], values: list[float]) -> tuple[float, int]:
        """The least parabola bound over the intervals of the grid, and which interval."""
        bounds = [
            _bounds.parabola_bound(grid[k], values[k], grid[k + 1], values[k + 1], self.n)
            for k in range(len(grid) - 1)
        ]
        worst = int(np.argmin(bounds))
        return bounds[worst], worst


class _Relaxed(_Search):
    """The assignment bound (docs/optimal.md, Lemma 4): at each node and centre, the least
    assignment of devices to the fixed (class, rank) slots and the service ranks of the
    others, each at its least cost over the delays it can have there."""

    def __init__(
        self,
        tables: DelayTables,
        classes: Classes,
        objective: str,
        value_of: Callable[[np.ndarray], float],
        upper: float,
        incumbent: np.ndarray | None,
    ) -> None:
        super().__init__(tables, classes, objective, value_of, upper, incumbent)
        n = self.n
        self.cost = np.empty((n, n))
        self.pick = np.empty((n, n), dtype=np.int64)
        self.match = np.empty(n, dtype=np.int64)
        self.potential = np.zeros(n)
        self.warm_node: _Node | None = None  # the node whose last assignment left them

    def _relaxed(self, node: _Node, centre: float, code: int) -> float:
        counts = np.asarray(node.counts, dtype=np.int64)
        _bounds.node_costs(self.classes, counts, node.fixed, centre, code, self.cost, self.pick)
        if code == _bounds.LARGEST and self.code == _bounds.LARGEST:
            return float(_bounds.bottleneck_value(self.cost, self.match, self.cutoff))
        warm = code == _bounds.VARIANCE and self.warm_node is node
        value = _bounds.assignment_value(self.cost, self.match, self.potential, warm)
        self.warm_node = node if code == _bounds.VARIANCE else None
        return float(value)

    def _inner_program(self, node: _Node, centre: float) -> float:
        """The program at an inner node near the leaves (Lemma 5: a lower bound, the later
        classes' devices at their least cost over Lemma 4's ranges without the rank term),
        nan when it does not apply; its vector is offered as an incumbent."""
        if self.n - sum(node.counts[: node.fixed]) > REST_DEVICES:
            return math.nan
        return self._run_program(node, node.fixed, centre, INNER_STATES)

    def _bound(self, node: _Node, centre: float, code: int) -> float:
        """The larger of the relaxed assignment and, where it applies, the program (min-max:
        only when the assignment alone does not prune the node, since then no vector of
        the program could beat the incumbent either)."""
        relaxed = self._relaxed(node, centre, code)
        if code == _bounds.LARGEST and relaxed >= self.cutoff:
            return relaxed
        program = self._inner_program(node, centre)
        return relaxed if math.isnan(program) else max(relaxed, program)

    def _mean_range(self, node: _Node) -> bool:
        """Narrow the node's range of means to the least and greatest total delay of the
        relaxation; False when no completion meets the deadlines."""
        low = self._relaxed(node, 0.0, _bounds.LARGEST)
        if not math.isfinite(low):
            return False
        high = -self._relaxed(node, 0.0, _bounds.NEG_HIGH)
        node.c_low = max(node.c_low, low / self.n)
        node.c_high = min(node.c_high, high / self.n)
        if node.c_low <= node.c_high:
            return True
        # the least and the greatest mean of one completion, summed in two orders, can
        # cross by rounding: the range is then the few ulps between them, not empty
        crossed = node.c_low - node.c_high
        if crossed > RELATIVE_TOLERANCE * max(abs(node.c_low), abs(node.c_high)):
            return False
        node.c_low, node.c_high = node.c_high, node.c_low
        return True

    def score(self, node: _Node) -> float:
        leaf = node.fixed == self.n_classes
        if self.code == _bounds.LARGEST and not leaf:
            return self._bound(node, 0.0, _bounds.LARGEST)
        if self.code == _bounds.VARIANCE:
            if not (math.isfinite(node.c_low) and math.isfinite(node.c_high)) or not leaf:
                if not self._mean_range(node):
                    return math.inf
            if not leaf:
                return self._inner_variance(node)
        code = self.code if self.code == _bounds.LARGEST else _bounds.VARIANCE
        if code == _bounds.LARGEST and self._relaxed(node, 0.0, code) >= self.cutoff:
            return math.inf  # no vector of the leaf beats the incumbent: no program needed

        def evaluate(c: float, exact: bool) -> tuple[float, bool]:
            value = self._program(node, c)
            if math.isnan(value):  # too big for the program: the relaxation's bound
                return self._relaxed(node, c, code), False
            return value, True

        self.close_leaf(node, evaluate)
        return math.inf

    def _inner_variance(self, node: _Node) -> float:
        n = self.n
        grid = [float(c) for c in np.linspace(node.c_low, node.c_high, FIRST_INTERVALS + 1)]
        values = []
        for c in grid:
            values.append(self._bound(node, c, _bounds.VARIANCE))
            if not math.isfinite(values[-1]):
                return math.inf  # no completion meets the deadlines
        while True:
            cutoff = self.cutoff * n
            bounds = [
                _bounds.parabola_bound(grid[k], values[k], grid[k + 1], values[k + 1], n)
                for k in range(len(grid) - 1)
            ]
            worst = int(np.argmin(bounds))
            if bounds[worst] >= cutoff:
                return math.inf
            hopeful = min(values[worst], values[worst + 1]) >= cutoff
            if len(grid) - 1 >= NODE_EVALUATIONS + FIRST_INTERVALS or not hopeful:
                break
            middle = 0.5 * (grid[worst] + grid[worst + 1])
            grid.insert(worst + 1, middle)
            values.insert(worst + 1, self._bound(node, middle, _bounds.VARIANCE))
        live = [k for k, b in enumerate(bounds) if b < cutoff]
        node.c_low = grid[live[0]]
        node.c_high = grid[live[-1] + 1]
        return max(0.0, bounds[worst] / n)


@dataclass
class _Centre:
    """One centre of the index-order grid: its prices, its bound at the root, and its
    table (``None`` until the fine one is built)."""

    c: float
    prices: np.ndarray
    value: float
    table: np.ndarray | None = None
    buckets: int = 0


class _IndexOrder(_Search):
    """The index-order bound (docs/optimal.md, "The index-order bound"): prices and tables
    for a grid of centres built at the root (:meth:`prepare`), then each expansion bounds
    all its children at once (:func:`~dnnsplit.solvers._lagrangian.expand`)."""

    expansion_costs = True

    def prepare(self, budget: Budget) -> bool:
        """Build the grid of centres. False when the bound declines (no incumbent to give
        the scale, a root estimated too long for the time limit or too big for memory) or
        when the budget stopped it (then ``budget.stopped`` says why)."""
        if self.incumbent is None or not self.upper > 0.0:
            return False
        n = self.n
        n_classes = self.n_classes
        _bounds.vector_delays(self.classes, self.incumbent, self.delays)
        mean = float(self.delays.mean())
        sigma = math.sqrt(self.upper)
        self.sigma = sigma
        coarse_h = COARSE_BUCKET * sigma
        self.h = FINE_BUCKET * sigma
        self.top = count_caps(self.classes, n, n * self.cutoff)
        low, high = self._mean_range()
        coarse_nb, fine_nb = self._buckets(mean, coarse_h), self._buckets(mean, self.h)
        evaluations = EXPECTED_EVALUATIONS * coarse_nb + EXPECTED_TABLES * fine_nb
        seconds = 2.0 * n_classes * n * n * evaluations / STEPS_PER_SECOND
        if budget.seconds is not None and seconds > INDEX_ORDER_TIME_SHARE * budget.seconds:
            return False
        table_bytes = 8 * (n_classes + 1) * (n + 1) * self._buckets(high, self.h)
        share = int(INDEX_ORDER_MEMORY_SHARE * MAX_MEMORY_BYTES)
        most = min(MOST_CENTRES, share // (2 * table_bytes))
        if most < 3:
            return False
        self.members = _members(self.classes, self.top)
        delta = 2.0 * math.sqrt(GRID_LOSS * self.upper)
        coarse_nb = self._buckets(high, coarse_h)
        # rows are written before they are read (fill), tables are written whole
        self.rows = np.empty((n_classes, max(coarse_nb, self._buckets(high, self.h)), n + 1))
        self._coarse_table = np.empty((n_classes + 1, n + 1, coarse_nb))
        self.coarse_h = coarse_h
        centres: dict[float, _Centre] = {}

        def evaluate(c: float, near: _Centre | None) -> _Centre | None:
            if budget.stop():
                return None
            prices = np.zeros(n) if near is None else near.prices.copy()
            iterations = FIRST_ITERATIONS if near is None else WARM_ITERATIONS
            nb = self._buckets(c, coarse_h)
            target = n * self.upper + n * (c - mean) ** 2
            value = _lagrangian.ascend(
                self.members,
                c,
                prices,
                coarse_h,
                nb,
                target,
                iterations,
                self.rows,
                self._coarse_table,
            )
            centres[c] = _Centre(c, prices, float(value))
            return centres[c]

        first = evaluate(mean, None)
        if first is None:
            return False
        for end in (high, low):  # outward, doubling steps, the last at the range's end
            step, here = delta, first
            while here.c != end:
                c = here.c + step if end > here.c else here.c - step
                c = min(c, end) if end > here.c else max(c, end)
                found = evaluate(c, here)
                if found is None:
                    return False
                here, step = found, 2 * step
        while True:  # fine tables for live intervals; bisect those wider than delta
            grid = sorted(centres)
            live = self._live(centres, grid)
            if not live:
                break
            changed = False
            for g in range(live[0], live[-1] + 2):
                if centres[grid[g]].table is None:
                    if budget.stop():
                        return False
                    self._fine(centres[grid[g]])
                    changed = True
            if changed:
                continue
            for g in live:
                if grid[g + 1] - grid[g] > delta and len(centres) < most:
                    left, right = centres[grid[g]], centres[grid[g + 1]]
                    near = left if abs(left.c - mean) <= abs(right.c - mean) else right
                    if evaluate(0.5 * (left.c + right.c), near) is None:
                        return False
                    changed = True
            if not changed:
                break
        grid = sorted(centres)
        live = self._live(centres, grid)
        self.live = bool(live)
        if not live:
            self.root_value = math.inf
            return True
        chosen = [centres[c] for c in grid[live[0] : live[-1] + 2]]
        self.centres = np.array([x.c for x in chosen])
        self.prices = np.stack([x.prices for x in chosen])
        self.price_sums = self.prices.sum(axis=1)
        self.buckets = np.array([x.buckets for x in chosen], dtype=np.int64)
        width = int(self.buckets.max())
        self.tables = np.empty((len(chosen), n_classes + 1, n + 1, width))  # padding unread
        for g, x in enumerate(chosen):
            assert x.table is not None  # every chosen centre got its table above
            self.tables[g, :, :, : x.buckets] = x.table[:, :, : x.buckets]
            x.table = None
        self.root_value = min(
            _bounds.parabola_bound(
                chosen[g].c, chosen[g].value, chosen[g + 1].c, chosen[g + 1].value, n
            )
            for g in range(len(chosen) - 1)
        )
        del self.rows, self._coarse_table
        return True

    def _buckets(self, c: float, h: float) -> int:
        return int(min(MOST_BUCKETS, max(2, math.ceil((c + START_REACH * self.sigma) / h) + 1)))

    def _fine(self, centre: _Centre) -> None:
        """The table the nodes read at this centre: every centre shares the bucket width
        :attr:`h`; its bucket count reaches ``c + START_REACH·σ``."""
        nb = self._buckets(centre.c, self.h)
        table = np.empty((self.n_classes + 1, self.n + 1, nb))
        value = _lagrangian.fill(
            self.members, centre.c, centre.prices, self.h, nb, self.rows, table
        )
        centre.value = max(centre.value, float(value + centre.prices.sum()))
        centre.table = table
        centre.buckets = nb

    def _live(self, centres: dict[float, _Centre], grid: list[float]) -> list[int]:
        """The intervals of the grid whose parabola bound is below the cutoff."""
        cutoff = self.n * self.cutoff
        return [
            g
            for g in range(len(grid) - 1)
            if _bounds.parabola_bound(
                grid[g], centres[grid[g]].value, grid[g + 1], centres[grid[g + 1]].value, self.n
            )
            < cutoff
        ]

    def _mean_range(self) -> tuple[float, float]:
        """Means a vector beating the incumbent can have (docs/optimal.md, Lemma 10)."""
        classes = self.classes
        work = np.zeros(classes.offload.shape[1])
        for j in range(self.n_classes):
            work[classes.points[j, : classes.n_points[j]]] = classes.work[j]
        delay = np.where(classes.allowed, classes.offload + work[None, :], np.nan)
        low = float(np.nanmin(delay, axis=1).mean())
        high = float(np.nanmax(delay)) + math.sqrt(self.n * self.cutoff)
        return low, max(low, high)

    def root(self) -> _Node | None:
        if not self.live:
            return None
        bound = max(0.0, self.root_value / self.n)
        return _Node(
            bound,
            0,
            (0,) * self.n_classes,
            0,
            scored=True,
            first=0,
            last=len(self.centres) - 1,
            sums=np.zeros(len(self.centres)),
        )

    def children(self, node: _Node, order: int) -> list[_Node]:
        counts, bounds, firsts, lasts, sums = _lagrangian.expand(
            self.members,
            node.fixed,
            sum(node.counts[: node.fixed]),
            node.start,
            node.first,
            node.last,
            node.sums,
            self.centres,
            self.prices,
            self.price_sums,
            self.tables,
            self.h,
            self.buckets,
            self.n * self.cutoff,
        )
        out: list[_Node] = []
        j = node.fixed
        for k in range(counts.size):
            child = list(node.counts)
            child[j] = int(counts[k])
            fixed = j + 1
            leaf = fixed == self.n_classes
            out.append(
                _Node(
                    max(node.bound, float(bounds[k]) / self.n),
                    order + len(out),
                    tuple(child),
                    fixed,
                    float(self.centres[firsts[k]]),
                    float(self.centres[lasts[k]]),
                    scored=not leaf,
                    first=int(firsts[k]),
                    last=int(lasts[k]),
                    start=node.start + int(counts[k]) * float(self.classes.work[j]),
                    sums=None if leaf else sums[k].copy(),
                )
            )
        return out

    def score(self, node: _Node) -> float:
        """Only leaves are scored here (inner nodes get their bound from the parent). At a
        centre a leaf takes the Lagrangian with its own prices
        (:func:`~dnnsplit.solvers._lagrangian.leaf_value`: exact when its classes' choices
        form a vector), stopped as soon as it closes the leaf; asked for the least value,
        the program (exact, when small enough), else that bound."""
        counts = np.asarray(node.counts, dtype=np.int64)
        small = math.prod(count + 1 for count in node.counts) <= PROGRAM_STATES
        n = self.n
        half = 0.25 * (node.c_high - node.c_low)
        centres = self.centres[node.first : node.last + 1]

        def evaluate(c: float, exact: bool) -> tuple[float, bool]:
            g = int(np.argmin(np.abs(centres - c))) + node.first
            target = n * self.cutoff * (1 + LEAF_MARGIN) + n * half * half
            value, known = _lagrangian.leaf_value(
                self.members, counts, c, self.prices[g], LEAF_ITERATIONS, target, self.vector
            )
            if known:
                self.offer(self.vector)
                return float(value), True
            if exact and small:
                return self._program(node, c), True
            return float(value), False

        self.close_leaf(node, evaluate)
        return math.inf


def count_search(
    tables: DelayTables,
    classes: Classes,
    objective: str,
    value_of: Callable[[np.ndarray], float],
    *,
    start: np.ndarray | None,
    start_value: float,
    budget: Budget,
    relaxation: str = "auto",
) -> Outcome:
    """Best-first branch and bound over the class counts (docs/optimal.md, "Count
    search"), spending ``budget``: one node per node scored or leaf closed, and per
    expansion where it bounds the children (the index-order bound).
    ``relaxation``: ``"auto"`` (the index-order bound where it serves, else the assignment
    bound) or ``"assignment"`` (always; the tests compare the two)."""
    upper = start_value if start is not None else math.inf
    incumbent = None if start is None else np.asarray(start, dtype=np.int64).copy()
    args = (tables, classes, objective, value_of, upper, incumbent)
    search: _Search = _Relaxed(*args)
    root_bound: float | None = None
    if relaxation == "auto" and index_order_applies(tables, objective):
        ordered = _IndexOrder(*args)
        if ordered.prepare(budget):
            search = ordered
            root_bound = ordered.root_value / tables.n_devices if ordered.live else None
        elif budget.stopped:
            return Outcome(
                incumbent, upper, 0.0, False, 0, None, search="counts", stopped=budget.stopped
            )
    root = search.root()
    heap = [] if root is None else [root]
    order = 1
    certified = False
    most_nodes = int(HEAP_MEMORY_SHARE * MAX_MEMORY_BYTES) // (NODE_BYTES + 8 * classes.work.size)
    nodes = 0
    while True:
        cutoff = search.cutoff
        while heap and not heap[0].bound < cutoff:
            heapq.heappop(heap)
        if not heap:
            certified = True
            break
        if len(heap) > most_nodes:
            budget.halt("memory_limit")
        if budget.stop():
            break
        node = heapq.heappop(heap)
        if not node.scored or search.expansion_costs:
            budget.spend()
            nodes += 1
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
        nodes=nodes,
        root_bound=root_bound,
        search="counts",
        stopped=None if certified else budget.stopped,
    )
