"""A scenario: the DNN's stage profile, the base station, and the devices.

A scenario is everything the delay model needs (docs/interface.md, "Scenario file"): the stage
profile (device times, output bytes, and BS times by a ratio R or measured), the BS policy,
the form of the local delay, and per device its background load, CPU quantum, memory limit
``s̃_i``, uplink rate, speed and deadline. It is read from a dict or a JSON/YAML file with
every field checked (an error names the field), or drawn by :meth:`Scenario.paper`, the
paper's evaluation setup.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dnnsplit._checks import mapping as _mapping
from dnnsplit._checks import number as _number
from dnnsplit.channel import Channel
from dnnsplit.errors import InputError, check_choice
from dnnsplit.model import LOCAL_DELAY_FORMS, DelayTables, local_delay, read_only
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.profiles import Profile, load_profile
from dnnsplit.setup import DEFAULT_PROFILE, DEFAULT_QUANTUM_S, Setup

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
        name=str(raw.get("name", "inline")),
        model=str(raw.get("name", "inline")),
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
        object.__setattr__(self, "bs_time_s", read_only(np.array(self.bs_time_s, dtype=float)))
        object.__setattr__(self, "devices", tuple(self.devices))

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Scenario:
        """Build and check a scenario from its dict form (docs/interface.md).

        Raises
        ------
        InputError
            Naming the first field that is missing, of the wrong type or out of range.
        """
        raw = _mapping(raw, "", {"profile", "bs", "local_delay", "devices", "channel", "meta"})
        if "profile" not in raw:
            raise InputError("profile", "missing (a shipped profile name or an object)")
        profile_ref = None
        if isinstance(raw["profile"], str):
            profile_ref = raw["profile"]
            profile = load_profile(profile_ref)
            stage_bs = np.full(profile.n_stages, np.nan)
        else:
            profile, stage_bs = _profile_from_dict(raw["profile"])
        n_stages = profile.n_stages

        bs = _mapping(raw.get("bs", {}), "bs", {"policy", "ratio", "quantum_s", "profile"})
        policy = check_choice(bs.get("policy", "sjf"), SCENARIO_POLICIES, "bs.policy")
        quantum = _number(bs.get("quantum_s", DEFAULT_QUANTUM_S), "bs.quantum_s", positive=True)
        bs_profile_ref = bs.get("profile")
        if bs_profile_ref is not None:
            if "ratio" in bs:
                raise InputError("bs.ratio", "give either bs.ratio or bs.profile, not both")
            if not np.all(np.isnan(stage_bs)):
                raise InputError("bs.profile", "stages already carry bs_s; give one or the other")
            if not isinstance(bs_profile_ref, str):
                raise InputError("bs.profile", "must be a profile name or path")
            bs_profile = load_profile(bs_profile_ref)
            if bs_profile.stage_names != profile.stage_names:
                raise InputError(
                    "bs.profile",
                    f"stages {list(bs_profile.stage_names)} do not "
                    f"match the device profile's {list(profile.stage_names)}",
                )
            ratio = None
            bs_time = bs_profile.time_s.copy()
        else:
            ratio = _number(bs.get("ratio", 1.0), "bs.ratio", positive=True)
            bs_time = np.where(np.isnan(stage_bs), profile.time_s / ratio, stage_bs)

        local_form = check_choice(raw.get("local_delay", "paper"), LOCAL_DELAY_FORMS, "local_delay")
        channel = Channel(
            **_mapping(raw.get("channel", {}), "channel", {f.name for f in fields(Channel)})
        )

        devices_raw = raw.get("devices")
        if not isinstance(devices_raw, list) or not devices_raw:
            raise InputError("devices", "must be a non-empty list of devices")
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
        for i, device in enumerate(devices_raw):
            where = f"devices[{i}]"
            device = _mapping(device, where, allowed)
            if ("rate_bps" in device) == ("distance_m" in device):
                raise InputError(f"{where}.rate_bps", "give exactly one of rate_bps or distance_m")
            if "rate_bps" in device:
                rate = _number(device["rate_bps"], f"{where}.rate_bps", positive=True)
            else:
                distance = _number(device["distance_m"], f"{where}.distance_m", positive=True)
                try:
                    rate = float(channel.rate_bps(distance)[0])
                except InputError as error:
                    raise InputError(f"{where}.distance_m", error.problem) from None
            max_stage = _number(
                device.get("max_stage", n_stages), f"{where}.max_stage", minimum=0, whole=True
            )
            if max_stage > n_stages:
                raise InputError(
                    f"{where}.max_stage", f"{max_stage} exceeds the profile's {n_stages} stages"
                )
            min_stage = _number(
                device.get("min_stage", 0), f"{where}.min_stage", minimum=0, whole=True
            )
            if min_stage > max_stage:
                raise InputError(
                    f"{where}.min_stage",
                    f"{min_stage} exceeds max_stage {max_stage}: no partition point is left",
                )
            deadline = device.get("deadline_s")
            devices.append(
                Device(
                    rate_bps=rate,
                    max_stage=int(max_stage),
                    background=int(
                        _number(
                            device.get("background", 0),
                            f"{where}.background",
                            minimum=0,
                            whole=True,
                        )
                    ),
                    quantum_s=_number(
                        device.get("quantum_s", DEFAULT_QUANTUM_S),
                        f"{where}.quantum_s",
                        positive=True,
                    ),
                    speed=_number(device.get("speed", 1.0), f"{where}.speed", positive=True),
                    deadline_s=None
                    if deadline is None
                    else _number(deadline, f"{where}.deadline_s", positive=True),
                    min_stage=int(min_stage),
                )
            )
        meta = raw.get("meta", {})
        if not isinstance(meta, dict):
            raise InputError("meta", "must be an object")
        stage_bs_list = (
            None
            if np.all(np.isnan(stage_bs))
            else tuple(None if np.isnan(v) else float(v) for v in stage_bs)
        )
        return cls(
            profile=profile,
            bs_time_s=np.asarray(bs_time, dtype=float),
            policy=policy,
            ratio=ratio,
            bs_quantum_s=quantum,
            local_delay=local_form,
            devices=tuple(devices),
            profile_ref=profile_ref,
            bs_profile_ref=bs_profile_ref,
            bs_stage_s=stage_bs_list,
            meta=dict(meta),
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Scenario:
        """Read a scenario from a JSON file (or YAML, ``.yml``/``.yaml``, with PyYAML)."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise InputError("scenario", f"cannot read {str(path)!r}: {error.strerror}") from None
        if path.suffix in (".yml", ".yaml"):
            try:
                import yaml
            except ImportError:
                raise InputError(
                    "scenario", "YAML scenarios need PyYAML (pip install pyyaml)"
                ) from None
            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError as error:
                raise InputError("scenario", f"{path.name} is not valid YAML: {error}") from None
        else:
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as error:
                raise InputError(
                    "scenario", f"{path.name} is not valid JSON: {error.msg} at line {error.lineno}"
                ) from None
        return cls.from_dict(raw)

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
            setup = replace(setup, **changes)
        rng = np.random.default_rng([n_devices, seed])
        loaded = load_profile(setup.profile)
        distances = rng.uniform(setup.distance_m[0], setup.distance_m[1], size=n_devices)
        limits = rng.integers(setup.max_stage[0], setup.max_stage[1], size=n_devices, endpoint=True)
        limits = np.minimum(limits, loaded.n_stages)
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
