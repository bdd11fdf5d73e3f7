"""``dnnsplit testbed``: N emulated devices and a real BS on one host; the model's
predictions, fixed before any request runs, set against what the devices measure.

The run goes in phases (docs/testbed.md, "Prediction, then measurement", has the
reasoning): :func:`prepare` (the BS's profile; one agent per device, in its cgroup and
namespace), :func:`calibrate` (each device's CPU quota against whole inferences, the
largest N they hold, every device profiled in its cgroup), :func:`predict` (per policy, N
and seed: :func:`candidate_vectors` and their delays under both models from each of
:data:`INPUTS`, all before the first measured request), :func:`measure` (a real BS per
policy, the links shaped, ``repeats`` rounds per vector interleaved), and the clean-up
(:class:`~dnnsplit.testbed.emulation.Emulation`). The tidy output has one row per
(policy, N, seed, vector, device): :data:`COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import platform
import secrets
import select
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._io import writable_folder
from dnnsplit._params import Choice, Constraint, Nullable, Real, Text, Whole, declare_fields
from dnnsplit.chains import CHAINS, Chain, get_chain
from dnnsplit.draw import MAX_SEED, paper_scenario
from dnnsplit.errors import InputError, TestbedError, shown
from dnnsplit.evaluate import Evaluation, evaluate
from dnnsplit.profiler import cpu_model, interquartile_range
from dnnsplit.profiles import Profile, chain_profile, load_profile, write_profile
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import solve
from dnnsplit.testbed.agent import TOKEN_VARIABLE, Agent, ask
from dnnsplit.testbed.emulation import (
    BUSY_LOOP,
    Emulation,
    capabilities,
    run_lock,
    signals_raise,
)

__all__ = [
    "COLUMNS",
    "INPUTS",
    "MODELS",
    "TESTBED_FIELDS",
    "VECTORS",
    "Rig",
    "Several",
    "TestbedConfig",
    "calibrate",
    "candidate_vectors",
    "check_quotas",
    "host_description",
    "largest_n",
    "prepare",
    "run_testbed",
    "tidy_csv",
]

VECTORS = ("greedy", "optimal", "all-local", "max-local")
TESTBED_POLICIES = ("sjf", "rr")
#: The two sets of inputs a prediction is made from (module docstring, step 3).
INPUTS = ("predicted", "calibrated")
MODELS = ("snapshot", "timeline")
#: The values of N measured by default, up to the largest N the calibrated quotas hold,
#: which is measured too.
GRID = (1, 2, 4, 8)
MAX_DEVICES = 250
#: Without given values of N, agents are started for quotas down to this share of the
#: nominal one, so that the largest N is found even where calibrated quotas come out lower
#: (a host measured while busy looks slower, and its nominal quota larger).
AGENT_MARGIN = 0.75
#: The third entry of the random vectors' seed, ``default_rng([N, seed, RANDOM_STREAM])``:
#: a stream apart from the scenario's own draw (``default_rng([N, seed])``).
RANDOM_STREAM = 1
BS_CORE, DEVICE_CORE = 1, 0
#: CFS periods a device spins, untimed, before each request: a cgroup that has been idle
#: may overrun its quota by up to a scheduler tick (4 ms at HZ=250), which would run its
#: first stages faster than the quota; after spinning it starts in the throttled steady
#: state its profile was measured in.
SETTLE_PERIODS = 2
#: Seconds between two rounds (the BS and the links fall idle).
PAUSE_S = 0.02
#: Quotas that sum to within this above one core fit it (a floating-point guard).
CORE_SLACK = 1e-9

COLUMNS = (
    "policy", "devices", "seed", "vector", "device", "partition", "max_stage", "background",
    "rate_bps", "shaping", "repeats", "measured_s", "measured_iqr_s", "measured_min_s",
    "measured_max_s", "measured_local_s", "measured_send_s", "measured_queue_s",
    "measured_bs_s", "model_send_s", "bs_work_s",
    *(f"{inputs}_{part}" for inputs in INPUTS
      for part in ("local_s", "bs_snapshot_s", "bs_timeline_s", "snapshot_s", "timeline_s")),
    "load_1m",
)  # fmt: skip
#: The columns that identify a row (its sort key in the CSV).
KEY_COLUMNS = ("policy", "devices", "seed", "vector", "device")


@dataclass(frozen=True)
class Several(Constraint):
    """A non-empty list of values, each as ``each`` takes it; canonical: a tuple without
    repeats (in the given order, or sorted with ``sort``)."""

    each: Constraint
    sort: bool = False

    def check(self, value: Any, field: str) -> tuple[Any, ...]:
        if isinstance(value, str | bytes | dict) or not isinstance(value, Sequence | set):
            raise InputError(field, f"must be a non-empty list, got {shown(value)}")
        if not value:
            raise InputError(field, "must be a non-empty list")
        checked = [self.each.check(v, f"{field}[{k}]") for k, v in enumerate(value)]
        unique = tuple(dict.fromkeys(checked))
        return tuple(sorted(unique)) if self.sort else unique

    def invalid(self) -> tuple[Any, ...]:
        return ((), "x", None, 5, *((bad,) for bad in self.each.invalid() if bad is not None))

    def valid(self) -> tuple[Any, ...]:
        each = self.each.valid()
        return (*((good,) for good in each), list(reversed(each)))


#: What each field of :class:`TestbedConfig` takes (the one declaration its check, and
#: the tests, read). Errors name the field; the command line renames them to its flags.
TESTBED_FIELDS: dict[str, Constraint] = {
    "devices": Nullable(Several(Whole(1, MAX_DEVICES), sort=True)),
    "seeds": Several(Whole(0, MAX_SEED), sort=True),
    "policies": Several(Choice(TESTBED_POLICIES, "policy")),
    "repeats": Whole(1, 1000),
    "vectors": Several(Choice(VECTORS, "vector")),
    "random_vectors": Whole(0, 100),
    "objective": Choice(("total", "variance"), "objective"),
    "network": Choice(tuple(CHAINS), "network"),
    "target": Text("a profile name or path"),
    "fraction": Nullable(Real(high=1.0, positive=True)),
    "period_ms": Real(1.0, 1000.0),
    "profile_repeats": Whole(3, 1000),
    "calibration_rounds": Whole(0, 10),
    "host_repeats": Whole(3, 1000),
    "shaping": Choice(("auto", "tc", "pacing"), "shaping"),
}


@dataclass(frozen=True)
@declare_fields(TESTBED_FIELDS)
class TestbedConfig:
    """What one testbed run measures (each field as :data:`TESTBED_FIELDS` declares).

    Attributes
    ----------
    devices : tuple of int or None
        The values of N (one scenario per N and seed); None: :data:`GRID` up to the
        largest N the calibrated quotas hold, and that N (:func:`largest_n`).
    seeds : tuple of int
        Scenario seeds: the scenario of (N, seed) is the paper's draw.
    policies : tuple of str
        BS policies, ``sjf`` and/or ``rr``.
    repeats : int
        Rounds per partition vector (all N devices send at once in each).
    vectors : tuple of str
        The named candidate vectors (:data:`VECTORS`).
    random_vectors : int
        Seeded random feasible vectors added to the candidates (rank fidelity needs them).
    objective : str
        The objective greedy and optimal minimise (``total`` or ``variance``).
    network, target : str
        The chain; the profile the devices emulate (default: the Pi 3B+ estimate).
    fraction : float or None
        The devices' CPU quota as a fraction of a core; None: host total / target total,
        then calibrated.
    period_ms : float
        CFS period of the devices' cgroups.
    profile_repeats, host_repeats : int
        Profiler rounds per device (inside its cgroup); for the host (BS) profile.
    calibration_rounds : int
        Rounds of quota calibration against the target total (0: none).
    shaping : str
        ``auto`` (namespaces and tc where possible, else client pacing), ``tc`` or
        ``pacing``.
    """

    __test__ = False  # not a pytest class

    devices: tuple[int, ...] | None = None
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    policies: tuple[str, ...] = TESTBED_POLICIES
    repeats: int = 3
    vectors: tuple[str, ...] = VECTORS
    random_vectors: int = 6
    objective: str = "total"
    network: str = "alexnet"
    target: str = "alexnet-pi3b-estimated"
    fraction: float | None = None
    period_ms: float = 25.0
    profile_repeats: int = 4
    calibration_rounds: int = 2
    host_repeats: int = 15
    shaping: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("devices", "seeds", "policies", "vectors"):
            data[key] = None if data[key] is None else list(data[key])
        return data


def check_quotas(quotas: Sequence[float]) -> None:
    """Refuse devices whose ``quotas`` (fractions of a core) do not fit the one core they
    share (the other is the BS's): ``Σ f_i ≤ 1``."""
    need = float(sum(quotas))
    if need > 1.0 + CORE_SLACK:
        raise InputError(
            "devices",
            f"{len(quotas)} devices at {min(quotas):.1%}–{max(quotas):.1%} of a core each "
            f"need {need:.2f} cores; the devices share one core (the other is the BS's). Use "
            "fewer devices or a slower target (a smaller fraction)",
        )


def largest_n(fractions: Sequence[float] | np.ndarray) -> int:
    """The most devices, in order, whose quotas fit one core (``Σ f_i ≤ 1``; at least 1)."""
    total = np.cumsum(fractions)
    return max(1, int(np.searchsorted(total, 1.0 + CORE_SLACK, side="right")))


def host_description() -> dict[str, Any]:
    """This host, for the provenance of a measurement: CPU model, cores, load, date."""
    load = os.getloadavg()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in load],
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _profile(
    chain: Chain, name: str, answer: dict[str, Any], hardware: str, source: str
) -> Profile:
    """A profile of ``chain`` from an agent's ``profile`` answer."""
    provenance = {"method": "measured", "source": source, "hardware": hardware,
                  "framework": str(answer.get("framework", "")),
                  "date": dt.date.today().isoformat()}  # fmt: skip
    return chain_profile(chain, name, np.array(answer["time_s"], dtype=float), provenance)


@dataclass
class Rig:
    """What :func:`prepare` made: the devices' agents, their cgroups, namespaces and the
    addresses they reach the BS at; the BS's cgroup and namespace; the shaping; the BS's
    profile (and its file); the devices' nominal quota (a fraction of a core); and the
    run's token, which the BS requires of every device (it listens beyond loopback, on its
    namespace's links)."""

    agents: list[Agent]
    cgroups: list[Path]
    namespaces: list[str | None]
    addresses: list[str]
    bs_cgroup: Path
    bs_namespace: str | None
    shaping: str
    host: Profile
    host_csv: Path
    fraction: float
    token: str


def prepare(
    emulation: Emulation, config: TestbedConfig, target: Profile, work: Path, shaping: str,
    say: Callable[[str], None],
) -> Rig:  # fmt: skip
    """Measure the BS's profile on its core, then start one agent per device the device
    core may hold (``max(config.devices)``, or as many nominal quotas as fit one core),
    each in its cgroup (no quota yet) and, where ``shaping`` is ``tc``, its namespace."""
    say("measuring the host (the BS) on its own core")
    bs_cgroup = emulation.cgroup("bs")
    profiler = Agent.start(
        emulation, "the BS's profiler", network=config.network, device_id=0, cgroup=bs_cgroup,
        core=BS_CORE, namespace=None, log=work / "bs.log",
    )  # fmt: skip
    profiler.receive()
    answer = ask([profiler], {"cmd": "profile", "repeats": config.host_repeats, "warmup": 1})[0]
    emulation.end(profiler.process)
    host = _profile(
        get_chain(config.network), "bs", answer, f"{cpu_model()}, one core (the testbed's BS)",
        "dnnsplit testbed: the profiler on the BS's core, in the BS's cgroup",
    )  # fmt: skip
    host_csv = work / "bs-profile.csv"
    write_profile(host, host_csv)
    fraction = config.fraction or float(host.time_s.sum() / target.time_s.sum())
    if config.devices is not None:
        n_agents = max(config.devices)
        check_quotas([fraction] * n_agents)
    else:
        n_agents = min(MAX_DEVICES, largest_n([fraction * AGENT_MARGIN] * MAX_DEVICES))
    say(f"host {host.time_s.sum() * 1e3:.1f} ms per inference; devices at {fraction:.1%} of "
        f"a core (nominal); starting {n_agents} devices")  # fmt: skip
    namespaces: list[str | None] = [None] * n_agents
    addresses = ["127.0.0.1"] * n_agents
    bs_namespace = None
    if shaping == "tc":
        bs_namespace = emulation.namespace("bs")
        for i in range(n_agents):
            namespaces[i] = emulation.namespace(f"d{i}")
            _, addresses[i] = emulation.link(namespaces[i] or "", bs_namespace, i)
    cgroups = [emulation.cgroup(f"d{i}") for i in range(n_agents)]
    token = secrets.token_hex(16)
    agents = [
        Agent.start(emulation, f"device {i}", network=config.network, device_id=i,
                    cgroup=cgroups[i], core=DEVICE_CORE, namespace=namespaces[i],
                    log=work / f"device{i}.log", token=token)
        for i in range(n_agents)
    ]  # fmt: skip
    for agent in agents:
        agent.receive()  # ready: its network is built (no quota yet)
    return Rig(agents, cgroups, namespaces, addresses, bs_cgroup, bs_namespace, shaping, host,
               host_csv, fraction, token)  # fmt: skip


@dataclass
class Calibration:
    """What :func:`calibrate` measured: each device's quota (a fraction of a core), its
    stage times profiled inside its cgroup and its speed ``c_i`` against their per-stage
    median (written to ``device_csv``), the calibration table, the values of N to
    measure, the largest N the quotas hold (None where the values of N were given; a lower
    bound where it is every device started) and how many devices were started."""

    fractions: np.ndarray
    times: np.ndarray
    speeds: np.ndarray
    device_csv: Path
    table: list[dict[str, Any]]
    devices: tuple[int, ...]
    largest: int | None
    started: int


def calibrate(
    emulation: Emulation, rig: Rig, config: TestbedConfig, target: Profile, work: Path,
    say: Callable[[str], None],
) -> Calibration:  # fmt: skip
    """Calibrate each device's quota alone (whole inferences against the target's total),
    settle the values of N, end the agents beyond the largest, and profile the others, all
    at once, in their cgroups (module docstring, step 2)."""
    target_total = float(target.time_s.sum())
    fractions = np.full(len(rig.agents), rig.fraction)
    table: list[dict[str, Any]] = []
    for i, agent in enumerate(rig.agents):
        emulation.set_quota(rig.cgroups[i], float(fractions[i]))
        for round_ in range(config.calibration_rounds):
            total = float(np.median(ask([agent], {"cmd": "calibrate", "runs": 3})[0]["totals_s"]))
            table.append({"device": i, "round": round_, "fraction": float(fractions[i]),
                          "total_s": total})  # fmt: skip
            if config.fraction is None:
                fractions[i] = min(1.0, fractions[i] * total / target_total)
                emulation.set_quota(rig.cgroups[i], float(fractions[i]))
    largest: int | None = None
    if config.devices is None:
        largest = largest_n(fractions)
        if largest == len(rig.agents):
            say(f"all {largest} devices started fit the device core; more might")
        devices = (*(n for n in GRID if n < largest), largest)
    else:
        devices = config.devices
        check_quotas(fractions[: max(devices)].tolist())
    kept, started = max(devices), len(rig.agents)
    for agent in rig.agents[kept:]:
        emulation.end(agent.process)
    del rig.agents[kept:]
    fractions = fractions[:kept]
    say(f"calibrated quotas {fractions.min():.2%}-{fractions.max():.2%} of a core, "
        f"{fractions.sum():.2f} of the device core for N = {kept}; measuring N = "
        f"{list(devices)}")  # fmt: skip

    say("profiling every device in its cgroup, all at once")
    answers = ask(rig.agents, {"cmd": "profile", "repeats": config.profile_repeats, "warmup": 1})
    times = np.array([a["time_s"] for a in answers], dtype=float)
    chain = get_chain(config.network)
    label = f"emulated {target.label}: {rig.host.provenance.get('hardware')} at a CPU quota"
    for i, answer in enumerate(answers):
        table.append({"device": i, "round": "profile", "fraction": float(fractions[i]),
                      "total_s": float(times[i].sum())})  # fmt: skip
        write_profile(_profile(chain, f"device{i}", answer, f"{label} of {fractions[i]:.1%}",
                               "dnnsplit testbed: the profiler inside the device's cgroup"),
                      work / f"device{i}-profile.csv")  # fmt: skip
    median = np.median(times, axis=0)
    device_csv = work / "device-profile.csv"
    write_profile(_profile(chain, "devices", {**answers[0], "time_s": median.tolist()},
                           label + " (median of the devices)",
                           "dnnsplit testbed: per-stage median over the emulated devices"),
                  device_csv)  # fmt: skip
    speeds = median.sum() / times.sum(axis=1)
    return Calibration(fractions, times, speeds, device_csv, table, devices, largest, started)


def candidate_vectors(
    scenario: Scenario,
    *,
    seed: int,
    objective: str = "total",
    named: Sequence[str] = VECTORS,
    random: int = 6,
) -> dict[str, tuple[int, ...]]:
    """The candidate partition vectors of ``scenario``: the solvers ``named`` (all-local
    ignores the memory limits, as the paper's baseline does), then ``random`` vectors
    drawn uniformly within every device's limits by
    ``numpy.random.default_rng([N, seed, RANDOM_STREAM])``, each unlike every candidate
    before it (fewer where the limits leave fewer). Named vectors may coincide (greedy and
    optimal often do): one measurement then serves both."""
    vectors = {
        name: tuple(int(p) for p in solve(scenario, objective=objective, solver=name).partition)
        for name in named
    }
    seen = set(vectors.values())
    rng = np.random.default_rng([scenario.n_devices, seed, RANDOM_STREAM])
    drawn = 0
    for _ in range(50 * random):
        if drawn == random:
            break
        vector = tuple(int(p) for p in rng.integers(scenario.min_stage, scenario.max_stage,
                                                    endpoint=True))  # fmt: skip
        if vector not in seen:
            seen.add(vector)
            drawn += 1
            vectors[f"random-{drawn}"] = vector
    return vectors


@dataclass
class Plan:
    """One scenario to measure: its policy and seed; the scenario under each of
    :data:`INPUTS` (the same devices, links and background load, different profiles); the
    candidate vectors by name; and each distinct vector's evaluation per inputs and
    model, all made before any measured request."""

    policy: str
    seed: int
    scenarios: dict[str, Scenario]
    vectors: dict[str, tuple[int, ...]]
    predictions: dict[tuple[int, ...], dict[tuple[str, str], Evaluation]]


def predict(config: TestbedConfig, rig: Rig, calibration: Calibration) -> list[Plan]:
    """Every scenario of the run, its candidate vectors and their predictions (module
    docstring, step 3), in the order they are measured (policy, N, seed)."""
    bs_profile, bs_quantum_s = str(rig.host_csv), float(rig.host.time_s.mean())  # RR: a stage
    plans = []
    for policy, n, seed in itertools.product(config.policies, calibration.devices, config.seeds):
        setup = Setup(profile=config.target, bs_profile=bs_profile, policy=policy,
                      bs_quantum_s=bs_quantum_s)  # fmt: skip
        nominal = paper_scenario(n, seed, setup)
        drawn = paper_scenario(n, seed, setup.replace(profile=str(calibration.device_csv)))
        measured = drawn.with_devices(
            [replace(d, speed=float(c)) for d, c in zip(drawn.devices, calibration.speeds[:n],
                                                         strict=True)]
        )  # fmt: skip
        scenarios = {"predicted": nominal, "calibrated": measured}
        vectors = candidate_vectors(nominal, seed=seed, objective=config.objective,
                                    named=config.vectors, random=config.random_vectors)  # fmt: skip
        predictions = {
            vector: {
                (inputs, model): evaluate(scenario, list(vector), model=model,
                                          enforce_limits=False)
                for inputs, scenario in scenarios.items()
                for model in MODELS
            }
            for vector in dict.fromkeys(vectors.values())
        }  # fmt: skip
        plans.append(Plan(policy, seed, scenarios, vectors, predictions))
    return plans


def _start_server(
    emulation: Emulation, rig: Rig, network: str, policy: str, log: Path
) -> tuple[subprocess.Popen[str], int]:
    host = "0.0.0.0" if rig.bs_namespace else "127.0.0.1"
    command = [sys.executable, "-m", "dnnsplit", "serve", "--host", host, "--port", "0",
               "--policy", policy, "--network", network,
               "--bs-profile", str(rig.host_csv)]  # fmt: skip
    server = emulation.spawn(
        command, namespace=rig.bs_namespace, cpus={BS_CORE}, cgroup=rig.bs_cgroup, log=log,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        env={TOKEN_VARIABLE: rig.token},
    )  # fmt: skip
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 120.0)
    line = server.stdout.readline() if ready else ""
    if not line:
        raise TestbedError("the BS", f"did not start (exit status {server.poll()}); see {log}")
    return server, int(json.loads(line)["port"])


def measure(
    emulation: Emulation, rig: Rig, plans: Sequence[Plan], config: TestbedConfig, work: Path,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:  # fmt: skip
    """Measure every plan (module docstring, step 4): one row per vector and device."""
    rows: list[dict[str, Any]] = []
    for policy in config.policies:
        server, port = _start_server(emulation, rig, config.network, policy,
                                     work / f"bs-{policy}.log")  # fmt: skip
        ask(rig.agents, [{"cmd": "connect", "host": address, "port": port}
                         for address in rig.addresses[: len(rig.agents)]])  # fmt: skip
        for plan in plans:
            if plan.policy == policy:
                measured = _measure_plan(emulation, rig, plan, config.repeats,
                                         SETTLE_PERIODS * config.period_ms / 1000)  # fmt: skip
                rows += _rows(plan, measured, rig.shaping, config.repeats)
                done = plans.index(plan) + 1
                say(f"{policy} N={plan.scenarios['predicted'].n_devices} seed {plan.seed}: "
                    f"{len(set(plan.vectors.values()))} vectors measured ({done} of "
                    f"{len(plans)} scenarios)")  # fmt: skip
        emulation.end(server)
    return rows


#: What a device reports of one request, kept for every round.
MEASURED = ("end_to_end_s", "local_s", "send_s", "bs_queue_s", "bs_compute_s")


def _measure_plan(
    emulation: Emulation, rig: Rig, plan: Plan, repeats: int, settle_s: float
) -> dict[tuple[int, ...], dict[str, np.ndarray]]:
    """Every distinct vector of one scenario, ``repeats`` rounds interleaved: per vector,
    each of :data:`MEASURED` (devices × rounds), and the host's load at the start."""
    scenario = plan.scenarios["predicted"]
    agents = rig.agents[: scenario.n_devices]
    rates = [d.rate_bps for d in scenario.devices]
    background = []
    for i, device in enumerate(scenario.devices):
        if rig.shaping == "tc":
            emulation.shape(rig.namespaces[i] or "", rates[i])
        for _ in range(device.background):
            background.append(emulation.spawn(
                BUSY_LOOP, cpus={DEVICE_CORE},
                cgroup=rig.cgroups[i], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ))  # fmt: skip
    vectors = list(dict.fromkeys(plan.vectors.values()))
    answers: dict[tuple[int, ...], list[list[dict[str, Any]]]] = {v: [] for v in vectors}
    load = os.getloadavg()[0]
    try:
        for _ in range(repeats):
            for vector in vectors:
                answers[vector].append(ask(agents, [
                    {"cmd": "run", "point": p, "settle_s": settle_s,
                     "rate_bps": rate if rig.shaping == "pacing" else None}
                    for p, rate in zip(vector, rates, strict=True)
                ]))  # fmt: skip
                time.sleep(PAUSE_S)
    finally:
        for process in background:
            emulation.end(process)
    return {
        vector: {key: np.array([[r[i][key] for r in rounds] for i in range(len(agents))])
                 for key in MEASURED} | {"load": np.array(load)}
        for vector, rounds in answers.items()
    }  # fmt: skip


def _rows(
    plan: Plan, measured: dict[tuple[int, ...], dict[str, np.ndarray]], shaping: str,
    repeats: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """The rows (:data:`COLUMNS`) of one measured scenario: per named vector and device."""
    scenario = plan.scenarios["predicted"]
    rows = []
    for name, vector in plan.vectors.items():
        table, predictions = measured[vector], plan.predictions[vector]
        for i, device in enumerate(scenario.devices):
            e2e = table["end_to_end_s"][i]
            row: dict[str, Any] = {
                "policy": plan.policy, "devices": scenario.n_devices, "seed": plan.seed,
                "vector": name, "device": i, "partition": vector[i],
                "max_stage": device.max_stage, "background": device.background,
                "rate_bps": device.rate_bps, "shaping": shaping, "repeats": repeats,
                "measured_s": float(np.median(e2e)), "measured_iqr_s": interquartile_range(e2e),
                "measured_min_s": float(e2e.min()), "measured_max_s": float(e2e.max()),
                "measured_local_s": float(np.median(table["local_s"][i])),
                "measured_send_s": float(np.median(table["send_s"][i])),
                "measured_queue_s": float(np.median(table["bs_queue_s"][i])),
                "measured_bs_s": float(np.median(table["bs_queue_s"][i]
                                                  + table["bs_compute_s"][i])),
                "model_send_s": float(predictions["predicted", "snapshot"].transmission[i]),
                "bs_work_s": float(scenario.bs_time_s[vector[i]:].sum()),
            }  # fmt: skip
            for inputs in INPUTS:
                snapshot, timeline = (predictions[inputs, m] for m in MODELS)
                row[f"{inputs}_local_s"] = float(snapshot.local[i])
                row[f"{inputs}_bs_snapshot_s"] = float(snapshot.remote[i])
                row[f"{inputs}_bs_timeline_s"] = float(timeline.remote[i])
                row[f"{inputs}_snapshot_s"] = float(snapshot.delays[i])
                row[f"{inputs}_timeline_s"] = float(timeline.delays[i])
            row["load_1m"] = round(float(table["load"]), 2)
            rows.append(row)
    return rows


def run_testbed(
    config: TestbedConfig,
    work_dir: str | os.PathLike[str],
    *,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run the testbed, phase by phase (the module docstring), and return its rows and
    its provenance.

    Parameters
    ----------
    config : TestbedConfig
        What to measure.
    work_dir : path
        Where the measured profiles (the BS, each device, their median) and the logs of
        the devices and the BS (their stderr) are written; made if missing.
    say : callable
        Receives one line per step (progress).

    Returns
    -------
    rows : pandas.DataFrame
        One row per (policy, N, seed, vector, device), columns :data:`COLUMNS`.
    provenance : dict
        The host, the cgroup hierarchy, the quotas, the calibration table, the largest N
        and why, the shaping, load averages, the wall time of every phase.

    Raises
    ------
    InputError
        A folder that cannot be written (``work_dir``), a host that cannot run the
        testbed (``testbed``), a target that is not a profile of the network
        (``target``), devices whose quotas do not fit one core (``devices``).
    TestbedError
        Another run holds the host, or a part of the testbed failed (named).
    """
    work = Path(work_dir)
    problem = writable_folder(work)
    if problem is not None:
        raise InputError("work_dir", f"cannot write in {str(work)!r}: {problem}")
    caps = capabilities()
    if caps["missing"]:
        raise InputError("testbed", "cannot run here: needs " + "; ".join(caps["missing"]))
    target = load_profile(config.target)
    if tuple(target.stage_names) != get_chain(config.network).stage_names:
        raise InputError("target", f"{config.target} is not a profile of {config.network}")
    shaping = config.shaping
    if shaping == "auto":
        shaping = "tc" if caps["netns"] else "pacing"
    elif shaping == "tc" and not caps["netns"]:
        raise InputError("shaping", "tc needs root and the ip and tc tools")
    if config.fraction is not None and config.devices is not None:
        check_quotas([config.fraction] * max(config.devices))
    began = time.perf_counter()
    host_before = host_description()
    phases: dict[str, float] = {}

    def done(phase: str) -> None:
        phases[phase] = round(time.perf_counter() - began - sum(phases.values()), 1)

    with (
        run_lock(),
        signals_raise(),
        Emulation(period_us=round(config.period_ms * 1000), cgroups=caps["cgroups"]) as emulation,
    ):
        rig = prepare(emulation, config, target, work, shaping, say)
        done("prepare_s")
        calibration = calibrate(emulation, rig, config, target, work, say)
        done("calibrate_s")
        plans = predict(config, rig, calibration)
        done("predict_s")
        say(f"{len(plans)} scenarios predicted; measuring")
        rows = measure(emulation, rig, plans, config, work, say)
        done("measure_s")
    provenance = {
        "host": host_before,
        "host_after": host_description(),
        "cgroup": {"version": emulation.cgroups.version, "root": str(emulation.cgroups.root)},
        "shaping": shaping,
        "stage_names": list(rig.host.stage_names),
        "fraction_nominal": rig.fraction,
        "fractions": calibration.fractions.tolist(),
        "largest_n": calibration.largest,
        "devices_started": calibration.started,
        "devices": list(calibration.devices),
        "calibration": calibration.table,
        "host_profile_s": rig.host.time_s.tolist(),
        "target_profile_s": target.time_s.tolist(),
        "device_profiles_s": calibration.times.tolist(),
        "device_speeds": calibration.speeds.tolist(),
        "bs_quantum_s": float(rig.host.time_s.mean()),
        "period_ms": config.period_ms,
        "phases_s": phases,
        "wall_s": round(time.perf_counter() - began, 1),
    }
    return pd.DataFrame(rows, columns=list(COLUMNS)), provenance


def tidy_csv(rows: pd.DataFrame) -> str:
    """The rows as CSV text: sorted by :data:`KEY_COLUMNS`, floats with 10 significant
    digits (the same rows give the same bytes)."""
    ordered = rows.sort_values(list(KEY_COLUMNS), kind="stable")
    buffer = io.StringIO()
    ordered.to_csv(buffer, index=False, float_format="%.10g", lineterminator="\n")
    return buffer.getvalue()
