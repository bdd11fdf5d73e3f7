"""Invariants of the solvers (hypothesis) and exact values on small cases."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from conftest import random_partitions, scenario_dicts
from dnnsplit import (
    InputError,
    Scenario,
    SolverRefusal,
    evaluate,
    is_local_optimum,
    paper_scenario,
    solve,
)
from dnnsplit._limits import Budget, deferred_interrupts
from dnnsplit.evaluate import batch_delays
from dnnsplit.model import DEADLINE_TOLERANCE_S
from dnnsplit.solvers import start_vector
from dnnsplit.solvers._moves import (
    FullMoves,
    IncrementalTotalMoves,
    IncrementalVarianceMoves,
    improve,
    make_moves,
)
from dnnsplit.solvers.exhaustive import default_cap, estimated_rate


def space(scenario: Scenario) -> list[tuple[int, ...]]:
    """Every allowed vector, in lexicographic order."""
    ranges = [
        range(lo, hi + 1) for lo, hi in zip(scenario.min_stage, scenario.max_stage, strict=True)
    ]
    return list(itertools.product(*ranges))


def brute_force(scenario: Scenario, objective: str, model: str = "snapshot") -> float:
    """The optimum by calling ``evaluate`` on every allowed vector (an oracle that shares
    none of the batch code the solvers use)."""
    best = np.inf
    for vector in space(scenario):
        ev = evaluate(scenario, list(vector), model=model)
        if ev.feasible:
            best = min(best, ev.objective(objective))
    return float(best)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@given(scenario_dicts(policies=("sjf", "ps", "rr")), st.integers(0, 2**32 - 1))
def test_vectorised_equals_scalar(raw, seed):
    scenario = Scenario.from_dict(raw)
    vectors = random_partitions(scenario, np.random.default_rng(seed), 6)
    for model in ("snapshot", "timeline"):
        batch = batch_delays(scenario.tables, vectors, model)
        for row, vector in enumerate(vectors):
            single = evaluate(scenario, vector.tolist(), model=model)
            assert single.delays == pytest.approx(batch[row], rel=1e-12, abs=1e-15)
            parts = single.local + single.transmission + single.remote
            assert parts == pytest.approx(single.delays)


@given(
    scenario_dicts(deadlines=True),
    st.sampled_from(["total", "variance", "max"]),
    st.sampled_from(["half", "ones", "local"]),
)
def test_greedy_never_ends_worse_than_its_start(raw, objective, start):
    scenario = Scenario.from_dict(raw)
    begin = evaluate(scenario, start_vector(scenario, start))
    end = solve(scenario, objective=objective, solver="greedy", start=start).evaluation
    excess = scenario.tables.deadline_excess
    if begin.feasible:
        assert end.feasible
        assert end.objective(objective) <= begin.objective(objective) * (1 + 1e-12) + 1e-15
    else:  # from an infeasible start, greedy first reduces the deadline excess
        assert excess(end.delays) <= excess(begin.delays) + 1e-12


@given(scenario_dicts(deadlines=True), st.sampled_from(["total", "variance", "max"]))
def test_exhaustive_is_the_optimum_and_bounds_every_solver(raw, objective):
    scenario = Scenario.from_dict(raw)
    best = brute_force(scenario, objective)
    if not np.isfinite(best):
        with pytest.raises(SolverRefusal, match="^deadline_s: exhaustive: none of the"):
            solve(scenario, objective=objective, solver="exhaustive")
        return
    exhaustive = solve(scenario, objective=objective, solver="exhaustive")
    assert exhaustive.optimal and exhaustive.feasible
    assert close(exhaustive.value, best)
    for solver in ("greedy", "local-search", "optimal", "max-local", "all-offload", "independent"):
        other = solve(scenario, objective=objective, solver=solver)
        if other.feasible:
            assert exhaustive.value <= other.value + 1e-9 * max(1.0, abs(other.value)), solver


@given(scenario_dicts(max_devices=5, policies=("sjf", "ps")))
def test_exact_equals_exhaustive_for_total_delay(raw):
    scenario = Scenario.from_dict(raw)
    exact = solve(scenario, objective="total", solver="exact")
    exhaustive = solve(scenario, objective="total", solver="exhaustive")
    assert exact.optimal and exhaustive.optimal
    assert close(exact.value, exhaustive.value)


@given(
    scenario_dicts(deadlines=True),
    st.sampled_from(
        [
            "greedy",
            "local-search",
            "exhaustive",
            "exact",
            "optimal",
            "max-local",
            "all-offload",
            "independent",
            "all-local",
        ]
    ),
    st.sampled_from(["total", "variance", "max"]),
)
def test_solutions_stay_within_the_limits(raw, solver, objective):
    scenario = Scenario.from_dict(raw)
    try:
        solution = solve(scenario, objective=objective, solver=solver)
    except SolverRefusal:
        return  # exact on a case it cannot certify, exhaustive with no feasible vector
    p = solution.partition
    if solver == "all-local":  # the paper's baseline ignores the memory limits
        assert np.all(p == scenario.n_stages)
        assert solution.evaluation.within_limits == bool(np.all(scenario.max_stage == p))
    else:
        assert np.all((p >= scenario.min_stage) & (p <= scenario.max_stage))
        assert solution.evaluation.within_limits
    late = solution.evaluation.delays > scenario.tables.deadline + DEADLINE_TOLERANCE_S
    assert solution.feasible == (not late.any())


@given(
    scenario_dicts(max_devices=6, policies=("sjf", "ps")),
    st.sampled_from(["step", "any"]),
    st.sampled_from(["half", "ones", "local"]),
)
def test_incremental_moves_follow_the_full_evaluation(raw, moves, start):
    """The fast path of greedy takes exactly the moves a full evaluation takes."""
    scenario = Scenario.from_dict(raw)
    p0 = start_vector(scenario, start)
    fast = IncrementalTotalMoves(scenario.tables, p0, moves)
    full = FullMoves(scenario.tables, p0, moves, "total", "snapshot")
    for _ in range(200):
        fast_values, _ = fast.scores()
        full_values, _ = full.scores()
        assert fast_values == pytest.approx(full_values, rel=1e-10)
        if improve(fast, max_iterations=1) == 0:
            assert improve(full, max_iterations=1) == 0
            break
        assert improve(full, max_iterations=1) == 1
        assert fast.p.tolist() == full.p.tolist()


def follow_move_by_move(fast, full, steps: int = 400) -> int:
    """Run two scorers side by side; they must score alike and take the same moves."""
    for taken in range(steps):
        fast_values, _ = fast.scores()
        full_values, _ = full.scores()
        assert fast_values == pytest.approx(full_values, rel=1e-9, abs=1e-15)
        if improve(fast, max_iterations=1) == 0:
            assert improve(full, max_iterations=1) == 0
            return taken
        assert improve(full, max_iterations=1) == 1
        assert fast.p.tolist() == full.p.tolist()
    return steps


@given(
    scenario_dicts(max_devices=7, policies=("sjf", "ps")),
    st.sampled_from(["step", "any"]),
    st.sampled_from(["half", "ones", "local"]),
)
def test_incremental_variance_moves_follow_the_full_evaluation(raw, moves, start):
    """The variance fast path takes exactly the moves a full evaluation takes (quantised
    stage times make equal work, hence sjf ties by index, common)."""
    scenario = Scenario.from_dict(raw)
    p0 = start_vector(scenario, start)
    fast = IncrementalVarianceMoves(scenario.tables, p0, moves)
    full = FullMoves(scenario.tables, p0, moves, "variance", "snapshot")
    follow_move_by_move(fast, full)


@pytest.mark.parametrize("policy", ["sjf", "ps"])
def test_incremental_variance_moves_on_a_crowded_paper_scenario(policy):
    """Forty devices on nine points: many devices share a point, so the sjf order among
    equal work (by index) decides most moves."""
    scenario = paper_scenario(40, 3, policy=policy)
    for moves in ("step", "any"):
        p0 = start_vector(scenario, "ones")
        fast = IncrementalVarianceMoves(scenario.tables, p0, moves)
        full = FullMoves(scenario.tables, p0, moves, "variance", "snapshot")
        assert follow_move_by_move(fast, full) > 5


def test_make_moves_uses_the_fast_paths_only_where_they_are_exact():
    scenario = paper_scenario(5, 2)
    p0 = start_vector(scenario, "half")
    tables = scenario.tables
    assert isinstance(
        make_moves(tables, p0, "step", "variance", "snapshot"), IncrementalVarianceMoves
    )
    assert isinstance(make_moves(tables, p0, "step", "total", "snapshot"), IncrementalTotalMoves)
    for objective in ("total", "variance", "max"):
        assert type(make_moves(tables, p0, "step", objective, "timeline")) is FullMoves
        rr = scenario.with_options(policy="rr").tables
        assert type(make_moves(rr, p0, "any", objective, "snapshot")) is FullMoves
    assert type(make_moves(tables, p0, "step", "max", "snapshot")) is FullMoves
    raw = scenario.to_dict()
    raw["devices"][0]["deadline_s"] = 5.0
    late = Scenario.from_dict(raw).tables
    assert type(make_moves(late, p0, "step", "variance", "snapshot")) is FullMoves


def test_greedy_tie_rule_prefers_lowest_device_then_right_move():
    # two identical devices: every first move is a tie between them; device 0 must move
    raw = {
        "profile": {
            "input_bytes": 600_000,
            "stages": [
                {"name": "a", "device_s": 0.01, "output_bytes": 100_000},
                {"name": "b", "device_s": 0.01, "output_bytes": 10_000},
            ],
        },
        "bs": {"policy": "sjf", "ratio": 1.0},
        "devices": [{"rate_bps": 5e6, "max_stage": 2}, {"rate_bps": 5e6, "max_stage": 2}],
    }
    scenario = Scenario.from_dict(raw)
    solution = solve(scenario, objective="total", solver="greedy", start="half", max_iterations=1)
    assert solution.partition.tolist() == [2, 1]  # device 0, right move (1 -> 2)


def test_a_budget_says_why_the_work_stops():
    """One look answers with the first limit reached and keeps it; a Ctrl-C inside
    ``deferred_interrupts`` is raised at the look, or, with ``interrupts="stop"``, taken as
    the stop ``"interrupted"`` (and not raised again at the block's end)."""
    counted = Budget(None, nodes=3)
    counted.spend(2)
    assert counted.stop() is None and counted.nodes_left() == 1
    counted.spend()
    assert counted.stop() == "node_limit" and counted.nodes_left() == 0
    counted.halt("memory_limit")  # the first reason stays
    assert counted.stop() == "node_limit"
    assert Budget(1e-9).stop() == "time_limit"
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            taking = Budget(None, interrupts="stop")
            assert taking.stop() == "interrupted" and taking.stopped == "interrupted"
        with pytest.raises(KeyboardInterrupt), deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            Budget(None).stop()
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("name", ["greedy", "local-search"])
def test_the_heuristics_say_which_limit_stopped_them(name):
    """``stopped`` is None at a local optimum, ``"iteration_limit"`` when
    ``max_iterations`` ended a run, ``"time_limit"`` when the limit did."""
    scenario = paper_scenario(40, 2)
    free = solve(scenario, objective="variance", solver=name)
    assert free.stopped is None
    assert is_local_optimum(
        scenario, free.partition, "variance", "step" if name == "greedy" else "any"
    )
    capped = solve(scenario, objective="variance", solver=name, max_iterations=1)
    assert capped.stopped == "iteration_limit" and capped.iterations >= 1
    late = solve(scenario, objective="variance", solver=name, time_limit=1e-9)
    assert late.stopped == "time_limit" and late.to_dict()["stopped"] == "time_limit"


def test_exhaustive_refuses_a_space_too_large_naming_its_size_and_time():
    scenario = paper_scenario(30, 1)
    size = f"{scenario.space_size:.3g}".replace("+", r"\+")
    with pytest.raises(
        SolverRefusal,
        match=rf"^solver: exhaustive: {size} partition vectors .*, about [0-9.e+]+ years at "
        r"~100 M vectors/s \(compiled path\); the default cap is 3e\+09 \(about 30 s\); "
        "pass max_vectors to raise it",
    ):
        solve(scenario, solver="exhaustive")
    with pytest.raises(SolverRefusal, match=r"^max_vectors: .*about 5.5 h at .* = 1e\+06"):
        solve(paper_scenario(14, 1), solver="exhaustive", max_vectors=10**6)
    with pytest.raises(SolverRefusal, match=r"\(numpy path\); the default cap is 5.1e\+07"):
        solve(paper_scenario(9, 1, policy="rr"), solver="exhaustive")
    with pytest.raises(SolverRefusal, match=r"\(timeline path\); .* or use local-search or"):
        solve(paper_scenario(7, 1, policy="rr"), solver="exhaustive", model="timeline")


def test_exhaustive_default_cap_is_about_thirty_seconds_of_each_path():
    for model, policy in (("snapshot", "sjf"), ("snapshot", "rr"), ("timeline", "fcfs")):
        seconds = default_cap(model, policy) / estimated_rate(model, policy)
        assert seconds == pytest.approx(30, rel=1e-6)
    # a raised cap runs what the default refuses
    scenario = paper_scenario(6, 1, policy="rr")
    assert scenario.space_size > 10**5
    with pytest.raises(SolverRefusal):
        solve(scenario, solver="exhaustive", max_vectors=10**5)
    assert solve(scenario, solver="exhaustive", max_vectors=scenario.space_size).optimal


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"solver": "exhaustive", "max_vectors": math.nan}, "^max_vectors: must be finite"),
        ({"solver": "exhaustive", "max_vectors": math.inf}, "^max_vectors: must be finite"),
        ({"solver": "exhaustive", "max_vectors": 0}, "^max_vectors: must be at least 1"),
        ({"solver": "exhaustive", "max_vectors": 2.5}, "^max_vectors: must be a whole number"),
        ({"solver": "exhaustive", "max_vectors": "9"}, "^max_vectors: must be a whole number"),
        ({"solver": "local-search", "restarts": 1.5}, "^restarts: must be a whole number"),
        ({"solver": "local-search", "restarts": math.nan}, "^restarts: must be finite"),
        ({"solver": "local-search", "restarts": True}, "^restarts: must be a whole number"),
        ({"solver": "local-search", "seed": -1}, "^seed: must be at least 0"),
        ({"solver": "local-search", "seed": 0.5}, "^seed: must be a whole number"),
        ({"solver": "local-search", "max_iterations": -1}, "^max_iterations: must be at least"),
        ({"solver": "greedy", "max_iterations": 2.5}, "^max_iterations: must be a whole number"),
        ({"solver": "greedy", "max_iterations": math.inf}, "^max_iterations: must be finite"),
    ],
)
def test_solver_options_are_validated_naming_the_keyword(options, message):
    with pytest.raises(InputError, match=message):
        solve(paper_scenario(3, 1), objective="variance", **options)


def test_exact_says_what_it_cannot_certify():
    scenario = paper_scenario(4, 1)
    for objective in ("variance", "max"):
        with pytest.raises(SolverRefusal, match="exact certifies only total delay"):
            solve(scenario, objective=objective, solver="exact")
    with pytest.raises(SolverRefusal, match="not total under rr"):
        solve(scenario.with_options(policy="rr"), solver="exact")


def test_exact_matches_exhaustive_on_a_paper_scenario(paper7):
    exact = solve(paper7, solver="exact")
    exhaustive = solve(paper7, solver="exhaustive")
    # identical devices can swap roles between equally good optima: compare the optimum
    assert close(exact.value, exhaustive.value)


def test_timeline_exhaustive_matches_brute_force():
    scenario = paper_scenario(3, 2, policy="fcfs")
    for objective in ("total", "variance", "max"):
        solution = solve(scenario, objective=objective, solver="exhaustive", model="timeline")
        assert close(solution.value, brute_force(scenario, objective, "timeline"))


def test_local_search_is_seeded():
    scenario = paper_scenario(8, 3)
    a = solve(scenario, objective="variance", solver="local-search", seed=5)
    b = solve(scenario, objective="variance", solver="local-search", seed=5)
    assert a.partition.tolist() == b.partition.tolist()


@pytest.mark.parametrize("cap", [50, np.float32(50.0), np.int64(50)])
def test_a_solution_holds_its_options_checked(cap):
    """A numpy or int option gives the bytes of the float (the solution keeps the
    declaration's canonical value, not the caller's)."""
    solution = solve(paper_scenario(3, 1), solver="greedy", energy_cap=cap)
    assert json.dumps(solution.to_dict()["energy_cap"]) == "50.0"


def test_independent_is_each_device_alone():
    scenario = paper_scenario(5, 4, ratio=10)
    solution = solve(scenario, solver="independent")
    tables = scenario.tables
    for i, p in enumerate(solution.partition):
        alone = tables.offload_delay[i] + tables.remote_work[i]
        assert alone[p] == alone[: scenario.max_stage[i] + 1].min()


def test_exact_certifies_when_deadlines_do_not_bind_and_refuses_when_they_do():
    raw = paper_scenario(6, 5).to_dict()
    for device in raw["devices"]:
        device["deadline_s"] = 100.0  # far beyond any delay
    loose = Scenario.from_dict(raw)
    exact = solve(loose, solver="exact")
    assert exact.optimal and exact.feasible and "certified" in exact.note
    assert close(exact.value, solve(loose, solver="exhaustive").value)
    free_optimum = exact.evaluation.delays
    raw["devices"][int(free_optimum.argmax())]["deadline_s"] = float(free_optimum.max()) * 0.99
    tight = Scenario.from_dict(raw)
    with pytest.raises(SolverRefusal, match="misses the deadlines of devices"):
        solve(tight, solver="exact")
    constrained = solve(tight, solver="exhaustive")  # the certified optimum with deadlines
    assert constrained.feasible and constrained.value >= exact.value - 1e-12


@given(
    scenario_dicts(deadlines=True, policies=("sjf", "ps", "rr")),
    st.sampled_from(["total", "variance", "max"]),
    st.sampled_from(["half", "ones", "local"]),
)
def test_greedy_ends_at_a_step_local_optimum_and_local_search_at_an_any_step_one(
    raw, objective, start
):
    scenario = Scenario.from_dict(raw)
    found = solve(scenario, objective=objective, solver="greedy", start=start)
    assert is_local_optimum(scenario, found.partition, objective, "step")
    found = solve(scenario, objective=objective, solver="local-search", start=start, restarts=2)
    assert is_local_optimum(scenario, found.partition, objective, "any")


def test_is_local_optimum_on_a_hand_made_case():
    raw = {
        "profile": {
            "input_bytes": 600_000,
            "stages": [
                {"name": "a", "device_s": 0.01, "output_bytes": 100_000},
                {"name": "b", "device_s": 0.01, "output_bytes": 10_000},
            ],
        },
        "bs": {"policy": "sjf", "ratio": 1.0},
        "devices": [{"rate_bps": 5e6, "max_stage": 2}],
    }
    scenario = Scenario.from_dict(raw)
    # one device alone: total delay at p = 0, 1, 2
    delays = [evaluate(scenario, [p]).total for p in range(3)]
    best = int(np.argmin(delays))
    assert is_local_optimum(scenario, [best], "total", "any")
    worst = int(np.argmax(delays))
    assert not is_local_optimum(scenario, [worst], "total", "any")
    with pytest.raises(InputError, match="^moves: unknown move kind"):
        is_local_optimum(scenario, [0], "total", "jump")


@given(
    scenario_dicts(max_devices=3, max_stages=3, policies=("rr",)),
    st.sampled_from(["total", "variance", "max"]),
)
def test_rr_and_timeline_exhaustive_match_an_evaluate_loop(raw, objective):
    """Exhaustive search under round-robin and under the timeline model against the oracle
    that calls evaluate() on every vector."""
    scenario = Scenario.from_dict(raw)
    for model in ("snapshot", "timeline"):
        found = solve(scenario, objective=objective, solver="exhaustive", model=model)
        assert close(found.value, brute_force(scenario, objective, model))


@given(scenario_dicts(max_devices=4), st.sampled_from(["total", "variance", "max"]))
def test_every_solver_honours_the_lowest_point(raw, objective):
    for device in raw["devices"]:
        device["min_stage"] = min(1, device["max_stage"])
    scenario = Scenario.from_dict(raw)
    for name in (
        "greedy",
        "local-search",
        "exhaustive",
        "exact",
        "optimal",
        "max-local",
        "all-offload",
        "independent",
    ):
        try:
            found = solve(scenario, objective=objective, solver=name)
        except SolverRefusal:
            continue
        assert np.all(found.partition >= scenario.min_stage), name
        assert np.all(found.partition <= scenario.max_stage), name
    best = solve(scenario, objective=objective, solver="exhaustive")
    assert close(best.value, brute_force(scenario, objective))


def test_a_misspelt_option_is_refused():
    scenario = paper_scenario(3, 1)
    with pytest.raises(InputError, match="^restart: not an option of any solver"):
        solve(scenario, solver="local-search", restart=3)
    with pytest.raises(InputError, match="^restarts: must be at least 0"):
        solve(scenario, solver="local-search", restarts=-1)


SLOW_DEVICE_AHEAD_UNDER_PS = {
    # device 0 is slow locally and has little BS work: under ps the last device's task adds
    # device 0's own work to device 0's delay, which is then the largest
    "profile": {
        "input_bytes": 1000,
        "stages": [
            {"name": "s0", "device_s": 0.125, "output_bytes": 1000},
            {"name": "s1", "device_s": 0.125, "output_bytes": 1000},
            {"name": "s2", "device_s": 0.0, "output_bytes": 1000},
        ],
    },
    "bs": {"policy": "ps", "ratio": 1.0, "quantum_s": 0.005},
    "local_delay": "paper",
    "devices": [
        {
            "background": 1,
            "quantum_s": 0.005,
            "min_stage": 1,
            "max_stage": 1,
            "rate_bps": 4.5e6,
            "speed": 0.5,
        },
        {
            "background": 0,
            "quantum_s": 0.005,
            "min_stage": 0,
            "max_stage": 2,
            "rate_bps": 4.5e6,
            "speed": 0.5,
        },
    ],
}


@example(SLOW_DEVICE_AHEAD_UNDER_PS)
@given(scenario_dicts(max_devices=5, max_stages=3, policies=("sjf", "ps")))
def test_compiled_exhaustive_max_equals_brute_force(raw):
    """The kernel's largest delay (prefix and suffix maxima) against an evaluate loop."""
    scenario = Scenario.from_dict(raw)
    found = solve(scenario, objective="max", solver="exhaustive")
    assert found.optimal
    assert close(found.value, brute_force(scenario, "max"))
    assert close(found.evaluation.max, found.value)
