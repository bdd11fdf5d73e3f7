"""Compiled depth-first branch and bound behind :func:`dnnsplit.solvers.optimal`.

The search and the proofs of its bounds are in ``docs/optimal.md`` ("The level search");
this module holds the numba kernel and the tables it reads, indexed by device ``i``
(0..N-1) and partition point ``q`` (0..S). Invariant (Lemma 1): a device's BS completion
time is final the moment it is assigned (``_take``).

The explicit stack of the depth-first search lives in arrays owned by the caller, so a
search runs in slices of a node budget (the caller checks the clock between slices) and
reports, when stopped, the least bound over its open nodes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from dnnsplit.solvers._bounds import OBJECTIVE_CODES, POLICY_CODES
from dnnsplit.solvers._common import RELATIVE_TOLERANCE

__all__ = [
    "FLOAT_FIELDS",
    "INT_FIELDS",
    "OBJECTIVE_CODES",
    "POLICY_CODES",
    "Problem",
    "Stack",
    "bound_of_state",
    "cutoff",
    "run_search",
    "score_root",
]


class Problem(NamedTuple):
    """The read-only tables of one search (see :func:`dnnsplit.solvers.optimal.optimal`).

    ``offload`` and ``work`` are ``a_i(p)`` (shifted) and ``T^R_i(p)``, (N, S+1);
    ``level_of`` the level of each (device, point), -1 where not allowed; ``on_level``
    (N, levels) and ``last_level`` (N,) which levels a device can reach; ``level_value``
    the work (turns for rr) of each level; the ``*_from`` tables are suffix minima and
    maxima over levels ≥ l, (N, levels + 1); ``deadline`` (N,) shifted, inf where none;
    ``policy`` and ``objective`` codes of :data:`POLICY_CODES` and
    :data:`OBJECTIVE_CODES`; ``quantum`` the BS quantum; ``mean_floor`` a lower bound on
    every vector's (shifted) mean delay, or -inf. Energy (docs/model.md, "Energy"):
    ``energy_offload`` ``P_cpu·C_i(p) + P_tx·τ_i(p)``, (N, S+1); ``idle`` ``P_idle`` (N,);
    ``budget`` (N,) with its tolerance, inf where none; ``energy_best_from`` the suffix
    minima over levels ≥ l of ``energy_offload + idle·work``; ``energy_cap`` the most total
    energy (with its tolerance; inf: none); ``energy_terms`` whether the search reads them
    (the energy objective, some budget, or a cap).
    """

    offload: np.ndarray
    work: np.ndarray
    level_of: np.ndarray
    on_level: np.ndarray
    last_level: np.ndarray
    level_value: np.ndarray
    best_from: np.ndarray
    offload_max_from: np.ndarray
    work_max_from: np.ndarray
    work_min_from: np.ndarray
    deadline: np.ndarray
    policy: int
    objective: int
    quantum: float
    mean_floor: float
    energy_offload: np.ndarray
    idle: np.ndarray
    budget: np.ndarray
    energy_best_from: np.ndarray
    energy_cap: float
    energy_terms: bool


class Stack(NamedTuple):
    """The mutable state of one search: the explicit depth-first stack (``frames`` and
    ``values``: the integer and float fields of each frame; ``options`` and ``bounds``:
    its options, sorted by bound), ``control = [depth, nodes]``, the partial vector
    ``point`` (-1: unassigned) with its ``task_work``, the ``incumbent`` and its value
    ``upper`` (one entry), and ``scratch`` (5, N)."""

    frames: np.ndarray
    values: np.ndarray
    options: np.ndarray
    bounds: np.ndarray
    control: np.ndarray
    point: np.ndarray
    task_work: np.ndarray
    incumbent: np.ndarray
    upper: np.ndarray
    scratch: np.ndarray


# integer frame fields
F_LEVEL, F_DEVICE, F_TAKEN, F_BELOW, F_ASSIGNED, F_NEXT, F_OPTIONS, F_APPLIED = range(8)
INT_FIELDS = 8
# float frame fields (G_SUM, G_SQUARES, G_MAX: of each assigned device's cost, its delay,
# or its energy under the energy objective; G_ENERGY: the assigned devices' energy)
G_WORK_BELOW, G_SUM, G_SQUARES, G_MAX, G_WORK, G_BOUND, G_ENERGY = range(7)
FLOAT_FIELDS = 7
ENERGY = OBJECTIVE_CODES["energy"]


@njit(cache=True, nogil=True)
def _insertion_sort(values, count):
    for k in range(1, count):
        x = values[k]
        j = k - 1
        while j >= 0 and values[j] > x:
            values[j + 1] = values[j]
            j -= 1
        values[j + 1] = x


@njit(cache=True, nogil=True)
def _min_sum_of_squares(count_fixed, sum_fixed, squares_fixed, lower, n_lower, upper, n_upper):
    """``(min, argmin)`` over c of
    ``Σ_fixed (D − c)² + Σ_k (lower_k − c)₊² + Σ_j (c − upper_j)₊²``, exactly.

    ``lower`` and ``upper`` are sorted ascending; the fixed terms enter by their count,
    sum and sum of squares. The function of c is convex and piecewise quadratic with
    breakpoints at the ramps; on each piece it is ``α c² − 2 β c + γ``, minimised at
    ``β/α`` clipped to the piece, so one sweep over the breakpoints finds the minimum.
    """
    alpha = float(count_fixed + n_lower)
    beta = sum_fixed
    gamma = squares_fixed
    for k in range(n_lower):
        beta += lower[k]
        gamma += lower[k] * lower[k]
    best = np.inf
    where = np.inf
    left = -np.inf
    il = 0
    iu = 0
    while True:
        if il < n_lower and (iu >= n_upper or lower[il] <= upper[iu]):
            right = lower[il]
            kind = 0
        elif iu < n_upper:
            right = upper[iu]
            kind = 1
        else:
            right = np.inf
            kind = 2
        if alpha > 0:
            c = beta / alpha
            if c < left:
                c = left
            if c > right:
                c = right
            if np.isfinite(c):
                value = alpha * c * c - 2.0 * beta * c + gamma
                if value < best:
                    best = value
                    where = c
        elif gamma < best:  # no term depends on c here: the value is gamma (= 0)
            best = gamma
            where = left if np.isfinite(left) else right
        if kind == 2:
            break
        if kind == 0:
            x = lower[il]
            alpha -= 1.0
            beta -= x
            gamma -= x * x
            il += 1
        else:
            u = upper[iu]
            alpha += 1.0
            beta += u
            gamma += u * u
            iu += 1
        left = right
    return max(best, 0.0), where


@njit(cache=True, nogil=True)
def bound_of_state(
    problem,
    stack,
    level,
    device,
    taken,
    below,
    assigned,
    work_below,
    total_sum,
    total_squares,
    largest,
    work,
    spent,
):
    """A lower bound on the objective of every completion of a partial assignment whose
    assigned devices spent ``spent`` joules.

    Returns ``inf`` when no completion meets the deadlines, the energy budgets and the
    energy cap (or some device has no point left). The proofs are in ``docs/optimal.md``
    ("The level search").
    """
    point = stack.point
    task_work = stack.task_work
    scratch = stack.scratch
    level_value = problem.level_value
    policy = problem.policy
    objective = problem.objective
    quantum = problem.quantum
    best_from = problem.best_from
    offload_max_from = problem.offload_max_from
    work_max_from = problem.work_max_from
    work_min_from = problem.work_min_from
    deadline = problem.deadline
    mean_floor = problem.mean_floor
    energy_terms = problem.energy_terms
    idle = problem.idle
    budget = problem.budget
    energy_best_from = problem.energy_best_from
    n = point.shape[0]
    remaining = n - assigned
    if remaining == 0:
        return _leaf_value(objective, total_sum, total_squares, largest, n)
    scratch_lower = scratch[0]
    scratch_upper = scratch[1]
    scratch_slack = scratch[2]
    wait = scratch[3]  # sjf: wait[r] = least work the r-th remaining task waits for
    weights = scratch[4]  # the remaining devices' idle powers (energy)
    v = level_value[level]
    if policy == 0:  # sjf: every remaining task queues behind the assigned ones
        base = work_below + taken * v
        step = v
    elif policy == 1:  # ps: each other task takes at least min(T, v) = v, or its own T
        base = work_below + v * (n - below - 1)
        step = 0.0
    else:  # rr: every other task is served at least min(T_l, (k-1) q)
        cap = max(v - 1.0, 0.0) * quantum
        base = (remaining - 1) * cap
        for i in range(n):
            if point[i] >= 0:
                base += min(task_work[i], cap)
        step = 0.0
    most_work = work
    lower_sum = 0.0
    energy_sum = 0.0
    has_deadline = False
    k = 0
    for i in range(n):
        if point[i] >= 0:
            continue
        first = level if i >= device else level + 1
        low = base + best_from[i, first]
        if not low <= deadline[i]:  # also catches inf (no point left)
            return np.inf
        if deadline[i] < np.inf:
            has_deadline = True
        scratch_slack[k] = deadline[i] - low
        scratch_lower[k] = low
        scratch_upper[k] = offload_max_from[i, first]
        wait[k] = work_min_from[i, first]
        most_work += work_max_from[i, first]
        lower_sum += low
        if energy_terms:  # E_j >= P_idle·base + min_q (e_j(q) + P_idle·T_j(q))
            low_energy = idle[i] * base + energy_best_from[i, first]
            if not low_energy <= budget[i]:
                return np.inf
            energy_sum += low_energy
            weights[k] = idle[i]
        k += 1
    if step > 0:
        # the r-th remaining task in BS order (r = 0, 1, ...) waits for r remaining tasks,
        # each with at least its own least work: at least the r smallest least works
        _insertion_sort(wait, remaining)
        total_wait = 0.0
        before = 0.0
        for r in range(remaining):
            here = wait[r]
            wait[r] = before
            total_wait += before
            before += here
    else:
        total_wait = 0.0
        for r in range(remaining):
            wait[r] = 0.0
    if has_deadline and step > 0:
        # feasible only if the slacks, sorted, allow the waits (exchange argument)
        _insertion_sort(scratch_slack, remaining)
        for r in range(remaining):
            if scratch_slack[r] < wait[r]:
                return np.inf
    if energy_terms:
        # the r-th remaining task waits wait[r] more (sjf): the least weighted sum pairs
        # the largest idle power with the shortest wait (rearrangement inequality)
        weighted = 0.0
        if step > 0:
            _insertion_sort(weights, remaining)
            for r in range(remaining):
                weighted += weights[remaining - 1 - r] * wait[r]
        least_energy = spent + energy_sum + weighted
        if not least_energy <= problem.energy_cap:
            return np.inf
        if objective == ENERGY:
            return least_energy
    if objective == 0:
        return total_sum + lower_sum + total_wait
    _insertion_sort(scratch_lower, remaining)
    if step > 0:
        # anti-sorted ranks: the largest lower bound takes the first place in the queue
        for j in range(remaining):
            scratch_lower[j] += wait[remaining - 1 - j]
    if objective == 2:
        top = largest
        for j in range(remaining):
            if scratch_lower[j] > top:
                top = scratch_lower[j]
        return top
    if step > 0:
        _insertion_sort(scratch_lower, remaining)  # nearly sorted: insertion is adaptive
    squares, c = _min_sum_of_squares(
        assigned, total_sum, total_squares, scratch_lower, remaining, scratch_upper, 0
    )
    lowest_upper = np.inf
    for j in range(remaining):
        scratch_upper[j] += most_work
        if scratch_upper[j] < lowest_upper:
            lowest_upper = scratch_upper[j]
    if not c <= lowest_upper:  # an upper ramp is active at the minimiser: full sweep
        _insertion_sort(scratch_upper, remaining)
        squares, c = _min_sum_of_squares(
            assigned,
            total_sum,
            total_squares,
            scratch_lower,
            remaining,
            scratch_upper,
            remaining,
        )
    if c < mean_floor:  # every vector's mean delay is at least mean_floor: g is convex
        c = mean_floor
        squares = total_squares - 2.0 * c * total_sum + assigned * c * c
        for j in range(remaining):
            if scratch_lower[j] > c:
                squares += (scratch_lower[j] - c) ** 2
            if scratch_upper[j] < c:
                squares += (c - scratch_upper[j]) ** 2
    return max(squares, 0.0) / n


@njit(cache=True, nogil=True)
def _completion(problem, stack, device, q, level, taken, below, work_below):
    """BS completion time of ``device`` taking point ``q`` on the current level (final)."""
    point = stack.point
    task_work = stack.task_work
    work_table = problem.work
    level_value = problem.level_value
    policy = problem.policy
    quantum = problem.quantum
    n = point.shape[0]
    t = work_table[device, q]
    if t <= 0.0:
        return 0.0
    if policy == 0:  # sjf: after the lower levels and the earlier takers of this level
        return work_below + (taken + 1) * t
    if policy == 1:  # ps: min(T_l, t) = T_l below, = t for everyone else (itself included)
        return work_below + t * (n - below)
    k = level_value[level]  # rr: turns of this level
    finish = t
    for other in range(n):
        if other == device:
            continue
        if point[other] >= 0:  # a lower level, or an earlier taker of this level
            cap = k * quantum if other < device else (k - 1.0) * quantum
            finish += min(task_work[other], cap)
        elif other < device:  # deferred in this pass: more turns than k
            finish += k * quantum
        else:  # this level or a later one: more than (k - 1) turns
            finish += (k - 1.0) * quantum
    return finish


@njit(cache=True, nogil=True)
def _advance(problem, stack, level, device, taken, below, work_below, assigned):
    """The next decision after ``device`` on ``level``: ``(level, device, taken, below,
    work_below, state)`` with state 0 = a decision, 1 = every device assigned (a leaf),
    2 = a device is left without points (dead end)."""
    point = stack.point
    on_level = problem.on_level
    level_value = problem.level_value
    policy = problem.policy
    n_levels = level_value.shape[0]
    n = point.shape[0]
    nxt = device + 1
    while True:
        while nxt < n and not (point[nxt] < 0 and on_level[nxt, level]):
            nxt += 1
        if nxt < n:
            return level, nxt, taken, below, work_below, 0
        if policy != 2:
            work_below += taken * level_value[level]
        below += taken
        taken = 0
        level += 1
        nxt = 0
        if assigned == n:
            return level, nxt, taken, below, work_below, 1
        if level >= n_levels:
            return level, nxt, taken, below, work_below, 2


@njit(cache=True, nogil=True)
def _cost(problem, device, q, delay, finish):
    """``(cost, energy, feasible)`` of ``device`` taking point ``q`` with this ``delay``
    and BS completion ``finish`` (both final, Lemma 1): its cost is its delay, or its
    energy ``e(q) + P_idle·finish`` under the energy objective; infeasible past its
    deadline or its energy budget."""
    if not delay <= problem.deadline[device]:
        return delay, 0.0, False
    if not problem.energy_terms:
        return delay, 0.0, True
    energy = problem.energy_offload[device, q] + problem.idle[device] * finish
    if not energy <= problem.budget[device]:
        return delay, energy, False
    return (energy if problem.objective == ENERGY else delay), energy, True


@njit(cache=True, nogil=True)
def _leaf_value(objective, total_sum, total_squares, largest, n):
    if objective == 0 or objective == ENERGY:
        return total_sum
    if objective == 2:
        return largest
    mean = total_sum / n
    return max(total_squares / n - mean * mean, 0.0)


@njit(cache=True, nogil=True)
def cutoff(upper):
    """Nodes whose bound is at least this cannot beat ``upper`` by more than the package's
    relative tie tolerance (:data:`~dnnsplit.solvers.RELATIVE_TOLERANCE`)."""
    if not np.isfinite(upper):
        return np.inf
    return upper - RELATIVE_TOLERANCE * abs(upper)


@njit(cache=True, nogil=True)
def _expand(problem, stack, f):
    """Score the options of frame ``f`` (take a point on this level, or defer), keep those
    whose bound beats the incumbent, sorted by bound; leaves update the incumbent."""
    frames = stack.frames
    values = stack.values
    options = stack.options
    bounds = stack.bounds
    point = stack.point
    task_work = stack.task_work
    incumbent = stack.incumbent
    upper = stack.upper
    offload = problem.offload
    work_table = problem.work
    level_of = problem.level_of
    last_level = problem.last_level
    objective = problem.objective
    n = point.shape[0]
    level = frames[f, F_LEVEL]
    device = frames[f, F_DEVICE]
    taken = frames[f, F_TAKEN]
    below = frames[f, F_BELOW]
    assigned = frames[f, F_ASSIGNED]
    work_below = values[f, G_WORK_BELOW]
    total_sum = values[f, G_SUM]
    total_squares = values[f, G_SQUARES]
    largest = values[f, G_MAX]
    work = values[f, G_WORK]
    own_bound = values[f, G_BOUND]
    spent = values[f, G_ENERGY]
    count = 0
    width = offload.shape[1]
    for choice in range(width + 1):
        q = choice if choice < width else -1
        if q >= 0:
            if level_of[device, q] != level:
                continue
            finish = _completion(problem, stack, device, q, level, taken, below, work_below)
            cost, energy, feasible = _cost(
                problem, device, q, offload[device, q] + finish, finish
            )
            if not feasible:
                continue
            point[device] = q
            task_work[device] = work_table[device, q]
            c_taken = taken + 1
            c_assigned = assigned + 1
            c_sum = total_sum + cost
            c_squares = total_squares + cost * cost
            c_largest = max(largest, cost)
            c_work = work + work_table[device, q]
            c_spent = spent + energy
        else:
            if last_level[device] <= level:
                continue
            c_taken = taken
            c_assigned = assigned
            c_sum = total_sum
            c_squares = total_squares
            c_largest = largest
            c_work = work
            c_spent = spent
        c_level, c_device, c_taken, c_below, c_work_below, state = _advance(
            problem, stack, level, device, c_taken, below, work_below, c_assigned
        )
        if state == 1:
            value = _leaf_value(objective, c_sum, c_squares, c_largest, n)
            if not c_spent <= problem.energy_cap:
                value = np.inf  # over the energy cap: not a solution
            if value < cutoff(upper[0]):
                upper[0] = value
                incumbent[:] = point
            value = np.inf  # a leaf is never an open node
        elif state == 2:
            value = np.inf
        else:
            value = bound_of_state(
                problem,
                stack,
                c_level,
                c_device,
                c_taken,
                c_below,
                c_assigned,
                c_work_below,
                c_sum,
                c_squares,
                c_largest,
                c_work,
                c_spent,
            )
        if q >= 0:
            point[device] = -1
            task_work[device] = 0.0
        value = max(value, own_bound)  # a child's completions are the parent's
        if value < cutoff(upper[0]):
            # insertion by bound (ties keep the order tried: points ascending, defer last)
            k = count
            while k > 0 and bounds[f, k - 1] > value:
                bounds[f, k] = bounds[f, k - 1]
                options[f, k] = options[f, k - 1]
                k -= 1
            bounds[f, k] = value
            options[f, k] = q
            count += 1
    frames[f, F_OPTIONS] = count
    frames[f, F_NEXT] = 0
    frames[f, F_APPLIED] = -2


@njit(cache=True, nogil=True)
def run_search(problem, stack, budget):
    """Run the depth-first search for at most ``budget`` node expansions.

    ``control = [depth, nodes]``; ``depth = -1`` when the search is exhausted (the
    incumbent is then optimal). The caller seeds frame 0 (see :func:`score_root`).
    """
    frames = stack.frames
    values = stack.values
    options = stack.options
    bounds = stack.bounds
    control = stack.control
    point = stack.point
    task_work = stack.task_work
    upper = stack.upper
    offload = problem.offload
    work_table = problem.work
    depth = control[0]
    expanded = 0
    while expanded < budget and depth >= 0:
        f = depth
        device = frames[f, F_DEVICE]
        if frames[f, F_APPLIED] >= 0:
            point[device] = -1
            task_work[device] = 0.0
        frames[f, F_APPLIED] = -2
        nxt = frames[f, F_NEXT]
        if nxt >= frames[f, F_OPTIONS] or not bounds[f, nxt] < cutoff(upper[0]):
            depth -= 1
            continue
        frames[f, F_NEXT] = nxt + 1
        q = options[f, nxt]
        level = frames[f, F_LEVEL]
        taken = frames[f, F_TAKEN]
        below = frames[f, F_BELOW]
        assigned = frames[f, F_ASSIGNED]
        work_below = values[f, G_WORK_BELOW]
        total_sum = values[f, G_SUM]
        total_squares = values[f, G_SQUARES]
        largest = values[f, G_MAX]
        work = values[f, G_WORK]
        spent = values[f, G_ENERGY]
        if q >= 0:
            finish = _completion(problem, stack, device, q, level, taken, below, work_below)
            cost, energy, _ = _cost(problem, device, q, offload[device, q] + finish, finish)
            point[device] = q
            task_work[device] = work_table[device, q]
            frames[f, F_APPLIED] = q
            taken += 1
            assigned += 1
            total_sum += cost
            total_squares += cost * cost
            largest = max(largest, cost)
            work += work_table[device, q]
            spent += energy
        c_level, c_device, c_taken, c_below, c_work_below, state = _advance(
            problem, stack, level, device, taken, below, work_below, assigned
        )
        if state != 0:  # leaves were scored when the frame was expanded
            continue
        g = f + 1
        frames[g, F_LEVEL] = c_level
        frames[g, F_DEVICE] = c_device
        frames[g, F_TAKEN] = c_taken
        frames[g, F_BELOW] = c_below
        frames[g, F_ASSIGNED] = assigned
        values[g, G_WORK_BELOW] = c_work_below
        values[g, G_SUM] = total_sum
        values[g, G_SQUARES] = total_squares
        values[g, G_MAX] = largest
        values[g, G_WORK] = work
        values[g, G_BOUND] = bounds[f, nxt]
        values[g, G_ENERGY] = spent
        _expand(problem, stack, g)
        depth = g
        expanded += 1
    control[0] = depth
    control[1] += expanded
    return depth < 0


@njit(cache=True, nogil=True)
def score_root(problem, stack):
    """Make frame 0 the root (no device assigned), score its options, and return how
    many can beat the incumbent (0: none)."""
    stack.point[:] = -1
    stack.task_work[:] = 0.0
    level, device, taken, below, work_below, _ = _advance(problem, stack, 0, -1, 0, 0, 0.0, 0)
    frames = stack.frames
    values = stack.values
    frames[0, :] = 0
    values[0, :] = 0.0
    frames[0, F_LEVEL] = level
    frames[0, F_DEVICE] = device
    frames[0, F_TAKEN] = taken
    frames[0, F_BELOW] = below
    values[0, G_WORK_BELOW] = work_below
    values[0, G_MAX] = -np.inf
    values[0, G_BOUND] = bound_of_state(
        problem, stack, level, device, taken, below, 0, work_below, 0.0, 0.0, -np.inf, 0.0, 0.0
    )
    _expand(problem, stack, 0)
    return frames[0, F_OPTIONS]
