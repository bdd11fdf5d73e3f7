"""The improvement loop of greedy and local-search, and the ways of scoring its moves.

A :class:`Moves` object holds the current vector and its candidate moves (device ``dev[k]``
to point ``target[k]``); :func:`improve` repeatedly applies the best one (eq. 6). Scoring is
either a full evaluation of every candidate vector (:class:`FullMoves`, any policy, model
and objective) or incremental (:class:`IncrementalTotalMoves`, total delay under the
snapshot ``sjf``/``ps`` model without deadlines), and both take exactly the same moves
(a property test holds it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dnnsplit.evaluate import batch_delays
from dnnsplit.model import DelayTables
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.solvers._common import objective_values, tolerance

__all__ = [
    "CELLS_PER_CHUNK",
    "FullMoves",
    "IncrementalTotalMoves",
    "Moves",
    "improve",
    "make_moves",
]

CELLS_PER_CHUNK = 2_000_000  # bound on an (M, N[, N]) intermediate


class Moves:
    """Candidate moves from the current vector: device ``dev[k]`` to point ``target[k]``.

    Each device has ``width`` candidate slots in preference order (greedy: right, left;
    any-step: S, S−1, …, 0); impossible ones are masked. The flat order is device-major,
    so the first of tied candidates is the lowest device, then the preferred slot.
    """

    def __init__(self, tables: DelayTables, p: np.ndarray, any_step: bool) -> None:
        self.tables = tables
        self.p = p.copy()
        self.any_step = any_step
        n = tables.n_devices
        self.width = tables.n_stages + 1 if any_step else 2
        self.dev = np.repeat(np.arange(n), self.width)
        self.target = np.zeros(n * self.width, dtype=np.int64)
        self.valid = np.zeros(n * self.width, dtype=bool)
        for i in range(n):
            self._refresh_targets(i)

    def _refresh_targets(self, i: int) -> None:
        lo, hi = i * self.width, (i + 1) * self.width
        if self.any_step:
            targets = np.arange(self.tables.n_stages, -1, -1)
        else:
            targets = np.array([self.p[i] + 1, self.p[i] - 1])
        self.target[lo:hi] = np.clip(targets, 0, self.tables.n_stages)
        self.valid[lo:hi] = (
            (targets >= self.tables.min_stage[i])
            & (targets <= self.tables.max_stage[i])
            & (targets != self.p[i])
        )

    def current(self) -> tuple[float, float]:
        """``(objective, deadline excess)`` of the current vector."""
        raise NotImplementedError

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        """``(objective, deadline excess)`` after each candidate move (inf where invalid)."""
        raise NotImplementedError

    def apply(self, k: int) -> None:
        i = int(self.dev[k])
        self.p[i] = self.target[k]
        self._refresh_targets(i)


class FullMoves(Moves):
    """Scores candidates by full evaluation of each candidate vector, in chunks."""

    def __init__(
        self, tables: DelayTables, p: np.ndarray, any_step: bool, objective: str, model: str
    ) -> None:
        super().__init__(tables, p, any_step)
        self.objective = objective
        self.model = model

    def current(self) -> tuple[float, float]:
        delays = batch_delays(self.tables, self.p[None, :], self.model)
        return float(objective_values(delays, self.objective)[0]), float(
            self.tables.deadline_excess(delays)[0]
        )

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.tables.n_devices
        values = np.full(self.dev.shape[0], np.inf)
        excess = np.full(self.dev.shape[0], np.inf)
        candidates = np.flatnonzero(self.valid)
        per_row = n * (n if self.tables.policy == "rr" else 1)
        chunk = max(1, CELLS_PER_CHUNK // per_row)
        for lo in range(0, candidates.size, chunk):
            ks = candidates[lo : lo + chunk]
            vectors = np.repeat(self.p[None, :], ks.size, axis=0)
            vectors[np.arange(ks.size), self.dev[ks]] = self.target[ks]
            delays = batch_delays(self.tables, vectors, self.model)
            values[ks] = objective_values(delays, self.objective)
            excess[ks] = self.tables.deadline_excess(delays)
        return values, excess


class IncrementalTotalMoves(Moves):
    """Scores candidates for total delay under snapshot ``sjf``/``ps`` without deadlines in
    O(1) amortised each, by the pairwise form of the BS delay.

    Under sjf every pair of queued tasks delays the later one by the earlier one's work,
    so ``Σ_i D^R_i = Σ_i T_i + f·Σ_{i<j} min(T_i, T_j)`` with f = 1 (sjf) or 2 (ps, where
    each of the pair delays the other by ``min``). Moving device i from ``T_i`` to ``x``
    changes the total by ``Δa_i + (x − T_i) + f·(G(x) − min(T_i, x) − G(T_i) + T_i)``, with
    ``G(y) = Σ_j min(T_j, y)``. ``G`` at every candidate's ``x`` and at every device's own
    ``T`` is kept up to date in O(N) vector work per applied move, so an iteration costs
    O(N) instead of O(N² log N) (no re-sorting, no full re-evaluation).
    """

    def __init__(self, tables: DelayTables, p: np.ndarray, any_step: bool) -> None:
        super().__init__(tables, p, any_step)
        self.factor = 2.0 if tables.policy == "ps" else 1.0
        rows = np.arange(tables.n_devices)
        self.offload = tables.offload_delay
        self.work = tables.remote_work[rows, self.p].copy()
        self.total = float(batch_delays(tables, self.p[None, :])[0].sum())
        self.x = tables.remote_work[self.dev, self.target]
        sorted_work = np.sort(self.work)
        prefix = np.concatenate([[0.0], np.cumsum(sorted_work)])
        self.g_candidate = self._g(sorted_work, prefix, self.x)
        self.g_own = self._g(sorted_work, prefix, self.work)

    @staticmethod
    def _g(sorted_work: np.ndarray, prefix: np.ndarray, y: np.ndarray) -> np.ndarray:
        below = np.searchsorted(sorted_work, y, side="left")
        return prefix[below] + y * (sorted_work.size - below)

    def current(self) -> tuple[float, float]:
        return self.total, 0.0

    def _totals(self, ks: np.ndarray | slice) -> np.ndarray:
        """Total delay after each candidate move ``ks`` (the formula of the class docstring)."""
        rows, x = self.dev[ks], self.x[ks]
        own = self.work[rows]
        delta_offload = self.offload[rows, self.target[ks]] - self.offload[rows, self.p[rows]]
        delta_remote = (x - own) + self.factor * (
            self.g_candidate[ks] - np.minimum(own, x) - self.g_own[rows] + own
        )
        return self.total + delta_offload + delta_remote

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        values = np.where(self.valid, self._totals(slice(None)), np.inf)
        return values, np.where(self.valid, 0.0, np.inf)

    def apply(self, k: int) -> None:
        i = int(self.dev[k])
        old, new = self.work[i], self.x[k]
        self.total = float(self._totals(np.array([k]))[0])
        self.g_candidate += np.minimum(new, self.x) - np.minimum(old, self.x)
        self.g_own += np.minimum(new, self.work) - np.minimum(old, self.work)
        self.work[i] = new
        super().apply(k)
        lo, hi = i * self.width, (i + 1) * self.width
        self.x[lo:hi] = self.tables.remote_work[i, self.target[lo:hi]]
        self.g_candidate[lo:hi] = np.minimum(self.work[:, None], self.x[None, lo:hi]).sum(axis=0)
        self.g_own[i] = np.minimum(self.work, new).sum()


def make_moves(
    tables: DelayTables, p: np.ndarray, any_step: bool, objective: str, model: str
) -> Moves:
    """The fastest exact scorer for this case: incremental where
    :data:`~dnnsplit.policies.POLICY_TABLE` says the policy is ``compiled`` (total delay,
    snapshot model, no deadlines), full evaluation otherwise."""
    incremental = (
        objective == "total"
        and model == "snapshot"
        and POLICY_TABLE[tables.policy].compiled
        and not tables.has_deadlines
    )
    if incremental:
        return IncrementalTotalMoves(tables, p, any_step)
    return FullMoves(tables, p, any_step, objective, model)


def improve(moves: Any, max_iterations: int | None = None) -> int:
    """Best-improvement loop of eq. (6) on ``moves``; returns the number of moves taken.

    While the current vector breaks a deadline, the score is the reduction of the total
    deadline excess; once it is feasible, the score is the reduction of the objective among
    candidates that stay feasible. A move counts only if it improves by more than the
    tolerance; among the best (within tolerance) the first in ``moves`` order wins.
    """
    iterations = 0
    while max_iterations is None or iterations < max_iterations:
        value, excess = moves.current()
        cand_values, cand_excess = moves.scores()
        if excess > 0:
            score = excess - cand_excess
            reference = excess
        else:
            score = np.where(cand_excess == 0, value - cand_values, -np.inf)
            reference = value
        score = np.where(np.isnan(score), -np.inf, score)
        best = float(score.max()) if score.size else -np.inf
        tied = tolerance(reference)
        if not best > tied:
            break
        k = int(np.flatnonzero(score >= best - tied)[0])
        moves.apply(k)
        iterations += 1
    return iterations
