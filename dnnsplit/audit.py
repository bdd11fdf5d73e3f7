"""The overflow audit: no delay a scenario can produce exceeds ``MAX_DELAY_S``.

Each field is checked on its own where it enters; this audit checks what the fields give
together, on the delay tables, and names the field that makes a delay too large (or a sum
overflow a float): the BS work of every suffix, the local delay (``T = Σ t_s / c_i`` and its
round-robin share), the transmission delay ``8·b_p / W_i``, and the worst delay under any
work-conserving BS policy, snapshot or timeline (the largest arrival ``D^L + D^tr`` plus all
the BS work). Within the bound, totals, variances and fairness indices are finite too.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

import numpy as np

from dnnsplit.errors import InputError
from dnnsplit.model import MAX_DELAY_S

if TYPE_CHECKING:
    from dnnsplit.scenario import Scenario

__all__ = ["audit_delays"]


def _first_bad(values: np.ndarray) -> tuple[int, ...] | None:
    """Index of the first entry that is not a finite delay within :data:`MAX_DELAY_S`."""
    bad = ~(values <= MAX_DELAY_S)  # NaN and inf included
    if not bad.any():
        return None
    return tuple(int(k) for k in np.argwhere(bad)[0])


_BEYOND = f"beyond {MAX_DELAY_S:.0e} s (dnnsplit.model.MAX_DELAY_S)"


def _seconds(value: float) -> str:
    """A sum of seconds for a message; one that overflowed a float is said so."""
    if math.isfinite(value):
        return f"{value:.3g} s"
    return f"more than {sys.float_info.max:.3g} s (a float overflows)"


def _bs_field(scenario: Scenario, stage: int) -> str:
    """The field that BS stage ``stage``'s time comes from: the stage's ``bs_s``, a BS
    profile, the ratio R (when R < 1 slows the BS down), or the device time ``t_s``."""
    if scenario.bs_stage_s is not None and scenario.bs_stage_s[stage] is not None:
        return f"profile.stages[{stage}].bs_s"
    if scenario.bs_profile_ref is not None:
        return "bs.profile"
    if scenario.ratio is not None and scenario.ratio < 1:
        return "bs.ratio"
    if scenario.ratio is not None:
        return f"profile.stages[{stage}].device_s"
    return f"bs_time_s[{stage}]"


def audit_delays(scenario: Scenario) -> None:
    """Refuse a scenario in which some delay would not be a finite number of seconds within
    :data:`~dnnsplit.model.MAX_DELAY_S` (see the module docstring), naming the field.

    Raises
    ------
    InputError
        Naming the field (a scenario-file field) that makes some delay too large.
    """
    with np.errstate(all="ignore"):
        bs_time = scenario.bs_time_s
        suffix = float(np.sum(bs_time))
        if not suffix <= MAX_DELAY_S:
            stage = int(np.argmax(bs_time))
            where = _bs_field(scenario, stage)
            hint = f" (t_s / R with R = {scenario.ratio:g})" if where == "bs.ratio" else ""
            raise InputError(
                where, f"the BS stage times add up to {_seconds(suffix)}{hint}, {_BEYOND}"
            )
        tables = scenario.tables
        cumulative = np.concatenate([[0.0], np.cumsum(scenario.profile.time_s)])
        bad = _first_bad(tables.local)
        if bad is not None:
            i, p = bad
            device = scenario.devices[i]
            work = cumulative[p] / device.speed
            if not cumulative[p] <= MAX_DELAY_S:
                raise InputError(
                    f"profile.stages[{p - 1}].device_s",
                    f"the device stage times add up to {_seconds(cumulative[p])}, {_BEYOND}",
                )
            if not work <= MAX_DELAY_S:
                raise InputError(
                    f"devices[{i}].speed",
                    f"stages 1..{p} take Σ t_s / speed = {work:.3g} s on this device "
                    f"(speed {device.speed:g}), {_BEYOND}",
                )
            raise InputError(
                f"devices[{i}].background",
                f"the local delay at p={p} is {tables.local[i, p]:.3g} s ({work:.3g} s of work "
                f"shared round-robin with {device.background} background processes), "
                f"{_BEYOND}",
            )
        bad = _first_bad(tables.transmission)
        if bad is not None:
            i, p = bad
            sent = int(scenario.profile.bytes_sent()[p])
            raise InputError(
                f"devices[{i}].rate_bps",
                f"sending {sent} bytes at p={p} at {scenario.devices[i].rate_bps:g} bit/s takes "
                f"{tables.transmission[i, p]:.3g} s, {_BEYOND}",
            )
        arrival = tables.offload_delay.max(axis=1)
        rows = np.arange(tables.n_devices)
        all_work = float(tables.remote_work[rows, tables.min_stage].sum())
        worst = float(arrival.max()) + all_work
        if not worst <= MAX_DELAY_S:
            i = int(np.argmax(arrival))
            stage = int(np.argmax(bs_time))
            field_name = _bs_field(scenario, stage) if all_work >= arrival[i] else f"devices[{i}]"
            raise InputError(
                field_name,
                f"with {tables.n_devices} devices a delay could reach {worst:.3g} s "
                f"({all_work:.3g} s of BS work after an arrival at {arrival[i]:.3g} s), "
                f"{_BEYOND}",
            )
