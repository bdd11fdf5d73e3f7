"""Scenario files: round trips, the paper's generator, the channel, and bad input."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import given

from conftest import scenario_dicts
from dnnsplit import Channel, InputError, Scenario, Setup, evaluate, paper_scenario
from dnnsplit.draw import SEED_RULE
from dnnsplit.paper.experiment import Experiment

BASE = {
    "profile": {
        "input_bytes": 618348,
        "stages": [
            {"name": "conv1", "device_s": 0.036, "output_bytes": 1161600},
            {"name": "pool1", "device_s": 0.003, "output_bytes": 279936},
        ],
    },
    "bs": {"policy": "sjf", "ratio": 10, "quantum_s": 0.01},
    "local_delay": "paper",
    "devices": [
        {
            "background": 2,
            "quantum_s": 0.01,
            "max_stage": 2,
            "rate_bps": 26e6,
            "speed": 1.0,
            "deadline_s": None,
        }
    ],
}


def with_change(path: list, value) -> dict:
    raw = copy.deepcopy(BASE)
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["profile", "stages", 0, "device_s"],
            -1.0,
            r"^profile.stages\[0\].device_s: must be at least 0",
        ),
        (
            ["profile", "stages", 1, "output_bytes"],
            "big",
            r"^profile.stages\[1\].output_bytes: must be a whole number",
        ),
        (["profile", "input_bytes"], KeyError, r"^profile.input_bytes: missing"),
        (["bs", "policy"], "lifo", r"^bs.policy: unknown policy 'lifo'"),
        (["bs", "ratio"], 0, r"^bs.ratio: must be positive"),
        (["local_delay"], "approx", r"^local_delay: unknown form 'approx'"),
        (
            ["devices", 0, "max_stage"],
            3,
            r"^devices\[0\].max_stage: 3 exceeds the profile's 2 stages",
        ),
        (["devices", 0, "max_stage"], 1.5, r"^devices\[0\].max_stage: must be a whole number"),
        (["devices", 0, "background"], True, r"^devices\[0\].background: must be a whole number"),
        (["devices", 0, "rate_bps"], KeyError, r"^devices\[0\].rate_bps: give exactly one"),
        (["devices", 0, "speed"], float("nan"), r"^devices\[0\].speed: must be finite"),
        (["devices", 0, "deadline_s"], -2, r"^devices\[0\].deadline_s: must be positive"),
        (["devices", 0, "colour"], "red", r"^devices\[0\].colour: unknown field"),
        (["devices"], [], r"^devices: must be a non-empty list"),
        (["profile"], "no-such-profile", r"^profile: unknown profile 'no-such-profile'"),
    ],
)
def test_bad_fields_are_named(path, value, message):
    with pytest.raises(InputError, match=message):
        Scenario.from_dict(with_change(path, value))


def test_distance_instead_of_rate_uses_the_channel():
    raw = with_change(["devices", 0, "rate_bps"], KeyError)
    raw["devices"][0]["distance_m"] = 120.0
    scenario = Scenario.from_dict(raw)
    assert scenario.devices[0].rate_bps == Channel().rate_bps(120.0)[0]
    raw["devices"][0]["distance_m"] = 5000.0
    with pytest.raises(InputError, match=r"^devices\[0\].distance_m: 5000 m is out of range"):
        Scenario.from_dict(raw)


def test_channel_default_keeps_500m_connected_and_rates_fall_with_distance():
    rates = Channel().rate_bps(np.array([1, 50, 100, 200, 300, 400, 500.0]))
    assert np.all(np.diff(rates) <= 0)
    assert rates[-1] > 0
    assert rates[0] == pytest.approx(72.2e6 * 0.7)
    with pytest.raises(InputError, match="out of range"):
        Channel(exponent=3.0).rate_bps(500.0)


@given(scenario_dicts(deadlines=True))
def test_round_trip_through_json(raw):
    scenario = Scenario.from_dict(raw)
    again = Scenario.from_dict(json.loads(json.dumps(scenario.to_dict())))
    p = np.maximum(scenario.max_stage // 2, scenario.min_stage)
    assert evaluate(again, p).delays.tolist() == evaluate(scenario, p).delays.tolist()


def test_paper_generator_is_seeded_and_in_range():
    a, b = paper_scenario(40, 11), paper_scenario(40, 11)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != paper_scenario(40, 12).to_dict()
    assert set(a.max_stage.tolist()) <= {5, 6, 7, 8}
    assert {d.background for d in a.devices} <= {0, 1, 2, 3}
    distances = np.array(a.meta["distances_m"])
    assert distances.min() >= 50 and distances.max() <= 500
    assert a.profile.estimated and a.ratio == 1.0


def test_one_seeding_rule_and_the_draw_records_it():
    """The scenario of (N, seed, setup) is drawn from default_rng([N, seed]) only."""
    setup = Setup(ratio=10, policy="rr", background=(1, 2))
    scenario = paper_scenario(6, 3, setup)
    assert scenario.meta["seed"] == 3 and scenario.meta["devices"] == 6
    assert scenario.meta["seed_rule"] == SEED_RULE
    assert Setup.from_dict(scenario.meta["setup"]) == setup
    assert paper_scenario(6, 3, ratio=10, policy="rr", background=(1, 2)).to_dict() == (
        scenario.to_dict()
    )
    # the same devices whatever R and policy: comparisons are paired
    other = paper_scenario(6, 3, Setup(background=(1, 2)))
    assert other.to_dict()["devices"] == scenario.to_dict()["devices"]
    rng = np.random.default_rng([6, 3])
    assert np.allclose(scenario.meta["distances_m"], rng.uniform(50, 500, size=6), atol=1e-3)
    with pytest.raises(InputError, match="^seed: must be a whole number"):
        paper_scenario(5, np.random.default_rng(3))
    with pytest.raises(InputError, match="^seed: must be at least 0"):
        paper_scenario(5, -1)


def test_setup_is_validated_naming_the_field():
    with pytest.raises(InputError, match=r"^setup.ratio: must be positive"):
        Setup(ratio=0)
    with pytest.raises(InputError, match=r"^setup.max_stage: low 6 exceeds high 5"):
        Setup(max_stage=(6, 5))
    with pytest.raises(InputError, match=r"^experiment.baseline: unknown baseline"):
        Experiment(baseline="none")
    with pytest.raises(InputError, match=r"^setup.baseline: unknown field"):
        Setup.from_dict({"baseline": "max-local"})
    with pytest.raises(InputError, match=r"^setup.lowest_point: must be at most 1"):
        Setup(lowest_point=2)
    with pytest.raises(InputError, match=r"^setup.colour: unknown field"):
        Setup.from_dict({"colour": 1})
    assert Setup.from_dict(Setup(ratio=5).to_dict()) == Setup(ratio=5)


def test_lowest_point_reaches_the_devices():
    scenario = paper_scenario(5, 1, lowest_point=1)
    assert scenario.min_stage.tolist() == [1] * 5
    with pytest.raises(InputError, match=r"^partition\[0\]: 0 is outside 1\.\."):
        evaluate(scenario, [0] * 5)
    raw = copy.deepcopy(BASE)
    raw["devices"][0]["min_stage"] = 3
    with pytest.raises(InputError, match=r"^devices\[0\].min_stage: 3 exceeds max_stage 2"):
        Scenario.from_dict(raw)


def test_arrays_of_frozen_containers_are_read_only():
    scenario = paper_scenario(4, 2)
    tables = scenario.tables
    for array in (
        tables.local,
        tables.transmission,
        tables.remote_work,
        scenario.bs_time_s,
        scenario.profile.time_s,
        evaluate(scenario, [1, 1, 1, 1]).delays,
    ):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


def test_bs_times_from_a_ratio_a_stage_or_a_bs_profile():
    raw = copy.deepcopy(BASE)
    raw["profile"]["stages"][1]["bs_s"] = 0.5
    scenario = Scenario.from_dict(raw)
    assert scenario.bs_time_s.tolist() == [0.0036, 0.5]
    measured = Scenario.from_dict(
        {
            "profile": "alexnet-pi3b-estimated",
            "bs": {"policy": "sjf", "profile": "alexnet-i7-6700hq-estimated"},
            "devices": [{"rate_bps": 1e7}],
        }
    )
    assert measured.ratio is None
    assert 5 < measured.profile.time_s.sum() / measured.bs_time_s.sum() < 20


def test_yaml_and_unreadable_files(tmp_path):
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert Scenario.from_file(path).n_devices == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="^scenario: broken.json is not valid JSON"):
        Scenario.from_file(broken)
    with pytest.raises(InputError, match="^scenario: cannot read"):
        Scenario.from_file(tmp_path / "missing.json")


def test_partition_outside_the_limits_is_rejected():
    scenario = Scenario.from_dict(with_change(["devices", 0, "max_stage"], 1))
    with pytest.raises(InputError, match=r"^partition\[0\]: 2 is outside 0..1"):
        evaluate(scenario, [2])
    with pytest.raises(InputError, match="^partition: needs 1 entries"):
        evaluate(scenario, [0, 1])
    with pytest.raises(InputError, match="^partition: entries must be whole numbers"):
        evaluate(scenario, [0.5])


def test_to_dict_returns_meta_as_a_copy():
    scenario = paper_scenario(4, 2)
    out = scenario.to_dict()
    out["meta"]["seed"] = 99
    out["meta"]["distances_m"].append(1.0)
    assert scenario.meta["seed"] == 2 and len(scenario.meta["distances_m"]) == 4
    assert scenario.to_dict()["meta"]["seed"] == 2


def test_a_draw_reads_each_profile_once(monkeypatch):
    import dnnsplit.profiles as profiles

    reads = []
    original = profiles.read_text

    def counted(path, *args, **kwargs):
        reads.append(str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(profiles, "read_text", counted)
    paper_scenario(4, 2)
    assert len(reads) == 1
    reads.clear()
    paper_scenario(4, 2, bs_profile="alexnet-epyc-1t-measured", profile="alexnet-epyc-1t-measured")
    assert len(reads) == 2  # the device profile and the BS profile, once each


def test_a_drawn_scenario_is_the_one_its_file_gives():
    """Built directly from typed values, a draw equals what its file form reads back."""
    drawn = paper_scenario(7, 3, policy="rr", ratio=10, lowest_point=1)
    again = Scenario.from_dict(drawn.to_dict())
    assert again.to_dict() == drawn.to_dict()
    for name in ("local", "transmission", "remote_work", "max_stage", "min_stage"):
        assert np.array_equal(getattr(again.tables, name), getattr(drawn.tables, name))
