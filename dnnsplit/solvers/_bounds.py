"""Compiled kernels of the count-vector search of :func:`dnnsplit.solvers.optimal`.

The search (:mod:`dnnsplit.solvers._bounds_search`) fixes the count of devices per service
class, class by class; this module scores its nodes: :func:`node_costs` (the relaxed
assignment's cost matrix), :func:`assignment_value` and :func:`bottleneck_value`, and
:func:`program` (exact for a full count vector). Proofs: ``docs/optimal.md``, "The count
search" (Lemmas 3-6). Every kernel reads one :data:`Classes` tuple and takes the policy and
objective as codes from :data:`POLICY_CODES` and :data:`OBJECTIVE_CODES`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "OBJECTIVE_CODES",
    "POLICY_CODES",
    "Classes",
    "assignment_value",
    "bottleneck_value",
    "node_costs",
    "parabola_bound",
    "program",
]

#: Policy codes of every compiled kernel of the solver (one table, by name).
POLICY_CODES = {"sjf": 0, "ps": 1, "rr": 2}
#: Objective codes of every compiled kernel of the solver (the count search takes variance
#: and max; the level search every one, the total device energy included).
OBJECTIVE_CODES = {"total": 0, "variance": 1, "max": 2, "energy": 4}
SJF, PS, RR = 0, 1, 2
VARIANCE, LARGEST = 1, 2
#: Internal cost code: minus the upper end of a delay range (the greatest total delay).
NEG_HIGH = 3


class Classes(NamedTuple):
    """The class structure of one scenario, as the kernels read it.

    Attributes
    ----------
    offload : numpy.ndarray
        ``a_i(p) = D^L_i(p) + D^tr_i(p)``, (N, S+1).
    allowed : numpy.ndarray
        Device i may choose point p, (N, S+1) bool.
    deadline : numpy.ndarray
        ``D̃_i`` plus the model's tolerance (inf: none), (N,).
    points : numpy.ndarray
        ``points[j, :count[j]]`` are the points of class j (service order), (J, S+1).
    n_points : numpy.ndarray
        Points per class, (J,).
    work : numpy.ndarray
        BS work of class j (0 for the zero-work class, which is class 0 if present), (J,).
    turns : numpy.ndarray
        BS turns of class j (``rr``), (J,).
    member : numpy.ndarray
        Device i has an allowed point in class j, (N, J) bool.
    members_before : numpy.ndarray
        How many devices with a lower index than i are members of class j, (N, J).
    policy : int
        :data:`POLICY_CODES`.
    quantum : float
        BS quantum (``rr``).
    """

    offload: np.ndarray
    allowed: np.ndarray
    deadline: np.ndarray
    points: np.ndarray
    n_points: np.ndarray
    work: np.ndarray
    turns: np.ndarray
    member: np.ndarray
    members_before: np.ndarray
    policy: int
    quantum: float


@njit(cache=True, nogil=True)
def _range_cost(low, high, centre, objective):
    """The least cost over delays in ``[low, high]``: ``dist(c, [low, high])²`` for the
    variance at centre ``c``, ``low`` for the largest delay."""
    if objective == LARGEST:
        return low
    if objective == NEG_HIGH:
        return -high
    if centre < low:
        return (low - centre) ** 2
    if centre > high:
        return (centre - high) ** 2
    return 0.0


@njit(cache=True, nogil=True)
def _best_point(classes, i, j, low, high, centre, objective):
    """``(cost, point)``: device i's least cost over its allowed points of class j when
    its BS delay lies in ``[low, high]`` (inf and -1 when none meets its deadline)."""
    best = np.inf
    best_point = -1
    for t in range(classes.n_points[j]):
        p = classes.points[j, t]
        if not classes.allowed[i, p]:
            continue
        a = classes.offload[i, p]
        if not a + low <= classes.deadline[i]:
            continue
        c = _range_cost(a + low, a + high, centre, objective)
        if c < best:
            best = c
            best_point = p
    return best, best_point


@njit(cache=True, nogil=True)
def _later_range(classes, j, fixed, remaining, rank, work_before):
    """The BS delay range of a device of class ``j ≥ fixed`` among the ``remaining``
    devices of the later classes, at service rank ``rank`` among them (``rank = 0``:
    unknown, the rank term dropped). Lemma 4 of ``docs/optimal.md``."""
    work = classes.work
    n_classes = work.shape[0]
    wj = work[j]
    if wj <= 0.0:
        return 0.0, 0.0
    first_work = work[fixed]
    if classes.policy == SJF:
        if rank == 0:
            return work_before + wj, work_before + remaining * wj
        return work_before + wj + (rank - 1) * first_work, work_before + rank * wj
    if classes.policy == PS:
        return work_before + wj + (remaining - 1) * first_work, work_before + remaining * wj
    q = classes.quantum
    most_work = 0.0
    for later in range(fixed, n_classes):
        most_work = max(most_work, work[later])
    least = min(first_work, (classes.turns[j] - 1.0) * q)
    low = work_before + wj + (remaining - 1) * least
    high = work_before + wj + (remaining - 1) * min(classes.turns[j] * q, most_work)
    return low, high


@njit(cache=True, nogil=True)
def _prefix(counts, fixed, work):
    """``(B, before)``: the BS work and the devices of the classes before ``fixed``."""
    total = 0.0
    before = 0
    for j in range(fixed):
        total += counts[j] * work[j]
        before += counts[j]
    return total, before


@njit(cache=True, nogil=True)
def node_costs(classes, counts, fixed, centre, objective, cost, pick):
    """Fill ``cost`` (N×N) and ``pick`` (the point that attains each entry) for the node
    whose first ``fixed`` class counts are ``counts[:fixed]``, at centre ``centre``.

    Columns ``0 .. N−M−1`` are the fixed (class, rank) slots in service order, columns
    ``N−M .. N−1`` the service ranks ``1 .. M`` of the devices still to place (Lemmas 3
    and 4 of ``docs/optimal.md``). Forbidden entries (no allowed point, a
    missed deadline, an impossible rank) are inf. Returns ``M``.
    """
    offload = classes.offload
    work = classes.work
    turns = classes.turns
    member = classes.member
    policy = classes.policy
    q = classes.quantum
    n = offload.shape[0]
    n_classes = work.shape[0]
    work_before, placed = _prefix(counts, fixed, work)
    remaining = n - placed
    col = 0
    total = 0.0
    below = 0
    for j in range(fixed):
        nj = counts[j]
        wj = work[j]
        higher = n - below - nj
        for k in range(1, nj + 1):
            for i in range(n):
                best = np.inf
                best_point = -1
                # device i is the k-th of class j by index: k−1 members of j have a lower
                # index, nj−k a higher one
                before = classes.members_before[i, j]
                after = classes.members_before[n - 1, j] + member[n - 1, j] - before - 1
                if member[i, j] and before >= k - 1 and after >= nj - k:
                    if wj <= 0.0:
                        low = 0.0
                        high = 0.0
                    elif policy == SJF:
                        low = total + k * wj
                        high = low
                    elif policy == PS:
                        low = total + (n - below) * wj
                        high = low
                    else:
                        delta = wj - (turns[j] - 1.0) * q
                        base = total + (nj + higher) * (turns[j] - 1.0) * q + k * delta
                        x_high = min(i - (k - 1), higher)
                        x_low = max(0, higher - (n - 1 - i - (nj - k)))
                        if x_high < x_low:
                            low = np.inf
                            high = np.inf
                        else:
                            low = base + q * x_low
                            high = base + q * x_high
                    best, best_point = _best_point(classes, i, j, low, high, centre, objective)
                cost[i, col] = best
                pick[i, col] = best_point
            col += 1
        total += nj * wj
        below += nj
    if remaining == 0:
        return 0
    lows = np.empty(n_classes)
    highs = np.empty(n_classes)
    for r in range(1, remaining + 1):
        for j in range(fixed, n_classes):  # the ranges depend on the rank and class only
            lows[j], highs[j] = _later_range(classes, j, fixed, remaining, r, work_before)
        for i in range(n):
            best = np.inf
            best_point = -1
            for j in range(fixed, n_classes):
                if not member[i, j]:
                    continue
                c, p = _best_point(classes, i, j, lows[j], highs[j], centre, objective)
                if c < best:
                    best = c
                    best_point = p
            cost[i, col] = best
            pick[i, col] = best_point
        col += 1
    return remaining


@njit(cache=True, nogil=True)
def assignment_value(cost, match, potential, warm):
    """The least ``Σ_i cost[i, σ(i)]`` over permutations σ (Hungarian method with
    potentials, O(N³); Kuhn 1955); inf when every permutation meets an inf entry.
    ``match[i]`` gets σ(i), ``potential`` the column potentials (with ``warm``, the start:
    those of a previous call on a similar matrix). Invariant: every step keeps the
    potentials feasible and the matched entries tight, so the end matching is optimal.
    """
    n = cost.shape[0]
    u = np.zeros(n + 1)
    v = np.zeros(n + 1)
    owner = np.zeros(n + 1, dtype=np.int64)  # owner[j]: row (1-based) on column j
    row_col = np.zeros(n + 1, dtype=np.int64)  # the column of row i, 0 if none
    way = np.zeros(n + 1, dtype=np.int64)
    least = np.empty(n + 1)
    used = np.zeros(n + 1, dtype=np.bool_)
    if warm:
        for j in range(1, n + 1):
            v[j] = potential[j - 1]
    for i in range(1, n + 1):
        best = np.inf
        at = 0
        for j in range(1, n + 1):
            here = cost[i - 1, j - 1] - v[j]
            if here < best:
                best = here
                at = j
        if not np.isfinite(best):
            return np.inf
        u[i] = best
        if warm and owner[at] == 0:  # the row's least reduced cost is tight
            owner[at] = i
            row_col[i] = at
    if not warm:
        for j in range(1, n + 1):
            best = np.inf
            at = 0
            for i in range(1, n + 1):
                here = cost[i - 1, j - 1] - u[i]
                if here < best:
                    best = here
                    at = i
            if not np.isfinite(best):
                return np.inf
            v[j] = best
            if row_col[at] == 0:  # the column's least reduced cost is tight
                owner[j] = at
                row_col[at] = j
    for i in range(1, n + 1):
        if row_col[i] != 0:
            continue
        owner[0] = i
        j0 = 0
        least[:] = np.inf
        used[:] = False
        while True:
            used[j0] = True
            i0 = owner[j0]
            delta = np.inf
            j1 = -1
            for j in range(1, n + 1):
                if not used[j]:
                    here = cost[i0 - 1, j - 1] - u[i0] - v[j]
                    if here < least[j]:
                        least[j] = here
                        way[j] = j0
                    if least[j] < delta:
                        delta = least[j]
                        j1 = j
            if j1 < 0 or not np.isfinite(delta):
                return np.inf
            for j in range(n + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    least[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0 != 0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            row_col[owner[j0]] = j0
            j0 = j1
    value = 0.0
    for j in range(1, n + 1):
        match[owner[j] - 1] = j - 1
        value += cost[owner[j] - 1, j - 1]
        potential[j - 1] = v[j]
    return value


@njit(cache=True, nogil=True)
def _augment(i, cost, limit, row_of, seen):
    for j in range(cost.shape[1]):
        if cost[i, j] <= limit and not seen[j]:
            seen[j] = True
            if row_of[j] < 0 or _augment(row_of[j], cost, limit, row_of, seen):
                row_of[j] = i
                return True
    return False


@njit(cache=True, nogil=True)
def _perfect(cost, limit, row_of):
    n = cost.shape[0]
    row_of[:] = -1
    seen = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        seen[:] = False
        if not _augment(i, cost, limit, row_of, seen):
            return False
    return True


@njit(cache=True, nogil=True)
def bottleneck_value(cost, match, limit):
    """The least ``max_i cost[i, σ(i)]`` over permutations σ (inf if none is finite), by
    bisection over the sorted entries with a matching test (Kőnig–Egerváry), writing σ
    into ``match``. The search starts at the largest row or column minimum (every row and
    column is matched, so the value is at least each); when the value is at least
    ``limit`` it returns a lower bound that is itself at least ``limit`` (all a caller
    pruning at ``limit`` needs) and leaves ``match`` as it was."""
    n = cost.shape[0]
    flat = cost.ravel()
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return np.inf
    floor = -np.inf
    for i in range(n):
        floor = max(floor, cost[i, :].min())
        floor = max(floor, cost[:, i].min())
    if not np.isfinite(floor):
        return np.inf  # a device or a slot with no finite entry
    levels = np.unique(finite)
    lo = np.searchsorted(levels, floor)
    top = np.searchsorted(levels, limit) - 1  # the last level below the limit
    if top < lo:
        return levels[lo]
    row_of = np.empty(n, dtype=np.int64)
    if not _perfect(cost, levels[top], row_of):
        return levels[top + 1] if top + 1 < levels.size else np.inf
    hi = top
    while lo < hi:
        mid = (lo + hi) // 2
        if _perfect(cost, levels[mid], row_of):
            hi = mid
        else:
            lo = mid + 1
    _perfect(cost, levels[lo], row_of)
    for j in range(n):
        match[row_of[j]] = j
    return levels[lo]


@njit(cache=True, nogil=True)
def parabola_bound(c1, phi1, c2, phi2, n):
    """A lower bound on ``N·V(x)`` for every vector x whose mean delay lies in
    ``[c1, c2]``, given ``Σ_i (D_i(x) − c1)² ≥ phi1`` and ``Σ_i (D_i(x) − c2)² ≥ phi2``
    (Lemma 6 of ``docs/optimal.md``)."""
    width = c2 - c1
    if not width > 0.0:
        return max(phi1, phi2)
    if phi1 - n * width * width >= phi2:
        return phi1 - n * width * width
    if phi2 - n * width * width >= phi1:
        return phi2 - n * width * width
    m = 0.5 * (c1 + c2) + (phi1 - phi2) / (2.0 * n * width)
    return phi1 - n * (m - c1) ** 2


@njit(cache=True, nogil=True)
def _rest_cost(classes, i, fixed, remaining, work_before, centre, objective):
    """The least cost of device i among the ``remaining`` devices of classes ≥ ``fixed``
    (any rank): ``(cost, point)``; the delay ranges of Lemma 3 without the rank term."""
    best = np.inf
    best_point = -1
    for j in range(fixed, classes.work.shape[0]):
        if not classes.member[i, j]:
            continue
        low, high = _later_range(classes, j, fixed, remaining, 0, work_before)
        c, p = _best_point(classes, i, j, low, high, centre, objective)
        if c < best:
            best = c
            best_point = p
    return best, best_point


@njit(cache=True, nogil=True)
def program(classes, counts, fixed, centre, objective, vector, state_limit):
    """The least ``Σ_i cost_i`` (variance at centre c: ``cost = (D − c)²``) or ``max_i
    D_i`` (min-max) over the vectors with ``counts[j]`` devices in each class ``j <
    fixed``, by a dynamic program over the devices in index order (Lemma 5 of
    ``docs/optimal.md``): exact when ``fixed`` is the number of classes, a lower bound
    otherwise (the later classes' devices enter with their least cost, ranks ignored).
    Returns ``(value, states)``, value inf when nothing meets the deadlines, and writes a
    minimising vector into ``vector`` (for the later classes, each device's best point);
    ``states`` is -1 (nothing done) when there would be more than ``state_limit``.
    """
    offload = classes.offload
    allowed = classes.allowed
    deadline = classes.deadline
    points = classes.points
    n_points = classes.n_points
    work = classes.work
    turns = classes.turns
    member = classes.member
    policy = classes.policy
    q = classes.quantum
    n = offload.shape[0]
    # radix positions 0 .. fixed-1: the fixed classes; position ``fixed``: the rest
    size = np.zeros(fixed + 1, dtype=np.int64)
    stride = np.zeros(fixed + 1, dtype=np.int64)
    placed = 0
    for j in range(fixed):
        size[j] = counts[j]
        placed += counts[j]
    remaining = n - placed
    if remaining < 0:
        return np.inf, 0
    size[fixed] = remaining
    states = 1
    for j in range(fixed + 1):
        stride[j] = states
        states *= size[j] + 1
        if states > state_limit:
            return np.inf, -1
    work_before = np.zeros(fixed + 1)
    below = np.zeros(fixed + 1, dtype=np.int64)
    acc = 0.0
    cnt = 0
    for j in range(fixed):
        work_before[j] = acc
        below[j] = cnt
        acc += counts[j] * work[j]
        cnt += counts[j]
    work_before[fixed] = acc
    below[fixed] = cnt
    # the cost of each device among the rest does not depend on the state
    rest_cost = np.full(n, np.inf)
    rest_point = np.full(n, -1, dtype=np.int64)
    if remaining > 0:
        for i in range(n):
            rest_cost[i], rest_point[i] = _rest_cost(
                classes, i, fixed, remaining, acc, centre, objective
            )
    # sjf and ps: the cost of device i on the k-th slot of fixed class j, precomputed
    offset = np.zeros(fixed + 1, dtype=np.int64)
    for j in range(fixed):
        offset[j + 1] = offset[j] + counts[j]
    slot_cost = np.full((n, max(offset[fixed], 1)), np.inf)
    slot_point = np.full((n, max(offset[fixed], 1)), -1, dtype=np.int64)
    if policy != RR:
        for j in range(fixed):
            wj = work[j]
            for k in range(1, counts[j] + 1):
                if wj <= 0.0:
                    remote = 0.0
                elif policy == SJF:
                    remote = work_before[j] + k * wj
                else:
                    remote = work_before[j] + (n - below[j]) * wj
                col = offset[j] + k - 1
                for i in range(n):
                    if not member[i, j]:
                        continue
                    for t in range(n_points[j]):
                        p = points[j, t]
                        if not allowed[i, p]:
                            continue
                        delay = offload[i, p] + remote
                        if not delay <= deadline[i]:
                            continue
                        here = delay if objective == LARGEST else (delay - centre) ** 2
                        if here < slot_cost[i, col]:
                            slot_cost[i, col] = here
                            slot_point[i, col] = p
    value = np.full(states, np.inf)
    came = np.full(states, -1, dtype=np.int64)  # the point the last device took
    value[0] = 0.0
    m = np.zeros(fixed + 1, dtype=np.int64)
    i = 0
    for s in range(states):
        if s > 0:  # the next state: an odometer over the radix positions
            j = 0
            while m[j] == size[j]:
                i -= m[j]
                m[j] = 0
                j += 1
            m[j] += 1
            i += 1
        if i >= n or not np.isfinite(value[s]):
            continue
        base = value[s]
        if m[fixed] < remaining and np.isfinite(rest_cost[i]):
            nxt = s + stride[fixed]
            here = max(base, rest_cost[i]) if objective == LARGEST else base + rest_cost[i]
            if here < value[nxt]:
                value[nxt] = here
                came[nxt] = rest_point[i]
        if policy != RR:
            for j in range(fixed):
                if m[j] < counts[j]:
                    col = offset[j] + m[j]
                    cost = slot_cost[i, col]
                    if cost < np.inf:
                        nxt = s + stride[j]
                        here = max(base, cost) if objective == LARGEST else base + cost
                        if here < value[nxt]:
                            value[nxt] = here
                            came[nxt] = slot_point[i, col]
            continue
        higher_before = m[fixed]  # lower-indexed devices of the later classes: more turns
        for j in range(fixed - 1, -1, -1):
            if m[j] < counts[j] and member[i, j]:
                k = m[j] + 1
                wj = work[j]
                if wj <= 0.0:
                    remote = 0.0
                else:
                    higher = n - below[j] - counts[j]
                    delta = wj - (turns[j] - 1.0) * q
                    remote = (
                        work_before[j]
                        + (counts[j] + higher) * (turns[j] - 1.0) * q
                        + k * delta
                        + q * higher_before
                    )
                nxt = s + stride[j]
                for t in range(n_points[j]):
                    p = points[j, t]
                    if not allowed[i, p]:
                        continue
                    delay = offload[i, p] + remote
                    if not delay <= deadline[i]:
                        continue
                    if objective == LARGEST:
                        here = max(base, delay)
                    else:
                        here = base + (delay - centre) ** 2
                    if here < value[nxt]:
                        value[nxt] = here
                        came[nxt] = p
            higher_before += m[j]
    last = states - 1
    if not np.isfinite(value[last]):
        return np.inf, states
    class_of = np.full(offload.shape[1], fixed, dtype=np.int64)
    for j in range(fixed):
        for t in range(n_points[j]):
            class_of[points[j, t]] = j
    s = last
    for i in range(n - 1, -1, -1):
        p = came[s]
        vector[i] = p
        # a point of a fixed class came from that class, any other from the rest
        s -= stride[class_of[p]]
    return value[last], states


@njit(cache=True, nogil=True)
def vector_delays(classes, vector, delays):
    """The delays ``D_i`` of ``vector`` under the class structure (eq. 2 and 3): ranks by
    index inside each class, and under ``rr`` the lower-indexed devices needing more
    turns. Writes ``delays``; returns False if a device's point is in no class."""
    offload = classes.offload
    points = classes.points
    n_points = classes.n_points
    work = classes.work
    turns = classes.turns
    policy = classes.policy
    q = classes.quantum
    n = offload.shape[0]
    n_classes = work.shape[0]
    class_of = np.full(offload.shape[1], -1, dtype=np.int64)
    for j in range(n_classes):
        for t in range(n_points[j]):
            class_of[points[j, t]] = j
    counts = np.zeros(n_classes, dtype=np.int64)
    for i in range(n):
        j = class_of[vector[i]]
        if j < 0:
            return False
        counts[j] += 1
    work_before = np.zeros(n_classes)
    below = np.zeros(n_classes, dtype=np.int64)
    acc = 0.0
    cnt = 0
    for j in range(n_classes):
        work_before[j] = acc
        below[j] = cnt
        acc += counts[j] * work[j]
        cnt += counts[j]
    seen = np.zeros(n_classes, dtype=np.int64)
    for i in range(n):
        j = class_of[vector[i]]
        seen[j] += 1
        k = seen[j]
        wj = work[j]
        if wj <= 0.0:
            remote = 0.0
        elif policy == SJF:
            remote = work_before[j] + k * wj
        elif policy == PS:
            remote = work_before[j] + (n - below[j]) * wj
        else:
            higher_before = 0
            for jj in range(j + 1, n_classes):
                higher_before += seen[jj]
            higher = n - below[j] - counts[j]
            delta = wj - (turns[j] - 1.0) * q
            remote = (
                work_before[j]
                + (counts[j] + higher) * (turns[j] - 1.0) * q
                + k * delta
                + q * higher_before
            )
        delays[i] = offload[i, vector[i]] + remote
    return True
