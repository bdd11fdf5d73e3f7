"""Hostile command-line flags: every flag is checked naming it, as the API names the same
mistake."""

from __future__ import annotations

import json
import time

import pytest

from dnnsplit import (
    InputError,
    Setup,
    paper_scenario,
)
from hostile import (
    assert_refused,
    run,
)

# --- command-line flags ------------------------------------------------------------------


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(paper_scenario(4, 1).to_dict()))
    return path


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["scenario", "--devices", "0"], "--devices"),
        (["scenario", "--devices", "1000000000"], "--devices"),
        (["scenario", "--devices", "99999999999999999999999"], "--devices"),
        (["scenario", "--devices", "1e3"], "argument --devices"),
        (["scenario", "--devices", "3", "--seed", "-1"], "--seed"),
        (["scenario", "--devices", "3", "--seed", str(2**63)], "--seed"),
        (["scenario", "--devices", "3", "--ratio", "nan"], "--ratio"),
        (["scenario", "--devices", "3", "--ratio", "1e-320"], "--ratio"),
        (["scenario", "--devices", "3", "--ratio", "-inf"], "argument --ratio"),
        (["scenario", "--devices", "3", "--quantum", "1e-12"], "--quantum"),
        (["scenario", "--devices", "3", "--bs-quantum", "inf"], "--bs-quantum"),
        (["scenario", "--devices", "3", "--bs-quantum", "1e7"], "--bs-quantum"),
        (["scenario", "--devices", "3", "--distance", "1,1e30"], "--distance"),
        (["scenario", "--devices", "3", "--distance", "0,5"], "--distance"),
        (["scenario", "--devices", "3", "--max-stage", "0,99999999999999999999"], "--max-stage"),
        (["scenario", "--devices", "3", "--max-stage", "0,1.5"], "argument --max-stage"),
        (["scenario", "--devices", "3", "--background", f"0,{2**63 - 1}"], "--background"),
        (["scenario", "--devices", "3", "--profile", "{dir}"], "--profile"),
        (["scenario", "--devices", "3", "--bs-profile", "nope"], "--bs-profile"),
        (["scenario", "--devices", "3", "--setup", "{dir}"], "--setup"),
        (["scenario", "--devices", "3", "--setup", "{setup}"], "--setup.channel.mac_efficiency"),
        (["solve", "{file}", "--restarts", "-1"], "--restarts"),
        (["solve", "{file}", "--restarts", "1000000000"], "--restarts"),
        (["solve", "{file}", "--seed", "-1"], "--seed"),
        (["solve", "{file}", "--seed", str(2**64)], "--seed"),
        (["solve", "{file}", "--max-vectors", "nan"], "--max-vectors"),
        (["solve", "{file}", "--max-vectors", "0"], "--max-vectors"),
        (["solve", "{file}", "--max-vectors", "1.5"], "--max-vectors"),
        (["solve", "{file}", "--max-vectors", "1e30"], "--max-vectors"),
        (["solve", "{file}", "--time-limit", "0"], "--time-limit"),
        (["solve", "{file}", "--time-limit", "nan"], "--time-limit"),
        (["solve", "{file}", "--time-limit", "inf"], "--time-limit"),
        (["solve", "{file}", "--time-limit", "1e30"], "--time-limit"),
        (["solve", "{file}", "--time-limit", "soon"], "argument --time-limit"),
        (["evaluate", "{file}", "--partition", "1e3,0,0,0"], "partition"),
        (["evaluate", "{file}", "--partition", "99999999999999999999999,0,0,0"], "partition[0]"),
        (["profile", "--threads", "0", "--out", "x.csv"], "--threads"),
        (["profile", "--threads", "100000", "--out", "x.csv"], "--threads"),
        (["profile", "--repeats", "2", "--out", "x.csv"], "--repeats"),
        (["profile", "--repeats", "1000000000", "--out", "x.csv"], "--repeats"),
        (["profile", "--warmup", "-1", "--out", "x.csv"], "--warmup"),
        (["profile", "--out", "{dir}"], "--out"),
        (["profile", "--out", "{file}/x.csv"], "--out"),
    ],
)
def test_every_flag_is_checked_naming_it(argv, field, scenario_file, tmp_path, capsys):
    setup = tmp_path / "setup.json"
    setup.write_text(json.dumps({"channel": {"mac_efficiency": -0.7}}))
    argv = [a.format(file=scenario_file, dir=tmp_path, setup=setup) for a in argv]
    started = time.perf_counter()
    status, out, err = run(capsys, *argv)
    assert time.perf_counter() - started < 5
    if field.startswith("argument "):
        assert status == 2 and out == "" and err.count("\n") == 1 and field in err, err
    else:
        err = assert_refused(status, out, err)
        assert err.split(": ", 2)[1] == field, err


@pytest.mark.parametrize(
    ("flags", "call", "field"),
    [
        (["--devices", "0"], lambda: paper_scenario(0), "devices"),
        (["--devices", "1000000000"], lambda: paper_scenario(10**9), "devices"),
        (["--devices", "3", "--seed", "-1"], lambda: paper_scenario(3, -1), "seed"),
        (["--devices", "3", "--ratio", "nan"], lambda: Setup(ratio=float("nan")), "setup.ratio"),
        (
            ["--devices", "3", "--ratio", "1e-320"],
            lambda: paper_scenario(3, ratio=1e-320),
            "setup.ratio",
        ),
        (
            ["--devices", "3", "--quantum", "1e-12"],
            lambda: Setup(quantum_s=1e-12),
            "setup.quantum_s",
        ),
        (
            ["--devices", "3", "--bs-quantum", "0"],
            lambda: Setup(bs_quantum_s=0.0),
            "setup.bs_quantum_s",
        ),
        (
            ["--devices", "3", "--distance", "1,1e30"],
            lambda: paper_scenario(3, distance_m=(1, 1e30)),
            "setup.distance_m",
        ),
        (
            ["--devices", "3", "--background", f"0,{2**62}"],
            lambda: paper_scenario(3, background=(0, 2**62)),
            "setup.background",
        ),
        (
            ["--devices", "3", "--max-stage", f"0,{2**64}"],
            lambda: Setup(max_stage=(0, 2**64)),
            "setup.max_stage[1]",
        ),
    ],
)
def test_the_api_refuses_what_the_command_line_refuses(flags, call, field, capsys):
    """The same mistake gives the same problem, named by its flag or by its API field."""
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.field == field
    err = assert_refused(*run(capsys, "scenario", *flags))
    assert err.rstrip("\n").endswith(caught.value.problem), (err, caught.value.problem)


def test_time_limit_passes_its_check(scenario_file, capsys):
    """A valid --time-limit is never refused as a flag (the solver may not take it yet)."""
    status, out, err = run(capsys, "solve", str(scenario_file), "--time-limit", "2.5")
    assert "--time-limit" not in err
    if status == 0:
        assert json.loads(out)["partition"]
    else:
        assert_refused(status, out, err, "time_limit")
