"""Every notebook executed by papermill with quick parameters, asserting on its CSVs.

Determinism: each notebook's files are written a second time by the same pipeline call in
this (different) process, and must be byte-identical.
"""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pandas as pd
import pytest

from dnnsplit import pipeline
from dnnsplit.errors import InputError
from dnnsplit.paths import NOTEBOOKS_DIR
from dnnsplit.runner import NOTEBOOKS, declared_parameters, run_notebook

pytestmark = pytest.mark.notebook

COMMON = {"quick", "output_dir"}


def execute(name: str, tmp_path, **parameters) -> tuple:
    out = tmp_path / "papermill"
    out.mkdir()
    run_notebook(
        NOTEBOOKS_DIR / name, tmp_path / name, {"quick": True, "output_dir": str(out), **parameters}
    )
    return out, json.loads((tmp_path / name).read_text())


def same_bytes(a, b) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors, f"differ between runs: {mismatch + errors}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_declares_its_parameters(name):
    declared = declared_parameters(NOTEBOOKS_DIR / name)
    assert COMMON <= set(declared)


def test_unknown_parameter_fails(tmp_path):
    with pytest.raises(InputError, match="parameter 'n_device'.*not declared"):
        run_notebook(NOTEBOOKS_DIR / "00_quickstart.ipynb", tmp_path / "x.ipynb", {"n_device": 3})
    assert not (tmp_path / "x.ipynb").exists()


def test_quickstart(tmp_path):
    out, executed = execute("00_quickstart.ipynb", tmp_path, n_devices=5, seed=2)
    table = pd.read_csv(out / "quickstart.csv")
    total = table[table.objective == "total"].set_index("solver")
    assert set(total.index) >= {"greedy", "local-search", "exhaustive", "exact", "all-local"}
    assert total.loc["exact", "total"] == pytest.approx(total.loc["exhaustive", "total"])
    assert total.loc["exhaustive", "total"] <= total["total"].min() + 1e-9
    variance = table[table.objective == "variance"].set_index("solver")
    assert variance.loc["exhaustive", "variance"] <= variance["variance"].min() + 1e-12
    assert "cannot" not in str(variance.loc["exhaustive", "note"])
    assert "exact certifies only" in variance.loc["exact", "note"]
    assert (out / "quickstart.png").stat().st_size > 10_000
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no inline plot"
    again = tmp_path / "again"
    pipeline.quickstart(n_devices=5, seed=2, output_dir=again)
    same_bytes(out, again)


def test_stage_profiles_notebook(tmp_path):
    profiles = ["alexnet-pi3b-estimated", "alexnet-i7-6700hq-estimated"]
    out, _ = execute("01_stage_profiles.ipynb", tmp_path, profiles=profiles)
    frame = pd.read_csv(out / "fig4.csv")
    assert sorted(frame.profile.unique()) == sorted(profiles)
    assert set(frame.method) == {"estimated"}
    pi = frame[frame.profile == profiles[0]].time_s.sum()
    i7 = frame[frame.profile == profiles[1]].time_s.sum()
    assert 0.3 < pi < 0.8 and 0.03 < i7 < 0.08  # measurements.md: ~0.5 s and ~50 ms
    again = tmp_path / "again"
    pipeline.figure4(profiles=profiles, output_dir=again)
    same_bytes(out, again)


def test_improvement_notebook(tmp_path):
    out, _ = execute(
        "02_improvement_over_all_local.ipynb",
        tmp_path,
        devices=[4, 6],
        seeds=[0, 1],
        ratios=[1, 10, 100],
    )
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
    again = tmp_path / "again"
    pipeline.figure3(
        devices=[4, 6],
        seeds=[0, 1],
        ratios=[1, 10, 100],
        quick=True,
        output_dir=again,
        progress=False,
    )
    same_bytes(out, again)


def test_greedy_vs_optimal_notebook(tmp_path):
    out, _ = execute("03_greedy_vs_optimal.ipynb", tmp_path, devices=[3, 4], seeds=[0, 1])
    rows = pd.read_csv(out / "fig5.csv")
    variance = rows[rows.metric == "variance"].pivot_table(
        index=["devices", "seed"], columns="solver", values="value"
    )
    assert np.all(variance["exhaustive"] <= variance["greedy"] * (1 + 1e-9))
    assert np.all(variance["exhaustive"] <= variance["local-search"] * (1 + 1e-9))
    gaps = rows[rows.metric == "gap_pct"]
    assert np.all(gaps.value >= -1e-6)
    again = tmp_path / "again"
    pipeline.figure5(devices=[3, 4], seeds=[0, 1], quick=True, output_dir=again, progress=False)
    same_bytes(out, again)


def test_reproduction_report_notebook(tmp_path):
    from dnnsplit import report

    pipeline.figure3(
        devices=[4, 6],
        seeds=[0, 1],
        ratios=[1, 10],
        quick=True,
        output_dir=tmp_path,
        progress=False,
    )
    pipeline.figure5(devices=[3, 4], seeds=[0, 1], quick=True, output_dir=tmp_path, progress=False)
    run_notebook(
        NOTEBOOKS_DIR / "05_reproduction_report.ipynb",
        tmp_path / "04.ipynb",
        {"quick": True, "output_dir": str(tmp_path)},
    )
    text = (tmp_path / "REPRODUCTION.md").read_text()
    assert "quick run" in text
    claims = report.evaluate_claims(tmp_path)
    assert len(claims) == 6
    for claim in claims:
        assert f"| {claim.claim} |" in text
        assert claim.verdict in {"reproduced", "partly", "not reproduced"}
    fig5 = pd.read_csv(tmp_path / "fig5_summary.csv")
    gaps = fig5[(fig5.solver == "greedy") & (fig5.metric == "gap_pct")]["mean"]
    assert f"{gaps.max():.1f}%" in text
    assert "## Beyond the paper" not in text  # 04_beyond_the_paper did not run here
    pipeline.beyond(
        quanta_s=[0.001, 0.1],
        gap_devices=[4],
        seeds=[0, 1],
        quick=True,
        output_dir=tmp_path,
        progress=False,
    )
    text = report.build_report(tmp_path)
    assert "**The device quantum q**" in text and "**The snapshot assumption**" in text


def test_a_failing_cell_is_named(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell("quick = False\noutput_dir = ''")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        parameters,
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError('no such seed')"),
    ]
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, path)
    from dnnsplit.runner import NotebookFailed

    with pytest.raises(
        NotebookFailed, match=r"^broken.ipynb, cell In \[4\]: ValueError: no such seed"
    ):
        run_notebook(path, tmp_path / "out.ipynb", {"quick": True})


def test_a_notebook_without_parameters_cell_is_refused(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("quick = False")]
    path = tmp_path / "untagged.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(InputError, match="^untagged.ipynb: has no cell tagged 'parameters'"):
        run_notebook(path, tmp_path / "out.ipynb", {"quick": True})


def test_beyond_the_paper_notebook(tmp_path):
    out, _ = execute(
        "04_beyond_the_paper.ipynb",
        tmp_path,
        quanta_s=[0.001, 0.1],
        gap_devices=[4, 6],
        seeds=[0, 1],
    )
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
    again = tmp_path / "again"
    pipeline.beyond(
        quanta_s=[0.001, 0.1],
        gap_devices=[4, 6],
        seeds=[0, 1],
        quick=True,
        output_dir=again,
        progress=False,
    )
    same_bytes(out, again)
