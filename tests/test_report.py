"""The claims as data and the verdict rules of the report, on hand-made tables: every verdict
level, every kind of claim, and the consistency rule (one number at one point is judged the
same way under every claim with the same paper value and quantity)."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnnsplit.paper import claims, report, stats, verdicts
from dnnsplit.paper.claims import CLAIMS, LEVELS, QUANTITIES, Claim, PaperValues, Reads, claim


def write_summary(directory, name, rows) -> None:
    pd.DataFrame(rows).to_csv(directory / f"{name}.csv", index=False)


def summary_row(m: float, **ids) -> dict:
    return {**ids, "mean": m, "low": m - 1, "high": m + 1, "min": m - 5, "max": m + 5, "n": 10}


def _by_policy(directory, name, sjf_means, rr_means, devices) -> None:
    rows = [
        summary_row(m, solver="greedy", policy=policy, ratio=1.0, devices=n)
        for policy, means in (("sjf", sjf_means), ("rr", rr_means))
        for n, m in zip(devices, means, strict=True)
    ]
    write_summary(directory, name, rows)


def fig3a(directory, sjf_means, rr_means, devices=(10, 30, 50)) -> None:
    _by_policy(directory, "fig3a_summary", sjf_means, rr_means, devices)


def fig3b(directory, sjf_means, rr_means, devices=(10, 30, 50)) -> None:
    _by_policy(directory, "fig3b_summary", sjf_means, rr_means, devices)


def fig3c(directory, by_devices: dict[int, list[float]], ratios=(1, 10, 100, 1000)) -> None:
    rows = [
        summary_row(m, policy="sjf", devices=n, ratio=r)
        for n, means in by_devices.items()
        for r, m in zip(ratios, means, strict=True)
    ]
    write_summary(directory, "fig3c_summary", rows)


def verdict_of(claim_id: str, directory) -> str:
    return verdicts.judge(claim(claim_id), directory).verdict


# --- claims are data -----------------------------------------------------------------


def test_claim_ids_are_stable_and_unique():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    assert set(ids) >= {
        "fig5-greedy-gap",
        "fig5-greedy-finds-optimum",
        "fig3a-variance-sjf",
        "fig3a-variance-rr",
        "fig3c-variance-vs-r",
        "fig3b-total",
        "fig3-local-share",
        # the claims the paper makes in its text and conclusion
        "fig3a-still-better-at-50",
        "conclusion-beats-all-local",
        "fig3c-largest-at-10",
        "fig3a-sjf-above-rr",
    }
    assert all(c.kind in claims.KINDS for c in CLAIMS)
    assert all(c.quantity in QUANTITIES for c in CLAIMS)
    assert all(c.policies and set(c.policies) <= {"sjf", "rr", "ps"} for c in CLAIMS)
    assert all(c.quote and c.figure for c in CLAIMS)
    assert all(set(c.reasons) <= set(report.REASONS) for c in CLAIMS)
    with pytest.raises(KeyError, match="no claim 'nope'"):
        claim("nope")


def test_every_tolerance_has_a_one_line_justification():
    for quantity in QUANTITIES.values():
        assert quantity.tolerance >= 0 and quantity.why and "\n" not in quantity.why


def test_no_claim_number_appears_in_the_logic():
    """The paper's numbers live in claims.py only (a number of a claim in another module of
    the paper layer would be a claim typed into the logic)."""
    numbers = set()
    for c in CLAIMS:
        if c.paper is not None:
            for value in (*c.paper.band, *c.paper.at.values()):
                if math.isfinite(value) and value != int(value):
                    numbers.add(f"{value:g}")
    assert numbers >= {"2.4", "2.8", "12.7", "67.2"}
    package = Path(claims.__file__).parent
    for path in package.glob("*.py"):
        if path.name == "claims.py":
            continue
        text = path.read_text()
        for number in numbers:
            assert not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text), (
                f"{number} appears in {path.name}"
            )


# --- the levels -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("all_hold", "some_hold", "direction", "expected"),
    [
        (True, True, True, "reproduced"),
        (True, True, None, "reproduced"),
        (True, True, False, "not reproduced"),  # every value in tolerance, the trend wrong
        (False, True, True, "partly"),
        (False, True, None, "partly"),
        (False, True, False, "not reproduced"),
        (False, False, True, "direction only"),
        (False, False, None, "not reproduced"),
        (False, False, False, "not reproduced"),
    ],
)
def test_the_levels(all_hold, some_hold, direction, expected):
    assert verdicts.level(all_hold, some_hold, direction) == expected
    assert expected in LEVELS


def test_a_value_claim_at_every_level(tmp_path):
    # Fig. 3A SJF: 21% at N = 10, 2% at N = 50, the band 2–21% between; ±5 points
    fig3a(tmp_path, [21, 10, 3], [12, 6, 3])
    assert verdict_of("fig3a-variance-sjf", tmp_path) == "reproduced"
    fig3a(tmp_path, [60, 10, 3], [12, 6, 3])  # N = 10 far above 21%, the rest in
    assert verdict_of("fig3a-variance-sjf", tmp_path) == "partly"
    fig3a(tmp_path, [99, 95, 90], [12, 6, 3])  # shrinking, but nowhere near
    found = verdicts.judge(claim("fig3a-variance-sjf"), tmp_path)
    assert found.verdict == "direction only" and found.direction is True
    assert found.numbers["holding"] == 0 and found.numbers["points"] == 3
    fig3a(tmp_path, [3, 10, 20], [12, 6, 3])  # in the band but growing: not the paper's
    assert verdict_of("fig3a-variance-sjf", tmp_path) == "not reproduced"
    assert verdict_of("fig3a-variance-rr", tmp_path) == "reproduced"


def test_the_ends_of_a_range_are_the_papers_values_at_the_axis_ends(tmp_path):
    """'2–21%, less as N grows': 21% at N = 10 is the paper's value there, so 4× that is
    outside tolerance, even though it lies inside a band widened by a share of its top."""
    fig3a(tmp_path, [84, 12, 3], [12, 6, 3])
    found = verdicts.judge(claim("fig3a-variance-sjf"), tmp_path)
    first = found.points[0]
    assert first.x == 10 and not first.holds and first.paper == "21.0%"
    assert [p.holds for p in found.points] == [False, True, True]
    # within ±5 points of the pinned value holds, one point further does not
    fig3a(tmp_path, [26, 12, 3], [12, 6, 3])
    assert verdicts.judge(claim("fig3a-variance-sjf"), tmp_path).points[0].holds
    fig3a(tmp_path, [26.01, 12, 3], [12, 6, 3])
    assert not verdicts.judge(claim("fig3a-variance-sjf"), tmp_path).points[0].holds


def test_a_value_claim_with_a_sign(tmp_path):
    fig3b(tmp_path, [2.0, 8.0, 4.0], [3.0, 1.0, 0.5])  # slightly better everywhere
    assert verdict_of("fig3b-total", tmp_path) == "reproduced"
    fig3b(tmp_path, [2.0, 30.0, 4.0], [3.0, 1.0, 0.5])  # better, once by far more
    assert verdict_of("fig3b-total", tmp_path) == "partly"
    fig3b(tmp_path, [30.0, 40.0, 50.0], [30.0, 40.0, 50.0])  # better, never slightly
    assert verdict_of("fig3b-total", tmp_path) == "direction only"
    fig3b(tmp_path, [-3.0, 5.0, 4.0], [3.0, 1.0, 0.5])  # within tolerance, but worse once
    assert verdict_of("fig3b-total", tmp_path) == "not reproduced"


def test_a_value_claim_against_log_r(tmp_path):
    fig3c(tmp_path, {10: [21.0, 30.0, 50.0, 67.0], 20: [1.0, 2.0, 3.0, 4.0]})
    found = verdicts.judge(claim("fig3c-variance-vs-r"), tmp_path)
    assert found.verdict == "reproduced" and found.numbers["low"] == 21.0
    fig3c(tmp_path, {10: [67.0, 50.0, 30.0, 21.0]})  # in the band, the wrong way
    assert verdict_of("fig3c-variance-vs-r", tmp_path) == "not reproduced"


def test_a_bound_claim(tmp_path):
    def fig5(gaps):
        rows = [
            summary_row(g, objective="variance", solver="greedy", metric="gap_of_means_pct",
                        devices=n)
            for n, g in zip((3, 4, 5), gaps, strict=True)
        ]
        write_summary(tmp_path, "fig5_summary", rows)

    fig5([0.0, 1.0, 2.4])
    assert verdict_of("fig5-greedy-gap", tmp_path) == "reproduced"
    fig5([0.0, 1.0, 50.0])
    assert verdict_of("fig5-greedy-gap", tmp_path) == "partly"
    fig5([10.0, 20.0, math.inf])  # an infinite gap (zero optimal variance) is not within
    found = verdicts.judge(claim("fig5-greedy-gap"), tmp_path)
    assert found.verdict == "not reproduced" and "∞" in found.ours


def test_a_direction_claim(tmp_path):
    def share(slopes):
        rows = [
            summary_row(50 + slope * n, objective=objective, policy=policy, ratio=1.0, devices=n)
            for (objective, policy), slope in zip(
                [("total", "sjf"), ("variance", "rr")], slopes, strict=True
            )
            for n in (10, 20, 30)
        ]
        write_summary(tmp_path, "fig3_local_share_summary", rows)

    share([1, 1])
    assert verdict_of("fig3-local-share", tmp_path) == "reproduced"
    share([1, -1])
    assert verdict_of("fig3-local-share", tmp_path) == "partly"
    share([0, -1])
    assert verdict_of("fig3-local-share", tmp_path) == "not reproduced"
    # a line that grows overall but dips at one step says so (the verdict is the slope's)
    rows = [
        summary_row(value, objective=objective, policy=policy, ratio=1.0, devices=n)
        for (objective, policy), values in (
            (("total", "sjf"), (50, 60, 70)), (("variance", "rr"), (50, 70, 65))
        )
        for n, value in zip((10, 20, 30), values, strict=True)
    ]
    write_summary(tmp_path, "fig3_local_share_summary", rows)
    found = verdicts.judge(claim("fig3-local-share"), tmp_path)
    assert found.verdict == "reproduced"
    labels = [p.label for p in found.points]
    assert labels[0].endswith("50% → 70%") and labels[1].endswith("50% → 65%, not at every step")


def test_sign_claims_cover_every_point_of_both_policies(tmp_path):
    fig3a(tmp_path, [21, 10, 3], [12, 6, 3])
    fig3b(tmp_path, [2.0, 8.0, 4.0], [3.0, 1.0, 0.5])
    assert verdict_of("fig3a-still-better-at-50", tmp_path) == "reproduced"
    assert verdict_of("conclusion-beats-all-local", tmp_path) == "reproduced"
    fig3a(tmp_path, [21, 10, -3], [12, 6, 3])  # SJF worse than all-local at N = 50
    found = verdicts.judge(claim("fig3a-still-better-at-50"), tmp_path)
    assert found.verdict == "partly" and "SJF, N = 50" in found.ours
    conclusion = verdicts.judge(claim("conclusion-beats-all-local"), tmp_path)
    assert conclusion.numbers["points"] == 12 and conclusion.numbers["holding"] == 11
    fig3a(tmp_path, [-1, -1, -3], [-12, -6, -3])
    assert verdict_of("fig3a-still-better-at-50", tmp_path) == "not reproduced"


def test_an_ordering_claim(tmp_path):
    fig3a(tmp_path, [21, 10, 3], [12, 6, 2.8])
    assert verdict_of("fig3a-sjf-above-rr", tmp_path) == "reproduced"
    fig3a(tmp_path, [21, 5, 3], [12, 6, 2.8])
    assert verdict_of("fig3a-sjf-above-rr", tmp_path) == "partly"
    fig3a(tmp_path, [80, 60, 40], [90, 80, 70])
    assert verdict_of("fig3a-sjf-above-rr", tmp_path) == "not reproduced"


def test_a_largest_claim(tmp_path):
    fig3c(tmp_path, {10: [21.0, 30.0, 50.0, 67.0], 20: [10.0, 20.0, 30.0, 40.0]})
    assert verdict_of("fig3c-largest-at-10", tmp_path) == "reproduced"
    fig3c(tmp_path, {10: [21.0, 30.0, 50.0, 67.0], 20: [10.0, 20.0, 60.0, 70.0]})
    found = verdicts.judge(claim("fig3c-largest-at-10"), tmp_path)
    assert found.verdict == "partly" and [p.holds for p in found.points] == [
        True,
        True,
        False,
        False,
    ]
    assert "R = 100: N = 20 (by 10.0 points over N = 10)" in found.ours
    fig3c(tmp_path, {10: [21.0, 30.0, 50.0, 67.0], 20: [10.0, 20.0, 30.0, 67.5]})
    found = verdicts.judge(claim("fig3c-largest-at-10"), tmp_path)
    # 67.5 ± 1 against 67 ± 1: N = 20 is largest, but within N = 10's interval of the mean
    assert "(by 0.5 points over N = 10; their intervals of the mean overlap)" in found.ours
    fig3c(tmp_path, {10: [1.0, 1.0, 1.0, 1.0], 20: [10.0, 20.0, 60.0, 70.0]})
    assert verdict_of("fig3c-largest-at-10", tmp_path) == "not reproduced"


@pytest.mark.parametrize(
    ("ys", "slope_sign", "words"),
    [
        ([1.0, 2.0, 3.0, 4.0], 1, "it grows with R"),
        ([1.0, 3.0, 2.9, 2.8], 1, "it grows with R overall (least-squares slope), not at every step"),
        ([4.0, 3.0, 2.0, 1.0], -1, "it shrinks with R"),
        ([4.0, 4.5, 2.0, 1.0], -1, "it shrinks with R overall (least-squares slope), not at every step"),
        ([2.0, 2.0, 2.0, 2.0], 0, "it is flat with R"),
    ],
)
def test_a_trend_is_called_steady_only_where_every_step_goes_its_way(ys, slope_sign, words):
    xs = [1.0, 10.0, 100.0, 1000.0]
    slope = verdicts.trend_slope(xs, ys, log_x=True)
    assert np.sign(slope) == slope_sign
    assert verdicts.trend_words(xs, ys, slope, "R") == words


def test_a_value_claims_text_says_when_its_trend_is_not_steady(tmp_path):
    fig3c(tmp_path, {10: [21.0, 60.0, 58.0, 57.0]})
    found = verdicts.judge(claim("fig3c-variance-vs-r"), tmp_path)
    assert found.direction is True
    assert "it grows with R overall (least-squares slope), not at every step" in found.ours


def test_a_frequency_claim(tmp_path):
    def fig5(greedy_values):
        rows = []
        for (n, seed), value in greedy_values.items():
            for solver, v in (("optimal", 1.0), ("greedy", value)):
                rows.append(
                    {
                        "objective": "variance",
                        "solver": solver,
                        "metric": "variance",
                        "devices": n,
                        "seed": seed,
                        "value": v,
                    }
                )
        write_summary(tmp_path, "fig5", rows)

    cases = {(n, s): 1.0 for n in (3, 4) for s in range(10)}
    fig5(cases)
    found = verdicts.judge(claim("fig5-greedy-finds-optimum"), tmp_path)
    assert found.verdict == "reproduced" and found.numbers["overall"] == 1.0
    fig5({**cases, (4, 0): 1.5, (4, 1): 2.0})  # N = 4: 80% of cases
    assert verdict_of("fig5-greedy-finds-optimum", tmp_path) == "partly"
    fig5({k: 1.0 + 1e-12 if k[1] < 5 else 2.0 for k in cases})  # equal within 1e-9: found
    found = verdicts.judge(claim("fig5-greedy-finds-optimum"), tmp_path)
    assert found.verdict == "not reproduced" and found.numbers["overall"] == 0.5


# --- the consistency rule -----------------------------------------------------------------


def test_one_number_at_one_point_is_judged_alike_under_fig3a_and_fig3c(tmp_path):
    """The issue's case: 53.3% at (N = 10, R = 1, SJF) is one number; Fig. 3A and Fig. 3C
    both give the paper's value 21% there; it is outside tolerance under both."""
    for value in (53.3, 24.0, 26.5, 15.0):
        fig3a(tmp_path, [value, 10, 3], [12, 6, 3])
        fig3c(tmp_path, {10: [value, 30.0, 50.0, 67.0]})
        a = verdicts.judge(claim("fig3a-variance-sjf"), tmp_path).points[0]
        c = verdicts.judge(claim("fig3c-variance-vs-r"), tmp_path).points[0]
        assert (a.x, c.x) == (10, 1) and a.paper == c.paper == "21.0%"
        assert a.holds == c.holds == (abs(value - 21.0) <= 5.0)


def _paper_points() -> list[tuple[Claim, float, tuple[float, float]]]:
    points = []
    for c in CLAIMS:
        if c.kind != "value" or c.paper is None:
            continue
        xs = [*c.paper.at, 20.0, 30.0]
        points += [(c, x, c.paper.at_point(x)) for x in xs]
    return points


@given(st.floats(min_value=-200, max_value=200, allow_nan=False))
def test_two_claims_with_the_same_paper_value_and_quantity_agree_at_every_point(value):
    """For every pair of value claims about the same quantity, and every pair of their
    points with the same paper value or band, one number is within tolerance under both or
    under neither."""
    for (c1, _, p1), (c2, _, p2) in itertools.combinations(_paper_points(), 2):
        if c1.quantity == c2.quantity and p1 == p2:
            t1, t2 = c1.tolerance.tolerance, c2.tolerance.tolerance
            assert verdicts.within(value, p1, t1) == verdicts.within(value, p2, t2)


def test_claims_about_one_quantity_share_one_tolerance():
    by_quantity: dict[str, set[float]] = {}
    for c in CLAIMS:
        by_quantity.setdefault(c.quantity, set()).add(c.tolerance.tolerance)
    assert all(len(t) == 1 for t in by_quantity.values())
    # the only paper value two claims share: 21% at (N = 10, R = 1, SJF)
    shared = [
        (c.id, x) for c, x, p in _paper_points() if p == (21.0, 21.0)
    ]
    assert {cid for cid, _ in shared} == {"fig3a-variance-sjf", "fig3c-variance-vs-r"}


# --- missing input ---------------------------------------------------------------------


def test_missing_inputs_are_named_not_raised(tmp_path):
    answers = report.answer_claims(tmp_path)
    assert len(answers) == len(CLAIMS)
    assert all(a.verdict is None for a in answers)
    fig5 = next(a for a in answers if a.claim.id == "fig5-greedy-gap")
    assert "fig5_summary.csv is missing" in fig5.why and "03_greedy_vs_optimal" in fig5.why
    # a summary without its rows file: the claim is still answered, no AttributeError
    write_summary(
        tmp_path,
        "fig5_summary",
        [summary_row(50.0, objective="variance", solver="greedy", metric="gap_of_means_pct",
                     devices=3)],
    )
    text = report.build_report(tmp_path)
    assert "| Greedy's variance vs the optimum (Fig. 5) |" in text
    assert "fig5.csv is missing" in text  # the frequency claim reads the rows file
    # no manifest: said once, and no reason that needs the setup is given
    assert "manifest of run(s) `fig3`, `fig5` is missing" in text
    fig3a(tmp_path, [20, 10, 3], [12, 6, 3])
    fig3a_rows = tmp_path / "fig3a_summary.csv"
    frame = pd.read_csv(fig3a_rows)
    frame[frame.policy == "rr"].to_csv(fig3a_rows, index=False)
    missing = next(a for a in report.answer_claims(tmp_path) if a.claim.id == "fig3a-variance-sjf")
    assert missing.verdict is None and "no rows with solver = greedy, policy = sjf" in missing.why


def test_a_claim_without_its_file_is_refused_by_name():
    assert set(verdicts.VERDICTS) == set(claims.KINDS)
    odd = Claim(
        id="x",
        figure="-",
        title="-",
        quote="-",
        kind="value",
        quantity="gain-pct",
        paper=PaperValues(band=(0.0, 1.0)),
        reads=(Reads("nothing"),),
        paper_text="-",
        policies=("sjf",),
    )
    with pytest.raises(verdicts.MissingInput, match="nothing.csv is missing"):
        verdicts.judge(odd, Path("/nonexistent"))


# --- the report's statements --------------------------------------------------------------


def test_the_noise_reason_compares_with_the_seeds_spread_not_the_interval(tmp_path):
    """A paper value inside the bootstrap interval of our mean but outside the seeds' range
    must not be said to lie within our seed-to-seed spread, and the other way round."""
    rows = [
        {"solver": "greedy", "policy": "sjf", "ratio": 1.0, "devices": n, "mean": 60.0,
         "low": 15.0, "high": 65.0, "min": 40.0, "max": 90.0, "n": 10}
        for n in (10, 50)
    ]
    write_summary(tmp_path, "fig3a_summary", rows)
    verdict = verdicts.judge(claim("fig3a-variance-sjf"), tmp_path)
    facts = report._Facts(claim("fig3a-variance-sjf"), verdict, tmp_path, None)
    assert "outside our seed-to-seed range" in report.REASONS["noise"](facts)
    rows = [{**r, "low": 55.0, "high": 65.0, "min": -40.0} for r in rows]
    write_summary(tmp_path, "fig3a_summary", rows)
    text = report.REASONS["noise"](facts)
    assert "within our seed-to-seed range" in text and "2 of 2 points" in text
    assert "gives no seed count" in text


def test_fig5_statistics_say_what_they_show():
    """The gap between the means is what the plotted means imply; the mean of per-case gaps
    is dominated by a case with a tiny optimum; the median is a typical case."""
    rows = []
    for seed, (greedy, best) in enumerate([(1.0, 0.001), (1.0, 0.9), (1.0, 0.95), (1.0, 1.0)]):
        for solver, value in (("greedy", greedy), ("optimal", best)):
            rows.append({"objective": "variance", "solver": solver, "metric": "variance",
                         "devices": 3, "seed": seed, "value": value})
        rows.append({"objective": "variance", "solver": "greedy", "metric": "gap_pct",
                     "devices": 3, "seed": seed, "value": stats.gap_pct(greedy, best)})
    frame = pd.DataFrame(rows)
    summary = stats.greedy_vs_optimal_summary(frame, within_pct=6.0).set_index("metric")
    means = 100 * (4.0 - 2.851) / 2.851
    assert summary.loc["gap_of_means_pct", "mean"] == pytest.approx(means)
    assert summary.loc["gap_pct", "mean"] > 20 * means  # 99,900% in one case
    assert summary.loc["median_gap_pct", "mean"] == pytest.approx(
        np.median([99900.0, 100 / 9, 100 / 19, 0.0])
    )
    assert summary.loc["within_pct", "mean"] == pytest.approx(50.0)  # 5.3% and 0%
    assert summary.loc["optimum_pct", "mean"] == pytest.approx(25.0)


# --- the gap of Fig. 5 ------------------------------------------------------------------


def test_gap_of_a_zero_optimum_is_infinite_not_zero():
    assert stats.gap_pct(0.5, 0.0) == math.inf
    assert stats.gap_pct(0.0, 0.0) == 0.0
    assert stats.std_ratio(0.5, 0.0) == math.inf
    assert stats.gap_pct(1.1, 1.0) == pytest.approx(10.0)
    summary = stats.summarise(
        pd.DataFrame({"devices": [3, 3, 3], "value": [1.0, math.inf, np.nan]}), ["devices"]
    )
    assert summary["mean"].iloc[0] == math.inf and summary["n"].iloc[0] == 2
    assert summary["min"].iloc[0] == 1.0 and summary["max"].iloc[0] == math.inf


def test_trend_slopes_are_closed_forms_that_need_no_blas():
    x, y = [10, 20, 30, 40, 50], [83.5, 30.1, 5.0, -40.2, -86.9]
    expected = np.polyfit(np.array(x, float), np.array(y, float), 1)[0]
    assert verdicts.trend_slope(x, y) == pytest.approx(expected, rel=1e-12)
    assert verdicts.trend_slope([1, 10, 100], [1, 2, 3], log_x=True) == pytest.approx(1.0)
    assert verdicts.trend_slope([1, 1], [1, 2]) == 0.0


def test_the_committed_report_is_recomputed_byte_for_byte_under_another_blas(tmp_path):
    """REPRODUCTION.md is rebuilt from the committed CSVs in a fresh process with one
    OpenBLAS thread and another OpenBLAS core type: not one byte may move (no committed
    number may depend on the BLAS or LAPACK path)."""
    import os
    import shutil
    import subprocess
    import sys

    from dnnsplit.paths import FIGURES_DIR, REPORT_PATH

    figures = tmp_path / "figures"
    shutil.copytree(FIGURES_DIR, figures)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_CORETYPE": "Prescott"}
    code = "import sys; from dnnsplit.paper import report; report.write_report(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(figures)], check=True, env=env)
    assert (figures / "REPRODUCTION.md").read_bytes() == REPORT_PATH.read_bytes()


def test_only_the_papers_words_stand_in_quotation_marks():
    """A claim the paper implies (its quote in parentheses) is shown as our inference,
    never inside quotation marks; every other claim is quoted."""
    from dnnsplit.paper.claims import CLAIMS
    from dnnsplit.paper.report import _words

    for c in CLAIMS:
        shown = _words(c)
        if c.quote.startswith("("):
            assert "“" not in shown and shown.endswith("(our inference)")
        else:
            assert shown == f"“{c.quote}”"
    assert any(c.quote.startswith("(") for c in CLAIMS)
