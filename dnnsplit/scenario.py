"""A scenario: the DNN's stage profile, the base station, and the devices (the schema).

A scenario is everything the delay model needs (docs/interface.md, "Scenario file").
:meth:`Scenario.from_dict` / :meth:`Scenario.from_file` check every field of a file once
against the declarations below (:data:`SCENARIO_FIELDS`, :data:`BS_FIELDS`,
:data:`DEVICE_FIELDS`, :data:`STAGE_FIELDS`); ``Scenario(...)``, ``Device(...)`` and
``Power(...)`` built directly (as :func:`dnnsplit.paper_scenario` does) check their own
fields. Either way the memory of the tables (:mod:`dnnsplit.tables`) is checked before they
exist and their delays are audited (:mod:`dnnsplit.audit`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

import numpy as np

from dnnsplit._checks import mapping as _mapping
from dnnsplit._params import (
    Choice,
    Constraint,
    Instance,
    Json,
    Nullable,
    Real,
    Text,
    Whole,
    check_all,
    declare_fields,
)
from dnnsplit.audit import audit_delays
from dnnsplit.channel import CHANNEL_FIELDS, Channel
from dnnsplit.errors import InputError, shown
from dnnsplit.model import (
    DEFAULT_QUANTUM_S,
    LOCAL_DELAY_FORMS,
    MAX_POWER_W,
    QUANTUM,
    DelayTables,
    check_memory,
    read_only,
)
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.profiles import PROFILE_NAME, Profile, load_profile
from dnnsplit.reader import read_data
from dnnsplit.tables import delay_tables

__all__ = [
    "BS_FIELDS",
    "DEFAULT_CPU_W",
    "DEFAULT_IDLE_W",
    "DEFAULT_TX_W",
    "DEVICE_FIELDS",
    "POWER_FIELDS",
    "SCENARIO_FIELDS",
    "SCENARIO_POLICIES",
    "STAGE_FIELDS",
    "Device",
    "Power",
    "Scenario",
]

SCENARIO_POLICIES = tuple(POLICY_TABLE)  # sjf, ps, rr, fcfs (fcfs: timeline model only)

#: The default power block: a Raspberry Pi 3B+ (``data/measurements/README.md``, "Power").
#: Whole board, CPU busy running the DNN's stages (all four cores; measured by others).
DEFAULT_CPU_W = 5.1
#: Whole board while the WiFi radio transmits (**estimated**: idle plus an assumed 1 W).
DEFAULT_TX_W = 2.9
#: Whole board idle, WiFi associated, waiting for the BS's result (measured by others).
DEFAULT_IDLE_W = 1.9
#: A power in watts: at least 0, at most :data:`~dnnsplit.model.MAX_POWER_W`.
POWER_W = Real(low=0.0, high=MAX_POWER_W)
#: What each field of a ``power`` block takes (the scenario's, or a device's own).
POWER_FIELDS: dict[str, Constraint] = {"cpu_w": POWER_W, "tx_w": POWER_W, "idle_w": POWER_W}

#: What each field of ``devices[i]`` takes (``distance_m`` in files only: it becomes
#: ``rate_bps`` by the channel model; a device's ``power`` is a block of
#: :data:`POWER_FIELDS`).
DEVICE_FIELDS: dict[str, Constraint] = {
    "background": Whole(0),
    "quantum_s": QUANTUM,
    "min_stage": Whole(0),
    "max_stage": Whole(0),
    "rate_bps": Real(positive=True),
    "distance_m": Real(positive=True),
    "speed": Real(positive=True),
    "deadline_s": Nullable(Real(positive=True)),
    "energy_budget_j": Nullable(Real(positive=True)),
}
#: What each field of the ``bs`` block takes.
BS_FIELDS: dict[str, Constraint] = {
    "policy": Choice(SCENARIO_POLICIES, "policy"),
    "ratio": Real(positive=True),
    "quantum_s": QUANTUM,
    "profile": PROFILE_NAME,
}
#: What each field of an inline profile's ``stages[k]`` takes.
STAGE_FIELDS: dict[str, Constraint] = {
    "name": Text(),
    "device_s": Real(low=0.0),
    "output_bytes": Whole(1),
    "bs_s": Nullable(Real(low=0.0)),
}
#: What the other fields of an inline ``profile`` take.
PROFILE_FIELDS: dict[str, Constraint] = {"input_bytes": Whole(1), "name": Text()}
#: What the scenario's own fields take (``profile``, ``bs``, ``devices`` and ``channel``
#: are blocks, checked field by field).
SCENARIO_FIELDS: dict[str, Constraint] = {
    "local_delay": Choice(LOCAL_DELAY_FORMS, "form"),
    "meta": Json(),
}


def _built(cls: type, values: dict[str, Any]) -> Any:
    """An instance of the frozen dataclass ``cls`` from values already checked (no
    ``__post_init__``: the inside trusts what the boundary checked)."""
    made: Any = object.__new__(cls)
    for f in fields(cls):
        object.__setattr__(made, f.name, values[f.name])
    return made


def _copy_data(data: Any) -> Any:
    """A copy of JSON data: new lists and objects, the same (immutable) scalars."""
    if isinstance(data, dict):
        return {k: _copy_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy_data(v) for v in data]
    return data


@dataclass(frozen=True)
@declare_fields(POWER_FIELDS, prefix="power.")
class Power:
    """A device's power draw in each phase of its task (docs/model.md, "Energy"), watts.

    The energy of device i's task is ``E_i = cpu_w·C_i + tx_w·τ_i + idle_w·B_i``: the
    whole board's draw while its CPU runs the task's stages (``C_i``, the CPU time of stages
    1..p), while its radio sends the tensor (``τ_i``), and while it waits, idle, for the
    BS's result (``B_i``). Defaults: a Raspberry Pi 3B+ (``data/measurements/README.md``,
    "Power": ``cpu_w`` and ``idle_w`` measured by others, ``tx_w`` **estimated**).

    Attributes
    ----------
    cpu_w : float
        Power while computing, W (``P_cpu``).
    tx_w : float
        Power while transmitting, W (``P_tx``).
    idle_w : float
        Power while waiting for the BS, W (``P_idle``).
    """

    cpu_w: float = DEFAULT_CPU_W
    tx_w: float = DEFAULT_TX_W
    idle_w: float = DEFAULT_IDLE_W

    def to_dict(self) -> dict[str, float]:
        return {"cpu_w": self.cpu_w, "tx_w": self.tx_w, "idle_w": self.idle_w}


def _power_block(raw: Any, where: str, base: Power) -> Power:
    """A ``power`` block of a scenario file (at ``where``): each field checked against
    :data:`POWER_FIELDS`; a field left out keeps ``base``'s value."""
    given = check_all(_mapping(raw, where, set(POWER_FIELDS)), POWER_FIELDS, f"{where}.")
    return _built(Power, {**base.to_dict(), **given})


def _check_points(low: int, high: int, where: str = "") -> None:
    """The rule across a device's limits: at least one partition point is left."""
    if low > high:
        raise InputError(
            f"{where}min_stage", f"{low} exceeds max_stage {high}: no partition point is left"
        )


#: What each field of a :class:`Device` takes: a file's device fields but the distance (a
#: device holds its rate), and its own power block.
DEVICE_OWN_FIELDS: dict[str, Constraint] = {
    **{name: rule for name, rule in DEVICE_FIELDS.items() if name != "distance_m"},
    "power": Nullable(Instance(Power, "a dnnsplit.Power")),
}


@dataclass(frozen=True)
@declare_fields(
    DEVICE_OWN_FIELDS, then=lambda device: _check_points(device.min_stage, device.max_stage)
)
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
    energy_budget_j : float or None
        ``Ẽ_i``, the most energy its task may take (joules), or None for no budget.
    power : Power or None
        Its own power block, or None for the scenario's.
    """

    rate_bps: float
    max_stage: int
    background: int = 0
    quantum_s: float = DEFAULT_QUANTUM_S
    speed: float = 1.0
    deadline_s: float | None = None
    min_stage: int = 0
    energy_budget_j: float | None = None
    power: Power | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "background": self.background,
            "quantum_s": self.quantum_s,
            "min_stage": self.min_stage,
            "max_stage": self.max_stage,
            "rate_bps": self.rate_bps,
            "speed": self.speed,
            "deadline_s": self.deadline_s,
            "energy_budget_j": self.energy_budget_j,
            **({"power": self.power.to_dict()} if self.power is not None else {}),
        }


def _inline_profile(raw: Any) -> tuple[Profile, np.ndarray]:
    """An inline profile (checked field by field) and its per-stage measured BS times
    (NaN where absent)."""
    raw = _mapping(raw, "profile", {"input_bytes", "stages", "name"})
    if "input_bytes" not in raw:
        raise InputError("profile.input_bytes", "missing")
    checked = check_all({"name": "inline", **raw}, PROFILE_FIELDS, "profile.")
    stages = raw.get("stages")
    if not isinstance(stages, list) or not stages:
        raise InputError("profile.stages", "must be a non-empty list of stages")
    names, times, out_bytes, bs_times = [], [], [], []
    for k, stage in enumerate(stages):
        where = f"profile.stages[{k}]."
        stage = _mapping(stage, where[:-1], set(STAGE_FIELDS))
        for key in ("name", "device_s", "output_bytes"):
            if key not in stage:
                raise InputError(f"{where}{key}", "missing")
        stage = check_all(stage, STAGE_FIELDS, where)
        names.append(stage["name"])
        times.append(stage["device_s"])
        out_bytes.append(stage["output_bytes"])
        bs_times.append(np.nan if stage.get("bs_s") is None else stage["bs_s"])
    name = checked["name"]
    profile: Profile = _built(  # every value checked above: not again by Profile
        Profile,
        {
            "name": name,
            "model": name,
            "stage_names": tuple(names),
            "time_s": read_only(np.array(times, dtype=float) + 0.0),
            "output_bytes": read_only(np.array(out_bytes, dtype=np.int64)),
            "input_bytes": checked["input_bytes"],
            "provenance": {
                "method": "given",
                "source": "scenario file",
                "hardware": "?",
                "framework": "?",
                "date": "?",
            },
            "extra": None,
        },
    )
    return profile, np.array(bs_times)


@dataclass(frozen=True, eq=False)
class Scenario:
    """Everything the delay model needs; read with :meth:`from_dict` or :meth:`from_file`,
    draw with :func:`dnnsplit.paper_scenario`, or build directly.

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
    bs_stage_s : tuple or None
        The measured BS time of each stage given in the file (None where not given).
    meta : dict
        Free-form provenance (the generator and its seed, distances, channel);
        :meth:`to_dict` returns a copy.
    power : Power
        The devices' power block (a device's own ``power`` overrides it); default: a
        Raspberry Pi 3B+.
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
    power: Power = field(default_factory=Power)

    def __post_init__(self) -> None:
        """Check every field (a scenario built directly, not from a file or a draw), the
        memory its tables need, and that every delay it can produce is finite (see
        :func:`dnnsplit.audit.audit_delays`)."""

        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        Instance(Profile, "a dnnsplit.Profile").check(self.profile, "profile")
        n_stages = self.profile.n_stages
        put("policy", BS_FIELDS["policy"].check(self.policy, "bs.policy"))
        put("local_delay", SCENARIO_FIELDS["local_delay"].check(self.local_delay, "local_delay"))
        put("bs_quantum_s", QUANTUM.check(self.bs_quantum_s, "bs.quantum_s"))
        put("ratio", Nullable(BS_FIELDS["ratio"]).check(self.ratio, "bs.ratio"))
        devices = self.devices
        if isinstance(devices, Device) or not isinstance(devices, list | tuple) or not devices:
            raise InputError("devices", "must be a non-empty list of devices")
        check_memory(len(devices), n_stages)
        for i, device in enumerate(devices):
            Instance(Device, "a dnnsplit.Device").check(device, f"devices[{i}]")
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
            put(name, Nullable(PROFILE_NAME).check(getattr(self, name), name))
        put("meta", _copy_data(SCENARIO_FIELDS["meta"].check(self.meta, "meta")))
        Instance(Power, "a dnnsplit.Power").check(self.power, "power")
        audit_delays(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Scenario:
        """Build and check a scenario from its dict form (docs/interface.md).

        Raises
        ------
        InputError
            Naming the first field that is missing, of the wrong type or out of range, or
            the field that makes some delay non-finite (:mod:`dnnsplit.audit`).
        """
        raw = _mapping(
            raw, "", {"profile", "bs", "local_delay", "devices", "channel", "meta", "power"}
        )
        if "profile" not in raw:
            raise InputError("profile", "missing (a shipped profile name or an object)")
        profile_ref = None
        if isinstance(raw["profile"], str | os.PathLike):
            profile_ref = os.fspath(raw["profile"])
            profile = load_profile(profile_ref, "profile")
            stage_bs = np.full(profile.n_stages, np.nan)
        else:
            profile, stage_bs = _inline_profile(raw["profile"])
        n_stages = profile.n_stages

        bs = check_all(_mapping(raw.get("bs", {}), "bs", set(BS_FIELDS)), BS_FIELDS, "bs.")
        bs_profile_ref = bs.get("profile")
        if bs_profile_ref is not None:
            if "ratio" in bs:
                raise InputError("bs.ratio", "give either bs.ratio or bs.profile, not both")
            if not np.all(np.isnan(stage_bs)):
                raise InputError("bs.profile", "stages already carry bs_s; give one or the other")
            bs_profile = load_profile(bs_profile_ref, "bs.profile")
            if bs_profile.stage_names != profile.stage_names:
                raise InputError(
                    "bs.profile",
                    f"stages {shown(list(bs_profile.stage_names))} do not "
                    f"match the device profile's {shown(list(profile.stage_names))}",
                )
            ratio = None
            bs_time = bs_profile.time_s.copy()
        else:
            ratio = bs.get("ratio", 1.0)
            with np.errstate(all="ignore"):
                bs_time = np.where(np.isnan(stage_bs), profile.time_s / ratio, stage_bs)

        local_form = SCENARIO_FIELDS["local_delay"].check(
            raw.get("local_delay", "paper"), "local_delay"
        )
        channel = Channel(**_mapping(raw.get("channel", {}), "channel", set(CHANNEL_FIELDS)))
        power = _power_block(raw.get("power", {}), "power", Power())
        devices, by_distance = _devices(raw.get("devices"), n_stages, channel, power)
        meta = SCENARIO_FIELDS["meta"].check(raw.get("meta", {}), "meta")
        stage_bs_list = (
            None
            if np.all(np.isnan(stage_bs))
            else tuple(None if np.isnan(v) else float(v) for v in stage_bs)
        )
        made: Scenario = _built(  # every value was checked as it was read: not again
            cls,
            {
                "profile": profile,
                "bs_time_s": read_only(np.asarray(bs_time, dtype=float) + 0.0),
                "policy": bs.get("policy", "sjf"),
                "ratio": ratio,
                "bs_quantum_s": bs.get("quantum_s", DEFAULT_QUANTUM_S),
                "local_delay": local_form,
                "devices": devices,
                "profile_ref": profile_ref,
                "bs_profile_ref": bs_profile_ref,
                "bs_stage_s": stage_bs_list,
                "meta": _copy_data(meta),
                "power": power,
            },
        )
        try:
            audit_delays(made)
        except InputError as error:
            if error.field not in by_distance:
                raise
            where = error.field.replace(".rate_bps", ".distance_m")
            raise InputError(where, f"{error.problem} (the rate the channel gives there)") from None
        return made

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Scenario:
        """Read a scenario from a JSON file (or YAML, ``.yml``/``.yaml``, with PyYAML), with
        the bounds and checks of :mod:`dnnsplit.reader`."""
        return cls.from_dict(read_data(path, "scenario", "scenario file"))

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    @property
    def n_stages(self) -> int:
        return self.profile.n_stages

    @property
    def max_stage(self) -> np.ndarray:
        """``s̃_i``, the highest partition point of every device, shape (N,)."""
        return self.tables.max_stage

    @property
    def min_stage(self) -> np.ndarray:
        """The lowest partition point of every device (0: full offload allowed), (N,)."""
        return self.tables.min_stage

    @property
    def space_size(self) -> int:
        """Number of partition vectors within the limits: ``Π_i (s̃_i − min_i + 1)``."""
        return math.prod(d.max_stage - d.min_stage + 1 for d in self.devices)

    def device_power(self, i: int) -> Power:
        """Device ``i``'s power block: its own, or the scenario's."""
        own = self.devices[i].power
        return own if own is not None else self.power

    @cached_property
    def tables(self) -> DelayTables:
        """Per-device, per-partition-point delay components (eq. 1; :mod:`dnnsplit.tables`)."""
        return delay_tables(self)

    def to_dict(self) -> dict[str, Any]:
        """The scenario-file form (round-trips through :meth:`from_dict`); a new object,
        ``meta`` included (changing it changes nothing here)."""
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
            "power": self.power.to_dict(),
            "devices": [d.to_dict() for d in self.devices],
        }
        if self.meta:
            out["meta"] = _copy_data(self.meta)
        return out

    def with_devices(self, devices: Sequence[Device]) -> Scenario:
        """A copy with ``devices`` (a list or tuple of :class:`Device`) in place of its own:
        the profile, the BS and ``meta`` kept. Checked as a scenario built directly is (each
        device, the memory its tables need, every delay finite), e.g.
        ``scenario.with_devices([dataclasses.replace(d, speed=c) for d, c in ...])``."""
        given: Any = tuple(devices) if isinstance(devices, list | tuple) else devices
        return replace(self, devices=given)  # __post_init__ refuses anything else

    def with_options(self, **changes: Any) -> Scenario:
        """A copy with ``local_delay`` or fields of ``bs`` changed (``policy``, ``ratio``,
        ``quantum_s``), read again as its file would be."""
        raw = self.to_dict()
        for key, value in changes.items():  # an unknown one is refused as a bs field
            (raw if key == "local_delay" else raw["bs"])[key] = value
        return Scenario.from_dict(raw)


def _devices(
    devices_raw: Any, n_stages: int, channel: Channel, power: Power
) -> tuple[tuple[Device, ...], set[str]]:
    """The ``devices`` of a scenario file, each field checked once against
    :data:`DEVICE_FIELDS` (a device's ``power`` block against :data:`POWER_FIELDS`, the
    fields it leaves out taken from the scenario's ``power``); and the fields of the rates
    drawn from a distance."""
    if not isinstance(devices_raw, list) or not devices_raw:
        raise InputError("devices", "must be a non-empty list of devices")
    check_memory(len(devices_raw), n_stages)
    devices = []
    by_distance = set()
    for i, device in enumerate(devices_raw):
        where = f"devices[{i}]."
        device = _mapping(device, where[:-1], {*DEVICE_FIELDS, "power"})
        own_power = (
            _power_block(device.pop("power"), f"{where}power", power) if "power" in device else None
        )
        given = check_all(device, DEVICE_FIELDS, where)
        if ("rate_bps" in given) == ("distance_m" in given):
            raise InputError(f"{where}rate_bps", "give exactly one of rate_bps or distance_m")
        if "rate_bps" in given:
            rate = given["rate_bps"]
        else:
            by_distance.add(f"{where}rate_bps")
            try:
                rate = float(channel.rate_bps(given["distance_m"])[0])
            except InputError as error:
                raise InputError(f"{where}distance_m", error.problem) from None
        low, high = given.get("min_stage", 0), given.get("max_stage", n_stages)
        _check_points(low, high, where)
        if high > n_stages:
            raise InputError(f"{where}max_stage", f"{high} exceeds the profile's {n_stages} stages")
        devices.append(
            _built(
                Device,
                {
                    "rate_bps": rate,
                    "max_stage": high,
                    "background": given.get("background", 0),
                    "quantum_s": given.get("quantum_s", DEFAULT_QUANTUM_S),
                    "speed": given.get("speed", 1.0),
                    "deadline_s": given.get("deadline_s"),
                    "min_stage": low,
                    "energy_budget_j": given.get("energy_budget_j"),
                    "power": own_power,
                },
            )
        )
    return tuple(devices), by_distance
