"""Hostile files: scenario files in JSON and YAML (encodings, syntax, duplicates, depth,
size), and profile CSVs (every column). Each is read or refused with one line."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import dnnsplit._checks as checks
from dnnsplit import (
    InputError,
    Scenario,
    evaluate,
    load_profile,
)
from dnnsplit.profiles import read_profile
from hostile import (
    BASE,
    GOOD,
    SHIPPED_CSV,
    time_limit,
)

yaml = pytest.importorskip("yaml")

# --- files -------------------------------------------------------------------------------


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
    monkeypatch.chdir(tmp_path)  # a short name: a long path is shortened in the message
    with pytest.raises(InputError, match=r"^scenario: cannot read 'nope.json': no such file$"):
        Scenario.from_file("nope.json")
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
