"""The analytic chains against the tables of alexnet.md and the known network totals."""

from __future__ import annotations

import pytest

from dnnsplit.chains import CHAINS, chain_figures, get_chain
from dnnsplit.errors import InputError

# alexnet.md, "The paper's 8 stages": (stage, output shape, bytes, multiply-adds, parameters)
ALEXNET_TABLE = [
    ("conv1", (96, 27, 27), 279_936, 105_415_200, 34_944),
    ("conv2", (256, 13, 13), 173_056, 447_897_600, 614_656),
    ("conv3", (384, 13, 13), 259_584, 149_520_384, 885_120),
    ("conv4", (384, 13, 13), 259_584, 224_280_576, 1_327_488),
    ("conv5", (256, 6, 6), 36_864, 149_520_384, 884_992),
    ("fc6", (4096,), 16_384, 37_748_736, 37_752_832),
    ("fc7", (4096,), 16_384, 16_777_216, 16_781_312),
    ("fc8", (1000,), 4_000, 4_096_000, 4_097_000),
]
# alexnet.md, "weights so far (MiB, f32)"
ALEXNET_WEIGHTS_MIB = [0.1, 2.5, 5.9, 10.9, 14.3, 158.3, 222.3, 238.0]
ALEXNET11_BYTES = [
    1_161_600,
    279_936,
    746_496,
    173_056,
    259_584,
    259_584,
    173_056,
    36_864,
    16_384,
    16_384,
    4_000,
]


def test_alexnet_eight_stages_match_the_table():
    figures = chain_figures(CHAINS["alexnet"])
    got = [(f.name, f.output_shape, f.output_bytes, f.macs, f.params) for f in figures]
    assert got == ALEXNET_TABLE
    assert sum(f.macs for f in figures) == 1_135_256_096
    assert CHAINS["alexnet"].input_bytes == 618_348
    cumulative = 0
    for f, mib in zip(figures, ALEXNET_WEIGHTS_MIB, strict=True):
        cumulative += f.params
        assert cumulative * 4 / 2**20 == pytest.approx(mib, abs=0.05)


def test_alexnet_fine_chain_bytes_and_same_work():
    fine = chain_figures(CHAINS["alexnet11"])
    assert [f.output_bytes for f in fine] == ALEXNET11_BYTES
    assert sum(f.macs for f in fine) == 1_135_256_096
    assert sum(f.params for f in fine) == sum(f.params for f in chain_figures(CHAINS["alexnet"]))


@pytest.mark.parametrize(
    ("name", "gmacs", "mparams"),
    # independently derived totals (224x224): the usual published counts of each network
    [("vgg16", 15.47, 138.36), ("resnet18", 1.814, 11.690), ("mobilenetv2", 0.3008, 3.505)],
)
def test_other_networks_totals(name, gmacs, mparams):
    figures = chain_figures(CHAINS[name])
    assert sum(f.macs for f in figures) / 1e9 == pytest.approx(gmacs, rel=0.002)
    assert sum(f.params for f in figures) / 1e6 == pytest.approx(mparams, rel=0.001)
    assert figures[-1].output_bytes == 4_000  # 1000 class scores


def test_resnet_cuts_between_blocks():
    names = CHAINS["resnet18"].stage_names
    assert names[0] == "stem" and names[-1] == "head"
    assert [n for n in names if n.startswith("layer")] == [
        f"layer{g}.{b}" for g in range(1, 5) for b in range(2)
    ]


def test_unknown_chain_names_the_field():
    with pytest.raises(InputError, match="^model: unknown DNN 'lenet'"):
        get_chain("lenet")
