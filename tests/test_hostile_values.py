"""Hostile but fair values: numbers of every type and size, every field of a scenario and
what derives from it, objects built directly, partitions, read-only results. Each is
accepted with a finite result or refused with one line naming the field."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dnnsplit._checks as checks
from conftest import scenario_dicts
from dnnsplit import (
    Channel,
    Device,
    InputError,
    Profile,
    Scenario,
    Setup,
    evaluate,
    load_profile,
    paper_scenario,
    solve,
)
from dnnsplit.model import MAX_DELAY_S
from dnnsplit.paper.experiment import Experiment
from hostile import (
    BASE,
    assert_refused,
    changed,
    fuzz_settings,
    run,
    time_limit,
)

# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        (np.int64(3), {"whole": True}, 3),
        (np.uint8(7), {"whole": True}, 7),
        (np.float32(0.5), {}, 0.5),
        (3.0, {"whole": True}, 3),
        (Decimal("2.5"), {}, 2.5),
        (Fraction(1, 4), {}, 0.25),
        (5e-324, {"positive": True}, 5e-324),
        (2**63 - 1, {"whole": True}, 2**63 - 1),
        (10**300, {}, 1e300),
    ],
)
def test_numbers_of_every_type_are_accepted(value, options, expected):
    got = checks.number(value, "x", **options)
    assert got == expected and type(got) is type(expected)


def test_negative_zero_becomes_zero():
    got = checks.number(-0.0, "x", minimum=0)
    assert got == 0 and math.copysign(1, got) == 1
    scenario = Scenario.from_dict(changed(["profile", "stages", 0, "device_s"], -0.0))
    assert json.dumps(scenario.to_dict()).count("-0.0") == 0
    with pytest.raises(InputError, match=r"^x: must be positive, got -0.0"):
        checks.number(-0.0, "x", positive=True)


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (10**400, {}, r"^x: is too large for a number, got 1000"),
        (10**400, {"whole": True}, r"^x: is out of range: whole numbers lie within"),
        (2**63, {"whole": True}, r"^x: is out of range"),
        (np.uint64(2**64 - 1), {"whole": True}, r"^x: is out of range"),
        (1e300, {"whole": True}, r"^x: is out of range"),
        (Fraction(10**400, 3), {}, r"^x: is too large for a number"),
        (np.longdouble("1e4000"), {}, r"^x: must be finite"),
        (Decimal("NaN"), {}, r"^x: must be finite"),
        (True, {}, r"^x: must be a number, got True"),
        (np.True_, {"whole": True}, r"^x: must be a whole number"),
        ("1", {}, r"^x: must be a number, got '1'"),
        (None, {}, r"^x: must be a number, got None"),
        (1j, {}, r"^x: must be a number, got 1j"),
        (np.timedelta64(5, "s"), {}, r"^x: must be a plain number, not a time with units"),
        (float("nan"), {}, r"^x: must be finite, got nan"),
        (np.float64("-inf"), {}, r"^x: must be finite"),
    ],
)
def test_numbers_beyond_float_or_int64_are_refused_in_one_line(value, options, message):
    with pytest.raises(InputError, match=message) as caught:
        checks.number(value, "x", **options)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_a_number_too_long_to_print_still_gets_a_message():
    huge = 10**5000  # beyond sys.get_int_max_str_digits(): repr() itself would fail
    with pytest.raises(InputError, match=r"^x: is too large for a number, got <a whole number"):
        checks.number(huge, "x")


# --- every field of a scenario, including derived quantities -----------------------------


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["devices", 0, "rate_bps"], 10**400, "devices[0].rate_bps"),
        (["devices", 0, "rate_bps"], 5e-324, "devices[0].rate_bps"),
        (["profile", "stages", 0, "output_bytes"], 2**63, "profile.stages[0].output_bytes"),
        (["profile", "input_bytes"], 10**30, "profile.input_bytes"),
        (["profile", "name"], 5, "profile.name"),
        (["devices", 0, "max_stage"], 1e300, "devices[0].max_stage"),
        (["devices", 0, "background"], 2**62, "devices[0].background"),
        (["devices", 0, "speed"], 5e-324, "devices[0].speed"),
        (["devices", 0, "quantum_s"], 1e300, "devices[0].quantum_s"),
        (["devices", 0, "quantum_s"], 1e-300, "devices[0].quantum_s"),
        (["devices", 0, "deadline_s"], -0.0, "devices[0].deadline_s"),
        (["devices", 1, "distance_m"], 1e300, "devices[1].distance_m"),
        (["bs", "ratio"], 1e-320, "bs.ratio"),
        (["bs", "quantum_s"], 1e-300, "bs.quantum_s"),
        (["profile", "stages", 0, "device_s"], 1e300, "profile.stages[0].device_s"),
        (["profile", "stages", 1, "bs_s"], 1e300, "profile.stages[1].bs_s"),
        (["channel"], {"mac_efficiency": -0.7}, "channel.mac_efficiency"),
        (["channel"], {"mac_efficiency": 1.5}, "channel.mac_efficiency"),
        (["channel"], {"exponent": -2.2}, "channel.exponent"),
        (["channel"], {"exponent": "2.2"}, "channel.exponent"),
        (["channel"], {"tx_power_dbm": 1e300}, "channel.tx_power_dbm"),
        (["channel"], {"loss_at_1m_db": -40}, "channel.loss_at_1m_db"),
        (["channel"], {"short_guard_interval": 1}, "channel.short_guard_interval"),
        (["channel"], {"mac_efficiency": 1e-300}, "devices[1].distance_m"),
        (["channel"], {"colour": 1}, "channel.colour"),
        (["meta"], {"x": [1, float("nan")]}, "meta.x[1]"),
        (["bs", "policy"], ["sjf"], "bs.policy"),
        (["bs", "policy"], 7, "bs.policy"),
    ],
)
def test_every_field_and_derived_quantity_is_named(path, value, field, tmp_path, capsys):
    raw = changed(path, value)
    with pytest.raises(InputError) as caught:
        Scenario.from_dict(raw)
    assert caught.value.field == field, str(caught.value)
    # the same mistake through a file and the command line
    file = tmp_path / "s.json"
    file.write_text(json.dumps(raw))
    err = assert_refused(*run(capsys, "evaluate", file, "--partition", "0,0"))
    assert err.startswith(f"dnnsplit evaluate: {field}: "), err


def test_numpy_and_decimal_values_work_like_plain_numbers():
    plain = Scenario.from_dict(BASE)
    raw = changed(["devices", 0, "max_stage"], np.int64(2))
    raw["devices"][0]["background"] = np.uint8(2)
    raw["devices"][0]["rate_bps"] = Decimal("26e6")
    raw["bs"]["ratio"] = np.float32(10)
    numpy_made = Scenario.from_dict(raw)
    p = [1, 2]
    assert evaluate(numpy_made, p).delays.tolist() == evaluate(plain, p).delays.tolist()
    assert paper_scenario(np.int64(4), np.uint32(3)).to_dict() == paper_scenario(4, 3).to_dict()


extreme = st.one_of(
    st.floats(min_value=5e-324, max_value=1e308),
    st.sampled_from([5e-324, 1e-300, 1e-9, 1e300, 1.7e308, 2.0**63]),
)


@fuzz_settings(80)
@given(scenario_dicts(deadlines=True, policies=("sjf", "ps", "rr")), st.data())
def test_accepted_scenarios_give_finite_delays(raw, data):
    """Extreme but valid values: refused naming a field, or every delay is finite."""
    device = data.draw(st.integers(0, len(raw["devices"]) - 1))
    key = data.draw(st.sampled_from(["rate_bps", "speed", "background", "quantum_s", "ratio"]))
    if key == "background":
        value = data.draw(st.integers(0, 2**63 - 1))
    else:
        value = data.draw(extreme)
    if key == "ratio":
        raw["bs"]["ratio"] = value
    else:
        raw["devices"][device][key] = value
    try:
        scenario = Scenario.from_dict(raw)
    except InputError as error:
        assert "\n" not in str(error)
        return
    p = np.maximum(scenario.max_stage // 2, scenario.min_stage)
    for model_name in ("snapshot", "timeline"):
        try:
            with time_limit(20):
                result = evaluate(scenario, p, model=model_name)
        except InputError as error:  # a timeline too long to simulate
            assert error.field == "bs.quantum_s" and model_name == "timeline"
            continue
        assert np.all(np.isfinite(result.delays)) and np.all(result.delays >= 0)
        assert np.all(result.delays <= MAX_DELAY_S * scenario.n_devices)
        json.dumps(result.to_dict(), allow_nan=False)


@fuzz_settings(40)
@given(
    st.floats(-100, 100),
    st.floats(0, 300),
    st.floats(1e-6, 10),
    st.booleans(),
    st.floats(1e-9, 1),
    st.lists(st.floats(1e-6, 1e6), min_size=2, max_size=8),
)
def test_a_rate_is_positive_and_never_grows_with_distance(
    power, loss, exponent, short_gi, efficiency, distances
):
    channel = Channel(power, loss, exponent, short_gi, efficiency)
    distances = np.sort(np.array(distances))
    try:
        rates = channel.rate_bps(distances)
    except InputError as error:
        assert error.field == "distance_m" and "out of range" in error.problem
        return
    assert np.all(np.isfinite(rates)) and np.all(rates > 0)
    assert np.all(np.diff(rates) <= 0)


def test_objects_built_directly_are_checked_too():
    profile = load_profile("alexnet-pi3b-estimated")
    with pytest.raises(InputError, match=r"^profile.time_s\[1\]: must be a finite time >= 0"):
        Profile("p", "p", ("a", "b"), [0.1, -1.0], [10, 10], 5)
    with pytest.raises(InputError, match=r"^profile.output_bytes\[0\]: is out of range"):
        Profile("p", "p", ("a",), [0.1], [2**64], 5)
    with pytest.raises(InputError, match=r"^rate_bps: must be positive"):
        Device(rate_bps=-1.0, max_stage=2)
    with pytest.raises(InputError, match=r"^min_stage: 3 exceeds max_stage 2"):
        Device(rate_bps=1e7, max_stage=2, min_stage=3)
    fields = {
        "profile": profile,
        "bs_time_s": profile.time_s / 10,
        "policy": "sjf",
        "ratio": 10.0,
        "bs_quantum_s": 0.01,
        "local_delay": "paper",
        "devices": (Device(rate_bps=1e7, max_stage=8),),
    }
    assert Scenario(**fields).n_devices == 1
    for change, message in [
        ({"devices": (Device(rate_bps=1e7, max_stage=9),)}, r"^devices\[0\].max_stage: 9 exceeds"),
        ({"devices": ()}, r"^devices: must be a non-empty list"),
        ({"devices": ({"rate_bps": 1e7},)}, r"^devices\[0\]: must be a dnnsplit.Device"),
        ({"policy": "lifo"}, r"^bs.policy: unknown policy 'lifo'"),
        ({"bs_quantum_s": 0.0}, r"^bs.quantum_s: must be positive"),
        ({"bs_time_s": [1.0]}, r"^bs_time_s: needs one time per stage"),
        (
            {"bs_time_s": np.full(8, 1e300), "ratio": None},
            r"^bs_time_s\[0\]: the BS stage times add up",
        ),
        ({"meta": {"x": float("inf")}}, r"^meta.x: must be finite"),
    ]:
        with pytest.raises(InputError, match=message):
            Scenario(**{**fields, **change})
    with pytest.raises(InputError, match=r"^channel.mac_efficiency: must be positive, got -0.7"):
        Channel(mac_efficiency=-0.7)
    with pytest.raises(InputError, match=r"^setup.channel.colour: unknown field"):
        Setup.from_dict({"channel": {"colour": 1}})
    with pytest.raises(InputError, match=r"^setup.colour: unknown field"):
        paper_scenario(3, 0, colour="red")
    with pytest.raises(InputError, match=r"^experiment.restarts: must be at most 100000"):
        Experiment(restarts=10**9)
    with pytest.raises(InputError, match=r"^scenario: must be a dnnsplit.Scenario"):
        evaluate("scenario.json", [0])


@pytest.mark.parametrize(
    ("partition", "message"),
    [
        ([2**64, 0], r"^partition\[0\]: 18446744073709551616 is outside"),
        ([0, 10**30], r"^partition\[1\]: 10+ is outside"),
        (np.array([2**63, 0], dtype=np.uint64), r"^partition\[0\]: 9223372036854775808 is outside"),
        ("12", r"^partition: must be a list of whole numbers"),
        ({0: 1, 1: 1}, r"^partition: must be a list of whole numbers"),
        ([0.5, 1], r"^partition: entries must be whole numbers"),
        ([None, 1], r"^partition: entries must be whole numbers"),
        ([True, 1], r"^partition: entries must be whole numbers"),
        ((1, np.True_), r"^partition: entries must be whole numbers"),
    ],
)
def test_partitions_never_wrap_around(partition, message):
    with pytest.raises(InputError, match=message):
        evaluate(Scenario.from_dict(BASE), partition)


# --- immutable results ---------------------------------------------------------------------


def test_held_arrays_are_read_only_for_good():
    scenario = paper_scenario(4, 2)
    tables = scenario.tables
    result = evaluate(scenario, [1, 1, 1, 1])
    solution = solve(scenario, solver="greedy")
    arrays = {
        "scenario.bs_time_s": scenario.bs_time_s,
        "scenario.max_stage": scenario.max_stage,
        "scenario.min_stage": scenario.min_stage,
        "profile.time_s": scenario.profile.time_s,
        "profile.output_bytes": scenario.profile.output_bytes,
        **{
            f"tables.{n}": getattr(tables, n)
            for n in ("local", "transmission", "remote_work", "max_stage", "min_stage", "deadline")
        },
        **{
            f"evaluation.{n}": getattr(result, n)
            for n in ("partition", "local", "transmission", "remote", "delays")
        },
        "solution.partition": solution.partition,
        "solution.evaluation.delays": solution.evaluation.delays,
    }
    before = evaluate(scenario, [2, 2, 2, 2]).delays.tolist()
    for name, array in arrays.items():
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0
        with pytest.raises(ValueError):
            array.flags.writeable = True  # cannot be switched back on
        assert not array.flags.writeable, name
    assert evaluate(scenario, [2, 2, 2, 2]).delays.tolist() == before


def test_a_changed_field_never_leaves_a_table_stale():
    scenario = paper_scenario(4, 2)
    tables = scenario.tables
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.policy = "ps"  # type: ignore[misc]
    other = dataclasses.replace(scenario, bs_time_s=scenario.bs_time_s * 2)
    assert other.tables is not tables
    assert np.array_equal(other.tables.remote_work, tables.remote_work * 2)
    times = np.array([0.1, 0.2])
    profile = Profile("p", "p", ("a", "b"), times, [10, 10], 5)
    times[0] = 99.0  # the caller's array is not the profile's
    assert profile.time_s.tolist() == [0.1, 0.2]
