"""The entry point: :func:`simulate` a controller in a dynamic scenario, and its
:class:`Run` (what happened, what it cost, and its regret against the oracle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._params import Choice, Constraint, Flag, Nullable, Real, declare
from dnnsplit.errors import InputError, shown
from dnnsplit.online.controllers import (
    BANDIT_PARAMETERS,
    CONTROLLERS,
    SOLVING_PARAMETERS,
    make_controller,
)
from dnnsplit.online.dynamics import SECONDS, OnlineScenario, World
from dnnsplit.online.regret import regret as regret_pieces
from dnnsplit.online.simulation import Trajectory, run_world
from dnnsplit.scenario import Scenario

__all__ = [
    "DEFAULT_MAX_NODES",
    "DEFAULT_SECONDS_PER_EVALUATION",
    "SIMULATE_PARAMETERS",
    "Run",
    "label",
    "simulate",
]

#: The modelled cost of one model evaluation (a candidate vector scored, a search node per
#: device), s: the decision time a controller is charged is its evaluations times this.
#: **[choice]** 1 µs: measured costs per evaluation ranged from 0.6 µs (local-search at
#: N = 50) to about 30 µs (optimal and repair at N = 10, where fixed costs dominate) on a
#: shared 2-core machine; ``benchmarks/online.py`` prints measured against modelled times.
DEFAULT_SECONDS_PER_EVALUATION = 1e-6
#: The node limit of the oracle (and of the ``optimal`` controller): deterministic, so the
#: same states are certified on any machine.
DEFAULT_MAX_NODES = 20_000


class OnlineInput(Constraint):
    """What :func:`simulate` runs in: a :class:`~dnnsplit.online.OnlineScenario`, a
    :class:`~dnnsplit.online.World` already drawn, or a plain :class:`~dnnsplit.Scenario`
    (taken with the default :class:`~dnnsplit.online.Dynamics`: every device present
    throughout at its constant rate)."""

    def check(self, value: Any, field: str) -> OnlineScenario | World:
        if isinstance(value, Scenario):
            return OnlineScenario(value)
        if not isinstance(value, OnlineScenario | World):
            raise InputError(field, "must be a dnnsplit.online.OnlineScenario, a "
                             f"dnnsplit.online.World or a dnnsplit.Scenario, got {shown(value)}")
        return value

    def invalid(self) -> tuple[Any, ...]:
        return (None, "x", 1, {})

    def valid(self) -> tuple[Any, ...]:
        return ()  # an instance needs a scenario: the tests give their own


#: What :func:`simulate` takes (the one declaration its checks and tests read; a
#: controller's constructor declares its own the same way).
SIMULATE_PARAMETERS = {
    "scenario": OnlineInput(),
    "controller": Choice(CONTROLLERS, "controller"),
    **SOLVING_PARAMETERS,
    **BANDIT_PARAMETERS,
    "seed": Nullable(SOLVING_PARAMETERS["seed"]),  # None: the world's seed, 0 by default
    "horizon_s": Nullable(SECONDS),
    "seconds_per_evaluation": Real(low=0.0, high=1.0),
    "regret": Flag(),
}


def _world_rules(arguments: dict[str, Any]) -> None:
    """A realised world brings its own seed and horizon."""
    if isinstance(arguments["scenario"], World):
        for name in ("seed", "horizon_s"):
            if arguments[name] is not None:
                raise InputError(name, "a World has its own; give an OnlineScenario to set it")


def label(controller: str, solver: str) -> str:
    """A controller's name with the solver it uses (``resolve (greedy)``; ``bandit``)."""
    return controller if controller == "bandit" else f"{controller} ({solver})"


@dataclass(frozen=True, eq=False)
class Run:
    """One controller run in one world.

    Attributes
    ----------
    controller : str
        Its name with its solver (:func:`label`).
    objective : str
        What it minimised, and what the regret is measured in.
    world : World
        The world it ran in.
    trajectory : Trajectory
        Its requests, decisions and points in force.
    regret : pandas.DataFrame or None
        The pieces of :func:`dnnsplit.online.regret.regret` (None if not asked).
    """

    controller: str
    objective: str
    world: World
    trajectory: Trajectory
    regret: pd.DataFrame | None

    def summary(self) -> dict[str, Any]:
        """Plain data (the command line's output): delays (s), decisions, modelled and
        measured decision time (s), the final cumulative regret and the share of the
        horizon whose oracle is certified."""
        requests, decisions = self.trajectory.requests, self.trajectory.decisions
        delays = requests["delay_s"].to_numpy()
        out: dict[str, Any] = {
            "controller": self.controller,
            "objective": self.objective,
            "seed": self.world.seed,
            "horizon_s": self.world.horizon_s,
            "pool_devices": self.world.n_devices,
            "changes": len(self.world.intervals) - 1,
            "requests": int(delays.size),
            "unfinished": self.trajectory.unfinished,
            "mean_delay_s": float(delays.mean()) if delays.size else None,
            "p95_delay_s": float(np.percentile(delays, 95)) if delays.size else None,
            "max_delay_s": float(delays.max()) if delays.size else None,
            "decisions": len(decisions),
            "switches": int(decisions["switches"].sum()),
            "modelled_decision_s": float(decisions["modelled_s"].sum()),
            "measured_decision_s": float(self.trajectory.measured_s.sum()),
        }
        if self.regret is not None:
            pieces = self.regret
            span = (pieces.end_s - pieces.start_s).to_numpy()
            out["regret"] = float(pieces["regret"].sum())
            out["certified_share"] = float(span[pieces.certified.to_numpy()].sum() / span.sum())
            out["mean_objective"] = float((span * pieces.value).sum() / span.sum())
            out["mean_best"] = float((span * pieces.best).sum() / span.sum())
        return out


@declare(SIMULATE_PARAMETERS, fields={"scenario": "scenario"}, then=_world_rules)
def simulate(
    scenario: OnlineScenario | World | Scenario,
    *,
    controller: str = "repair",
    solver: str = "greedy",
    objective: str = "total",
    seed: int | None = None,
    horizon_s: float | None = None,
    seconds_per_evaluation: float = DEFAULT_SECONDS_PER_EVALUATION,
    max_nodes: int = DEFAULT_MAX_NODES,
    restarts: int = 8,
    epsilon: float = 0.1,
    step: float = 0.3,
    regret: bool = True,
) -> Run:
    """Run a controller in a dynamic scenario and measure its regret (docs/online.md).

    Parameters
    ----------
    scenario : OnlineScenario, World or Scenario
        The scenario and its dynamics (drawn into a world from ``seed``), or a world
        already drawn (:meth:`Dynamics.world`; controllers compared in one world meet the
        same arrivals, traces and requests, and share its solved states), or a plain
        scenario (every device present throughout at its constant rate).
    controller : {"static", "resolve", "repair", "bandit"}
        Who decides (:mod:`dnnsplit.online.controllers`).
    solver : {"greedy", "local-search", "optimal"}
        What ``static`` and ``resolve`` solve with, and ``repair`` at the start.
    objective : {"total", "variance", "max"}
        Total delay (eq. 4), the variance of delays (eq. 8) or the slowest device's delay:
        what the controllers minimise and the regret measures (the bandit minimises each
        device's own delay whatever it is).
    seed : int, optional
        The world's seed (default 0), which also seeds local-search's starts and the
        bandit; pass an int for reproducible output. Not with a world.
    horizon_s : float, optional
        How long to run, s (default: the dynamics' ``horizon_s``). Not with a world.
    seconds_per_evaluation : float
        The modelled decision time per model evaluation, s
        (:data:`DEFAULT_SECONDS_PER_EVALUATION`): deterministic, so the same seed gives
        the same run on any machine. The measured wall time is reported beside it.
    max_nodes : int
        Node limit of the ``optimal`` solver, as a controller and as the oracle.
    restarts : int
        local-search's random starts (also the warm start of ``optimal``), at most
        :data:`~dnnsplit.online.controllers.MAX_DECISION_RESTARTS`.
    epsilon, step : float
        The bandit's exploration probability and the step of its running means.
    regret : bool
        Compute the regret against the oracle (one ``optimal`` solve per state).

    Returns
    -------
    Run

    Raises
    ------
    InputError
        A parameter outside its declaration (:data:`SIMULATE_PARAMETERS`), named.
    SolverRefusal
        A world too large to simulate (more than
        :data:`~dnnsplit.online.dynamics.MAX_REQUESTS` requests, or
        :data:`~dnnsplit.online.dynamics.MAX_ARRIVALS` arrivals), named by its field; or a
        solve stopped by its clock (its guard: ten minutes a solve), so a result would
        depend on the machine.
    """
    if isinstance(scenario, World):
        world = scenario
    else:
        assert isinstance(scenario, OnlineScenario)  # a Scenario was wrapped by its check
        world = scenario.dynamics.world(scenario.scenario, seed or 0, horizon_s)
    chosen = make_controller(controller, seed=world.seed, epsilon=epsilon, step=step,
                             solver=solver, objective=objective, restarts=restarts,
                             max_nodes=max_nodes)  # fmt: skip
    trajectory = run_world(world, chosen, seconds_per_evaluation=seconds_per_evaluation)
    pieces = regret_pieces(world, trajectory, objective, max_nodes=max_nodes, restarts=restarts,
                           seed=world.seed) if regret else None  # fmt: skip
    return Run(label(controller, solver), objective, world, trajectory, pieces)
