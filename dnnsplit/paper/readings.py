"""The readings study: every claim of the paper under every reading of what it leaves open.

A reading (:data:`~dnnsplit.paper.claims.READINGS`) is a set of overrides of the setup: the
all-local baseline as ``p = s̃_i``, no full offload, another background load, quantum,
profile, uplink, or another R and policy for Fig. 5. For each reading this module runs the
sweeps the claims read (Fig. 3 at R = 1 against N, Fig. 3C against R at N = 10, Fig. 5),
writes the same tables the figures write into a folder of its own, and answers every claim
with the same verdict functions as the report (:func:`dnnsplit.paper.verdicts.judge`).

**The search for combinations** (:func:`search`), documented so that no combination is
chosen by hand:

1. every single reading is evaluated; its *distance* is the sum over the claims of
   :attr:`~dnnsplit.paper.verdicts.Verdict.distance` (0 for a reproduced claim);
2. the candidates are the readings that move at least one claim toward the paper (a
   smaller distance for that claim than under ``default``), ordered by their total
   distance (ties: the order of ``READINGS``);
3. coordinate-wise: starting from ``default``, each candidate whose coordinate (the choice
   it answers) is not yet set is added to the current combination; the combination is
   evaluated and kept when its total distance is smaller, else the candidate is dropped;
   at most ``steps`` combinations are evaluated.

Every evaluated combination is a reading of its own in the results (its id joins the ids
of its parts with ``+``), so the verdict map shows the path of the search.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit.paper import stats, sweeps
from dnnsplit.paper.claims import CLAIMS, READINGS, Claim, Reading
from dnnsplit.paper.engine import Engine, Task, point_key
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.output import write_table
from dnnsplit.paper.verdicts import MissingInput, Verdict, judge
from dnnsplit.setup import Setup

__all__ = [
    "NUMBER_COLUMNS",
    "StudyGrids",
    "apply",
    "combine",
    "evaluate",
    "search",
    "study",
]

#: The numeric columns of ``readings.csv`` (a verdict fills those of its kind; NaN else).
NUMBER_COLUMNS = (
    "low",
    "high",
    "slope",
    "slack",
    "best",
    "median",
    "worst",
    "lines",
    "holding",
    "overall",
    "lowest",
    "highest",
)


@dataclass(frozen=True)
class StudyGrids:
    """The sweeps behind the claims, per reading.

    Attributes
    ----------
    by_devices : Grid
        Fig. 3 (A), (B) and the local share: N at R = 1, every policy, both objectives.
    by_ratio : Grid
        Fig. 3 (C): R at N = 10, the first policy, variance.
    fig5 : Grid
        Fig. 5: N and seeds (greedy against the certified optimum).
    """

    by_devices: sweeps.Grid
    by_ratio: sweeps.Grid
    fig5: sweeps.Grid

    @classmethod
    def paper(cls, *, seeds: Sequence[int] = tuple(range(10)), quick: bool = False) -> StudyGrids:
        """The grids of the paper's figures (Fig. 5 at N = 3..10, by the certifying solver);
        ``quick``: a smoke grid."""
        grids = cls(
            by_devices=sweeps.Grid(
                devices=(10, 20, 30, 40, 50), seeds=seeds, ratios=(1.0,), policies=("sjf", "rr")
            ),
            by_ratio=sweeps.Grid(
                devices=(10,),
                seeds=seeds,
                ratios=(1, 5, 10, 50, 100, 500, 1000),
                policies=("sjf",),
                objectives=("variance",),
            ),
            fig5=sweeps.Grid(devices=tuple(range(3, 11)), seeds=seeds),
        )
        if not quick:
            return grids
        return cls(
            by_devices=grids.by_devices.shrunk(True, devices=2, seeds=2),
            by_ratio=grids.by_ratio.shrunk(True, seeds=2, ratios=3),
            fig5=grids.fig5.shrunk(True, devices=2, seeds=2),
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).to_dict() for name in ("by_devices", "by_ratio", "fig5")}


def apply(setup: Setup, changes: Mapping[str, Any]) -> Setup:
    """``setup`` with a reading's ``changes`` (``channel`` takes a mapping of constants)."""
    plain = dict(changes)
    if "channel" in plain and isinstance(plain["channel"], Mapping):
        plain["channel"] = replace(setup.channel, **plain["channel"])
    return replace(setup, **plain)


def combine(parts: Sequence[Reading]) -> Reading:
    """One reading made of several (later parts override earlier ones)."""
    changes: dict[str, Any] = {}
    fig5: dict[str, Any] = {}
    for part in parts:
        changes.update(part.changes)
        fig5.update(part.fig5_changes)
    return Reading(
        id="+".join(p.id for p in parts),
        title="; ".join(p.title for p in parts),
        changes=MappingProxyType(changes),
        fig5_changes=MappingProxyType(fig5),
        coordinate="+".join(p.coordinate for p in parts),
    )


def _points(base: Setup, reading: Reading, grids: StudyGrids) -> dict[str, list[sweeps.Point]]:
    setup = apply(base, reading.changes)
    return {
        "by_devices": sweeps.improvement_points(setup, grids.by_devices),
        "by_ratio": sweeps.improvement_points(setup, grids.by_ratio),
        "fig5": sweeps.optimum_points(
            apply(setup, reading.fig5_changes), grids.fig5, ("variance",)
        ),
    }


COMPUTE = {
    "by_devices": sweeps._improvement_point,
    "by_ratio": sweeps._improvement_point,
    "fig5": sweeps._optimum_point,
}


def _covers(claim: Claim, grids: StudyGrids) -> str:
    """Which N (or R) a claim's row covers, as text."""
    if claim.reads.csv.startswith("fig5"):
        devices = grids.fig5.devices
    elif claim.reads.csv.startswith("fig3c"):
        return f"N = 10, R = {grids.by_ratio.ratios[0]:g}–{grids.by_ratio.ratios[-1]:g}"
    else:
        devices = grids.by_devices.devices
    return f"N = {min(devices)}–{max(devices)}"


def evaluate(
    base: Setup,
    readings: Sequence[Reading],
    grids: StudyGrids,
    folder: str | os.PathLike[str],
    *,
    engine: Engine | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Every claim under every reading: the rows of ``readings.csv``.

    The points of all readings and of every kind of sweep run in one engine call (one
    progress bar; a point two readings share runs once); each reading's tables are written under
    ``folder/<reading id>/`` and judged there.

    Returns
    -------
    pandas.DataFrame
        One row per (claim, reading): ``verdict``, ``ours``, ``distance``, ``covers`` (the N
        it covers), the numbers behind it (:data:`NUMBER_COLUMNS`), and the reading's
        ``changes`` as JSON.
    """
    engine = engine or current_engine()
    folder = Path(folder)
    # each point's cache key, once: it names the point shared by several readings
    keyed = {
        (r.id, kind): [(point_key(COMPUTE[kind], p), p) for p in points]
        for r in readings
        for kind, points in _points(base, r, grids).items()
    }
    unique: dict[str, Task] = {}
    for (_, kind), pairs in keyed.items():
        for key, point in pairs:
            unique.setdefault(key, (COMPUTE[kind], point))
    results = engine.run_tasks(
        list(unique.values()), desc="readings: Figs. 3 and 5", progress=progress
    )
    by_key = dict(zip(unique, results, strict=True))
    rows_of = {
        place: [row for key, _ in pairs for row in by_key[key]] for place, pairs in keyed.items()
    }
    table = []
    for reading in readings:
        place = folder / reading.id
        frames = {kind: sweeps._tidy(rows_of[(reading.id, kind)]) for kind in COMPUTE}
        tables = {
            **stats.fig3_tables(frames["by_devices"], frames["by_ratio"]),
            **stats.fig5_tables(frames["fig5"]),
        }
        for name, files in tables.items():
            for suffix, frame in files.items():
                write_table(frame, place / f"{name}{'_' + suffix if suffix else ''}.csv")
        for claim in CLAIMS:
            table.append(_row(claim, reading, place, grids))
    return pd.DataFrame(table)


def _row(claim: Claim, reading: Reading, place: Path, grids: StudyGrids) -> dict[str, Any]:
    try:
        verdict: Verdict | None = judge(claim, place)
    except MissingInput:
        verdict = None
    changes = {**reading.changes, **{f"fig5.{k}": v for k, v in reading.fig5_changes.items()}}
    numbers = verdict.numbers if verdict else {}
    return {
        "claim": claim.id,
        "reading": reading.id,
        "verdict": verdict.verdict if verdict else "not evaluated",
        "ours": verdict.ours if verdict else "",
        "distance": verdict.distance if verdict else np.nan,
        "covers": _covers(claim, grids),
        **{column: numbers.get(column, np.nan) for column in NUMBER_COLUMNS},
        "changes": json.dumps(_plain(changes), sort_keys=True),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _total(table: pd.DataFrame, reading_id: str) -> float:
    return float(table[table.reading == reading_id].distance.sum())


def candidates(table: pd.DataFrame, readings: Iterable[Reading]) -> list[Reading]:
    """Step 2 of the search: the readings that move some claim toward the paper, best
    (smallest total distance) first."""
    default = table[table.reading == "default"].set_index("claim").distance
    moved = []
    for order, r in enumerate(readings):
        if r.id == "default":
            continue
        mine = table[table.reading == r.id].set_index("claim").distance
        if bool((mine < default - 1e-12).any()):
            moved.append((_total(table, r.id), order, r))
    return [r for _, _, r in sorted(moved, key=lambda item: (item[0], item[1]))]


def search(
    base: Setup,
    table: pd.DataFrame,
    grids: StudyGrids,
    folder: str | os.PathLike[str],
    *,
    readings: Sequence[Reading] = READINGS,
    steps: int = 5,
    engine: Engine | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The coordinate-wise search for combinations (module docstring).

    Returns
    -------
    table : pandas.DataFrame
        ``table`` with the rows of every evaluated combination appended.
    trace : pandas.DataFrame
        One row per step: the candidate tried, the combination, its total distance, and
        whether it was kept.
    """
    chosen: list[Reading] = []
    best = _total(table, "default")
    trace: list[dict[str, Any]] = []
    tried = 0
    for candidate in candidates(table, readings):
        if tried >= steps:
            break
        if any(candidate.coordinate == part.coordinate for part in chosen):
            continue
        if not chosen:  # the first candidate alone is already evaluated
            total, kept_id = _total(table, candidate.id), candidate.id
        else:
            combination = combine([*chosen, candidate])
            rows = evaluate(base, [combination], grids, folder, engine=engine, progress=progress)
            table = pd.concat([table, rows], ignore_index=True)
            total, kept_id = _total(table, combination.id), combination.id
            tried += 1
        kept = total < best - 1e-12
        trace.append(
            {
                "step": len(trace) + 1,
                "candidate": candidate.id,
                "combination": kept_id,
                "distance": total,
                "best_before": best,
                "kept": kept,
            }
        )
        if kept:
            chosen.append(candidate)
            best = total
    return table, pd.DataFrame(trace)


def study(
    base: Setup,
    grids: StudyGrids,
    folder: str | os.PathLike[str],
    *,
    readings: Sequence[Reading] = READINGS,
    steps: int = 5,
    engine: Engine | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every claim under every reading, then the search for combinations: ``(table, trace)``."""
    table = evaluate(base, readings, grids, folder, engine=engine, progress=progress)
    return search(
        base,
        table,
        grids,
        folder,
        readings=readings,
        steps=steps,
        engine=engine,
        progress=progress,
    )
