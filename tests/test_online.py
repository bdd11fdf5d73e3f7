"""Online partitioning: traces, the dynamic scenario, the simulation, controllers, regret.

Hand-made worlds with known answers (a rate drop at a known time gives a known
re-partition; with nothing changing every model-driven controller is the static one), the
simulation against the timeline model, regret against a certified oracle never negative,
and the hostile inputs of every field kind (empty traces, non-monotone times, negative or
NaN rates, huge files) refused in one line naming the field.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnnsplit import InputError, Scenario, evaluate, paper_scenario, solve
from dnnsplit.online import (
    Arrivals,
    Dynamics,
    OnlineScenario,
    RateTrace,
    Requests,
    Stay,
    TraceSpec,
    read_mahimahi,
    read_rate_csv,
    read_trace,
    simulate,
    two_state,
)
from dnnsplit.online import traces as trace_module
from dnnsplit.online.api import SIMULATE_PARAMETERS
from dnnsplit.online.dynamics import (
    ARRIVAL_FIELDS,
    ONLINE_FIELDS,
    REQUEST_FIELDS,
    STAY_FIELDS,
    TRACE_FIELDS,
    snapshot,
)
from dnnsplit.online.regret import oracle
from hostile import assert_refused, run

# --- rate traces ------------------------------------------------------------------------


def test_a_transmission_spanning_a_rate_change_ends_when_its_bits_are_carried():
    trace = RateTrace(np.array([0.0, 2.0]), np.array([10e6, 1e6]))
    assert trace.rate_at(1.999) == 10e6 and trace.rate_at(2.0) == 1e6
    # 10 Mbit from t = 1: 10 Mbit/s for 1 s carries 10 Mbit... exactly at 2
    assert trace.finish(1.0, 10e6) == pytest.approx(2.0)
    # 15 Mbit from t = 1: 10 by t = 2, the other 5 at 1 Mbit/s: t = 7
    assert trace.finish(1.0, 15e6) == pytest.approx(7.0)
    assert trace.finish(5.0, 0.0) == 5.0


def test_a_repeating_trace_wraps_and_its_offset_rotates_it():
    trace = RateTrace(np.array([0.0, 1.0]), np.array([2.0, 4.0]), period_s=3.0)  # bit/s
    # a lap carries 2·1 + 4·2 = 10 bits
    assert trace.finish(0.0, 10.0) == pytest.approx(3.0)
    assert trace.finish(0.0, 12.0) == pytest.approx(4.0)  # and 2 more at 2 bit/s
    assert trace.rate_at(3.5) == 2.0 and trace.rate_at(4.5) == 4.0
    shifted = trace.at_offset(2.0)
    assert [shifted.rate_at(t) for t in (0.5, 1.5, 2.5)] == [4.0, 2.0, 4.0]
    times, rates = trace.changes(7.0)
    assert times.tolist() == [0.0, 1.0, 3.0, 4.0, 6.0] and rates.tolist() == [2, 4, 2, 4, 2]


def test_two_state_traces_are_seeded_and_alternate():
    a = two_state(10e6, 1e6, 5.0, 2.0, 600.0, np.random.default_rng(3))
    b = two_state(10e6, 1e6, 5.0, 2.0, 600.0, np.random.default_rng(3))
    assert np.array_equal(a.times_s, b.times_s) and np.array_equal(a.rates_bps, b.rates_bps)
    assert set(a.rates_bps.tolist()) == {10e6, 1e6}
    assert np.all(a.rates_bps[1:] != a.rates_bps[:-1])
    good = np.diff(np.append(a.times_s, 600.0))[a.rates_bps == 10e6].sum() / 600.0
    assert 0.55 < good < 0.85  # stationary share 5/7


def test_a_rate_csv_and_a_mahimahi_trace_are_read(tmp_path):
    csv = tmp_path / "walk.csv"
    csv.write_text("time_s,rate_mbit\n0,20\n1.5,20\n4,2.5\n")
    trace = read_rate_csv(csv)
    assert trace.times_s.tolist() == [0.0, 4.0] and trace.rates_bps.tolist() == [20e6, 2.5e6]
    assert trace.period_s is None
    mahimahi = tmp_path / "link.trace"
    # a packet every ms in the first second, none in the next, one in the last 0.5 s
    stamps = [*range(0, 1000), 2200, 2500]
    mahimahi.write_text("\n".join(map(str, stamps)) + "\n")
    trace = read_mahimahi(mahimahi, window_s=1.0)
    assert trace.period_s == 2.5
    bits = trace_module.MAHIMAHI_PACKET_BITS
    # the stamp at the period's end is the next lap's 0 (as mm-link replays it); an empty
    # window gets one packet
    assert trace.rates_bps.tolist() == [1001 * bits, 1 * bits, 1 * bits / 0.5]
    assert read_trace(mahimahi).period_s == 2.5 and read_trace(csv).period_s is None


def refused(call, field: str, words: str = "") -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.field == field, caught.value
    assert words in caught.value.problem, caught.value
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("time_s,rate_mbit\n", "empty"),
        ("rate,time\n0,1\n", "header"),
        ("time_s,rate_mbit\n1,5\n", "line 2: time_s must be 0"),
        ("time_s,rate_mbit\n0,5\n3,5\n2,5\n", "line 4: time_s must exceed"),
        ("time_s,rate_mbit\n0,5\n3,5\n3,5\n", "line 4: time_s must exceed"),
        ("time_s,rate_mbit\n0,-5\n", "line 2: rate_mbit must be positive"),
        ("time_s,rate_mbit\n0,0\n", "rate_mbit must be positive"),
        ("time_s,rate_mbit\n0,nan\n", "rate_mbit must be positive"),
        ("time_s,rate_mbit\n0,5\nnan,5\n", "line 3: time_s"),
        ("time_s,rate_mbit\n0,5,7\n", "needs two values"),
        ("time_s,rate_mbit\n0,five\n", "not two numbers"),
    ],
)
def test_a_bad_rate_csv_is_refused_naming_the_field_and_line(tmp_path, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    refused(lambda: read_rate_csv(path, "online.trace.path"), "online.trace.path", words)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("\n\n", "empty"),
        ("5\n3\n", "line 2: timestamps must not decrease"),
        ("1\n-4\n", "line 2: must be a whole number"),
        ("1\n2.5\n", "line 2: must be a whole number"),
        ("1 2\n", "line 1: must be a whole number"),
        ("0\n0\n", "above 0 ms"),
        ("1\n" + "9" * 13 + "\n", "line 2"),
    ],
)
def test_a_bad_mahimahi_trace_is_refused_naming_the_field_and_line(tmp_path, text, words):
    path = tmp_path / "bad.trace"
    path.write_text(text)
    refused(lambda: read_mahimahi(path, 1.0, "--trace"), "--trace", words)


def test_a_huge_trace_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    path = tmp_path / "huge.trace"
    path.write_text("\n".join(str(k) for k in range(1, 2001)) + "\n")
    monkeypatch.setattr(trace_module, "MAX_TRACE_LINES", 1000)
    refused(lambda: read_mahimahi(path, 1.0, "--trace"), "--trace", "more than 1,000 lines")
    refused(lambda: read_rate_csv(path, "--trace"), "--trace", "more than 1,000 lines")
    monkeypatch.setattr("dnnsplit._checks.MAX_FILE_BYTES", 100)
    refused(lambda: read_trace(path, 1.0, "--trace"), "--trace", "larger than")


def test_a_rate_trace_built_directly_is_checked():
    for times, rates in (([0.0, 1.0, 1.0], [1, 2, 3]), ([1.0], [1.0]), ([0.0], [-1.0]), ([], [])):
        refused(lambda t=times, r=rates: RateTrace(np.array(t), np.array(r)), "trace")
    refused(lambda: RateTrace(np.array([0.0, 2.0]), np.array([1.0, 1.0]), 2.0), "trace", "period")


# --- the dynamic scenario -----------------------------------------------------------------

BASE = {
    "profile": "alexnet-pi3b-estimated",
    "bs": {"policy": "sjf", "ratio": 10},
    "devices": [
        {"max_stage": 8, "rate_bps": 20e6, "background": 1},
        {"max_stage": 6, "rate_bps": 10e6},
        {"max_stage": 5, "rate_bps": 5e6},
    ],
}


def with_online(**online) -> dict:
    return {**BASE, "online": online}


@pytest.mark.parametrize(
    ("online", "field"),
    [
        ({"horizon_s": 0}, "online.horizon_s"),
        ({"switch_s": -1}, "online.switch_s"),
        ({"speed": 1}, "online.speed"),
        ({"trace": {"kind": "walk"}}, "online.trace.kind"),
        ({"trace": {"kind": "two-state", "bad_factor": 2}}, "online.trace.bad_factor"),
        ({"trace": {"kind": "two-state", "mean_bad_s": math.nan}}, "online.trace.mean_bad_s"),
        ({"trace": {"kind": "constant", "path": "x.csv"}}, "online.trace.path"),
        ({"trace": {"kind": "csv"}}, "online.trace.path"),
        ({"trace": {"kind": "csv", "path": "no-such.csv"}}, "online.trace.path"),
        ({"trace": [{}, {}]}, "online.trace"),
        (
            {"trace": [{}, {}, {"kind": "mahimahi", "path": "x", "window_s": 0}]},
            "online.trace[2].window_s",
        ),
        ({"requests": {"kind": "poisson", "period_s": 0}}, "online.requests.period_s"),
        ({"arrivals": {"kind": "poisson", "initial": 4}}, "online.arrivals.initial"),
        ({"arrivals": {"kind": "poisson", "rate_per_s": -1}}, "online.arrivals.rate_per_s"),
        ({"arrivals": {"kind": "none", "initial": 1}}, "online.arrivals.initial"),
        ({"arrivals": {"kind": "schedule"}}, "online.arrivals.stays"),
        (
            {"arrivals": {"kind": "schedule", "stays": [{"join_s": 0}]}},
            "online.arrivals.stays[0].device",
        ),
        (
            {"arrivals": {"kind": "schedule", "stays": [{"device": 3, "join_s": 0}]}},
            "online.arrivals.stays[0].device",
        ),
        (
            {"arrivals": {"kind": "schedule", "stays": [{"device": 0, "join_s": 5, "leave_s": 5}]}},
            "online.arrivals.stays[0].leave_s",
        ),
        (
            {
                "arrivals": {
                    "kind": "schedule",
                    "stays": [
                        {"device": 0, "join_s": 0, "leave_s": 10},
                        {"device": 0, "join_s": 9},
                    ],
                }
            },
            "online.arrivals.stays[1].join_s",
        ),
    ],
)
def test_a_bad_online_block_is_refused_naming_the_field(online, field):
    refused(lambda: OnlineScenario.from_dict(with_online(**online)), field)


def test_fcfs_is_refused_where_controllers_need_the_snapshot_model():
    raw = {**BASE, "bs": {"policy": "fcfs", "ratio": 10}}
    refused(lambda: OnlineScenario.from_dict(raw), "bs.policy", "snapshot")


@pytest.mark.parametrize(
    ("kind", "table", "prefix"),
    [
        (TraceSpec, TRACE_FIELDS, "trace."),
        (Arrivals, ARRIVAL_FIELDS, "arrivals."),
        (Requests, REQUEST_FIELDS, "requests."),
        (Dynamics, ONLINE_FIELDS, ""),
    ],
)
def test_every_declared_field_refuses_its_invalid_values(kind, table, prefix):
    for name, constraint in table.items():
        for bad in constraint.invalid():
            refused(lambda n=name, b=bad: kind(**{n: b}), prefix + name)
    for name, constraint in STAY_FIELDS.items():
        for bad in constraint.invalid():
            values = {"device": 0, "join_s": 0.0, name: bad}
            refused(lambda v=values: Stay(**v), "stay." + name)


def test_a_file_round_trips_and_traces_are_read_from_its_folder(tmp_path):
    (tmp_path / "walk.csv").write_text("time_s,rate_mbit\n0,20\n30,2\n")
    raw = with_online(
        horizon_s=120,
        trace={"kind": "csv", "path": "walk.csv", "offset_s": 10},
        arrivals={"kind": "poisson", "rate_per_s": 0.05, "mean_stay_s": 30, "initial": 2},
    )
    path = tmp_path / "sc.json"
    path.write_text(json.dumps(raw))
    online = OnlineScenario.from_file(path)
    world = online.dynamics.world(online.scenario, 0)
    assert world.traces[0].rate_at(25.0) == 2e6  # 35 s into the file
    again = online.to_dict()["online"]
    assert again["trace"] == {"kind": "csv", "path": "walk.csv", "offset_s": 10.0}
    assert again["arrivals"]["initial"] == 2


def test_the_world_is_a_pure_function_of_the_seed_and_states_change_at_every_event():
    online = OnlineScenario.from_dict(
        with_online(
            horizon_s=300,
            trace={"kind": "two-state", "mean_good_s": 20, "mean_bad_s": 5},
            arrivals={"kind": "poisson", "rate_per_s": 0.05, "mean_stay_s": 40, "initial": 1},
        )
    )
    a = online.dynamics.world(online.scenario, 4)
    b = online.dynamics.world(online.scenario, 4)
    assert a.stays == b.stays
    ia, ib = a.intervals, b.intervals
    assert np.array_equal(ia.times, ib.times) and np.array_equal(ia.rates, ib.rates)
    assert ia.times[0] == 0 and np.all(np.diff(ia.times) > 0) and ia.ends[-1] == 300
    seen = np.where(ia.present, ia.rates, 0)
    assert np.all(np.any((seen[1:] != seen[:-1]) | (ia.present[1:] != ia.present[:-1]), axis=1))
    for device, stays in enumerate(a.stays):  # stays apart, and requests only within them
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(stays))
        times = a.request_times(device)
        assert all(any(join <= t < leave for join, leave in stays) for t in times)


def test_poisson_arrivals_are_lost_when_the_pool_is_full():
    arrivals = Arrivals(kind="poisson", rate_per_s=10.0, mean_stay_s=1e7, initial=2)
    stays = arrivals.draw(3, 100.0, np.random.default_rng(0))
    assert [len(s) for s in stays] == [1, 1, 1]  # the third joins early; the rest are lost
    assert stays[0][0] == (0.0, 100.0) and stays[2][0][0] < 1.0


# --- the simulation -----------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["sjf", "rr", "ps"])
@pytest.mark.parametrize("seed", [1, 2])
def test_one_frame_of_every_device_is_the_timeline_model(policy, seed):
    """All devices present at constant rates, asking together once: each request's delay
    is the timeline model's delay of the vector in force."""
    scenario = paper_scenario(6, seed, ratio=10, policy=policy)
    dynamics = Dynamics(requests=Requests(period_s=50.0), horizon_s=40.0)
    run = simulate(OnlineScenario(scenario, dynamics), controller="static", regret=False)
    requests = run.trajectory.requests.sort_values("device")
    expected = evaluate(scenario, run.trajectory.in_force[0], model="timeline")
    assert np.allclose(requests.delay_s, expected.delays, rtol=1e-12, atol=1e-12)
    assert np.allclose(requests.bs_s, expected.remote, rtol=1e-12, atol=1e-12)


def test_the_bs_serves_a_hand_made_trace_under_each_policy():
    """Two tasks of 1 s and 0.5 s reaching the BS at 0 and 0.2 s."""
    import simpy

    from dnnsplit.online.simulation import BaseStation

    def served(policy: str) -> list:
        env = simpy.Environment()
        bs = BaseStation(env, policy, 0.3)
        done = []

        def task(name, at, work):
            yield env.timeout(at)
            finish = yield bs.submit(work)
            done.append((name, round(finish, 9)))

        env.process(task("a", 0.0, 1.0))
        env.process(task("b", 0.2, 0.5))
        env.run()
        return done

    assert served("sjf") == [("a", 1.0), ("b", 1.5)]  # non-preemptive
    # rr, quantum 0.3: a 0–0.3, b 0.3–0.6, a 0.6–0.9, b 0.9–1.1, a 1.1–1.5
    assert served("rr") == [("b", 1.1), ("a", 1.5)]
    # ps: a alone to 0.2 (0.8 left), then both at half speed: b's 0.5 takes 1.0 → 1.2
    assert served("ps") == [("b", 1.2), ("a", 1.5)]


def one_device(rate_after: float, *, switch_s: float = 1.0) -> OnlineScenario:
    """One device whose 50 Mbit/s uplink drops to ``rate_after`` at t = 10 s."""
    trace = RateTrace(np.array([0.0, 10.0]), np.array([50e6, rate_after]))
    dynamics = Dynamics(
        traces=(TraceSpec.of_file(trace),),
        switch_s=switch_s,
        horizon_s=30.0,
        requests=Requests(period_s=1.0),
    )
    scenario = Scenario.from_dict({**BASE, "devices": [BASE["devices"][0]]})
    return OnlineScenario(scenario, dynamics)


@pytest.mark.parametrize(
    ("controller", "solver"),
    [
        ("resolve", "greedy"),
        ("resolve", "local-search"),
        ("resolve", "optimal"),
        ("repair", "greedy"),
    ],
)
def test_one_rate_drop_at_a_known_time_gives_the_known_repartition(controller, solver):
    online = one_device(0.5e6)
    world = online.dynamics.world(online.scenario, 0)
    before = snapshot(online.scenario, np.array([True]), np.array([50e6]))
    after = snapshot(online.scenario, np.array([True]), np.array([0.5e6]))
    best = int(solve(after, solver="exhaustive").partition[0])
    assert best == 8  # at 0.5 Mbit/s the device keeps everything
    # re-solving finds what its solver finds (greedy stops at 6); repair's best response
    # of the touched device is the best point
    by = "exhaustive" if controller == "repair" else solver
    first = int(solve(before, solver=by).partition[0])
    second = int(solve(after, solver=by).partition[0])
    assert first < second and (second == best or solver == "greedy")
    cost = 1e-3
    run = simulate(world, controller=controller, solver=solver, seconds_per_evaluation=cost)
    decided = run.trajectory.decisions.iloc[1]
    assert decided.time_s == 10.0 and decided.switches == 1
    applied = 10.0 + decided.evaluations * cost
    assert decided.applied_s == pytest.approx(applied)
    trajectory = run.trajectory
    assert trajectory.in_force.tolist() == [[first], [second]]
    assert trajectory.in_force_times.tolist() == pytest.approx([0.0, applied + 1.0])
    # from the drop until the switch is done the old point costs; after it, only a solver
    # that misses the optimum (greedy) does
    pieces = run.regret
    assert pieces.certified.all()
    lag = pieces[(pieces.start_s >= 10) & (pieces.end_s <= applied + 1 + 1e-9)]
    assert lag.start_s.iloc[0] == 10 and (lag.value > lag.best).all()
    after = pieces[pieces.start_s >= applied + 1 - 1e-9]
    assert np.allclose(after.value, after.best, rtol=1e-12) == (second == best)
    static = simulate(world, controller="static", solver=solver)
    assert static.trajectory.in_force.tolist() == [[first]]


CONTROLLERS = [(c, s) for c in ("resolve", "repair") for s in ("greedy", "local-search", "optimal")]


@pytest.mark.parametrize("objective", ["total", "variance", "max"])
def test_with_nothing_changing_every_controller_is_the_static_one(objective):
    """The bandit is left out: it sees no rates, so it must try its arms."""
    scenario = paper_scenario(5, 3, ratio=5)
    world = Dynamics(horizon_s=60.0).world(scenario, 0)
    assert len(world.intervals) == 1
    for solver in ("greedy", "local-search", "optimal"):
        static = simulate(world, controller="static", solver=solver, objective=objective)
        for controller in ("resolve", "repair"):
            run = simulate(world, controller=controller, solver=solver, objective=objective)
            assert run.trajectory.in_force.tolist() == static.trajectory.in_force.tolist()
            assert run.trajectory.requests.equals(static.trajectory.requests)
            assert run.regret.equals(static.regret)


def small_world(seed: int, policy: str, n: int = 4):
    scenario = paper_scenario(n, seed, ratio=5, policy=policy)
    dynamics = Dynamics(
        arrivals=Arrivals(kind="poisson", rate_per_s=0.1, mean_stay_s=20.0, initial=2),
        traces=(TraceSpec(kind="two-state", mean_good_s=8.0, mean_bad_s=4.0),),
        switch_s=0.3,
        horizon_s=60.0,
    )
    return dynamics.world(scenario, seed)


@settings(max_examples=12)
@given(
    seed=st.integers(0, 10_000),
    policy=st.sampled_from(["sjf", "rr", "ps"]),
    objective=st.sampled_from(["total", "variance", "max"]),
)
def test_regret_against_a_certified_oracle_is_never_negative(seed, policy, objective):
    world = small_world(seed, policy)
    for controller in ("static", "resolve", "repair", "bandit"):
        run = simulate(world, controller=controller, objective=objective, solver="greedy")
        pieces = run.regret
        assert pieces.certified.all()
        assert (pieces.value >= pieces.best - 1e-9 * np.maximum(1.0, pieces.best)).all()
        assert (np.diff(pieces.cumulative) >= -1e-9).all()


@pytest.mark.parametrize("objective", ["total", "variance", "max"])
def test_the_oracle_is_brute_force_where_it_certifies(objective):
    world = small_world(5, "rr")
    for k in range(0, len(world.intervals), 7):
        best, bound, certified = oracle(world, k, objective, max_nodes=20_000)
        present = world.intervals.present[k]
        if not present.any():
            continue
        state = snapshot(world.scenario, present, world.intervals.rates[k])
        assert certified and bound <= best + 1e-12
        assert best == pytest.approx(solve(state, objective=objective, solver="exhaustive").value)


def test_a_run_is_the_same_twice_and_switching_waits_its_delay():
    world = small_world(7, "sjf")
    a = simulate(world, controller="repair", seconds_per_evaluation=0.0)
    b = simulate(small_world(7, "sjf"), controller="repair", seconds_per_evaluation=0.0)
    assert a.trajectory.requests.equals(b.trajectory.requests)
    assert a.regret.equals(b.regret) and a.trajectory.decisions.equals(b.trajectory.decisions)
    summary = a.summary()
    assert summary["regret"] == pytest.approx(a.regret.regret.sum())
    # with no decision time, a point comes into force exactly switch_s after its decision
    decided = a.trajectory.decisions[a.trajectory.decisions.switches > 0].applied_s.to_numpy()
    forced = a.trajectory.in_force_times[1:]
    assert set(np.round(forced, 9)) <= set(np.round(decided + world.switch_s, 9))


def test_the_bandit_learns_the_best_point_of_a_lone_device():
    online = one_device(50e6, switch_s=0.0)  # no drop: a constant uplink
    online = replace(online, dynamics=replace(online.dynamics, horizon_s=200.0))
    run = simulate(online, controller="bandit", epsilon=0.0, regret=True)
    alone = snapshot(online.scenario, np.array([True]), np.array([50e6]))
    best = int(solve(alone, solver="exhaustive").partition[0])
    tried = run.trajectory.requests.point.tolist()
    assert tried[:9] == list(range(8, -1, -1))  # every arm once, the highest first
    assert set(tried[9:]) == {best}
    assert run.regret[run.regret.start_s > 10].regret.sum() == pytest.approx(0.0, abs=1e-12)


# --- the public boundaries ---------------------------------------------------------------


def test_every_simulate_parameter_refuses_its_invalid_values():
    online = one_device(1e6)
    for name, constraint in SIMULATE_PARAMETERS.items():
        for bad in constraint.invalid():
            if name == "scenario":
                refused(lambda b=bad: simulate(b), "scenario")
            else:
                refused(lambda n=name, b=bad: simulate(online, **{n: b}), name)
    world = online.dynamics.world(online.scenario, 0)
    refused(lambda: simulate(world, seed=1), "seed")
    refused(lambda: simulate(world, horizon_s=5.0), "horizon_s")


def test_the_command_line_prints_a_summary_and_refuses_bad_input(tmp_path, capsys):
    path = tmp_path / "sc.json"
    path.write_text(json.dumps(with_online(horizon_s=60, trace={"kind": "two-state"})))
    status, out, err = run(capsys, "online", path, "--controller", "resolve", "--horizon", "30")
    assert status == 0, err
    summary = json.loads(out)
    assert summary["controller"] == "resolve (greedy)" and summary["horizon_s"] == 30
    assert summary["certified_share"] == 1.0 and summary["regret"] >= 0
    trace = tmp_path / "walk.csv"
    trace.write_text("time_s,rate_mbit\n0,20\n10,0.5\n")
    status, out, err = run(capsys, "online", path, "--trace", trace, "--no-regret")
    assert status == 0 and "regret" not in json.loads(out)
    for argv, field in [
        (["--horizon", "-1"], "--horizon"),
        (["--seed", "-3"], "--seed"),
        (["--max-nodes", "0"], "--max-nodes"),
        (["--switch", "nan"], "--switch"),
        (["--trace", str(tmp_path / "none.csv")], "--trace"),
        (["--window", "0", "--trace", str(trace)], "--window"),
    ]:
        assert_refused(*run(capsys, "online", path, *argv), field)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(with_online(trace={"kind": "two-state", "mean_good_s": -1})))
    assert_refused(*run(capsys, "online", bad), "online.trace.mean_good_s")


# --- the study (notebook 10) ------------------------------------------------------------


def test_the_plan_shrinks_a_quick_run_and_refuses_bad_values():
    from dnnsplit.paper import online as study

    plan = study.plan([8, 12], range(4), ["total"], [5, 50], [0, 1, 2], study.Study(), quick=True)
    assert (plan.devices, plan.seeds, plan.decision_devices) == ((4,), (0, 1), (5, 10))
    assert plan.study.horizon_s == 60.0 and plan.decision_seeds == (0, 1)
    refused(lambda: study.plan([8], [0], ["speed"], [5], [0], study.Study()), "objectives[0]")
    refused(lambda: study.plan([0], [0], ["total"], [5], [0], study.Study()), "devices[0]")
    refused(lambda: study.Study(bad_factor=2.0), "bad_factor")
    refused(lambda: study.Study(max_nodes=0), "max_nodes")


def test_the_benchmark_times_the_decisions_the_study_models():
    from dnnsplit.paper import online as study

    scenario, chosen = paper_scenario(3, 2, ratio=10), study.DECIDING[::3]
    shared = list(study.decision_runs(scenario, 2, study.Study(), chosen))
    fresh = list(study.decision_runs(scenario, 2, study.Study(), chosen, fresh_world=True))
    assert [name for name, _ in shared] == ["resolve (greedy)", "repair (greedy)"]
    assert shared[0][1].world is shared[1][1].world and fresh[0][1].world is not fresh[1][1].world
    for (_, one), (_, other) in zip(shared, fresh, strict=True):
        assert one.world.horizon_s == study.DECISION_HORIZON_S and one.regret is None
        assert len(one.trajectory.decisions) > 1  # the uplinks changed
        columns = ["time_s", "evaluations", "modelled_s"]
        assert one.trajectory.decisions[columns].equals(other.trajectory.decisions[columns])


@pytest.mark.notebook
def test_notebook_10_runs_and_writes_the_same_bytes_twice(tmp_path):
    from conftest import exec_notebook
    from dnnsplit.paper import online as study
    from dnnsplit.paper import report
    from dnnsplit.paper.runner import NOTEBOOKS, run_notebook
    from dnnsplit.paths import NOTEBOOKS_DIR

    assert NOTEBOOKS.index("10_online.ipynb") < NOTEBOOKS.index("07_reproduction_report.ipynb")
    first, second = tmp_path / "first", tmp_path / "second"
    parameters = {"quick": True, "devices": [3], "decision_devices": [3, 4]}
    run_notebook(
        NOTEBOOKS_DIR / "10_online.ipynb",
        tmp_path / "10.ipynb",
        {**parameters, "output_dir": str(first)},
    )
    exec_notebook("10_online.ipynb", {**parameters, "output_dir": str(second)})
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for figure in study.FIGURES:
        assert {f"{figure}.csv", f"{figure}.png", f"{figure}.caption.md"} <= set(names)
    if study.testbed_measurement() is not None:  # the committed one, redrawn by every run
        assert {"online_testbed.png", "online_testbed_summary.csv"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    executed = json.loads((tmp_path / "10.ipynb").read_text())
    drawing = [
        c for c in executed["cells"] if re.search(r"= online\.\w*_figure\(", "".join(c["source"]))
    ]
    assert len(drawing) == 3 and all(
        any("image/png" in o.get("data", {}) for o in c["outputs"]) for c in drawing
    )
    import pandas as pd

    summary = pd.read_csv(first / "online_regret_summary.csv")
    certified = stats_of(summary, "certified_share")
    assert (certified == 1).all()  # N = 3: every state certified, so no negative regret
    assert (stats_of(summary, "regret", "min") >= -1e-9).all()
    section = study.report_section(first)
    assert section.startswith("## Beyond the paper: online partitioning")
    assert "A quick run" in section and re.search(r"\| repair \(greedy\) +\|", section)
    assert study.report_section(tmp_path / "nothing-here") == ""
    assert "## Beyond the paper: online partitioning" in report.build_report(first)


def stats_of(summary, metric: str, column: str = "mean"):
    return summary[summary.metric == metric][column]
