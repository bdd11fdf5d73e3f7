"""``dnnsplit testbed``: N emulated devices and a real BS on one host, and the model's
predictions set against what they measure.

The run (docs/testbed.md has the reasoning):

1. **The host.** The BS is this host at the full speed of one core (its "BS core"). Its
   stage times are measured there first, by the profiler (one thread): they are the BS
   profile of every prediction, and the reference for the devices' speed.
2. **The devices.** Each device is a process in its own CPU cgroup whose CFS quota is the
   target device's speed relative to this host: ``f = host total / target total`` (the
   Pi 3B+ estimate: about 8 % of a core). The devices share the other core ("device
   core"), so ``N · f ≤ 1`` is required (:func:`check_quotas`: refused, never scaled).
   The quota is calibrated once or twice against whole inferences timed in the cgroup
   (the kernel's CFS bandwidth control overshoots by a few ms per period), then every
   device is profiled alone in its cgroup, all devices at once (their quotas do not
   compete). Those measured profiles, not the nominal one, feed the predictions: their
   per-stage median is the device profile, each device's speed ``c_i`` its own total
   against it.
3. **The links.** Each device has its own network namespace and a veth pair to the BS's
   namespace, shaped on the device side with ``tc tbf`` to the scenario's uplink rate
   ``W_i`` (as a TCP goodput). Where namespaces are not possible the client paces its own
   upload instead, and the CSV says so (``shaping``).
4. **The scenarios.** For each N and policy, the scenario of (N, seed) is drawn as the
   paper's evaluation draws it (distances → ``W_i``, memory limits, background processes
   ``n_i``) with the measured profiles; the model chooses the partition vectors (greedy,
   optimal, all-local, max-local, on the objective) and predicts each device's delay
   under the snapshot model (eq. 1–3) and the timeline model.
5. **The measurement.** Each device's ``n_i`` background processes run inside its cgroup;
   all N devices send one request at the same moment, ``repeats`` times per vector; the
   median and spread of each device's end-to-end delay is set against both predictions.

The tidy output has one row per (policy, N, vector, device): :data:`COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import select
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit.chains import get_chain
from dnnsplit.draw import paper_scenario
from dnnsplit.errors import InputError, check_choice
from dnnsplit.evaluate import evaluate
from dnnsplit.profiler import interquartile_range
from dnnsplit.profiles import load_profile, read_profile, write_profile
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import solve
from dnnsplit.testbed.emulation import Emulation, capabilities, signals_raise

__all__ = [
    "COLUMNS",
    "VECTORS",
    "TestbedConfig",
    "check_quotas",
    "host_description",
    "run_testbed",
    "tidy_csv",
]

VECTORS = ("greedy", "optimal", "all-local", "max-local")
TESTBED_POLICIES = ("sjf", "rr")
COLUMNS = (
    "policy",
    "devices",
    "vector",
    "device",
    "partition",
    "max_stage",
    "background",
    "rate_bps",
    "shaping",
    "repeats",
    "predicted_snapshot_s",
    "predicted_timeline_s",
    "measured_median_s",
    "measured_iqr_s",
    "measured_min_s",
    "measured_max_s",
    "error_snapshot",
    "error_timeline",
    "predicted_local_s",
    "measured_local_s",
    "predicted_send_s",
    "measured_send_s",
    "predicted_bs_snapshot_s",
    "predicted_bs_timeline_s",
    "measured_bs_s",
    "load_1m",
)
BS_CORE, DEVICE_CORE = 1, 0
#: CFS periods a device spins, untimed, before each request: a cgroup that has been idle
#: may overrun its quota by up to a scheduler tick (4 ms at HZ=250), which would run its
#: first stages faster than the quota; after spinning it starts in the throttled steady
#: state its profile was measured in.
SETTLE_PERIODS = 2


@dataclass(frozen=True)
class TestbedConfig:
    """What one testbed run measures.

    Attributes
    ----------
    devices : tuple of int
        The values of N (each a separate scenario; at most :attr:`max_devices` agents).
    policies : tuple of str
        BS policies, ``sjf`` and/or ``rr``.
    repeats : int
        Rounds per partition vector (all N devices send at once in each).
    vectors : tuple of str
        Partition vectors to measure: ``greedy``, ``optimal``, ``all-local``, ``max-local``.
    objective : str
        The objective greedy and optimal minimise (``total`` or ``variance``).
    network : str
        The chain (``alexnet``).
    target : str
        The profile the devices emulate (default: the Pi 3B+ estimate).
    fraction : float or None
        The devices' CPU quota as a fraction of a core; None: host total / target total.
    seed : int
        Scenario seed.
    period_ms : float
        CFS period of the devices' cgroups.
    profile_repeats : int
        Profiler rounds per device (inside its cgroup).
    calibration_rounds : int
        Rounds of quota calibration against the target total (0: none).
    host_repeats : int
        Profiler rounds for the host (BS) profile.
    shaping : str
        ``auto`` (namespaces and tc where possible, else client pacing), ``tc`` or
        ``pacing``.
    """

    devices: tuple[int, ...] = tuple(range(1, 9))
    policies: tuple[str, ...] = TESTBED_POLICIES
    repeats: int = 3
    vectors: tuple[str, ...] = VECTORS
    objective: str = "total"
    network: str = "alexnet"
    target: str = "alexnet-pi3b-estimated"
    fraction: float | None = None
    seed: int = 0
    period_ms: float = 25.0
    profile_repeats: int = 4
    calibration_rounds: int = 1
    host_repeats: int = 15
    shaping: str = "auto"

    def __post_init__(self) -> None:
        from dnnsplit._checks import number

        devices = tuple(
            int(number(n, "--devices", positive=True, whole=True)) for n in self.devices
        )
        if not devices or max(devices) > 250:
            raise InputError("--devices", "give 1 to 250 devices")
        object.__setattr__(self, "devices", tuple(sorted(set(devices))))
        for policy in self.policies:
            check_choice(policy, TESTBED_POLICIES, "--policy", "policy")
        for vector in self.vectors:
            check_choice(vector, VECTORS, "--vectors", "vector")
        check_choice(self.objective, ("total", "variance"), "--objective", "objective")
        check_choice(self.shaping, ("auto", "tc", "pacing"), "--shaping", "shaping")
        number(self.repeats, "--repeats", minimum=1, maximum=1000, whole=True)
        number(self.profile_repeats, "--profile-repeats", minimum=3, maximum=1000, whole=True)
        number(self.calibration_rounds, "--calibration-rounds", minimum=0, maximum=10, whole=True)
        number(self.host_repeats, "--host-repeats", minimum=3, maximum=1000, whole=True)
        number(self.period_ms, "--period-ms", minimum=1, maximum=1000)
        if self.fraction is not None:
            number(self.fraction, "--fraction", positive=True, maximum=1)
        get_chain(self.network)

    @property
    def max_devices(self) -> int:
        return max(self.devices)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["devices"], data["policies"] = list(self.devices), list(self.policies)
        data["vectors"] = list(self.vectors)
        return data


def check_quotas(fraction: float, n_devices: int) -> None:
    """Refuse ``n_devices`` quotas of ``fraction`` of a core that do not fit the one core
    the devices share (the other is the BS's): ``N · f ≤ 1``."""
    if n_devices * fraction > 1.0 + 1e-9:
        raise InputError(
            "--devices",
            f"{n_devices} devices at {fraction:.1%} of a core each need {n_devices * fraction:.2f} "
            "cores; the devices share one core (the other is the BS's). Use fewer devices or a "
            "slower target (a smaller --fraction)",
        )


def host_description() -> dict[str, Any]:
    """This host, for the provenance of a measurement: CPU model, cores, load, date."""
    from dnnsplit.profiler import cpu_model

    load = os.getloadavg()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in load],
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


class _Agent:
    """One device process and its line protocol (see :mod:`dnnsplit.testbed.agent`)."""

    def __init__(self, process: subprocess.Popen[str], index: int) -> None:
        self.process, self.index = process, index
        self.background: list[subprocess.Popen[Any]] = []

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def receive(self, timeout_s: float = 600.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            code = self.process.poll()
            raise RuntimeError(f"device {self.index} stopped answering (exit status {code})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"device {self.index}: {answer['error']}")
        return answer


def _all(agents: Sequence[_Agent], command: dict[str, Any] | Sequence[dict[str, Any]]) -> list:
    """Send a command to every agent at once (one each, or the same), then collect."""
    commands = [command] * len(agents) if isinstance(command, dict) else list(command)
    for agent, one in zip(agents, commands, strict=True):
        agent.send(one)
    return [agent.receive() for agent in agents]


def _python() -> list[str]:
    return [sys.executable]


def _measure_host(emulation: Emulation, config: TestbedConfig, out: Path, bs_cgroup: Path) -> Path:
    """The BS profile: this host, one thread, on the BS core (the profiler)."""
    command = [*_python(), "-m", "dnnsplit", "profile", "--model", config.network,
               "--threads", "1", "--repeats", str(config.host_repeats), "--out", str(out),
               "--quiet", "--hardware", "testbed host, one core (the BS)"]  # fmt: skip
    process = emulation.spawn(
        command,
        cpus={BS_CORE},
        cgroup=bs_cgroup,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = process.communicate()
    emulation.end(process)
    if process.returncode != 0:
        raise RuntimeError(f"profiling the host failed: {err.strip()}")
    return out


def _start_server(
    emulation: Emulation, config: TestbedConfig, policy: str, bs_profile: Path,
    namespace: str | None, bs_cgroup: Path,
) -> tuple[subprocess.Popen[str], int]:  # fmt: skip
    host = "0.0.0.0" if namespace else "127.0.0.1"
    command = [*_python(), "-m", "dnnsplit", "serve", "--host", host, "--port", "0",
               "--policy", policy, "--network", config.network,
               "--bs-profile", str(bs_profile)]  # fmt: skip
    server = emulation.spawn(
        command, namespace=namespace, cpus={BS_CORE}, cgroup=bs_cgroup,
        log=bs_profile.with_name(f"bs-{policy}.log"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], 120.0)
    line = server.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError(f"the BS did not start (exit status {server.poll()})")
    return server, int(json.loads(line)["port"])


def _profile_from_times(
    reference: Any, times: np.ndarray, hardware: str, source: str, name: str
) -> Any:
    from dnnsplit.profiles import chain_profile

    provenance = {
        "method": "measured",
        "source": source,
        "hardware": hardware,
        "framework": reference.provenance.get("framework", ""),
        "date": dt.date.today().isoformat(),
    }
    return chain_profile(get_chain(reference.model), name, times, provenance)


def _scenario(
    n: int, config: TestbedConfig, policy: str, device_csv: Path, bs_csv: Path,
    speeds: np.ndarray, bs_quantum_s: float,
) -> Scenario:  # fmt: skip
    setup = Setup(
        profile=str(device_csv), bs_profile=str(bs_csv), policy=policy, bs_quantum_s=bs_quantum_s
    )
    raw = paper_scenario(n, config.seed, setup).to_dict()
    for device, speed in zip(raw["devices"], speeds[:n], strict=True):
        device["speed"] = float(speed)
    return Scenario.from_dict(raw)


def _vectors(scenario: Scenario, config: TestbedConfig) -> dict[str, tuple[int, ...]]:
    vectors = {}
    for name in config.vectors:
        solution = solve(scenario, objective=config.objective, solver=name)
        vectors[name] = tuple(int(p) for p in solution.partition)
    return vectors


def run_testbed(
    config: TestbedConfig,
    work_dir: str | os.PathLike[str],
    *,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run the testbed (the module docstring) and return its rows and its provenance.

    Parameters
    ----------
    config : TestbedConfig
        What to measure.
    work_dir : path
        Where the measured profiles (host, each device, the median) and the logs of the
        devices and the BS (their stderr) are written.
    say : callable
        Receives one line per step (progress).

    Returns
    -------
    rows : pandas.DataFrame
        One row per (policy, N, vector, device), columns :data:`COLUMNS`.
    provenance : dict
        The host, the quotas, the calibration table, the shaping, load averages, times.
    """
    caps = capabilities()
    if caps["missing"]:
        raise InputError("testbed", "cannot run here: needs " + "; ".join(caps["missing"]))
    chain = get_chain(config.network)
    target = load_profile(config.target)
    if tuple(target.stage_names) != chain.stage_names:
        raise InputError("--target", f"{config.target} is not a profile of {chain.name}")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    host_before = host_description()
    shaping = config.shaping
    if shaping == "auto":
        shaping = "tc" if caps["netns"] else "pacing"
    elif shaping == "tc" and not caps["netns"]:
        raise InputError("--shaping", "tc needs root and the ip and tc tools")
    n_max = config.max_devices
    provenance: dict[str, Any] = {"host": host_before, "shaping": shaping}
    if config.fraction is not None:
        check_quotas(config.fraction, n_max)
    with signals_raise(), Emulation(period_us=round(config.period_ms * 1000)) as emulation:
        namespaces: list[str | None] = [None] * n_max
        bs_namespace = None
        addresses = ["127.0.0.1"] * n_max
        if shaping == "tc":
            bs_namespace = emulation.namespace("bs")
            for i in range(n_max):
                namespaces[i] = emulation.namespace(f"d{i}")
                _, addresses[i] = emulation.link(namespaces[i] or "", bs_namespace, i)

        say("measuring the host (the BS) on its own core")
        bs_cgroup = emulation.cgroup("bs", None)
        bs_csv = _measure_host(emulation, config, work / "bs-profile.csv", bs_cgroup)
        host = read_profile(bs_csv)
        host_total = float(host.time_s.sum())
        target_total = float(target.time_s.sum())
        fraction = config.fraction or host_total / target_total
        check_quotas(fraction, n_max)
        say(f"host {host_total * 1e3:.1f} ms per inference; devices at {fraction:.1%} of a core")

        agents, cgroups = [], []
        for i in range(n_max):
            command = [*_python(), "-m", "dnnsplit.testbed.agent", "--network", config.network,
                       "--device-id", str(i)]  # fmt: skip
            process = emulation.spawn(
                command, namespace=namespaces[i], cpus={DEVICE_CORE}, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, log=work / f"device{i}.log", text=True,
            )  # fmt: skip
            agents.append(_Agent(process, i))
        for agent in agents:
            agent.receive()  # ready: the network is built at full speed
        for i, agent in enumerate(agents):
            cgroups.append(emulation.cgroup(f"d{i}", fraction))
            emulation.move(agent.process.pid, cgroups[-1])

        say("devices started: each calibrated and profiled alone in its cgroup")
        fractions = np.full(n_max, fraction)
        calibration: list[dict[str, Any]] = []
        device_times = np.zeros((n_max, len(chain.stages)))
        for i, agent in enumerate(agents):
            for round_ in range(config.calibration_rounds):
                totals = _all([agent], {"cmd": "calibrate", "runs": 3})[0]["totals_s"]
                total = float(np.median(totals))
                calibration.append(
                    {
                        "device": i,
                        "round": round_,
                        "fraction": float(fractions[i]),
                        "total_s": total,
                    }
                )
                if config.fraction is None:
                    fractions[i] = min(1.0, fractions[i] * total / target_total)
                    emulation.set_quota(cgroups[i], float(fractions[i]))
            check_quotas(float(fractions.max()), n_max)
            if fractions.sum() > 1.0 + 1e-9:
                raise InputError(
                    "--devices", f"calibrated quotas sum to {fractions.sum():.2f} cores"
                )
            profiled = _all(
                [agent], {"cmd": "profile", "repeats": config.profile_repeats, "warmup": 1}
            )
            device_times[i] = profiled[0]["time_s"]
            calibration.append(
                {"device": i, "round": "profile", "fraction": float(fractions[i]),
                 "total_s": float(device_times[i].sum())}
            )  # fmt: skip
            say(f"device {i}: quota {fractions[i]:.2%}, profile total "
                f"{device_times[i].sum():.3f} s (target {target_total:.3f} s)")  # fmt: skip
        label = f"emulated {target.label}: {host.provenance.get('hardware')} at a CPU quota"
        for i, times in enumerate(device_times):
            profile = _profile_from_times(
                host, times, f"{label} of {fractions[i]:.1%}",
                "dnnsplit testbed: the profiler inside the device's cgroup", f"device{i}",
            )  # fmt: skip
            write_profile(profile, work / f"device{i}-profile.csv")
        median_times = np.median(device_times, axis=0)
        device_csv = work / "device-profile.csv"
        write_profile(
            _profile_from_times(host, median_times, label + " (median of the devices)",
                                "dnnsplit testbed: per-stage median over the emulated devices",
                                "devices"),
            device_csv,
        )  # fmt: skip
        speeds = median_times.sum() / device_times.sum(axis=1)
        bs_quantum_s = host_total / len(host.time_s)
        provenance.update(
            stage_names=list(chain.stage_names),
            fraction_nominal=fraction,
            fractions=fractions.tolist(),
            calibration=calibration,
            host_profile_s=host.time_s.tolist(),
            target_profile_s=target.time_s.tolist(),
            device_profiles_s=device_times.tolist(),
            device_speeds=speeds.tolist(),
            bs_quantum_s=bs_quantum_s,
            period_ms=config.period_ms,
        )

        rows: list[dict[str, Any]] = []
        for policy in config.policies:
            server, port = _start_server(emulation, config, policy, bs_csv, bs_namespace, bs_cgroup)
            _all(agents, [{"cmd": "connect", "host": addresses[i], "port": port}
                          for i in range(n_max)])  # fmt: skip
            for n in config.devices:
                scenario = _scenario(n, config, policy, device_csv, bs_csv, speeds, bs_quantum_s)
                rows += _measure_scenario(
                    emulation, scenario, agents[:n], cgroups[:n], namespaces[:n], config,
                    policy, shaping, say,
                )  # fmt: skip
            emulation.end(server)
    provenance["host_after"] = host_description()
    provenance["wall_s"] = round(time.perf_counter() - began, 1)
    return pd.DataFrame(rows, columns=list(COLUMNS)), provenance


def _measure_scenario(
    emulation: Emulation,
    scenario: Scenario,
    agents: Sequence[_Agent],
    cgroups: Sequence[Path],
    namespaces: Sequence[str | None],
    config: TestbedConfig,
    policy: str,
    shaping: str,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Measure every vector of one scenario; its rows."""
    n = scenario.n_devices
    vectors = _vectors(scenario, config)
    rates = [d.rate_bps for d in scenario.devices]
    background = []
    for i, device in enumerate(scenario.devices):
        if shaping == "tc":
            emulation.shape(namespaces[i] or "", rates[i])
        for _ in range(device.background):
            background.append(
                emulation.spawn(
                    [sys.executable, "-S", "-c", "while True: pass"],
                    cpus={DEVICE_CORE},
                    cgroup=cgroups[i],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    rows = []
    try:
        measured: dict[tuple[int, ...], dict[str, np.ndarray]] = {}
        for name, vector in vectors.items():
            if vector in measured:
                continue
            load = os.getloadavg()[0]
            runs = []
            for _ in range(config.repeats):
                commands = [
                    {
                        "cmd": "run",
                        "point": p,
                        "rate_bps": rates[i] if shaping == "pacing" else None,
                        "settle_s": SETTLE_PERIODS * config.period_ms / 1000,
                    }
                    for i, p in enumerate(vector)
                ]
                runs.append(_all(agents, commands))
                time.sleep(0.05)
            table = {
                key: np.array([[run[i][key] for run in runs] for i in range(n)])
                for key in ("end_to_end_s", "local_s", "send_s", "bs_queue_s", "bs_compute_s")
            }
            table["load"] = np.array([load])
            measured[vector] = table
            say(f"{policy} N={n} {name} {list(vector)}: measured "
                f"{np.round(np.median(table['end_to_end_s'], axis=1), 3).tolist()} s")  # fmt: skip
        for name, vector in vectors.items():
            table = measured[vector]
            snapshot = evaluate(scenario, list(vector), model="snapshot", enforce_limits=False)
            timeline = evaluate(scenario, list(vector), model="timeline", enforce_limits=False)
            for i in range(n):
                e2e = table["end_to_end_s"][i]
                median = float(np.median(e2e))
                rows.append(
                    {
                        "policy": policy,
                        "devices": n,
                        "vector": name,
                        "device": i,
                        "partition": vector[i],
                        "max_stage": int(scenario.devices[i].max_stage),
                        "background": int(scenario.devices[i].background),
                        "rate_bps": float(rates[i]),
                        "shaping": shaping,
                        "repeats": config.repeats,
                        "predicted_snapshot_s": float(snapshot.delays[i]),
                        "predicted_timeline_s": float(timeline.delays[i]),
                        "measured_median_s": median,
                        "measured_iqr_s": interquartile_range(e2e),
                        "measured_min_s": float(e2e.min()),
                        "measured_max_s": float(e2e.max()),
                        "error_snapshot": float(snapshot.delays[i]) / median - 1.0,
                        "error_timeline": float(timeline.delays[i]) / median - 1.0,
                        "predicted_local_s": float(snapshot.local[i]),
                        "measured_local_s": float(np.median(table["local_s"][i])),
                        "predicted_send_s": float(snapshot.transmission[i]),
                        "measured_send_s": float(np.median(table["send_s"][i])),
                        "predicted_bs_snapshot_s": float(snapshot.remote[i]),
                        "predicted_bs_timeline_s": float(timeline.remote[i]),
                        "measured_bs_s": float(
                            np.median(table["bs_queue_s"][i] + table["bs_compute_s"][i])
                        ),
                        "load_1m": round(float(table["load"][0]), 2),
                    }
                )
    finally:
        for process in background:
            emulation.end(process)
    return rows


#: The columns that identify a row (its sort key in the CSV).
KEY_COLUMNS = ("policy", "devices", "vector", "device")


def tidy_csv(rows: pd.DataFrame) -> str:
    """The rows as CSV text: sorted by :data:`KEY_COLUMNS`, floats with 10 significant
    digits (the same rows give the same bytes)."""
    import io

    ordered = rows.sort_values(list(KEY_COLUMNS), kind="stable")
    buffer = io.StringIO()
    ordered.to_csv(buffer, index=False, float_format="%.10g", lineterminator="\n")
    return buffer.getvalue()


def describe(config: TestbedConfig) -> str:
    """One line: what a run of ``config`` does."""
    return (
        f"N in {list(config.devices)}, {'/'.join(config.policies)}, {config.repeats} repeats, "
        f"vectors {', '.join(config.vectors)} ({config.objective})"
    )
