"""The real network's stages, run one at a time: what the device and the BS execute.

Both sides build the whole chain with :func:`dnnsplit.profiler.build_stages` from the same
seed, so the device's stages 1..p and the BS's stages p+1..S are one network with one set
of (random) weights: the BS's answer equals what the device would compute alone (a test
checks it). One PyTorch thread by default (a Pi-like device; a one-core BS).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from dnnsplit.chains import Chain
from dnnsplit.profiler import build_stages, import_torch

__all__ = ["TorchStages"]


class TorchStages:
    """The stages of ``chain`` in PyTorch, random weights from ``seed``, eval mode.

    Parameters
    ----------
    chain : Chain
        The network.
    seed : int
        Seed of the weights (both sides must use the same one).
    threads : int
        PyTorch intra-op threads for this process.
    """

    def __init__(self, chain: Chain, *, seed: int = 0, threads: int = 1) -> None:
        self.torch = import_torch()
        self.torch.set_num_threads(threads)
        self.chain = chain
        self.modules: list[Any] = build_stages(chain, seed=seed)

    @property
    def n_stages(self) -> int:
        return len(self.modules)

    def input(self) -> np.ndarray:
        """A fixed random input tensor, batch 1 (a stand-in for a camera frame)."""
        rng = np.random.default_rng(0)
        return rng.standard_normal((1, *self.chain.input_shape), dtype=np.float32)

    def run(self, stage: int, x: np.ndarray) -> np.ndarray:
        """Stage ``stage`` (0-based) applied to ``x``; float32 in, float32 out."""
        with self.torch.inference_mode():
            y = self.modules[stage](self.torch.from_numpy(x))
        return np.ascontiguousarray(y.numpy(), dtype=np.float32)

    def run_range(self, first: int, last: int, x: np.ndarray) -> np.ndarray:
        """Stages ``first..last-1`` in order."""
        for stage in range(first, last):
            x = self.run(stage, x)
        return x

    def time_alone(self, *, repeats: int = 5, warmup: int = 2) -> np.ndarray:
        """Median time of each stage run alone on its own input (s): a quick table of the
        BS's residual work for SJF when no measured profile is given."""
        inputs = [self.input()]
        for stage in range(self.n_stages - 1):
            inputs.append(self.run(stage, inputs[-1]))
        times = np.zeros((repeats, self.n_stages))
        for r in range(warmup + repeats):
            for stage in range(self.n_stages):
                start = time.perf_counter()
                self.run(stage, inputs[stage])
                if r >= warmup:
                    times[r - warmup, stage] = time.perf_counter() - start
        return np.median(times, axis=0)

