"""The estimated profiles: the roofline rule on hand-made layers, and the comparison table
of data/measurements/README.md recomputed from the committed files."""

from __future__ import annotations

import re

import pytest

from dnnsplit.chains import Chain, Conv, Linear, MaxPool, Stage, chain_figures
from dnnsplit.paths import MEASUREMENTS_DIR
from dnnsplit.profiles import Hardware, estimate_profile, load_profile

SLOW = Hardware(name="test", key="test", flops=1e9, bandwidth=1e8, source="test")


def test_each_layer_takes_the_larger_of_compute_and_memory_time(monkeypatch):
    """A convolution with many multiply-adds per byte is compute-bound; a fully connected
    layer and a pool are memory-bound; a stage sums its layers."""
    chain = Chain(
        "toy",
        (3, 8, 8),
        (
            Stage("conv", (Conv(4, 3, padding=1), MaxPool(2, 2))),
            Stage("fc", (Linear(10),)),
        ),
    )
    conv, fc = chain_figures(chain)
    (conv_flops, conv_bytes), (pool_flops, pool_bytes) = conv.layers
    assert conv_flops == 2 * 8 * 8 * 4 * 3 * 3 * 3
    assert conv_bytes == 4 * ((4 * 27 + 4) + 3 * 64 + 4 * 64)
    assert pool_flops == 0 and pool_bytes == 4 * (4 * 64 + 4 * 16)
    assert fc.layers == ((2 * 64 * 10, 4 * (64 * 10 + 10 + 64 + 10)),)
    monkeypatch.setattr("dnnsplit.profiles.get_chain", lambda name: chain)
    times = estimate_profile("toy", SLOW).time_s
    assert times[0] == pytest.approx(
        max(conv_flops / 1e9, conv_bytes / 1e8) + pool_bytes / 1e8
    )
    assert times[1] == pytest.approx(4 * (64 * 10 + 10 + 64 + 10) / 1e8)


def test_the_readme_table_is_what_the_files_give():
    text = (MEASUREMENTS_DIR / "README.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\| (\w+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)× \|$", text, re.M
    )
    assert {r[0] for r in rows} == {"alexnet", "vgg16", "resnet18", "mobilenetv2"}
    for model, pi, i7, host, ratio in rows:
        total = {
            kind: 1000 * load_profile(f"{model}-{kind}").time_s.sum()
            for kind in ("pi3b-estimated", "i7-6700hq-estimated", "epyc-1t-measured")
        }
        assert pi == f"{total['pi3b-estimated']:.1f}"
        assert i7 == f"{total['i7-6700hq-estimated']:.1f}"
        assert host == f"{total['epyc-1t-measured']:.1f}"
        assert ratio == f"{total['pi3b-estimated'] / total['epyc-1t-measured']:.1f}"
