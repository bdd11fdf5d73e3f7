"""Compiled inner loop of exhaustive search for the ``sjf`` and ``ps`` snapshot models.

Enumerating ``Π_i (s̃_i + 1)`` partition vectors (up to 9^10 ≈ 3.5·10⁹ for Fig. 5) needs
tens of millions of vectors per second. The trick: enumerate the last device innermost.
For a fixed choice of the other N−1 devices ("the outer configuration") their residual
tasks are sorted once, and their delays, prefix and suffix sums computed once; each of the
last device's S+1 choices then only inserts one task into that sorted queue, which shifts
the completion times of the tasks ranked after it by the same amount (sjf) or by
``min(T_j, x)`` (ps). Sum, sum of squares, largest delay and largest deadline slack of
the N delays follow from the precomputed prefix and suffix sums and maxima in O(log N)
work, so the cost per vector is a handful of operations.

Order of enumeration: lexicographic in ``(p_0, …, p_{N-1})``; among equal objective values
the first vector in that order wins (strict ``<``), whatever the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["OBJECTIVE_CODES", "POLICY_CODES", "exhaustive_snapshot"]

#: The objective codes of the kernel: total (eq. 4), variance (eq. 8), the largest delay.
OBJECTIVE_CODES = {"total": 0, "variance": 1, "max": 2}
#: The BS policies of the kernel, by code: shortest job first (ties by index), processor
#: sharing.
SJF = 0
PS = 1
POLICY_CODES = {"sjf": SJF, "ps": PS}


@njit(cache=True, nogil=True)
def _scan_block(problem, policy, objective, start, stop, tol):
    """Best vector among outer configurations ``start..stop-1`` (see module docstring).

    ``problem = (offload, work, limits, deadline)``; ``policy`` and ``objective`` are
    codes of :data:`POLICY_CODES` and :data:`OBJECTIVE_CODES`.
    """
    offload, work, limits, deadline = problem
    policy_ps = policy == PS
    n = offload.shape[0]
    m = n - 1
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

    last = n - 1
    inner_count = limits[last] + 1
    best_value = np.inf
    best_outer = -1
    best_inner = -1

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
                d_in = a + (pre_t[r] + (after + 1) * x if x > 0 else 0.0)
                total = base_sum + pre_t[r] + after * x + d_in
                slack = max(pre_max_b[r], suf_max[r] + x)
            else:
                d_in = a + (pre_t[r] + x if x > 0 else 0.0)
                total = base_sum + after * x + d_in
                slack = max(pre_max_b[r], suf_max[r] + x)
            slack = max(slack, d_in - deadline[last])
            if slack > tol:
                continue
            if objective == 1:
                squares = pre_sq_b[r] + suf_sq[r] + 2.0 * x * suf_d[r] + after * x * x
                squares += d_in * d_in
                mean = total / n
                value = squares / n - mean * mean
            elif objective == 2:
                value = max(pre_top[r], suf_top[r] + x, d_in)
            else:
                value = total
            if value < best_value:
                best_value = value
                best_outer = outer
                best_inner = p
        # odometer: next outer configuration, last outer device fastest
        for j in range(m - 1, -1, -1):
            digits[j] += 1
            if digits[j] <= limits[j]:
                break
            digits[j] = 0
    return best_value, best_outer, best_inner


@njit(cache=True, parallel=True)
def _scan_parallel(problem, policy, objective, start, stop, tol, parts):
    values = np.full(parts, np.inf)
    outers = np.full(parts, -1, dtype=np.int64)
    inners = np.full(parts, -1, dtype=np.int64)
    span = stop - start
    for part in prange(parts):
        lo = start + span * part // parts
        hi = start + span * (part + 1) // parts
        if hi > lo:
            v, o, i = _scan_block(problem, policy, objective, lo, hi, tol)
            values[part] = v
            outers[part] = o
            inners[part] = i
    return values, outers, inners


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
) -> tuple[float, int, int]:
    """Best ``(value, outer index, last device's p)`` over outer configurations
    ``start..stop-1``; ``outer index = -1`` when no vector there is feasible.

    ``offload`` and ``deadline`` may be shifted by a common constant (the variance does not
    change, the sum changes by N times it and the largest delay by it), which keeps the sum
    of squares well conditioned; the caller undoes the shift.
    """
    problem = (
        np.ascontiguousarray(offload, dtype=np.float64),
        np.ascontiguousarray(work, dtype=np.float64),
        np.ascontiguousarray(limits, dtype=np.int64),
        np.ascontiguousarray(deadline, dtype=np.float64),
    )
    values, outers, inners = _scan_parallel(
        problem,
        POLICY_CODES[policy],
        OBJECTIVE_CODES[objective],
        int(start),
        int(stop),
        float(tolerance),
        int(parts),
    )
    best = -1
    for part in range(parts):  # parts are in enumeration order: strict < keeps the first
        if outers[part] >= 0 and (best < 0 or values[part] < values[best]):
            best = part
    if best < 0:
        return float("inf"), -1, -1
    return float(values[best]), int(outers[best]), int(inners[best])
