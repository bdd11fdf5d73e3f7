"""The delay tables of a scenario: every device's delay components at every point.

:func:`delay_tables` tabulates, once per scenario, for every device i and point p = 0..S:
the local delay ``D^L_i(p)`` of eq. (1) with ``T = Σ_{s≤p} t_s / c_i``, the transmission
delay ``D^tr_i(p) = 8·b_p / W_i`` (0 at p = S), the residual BS work
``T^R_i(p) = Σ_{s>p} t^R_s``, the CPU time ``C_i(p) = T`` and the energy spent before the
BS wait, ``P_cpu·C_i(p) + P_tx·D^tr_i(p)`` (docs/model.md, "Energy").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dnnsplit.model import DelayTables, local_delay, read_only

if TYPE_CHECKING:
    from dnnsplit.scenario import Scenario

__all__ = ["delay_tables"]


def delay_tables(scenario: Scenario) -> DelayTables:
    """The (N, S+1) tables of ``scenario`` (eq. 1 and the transmission and BS work).

    Overflow is not warned about here: :func:`dnnsplit.audit.audit_delays` checks the
    result and names the field that makes a delay too large.
    """
    devices = scenario.devices
    max_stage = read_only(np.array([d.max_stage for d in devices], dtype=np.int64))
    min_stage = read_only(np.array([d.min_stage for d in devices], dtype=np.int64))
    with np.errstate(all="ignore"):
        speed = np.array([d.speed for d in devices])[:, None]
        work = np.concatenate([[0.0], np.cumsum(scenario.profile.time_s)])[None, :] / speed
        background = np.array([d.background for d in devices])[:, None]
        quantum = np.array([d.quantum_s for d in devices])[:, None]
        local = local_delay(work, background, quantum, scenario.local_delay)
        bits = 8.0 * scenario.profile.bytes_sent()[None, :]
        rate = np.array([d.rate_bps for d in devices])[:, None]
        transmission = bits / rate
        suffix = np.concatenate([np.cumsum(scenario.bs_time_s[::-1])[::-1], [0.0]])
        remote_work = np.broadcast_to(suffix, local.shape).copy()
        powers = [scenario.device_power(i) for i in range(len(devices))]
        cpu_power = np.array([p.cpu_w for p in powers], dtype=float)
        tx_power = np.array([p.tx_w for p in powers], dtype=float)
        idle_power = np.array([p.idle_w for p in powers], dtype=float)
        energy_offload = cpu_power[:, None] * work + tx_power[:, None] * transmission
    deadline = np.array([np.inf if d.deadline_s is None else d.deadline_s for d in devices])
    budget = np.array([np.inf if d.energy_budget_j is None else d.energy_budget_j for d in devices])
    return DelayTables(
        local=local,
        transmission=transmission,
        remote_work=remote_work,
        max_stage=max_stage,
        min_stage=min_stage,
        deadline=deadline,
        policy=scenario.policy,
        bs_quantum=scenario.bs_quantum_s,
        cpu_time=np.broadcast_to(work, local.shape).copy(),
        cpu_power=cpu_power,
        tx_power=tx_power,
        idle_power=idle_power,
        energy_offload=energy_offload,
        energy_budget=budget,
    )
