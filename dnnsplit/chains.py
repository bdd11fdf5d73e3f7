"""DNNs as chains of stages, with their analytic figures computed from layer definitions.

A partition point can only sit where a single tensor flows on, so each network is a chain
of *stages* (short lists of layers). Per stage this module computes, without PyTorch, the
output shape, the bytes of the output tensor (float32: what an offloading device sends),
the multiply-adds and the parameters. Chains: ``alexnet`` (the paper's 8 stages),
``alexnet11`` (one stage per layer), ``vgg16``, ``resnet18`` and ``mobilenetv2`` (cuts
between blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dnnsplit.errors import InputError

__all__ = [
    "BYTES_PER_VALUE",
    "CHAINS",
    "Block",
    "Chain",
    "Conv",
    "GlobalAvgPool",
    "Linear",
    "MaxPool",
    "Stage",
    "StageFigures",
    "chain_figures",
    "get_chain",
    "layer_output_shape",
    "memory_needs",
]

BYTES_PER_VALUE = 4  # float32 tensors

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Conv:
    """2-D convolution (optionally followed by batch norm and an activation)."""

    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    bias: bool = True
    batch_norm: bool = False
    activation: str | None = "relu"  # "relu", "relu6" or None


@dataclass(frozen=True)
class MaxPool:
    """Max pooling; the output size rounds down, as in PyTorch and Keras ``valid``."""

    kernel: int
    stride: int
    padding: int = 0


@dataclass(frozen=True)
class GlobalAvgPool:
    """Average over the whole feature map, then flatten to a vector of channels."""


@dataclass(frozen=True)
class Linear:
    """Fully connected layer; a feature map is flattened first."""

    out_features: int
    activation: str | None = None
    bias: bool = True


@dataclass(frozen=True)
class Block:
    """A block cut as a whole: ``activation(body(x) + shortcut(x))``.

    ``shortcut=()`` is the identity (a residual block); ``shortcut=None`` means no shortcut
    at all (the body's layers in sequence).
    """

    body: tuple[Layer, ...]
    shortcut: tuple[Layer, ...] | None = ()
    activation: str | None = "relu"


Layer = Conv | MaxPool | GlobalAvgPool | Linear | Block


@dataclass(frozen=True)
class Stage:
    """One stage of a chain: the layers between two consecutive partition points."""

    name: str
    layers: tuple[Layer, ...]


@dataclass(frozen=True)
class Chain:
    """A DNN as a chain of stages, with its input tensor shape ``(channels, height, width)``."""

    name: str
    input_shape: Shape
    stages: tuple[Stage, ...]

    @property
    def input_bytes(self) -> int:
        """Bytes of the float32 input tensor (what is sent when p = 0)."""
        return math.prod(self.input_shape) * BYTES_PER_VALUE

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)


@dataclass
class _Cost:
    """Work of a piece of network: its totals, and each layer's FLOPs and bytes moved for
    the roofline rule (``layers``: ``(flops, bytes)`` per layer, in order)."""

    conv_macs: int = 0
    linear_macs: int = 0
    params: int = 0
    linear_params: int = 0
    pool_bytes_moved: int = 0
    layers: list[tuple[int, int]] = field(default_factory=list)

    def add(self, other: _Cost) -> None:
        self.conv_macs += other.conv_macs
        self.linear_macs += other.linear_macs
        self.params += other.params
        self.linear_params += other.linear_params
        self.pool_bytes_moved += other.pool_bytes_moved
        self.layers.extend(other.layers)


@dataclass(frozen=True)
class StageFigures:
    """Analytic figures of one stage (all from the layer shapes).

    ``macs`` counts the multiply-adds of convolutions and matrix products; pooling,
    activations and batch norm add none. ``pool_bytes_moved`` is the input plus output
    bytes of its pooling layers, ``linear_params`` the weights its fully connected layers
    stream once. ``layers`` holds, per layer, its FLOPs (2 per multiply-add) and the bytes
    it moves (float32 weights, input and output tensors once each; a residual sum reads two
    tensors and writes one): what the roofline rule of the estimated profiles needs.
    """

    index: int
    name: str
    output_shape: Shape
    output_bytes: int
    macs: int
    conv_macs: int
    params: int
    linear_params: int
    pool_bytes_moved: int
    layers: tuple[tuple[int, int], ...] = ()


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"kernel {kernel} does not fit a feature map of size {size}")
    return out


def _layer(layer: Layer, shape: Shape) -> tuple[Shape, _Cost]:
    """Output shape and cost of one layer applied to a tensor of ``shape``."""
    cost = _Cost()
    if isinstance(layer, Conv):
        channels, height, width = shape
        if channels % layer.groups or layer.out_channels % layer.groups:
            raise ValueError("groups must divide the input and output channels")
        out_h = _conv_out(height, layer.kernel, layer.stride, layer.padding)
        out_w = _conv_out(width, layer.kernel, layer.stride, layer.padding)
        per_output = layer.kernel * layer.kernel * channels // layer.groups
        cost.conv_macs = out_h * out_w * layer.out_channels * per_output
        cost.params = layer.out_channels * per_output + (layer.out_channels if layer.bias else 0)
        if layer.batch_norm:
            cost.params += 2 * layer.out_channels
        out = (layer.out_channels, out_h, out_w)
        moved = cost.params + math.prod(shape) + math.prod(out)
        cost.layers.append((2 * cost.conv_macs, moved * BYTES_PER_VALUE))
        return out, cost
    if isinstance(layer, MaxPool):
        channels, height, width = shape
        out = (
            channels,
            _conv_out(height, layer.kernel, layer.stride, layer.padding),
            _conv_out(width, layer.kernel, layer.stride, layer.padding),
        )
        cost.pool_bytes_moved = (math.prod(shape) + math.prod(out)) * BYTES_PER_VALUE
        cost.layers.append((0, cost.pool_bytes_moved))
        return out, cost
    if isinstance(layer, GlobalAvgPool):
        pooled = (shape[0],)
        cost.pool_bytes_moved = (math.prod(shape) + shape[0]) * BYTES_PER_VALUE
        cost.layers.append((0, cost.pool_bytes_moved))
        return pooled, cost
    if isinstance(layer, Linear):
        in_features = math.prod(shape)
        cost.linear_macs = in_features * layer.out_features
        cost.params = cost.linear_macs + (layer.out_features if layer.bias else 0)
        cost.linear_params = cost.params
        moved = cost.params + in_features + layer.out_features
        cost.layers.append((2 * cost.linear_macs, moved * BYTES_PER_VALUE))
        return (layer.out_features,), cost
    if isinstance(layer, Block):
        body_shape, body_cost = _layers(layer.body, shape)
        if layer.shortcut is None:
            return body_shape, body_cost
        short_shape, short_cost = _layers(layer.shortcut, shape)
        if body_shape != short_shape:
            raise ValueError(f"residual branches disagree: {body_shape} vs {short_shape}")
        cost.add(body_cost)
        cost.add(short_cost)
        cost.layers.append((math.prod(body_shape), 3 * math.prod(body_shape) * BYTES_PER_VALUE))
        return body_shape, cost
    raise TypeError(f"unknown layer type {type(layer).__name__}")


def layer_output_shape(layer: Layer, shape: Shape) -> Shape:
    """Shape of the output of ``layer`` applied to a tensor of ``shape``."""
    return _layer(layer, shape)[0]


def _layers(layers: tuple[Layer, ...], shape: Shape) -> tuple[Shape, _Cost]:
    total = _Cost()
    for layer in layers:
        shape, cost = _layer(layer, shape)
        total.add(cost)
    return shape, total


def chain_figures(chain: Chain) -> list[StageFigures]:
    """Per-stage analytic figures of ``chain`` (stage index 1..S).

    Parameters
    ----------
    chain : Chain
        The network as a chain of stages.

    Returns
    -------
    list of StageFigures
        One entry per stage, in order.
    """
    shape = chain.input_shape
    figures = []
    for index, stage in enumerate(chain.stages, start=1):
        shape, cost = _layers(stage.layers, shape)
        figures.append(
            StageFigures(
                index=index,
                name=stage.name,
                output_shape=shape,
                output_bytes=math.prod(shape) * BYTES_PER_VALUE,
                macs=cost.conv_macs + cost.linear_macs,
                conv_macs=cost.conv_macs,
                params=cost.params,
                linear_params=cost.linear_params,
                pool_bytes_moved=cost.pool_bytes_moved,
                layers=tuple(cost.layers),
            )
        )
    return figures


# --- AlexNet (single tower, 227x227 input; alexnet.md) ---------------------------------

_A_CONV1 = Conv(96, 11, stride=4)
_A_CONV2 = Conv(256, 5, padding=2)
_A_CONV3 = Conv(384, 3, padding=1)
_A_CONV4 = Conv(384, 3, padding=1)
_A_CONV5 = Conv(256, 3, padding=1)
_A_POOL = MaxPool(3, 2)
_A_FC6 = Linear(4096, activation="relu")
_A_FC7 = Linear(4096, activation="relu")
_A_FC8 = Linear(1000)

ALEXNET = Chain(
    name="alexnet",
    input_shape=(3, 227, 227),
    stages=(
        Stage("conv1", (_A_CONV1, _A_POOL)),
        Stage("conv2", (_A_CONV2, _A_POOL)),
        Stage("conv3", (_A_CONV3,)),
        Stage("conv4", (_A_CONV4,)),
        Stage("conv5", (_A_CONV5, _A_POOL)),
        Stage("fc6", (_A_FC6,)),
        Stage("fc7", (_A_FC7,)),
        Stage("fc8", (_A_FC8,)),
    ),
)

ALEXNET11 = Chain(
    name="alexnet11",
    input_shape=(3, 227, 227),
    stages=(
        Stage("conv1", (_A_CONV1,)),
        Stage("pool1", (_A_POOL,)),
        Stage("conv2", (_A_CONV2,)),
        Stage("pool2", (_A_POOL,)),
        Stage("conv3", (_A_CONV3,)),
        Stage("conv4", (_A_CONV4,)),
        Stage("conv5", (_A_CONV5,)),
        Stage("pool3", (_A_POOL,)),
        Stage("fc6", (_A_FC6,)),
        Stage("fc7", (_A_FC7,)),
        Stage("fc8", (_A_FC8,)),
    ),
)


# --- VGG-16 (224x224): each convolution a stage, a max-pool kept with the one before it --


def _vgg16() -> Chain:
    blocks = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    stages = []
    for block, (channels, convs) in enumerate(blocks, start=1):
        for k in range(1, convs + 1):
            layers: tuple[Layer, ...] = (Conv(channels, 3, padding=1),)
            if k == convs:
                layers += (MaxPool(2, 2),)
            stages.append(Stage(f"conv{block}_{k}", layers))
    stages += [
        Stage("fc6", (Linear(4096, activation="relu"),)),
        Stage("fc7", (Linear(4096, activation="relu"),)),
        Stage("fc8", (Linear(1000),)),
    ]
    return Chain("vgg16", (3, 224, 224), tuple(stages))  # 13 convolutions and 3 FC


# --- ResNet-18 (224x224): cut between residual blocks --------------------------------


def _basic_block(channels: int, stride: int, downsample: bool) -> Block:
    body = (
        Conv(channels, 3, stride=stride, padding=1, bias=False, batch_norm=True),
        Conv(channels, 3, padding=1, bias=False, batch_norm=True, activation=None),
    )
    shortcut: tuple[Layer, ...] = ()
    if downsample:
        shortcut = (Conv(channels, 1, stride=stride, bias=False, batch_norm=True, activation=None),)
    return Block(body, shortcut, activation="relu")


def _resnet18() -> Chain:
    stages = [
        Stage(
            "stem",
            (Conv(64, 7, stride=2, padding=3, bias=False, batch_norm=True), MaxPool(3, 2, 1)),
        )
    ]
    for group, channels in enumerate((64, 128, 256, 512), start=1):
        first_stride = 1 if group == 1 else 2
        stages.append(Stage(f"layer{group}.0", (_basic_block(channels, first_stride, group != 1),)))
        stages.append(Stage(f"layer{group}.1", (_basic_block(channels, 1, False),)))
    stages.append(Stage("head", (GlobalAvgPool(), Linear(1000))))
    return Chain("resnet18", (3, 224, 224), tuple(stages))  # cut between basic blocks


# --- MobileNetV2 (224x224): cut between inverted-residual blocks ---------------------


def _inverted_residual(in_ch: int, out_ch: int, stride: int, expand: int) -> Layer:
    hidden = in_ch * expand
    body: tuple[Layer, ...] = ()
    if expand != 1:
        body += (Conv(hidden, 1, bias=False, batch_norm=True, activation="relu6"),)
    body += (
        Conv(hidden, 3, stride, 1, groups=hidden, bias=False, batch_norm=True, activation="relu6"),
        Conv(out_ch, 1, bias=False, batch_norm=True, activation=None),
    )
    residual = stride == 1 and in_ch == out_ch
    return Block(body, () if residual else None, activation=None)


def _mobilenetv2() -> Chain:
    settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]
    stages = [Stage("stem", (Conv(32, 3, 2, 1, bias=False, batch_norm=True, activation="relu6"),))]
    in_ch = 32
    block = 0
    for expand, out_ch, repeats, stride in settings:
        for k in range(repeats):
            stages.append(
                Stage(
                    f"block{block}",
                    (_inverted_residual(in_ch, out_ch, stride if k == 0 else 1, expand),),
                )
            )
            in_ch = out_ch
            block += 1
    stages.append(
        Stage("conv_last", (Conv(1280, 1, bias=False, batch_norm=True, activation="relu6"),))
    )
    stages.append(Stage("head", (GlobalAvgPool(), Linear(1000))))
    return Chain("mobilenetv2", (3, 224, 224), tuple(stages))  # cut between inverted residuals


def memory_needs(chain: Chain) -> list[int]:
    """Bytes a device needs to run stages 1..p of ``chain``, for p = 0..S: the memory rule.

    ``need(p) = 4·Σ_{s≤p} params_s + max_{s≤p} (in_s + out_s)``: the float32 weights of the
    stages it runs, plus the largest input-and-output pair of tensors one of those stages
    holds at once (tensors inside a stage are not counted). ``need(0) = 0``: offloading
    everything needs no model in memory. A device with M bytes may then choose any
    ``p ≤ s̃ = max{p : need(p) ≤ M}`` (docs/model.md, "The memory rule"). For AlexNet's 8
    stages: 15.2 MiB to run the convolutions (p = 5), 239 MiB for the whole network.
    """
    needs = [0]
    weights = 0
    largest = 0
    incoming = chain.input_bytes
    for figure in chain_figures(chain):
        weights += BYTES_PER_VALUE * figure.params
        largest = max(largest, incoming + figure.output_bytes)
        incoming = figure.output_bytes
        needs.append(weights + largest)
    return needs


CHAINS: dict[str, Chain] = {
    chain.name: chain for chain in (ALEXNET, ALEXNET11, _vgg16(), _resnet18(), _mobilenetv2())
}


def get_chain(name: str) -> Chain:
    """The chain called ``name`` (one of ``CHAINS``), or an error listing the known ones."""
    try:
        return CHAINS[name]
    except KeyError:
        raise InputError("model", f"unknown DNN {name!r}; known: {', '.join(CHAINS)}") from None
