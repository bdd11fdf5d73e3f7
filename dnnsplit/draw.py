"""The paper's generator, above the schema: the scenario of ``(N, seed, setup)``.

:func:`paper_scenario` draws the devices of the paper's evaluation and builds them with the
public constructors (its errors name the setup field behind the field refused). One seeding
rule everywhere (:data:`SEED_RULE`): a figure's sweep, :func:`paper_scenario` and
``dnnsplit scenario --devices N --seed s`` give the same devices, whatever R, policy or
quantum the setup chooses (paired comparisons).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dnnsplit._checks import MAX_WHOLE
from dnnsplit._params import Instance, Nullable, Whole, declare
from dnnsplit.chains import CHAINS, get_chain, memory_needs
from dnnsplit.errors import InputError
from dnnsplit.model import check_memory
from dnnsplit.profiles import Profile, load_profile
from dnnsplit.scenario import Device, Power, Scenario
from dnnsplit.setup import Setup

__all__ = ["MAX_SEED", "SEED_RULE", "memory_limits", "paper_scenario"]

#: How the scenario of (N, seed) is drawn, everywhere (sweeps, API, command line).
SEED_RULE = "numpy.random.default_rng([N, seed])"
#: The largest scenario seed (any whole number that fits int64).
MAX_SEED = MAX_WHOLE

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
    own = name.split("].", 1)[-1] if name.startswith("devices[") else name  # a device's
    return SETUP_SOURCES.get(own, name)


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


@declare(
    {
        "n_devices": Whole(1),
        "seed": Whole(0, MAX_SEED),
        "setup": Nullable(Instance(Setup, "a dnnsplit.Setup")),
    },
    fields={"n_devices": "devices"},
)
def paper_scenario(
    n_devices: int, seed: int = 0, setup: Setup | None = None, **changes: Any
) -> Scenario:
    """The scenario of the paper's evaluation for ``(N, seed, setup)``.

    Draws, in this order, from ``numpy.random.default_rng([N, seed])`` (:data:`SEED_RULE`)
    alone: distances uniform in ``setup.distance_m``; memory limits ``s̃_i`` uniform on the
    whole numbers in ``setup.max_stage`` (capped at S), or under the memory rule from
    ``setup.memory_mib``; background processes uniform on the whole numbers in
    ``setup.background``. Uplink rates follow from the distances by ``setup.channel``; BS
    times are ``t_s / R`` or ``setup.bs_profile``'s; every device may choose ``p`` in
    ``setup.lowest_point..s̃_i`` and draws the default power of a Raspberry Pi 3B+
    (:class:`~dnnsplit.Power`), with no deadline and no energy budget.

    Parameters
    ----------
    n_devices : int
        N, a whole number ≥ 1 (errors name it ``devices``).
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
    setup = (setup if setup is not None else Setup()).replace(**changes)
    loaded = load_profile(setup.profile, "setup.profile")
    check_memory(n_devices, loaded.n_stages)
    bs_profile = None
    if setup.bs_profile is not None:
        bs_profile = load_profile(setup.bs_profile, "setup.bs_profile")
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
    meta: dict[str, Any] = {
        "generator": "paper",
        "devices": n_devices,
        "seed": seed,
        "seed_rule": SEED_RULE,
        "setup": setup.to_dict(),
        "distances_m": [round(float(d), 3) for d in distances],
    }
    try:
        rates = setup.channel.rate_bps(distances)
        devices = tuple(
            Device(
                rate_bps=float(w),
                max_stage=int(s),
                background=int(n),
                quantum_s=setup.quantum_s,
                min_stage=min(setup.lowest_point, int(s)),
            )
            for n, s, w in zip(loads, limits, rates, strict=True)
        )
        with np.errstate(all="ignore"):  # the audit names a time that overflows
            bs_time = loaded.time_s / setup.ratio if bs_profile is None else bs_profile.time_s
        return Scenario(
            profile=loaded,
            bs_time_s=bs_time,
            policy=setup.policy,
            ratio=setup.ratio if bs_profile is None else None,
            bs_quantum_s=setup.bs_quantum_s,
            local_delay=setup.local_delay,
            devices=devices,
            profile_ref=setup.profile,
            bs_profile_ref=setup.bs_profile,
            meta=meta,
            power=Power(),
        )
    except InputError as error:
        raise InputError(setup_field(error.field), error.problem) from None
