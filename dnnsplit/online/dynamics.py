"""The dynamic setting: devices that come and go, requests over time, uplinks that change.

The paper's scenario is one instant. Its dynamic extension keeps the scenario (the
profile, the BS and a *pool* of devices) and adds an ``online`` block (docs/online.md):
``arrivals`` (which pool devices are present when: ``none``, a seeded ``poisson`` process
in which an arrival that finds the pool full is lost, or a ``schedule`` of stays),
``requests`` (each present device asks ``periodic``-ally from the moment it joins, or as a
seeded ``poisson`` stream), ``trace`` (each uplink's rate over time,
:mod:`dnnsplit.online.traces`: ``constant``, ``two-state``, ``csv`` or ``mahimahi``; one
block for every device or one per device), ``switch_s`` (how long a device told to change
its point keeps its old one) and ``horizon_s``.

:meth:`Dynamics.world` draws one realisation from a seed (the :class:`World`), the same
whatever controller then runs in it, so controllers are compared on paired worlds. The
seeding rule: the stays come from ``numpy.random.default_rng([seed, 0])``, device i's
trace from ``default_rng([seed, 1, i])`` and its requests from ``default_rng([seed, 2,
i])``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dnnsplit._checks import mapping
from dnnsplit._params import (
    Choice,
    Constraint,
    Instance,
    Nullable,
    Real,
    Text,
    Whole,
    check_all,
    declare_fields,
)
from dnnsplit.errors import InputError, SolverRefusal
from dnnsplit.online.traces import RateTrace, read_mahimahi, read_rate_csv, two_state
from dnnsplit.policies import policies_with
from dnnsplit.reader import read_data
from dnnsplit.scenario import Scenario

__all__ = [
    "ARRIVAL_FIELDS",
    "MAX_HORIZON_S",
    "MAX_REQUESTS",
    "ONLINE_FIELDS",
    "ONLINE_POLICIES",
    "REQUEST_FIELDS",
    "STAY_FIELDS",
    "TRACE_FIELDS",
    "Arrivals",
    "Dynamics",
    "OnlineScenario",
    "Requests",
    "Stay",
    "TraceSpec",
    "World",
]

#: The BS policies of the online setting: those the snapshot model (which the controllers
#: and the oracle use) defines.
ONLINE_POLICIES = policies_with("snapshot")
#: The longest horizon, s (a year).
MAX_HORIZON_S = 3.2e7
#: The most requests a world may expect (devices × horizon / period): a bound on the
#: simulation's work and memory.
MAX_REQUESTS = 5_000_000
#: The most device arrivals a Poisson process may expect over the horizon.
MAX_ARRIVALS = 1_000_000

TRACE_KINDS = ("constant", "two-state", "csv", "mahimahi")
FILE_KINDS = ("csv", "mahimahi")
ARRIVAL_KINDS = ("none", "poisson", "schedule")
REQUEST_KINDS = ("periodic", "poisson")
SECONDS = Real(positive=True, high=MAX_HORIZON_S)

#: What each field of a ``trace`` block takes; which fields each kind takes is
#: :data:`TRACE_KIND_FIELDS`.
TRACE_FIELDS: dict[str, Constraint] = {
    "kind": Choice(TRACE_KINDS, "trace kind"),
    "bad_factor": Real(positive=True, high=1.0),
    "mean_good_s": SECONDS,
    "mean_bad_s": SECONDS,
    "path": Nullable(Text("a file path")),
    "window_s": Real(low=0.001, high=3600.0),
    "offset_s": Real(low=0.0, high=MAX_HORIZON_S),
}
TRACE_KIND_FIELDS = {
    "constant": {"kind"},
    "two-state": {"kind", "bad_factor", "mean_good_s", "mean_bad_s"},
    "csv": {"kind", "path", "offset_s"},
    "mahimahi": {"kind", "path", "window_s", "offset_s"},
}
#: What each field of the ``arrivals`` block takes.
ARRIVAL_FIELDS: dict[str, Constraint] = {
    "kind": Choice(ARRIVAL_KINDS, "arrival kind"),
    "rate_per_s": Real(positive=True, high=1e6),
    "mean_stay_s": SECONDS,
    "initial": Whole(0),
}
ARRIVAL_KIND_FIELDS = {
    "none": {"kind"},
    "poisson": {"kind", "rate_per_s", "mean_stay_s", "initial"},
    "schedule": {"kind", "stays"},
}
#: What each field of a stay ``arrivals.stays[k]`` takes.
STAY_FIELDS: dict[str, Constraint] = {
    "device": Whole(0),
    "join_s": Real(low=0.0, high=MAX_HORIZON_S),
    "leave_s": Nullable(SECONDS),
}
#: What each field of the ``requests`` block takes.
REQUEST_FIELDS: dict[str, Constraint] = {
    "kind": Choice(REQUEST_KINDS, "request kind"),
    "period_s": Real(low=1e-3, high=MAX_HORIZON_S),
}
#: What each field of the ``online`` block takes (``arrivals``, ``requests`` and
#: ``trace`` are blocks, checked field by field).
ONLINE_FIELDS: dict[str, Constraint] = {
    "horizon_s": SECONDS,
    "switch_s": Real(low=0.0, high=3600.0),
}


def _block(
    raw: Any, where: str, table: dict[str, Constraint], kinds: dict[str, set[str]], default: str
) -> dict[str, Any]:
    """A ``kind``-ed block: its kind checked first, then only the fields that kind takes."""
    given = mapping(raw, where, set(table) | {f for names in kinds.values() for f in names})
    kind = table["kind"].check(given.get("kind", default), f"{where}.kind")
    allowed = kinds[kind]
    extra = sorted(k for k in given if k not in allowed)
    if extra:
        raise InputError(f"{where}.{extra[0]}",
                         f"not a field of a {kind} block; it takes: {', '.join(sorted(allowed))}")
    checked = check_all({k: v for k, v in given.items() if k in table}, table, f"{where}.")
    return {**checked, "kind": kind}


def _kind_dict(block: Any, kinds: dict[str, set[str]]) -> dict[str, Any]:
    """The fields of a ``kind``-ed block that its kind takes, in declaration order."""
    return {f.name: getattr(block, f.name) for f in fields(block) if f.name in kinds[block.kind]}


def _tuple_of(items: Any, kind: type, where: str, nonempty: bool = False) -> tuple[Any, ...]:
    """``items``, a list (non-empty if asked) of ``kind`` instances, as a tuple."""
    name = f"dnnsplit.online.{kind.__name__}"
    if isinstance(items, kind) or not isinstance(items, list | tuple) or (nonempty and not items):
        raise InputError(where, f"must be a {'non-empty ' * nonempty}list of {name}")
    for k, item in enumerate(items):
        Instance(kind, f"a {name}").check(item, f"{where}[{k}]")
    return tuple(items)


def _read_path(spec: TraceSpec) -> None:
    """A file kind given its ``path`` (and no ``trace`` yet) reads it now."""
    if spec.kind in FILE_KINDS and spec.trace is None and spec.path is not None:
        object.__setattr__(spec, "trace", spec._read(None, "trace"))


@dataclass(frozen=True)
@declare_fields(TRACE_FIELDS, prefix="trace.", then=_read_path)
class TraceSpec:
    """How one device's uplink rate moves (the ``trace`` block; see the module docstring).

    ``trace`` holds the rates of a file kind (``csv``, ``mahimahi``): read from ``path``
    when the spec is made, or given (:meth:`of_file`). A file kind with neither is refused
    when a world is drawn, naming ``trace.path``.
    """

    kind: str = "constant"
    bad_factor: float = 0.1
    mean_good_s: float = 30.0
    mean_bad_s: float = 10.0
    path: str | None = None
    window_s: float = 1.0
    offset_s: float = 0.0
    trace: RateTrace | None = field(default=None, compare=False, repr=False)

    def _read(self, folder: Path | None, where: str) -> RateTrace:
        if self.path is None:
            raise InputError(f"{where}.path", "missing (the trace file)")
        path = Path(self.path)
        if folder is not None and not path.is_absolute():
            path = folder / path
        if self.kind == "csv":
            return read_rate_csv(path, f"{where}.path")
        return read_mahimahi(path, self.window_s, f"{where}.path")

    @classmethod
    def from_dict(cls, raw: Any, where: str, folder: Path | None = None) -> TraceSpec:
        """A checked trace block (errors name ``where.<field>``); a file's relative
        ``path`` is taken from ``folder`` (the scenario file's), or the working folder."""
        given = _block(raw, where, TRACE_FIELDS, TRACE_KIND_FIELDS, "constant")
        spec = cls(**given, trace=RateTrace.constant(1.0))  # checked, not read yet
        trace = spec._read(folder, where) if spec.kind in FILE_KINDS else None
        return replace(spec, trace=trace)

    @classmethod
    def of_file(cls, trace: RateTrace, kind: str = "csv", path: str = "") -> TraceSpec:
        """The spec of a trace already read (e.g. by the command line's ``--trace``)."""
        return cls(kind=kind, path=path or None, trace=trace)

    def to_dict(self) -> dict[str, Any]:
        return _kind_dict(self, TRACE_KIND_FIELDS)

    def realise(self, rate_bps: float, horizon_s: float, rng: np.random.Generator) -> RateTrace:
        """The rate trace of a device whose average rate is ``rate_bps``."""
        if self.kind == "constant":
            return RateTrace.constant(rate_bps)
        if self.kind == "two-state":
            return two_state(rate_bps, rate_bps * self.bad_factor, self.mean_good_s,
                             self.mean_bad_s, horizon_s, rng)  # fmt: skip
        if self.trace is None:
            raise InputError("trace.path", f"missing (the {self.kind} trace file)")
        return self.trace.at_offset(self.offset_s)


def _leaves_after_joining(stay: Stay) -> None:
    if stay.leave_s is not None and stay.leave_s <= stay.join_s:
        raise InputError("stay.leave_s", f"{stay.leave_s:g} is not after join_s {stay.join_s:g}")


@dataclass(frozen=True)
@declare_fields(STAY_FIELDS, prefix="stay.", then=_leaves_after_joining)
class Stay:
    """Device ``device`` present from ``join_s`` until ``leave_s`` (None: to the end)."""

    device: int = 0
    join_s: float = 0.0
    leave_s: float | None = None


def _check_apart(stays: tuple[Stay, ...], where: str) -> None:
    """One device's stays must not overlap (errors name the later one's ``join_s``)."""
    order = sorted(range(len(stays)), key=lambda k: (stays[k].device, stays[k].join_s))
    for before, after in itertools.pairwise(order):
        first, second = stays[before], stays[after]
        overlap = first.leave_s is None or first.leave_s > second.join_s
        if first.device == second.device and overlap:
            raise InputError(f"{where}[{after}].join_s",
                             f"device {second.device} is already present then (stay {before})")


def _stays(raw: Any, where: str, n_devices: int) -> tuple[Stay, ...]:
    """The checked stays of a schedule: each device of the pool, ``join_s`` before
    ``leave_s``, and one device's stays apart from each other."""
    if not isinstance(raw, list) or not raw:
        raise InputError(where, "must be a non-empty list of stays {device, join_s, leave_s}")
    stays = []
    for k, item in enumerate(raw):
        at = f"{where}[{k}]"
        given = check_all(mapping(item, at, set(STAY_FIELDS)), STAY_FIELDS, f"{at}.")
        for key in ("device", "join_s"):
            if key not in given:
                raise InputError(f"{at}.{key}", "missing")
        if given["device"] >= n_devices:
            raise InputError(f"{at}.device",
                             f"{given['device']} is not a device of the pool (0..{n_devices - 1})")
        leave = given.get("leave_s")
        if leave is not None and leave <= given["join_s"]:
            raise InputError(f"{at}.leave_s", f"{leave:g} is not after join_s {given['join_s']:g}")
        stays.append(Stay(given["device"], given["join_s"], leave))
    _check_apart(tuple(stays), where)
    return tuple(stays)


def _stays_apart(arrivals: Arrivals) -> None:
    """``stays``: a list of :class:`Stay`, one device's apart from each other."""
    object.__setattr__(arrivals, "stays", _tuple_of(arrivals.stays, Stay, "arrivals.stays"))
    _check_apart(arrivals.stays, "arrivals.stays")


@dataclass(frozen=True)
@declare_fields(ARRIVAL_FIELDS, prefix="arrivals.", then=_stays_apart)
class Arrivals:
    """Which pool devices are present when (the ``arrivals`` block; module docstring).
    A ``schedule`` without stays leaves every device away."""

    kind: str = "none"
    rate_per_s: float = 0.01
    mean_stay_s: float = 300.0
    initial: int = 0
    stays: tuple[Stay, ...] = ()

    @classmethod
    def from_dict(cls, raw: Any, where: str, n_devices: int) -> Arrivals:
        given = dict(mapping(raw, where, set(ARRIVAL_FIELDS) | {"stays"}))
        stays = given.pop("stays", None)
        checked = _block(given, where, ARRIVAL_FIELDS, ARRIVAL_KIND_FIELDS, "none")
        if checked["kind"] == "schedule":
            checked["stays"] = _stays(stays, f"{where}.stays", n_devices)
        elif stays is not None:
            raise InputError(f"{where}.stays", f"not a field of a {checked['kind']} block")
        return cls(**checked)

    def to_dict(self) -> dict[str, Any]:
        out = _kind_dict(self, ARRIVAL_KIND_FIELDS)
        if "stays" in out:
            out["stays"] = [asdict(stay) for stay in self.stays]
        return out

    def draw(self, n_devices: int, horizon_s: float, rng: np.random.Generator) -> list[list]:
        """Each device's stays ``[(join, leave), ...]`` within ``[0, horizon_s]``."""
        stays: list[list[tuple[float, float]]] = [[] for _ in range(n_devices)]
        if self.kind == "none":
            return [[(0.0, horizon_s)] for _ in range(n_devices)]
        if self.kind == "schedule":
            for s in self.stays:
                leave = horizon_s if s.leave_s is None else min(s.leave_s, horizon_s)
                if s.join_s < horizon_s:
                    stays[s.device].append((s.join_s, leave))
            return [sorted(d) for d in stays]
        if self.rate_per_s * horizon_s > MAX_ARRIVALS:
            raise SolverRefusal(
                "arrivals.rate_per_s",
                f"{self.rate_per_s:g} arrivals a second over {horizon_s:g} s expect more than "
                f"{MAX_ARRIVALS:,} arrivals (dnnsplit.online.dynamics.MAX_ARRIVALS)",
            )
        leaving: list[tuple[float, int]] = []  # (leave time, device), a heap
        absent = set(range(n_devices))

        def join(device: int, at: float) -> None:
            leave = at + float(rng.exponential(self.mean_stay_s))
            absent.discard(device)
            heapq.heappush(leaving, (leave, device))
            stays[device].append((at, min(leave, horizon_s)))

        for device in range(self.initial):
            join(device, 0.0)
        clock = 0.0
        while True:
            clock += float(rng.exponential(1.0 / self.rate_per_s))
            if clock >= horizon_s:
                break
            while leaving and leaving[0][0] <= clock:
                absent.add(heapq.heappop(leaving)[1])
            if absent:  # else the arrival finds the pool full and is lost
                free = sorted(absent)
                join(free[int(rng.integers(len(free)))], clock)
        return stays


@dataclass(frozen=True)
@declare_fields(REQUEST_FIELDS, prefix="requests.")
class Requests:
    """When a present device asks for an inference (the ``requests`` block)."""

    kind: str = "periodic"
    period_s: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def times(self, join: float, leave: float, rng: np.random.Generator) -> np.ndarray:
        """Request times of one stay: from ``join`` every ``period_s`` (periodic), or
        exponential gaps of mean ``period_s`` from ``join`` (poisson), before ``leave``."""
        if self.kind == "periodic":
            return join + self.period_s * np.arange(math.ceil((leave - join) / self.period_s))
        count = int((leave - join) / self.period_s * 1.5) + 16
        gaps = rng.exponential(self.period_s, count)
        times = join + np.concatenate([[0.0], np.cumsum(gaps)])
        while times[-1] < leave:
            more = times[-1] + np.cumsum(rng.exponential(self.period_s, count))
            times = np.concatenate([times, more])
        return times[times < leave]


def _traces(dynamics: Dynamics) -> None:
    """``traces``: a non-empty list of :class:`TraceSpec`."""
    object.__setattr__(dynamics, "traces", _tuple_of(dynamics.traces, TraceSpec, "trace", True))


@dataclass(frozen=True)
@declare_fields(
    {
        **ONLINE_FIELDS,
        "arrivals": Instance(Arrivals, "a dnnsplit.online.Arrivals"),
        "requests": Instance(Requests, "a dnnsplit.online.Requests"),
    },
    then=_traces,
)
class Dynamics:
    """How the world moves (the scenario file's ``online`` block; module docstring).

    Attributes
    ----------
    arrivals : Arrivals
        Which pool devices are present when.
    requests : Requests
        When a present device asks for an inference.
    traces : tuple of TraceSpec
        One for every device, or one per device.
    switch_s : float
        How long a device keeps its old point after being told to change it, s.
    horizon_s : float
        How long the world runs, s.
    """

    arrivals: Arrivals = field(default_factory=Arrivals)
    requests: Requests = field(default_factory=Requests)
    traces: tuple[TraceSpec, ...] = (TraceSpec(),)
    switch_s: float = 0.5
    horizon_s: float = 600.0

    @classmethod
    def from_dict(cls, raw: Any, n_devices: int, folder: Path | None = None) -> Dynamics:
        """The checked ``online`` block of a scenario with ``n_devices`` pool devices
        (errors name ``online.<field>``); trace files are read here."""
        given = mapping(raw, "online", {*ONLINE_FIELDS, "arrivals", "requests", "trace"})
        scalars = check_all({k: v for k, v in given.items() if k in ONLINE_FIELDS}, ONLINE_FIELDS,
                            "online.")  # fmt: skip
        arrivals = Arrivals.from_dict(given.get("arrivals", {}), "online.arrivals", n_devices)
        requests = Requests(**_block(given.get("requests", {}), "online.requests", REQUEST_FIELDS,
                                     {k: set(REQUEST_FIELDS) for k in REQUEST_KINDS}, "periodic"))
        trace = given.get("trace", {})
        traces: tuple[TraceSpec, ...]
        if not isinstance(trace, list):
            traces = (TraceSpec.from_dict(trace, "online.trace", folder),)
        elif len(trace) != n_devices:
            raise InputError("online.trace",
                             f"a list needs one trace per device ({n_devices}), got {len(trace)}")
        else:
            traces = tuple(TraceSpec.from_dict(t, f"online.trace[{k}]", folder)
                           for k, t in enumerate(trace))  # fmt: skip
        return cls(arrivals=arrivals, requests=requests, traces=traces, **scalars)

    def to_dict(self) -> dict[str, Any]:
        traces = [t.to_dict() for t in self.traces]
        return {"horizon_s": self.horizon_s, "switch_s": self.switch_s,
                "arrivals": self.arrivals.to_dict(), "requests": self.requests.to_dict(),
                "trace": traces[0] if len(traces) == 1 else traces}  # fmt: skip

    def world(self, scenario: Scenario, seed: int, horizon_s: float | None = None) -> World:
        """One realisation of the world for the pool of ``scenario`` (the seeding rule of
        the module docstring)."""
        horizon = self.horizon_s if horizon_s is None else horizon_s
        n = scenario.n_devices
        expected = n * horizon / self.requests.period_s
        if expected > MAX_REQUESTS:
            raise SolverRefusal(
                "horizon_s",
                f"{n} devices asking every {self.requests.period_s:g} s for {horizon:g} s make "
                f"up to {expected:.3g} requests, more than {MAX_REQUESTS:,} "
                "(dnnsplit.online.dynamics.MAX_REQUESTS)",
            )
        stays = self.arrivals.draw(n, horizon, np.random.default_rng([seed, 0]))
        traces = tuple(self.traces[i if len(self.traces) > 1 else 0].realise(
            scenario.devices[i].rate_bps, horizon, np.random.default_rng([seed, 1, i]))
            for i in range(n))  # fmt: skip
        return World(scenario, float(horizon), tuple(tuple(s) for s in stays), traces,
                     self.requests, self.switch_s, seed)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Intervals:
    """The world's states: from ``times[k]`` to the next time (the last to the horizon),
    the devices ``present[k]`` with uplink rates ``rates[k]`` (bit/s; every pool device's,
    present or not). Consecutive states differ."""

    times: np.ndarray
    ends: np.ndarray
    present: np.ndarray
    rates: np.ndarray

    def __len__(self) -> int:
        return int(self.times.shape[0])


@dataclass(frozen=True, eq=False)
class World:
    """One realisation of a dynamic scenario: who is present when, every device's rate
    trace, when devices ask; the same for every controller run in it."""

    scenario: Scenario
    horizon_s: float
    stays: tuple[tuple[tuple[float, float], ...], ...]
    traces: tuple[RateTrace, ...]
    requests: Requests
    switch_s: float
    seed: int
    #: Answers already found for its states (snapshot scenarios, solutions), shared by the
    #: controllers run in it and the oracle.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    @property
    def n_devices(self) -> int:
        return self.scenario.n_devices

    @cached_property
    def intervals(self) -> Intervals:
        """The states between changes: a device joining or leaving, or a present device's
        rate changing."""
        n, horizon = self.n_devices, self.horizon_s
        steps = [trace.changes(horizon) for trace in self.traces]  # (times, rates) a device
        joins_leaves = [np.array(stay) for stays in self.stays for stay in stays]
        times = np.unique(np.concatenate([[0.0], *(t for t, _ in steps), *joins_leaves]))
        times = times[times < horizon]
        present = np.zeros((times.size, n), dtype=bool)
        rates = np.empty((times.size, n))
        for i in range(n):
            for join, leave in self.stays[i]:
                present[:, i] |= (times >= join) & (times < leave)
            rates[:, i] = steps[i][1][np.searchsorted(steps[i][0], times, side="right") - 1]
        seen = np.where(present, rates, 0.0)
        moved = np.any(present[1:] != present[:-1], axis=1) | np.any(seen[1:] != seen[:-1], axis=1)
        differs = np.concatenate([[True], moved])
        times, present, rates = times[differs], present[differs], rates[differs]
        ends = np.append(times[1:], horizon)
        return Intervals(times, ends, present, rates)

    def request_times(self, device: int) -> np.ndarray:
        """When ``device`` asks, over all its stays (its own stream of draws)."""
        rng = np.random.default_rng([self.seed, 2, device])
        parts = [self.requests.times(join, leave, rng) for join, leave in self.stays[device]]
        return np.concatenate(parts) if parts else np.empty(0)


def _fits_the_pool(online: OnlineScenario) -> None:
    """The rules across the scenario and its dynamics: its policy is one the controllers'
    snapshot model defines, and the dynamics' devices are the pool's."""
    n, dynamics = online.scenario.n_devices, online.dynamics
    if online.scenario.policy not in ONLINE_POLICIES:
        raise InputError("bs.policy", f"{online.scenario.policy} is not defined under the "
                         "snapshot model the controllers use; the online setting takes "
                         f"{', '.join(ONLINE_POLICIES)}")  # fmt: skip
    if dynamics.arrivals.initial > n:
        raise InputError("online.arrivals.initial",
                         f"{dynamics.arrivals.initial} exceeds the pool's {n} devices")
    for k, stay in enumerate(dynamics.arrivals.stays):
        if stay.device >= n:
            raise InputError(f"online.arrivals.stays[{k}].device",
                             f"{stay.device} is not a device of the pool (0..{n - 1})")
    if len(dynamics.traces) not in (1, n):
        raise InputError("online.trace",
                         f"needs one trace, or one per device ({n}), got {len(dynamics.traces)}")


@dataclass(frozen=True, eq=False)
@declare_fields(
    {
        "scenario": Instance(Scenario, "a dnnsplit.Scenario"),
        "dynamics": Instance(Dynamics, "a dnnsplit.online.Dynamics"),
    },
    then=_fits_the_pool,
)
class OnlineScenario:
    """A scenario (the profile, the BS and the pool of devices) and its dynamics."""

    scenario: Scenario
    dynamics: Dynamics = field(default_factory=Dynamics)

    @classmethod
    def from_dict(cls, raw: Any, folder: Path | None = None) -> OnlineScenario:
        """A scenario file's dict with an ``online`` block (absent: every device present
        throughout at constant rates); trace paths relative to ``folder``."""
        if not isinstance(raw, dict):
            raise InputError("scenario", f"must be an object, got {type(raw).__name__}")
        rest = {k: v for k, v in raw.items() if k != "online"}
        scenario = Scenario.from_dict(rest)
        online = Dynamics.from_dict(raw.get("online", {}), scenario.n_devices, folder)
        return cls(scenario, online)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> OnlineScenario:
        """Read a scenario file with an ``online`` block (JSON, or YAML with PyYAML); a
        trace file's relative path is taken from the scenario file's folder."""
        return cls.from_dict(read_data(path, "scenario", "scenario file"), Path(path).parent)

    def to_dict(self) -> dict[str, Any]:
        return {**self.scenario.to_dict(), "online": self.dynamics.to_dict()}


def snapshot(scenario: Scenario, present: np.ndarray, rates: np.ndarray) -> Scenario:
    """The paper's one-instant scenario of a state: the present devices of the pool
    (in pool order) with their current rates."""
    present_devices = np.flatnonzero(present)
    devices = tuple(replace(scenario.devices[i], rate_bps=float(rates[i])) for i in present_devices)
    return replace(scenario, devices=devices)
