"""Minimum total delay as a linear assignment (snapshot ``sjf``/``ps``), certified."""

from __future__ import annotations

import numpy as np

from dnnsplit._limits import Budget
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import batch_outcomes
from dnnsplit.model import DEADLINE_TOLERANCE_S, ENERGY_TOLERANCE_J, DelayTables, check_bytes
from dnnsplit.policies import POLICY_TABLE, policies_with
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import Found, budget, solver
from dnnsplit.solvers._moves import CELLS_PER_CHUNK

__all__ = [
    "SECONDS_PER_CUBE",
    "assignment",
    "assignment_bytes",
    "assignment_seconds",
    "exact_total",
]

#: Seconds of the assignment per N³ (measured on the 2-core development machine: N = 1,000
#: in 0.33 s, N = 2,000 in 2.3 s; ``benchmarks/solvers.py``), rounded up.
SECONDS_PER_CUBE = 3e-10
#: N×N float64 arrays alive at once: the costs, the choices, and SciPy's own copy.
ASSIGNMENT_ARRAYS = 3


def assignment_bytes(n_devices: int) -> int:
    """Peak bytes of :func:`assignment` for ``n_devices``: its N×N matrices."""
    return ASSIGNMENT_ARRAYS * 8 * int(n_devices) ** 2


def assignment_seconds(n_devices: int) -> float:
    """Estimated seconds of :func:`assignment` for ``n_devices`` (O(N³))."""
    return SECONDS_PER_CUBE * float(n_devices) ** 3


def assignment(tables: DelayTables, clock: Budget | None = None) -> tuple[np.ndarray, float]:
    """Minimum total delay for sjf/ps (snapshot, no deadlines) as a linear assignment.

    For a fixed ``p`` the total BS delay is ``Σ_k w_k T_(k)`` over tasks ranked by size
    (k = 1 the shortest), which the shortest-first ranking minimises over all rankings
    (rearrangement inequality). So ``min_p D_tot = min_σ Σ_i c_{i σ(i)}`` with
    ``c_{ik} = min_p [D^L_i(p) + D^tr_i(p) + w_k T^R_i(p)]`` over the allowed points,
    ``w_k = N − k + 1`` (sjf) or ``2(N − k) + 1`` (ps) (docs/model.md, "Exact solvers").
    Solved by :func:`scipy.optimize.linear_sum_assignment` in O(N³); building ``c`` is
    O(N² S), done in blocks of ranks to bound memory.

    The N×N matrices are checked against :data:`~dnnsplit.model.MAX_MEMORY_BYTES` before
    they are allocated, and, given a ``clock``, the estimated time
    (:func:`assignment_seconds`) against the time left: both refusals name their size.

    Returns
    -------
    partition : numpy.ndarray
        An optimal vector.
    value : float
        Its total delay by the assignment's arithmetic (callers re-evaluate).
    """
    from scipy.optimize import linear_sum_assignment

    n, width = tables.n_devices, tables.n_stages + 1
    check_bytes(
        assignment_bytes(n),
        "devices",
        f"the linear assignment of {n:,} devices ({ASSIGNMENT_ARRAYS} matrices of {n:,}×{n:,})",
    )
    if clock is not None:
        clock.refuse_beyond(
            assignment_seconds(n), f"exact: the linear assignment of {n:,} devices (O(N³))"
        )
    k = np.arange(1, n + 1)
    weights = (n - k + 1.0) if tables.policy == "sjf" else (2.0 * (n - k) + 1.0)
    offload = np.where(tables.allowed, tables.offload_delay, np.inf)
    work = tables.remote_work
    cost = np.empty((n, n))
    choice = np.empty((n, n), dtype=np.int64)
    block = max(1, CELLS_PER_CHUNK // (n * width))
    for lo in range(0, n, block):
        w = weights[lo : lo + block]
        candidates = offload[:, None, :] + w[None, :, None] * work[:, None, :]
        choice[:, lo : lo + block] = np.argmin(candidates, axis=2)
        cost[:, lo : lo + block] = np.min(candidates, axis=2)
    rows, ranks = linear_sum_assignment(cost)
    partition = np.empty(n, dtype=np.int64)
    partition[rows] = choice[rows, ranks]
    return partition, float(cost[rows, ranks].sum())


@solver("exact")
def exact_total(
    scenario: Scenario,
    *,
    objective: str = "total",
    model: str = "snapshot",
    time_limit: float | None = None,
) -> Found:
    """The certified minimum of total delay, eq. (4), as a linear assignment.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS; the policy must have an exact total-delay method
        (``sjf`` or ``ps``, see :data:`~dnnsplit.policies.POLICY_TABLE`).
    objective : {"total"}
        Only total delay.
    model : {"snapshot"}
        Only the snapshot model.
    time_limit : float, optional
        Seconds (positive; default :data:`~dnnsplit.solvers.DEFAULT_TIME_LIMIT_S`, 120 s).
        The assignment cannot stop half-way: a problem whose estimated time
        (:func:`assignment_seconds`) exceeds the limit is refused up front.

    Returns
    -------
    Solution
        ``optimal`` is true.

    Raises
    ------
    SolverRefusal
        Another objective, policy or model; deadlines or energy budgets that the
        unconstrained optimum misses (then the assignment no longer describes the problem);
        or an estimated time beyond ``time_limit``.
    InputError
        N×N matrices beyond :data:`~dnnsplit.model.MAX_MEMORY_BYTES` (field ``devices``).

    Notes
    -----
    **Guarantee**: the global minimum of total delay over the allowed points (see
    :func:`assignment` for the proof). With deadlines or energy budgets it certifies only
    when the unconstrained optimum meets them all, and refuses otherwise.

    **Ties**: whichever optimum the Hungarian algorithm returns.

    **Complexity**: O(N² S) to build the costs, O(N³) to solve.

    References
    ----------
    Kafetzis and Koutsopoulos, eq. (2) and (4); the rearrangement inequality.
    """
    clock = budget(time_limit)
    tables = scenario.tables
    if objective != "total" or model != "snapshot" or not POLICY_TABLE[tables.policy].exact_total:
        raise SolverRefusal(
            "solver",
            f"exact certifies only total delay under "
            f"{' or '.join(policies_with('exact_total'))} in the snapshot model, not "
            f"{objective} under {tables.policy} ({model}); use exhaustive for small N, or "
            "local-search",
        )
    partition, _ = assignment(tables, clock)
    if not tables.has_constraints:
        return Found(
            partition, optimal=True, note="linear assignment (docs/model.md), certified optimal"
        )
    delays, energies = batch_outcomes(tables, partition[None, :])
    if tables.excess(delays, energies)[0] == 0:
        return Found(
            partition,
            optimal=True,
            note="the unconstrained optimum meets every deadline and energy budget: certified "
            "optimal",
        )
    late = delays[0] > tables.deadline + DEADLINE_TOLERANCE_S
    over = energies[0] > tables.energy_budget + ENERGY_TOLERANCE_J
    what = {(True, False): "deadlines", (False, True): "energy budgets"}.get(
        (bool(late.any()), bool(over.any())), "deadlines or energy budgets"
    )
    raise SolverRefusal(
        "solver",
        f"exact: the unconstrained optimum (a lower bound, {delays[0].sum():.6g} s) misses the "
        f"{what} of devices {np.flatnonzero(late | over).tolist()}; exact cannot certify an "
        "optimum with binding constraints; use exhaustive for small N",
    )
