"""Hostile but fair input: one line naming the field, or a finite result.

Every input path (scenario files in JSON and YAML, profile CSVs, command-line flags, the
Python API) either gives a finite result or refuses with one line that names the field or
flag (exit status 2 on the command line, :class:`~dnnsplit.InputError` in the API): never a
traceback, a hang, silent nonsense or a half-written file. The fuzzers at the end mutate
valid files and flag lists; they are derandomized under the default profile and explore at
length under ``pytest --hypothesis-profile=fuzz tests/test_hostile.py``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import dnnsplit._checks as checks
import dnnsplit.model as model
import dnnsplit.timeline as timeline
from conftest import scenario_dicts
from dnnsplit import (
    Channel,
    Device,
    InputError,
    Profile,
    Scenario,
    Setup,
    evaluate,
    load_profile,
    solve,
)
from dnnsplit.cli import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OUTPUT, main
from dnnsplit.model import MAX_DELAY_S, rr_completion
from dnnsplit.paths import MEASUREMENTS_DIR
from dnnsplit.profiles import read_profile

yaml = pytest.importorskip("yaml")

SHIPPED_CSV = MEASUREMENTS_DIR / "alexnet-epyc-1t-measured.csv"
BASE = {
    "profile": {
        "input_bytes": 618348,
        "stages": [
            {"name": "conv1", "device_s": 0.036, "output_bytes": 1161600},
            {"name": "pool1", "device_s": 0.003, "output_bytes": 279936},
        ],
    },
    "bs": {"policy": "sjf", "ratio": 10, "quantum_s": 0.01},
    "local_delay": "paper",
    "devices": [
        {"background": 2, "quantum_s": 0.01, "max_stage": 2, "rate_bps": 26e6},
        {"distance_m": 120.0},
    ],
}
#: "dnnsplit <command>: <field>: <problem>", the field being anything before ": "
ONE_LINE = re.compile(r"^dnnsplit [a-z]+: (?P<field>[^:\n]+(?::[^:\n]+)?): \S[^\n]*\n$")

FUZZING = settings.get_current_profile_name() == "fuzz"


def fuzz_settings(examples: int) -> settings:
    """Derandomized with ``examples`` examples, unless the ``fuzz`` profile is loaded."""
    return settings() if FUZZING else settings(derandomize=True, max_examples=examples)


class Hang(BaseException):
    """A call took longer than its bound (a BaseException: main() must not catch it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Fail with :class:`Hang` if the block runs longer than ``seconds``."""

    def alarm(signum, frame):
        raise Hang(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(capsys, *argv: str, seconds: float = 30) -> tuple[int, str, str]:
    """``dnnsplit argv`` in this process: (status, stdout, stderr)."""
    with time_limit(seconds):
        try:
            status = main([str(a) for a in argv])
        except SystemExit as stop:  # argparse errors
            status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_refused(status: int, out: str, err: str, field: str | None = None) -> str:
    """Exit 2, nothing on stdout, one line on stderr naming ``field`` (a prefix)."""
    assert status == EXIT_BAD_INPUT, (status, err)
    assert out == ""
    assert "Traceback" not in err
    match = ONE_LINE.match(err)
    assert match, f"not one 'dnnsplit cmd: field: problem' line: {err!r}"
    if field is not None:
        assert match["field"].startswith(field) or err.split(": ", 2)[1].startswith(field), err
    return err


def changed(path: list, value, raw: dict | None = None) -> dict:
    raw = copy.deepcopy(BASE if raw is None else raw)
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


def finite_numbers(value) -> bool:
    """Every number inside a JSON result is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    return True


# --- numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        (np.int64(3), {"whole": True}, 3),
        (np.uint8(7), {"whole": True}, 7),
        (np.float32(0.5), {}, 0.5),
        (3.0, {"whole": True}, 3),
        (Decimal("2.5"), {}, 2.5),
        (Fraction(1, 4), {}, 0.25),
        (5e-324, {"positive": True}, 5e-324),
        (2**63 - 1, {"whole": True}, 2**63 - 1),
        (10**300, {}, 1e300),
    ],
)
def test_numbers_of_every_type_are_accepted(value, options, expected):
    got = checks.number(value, "x", **options)
    assert got == expected and type(got) is type(expected)


def test_negative_zero_becomes_zero():
    got = checks.number(-0.0, "x", minimum=0)
    assert got == 0 and math.copysign(1, got) == 1
    scenario = Scenario.from_dict(changed(["profile", "stages", 0, "device_s"], -0.0))
    assert json.dumps(scenario.to_dict()).count("-0.0") == 0
    with pytest.raises(InputError, match=r"^x: must be positive, got -0.0"):
        checks.number(-0.0, "x", positive=True)


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        (10**400, {}, r"^x: is too large for a number, got 1000"),
        (10**400, {"whole": True}, r"^x: is out of range: whole numbers lie within"),
        (2**63, {"whole": True}, r"^x: is out of range"),
        (np.uint64(2**64 - 1), {"whole": True}, r"^x: is out of range"),
        (1e300, {"whole": True}, r"^x: is out of range"),
        (Fraction(10**400, 3), {}, r"^x: is too large for a number"),
        (np.longdouble("1e4000"), {}, r"^x: must be finite"),
        (Decimal("NaN"), {}, r"^x: must be finite"),
        (True, {}, r"^x: must be a number, got True"),
        (np.True_, {"whole": True}, r"^x: must be a whole number"),
        ("1", {}, r"^x: must be a number, got '1'"),
        (None, {}, r"^x: must be a number, got None"),
        (1j, {}, r"^x: must be a number, got 1j"),
        (np.timedelta64(5, "s"), {}, r"^x: must be a plain number, not a time with units"),
        (float("nan"), {}, r"^x: must be finite, got nan"),
        (np.float64("-inf"), {}, r"^x: must be finite"),
    ],
)
def test_numbers_beyond_float_or_int64_are_refused_in_one_line(value, options, message):
    with pytest.raises(InputError, match=message) as caught:
        checks.number(value, "x", **options)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_a_number_too_long_to_print_still_gets_a_message():
    huge = 10**5000  # beyond sys.get_int_max_str_digits(): repr() itself would fail
    with pytest.raises(InputError, match=r"^x: is too large for a number, got <a whole number"):
        checks.number(huge, "x")


# --- every field of a scenario, including derived quantities -----------------------------


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["devices", 0, "rate_bps"], 10**400, "devices[0].rate_bps"),
        (["devices", 0, "rate_bps"], 5e-324, "devices[0].rate_bps"),
        (["profile", "stages", 0, "output_bytes"], 2**63, "profile.stages[0].output_bytes"),
        (["profile", "input_bytes"], 10**30, "profile.input_bytes"),
        (["profile", "name"], 5, "profile.name"),
        (["devices", 0, "max_stage"], 1e300, "devices[0].max_stage"),
        (["devices", 0, "background"], 2**62, "devices[0].background"),
        (["devices", 0, "speed"], 5e-324, "devices[0].speed"),
        (["devices", 0, "quantum_s"], 1e300, "devices[0].quantum_s"),
        (["devices", 0, "quantum_s"], 1e-300, "devices[0].quantum_s"),
        (["devices", 0, "deadline_s"], -0.0, "devices[0].deadline_s"),
        (["devices", 1, "distance_m"], 1e300, "devices[1].distance_m"),
        (["bs", "ratio"], 1e-320, "bs.ratio"),
        (["bs", "quantum_s"], 1e-300, "bs.quantum_s"),
        (["profile", "stages", 0, "device_s"], 1e300, "profile.stages[0].device_s"),
        (["profile", "stages", 1, "bs_s"], 1e300, "profile.stages[1].bs_s"),
        (["channel"], {"mac_efficiency": -0.7}, "channel.mac_efficiency"),
        (["channel"], {"mac_efficiency": 1.5}, "channel.mac_efficiency"),
        (["channel"], {"exponent": -2.2}, "channel.exponent"),
        (["channel"], {"exponent": "2.2"}, "channel.exponent"),
        (["channel"], {"tx_power_dbm": 1e300}, "channel.tx_power_dbm"),
        (["channel"], {"loss_at_1m_db": -40}, "channel.loss_at_1m_db"),
        (["channel"], {"short_guard_interval": 1}, "channel.short_guard_interval"),
        (["channel"], {"mac_efficiency": 1e-300}, "devices[1].distance_m"),
        (["channel"], {"colour": 1}, "channel.colour"),
        (["meta"], {"x": [1, float("nan")]}, "meta.x[1]"),
        (["bs", "policy"], ["sjf"], "bs.policy"),
        (["bs", "policy"], 7, "bs.policy"),
    ],
)
def test_every_field_and_derived_quantity_is_named(path, value, field, tmp_path, capsys):
    raw = changed(path, value)
    with pytest.raises(InputError) as caught:
        Scenario.from_dict(raw)
    assert caught.value.field == field, str(caught.value)
    # the same mistake through a file and the command line
    file = tmp_path / "s.json"
    file.write_text(json.dumps(raw))
    err = assert_refused(*run(capsys, "evaluate", file, "--partition", "0,0"))
    assert err.startswith(f"dnnsplit evaluate: {field}: "), err


def test_numpy_and_decimal_values_work_like_plain_numbers():
    plain = Scenario.from_dict(BASE)
    raw = changed(["devices", 0, "max_stage"], np.int64(2))
    raw["devices"][0]["background"] = np.uint8(2)
    raw["devices"][0]["rate_bps"] = Decimal("26e6")
    raw["bs"]["ratio"] = np.float32(10)
    numpy_made = Scenario.from_dict(raw)
    p = [1, 2]
    assert evaluate(numpy_made, p).delays.tolist() == evaluate(plain, p).delays.tolist()
    assert Scenario.paper(np.int64(4), np.uint32(3)).to_dict() == Scenario.paper(4, 3).to_dict()


extreme = st.one_of(
    st.floats(min_value=5e-324, max_value=1e308),
    st.sampled_from([5e-324, 1e-300, 1e-9, 1e300, 1.7e308, 2.0**63]),
)


@fuzz_settings(80)
@given(scenario_dicts(deadlines=True, policies=("sjf", "ps", "rr")), st.data())
def test_accepted_scenarios_give_finite_delays(raw, data):
    """Extreme but valid values: refused naming a field, or every delay is finite."""
    device = data.draw(st.integers(0, len(raw["devices"]) - 1))
    key = data.draw(st.sampled_from(["rate_bps", "speed", "background", "quantum_s", "ratio"]))
    if key == "background":
        value = data.draw(st.integers(0, 2**63 - 1))
    else:
        value = data.draw(extreme)
    if key == "ratio":
        raw["bs"]["ratio"] = value
    else:
        raw["devices"][device][key] = value
    try:
        scenario = Scenario.from_dict(raw)
    except InputError as error:
        assert "\n" not in str(error)
        return
    p = np.maximum(scenario.max_stage // 2, scenario.min_stage)
    for model_name in ("snapshot", "timeline"):
        try:
            with time_limit(20):
                result = evaluate(scenario, p, model=model_name)
        except InputError as error:  # a timeline too long to simulate
            assert error.field == "bs.quantum_s" and model_name == "timeline"
            continue
        assert np.all(np.isfinite(result.delays)) and np.all(result.delays >= 0)
        assert np.all(result.delays <= MAX_DELAY_S * scenario.n_devices)
        json.dumps(result.to_dict(), allow_nan=False)


@fuzz_settings(40)
@given(
    st.floats(-100, 100),
    st.floats(0, 300),
    st.floats(1e-6, 10),
    st.booleans(),
    st.floats(1e-9, 1),
    st.lists(st.floats(1e-6, 1e6), min_size=2, max_size=8),
)
def test_a_rate_is_positive_and_never_grows_with_distance(
    power, loss, exponent, short_gi, efficiency, distances
):
    channel = Channel(power, loss, exponent, short_gi, efficiency)
    distances = np.sort(np.array(distances))
    try:
        rates = channel.rate_bps(distances)
    except InputError as error:
        assert error.field == "distance_m" and "out of range" in error.problem
        return
    assert np.all(np.isfinite(rates)) and np.all(rates > 0)
    assert np.all(np.diff(rates) <= 0)


# --- files -------------------------------------------------------------------------------


GOOD = json.dumps(BASE, indent=2)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "empty.json",
            b"",
            r"^scenario: empty.json is not a readable scenario file \(the file is empty",
        ),
        ("blank.json", b" \n\t\n", r"is empty"),
        ("u16.json", GOOD.encode("utf-16"), r"UTF-16 or UTF-32 text; save it as UTF-8"),
        (
            "latin.json",
            GOOD.replace("conv1", "conv\xe9").encode("latin-1"),
            r"not UTF-8 text: byte 0xe9 at offset \d+; save it as UTF-8",
        ),
        ("nul.json", b'{"a": 1}\x00', r"binary data"),
        (
            "deep.json",
            b"[" * 100_000 + b"]" * 100_000,
            r"^scenario: deep.json is nested too deeply",
        ),
        (
            "digits.json",
            b'{"devices": [{"rate_bps": 1' + b"0" * 5000 + b"}]}",
            r"a number too long to read \(more than \d+ digits\)",
        ),
        (
            "csv.json",
            SHIPPED_CSV.read_bytes(),
            r"^scenario: csv.json is not valid JSON: .* at line 1",
        ),
        ("list.json", b"[1, 2]", r"^scenario: must be an object, got list"),
        (
            "dup.json",
            b'{"profile": "alexnet-pi3b-estimated", "devices": [{"rate_bps": 1e7, "rate_bps": 2e7}]}',
            r"^devices\[0\]\.rate_bps: appears twice in one object of dup.json",
        ),
        (
            "dup.yaml",
            b"profile: alexnet-pi3b-estimated\nprofile: x\ndevices: [{rate_bps: 1e7}]\n",
            r"^profile: appears twice",
        ),
        (
            "key.yaml",
            b"profile: alexnet-pi3b-estimated\n1: 2\ndevices: [{rate_bps: 1e7}]\n",
            r"^1: unknown field \(a key of type int",
        ),
        (
            "null.yaml",
            b"profile: alexnet-pi3b-estimated\ndevices: [{rate_bps: 1e7, ~: 2}]\n",
            r"^devices\[0\]\.None: unknown field \(a key of type NoneType",
        ),
        (
            "listkey.yaml",
            b"? [1, 2]\n: 3\n",
            r"^scenario: listkey.yaml is not valid YAML: found unhashable key at line 1",
        ),
        ("bad.yaml", b"profile: [\n", r"^scenario: bad.yaml is not valid YAML: .* at line 2$"),
        ("deep.yaml", b"[" * 5000 + b"]" * 5000, r"is nested too deeply"),
        (
            "laughs.yaml",
            b"profile: alexnet-pi3b-estimated\ndevices: [{rate_bps: 1e7}]\nmeta:\n  a: &a [x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
            r"^meta\..*: repeats an object \(a YAML alias\)",
        ),
        (
            "loop.yaml",
            b"profile: alexnet-pi3b-estimated\ndevices: &d [*d]\n",
            r"^devices\[0\]: must be an object, got list",
        ),
        (
            "set.yaml",
            b"profile: alexnet-pi3b-estimated\ndevices: [{rate_bps: 1e7}]\nmeta: !!set {a, b}\n",
            r"^meta: must be an object",
        ),
    ],
)
def test_bad_files_get_one_line_each(name, data, message, tmp_path):
    path = tmp_path / name
    path.write_bytes(data)
    with time_limit(10), pytest.raises(InputError, match=message) as caught:
        Scenario.from_file(path)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_missing_directory_and_oversized_files(tmp_path, monkeypatch):
    with pytest.raises(InputError, match=r"^scenario: cannot read '.*nope.json': no such file$"):
        Scenario.from_file(tmp_path / "nope.json")
    with pytest.raises(InputError, match=r"^scenario: cannot read .*: it is a directory"):
        Scenario.from_file(tmp_path)
    with pytest.raises(InputError, match=r"^profile: cannot read .*: it is a directory, not a CSV"):
        read_profile(tmp_path)
    big = tmp_path / "big.json"
    big.write_text(GOOD)
    monkeypatch.setattr(checks, "MAX_FILE_BYTES", 100)
    with pytest.raises(
        InputError, match=r"^scenario: big.json is not a readable scenario file \(larger than"
    ):
        Scenario.from_file(big)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text(GOOD)
    path.chmod(0)
    with pytest.raises(InputError, match=r"^scenario: cannot read .*: permission denied$"):
        Scenario.from_file(path)


def test_bom_crlf_and_yaml_numbers_simply_work(tmp_path):
    plain = Scenario.from_dict(BASE)
    p = [1, 1]
    for name, data in [
        ("bom.json", b"\xef\xbb\xbf" + GOOD.encode()),
        ("crlf.json", GOOD.replace("\n", "\r\n").encode()),
        ("bom-crlf.yaml", b"\xef\xbb\xbf" + yaml.safe_dump(BASE).replace("\n", "\r\n").encode()),
        # YAML 1.1 would read 26e6 as a string; we read it as JSON and YAML 1.2 do
        ("exponent.yaml", yaml.safe_dump(BASE).replace("26000000.0", "26e6").encode()),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        loaded = Scenario.from_file(path)
        assert evaluate(loaded, p).delays.tolist() == evaluate(plain, p).delays.tolist(), name
    dated = tmp_path / "dated.yaml"
    dated.write_text(yaml.safe_dump(BASE) + "meta: {made: 2026-01-01}\n")
    assert Scenario.from_file(dated).meta == {"made": "2026-01-01"}


def test_yaml_tags_are_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "tag.yaml"
    path.write_text(f"profile: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(InputError, match=r"^scenario: tag.yaml is not valid YAML: could not"):
        Scenario.from_file(path)
    assert not marker.exists()


def test_yaml_aliases_for_devices_are_fine(tmp_path):
    path = tmp_path / "alias.yaml"
    path.write_text("profile: alexnet-pi3b-estimated\ndevices:\n  - &d {rate_bps: 1e7}\n  - *d\n")
    assert Scenario.from_file(path).n_devices == 2


# --- profile CSVs -------------------------------------------------------------------------


def csv_with(change) -> str:
    frame = pd.read_csv(SHIPPED_CSV, dtype=str, keep_default_na=False)
    return change(frame).to_csv(index=False, lineterminator="\n")


def set_cell(row, column, value):
    def change(frame):
        frame.loc[row, column] = value
        return frame

    return change


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            lambda: SHIPPED_CSV.read_text().replace("time_s,", "time_s,time_s,", 1),
            r"column time_s: appears more than once in the header",
        ),
        (
            lambda: csv_with(lambda f: f.assign(notes="x")),
            r"column notes: unknown column; optional",
        ),
        (
            lambda: csv_with(set_cell(1, "output_bytes", "1" + "0" * 30)),
            r"row 2, column output_bytes: 1000+ is too large",
        ),
        (
            lambda: csv_with(set_cell(1, "output_bytes", "18446744073709551615")),
            r"row 2, column output_bytes: 18446744073709551615 is too large",
        ),
        (
            lambda: csv_with(set_cell(2, "stage_index", "1e30")),
            r"row 3, column stage_index: 1e\+30 is too large",
        ),
        (
            lambda: csv_with(set_cell(1, "time_s", "1e400")),
            r"row 2, column time_s: not a number of seconds: inf",
        ),
        (
            lambda: csv_with(set_cell(1, "iqr_s", "-1")),
            r"row 2, column iqr_s: not a non-negative number: -1.0",
        ),
        (
            lambda: csv_with(set_cell(1, "within_noise", "maybe")),
            r"row 2, column within_noise: must be True or False",
        ),
        (
            lambda: csv_with(set_cell(1, "macs", "1.5")),
            r"row 2, column macs: not a non-negative whole number",
        ),
        (
            lambda: csv_with(set_cell(1, "stage", "")),
            r"row 2, column stage: must be a non-empty stage name",
        ),
        (
            lambda: csv_with(set_cell(1, "output_bytes", "True")),
            r"row 2, column output_bytes: not a non-negative whole number: 'True'",
        ),
        (
            lambda: SHIPPED_CSV.read_text() + '"unterminated\n',
            r"^profile: p.csv is not a readable CSV \(Error tokenizing",
        ),
        (
            lambda: SHIPPED_CSV.read_text().splitlines()[0] + "\n",
            r"column stage_index: needs the input row",
        ),
    ],
)
def test_every_profile_column_is_checked(text, message, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(text())
    with pytest.raises(InputError, match=message) as caught:
        read_profile(path)
    assert "\n" not in str(caught.value)


def test_profile_bom_and_crlf_work_and_other_encodings_do_not(tmp_path):
    shipped = read_profile(SHIPPED_CSV)
    text = SHIPPED_CSV.read_text()
    for name, data in [
        ("bom.csv", b"\xef\xbb\xbf" + text.encode()),
        ("crlf.csv", text.replace("\n", "\r\n").encode()),
    ]:
        (tmp_path / name).write_bytes(data)
        loaded = read_profile(tmp_path / name)
        assert loaded.time_s.tolist() == shipped.time_s.tolist()
        assert loaded.output_bytes.tolist() == shipped.output_bytes.tolist()
    (tmp_path / "u16.csv").write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError, match=r"^profile: u16.csv is not a readable CSV \(it is UTF-16"):
        read_profile(tmp_path / "u16.csv")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", r"^profile: must be a profile name or path, got ''"),
        (5, r"^profile: must be a profile name or path, got 5"),
        ("a\x00b", r"^profile: 'a\\x00b' is not a file name"),
        ("x" * 5000, r"^profile: unknown profile 'xxx"),
        ("no/such/dir/p.csv", r"^profile: cannot read 'no/such/dir/p.csv': no such file$"),
    ],
)
def test_profile_names_of_any_kind(name, message):
    with pytest.raises(InputError, match=message) as caught:
        load_profile(name)
    assert len(str(caught.value)) < 2000


def test_objects_built_directly_are_checked_too():
    profile = load_profile("alexnet-pi3b-estimated")
    with pytest.raises(InputError, match=r"^profile.time_s\[1\]: must be a finite time >= 0"):
        Profile("p", "p", ("a", "b"), [0.1, -1.0], [10, 10], 5)
    with pytest.raises(InputError, match=r"^profile.output_bytes\[0\]: is out of range"):
        Profile("p", "p", ("a",), [0.1], [2**64], 5)
    with pytest.raises(InputError, match=r"^rate_bps: must be positive"):
        Device(rate_bps=-1.0, max_stage=2)
    with pytest.raises(InputError, match=r"^min_stage: 3 exceeds max_stage 2"):
        Device(rate_bps=1e7, max_stage=2, min_stage=3)
    fields = {
        "profile": profile,
        "bs_time_s": profile.time_s / 10,
        "policy": "sjf",
        "ratio": 10.0,
        "bs_quantum_s": 0.01,
        "local_delay": "paper",
        "devices": (Device(rate_bps=1e7, max_stage=8),),
    }
    assert Scenario(**fields).n_devices == 1
    for change, message in [
        ({"devices": (Device(rate_bps=1e7, max_stage=9),)}, r"^devices\[0\].max_stage: 9 exceeds"),
        ({"devices": ()}, r"^devices: must be a non-empty list"),
        ({"devices": ({"rate_bps": 1e7},)}, r"^devices\[0\]: must be a dnnsplit.Device"),
        ({"policy": "lifo"}, r"^bs.policy: unknown value 'lifo'"),
        ({"bs_quantum_s": 0.0}, r"^bs.quantum_s: must be positive"),
        ({"bs_time_s": [1.0]}, r"^bs_time_s: needs one time per stage"),
        (
            {"bs_time_s": np.full(8, 1e300), "ratio": None},
            r"^bs_time_s\[0\]: the BS stage times add up",
        ),
        ({"meta": {"x": float("inf")}}, r"^meta.x: must be finite"),
    ]:
        with pytest.raises(InputError, match=message):
            Scenario(**{**fields, **change})
    with pytest.raises(InputError, match=r"^channel.mac_efficiency: must be positive, got -0.7"):
        Channel(mac_efficiency=-0.7)
    with pytest.raises(InputError, match=r"^setup.channel.colour: unknown field"):
        Setup.from_dict({"channel": {"colour": 1}})
    with pytest.raises(InputError, match=r"^setup.colour: unknown field"):
        Scenario.paper(3, 0, colour="red")
    with pytest.raises(InputError, match=r"^setup.restarts: must be at most 100000"):
        Setup(restarts=10**9)
    with pytest.raises(InputError, match=r"^scenario: must be a dnnsplit.Scenario"):
        evaluate("scenario.json", [0])


@pytest.mark.parametrize(
    ("partition", "message"),
    [
        ([2**64, 0], r"^partition\[0\]: 18446744073709551616 is outside"),
        ([0, 10**30], r"^partition\[1\]: 10+ is outside"),
        (np.array([2**63, 0], dtype=np.uint64), r"^partition\[0\]: 9223372036854775808 is outside"),
        ("12", r"^partition: must be a list of whole numbers"),
        ({0: 1, 1: 1}, r"^partition: must be a list of whole numbers"),
        ([0.5, 1], r"^partition: entries must be whole numbers"),
        ([None, 1], r"^partition: entries must be whole numbers"),
    ],
)
def test_partitions_never_wrap_around(partition, message):
    with pytest.raises(InputError, match=message):
        evaluate(Scenario.from_dict(BASE), partition)


# --- command-line flags ------------------------------------------------------------------


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(Scenario.paper(4, 1).to_dict()))
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
        (["--devices", "0"], lambda: Scenario.paper(0), "devices"),
        (["--devices", "1000000000"], lambda: Scenario.paper(10**9), "devices"),
        (["--devices", "3", "--seed", "-1"], lambda: Scenario.paper(3, -1), "seed"),
        (["--devices", "3", "--ratio", "nan"], lambda: Setup(ratio=float("nan")), "setup.ratio"),
        (
            ["--devices", "3", "--ratio", "1e-320"],
            lambda: Scenario.paper(3, ratio=1e-320),
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
            lambda: Scenario.paper(3, distance_m=(1, 1e30)),
            "setup.distance_m",
        ),
        (
            ["--devices", "3", "--background", f"0,{2**62}"],
            lambda: Scenario.paper(3, background=(0, 2**62)),
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


# --- no hangs: bounded simulations and memory --------------------------------------------


def test_a_tiny_rr_quantum_is_refused_before_simulating():
    scenario = Scenario.paper(6, 1, policy="rr", bs_quantum_s=1e-9)
    p = scenario.min_stage
    started = time.perf_counter()
    with pytest.raises(
        InputError, match=r"^bs.quantum_s: round-robin with a 1e-09 s quantum needs"
    ) as caught:
        evaluate(scenario, p, model="timeline")
    assert time.perf_counter() - started < 1
    assert f"bound of {timeline.MAX_TIMELINE_EVENTS} events" in str(caught.value)
    assert "MAX_TIMELINE_EVENTS" in str(caught.value)
    snapshot = evaluate(scenario, p)  # the closed form has no loop: fine at any quantum
    ps = evaluate(Scenario.paper(6, 1, policy="ps"), p)
    assert snapshot.delays == pytest.approx(ps.delays, rel=1e-6)


def test_processor_sharing_of_many_tasks_is_bounded(monkeypatch):
    monkeypatch.setattr(timeline, "MAX_TIMELINE_EVENTS", 20)
    scenario = Scenario.paper(5, 1, policy="ps")
    with pytest.raises(InputError, match=r"^devices: ps over 5 offloaded tasks needs 25 steps"):
        evaluate(scenario, scenario.min_stage, model="timeline")


def test_memory_is_checked_before_anything_is_allocated():
    started = time.perf_counter()
    with pytest.raises(
        InputError,
        match=r"^devices: 1000000000 devices with 8 stages need about .* GiB.*MAX_MEMORY_BYTES",
    ):
        Scenario.paper(10**9, 0)
    raw = copy.deepcopy(BASE)
    raw["devices"] = [{"rate_bps": 1e7}] * 2_000_000  # one dict, many references: cheap
    with pytest.raises(InputError, match=r"^devices: 2000000 devices"):
        Scenario.from_dict(raw)
    assert time.perf_counter() - started < 2


def test_any_buffer_can_be_checked_before_it_is_allocated():
    model.check_bytes(1024, "devices", "a small buffer")
    with pytest.raises(
        InputError,
        match=r"^devices: an \(N, N\) cost matrix needs about 8 GiB, more than the 2 GiB limit",
    ):
        model.check_bytes(8 * 1024**3, "devices", "an (N, N) cost matrix")


def test_round_robin_intermediates_are_bounded(monkeypatch):
    rng = np.random.default_rng(3)
    work = rng.uniform(0, 1, size=(7, 5))
    whole = rr_completion(work, 0.01)
    # a limit that fits one (N, N) row at a time: the same numbers, chunk by chunk
    monkeypatch.setattr(model, "MAX_MEMORY_BYTES", model.RR_ARRAYS * 8 * 5 * 5 * 2)
    assert np.array_equal(rr_completion(work, 0.01), whole)
    monkeypatch.setattr(model, "MAX_MEMORY_BYTES", 100)
    with pytest.raises(InputError, match=r"^devices: round-robin at the BS .* of 5 devices"):
        rr_completion(work, 0.01)


# --- faults: stdout closed or full, Ctrl-C, internal errors ---------------------------------


class BrokenStdout:
    def __init__(self, error: OSError) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (BrokenPipeError(32, "Broken pipe"), "stdout was closed before the result was written"),
        (
            OSError(28, "No space left on device"),
            "cannot write the result to stdout: No space left on device",
        ),
    ],
)
def test_a_closed_or_full_stdout_is_one_line(error, message, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", BrokenStdout(error))
    status = main(["scenario", "--devices", "3"])
    err = capsys.readouterr().err
    assert status == EXIT_OUTPUT and err == f"dnnsplit scenario: {message}\n"


def test_interrupts_and_internal_errors_are_one_line(capsys, monkeypatch):
    import dnnsplit.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    assert main(["scenario", "--devices", "3"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "dnnsplit scenario: interrupted\n"

    def broken(args):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(cli, "_run", broken)
    assert main(["scenario", "--devices", "3"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "RuntimeError: a bug over" in err
    monkeypatch.setenv("DNNSPLIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["scenario", "--devices", "3"])


def cli_command() -> list[str]:
    return [sys.executable, "-m", "dnnsplit"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_real_process_with_stdout_full_or_closed(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*cli_command(), "scenario", "--devices", "3"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == EXIT_OUTPUT
    assert (
        done.stderr
        == "dnnsplit scenario: cannot write the result to stdout: No space left on device\n"
    )
    # a reader that leaves at once (as `| head -c 10` does), on an output larger than a pipe
    process = subprocess.Popen(
        [*cli_command(), "scenario", "--devices", "2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == EXIT_OUTPUT
    assert err == "dnnsplit scenario: stdout was closed before the result was written\n"


def test_real_process_ctrl_c(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(Scenario.paper(60, 1, policy="rr").to_dict()))
    process = subprocess.Popen(
        [
            *cli_command(),
            "solve",
            str(path),
            "--solver",
            "local-search",
            "--restarts",
            "100000",
            "--model",
            "timeline",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)  # past the imports, into the search
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == EXIT_INTERRUPTED
    assert out == "" and err == "dnnsplit solve: interrupted\n"


# --- immutable results ---------------------------------------------------------------------


def test_held_arrays_are_read_only_for_good():
    scenario = Scenario.paper(4, 2)
    tables = scenario.tables
    result = evaluate(scenario, [1, 1, 1, 1])
    solution = solve(scenario, solver="greedy")
    arrays = {
        "scenario.bs_time_s": scenario.bs_time_s,
        "scenario.max_stage": scenario.max_stage,
        "scenario.min_stage": scenario.min_stage,
        "profile.time_s": scenario.profile.time_s,
        "profile.output_bytes": scenario.profile.output_bytes,
        **{
            f"tables.{n}": getattr(tables, n)
            for n in ("local", "transmission", "remote_work", "max_stage", "min_stage", "deadline")
        },
        **{
            f"evaluation.{n}": getattr(result, n)
            for n in ("partition", "local", "transmission", "remote", "delays")
        },
        "solution.partition": solution.partition,
        "solution.evaluation.delays": solution.evaluation.delays,
    }
    before = evaluate(scenario, [2, 2, 2, 2]).delays.tolist()
    for name, array in arrays.items():
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0
        with pytest.raises(ValueError):
            array.flags.writeable = True  # cannot be switched back on
        assert not array.flags.writeable, name
    assert evaluate(scenario, [2, 2, 2, 2]).delays.tolist() == before


def test_a_changed_field_never_leaves_a_table_stale():
    scenario = Scenario.paper(4, 2)
    tables = scenario.tables
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.policy = "ps"  # type: ignore[misc]
    other = dataclasses.replace(scenario, bs_time_s=scenario.bs_time_s * 2)
    assert other.tables is not tables
    assert np.array_equal(other.tables.remote_work, tables.remote_work * 2)
    times = np.array([0.1, 0.2])
    profile = Profile("p", "p", ("a", "b"), times, [10, 10], 5)
    times[0] = 99.0  # the caller's array is not the profile's
    assert profile.time_s.tolist() == [0.1, 0.2]


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


def check_outcome(status, out, err, command):
    """Exit 2 with one line, or exit 0 with a finite JSON result."""
    event(f"exit {status}")
    assert "Traceback" not in err
    if status != 0:
        assert_refused(status, out, err)
        assert err.startswith(f"dnnsplit {command}: ")
        return None
    assert err == ""
    result = json.loads(out)
    assert finite_numbers(result), result
    return result


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
    "--time-limit": ["1", "0.5"],
    "--solver": ["greedy", "local-search", "exhaustive", "exact", "all-local", "independent"],
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
        path.write_text(json.dumps(Scenario.paper(4, 1, policy=policy).to_dict()))
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
