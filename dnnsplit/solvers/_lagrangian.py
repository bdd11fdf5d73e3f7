"""Compiled kernels of the index-order Lagrangian bound (``sjf`` variance, count search):
``docs/optimal.md``, "The index-order bound" (Lemmas 7 and 8).

:func:`class_row` computes a class's ``G_j(n, B)``, :func:`fill` chains the classes over
(class, devices placed, bucket of ``B``), :func:`ascend` seeks the prices ``λ`` by
subgradient ascent. Every kernel reads one :class:`Members` tuple. Arrays ``H`` are indexed
``[class, devices placed, bucket]``; bucket ``b`` holds the class starts ``B`` in
``[b·h, (b+1)·h)``, the last one every ``B ≥ (nb−1)·h``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from dnnsplit.solvers._bounds import parabola_bound

__all__ = [
    "Members",
    "ascend",
    "class_row",
    "expand",
    "fill",
    "leaf_value",
    "lookup",
]

#: Margin (in buckets) by which a bucket index computed in floating point may be off: a
#: lookup takes the least over the buckets within it, so rounding never raises a bound.
EDGE = 1e-9
#: The least distance to its target a subgradient step aims at, relative to the target
#: (a step never vanishes before the ascent's evaluations are spent).
LEAST_STEP = 1e-9


class Members(NamedTuple):
    """The devices of each class, in index order, as the kernels read them.

    Attributes
    ----------
    device : numpy.ndarray
        ``device[j, t]``: the t-th member of class j by index (-1 past the last), (J, N).
    size : numpy.ndarray
        Members of each class, (J,).
    points : numpy.ndarray
        The class's points (``points[j, q]``; -1 past the last), (J, P).
    offload : numpy.ndarray
        ``a`` of member t at the class's q-th point, inf where not allowed, (J, N, P).
    deadline : numpy.ndarray
        Deadline (with the model's tolerance; inf: none) of member t, (J, N).
    work : numpy.ndarray
        BS work of each class, increasing (the first may be 0), (J,).
    top : numpy.ndarray
        Most devices a class may hold (its members, and the cap of
        :func:`dnnsplit.solvers._bounds_search.count_caps`), (J,).
    before : numpy.ndarray
        The most work of a class served before class j (0 for j = 0), (J,).
    free : int
        Devices that may sit in a zero-work class (0 if there is none).
    least : float
        The least positive class work.
    """

    device: np.ndarray
    size: np.ndarray
    points: np.ndarray
    offload: np.ndarray
    deadline: np.ndarray
    work: np.ndarray
    top: np.ndarray
    before: np.ndarray
    free: int
    least: float


@njit(cache=True, nogil=True)
def _dist2(target, lo, hi):
    """``dist(target, [lo, hi])²``: the least ``(a + s − c)²`` over BS delays s in the range,
    with ``target = c − a``."""
    if target < lo:
        return (lo - target) ** 2
    if target > hi:
        return (target - hi) ** 2
    return 0.0


@njit(cache=True, nogil=True)
def _slot(m, j, t, lo, hi, c):
    """The least ``(D − c)²`` of member t of class j whose BS delay lies in ``[lo, hi]``
    (inf when no point of the class is allowed or meets the deadline at ``lo``)."""
    best = np.inf
    for q in range(m.offload.shape[2]):
        a = m.offload[j, t, q]
        if a + lo <= m.deadline[j, t]:
            d = _dist2(c - a, lo, hi)
            if d < best:
                best = d
    return best


@njit(cache=True, nogil=True)
def class_row(m, j, lo0, hi0, c, lam, top, out):
    """``out[k]`` for k = 0..top: the least ``Σ (cost − λ_i)`` over k members of class j
    taken in index order, the k-th with its BS delay in ``[lo0 + k·w_j, hi0 + k·w_j]``
    (``lo0 = hi0 = B`` gives ``G_j(k, B)``; a range gives its least over the range; a class
    of zero work has BS delay 0 whatever the range). One pass over the members,
    O(members · top · points)."""
    w = m.work[j]
    if w <= 0.0:
        lo0 = 0.0
        hi0 = 0.0
    out[0] = 0.0
    for k in range(1, top + 1):
        out[k] = np.inf
    reach = 0
    for t in range(m.size[j]):
        price = lam[m.device[j, t]]
        for k in range(min(top, reach + 1), 0, -1):
            prev = out[k - 1]
            if prev == np.inf:
                continue
            cost = _slot(m, j, t, lo0 + k * w, hi0 + k * w, c)
            if cost < np.inf:
                value = prev + cost - price
                if value < out[k]:
                    out[k] = value
                    if k > reach:
                        reach = k


@njit(cache=True, nogil=True)
def _class_pick(m, j, lo0, hi0, c, lam, count, used):
    """Add 1 to ``used[i]`` for each device of a least sequence of :func:`class_row` with
    ``count`` members (ties: the first found from the last member back)."""
    w = m.work[j]
    if w <= 0.0:
        lo0 = 0.0
        hi0 = 0.0
    size = m.size[j]
    table = np.full((size + 1, count + 1), np.inf)
    table[0, 0] = 0.0
    for t in range(size):
        price = lam[m.device[j, t]]
        for k in range(count + 1):
            here = table[t, k]
            if here == np.inf:
                continue
            if here < table[t + 1, k]:
                table[t + 1, k] = here
            if k < count:
                cost = _slot(m, j, t, lo0 + (k + 1) * w, hi0 + (k + 1) * w, c)
                if cost < np.inf and here + cost - price < table[t + 1, k + 1]:
                    table[t + 1, k + 1] = here + cost - price
    k = count
    for t in range(size - 1, -1, -1):
        if k == 0:
            break
        if table[t + 1, k] != table[t, k]:
            used[m.device[j, t]] += 1.0
            k -= 1


@njit(cache=True, nogil=True)
def _reachable(m, j, placed, h, nb):
    """The buckets the start ``B_j`` of class j can lie in when ``placed`` devices sit in
    the classes before it (each at least ``least`` unless in the zero-work class, at most
    ``before[j]``), widened by two buckets each side against rounding."""
    low = max(0, placed - m.free) * m.least if j > 0 else 0.0
    lo = math.floor(low / h) - 2
    hi = math.floor(placed * m.before[j] / h) + 2
    return max(0, min(lo, nb - 1)), max(0, min(hi, nb - 1))


@njit(cache=True, nogil=True)
def _next(b, count, w, h, nb):
    """The buckets ``B + count·w`` can lie in for B in bucket b."""
    if w <= 0.0:
        return b, b
    if b == nb - 1:
        return b, b
    q = count * w / h
    lo = b + math.floor(q - EDGE)
    hi = b + math.floor(q + EDGE) + 1
    return min(lo, nb - 1), min(hi, nb - 1)


@njit(cache=True, nogil=True)
def fill(m, c, lam, h, nb, rows, H):
    """The cost to go of every (class, devices placed, bucket): ``H[j, K, b]`` is at most
    ``Σ_{l ≥ j} G_l(n_l, B_l)`` for every completion that places the other ``N − K``
    devices in classes ≥ j (at most ``top`` each) with ``B_j`` in bucket b. ``rows[j, b]``
    receives the class rows per bucket (:func:`class_row` over the bucket's range). Returns
    ``H[0, 0, 0]``, the root's value without ``Σ λ``. O(J · nb · N · top)."""
    n_classes = m.work.shape[0]
    n = lam.shape[0]
    for j in range(n_classes):
        top = m.top[j]
        if m.work[j] <= 0.0:
            class_row(m, j, 0.0, 0.0, c, lam, top, rows[j, 0])
            continue
        _, last = _reachable(m, j, n, h, nb)
        for b in range(last + 1):
            hi0 = (b + 1) * h if b < nb - 1 else np.inf
            class_row(m, j, b * h, hi0, c, lam, top, rows[j, b])
    H[n_classes, :, :] = np.inf
    H[n_classes, n, :] = 0.0
    for j in range(n_classes - 1, -1, -1):
        w = m.work[j]
        for placed in range(n + 1):
            H[j, placed, :] = np.inf
            lo_b, hi_b = _reachable(m, j, placed, h, nb)
            most = min(m.top[j], n - placed)
            first = n - placed if j == n_classes - 1 else 0
            for b in range(lo_b, hi_b + 1):
                row = rows[j, 0] if w <= 0.0 else rows[j, b]
                best = np.inf
                for count in range(first, most + 1):
                    here = row[count]
                    if here == np.inf:
                        continue
                    lo, hi = _next(b, count, w, h, nb)
                    rest = H[j + 1, placed + count, lo]
                    for bb in range(lo + 1, hi + 1):
                        rest = min(rest, H[j + 1, placed + count, bb])
                    if here + rest < best:
                        best = here + rest
                H[j, placed, b] = best
    return H[0, 0, 0]


@njit(cache=True, nogil=True)
def _trace(m, c, lam, h, nb, rows, H, used):
    """Add to ``used`` the devices of a least path of :func:`fill`'s program (its class
    counts and buckets, then each class's least sequence)."""
    n_classes = m.work.shape[0]
    n = lam.shape[0]
    placed = 0
    b = 0
    for j in range(n_classes):
        w = m.work[j]
        row = rows[j, 0] if w <= 0.0 else rows[j, b]
        first = n - placed if j == n_classes - 1 else 0
        pick = -1
        after = -1
        for count in range(first, min(m.top[j], n - placed) + 1):
            if row[count] == np.inf:
                continue
            lo, hi = _next(b, count, w, h, nb)
            for bb in range(lo, hi + 1):
                if row[count] + H[j + 1, placed + count, bb] == H[j, placed, b]:
                    pick = count
                    after = bb
                    break
            if pick >= 0:
                break
        if pick < 0:
            return
        if pick > 0:
            if w <= 0.0:
                _class_pick(m, j, 0.0, 0.0, c, lam, pick, used)
            else:
                hi0 = (b + 1) * h if b < nb - 1 else np.inf
                _class_pick(m, j, b * h, hi0, c, lam, pick, used)
        placed += pick
        b = after


@njit(cache=True, nogil=True)
def ascend(m, c, lam, h, nb, target, iterations, rows, H):
    """Subgradient ascent on the prices: ``iterations`` evaluations of :func:`fill`, each
    followed by a Polyak step towards ``target`` along ``1 − (times each device is used on a
    least path)``, the step halved after three evaluations without progress. Writes the
    best prices into ``lam`` and returns their bound ``Σ λ + H[0, 0, 0]`` (inf: no
    completion meets the deadlines). Deterministic: a fixed number of evaluations in a
    fixed order."""
    n = lam.shape[0]
    current = lam.copy()
    used = np.zeros(n)
    best = -np.inf
    scale = 1.0
    stall = 0
    for it in range(iterations):
        value = fill(m, c, current, h, nb, rows, H)
        if value == np.inf:
            return np.inf
        value += current.sum()
        if it == 0 or value > best:
            best = value
            lam[:] = current
            stall = 0
        else:
            stall += 1
            if stall == 3:
                scale *= 0.5
                stall = 0
        used[:] = 0.0
        _trace(m, c, current, h, nb, rows, H, used)
        norm = 0.0
        for i in range(n):
            norm += (1.0 - used[i]) ** 2
        if norm == 0.0:  # the least path is a partition: nothing to gain
            break
        step = scale * max(target - value, LEAST_STEP * abs(target)) / norm
        for i in range(n):
            current[i] += step * (1.0 - used[i])
    return best


@njit(cache=True, nogil=True)
def _class_choice(m, j, start, c, lam, count, used, vector):
    """``G_j(count, start)`` at prices ``lam`` with its least sequence: adds 1 to
    ``used[i]`` and writes the point into ``vector[i]`` for each of its devices."""
    w = m.work[j]
    size = m.size[j]
    table = np.full((size + 1, count + 1), np.inf)
    point = np.full((size, count + 1), -1, dtype=np.int64)
    table[0, 0] = 0.0
    for t in range(size):
        price = lam[m.device[j, t]]
        for k in range(count + 1):
            here = table[t, k]
            if here == np.inf:
                continue
            if here < table[t + 1, k]:
                table[t + 1, k] = here
            if k == count:
                continue
            delay_bs = start + (k + 1) * w if w > 0.0 else 0.0
            for q in range(m.offload.shape[2]):
                a = m.offload[j, t, q]
                if a + delay_bs <= m.deadline[j, t]:
                    value = here + (a + delay_bs - c) ** 2 - price
                    if value < table[t + 1, k + 1]:
                        table[t + 1, k + 1] = value
                        point[t, k + 1] = q
    k = count
    for t in range(size - 1, -1, -1):
        if k == 0:
            break
        if table[t + 1, k] != table[t, k]:
            i = m.device[j, t]
            used[i] += 1.0
            vector[i] = m.points[j, point[t, k]]
            k -= 1
    return table[size, count]


@njit(cache=True, nogil=True)
def leaf_value(m, counts, c, prices, iterations, target, vector):
    """A lower bound on ``min Σ_i (D_i − c)²`` over the vectors with ``counts[j]`` devices
    in class j, by subgradient ascent on the prices (started from ``prices``, Polyak steps
    towards ``target``, stopping once the bound reaches it): returns ``(bound, exact)``.
    ``exact`` when the classes' least sequences use every device once: they form a vector
    with these counts whose cost is the bound, so the bound is the minimum; that vector is
    written into ``vector``.
    O(iterations · N · max n_j)."""
    n = prices.shape[0]
    n_classes = m.work.shape[0]
    lam = prices.copy()
    used = np.zeros(n)
    best = -np.inf
    scale = 1.0
    stall = 0
    for it in range(iterations):
        used[:] = 0.0
        value = lam.sum()
        start = 0.0
        for j in range(n_classes):
            if counts[j] > 0:
                value += _class_choice(m, j, start, c, lam, counts[j], used, vector)
            start += counts[j] * m.work[j]
        if value == np.inf:
            return np.inf, False
        norm = 0.0
        for i in range(n):
            norm += (1.0 - used[i]) ** 2
        if norm == 0.0:
            return value, True
        if value >= target:
            return value, False
        if it == 0 or value > best:
            best = value
            stall = 0
        else:
            stall += 1
            if stall == 3:
                scale *= 0.5
                stall = 0
        step = scale * (target - value) / norm
        for i in range(n):
            lam[i] += step * (1.0 - used[i])
    return best, False


@njit(cache=True, nogil=True)
def lookup(H, j, placed, start, h, nb):
    """``H[j, placed, ·]`` at the bucket of the class start ``start`` (the least over the
    buckets within :data:`EDGE` of it)."""
    x = start / h
    lo = max(0, min(math.floor(x - EDGE), nb - 1))
    hi = max(0, min(math.floor(x + EDGE), nb - 1))
    best = H[j, placed, lo]
    for b in range(lo + 1, hi + 1):
        best = min(best, H[j, placed, b])
    return best


@njit(cache=True, nogil=True)
def expand(m, f, placed, start, first, last, sums, centres, prices, price_sums, H, h, nb, cutoff):
    """The children of a node that fixes the counts of classes ``< f`` (``placed`` devices,
    class start ``start``): one per count ``n_f`` (the last class takes the rest).

    For each centre ``g`` in ``first..last`` the child's bound at ``c_g`` is ``Σ λ_g +
    sums[g] + G_f(n_f, start) + H_g[f + 1, placed + n_f, bucket(start + n_f·w_f)]``; between
    two centres the parabola bound (:func:`~dnnsplit.solvers._bounds.parabola_bound`)
    covers the means in the interval. Returns ``(counts, bounds, firsts, lasts,
    child_sums)`` for the children with a live interval (a parabola bound below
    ``cutoff``): each child's least live bound and its live centres ``first..last``.
    """
    n_classes = m.work.shape[0]
    n = prices.shape[1]
    w = m.work[f]
    most = min(m.top[f], n - placed)
    lowest = n - placed if f == n_classes - 1 else 0
    span = last - first + 1
    row = np.empty(n + 1)
    values = np.empty((span, most + 1))
    at = start if w > 0.0 else 0.0
    for g in range(first, last + 1):
        class_row(m, f, at, at, centres[g], prices[g], most, row)
        values[g - first, :] = row[: most + 1]
    width = max(0, most - lowest + 1)
    counts = np.empty(width, dtype=np.int64)
    bounds = np.empty(width)
    firsts = np.empty(width, dtype=np.int64)
    lasts = np.empty(width, dtype=np.int64)
    child_sums = np.empty((width, sums.shape[0]))
    phi = np.empty(span)
    made = 0
    for count in range(lowest, most + 1):
        after = start + count * w
        for g in range(first, last + 1):
            here = sums[g] + values[g - first, count]
            child_sums[made, g] = here
            phi[g - first] = (
                price_sums[g] + here + lookup(H[g], f + 1, placed + count, after, h, nb[g])
            )
        best = np.inf
        live_first = -1
        live_last = -1
        for g in range(first, last):
            bound = parabola_bound(
                centres[g], phi[g - first], centres[g + 1], phi[g + 1 - first], n
            )
            if bound < cutoff:
                if live_first < 0:
                    live_first = g
                live_last = g + 1
                best = min(best, bound)
        if live_first < 0:
            continue
        counts[made] = count
        bounds[made] = best
        firsts[made] = live_first
        lasts[made] = live_last
        made += 1
    return counts[:made], bounds[:made], firsts[:made], lasts[:made], child_sums[:made]
