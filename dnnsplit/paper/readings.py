"""The readings study: every claim of the paper under every reading of what it leaves open.

A reading (:data:`~dnnsplit.paper.claims.READINGS`) overrides some of the setup, with the
paper's words that support it, or none (chosen by fit). Under each reading this module runs
the sweeps the claims read (Fig. 3 against N at R = 1, Fig. 3C against R, Fig. 5), writes
the figures' tables into a folder of its own and judges every claim
(:func:`dnnsplit.paper.verdicts.judge`). Beside them, the mechanism
(:func:`greedy_mechanism`, :func:`delay_curves`): why greedy stops where it does.

A **combination** holds at most one reading per coordinate (the choice a reading answers);
its id joins its parts' ids with ``+`` in the declared order. **The searches**, documented so
that no combination is chosen by hand:

1. every declared reading is evaluated; a claim's *distance* under it is
   :attr:`~dnnsplit.paper.verdicts.Verdict.distance` (0 when every point holds);
2. **per claim** (:func:`closest`): a coordinate search over the coordinates that change
   the figures the claim reads, from the reading closest to the claim. Each pass tries,
   coordinate by coordinate in the declared order, every other answer to that coordinate
   (and none), and moves to the first combination that brings the claim closer; it stops
   at a pass without a move or after ``steps`` evaluations, and reports the closest
   combination evaluated. Only the sweeps the claim reads are run. A frequency claim
   (greedy finds the optimum) is ranked by its distance, then by the share of cases;
3. **the best-fitting combination**: the same search on the sum of the distances of all
   claims, from ``default``.

Every combination a search evaluates stays in the results, so each search's path can be
followed; the report marks the best fit as chosen by fit, with the support of its parts.
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
from typing import Any, NamedTuple

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
from dnnsplit.paper.claims import CLAIMS, LEVELS, READINGS, SUPPORT_LEVELS, Claim, Reading, Support
from dnnsplit.paper.engine import Engine, Shape, package_fingerprint, point_key, yields
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.experiment import EXPERIMENT_FIELDS, Experiment
from dnnsplit.paper.output import write_table
from dnnsplit.paper.plots import INK, PANEL, band, finish_figure, paper_style, ticks
from dnnsplit.paper.sweeps import CERTIFY_TIME_LIMIT_S, DEFAULT_EXPERIMENT, Point
from dnnsplit.paper.text import render, table
from dnnsplit.paper.verdicts import Folder, MissingInput, judge
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import RELATIVE_TOLERANCE, solve

__all__ = [
    "STUDIED", "Study", "StudyGrids", "closest", "closest_rows", "combine",
    "delay_curves", "evaluate", "gathered", "greedy_mechanism", "kinds_of", "map_rows",
    "mechanism", "mechanism_summary", "parts_of", "report_section", "setups", "study",
]


class SweepKind(NamedTuple):
    """A kind of sweep behind the claims (a key of :class:`StudyGrids`): the figure whose
    setup a reading changes it through (``fig3``, ``fig5``), its points and objectives, its
    row function (what its points' cache keys name) and solves, and the figure's row tables
    that the claims read, by file stem: the rows each selects (without the summaries, a
    bootstrap each; a test holds them equal to the figure's)."""

    figure: str
    points: Callable[..., list[Point]]
    objectives: tuple[str, ...]
    rows: Callable[[Point], list[dict[str, Any]]]
    solved: sweeps.Solved
    tables: dict[str, dict[str, str]]


SWEEPS = {
    "by_devices": SweepKind(
        "fig3", fig3.improvement_points, ("total", "variance"), fig3.improvement_rows,
        fig3.IMPROVEMENT, {
            "fig3a": {"objective": "variance"},
            "fig3b": {"objective": "total"},
            "fig3_local_share": {"metric": "local_share"},
        },
    ),
    "by_ratio": SweepKind(
        "fig3", fig3.improvement_points, ("variance",), fig3.improvement_rows,
        fig3.IMPROVEMENT, {"fig3c": {}},
    ),
    "fig5": SweepKind(
        "fig5", fig5.optimum_points, ("variance",), fig5.optimum_rows, fig5.OPTIMUM, {"fig5": {}}
    ),
}
#: Which sweep writes each CSV a claim may read.
KINDS_OF_CSV = {stem: kind for kind, of in SWEEPS.items() for stem in of.tables}
#: The claims a reading answers: those whose every CSV a sweep here writes (the networks
#: claim reads every network at once, so the networks notebook answers it).
STUDIED = tuple(c for c in CLAIMS if all(csv in KINDS_OF_CSV for csv in c.csvs))
#: A distance this much smaller counts as closer (below it: a tie).
CLOSER = 1e-12
#: The columns of a search's trace: each step's combination, its distance, the best before.
_TRACE = ["search", "step", "combination", "distance", "best_before", "kept"]


class StudyGrids(dict[str, sweeps.Grid]):
    """The grid of each kind of sweep behind the claims: ``by_devices`` (Fig. 3 (A), (B) and
    the local share: N at the setup's R, both policies, both objectives), ``by_ratio``
    (Fig. 3 (C): R for every N, the variance) and ``fig5`` (N and seeds, greedy against the
    certified optimum)."""

    @classmethod
    def paper(cls, *, seeds: Sequence[int] = tuple(range(10)), quick: bool = False) -> StudyGrids:
        """The grids of the paper's figures (Fig. 3 at R = the setup's, Fig. 5 at N = 3..10
        by the certifying solver); ``quick``: a smoke grid."""
        devices, shrunk = (10, 20, 30, 40, 50), {"devices": 2, "seeds": 2}
        ratios = {"ratio": (1, 5, 10, 50, 100, 500, 1000)}
        return cls(
            by_devices=sweeps.Grid(devices, seeds, {"policy": ("sjf", "rr")}).shrunk(
                quick, **shrunk),
            by_ratio=sweeps.Grid(devices, seeds, ratios).shrunk(quick, **shrunk, ratio=3),
            fig5=sweeps.Grid(tuple(range(3, 11)), seeds).shrunk(quick, **shrunk),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a manifest."""
        return {name: grid.to_dict() for name, grid in self.items()}


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


def setups(base: Setup, reading: Reading) -> dict[str, tuple[Setup, Experiment]]:
    """The setup and experiment of each figure under ``reading``: ``fig3`` and ``fig5``."""
    shared = apply(base, Experiment(), reading.changes)
    return {fig: apply(*shared, getattr(reading, f"{fig}_changes")) for fig in ("fig3", "fig5")}


def combine(parts: Sequence[Reading]) -> Reading:
    """One reading made of several, at most one per coordinate (a ``ValueError`` names a
    coordinate given twice); its parts go in the declared order of :data:`READINGS`. It is
    as supported as its least supported part, and keeps every quote."""
    order = {r.id: k for k, r in enumerate(READINGS)}
    parts = sorted(parts, key=lambda r: order.get(r.id, len(order)))
    coordinates = [p.coordinate for p in parts]
    twice = sorted({c for c in coordinates if coordinates.count(c) > 1})
    if twice:
        raise ValueError(f"a combination answers coordinate(s) {', '.join(twice)} twice")
    if len(parts) == 1:
        return parts[0]
    levels = {p.support.level for p in parts}
    return Reading(
        id="+".join(p.id for p in parts),
        title="; ".join(p.title for p in parts),
        **{
            name: MappingProxyType({k: v for p in parts for k, v in getattr(p, name).items()})
            for name in ("changes", "fig3_changes", "fig5_changes")
        },
        coordinate="+".join(coordinates),
        support=Support(
            next((level for level in SUPPORT_LEVELS[2::-1] if level in levels), "default"),
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


def _points(base: Setup, reading: Reading, grids: StudyGrids, kind: str) -> list[Point]:
    of = SWEEPS[kind]
    setup, experiment = setups(base, reading)[of.figure]
    return of.points(setup, grids[kind], objectives=of.objectives, experiment=experiment)


def _row_tables(kind: str, rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The tables of a kind of sweep that the claims read, by file stem, from its rows."""
    return {stem: stats.where(rows, **where) for stem, where in SWEEPS[kind].tables.items()}


def _covers(claim: Claim, grids: StudyGrids) -> str:
    """Which N (or R) a claim's row covers, as text."""
    kinds = kinds_of(claim)
    grid = grids[kinds[0] if len(kinds) == 1 else "by_devices"]
    span = f"N = {min(grid.devices)}–{max(grid.devices)}"
    if kinds != ("by_ratio",):
        return span
    ratios = grid.vary["ratio"]
    n = f"N = {grid.devices[0]}" if "devices" in claim.reads[0].rows else span
    return f"{n}, R = {ratios[0]:g}–{ratios[-1]:g}"


def evaluate(
    base: Setup,
    readings: Sequence[Reading],
    grids: StudyGrids,
    folder: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = tuple(SWEEPS),
    engine: Engine | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """The claims under each reading, from the sweeps of ``kinds``: the rows of
    ``readings.csv``, one per (claim, reading) answered (a claim is answered when every
    sweep it reads is among ``kinds``): its verdict and the numbers behind it
    (:data:`VERDICT_COLUMNS`), ``covers`` (the N it covers), the reading's ``changes`` as
    JSON, its ``support`` and whether the text supports every part of it (``supported``).

    Each reading's tables are under ``folder/<reading id>/`` when it returns. Nothing is
    done twice: a sweep's tables under a reading are keyed by its points' cache keys and
    the package's source (a folder whose stamp names the key and its files' checksums is
    left as it is), a claim's verdict by the tables it reads (the engine's cache keeps it),
    and each solve (:func:`~dnnsplit.paper.sweeps.run_solved`) is computed once.
    """
    engine = engine or current_engine()
    folder = Path(folder)
    memo: dict[str, str | None] = {}
    plan = {(r.id, kind): _points(base, r, grids, kind) for r in readings for kind in kinds}
    # a kind's tables under a reading depend on its points' cache keys (the setup, the
    # profiles, the code that computes rows) and the package's source (the tables' code)
    tables = {
        pair: _digest(pair[1], [point_key(SWEEPS[pair[1]].rows, p, memo=memo) for p in chosen],
                      package_fingerprint())
        for pair, chosen in plan.items()
    }
    # only the claims whose sweeps this call runs: a file left in the folder by an earlier
    # run (another kind, another version) must neither answer a claim nor change which
    # combinations a search counts as new
    answered = [c for c in STUDIED if set(kinds_of(c)) <= set(kinds)]
    keys = {  # a verdict depends on the tables it reads (they key the package's source too)
        (r.id, c.id): _digest(c.id, [tables[(r.id, kind)] for kind in kinds_of(c)])
        for r in readings
        for c in answered
    }
    recalled = engine.recall(list(dict.fromkeys(keys.values())), VERDICT_SHAPE,
                             desc="readings' verdicts")
    known = {key: rows[0] for key, rows in recalled.items()}
    stale = [pair for pair in plan if not _holds(folder / pair[0], pair[1], tables[pair])]
    needed: dict[str, tuple[str, str]] = {}  # a table key: its first (reading, kind)
    for pair in stale:
        needed.setdefault(tables[pair], pair)
    work = [(SWEEPS[pair[1]].solved, point) for pair in needed.values() for point in plan[pair]]
    solved = iter(
        sweeps.run_solved(work, desc="readings: Figs. 3 and 5", progress=progress, engine=engine)
    )
    made = {}
    for key, (rid, kind) in needed.items():
        rows = [row for _ in plan[(rid, kind)] for row in next(solved)]
        made[key] = _row_tables(kind, sweeps.tidy(rows))
    for rid, kind in stale:
        _write_tables(folder / rid, kind, tables[(rid, kind)], made[tables[(rid, kind)]])
    fresh = []
    for reading in readings:
        place = Folder(folder / reading.id)  # reads each of its CSVs once
        for claim in answered:
            if (key := keys[(reading.id, claim.id)]) not in known:
                known[key] = _judged(claim, place)
                fresh.append((key, [known[key]]))
    engine.remember(fresh)
    return pd.DataFrame(
        [_row(claim, reading, known[keys[(reading.id, claim.id)]], grids)
         for reading in readings for claim in answered],
        columns=_COLUMNS,
    )


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()


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


#: The numeric columns of ``readings.csv`` (a verdict fills those of its kind; NaN else).
NUMBER_COLUMNS = ("points", "holding", "low", "high", "slope", "overall", "tolerance")
#: The columns of a verdict's robustness in ``readings.csv``.
ROBUST_COLUMNS = (
    "robust", "median_verdict", "tolerance_0_verdict", "tolerance_x2_verdict", "resamples_other"
)
#: What a claim's verdict gives its rows of ``readings.csv`` (what the cache keeps).
VERDICT_COLUMNS = ("verdict", "ours", "distance", *NUMBER_COLUMNS, *ROBUST_COLUMNS)
_COLUMNS = ["claim", "reading", *VERDICT_COLUMNS[:3], "covers", *NUMBER_COLUMNS,
            *ROBUST_COLUMNS, "changes", "supported", "support"]
_TEXT = ("verdict", "ours", *ROBUST_COLUMNS[:-1])
#: A cached verdict is one row of :data:`VERDICT_COLUMNS`: texts and numbers.
VERDICT_SHAPE: Shape = (1, {c: (str,) if c in _TEXT else (float, int) for c in VERDICT_COLUMNS})


def _judged(claim: Claim, place: Folder) -> dict[str, Any]:
    """The verdict on ``claim`` from the tables in ``place``, as :data:`VERDICT_COLUMNS`
    (its robustness: :func:`dnnsplit.paper.verdicts.robustness`)."""
    judged = {"verdict": "not evaluated", "ours": "", "distance": math.nan,
              **dict.fromkeys(NUMBER_COLUMNS, math.nan), **dict.fromkeys(ROBUST_COLUMNS, ""),
              "resamples_other": math.nan}
    try:
        verdict = judge(claim, place)
    except MissingInput:
        return judged
    judged.update(verdict=verdict.verdict, ours=verdict.ours, distance=verdict.distance)
    judged.update({c: verdict.numbers[c] for c in NUMBER_COLUMNS if c in verdict.numbers})
    if (found := verdict.robustness) is not None:
        judged.update(
            robust="robust" if found.robust else "fragile",
            median_verdict=found.median,
            tolerance_0_verdict=found.tolerance_zero,
            tolerance_x2_verdict=found.tolerance_double,
            resamples_other=found.other_share,
        )
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in judged.items()}


def _row(
    claim: Claim, reading: Reading, judged: Mapping[str, Any], grids: StudyGrids
) -> dict[str, Any]:
    changes = dict(reading.changes) | {
        f"{fig}.{k}": v
        for fig in ("fig3", "fig5") for k, v in getattr(reading, f"{fig}_changes").items()
    }
    parts = parts_of(reading.id, [*READINGS, reading])
    return {
        **{column: judged[column] for column in VERDICT_COLUMNS},
        "claim": claim.id,
        "reading": reading.id,
        "covers": _covers(claim, grids),
        # a channel's constants are a mapping (JSON: an object)
        "changes": json.dumps(changes, sort_keys=True, default=dict),
        "supported": all(p.supported for p in parts if p.id != "default"),
        "support": reading.support.text(),
    }


def gathered(
    folder: str | os.PathLike[str], chosen: Sequence[Reading], stem: str, **where: Any
) -> pd.DataFrame:
    """The rows of ``stem.csv`` that :func:`evaluate` wrote for every reading in ``chosen``
    (those whose columns equal ``where``), with a ``network`` column naming the reading:
    the claims about every network at once read it (``networks_fig3a.csv``)."""
    return pd.concat(
        [stats.where(pd.read_csv(Path(folder) / r.id / f"{stem}.csv"), **where).assign(
            network=r.id) for r in chosen],
        ignore_index=True,
    )


# --- the searches ---------------------------------------------------------------------------


@dataclass
class Study:
    """A readings study so far: every (claim, reading) answered (``table``, the rows of
    :func:`evaluate`), every step of every search (``trace``), and what answers more (the
    readings a combination may be made of: ``declared``)."""

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
        rows = evaluate(self.base, [reading], self.grids, self.folder, kinds=kinds,
                        engine=self.engine, progress=self.progress)
        rest = self.table[self.table.reading != reading.id]
        self.table = pd.concat([rest, rows], ignore_index=True)

    def distance(self, reading_id: str, claims: Sequence[Claim]) -> tuple[float, float]:
        """The sum of the claims' distances under a reading, and minus the share of
        frequency claims (the tie-break that prefers a higher share)."""
        rows = self.table[self.table.reading == reading_id]
        rows = rows[rows.claim.isin([c.id for c in claims])]
        return float(rows.distance.fillna(np.inf).sum()), -float(rows.overall.fillna(0.0).sum())


def _search(
    study: Study, claims: Sequence[Claim], start: list[Reading], steps: int, label: str
) -> str:
    """The module docstring's coordinate search on ``claims``' distances from ``start``:
    the id of the combination it ends at."""
    figures = {SWEEPS[k].figure for c in claims for k in kinds_of(c)}
    coordinates: dict[str, list[Reading]] = {}  # those that change one of ``figures``
    for r in study.declared:
        if r.id != "default" and figures & set(r.figures):
            coordinates.setdefault(r.coordinate, []).append(r)
    default = next(r for r in study.declared if r.id == "default")

    def reading_of(parts: list[Reading]) -> Reading:
        return combine(parts) if parts else default

    current = list(start)
    study.ensure(reading_of(current), claims)
    best = study.distance(reading_of(current).id, claims)
    spent, moved = 0, best[0] > 0  # nothing to gain where every point already holds
    while moved and spent < steps:
        moved = False
        # this pass's candidates: each coordinate in turn, at every other answer and at none
        candidates = (
            [p for p in current if p.coordinate != coordinate] + option
            for coordinate, answers in coordinates.items()
            for option in [[a] for a in answers if a not in current]
            + ([[]] if any(p.coordinate == coordinate for p in current) else [])
        )
        for candidate in candidates:
            if spent >= steps:
                break
            reading = reading_of(candidate)
            spent += not study.answered(reading.id, claims)
            study.ensure(reading, claims)
            value = study.distance(reading.id, claims)
            closer = value[0] < best[0] - CLOSER or (
                abs(value[0] - best[0]) <= CLOSER and value[1] < best[1] - CLOSER
            )
            step = sum(t["search"] == label for t in study.trace) + 1
            study.trace.append(
                dict(zip(_TRACE, (label, step, reading.id, value[0], best[0], closer), strict=True))
            )
            if closer:
                current, best, moved = candidate, value, True
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
    return _closest_evaluated(study, claim.id, found)


def _closest_evaluated(study: Study, claim_id: str, found: str) -> str:
    """The closest of every reading evaluated for a claim (the search's end ``found``, or
    one it passed that another search evaluated)."""
    return str(closest_rows(study.table[study.table.claim == claim_id], found).reading.iloc[0])


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
    """Every claim under every reading, then the searches of the module docstring, each
    evaluating at most ``steps`` combinations anew (0: no search).

    Returns
    -------
    table : pandas.DataFrame
        One row per (claim, reading) answered (:func:`evaluate`), among them every
        combination a search ends at, for every claim.
    trace : pandas.DataFrame
        One row per step of each search.
    found : pandas.DataFrame
        One row per claim: the ``closest`` combination; and ``claim = "*"``: the ``best fit``.
    """
    declared = tuple(readings)
    table_ = evaluate(base, declared, grids, folder, engine=engine, progress=progress)
    state = Study(base, grids, Path(folder), declared, table_, [], engine, progress)
    found = []
    if steps > 0 and any(r.id == "default" for r in declared):
        answered = set(state.table[state.table.distance.notna()].claim)
        found = [  # a claim not answered has its points outside the grid (a quick run)
            {"claim": c.id, "search": "closest", "reading": closest(state, c, steps=steps)}
            for c in STUDIED if c.id in answered
        ]
        best_fit = _search(state, STUDIED, [], steps, "best fit")  # the docstring's step 3
        found.append({"claim": "*", "search": "best fit", "reading": best_fit})
        for row in found:
            state.ensure(combine(parts_of(row["reading"], declared)), STUDIED)
        # a later search may have evaluated, for an earlier claim, a combination closer
        # than the one its own search ended at: name the closest of everything evaluated
        for row in found[:-1]:
            row["reading"] = _closest_evaluated(state, row["claim"], row["reading"])
    found_ = pd.DataFrame(found, columns=["claim", "search", "reading"])
    return state.table, pd.DataFrame(state.trace, columns=_TRACE), found_


def map_rows(table: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    """The rows of the verdict map, in order: every declared reading answered for every
    claim, then each combination a search ended at (the closest per claim, the best fit).
    The combinations a search passed through stay in ``readings.csv`` only."""
    complete = table.groupby("reading", sort=False).claim.nunique() == len(STUDIED)
    singles = [r for r in dict.fromkeys(table.reading) if "+" not in r and complete.get(r)]
    ends = [r for r in dict.fromkeys(found.reading) if "+" in r and complete.get(r)]
    return singles + ends


# --- the mechanism: why greedy stops where it does -----------------------------------


def _improving_moves(scenario: Scenario, p: np.ndarray) -> dict[str, float]:
    """At ``p``: does some one-stage move, some jump of one device by two or more stages,
    or some pair of one-stage moves of two devices lower the variance (beyond ties)?"""
    allowed = scenario.tables.allowed
    value = float(batch_delays(scenario.tables, p[None, :]).var(axis=-1)[0])
    tie = RELATIVE_TOLERANCE * max(abs(value), NEAR_ZERO)
    moves: dict[str, list[np.ndarray]] = {"step": [], "jump": [], "pair": []}

    def moved(devices: list[int], to: list[Any]) -> np.ndarray:
        vector = p.copy()
        vector[devices] = to
        return vector

    for i in range(scenario.n_devices):
        for q in np.flatnonzero(allowed[i]):
            if q != p[i]:
                moves["step" if abs(q - p[i]) == 1 else "jump"].append(moved([i], [q]))
    for i, j in itertools.combinations(range(scenario.n_devices), 2):
        for qi, qj in itertools.product((p[i] - 1, p[i] + 1), (p[j] - 1, p[j] + 1)):
            inside = 0 <= qi < allowed.shape[1] and 0 <= qj < allowed.shape[1]
            if inside and allowed[i, qi] and allowed[j, qj]:
                moves["pair"].append(moved([i, j], [qi, qj]))
    return {
        f"{name}_improves": float(bool(vectors) and bool(
            (batch_delays(scenario.tables, np.array(vectors)).var(axis=-1) < value - tie).any()))
        for name, vectors in moves.items()
    }


#: The metrics of greedy's end point in the mechanism study.
MECHANISM_METRICS = ("step_improves", "jump_improves", "pair_improves", "devices_differ", "gap_pct")


@yields(lambda point: sweeps.tidy_shape(point, len(MECHANISM_METRICS)))
def _mechanism_point(point: Point) -> list[dict[str, Any]]:
    scenario, keys = point.scenario(), point.keys()
    found = solve(scenario, objective="variance", start=point.options["start"])
    best = sweeps.certified_optimum(scenario, "variance", CERTIFY_TIME_LIMIT_S)
    metrics = _improving_moves(scenario, np.array(found.partition))
    metrics["devices_differ"] = float(np.sum(found.partition != best.partition))
    metrics["gap_pct"] = stats.gap_pct(found.value, best.value)
    return sweeps.metric_rows(keys, "greedy", "variance", metrics)


def greedy_mechanism(
    setup: Setup,
    grid: sweeps.Grid,
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
    chosen = sweeps.points(
        setup, grid, sweep="greedy_mechanism", varies=(), options={"start": experiment.start}
    )
    return sweeps.tidy(sweeps.run_points(_mechanism_point, chosen, desc="greedy's end points",
                                         progress=progress, engine=engine))


def delay_curves(
    setup: Setup, devices: int, seed: int, *, experiment: Experiment = DEFAULT_EXPERIMENT
) -> pd.DataFrame:
    """For the scenario of ``(devices, seed, setup)``: each device's delay against its own
    partition point, the other devices held at greedy's (variance) choices, with greedy's
    and the certified optimum's points marked. Delays are not monotone in p: the bytes
    sent jump between layers."""
    scenario = paper_scenario(devices, seed, setup)
    greedy = np.array(solve(scenario, objective="variance", start=experiment.start).partition)
    best = np.array(sweeps.certified_optimum(scenario, "variance", CERTIFY_TIME_LIMIT_S).partition)
    device, point = np.nonzero(scenario.tables.allowed)  # each case: one device moved
    case = np.arange(len(device))
    vectors = np.repeat(greedy[None, :], len(case), axis=0)
    vectors[case, device] = point
    return pd.DataFrame({
        "devices": devices, "seed": seed, "device": device, "point": point,
        "delay_s": batch_delays(scenario.tables, vectors)[case, device],
        "greedy": point == greedy[device], "optimum": point == best[device],
    })


def mechanism_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per N: the share of greedy's end points where a jump or a pair of moves would lower
    the variance (means of 0/1), and the mean number of devices placed differently."""
    wanted = rows[rows.metric.isin(["jump_improves", "pair_improves", "devices_differ"])]
    return stats.summarise(wanted, ["metric", "devices"], seed=seed)


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
        top_left.set(xlabel="devices N", ylabel="greedy's end points (%)", ylim=(0, 100),
                     title="A better vector one move away, if...")
        differ = summary[summary.metric == "devices_differ"]
        band(top_right, differ["devices"], differ, "mean over seeds")
        top_right.plot(differ["devices"], differ["devices"], ls=":", color=INK,
                       label="all devices")
        top_right.set(xlabel="devices N", ylabel="devices placed differently",
                      title="Greedy's answer against the optimum")
        for ax in (top_left, top_right):
            ticks(ax, summary["devices"])
        for device, part in curves.groupby("device", sort=True):
            line = bottom.plot(part["point"], part["delay_s"], marker=".", label=f"device {device}")
            colour, chosen, best = line[0].get_color(), part[part.greedy], part[part.optimum]
            bottom.scatter(chosen["point"], chosen["delay_s"], marker="o", s=80,
                           facecolors="none", edgecolors=colour, zorder=3)
            bottom.scatter(best["point"], best["delay_s"], marker="*", s=90, color=colour,
                           zorder=3)
        n, seed = int(curves.devices.iloc[0]), int(curves.seed.iloc[0])
        ticks(bottom, curves["point"])
        bottom.set(xlabel="partition point p of the device",
                   ylabel="its delay (s), others at greedy's",
                   title=f"N = {n}, seed {seed}: ○ greedy, ★ optimum")
        fig.tight_layout()
        return finish_figure(fig, [top_left, top_right, bottom], caption, legend_size=7)


# --- the report's section ------------------------------------------------------------


def _support_of(reading_id: str) -> list[tuple[str, str]]:
    """(part, its support level) of each declared part of a (combined) reading."""
    known = {r.id: r for r in READINGS}
    return [(p, known[p].support.level) for p in reading_id.split("+") if p in known]


def closest_rows(table_: pd.DataFrame, found: str | None = None) -> pd.DataFrame:
    """Per claim, the closest reading evaluated: least distance, then (a frequency claim)
    the highest share, then the fewest parts, then ``found`` (a search's end), then the id."""
    rows = table_[table_.distance.notna()]
    ranked = rows.assign(
        _share=-rows["overall"].fillna(0.0), _parts=rows.reading.str.count(r"\+"),
        _other=rows.reading != found,
    ).sort_values(["claim", "distance", "_share", "_parts", "_other", "reading"], kind="stable")
    return ranked.groupby("claim", sort=False).head(1).set_index("claim")


def report_section(directory: Path) -> str:
    """The report's section on the readings (empty without ``readings.csv``)."""
    path = directory / "readings.csv"
    if not path.exists():
        return ""
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    found_path = directory / "readings_found.csv"
    best_fit = _best_fit(frame, pd.read_csv(found_path)) if found_path.exists() else None
    closest = closest_rows(frame)
    rows: list[dict[str, str]] = []
    cited = {p for p, _ in _support_of(best_fit["id"])} if best_fit else set()
    for claim in (c for c in CLAIMS if c.id in closest.index):
        held = frame[(frame.claim == claim.id) & (frame.verdict == "reproduced")].reading.tolist()
        held_text = ", ".join(
            f"`{r}`" + (" (fit)" if any(s == "chosen by fit" for _, s in _support_of(r)) else "")
            for r in held[:5]
        ) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        best = closest.loc[claim.id]
        cited.update(p for p, _ in _support_of(best.reading))
        rows.append({
            "claim": claim.title,
            "reproduced under": held_text or "none",
            "closest reading": f"`{best.reading}`",
            "its verdict": f"{best.verdict} ({best.get('robust', '') or '—'})",
            "its number": best.ours,
            "support of its parts": "; ".join(f"{p}: {s}" for p, s in _support_of(best.reading)),
        })
    quoted = [r for r in READINGS if r.id in cited and (r.support.for_ or r.support.against)]
    return render("readings", table=table(pd.DataFrame(rows)), best=best_fit, quoted=quoted)


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
    both = [(c, mine.loc[c.id].verdict, default.loc[c.id].verdict) for c in CLAIMS
            if c.id in mine.index and c.id in default.index]
    return {
        "id": best_id,
        "counts": counted(mine),
        "default": counted(default),
        "support": [f"`{p}` {s}" for p, s in _support_of(best_id)],
        "worse": [f"{c.title}: {old} → {new}" for c, new, old in both
                  if rank.get(new, 9) > rank.get(old, 9)],
    }
