"""The event-driven simulation of the dynamic setting (SimPy; docs/online.md).

Every request of the world (:class:`~dnnsplit.online.dynamics.World`) runs through the
system event by event: device i runs stages 1..p of the point in force on its CPU, one task
after another (eq. 1's ``D^L_i(p)``, background processes included); its uplink sends the
tensor, one at a time, at its trace's rate, which may change mid-transmission
(:meth:`~dnnsplit.online.traces.RateTrace.finish`); the residual task reaches the BS when
its tensor does (the timeline model's rule, :mod:`dnnsplit.timeline`) and is served under
``sjf``, ``rr`` (quantum ``q_R``) or ``ps``. The delay runs from the request to the BS's
completion (p = S: to the end of the local stages).

At every change of the world the controller decides; its answer takes effect after its
modelled decision time (evaluations × ``seconds_per_evaluation``; a change during a
decision is decided once it is done); a present device whose point changes keeps its old
one ``switch_s`` longer. Measured delays are reported to the controller as they return.

Why SimPy rather than :mod:`dnnsplit.timeline`: that model takes releases known in
advance; here releases depend on decisions, and decisions on results not yet returned, so
the BS, the devices and the controller advance together in one event loop.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import simpy

from dnnsplit.model import QUANTA_GUARD
from dnnsplit.online.controllers import Controller, Decision, State
from dnnsplit.online.dynamics import World

__all__ = ["BaseStation", "Trajectory", "run_world"]

_EPS = 1e-12
#: The columns of :attr:`Trajectory.requests` and :attr:`Trajectory.decisions`.
_REQUEST_COLUMNS = ("device", "issued_s", "point", "local_s", "transmission_s", "bs_s", "delay_s")
_DECISION_COLUMNS = ("time_s", "applied_s", "evaluations", "modelled_s", "switches")


class BaseStation:
    """The BS in a SimPy environment: :meth:`submit` a residual task of ``work`` seconds,
    get an event that fires at its completion.

    Orders (smaller first): ``sjf`` by ``(work, device, arrival number)``, non-preemptive
    (ties by device index, as in the snapshot and timeline models); ``rr``
    cyclic in arrival order, at most ``quantum`` a turn (a last slice within
    :data:`~dnnsplit.model.QUANTA_GUARD` of a quantum runs whole, as in the timeline
    model); ``ps`` shares the BS equally among the tasks present.
    """

    def __init__(self, env: simpy.Environment, policy: str, quantum: float) -> None:
        self.env, self.policy, self.quantum = env, policy, quantum
        self.waiting: list[Any] = []  # sjf: heap of (work, device, number, event)
        self.queue: deque[list[Any]] = deque()  # rr: [remaining, event]
        self.active: list[list[Any]] = []  # ps: [remaining, work, event]
        self.arrived: list[list[Any]] = []
        self.count = 0
        self.wake: simpy.Event = env.event()
        self.busy = False
        env.process(self._serve())

    def submit(self, work: float, device: int = 0) -> simpy.Event:
        """A task of ``work`` seconds from ``device`` arrives now; the event fires (with
        the time) when it completes."""
        done = self.env.event()
        self.count += 1
        if self.policy == "sjf":
            heapq.heappush(self.waiting, (work, device, self.count, done))
        elif self.policy == "rr":
            self.queue.append([work, done])
        else:
            self.arrived.append([work, work, done])
        if not self.wake.triggered and (self.policy == "ps" or not self.busy):
            self.wake.succeed()
        return done

    def _serve(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            if not (self.waiting or self.queue or self.active or self.arrived):
                self.wake = env.event()
                self.busy = False
                yield self.wake
            self.busy = True
            if self.policy == "sjf":
                work, _, _, done = heapq.heappop(self.waiting)
                yield env.timeout(work)
                done.succeed(env.now)
            elif self.policy == "rr":
                task = self.queue.popleft()
                last = task[0] <= self.quantum * (1 + QUANTA_GUARD)
                run = task[0] if last else self.quantum
                yield env.timeout(run)
                task[0] -= run
                if last:
                    task[1].succeed(env.now)
                else:
                    self.queue.append(task)
            else:
                yield from self._share()

    def _share(self) -> Generator[simpy.Event, Any, None]:
        """One step of processor sharing: until the next completion or arrival."""
        env = self.env
        self.active += self.arrived
        self.arrived = []
        share = len(self.active)
        step = min(task[0] for task in self.active) * share
        began = env.now
        if self.wake.triggered:
            self.wake = env.event()
        yield env.timeout(step) | self.wake
        served = (env.now - began) / share
        still = []
        for task in self.active:
            task[0] -= served
            if task[0] <= _EPS * max(1.0, task[1]):
                task[2].succeed(env.now)
            else:
                still.append(task)
        self.active = still


@dataclass(frozen=True, eq=False)
class Trajectory:
    """What one run of a controller in a world did.

    Attributes
    ----------
    requests : pandas.DataFrame
        One row per completed request: ``device``, ``issued_s``, ``point``, ``local_s``
        (its local stages, waiting for the device's CPU included), ``transmission_s``
        (waiting for the uplink included), ``bs_s`` (arrival at the BS to completion),
        ``delay_s`` (the sum).
    decisions : pandas.DataFrame
        One row per decision: ``time_s`` (asked), ``applied_s`` (its points sent),
        ``evaluations``, ``modelled_s`` (the decision time charged), ``switches``
        (present devices told to change point).
    in_force_times : numpy.ndarray
        When the points in force changed (the first 0).
    in_force : numpy.ndarray
        The pool's points in force from each of those times, (K, N).
    measured_s : numpy.ndarray
        The wall time of each decision, s (machine-dependent: never in committed results).
    unfinished : int
        Requests still in the system at the horizon.
    """

    requests: pd.DataFrame
    decisions: pd.DataFrame
    in_force_times: np.ndarray
    in_force: np.ndarray
    measured_s: np.ndarray
    unfinished: int


class _Run:
    """One controller in one world (:func:`run_world`)."""

    def __init__(self, world: World, controller: Controller, seconds_per_evaluation: float) -> None:
        self.world, self.controller = world, controller
        self.cost = seconds_per_evaluation
        pool = world.scenario
        self.env = simpy.Environment()
        self.bs = BaseStation(self.env, pool.policy, pool.bs_quantum_s)
        tables = pool.tables
        self.local = tables.local  # (N, S+1): D^L_i(p)
        self.bits = 8.0 * pool.profile.bytes_sent()  # (S+1,): 0 at p = S
        self.work = tables.remote_work
        self.present = world.intervals.present[0].copy()
        self.rates = world.intervals.rates[0].copy()
        self.points = np.clip(tables.max_stage // 2, tables.min_stage, tables.max_stage)
        self.in_force = self.points.copy()
        self.switching: dict[int, int] = {}  # device -> token of its pending switch
        self.tokens = 0
        self.changed: set[int] = set()
        self.wanted = False
        self.wake = self.env.event()
        self.cpu_free = np.zeros(pool.n_devices)
        self.link_free = np.zeros(pool.n_devices)
        self.rows: list[tuple[Any, ...]] = []
        self.decisions: list[tuple[Any, ...]] = []
        self.measured: list[float] = []
        self.force_times: list[float] = []
        self.force_rows: list[np.ndarray] = []
        self.issued = 0

    # -- the vector in force ----------------------------------------------------------

    def _log(self) -> None:
        """Record the points in force from now (when they changed)."""
        now = self.env.now
        if self.force_rows and np.array_equal(self.force_rows[-1], self.in_force):
            return
        if self.force_times and self.force_times[-1] == now:
            self.force_rows[-1] = self.in_force.copy()
        else:
            self.force_times.append(now)
            self.force_rows.append(self.in_force.copy())

    def _switch(self, device: int, point: int, token: int) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.world.switch_s)
        if self.switching.get(device) == token:
            del self.switching[device]
            self.in_force[device] = point
            self._log()

    def _apply(self, decision: Decision, free: bool = False) -> int:
        """Send ``decision``'s points: an absent device's (or any, when ``free``) is in
        force at once; a present device that changes point switches after ``switch_s``."""
        switches = 0
        for device, point in enumerate(decision.points.tolist()):
            self.points[device] = point
            self.switching.pop(device, None)  # a pending switch is overtaken
            if point == self.in_force[device]:
                continue
            if free or not self.present[device] or self.world.switch_s == 0:
                self.in_force[device] = point
                switches += int(self.present[device] and not free)
                continue
            switches += 1
            self.tokens += 1
            self.switching[device] = self.tokens
            self.env.process(self._switch(device, int(point), self.tokens))
        self._log()
        return switches

    # -- the controller ---------------------------------------------------------------

    def _decide(self) -> Decision:
        """The controller's answer for the state now (its wall time recorded)."""
        changed = tuple(sorted(self.changed))
        self.changed.clear()
        state = State(self.env.now, self.world.scenario, self.present.copy(), self.rates.copy(),
                      self.points.copy(), changed, self.world.memo)  # fmt: skip
        began = time.perf_counter()
        decision = self.controller.decide(state)
        self.measured.append(time.perf_counter() - began)
        return decision

    def _ask(self) -> None:
        self.wanted = True
        if not self.wake.triggered:
            self.wake.succeed()

    def _control(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        while True:
            if not self.wanted:
                self.wake = env.event()
                yield self.wake
            self.wanted = False
            asked = env.now
            decision = self._decide()
            charge = decision.evaluations * self.cost
            if charge > 0:
                yield env.timeout(charge)
            switches = self._apply(decision)
            self.decisions.append((asked, env.now, decision.evaluations, charge, switches))

    # -- the world --------------------------------------------------------------------

    def _world(self) -> Generator[simpy.Event, Any, None]:
        intervals = self.world.intervals
        for k in range(1, len(intervals)):
            yield self.env.timeout(intervals.times[k] - self.env.now)
            present, rates = intervals.present[k], intervals.rates[k]
            moved = (present != self.present) | (present & (rates != self.rates))
            self.changed.update(np.flatnonzero(moved).tolist())
            self.present, self.rates = present.copy(), rates.copy()
            self._ask()

    # -- the requests -----------------------------------------------------------------

    def _requests(self) -> Generator[simpy.Event, Any, None]:
        world = self.world
        times = [world.request_times(i) for i in range(world.n_devices)]
        owner = np.concatenate([np.full(t.size, i) for i, t in enumerate(times)])
        when = np.concatenate(times)
        order = np.lexsort((owner, when))
        for issued, device in zip(when[order].tolist(), owner[order].tolist(), strict=True):
            if issued > self.env.now:
                yield self.env.timeout(issued - self.env.now)
            self.issued += 1
            self.env.process(self._request(device, issued))

    def _request(self, device: int, issued: float) -> Generator[simpy.Event, Any, None]:
        point = int(self.in_force[device])
        local_end = max(issued, self.cpu_free[device]) + self.local[device, point]
        self.cpu_free[device] = local_end
        sent = local_end
        work = self.work[device, point]
        if work > 0:
            start = max(local_end, self.link_free[device])
            sent = self.world.traces[device].finish(start, self.bits[point])
            self.link_free[device] = sent
            if sent > self.env.now:
                yield self.env.timeout(sent - self.env.now)
            done = yield self.bs.submit(work, device)
        else:
            if local_end > self.env.now:
                yield self.env.timeout(local_end - self.env.now)
            done = local_end
        delay = done - issued
        self.rows.append(
            (device, issued, point, local_end - issued, sent - local_end, done - sent, delay)
        )
        if self.controller.observe(device, point, delay):
            self._ask()

    def run(self) -> Trajectory:
        first = self._decide()  # before time 0: in force at once, no switching
        self._apply(first, free=True)
        self.decisions.append((0.0, 0.0, first.evaluations, 0.0, 0))
        self.env.process(self._world())
        self.env.process(self._control())
        self.env.process(self._requests())
        self.env.run(until=self.world.horizon_s)
        requests = pd.DataFrame(self.rows, columns=list(_REQUEST_COLUMNS))
        requests = requests.sort_values(["issued_s", "device"], kind="stable")
        return Trajectory(
            requests=requests.reset_index(drop=True),
            decisions=pd.DataFrame(self.decisions, columns=list(_DECISION_COLUMNS)),
            in_force_times=np.array(self.force_times),
            in_force=np.array(self.force_rows),
            measured_s=np.array(self.measured),
            unfinished=self.issued - len(self.rows),
        )


def run_world(world: World, controller: Controller, *, seconds_per_evaluation: float) -> Trajectory:
    """Run ``controller`` in ``world`` to its horizon (the module docstring)."""
    return _Run(world, controller, seconds_per_evaluation).run()
