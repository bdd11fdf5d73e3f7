"""Shared fixtures and hypothesis strategies: small random scenarios of every kind."""

from __future__ import annotations

import os

import matplotlib

# Agg in this process only: exported as MPLBACKEND it would reach the notebook kernels and
# remove their inline plots.
matplotlib.use("Agg")

import matplotlib.pyplot as plt

# Sweeps run in process and uncached unless a test says otherwise (the notebooks' kernels
# inherit this); tests of the parallel engine and the cache start their own.
os.environ["DNNSPLIT_WORKERS"] = "1"
os.environ["DNNSPLIT_CACHE"] = "0"

import nbformat
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from dnnsplit import Scenario, paper_scenario
from dnnsplit.paths import NOTEBOOKS_DIR

settings.register_profile(
    "dnnsplit",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# The long fuzz of tests/test_hostile.py on a developer's machine (random, not derandomized):
#   pytest --hypothesis-profile=fuzz tests/test_hostile.py
settings.register_profile(
    "fuzz",
    deadline=None,
    max_examples=3000,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("dnnsplit")


@st.composite
def scenario_dicts(
    draw,
    *,
    max_devices: int = 4,
    max_stages: int = 4,
    policies=("sjf", "ps", "rr"),
    deadlines: bool = False,
) -> dict:
    """A scenario file (dict) with an inline profile, small enough to enumerate."""
    n_stages = draw(st.integers(1, max_stages))
    times = st.floats(0.0, 0.2, allow_nan=False, allow_subnormal=False)
    # quantised values make exact ties (equal tasks, equal devices) common
    times = st.one_of(times, st.sampled_from([0.0, 0.01, 0.02, 0.05]))
    stages = [
        {
            "name": f"s{k}",
            "device_s": draw(times),
            "output_bytes": draw(st.integers(1_000, 2_000_000)),
        }
        for k in range(n_stages)
    ]
    n_devices = draw(st.integers(1, max_devices))
    devices = []
    for _ in range(n_devices):
        max_stage = draw(st.integers(0, n_stages))
        device = {
            "background": draw(st.integers(0, 3)),
            "quantum_s": draw(st.sampled_from([0.005, 0.01, 0.03])),
            # the lowest point: mostly 0 (full offload allowed), sometimes 1 or more
            "min_stage": draw(st.sampled_from([0, 0, min(1, max_stage), max_stage])),
            "max_stage": max_stage,
            "rate_bps": draw(st.sampled_from([4.5e6, 15e6, 50e6])),
            "speed": draw(st.sampled_from([0.5, 1.0, 2.0])),
        }
        if deadlines and draw(st.booleans()):
            device["deadline_s"] = draw(st.floats(0.05, 3.0))
        devices.append(device)
    return {
        "profile": {"input_bytes": draw(st.integers(1_000, 1_000_000)), "stages": stages},
        "bs": {
            "policy": draw(st.sampled_from(policies)),
            "ratio": draw(st.sampled_from([1.0, 5.0, 100.0])),
            "quantum_s": draw(st.sampled_from([0.005, 0.01, 0.05])),
        },
        "local_delay": draw(st.sampled_from(["paper", "exact"])),
        "devices": devices,
    }


@pytest.fixture(scope="session")
def paper7() -> Scenario:
    """A paper scenario small enough for exhaustive search in well under a second."""
    return paper_scenario(7, 7)


def random_partitions(scenario: Scenario, rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.integers(scenario.min_stage, scenario.max_stage + 1, size=(rows, scenario.n_devices))


def exec_notebook(name: str, parameters: dict) -> dict:
    """Run the notebook's code cells in this process (the parameters cell, then
    ``parameters`` over it, as papermill does); returns the namespace."""
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    namespace: dict = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        exec(compile(cell.source, f"{name} cell", "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)
    plt.close("all")
    return namespace


@pytest.fixture
def usual_ports_held():
    """Dask's usual ports, 8786 and 8787, held by another process (as a second notebook or
    a JupyterLab would hold them; if something else already holds one, so much the
    better)."""
    import socket

    held = []
    for port in (8786, 8787):
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", port))
            listener.listen()
            held.append(listener)
        except OSError:
            listener.close()  # already held by someone else: the same situation
    yield
    for listener in held:
        listener.close()
