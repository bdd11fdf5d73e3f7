"""The claims as data and the verdict rules of the report, on hand-made tables."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnnsplit.paper import claims, report, stats, verdicts
from dnnsplit.paper.claims import CLAIMS, Claim, claim


def write_summary(directory, name, rows) -> None:
    pd.DataFrame(rows).to_csv(directory / f"{name}.csv", index=False)


def fig3a(directory, sjf_means, rr_means, devices=(10, 20, 30)) -> None:
    rows = []
    for policy, means in (("sjf", sjf_means), ("rr", rr_means)):
        for n, m in zip(devices, means, strict=True):
            rows.append(
                {
                    "solver": "greedy",
                    "policy": policy,
                    "ratio": 1.0,
                    "devices": n,
                    "mean": m,
                    "low": m - 1,
                    "high": m + 1,
                    "n": 10,
                }
            )
    write_summary(directory, "fig3a_summary", rows)


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
    }
    assert all(c.kind in claims.KINDS for c in CLAIMS)
    assert all(set(c.reasons) <= set(report.REASONS) for c in CLAIMS)
    with pytest.raises(KeyError, match="no claim 'nope'"):
        claim("nope")


def test_no_claim_number_appears_in_the_logic():
    """The paper's numbers live in claims.py only (a number of a claim in another module of
    the paper layer would be a claim typed into the logic)."""
    numbers = set()
    for c in CLAIMS:
        for value in c.numbers.values():
            if value != int(value):  # whole numbers (2, 10, 21) also mean other things
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


# --- one verdict function per kind -----------------------------------------------------


def test_range_claim_reproduced_partly_and_not(tmp_path):
    fig3a(tmp_path, [20, 10, 3], [12, 6, 3])  # inside the range, shrinking
    assert verdict_of("fig3a-variance-sjf", tmp_path) == "reproduced"
    fig3a(tmp_path, [3, 10, 20], [12, 6, 3])  # inside the range, growing
    assert verdict_of("fig3a-variance-sjf", tmp_path) == "partly"
    fig3a(tmp_path, [99, 95, 90], [12, 6, 3])  # outside, shrinking
    assert verdict_of("fig3a-variance-sjf", tmp_path) == "partly"
    fig3a(tmp_path, [90, 95, 99], [12, 6, 3])  # outside and growing
    assert verdict_of("fig3a-variance-sjf", tmp_path) == "not reproduced"
    assert verdict_of("fig3a-variance-rr", tmp_path) == "reproduced"


def test_range_claim_with_a_sign_and_no_slack(tmp_path):
    def fig3b(means):
        write_summary(
            tmp_path,
            "fig3b_summary",
            [
                {"solver": "greedy", "policy": "sjf", "ratio": 1.0, "devices": n, "mean": m}
                for n, m in zip((10, 20), means, strict=True)
            ],
        )

    fig3b([2.0, 8.0])  # slightly better everywhere
    assert verdict_of("fig3b-total", tmp_path) == "reproduced"
    fig3b([2.0, 30.0])  # better, but by far more than a few %
    assert verdict_of("fig3b-total", tmp_path) == "partly"
    fig3b([-20.0, 5.0])  # worse somewhere
    assert verdict_of("fig3b-total", tmp_path) == "not reproduced"


def test_range_claim_on_the_ends_against_log_r(tmp_path):
    def fig3c(means):
        write_summary(
            tmp_path,
            "fig3c_summary",
            [
                {"policy": "sjf", "devices": 10, "ratio": r, "mean": m, "low": m, "high": m}
                for r, m in zip((1, 10, 100, 1000), means, strict=True)
            ],
        )

    fig3c([21.0, 30.0, 50.0, 67.0])
    assert verdict_of("fig3c-variance-vs-r", tmp_path) == "reproduced"
    fig3c([67.0, 50.0, 30.0, 21.0])  # the same ends, the wrong way
    assert verdict_of("fig3c-variance-vs-r", tmp_path) == "partly"
    found = verdicts.judge(claim("fig3c-variance-vs-r"), tmp_path)
    assert found.numbers["low"] == 21.0 and found.numbers["high"] == 67.0


def test_bound_claim(tmp_path):
    def fig5(greedy_gaps):
        write_summary(
            tmp_path,
            "fig5_summary",
            [
                {
                    "objective": "variance",
                    "solver": "greedy",
                    "metric": "gap_pct",
                    "devices": n,
                    "mean": g,
                }
                for n, g in zip((3, 4, 5), greedy_gaps, strict=True)
            ],
        )

    fig5([0.0, 1.0, 2.0])
    assert verdict_of("fig5-greedy-gap", tmp_path) == "reproduced"
    fig5([0.0, 1.0, 50.0])  # the median is within the bound
    assert verdict_of("fig5-greedy-gap", tmp_path) == "partly"
    fig5([10.0, 20.0, math.inf])  # an infinite gap (zero optimal variance) is not within
    found = verdicts.judge(claim("fig5-greedy-gap"), tmp_path)
    assert found.verdict == "not reproduced" and "∞" in found.ours


def test_direction_claim(tmp_path):
    def share(slopes):
        rows = []
        for (objective, policy), slope in zip(
            [("total", "sjf"), ("variance", "rr")], slopes, strict=True
        ):
            for n in (10, 20, 30):
                rows.append(
                    {
                        "objective": objective,
                        "policy": policy,
                        "ratio": 1.0,
                        "devices": n,
                        "mean": 50 + slope * n,
                    }
                )
        write_summary(tmp_path, "fig3_local_share_summary", rows)

    share([1, 1])
    assert verdict_of("fig3-local-share", tmp_path) == "reproduced"
    share([1, -1])
    assert verdict_of("fig3-local-share", tmp_path) == "partly"
    share([0, -1])
    assert verdict_of("fig3-local-share", tmp_path) == "not reproduced"


def test_frequency_claim(tmp_path):
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
        [
            {
                "objective": "variance",
                "solver": "greedy",
                "metric": "gap_pct",
                "devices": 3,
                "mean": 50.0,
            }
        ],
    )
    text = report.build_report(tmp_path)
    assert "| Greedy's variance vs the optimum (Fig. 5) |" in text
    assert "fig5.csv is missing" in text  # the frequency claim reads the rows file
    fig3a(tmp_path, [20, 10, 3], [12, 6, 3])
    fig3a_rows = tmp_path / "fig3a_summary.csv"
    frame = pd.read_csv(fig3a_rows)
    frame[frame.policy == "rr"].to_csv(fig3a_rows, index=False)
    missing = next(a for a in report.answer_claims(tmp_path) if a.claim.id == "fig3a-variance-sjf")
    assert missing.verdict is None and "no rows with solver = greedy, policy = sjf" in missing.why


def test_a_claim_of_an_unknown_kind_has_no_verdict_function():
    assert set(verdicts.VERDICTS) == set(claims.KINDS)
    odd = Claim(
        id="x",
        figure="-",
        title="-",
        quote="-",
        kind="range",
        numbers=claims._m(low=0.0, high=1.0),
        reads=claims.Reads("nothing"),
        paper_text="-",
    )
    with pytest.raises(verdicts.MissingInput, match="nothing.csv is missing"):
        verdicts.judge(odd, Path("/nonexistent"))


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
