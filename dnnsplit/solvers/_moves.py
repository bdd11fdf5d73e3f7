"""The improvement loop of greedy and local-search, and the ways of scoring its moves.

A :class:`Moves` object holds the current vector and its candidate moves (device ``dev[k]``
to point ``target[k]``); :func:`improve` repeatedly applies the best one (eq. 6). Scoring is
a full evaluation of every candidate vector (:class:`FullMoves`, any case) or incremental
under the snapshot ``sjf``/``ps`` model without constraints (total delay, the variance;
``docs/solvers.md``, "Incremental scoring"), taking exactly the moves the full evaluation
takes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dnnsplit._limits import Budget, deferred_interrupts
from dnnsplit.evaluate import batch_delays, batch_outcomes
from dnnsplit.model import DelayTables, check_bytes
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.solvers._common import objective_values, tolerance

__all__ = [
    "CELLS_PER_CHUNK",
    "MOVE_KINDS",
    "FullMoves",
    "IncrementalTotalMoves",
    "IncrementalVarianceMoves",
    "Moves",
    "improve",
    "make_moves",
]

#: Bound on the cells of one batch intermediate (M, N[, N]): 50,000 doubles, 400 KB. Larger
#: temporaries are served by fresh pages on every allocation (measured: a paper sweep ran
#: 2.5x slower with 100,000 cells), smaller ones add Python overhead.
CELLS_PER_CHUNK = 50_000
#: Bytes per candidate move that a :class:`Moves` object and its scorers hold at most
#: (targets, devices, validity, work, prefix values, scores: eight 8-byte arrays).
BYTES_PER_CANDIDATE = 64


class TimeUp(Exception):
    """Raised by a scorer when its budget ran out in the middle of an iteration."""


#: The kinds of move: ``step`` (one device one stage left or right: the paper's greedy)
#: and ``any`` (one device to any allowed point: local-search).
MOVE_KINDS = ("step", "any")


class Moves:
    """Candidate moves from the current vector: device ``dev[k]`` to point ``target[k]``.

    Each device has ``width`` candidate slots in preference order (``step``: right, left;
    ``any``: S, S−1, …, 0); impossible ones are masked. The flat order is device-major,
    so the first of tied candidates is the lowest device, then the preferred slot.
    """

    def __init__(
        self, tables: DelayTables, p: np.ndarray, moves: str, budget: Budget | None = None
    ) -> None:
        if moves not in MOVE_KINDS:  # pragma: no cover - callers pass a checked kind
            raise ValueError(f"moves must be one of {MOVE_KINDS}, not {moves!r}")
        self.tables = tables
        self.p = p.copy()
        any_step = self.any_step = moves == "any"
        self.budget = budget if budget is not None else Budget(None)
        n = tables.n_devices
        self.width = tables.n_stages + 1 if any_step else 2
        check_bytes(
            BYTES_PER_CANDIDATE * n * self.width,
            "devices",
            f"the {n * self.width:,} candidate moves of {n:,} devices",
        )
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
    """Scores candidates by full evaluation of each candidate vector, in chunks: the
    objective (delays and energies from one BS evaluation) and the excess over every
    constraint (deadlines, energy budgets, the total energy cap ``energy_cap``)."""

    def __init__(
        self,
        tables: DelayTables,
        p: np.ndarray,
        moves: str,
        objective: str,
        model: str,
        budget: Budget | None = None,
        energy_cap: float | None = None,
    ) -> None:
        super().__init__(tables, p, moves, budget)
        self.objective = objective
        self.model = model
        self.energy_cap = energy_cap

    def _score(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        delays, energies = batch_outcomes(self.tables, vectors, self.model)
        values = objective_values(delays, self.objective, energies)
        return values, self.tables.excess(delays, energies, self.energy_cap)

    def current(self) -> tuple[float, float]:
        values, excess = self._score(self.p[None, :])
        return float(values[0]), float(excess[0])

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.tables.n_devices
        values = np.full(self.dev.shape[0], np.inf)
        excess = np.full(self.dev.shape[0], np.inf)
        candidates = np.flatnonzero(self.valid)
        per_row = n * (n if self.tables.policy == "rr" else 1)
        chunk = max(1, CELLS_PER_CHUNK // per_row)
        for lo in range(0, candidates.size, chunk):
            if lo and self.budget.stop():
                raise TimeUp
            ks = candidates[lo : lo + chunk]
            vectors = np.repeat(self.p[None, :], ks.size, axis=0)
            vectors[np.arange(ks.size), self.dev[ks]] = self.target[ks]
            values[ks], excess[ks] = self._score(vectors)
        return values, excess


class IncrementalTotalMoves(Moves):
    """Scores candidates for total delay under snapshot ``sjf``/``ps`` without deadlines in
    O(1) amortised each, by the pairwise form of the BS delay (``docs/solvers.md``,
    "Incremental scoring"): ``G(y) = Σ_j min(T_j, y)`` at every candidate's ``x`` and every
    device's own ``T`` is kept up to date per applied move.
    """

    def __init__(
        self, tables: DelayTables, p: np.ndarray, moves: str, budget: Budget | None = None
    ) -> None:
        super().__init__(tables, p, moves, budget)
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
        """Total delay after each candidate move ``ks``."""
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


class IncrementalVarianceMoves(Moves):
    """Scores candidates for the variance, eq. (8), under snapshot ``sjf``/``ps`` without
    deadlines in O(1) each after O(K log N) per iteration, from prefix sums over the BS
    order (``docs/solvers.md``, "Incremental scoring"). Invariant: the sums are of delays
    centred on the current mean, and are rebuilt after each applied move with the
    arithmetic of :func:`dnnsplit.model.sjf_completion` and
    :func:`~dnnsplit.model.ps_completion`, so no error accumulates along a run.
    """

    def __init__(
        self, tables: DelayTables, p: np.ndarray, moves: str, budget: Budget | None = None
    ) -> None:
        super().__init__(tables, p, moves, budget)
        from dnnsplit.solvers._move_kernels import POLICY_CODES

        n = tables.n_devices
        self.policy_code = POLICY_CODES[tables.policy]
        self.offload = np.ascontiguousarray(tables.offload_delay, dtype=float)
        self.devices = np.arange(n)
        self.values, inverse = np.unique(np.asarray(tables.remote_work), return_inverse=True)
        self.values = np.ascontiguousarray(self.values, dtype=float)
        self.codes = inverse.reshape(tables.remote_work.shape).astype(np.int64)
        self.cand_code = self.codes[self.dev, self.target]
        self.cand_offload = self.offload[self.dev, self.target]
        self.order = np.empty(n, dtype=np.int64)
        self.position = np.empty(n, dtype=np.int64)
        self.sorted_work = np.empty(n)
        self.delays = np.empty(n)
        self.prefix = np.zeros((5, n + 1))
        self.out = np.empty(self.dev.shape[0])
        self._rebuild()

    def _rebuild(self) -> None:
        """Delays, order and prefix sums of the current vector."""
        from dnnsplit.solvers import _move_kernels as kernels

        self.code = self.codes[self.devices, self.p]
        kernels.rebuild(
            (self.code, self.values, self.offload[self.devices, self.p]),
            (self.order, self.position, self.sorted_work, self.delays),
            self.policy_code,
        )
        self.value = float(self.delays.var())
        self.shift = float(self.delays.mean())
        self.centred = self.delays - self.shift
        kernels.prefix_sums(
            (self.order, self.sorted_work, self.centred), self.prefix, self.policy_code
        )

    def current(self) -> tuple[float, float]:
        return self.value, 0.0

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        from dnnsplit.solvers import _move_kernels as kernels

        kernels.variance_scores(
            (self.dev, self.cand_code, self.cand_offload, self.valid),
            (self.code, self.values, self.position, self.sorted_work, self.centred),
            self.prefix,
            self.shift,
            self.policy_code,
            self.out,
        )
        return self.out.copy(), np.where(self.valid, 0.0, np.inf)

    def apply(self, k: int) -> None:
        super().apply(k)
        i = int(self.dev[k])
        lo, hi = i * self.width, (i + 1) * self.width
        self.cand_code[lo:hi] = self.codes[i, self.target[lo:hi]]
        self.cand_offload[lo:hi] = self.offload[i, self.target[lo:hi]]
        self._rebuild()


def make_moves(
    tables: DelayTables,
    p: np.ndarray,
    moves: str,
    objective: str,
    model: str,
    budget: Budget | None = None,
    energy_cap: float | None = None,
) -> Moves:
    """The fastest exact scorer for this case: incremental where
    :data:`~dnnsplit.policies.POLICY_TABLE` says the policy is ``compiled`` (total delay or
    variance, snapshot model, no deadline, energy budget or energy cap), full evaluation
    otherwise (``rr``, constraints, the timeline model, the ``max`` and ``energy``
    objectives)."""
    incremental = (
        model == "snapshot"
        and POLICY_TABLE[tables.policy].compiled
        and not tables.has_constraints
        and energy_cap is None
    )
    if incremental and objective == "total":
        return IncrementalTotalMoves(tables, p, moves, budget)
    if incremental and objective == "variance":
        return IncrementalVarianceMoves(tables, p, moves, budget)
    return FullMoves(tables, p, moves, objective, model, budget, energy_cap)


def improve(moves: Any, max_iterations: int | None = None) -> int:
    """Best-improvement loop of eq. (6) on ``moves``; returns the number of moves taken
    (``max_iterations`` of them when that cap stopped the loop: the vector may then not be
    a local optimum). The rules (excess first, ties, tolerance) are
    :func:`~dnnsplit.solvers.greedy`'s.

    The loop also stops, before the next move, when ``moves.budget`` says so
    (:meth:`~dnnsplit._limits.Budget.stop`, whose ``stopped`` then says why); a Ctrl-C is
    looked at between two iterations (see :func:`~dnnsplit._limits.deferred_interrupts`).
    """
    with deferred_interrupts():
        return _improve(moves, max_iterations)


def _improve(moves: Any, max_iterations: int | None) -> int:
    iterations = 0
    budget = moves.budget
    while max_iterations is None or iterations < max_iterations:
        if budget.stop():
            break
        value, excess = moves.current()
        try:
            cand_values, cand_excess = moves.scores()
        except TimeUp:
            break
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
