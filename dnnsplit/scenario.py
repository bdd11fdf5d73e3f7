"""A scenario: the DNN's stage profile, the base station, and the devices.

A scenario is everything the delay model needs (docs/interface.md, "Scenario file"): the stage
profile (device times, output bytes, and BS times by a ratio R or measured), the BS policy,
the form of the local delay, and per device its background load, CPU quantum, memory limit
``s̃_i``, uplink rate, speed and deadline. It is read from a dict or a JSON/YAML file with
every field checked (an error names the field), or drawn by :meth:`Scenario.paper`, the
paper's evaluation setup.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np

from dnnsplit._checks import json_data
from dnnsplit._checks import mapping as _mapping
from dnnsplit._checks import number as _number
from dnnsplit.chains import CHAINS, get_chain, memory_needs
from dnnsplit.channel import Channel
from dnnsplit.errors import InputError, check_choice, shown
from dnnsplit.model import (
    LOCAL_DELAY_FORMS,
    MAX_DELAY_S,
    DelayTables,
    check_memory,
    local_delay,
    read_only,
)
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.profiles import Profile, load_profile
from dnnsplit.reader import read_data
from dnnsplit.setup import DEFAULT_PROFILE, DEFAULT_QUANTUM_S, Setup, changed, quantum

__all__ = ["DEFAULT_PROFILE", "SEED_RULE", "Device", "Scenario"]

SCENARIO_POLICIES = tuple(POLICY_TABLE)  # sjf, ps, rr, fcfs (fcfs: timeline model only)
#: How the scenario of (N, seed) is drawn, everywhere (sweeps, API, command line).
SEED_RULE = "numpy.random.default_rng([N, seed])"
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Device:
    """One device (docs/interface.md, ``devices[i]``).

    Attributes
    ----------
    rate_bps : float
        Average uplink rate ``W_i``, bit/s.
    max_stage : int
        Memory limit ``s̃_i``: the device may choose p in min_stage..max_stage.
    background : int
        Always-busy background processes ``n_i`` sharing its CPU.
    quantum_s : float
        The device's round-robin quantum ``q_i``, seconds.
    speed : float
        ``c_i``: stage times are divided by it (1 = the profiled device).
    deadline_s : float or None
        ``D̃^max_i``, or None for no deadline.
    min_stage : int
        The lowest partition point the device may choose: 0 (full offload allowed, the
        default) or more (the paper's ``p_i ∈ {1..s̃_i}`` is ``min_stage = 1``).
    """

    rate_bps: float
    max_stage: int
    background: int = 0
    quantum_s: float = DEFAULT_QUANTUM_S
    speed: float = 1.0
    deadline_s: float | None = None
    min_stage: int = 0

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("rate_bps", _number(self.rate_bps, "rate_bps", positive=True))
        put("max_stage", _number(self.max_stage, "max_stage", minimum=0, whole=True))
        put("background", _number(self.background, "background", minimum=0, whole=True))
        put("quantum_s", quantum(self.quantum_s, "quantum_s"))
        put("speed", _number(self.speed, "speed", positive=True))
        if self.deadline_s is not None:
            put("deadline_s", _number(self.deadline_s, "deadline_s", positive=True))
        put("min_stage", _number(self.min_stage, "min_stage", minimum=0, whole=True))
        if self.min_stage > self.max_stage:
            raise InputError(
                "min_stage",
                f"{self.min_stage} exceeds max_stage {self.max_stage}: no partition point is left",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "background": self.background,
            "quantum_s": self.quantum_s,
            "min_stage": self.min_stage,
            "max_stage": self.max_stage,
            "rate_bps": self.rate_bps,
            "speed": self.speed,
            "deadline_s": self.deadline_s,
        }


def _profile_from_dict(raw: dict[str, Any]) -> tuple[Profile, np.ndarray]:
    """An inline profile and its per-stage measured BS times (NaN where absent)."""
    raw = _mapping(raw, "profile", {"input_bytes", "stages", "name"})
    if "input_bytes" not in raw:
        raise InputError("profile.input_bytes", "missing")
    input_bytes = _number(raw["input_bytes"], "profile.input_bytes", positive=True, whole=True)
    name = raw.get("name", "inline")
    if not isinstance(name, str) or not name:
        raise InputError("profile.name", f"must be a non-empty string, got {shown(name)}")
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages:
        raise InputError("profile.stages", "must be a non-empty list of stages")
    names, times, out_bytes, bs_times = [], [], [], []
    for k, stage in enumerate(stages):
        where = f"profile.stages[{k}]"
        stage = _mapping(stage, where, {"name", "device_s", "output_bytes", "bs_s"})
        for key in ("name", "device_s", "output_bytes"):
            if key not in stage:
                raise InputError(f"{where}.{key}", "missing")
        if not isinstance(stage["name"], str) or not stage["name"]:
            raise InputError(f"{where}.name", "must be a non-empty string")
        names.append(stage["name"])
        times.append(_number(stage["device_s"], f"{where}.device_s", minimum=0))
        out_bytes.append(
            _number(stage["output_bytes"], f"{where}.output_bytes", positive=True, whole=True)
        )
        bs = stage.get("bs_s")
        bs_times.append(np.nan if bs is None else _number(bs, f"{where}.bs_s", minimum=0))
    profile = Profile(
        name=name,
        model=name,
        stage_names=tuple(names),
        time_s=np.array(times),
        output_bytes=np.array(out_bytes, dtype=np.int64),
        input_bytes=int(input_bytes),
        provenance={
            "method": "given",
            "source": "scenario file",
            "hardware": "?",
            "framework": "?",
            "date": "?",
        },
    )
    return profile, np.array(bs_times)


def _load(name: Any, where: str) -> Profile:
    """:func:`load_profile` with its "profile" errors renamed to ``where``."""
    try:
        return load_profile(name)
    except InputError as error:
        if error.field != "profile":
            raise  # an error inside a profile file names the file, row and column
        raise InputError(where, error.problem) from None


def _first_bad(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first entry that is not a finite delay within :data:`MAX_DELAY_S`."""
    bad = ~(values <= MAX_DELAY_S)  # NaN and inf included
    if not bad.any():
        return None
    return tuple(int(k) for k in np.argwhere(bad)[0])


def _beyond() -> str:
    return f"beyond {MAX_DELAY_S:.0e} s (dnnsplit.model.MAX_DELAY_S)"


def _seconds(value: float) -> str:
    """A sum of seconds for a message; one that overflowed a float is said so."""
    if math.isfinite(value):
        return f"{value:.3g} s"
    return f"more than {sys.float_info.max:.3g} s (a float overflows)"


#: Where a field of a drawn scenario comes from in the setup (see :meth:`Scenario.paper`).
_SETUP_SOURCES = {
    "profile": "setup.profile",
    "bs.ratio": "setup.ratio",
    "bs.quantum_s": "setup.bs_quantum_s",
    "bs.profile": "setup.bs_profile",
    "distance_m": "setup.distance_m",
    "quantum_s": "setup.quantum_s",
    "background": "setup.background",
    "rate_bps": "setup.channel",
    "max_stage": "setup.max_stage",
}


def _setup_field(name: str) -> str:
    """The setup field behind scenario field ``name`` of a drawn scenario, or ``name``."""
    if name in _SETUP_SOURCES:
        return _SETUP_SOURCES[name]
    if name.startswith("devices[") and "]." in name:
        return _SETUP_SOURCES.get(name.split("].", 1)[1], name)
    return name


def _memory_limits(profile: Profile, memory_bytes: np.ndarray) -> np.ndarray:
    """s̃_i under the memory rule: the most stages a device with that memory can hold
    (:func:`dnnsplit.chains.memory_needs`; docs/model.md, "The memory rule")."""
    if profile.model not in CHAINS:
        raise InputError(
            "setup.memory_mib",
            f"the memory rule needs a known network; profile {profile.name!r} is of "
            f"{profile.model!r} (known: {', '.join(CHAINS)})",
        )
    needs = np.array(memory_needs(get_chain(profile.model)), dtype=float)
    return (np.searchsorted(needs, memory_bytes, side="right") - 1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Scenario:
    """Everything the delay model needs; build with :meth:`from_dict`, :meth:`from_file`
    or :meth:`paper`.

    Attributes
    ----------
    profile : Profile
        The device stage profile (times ``t_s`` and bytes ``b_s``).
    bs_time_s : numpy.ndarray
        BS time of every stage ``t^R_s``: ``t_s / R`` or measured, shape (S,).
    policy : str
        BS policy: ``sjf``, ``ps``, ``rr`` (snapshot or timeline) or ``fcfs`` (timeline).
    ratio : float or None
        ``R = C^R / C_i`` where BS times come from the ratio model.
    bs_quantum_s : float
        BS round-robin quantum ``q_R``.
    local_delay : str
        Form of eq. (1): ``paper`` or ``exact``.
    devices : tuple of Device
        The N devices.
    profile_ref : str or None
        Name of the shipped profile it came from, if any.
    bs_profile_ref : str or None
        Name of the shipped BS profile its BS times came from, if any.
    meta : dict
        Free-form provenance (the generator and its seed, distances, channel).
    """

    profile: Profile
    bs_time_s: np.ndarray
    policy: str
    ratio: float | None
    bs_quantum_s: float
    local_delay: str
    devices: tuple[Device, ...]
    profile_ref: str | None = None
    bs_profile_ref: str | None = None
    bs_stage_s: tuple[float | None, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check every field (for a scenario built directly, not from a file), the memory
        its tables need, and that every delay it can produce is finite (see
        :meth:`_check_delays`)."""

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if not isinstance(self.profile, Profile):
            raise InputError("profile", f"must be a dnnsplit.Profile, got {shown(self.profile)}")
        n_stages = self.profile.n_stages
        put("policy", check_choice(self.policy, SCENARIO_POLICIES, "bs.policy"))
        put("local_delay", check_choice(self.local_delay, LOCAL_DELAY_FORMS, "local_delay"))
        put("bs_quantum_s", quantum(self.bs_quantum_s, "bs.quantum_s"))
        if self.ratio is not None:
            put("ratio", _number(self.ratio, "bs.ratio", positive=True))
        devices = self.devices
        if isinstance(devices, Device) or not isinstance(devices, list | tuple) or not devices:
            raise InputError("devices", "must be a non-empty list of devices")
        check_memory(len(devices), n_stages)
        for i, device in enumerate(devices):
            if not isinstance(device, Device):
                raise InputError(f"devices[{i}]", f"must be a dnnsplit.Device, got {shown(device)}")
            if device.max_stage > n_stages:
                raise InputError(
                    f"devices[{i}].max_stage",
                    f"{device.max_stage} exceeds the profile's {n_stages} stages",
                )
        put("devices", tuple(devices))
        try:
            bs_time = np.array(self.bs_time_s, dtype=float)
        except (TypeError, ValueError, OverflowError):
            raise InputError("bs_time_s", "must be a list of numbers") from None
        if bs_time.shape != (n_stages,):
            raise InputError(
                "bs_time_s", f"needs one time per stage ({n_stages}), got shape {bs_time.shape}"
            )
        if np.any(bs_time < 0):
            raise InputError(f"bs_time_s[{int(np.argmax(bs_time < 0))}]", "must be at least 0")
        put("bs_time_s", read_only(bs_time + 0.0))
        if self.bs_stage_s is not None:
            stages = self.bs_stage_s
            if isinstance(stages, str) or not isinstance(stages, list | tuple):
                raise InputError("bs_stage_s", "must be a list with one entry per stage, or None")
            if len(stages) != n_stages:
                raise InputError("bs_stage_s", f"needs one entry per stage ({n_stages})")
            put("bs_stage_s", tuple(stages))
        for name in ("profile_ref", "bs_profile_ref"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputError(name, f"must be a profile name or None, got {shown(value)}")
        if not isinstance(self.meta, dict):
            raise InputError("meta", "must be an object")
        json_data(self.meta, "meta")
        put("meta", dict(self.meta))
        self._check_delays()

    def _bs_field(self, stage: int) -> str:
        """The field that BS stage ``stage``'s time comes from: the stage's ``bs_s``, a BS
        profile, the ratio R (when R < 1 slows the BS down), or the device time ``t_s``."""
        if self.bs_stage_s is not None and self.bs_stage_s[stage] is not None:
            return f"profile.stages[{stage}].bs_s"
        if self.bs_profile_ref is not None:
            return "bs.profile"
        if self.ratio is not None and self.ratio < 1:
            return "bs.ratio"
        if self.ratio is not None:
            return f"profile.stages[{stage}].device_s"
        return f"bs_time_s[{stage}]"

    def _check_delays(self) -> None:
        """Refuse a scenario in which some delay would not be a finite number of seconds
        within :data:`~dnnsplit.model.MAX_DELAY_S`, naming the field that makes it so.

        Checked on the tables (every device, every partition point): the BS work of every
        suffix, the local delay (work ``T = Σ t_s / c_i`` and its round-robin share), the
        transmission delay ``8·b_p / W_i``; then the worst delay any partition vector can
        give under any work-conserving BS policy, snapshot or timeline: the largest arrival
        ``D^L + D^tr`` plus all the BS work of every device. Within the bound, totals,
        variances and fairness indices are finite too. Sums that overflow a float are
        refused the same way (never a floating-point warning).
        """
        with np.errstate(all="ignore"):
            self._audit_delays()

    def _audit_delays(self) -> None:
        """The checks of :meth:`_check_delays` (inside ``np.errstate(all="ignore")``)."""
        suffix = float(np.sum(self.bs_time_s))
        if not suffix <= MAX_DELAY_S:
            stage = int(np.argmax(self.bs_time_s))
            where = self._bs_field(stage)
            hint = f" (t_s / R with R = {self.ratio:g})" if where == "bs.ratio" else ""
            raise InputError(
                where, f"the BS stage times add up to {_seconds(suffix)}{hint}, {_beyond()}"
            )
        tables = self.tables
        cumulative = np.concatenate([[0.0], np.cumsum(self.profile.time_s)])
        bad = _first_bad(tables.local)
        if bad is not None:
            i, p = bad
            device = self.devices[i]
            with np.errstate(all="ignore"):
                work = cumulative[p] / device.speed
            if not cumulative[p] <= MAX_DELAY_S:
                raise InputError(
                    f"profile.stages[{p - 1}].device_s",
                    f"the device stage times add up to {_seconds(cumulative[p])}, {_beyond()}",
                )
            if not work <= MAX_DELAY_S:
                raise InputError(
                    f"devices[{i}].speed",
                    f"stages 1..{p} take Σ t_s / speed = {work:.3g} s on this device "
                    f"(speed {device.speed:g}), {_beyond()}",
                )
            raise InputError(
                f"devices[{i}].background",
                f"the local delay at p={p} is {tables.local[i, p]:.3g} s ({work:.3g} s of work "
                f"shared round-robin with {device.background} background processes), "
                f"{_beyond()}",
            )
        bad = _first_bad(tables.transmission)
        if bad is not None:
            i, p = bad
            sent = int(self.profile.bytes_sent()[p])
            raise InputError(
                f"devices[{i}].rate_bps",
                f"sending {sent} bytes at p={p} at {self.devices[i].rate_bps:g} bit/s takes "
                f"{tables.transmission[i, p]:.3g} s, {_beyond()}",
            )
        arrival = tables.offload_delay.max(axis=1)
        rows = np.arange(tables.n_devices)
        all_work = float(tables.remote_work[rows, tables.min_stage].sum())
        worst = float(arrival.max()) + all_work
        if not worst <= MAX_DELAY_S:
            i = int(np.argmax(arrival))
            stage = int(np.argmax(self.bs_time_s))
            field_name = self._bs_field(stage) if all_work >= arrival[i] else f"devices[{i}]"
            raise InputError(
                field_name,
                f"with {tables.n_devices} devices a delay could reach {worst:.3g} s "
                f"({all_work:.3g} s of BS work after an arrival at {arrival[i]:.3g} s), "
                f"{_beyond()}",
            )

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Scenario:
        """Build and check a scenario from its dict form (docs/interface.md).

        Raises
        ------
        InputError
            Naming the first field that is missing, of the wrong type or out of range, or
            the field that makes some delay non-finite (:meth:`_check_delays`).
        """
        raw = _mapping(raw, "", {"profile", "bs", "local_delay", "devices", "channel", "meta"})
        if "profile" not in raw:
            raise InputError("profile", "missing (a shipped profile name or an object)")
        profile_ref = None
        if isinstance(raw["profile"], os.PathLike):
            raw["profile"] = os.fspath(raw["profile"])
        if isinstance(raw["profile"], str):
            profile_ref = raw["profile"]
            profile = _load(profile_ref, "profile")
            stage_bs = np.full(profile.n_stages, np.nan)
        else:
            profile, stage_bs = _profile_from_dict(raw["profile"])
        n_stages = profile.n_stages

        bs = _mapping(raw.get("bs", {}), "bs", {"policy", "ratio", "quantum_s", "profile"})
        policy = check_choice(bs.get("policy", "sjf"), SCENARIO_POLICIES, "bs.policy")
        bs_quantum = quantum(bs.get("quantum_s", DEFAULT_QUANTUM_S), "bs.quantum_s")
        bs_profile_ref = bs.get("profile")
        if bs_profile_ref is not None:
            if "ratio" in bs:
                raise InputError("bs.ratio", "give either bs.ratio or bs.profile, not both")
            if not np.all(np.isnan(stage_bs)):
                raise InputError("bs.profile", "stages already carry bs_s; give one or the other")
            if not isinstance(bs_profile_ref, str):
                raise InputError("bs.profile", "must be a profile name or path")
            bs_profile = _load(bs_profile_ref, "bs.profile")
            if bs_profile.stage_names != profile.stage_names:
                raise InputError(
                    "bs.profile",
                    f"stages {shown(list(bs_profile.stage_names))} do not "
                    f"match the device profile's {shown(list(profile.stage_names))}",
                )
            ratio = None
            bs_time = bs_profile.time_s.copy()
        else:
            ratio = _number(bs.get("ratio", 1.0), "bs.ratio", positive=True)
            with np.errstate(all="ignore"):
                bs_time = np.where(np.isnan(stage_bs), profile.time_s / ratio, stage_bs)

        local_form = check_choice(raw.get("local_delay", "paper"), LOCAL_DELAY_FORMS, "local_delay")
        channel = Channel(
            **_mapping(raw.get("channel", {}), "channel", {f.name for f in fields(Channel)})
        )

        devices_raw = raw.get("devices")
        if not isinstance(devices_raw, list) or not devices_raw:
            raise InputError("devices", "must be a non-empty list of devices")
        check_memory(len(devices_raw), n_stages)
        allowed = {
            "background",
            "quantum_s",
            "min_stage",
            "max_stage",
            "rate_bps",
            "distance_m",
            "speed",
            "deadline_s",
        }
        devices = []
        by_distance = set()
        for i, device in enumerate(devices_raw):
            where = f"devices[{i}]"
            device = _mapping(device, where, allowed)
            if ("rate_bps" in device) == ("distance_m" in device):
                raise InputError(f"{where}.rate_bps", "give exactly one of rate_bps or distance_m")
            if "rate_bps" in device:
                rate = device["rate_bps"]
            else:
                by_distance.add(f"{where}.rate_bps")
                distance = _number(device["distance_m"], f"{where}.distance_m", positive=True)
                try:
                    rate = float(channel.rate_bps(distance)[0])
                except InputError as error:
                    raise InputError(f"{where}.distance_m", error.problem) from None
            try:
                made = Device(
                    rate_bps=rate,
                    max_stage=device.get("max_stage", n_stages),
                    background=device.get("background", 0),
                    quantum_s=device.get("quantum_s", DEFAULT_QUANTUM_S),
                    speed=device.get("speed", 1.0),
                    deadline_s=device.get("deadline_s"),
                    min_stage=device.get("min_stage", 0),
                )
            except InputError as error:
                raise InputError(f"{where}.{error.field}", error.problem) from None
            if made.max_stage > n_stages:
                raise InputError(
                    f"{where}.max_stage",
                    f"{made.max_stage} exceeds the profile's {n_stages} stages",
                )
            devices.append(made)
        meta = raw.get("meta", {})
        if not isinstance(meta, dict):
            raise InputError("meta", "must be an object")
        stage_bs_list = (
            None
            if np.all(np.isnan(stage_bs))
            else tuple(None if np.isnan(v) else float(v) for v in stage_bs)
        )
        try:
            return cls(
                profile=profile,
                bs_time_s=np.asarray(bs_time, dtype=float),
                policy=policy,
                ratio=ratio,
                bs_quantum_s=bs_quantum,
                local_delay=local_form,
                devices=tuple(devices),
                profile_ref=profile_ref,
                bs_profile_ref=bs_profile_ref,
                bs_stage_s=stage_bs_list,
                meta=dict(meta),
            )
        except InputError as error:
            if error.field not in by_distance:
                raise
            where = error.field.replace(".rate_bps", ".distance_m")
            raise InputError(where, f"{error.problem} (the rate the channel gives there)") from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Scenario:
        """Read a scenario from a JSON file (or YAML, ``.yml``/``.yaml``, with PyYAML).

        The file must be UTF-8 text (a byte-order mark and CRLF line ends are fine) of at
        most :data:`~dnnsplit._checks.MAX_FILE_BYTES`; a key given twice in one object is
        an error naming it. YAML is read with a safe loader (tags are refused, never run)
        that keeps dates as strings.
        """
        return cls.from_dict(read_data(path, "scenario", "scenario file"))

    @classmethod
    def paper(
        cls, n_devices: int, seed: int = 0, setup: Setup | None = None, **changes: Any
    ) -> Scenario:
        """The scenario of the paper's evaluation for ``(N, seed, setup)``.

        One seeding rule everywhere: the draw uses only ``numpy.random.default_rng([N,
        seed])`` (:data:`SEED_RULE`), so a figure's sweep, this method and ``dnnsplit
        scenario --devices N --seed s`` give the same scenario, and the devices at (N, seed)
        are the same whatever R, policy or quantum the setup chooses (paired comparisons).

        Draws, in this order: distances uniform in ``setup.distance_m``; memory limits
        ``s̃_i`` uniform on the whole numbers in ``setup.max_stage`` (capped at S);
        background processes uniform on the whole numbers in ``setup.background``. Uplink
        rates follow from the distances by ``setup.channel``; BS times are ``t_s / R`` or
        ``setup.bs_profile``; every device may choose ``p`` in
        ``setup.lowest_point..s̃_i``.

        Parameters
        ----------
        n_devices : int
            N.
        seed : int
            Scenario seed, a whole number ≥ 0 (pass an int for reproducible output).
        setup : Setup, optional
            The choices the paper leaves open (default: :class:`~dnnsplit.Setup`'s).
        **changes
            Fields of the setup to change, e.g. ``ratio=10, policy="rr"``.

        Returns
        -------
        Scenario
            Its ``meta`` records the generator, N, the seed, the seed rule, the setup and
            the drawn distances.
        """
        n_devices = _number(n_devices, "devices", positive=True, whole=True)
        seed = _number(seed, "seed", minimum=0, maximum=MAX_SEED, whole=True)
        setup = setup if setup is not None else Setup()
        if not isinstance(setup, Setup):
            raise InputError("setup", f"must be a dnnsplit.Setup, got {type(setup).__name__}")
        if changes:
            setup = changed(setup, changes)
        loaded = _load(setup.profile, "setup.profile")
        check_memory(n_devices, loaded.n_stages)
        try:
            return cls._draw(n_devices, seed, setup, loaded)
        except InputError as error:
            raise InputError(_setup_field(error.field), error.problem) from None

    @classmethod
    def _draw(cls, n_devices: int, seed: int, setup: Setup, loaded: Profile) -> Scenario:
        """The draw of :meth:`paper` (its errors name scenario fields)."""
        rng = np.random.default_rng([n_devices, seed])
        distances = rng.uniform(setup.distance_m[0], setup.distance_m[1], size=n_devices)
        if setup.memory_mib is None:
            limits = rng.integers(
                setup.max_stage[0], setup.max_stage[1], size=n_devices, endpoint=True
            )
            limits = np.minimum(limits, loaded.n_stages)
        else:
            memory = rng.uniform(setup.memory_mib[0], setup.memory_mib[1], size=n_devices)
            limits = _memory_limits(loaded, memory * 2**20)
        loads = rng.integers(
            setup.background[0], setup.background[1], size=n_devices, endpoint=True
        )
        rates = setup.channel.rate_bps(distances)
        bs: dict[str, Any] = {"policy": setup.policy, "quantum_s": setup.bs_quantum_s}
        if setup.bs_profile is None:
            bs["ratio"] = setup.ratio
        else:
            bs["profile"] = setup.bs_profile
        raw = {
            "profile": setup.profile,
            "bs": bs,
            "local_delay": setup.local_delay,
            "devices": [
                {
                    "background": int(n),
                    "quantum_s": setup.quantum_s,
                    "min_stage": min(setup.lowest_point, int(s)),
                    "max_stage": int(s),
                    "rate_bps": float(w),
                    "speed": 1.0,
                    "deadline_s": None,
                }
                for n, s, w in zip(loads, limits, rates, strict=True)
            ],
            "meta": {
                "generator": "paper",
                "devices": n_devices,
                "seed": seed,
                "seed_rule": SEED_RULE,
                "setup": setup.to_dict(),
                "distances_m": [round(float(d), 3) for d in distances],
            },
        }
        return cls.from_dict(raw)

    # -- views ------------------------------------------------------------------------

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    @property
    def n_stages(self) -> int:
        return self.profile.n_stages

    @property
    def max_stage(self) -> np.ndarray:
        """``s̃_i``, the highest partition point of every device, shape (N,)."""
        return read_only(np.array([d.max_stage for d in self.devices], dtype=np.int64))

    @property
    def min_stage(self) -> np.ndarray:
        """The lowest partition point of every device (0: full offload allowed), (N,)."""
        return read_only(np.array([d.min_stage for d in self.devices], dtype=np.int64))

    @property
    def space_size(self) -> int:
        """Number of partition vectors within the limits: ``Π_i (s̃_i − min_i + 1)``."""
        return math.prod(d.max_stage - d.min_stage + 1 for d in self.devices)

    @cached_property
    def tables(self) -> DelayTables:
        """Per-device, per-partition-point delay components (see :class:`DelayTables`).

        ``D^L_i(p)`` from eq. (1) with ``T = Σ_{s≤p} t_s / c_i``; ``D^tr_i(p) = 8·b_p / W_i``
        (0 at p = S); ``T^R_i(p) = Σ_{s>p} t^R_s``.
        """
        devices = self.devices
        # overflow is checked on the result (Scenario._check_delays), not warned about
        with np.errstate(all="ignore"):
            speed = np.array([d.speed for d in devices])[:, None]
            work = np.concatenate([[0.0], np.cumsum(self.profile.time_s)])[None, :] / speed
            background = np.array([d.background for d in devices])[:, None]
            quantum = np.array([d.quantum_s for d in devices])[:, None]
            local = local_delay(work, background, quantum, self.local_delay)
            bits = 8.0 * self.profile.bytes_sent()[None, :]
            rate = np.array([d.rate_bps for d in devices])[:, None]
            transmission = bits / rate
            suffix = np.concatenate([np.cumsum(self.bs_time_s[::-1])[::-1], [0.0]])
            remote_work = np.broadcast_to(suffix, local.shape).copy()
        deadline = np.array([np.inf if d.deadline_s is None else d.deadline_s for d in devices])
        return DelayTables(
            local=local,
            transmission=transmission,
            remote_work=remote_work,
            max_stage=self.max_stage,
            min_stage=self.min_stage,
            deadline=deadline,
            policy=self.policy,
            bs_quantum=self.bs_quantum_s,
        )

    def to_dict(self) -> dict[str, Any]:
        """The scenario-file form (round-trips through :meth:`from_dict`)."""
        if self.profile_ref is not None:
            profile: Any = self.profile_ref
        else:
            profile = self.profile.to_dict()
            if self.bs_stage_s is not None:
                for stage, bs in zip(profile["stages"], self.bs_stage_s, strict=True):
                    if bs is not None:
                        stage["bs_s"] = bs
        bs_block: dict[str, Any] = {"policy": self.policy, "quantum_s": self.bs_quantum_s}
        if self.bs_profile_ref is not None:
            bs_block["profile"] = self.bs_profile_ref
        else:
            bs_block["ratio"] = self.ratio
        out = {
            "profile": profile,
            "bs": bs_block,
            "local_delay": self.local_delay,
            "devices": [d.to_dict() for d in self.devices],
        }
        if self.meta:
            out["meta"] = self.meta
        return out

    def with_options(self, **changes: Any) -> Scenario:
        """A copy with some scenario-file fields changed (``policy``, ``ratio``, ...)."""
        raw = self.to_dict()
        for key, value in changes.items():
            if key in ("policy", "ratio", "quantum_s"):
                raw["bs"][key] = value
            elif key == "local_delay":
                raw[key] = value
            else:
                raise InputError(key, "not a field with_options can change")
        return Scenario.from_dict(raw)
