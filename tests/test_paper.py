"""The paper layer's contracts: one seeding rule, the setup reaches every point, files are
written with normal permissions, and the library never imports the plotting stack."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from dnnsplit import Setup, paper_scenario, solve
from dnnsplit._io import atomic_write
from dnnsplit.cli import main
from dnnsplit.errors import InputError
from dnnsplit.paper import beyond, fig3, fig5, output, readings, stats, sweeps
from dnnsplit.paper.experiment import Experiment


def test_import_dnnsplit_needs_no_plotting_stack():
    code = (
        "import sys, dnnsplit, dnnsplit.cli, dnnsplit.solvers; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'seaborn', 'papermill', 'dnnsplit') and "
        "(not m.startswith('dnnsplit') or m.startswith('dnnsplit.paper'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_sweep_point_the_api_and_the_command_line_draw_the_same_scenario(capsys):
    setup = Setup(ratio=5, policy="rr", background=(1, 2))
    point = sweeps.Point(setup, 7, 4)
    api = paper_scenario(7, 4, setup)
    assert point.scenario().to_dict() == api.to_dict()
    status = main(
        [
            "scenario",
            "--devices",
            "7",
            "--seed",
            "4",
            "--ratio",
            "5",
            "--policy",
            "rr",
            "--background",
            "1,2",
        ]
    )
    assert status == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(api.to_dict()))


def test_the_command_line_reads_a_figures_setup_from_its_manifest(tmp_path, capsys):
    setup = Setup(quantum_s=0.02, lowest_point=1)
    [path] = output.write_manifest(
        tmp_path, "fig9", setup=setup, grids={}, quick=True, figures=["fig9"]
    )
    assert main(["scenario", "--devices", "3", "--seed", "1", "--setup", str(path)]) == 0
    drawn = json.loads(capsys.readouterr().out)
    assert drawn["meta"]["setup"] == setup.to_dict()
    assert {d["min_stage"] for d in drawn["devices"]} == {1}
    assert main(["scenario", "--devices", "3", "--setup", str(path), "--quantum", "-1"]) == 2
    assert capsys.readouterr().err.startswith("dnnsplit scenario: --quantum: must be positive")


def test_every_setup_field_reaches_the_scenario_it_claims_to_change():
    base = paper_scenario(6, 2)
    changed = {
        "ratio": paper_scenario(6, 2, ratio=10).bs_time_s[0] * 10,
        "quantum": {d.quantum_s for d in paper_scenario(6, 2, quantum_s=0.05).devices},
        "bs_quantum": paper_scenario(6, 2, bs_quantum_s=0.2).bs_quantum_s,
        "background": {d.background for d in paper_scenario(6, 2, background=(5, 5)).devices},
        "max_stage": set(paper_scenario(6, 2, max_stage=(2, 2)).max_stage.tolist()),
        "lowest": set(paper_scenario(6, 2, lowest_point=1).min_stage.tolist()),
        "form": paper_scenario(6, 2, local_delay="exact").local_delay,
        "profile": paper_scenario(6, 2, profile="alexnet11-pi3b-estimated").n_stages,
    }
    assert changed["ratio"] == pytest.approx(base.bs_time_s[0])
    assert changed["quantum"] == {0.05} and changed["bs_quantum"] == 0.2
    assert changed["background"] == {5} and changed["max_stage"] == {2}
    assert changed["lowest"] == {1} and changed["form"] == "exact" and changed["profile"] == 11
    far = paper_scenario(6, 2, distance_m=(400.0, 500.0))
    assert max(d.rate_bps for d in far.devices) < min(d.rate_bps for d in base.devices) * 10
    measured = paper_scenario(6, 2, bs_profile="alexnet-i7-6700hq-estimated")
    assert measured.ratio is None and measured.bs_time_s.sum() < base.bs_time_s.sum()


def test_the_baseline_rule_decides_what_fig3_improves_on():
    grid = sweeps.Grid(devices=[5], seeds=[0])
    paper = fig3.improvement(Setup(), grid, objectives=["variance"], progress=False)
    feasible = fig3.improvement(
        Setup(),
        grid,
        objectives=["variance"],
        experiment=Experiment(baseline="max-local"),
        progress=False,
    )

    def value(rows, solver, metric):
        return float(stats.where(rows, solver=solver, metric=metric).value.iloc[0])

    for rows, baseline in ((paper, "all-local"), (feasible, "max-local")):
        expected = stats.improvement_pct(
            value(rows, baseline, "variance"), value(rows, "greedy", "variance")
        )
        assert value(rows, "greedy", "improvement_pct") == pytest.approx(expected)


def test_a_sweep_varies_the_setup_and_pins_nothing():
    """The quantum sweep keeps the caller's BS quantum; the timeline gap its local form."""
    setup = Setup(bs_quantum_s=0.05, local_delay="exact", policy="rr")
    grid = sweeps.Grid(devices=[4], seeds=[1], vary={"quantum_s": [0.02], "local_delay": ["paper"]})
    rows = beyond.quantum_sensitivity(setup, grid, progress=False)
    point = paper_scenario(4, 1, setup, quantum_s=0.02, local_delay="paper")
    greedy = solve(point, objective="variance")
    got = stats.where(rows, solver="greedy", metric="variance").value.iloc[0]
    assert got == pytest.approx(greedy.value)
    gap = beyond.model_gap(
        setup, sweeps.Grid(devices=[4], seeds=[1], vary={"policy": ["rr"]}), progress=False
    )
    total = stats.where(gap, model="snapshot", metric="total").value.iloc[0]
    assert total == pytest.approx(solve(paper_scenario(4, 1, setup), objective="total").value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"devices": []}, "grid.devices"),
        ({"devices": [0]}, r"grid.devices\[0\]"),
        ({"seeds": [1, -2]}, r"grid.seeds\[1\]"),
        ({"vary": {"policy": ["lifo"]}}, r"grid.vary.policy\[0\]"),
        ({"vary": {"ratio": [float("nan")]}}, r"grid.vary.ratio\[0\]"),
        ({"vary": {"ratio": []}}, r"grid.vary.ratio"),
        ({"vary": {"speed": [1.0]}}, r"grid.vary.speed"),
        ({"vary": [("ratio", [1])]}, r"grid.vary"),
    ],
)
def test_pipeline_errors_name_the_parameter(changes, field):
    with pytest.raises(InputError, match=f"^{field}: "):
        sweeps.Grid(**changes)


def test_files_get_the_users_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "a.csv", "x\n")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]  # no temporary file left


def test_a_quick_grid_is_a_smaller_grid():
    grid = sweeps.Grid(devices=[10, 20, 30], seeds=range(10), vary={"ratio": [1, 5, 10, 50, 100]})
    quick = grid.shrunk(True, devices=2, seeds=2, ratio=3)
    assert quick.devices == (10, 20) and quick.seeds == (0, 1)
    assert quick.vary["ratio"] == (1, 10, 100)
    assert grid.shrunk(False, devices=2) is grid
    with pytest.raises(InputError, match="^grid.policy: "):
        grid.shrunk(True, policy=1)


#: Every sweep, the setup fields it may vary, and how its rows show the field's value.
SWEEPS = {
    "improvement": (fig3.improvement, fig3.IMPROVEMENT_VARIES),
    "greedy_vs_optimal": (fig5.greedy_vs_optimal, fig5.OPTIMUM_VARIES),
    "greedy_at_scale": (fig5.greedy_at_scale, fig5.SCALE_VARIES),
    "greedy_mechanism": (readings.greedy_mechanism, ()),
    "quantum_sensitivity": (beyond.quantum_sensitivity, beyond.QUANTUM_VARIES),
    "model_gap": (beyond.model_gap, beyond.MODEL_GAP_VARIES),
}
#: Two values of each setup field a sweep may vary (the first differs from the default).
VALUES = {
    "policy": ["rr", "ps"],
    "ratio": [10.0, 100.0],
    "quantum_s": [0.02, 0.05],
    "local_delay": ["exact", "paper"],
}
SETUP_FIELDS = [f.name for f in dataclasses.fields(Setup)]


@pytest.mark.parametrize("name", SWEEPS)
def test_every_sweep_varies_the_fields_it_declares_and_refuses_the_rest(name):
    """Each declared field reaches the rows (one point per value, the value in the rows'
    column) and the scenarios; any other setup field is refused naming it; and a field the
    grid does not vary comes from the setup, never from the sweep."""
    sweep, varies = SWEEPS[name]
    options = {"max_nodes": 2000} if name == "greedy_at_scale" else {}
    for field in varies:
        grid = sweeps.Grid(devices=[3], seeds=[0], vary={field: VALUES[field]})
        rows = sweep(Setup(), grid, progress=False, **options)
        assert sorted(rows[field].unique()) == sorted(VALUES[field]), (name, field)
    for field in SETUP_FIELDS:
        if field in varies:
            continue
        grid = sweeps.Grid(devices=[3], seeds=[0], vary={field: [getattr(Setup(), field)]})
        with pytest.raises(InputError, match=f"^grid.vary.{field}: {name} does not vary"):
            sweep(Setup(), grid, progress=False, **options)
    # nothing varied: the setup's own policy and R, not the sweep's
    rows = sweep(Setup(policy="ps", ratio=10.0), sweeps.Grid(devices=[3], seeds=[0]),
                 progress=False, **options)
    assert set(rows.policy) == {"ps"} and set(rows.ratio) == {10.0}
