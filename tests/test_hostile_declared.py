"""Bad values generated from the declarations: every parameter of every boundary (the
setup, a scenario file's fields, evaluate, each solver, the generator, the profiler) is
tried with each value its declaration says it refuses, and must be refused with one
``InputError`` naming it. A rule and its test come from the same table, so they cannot
drift apart (dnnsplit._params)."""

from __future__ import annotations

import copy

import pytest

from dnnsplit import InputError, Scenario, Setup, evaluate, is_local_optimum
from dnnsplit._params import Constraint
from dnnsplit.channel import CHANNEL_FIELDS
from dnnsplit.profiler import measure_chain, profile_to_file
from dnnsplit.scenario import (
    BS_FIELDS,
    DEVICE_FIELDS,
    POWER_FIELDS,
    PROFILE_FIELDS,
    SCENARIO_FIELDS,
    STAGE_FIELDS,
)
from dnnsplit.setup import SETUP_FIELDS
from dnnsplit.solvers import SOLVER_FUNCTIONS
from hostile import BASE


def cases(table: dict[str, Constraint]) -> list:
    """``(name, bad value)`` for every declared parameter and every value it refuses."""
    return [
        pytest.param(name, bad, id=f"{name}={bad!r}")
        for name, constraint in table.items()
        for bad in constraint.invalid()
    ]


def refused(call, field: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    named = caught.value.field
    assert named == field or named.startswith((f"{field}[", f"{field}.")), (field, named)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("name", "bad"), cases(SETUP_FIELDS))
def test_every_setup_field(name, bad):
    refused(lambda: Setup(**{name: bad}), f"setup.{name}")


def file_with(path: list, value) -> dict:
    raw = copy.deepcopy(BASE)
    target = raw
    for key in path[:-1]:
        target = target[key] if isinstance(target, list) else target.setdefault(key, {})
    target[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("block", "field_of", "table"),
    [
        (["devices", 0], "devices[0].{}", DEVICE_FIELDS),
        (["bs"], "bs.{}", BS_FIELDS),
        (["profile", "stages", 0], "profile.stages[0].{}", STAGE_FIELDS),
        (["profile"], "profile.{}", PROFILE_FIELDS),
        ([], "{}", SCENARIO_FIELDS),
        (["channel"], "channel.{}", CHANNEL_FIELDS),
        (["power"], "power.{}", POWER_FIELDS),
        (["devices", 0, "power"], "devices[0].power.{}", POWER_FIELDS),
    ],
    ids=["devices", "bs", "stages", "profile", "scenario", "channel", "power", "device-power"],
)
def test_every_scenario_file_field(block, field_of, table):
    for name, constraint in table.items():
        for bad in constraint.invalid():
            raw = file_with([*block, name], copy.deepcopy(bad))
            refused(lambda raw=raw: Scenario.from_dict(raw), field_of.format(name))


SMALL = Scenario.paper(3, 1)


@pytest.mark.parametrize(("name", "bad"), cases(evaluate.constraints))
def test_every_parameter_of_evaluate(name, bad):
    arguments = {"scenario": SMALL, "partition": [1, 1, 1], name: bad}
    refused(lambda: evaluate(**arguments), name)


@pytest.mark.parametrize(("name", "bad"), cases(is_local_optimum.constraints))
def test_every_parameter_of_is_local_optimum(name, bad):
    arguments = {"scenario": SMALL, "partition": [1, 1, 1], name: bad}
    refused(lambda: is_local_optimum(**arguments), name)


@pytest.mark.parametrize("solver", SOLVER_FUNCTIONS)
def test_every_option_of_every_solver(solver):
    function = SOLVER_FUNCTIONS[solver]
    assert {"scenario", "objective", "model"} <= set(function.constraints)
    for name, constraint in function.constraints.items():
        for bad in constraint.invalid():
            arguments = {"scenario": SMALL, name: bad}
            refused(lambda arguments=arguments: function(**arguments), name)


@pytest.mark.parametrize(("name", "bad"), cases(Scenario.paper.constraints))
def test_every_parameter_of_the_generator(name, bad):
    arguments = {"n_devices": 3, name: bad}
    refused(lambda: Scenario.paper(**arguments), Scenario.paper.fields[name])


@pytest.mark.parametrize(("name", "bad"), cases(measure_chain.constraints))
def test_every_option_of_the_profiler(name, bad):
    """Refused before PyTorch is imported, let alone a stage timed."""
    refused(lambda: profile_to_file("alexnet", "never-written.csv", **{name: bad}), name)
    refused(lambda: measure_chain(None, **{name: bad}), name)
