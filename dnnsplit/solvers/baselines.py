"""Baselines: all-local (the paper's), max-local, all-offload, and coupling-blind choice.

Each is a fixed rule, O(N·S) at most; none searches, none is optimal in general.
"""

from __future__ import annotations

import numpy as np

from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import Found, solver

__all__ = ["all_local", "all_offload", "independent", "max_local"]


@solver("all-local")
def all_local(scenario: Scenario, *, objective: str = "total", model: str = "snapshot") -> Found:
    """The paper's all-local baseline: ``p_i = S`` for every device.

    Kept as the paper words it: every device runs the whole network, even where S exceeds
    its memory limit s̃_i, so the vector can be outside the limits (its evaluation then
    says ``within_limits=False``). ``max_local`` is the reading that respects them.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    objective : {"total", "variance", "max", "energy"}
        The objective reported as ``value``.
    model : {"snapshot", "timeline"}
        The BS model (no device offloads, so both give the same delays).

    Returns
    -------
    Solution

    Notes
    -----
    **Guarantee**: none (a reference point). **Complexity**: O(N).

    References
    ----------
    Kafetzis and Koutsopoulos, the baseline of Fig. 3; eq. (1) with ``T = Σ_s t_s``.
    """
    return Found(
        np.full(scenario.n_devices, scenario.n_stages, dtype=np.int64),
        enforce_limits=False,
        note="p = S for every device (the paper's baseline), even beyond s̃_i",
    )


@solver("max-local")
def max_local(scenario: Scenario, *, objective: str = "total", model: str = "snapshot") -> Found:
    """The most local feasible vector: ``p_i = s̃_i`` (as much locally as memory allows).

    Parameters
    ----------
    scenario, objective, model
        As :func:`all_local`'s.

    Returns
    -------
    Solution

    Notes
    -----
    **Guarantee**: none; it is the paper's all-local baseline read within the memory
    constraint (5). **Complexity**: O(N).

    References
    ----------
    Kafetzis and Koutsopoulos, constraint (5) on s̃_i.
    """
    return Found(scenario.max_stage.copy(), note="p = s̃_i: as much locally as memory allows")


@solver("all-offload")
def all_offload(scenario: Scenario, *, objective: str = "total", model: str = "snapshot") -> Found:
    """Offload as early as allowed: ``p_i`` = the lowest point (0, the raw input, by default).

    Parameters
    ----------
    scenario, objective, model
        As :func:`all_local`'s.

    Returns
    -------
    Solution

    Notes
    -----
    **Guarantee**: none. **Complexity**: O(N).

    References
    ----------
    Kafetzis and Koutsopoulos, eq. (2): every stage after the lowest point runs at the BS.
    """
    lowest = scenario.min_stage.copy()
    note = "p = 0: the raw input is sent" if not lowest.any() else "p = each device's lowest point"
    return Found(lowest, note=note)


@solver("independent")
def independent(scenario: Scenario, *, objective: str = "total", model: str = "snapshot") -> Found:
    """Each device picks the point best for itself as if it were alone at the BS.

    The coupling-blind rule of single-device partitioners (Neurosurgeon and its kind):
    ``p_i = argmin_p D^L_i(p) + D^tr_i(p) + T^R_i(p)`` over the allowed points, ties to
    the lowest p.

    Parameters
    ----------
    scenario, objective, model
        As :func:`all_local`'s (the choice ignores ``objective``; ``model`` is that of the
        evaluation).

    Returns
    -------
    Solution

    Notes
    -----
    **Guarantee**: optimal for N = 1 under the snapshot model; none otherwise.
    **Complexity**: O(N·S).

    References
    ----------
    Kafetzis and Koutsopoulos, eq. (3) for one device with an idle BS.
    """
    tables = scenario.tables
    alone = tables.offload_delay + tables.remote_work
    choice = np.argmin(np.where(tables.allowed, alone, np.inf), axis=1).astype(np.int64)
    return Found(
        choice,
        note="each device minimises its own delay as if alone at the BS (coupling-blind)",
    )
