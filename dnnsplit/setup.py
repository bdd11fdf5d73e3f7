"""The setup: every choice the paper leaves open, in one frozen object.

:class:`Setup` holds one answer to each input the paper's equations leave open (stage
timings, R, the BS policy and quanta, the form of eq. (1), the drawn ranges, the channel,
whether p = 0 is allowed), today's choices as defaults (docs/model.md, "The setup object",
gives the evidence). A scenario of the paper's evaluation is a pure function of
``(N, seed, setup)`` (:func:`dnnsplit.paper_scenario`); a sweep varies the setup with
:meth:`Setup.replace`, e.g. ``[setup.replace(ratio=r) for r in (1, 10, 100)]``. How the
experiments run the solvers is :class:`dnnsplit.paper.experiment.Experiment`'s business.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dnnsplit._checks import mapping
from dnnsplit._params import (
    Choice,
    Constraint,
    Instance,
    Nullable,
    Pair,
    Real,
    Whole,
    declare_fields,
    replace_fields,
)
from dnnsplit.channel import Channel
from dnnsplit.errors import InputError
from dnnsplit.model import DEFAULT_QUANTUM_S, LOCAL_DELAY_FORMS, QUANTUM
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.profiles import DEFAULT_PROFILE, PROFILE_NAME

__all__ = [
    "LOWEST_POINTS",
    "MEMORY_RULE_MIB",
    "SETUP_FIELDS",
    "Setup",
]

#: The lowest partition point: 0 (full offload allowed) or 1 (the paper's p ∈ {1..s̃_i}).
LOWEST_POINTS = (0, 1)
#: The memory rule's device memory range (MiB), calibrated so that AlexNet's 8 stages get
#: the paper's s̃ = 5..8: 15.2 MiB runs its convolutions, 238.8 MiB the whole network.
MEMORY_RULE_MIB = (16.0, 256.0)


#: What each field of :class:`Setup` takes (the one declaration its checks, and the
#: hostile-input tests, read).
SETUP_FIELDS: dict[str, Constraint] = {
    "profile": PROFILE_NAME,
    "bs_profile": Nullable(PROFILE_NAME),
    "ratio": Real(positive=True),
    "policy": Choice(tuple(POLICY_TABLE), "policy"),
    "quantum_s": QUANTUM,
    "bs_quantum_s": QUANTUM,
    "local_delay": Choice(LOCAL_DELAY_FORMS, "form"),
    "distance_m": Pair(positive=True),
    "max_stage": Pair(whole=True),
    "memory_mib": Nullable(Pair(positive=True)),
    "background": Pair(whole=True),
    "channel": Instance(Channel, "a Channel"),
    "lowest_point": Whole(min(LOWEST_POINTS), max(LOWEST_POINTS)),
}


@dataclass(frozen=True)
@declare_fields(SETUP_FIELDS, prefix="setup.")
class Setup:
    """Every choice the paper leaves open (defaults: the artifact's reading).

    Attributes
    ----------
    profile : str
        Device stage profile: a shipped name (``data/measurements/``) or a CSV path.
    bs_profile : str or None
        A measured BS profile whose stage times replace ``t_s / ratio``; None: ratio model.
    ratio : float
        R = C^R / C_i, BS speed over device speed (BS stage time ``t_s / R``).
    policy : str
        BS policy: ``sjf``, ``ps``, ``rr`` (``fcfs`` under the timeline model only).
    quantum_s : float
        The device's round-robin quantum q of eq. (1), seconds.
    bs_quantum_s : float
        The BS round-robin quantum q_R (``rr``), seconds.
    local_delay : str
        Form of eq. (1): ``paper`` (the closed form, clamped at T) or ``exact``.
    distance_m : (float, float)
        Devices' distance to the BS, uniform in this range (metres).
    max_stage : (int, int)
        Memory limits s̃_i, uniform on the whole numbers in this range (capped at S).
    memory_mib : (float, float) or None
        The memory rule instead of ``max_stage``: each device's memory (MiB) is uniform in
        this range and s̃_i is the most stages it can hold (:func:`dnnsplit.chains.
        memory_needs`); :data:`MEMORY_RULE_MIB` gives AlexNet the paper's 5..8.
    background : (int, int)
        Background processes n_i, uniform on the whole numbers in this range.
    channel : Channel
        Constants of the WiFi uplink model.
    lowest_point : int
        0: full offload (p = 0) allowed; 1: the paper's p_i ∈ {1..s̃_i}.
    """

    profile: str = DEFAULT_PROFILE
    bs_profile: str | None = None
    ratio: float = 1.0
    policy: str = "sjf"
    quantum_s: float = DEFAULT_QUANTUM_S
    bs_quantum_s: float = DEFAULT_QUANTUM_S
    local_delay: str = "paper"
    distance_m: tuple[float, float] = (50.0, 500.0)
    max_stage: tuple[int, int] = (5, 8)
    memory_mib: tuple[float, float] | None = None
    background: tuple[int, int] = (0, 3)
    channel: Channel = field(default_factory=Channel)
    lowest_point: int = 0

    # -- plain-data form (manifests, the command line's --setup) -------------------------

    def to_dict(self) -> dict[str, Any]:
        """The setup as plain JSON data (ranges as lists, the channel as an object)."""
        out = asdict(self)
        for key in ("distance_m", "max_stage", "memory_mib", "background"):
            out[key] = None if out[key] is None else list(out[key])
        return out

    @classmethod
    def from_dict(cls, raw: Any, where: str = "setup") -> Setup:
        """A setup from its plain-data form; absent fields keep their defaults. An unknown
        field, or one of the wrong type or out of range, is an :class:`InputError` naming it."""
        raw = mapping(raw, where, {f.name for f in fields(cls)})
        if "channel" in raw:
            try:
                raw["channel"] = channel_from_dict(raw["channel"])
            except InputError as error:
                raise InputError(f"{where}.{error.field}", error.problem) from None
        try:
            return cls(**raw)
        except InputError as error:
            field_name = error.field.removeprefix("setup.")
            raise InputError(f"{where}.{field_name}", error.problem) from None

    def replace(self, **changes: Any) -> Setup:
        """A copy with ``changes`` (the same as :func:`dataclasses.replace`, but an unknown
        field is an :class:`InputError` naming it)."""
        return replace_fields(self, changes, "setup.")


def channel_from_dict(raw: Any) -> Channel:
    """A :class:`Channel` from its plain-data form (errors name ``channel.<field>``)."""
    if isinstance(raw, Channel):
        return raw
    return Channel(**mapping(raw, "channel", {f.name for f in fields(Channel)}))
