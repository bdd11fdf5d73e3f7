"""The device energy model (docs/model.md, "Energy"): hand-computed values on traces, the
energy objective and constraints against brute force (exhaustive search, the certifying
solver and its search alone, the heuristics), the front of the delay–energy trade-off,
bad values, and the paper layer's study (dnnsplit.paper.energy)."""

from __future__ import annotations

import copy
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import scenario_dicts
from dnnsplit import (
    InputError,
    Power,
    Scenario,
    SolverRefusal,
    evaluate,
    is_local_optimum,
    paper_scenario,
    solve,
)
from dnnsplit.cli import main
from dnnsplit.evaluate import batch_outcomes
from dnnsplit.model import ENERGY_TOLERANCE_J, MAX_POWER_W
from dnnsplit.scenario import DEFAULT_CPU_W, DEFAULT_IDLE_W, DEFAULT_TX_W
from dnnsplit.solvers import exhaustive_front, start_vector
from dnnsplit.solvers._moves import FullMoves, IncrementalTotalMoves, improve, make_moves

# --- a hand-made trace ------------------------------------------------------------------

#: Two stages (0.1 s and 0.2 s on the profiled device), R = 10, SJF; device 0 shares its CPU
#: with one background process and sends at 80 kbit/s; device 1 runs twice as fast, sends
#: at 160 kbit/s and has its own CPU power. Powers: 5 W computing, 2 W sending, 1 W idle.
TRACE = {
    "profile": {
        "input_bytes": 2000,
        "stages": [
            {"name": "a", "device_s": 0.1, "output_bytes": 1000},
            {"name": "b", "device_s": 0.2, "output_bytes": 500},
        ],
    },
    "bs": {"policy": "sjf", "ratio": 10.0},
    "power": {"cpu_w": 5.0, "tx_w": 2.0, "idle_w": 1.0},
    "devices": [
        {"background": 1, "quantum_s": 0.01, "max_stage": 2, "rate_bps": 80_000},
        {"max_stage": 2, "rate_bps": 160_000, "speed": 2.0, "power": {"cpu_w": 3.0}},
    ],
}


def test_energy_on_a_hand_made_trace():
    """p = (1, 0): device 0 computes stage a (C = 0.1 s; its local delay, 0.19 s, includes
    the background process's turns, which are not its task's), sends 1000 bytes (0.1 s)
    and waits 0.02 s at the BS (its stage b, first under SJF); device 1 sends the input
    (16,000 bits at 160 kbit/s: 0.1 s) and waits 0.02 + 0.03 s."""
    ev = evaluate(Scenario.from_dict(TRACE), [1, 0])
    assert ev.local.tolist() == pytest.approx([0.19, 0.0])
    assert ev.remote.tolist() == pytest.approx([0.02, 0.05])
    assert ev.energy_cpu.tolist() == pytest.approx([5.0 * 0.1, 0.0])
    assert ev.energy_tx.tolist() == pytest.approx([2.0 * 0.1, 2.0 * 0.1])
    assert ev.energy_idle.tolist() == pytest.approx([1.0 * 0.02, 1.0 * 0.05])
    assert ev.energies.tolist() == pytest.approx([0.72, 0.25])
    assert ev.energy == pytest.approx(0.97)
    assert ev.objective("energy") == pytest.approx(0.97)


def test_all_local_costs_only_the_cpu_and_device_power_overrides_field_by_field():
    """At p = S only P_cpu·C remains; device 1's own cpu_w (3 W) replaces the scenario's,
    its other powers stay the scenario's."""
    scenario = Scenario.from_dict(TRACE)
    ev = evaluate(scenario, [2, 2])
    assert ev.energies.tolist() == pytest.approx([5.0 * 0.3, 3.0 * 0.3 / 2.0])
    assert ev.energy_tx.tolist() == [0.0, 0.0] and ev.energy_idle.tolist() == [0.0, 0.0]
    assert scenario.device_power(1) == Power(cpu_w=3.0, tx_w=2.0, idle_w=1.0)
    assert scenario.device_power(0) == Power(cpu_w=5.0, tx_w=2.0, idle_w=1.0)


def test_under_the_timeline_model_the_wait_is_the_timeline_bs_delay():
    """Device 1 reaches the BS at 0.1 s and is served at once (0.03 s); device 0 at 0.29 s
    (0.02 s): under the timeline model each waits only for its own stage."""
    ev = evaluate(Scenario.from_dict(TRACE), [1, 0], model="timeline")
    assert ev.remote.tolist() == pytest.approx([0.02, 0.03])
    assert ev.energies.tolist() == pytest.approx([0.72, 0.2 + 0.03])


def test_the_defaults_are_a_pi_3b_plus_and_drawn_scenarios_use_them():
    assert Power() == Power(cpu_w=DEFAULT_CPU_W, tx_w=DEFAULT_TX_W, idle_w=DEFAULT_IDLE_W)
    assert (DEFAULT_CPU_W, DEFAULT_TX_W, DEFAULT_IDLE_W) == (5.1, 2.9, 1.9)
    tables = paper_scenario(4, 2).tables
    assert tables.cpu_power.tolist() == [5.1] * 4 and tables.idle_power.tolist() == [1.9] * 4
    raw = copy.deepcopy(TRACE)
    del raw["power"]
    assert Scenario.from_dict(raw).device_power(0) == Power()


def test_a_scenario_round_trips_with_its_power_and_budgets():
    raw = copy.deepcopy(TRACE)
    raw["devices"][0]["energy_budget_j"] = 0.8
    scenario = Scenario.from_dict(raw)
    again = Scenario.from_dict(json.loads(json.dumps(scenario.to_dict())))
    assert again.to_dict() == scenario.to_dict()
    assert again.devices[0].energy_budget_j == 0.8 and again.devices[1].power == Power(
        3.0, 2.0, 1.0
    )


def test_a_budget_is_a_constraint_like_a_deadline():
    raw = copy.deepcopy(TRACE)
    raw["devices"][0]["energy_budget_j"] = 0.7  # p_0 = 1 costs 0.72 J
    scenario = Scenario.from_dict(raw)
    assert not evaluate(scenario, [1, 0]).feasible
    assert evaluate(scenario, [0, 0]).feasible
    raw["devices"][0]["energy_budget_j"] = 0.72 + ENERGY_TOLERANCE_J / 2
    assert evaluate(Scenario.from_dict(raw), [1, 0]).feasible


# --- bad power values -----------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), MAX_POWER_W * 10, "5", None])
@pytest.mark.parametrize("field", ["cpu_w", "tx_w", "idle_w"])
def test_bad_power_values_are_refused_naming_the_field(field, bad):
    raw = copy.deepcopy(TRACE)
    raw["power"][field] = bad
    with pytest.raises(InputError, match=rf"^power\.{field}: "):
        Scenario.from_dict(raw)
    raw = copy.deepcopy(TRACE)
    raw["devices"][1]["power"] = {field: bad}
    with pytest.raises(InputError, match=rf"^devices\[1\]\.power\.{field}: "):
        Scenario.from_dict(raw)
    with pytest.raises(InputError, match=rf"^power\.{field}: "):
        Power(**{field: bad})


def test_a_power_block_that_is_not_an_object_or_has_unknown_fields_is_refused():
    raw = copy.deepcopy(TRACE)
    raw["power"] = 5
    with pytest.raises(InputError, match=r"^power: must be an object"):
        Scenario.from_dict(raw)
    raw["power"] = {"cpu_watts": 5}
    with pytest.raises(InputError, match=r"^power\.cpu_watts: unknown field"):
        Scenario.from_dict(raw)


# --- solvers against brute force -------------------------------------------------------


def space(scenario: Scenario) -> np.ndarray:
    ranges = [
        range(lo, hi + 1) for lo, hi in zip(scenario.min_stage, scenario.max_stage, strict=True)
    ]
    return np.array(list(itertools.product(*ranges)), dtype=np.int64)


def brute_force(scenario: Scenario, objective: str, cap: float | None = None, model="snapshot"):
    """The least ``objective`` over every feasible vector, by ``evaluate`` one by one (an
    oracle that shares no batch code with the solvers)."""
    best = math.inf
    for vector in space(scenario):
        ev = evaluate(scenario, vector.tolist(), model=model)
        if ev.feasible and (cap is None or ev.energy <= cap + ENERGY_TOLERANCE_J):
            best = min(best, ev.objective(objective))
    return best


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@st.composite
def energy_scenarios(draw, *, policies=("sjf", "ps", "rr"), deadlines=True, budgets=True):
    """Small scenarios with random powers (a device's own block sometimes), deadlines and
    energy budgets (``deadlines`` may be a strategy of booleans)."""
    if not isinstance(deadlines, bool):
        deadlines = draw(deadlines)
    raw = draw(scenario_dicts(max_devices=4, policies=policies, deadlines=deadlines))
    watts = st.sampled_from([0.0, 0.5, 1.9, 2.9, 5.1, 12.0])
    raw["power"] = {"cpu_w": draw(watts), "tx_w": draw(watts), "idle_w": draw(watts)}
    for device in raw["devices"]:
        if draw(st.booleans()):
            device["power"] = {"idle_w": draw(watts)}
        if budgets and draw(st.integers(0, 3)) == 0:
            device["energy_budget_j"] = draw(st.floats(0.05, 2.0))
    return raw


@pytest.mark.parametrize("solver", ["exhaustive", "optimal"])
@settings(max_examples=40)
@given(energy_scenarios(), st.sampled_from(["energy", "total", "variance", "max"]))
def test_certifying_solvers_equal_brute_force_with_energy_and_its_constraints(
    solver, raw, objective
):
    """Energy objective, budgets and deadlines (the strategy draws both, or neither):
    exhaustive search (its compiled kernel for sjf and ps, NumPy for rr) and the certifying
    solver find the optimum an evaluate loop finds, or refuse when nothing is feasible;
    the heuristics never beat it."""
    scenario = Scenario.from_dict(raw)
    best = brute_force(scenario, objective)
    if not np.isfinite(best):
        with pytest.raises(SolverRefusal, match="none of the|no partition vector meets"):
            solve(scenario, objective=objective, solver=solver)
        return
    found = solve(scenario, objective=objective, solver=solver)
    assert found.optimal and found.feasible
    assert close(found.value, best)
    if solver == "optimal":
        assert close(found.extra["lower_bound"], best)
    for heuristic in ("greedy", "local-search"):
        other = solve(scenario, objective=objective, solver=heuristic)
        if other.feasible:
            assert best <= other.value + 1e-9 * max(1.0, abs(other.value)), heuristic


@given(energy_scenarios(deadlines=False, budgets=False), st.floats(0.0, 1.0))
def test_exhaustive_under_an_energy_cap_equals_brute_force(raw, where):
    """Least total delay with total energy at most a cap between the least energy and the
    energy of the least delay (the ε-constraint method)."""
    scenario = Scenario.from_dict(raw)
    low = brute_force(scenario, "energy")
    high = max(low, float(solve(scenario, solver="exhaustive").evaluation.energy))
    cap = low + where * (high - low)
    found = solve(scenario, objective="total", solver="exhaustive", energy_cap=cap)
    assert found.feasible and found.energy_cap == cap
    assert close(found.value, brute_force(scenario, "total", cap=cap))


@given(energy_scenarios(policies=("sjf", "rr")), st.integers(2, 5))
def test_the_front_equals_brute_force_point_by_point(raw, points):
    """Every ε of exhaustive_front (one pass) is the least total delay with energy ≤ ε,
    ties to the least energy, and None where no vector qualifies; the timeline model too."""
    scenario = Scenario.from_dict(raw)
    vectors = space(scenario)
    for model in ("snapshot", "timeline"):
        delays, energies = batch_outcomes(scenario.tables, vectors, model)
        feasible = scenario.tables.excess(delays, energies) == 0
        total, spent = delays.sum(axis=1), energies.sum(axis=1)
        caps = np.linspace(spent.min() * 0.9 + 1e-6, spent.max(), points)
        found = exhaustive_front(scenario, list(caps), model=model)
        for cap, vector in zip(np.sort(caps), found, strict=True):
            ok = feasible & (spent <= cap + ENERGY_TOLERANCE_J)
            if not ok.any():
                assert vector is None
                continue
            best = np.lexsort((spent[ok], total[ok]))[0]
            assert vector is not None
            index = int(np.flatnonzero((vectors == vector).all(axis=1))[0])
            assert close(total[index], total[ok][best]) and close(spent[index], spent[ok][best])


@given(energy_scenarios(deadlines=False), st.sampled_from(["step", "any"]))
def test_greedy_on_energy_ends_at_a_local_optimum_and_never_worse_than_its_start(raw, moves):
    scenario = Scenario.from_dict(raw)
    solver = "greedy" if moves == "step" else "local-search"
    found = solve(scenario, objective="energy", solver=solver)
    begin = evaluate(scenario, start_vector(scenario, "half"))
    if begin.feasible:
        assert found.feasible and found.value <= begin.energy * (1 + 1e-12) + 1e-15
    if found.feasible:
        assert is_local_optimum(scenario, found.partition, "energy", moves=moves)


@given(scenario_dicts(max_devices=6, policies=("sjf", "ps")), st.sampled_from(["step", "any"]))
def test_incremental_moves_equal_full_evaluation_where_a_cap_does_not_bind(raw, moves):
    """With an energy cap greedy scores by full evaluation; with one too large to bind it
    must take exactly the moves of the incremental path, which serves the uncapped case."""
    scenario = Scenario.from_dict(raw)
    p0 = start_vector(scenario, "half")
    fast = make_moves(scenario.tables, p0, moves, "total", "snapshot")
    full = make_moves(scenario.tables, p0, moves, "total", "snapshot", energy_cap=1e12)
    assert isinstance(fast, IncrementalTotalMoves) and isinstance(full, FullMoves)
    for _ in range(200):
        assert fast.scores()[0] == pytest.approx(full.scores()[0], rel=1e-10)
        if improve(fast, max_iterations=1) == 0:
            assert improve(full, max_iterations=1) == 0
            break
        assert improve(full, max_iterations=1) == 1
        assert fast.p.tolist() == full.p.tolist()


def test_energy_and_energy_constraints_take_the_full_evaluation():
    scenario = paper_scenario(5, 1)
    p0 = start_vector(scenario, "half")
    assert isinstance(make_moves(scenario.tables, p0, "step", "energy", "snapshot"), FullMoves)
    raw = scenario.to_dict()
    raw["devices"][0]["energy_budget_j"] = 100.0
    budgeted = Scenario.from_dict(raw).tables
    assert isinstance(make_moves(budgeted, p0, "step", "total", "snapshot"), FullMoves)


# --- refusals, and the command line ----------------------------------------------------


@settings(max_examples=40)
@given(
    energy_scenarios(deadlines=st.booleans()),
    st.sampled_from(["energy", "total", "variance", "max"]),
)
def test_the_level_search_alone_finds_the_optimum_with_energy(raw, objective):
    """Without the heuristics' incumbent the search must find the optimum itself, so an
    energy bound or a budget test that cuts the optimum away shows."""
    from dnnsplit.solvers.optimal import branch_and_bound

    scenario = Scenario.from_dict(raw)
    best = brute_force(scenario, objective)
    outcome = branch_and_bound(scenario.tables, objective, search="levels")
    assert outcome.certified
    if not np.isfinite(best):
        assert outcome.partition is None
        return
    found = evaluate(scenario, outcome.partition)
    assert found.feasible and close(found.objective(objective), best)


def test_optimal_certifies_energy_on_paper_scenarios():
    for policy in ("sjf", "ps", "rr"):
        scenario = paper_scenario(7, 2, policy=policy, ratio=10)
        found = solve(scenario, objective="energy", solver="optimal")
        assert found.optimal
        assert close(found.value, solve(scenario, objective="energy", solver="exhaustive").value)


@settings(max_examples=40)
@given(
    energy_scenarios(deadlines=st.booleans(), budgets=False),
    st.sampled_from(["total", "variance", "max"]),
    st.floats(0.0, 1.0),
)
def test_optimal_under_an_energy_cap_equals_brute_force(raw, objective, where):
    """The ε-constraint point by the certifying solver, and by its search alone (no
    incumbent: a cap test that cuts the optimum away shows), against brute force."""
    from dnnsplit.solvers.optimal import branch_and_bound

    scenario = Scenario.from_dict(raw)
    low = brute_force(scenario, "energy")
    if not np.isfinite(low):
        return
    cap = low * (1 + where * 0.2)
    best = brute_force(scenario, objective, cap=cap)
    found = solve(scenario, objective=objective, solver="optimal", energy_cap=cap)
    assert found.optimal and found.feasible and close(found.value, best)
    alone = branch_and_bound(scenario.tables, objective, search="levels", energy_cap=cap)
    assert alone.certified
    ev = evaluate(scenario, alone.partition)
    assert ev.feasible and ev.energy <= cap + ENERGY_TOLERANCE_J
    assert close(ev.objective(objective), best)


def test_exact_certifies_under_budgets_only_when_they_do_not_bind():
    scenario = paper_scenario(4, 0)
    free = solve(scenario, solver="exact")
    raw = scenario.to_dict()
    raw["devices"][0]["energy_budget_j"] = float(free.evaluation.energies[0]) * 2
    assert solve(Scenario.from_dict(raw), solver="exact").optimal
    raw["devices"][0]["energy_budget_j"] = float(free.evaluation.energies[0]) / 2
    with pytest.raises(SolverRefusal, match="misses the energy budgets of devices"):
        solve(Scenario.from_dict(raw), solver="exact")


def test_bad_energy_caps_are_refused_naming_them():
    scenario = paper_scenario(3, 0)
    for bad in (-1.0, float("nan"), float("inf"), "5"):
        with pytest.raises(InputError, match=r"^energy_cap: "):
            solve(scenario, solver="greedy", energy_cap=bad)
    with pytest.raises(InputError, match=r"^caps\[1\]: "):
        exhaustive_front(scenario, [1.0, -2.0])
    with pytest.raises(InputError, match=r"^caps: "):
        exhaustive_front(scenario, [])


def test_the_command_line_and_the_api_agree_on_the_energy_optimum(tmp_path, capsys):
    scenario = paper_scenario(5, 3, ratio=10)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scenario.to_dict()))
    assert main(["solve", str(path), "--objective", "energy", "--solver", "exhaustive"]) == 0
    printed = json.loads(capsys.readouterr().out)
    api = solve(scenario, objective="energy", solver="exhaustive")
    assert printed["partition"] == api.partition.tolist()
    assert printed["objective"] == pytest.approx(brute_force(scenario, "energy"))
    assert printed["energy"] == printed["objective"] and len(printed["energies"]) == 5
    assert main(["solve", str(path), "--objective", "energy", "--solver", "optimal"]) == 0
    certified = json.loads(capsys.readouterr().out)
    assert certified["optimal"] and close(certified["objective"], printed["objective"])
    capped = ["solve", str(path), "--solver", "local-search", "--energy-cap", "1e9"]
    assert main(capped) == 0
    assert json.loads(capsys.readouterr().out)["energy_cap"] == 1e9
    assert main(["evaluate", str(path), "--partition", "1,2,3,4,5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["energy"] == pytest.approx(sum(out["energies"]))
    assert out["energies"] == pytest.approx(
        [
            c + t + i
            for c, t, i in zip(out["energy_cpu"], out["energy_tx"], out["energy_idle"], strict=True)
        ]
    )


# --- the paper layer's study ---------------------------------------------------------------


SMALL = {"devices": [3, 4], "seeds": [0, 1], "ratios": [1.0, 10.0], "points": 4}


def test_the_study_marks_every_point_and_its_fronts_are_fronts():
    """At small N the certifying solver certifies every point: its ends are brute force's
    least energy and least delay, each point the least delay within its ε, and none is
    dominated; the local-search points are marked not certified."""
    from dnnsplit import Setup
    from dnnsplit.paper import energy
    from dnnsplit.paper.engine import Engine

    grid = energy.study_grid(SMALL["devices"], [1], ratios=SMALL["ratios"])
    rows = energy.pareto(
        Setup(),
        grid,
        front=energy.FrontOptions(points=SMALL["points"]),
        engine=Engine(cache=False),
        progress=False,
    )
    wide = rows.pivot_table(
        index=["policy", "ratio", "devices", "seed", "solver", "objective", "point"],
        columns="metric",
        values="value",
    ).reset_index()
    fronts = wide[wide.point >= 0]
    assert set(fronts.solver) == {"optimal", "local-search"}
    assert (fronts[fronts.solver == "optimal"].certified == 1).all()
    assert (fronts[fronts.solver == "local-search"].certified == 0).all()
    assert (fronts[fronts.solver == "optimal"].dominated == 0).all()
    for (policy, ratio, n, seed), part in fronts[fronts.solver == "optimal"].groupby(
        ["policy", "ratio", "devices", "seed"]
    ):
        scenario = paper_scenario(int(n), int(seed), policy=policy, ratio=ratio)
        ends = part.sort_values("point")
        assert close(ends.energy.iloc[0], brute_force(scenario, "energy"))
        assert close(ends.total.iloc[-1], brute_force(scenario, "total"))
        for _, point in ends.iloc[1:-1].iterrows():
            assert close(point.total, brute_force(scenario, "total", cap=point.epsilon))
            assert close(point.lower_bound, point.total)
    table = energy.seed_table(rows)
    assert (table.reference == "optimal").all() and (table.certified_share == 1).all()
    assert (table.energy_premium_pct >= -1e-9).all() and (table.delay_premium_pct >= -1e-9).all()
    assert (table.heuristic_gap_pct >= -1e-9).all()
    summary = energy.summary(rows)
    assert set(summary.metric) == set(energy.SUMMARY_METRICS)
    quick = energy.study_grid(quick=True)
    assert quick.devices == (4, 6) and quick.seeds == (0, 1)
    with pytest.raises(InputError, match=r"^points: "):
        energy.FrontOptions(points=1)
    beyond = energy.pareto(
        Setup(),
        energy.study_grid([3, 4], [0], ["sjf"], [1.0]),
        front=energy.FrontOptions(points=3, certify_devices=3),
        engine=Engine(cache=False),
        progress=False,
    )
    assert set(beyond[beyond.devices == 4].solver) == {"local-search", "greedy"}


@pytest.mark.notebook
def test_notebook_09_runs_and_writes_the_same_bytes_twice(tmp_path):
    from conftest import exec_notebook
    from dnnsplit.paper import energy
    from dnnsplit.paper.runner import NOTEBOOKS, run_notebook
    from dnnsplit.paths import NOTEBOOKS_DIR

    assert NOTEBOOKS.index("09_energy.ipynb") < NOTEBOOKS.index("07_reproduction_report.ipynb")
    first, second = tmp_path / "first", tmp_path / "second"
    parameters = {**SMALL, "quick": True}
    run_notebook(
        NOTEBOOKS_DIR / "09_energy.ipynb",
        tmp_path / "09.ipynb",
        {**parameters, "output_dir": str(first)},
    )
    exec_notebook("09_energy.ipynb", {**parameters, "output_dir": str(second)})
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {f"{energy.FIGURE}.csv", f"{energy.FIGURE}.png", "energy.manifest.json"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    executed = json.loads((tmp_path / "09.ipynb").read_text())
    images = [
        o
        for c in executed["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
        if "image/png" in o.get("data", {})
    ]
    assert images, "the figure is not shown inline"
    section = energy.report_section(first)
    assert section.startswith("## Beyond the paper: energy") and "quick run" in section
    assert energy.report_section(tmp_path / "nothing-here") == ""
