"""Measuring stage times with PyTorch: how a user profiles their own device and BS.

The chain is built in PyTorch from the layer definitions of :mod:`dnnsplit.chains`, with
random weights (nothing is downloaded; they take the same time as trained ones), and timed
by the paper's method (docs/model.md, "Stage timings"; data/measurements/README.md): rounds
of every prefix, interleaved so that a shared machine's drift hits every prefix alike; a
stage's time is the difference of the medians of consecutive prefixes, or its time alone,
flagged ``within_noise``, where that difference is negative or within the larger IQR of the
two. Needs the ``profile`` extra (torch 2.13.0).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._params import Constraint, Whole, declare
from dnnsplit._progress import progress_bar
from dnnsplit.chains import (
    Block,
    Chain,
    Conv,
    GlobalAvgPool,
    Layer,
    Linear,
    MaxPool,
    get_chain,
    layer_output_shape,
)
from dnnsplit.errors import InputError
from dnnsplit.profiles import Profile, chain_profile, write_profile

__all__ = [
    "MAX_REPEATS",
    "MAX_THREADS",
    "MEASURE_OPTIONS",
    "build_stages",
    "cpu_model",
    "has_torch",
    "import_torch",
    "interquartile_range",
    "measure_chain",
    "profile_to_file",
]

#: The most PyTorch threads, and timed (or warm-up) rounds, a measurement takes.
MAX_THREADS = 1024
MAX_REPEATS = 100_000
#: What a measurement's options take (declared by :func:`measure_chain` and
#: :func:`profile_to_file`).
MEASURE_OPTIONS: dict[str, Constraint] = {
    "threads": Whole(1, MAX_THREADS),
    "repeats": Whole(3, MAX_REPEATS),
    "warmup": Whole(0, MAX_REPEATS),
}


def has_torch() -> bool:
    """Whether PyTorch is installed (found, not imported: importing it takes seconds)."""
    return importlib.util.find_spec("torch") is not None


def import_torch(needed_by: str = "profile") -> Any:
    """PyTorch, imported on first use; an :class:`~dnnsplit.errors.InputError` naming
    ``needed_by`` (the command or field that needs it) where it is not installed."""
    if not has_torch():
        raise InputError(needed_by, "needs PyTorch: pip install -e '.[profile]' (torch==2.13.0)")
    import torch  # optional and heavy (the profile extra): imported only where it is used

    return torch


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


#: The PyTorch module of each activation a layer of :mod:`dnnsplit.chains` names.
_ACTIVATIONS = {None: "Identity", "relu": "ReLU", "relu6": "ReLU6"}


def _activation(torch: Any, name: str | None) -> Any:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}")
    return getattr(torch.nn, _ACTIVATIONS[name])()


def _module(torch: Any, layer: Layer, shape: tuple[int, ...]) -> Any:
    nn = torch.nn
    if isinstance(layer, Conv):
        parts = [
            nn.Conv2d(
                shape[0],
                layer.out_channels,
                layer.kernel,
                layer.stride,
                layer.padding,
                groups=layer.groups,
                bias=layer.bias,
            )
        ]
        if layer.batch_norm:
            parts.append(nn.BatchNorm2d(layer.out_channels))
        parts.append(_activation(torch, layer.activation))
        return nn.Sequential(*parts)
    if isinstance(layer, MaxPool):
        return nn.MaxPool2d(layer.kernel, layer.stride, layer.padding)
    if isinstance(layer, GlobalAvgPool):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if isinstance(layer, Linear):
        in_features = int(np.prod(shape))
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, layer.out_features, bias=layer.bias),
            _activation(torch, layer.activation),
        )
    if isinstance(layer, Block):
        body = _sequence(torch, layer.body, shape)[0]
        shortcut = None if layer.shortcut is None else _sequence(torch, layer.shortcut, shape)[0]
        activation = _activation(torch, layer.activation)

        class _Block(nn.Module):  # type: ignore[name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.body, self.shortcut, self.activation = body, shortcut, activation

            def forward(self, x: Any) -> Any:
                out = self.body(x)
                if self.shortcut is not None:
                    out = out + self.shortcut(x)
                return self.activation(out)

        return _Block()
    raise TypeError(f"unknown layer type {type(layer).__name__}")


def _sequence(
    torch: Any, layers: tuple[Layer, ...], shape: tuple[int, ...]
) -> tuple[Any, tuple[int, ...]]:
    """``layers`` as one module on inputs of ``shape``, and the shape of its output."""
    modules = []
    for layer in layers:
        modules.append(_module(torch, layer, shape))
        shape = layer_output_shape(layer, shape)
    return torch.nn.Sequential(*modules), shape


def build_stages(chain: Chain, seed: int = 0) -> list[Any]:
    """The chain's stages as PyTorch modules with random weights (eval mode)."""
    torch = import_torch()
    torch.manual_seed(seed)
    stages, shape = [], chain.input_shape
    for stage in chain.stages:
        module, shape = _sequence(torch, stage.layers, shape)
        stages.append(module.eval())
    return stages


def interquartile_range(values: np.ndarray) -> float:
    """The spread of repeated timings: the 75th minus the 25th percentile."""
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


@declare(MEASURE_OPTIONS)
def measure_chain(
    chain: Chain,
    *,
    threads: int = 1,
    repeats: int = 30,
    warmup: int = 5,
    hardware: str | None = None,
    progress: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> Profile:
    """Measure the stage times of ``chain`` on this machine (module docstring: the method).

    Parameters
    ----------
    chain : Chain
        The DNN as a chain of stages.
    threads : int
        PyTorch intra-op threads (1: a device stand-in; all cores: a BS stand-in).
    repeats : int
        Timed rounds (each times every prefix and every stage alone once).
    warmup : int
        Untimed rounds first.
    hardware : str, optional
        Hardware label for the provenance (default: CPU model and thread count).
    progress : bool
        Show a progress bar (tqdm).

    Returns
    -------
    Profile
        ``method = measured``, with ``iqr_s``, ``alone_s``, ``alone_iqr_s``,
        ``within_noise``, ``macs``, ``params``, ``repeats``, ``threads`` and ``cores``.
    """
    torch = import_torch()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        stages = build_stages(chain)
        n = len(stages)
        prefix = np.zeros((repeats, n))
        alone = np.zeros((repeats, n))
        with torch.inference_mode():
            x = torch.randn(1, *chain.input_shape)
            inputs = [x]
            for stage in stages[:-1]:
                inputs.append(stage(inputs[-1]))

            def run_prefix(k: int) -> None:
                y = x
                for stage in stages[: k + 1]:
                    y = stage(y)

            rounds = progress_bar(
                range(warmup + repeats),
                desc=f"profiling {chain.name}",
                enabled=progress,
                unit="round",
            )
            for r in rounds:
                for k in range(n):
                    start = clock()
                    run_prefix(k)
                    elapsed_prefix = clock() - start
                    start = clock()
                    stages[k](inputs[k])
                    elapsed_alone = clock() - start
                    if r >= warmup:
                        prefix[r - warmup, k] = elapsed_prefix
                        alone[r - warmup, k] = elapsed_alone
    finally:
        torch.set_num_threads(previous_threads)

    prefix_median = np.median(prefix, axis=0)
    prefix_iqr = np.array([interquartile_range(prefix[:, k]) for k in range(n)])
    alone_median = np.median(alone, axis=0)
    alone_iqr = np.array([interquartile_range(alone[:, k]) for k in range(n)])
    before = np.concatenate([[0.0], prefix_median[:-1]])
    before_iqr = np.concatenate([[0.0], prefix_iqr[:-1]])
    difference = prefix_median - before
    noise = np.maximum(prefix_iqr, before_iqr)
    within_noise = (difference <= noise) | (difference <= 0)
    times = np.where(within_noise, alone_median, difference)

    cores = os.cpu_count() or 1
    label = hardware or f"{cpu_model()}, {threads} thread{'s' if threads > 1 else ''}"
    extra = pd.DataFrame(
        {
            "iqr_s": prefix_iqr,
            "alone_s": alone_median,
            "alone_iqr_s": alone_iqr,
            "within_noise": within_noise,
            "repeats": repeats,
            "threads": threads,
            "cores": cores,
        }
    )
    provenance = {
        "method": "measured",
        "source": (
            f"dnnsplit profile: differences of consecutive prefix medians over "
            f"{repeats} interleaved rounds after {warmup} warm-up, batch 1, "
            "float32, random weights; stage alone where within noise"
        ),
        "hardware": label,
        "framework": f"PyTorch {torch.__version__}",
        "date": dt.date.today().isoformat(),
    }
    return chain_profile(chain, chain.name, times, provenance, extra)


@declare(MEASURE_OPTIONS)
def profile_to_file(
    model: str,
    out: str | os.PathLike[str],
    *,
    threads: int = 1,
    repeats: int = 30,
    warmup: int = 5,
    hardware: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure ``model`` and write its profile CSV to ``out``; returns a summary (the CLI's
    JSON): the file, the total, the sum of stages timed alone and the flagged stages."""
    chain = get_chain(model)
    profile = measure_chain(
        chain, threads=threads, repeats=repeats, warmup=warmup, hardware=hardware, progress=progress
    )
    path = write_profile(profile, out)
    extra = profile.extra
    assert extra is not None  # measure_chain always records the spread and the alone times
    total = float(profile.time_s.sum())
    table = pd.DataFrame({"stage": list(profile.stage_names), "time_s": profile.time_s})
    for column in ("iqr_s", "alone_s", "within_noise"):
        table[column] = extra[column].to_numpy()
    table["output_bytes"] = profile.output_bytes
    alone_sum = float(extra["alone_s"].sum())
    return {
        "profile": str(path),
        "model": model,
        "hardware": profile.provenance["hardware"],
        "threads": threads,
        "repeats": repeats,
        "total_s": total,
        "sum_alone_s": alone_sum,
        "total_over_alone": total / alone_sum if alone_sum > 0 else None,
        "stages": table.to_dict("records"),
    }
