"""Declared values, both ways. Every declared boundary of the package is found by reading
it: each function declared with ``declare`` (evaluate, each solver, the paper's generator,
the profiler, ...), each dataclass declared with ``declare_fields`` (Setup, Device, Power,
Channel, Profile, Experiment, FrontOptions, ...), and each block of a scenario file. Every
parameter is tried with each value its declaration refuses, which must be refused with one
``InputError`` naming it, and with each value its declaration takes, which the body must
take too (a declaration that promises what the body refuses is a bug). Rule and test come
from one table (dnnsplit._params), so they cannot drift apart.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import pkgutil
import re
from typing import Any

import numpy as np
import pytest
from test_server import ZeroStages

import dnnsplit
from dnnsplit import InputError, SolverRefusal, paper_scenario
from dnnsplit._params import Constraint, Nullable, Real, Whole
from dnnsplit.chains import Chain, Linear, Stage
from dnnsplit.channel import CHANNEL_FIELDS
from dnnsplit.profiler import has_torch
from dnnsplit.profiles import DEFAULT_PROFILE, load_profile
from dnnsplit.scenario import (
    BS_FIELDS,
    DEVICE_FIELDS,
    POWER_FIELDS,
    PROFILE_FIELDS,
    SCENARIO_FIELDS,
    STAGE_FIELDS,
)
from dnnsplit.solvers import SOLVER_FUNCTIONS


def declared() -> dict[str, Any]:
    """Every function and class of the package that declares its parameters (it has a
    ``constraints`` table), by its qualified name, where it is defined."""
    found: dict[str, Any] = {}
    for info in pkgutil.walk_packages(dnnsplit.__path__, "dnnsplit."):
        if info.name == "dnnsplit.__main__":  # runs the command line
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            members = [value, *vars(value).values()] if inspect.isclass(value) else [value]
            for member in members:
                member = getattr(member, "__func__", member)  # a classmethod's function
                if getattr(member, "__module__", None) != module.__name__:
                    continue
                if isinstance(getattr(member, "constraints", None), dict):
                    if member.__name__ == "__init__":  # a constructor: its class is called
                        member = value
                    found[f"{module.__name__}.{member.__qualname__}"] = member
    return dict(sorted(found.items()))


BOUNDARIES = declared()
SMALL = paper_scenario(3, 1)
TINY = Chain("tiny", (1, 2, 2), (Stage("fc", (Linear(2),)),))
#: A value for each parameter that a boundary requires (one without a default), by name.
REQUIRED: dict[str, Any] = {
    "scenario": SMALL,
    "partition": [1, 1, 1],
    "caps": [1e3],
    "n_devices": 3,
    "chain": TINY,
    "model": "alexnet",  # profile_to_file's network
    "out": "never-written.csv",
    "rate_bps": 1e6,
    "max_stage": 2,
    "name": "p",
    "stage_names": ("a",),
    "time_s": [0.1],
    "output_bytes": [10],
    "input_bytes": 5,
    "runner": None,  # the BS's stage runner (not called while it is made)
    "stage_times": [0.1],  # one per stage of TINY
}
#: Values that keep a call short, for a boundary that takes them: a search that could run
#: long (local-search with 100,000 restarts, say) stops in a second; a device's network
#: is a stand-in (no PyTorch).
SHORT = {"time_limit": 1.0, "stages": ZeroStages(TINY)}


class Accepted(Exception):
    """The body took the value as far as its work (measuring a network for minutes)."""


@pytest.fixture(autouse=True)
def _stop_at_the_work(monkeypatch):
    """The profiler's boundaries stop once they build the network they would time: every
    check of their options lies before it."""

    def stop(*args, **kwargs):
        raise Accepted

    monkeypatch.setattr("dnnsplit.profiler.build_stages", stop)


def call(boundary: Any, name: str, value: Any) -> Any:
    """``boundary`` called with ``name=value``, its required parameters from
    :data:`REQUIRED` and :data:`SHORT` where it takes them."""
    parameters = inspect.signature(boundary).parameters
    arguments = {
        p: REQUIRED[p]
        for p, parameter in parameters.items()
        if parameter.default is parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }
    arguments |= {p: v for p, v in SHORT.items() if p in parameters}
    arguments[name] = value
    return boundary(**arguments)


def declaration(boundary: Any) -> Any:
    """What holds ``boundary``'s ``constraints`` and ``fields``: itself, or a class's
    declared constructor."""
    return boundary if hasattr(boundary, "constraints") else boundary.__init__


def field_of(boundary: Any, name: str) -> str:
    """The field an error about parameter ``name`` of ``boundary`` names."""
    return getattr(declaration(boundary), "fields", {}).get(name, name)


def cases(valid: bool) -> list:
    out = []
    for where, boundary in BOUNDARIES.items():
        for name, constraint in declaration(boundary).constraints.items():
            for value in constraint.valid() if valid else constraint.invalid():
                shown = re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))  # the same in every worker
                ident = f"{where.removeprefix('dnnsplit.')}:{name}={shown}"
                out.append(pytest.param(boundary, name, value, id=ident))
    return out


def refused(call_it, field: str) -> None:
    with pytest.raises(InputError) as caught:
        call_it()
    named = caught.value.field
    assert named == field or named.startswith((f"{field}[", f"{field}.")), (field, named)
    assert "\n" not in str(caught.value)


def accepted(call_it) -> None:
    """No refusal of a value: the call returns, reaches its work, or a solver declines
    the problem itself (a space beyond ``max_vectors``, a cap no vector meets)."""
    try:
        call_it()
    except (Accepted, SolverRefusal):
        pass


def test_the_boundaries_are_found():
    names = {where.rsplit(".", 1)[1] for where in BOUNDARIES}
    assert {"evaluate", "greedy", "optimal", "exhaustive_front", "paper_scenario"} <= names
    assert {"Setup", "Device", "Power", "Channel", "Profile", "Experiment"} <= names
    assert {"FrontOptions", "measure_chain", "profile_to_file"} <= names
    assert {"Bandit", "_Solving", "BSServer", "DeviceClient"} <= names  # constructors
    for boundary in BOUNDARIES.values():
        assert all(isinstance(c, Constraint) for c in declaration(boundary).constraints.values())
    for solver in SOLVER_FUNCTIONS.values():
        assert {"scenario", "objective", "model"} <= set(solver.constraints)
        assert solver in BOUNDARIES.values()


@pytest.mark.parametrize(("boundary", "name", "bad"), cases(valid=False))
def test_every_refused_value_is_refused_naming_it(boundary, name, bad):
    refused(lambda: call(boundary, name, copy.deepcopy(bad)), field_of(boundary, name))


@pytest.mark.parametrize(("boundary", "name", "good"), cases(valid=True))
def test_every_declared_value_is_taken(boundary, name, good):
    if boundary.__module__ == "dnnsplit.profiler" and not has_torch():
        pytest.skip("PyTorch is not installed")
    accepted(lambda: call(boundary, name, good))


# --- the fields of a scenario file --------------------------------------------------------

#: A small valid file: a shipped network's stages written inline (so that a measured BS
#: profile matches them), one device.
FILE = {
    "profile": load_profile(DEFAULT_PROFILE).to_dict(),
    "devices": [{"rate_bps": 26e6}],
}
BLOCKS = [
    (["devices", 0], "devices[0].{}", DEVICE_FIELDS),
    (["bs"], "bs.{}", BS_FIELDS),
    (["profile", "stages", 0], "profile.stages[0].{}", STAGE_FIELDS),
    (["profile"], "profile.{}", PROFILE_FIELDS),
    ([], "{}", SCENARIO_FIELDS),
    (["channel"], "channel.{}", CHANNEL_FIELDS),
    (["power"], "power.{}", POWER_FIELDS),
    (["devices", 0, "power"], "devices[0].power.{}", POWER_FIELDS),
]
BLOCK_IDS = ["devices", "bs", "stages", "profile", "scenario", "channel", "power", "device-power"]
#: Fields a file gives one of (a rule across fields): setting one drops the other.
EITHER = {"distance_m": "rate_bps", "rate_bps": "distance_m"}


def file_with(path: list, value: Any) -> dict:
    raw = copy.deepcopy(FILE)
    target = raw
    for key in path[:-1]:
        target = target[key] if isinstance(target, list) else target.setdefault(key, {})
    target[path[-1]] = value
    if path[-1] in EITHER:
        target.pop(EITHER[path[-1]], None)
    return raw


@pytest.mark.parametrize(("block", "field_of_name", "table"), BLOCKS, ids=BLOCK_IDS)
def test_every_scenario_file_field_both_ways(block, field_of_name, table):
    for name, constraint in table.items():
        for bad in constraint.invalid():
            raw = file_with([*block, name], copy.deepcopy(bad))
            refused(lambda raw=raw: dnnsplit.Scenario.from_dict(raw), field_of_name.format(name))
        for good in constraint.valid():
            dnnsplit.Scenario.from_dict(file_with([*block, name], copy.deepcopy(good)))


def test_every_table_of_constraints_is_tried():
    """A table of constraints anywhere in the package (a module's dict of them) is tried
    here: each of its entries, under its name, is a declaration of a boundary found above
    or of a scenario file's block; so a new table checked by hand (``check_all``) cannot
    escape these tests."""
    tried = {
        (name, constraint)
        for boundary in BOUNDARIES.values()
        for name, constraint in declaration(boundary).constraints.items()
    }
    tried |= {(name, c) for _, _, table in BLOCKS for name, c in table.items()}
    untried = []
    for info in pkgutil.walk_packages(dnnsplit.__path__, "dnnsplit."):
        if info.name == "dnnsplit.__main__":
            continue
        for attribute, value in vars(importlib.import_module(info.name)).items():
            if isinstance(value, dict) and value and all(
                isinstance(c, Constraint) for c in value.values()
            ):
                untried += [
                    f"{info.name}.{attribute}[{name!r}]"
                    for name, c in value.items()
                    if (name, c) not in tried
                ]
    assert not untried, untried


def numpy_cases() -> list:
    """Per declared number (``Real`` or ``Whole``, or either or None), its first valid
    plain value and that value as a numpy scalar."""
    out = []
    for where, boundary in BOUNDARIES.items():
        for name, constraint in declaration(boundary).constraints.items():
            inner = constraint.inner if isinstance(constraint, Nullable) else constraint
            if not isinstance(inner, Real | Whole):
                continue
            plain = next(v for v in inner.valid() if type(v) in (int, float))
            kind = np.float64 if isinstance(inner, Real) else np.int64
            ident = f"{where.removeprefix('dnnsplit.')}:{name}"
            out.append(pytest.param(boundary, name, plain, kind(plain), id=ident))
    return out


def outcome(call_it) -> Any:
    """What a call gives, comparable: its plain data (wall times dropped), or None where
    it stopped at its work, a solver declined (as :func:`accepted`), a time limit ended a
    search, or the result is an object with a clock or a socket (a client, a server)."""
    try:
        result = call_it()
    except (Accepted, SolverRefusal):
        return None
    if hasattr(result, "summary"):  # a simulated run
        return {**result.summary(), "measured_decision_s": 0}
    if hasattr(result, "to_dict"):
        data = result.to_dict()
        return None if data.get("stopped") == "time_limit" else {**data, "seconds": 0}
    return repr(result) if dataclasses.is_dataclass(result) else None


@pytest.mark.parametrize(("boundary", "name", "plain", "scalar"), numpy_cases())
def test_a_numpy_scalar_gives_what_its_plain_value_gives(boundary, name, plain, scalar):
    if boundary.__module__ == "dnnsplit.profiler" and not has_torch():
        pytest.skip("PyTorch is not installed")
    a, b = outcome(lambda: call(boundary, name, plain)), outcome(lambda: call(boundary, name, scalar))
    assert a is None or b is None or json.dumps(a, default=repr) == json.dumps(b, default=repr)
