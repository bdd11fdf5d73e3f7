"""Compiled kernels: exhaustive search for the ``sjf`` and ``ps`` snapshot models, and the
round-robin completion times of eq. (2) (:func:`rr_finish`, at the end).

Enumerating ``Π_i (s̃_i + 1)`` partition vectors (up to 9^10 ≈ 3.5·10⁹ for Fig. 5) needs
tens of millions of vectors per second. The trick: enumerate the last device innermost.
For a fixed choice of the other N−1 devices their residual tasks are sorted once, with
prefix and suffix sums; each of the last device's S+1 choices then inserts one task into
that sorted queue, which shifts the completion times of the tasks after it by the same
amount (sjf) or by ``min(T_j, x)`` (ps). Sum, sum of squares, largest delay and largest
deadline slack follow in O(log N) work. Total energy moves the same way (docs/model.md,
"Energy"): by ``x·Σ_{k≥r} w_k`` (ps: plus ``Σ_{k<r} w_k T_k``), ``w_k = P_idle``. Energy
budgets hold before the inserted task by a prefix maximum, after it by a pass over those
tasks (only when some device has a budget).

**Energy caps**: for each cap ``ε_k`` of a sorted list the kernel keeps the best vector
whose total energy falls in ``(ε_{k-1}, ε_k]``; the best within ``ε_k`` is the best over
bins 1..k (:func:`exhaustive_snapshot`). One cap of +inf is no cap; many give the
ε-constraint front (:func:`dnnsplit.solvers.exhaustive.exhaustive_front`).

Order: lexicographic in ``(p_0, …, p_{N-1})``; among equal objective values the first
vector wins (strict ``<``), whatever the number of threads. With ``secondary``, equal
values are first told apart by the other quantity (total energy for a delay objective,
total delay for energy), so that a front's points are not dominated by a tie.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["OBJECTIVE_CODES", "POLICY_CODES", "exhaustive_snapshot"]

#: The objective codes of the kernel: total (eq. 4), variance (eq. 8), the largest delay,
#: and the total device energy.
OBJECTIVE_CODES = {"total": 0, "variance": 1, "max": 2, "energy": 3}
ENERGY = 3
#: The BS policies of the kernel, by code: shortest job first (ties by index), processor
#: sharing.
SJF = 0
PS = 1
POLICY_CODES = {"sjf": SJF, "ps": PS}


@njit(cache=True, nogil=True)
def _scan_block(problem, energy, policy, objective, flags, start, stop, tol):
    """Best vector of each energy bin among outer configurations ``start..stop-1`` (see the
    module docstring).

    ``problem = (offload, work, limits, deadline)``; ``energy = (e_offload, idle, budget,
    caps)``; ``policy`` and ``objective`` are codes of :data:`POLICY_CODES` and
    :data:`OBJECTIVE_CODES`; ``flags = (use_energy, has_budgets, secondary)``. Returns the
    arrays ``(value, other, outer, inner)`` of the best vector per bin (``outer = -1``:
    none), ``other`` being the quantity ties are told apart by.
    """
    offload, work, limits, deadline = problem
    e_offload, idle, budget, caps = energy
    use_energy, has_budgets, secondary = flags
    policy_ps = policy == PS
    n = offload.shape[0]
    m = n - 1
    bins = caps.shape[0]
    digits = np.zeros(max(m, 1), dtype=np.int64)
    rest = start
    for j in range(m - 1, -1, -1):
        radix = limits[j] + 1
        digits[j] = rest % radix
        rest //= radix

    order = np.empty(max(m, 1), dtype=np.int64)
    st = np.empty(m + 1)
    sd = np.empty(m + 1)  # delay of sorted task k without the last device
    sb = np.empty(m + 1)  # ps: sd + st (a task ranked before the inserted one gains st)
    pre_t = np.zeros(m + 1)  # Σ_{k<r} st[k]
    pre_sq_b = np.zeros(m + 1)  # ps: Σ_{k<r} sb[k]²
    pre_max_b = np.full(m + 1, -np.inf)  # ps: max_{k<r} sb[k] − dl ; sjf: max_{k<r} sd − dl
    suf_d = np.zeros(m + 1)  # Σ_{k≥r} sd[k]
    suf_sq = np.zeros(m + 1)  # Σ_{k≥r} sd[k]²
    suf_max = np.full(m + 1, -np.inf)  # max_{k≥r} sd[k] − dl[k]
    pre_top = np.full(m + 1, -np.inf)  # max_{k<r} of the delay kept (sjf: sd, ps: sb)
    suf_top = np.full(m + 1, -np.inf)  # max_{k≥r} sd[k]
    sdl = np.empty(m + 1)
    se = np.empty(m + 1)  # energy of sorted task k without the last device
    sw = np.empty(m + 1)  # its idle power
    sbud = np.empty(m + 1)  # its energy budget
    suf_w = np.zeros(m + 1)  # Σ_{k≥r} sw[k]
    pre_wt = np.zeros(m + 1)  # ps: Σ_{k<r} sw[k]·st[k]
    pre_max_e = np.full(m + 1, -np.inf)  # max_{k<r} of (energy kept − budget)

    last = n - 1
    inner_count = limits[last] + 1
    binned = bins > 1 or caps[0] < np.inf
    best_value = np.full(bins, np.inf)
    best_other = np.full(bins, np.inf)
    best_outer = np.full(bins, -1, dtype=np.int64)
    best_inner = np.full(bins, -1, dtype=np.int64)

    for outer in range(start, stop):
        # gather and insertion-sort the outer devices by (work, index)
        for j in range(m):
            k = j
            w = work[j, digits[j]]
            while k > 0 and work[order[k - 1], digits[order[k - 1]]] > w:
                order[k] = order[k - 1]
                k -= 1
            order[k] = j
        running = 0.0
        base_energy = 0.0
        for k in range(m):
            j = order[k]
            t = work[j, digits[j]]
            st[k] = t
            sdl[k] = deadline[j]
            a = offload[j, digits[j]]
            if policy_ps:
                remote = running + (m - k) * t if t > 0 else 0.0
            else:
                remote = running + t if t > 0 else 0.0
            sd[k] = a + remote
            sb[k] = sd[k] + t
            running += t
            if use_energy:
                se[k] = e_offload[j, digits[j]] + idle[j] * remote
                sw[k] = idle[j]
                sbud[k] = budget[j]
                base_energy += se[k]
        # prefix (k < r) and suffix (k >= r) aggregates
        pre_t[0] = 0.0
        pre_sq_b[0] = 0.0
        pre_max_b[0] = -np.inf
        pre_top[0] = -np.inf
        for k in range(m):
            pre_t[k + 1] = pre_t[k] + st[k]
            if policy_ps:
                pre_sq_b[k + 1] = pre_sq_b[k] + sb[k] * sb[k]
                pre_max_b[k + 1] = max(pre_max_b[k], sb[k] - sdl[k])
            else:
                pre_sq_b[k + 1] = pre_sq_b[k] + sd[k] * sd[k]
                pre_max_b[k + 1] = max(pre_max_b[k], sd[k] - sdl[k])
        suf_d[m] = 0.0
        suf_sq[m] = 0.0
        suf_max[m] = -np.inf
        suf_top[m] = -np.inf
        for k in range(m - 1, -1, -1):
            suf_d[k] = suf_d[k + 1] + sd[k]
            suf_sq[k] = suf_sq[k + 1] + sd[k] * sd[k]
            suf_max[k] = max(suf_max[k + 1], sd[k] - sdl[k])
        if objective == 2:  # the largest delay: prefix and suffix maxima of what stays
            for k in range(m):
                pre_top[k + 1] = max(pre_top[k], sb[k] if policy_ps else sd[k])
            for k in range(m - 1, -1, -1):
                suf_top[k] = max(suf_top[k + 1], sd[k])
        if use_energy:
            suf_w[m] = 0.0
            for k in range(m - 1, -1, -1):
                suf_w[k] = suf_w[k + 1] + sw[k]
            pre_wt[0] = 0.0
            pre_max_e[0] = -np.inf
            for k in range(m):
                gain = sw[k] * st[k] if policy_ps else 0.0
                pre_wt[k + 1] = pre_wt[k] + gain
                pre_max_e[k + 1] = max(pre_max_e[k], se[k] + gain - sbud[k])
        base_sum = suf_d[0]

        for p in range(inner_count):
            x = work[last, p]
            a = offload[last, p]
            # rank r of the inserted task: sjf after equal work (largest index), ps any
            r = 0
            if policy_ps:
                while r < m and st[r] < x:
                    r += 1
            else:
                while r < m and st[r] <= x:
                    r += 1
            after = m - r
            if policy_ps:
                remote_in = pre_t[r] + (after + 1) * x if x > 0 else 0.0
                d_in = a + remote_in
                total = base_sum + pre_t[r] + after * x + d_in
                slack = max(pre_max_b[r], suf_max[r] + x)
            else:
                remote_in = pre_t[r] + x if x > 0 else 0.0
                d_in = a + remote_in
                total = base_sum + after * x + d_in
                slack = max(pre_max_b[r], suf_max[r] + x)
            slack = max(slack, d_in - deadline[last])
            if slack > tol:
                continue
            spent = 0.0
            if use_energy:
                e_in = e_offload[last, p] + idle[last] * remote_in
                shift = x * suf_w[r] + (pre_wt[r] if policy_ps else 0.0)
                spent = base_energy + shift + e_in
                if has_budgets:
                    over = max(pre_max_e[r], e_in - budget[last])
                    k = r
                    while over <= 0.0 and k < m:
                        over = max(over, se[k] + sw[k] * x - sbud[k])
                        k += 1
                    if over > 0.0:
                        continue
            if objective == 1:
                squares = pre_sq_b[r] + suf_sq[r] + 2.0 * x * suf_d[r] + after * x * x
                squares += d_in * d_in
                mean = total / n
                value = squares / n - mean * mean
            elif objective == 2:
                value = max(pre_top[r], suf_top[r] + x, d_in)
            elif objective == ENERGY:
                value = spent
            else:
                value = total
            # the bin: the first cap at least the energy (one cap of +inf: no cap)
            b = 0
            if binned:
                lo, hi = 0, bins
                while lo < hi:
                    mid = (lo + hi) // 2
                    if caps[mid] < spent:
                        lo = mid + 1
                    else:
                        hi = mid
                b = lo
                if b == bins:
                    continue
            if value < best_value[b] or (secondary and value == best_value[b]):
                other = total if objective == ENERGY else spent
                if value < best_value[b] or other < best_other[b]:
                    best_value[b] = value
                    best_other[b] = other
                    best_outer[b] = outer
                    best_inner[b] = p
        # odometer: next outer configuration, last outer device fastest
        for j in range(m - 1, -1, -1):
            digits[j] += 1
            if digits[j] <= limits[j]:
                break
            digits[j] = 0
    return best_value, best_other, best_outer, best_inner


@njit(cache=True, parallel=True)
def _scan_parallel(problem, energy, policy, objective, flags, start, stop, tol, parts):
    bins = energy[3].shape[0]
    values = np.full((parts, bins), np.inf)
    others = np.full((parts, bins), np.inf)
    outers = np.full((parts, bins), -1, dtype=np.int64)
    inners = np.full((parts, bins), -1, dtype=np.int64)
    span = stop - start
    for part in prange(parts):
        lo = start + span * part // parts
        hi = start + span * (part + 1) // parts
        if hi > lo:
            v, w, o, i = _scan_block(problem, energy, policy, objective, flags, lo, hi, tol)
            values[part] = v
            others[part] = w
            outers[part] = o
            inners[part] = i
    return values, others, outers, inners


#: The best vector found: ``(value, other, outer index, last device's p)``; outer -1: none.
Best = tuple[float, float, int, int]
NONE: Best = (float("inf"), float("inf"), -1, -1)


def better(a: Best, b: Best, inner_count: int, secondary: bool) -> bool:
    """Whether found vector ``a`` beats ``b``: a lower value; on a tie (with ``secondary``)
    a lower other quantity; then the earlier vector in enumeration order."""
    if a[2] < 0:
        return False
    if b[2] < 0:
        return True
    key_a = (a[0], a[1] if secondary else 0.0, a[2] * inner_count + a[3])
    key_b = (b[0], b[1] if secondary else 0.0, b[2] * inner_count + b[3])
    return key_a < key_b


def exhaustive_snapshot(
    offload: np.ndarray,
    work: np.ndarray,
    limits: np.ndarray,
    deadline: np.ndarray,
    *,
    policy: str,
    objective: str,
    start: int,
    stop: int,
    tolerance: float,
    parts: int,
    energy: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    caps: np.ndarray | None = None,
    secondary: bool = False,
) -> list[Best]:
    """For each cap, the best ``(value, other, outer index, last device's p)`` over outer
    configurations ``start..stop-1`` with total energy at most that cap (``outer index =
    -1`` when no vector there is feasible); one cap of +inf (the default) is no cap.

    ``offload`` and ``deadline`` may be shifted by a common constant (the variance does not
    change, the sum changes by N times it and the largest delay by it), which keeps the sum
    of squares well conditioned; the caller undoes the shift. ``energy = (e_offload, idle,
    budget)``: each device's energy before its BS wait per point (columns as ``work``'s),
    its idle power and its budget (tolerance included; +inf: none), needed for the
    ``energy`` objective, budgets, caps and ``secondary``; ``caps`` sorted, tolerance
    included.
    """
    n, width = np.shape(work)
    caps_array = np.array([np.inf] if caps is None else caps, dtype=np.float64)
    if energy is None:
        energy = (np.zeros((n, width)), np.zeros(n), np.full(n, np.inf))
        use_energy = False
    else:
        use_energy = True
    e_offload, idle, budget = energy
    has_budgets = bool(np.isfinite(budget).any())
    problem = (
        np.ascontiguousarray(offload, dtype=np.float64),
        np.ascontiguousarray(work, dtype=np.float64),
        np.ascontiguousarray(limits, dtype=np.int64),
        np.ascontiguousarray(deadline, dtype=np.float64),
    )
    energy_arrays = (
        np.ascontiguousarray(e_offload, dtype=np.float64),
        np.ascontiguousarray(idle, dtype=np.float64),
        np.ascontiguousarray(budget, dtype=np.float64),
        np.ascontiguousarray(caps_array),
    )
    values, others, outers, inners = _scan_parallel(
        problem,
        energy_arrays,
        POLICY_CODES[policy],
        OBJECTIVE_CODES[objective],
        (use_energy, has_budgets, bool(secondary)),
        int(start),
        int(stop),
        float(tolerance),
        int(parts),
    )
    inner_count = int(limits[-1]) + 1
    found: list[Best] = []
    best: Best = NONE
    for b in range(caps_array.size):  # bin b, then every bin below it
        for part in range(parts):
            candidate = (
                float(values[part, b]),
                float(others[part, b]),
                int(outers[part, b]),
                int(inners[part, b]),
            )
            if better(candidate, best, inner_count, secondary):
                best = candidate
        found.append(best)
    return found


# --- round-robin completion times (eq. 2, rr) ----------------------------------------------


@njit(cache=True, nogil=True)
def _block_sum(values, start, count):
    """``values[start:start+count].sum()`` for ``count ≤ 128`` in NumPy's order: one running
    sum below 8 values, eight lanes from 8 on."""
    if count < 8:
        total = 0.0
        for k in range(start, start + count):
            total += values[k]
        return total
    lanes = values[start : start + 8].copy()
    k = 8
    whole = count - count % 8
    while k < whole:
        for lane in range(8):
            lanes[lane] += values[start + k + lane]
        k += 8
    total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + (
        (lanes[4] + lanes[5]) + (lanes[6] + lanes[7])
    )
    while k < count:
        total += values[start + k]
        k += 1
    return total


@njit(cache=True, nogil=True)
def _pairwise_sum(values, count):
    """``values[:count].sum()`` in NumPy's own order (pairwise: blocks of up to 128 by
    :func:`_block_sum`, larger runs as the sum of their two halves, the first half a
    multiple of 8 long), so that a compiled sum equals NumPy's bit for bit. The halving
    runs on an explicit stack (numba cannot cache a recursive function)."""
    if count <= 128:
        return _block_sum(values, 0, count)
    starts = np.empty(64, np.int64)
    counts = np.empty(64, np.int64)
    lefts = np.empty(64)
    left_done = np.zeros(64, np.bool_)
    top = 0
    starts[0], counts[0] = 0, count
    while True:
        if counts[top] > 128:  # split: the first half first
            half = counts[top] // 2
            half -= half % 8
            starts[top + 1], counts[top + 1], left_done[top + 1] = starts[top], half, False
            top += 1
            continue
        value = _block_sum(values, starts[top], counts[top])
        top -= 1
        while top >= 0 and left_done[top]:  # both halves done: add them, climb
            value = lefts[top] + value
            top -= 1
        if top < 0:
            return value
        lefts[top], left_done[top] = value, True  # the first half done: the second half
        half = counts[top] // 2
        half -= half % 8
        starts[top + 1], counts[top + 1] = starts[top] + half, counts[top] - half
        left_done[top + 1] = False
        top += 1


@njit(cache=True, nogil=True)
def rr_finish(work, quantum, guard):
    """Round-robin completion times of each row of ``work`` (M, N), eq. (2)'s formula of
    :func:`dnnsplit.model.rr_completion` with ``k_i = max(ceil(T_i/q − guard), 1)``; 0 where
    ``T_i ≤ 0``. O(N²) time per row and O(N) memory; the sum over j runs in NumPy's order,
    so the result equals the broadcast formula exactly."""
    rows, n = work.shape
    finish = np.zeros((rows, n))
    served = np.empty(n)
    for row in range(rows):
        for i in range(n):
            own = work[row, i]
            if not own > 0.0:
                continue
            turns = max(np.ceil(own / quantum - guard), 1.0)
            before = turns * quantum  # what j < i receives before i finishes
            after = max(turns - 1.0, 0.0) * quantum  # what j > i receives
            for j in range(n):
                other = work[row, j]
                if j < i:
                    served[j] = other if other < before else before
                elif j > i:
                    served[j] = other if other < after else after
                else:
                    served[j] = 0.0
            finish[row, i] = own + _pairwise_sum(served, n)
    return finish
