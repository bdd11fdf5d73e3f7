"""The paper's delay model, eq. (1)–(3), (4) and (8), and the devices' energy, vectorised
over partition vectors (docs/model.md).

Everything a device's delay depends on, except the base-station queue, is a function of
its own ``p_i`` alone: :class:`DelayTables` tabulates, per device and partition point, the
local delay (eq. 1), the transmission delay and the residual BS work, so evaluating M
partition vectors is a gather and one BS-policy call (:func:`sjf_completion`,
:func:`ps_completion`, :func:`rr_completion`, eq. 2) on an (M, N) array of residual work.
Energy ``E_i(p) = P_cpu·C_i(p_i) + P_tx·τ_i(p_i) + P_idle·B_i(p)`` (docs/model.md,
"Energy") adds ``P_idle·D^R`` to a gather of :attr:`DelayTables.energy_offload`. Tasks with
zero work are not queued and complete at time 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from dnnsplit._checks import frozen
from dnnsplit._kernels import rr_finish
from dnnsplit._params import Real
from dnnsplit.errors import InputError, unknown_choice
from dnnsplit.policies import policies_with

__all__ = [
    "DEADLINE_TOLERANCE_S",
    "DEFAULT_QUANTUM_S",
    "ENERGY_TOLERANCE_J",
    "LOCAL_DELAY_FORMS",
    "MAX_DELAY_S",
    "MAX_MEMORY_BYTES",
    "MAX_POWER_W",
    "MAX_QUANTUM_S",
    "MIN_QUANTUM_S",
    "POLICIES",
    "QUANTUM",
    "DelayTables",
    "bs_completion",
    "check_bytes",
    "check_memory",
    "jain_index",
    "local_delay",
    "ps_completion",
    "read_only",
    "rr_completion",
    "sjf_completion",
    "table_bytes",
]

#: Policies with a closed form under the snapshot model (see :mod:`dnnsplit.policies`).
POLICIES = policies_with("snapshot")
LOCAL_DELAY_FORMS = ("paper", "exact")
#: A device meets its deadline when ``D_i <= deadline + DEADLINE_TOLERANCE_S``.
DEADLINE_TOLERANCE_S = 1e-9
#: A device meets its energy budget when ``E_i <= budget + ENERGY_TOLERANCE_J`` (and a total
#: energy cap is met within the same tolerance).
ENERGY_TOLERANCE_J = 1e-9
#: The largest power a device may draw in any phase, watts (10 kW: a Pi draws a few watts,
#: a laptop tens; larger values come from a unit mistake). With delays within
#: :data:`MAX_DELAY_S` every energy stays finite.
MAX_POWER_W = 1e4
#: T/q within this of a whole number counts as that whole number (floating-point guard).
QUANTA_GUARD = 1e-9
#: Quanta (a device's ``q_i``, the BS's ``q_R``) lie in this range, seconds. Below 1 ns
#: ``T/q`` loses its meaning in floating point; above 10⁶ s a quantum never ends a slice.
MIN_QUANTUM_S = 1e-9
MAX_QUANTUM_S = 1e6
#: A round-robin quantum in seconds, within ``MIN_QUANTUM_S..MAX_QUANTUM_S``.
QUANTUM = Real(low=MIN_QUANTUM_S, high=MAX_QUANTUM_S, positive=True)
#: A device's and the BS's quantum unless told otherwise (docs/model.md, "Round-robin quantum").
DEFAULT_QUANTUM_S = 0.01
#: No delay component (local, transmission, BS work) and no worst-case delay may exceed this,
#: seconds (about 32 million years): larger values come from a unit mistake or an overflow,
#: and refusing them keeps every delay, total, variance and fairness index finite.
MAX_DELAY_S = 1e15
#: The most memory one scenario's delay tables and batch intermediates may take, bytes
#: (2 GiB). :func:`check_memory` refuses larger scenarios before allocating anything.
MAX_MEMORY_BYTES = 2 * 1024**3
#: Bytes per device besides its tables: the parsed file, the device object, its output.
DEVICE_OVERHEAD_BYTES = 2048
#: float64 arrays of shape (N, S+1) alive at once while the tables are built and used.
TABLE_ARRAYS = 10


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only copy of ``array`` that cannot be made writeable again (a frozen
    container's arrays stay as built: :func:`dnnsplit._checks.frozen`)."""
    return frozen(array)


def gib(n_bytes: float) -> str:
    """A byte count in GiB, for messages (``"2 GiB"``)."""
    return f"{n_bytes / 1024**3:.3g} GiB"


def table_bytes(n_devices: int, n_stages: int) -> int:
    """Estimated peak bytes of a scenario of ``n_devices`` and ``n_stages``: its device
    objects and the (N, S+1) delay tables with their intermediates."""
    return int(n_devices) * (DEVICE_OVERHEAD_BYTES + TABLE_ARRAYS * 8 * (int(n_stages) + 1))


def check_bytes(need: float, where: str, what: str) -> None:
    """Raise :class:`InputError` naming ``where`` when ``what`` would take ``need`` bytes,
    more than :data:`MAX_MEMORY_BYTES`, before it is allocated (for any N-sized buffer:
    e.g. a solver's (N, N) cost matrix)."""
    if need > MAX_MEMORY_BYTES:
        raise InputError(
            where,
            f"{what} needs about {gib(need)}, more than the {gib(MAX_MEMORY_BYTES)} limit "
            "(dnnsplit.model.MAX_MEMORY_BYTES)",
        )


def check_memory(n_devices: int, n_stages: int, where: str = "devices") -> None:
    """Raise :class:`InputError` naming ``where`` when a scenario of this size would need more
    than :data:`MAX_MEMORY_BYTES` (estimated by :func:`table_bytes`), before allocating."""
    need = table_bytes(n_devices, n_stages)
    if need > MAX_MEMORY_BYTES:
        raise InputError(
            where,
            f"{n_devices} devices with {n_stages} stages need about {gib(need)} for the "
            f"delay tables (N×(S+1)) and their intermediates, more than the "
            f"{gib(MAX_MEMORY_BYTES)} limit (dnnsplit.model.MAX_MEMORY_BYTES)",
        )


def whole_quanta(work: np.ndarray, quantum: np.ndarray | float) -> np.ndarray:
    """Turns of length ``quantum`` that ``work`` needs: ``ceil(work / quantum)``, at least 1
    for positive work, and robust to ``work/quantum`` landing a hair above a whole number
    (a last slice up to ``1 + 1e-9`` quanta long counts as one quantum)."""
    work = np.asarray(work, dtype=float)
    turns = np.ceil(work / quantum - QUANTA_GUARD)
    return np.where(work > 0, np.maximum(turns, 1), 0)


def local_delay(
    work: np.ndarray,
    background: np.ndarray | float,
    quantum: np.ndarray | float,
    form: str = "paper",
) -> np.ndarray:
    """Local delay ``D^L`` of a DNN task sharing a CPU round-robin, eq. (1).

    The DNN task needs ``work`` = T seconds of CPU and shares the processor with ``n``
    always-backlogged background tasks, quantum ``q``, the DNN task first in each round.

    Parameters
    ----------
    work : array_like
        CPU time ``T = Σ_{s≤p} t_s / c_i`` of the local stages, seconds (≥ 0).
    background : array_like
        Number ``n`` of background processes (broadcasts against ``work``).
    quantum : array_like
        Round-robin quantum ``q`` in seconds (> 0).
    form : {"paper", "exact"}
        ``"paper"``: the paper's closed form ``(n+1)·T − n·q``, clamped at ``T``
        **[choice]** because below one quantum it falls under T (even under zero), which no
        schedule can do. ``"exact"``: with ``m = ceil(T/q)`` whole rounds,
        ``(m−1)(n+1)q + (T − (m−1)q)``: the task finishes inside its m-th slot.

    Returns
    -------
    numpy.ndarray
        ``D^L``, seconds; 0 where ``T = 0``. Both forms are ≥ T, equal T when T ≤ q, and
        agree when T/q is a whole number.
    """
    work = np.asarray(work, dtype=float)
    n = np.asarray(background, dtype=float)
    q = np.asarray(quantum, dtype=float)
    if form == "paper":
        delay = np.maximum(work, (n + 1) * work - n * q)
    elif form == "exact":
        rounds = np.maximum(whole_quanta(work, q), 1)
        delay = (rounds - 1) * (n + 1) * q + (work - (rounds - 1) * q)
    else:
        raise unknown_choice("local_delay", "form", form, LOCAL_DELAY_FORMS)
    return np.where(work > 0, delay, 0.0)


def sjf_completion(work: np.ndarray) -> np.ndarray:
    """Completion times under shortest-job-first at the BS, eq. (2).

    Every residual task is in the queue at time 0 (the paper's snapshot). Tasks run to
    completion in increasing work; equal work is served in increasing device index. So
    ``D^R_i = T_i + Σ_{j ranked before i} T_j``.

    Parameters
    ----------
    work : numpy.ndarray
        Residual BS work ``T^R``, shape (..., N); 0 means not offloaded.

    Returns
    -------
    numpy.ndarray
        ``D^R``, same shape; 0 where the work is 0.
    """
    work = np.asarray(work, dtype=float)
    order = np.argsort(work, axis=-1, kind="stable")  # stable: ties by device index
    finish_sorted = np.cumsum(np.take_along_axis(work, order, axis=-1), axis=-1)
    finish = np.empty_like(work)
    np.put_along_axis(finish, order, finish_sorted, axis=-1)
    return np.where(work > 0, finish, 0.0)


def ps_completion(work: np.ndarray) -> np.ndarray:
    """Completion times under processor sharing, the limit of round-robin as q → 0.

    ``D^R_i = Σ_j min(T_j, T_i)``: until task i finishes, every task still present gets the
    same share of the BS. Computed from the sorted work in O(N log N) per vector: the k-th
    smallest task finishes at ``Σ_{j<k} T_(j) + (N_k) · T_(k)`` with ``N_k`` the tasks not
    yet finished.
    """
    work = np.asarray(work, dtype=float)
    n = work.shape[-1]
    order = np.argsort(work, axis=-1, kind="stable")
    sorted_work = np.take_along_axis(work, order, axis=-1)
    before = np.cumsum(sorted_work, axis=-1) - sorted_work
    remaining = n - np.arange(n)
    finish_sorted = before + remaining * sorted_work
    finish = np.empty_like(work)
    np.put_along_axis(finish, order, finish_sorted, axis=-1)
    return np.where(work > 0, finish, 0.0)


def rr_completion(work: np.ndarray, quantum: float) -> np.ndarray:
    """Exact completion times under round-robin with quantum ``q`` at the BS.

    Queued tasks (work > 0) are served cyclically in increasing device index, each for at
    most ``q`` per turn, all present at time 0. Task i needs ``k_i = ceil(T_i/q)`` turns and
    finishes in round ``k_i``; by then a task j before it in the cycle (j < i) has received
    ``min(T_j, k_i·q)`` and a task after it ``min(T_j, (k_i−1)·q)``, so
    ``D^R_i = T_i + Σ_{j<i} min(T_j, k_i q) + Σ_{j>i} min(T_j, (k_i − 1) q)``.

    Parameters
    ----------
    work : numpy.ndarray
        Residual work, shape (..., N).
    quantum : float
        BS quantum ``q_R`` in seconds, within ``MIN_QUANTUM_S..MAX_QUANTUM_S`` (checked
        where a scenario is made, not here).

    Notes
    -----
    Computed by the compiled kernel :func:`dnnsplit._kernels.rr_finish`.
    """
    work = np.asarray(work, dtype=float)
    if work.size == 0:
        return np.zeros(work.shape)
    rows = np.ascontiguousarray(work.reshape(-1, work.shape[-1]))
    return rr_finish(rows, float(quantum), QUANTA_GUARD).reshape(work.shape)


def bs_completion(work: np.ndarray, policy: str, quantum: float) -> np.ndarray:
    """Completion times ``D^R`` of residual tasks ``work`` (..., N) at the BS, eq. (2), under
    ``policy``: :func:`sjf_completion`, :func:`ps_completion` or :func:`rr_completion` with
    ``quantum``."""
    if policy == "sjf":
        return sjf_completion(work)
    if policy == "ps":
        return ps_completion(work)
    if policy == "rr":
        return rr_completion(work, quantum)
    raise unknown_choice("bs.policy", "policy", policy, POLICIES)


def jain_index(delays: np.ndarray) -> np.ndarray:
    """Jain's fairness index ``(Σ D)² / (N Σ D²)`` along the last axis (1 = all equal)."""
    delays = np.asarray(delays, dtype=float)
    squares = np.sum(delays**2, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = np.sum(delays, axis=-1) ** 2 / (delays.shape[-1] * squares)
    return np.where(squares > 0, index, 1.0)


@dataclass(frozen=True, eq=False)
class DelayTables:
    """Per-device, per-partition-point delay components of one scenario.

    Row i, column p holds device i's value when it chooses partition point p (0..S),
    whatever the others choose. Built by :meth:`dnnsplit.Scenario.tables`.

    Attributes
    ----------
    local : numpy.ndarray
        ``D^L_i(p)``, eq. (1), shape (N, S+1).
    transmission : numpy.ndarray
        ``D^tr_i(p) = A_i(p) / W_i``, shape (N, S+1); 0 at p = S.
    remote_work : numpy.ndarray
        ``T^R_i(p) = Σ_{s>p} t^R_s``, shape (N, S+1); 0 at p = S.
    max_stage : numpy.ndarray
        ``s̃_i``, shape (N,).
    min_stage : numpy.ndarray
        The lowest partition point of each device (0 = full offload allowed), shape (N,).
    deadline : numpy.ndarray
        ``D̃^max_i`` in seconds, ``inf`` where a device has none, shape (N,).
    policy : str
        BS policy.
    bs_quantum : float
        BS quantum (``rr``).
    cpu_time : numpy.ndarray
        ``C_i(p) = Σ_{s≤p} t_s / c_i``, the device's own CPU time for its stages (its
        work, not its local delay: the background processes' share is not the task's),
        shape (N, S+1).
    cpu_power, tx_power, idle_power : numpy.ndarray
        ``P_cpu``, ``P_tx``, ``P_idle`` of each device, W, shape (N,).
    energy_offload : numpy.ndarray
        ``P_cpu·C_i(p) + P_tx·D^tr_i(p)``: the energy of device i's task before it waits
        for the BS, J, shape (N, S+1).
    energy_budget : numpy.ndarray
        ``Ẽ_i`` in joules, ``inf`` where a device has none, shape (N,).
    """

    local: np.ndarray
    transmission: np.ndarray
    remote_work: np.ndarray
    max_stage: np.ndarray
    min_stage: np.ndarray
    deadline: np.ndarray
    policy: str
    bs_quantum: float
    cpu_time: np.ndarray
    cpu_power: np.ndarray
    tx_power: np.ndarray
    idle_power: np.ndarray
    energy_offload: np.ndarray
    energy_budget: np.ndarray

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                object.__setattr__(self, f.name, read_only(value))

    @property
    def n_devices(self) -> int:
        return self.local.shape[0]

    @property
    def n_stages(self) -> int:
        return self.local.shape[1] - 1

    @property
    def offload_delay(self) -> np.ndarray:
        """``D^L_i(p) + D^tr_i(p)``: when device i's residual task reaches the BS, (N, S+1)."""
        return self.local + self.transmission

    @property
    def has_deadlines(self) -> bool:
        return bool(np.isfinite(self.deadline).any())

    @property
    def has_energy_budgets(self) -> bool:
        return bool(np.isfinite(self.energy_budget).any())

    @property
    def has_constraints(self) -> bool:
        """Some device has a deadline or an energy budget."""
        return self.has_deadlines or self.has_energy_budgets

    @property
    def allowed(self) -> np.ndarray:
        """Boolean (N, S+1): ``p`` is a partition point device i may choose."""
        points = np.arange(self.n_stages + 1)[None, :]
        return (points >= self.min_stage[:, None]) & (points <= self.max_stage[:, None])

    def check_partitions(self, partitions: np.ndarray, *, enforce_limits: bool = True) -> None:
        """Raise :class:`InputError` unless every p_i is a whole number in min_i..s̃_i.

        The memory constraint of the paper (p_i ≤ s̃_i; docs/model.md, constraints (5),
        (7)) and the lowest partition point (``min_stage``, 0 unless the setup says 1).

        With ``enforce_limits=False`` the bounds are 0..S (the all-local baseline may
        exceed the memory limits, as in the paper).
        """
        partitions = np.asarray(partitions)
        if partitions.ndim != 2 or partitions.shape[1] != self.n_devices:
            raise InputError(
                "partition",
                f"needs {self.n_devices} entries, one per device, "
                f"got shape {partitions.shape[-1:]}",
            )
        if not np.issubdtype(partitions.dtype, np.integer):
            raise InputError("partition", "entries must be whole numbers")
        if enforce_limits:
            lower, upper = self.min_stage, self.max_stage
        else:
            lower, upper = np.zeros(self.n_devices, int), np.full(self.n_devices, self.n_stages)
        bad = (partitions < lower) | (partitions > upper)
        if bad.any():
            row, device = np.argwhere(bad)[0]
            limits = "min_stage..max_stage" if enforce_limits else "0..S"
            raise InputError(
                f"partition[{device}]",
                f"{int(partitions[row, device])} is outside {int(lower[device])}.."
                f"{int(upper[device])} ({limits} of device {device})",
            )

    def components(self, partitions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gather ``(D^L, D^tr, T^R)`` for an (M, N) array of partition vectors."""
        rows = np.arange(self.n_devices)
        return (
            self.local[rows, partitions],
            self.transmission[rows, partitions],
            self.remote_work[rows, partitions],
        )

    def delays(self, partitions: np.ndarray) -> np.ndarray:
        """Per-device total delays ``D_i(p)``, eq. (3), for (M, N) partition vectors.

        ``D_i = D^L_i(p_i) + D^tr_i(p_i) + D^R_i(p)`` with ``D^R`` the snapshot completion
        time at the BS. Partitions are not checked here (callers check once).
        """
        local, transmission, work = self.components(partitions)
        return local + transmission + bs_completion(work, self.policy, self.bs_quantum)

    def deadline_excess(self, delays: np.ndarray) -> np.ndarray:
        """``Σ_i max(0, D_i − D̃_i)`` along the last axis: 0 exactly when every deadline
        ``D_i(p) ≤ D̃^max_i`` holds (docs/model.md, constraints (5), (7)), within
        :data:`DEADLINE_TOLERANCE_S`."""
        excess = delays - self.deadline - DEADLINE_TOLERANCE_S
        return np.where(excess > 0, excess, 0.0).sum(axis=-1)

    def energies(self, partitions: np.ndarray, remote: np.ndarray) -> np.ndarray:
        """Per-device energies ``E_i = P_cpu·C_i + P_tx·τ_i + P_idle·B_i`` (docs/model.md,
        "Energy") of (M, N) partition vectors whose BS delays ``B = D^R`` are ``remote``."""
        rows = np.arange(self.n_devices)
        return self.energy_offload[rows, partitions] + self.idle_power * remote

    def energy_excess(self, energies: np.ndarray, cap: float | None = None) -> np.ndarray:
        """``Σ_i max(0, E_i − Ẽ_i)`` plus, given a total ``cap``, ``max(0, Σ_i E_i − cap)``
        along the last axis: 0 exactly when every energy budget (and the cap) holds, within
        :data:`ENERGY_TOLERANCE_J`."""
        excess = energies - self.energy_budget - ENERGY_TOLERANCE_J
        total = np.where(excess > 0, excess, 0.0).sum(axis=-1)
        if cap is not None:
            over = energies.sum(axis=-1) - cap - ENERGY_TOLERANCE_J
            total = total + np.where(over > 0, over, 0.0)
        return total

    def excess(
        self, delays: np.ndarray, energies: np.ndarray, cap: float | None = None
    ) -> np.ndarray:
        """How far (M, N) outcomes break the constraints: the deadline excess (seconds) plus
        the energy excess (joules, :meth:`energy_excess`), added as numbers. 0 exactly when
        every constraint holds; the solvers use it only to tell feasible from not and to
        steer an infeasible vector toward feasibility."""
        return self.deadline_excess(delays) + self.energy_excess(energies, cap)
