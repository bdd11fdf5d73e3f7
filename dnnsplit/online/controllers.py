"""Controllers: who decides the partition points while the world moves, and how.

A controller is called with the :class:`State` of the world whenever it changes and
answers with a :class:`Decision`: a point for every pool device and the model evaluations
it took (its modelled decision time: see :func:`dnnsplit.online.simulate`). It is told
every measured delay (:meth:`Controller.observe`) and may ask to decide again. That
interface, ``decide(state) -> Decision`` and ``observe(device, point, delay_s) -> bool``,
is all a runtime needs (the simulation; the testbed driver, :mod:`dnnsplit.online.testbed`).
:class:`Static` solves once for the whole pool, :class:`Resolve` solves the present devices
at every change, :class:`Repair` repairs its last answer by single-device moves, and
:class:`Bandit` learns from measured delays without seeing any rate (docs/online.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from dnnsplit._checks import MAX_WHOLE
from dnnsplit._params import Choice, Real, Whole, declare
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import batch_outcomes
from dnnsplit.online.dynamics import snapshot
from dnnsplit.scenario import Scenario
from dnnsplit.solvers import DELAY_OBJECTIVES, MAX_TIME_LIMIT_S, Solution, solve
from dnnsplit.solvers._common import objective_values, tolerance
from dnnsplit.solvers._moves import improve, make_moves

__all__ = [
    "BANDIT_PARAMETERS",
    "CONTROLLERS",
    "CONTROLLER_SOLVERS",
    "MAX_DECISION_RESTARTS",
    "SOLVING_PARAMETERS",
    "Bandit",
    "Controller",
    "Decision",
    "Repair",
    "Resolve",
    "State",
    "Static",
    "make_controller",
]

#: The controllers by name (:func:`make_controller`).
CONTROLLERS = ("static", "resolve", "repair", "bandit")
#: The solvers a controller may use to decide.
CONTROLLER_SOLVERS = ("greedy", "local-search", "optimal")
#: The most random starts local-search (and optimal's warm start) may take per decision: a
#: run makes hundreds of decisions.
MAX_DECISION_RESTARTS = 1000
#: What the controllers that solve take (their constructor's declaration; ``simulate``'s).
SOLVING_PARAMETERS = {
    "solver": Choice(CONTROLLER_SOLVERS, "solver"),
    "objective": Choice(DELAY_OBJECTIVES, "objective"),
    "seed": Whole(0, MAX_WHOLE),
    "max_nodes": Whole(1, 10**9),
    "restarts": Whole(0, MAX_DECISION_RESTARTS),
}
#: What the bandit takes (its constructor's declaration; ``simulate``'s).
BANDIT_PARAMETERS = {
    "epsilon": Real(low=0.0, high=1.0),
    "step": Real(positive=True, high=1.0),
    "seed": Whole(0, MAX_WHOLE),
}
#: Seconds the ``optimal`` solver may take per solve: only a guard; a solve it stops
#: raises, rather than give a result that depends on the machine.
GUARD_SECONDS = 600.0


@dataclass(frozen=True, eq=False)
class State:
    """What a controller sees when it decides.

    Attributes
    ----------
    time_s : float
        Now, s.
    pool : Scenario
        The profile, the BS and every device of the pool (at their average rates).
    present : numpy.ndarray
        Which pool devices are present, (N,) bool.
    rates : numpy.ndarray
        Every pool device's uplink rate now, (N,) bit/s.
    points : numpy.ndarray
        The point each pool device was last told, (N,).
    changed : tuple of int
        Pool devices whose presence or rate changed since the last decision.
    memo : dict
        Solutions already found for a state, shared with the oracle (a cache: the same
        state solved by the same solver gives the same answer).
    """

    time_s: float
    pool: Scenario
    present: np.ndarray
    rates: np.ndarray
    points: np.ndarray
    changed: tuple[int, ...] = ()
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def devices(self) -> np.ndarray:
        """The present devices' pool indices, increasing."""
        return np.flatnonzero(self.present)

    @property
    def key(self) -> tuple[Any, ...]:
        """What identifies the state: the present devices and their rates."""
        devices = self.devices
        return (tuple(devices.tolist()), tuple(self.rates[devices].tolist()))

    @cached_property
    def scenario(self) -> Scenario:
        """The paper's one-instant scenario of the present devices, at their rates now
        (cached in :attr:`memo`)."""
        key = ("scenario", self.key)
        if key not in self.memo:
            self.memo[key] = snapshot(self.pool, self.present, self.rates)
        found: Scenario = self.memo[key]
        return found


@dataclass(frozen=True, eq=False)
class Decision:
    """A controller's answer: ``points`` for every pool device (an absent device's entry
    is where it starts when it joins), and the model evaluations it took."""

    points: np.ndarray
    evaluations: int = 0


class Controller:
    """The interface (see the module docstring); subclasses set :attr:`name`."""

    name = "controller"

    def decide(self, state: State) -> Decision:
        """The points for ``state``."""
        raise NotImplementedError

    def observe(self, device: int, point: int, delay_s: float) -> bool:
        """A measured delay of ``device`` at ``point``; True asks to decide again."""
        return False


def solution_evaluations(solution: Solution, n: int, n_stages: int, restarts: int) -> int:
    """The model evaluations a solve took, by what it reports: greedy scores 2N candidates
    per move (and once more to stop), local-search N·(S+1) per move and per run, optimal
    N per search node plus N²·(S+1) to set up (its bounds' tables; its warm start, a
    greedy and a local-search whose moves it does not report, is not counted). A model of
    the work, not a measurement: ``benchmarks/online.py`` prints measured times beside."""
    if solution.solver == "greedy":
        return (solution.iterations + 1) * 2 * n
    if solution.solver == "local-search":
        return (solution.iterations + restarts + 1) * n * (n_stages + 1)
    nodes = int(solution.extra.get("nodes", 0))
    return nodes * n + n * n * (n_stages + 1)


def solved(scenario: Scenario, key: Any, memo: dict[Any, Any], *, solver: str, objective: str,
           restarts: int = 8, seed: int = 0, max_nodes: int = 20_000) -> Solution:  # fmt: skip
    """``solver`` on ``scenario`` (the state ``key``), remembered in ``memo``: a rerun with
    the same arguments gives the same answer, so it is looked up instead. Greedy and
    local-search run without a reachable time limit; ``optimal`` stops at ``max_nodes``
    nodes (a node limit: the same answer on any machine).

    Raises
    ------
    SolverRefusal
        A search stopped by its clock (its answer would depend on the machine).
    """
    options: dict[str, Any] = {"time_limit": MAX_TIME_LIMIT_S}
    if solver == "local-search":
        options.update(restarts=restarts, seed=seed)
    elif solver == "optimal":
        options.update(max_nodes=max_nodes, time_limit=GUARD_SECONDS, restarts=restarts, seed=seed)
    entry = ("solve", key, solver, objective, tuple(sorted(options.items())))
    if entry not in memo:
        found = solve(scenario, objective=objective, solver=solver, **options)
        if found.stopped in ("time_limit", "interrupted"):
            raise SolverRefusal("time_limit",
                                f"{solver} was stopped by its clock: a result would depend on it")
        memo[entry] = found
    answer: Solution = memo[entry]
    return answer


class _Solving(Controller):
    """What the controllers that solve share: the solver, objective and options."""

    @declare(SOLVING_PARAMETERS)
    def __init__(self, *, solver: str = "greedy", objective: str = "total", restarts: int = 8,
                 seed: int = 0, max_nodes: int = 20_000) -> None:  # fmt: skip
        self.solver, self.objective = solver, objective
        self.options = {"restarts": restarts, "seed": seed, "max_nodes": max_nodes}

    def _fresh(self, state: State) -> Decision:
        """Solve the present devices from scratch."""
        points = state.points.copy()
        devices = state.devices
        if devices.size == 0:
            return Decision(points, 0)
        scenario = state.scenario
        solution = solved(scenario, state.key, state.memo, solver=self.solver,
                          objective=self.objective, **self.options)  # fmt: skip
        points[devices] = solution.partition
        return Decision(points, solution_evaluations(
            solution, scenario.n_devices, scenario.n_stages, self.options["restarts"]))  # fmt: skip


class Static(_Solving):
    """Solve once, for the whole pool at its rates at the start; never again."""

    name = "static"
    points: np.ndarray | None = None

    def decide(self, state: State) -> Decision:
        if self.points is not None:
            return Decision(self.points.copy(), 0)
        everyone = np.ones(state.pool.n_devices, dtype=bool)
        decision = self._fresh(State(state.time_s, state.pool, everyone, state.rates,
                                     state.points, memo=state.memo))  # fmt: skip
        self.points = decision.points.copy()
        return decision


class Resolve(_Solving):
    """Solve the present devices from scratch at every change."""

    name = "resolve"

    def decide(self, state: State) -> Decision:
        return self._fresh(state)


class Repair(_Solving):
    """Solve once at the start; at a change, the touched devices' best points with the
    others fixed, then single-device moves (to any point) until none improves.

    Notes
    -----
    **Guarantee**: the answer is an any-step local optimum of the objective (no single
    device can improve it by moving alone), like :func:`~dnnsplit.solvers.local_search`'s
    end point, from a start near the previous decision.

    **Complexity**: (S+1) evaluations per touched device, then N·(S+1) candidates per
    improving move, scored incrementally under ``sjf``/``ps`` for total delay and variance
    (:func:`~dnnsplit.solvers._moves.make_moves`).
    """

    name = "repair"
    started = False

    def decide(self, state: State) -> Decision:
        if not self.started:
            self.started = True
            return self._fresh(state)
        points = state.points.copy()
        devices = state.devices
        if devices.size == 0:
            return Decision(points, 0)
        scenario = state.scenario
        tables = scenario.tables
        local = np.clip(points[devices], tables.min_stage, tables.max_stage).astype(np.int64)
        position = {int(d): k for k, d in enumerate(devices)}
        touched = [position[d] for d in state.changed if d in position]
        work = 0
        for k in touched:
            options = np.arange(tables.min_stage[k], tables.max_stage[k] + 1)
            vectors = np.repeat(local[None, :], options.size, axis=0)
            vectors[:, k] = options
            delays, energies = batch_outcomes(tables, vectors)
            values = objective_values(delays, self.objective)
            excess = tables.excess(delays, energies)
            best = np.lexsort((values, excess))[0]
            now = int(np.flatnonzero(options == local[k])[0])
            tied = excess[now] == excess[best]
            same = tied and values[now] <= values[best] + tolerance(values[best])
            local[k] = options[now if same else best]
            work += options.size
        moves = make_moves(tables, local, "any", self.objective, "snapshot")
        iterations = improve(moves)
        work += (iterations + 1) * devices.size * (tables.n_stages + 1)
        points[devices] = moves.p
        return Decision(points, work)


class Bandit(Controller):
    """Per-device ε-greedy bandits over partition points, from measured delays (no rates).

    Device i's arms are its allowed points. After each of its measured delays ``d`` at
    point p, ``mean[p] ← mean[p] + step·(d − mean[p])`` (the first delay sets it); then
    its next point is, with probability ``epsilon``, a uniformly drawn arm, else an arm it
    has never tried (the highest first), else the arm of least mean (ties: the higher
    point). A device's arms are kept while it is away. It learns its *own* delay, whatever
    the objective, and the delays of the others' choices reach it only through the BS
    queue (a multi-agent bandit, with no guarantee). Draws come from
    ``numpy.random.default_rng([seed, 3])``.
    """

    name = "bandit"

    @declare(BANDIT_PARAMETERS)
    def __init__(self, *, epsilon: float = 0.1, step: float = 0.3, seed: int = 0) -> None:
        self.epsilon, self.step = epsilon, step
        self.rng = np.random.default_rng([seed, 3])
        self.means: dict[int, dict[int, float]] = {}
        self.points: np.ndarray | None = None
        self.limits: tuple[np.ndarray, np.ndarray] | None = None

    def _choose(self, device: int) -> int:
        assert self.limits is not None
        low, high = int(self.limits[0][device]), int(self.limits[1][device])
        arms = range(high, low - 1, -1)
        means = self.means.setdefault(device, {})
        if self.rng.random() < self.epsilon:
            return int(self.rng.integers(low, high + 1))
        untried = [a for a in arms if a not in means]
        if untried:
            return untried[0]
        return min(arms, key=lambda a: means[a])

    def decide(self, state: State) -> Decision:
        if self.points is None:
            tables = state.pool.tables
            self.limits = (tables.min_stage.copy(), tables.max_stage.copy())
            self.points = state.points.copy()
            for device in range(state.pool.n_devices):
                self.points[device] = self._choose(device)
        return Decision(self.points.copy(), 0)

    def observe(self, device: int, point: int, delay_s: float) -> bool:
        if self.points is None:
            return False
        means = self.means.setdefault(device, {})
        means[point] = (
            delay_s if point not in means else means[point] + self.step * (delay_s - means[point])
        )
        chosen = self._choose(device)
        changed = chosen != self.points[device]
        self.points[device] = chosen
        return bool(changed)


def make_controller(
    name: str, *, seed: int = 0, epsilon: float = 0.1, step: float = 0.3, **solving: Any
) -> Controller:
    """The controller called ``name`` (one of :data:`CONTROLLERS`): the bandit with
    ``epsilon``, ``step`` and ``seed``; the others with ``seed`` and ``solving`` (``solver``,
    ``objective``, ``restarts``, ``max_nodes``)."""
    if name == "bandit":
        return Bandit(epsilon=epsilon, step=step, seed=seed)
    return {"static": Static, "resolve": Resolve, "repair": Repair}[name](seed=seed, **solving)
