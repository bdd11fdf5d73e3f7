"""Profile files: validation, the shipped files, and the profiler (torch tests skip visibly)."""

from __future__ import annotations

import filecmp
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnnsplit.chains import CHAINS, Chain, Conv, Linear, MaxPool, Stage, chain_figures
from dnnsplit.errors import InputError
from dnnsplit.paths import MEASUREMENTS_DIR
from dnnsplit.profiles import (
    HARDWARE,
    estimate_profile,
    list_profiles,
    load_profile,
    read_profile,
    write_estimated_profiles,
)

SHIPPED = MEASUREMENTS_DIR / "alexnet-pi3b-estimated.csv"
MEASURED_MODELS = ("alexnet", "vgg16", "resnet18", "mobilenetv2")


def broken(tmp_path, change) -> str:
    frame = change(pd.read_csv(SHIPPED))
    path = tmp_path / "broken.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as caught:
        read_profile(path)
    return str(caught.value)


def setting(column, row, value):
    """A change to one cell of the shipped profile table (row = 0-based data row)."""

    def change(frame):
        values = frame[column].astype(object)
        values.iloc[row] = value
        return frame.assign(**{column: values})

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (setting("time_s", 3, -0.01), "broken.csv: row 4, column time_s: negative time"),
        (
            setting("time_s", 2, "fast"),
            "broken.csv: row 3, column time_s: not a number of seconds: 'fast'",
        ),
        (
            lambda f: f.assign(time_s=f.time_s * 1000),
            "broken.csv: row 2, column time_s: 37.3387 s for one stage (5.6 MFLOP/s): are these "
            "milliseconds?",
        ),
        (
            lambda f: f.rename(columns={"time_s": "time_ms"}),
            "broken.csv: column time_ms: times must be in seconds",
        ),
        (lambda f: f.drop(columns=["hardware"]), "broken.csv: column hardware: missing"),
        (
            setting("output_bytes", 5, 36865),
            "broken.csv: row 6, column output_bytes: 36865; model alexnet outputs 36864 bytes",
        ),
        (
            setting("stage", 2, "conv9"),
            "broken.csv: row 3, column stage: 'conv9'; model alexnet names this stage 'conv2'",
        ),
        (
            setting("method", 4, "guessed"),
            "broken.csv: row 5, column method: must be one non-empty value",
        ),
        (setting("stage_index", 7, 9), "broken.csv: row 8, column stage_index: expected 7"),
    ],
)
def test_broken_profiles_name_row_and_column(tmp_path, change, message):
    assert broken(tmp_path, change).startswith(message)


def test_unreadable_and_unknown_profiles(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="^profile: binary.csv is not a readable CSV"):
        read_profile(path)
    with pytest.raises(InputError, match="^profile: unknown profile 'alexnet-cray'; shipped:"):
        load_profile("alexnet-cray")


def test_shipped_estimates_are_what_the_code_computes(tmp_path):
    written = write_estimated_profiles(tmp_path)
    assert written
    for path in written:
        assert filecmp.cmp(path, MEASUREMENTS_DIR / path.name, shallow=False), path.name


def test_estimates_follow_measurements_md():
    pi = estimate_profile("alexnet", HARDWARE["pi3b"])
    i7 = estimate_profile("alexnet", HARDWARE["i7-6700hq"])
    assert pi.time_s.sum() == pytest.approx(0.5, rel=0.1)  # "roughly 0.5 s on the Pi"
    assert i7.time_s.sum() == pytest.approx(0.05, rel=0.1)  # "and 50 ms on the i7"
    assert pi.estimated and "roofline" in pi.provenance["source"]
    # conv stages are compute-bound: their ratio is the FLOP/s ratio
    assert pi.time_s[2] / i7.time_s[2] == pytest.approx(70e9 / (2 * 5.7e9 / 1.98))


def test_every_shipped_profile_loads_with_provenance():
    names = list_profiles()
    assert "alexnet-pi3b-estimated" in names and "alexnet-i7-6700hq-estimated" in names
    for name in names:
        profile = load_profile(name)
        assert profile.provenance["method"] in ("measured", "estimated")
        assert all(profile.provenance[k] for k in ("source", "hardware", "framework", "date"))
        assert np.all(profile.time_s >= 0)
        assert name.endswith(profile.provenance["method"])


@pytest.mark.parametrize("model", MEASURED_MODELS)
def test_measured_profiles_are_shipped_for_four_networks(model):
    for threads in (1, 2):
        profile = load_profile(f"{model}-epyc-{threads}t-measured")
        assert profile.provenance["method"] == "measured"
        assert profile.provenance["framework"].startswith("PyTorch")
        extra = profile.extra
        assert set(extra["threads"]) == {threads}
        assert np.all(extra["alone_s"] > 0)
        # the profile's total and the stages timed alone agree within 25%
        assert profile.time_s.sum() == pytest.approx(extra["alone_s"].sum(), rel=0.25)


# --- the profiler (needs torch) ---------------------------------------------------------

TINY = Chain(
    "tiny",
    (3, 16, 16),
    (
        Stage("conv", (Conv(8, 3, padding=1), MaxPool(2, 2))),
        Stage("conv_b", (Conv(8, 3, padding=1),)),
        Stage("fc", (Linear(10),)),
    ),
)


@pytest.mark.torch
@pytest.mark.parametrize("name", [*CHAINS, "tiny"])
def test_torch_stages_match_the_analytic_chain(name):
    torch = pytest.importorskip("torch", reason="PyTorch absent: pip install -e '.[profile]'")
    from dnnsplit.profiler import build_stages

    chain = TINY if name == "tiny" else CHAINS[name]
    stages = build_stages(chain)
    figures = chain_figures(chain)
    params = [sum(p.numel() for p in s.parameters()) for s in stages]
    assert params == [f.params for f in figures]
    with torch.inference_mode():
        x = torch.zeros(1, *chain.input_shape)
        for stage, figure in zip(stages, figures, strict=True):
            x = stage(x)
            assert tuple(x.shape[1:]) == figure.output_shape, figure.name


class ScriptedClock:
    """A clock whose start/stop pairs measure the scripted durations, in order."""

    def __init__(self, durations):
        self.durations = iter(durations)
        self.now = 0.0
        self.running = False

    def __call__(self) -> float:
        if self.running:
            self.now += next(self.durations)
        self.running = not self.running
        return self.now


@pytest.mark.torch
def test_prefix_differences_noise_flags_and_no_negative_time():
    pytest.importorskip("torch", reason="PyTorch absent: pip install -e '.[profile]'")
    from dnnsplit.profiler import measure_chain

    repeats = 5
    # per round: (prefix 1, stage 1 alone, prefix 2, stage 2 alone, prefix 3, stage 3 alone)
    # prefix medians 10, 30, 29 ms: stage 2 = 20 ms; stage 3 is negative -> its alone time
    jitter = [0.0, 0.001, -0.001, 0.0005, -0.0005]
    script = itertools.chain.from_iterable(
        (0.010 + j, 0.011, 0.030 + j, 0.019, 0.029 + j, 0.002) for j in jitter
    )
    profile = measure_chain(
        TINY, repeats=repeats, warmup=0, progress=False, clock=ScriptedClock(script)
    )
    assert profile.time_s == pytest.approx([0.010, 0.020, 0.002])
    assert profile.extra["within_noise"].tolist() == [False, False, True]
    assert profile.extra["alone_s"].tolist() == pytest.approx([0.011, 0.019, 0.002])
    assert profile.extra["iqr_s"].tolist() == pytest.approx([0.001] * 3)
    assert profile.provenance["method"] == "measured"


@pytest.mark.torch
def test_profile_command_writes_a_valid_profile(tmp_path, capsys):
    pytest.importorskip("torch", reason="PyTorch absent: pip install -e '.[profile]'")
    from dnnsplit.cli import main

    out = tmp_path / "alexnet-here.csv"
    status = main(
        [
            "profile",
            "--model",
            "alexnet",
            "--repeats",
            "7",
            "--warmup",
            "2",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    profile = read_profile(out)  # validates schema, units and bytes against the chain
    assert profile.provenance["method"] == "measured"
    assert summary["total_s"] == pytest.approx(profile.time_s.sum())
    # the ratio of two timings: how near 1 it is depends on the machine's load (a benchmark's
    # business); here, that it is the ratio the summary says it is
    assert summary["total_over_alone"] == pytest.approx(
        summary["total_s"] / summary["sum_alone_s"]
    )
    assert np.all(profile.time_s > 0)


def test_profile_command_without_torch_or_with_bad_values(monkeypatch, tmp_path, capsys):
    from dnnsplit.cli import main
    from dnnsplit.profiler import has_torch

    monkeypatch.setitem(sys.modules, "torch", None)  # as if it were not installed
    assert not has_torch()
    assert main(["profile", "--model", "alexnet", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dnnsplit profile: profile: needs PyTorch")
    assert not (tmp_path / "x.csv").exists()
    monkeypatch.undo()
    assert main(["profile", "--model", "lenet", "--out", str(tmp_path / "x.csv")]) == 2
    assert "model: unknown DNN 'lenet'" in capsys.readouterr().err


def test_a_profile_read_again_is_never_stale(tmp_path):
    """Profiles are parsed once per file version; an edited file is read again."""
    import os

    from dnnsplit.profiles import load_profile

    source = MEASUREMENTS_DIR / "alexnet-pi3b-estimated.csv"
    path = tmp_path / "mine.csv"
    path.write_bytes(source.read_bytes())
    first = load_profile(path)
    assert load_profile(path).time_s.tolist() == first.time_s.tolist()
    text = source.read_text().replace(",conv1,", ",conv1,", 1)
    rows = text.splitlines()
    cells = rows[1 + 1].split(",")  # the first stage, time_s in column 4
    cells[3] = str(float(cells[3]) * 2)
    rows[2] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n")
    os.utime(path, ns=(1, 1))  # even with an old modification time
    changed = load_profile(path)
    assert changed.time_s[0] == pytest.approx(2 * first.time_s[0])
    assert load_profile(path).extra is not changed.extra  # each caller gets its own copy


def test_one_resolver_finds_a_profile_by_name_or_path(tmp_path):
    from dnnsplit.profiles import DEFAULT_PROFILE, load_profile, profile_path

    assert profile_path(DEFAULT_PROFILE) == MEASUREMENTS_DIR / f"{DEFAULT_PROFILE}.csv"
    assert profile_path("elsewhere/mine.CSV") == Path("elsewhere/mine.CSV")  # a path
    with pytest.raises(InputError, match=r"^setup.profile: unknown profile 'nope'; shipped: "):
        profile_path("nope", "setup.profile")
    with pytest.raises(InputError, match=r"^bs.profile: must be a profile name or path"):
        load_profile(5, "bs.profile")
    with pytest.raises(InputError, match=r"^bs.profile: cannot read .*: no such file"):
        load_profile(tmp_path / "missing.csv", "bs.profile")
