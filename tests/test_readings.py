"""The readings study: every override reaches the scenario it claims to change, the search
follows its documented rule, and the verdict map gets what it draws."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from dnnsplit import Scenario, Setup, paper_scenario
from dnnsplit.paper import claims, fig3, fig5, readings, stats
from dnnsplit.paper.claims import READINGS, Reading
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.experiment import Experiment

REQUIRED = {
    "default", "baseline-max-local", "pmin-1", "start-ones", "start-local", "background-0-0",
    "background-0-1", "background-1-3", "background-0-5", "local-exact", "quantum-1ms",
    "quantum-100ms", "bs-quantum-1ms", "bs-quantum-100ms", "bs-quantum-1s",
    "profile-alexnet11", "profile-measured", "uplink-x0.2", "uplink-x0.1", "fig5-r10",
    "fig5-r1000", "fig5-rr", "fig5-ps",
    # Fig. 5's own start and lowest point (the paper does not say they are Fig. 3's)
    "fig5-pmin-1", "fig5-start-ones", "fig5-start-local",
}


def test_the_required_readings_are_declared_once():
    ids = [r.id for r in READINGS]
    assert len(ids) == len(set(ids)) and REQUIRED <= set(ids)
    assert all(r.coordinate for r in READINGS if r.id != "default")


def test_every_reading_says_what_supports_it_on_three_levels():
    for r in READINGS:
        assert r.support.level in claims.SUPPORT_LEVELS
        assert r.supported == (r.support.level != "chosen by fit")
        if r.support.level == "compatible":  # the words allow it, others pull against it
            assert (r.support.for_ or r.support.note) and (
                r.support.against or r.support.note
            )
        if r.support.level == "stated":
            assert r.support.for_
        for quote in (*r.support.for_, *r.support.against):
            assert quote.text and quote.where
    levels = {r.id: r.support.level for r in READINGS}
    # greedy's p = 1 start is one of the paper's two examples; the max-local baseline
    # resolves a tension between two of its sentences; a background range is ours
    assert levels["start-ones"] == levels["fig5-start-ones"] == "stated"
    assert levels["baseline-max-local"] == levels["pmin-1"] == "compatible"
    assert levels["background-0-1"] == levels["quantum-1ms"] == "chosen by fit"
    assert levels["background-0-0"] == "chosen by fit" and claims.reading(
        "background-0-0").support.against


def test_fig3_and_fig5_have_separate_coordinates_for_start_lowest_point_and_r():
    by_coordinate: dict[str, set[str]] = {}
    for r in READINGS:
        by_coordinate.setdefault(r.coordinate, set()).update(r.figures)
    for of_fig3, of_fig5 in (("start", "fig5_start"), ("lowest_point", "fig5_lowest_point")):
        assert by_coordinate[of_fig3] == {"fig3"} and by_coordinate[of_fig5] == {"fig5"}
    assert by_coordinate["fig5_ratio"] == {"fig5"}


def _drawn(reading: Reading) -> tuple[Setup, Experiment, Scenario, Scenario]:
    chosen = readings.setups(Setup(), reading)
    (setup, experiment), (five, _) = chosen["fig3"], chosen["fig5"]
    return setup, experiment, paper_scenario(8, 3, setup), paper_scenario(8, 3, five)


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: r.id)
def test_each_override_reaches_the_scenario_it_claims_to_change(reading):
    base = paper_scenario(8, 3)
    setup, experiment, scenario, fig5 = _drawn(reading)
    for field, value in {**reading.changes, **reading.fig3_changes}.items():
        if field == "channel":
            factor = value["mac_efficiency"] / Setup().channel.mac_efficiency
            ratio = [
                a.rate_bps / b.rate_bps for a, b in zip(scenario.devices, base.devices, strict=True)
            ]
            assert ratio == pytest.approx([factor] * 8)
        elif field == "lowest_point":
            assert scenario.min_stage.tolist() == [value] * 8
        elif field == "background":
            assert {d.background for d in scenario.devices} <= set(range(value[0], value[1] + 1))
        elif field == "local_delay":
            assert scenario.local_delay == value
        elif field == "quantum_s":
            assert {d.quantum_s for d in scenario.devices} == {value}
        elif field == "bs_quantum_s":
            assert scenario.bs_quantum_s == value
        elif field == "profile":
            assert scenario.profile_ref == value
        elif field == "memory_mib":
            assert scenario.meta["setup"]["memory_mib"] == list(value)
        else:  # knobs of the experiment, not of the scenario
            assert field in ("baseline", "start") and getattr(experiment, field) == value
    for field, value in reading.fig5_changes.items():
        five = readings.setups(Setup(), reading)["fig5"]
        owner = 1 if field in ("start", "restarts", "baseline") else 0
        assert getattr(five[owner], field) == value
        fig3 = (setup, experiment)[owner]
        assert getattr(fig3, field) == getattr((Setup(), Experiment())[owner], field)
        if field == "lowest_point":
            assert fig5.min_stage.tolist() == [value] * 8
    if not reading.changes and not reading.fig3_changes:
        assert scenario.to_dict() == base.to_dict()


def test_a_combination_merges_its_parts_in_the_declared_order():
    parts = [
        claims.reading("fig5-rr"),
        claims.reading("background-0-0"),
        claims.reading("baseline-max-local"),
    ]
    both = readings.combine(parts)
    assert both.id == "baseline-max-local+background-0-0+fig5-rr"
    assert dict(both.changes) == {"background": (0, 0)}
    assert dict(both.fig3_changes) == {"baseline": "max-local"}
    assert dict(both.fig5_changes) == {"policy": "rr"}
    # a combination is as supported as its least supported part, and keeps every quote
    assert both.support.level == "chosen by fit"
    ordered = readings.parts_of(both.id)
    assert both.support.against == tuple(q for p in ordered for q in p.support.against)
    with pytest.raises(ValueError, match="coordinate"):
        readings.combine([claims.reading("start-ones"), claims.reading("start-local")])


class FakeStudy(readings.Study):
    """A study whose sweeps are a formula: each declared reading adds its own distance to
    each claim, so the best combination is known."""

    def __init__(self, declared, effects):
        super().__init__(Setup(), None, None, tuple(declared), pd.DataFrame(
            columns=["claim", "reading", "distance", "overall"]), [], None, False)
        self.effects = effects
        self.evaluated = []

    def ensure(self, reading, claims_):
        if self.answered(reading.id, claims_):
            return
        self.evaluated.append(reading.id)
        parts = reading.id.split("+")
        rows = [
            {"claim": c.id, "reading": reading.id,
             "distance": max(0.0, 3.0 + sum(self.effects.get((p, c.id), 0.0) for p in parts)),
             "overall": np.nan}
            for c in claims.CLAIMS
        ]
        self.table = pd.concat([self.table, pd.DataFrame(rows)], ignore_index=True)


def test_the_per_claim_search_moves_coordinate_by_coordinate_to_a_fixpoint():
    declared = [
        Reading("default", "", coordinate=""),
        Reading("a1", "", fig5_changes=claims._m(ratio=10.0), coordinate="a"),
        Reading("a2", "", fig5_changes=claims._m(ratio=1000.0), coordinate="a"),
        Reading("b1", "", fig5_changes=claims._m(start="ones"), coordinate="b"),
        Reading("c1", "", changes=claims._m(quantum_s=0.1), coordinate="c"),
    ]
    target = "fig5-greedy-finds-optimum"
    # a1 helps alone, a2 helps more, b1 helps only a little, c1 hurts
    effects = {("a1", target): -1.0, ("a2", target): -1.5, ("b1", target): -0.5,
               ("c1", target): 1.0}
    study = FakeStudy(declared, effects)
    for r in declared:
        study.ensure(r, claims.CLAIMS)
    found = readings.closest(study, claims.claim(target), steps=20)
    assert found == "a2+b1"  # every coordinate at its best answer; c1 left out
    trace = pd.DataFrame(study.trace)
    assert trace.kept.sum() >= 1 and (trace.search == f"closest: {target}").all()
    # a claim already at distance 0 is not searched
    zero = FakeStudy(declared, {(r.id, target): -3.0 for r in declared[1:]})
    for r in declared:
        zero.ensure(r, claims.CLAIMS)
    before = len(zero.evaluated)
    assert readings.closest(zero, claims.claim(target), steps=20) == "a1"
    assert len(zero.evaluated) == before


def test_a_search_spends_at_most_its_steps():
    declared = [Reading("default", "")] + [
        Reading(f"r{k}", "", fig5_changes=claims._m(ratio=float(k + 2)), coordinate=f"c{k}")
        for k in range(6)
    ]
    target = "fig5-greedy-gap"
    study = FakeStudy(declared, {(f"r{k}", target): -0.4 for k in range(6)})
    for r in declared:
        study.ensure(r, claims.CLAIMS)
    before = len(study.evaluated)
    readings.closest(study, claims.claim(target), steps=3)
    assert len(study.evaluated) - before <= 3


def test_a_quick_study_answers_every_claim_under_every_reading(tmp_path):
    chosen = [claims.reading(i) for i in ("default", "baseline-max-local", "fig5-rr")]
    grids = readings.StudyGrids.paper(seeds=[0, 1], quick=True)
    table = readings.evaluate(
        Setup(), chosen, grids, tmp_path, engine=Engine(workers=1, cache=False), progress=False
    )
    assert len(table) == len(chosen) * len(readings.STUDIED)
    # a claim that names points outside the quick grid (N = 40 and 50) cannot be answered
    unanswered = set(table[table.verdict == "not evaluated"].claim)
    assert unanswered == {"fig3a-still-better-at-50"}
    assert set(table.verdict) <= {*claims.LEVELS, "not evaluated"}
    assert {
        "claim", "reading", "verdict", "ours", "distance", "covers", "low", "high", "points",
        "holding", "overall", "supported", "support", "robust", "median_verdict",
        "tolerance_0_verdict", "tolerance_x2_verdict", "resamples_other",
    } <= set(table.columns)
    answered = table[table.verdict != "not evaluated"]
    assert set(answered.robust) <= {"robust", "fragile"}
    by = table.set_index(["reading", "claim"])
    # a Fig. 5 reading changes only the Fig. 5 claims
    for claim in ("fig3a-variance-sjf", "fig3b-total", "fig3c-variance-vs-r"):
        assert by.loc[("fig5-rr", claim), "ours"] == by.loc[("default", claim), "ours"]
    assert by.loc[("fig5-rr", "fig5-greedy-gap"), "covers"] == "N = 3–4"
    # the baseline rule changes Fig. 3's numbers
    assert (
        by.loc[("baseline-max-local", "fig3b-total"), "ours"]
        != (by.loc[("default", "fig3b-total"), "ours"])
    )
    cells = stats.verdict_cells(table)
    assert len(cells) == len(table)
    assert cells[table.verdict != "not evaluated"].label.str.len().gt(0).all()
    # Fig. 5 alone, in the same folder: the Fig. 3 files the first call left there answer
    # nothing (a run must not depend on what an earlier run left behind)
    again = readings.evaluate(
        Setup(), chosen[:1], grids, tmp_path, kinds=("fig5",),
        engine=Engine(workers=1, cache=False), progress=False,
    )
    fig5_claims = {c.id for c in claims.CLAIMS if set(c.csvs) <= {"fig5"}}
    assert fig5_claims and set(again.claim) == fig5_claims


def test_verdict_labels_by_kind():
    nan = np.nan
    table = pd.DataFrame(
        [
            # a value claim: our range
            {"claim": "r", "reading": "d", "verdict": "partly", "low": -86.9, "high": 83.5,
             "tolerance": 5.0, "overall": nan, "points": 5.0, "holding": 1.0},
            # a bound whose worst point is infinite
            {"claim": "b", "reading": "d", "verdict": "not reproduced", "low": 10.0,
             "high": math.inf, "tolerance": 0.0, "overall": nan, "points": 8.0, "holding": 0.0},
            # a frequency claim: the share found
            {"claim": "f", "reading": "d", "verdict": "reproduced", "low": 0.9, "high": 1.0,
             "tolerance": 0.0, "overall": 0.95, "points": 8.0, "holding": 8.0},
            # a direction, sign, ordering or largest claim: the points that hold
            {"claim": "l", "reading": "d", "verdict": "partly", "low": nan, "high": nan,
             "tolerance": nan, "overall": nan, "points": 4.0, "holding": 3.0},
        ]
    )
    assert stats.verdict_cells(table).label.tolist() == [
        "-87…84",
        "10…∞",
        "95% found",
        "3/4 hold",
    ]


def test_readings_share_their_solves_tables_and_verdicts(tmp_path, monkeypatch):
    """Work keyed by what it depends on: a reading that changes only Fig. 3's baseline adds
    no solve; one that changes greedy's start for Fig. 5 adds greedy's and local-search's
    solves, not the optimum's; verdicts on the same tables are judged once; a re-run
    computes and judges nothing and gives the same table; a folder removed is rewritten
    from the cache."""
    computed: list[int] = []
    original = Engine._compute

    def counting(self, compute, points, todo, desc):
        computed.append(len(todo))
        yield from original(self, compute, points, todo, desc)

    judged: list[str] = []
    real_judge = readings.judge

    def counting_judge(claim, place):
        judged.append(claim.id)
        return real_judge(claim, place)

    monkeypatch.setattr(Engine, "_compute", counting)
    monkeypatch.setattr(readings, "judge", counting_judge)
    grids = readings.StudyGrids.paper(seeds=[0, 1], quick=True)
    engine = Engine(workers=1, cache=True, cache_dir=tmp_path / "cache")

    def run(*ids: str) -> pd.DataFrame:
        chosen = [claims.reading(i) for i in ids]
        return readings.evaluate(Setup(), chosen, grids, tmp_path / "w", engine=engine,
                                 progress=False)

    run("default")
    assert computed[-1] > 0 and len(judged) == len(readings.STUDIED)
    before = len(judged)
    both = run("baseline-max-local", "fig5-start-ones")
    fig5_points = len(grids["fig5"].devices) * len(grids["fig5"].seeds)
    assert computed[-1] == 2 * fig5_points  # greedy and local-search from p = 1
    fig3 = [c.id for c in readings.STUDIED if "fig5" not in readings.kinds_of(c)]
    fig5 = [c.id for c in readings.STUDIED if readings.kinds_of(c) == ("fig5",)]
    # each reading's new verdicts only: the others are default's (the same tables)
    assert sorted(judged[before:]) == sorted(fig3 + fig5)
    shutil.rmtree(tmp_path / "w")
    before = len(judged)
    again = run("baseline-max-local", "fig5-start-ones")
    assert computed[-1] == 0 and len(judged) == before
    assert again.to_csv() == both.to_csv()
    for reading in ("baseline-max-local", "fig5-start-ones"):  # the tables are back
        assert {"fig3a.csv", "fig3c.csv", "fig5.csv"} <= {
            p.name for p in (tmp_path / "w" / reading).iterdir()
        }
    # a table changed by hand is not taken for the one its stamp names: rewritten
    fig5_csv = tmp_path / "w" / "fig5-start-ones" / "fig5.csv"
    written = fig5_csv.read_bytes()
    fig5_csv.write_bytes(written.replace(b"greedy", b"greedx"))
    run("fig5-start-ones")
    assert fig5_csv.read_bytes() == written


def test_the_row_tables_are_the_figures_tables(tmp_path):
    """What the study writes for the claims is what the figures write (their row tables),
    and every CSV a claim reads is among them."""
    from dnnsplit.paper import sweeps

    grid = sweeps.Grid(devices=[3, 4], seeds=[0, 1], vary={"policy": ["sjf", "rr"]})
    engine = Engine(workers=1, cache=False)
    rows = {
        "by_devices": fig3.improvement(Setup(), grid, progress=False, engine=engine),
        "fig5": fig5.greedy_vs_optimal(
            Setup(), sweeps.Grid(devices=[3], seeds=[0, 1]), progress=False, engine=engine
        ),
    }
    rows["by_ratio"] = rows["by_devices"]
    figure_tables = {
        "by_devices": fig3.fig3_by_devices_tables,
        "by_ratio": fig3.fig3_by_ratio_tables,
        "fig5": fig5.fig5_tables,
    }
    for kind, frame in rows.items():
        mine = readings._row_tables(kind, frame)
        theirs = {name: files[""] for name, files in figure_tables[kind](frame).items()}
        assert mine.keys() == theirs.keys()
        for stem in mine:
            assert mine[stem].equals(theirs[stem]), stem
    # every claim is studied but the one that reads every network at once (notebook 05)
    assert [c.id for c in claims.CLAIMS if c not in readings.STUDIED] == ["conclusion-dnn-sizes"]
