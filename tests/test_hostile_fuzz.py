"""Fuzzers: valid scenario files, profile CSVs and flag lists mutated at random. They are
derandomized under the default profile and explore at length under
``pytest --hypothesis-profile=fuzz tests/test_hostile_fuzz.py``."""

from __future__ import annotations

import copy
import json
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from conftest import scenario_dicts
from dnnsplit import InputError, Scenario, evaluate, is_local_optimum, paper_scenario, solve
from hostile import (
    SHIPPED_CSV,
    check_outcome,
    fuzz_settings,
    run,
    time_limit,
)

yaml = pytest.importorskip("yaml")

# --- fuzzers ---------------------------------------------------------------------------------

HOSTILE_VALUES = [
    0, -0.0, -1, 1, 2, 0.5, 3.7, 1e-320, 5e-324, 1e-9, 1e15, 1e300, -1e300, 2**63, 2**64,
    10**400, float("nan"), float("inf"), float("-inf"), True, False, None, "", "7", "sjf",
    "rr", "alexnet-pi3b-estimated", [], [1, 2], {}, {"rate_bps": 1e7},
]  # fmt: skip
hostile = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.sampled_from([0.001, 0.01, 0.05, 1, 2, 5, 100, 1e6, 1e9]),  # plausible: often accepted
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=8),
)
any_key = st.one_of(
    st.sampled_from(["rate_bps", "ratio", "name", "stages", "x"]), st.text(max_size=6)
)


def nodes(tree, path=()):
    """Every (path, value) of a JSON-like tree, the root included."""
    yield path, tree
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from nodes(value, (*path, key))
    elif isinstance(tree, list):
        for k, value in enumerate(tree):
            yield from nodes(value, (*path, k))


def dump_json(tree, duplicate=None, path=()) -> str:
    """JSON text of ``tree``; the object at path ``duplicate`` gets its first key twice."""
    if isinstance(tree, dict):
        items = [
            f"{json.dumps(str(k))}: {dump_json(v, duplicate, (*path, k))}" for k, v in tree.items()
        ]
        if path == duplicate and tree:
            items.append(items[0])
        return "{" + ", ".join(items) + "}"
    if isinstance(tree, list):
        return (
            "[" + ", ".join(dump_json(v, duplicate, (*path, k)) for k, v in enumerate(tree)) + "]"
        )
    return json.dumps(tree)


@st.composite
def hostile_scenario_files(draw):
    """(file name, bytes) of a valid scenario mutated 1–3 times, in some encoding."""
    tree = draw(scenario_dicts(deadlines=True, policies=("sjf", "ps", "rr", "fcfs")))
    if draw(st.booleans()):
        tree["channel"] = {"mac_efficiency": 0.7, "exponent": 2.2}
        tree["devices"][0].pop("rate_bps")
        tree["devices"][0]["distance_m"] = 100.0
    duplicate = None
    for _ in range(draw(st.integers(1, 3))):
        path, node = draw(st.sampled_from(list(nodes(tree))))
        operation = draw(
            st.sampled_from(["set", "set", "set", "delete", "add", "wrap", "duplicate"])
        )
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        if operation == "set" and path:
            parent[path[-1]] = copy.deepcopy(draw(hostile))
        elif operation == "delete" and path:
            del parent[path[-1]]
        elif operation == "add" and isinstance(node, dict):
            node[draw(any_key)] = copy.deepcopy(draw(hostile))
        elif operation == "wrap" and path:
            parent[path[-1]] = [node]
        elif operation == "duplicate" and isinstance(node, dict):
            duplicate = path
        paths = {p for p, _ in nodes(tree)}
        if duplicate not in paths:
            duplicate = None
    form = draw(st.sampled_from(["json", "json", "yaml", "bom", "crlf", "utf16", "latin1", "cut"]))
    if form == "yaml":
        text = yaml.safe_dump(tree)
        return "s.yaml", text.encode()
    text = dump_json(tree, duplicate)
    data = text.encode()
    if form == "bom":
        data = b"\xef\xbb\xbf" + data
    elif form == "crlf":
        data = data.replace(b"\n", b"\r\n") + b"\r\n"
    elif form == "utf16":
        data = text.encode("utf-16")
    elif form == "latin1":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xe9" + data[at:]
    elif form == "cut":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    return "s.json", data


@fuzz_settings(300)
@given(
    hostile_scenario_files(),
    st.sampled_from(
        ["evaluate", "greedy", "local-search", "exhaustive", "exact", "all-local", "independent"]
    ),
    st.sampled_from(["snapshot", "timeline"]),
    st.sampled_from(["total", "variance"]),
    st.lists(st.integers(-1, 5), min_size=1, max_size=5),
)
def test_fuzz_scenario_files(tmp_path, capsys, case, action, model_name, objective, partition):
    name, data = case
    path = tmp_path / name
    path.write_bytes(data)
    if action == "evaluate":
        argv = [
            "evaluate",
            path,
            "--partition",
            ",".join(map(str, partition)),
            "--model",
            model_name,
        ]
    else:
        argv = ["solve", path, "--solver", action, "--model", model_name, "--objective", objective]
        argv += ["--restarts", "2", "--max-vectors", "300"]
    status, out, err = run(capsys, *argv, seconds=30)
    result = check_outcome(status, out, err, argv[0])
    if result is None:
        return
    # what was reported is what the model says for that partition ("feasible as reported")
    scenario = Scenario.from_file(path)
    again = evaluate(scenario, result["partition"], model=model_name, enforce_limits=False)
    assert again.delays.tolist() == pytest.approx(result["delays"], rel=1e-12)
    assert again.feasible == result["feasible"]
    deadlines = np.array(
        [np.inf if d.deadline_s is None else d.deadline_s for d in scenario.devices]
    )
    if result["feasible"]:
        assert np.all(np.array(result["delays"]) <= deadlines + 1e-6)


CSV_CELLS = [
    "",
    "nan",
    "inf",
    "-1",
    "1e400",
    "abc",
    "1" * 30,
    "-0.0",
    "True",
    "5e-324",
    "18446744073709551615",
    '"',
    "0",
    "1.5",
    "600.5",
]


@st.composite
def hostile_profiles(draw):
    """Bytes of a shipped profile CSV with cells, columns, rows or the encoding broken."""
    frame = pd.read_csv(SHIPPED_CSV, dtype=str, keep_default_na=False)
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(
            st.sampled_from(["cell", "cell", "cell", "drop", "add", "rows", "model", "times"])
        )
        column = draw(st.sampled_from(list(frame.columns))) if len(frame.columns) else None
        if operation == "cell" and column is not None and len(frame):
            row = draw(st.integers(0, len(frame) - 1))
            frame.loc[frame.index[row], column] = draw(
                st.one_of(st.sampled_from(CSV_CELLS), st.text(max_size=5))
            )
        elif operation == "drop" and column is not None:
            frame = frame.drop(columns=[column])
        elif operation == "add":
            frame[draw(st.sampled_from(["notes", "iqr_s", "time_ms", "", "x"]))] = "1"
        elif operation == "model" and "model" in frame.columns:
            frame["model"] = "custom"  # not a known chain: names and bytes are free
        elif operation == "times" and "time_s" in frame.columns and len(frame) > 1:
            scale = draw(st.sampled_from(["1e-300", "1e-9", "0.001", "100", "600"]))
            frame.loc[frame.index[1:], "time_s"] = scale
        elif operation == "rows" and len(frame):
            keep = draw(st.integers(0, len(frame)))
            frame = frame.iloc[:keep]
    text = frame.to_csv(index=False, lineterminator="\n")
    if draw(st.integers(0, 9)) == 0 and column is not None:
        text = text.replace(column, f"{column},{column}", 1)  # a column named twice
    form = draw(st.sampled_from(["plain", "plain", "bom", "crlf", "utf16", "cut"]))
    data = text.encode()
    if form == "bom":
        data = b"\xef\xbb\xbf" + data
    elif form == "crlf":
        data = data.replace(b"\n", b"\r\n")
    elif form == "utf16":
        data = text.encode("utf-16")
    elif form == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    return data


@fuzz_settings(150)
@given(hostile_profiles(), st.sampled_from(["--profile", "--bs-profile"]))
def test_fuzz_profile_csvs(tmp_path, capsys, data, flag):
    path = tmp_path / "p.csv"
    path.write_bytes(data)
    argv = ["scenario", "--devices", "2", "--seed", "1", flag, path]
    if flag == "--bs-profile":
        argv += ["--profile", SHIPPED_CSV]
    status, out, err = run(capsys, *argv)
    result = check_outcome(status, out, err, "scenario")
    if result is not None:
        scenario = Scenario.from_dict(result)
        assert np.all(np.isfinite(scenario.tables.local))


FLAG_VALUES = [
    "-1", "0", "1", "3", "0.5", "1e-9", "1e-320", "nan", "inf", "-inf", "1e400", "1e9", "abc", "",
    "99999999999999999999999", "-0", "2,1", "1,2", ",", "0,1e30", "5,5", "1e308,1e308", "0,8",
]  # fmt: skip
#: Values each flag takes when used well, so that many flag lists get through to a result.
VALID_FLAG_VALUES = {
    "--seed": ["0", "7", "123456789"],
    "--ratio": ["1", "10", "0.5", "1e3"],
    "--quantum": ["0.01", "0.001", "0.5"],
    "--bs-quantum": ["0.01", "0.001", "1e-5"],
    "--distance": ["50,500", "1,2", "10,10"],
    "--max-stage": ["0,8", "5,8", "3,3", "0,99"],
    "--background": ["0,3", "0,0", "5,100"],
    "--lowest-point": ["0", "1"],
    "--policy": ["sjf", "ps", "rr", "fcfs"],
    "--local-delay": ["paper", "exact"],
    "--restarts": ["0", "2"],
    "--max-vectors": ["10", "1e3", "1e9"],
    "--time-limit": ["1", "0.5", "0.001", "1e-9"],
    "--solver": [
        "greedy",
        "local-search",
        "exhaustive",
        "exact",
        "optimal",
        "all-local",
        "max-local",
        "independent",
    ],
    "--objective": ["total", "variance"],
    "--model": ["snapshot", "timeline"],
    "--start": ["half", "ones", "local"],
}
SCENARIO_FLAGS = list(VALID_FLAG_VALUES)[:10]
SOLVE_FLAGS = ["--seed", *list(VALID_FLAG_VALUES)[10:]]


def flag_value(flag: str) -> st.SearchStrategy[str]:
    """Half well-formed values of ``flag``, half hostile ones."""
    return st.one_of(
        st.sampled_from(VALID_FLAG_VALUES[flag]),
        st.sampled_from(FLAG_VALUES),
        st.text(max_size=6),
    )


@fuzz_settings(300)
@given(st.data())
def test_fuzz_flag_lists(tmp_path, capsys, data):
    command = data.draw(st.sampled_from(["scenario", "solve", "evaluate"]))
    if command == "scenario":
        devices = ["2", "5", "2", "5", "0", "-3", "1e3", "1000000000", "x", "9" * 20]
        argv = ["scenario", "--devices", data.draw(st.sampled_from(devices))]
        flags = SCENARIO_FLAGS
    else:
        path = tmp_path / "s.json"
        policy = data.draw(st.sampled_from(["sjf", "rr"]))
        path.write_text(json.dumps(paper_scenario(4, 1, policy=policy).to_dict()))
        if command == "solve":
            argv, flags = ["solve", str(path)], SOLVE_FLAGS
        else:
            partition = st.sampled_from(["0,0,0,0", "1,2,3,4", "8,8,8,8"])
            partition = st.one_of(partition, st.sampled_from(FLAG_VALUES), st.text(max_size=6))
            argv, flags = ["evaluate", str(path), "--partition", data.draw(partition)], ["--model"]
    for flag in data.draw(st.lists(st.sampled_from(flags), max_size=3, unique=True)):
        argv += [f"{flag}={data.draw(flag_value(flag))}"]
    status, out, err = run(capsys, *argv, seconds=30)
    assert status in (0, 2), (argv, status, err)
    check_outcome(status, out, err, command)  # argparse's errors follow the rule too


SEARCHING = ["greedy", "local-search", "exhaustive", "exact", "optimal"]


@fuzz_settings(80)
@given(
    scenario_dicts(deadlines=True, policies=("sjf", "ps", "rr")),
    st.sampled_from(SEARCHING),
    st.sampled_from(["total", "variance", "max"]),
    st.sampled_from(["snapshot", "timeline"]),
    st.sampled_from([1e-9, 1e-4, 0.01, 0.3, None]),
)
def test_fuzz_solver_limits(raw, solver, objective, model_name, limit):
    """Every searching solver, any objective and model, under a time limit from none to
    one no search can meet: a finite answer within the limit (plus the last iteration),
    flagged when the limit stopped it, or one refusal naming its field."""
    scenario = Scenario.from_dict(raw)
    options = {} if limit is None else {"time_limit": limit}
    began = time.perf_counter()
    try:
        with time_limit(60):
            found = solve(scenario, objective=objective, solver=solver, model=model_name, **options)
    except InputError as refusal:
        event(f"refused: {refusal.field}")
        assert "\n" not in str(refusal)
        assert refusal.field in {"time_limit", "solver", "model", "deadline_s", "bs.policy"}, str(
            refusal
        )
        return
    elapsed = time.perf_counter() - began
    event(f"{solver}: answered")
    if limit is not None and solver != "optimal":
        assert elapsed < limit + 2.0
    assert np.all(np.isfinite(found.evaluation.delays))
    assert np.all(found.partition >= scenario.min_stage)
    assert np.all(found.partition <= scenario.max_stage)
    if solver in ("greedy", "local-search"):
        moves = "step" if solver == "greedy" else "any"
        if found.stopped is None:
            assert is_local_optimum(scenario, found.partition, objective, moves, model=model_name)
