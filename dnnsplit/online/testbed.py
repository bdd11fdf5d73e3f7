"""The online controllers on the emulated testbed (docs/online.md, docs/testbed.md): real
device processes, uplinks that ``tc`` reshapes at the trace's change times, and the
model's prediction of every request set against what it measured.

:func:`drive` plays one controller in a world (:class:`~dnnsplit.online.World`, drawn as
for the simulation) on a :class:`Bench` (the real one, :class:`EmulatedBench`, or a
stand-in in the tests):

1. at every change of the world (:func:`tc_schedule`), each changed device's link is
   reshaped, a :class:`~dnnsplit.online.State` is built and the controller decides (the
   wall time of ``decide`` recorded);
2. requests go in **rounds** at the world's periodic request times from 0 (all devices
   together: the snapshot model's premise): once the previous round's replies are all in,
   every present device sends one request at the point last decided (a round that cannot
   start by the horizon is not sent). A decision made during a round applies from the
   next; its **switching time** runs from the change to the start of the first request at
   the new points (an agent holds the whole network, so a switch loads nothing);
3. before a round is sent, the snapshot model (eq. 1-3) of the state then, on the
   scenario's nominal device profile and the BS's measured one, predicts each request
   (:func:`predict`): a prediction made before the request, never fitted to it;
4. each reply is a row (:data:`COLUMNS`) and goes to ``observe`` (the bandit may then ask
   to decide again, before the next round).

:func:`run_online_testbed` builds the rig with the testbed's own phases
(:mod:`dnnsplit.testbed.experiment`), plays every controller in the same world, and
removes everything on exit, an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import math
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from dnnsplit._checks import MAX_WHOLE
from dnnsplit._params import Choice, Constraint, Instance, Nullable, Whole, declare_fields
from dnnsplit.errors import InputError
from dnnsplit.evaluate import Evaluation, evaluate
from dnnsplit.online.api import label
from dnnsplit.online.controllers import (
    CONTROLLER_SOLVERS,
    CONTROLLERS,
    Controller,
    State,
    make_controller,
)
from dnnsplit.online.dynamics import SECONDS, OnlineScenario, World
from dnnsplit.solvers import DELAY_OBJECTIVES
from dnnsplit.testbed.agent import ask
from dnnsplit.testbed.emulation import Emulation, capabilities, run_lock, signals_raise
from dnnsplit.testbed.experiment import (
    DEVICE_CORE,
    SETTLE_PERIODS,
    Rig,
    Several,
    TestbedConfig,
    _start_server,
    calibrate,
    host_description,
    prepare,
)

__all__ = [
    "COLUMNS",
    "DECISION_COLUMNS",
    "ONLINE_TESTBED_FIELDS",
    "Bench",
    "EmulatedBench",
    "OnlineTestbedConfig",
    "check_pool",
    "drive",
    "predict",
    "run_online_testbed",
    "tc_schedule",
]

#: One row per request: the controller, the round, its scheduled and actual start (s
#: from the run's start), the device, its point and uplink rate at the start; measured:
#: end to end, local stages, upload (and the reply's way back), the BS (queue and
#: stages); predicted (snapshot model, before the request): the same three parts and the
#: whole.
COLUMNS = (
    "controller", "round", "scheduled_s", "started_s", "device", "point", "rate_bps",
    "measured_s", "measured_local_s", "measured_send_s", "measured_bs_s",
    "predicted_s", "predicted_local_s", "predicted_send_s", "predicted_bs_s",
)  # fmt: skip
#: One row per decision: the controller, the change it answered (s), the wall time of
#: ``decide`` (s), its model evaluations, the present devices whose point it changed, and
#: when the first request at its points started (s; empty if none did before the end).
DECISION_COLUMNS = (
    "controller", "time_s", "decide_s", "evaluations", "switches", "first_request_s",
    "switching_s",
)  # fmt: skip


def tc_schedule(world: World) -> pd.DataFrame:
    """When to reshape which device's uplink, and to what: every device at 0, then each
    device whose rate changes at a change of the world (columns ``time_s``, ``device``,
    ``rate_bps``; by time, then device)."""
    times, rates = world.intervals.times, world.intervals.rates
    k, i = np.nonzero(np.vstack([np.ones(world.n_devices, dtype=bool), rates[1:] != rates[:-1]]))
    return pd.DataFrame({"time_s": times[k], "device": i, "rate_bps": rates[k, i]})


def predict(state: State) -> Evaluation:
    """The snapshot model (eq. 1-3) of ``state``'s present devices at their rates now and
    the points last told (``state.points``): what a round sent in this state should take."""
    return evaluate(state.scenario, state.points[state.devices], model="snapshot",
                    enforce_limits=False)  # fmt: skip


class Bench(Protocol):
    """What :func:`drive` needs of a testbed: a clock from the run's start, a link to
    reshape, a request to start, and the replies that arrived within a timeout (device,
    the device's row: ``end_to_end_s``, ``local_s``, ``send_s``, ``bs_queue_s``,
    ``bs_compute_s``)."""

    def now(self) -> float: ...

    def shape(self, device: int, rate_bps: float) -> None: ...

    def start(self, device: int, point: int) -> None: ...

    def wait(self, timeout_s: float) -> list[tuple[int, dict[str, Any]]]: ...


def drive(world: World, controller: Controller, bench: Bench,
          name: str = "") -> tuple[list[tuple[Any, ...]], list[list[Any]]]:  # fmt: skip
    """Play ``controller`` in ``world`` on ``bench`` (the module docstring, steps 1-4).

    Returns the request rows (:data:`COLUMNS`) and the decision rows
    (:data:`DECISION_COLUMNS`). Every device of the pool is present throughout (checked by
    :func:`run_online_testbed`).
    """
    pool, intervals = world.scenario, world.intervals
    schedule = tc_schedule(world)
    changes = [float(t) for t in intervals.times]
    rounds = world.requests.times(0.0, world.horizon_s, np.random.default_rng(0))  # periodic
    tables = pool.tables
    points = np.clip(tables.max_stage // 2, tables.min_stage, tables.max_stage)
    rates = intervals.rates[0].copy()
    present = intervals.present[0].copy()
    rows: list[tuple[Any, ...]] = []
    decisions: list[list[Any]] = []
    waiting: list[list[Any]] = []  # decisions whose first request has not started
    in_flight: dict[int, tuple[tuple[Any, ...], tuple[float, ...]]] = {}
    changed: set[int] = set()
    next_change, next_round, again = 0, 0, False

    def decide(at: float) -> None:
        nonlocal points, again
        state = State(at, pool, present.copy(), rates.copy(), points.copy(),
                      tuple(sorted(changed)), world.memo)  # fmt: skip
        changed.clear()
        began = time.perf_counter()
        decision = controller.decide(state)
        spent = time.perf_counter() - began
        new = np.asarray(decision.points)
        switches = int(np.sum((new != points) & present)) if decisions else 0  # the first: at once
        points, again = new.copy(), False
        row = [name, at, spent, decision.evaluations, switches, math.nan, math.nan]
        decisions.append(row)
        if switches:
            waiting.append(row)

    while True:
        now = bench.now()
        if next_change < len(changes) and changes[next_change] <= now:
            at = changes[next_change]
            for _, change in schedule[schedule["time_s"] == at].iterrows():
                i = int(change["device"])
                bench.shape(i, float(change["rate_bps"]))
                rates[i] = change["rate_bps"]
                changed.add(i)
            present = intervals.present[next_change].copy()
            next_change += 1
            decide(at)
            continue
        if not in_flight and again:
            decide(now)
        late = now >= world.horizon_s  # a round not started by the horizon is not sent
        if not in_flight and not late and next_round < rounds.size and rounds[next_round] <= now:
            state = State(now, pool, present.copy(), rates.copy(), points.copy(),
                          memo=world.memo)  # fmt: skip
            model = predict(state)
            started = bench.now()
            for k, i in enumerate(state.devices.tolist()):
                in_flight[i] = ((name, next_round, float(rounds[next_round]), started, i,
                                 int(points[i]), float(rates[i])),
                                (float(model.delays[k]), float(model.local[k]),
                                 float(model.transmission[k]), float(model.remote[k])))  # fmt: skip
                bench.start(i, int(points[i]))
            for row in waiting:
                row[5], row[6] = started, started - row[1]
            waiting.clear()
            next_round += 1
            continue
        if not in_flight and (next_round >= rounds.size or late):
            break
        due = min(changes[next_change] if next_change < len(changes) else math.inf,
                  rounds[next_round] if next_round < rounds.size and not in_flight
                  else math.inf)  # fmt: skip
        for i, answer in bench.wait(max(0.0, min(due, world.horizon_s + 3600.0) - now)):
            sent, predicted = in_flight.pop(i)  # sent: the row's first columns, to rate_bps
            measured = float(answer["end_to_end_s"])
            rows.append((*sent, measured, float(answer["local_s"]), float(answer["send_s"]),
                         float(answer["bs_queue_s"]) + float(answer["bs_compute_s"]),
                         *predicted))  # fmt: skip
            if controller.observe(i, sent[5], measured):
                again = True
    return rows, decisions


class EmulatedBench:
    """The emulated testbed as a :class:`Bench`: the rig's agents (one per pool device)
    connected to a running BS, their links shaped with ``tc``; the clock starts when made."""

    def __init__(self, emulation: Emulation, rig: Rig, settle_s: float) -> None:
        self.emulation, self.rig, self.settle_s = emulation, rig, settle_s
        self.busy: dict[Any, int] = {}
        self.began = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.began

    def shape(self, device: int, rate_bps: float) -> None:
        self.emulation.shape(self.rig.namespaces[device] or "", rate_bps)

    def start(self, device: int, point: int) -> None:
        agent = self.rig.agents[device]
        agent.send({"cmd": "run", "point": point, "settle_s": self.settle_s, "rate_bps": None})
        self.busy[agent.process.stdout] = device

    def wait(self, timeout_s: float) -> list[tuple[int, dict[str, Any]]]:
        if not self.busy:
            time.sleep(timeout_s)
            return []
        ready, _, _ = select.select(list(self.busy), [], [], timeout_s)
        answers = []
        for stream in ready:
            device = self.busy.pop(stream)
            answers.append((device, self.rig.agents[device].receive()))
        return answers


def check_pool(online: OnlineScenario) -> None:
    """Refuse what the driver cannot play, naming the field: it takes an
    :class:`~dnnsplit.online.OnlineScenario` whose pool is present throughout (arrivals
    ``none``), asks in periodic rounds, and has every device at ``speed`` 1 (each quota
    emulates the scenario's profile itself)."""
    Instance(OnlineScenario, "a dnnsplit.online.OnlineScenario").check(online, "online")
    if online.dynamics.arrivals.kind != "none":
        raise InputError("online.arrivals.kind", "the testbed driver runs every device "
                         "throughout (none)")  # fmt: skip
    if online.dynamics.requests.kind != "periodic":
        raise InputError("online.requests.kind", "the testbed driver sends requests in "
                         "periodic rounds (periodic)")  # fmt: skip
    for i, device in enumerate(online.scenario.devices):
        if device.speed != 1.0:
            raise InputError(f"devices[{i}].speed", "a device's quota emulates the profile "
                             "itself (1)")  # fmt: skip


#: What each field of :class:`OnlineTestbedConfig` takes (its one declaration).
ONLINE_TESTBED_FIELDS: dict[str, Constraint] = {
    "controllers": Several(Choice(CONTROLLERS, "controller")),
    "solver": Choice(CONTROLLER_SOLVERS, "solver"),
    "objective": Choice(DELAY_OBJECTIVES, "objective"),
    "seed": Whole(0, MAX_WHOLE),
    "horizon_s": Nullable(SECONDS),
}


@dataclass(frozen=True)
@declare_fields(ONLINE_TESTBED_FIELDS)
class OnlineTestbedConfig:
    """What :func:`run_online_testbed` plays (each field as :data:`ONLINE_TESTBED_FIELDS`
    declares).

    Attributes
    ----------
    controllers : tuple of str
        Played one after another in the same world, from the same initial rates.
    solver, objective : str
        What ``static``, ``resolve`` and ``repair`` solve with and minimise.
    seed : int
        The world's seed (and the controllers').
    horizon_s : float or None
        Seconds per controller (None: the dynamics').
    """

    controllers: tuple[str, ...] = CONTROLLERS
    solver: str = "greedy"
    objective: str = "total"
    seed: int = 0
    horizon_s: float | None = None


def run_online_testbed(
    online: OnlineScenario,
    work_dir: str | os.PathLike[str],
    played: OnlineTestbedConfig | None = None,
    *,
    testbed: TestbedConfig | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Play each controller in one world of ``online`` on the emulated testbed (module
    docstring).

    Parameters
    ----------
    online : OnlineScenario
        The pool (every device present throughout; its profile is what the devices'
        quotas emulate) and its dynamics (periodic requests; the rate traces ``tc``
        replays): :func:`check_pool`. The BS's times are replaced by the BS's profile
        measured on its core.
    work_dir : path
        Where the profiles and the logs of the BS and the devices are written.
    played : OnlineTestbedConfig, optional
        The controllers, their solver and objective, the world's seed and the horizon
        (default: every controller, greedy, total delay, seed 0, the dynamics' horizon).
    testbed : TestbedConfig, optional
        The testbed's settings: ``network``, ``fraction``, ``period_ms``,
        ``profile_repeats``, ``calibration_rounds``, ``host_repeats`` (its other fields
        are not used); default ``TestbedConfig(calibration_rounds=1, profile_repeats=3,
        host_repeats=5)``.
    say : callable
        Receives one line per step.

    Returns
    -------
    requests : pandas.DataFrame
        One row per request (:data:`COLUMNS`).
    decisions : pandas.DataFrame
        One row per decision (:data:`DECISION_COLUMNS`).
    provenance : dict
        The host before and after, the quotas, the BS's profile, the world's changes, the
        wall time.

    Raises
    ------
    InputError
        A pool the driver cannot play (:func:`check_pool`), a host that cannot run the
        testbed with ``tc`` (``testbed``), quotas that do not fit a core (``devices``).
    TestbedError
        Another run holds the host, or a part of the testbed failed (named).
    """
    check_pool(online)
    played = played or OnlineTestbedConfig()
    config = testbed or TestbedConfig(calibration_rounds=1, profile_repeats=3, host_repeats=5)
    n = online.scenario.n_devices
    config = replace(config, devices=(n,), shaping="tc")
    caps = capabilities()
    if caps["missing"] or not caps["netns"]:
        needs = [*caps["missing"], *([] if caps["netns"] else ["root and the ip and tc tools"])]
        raise InputError("testbed", "cannot run here: needs " + "; ".join(needs))
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    target = online.scenario.profile
    began = time.perf_counter()
    host_before = host_description()
    requests: list[tuple[Any, ...]] = []
    decisions: list[list[Any]] = []
    with (
        run_lock(),
        signals_raise(),
        Emulation(period_us=round(config.period_ms * 1000), cgroups=caps["cgroups"]) as emulation,
    ):
        rig = prepare(emulation, config, target, work, "tc", say)
        calibration = calibrate(emulation, rig, config, target, work, say)
        pool = replace(online.scenario, bs_time_s=rig.host.time_s.copy(),
                       bs_profile_ref=None, bs_stage_s=None,
                       bs_quantum_s=float(rig.host.time_s.mean()))  # fmt: skip
        world = online.dynamics.world(pool, played.seed, played.horizon_s)
        for i, device in enumerate(pool.devices):
            for _ in range(device.background):
                emulation.spawn([sys.executable, "-S", "-c", "while True: pass"],
                                cpus={DEVICE_CORE}, cgroup=rig.cgroups[i],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        server, port = _start_server(emulation, rig, config.network, pool.policy,
                                     work / "bs.log")  # fmt: skip
        ask(rig.agents, [{"cmd": "connect", "host": address, "port": port}
                         for address in rig.addresses[:n]])  # fmt: skip
        settle_s = SETTLE_PERIODS * config.period_ms / 1000
        for name in played.controllers:
            controller = make_controller(name, solver=played.solver, objective=played.objective,
                                         seed=played.seed)  # fmt: skip
            say(f"{label(name, played.solver)}: {world.horizon_s:g} s, "
                f"{len(world.intervals) - 1} changes")  # fmt: skip
            bench = EmulatedBench(emulation, rig, settle_s)
            rows, decided = drive(world, controller, bench, label(name, played.solver))
            requests += rows
            decisions += decided
        emulation.end(server)
    provenance = {
        "host": host_before,
        "host_after": host_description(),
        "cgroup": {"version": emulation.cgroups.version, "root": str(emulation.cgroups.root)},
        "fractions": calibration.fractions.tolist(),
        "device_speeds": calibration.speeds.tolist(),
        "bs_profile_s": rig.host.time_s.tolist(),
        "target_profile_s": target.time_s.tolist(),
        "changes": tc_schedule(world).to_dict(orient="list"),
        "period_ms": config.period_ms,
        "wall_s": round(time.perf_counter() - began, 1),
    }
    return (pd.DataFrame(requests, columns=list(COLUMNS)),
            pd.DataFrame(decisions, columns=list(DECISION_COLUMNS)), provenance)  # fmt: skip
