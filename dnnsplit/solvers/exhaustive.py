"""Exhaustive search: every partition vector, the certified optimum for small N (Fig. 5)."""

from __future__ import annotations

import math

import numpy as np

from dnnsplit._checks import number
from dnnsplit._progress import progress_bar
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import batch_delays
from dnnsplit.model import DEADLINE_TOLERANCE_S, DelayTables
from dnnsplit.policies import POLICY_TABLE
from dnnsplit.scenario import Scenario
from dnnsplit.solvers._common import Found, objective_values, solver
from dnnsplit.solvers._moves import CELLS_PER_CHUNK

__all__ = [
    "MAX_VECTORS_COMPILED",
    "MAX_VECTORS_NUMPY",
    "MAX_VECTORS_TIMELINE",
    "exhaustive",
]

#: Exhaustive search refuses spaces larger than these (vectors), per evaluation path.
MAX_VECTORS_COMPILED = 2 * 10**10
MAX_VECTORS_NUMPY = 2 * 10**7
MAX_VECTORS_TIMELINE = 2 * 10**5


def _shifted(table: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Columns ``low_i..S`` of each row moved to the front: column k is point ``low_i + k``
    (the tail is padding that the enumeration never reads)."""
    width = table.shape[1]
    columns = np.minimum(low[:, None] + np.arange(width)[None, :], width - 1)
    return np.take_along_axis(table, columns, axis=1)


def _compiled(
    tables: DelayTables, objective: str, radices: np.ndarray, progress: bool
) -> np.ndarray | None:
    """Best offset vector (point − lowest point) by the compiled kernel, or None."""
    from numba import get_num_threads

    from dnnsplit._kernels import exhaustive_snapshot

    low = tables.min_stage
    shift = float(np.median(tables.offload_delay))
    offload = _shifted(tables.offload_delay - shift, low)
    work = _shifted(np.asarray(tables.remote_work), low)
    deadline = tables.deadline - shift + DEADLINE_TOLERANCE_S
    limits = radices - 1
    outer_total = math.prod(int(r) for r in radices[:-1])
    inner = int(radices[-1])
    block = max(1, 200_000_000 // inner)  # about a second or two per block
    best = (math.inf, -1, -1)
    bar = progress_bar(
        total=outer_total * inner, desc="exhaustive", enabled=progress, unit="vec", unit_scale=True
    )
    for lo in range(0, outer_total, block):
        hi = min(outer_total, lo + block)
        parts = max(1, min(hi - lo, 8 * get_num_threads()))
        found = exhaustive_snapshot(
            offload,
            work,
            limits,
            deadline,
            policy=tables.policy,
            objective=objective,
            start=lo,
            stop=hi,
            tolerance=0.0,
            parts=parts,
        )
        if found[1] >= 0 and found[0] < best[0]:
            best = found
        bar.update((hi - lo) * inner)
    bar.close()
    if best[1] < 0:
        return None
    outer_digits = np.unravel_index(best[1], tuple(int(r) for r in radices[:-1]))
    return np.array([*(int(d) for d in outer_digits), best[2]], dtype=np.int64)


def _chunked(
    tables: DelayTables, objective: str, model: str, radices: np.ndarray, progress: bool
) -> np.ndarray | None:
    """Best offset vector by NumPy (any policy, either model), in chunks, or None."""
    size = math.prod(int(r) for r in radices)
    per_row = tables.n_devices * (tables.n_devices if tables.policy == "rr" else 1)
    chunk = max(1, CELLS_PER_CHUNK // per_row)
    best_value, best_vector = math.inf, None
    bar = progress_bar(total=size, desc="exhaustive", enabled=progress, unit="vec", unit_scale=True)
    for lo in range(0, size, chunk):
        flat = np.arange(lo, min(size, lo + chunk), dtype=np.int64)
        offsets = np.stack(np.unravel_index(flat, tuple(int(r) for r in radices)), axis=1)
        delays = batch_delays(tables, offsets + tables.min_stage[None, :], model)
        values = np.where(
            tables.deadline_excess(delays) == 0, objective_values(delays, objective), np.inf
        )
        k = int(np.argmin(values))
        if values[k] < best_value:
            best_value, best_vector = float(values[k]), offsets[k].copy()
        bar.update(flat.size)
    bar.close()
    return best_vector


@solver("exhaustive")
def exhaustive(
    scenario: Scenario,
    *,
    objective: str = "total",
    model: str = "snapshot",
    max_vectors: int | None = None,
    progress: bool = False,
) -> Found:
    """Every partition vector in ``Π_i {min_i..s̃_i}``: the certified optimum.

    Parameters
    ----------
    scenario : Scenario
        The devices, profile and BS.
    objective : {"total", "variance"}
        Total delay, eq. (4), or variance of delays, eq. (8).
    model : {"snapshot", "timeline"}
        The BS model.
    max_vectors : int, optional
        Refuse a larger space. Defaults: 2·10¹⁰ on the compiled path, 2·10⁷ on the NumPy
        snapshot path, 2·10⁵ under the timeline model.
    progress : bool
        Show a progress bar (needs tqdm).

    Returns
    -------
    Solution
        ``optimal`` is true; ``iterations`` is the number of vectors enumerated.

    Raises
    ------
    SolverRefusal
        The space is larger than ``max_vectors`` (the message names its size), or no vector
        meets every deadline.

    Notes
    -----
    **Guarantee**: the global optimum of the objective among vectors meeting every deadline
    (constraints (5), (7)).

    **Ties**: the first optimal vector in lexicographic order of ``(p_0, …, p_{N−1})``.

    **Complexity**: ``Π_i (s̃_i − min_i + 1)`` vectors. Snapshot ``sjf``/``ps`` run in a
    compiled, multi-threaded kernel at a few O(log N) operations per vector
    (:mod:`dnnsplit._kernels`); other policies and the timeline model are evaluated in
    NumPy chunks.

    References
    ----------
    Kafetzis and Koutsopoulos: the exhaustive search of Fig. 5; objectives eq. (4), (8).
    """
    tables = scenario.tables
    radices = (tables.max_stage - tables.min_stage + 1).astype(np.int64)
    size = scenario.space_size
    compiled = model == "snapshot" and POLICY_TABLE[tables.policy].compiled
    if max_vectors is None:
        if compiled:
            max_vectors = MAX_VECTORS_COMPILED
        elif model == "snapshot":
            max_vectors = MAX_VECTORS_NUMPY
        else:
            max_vectors = MAX_VECTORS_TIMELINE
    else:
        max_vectors = number(max_vectors, "max_vectors", whole=True, minimum=1)
    path = "compiled" if compiled else ("numpy" if model == "snapshot" else "timeline")
    if size > max_vectors:
        raise SolverRefusal(
            "solver",
            f"exhaustive: the space has {size:.3g} partition vectors "
            f"(Π(s̃_i+1) over {scenario.n_devices} devices), more than the {max_vectors:.3g} "
            f"this {path} search takes; use greedy, local-search or exact, or raise max_vectors",
        )
    if compiled:
        offsets = _compiled(tables, objective, radices, progress)
    else:
        offsets = _chunked(tables, objective, model, radices, progress)
    if offsets is None:
        raise SolverRefusal(
            "deadline_s",
            f"exhaustive: none of the {size} partition vectors meets every deadline",
        )
    return Found(
        offsets + tables.min_stage,
        iterations=size,
        optimal=True,
        note=f"every vector of the space enumerated ({path}); ties to the first in order",
    )
