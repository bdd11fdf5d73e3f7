"""Evaluating partition vectors: per-device delays and energies, and the objectives,
eq. (3), (4), (8) and the energy of docs/model.md ("Energy").

:func:`evaluate` (the public API) is a batch of one of :func:`batch_delays` and
:func:`batch_outcomes`, which the solvers use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dnnsplit._params import Choice, Flag, Instance, declare
from dnnsplit.errors import InputError, shown
from dnnsplit.model import DelayTables, bs_completion, jain_index, read_only
from dnnsplit.policies import POLICY_TABLE, policies_with
from dnnsplit.scenario import Scenario
from dnnsplit.timeline import timeline_completion

__all__ = [
    "MODEL",
    "MODELS",
    "SCENARIO",
    "Evaluation",
    "batch_components",
    "batch_delays",
    "batch_outcomes",
    "evaluate",
    "model_supports_policy",
]

MODELS = ("snapshot", "timeline")
#: The BS model a function takes (declared by :func:`evaluate` and every solver).
MODEL = Choice(MODELS, "model")
#: The scenario a function takes.
SCENARIO = Instance(Scenario, "a dnnsplit.Scenario")


def model_supports_policy(arguments: dict[str, Any]) -> None:
    """The rule across ``model`` and ``scenario`` of every function declaring both (after
    each is checked): the model defines the scenario's policy."""
    model, policy = arguments["model"], arguments["scenario"].policy
    if not getattr(POLICY_TABLE[policy], model):
        other = [m for m in MODELS if m != model and policy in policies_with(m)]
        hint = f" (it is under the {other[0]} model)" if other else ""
        raise InputError(
            "bs.policy",
            f"{policy} is not defined under the {model} model{hint}; the {model} model takes "
            f"{', '.join(policies_with(model))}",
        )


def batch_components(
    tables: DelayTables, partitions: np.ndarray, model: str = "snapshot"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(D^L, D^tr, D^R)`` for an (M, N) array of partition vectors.

    Under the snapshot model ``D^R`` is the completion time with every residual task queued
    at time 0 (eq. 2); under the timeline model it is the time from the task's arrival
    ``r_i = D^L_i + D^tr_i`` to its completion.
    """
    local, transmission, work = tables.components(partitions)
    if model == "snapshot":
        return local, transmission, bs_completion(work, tables.policy, tables.bs_quantum)
    release = local + transmission
    remote = np.empty_like(work)
    for row in range(work.shape[0]):
        finish = timeline_completion(release[row], work[row], tables.policy, tables.bs_quantum)
        remote[row] = finish - release[row]
    return local, transmission, remote


def batch_delays(
    tables: DelayTables, partitions: np.ndarray, model: str = "snapshot"
) -> np.ndarray:
    """Per-device delays ``D_i(p)`` (eq. 3) of an (M, N) array of partition vectors."""
    if model == "snapshot":
        return tables.delays(partitions)
    local, transmission, remote = batch_components(tables, partitions, model)
    return local + transmission + remote


def batch_outcomes(
    tables: DelayTables, partitions: np.ndarray, model: str = "snapshot"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-device delays ``D_i(p)`` (eq. 3) and energies ``E_i(p)`` (docs/model.md,
    "Energy") of an (M, N) array of partition vectors, from one BS evaluation (the wait
    ``B_i`` is the BS delay ``D^R_i`` of the model, eq. 2, as :func:`batch_components` says)."""
    local, transmission, remote = batch_components(tables, partitions, model)
    return local + transmission + remote, tables.energies(partitions, remote)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Delays (seconds), energies (joules) and objectives of one partition vector.

    Attributes
    ----------
    partition : numpy.ndarray
        ``p``, one partition point per device.
    local, transmission, remote, delays : numpy.ndarray
        ``D^L``, ``D^tr``, ``D^R`` and ``D = D^L + D^tr + D^R`` per device, eq. (1)–(3).
    energy_cpu, energy_tx, energy_idle : numpy.ndarray
        ``P_cpu·C_i``, ``P_tx·τ_i`` and ``P_idle·B_i`` per device (J; ``B_i = D^R_i``).
    energies : numpy.ndarray
        ``E_i``, the device energy of each task (docs/model.md, "Energy"), J.
    energy : float
        ``Σ_i E_i``, the total device energy (the ``energy`` objective), J.
    total : float
        ``D_tot = Σ_i D_i``, eq. (4).
    variance : float
        ``V = (1/N) Σ_i (D_i − D̄)²``, eq. (8) (population variance).
    mean, max : float
        Mean and largest delay.
    jain : float
        Jain's fairness index of the delays (1 = all equal).
    local_share : float
        Share of all stages run locally, ``Σ_i p_i / (N·S)``.
    feasible : bool
        Every device meets its deadline and its energy budget.
    within_limits : bool
        Every ``p_i`` in ``min_i..s̃_i`` (false only for the all-local baseline on
        limited devices).
    model : str
        ``snapshot`` (the paper's) or ``timeline``.
    """

    partition: np.ndarray
    local: np.ndarray
    transmission: np.ndarray
    remote: np.ndarray
    delays: np.ndarray
    total: float
    variance: float
    mean: float
    max: float
    jain: float
    local_share: float
    feasible: bool
    within_limits: bool
    model: str
    energy_cpu: np.ndarray
    energy_tx: np.ndarray
    energy_idle: np.ndarray
    energies: np.ndarray
    energy: float

    def __post_init__(self) -> None:
        for name in ARRAYS:
            object.__setattr__(self, name, read_only(np.array(getattr(self, name))))

    def objective(self, name: str) -> float:
        """The value of objective ``name`` (``total``, ``variance``, ``max`` or
        ``energy``)."""
        return float(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        """The command line's ``evaluate`` output (docs/interface.md) plus the extra metrics."""
        return {
            "partition": [int(p) for p in self.partition],
            "delays": [float(d) for d in self.delays],
            "local": [float(d) for d in self.local],
            "transmission": [float(d) for d in self.transmission],
            "remote": [float(d) for d in self.remote],
            "total": self.total,
            "variance": self.variance,
            "mean": self.mean,
            "max": self.max,
            "jain": self.jain,
            "local_share": self.local_share,
            "feasible": self.feasible,
            "within_limits": self.within_limits,
            "model": self.model,
            "energy": self.energy,
            "energies": [float(e) for e in self.energies],
            "energy_cpu": [float(e) for e in self.energy_cpu],
            "energy_tx": [float(e) for e in self.energy_tx],
            "energy_idle": [float(e) for e in self.energy_idle],
        }


#: The per-device arrays of an :class:`Evaluation` (read-only copies).
ARRAYS = (
    "partition",
    "local",
    "transmission",
    "remote",
    "delays",
    "energy_cpu",
    "energy_tx",
    "energy_idle",
    "energies",
)


def as_partition(partition: Any, n_devices: int) -> np.ndarray:
    """A partition vector as an int array, or an :class:`InputError` naming ``partition``."""
    if isinstance(partition, str | bytes | dict):
        raise InputError("partition", "must be a list of whole numbers")
    if isinstance(partition, list | tuple) and any(
        isinstance(p, bool | np.bool_) for p in partition
    ):  # numpy would read True beside whole numbers as 1
        raise InputError("partition", "entries must be whole numbers")
    try:
        array = np.asarray(partition)
    except (TypeError, ValueError, OverflowError):
        raise InputError("partition", "must be a list of whole numbers") from None
    if array.ndim != 1 or array.shape[0] != n_devices:
        raise InputError(
            "partition", f"needs {n_devices} entries, one per device, got {array.size}"
        )
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        if np.all(np.abs(array) <= 2.0**62):
            array = array.astype(np.int64)
    if array.dtype.kind == "O":  # Python ints beyond int64 (or other objects)
        for k, value in enumerate(array.tolist()):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError("partition", "entries must be whole numbers")
            if not -(2**63) <= value < 2**63:
                raise InputError(
                    f"partition[{k}]", f"{shown(value)} is outside the device's partition points"
                )
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise InputError("partition", "entries must be whole numbers")
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        k = int(np.argmax(array > np.iinfo(np.int64).max))
        raise InputError(
            f"partition[{k}]", f"{int(array[k])} is outside the device's partition points"
        )
    return array.astype(np.int64)


@declare(
    {"scenario": SCENARIO, "model": MODEL, "enforce_limits": Flag()}, then=model_supports_policy
)
def evaluate(
    scenario: Scenario,
    partition: Any,
    *,
    model: str = "snapshot",
    enforce_limits: bool = True,
) -> Evaluation:
    """Delays, energies and objectives of one partition vector, eq. (1)–(4), (8) and the
    energy of docs/model.md ("Energy").

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    partition : sequence of int
        ``p_i`` in 0..s̃_i for every device (the number of stages run locally).
    model : {"snapshot", "timeline"}
        The paper's snapshot BS model, or the discrete-event timeline.
    enforce_limits : bool
        Reject ``p_i > s̃_i`` (default). The all-local baseline turns it off.

    Returns
    -------
    Evaluation

    Raises
    ------
    InputError
        A parameter outside its declaration (the decorator's table), a model that does
        not define the scenario's policy, or a partition outside the limits (named).
    """
    tables = scenario.tables
    p = as_partition(partition, scenario.n_devices)[None, :]
    tables.check_partitions(p, enforce_limits=enforce_limits)
    local, transmission, remote = (a[0] for a in batch_components(tables, p, model))
    delays = local + transmission + remote
    energies = tables.energies(p, remote[None, :])[0]
    rows = np.arange(scenario.n_devices)
    return Evaluation(
        partition=p[0].copy(),
        local=local,
        transmission=transmission,
        remote=remote,
        delays=delays,
        total=float(delays.sum()),
        variance=float(delays.var()),
        mean=float(delays.mean()),
        max=float(delays.max()),
        jain=float(jain_index(delays)),
        local_share=float(p.sum() / (scenario.n_devices * scenario.n_stages)),
        feasible=bool(tables.excess(delays, energies) == 0),
        within_limits=bool(np.all((p[0] >= tables.min_stage) & (p[0] <= tables.max_stage))),
        model=model,
        energy_cpu=tables.cpu_power * tables.cpu_time[rows, p[0]],
        energy_tx=tables.tx_power * transmission,
        energy_idle=tables.idle_power * remote,
        energies=energies,
        energy=float(energies.sum()),
    )
