"""The comparison behind ``./run_all.sh --check`` (:mod:`dnnsplit.paper.compare`), on small
hand-made folders: a re-run reproduces the committed results when every CSV number agrees
within the tolerance and every integer, label, verdict and certified flag is equal."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from dnnsplit.paper.compare import RTOL, compare_folders, verdicts

CSV = """\
solver,devices,metric,value,n
greedy,10,certified,1,10
greedy,10,mean,0.5312,10
optimal,10,mean,0.25,10
optimal,20,gap_pct,0,10
"""
MANIFEST = {"run": "fig5", "version": "0.2.0", "quick": False, "grids": {"devices": [10, 20]},
            "setup": {"ratio": 1.0, "quantum_s": 0.05}}  # fmt: skip
REPORT = """\
# Reproduction report

| claim | covers | ours | verdict | why |
|---|---|---|---|---|
| Greedy finds the optimum (Fig. 5) | SJF | 14% | **not reproduced** | a reason |
| More layers run locally (Fig. 3) | SJF, RR | 4 of 4 | **reproduced** | |

## Under which readings each claim holds

| claim | its verdict | reading |
|---|---|---|
| Greedy finds the optimum (Fig. 5) | partly | `start=best` |
"""


@pytest.fixture
def committed(tmp_path) -> Path:
    folder = tmp_path / "committed"
    folder.mkdir()
    (folder / "fig5_summary.csv").write_text(CSV)
    (folder / "fig5.manifest.json").write_text(json.dumps(MANIFEST))
    (folder / "REPRODUCTION.md").write_text(REPORT)
    return folder


@pytest.fixture
def rerun(committed, tmp_path) -> Path:
    return Path(shutil.copytree(committed, tmp_path / "rerun"))


def compared(committed: Path, rerun: Path) -> dict[str, tuple[str, float]]:
    report = (committed / "REPRODUCTION.md", rerun / "REPRODUCTION.md")
    return {d.file: (d.what, d.largest) for d in compare_folders(committed, rerun, report=report)}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_the_same_results_reproduce(committed, rerun):
    assert compared(committed, rerun) == {
        "fig5.manifest.json": ("", 0.0),
        "fig5_summary.csv": ("", 0.0),
        "REPRODUCTION.md": ("", 0.0),
    }


def test_numbers_printed_differently_within_the_tolerance_reproduce(committed, rerun):
    """What another machine may print: the last digits of a float, a zero as a rounding
    residue, a version of the package; the manifest's numbers likewise."""
    edit(rerun / "fig5_summary.csv", "0.5312,", f"{0.5312 * (1 + RTOL / 10)!r},")
    edit(rerun / "fig5_summary.csv", "gap_pct,0,", "gap_pct,1e-15,")
    manifest = {**MANIFEST, "version": "0.3.0", "setup": {"ratio": 1.0 + 1e-12, "quantum_s": 0.05}}
    (rerun / "fig5.manifest.json").write_text(json.dumps(manifest))
    result = compared(committed, rerun)
    assert {name: what for name, (what, _) in result.items()} == dict.fromkeys(result, "")
    assert 0 < result["fig5_summary.csv"][1] <= RTOL / 10 * 1.01


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("0.5312,", "0.5412,", "line 3, column value: 0.5312 committed, 0.5412 re-run"),
        ("0.25,10", "0.25,11", "line 4, column n: 10 committed, 11 re-run"),  # an integer
        ("certified,1,", "certified,0,", "line 2, column value: 1 committed, 0 re-run"),
        ("optimal,20", "exhaustive,20", "line 5, column solver: optimal committed, exhaustive re-run"),
        ("gap_pct,0,", "gap_pct,1e-9,", "line 5, column value: 0 committed, 1e-9 re-run"),
        ("gap_pct,0,", "gap_pct,nan,", "line 5, column value: 0 committed, nan re-run"),
    ],
)
def test_a_csv_cell_beyond_the_tolerance_is_named_by_file_line_and_column(
    committed, rerun, old, new, said
):
    edit(rerun / "fig5_summary.csv", old, new)
    result = compared(committed, rerun)
    what, largest = result.pop("fig5_summary.csv")
    assert what == said
    assert largest > RTOL
    assert all(what == "" for what, _ in result.values())


def test_a_changed_verdict_is_named_with_its_claim(committed, rerun):
    edit(rerun / "REPRODUCTION.md", "| partly |", "| reproduced |")
    what, largest = compared(committed, rerun)["REPRODUCTION.md"]
    assert what == (
        "its verdict of 'Greedy finds the optimum (Fig. 5)' (Under which readings each claim "
        "holds): 'partly' committed, 'reproduced' re-run"
    )
    assert math.isinf(largest)
    assert len(verdicts(REPORT)) == 3


def test_a_changed_setup_a_missing_and_an_extra_file_are_named(committed, rerun):
    manifest = {**MANIFEST, "grids": {"devices": [10, 20, 30]}}
    (rerun / "fig5.manifest.json").write_text(json.dumps(manifest))
    (rerun / "fig5_summary.csv").unlink()
    (rerun / "fig6.csv").write_text("a\n1\n")
    result = compared(committed, rerun)
    assert result["fig5.manifest.json"][0] == (
        "grids.devices: 2 committed, 3 re-run (2 fields differ)"
    )
    assert result["fig5_summary.csv"][0] == "not written by the re-run"
    assert result["fig6.csv"][0] == "written by the re-run, not in the committed results"
    assert result["REPRODUCTION.md"][0] == ""


def test_a_table_of_another_shape_is_a_difference(committed, rerun):
    (rerun / "fig5_summary.csv").write_text(CSV + "optimal,30,mean,0.5,10\n")
    assert compared(committed, rerun)["fig5_summary.csv"][0] == (
        "4 rows committed, 5 in the re-run"
    )
    (rerun / "fig5_summary.csv").write_text(CSV.replace(",n\n", ",count\n", 1))
    assert compared(committed, rerun)["fig5_summary.csv"][0].startswith("columns differ")


def test_a_manifest_number_that_became_text_or_a_flag_is_a_difference(committed, rerun):
    """A manifest's numbers are judged within the tolerance, but a string or a boolean is a
    label: ``"1.0"`` is not the number 1.0, nor ``true`` the number 1."""
    setup = {"ratio": "1.0", "quantum_s": True}
    (rerun / "fig5.manifest.json").write_text(json.dumps({**MANIFEST, "setup": setup}))
    what, largest = compared(committed, rerun)["fig5.manifest.json"]
    assert what == "setup.quantum_s: 0.05 committed, True re-run (2 fields differ)"
    assert math.isinf(largest)
