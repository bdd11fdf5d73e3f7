"""The readings study: every claim of the paper under every reading of what it leaves open.

A reading (:data:`~dnnsplit.paper.claims.READINGS`) is a set of overrides of the setup: the
all-local baseline as ``p = s̃_i``, no full offload, another background load, quantum,
profile or uplink, or another start, lowest point, R or policy for Fig. 5 alone. Each
reading says which of the paper's words support it, or that none do and it is chosen by
fit. For each reading this module runs the sweeps the claims read (Fig. 3 against N at
R = 1, Fig. 3C against R, Fig. 5), writes the tables of the figures that the claims read
(the same CSVs the figures write) into a folder of its own, and answers every claim with
the same verdict functions as the report (:func:`dnnsplit.paper.verdicts.judge`). Beside
them, the mechanism (:func:`greedy_mechanism`, :func:`delay_curves`): why greedy stops
where it does.

A **combination** holds at most one reading per coordinate (the choice a reading answers);
its id joins the ids of its parts with ``+`` in the declared order, so the same set of
readings is always the same combination.

**The searches**, documented so that no combination is chosen by hand:

1. every declared reading is evaluated; a claim's *distance* under it is
   :attr:`~dnnsplit.paper.verdicts.Verdict.distance` (0 when every point holds);
2. **per claim** (:func:`closest`): a coordinate search over the coordinates that change
   the figures the claim reads. It starts from the reading closest to the claim; each pass
   tries, coordinate by coordinate in the declared order, every other answer to that
   coordinate (and none), and moves to the first combination that brings the claim closer;
   it stops at a pass without a move (a combination no single change improves) or after
   ``steps`` evaluations, and reports the closest combination evaluated. Only the sweeps
   the claim reads are run, so a Fig. 5 claim's search costs Fig. 5 sweeps only. A
   frequency claim (greedy finds the optimum) is ranked by its distance, then by the share
   of cases, so its search looks for the highest share the declared readings give;
3. **the best-fitting combination** (:func:`best_fit`): the same search on the sum of the
   distances of all claims, from ``default``.

Every combination a search evaluates stays in the results (a ``+`` in its id), so the
path of each search can be followed; the report marks the best-fitting combination as
chosen by fit and says which of its parts the paper's text supports.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dnnsplit._io import atomic_write
from dnnsplit._params import NEAR_ZERO
from dnnsplit.draw import paper_scenario
from dnnsplit.evaluate import batch_delays
from dnnsplit.paper import fig3, fig5, stats, sweeps
from dnnsplit.paper.captions import Caption
from dnnsplit.paper.claims import (
    CLAIMS,
    LEVELS,
    READINGS,
    SUPPORT_LEVELS,
    Claim,
    Reading,
    Support,
)
from dnnsplit.paper.claims import claim as claim_of
from dnnsplit.paper.engine import Engine, Shape, package_fingerprint, point_key, yields
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.experiment import EXPERIMENT_FIELDS, Experiment
from dnnsplit.paper.output import write_table
from dnnsplit.paper.plots import INK, PANEL, band, finish_figure, paper_style, ticks
from dnnsplit.paper.stats import summarise
from dnnsplit.paper.sweeps import (
    CERTIFY_TIME_LIMIT_S,
    DEFAULT_EXPERIMENT,
    Grid,
    Point,
    certified_optimum,
    metric_rows,
    points,
    run_points,
    tidy,
    tidy_shape,
)
from dnnsplit.paper.text import render, table
from dnnsplit.paper.verdicts import Folder, MissingInput, Verdict, judge
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import RELATIVE_TOLERANCE, solve

__all__ = [
    "KINDS_OF_CSV",
    "MECHANISM_METRICS",
    "NUMBER_COLUMNS",
    "Study",
    "StudyGrids",
    "apply",
    "best_fit",
    "closest",
    "combine",
    "delay_curves",
    "evaluate",
    "gathered",
    "greedy_mechanism",
    "kinds_of",
    "map_rows",
    "mechanism",
    "mechanism_summary",
    "report_section",
    "study",
]

#: The numeric columns of ``readings.csv`` (a verdict fills those of its kind; NaN else).
NUMBER_COLUMNS = ("points", "holding", "low", "high", "slope", "overall", "tolerance")
#: Which sweep writes each CSV a claim may read.
KINDS_OF_CSV = {
    "fig3a": "by_devices",
    "fig3b": "by_devices",
    "fig3_local_share": "by_devices",
    "fig3c": "by_ratio",
    "fig5": "fig5",
}
#: The claims a reading answers: those whose every CSV a sweep here writes (the networks
#: claim reads every network at once, so the networks notebook answers it).
STUDIED = tuple(c for c in CLAIMS if all(csv in KINDS_OF_CSV for csv in c.csvs))
#: The figure each kind of sweep belongs to (a reading changes a figure's sweeps).
FIGURE_OF_KIND = {"by_devices": "fig3", "by_ratio": "fig3", "fig5": "fig5"}
#: A distance this much smaller counts as closer (below it: a tie).
CLOSER = 1e-12


@dataclass(frozen=True)
class StudyGrids:
    """The sweeps behind the claims, per reading.

    Attributes
    ----------
    by_devices : Grid
        Fig. 3 (A), (B) and the local share: N at the setup's R (1), both policies, both
        objectives.
    by_ratio : Grid
        Fig. 3 (C): R for every N, at the setup's policy (SJF), the variance.
    fig5 : Grid
        Fig. 5: N and seeds (greedy against the certified optimum).
    """

    by_devices: sweeps.Grid
    by_ratio: sweeps.Grid
    fig5: sweeps.Grid

    @classmethod
    def paper(cls, *, seeds: Sequence[int] = tuple(range(10)), quick: bool = False) -> StudyGrids:
        """The grids of the paper's figures (Fig. 3 at R = the setup's, Fig. 5 at N = 3..10
        by the certifying solver); ``quick``: a smoke grid."""
        devices = (10, 20, 30, 40, 50)
        grids = cls(
            by_devices=sweeps.Grid(devices=devices, seeds=seeds, vary={"policy": ("sjf", "rr")}),
            by_ratio=sweeps.Grid(
                devices=devices, seeds=seeds, vary={"ratio": (1, 5, 10, 50, 100, 500, 1000)}
            ),
            fig5=sweeps.Grid(devices=tuple(range(3, 11)), seeds=seeds),
        )
        if not quick:
            return grids
        return cls(
            by_devices=grids.by_devices.shrunk(True, devices=2, seeds=2),
            by_ratio=grids.by_ratio.shrunk(True, devices=2, seeds=2, ratio=3),
            fig5=grids.fig5.shrunk(True, devices=2, seeds=2),
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).to_dict() for name in ("by_devices", "by_ratio", "fig5")}


def apply(
    setup: Setup, experiment: Experiment, changes: Mapping[str, Any]
) -> tuple[Setup, Experiment]:
    """``setup`` and ``experiment`` with a reading's ``changes``: each field goes to the
    object that has it (``channel`` takes a mapping of constants)."""
    plain = dict(changes)
    if "channel" in plain and isinstance(plain["channel"], Mapping):
        plain["channel"] = replace(setup.channel, **plain["channel"])
    knobs = {k: v for k, v in plain.items() if k in EXPERIMENT_FIELDS}
    rest = {k: v for k, v in plain.items() if k not in EXPERIMENT_FIELDS}
    return setup.replace(**rest), experiment.replace(**knobs)


def setups(
    base: Setup, reading: Reading, experiment: Experiment | None = None
) -> dict[str, tuple[Setup, Experiment]]:
    """The setup and experiment of each figure under ``reading``: ``fig3`` and ``fig5``."""
    shared = apply(base, experiment or Experiment(), reading.changes)
    return {
        "fig3": apply(*shared, reading.fig3_changes),
        "fig5": apply(*shared, reading.fig5_changes),
    }


def combine(parts: Sequence[Reading]) -> Reading:
    """One reading made of several, at most one per coordinate (a ``ValueError`` names a
    coordinate given twice); its parts go in the declared order of :data:`READINGS`."""
    order = {r.id: k for k, r in enumerate(READINGS)}
    parts = sorted(parts, key=lambda r: order.get(r.id, len(order)))
    coordinates = [p.coordinate for p in parts]
    twice = sorted({c for c in coordinates if coordinates.count(c) > 1})
    if twice:
        raise ValueError(f"a combination answers coordinate(s) {', '.join(twice)} twice")
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, dict[str, Any]] = {"changes": {}, "fig3_changes": {}, "fig5_changes": {}}
    for part in parts:
        for name, into in merged.items():
            into.update(getattr(part, name))
    return Reading(
        id="+".join(p.id for p in parts),
        title="; ".join(p.title for p in parts),
        changes=MappingProxyType(merged["changes"]),
        fig3_changes=MappingProxyType(merged["fig3_changes"]),
        fig5_changes=MappingProxyType(merged["fig5_changes"]),
        coordinate="+".join(p.coordinate for p in parts),
        support=Support(
            next(
                (level for level in reversed(SUPPORT_LEVELS[:3]) if any(
                    p.support.level == level for p in parts)),
                "default",
            ),
            for_=tuple(q for p in parts for q in p.support.for_),
            against=tuple(q for p in parts for q in p.support.against),
            note="; ".join(f"{p.id}: {p.support.note}" for p in parts if p.support.note),
        ),
    )


def parts_of(reading_id: str, declared: Sequence[Reading] = READINGS) -> list[Reading]:
    """The declared readings a (combined) reading id is made of."""
    known = {r.id: r for r in declared}
    return [known[part] for part in reading_id.split("+")]


def kinds_of(claim: Claim) -> tuple[str, ...]:
    """The sweeps a claim reads (``by_devices``, ``by_ratio``, ``fig5``)."""
    return tuple(dict.fromkeys(KINDS_OF_CSV[csv] for csv in claim.csvs))


def _points(base: Setup, reading: Reading, grids: StudyGrids, kind: str) -> list[sweeps.Point]:
    chosen = setups(base, reading)
    if kind in ("by_devices", "by_ratio"):
        setup, experiment = chosen["fig3"]
        objectives = ("total", "variance") if kind == "by_devices" else ("variance",)
        return fig3.improvement_points(
            setup, getattr(grids, kind), objectives=objectives, experiment=experiment
        )
    setup, experiment = chosen["fig5"]
    return fig5.optimum_points(setup, grids.fig5, ("variance",), experiment=experiment)


COMPUTE: dict[str, Callable[[sweeps.Point], list[dict[str, Any]]]] = {
    "by_devices": fig3.improvement_rows,
    "by_ratio": fig3.improvement_rows,
    "fig5": fig5.optimum_rows,
}
#: The solves behind each kind of sweep, and how its rows are made of them.
SOLVED = {"by_devices": fig3.IMPROVEMENT, "by_ratio": fig3.IMPROVEMENT, "fig5": fig5.OPTIMUM}
#: The tables each kind of sweep writes with a figure: its rows and their summaries.
TABLES: dict[str, Callable[[pd.DataFrame], dict[str, dict[str, pd.DataFrame]]]] = {
    "by_devices": fig3.fig3_by_devices_tables,
    "by_ratio": fig3.fig3_by_ratio_tables,
    "fig5": fig5.fig5_tables,
}
#: The row tables of :data:`TABLES` (its ``""`` tables: the rows each selects), which are
#: what the claims read: the summaries (a bootstrap each, most of the tables' cost) are
#: computed only for a claim that reads one. A test holds these equal to :data:`TABLES`'.
ROW_TABLES: dict[str, dict[str, dict[str, str]]] = {
    "by_devices": {
        "fig3a": {"objective": "variance"},
        "fig3b": {"objective": "total"},
        "fig3_local_share": {"metric": "local_share"},
    },
    "by_ratio": {"fig3c": {}},
    "fig5": {"fig5": {}},
}


def _covers(claim: Claim, grids: StudyGrids) -> str:
    """Which N (or R) a claim's row covers, as text."""
    kinds = kinds_of(claim)
    if kinds == ("fig5",):
        devices = grids.fig5.devices
    elif kinds == ("by_ratio",):
        ratios = grids.by_ratio.vary["ratio"]
        devices = grids.by_ratio.devices
        n = f"N = {devices[0]}" if "devices" in claim.reads[0].rows else (
            f"N = {min(devices)}–{max(devices)}"
        )
        return f"{n}, R = {ratios[0]:g}–{ratios[-1]:g}"
    else:
        devices = grids.by_devices.devices
    return f"N = {min(devices)}–{max(devices)}"


def evaluate(
    base: Setup,
    readings: Sequence[Reading],
    grids: StudyGrids,
    folder: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = tuple(COMPUTE),
    engine: Engine | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """The claims under each reading, from the sweeps of ``kinds``: the rows of
    ``readings.csv``.

    Each reading's tables (those of ``kinds``) are under ``folder/<reading id>/`` when it
    returns; a claim is answered when every sweep it reads is among ``kinds``. Work is
    keyed by what it depends on, so nothing is done twice:

    - the tables of a sweep under a reading are keyed by its points' cache keys and the
      package's source (:func:`_table_key`); a folder that holds the tables of that key
      (its stamp names the key and the files' checksums) is left as it is, and each key's
      tables are computed once, whichever readings share it;
    - a claim's verdict is keyed by the tables it reads: readings with the same tables (a
      Fig. 5 reading, for the Fig. 3 claims) share one verdict, and the engine's cache
      keeps verdicts between runs, so a re-run judges nothing anew;
    - the points behind the tables to compute run in one engine call (one progress bar),
      made of solves (:func:`~dnnsplit.paper.sweeps.run_solved`): a solve several
      readings ask for (the same greedy under another baseline, the same optimum under
      another start of greedy) is computed once, and cached on its own.

    Returns
    -------
    pandas.DataFrame
        One row per (claim, reading) answered: ``verdict``, ``ours``, ``distance``,
        ``covers`` (the N it covers), the numbers behind it (:data:`NUMBER_COLUMNS`), its
        robustness (:data:`ROBUST_COLUMNS`), the reading's ``changes`` as JSON, its
        ``support`` and whether the text supports every part of it (``supported``).
    """
    engine = engine or current_engine()
    folder = Path(folder)
    memo: dict[str, str | None] = {}
    plan = {(r.id, kind): _points(base, r, grids, kind) for r in readings for kind in kinds}
    tables = {pair: _table_key(pair[1], chosen, memo) for pair, chosen in plan.items()}
    # only the claims whose sweeps this call runs: a file left in the folder by an earlier
    # run (another kind, another version) must neither answer a claim nor change which
    # combinations a search counts as new
    answered = [c for c in STUDIED if set(kinds_of(c)) <= set(kinds)]
    keys = {
        (r.id, c.id): _verdict_key(c, [tables[(r.id, kind)] for kind in kinds_of(c)])
        for r in readings
        for c in answered
    }
    unique = list(dict.fromkeys(keys.values()))
    recalled = engine.recall(unique, VERDICT_SHAPE, desc="readings' verdicts")
    known = {key: rows[0] for key, rows in recalled.items()}
    stale = [pair for pair in plan if not _holds(folder / pair[0], pair[1], tables[pair])]
    needed: dict[str, tuple[str, str]] = {}  # a table key -> the first (reading, kind)
    for pair in stale:
        needed.setdefault(tables[pair], pair)
    work = [(SOLVED[pair[1]], point) for pair in needed.values() for point in plan[pair]]
    solved = iter(
        sweeps.run_solved(work, desc="readings: Figs. 3 and 5", progress=progress, engine=engine)
    )
    made = {}
    for key, (rid, kind) in needed.items():
        rows = sweeps.tidy([row for _ in plan[(rid, kind)] for row in next(solved)])
        made[key] = _kind_tables(kind, rows)
    for rid, kind in stale:
        _write_tables(folder / rid, kind, tables[(rid, kind)], made[tables[(rid, kind)]])
    places: dict[str, Folder] = {}
    fresh = []
    for reading in readings:
        for claim in answered:
            key = keys[(reading.id, claim.id)]
            if key not in known:
                place = places.setdefault(reading.id, Folder(folder / reading.id))
                known[key] = _judged(claim, place)
                fresh.append((key, [known[key]]))
    engine.remember(fresh)
    table = [
        _row(claim, reading, known[keys[(reading.id, claim.id)]], grids)
        for reading in readings
        for claim in answered
    ]
    return pd.DataFrame(table, columns=_COLUMNS)


def _table_key(kind: str, points: Sequence[sweeps.Point], memo: dict[str, str | None]) -> str:
    """A hash of what a kind's tables under one reading depend on: the cache key of each of
    its points (the setup, the point, the profiles, the code that computes rows) and the
    source of the package (the tables' and the CSVs' code)."""
    keys = [point_key(COMPUTE[kind], p, memo=memo) for p in points]
    material = json.dumps([kind, keys, package_fingerprint()])
    return hashlib.sha256(material.encode()).hexdigest()


def _verdict_key(claim: Claim, tables: Sequence[str]) -> str:
    """A hash of what a claim's verdict depends on: the keys of the tables it reads (which
    cover the package's source: the claims' and the verdicts' code too)."""
    return hashlib.sha256(json.dumps([claim.id, list(tables)]).encode()).hexdigest()


def _kind_tables(kind: str, rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables of a kind of sweep that the claims read (:data:`KINDS_OF_CSV`), by file
    stem, from its tidy rows: its row tables, or all of :data:`TABLES` when a claim reads
    one of the summaries."""
    read = {stem for stem, of in KINDS_OF_CSV.items() if of == kind}
    if read <= set(ROW_TABLES[kind]):
        return {stem: stats.where(rows, **where) for stem, where in ROW_TABLES[kind].items()}
    return {
        f"{name}{'_' + suffix if suffix else ''}": frame
        for name, files in TABLES[kind](rows).items()
        for suffix, frame in files.items()
    }


def _stamp(place: Path, kind: str) -> Path:
    return place / f".{kind}.tables.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _holds(place: Path, kind: str, key: str) -> bool:
    """Whether ``place`` holds the tables of ``kind`` with key ``key``, as written: its
    stamp names the key, and every file it lists has the checksum it lists."""
    try:
        stamp = json.loads(_stamp(place, kind).read_text(encoding="utf-8"))
        return stamp["key"] == key and all(
            _sha256(place / f"{stem}.csv") == digest for stem, digest in stamp["files"].items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _write_tables(place: Path, kind: str, key: str, frames: Mapping[str, pd.DataFrame]) -> None:
    """Write a kind's tables into ``place``, then its stamp (key and checksums)."""
    _stamp(place, kind).unlink(missing_ok=True)
    files = {
        stem: _sha256(write_table(frame, place / f"{stem}.csv")) for stem, frame in frames.items()
    }
    atomic_write(_stamp(place, kind), json.dumps({"key": key, "files": files}) + "\n")


#: The columns of a verdict's robustness in ``readings.csv``.
ROBUST_COLUMNS = (
    "robust",
    "median_verdict",
    "tolerance_0_verdict",
    "tolerance_x2_verdict",
    "resamples_other",
)
_COLUMNS = [
    "claim",
    "reading",
    "verdict",
    "ours",
    "distance",
    "covers",
    *NUMBER_COLUMNS,
    *ROBUST_COLUMNS,
    "changes",
    "supported",
    "support",
]
#: What a claim's verdict gives its rows of ``readings.csv`` (what the cache keeps).
VERDICT_COLUMNS = ("verdict", "ours", "distance", *NUMBER_COLUMNS, *ROBUST_COLUMNS)
_TEXT = ("verdict", "ours", *ROBUST_COLUMNS[:-1])
#: A cached verdict is one row of :data:`VERDICT_COLUMNS`: texts and numbers.
VERDICT_SHAPE: Shape = (
    1,
    {c: (str,) if c in _TEXT else (float, int) for c in VERDICT_COLUMNS},
)


def _plain_number(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _judged(claim: Claim, place: Folder) -> dict[str, Any]:
    """The verdict on ``claim`` from the tables in ``place``, as :data:`VERDICT_COLUMNS`."""
    try:
        verdict: Verdict | None = judge(claim, place)
    except MissingInput:
        verdict = None
    numbers = verdict.numbers if verdict else {}
    return {
        "verdict": verdict.verdict if verdict else "not evaluated",
        "ours": verdict.ours if verdict else "",
        "distance": _plain_number(verdict.distance) if verdict else math.nan,
        **{column: _plain_number(numbers.get(column, math.nan)) for column in NUMBER_COLUMNS},
        **_robust_columns(verdict),
    }


def _row(
    claim: Claim, reading: Reading, judged: Mapping[str, Any], grids: StudyGrids
) -> dict[str, Any]:
    changes = {
        **reading.changes,
        **{f"fig3.{k}": v for k, v in reading.fig3_changes.items()},
        **{f"fig5.{k}": v for k, v in reading.fig5_changes.items()},
    }
    parts = parts_of(reading.id, [*READINGS, reading])
    return {
        "claim": claim.id,
        "reading": reading.id,
        **{column: judged[column] for column in VERDICT_COLUMNS[:3]},
        "covers": _covers(claim, grids),
        **{column: judged[column] for column in NUMBER_COLUMNS},
        "changes": json.dumps(_plain(changes), sort_keys=True),
        **{column: judged[column] for column in ROBUST_COLUMNS},
        "supported": all(p.supported for p in parts if p.id != "default"),
        "support": reading.support.text(),
    }


def _robust_columns(verdict: Verdict | None) -> dict[str, Any]:
    """The verdict's robustness (:func:`dnnsplit.paper.verdicts.robustness`) as columns."""
    found = verdict.robustness if verdict else None
    if found is None:
        return {column: "" for column in ROBUST_COLUMNS[:-1]} | {"resamples_other": math.nan}
    return {
        "robust": "robust" if found.robust else "fragile",
        "median_verdict": found.median,
        "tolerance_0_verdict": found.tolerance_zero,
        "tolerance_x2_verdict": found.tolerance_double,
        "resamples_other": _plain_number(found.other_share),
    }


def gathered(
    folder: str | os.PathLike[str], chosen: Sequence[Reading], stem: str, **where: Any
) -> pd.DataFrame:
    """The rows of ``stem.csv`` that :func:`evaluate` wrote for every reading in ``chosen``
    (those whose columns equal ``where``), with a ``network`` column naming the reading:
    the claims about every network at once read it (``networks_fig3a.csv``)."""
    frames = []
    for reading in chosen:
        rows = pd.read_csv(Path(folder) / reading.id / f"{stem}.csv")
        for column, value in where.items():
            rows = rows[rows[column] == value]
        frames.append(rows.assign(network=reading.id))
    return pd.concat(frames, ignore_index=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# --- the searches ---------------------------------------------------------------------------


@dataclass
class Study:
    """The state of a readings study: every (claim, reading) answered so far, and how to
    answer more.

    Attributes
    ----------
    base : Setup
        The default reading's setup.
    grids : StudyGrids
        The sweeps behind the claims.
    folder : Path
        Where each reading's tables are written.
    declared : tuple of Reading
        The readings a combination may be made of.
    table : pandas.DataFrame
        The rows of :func:`evaluate` so far (one per claim and reading).
    trace : list of dict
        Every step of every search.
    """

    base: Setup
    grids: StudyGrids
    folder: Path
    declared: tuple[Reading, ...]
    table: pd.DataFrame
    trace: list[dict[str, Any]]
    engine: Engine | None = None
    progress: bool = True

    def answered(self, reading_id: str, claims: Sequence[Claim]) -> bool:
        done = self.table[self.table.reading == reading_id].claim
        return {c.id for c in claims} <= set(done)

    def ensure(self, reading: Reading, claims: Sequence[Claim]) -> None:
        """Run the sweeps ``claims`` read under ``reading`` if not yet answered."""
        if self.answered(reading.id, claims):
            return
        kinds = tuple(dict.fromkeys(k for c in claims for k in kinds_of(c)))
        rows = evaluate(
            self.base,
            [reading],
            self.grids,
            self.folder,
            kinds=kinds,
            engine=self.engine,
            progress=self.progress,
        )
        rest = self.table[self.table.reading != reading.id]
        self.table = pd.concat([rest, rows], ignore_index=True)

    def distance(self, reading_id: str, claims: Sequence[Claim]) -> tuple[float, float]:
        """The sum of the claims' distances under a reading, and minus the share of
        frequency claims (the tie-break that prefers a higher share)."""
        rows = self.table[(self.table.reading == reading_id)]
        rows = rows[rows.claim.isin([c.id for c in claims])]
        share = rows.overall.fillna(0.0).sum()
        return float(rows.distance.fillna(np.inf).sum()), -float(share)


def _coordinates(declared: Sequence[Reading], figures: set[str]) -> dict[str, list[Reading]]:
    """The coordinates whose readings change one of ``figures``, each with its answers."""
    out: dict[str, list[Reading]] = {}
    for r in declared:
        if r.id != "default" and figures & set(r.figures):
            out.setdefault(r.coordinate, []).append(r)
    return out


def _search(
    study: Study, claims: Sequence[Claim], start: list[Reading], steps: int, label: str
) -> str:
    """The coordinate search of the module docstring for the sum of ``claims``' distances,
    from the combination ``start``; the id of the closest combination evaluated."""
    figures = {FIGURE_OF_KIND[k] for c in claims for k in kinds_of(c)}
    coordinates = _coordinates(study.declared, figures)
    default = next(r for r in study.declared if r.id == "default")

    def reading_of(parts: list[Reading]) -> Reading:
        return combine(parts) if parts else default

    current = list(start)
    study.ensure(reading_of(current), claims)
    best = study.distance(reading_of(current).id, claims)
    spent, moved = 0, best[0] > 0  # nothing to gain where every point already holds
    while moved and spent < steps:
        moved = False
        for coordinate, answers in coordinates.items():
            rest = [p for p in current if p.coordinate != coordinate]
            mine = [p for p in current if p.coordinate == coordinate]
            for option in [*answers, None]:
                if (option is None and not mine) or (mine and option is not None and
                                                     option.id == mine[0].id):
                    continue
                if spent >= steps:
                    break
                candidate = rest + ([option] if option is not None else [])
                reading = reading_of(candidate)
                fresh = not study.answered(reading.id, claims)
                study.ensure(reading, claims)
                spent += fresh
                value = study.distance(reading.id, claims)
                closer = value[0] < best[0] - CLOSER or (
                    abs(value[0] - best[0]) <= CLOSER and value[1] < best[1] - CLOSER
                )
                study.trace.append(
                    {
                        "search": label,
                        "step": len([t for t in study.trace if t["search"] == label]) + 1,
                        "combination": reading.id,
                        "distance": value[0],
                        "best_before": best[0],
                        "kept": closer,
                    }
                )
                if closer:
                    current, best, moved = candidate, value, True
                    break
            if moved:
                break
    return reading_of(current).id


def closest(study: Study, claim: Claim, *, steps: int) -> str:
    """Step 2 of the module docstring: the combination of declared readings closest to
    ``claim`` that the per-claim search finds (its id)."""
    rows = study.table[(study.table.claim == claim.id) & study.table.distance.notna()]
    singles = rows[~rows.reading.str.contains("+", regex=False)]
    order = {r.id: k for k, r in enumerate(study.declared)}
    ranked = singles.assign(
        rank=singles.reading.map(order), share=-singles.overall.fillna(0.0)
    ).sort_values(["distance", "share", "rank"], kind="stable")
    first = ranked.reading.iloc[0] if not ranked.empty else "default"
    start = [] if first == "default" else parts_of(first, study.declared)
    found = _search(study, [claim], start, steps, f"closest: {claim.id}")
    return _closest_evaluated(study, claim, found)


def _closest_evaluated(study: Study, claim: Claim, found: str) -> str:
    """The closest of every reading evaluated for ``claim`` (the search's end, or one it
    passed that another search evaluated)."""
    rows = study.table[(study.table.claim == claim.id) & study.table.distance.notna()]
    parts = rows.reading.str.count(r"\+")
    ranked = rows.assign(
        share=-rows.overall.fillna(0.0), parts=parts, is_found=rows.reading != found
    ).sort_values(["distance", "share", "parts", "is_found", "reading"], kind="stable")
    return str(ranked.reading.iloc[0])


def best_fit(study: Study, *, steps: int) -> str:
    """Step 3 of the module docstring: the combination with the least total distance over
    every claim that the search finds from ``default`` (its id)."""
    return _search(study, STUDIED, [], steps, "best fit")


def study(
    base: Setup,
    grids: StudyGrids,
    folder: str | os.PathLike[str],
    *,
    readings: Sequence[Reading] = READINGS,
    steps: int = 12,
    engine: Engine | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every claim under every reading, then the searches of the module docstring.

    Parameters
    ----------
    steps : int
        The most combinations each search may evaluate anew (0: no search).

    Returns
    -------
    table : pandas.DataFrame
        One row per (claim, reading) answered (:func:`evaluate`); every combination the
        per-claim searches end at, and the best-fitting one, is answered for every claim.
    trace : pandas.DataFrame
        One row per step of each search.
    found : pandas.DataFrame
        One row per claim: the ``closest`` combination, and one row ``claim = "*"`` for
        the ``best fit``.
    """
    declared = tuple(readings)
    state = Study(
        base,
        grids,
        Path(folder),
        declared,
        evaluate(base, declared, grids, folder, engine=engine, progress=progress),
        [],
        engine,
        progress,
    )
    found = []
    if steps > 0 and any(r.id == "default" for r in declared):
        answered = set(state.table[state.table.distance.notna()].claim)
        for claim in STUDIED:
            if claim.id not in answered:  # its points are outside the grid (a quick run)
                continue
            found.append({"claim": claim.id, "search": "closest", "reading": closest(
                state, claim, steps=steps)})
        found.append({"claim": "*", "search": "best fit", "reading": best_fit(state, steps=steps)})
        for row in found:
            state.ensure(_reading(row["reading"], declared), STUDIED)
        # a later search may have evaluated, for an earlier claim, a combination closer
        # than the one its own search ended at: name the closest of everything evaluated
        for row in found[:-1]:
            row["reading"] = _closest_evaluated(state, claim_of(row["claim"]), row["reading"])
    trace = pd.DataFrame(
        state.trace, columns=["search", "step", "combination", "distance", "best_before", "kept"]
    )
    return state.table, trace, pd.DataFrame(found, columns=["claim", "search", "reading"])


def map_rows(table: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    """The rows of the verdict map, in order: every declared reading answered for every
    claim, then each combination a search ended at (the closest per claim, the best fit).
    The combinations a search passed through stay in ``readings.csv`` only."""
    complete = table.groupby("reading", sort=False).claim.nunique() == len(STUDIED)
    singles = [r for r in dict.fromkeys(table.reading) if "+" not in r and complete.get(r)]
    ends = [r for r in dict.fromkeys(found.reading) if "+" in r and complete.get(r)]
    return singles + ends


def _reading(reading_id: str, declared: Sequence[Reading]) -> Reading:
    parts = parts_of(reading_id, declared)
    return parts[0] if len(parts) == 1 else combine(parts)


# --- the mechanism: why greedy stops where it does -----------------------------------


def _variances(scenario: Scenario, vectors: np.ndarray) -> np.ndarray:
    return batch_delays(scenario.tables, vectors).var(axis=-1)


def _improving_moves(scenario: Scenario, p: np.ndarray) -> dict[str, float]:
    """At ``p``: does some one-stage move, some jump of one device by two or more stages,
    or some pair of one-stage moves of two devices lower the variance (beyond ties)?"""
    tables, n = scenario.tables, scenario.n_devices
    value = float(_variances(scenario, p[None, :])[0])
    tie = RELATIVE_TOLERANCE * max(abs(value), NEAR_ZERO)
    allowed = tables.allowed
    steps: list[np.ndarray] = []
    jumps: list[np.ndarray] = []
    for i in range(n):
        for q in np.flatnonzero(allowed[i]):
            if q != p[i]:
                vector = p.copy()
                vector[i] = q
                (steps if abs(q - p[i]) == 1 else jumps).append(vector)
    pairs: list[np.ndarray] = []
    for i, j in itertools.combinations(range(n), 2):
        for di, dj in itertools.product((-1, 1), repeat=2):
            qi, qj = p[i] + di, p[j] + dj
            if 0 <= qi < allowed.shape[1] and 0 <= qj < allowed.shape[1]:
                if allowed[i, qi] and allowed[j, qj]:
                    vector = p.copy()
                    vector[i], vector[j] = qi, qj
                    pairs.append(vector)

    def improves(vectors: list[np.ndarray]) -> float:
        if not vectors:
            return 0.0
        return float(bool((_variances(scenario, np.array(vectors)) < value - tie).any()))

    return {
        "step_improves": improves(steps),
        "jump_improves": improves(jumps),
        "pair_improves": improves(pairs),
    }


#: The metrics of greedy's end point in the mechanism study.
MECHANISM_METRICS = ("step_improves", "jump_improves", "pair_improves", "devices_differ", "gap_pct")


@yields(lambda point: tidy_shape(point, len(MECHANISM_METRICS)))
def _mechanism_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys = point.scenario(), point.keys()
    found = solve(scenario, objective="variance", start=point.options["start"])
    best = certified_optimum(scenario, "variance", CERTIFY_TIME_LIMIT_S)
    metrics = _improving_moves(scenario, np.array(found.partition))
    metrics["devices_differ"] = float(np.sum(found.partition != best.partition))
    metrics["gap_pct"] = stats.gap_pct(found.value, best.value)
    return metric_rows(keys, "greedy", "variance", metrics)


def greedy_mechanism(
    setup: Setup,
    grid: Grid,
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Why the paper's greedy stops where it does on the variance objective.

    At greedy's end point (from ``experiment.start``) of every (N, seed) of the grid (which
    varies no setup field): ``step_improves`` (0 by construction: it is a one-stage local
    optimum), ``jump_improves`` (1 if moving one device by two or more stages would lower
    the variance), ``pair_improves`` (1 if moving two devices one stage each would),
    ``devices_differ`` (how many devices greedy's answer and the certified optimum place
    differently) and ``gap_pct``.
    """
    chosen = points(
        setup, grid, sweep="greedy_mechanism", varies=(), options={"start": experiment.start}
    )
    rows = run_points(
        _mechanism_point, chosen, desc="greedy's end points", progress=progress, engine=engine
    )
    return tidy(rows)


def delay_curves(
    setup: Setup, devices: int, seed: int, *, experiment: Experiment = DEFAULT_EXPERIMENT
) -> pd.DataFrame:
    """For the scenario of ``(devices, seed, setup)``: each device's delay against its own
    partition point, the other devices held at greedy's (variance) choices, with greedy's
    and the certified optimum's points marked. Delays are not monotone in p: the bytes
    sent jump between layers."""
    scenario = paper_scenario(devices, seed, setup)
    greedy = np.array(
        solve(scenario, objective="variance", start=experiment.start).partition
    )
    best = np.array(certified_optimum(scenario, "variance", CERTIFY_TIME_LIMIT_S).partition)
    rows = []
    for i in range(devices):
        for q in np.flatnonzero(scenario.tables.allowed[i]):
            vector = greedy.copy()
            vector[i] = q
            delay = float(batch_delays(scenario.tables, vector[None, :])[0, i])
            rows.append(
                {
                    "devices": devices,
                    "seed": seed,
                    "device": i,
                    "point": int(q),
                    "delay_s": delay,
                    "greedy": bool(q == greedy[i]),
                    "optimum": bool(q == best[i]),
                }
            )
    return pd.DataFrame(rows)




def mechanism_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per N: the share of greedy's end points where a jump or a pair of moves would lower
    the variance (means of 0/1), and the mean number of devices placed differently."""
    wanted = rows[rows.metric.isin(["jump_improves", "pair_improves", "devices_differ"])]
    return summarise(wanted, ["metric", "devices"], seed=seed)


def mechanism(
    summary: pd.DataFrame, curves: pd.DataFrame, *, caption: Caption | str = ""
) -> Figure:
    """Why greedy stops where it does: at its end points, how often a jump or a pair of
    moves would lower the variance (top left); how many devices greedy and the optimum place
    differently (top right); one case's delay of each device against its point (bottom)."""
    with paper_style():
        fig = plt.figure(figsize=(PANEL[0] * 2, PANEL[1] * 2.3))
        top_left, top_right = fig.add_subplot(2, 2, 1), fig.add_subplot(2, 2, 2)
        bottom = fig.add_subplot(2, 1, 2)
        for metric, label in (
            ("jump_improves", "one device jumps ≥ 2 stages"),
            ("pair_improves", "two devices move one stage each"),
        ):
            part = summary[summary.metric == metric]
            scaled = part.assign(**{c: 100 * part[c] for c in ("mean", "low", "high")})
            band(top_left, scaled["devices"], scaled, label)
        top_left.set(
            xlabel="devices N",
            ylabel="greedy's end points (%)",
            ylim=(0, 100),
            title="A better vector one move away, if...",
        )
        differ = summary[summary.metric == "devices_differ"]
        band(top_right, differ["devices"], differ, "mean over seeds")
        top_right.plot(differ["devices"], differ["devices"], ls=":", color=INK,
                       label="all devices")
        top_right.set(
            xlabel="devices N",
            ylabel="devices placed differently",
            title="Greedy's answer against the optimum",
        )
        for ax in (top_left, top_right):
            ticks(ax, summary["devices"])
        for device, part in curves.groupby("device", sort=True):
            line = bottom.plot(
                part["point"], part["delay_s"], marker=".", label=f"device {device}"
            )
            colour = line[0].get_color()
            chosen = part[part.greedy]
            bottom.scatter(
                chosen["point"], chosen["delay_s"], marker="o", s=80, facecolors="none",
                edgecolors=colour, zorder=3,
            )
            best = part[part.optimum]
            bottom.scatter(best["point"], best["delay_s"], marker="*", s=90, color=colour,
                           zorder=3)
        n, seed = int(curves.devices.iloc[0]), int(curves.seed.iloc[0])
        ticks(bottom, curves["point"])
        bottom.set(
            xlabel="partition point p of the device",
            ylabel="its delay (s), others at greedy's",
            title=f"N = {n}, seed {seed}: ○ greedy, ★ optimum",
        )
        fig.tight_layout()
        return finish_figure(fig, [top_left, top_right, bottom], caption, legend_size=7)


# --- the report's section ------------------------------------------------------------


def _support_of(reading_id: str) -> list[tuple[str, str]]:
    """(part, its support level) of each declared part of a (combined) reading."""
    known = {r.id: r for r in READINGS}
    return [(p, known[p].support.level) for p in reading_id.split("+") if p in known]


def closest_rows(table_: pd.DataFrame) -> pd.DataFrame:
    """Per claim, the closest reading evaluated: least distance, then (a frequency claim)
    the highest share, then the fewest parts, then the id."""
    rows = table_[table_.distance.notna()]
    ranked = rows.assign(
        _share=-rows["overall"].fillna(0.0), _parts=rows.reading.str.count(r"\+")
    ).sort_values(["claim", "distance", "_share", "_parts", "reading"], kind="stable")
    return ranked.groupby("claim", sort=False).head(1).set_index("claim")


def report_section(directory: Path) -> str:
    path = directory / "readings.csv"
    if not path.exists():
        return ""
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    found_path = directory / "readings_found.csv"
    found = pd.read_csv(found_path) if found_path.exists() else pd.DataFrame(
        columns=["claim", "search", "reading"]
    )
    closest = closest_rows(frame)
    rows: list[dict[str, str]] = []
    cited: set[str] = set()
    for claim in CLAIMS:
        if claim.id not in closest.index:
            continue
        mine = frame[frame.claim == claim.id]
        held = mine[mine.verdict == "reproduced"].reading.tolist()
        held_text = ", ".join(
            f"`{r}`" + (" (fit)" if any(s == "chosen by fit" for _, s in _support_of(r)) else "")
            for r in held[:5]
        ) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        best = closest.loc[claim.id]
        cited.update(p for p, _ in _support_of(best.reading))
        rows.append(
            {
                "claim": claim.title,
                "reproduced under": held_text or "none",
                "closest reading": f"`{best.reading}`",
                "its verdict": f"{best.verdict} ({best.get('robust', '') or '—'})",
                "its number": best.ours,
                "support of its parts": "; ".join(f"{p}: {s}" for p, s in _support_of(
                    best.reading)),
            }
        )
    best_fit = _best_fit(frame, found)
    if best_fit:
        cited.update(p for p, _ in _support_of(best_fit["id"]))
    quotes = [
        {"ids": r.id, "side": side, "text": q.text, "where": q.where}
        for r in READINGS
        if r.id in cited
        for side, group in (("for", r.support.for_), ("against", r.support.against))
        for q in group
    ]
    return render("readings", table=table(pd.DataFrame(rows)), best=best_fit, quotes=quotes)


def _best_fit(frame: pd.DataFrame, found: pd.DataFrame) -> dict[str, Any] | None:
    best = found[found.search == "best fit"]
    if best.empty or "default" not in set(frame.reading):
        return None
    best_id = str(best.reading.iloc[0])
    mine = frame[frame.reading == best_id].set_index("claim")
    default = frame[frame.reading == "default"].set_index("claim")

    def counted(rows: pd.DataFrame) -> str:
        counts = rows.verdict.value_counts()
        return ", ".join(f"{int(counts[k])} {k}" for k in LEVELS if k in counts)

    rank = {k: i for i, k in enumerate(LEVELS)}
    worse = []
    for claim in CLAIMS:
        if claim.id in mine.index and claim.id in default.index:
            new, old = mine.loc[claim.id], default.loc[claim.id]
            if rank.get(new.verdict, 9) > rank.get(old.verdict, 9):
                worse.append(f"{claim.title}: {old.verdict} → {new.verdict}")
    return {
        "id": best_id,
        "counts": counted(mine),
        "default": counted(default),
        "support": [f"`{p}` {s}" for p, s in _support_of(best_id)],
        "worse": worse,
    }
