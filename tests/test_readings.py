"""The readings study: every override reaches the scenario it claims to change, the search
follows its documented rule, and the verdict map gets what it draws."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dnnsplit import Scenario, Setup
from dnnsplit.paper import claims, readings, stats
from dnnsplit.paper.claims import READINGS, Reading
from dnnsplit.paper.engine import Engine

REQUIRED = {
    "default",
    "baseline-max-local",
    "pmin-1",
    "start-ones",
    "start-local",
    "background-0-0",
    "background-0-1",
    "background-1-3",
    "background-0-5",
    "local-exact",
    "quantum-1ms",
    "quantum-100ms",
    "bs-quantum-1ms",
    "bs-quantum-100ms",
    "bs-quantum-1s",
    "profile-alexnet11",
    "profile-measured",
    "uplink-x0.2",
    "uplink-x0.1",
    "fig5-r10",
    "fig5-r1000",
    "fig5-rr",
    "fig5-ps",
}


def test_the_required_readings_are_declared_once():
    ids = [r.id for r in READINGS]
    assert len(ids) == len(set(ids)) and REQUIRED <= set(ids)
    assert all(r.coordinate for r in READINGS if r.id != "default")


def _drawn(reading: Reading) -> tuple[Setup, Scenario, Scenario]:
    setup = readings.apply(Setup(), reading.changes)
    fig5 = readings.apply(setup, reading.fig5_changes)
    return setup, Scenario.paper(8, 3, setup), Scenario.paper(8, 3, fig5)


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: r.id)
def test_each_override_reaches_the_scenario_it_claims_to_change(reading):
    base = Scenario.paper(8, 3)
    setup, scenario, fig5 = _drawn(reading)
    for field, value in reading.changes.items():
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
        else:  # choices of the solvers and of Fig. 3, not of the scenario
            assert field in ("baseline", "start") and getattr(setup, field) == value
    for field, value in reading.fig5_changes.items():
        assert getattr(fig5, field) == value and getattr(scenario, field) == getattr(base, field)
    if not reading.changes and not reading.fig5_changes:
        assert scenario.to_dict() == base.to_dict()


def test_a_combination_merges_its_parts():
    parts = [
        claims.reading("baseline-max-local"),
        claims.reading("fig5-rr"),
        claims.reading("background-0-0"),
    ]
    both = readings.combine(parts)
    assert both.id == "baseline-max-local+fig5-rr+background-0-0"
    assert dict(both.changes) == {"baseline": "max-local", "background": (0, 0)}
    assert dict(both.fig5_changes) == {"policy": "rr"}


def table_of(distances: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for reading, values in distances.items():
        for claim, distance in zip(("a", "b"), values, strict=True):
            rows.append(
                {
                    "claim": claim,
                    "reading": reading,
                    "distance": distance,
                    "verdict": "reproduced" if distance == 0 else "partly",
                }
            )
    return pd.DataFrame(rows)


def test_the_candidates_are_the_readings_that_move_a_claim_toward_the_paper():
    table = table_of({"default": [1.0, 1.0], "x": [0.5, 3.0], "y": [1.0, 1.0], "z": [0.0, 0.0]})
    made = [
        Reading("default", ""),
        Reading("x", "", coordinate="c1"),
        Reading("y", "", coordinate="c2"),
        Reading("z", "", coordinate="c3"),
    ]
    assert [r.id for r in readings.candidates(table, made)] == ["z", "x"]  # y moves nothing


def test_a_quick_study_answers_every_claim_under_every_reading(tmp_path):
    chosen = [claims.reading(i) for i in ("default", "baseline-max-local", "fig5-rr")]
    grids = readings.StudyGrids.paper(seeds=[0, 1], quick=True)
    table = readings.evaluate(
        Setup(), chosen, grids, tmp_path, engine=Engine(workers=1, cache=False), progress=False
    )
    assert len(table) == len(chosen) * len(claims.CLAIMS)
    assert set(table.verdict) <= {"reproduced", "partly", "not reproduced"}
    assert {
        "claim",
        "reading",
        "verdict",
        "ours",
        "distance",
        "covers",
        "low",
        "high",
        "worst",
        "overall",
    } <= set(table.columns)
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
    assert len(cells) == len(table) and cells.label.str.len().gt(0).all()


def test_verdict_labels_by_kind():
    table = pd.DataFrame(
        [
            {
                "claim": "r",
                "reading": "d",
                "verdict": "partly",
                "low": -86.9,
                "high": 83.5,
                "worst": np.nan,
                "overall": np.nan,
                "lines": np.nan,
                "holding": np.nan,
            },
            {
                "claim": "b",
                "reading": "d",
                "verdict": "not reproduced",
                "low": np.nan,
                "high": np.nan,
                "worst": math.inf,
                "overall": np.nan,
                "lines": np.nan,
                "holding": np.nan,
            },
            {
                "claim": "f",
                "reading": "d",
                "verdict": "reproduced",
                "low": np.nan,
                "high": np.nan,
                "worst": np.nan,
                "overall": 0.95,
                "lines": np.nan,
                "holding": np.nan,
            },
            {
                "claim": "l",
                "reading": "d",
                "verdict": "partly",
                "low": np.nan,
                "high": np.nan,
                "worst": np.nan,
                "overall": np.nan,
                "lines": 4.0,
                "holding": 3.0,
            },
        ]
    )
    assert stats.verdict_cells(table).label.tolist() == ["-87…84", "∞", "95% found", "3/4 lines"]
