"""Compiled loops of :class:`~dnnsplit.solvers._moves.IncrementalVarianceMoves`.

:func:`rebuild` recomputes the delays, the BS order and the prefix sums of the current
vector in O(N + K) (a counting sort by work value); :func:`variance_scores` scores every
candidate move in O(1) each after O(K log N) binary searches. The formulas and their
derivation: ``docs/solvers.md``, "Incremental scoring".
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["POLICY_CODES", "prefix_sums", "rebuild", "variance_scores"]

#: The BS policies these kernels serve, by the code they take (``SJF``: shortest job
#: first, ties by index; ``PS``: processor sharing).
SJF = 0
PS = 1
POLICY_CODES = {"sjf": SJF, "ps": PS}


@njit(cache=True, nogil=True)
def rebuild(vector, state, policy):
    """Order the devices by ``(work, index)`` and fill their delays (eq. 2–3).

    ``vector = (code, values, offload)``: ``code[i]`` is the index of device i's work in
    the sorted distinct ``values``, ``offload[i]`` its arrival ``D^L + D^tr``. Fills
    ``state = (order, position, sorted_work, delays)``. ``policy`` is a
    :data:`POLICY_CODES` code. The BS completion times follow
    :func:`dnnsplit.model.sjf_completion` / :func:`~dnnsplit.model.ps_completion`
    operation for operation (running sum over the order), so the delays are the model's to
    the last bit.
    """
    code, values, offload = vector
    order, position, sorted_work, delays = state
    ps = policy == PS
    n = code.shape[0]
    k = values.shape[0]
    start = np.zeros(k + 1, dtype=np.int64)
    for i in range(n):
        start[code[i] + 1] += 1
    for c in range(k):
        start[c + 1] += start[c]
    for i in range(n):  # stable: devices in index order within a value
        c = code[i]
        order[start[c]] = i
        position[i] = start[c]
        start[c] += 1
    running = 0.0
    for r in range(n):
        i = order[r]
        t = values[code[i]]
        sorted_work[r] = t
        running += t
        if ps:
            finish = (running - t) + (n - r) * t
        else:
            finish = running
        remote = finish if t > 0 else 0.0
        delays[i] = offload[i] + remote


@njit(cache=True, nogil=True)
def prefix_sums(ordered, prefix, policy):
    """Prefix sums over the order of T, E, E² (and T², E·T for ps); index r = first r.

    ``ordered = (order, sorted_work, centred)``; ``prefix`` is a (5, N+1) array whose
    rows receive the sums of T, E, E², T² and E·T.
    """
    order, sorted_work, centred = ordered
    ps = policy == PS
    pre_t, pre_e, pre_e2, pre_t2, pre_et = prefix[0], prefix[1], prefix[2], prefix[3], prefix[4]
    n = order.shape[0]
    pre_t[0] = pre_e[0] = pre_e2[0] = pre_t2[0] = pre_et[0] = 0.0
    for r in range(n):
        t = sorted_work[r]
        e = centred[order[r]]
        pre_t[r + 1] = pre_t[r] + t
        pre_e[r + 1] = pre_e[r] + e
        pre_e2[r + 1] = pre_e2[r] + e * e
        if ps:
            pre_t2[r + 1] = pre_t2[r] + t * t
            pre_et[r + 1] = pre_et[r] + e * t


@njit(cache=True, nogil=True)
def variance_scores(candidates, current, prefix, shift, policy, out):
    """Variance after each candidate move into ``out``; ``inf`` where a candidate is not
    valid. Candidates are device-major.

    ``candidates = (dev, cand_code, cand_offload, valid)``: device ``dev[m]`` to work
    code ``cand_code[m]``, arriving at ``cand_offload[m]``. ``current = (code, values,
    position, sorted_work, centred)``: the current vector (see :func:`rebuild`) and its
    delays less ``shift``. ``prefix``: :func:`prefix_sums`'s. ``policy``: a
    :data:`POLICY_CODES` code.
    """
    dev, cand_code, cand_offload, valid = candidates
    code, values, position, sorted_work, centred = current
    pre_t, pre_e, pre_e2, pre_t2, pre_et = prefix[0], prefix[1], prefix[2], prefix[3], prefix[4]
    ps = policy == PS
    n = code.shape[0]
    k = values.shape[0]
    left = np.searchsorted(sorted_work, values, side="left")
    right = np.searchsorted(sorted_work, values, side="right")
    same_before = np.zeros(k, dtype=np.int64)  # devices j < current i, per work value
    counted = 0
    sum_e = pre_e[n]
    sum_e2 = pre_e2[n]
    for m in range(dev.shape[0]):
        i = dev[m]
        while counted < i:
            same_before[code[counted]] += 1
            counted += 1
        if not valid[m]:
            out[m] = np.inf
            continue
        a_code = code[i]
        b_code = cand_code[m]
        a = values[a_code]
        b = values[b_code]
        e_own = centred[i]
        if ps:
            lo_code = min(a_code, b_code)
            hi_code = max(a_code, b_code)
            lo = values[lo_code]
            hi = values[hi_code]
            sign = 1.0 if b > a else (-1.0 if b < a else 0.0)
            z1 = right[lo_code]
            z2 = max(left[hi_code], z1)
            middle = z2 - z1
            t_mid = pre_t[z2] - pre_t[z1]
            t2_mid = pre_t2[z2] - pre_t2[z1]
            e_mid = pre_e[z2] - pre_e[z1]
            et_mid = pre_et[z2] - pre_et[z1]
            down = b < a  # device i itself is in the top range (T_i = a = hi)
            top = n - z2 - (1 if down else 0)
            e_top = sum_e - pre_e[z2] - (e_own if down else 0.0)
            width = hi - lo
            sum_d = sign * (t_mid - lo * middle + width * top)
            sum_ed = sign * (et_mid - lo * e_mid + width * e_top)
            sum_d2 = t2_mid - 2.0 * lo * t_mid + lo * lo * middle + width * width * top
            below = left[b_code]
            remote = b + pre_t[below] + b * (n - below) - lo if b > 0 else 0.0
        else:
            pos = position[i]
            # devices whose key (T_j, j) is below (b, i), device i included
            r_b = left[b_code] + same_before[b_code]
            own_after_b = pos >= r_b
            count_a = n - 1 - pos
            count_b = n - r_b - (1 if own_after_b else 0)
            count_ab = n - max(pos + 1, r_b)
            e_a = sum_e - pre_e[pos + 1]
            e_b = sum_e - pre_e[r_b] - (e_own if own_after_b else 0.0)
            sum_d = b * count_b - a * count_a
            sum_ed = b * e_b - a * e_a
            sum_d2 = a * a * count_a + b * b * count_b - 2.0 * a * b * count_ab
            ahead = pre_t[r_b] - (0.0 if own_after_b else a)
            remote = b + ahead if b > 0 else 0.0
        e_new = cand_offload[m] + remote - shift
        total = sum_e - e_own + sum_d + e_new
        squares = sum_e2 - e_own * e_own + 2.0 * sum_ed + sum_d2 + e_new * e_new
        mean = total / n
        out[m] = max(squares / n - mean * mean, 0.0)
