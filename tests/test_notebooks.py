"""Every notebook executed by papermill with quick parameters, asserting on its CSVs.

Determinism: each notebook's code is executed a second time in this (different) process
(:func:`exec_notebook`), and its files must be byte-identical to the kernel's.
"""

from __future__ import annotations

import ast
import filecmp
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from conftest import exec_notebook
from dnnsplit.errors import InputError
from dnnsplit.paper import readings, report
from dnnsplit.paper.runner import NOTEBOOKS, NotebookFailed, declared_parameters, run_notebook
from dnnsplit.paths import FIGURES_DIR, INTERACTIVE_DIR, NOTEBOOKS_DIR, REPORT_PATH

pytestmark = pytest.mark.notebook

COMMON = {"quick", "output_dir"}


#: A cell that draws: it calls a plot function of the paper layer.
DRAWS = re.compile(r"^\s*(\w+\s*=\s*)?plots\.\w+\(", re.M)


def execute(name: str, tmp_path: Path, **parameters) -> tuple[Path, dict]:
    """Run notebook ``name`` with papermill (quick) into ``tmp_path/papermill``; every cell
    that draws must show its figure inline (an image output), as in JupyterLab."""
    out = tmp_path / "papermill"
    out.mkdir(exist_ok=True)
    run_notebook(
        NOTEBOOKS_DIR / name, tmp_path / name, {"quick": True, "output_dir": str(out), **parameters}
    )
    executed = json.loads((tmp_path / name).read_text())
    assert_every_drawing_cell_shows_its_figure(executed)
    return out, executed


def assert_every_drawing_cell_shows_its_figure(executed: dict) -> None:
    drawing = [
        c for c in executed["cells"] if c["cell_type"] == "code" and DRAWS.search("".join(c["source"]))
    ]
    blank = [
        "".join(c["source"]).splitlines()[0]
        for c in drawing
        if not any("image/png" in o.get("data", {}) for o in c["outputs"])
    ]
    assert not blank, f"cells that draw but show no figure: {blank}"


def again(name: str, tmp_path: Path, **parameters) -> Path:
    out = tmp_path / "again"
    out.mkdir(exist_ok=True)
    exec_notebook(name, {"quick": True, "output_dir": str(out), **parameters})
    return out


def same_bytes(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors, f"differ between runs: {mismatch + errors}"


def outputs(executed: dict) -> list[dict]:
    return [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]


# --- parameters and the runner ---------------------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_declares_its_parameters(name):
    declared = declared_parameters(NOTEBOOKS_DIR / name)
    assert COMMON <= set(declared)
    # papermill declares exactly the names the parameters cell assigns (a line it cannot
    # parse would silently be left out and later refused as "not declared")
    cell = next(
        c
        for c in nbformat.read(NOTEBOOKS_DIR / name, as_version=4).cells
        if "parameters" in c.metadata.get("tags", [])
    )
    assigned = {
        node.targets[0].id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    assert set(declared) == assigned
    # run by hand, a notebook writes to build/figures/, never to figures/
    assert declared["output_dir"]["default"] in ('""', "''")


def test_unknown_parameter_fails(tmp_path):
    with pytest.raises(InputError, match="parameter 'n_device'.*not declared"):
        run_notebook(NOTEBOOKS_DIR / "00_quickstart.ipynb", tmp_path / "x.ipynb", {"n_device": 3})
    assert not (tmp_path / "x.ipynb").exists()


def small_notebook(path: Path, *cells: str) -> Path:
    """A notebook with a ``parameters`` cell and ``cells``, written to ``path``."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell("quick = False")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, *(nbformat.v4.new_code_cell(c) for c in cells)]
    nbformat.write(notebook, path)
    return path


def test_a_failing_cell_is_named(tmp_path):
    path = small_notebook(tmp_path / "broken.ipynb", "x = 1", "raise ValueError('no such seed')")
    with pytest.raises(
        NotebookFailed, match=r"^broken.ipynb, cell In \[4\]: ValueError: no such seed"
    ):
        run_notebook(path, tmp_path / "out.ipynb", {"quick": True})


def test_a_failing_notebook_stops_the_one_running_beside_it(tmp_path, monkeypatch, capsys):
    from dnnsplit.paper import runner

    small_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(300)")
    small_notebook(tmp_path / "bad.ipynb", "import time\ntime.sleep(2)", "raise ValueError('boom')")
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", tmp_path)
    monkeypatch.setattr(runner, "BUILD_DIR", tmp_path / "build")
    began = time.perf_counter()
    with pytest.raises(NotebookFailed, match=r"^bad.ipynb, cell In \[3\]: ValueError: boom"):
        runner._run_batch(["slow.ipynb", "bad.ipynb"], {}, 2, runner._Status(2))
    assert time.perf_counter() - began < 120  # the slow one was stopped, not waited for
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ... ")[1].split(" in ")[0] for line in lines] == ["FAILED", "stopped"]
    assert (tmp_path / "build" / "notebooks" / "bad.ipynb").exists()


def test_ctrl_c_stops_notebooks_running_side_by_side_and_leaves_no_kernel(tmp_path):
    """A real Ctrl-C (SIGINT to the process group) on a run of two notebooks at once: exit
    130, both named as interrupted, and both kernels gone."""
    for name in ("a", "b"):
        small_notebook(
            tmp_path / f"{name}.ipynb",
            f"import os, time\nopen({str(tmp_path / name)!r} + '.pid', 'w').write(str(os.getpid()))"
            "\ntime.sleep(300)",
        )
    script = (
        "import sys; from pathlib import Path; from dnnsplit.paper import runner\n"
        f"runner.NOTEBOOKS_DIR = runner.BUILD_DIR = Path({str(tmp_path)!r})\n"
        "runner.NOTEBOOKS = ('a.ipynb', 'b.ipynb')\n"
        "sys.exit(runner.main(['--workers', '1', '--notebooks-at-once', '2', '--no-cache']))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    pid_files = [tmp_path / "a.pid", tmp_path / "b.pid"]
    deadline = time.monotonic() + 120
    while not all(f.exists() and f.read_text() for f in pid_files):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.2)
    kernels = [int(f.read_text()) for f in pid_files]
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert out.count("interrupted in") == 2
    assert "run_all: interrupted" in err and "Traceback" not in err
    time.sleep(1)
    for pid in kernels:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_notebook_without_parameters_cell_is_refused(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("quick = False")]
    path = tmp_path / "untagged.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(InputError, match="^untagged.ipynb: has no cell tagged 'parameters'"):
        run_notebook(path, tmp_path / "out.ipynb", {"quick": True})


def test_run_all_only_with_an_unknown_name_exits_2_listing_the_names(capsys):
    from dnnsplit.paper.runner import main

    assert main(["--only", "no-such-notebook"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--only" in err and "00_quickstart.ipynb" in err


# --- each notebook ------------------------------------------------------------------------


def test_quickstart(tmp_path):
    out, executed = execute("00_quickstart.ipynb", tmp_path, n_devices=5, seed=2)
    table = pd.read_csv(out / "quickstart.csv")
    total = table[table.objective == "total"].set_index("solver")
    assert set(total.index) >= {"greedy", "local-search", "exhaustive", "exact", "all-local"}
    assert total.loc["exact", "total"] == pytest.approx(total.loc["exhaustive", "total"])
    assert total.loc["exhaustive", "total"] <= total["total"].min() + 1e-9
    assert set(table.seed) == {2} and set(table.devices) == {5}
    variance = table[table.objective == "variance"].set_index("solver")
    assert variance.loc["exhaustive", "variance"] <= variance["variance"].min() + 1e-12
    assert "exact certifies only" in variance.loc["exact", "note"]
    assert (out / "quickstart.png").stat().st_size > 10_000
    assert any("image/png" in o.get("data", {}) for o in outputs(executed)), "no inline plot"
    assert not any(o.get("name") == "stderr" for o in outputs(executed)), "an error band"
    same_bytes(out, again("00_quickstart.ipynb", tmp_path, n_devices=5, seed=2))


def test_stage_profiles_notebook(tmp_path):
    profiles = ["alexnet-pi3b-estimated", "alexnet-i7-6700hq-estimated"]
    out, _ = execute("01_stage_profiles.ipynb", tmp_path, profiles=profiles)
    frame = pd.read_csv(out / "fig4.csv")
    assert sorted(frame.profile.unique()) == sorted(profiles)
    assert set(frame.method) == {"estimated"}
    pi = frame[frame.profile == profiles[0]].time_s.sum()
    i7 = frame[frame.profile == profiles[1]].time_s.sum()
    assert 0.3 < pi < 0.8 and 0.03 < i7 < 0.08  # docs/model.md: ~0.5 s and ~50 ms
    same_bytes(out, again("01_stage_profiles.ipynb", tmp_path, profiles=profiles))


def test_improvement_notebook(tmp_path):
    parameters = {"devices": [4, 6], "seeds": [0, 1], "ratios": [1, 10, 100]}
    out, executed = execute("02_improvement_over_all_local.ipynb", tmp_path, **parameters)
    rows = pd.read_csv(out / "fig3a.csv")
    assert set(rows.devices) == {4, 6} and set(rows.seed) == {0, 1}
    assert set(rows.policy) == {"sjf", "rr"}
    # improvement_pct is what its definition says, row by row
    wide = rows[rows.metric == "variance"].pivot_table(
        index=["policy", "devices", "seed"], columns="solver", values="value"
    )
    gain = rows[rows.metric == "improvement_pct"].set_index(["policy", "devices", "seed"]).value
    expected = 100 * (wide["all-local"] - wide["greedy"]) / wide["all-local"]
    assert gain.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
    summary = pd.read_csv(out / "fig3c_summary.csv")
    assert sorted(summary.ratio.unique()) == [1, 10, 100]
    assert np.all(summary["low"] <= summary["mean"] + 1e-12)
    assert np.all(summary["mean"] <= summary["high"] + 1e-12)
    for name in ("fig3a", "fig3b", "fig3c", "fig3_local_share"):
        assert (out / f"{name}.pdf").exists() and (out / f"{name}.png").exists()
    manifest = json.loads((out / "fig3.manifest.json").read_text())
    assert manifest["quick"] is True and manifest["grids"]["by_devices"]["seeds"] == [0, 1]
    assert manifest["experiment"]["start"] == "half" and "start" not in manifest["setup"]
    assert not any(o.get("name") == "stderr" for o in outputs(executed)), "an error band"
    same_bytes(out, again("02_improvement_over_all_local.ipynb", tmp_path, **parameters))


def test_greedy_vs_optimal_notebook(tmp_path):
    out, _ = execute("03_greedy_vs_optimal.ipynb", tmp_path, devices=[3, 4], seeds=[0, 1])
    rows = pd.read_csv(out / "fig5.csv")
    for objective in ("variance", "max"):
        values = rows[(rows.metric == objective) & (rows.objective == objective)].pivot_table(
            index=["devices", "seed"], columns="solver", values="value"
        )
        assert np.all(values["optimal"] <= values["greedy"] * (1 + 1e-9))
        assert np.all(values["optimal"] <= values["local-search"] * (1 + 1e-9))
    # the certified optimum is exhaustive search's, case by case
    from dnnsplit import paper_scenario, solve

    best = rows[
        (rows.solver == "optimal") & (rows.metric == "variance") & (rows.objective == "variance")
    ]
    for _, row in best.iterrows():
        exhaustive = solve(
            paper_scenario(int(row.devices), int(row.seed)),
            objective="variance",
            solver="exhaustive",
        )
        assert row.value == pytest.approx(exhaustive.value, rel=1e-9)
    gaps = rows[rows.metric == "gap_pct"]
    assert np.all(gaps.value >= -1e-6)
    scale = pd.read_csv(out / "fig5_scale.csv")
    assert set(scale.policy) == {"sjf", "rr"} and set(scale.devices) == {10}
    assert set(scale.objective) == {"variance", "max"}
    for objective in ("variance", "max"):
        mine = scale[(scale.solver == "optimal") & (scale.objective == objective)]
        wide = mine.pivot_table(index=["policy", "seed"], columns="metric", values="value")
        assert np.all(wide["lower_bound"] <= wide[objective] * (1 + 1e-9))
        assert np.all(wide["best_known"] <= wide[objective] * (1 + 1e-12))
    same_bytes(out, again("03_greedy_vs_optimal.ipynb", tmp_path, devices=[3, 4], seeds=[0, 1]))


def test_beyond_the_paper_notebook(tmp_path):
    parameters = {"quanta_s": [0.001, 0.1], "gap_devices": [4, 6], "seeds": [0, 1]}
    out, _ = execute("04_beyond_the_paper.ipynb", tmp_path, **parameters)
    quantum = pd.read_csv(out / "beyond_quantum.csv")
    assert sorted(quantum.quantum_s.unique()) == [0.001, 0.1]
    assert set(quantum.local_delay) == {"paper", "exact"}
    # eq. (1) makes the all-local delays depend on q
    local = quantum[(quantum.solver == "all-local") & (quantum.metric == "mean")]
    by_q = local.groupby("quantum_s").value.mean()
    assert by_q[0.001] != by_q[0.1]
    gap = pd.read_csv(out / "beyond_timeline.csv")
    wide = gap[gap.metric == "total"].pivot_table(
        index=["policy", "devices", "seed"], columns="model", values="value"
    )
    expected = 100 * (wide["timeline"] - wide["snapshot"]) / wide["snapshot"]
    got = gap[gap.metric == "total_gap_pct"].set_index(["policy", "devices", "seed"]).value
    assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())
    same_bytes(out, again("04_beyond_the_paper.ipynb", tmp_path, **parameters))


def test_reproduction_report_notebook(tmp_path):
    fig3 = {"devices": [4, 6], "seeds": [0, 1], "ratios": [1, 10]}
    exec_notebook(
        "02_improvement_over_all_local.ipynb", {"quick": True, "output_dir": str(tmp_path), **fig3}
    )
    exec_notebook(
        "03_greedy_vs_optimal.ipynb",
        {"quick": True, "output_dir": str(tmp_path), "devices": [3, 4], "seeds": [0, 1]},
    )
    run_notebook(
        NOTEBOOKS_DIR / "07_reproduction_report.ipynb",
        tmp_path / "05.ipynb",
        {"quick": True, "output_dir": str(tmp_path)},
    )
    text = (tmp_path / "REPRODUCTION.md").read_text()
    assert "quick run" in text
    answers = report.answer_claims(tmp_path)
    for answer in answers:
        assert f"[{answer.claim.title}](#" in text and f"### {answer.claim.title}" in text
    evaluated = [a for a in answers if a.verdict is not None]
    assert {a.claim.id for a in evaluated} >= {"fig5-greedy-gap", "fig5-greedy-finds-optimum"}
    fig5 = pd.read_csv(tmp_path / "fig5_summary.csv")
    gaps = fig5[(fig5.solver == "greedy") & (fig5.metric == "gap_of_means_pct")]["mean"]
    worst = gaps.max()
    assert (f"{worst:.0f}%" if worst >= 1000 else f"{worst:.1f}%") in text
    assert "| point " in text and "the paper gives no seed count" in text
    assert "](fig5.png)" in text  # the figure a claim is about, inline
    assert "## Beyond the paper" not in text  # 04_beyond_the_paper did not run here
    assert "## The setup behind these numbers" in text


def test_a_notebook_run_by_hand_leaves_the_committed_results_alone(tmp_path):
    """No output_dir (as in JupyterLab): files go to build/figures/, never to figures/."""
    watched = [*FIGURES_DIR.iterdir(), REPORT_PATH]
    before = {p: p.stat().st_mtime_ns for p in watched}
    run_notebook(
        NOTEBOOKS_DIR / "01_stage_profiles.ipynb",
        tmp_path / "01.ipynb",
        {"profiles": ["alexnet-pi3b-estimated"]},
    )
    run_notebook(NOTEBOOKS_DIR / "07_reproduction_report.ipynb", tmp_path / "05.ipynb", {})
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    assert (INTERACTIVE_DIR / "fig4.csv").exists()
    assert (INTERACTIVE_DIR / "REPRODUCTION.md").exists()


def test_other_networks_notebook(tmp_path):
    out, _ = execute("05_other_networks.ipynb", tmp_path, seeds=[0, 1])
    table = pd.read_csv(out / "networks.csv")
    assert set(table.reading) == {
        "network-alexnet",
        "network-alexnet-memory-rule",
        "network-vgg16-memory-rule",
        "network-resnet18-memory-rule",
        "network-mobilenetv2-memory-rule",
    }
    assert set(table.claim) == {c.id for c in readings.STUDIED}
    assert (out / "networks.png").exists()
    gains = pd.read_csv(out / "networks_fig3a.csv")
    assert set(gains.network) == set(table.reading)
    answer = next(a for a in report.answer_claims(out) if a.claim.id == "conclusion-dnn-sizes")
    assert answer.verdict is not None and answer.verdict.numbers["points"] >= 5


def test_readings_notebook(tmp_path):
    out, _ = execute(
        "06_readings.ipynb",
        tmp_path,
        seeds=[0, 1],
        only=["default", "baseline-max-local", "background-0-0", "fig5-rr"],
        steps=1,
        mechanism_devices=[3, 4],
        case_devices=3,
        case_seed=0,
    )
    table = pd.read_csv(out / "readings.csv")
    assert {"default", "baseline-max-local", "fig5-rr"} <= set(table.reading)
    judged = table[~table.reading.str.contains("background-0-0")]
    judged = judged[judged.claim != "fig3a-still-better-at-50"]  # N = 40, 50: not in the grid
    assert set(judged.verdict) <= {"reproduced", "partly", "direction only", "not reproduced"}
    found = pd.read_csv(out / "readings_found.csv")
    # a claim about N = 40 and 50 has no point in the quick grid: no search for it
    answered = {c.id for c in readings.STUDIED} - {"fig3a-still-better-at-50"}
    assert set(found.claim) == answered | {"*"}
    assert set(found.reading) <= set(table.reading)
    # with no background load every all-local delay is equal: a % gain over a zero
    # variance is undefined, and the claim is "not evaluated", never a number
    idle = table[(table.reading == "background-0-0") & table.claim.str.startswith("fig3a")]
    assert set(idle.verdict) == {"not evaluated"}
    mechanism = pd.read_csv(out / "mechanism.csv")
    assert set(mechanism.metric) >= {"jump_improves", "pair_improves", "devices_differ"}
    assert (mechanism[mechanism.metric == "step_improves"].value == 0).all()
    case = pd.read_csv(out / "mechanism_case.csv")
    assert case.groupby("device").greedy.sum().eq(1).all()
    assert (
        "QUICK RUN" in json.dumps(json.loads((out / "readings.manifest.json").read_text()))
        or json.loads((out / "readings.manifest.json").read_text())["quick"]
    )
