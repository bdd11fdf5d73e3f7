"""No hangs, no memory blow-ups: bounded simulations, memory checked before allocation,
and every solver within its time limit."""

from __future__ import annotations

import copy
import sys
import time
import tracemalloc

import numpy as np
import pytest

import dnnsplit.model as model
import dnnsplit.timeline as timeline
from dnnsplit import (
    InputError,
    Scenario,
    evaluate,
    paper_scenario,
    reader,
    solve,
)
from dnnsplit._checks import json_data
from dnnsplit.errors import SolverRefusal
from dnnsplit.solvers import SOLVER_OPTIONS, SOLVERS
from dnnsplit.solvers.exact import assignment_bytes
from hostile import (
    BASE,
    assert_refused,
    run,
)

# --- no hangs: bounded simulations and memory --------------------------------------------


def test_a_tiny_rr_quantum_is_refused_before_simulating():
    scenario = paper_scenario(6, 1, policy="rr", bs_quantum_s=1e-9)
    p = scenario.min_stage
    started = time.perf_counter()
    with pytest.raises(
        InputError, match=r"^bs.quantum_s: round-robin with a 1e-09 s quantum needs"
    ) as caught:
        evaluate(scenario, p, model="timeline")
    assert time.perf_counter() - started < 1
    assert f"bound of {timeline.MAX_TIMELINE_EVENTS} events" in str(caught.value)
    assert "MAX_TIMELINE_EVENTS" in str(caught.value)
    snapshot = evaluate(scenario, p)  # the closed form has no loop: fine at any quantum
    ps = evaluate(paper_scenario(6, 1, policy="ps"), p)
    assert snapshot.delays == pytest.approx(ps.delays, rel=1e-6)


def test_processor_sharing_of_many_tasks_is_bounded(monkeypatch):
    monkeypatch.setattr(timeline, "MAX_TIMELINE_EVENTS", 20)
    scenario = paper_scenario(5, 1, policy="ps")
    with pytest.raises(InputError, match=r"^devices: ps over 5 offloaded tasks needs 25 steps"):
        evaluate(scenario, scenario.min_stage, model="timeline")


def test_memory_is_checked_before_anything_is_allocated():
    started = time.perf_counter()
    with pytest.raises(
        InputError,
        match=r"^devices: 1000000000 devices with 8 stages need about .* GiB.*MAX_MEMORY_BYTES",
    ):
        paper_scenario(10**9, 0)
    raw = copy.deepcopy(BASE)
    raw["devices"] = [{"rate_bps": 1e7}] * 2_000_000  # one dict, many references: cheap
    with pytest.raises(InputError, match=r"^devices: 2000000 devices"):
        Scenario.from_dict(raw)
    assert time.perf_counter() - started < 2


def test_any_buffer_can_be_checked_before_it_is_allocated():
    model.check_bytes(1024, "devices", "a small buffer")
    with pytest.raises(
        InputError,
        match=r"^devices: an \(N, N\) cost matrix needs about 8 GiB, more than the 2 GiB limit",
    ):
        model.check_bytes(8 * 1024**3, "devices", "an (N, N) cost matrix")


# --- every solver within its time limit -------------------------------------------------


@pytest.mark.parametrize("solver", [s for s in SOLVERS if s != "optimal"])
def test_every_solver_honours_or_refuses_a_time_limit(solver):
    """A limit no search can meet (1 ns): a searching solver stops at once and says so, or
    refuses up front naming ``time_limit``; a fixed rule refuses the option, naming it.
    (``optimal``'s limit is tested with it, in tests/test_optimal.py.)"""
    scenario = paper_scenario(8, 1)
    began = time.perf_counter()
    try:
        found = solve(scenario, objective="total", solver=solver, time_limit=1e-9)
    except InputError as refusal:
        assert refusal.field == "time_limit", str(refusal)
        if "time_limit" in SOLVER_OPTIONS[solver]:
            assert isinstance(refusal, SolverRefusal) and "time limit" in refusal.problem
        else:
            assert "does not take this option" in refusal.problem
        return
    finally:
        assert time.perf_counter() - began < 5
    assert "time_limit" in SOLVER_OPTIONS[solver]
    assert not found.optimal
    if solver in ("greedy", "local-search"):
        assert found.stopped == "time_limit"
        assert found.iterations == 0  # not one move: the limit was over before the first


@pytest.mark.parametrize(
    ("solver", "devices", "options"),
    [
        ("greedy", 20_000, {"objective": "total"}),
        ("greedy", 300, {"objective": "max"}),
        ("local-search", 1_000, {"objective": "variance", "restarts": 100}),
        ("local-search", 400, {"objective": "max", "policy": "rr"}),
    ],
)
def test_heuristics_stop_at_their_limit_at_any_n(solver, devices, options):
    options = dict(options)
    policy = options.pop("policy", "sjf")
    scenario = paper_scenario(devices, 1, policy=policy)
    began = time.perf_counter()
    found = solve(scenario, solver=solver, time_limit=0.3, **options)
    assert time.perf_counter() - began < 0.3 + 3  # one iteration or chunk past the limit
    assert found.stopped == "time_limit"
    assert np.all(found.partition >= scenario.min_stage)
    assert np.all(found.partition <= scenario.max_stage)


def test_exhaustive_refuses_what_its_limit_cannot_hold_and_stops_when_it_runs_past(monkeypatch):
    exhaustive_module = sys.modules["dnnsplit.solvers.exhaustive"]  # the function shadows it
    scenario = paper_scenario(9, 1)
    with pytest.raises(SolverRefusal, match=r"^time_limit: exhaustive: .* takes about .* more"):
        solve(scenario, solver="exhaustive", time_limit=0.01)
    # a rate estimate far too high lets the search start; the limit then stops it
    monkeypatch.setitem(exhaustive_module.VECTORS_PER_SECOND, "compiled", 1e15)
    monkeypatch.setattr(exhaustive_module, "BLOCK_VECTORS", 2_000_000)
    began = time.perf_counter()
    with pytest.raises(SolverRefusal, match=r"^time_limit: exhaustive: stopped by the time limit"):
        solve(scenario, solver="exhaustive", time_limit=0.2)
    assert time.perf_counter() - began < 5


def test_exact_checks_memory_and_time_before_the_assignment():
    big = paper_scenario(20_000, 1)
    began = time.perf_counter()
    with pytest.raises(InputError, match=r"^devices: the linear assignment of 20,000 devices"):
        solve(big, solver="exact")
    assert assignment_bytes(20_000) > model.MAX_MEMORY_BYTES
    with pytest.raises(SolverRefusal, match=r"^time_limit: exact: .* 3,000 devices .* about"):
        solve(paper_scenario(3_000, 1), solver="exact", time_limit=0.5)
    assert time.perf_counter() - began < 10


# --- files are measured before they are parsed ------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "patch", "message"),
    [
        (
            "meta.json",
            '{"profile": "alexnet-pi3b-estimated", "devices": [{"rate_bps": 1e7}], '
            '"meta": {"x": [' + ",".join(["1"] * 5000) + "]}}",
            ("model", "MAX_MEMORY_BYTES", 200_000),
            r"^scenario: meta.json holds about 5,0\d\d values, which would take about .* GiB "
            r"once read, more than the .* limit",
        ),
        (
            "devices.yaml",
            "profile: alexnet-pi3b-estimated\ndevices:\n" + "  - {rate_bps: 1e7}\n" * 200,
            ("reader", "MAX_YAML_VALUES", 100),
            r"^scenario: devices.yaml holds about \d+ values; a YAML file may hold at most 100 "
            r".*save it as JSON",
        ),
    ],
)
def test_a_file_too_large_to_parse_is_refused_before_parsing(
    name, text, patch, message, tmp_path, monkeypatch
):
    module, attribute, value = patch
    monkeypatch.setattr(model if module == "model" else reader, attribute, value)
    path = tmp_path / name
    path.write_text(text)
    parsed = []
    monkeypatch.setattr(reader.json, "loads", lambda *a, **k: parsed.append(1))
    with pytest.raises(InputError, match=message):
        Scenario.from_file(path)
    assert not parsed


def test_checking_data_takes_memory_of_its_depth_not_its_size():
    data = {"x": [1.5] * 200_000, "y": [{"z": [k]} for k in range(1_000)]}
    tracemalloc.start()
    try:
        json_data(data, "meta")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak  # the containers seen; no path per value (that was 20 MB)


# --- an overflow of valid fields names them ---------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda raw: [s.update(device_s=1.7e308) for s in raw["profile"]["stages"]],
            "profile.stages[0].device_s",
        ),
        (
            lambda raw: [s.update(bs_s=1.7e308) for s in raw["profile"]["stages"]],
            "profile.stages[0].bs_s",
        ),
        (lambda raw: raw["bs"].update(ratio=1e-300), "bs.ratio"),
        (
            lambda raw: (
                [s.update(device_s=1e300) for s in raw["profile"]["stages"]]
                + [raw["devices"][0].update(speed=1e-300)]
            ),
            "profile.stages[0].device_s",
        ),
    ],
)
def test_an_overflowing_sum_of_valid_fields_is_exit_2_naming_a_field(
    change, field, tmp_path, capsys
):
    import json

    raw = copy.deepcopy(BASE)
    change(raw)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(raw))
    err = assert_refused(*run(capsys, "evaluate", path, "--partition", "0,0"))
    assert err.startswith(f"dnnsplit evaluate: {field}: "), err
