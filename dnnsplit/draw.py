"""The scenarios of the paper's evaluation: the scenario of ``(N, seed, setup)``.

One seeding rule everywhere (:data:`~dnnsplit.scenario.SEED_RULE`): the draw uses only
``numpy.random.default_rng([N, seed])``, so a figure's sweep, :meth:`dnnsplit.Scenario.paper`
and ``dnnsplit scenario --devices N --seed s`` give the same scenario, and the devices at
(N, seed) are the same whatever R, policy or quantum the setup chooses (paired
comparisons).

The setup was checked when it was made (:class:`~dnnsplit.Setup`), so the scenario is built
directly from the drawn, typed values: nothing is written out as a dict and read back,
each profile is read once, and only what the fields give together is checked here (the
memory the tables need, and the delays: :mod:`dnnsplit.audit`), its errors naming the
setup field behind the scenario field.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dnnsplit.chains import CHAINS, get_chain, memory_needs
from dnnsplit.errors import InputError
from dnnsplit.model import check_memory, read_only
from dnnsplit.profiles import Profile
from dnnsplit.scenario import SEED_RULE, Device, Power, Scenario, load_named
from dnnsplit.setup import Setup

__all__ = ["draw", "memory_limits"]

#: Where a field of a drawn scenario comes from in the setup.
SETUP_SOURCES = {
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


def setup_field(name: str) -> str:
    """The setup field behind scenario field ``name`` of a drawn scenario, or ``name``."""
    if name in SETUP_SOURCES:
        return SETUP_SOURCES[name]
    if name.startswith("devices[") and "]." in name:
        return SETUP_SOURCES.get(name.split("].", 1)[1], name)
    return name


def memory_limits(profile: Profile, memory_bytes: np.ndarray) -> np.ndarray:
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


def draw(n_devices: int, seed: int, setup: Setup) -> Scenario:
    """The scenario of ``(N, seed, setup)`` (``n_devices`` ≥ 1 and ``seed`` ≥ 0 checked
    by the caller, :meth:`dnnsplit.Scenario.paper`).

    Draws, in this order: distances uniform in ``setup.distance_m``; memory limits
    ``s̃_i`` uniform on the whole numbers in ``setup.max_stage`` (capped at S), or under
    the memory rule from ``setup.memory_mib``; background processes uniform on the whole
    numbers in ``setup.background``. Uplink rates follow from the distances by
    ``setup.channel``; BS times are ``t_s / R`` or ``setup.bs_profile``'s; every device
    may choose ``p`` in ``setup.lowest_point..s̃_i`` and draws the default power of a
    Raspberry Pi 3B+ (:class:`~dnnsplit.scenario.Power`), with no deadline and no energy
    budget.
    """
    loaded = load_named(setup.profile, "setup.profile")
    check_memory(n_devices, loaded.n_stages)
    bs_profile = None
    if setup.bs_profile is not None:
        bs_profile = load_named(setup.bs_profile, "setup.bs_profile")
        if bs_profile.stage_names != loaded.stage_names:
            raise InputError(
                "setup.bs_profile",
                f"its stages {list(bs_profile.stage_names)} do not match the device "
                f"profile's {list(loaded.stage_names)}",
            )
    rng = np.random.default_rng([n_devices, seed])
    distances = rng.uniform(setup.distance_m[0], setup.distance_m[1], size=n_devices)
    if setup.memory_mib is None:
        limits = rng.integers(setup.max_stage[0], setup.max_stage[1], size=n_devices, endpoint=True)
        limits = np.minimum(limits, loaded.n_stages)
    else:
        memory = rng.uniform(setup.memory_mib[0], setup.memory_mib[1], size=n_devices)
        limits = memory_limits(loaded, memory * 2**20)
    loads = rng.integers(setup.background[0], setup.background[1], size=n_devices, endpoint=True)
    try:
        rates = setup.channel.rate_bps(distances)
    except InputError as error:
        raise InputError(setup_field(error.field), error.problem) from None
    devices = tuple(
        Device._trusted(
            rate_bps=float(w),
            max_stage=int(s),
            background=int(n),
            quantum_s=setup.quantum_s,
            speed=1.0,
            deadline_s=None,
            min_stage=min(setup.lowest_point, int(s)),
            energy_budget_j=None,
            power=None,
        )
        for n, s, w in zip(loads, limits, rates, strict=True)
    )
    with np.errstate(all="ignore"):  # the audit names a time that overflows
        bs_time = loaded.time_s / setup.ratio if bs_profile is None else bs_profile.time_s
    meta: dict[str, Any] = {
        "generator": "paper",
        "devices": n_devices,
        "seed": seed,
        "seed_rule": SEED_RULE,
        "setup": setup.to_dict(),
        "distances_m": [round(float(d), 3) for d in distances],
    }
    try:
        return Scenario._trusted(
            profile=loaded,
            bs_time_s=read_only(np.asarray(bs_time, dtype=float) + 0.0),
            policy=setup.policy,
            ratio=setup.ratio if bs_profile is None else None,
            bs_quantum_s=setup.bs_quantum_s,
            local_delay=setup.local_delay,
            devices=devices,
            profile_ref=setup.profile,
            bs_profile_ref=setup.bs_profile,
            bs_stage_s=None,
            meta=meta,
            power=Power(),
        )
    except InputError as error:
        raise InputError(setup_field(error.field), error.problem) from None
