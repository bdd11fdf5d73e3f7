"""The command line: JSON out, and the bad-input rule (status 2, one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hostile import run


@pytest.fixture
def scenario_file(tmp_path, capsys):
    status, out, _ = run(capsys, "scenario", "--devices", "6", "--seed", "2", "--ratio", "5")
    assert status == 0
    path = tmp_path / "scenario.json"
    path.write_text(out)
    return path


def test_scenario_evaluate_and_solve(scenario_file, capsys):
    status, out, _ = run(capsys, "evaluate", str(scenario_file), "--partition", "0,1,2,3,4,5")
    assert status == 0
    result = json.loads(out)
    assert set(result) >= {
        "partition",
        "delays",
        "local",
        "transmission",
        "remote",
        "total",
        "variance",
        "feasible",
    }
    assert result["partition"] == [0, 1, 2, 3, 4, 5]
    assert result["total"] == pytest.approx(sum(result["delays"]))

    answers = {}
    for solver in ("exhaustive", "exact", "greedy"):
        status, out, _ = run(capsys, "solve", str(scenario_file), "--solver", solver)
        assert status == 0
        answers[solver] = json.loads(out)
        assert set(answers[solver]) >= {
            "partition",
            "objective",
            "total",
            "variance",
            "delays",
            "solver",
            "optimal",
            "seconds",
            "feasible",
        }
    assert answers["exact"]["objective"] == pytest.approx(
        answers["exhaustive"]["objective"], rel=1e-12
    )
    assert answers["exact"]["optimal"] and not answers["greedy"]["optimal"]
    assert answers["exhaustive"]["objective"] <= answers["greedy"]["objective"] + 1e-12


def test_timeline_model_flag(scenario_file, capsys):
    status, out, _ = run(
        capsys, "evaluate", str(scenario_file), "--partition", "0,1,2,3,4,5", "--model", "timeline"
    )
    assert status == 0 and json.loads(out)["model"] == "timeline"


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["evaluate", "{file}", "--partition", "0,1,2,3,4,9"], "partition[5]:"),
        (["evaluate", "{file}", "--partition", "0,1"], "partition:"),
        (["evaluate", "{file}", "--partition", "a,b"], "partition:"),
        (["evaluate", "missing.json", "--partition", "0"], "scenario:"),
        (["solve", "{file}", "--solver", "magic"], "--solver"),
        (["solve", "{file}", "--objective", "variance", "--solver", "exact"], "solver:"),
        (["solve", "{bad}"], "devices[0].max_stage:"),
        (["scenario", "--devices", "0"], "devices:"),
        (["scenario", "--devices", "3", "--policy", "lifo"], "--policy"),
        (["serve", "--port", "0", "--policy", "ps"], "--policy: unknown policy 'ps'"),
    ],
)
def test_bad_input_is_one_line_with_status_2(argv, field, scenario_file, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    raw = json.loads(scenario_file.read_text())
    raw["devices"][0]["max_stage"] = -1
    bad.write_text(json.dumps(raw))
    argv = [a.format(file=scenario_file, bad=bad) for a in argv]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and field in err and "Traceback" not in err


def test_module_entry_point(scenario_file):
    done = subprocess.run(
        [sys.executable, "-m", "dnnsplit", "solve", str(scenario_file), "--solver", "max-local"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["solver"] == "max-local"
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnnsplit",
            "evaluate",
            str(scenario_file),
            "--partition",
            "9,9,9,9,9,9",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.splitlines()) == 1


def test_a_library_error_names_the_flag_that_gave_its_field():
    """named_by: a flag's own value and its elements name the flag; a field inside a file
    keeps its path under the file's flag; any other field is left as it is."""
    from dnnsplit.cli import named_by
    from dnnsplit.errors import InputError, SolverRefusal

    def renamed(error, flags, files=None):
        with pytest.raises(InputError) as caught, named_by(flags, files):
            raise error
        assert type(caught.value) is type(error) and caught.value.problem == error.problem
        return caught.value.field

    setup = {"setup.max_stage": "--max-stage", "setup.ratio": "--ratio"}
    assert renamed(InputError("setup.max_stage[1]", "x"), setup) == "--max-stage"
    assert renamed(InputError("setup.ratio", "x"), setup, {"setup": "--setup"}) == "--ratio"
    assert renamed(InputError("setup.channel.exponent", "x"), setup, {"setup": "--setup"}) == (
        "--setup.channel.exponent"
    )
    assert renamed(InputError("setup", "x"), {}, {"setup": "--setup"}) == "--setup"
    assert renamed(InputError("devices[3].background", "x"), {"devices": "--devices"}) == (
        "devices[3].background"
    )
    assert renamed(SolverRefusal("time_limit", "x"), {"time_limit": "--time-limit"}) == (
        "--time-limit"
    )


def test_every_subcommand_registers_a_handler():
    from dnnsplit.cli import _build_parser

    parser = _build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"scenario", "evaluate", "solve", "profile", "serve", "device", "testbed"} <= set(
        commands
    )
    for name, sub in commands.items():
        assert callable(sub.get_default("handler")), name
