"""The verdict rules of the reproduction report, on hand-made tables."""

from __future__ import annotations

import pandas as pd

from dnnsplit.report import evaluate_claims


def write_fig3a(directory, sjf_means, rr_means, devices=(10, 20, 30)):
    rows = []
    for policy, means in (("sjf", sjf_means), ("rr", rr_means)):
        for n, m in zip(devices, means, strict=True):
            rows.append(
                {
                    "policy": policy,
                    "ratio": 1.0,
                    "devices": n,
                    "mean": m,
                    "low": m - 1,
                    "high": m + 1,
                    "n": 10,
                }
            )
    pd.DataFrame(rows).to_csv(directory / "fig3a_summary.csv", index=False)


def verdicts(directory) -> dict[str, str]:
    return {c.claim: c.verdict for c in evaluate_claims(directory)}


def test_range_claim_reproduced_partly_and_not(tmp_path):
    key = "Variance gain over all-local at R = 1, SJF (Fig. 3A)"
    write_fig3a(tmp_path, [20, 10, 3], [12, 6, 3])  # inside the range, shrinking
    assert verdicts(tmp_path)[key] == "reproduced"
    write_fig3a(tmp_path, [3, 10, 20], [12, 6, 3])  # inside the range, growing
    assert verdicts(tmp_path)[key] == "partly"
    write_fig3a(tmp_path, [90, 95, 99], [12, 6, 3])  # outside and growing
    assert verdicts(tmp_path)[key] == "not reproduced"


def test_bound_claim(tmp_path):
    def write(gaps):
        rows, tidy = [], []
        for n, gap in zip((3, 4, 5), gaps, strict=True):
            for solver in ("greedy", "local-search"):
                for metric, value in (("gap_pct", gap), ("std_ratio", 1.0)):
                    rows.append(
                        {
                            "solver": solver,
                            "metric": metric,
                            "devices": n,
                            "mean": value,
                            "low": value,
                            "high": value,
                            "n": 1,
                        }
                    )
                    tidy.append(
                        {
                            "solver": solver,
                            "metric": metric,
                            "devices": n,
                            "seed": 0,
                            "value": value,
                        }
                    )
        pd.DataFrame(rows).to_csv(tmp_path / "fig5_summary.csv", index=False)
        pd.DataFrame(tidy).to_csv(tmp_path / "fig5.csv", index=False)

    key = "Greedy's variance vs the exhaustive optimum (Fig. 5)"
    write([0.0, 1.0, 2.0])
    assert verdicts(tmp_path)[key] == "reproduced"
    write([0.0, 1.0, 30.0])
    assert verdicts(tmp_path)[key] == "partly"
    write([10.0, 20.0, 30.0])
    assert verdicts(tmp_path)[key] == "not reproduced"


def test_missing_figures_give_no_claims(tmp_path):
    assert evaluate_claims(tmp_path) == []
