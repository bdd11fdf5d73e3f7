"""Regret against an oracle: what a controller lost, interval by interval.

Between two changes of the world the state is fixed: the present devices and their
rates. The **oracle** knows each state the moment it begins and plays its offline optimum
at once, with no decision time and no switching; a controller plays the points in force
(:class:`~dnnsplit.online.simulation.Trajectory`), which lag behind. Split the horizon at
every change of either; on a piece of length Δt in state s with points p in force, the
controller loses ``Δt · (f_s(p) − f_s*)``, where f is the objective (total delay, eq. 4;
the variance of delays, eq. 8; or the slowest device's delay) of the paper's one-instant
model of state s (the snapshot model) and ``f_s*`` the oracle's value there. The
**cumulative regret** is the sum of the pieces up to a time (units: the objective's ×
seconds).

The oracle of a state is :func:`~dnnsplit.solvers.optimal` with a node limit
(deterministic: the same on any machine). Where it finishes, its value is the certified
optimum, and then no controller's regret on that piece can be negative (a test holds it);
where the node limit stops it, its value is the best vector it found (a lower bound
proves how far the optimum can lie below), the piece is marked uncertified, and a
controller may beat it (negative regret there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dnnsplit.online.controllers import State, solved
from dnnsplit.online.dynamics import World
from dnnsplit.online.simulation import Trajectory
from dnnsplit.solvers._common import objective_values

__all__ = ["REGRET_COLUMNS", "oracle", "regret"]

#: The columns of :func:`regret`'s pieces.
REGRET_COLUMNS = ("start_s", "end_s", "devices", "value", "best", "lower_bound", "certified",
                  "regret", "cumulative")  # fmt: skip


def _state(world: World, k: int) -> State:
    """The world's state ``k`` as a controller would see it (no points told yet)."""
    intervals = world.intervals
    return State(float(intervals.times[k]), world.scenario, intervals.present[k],
                 intervals.rates[k], np.zeros(world.n_devices, dtype=np.int64),
                 memo=world.memo)  # fmt: skip


def oracle(
    world: World, k: int, objective: str, *, max_nodes: int, restarts: int = 8, seed: int = 0
) -> tuple[float, float, bool]:
    """``(best, lower_bound, certified)`` of the world's state ``k`` (0, 0, True with no
    device present): ``optimal`` stopped at ``max_nodes`` nodes, remembered in the
    world's memo (a controller that solved the state the same way shares the answer)."""
    state = _state(world, k)
    if state.devices.size == 0:
        return 0.0, 0.0, True
    solution = solved(state.scenario, state.key, world.memo, solver="optimal", objective=objective,
                      restarts=restarts, seed=seed, max_nodes=max_nodes)  # fmt: skip
    bound = float(solution.extra.get("lower_bound", solution.value))
    return float(solution.value), bound, bool(solution.optimal)


def _value(world: World, k: int, points: np.ndarray, objective: str) -> float:
    """The objective of the points ``points`` (the pool's) in state ``k``."""
    state = _state(world, k)
    devices = state.devices
    if devices.size == 0:
        return 0.0
    key: Any = ("value", state.key, objective, tuple(points[devices].tolist()))
    if key not in world.memo:
        delays = state.scenario.tables.delays(points[devices][None, :])
        world.memo[key] = float(objective_values(delays, objective)[0])
    found: float = world.memo[key]
    return found


def regret(world: World, trajectory: Trajectory, objective: str, *, max_nodes: int,
           restarts: int = 8, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """The pieces of the horizon (module docstring), one row each: ``start_s``,
    ``end_s``, ``devices`` present, ``value`` (the objective of the points in force),
    ``best`` (the oracle's), its ``lower_bound``, ``certified``, ``regret`` (Δt · (value
    − best)) and ``cumulative`` (the regret up to ``end_s``)."""
    intervals = world.intervals
    starts = np.union1d(intervals.times, trajectory.in_force_times)
    starts = starts[starts < world.horizon_s]
    ends = np.append(starts[1:], world.horizon_s)
    state_of = np.searchsorted(intervals.times, starts, side="right") - 1
    vector_of = np.searchsorted(trajectory.in_force_times, starts, side="right") - 1
    rows = []
    for start, end, k, v in zip(starts, ends, state_of, vector_of, strict=True):
        best, bound, certified = oracle(
            world, int(k), objective, max_nodes=max_nodes, restarts=restarts, seed=seed
        )
        value = _value(world, int(k), trajectory.in_force[v], objective)
        rows.append((float(start), float(end), int(intervals.present[k].sum()), value, best,
                     bound, certified, (end - start) * (value - best)))  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(REGRET_COLUMNS[:-1]))
    frame["cumulative"] = frame["regret"].cumsum()
    return frame
