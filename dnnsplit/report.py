"""REPRODUCTION.md, built from the figures' CSV files: each claim of the paper beside our
number, a verdict and the reason where they differ.

Only the paper's claims are written here (they are the paper's words and numbers); every
number of ours is read from the CSVs that ``./run_all.sh`` wrote, and every verdict follows
a stated rule:

- a *range* claim ("2–21% smaller variance, shrinking as N grows") is ``reproduced`` when
  our range of means lies inside the paper's range widened by a slack (5 percentage
  points or a quarter of the paper's upper end, whichever is larger) and the trend has the
  paper's direction, ``partly`` when one of the two holds, ``not reproduced`` when neither;
- a *bound* claim ("within 2.4% of the optimum") is ``reproduced`` when our worst mean is
  within the bound, ``partly`` when the median over the points is, ``not reproduced``
  otherwise;
- a *direction* claim ("more layers run locally as N grows") is ``reproduced`` when every
  line has that direction, ``partly`` when some do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dnnsplit._io import atomic_write
from dnnsplit.paths import FIGURES_DIR, ROOT

__all__ = ["Claim", "build_report", "evaluate_claims", "write_report"]


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and how our data answers it."""

    claim: str
    paper: str
    ours: str
    verdict: str
    why: str


def _trend(x: np.ndarray, y: np.ndarray) -> float:
    """Slope of the least-squares line of y on x (sign = direction of the trend)."""
    if len(x) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)[0])


def _direction(slope: float) -> str:
    return "grows" if slope > 0 else "shrinks" if slope < 0 else "is flat"


def _range_verdict(lo: float, hi: float, paper: tuple[float, float], trend_ok: bool) -> str:
    slack = max(5.0, 0.25 * paper[1])
    inside = lo >= paper[0] - slack and hi <= paper[1] + slack
    if inside and trend_ok:
        return "reproduced"
    if inside or trend_ok:
        return "partly"
    return "not reproduced"


def _greedy(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary.solver == "greedy"] if "solver" in summary else summary


def _read(directory: Path, name: str) -> pd.DataFrame | None:
    path = directory / f"{name}.csv"
    return pd.read_csv(path) if path.exists() else None


def _provenance_reason(rows: pd.DataFrame | None) -> str:
    if rows is None or "profile" not in rows:
        return ""
    from dnnsplit.profiles import load_profile

    profile = load_profile(str(rows["profile"].iloc[0]))
    prov = profile.provenance
    if prov["method"] == "estimated":
        return (
            f"our device stage times are estimated for the {prov['hardware']} by a "
            "roofline rule, the paper's were measured on one and not published"
        )
    return (
        f"our device stage times were measured on {prov['hardware']}, not on the "
        "paper's Raspberry Pi 3B+"
    )


def _noise_reason(summary: pd.DataFrame, paper: tuple[float, float]) -> str:
    inside = (summary["low"] <= paper[1]) & (summary["high"] >= paper[0])
    if inside.any():
        return (
            f"the paper's range lies inside our seed-to-seed interval at "
            f"{int(inside.sum())} of {len(summary)} points"
        )
    return ""


def _baseline_reason(rows: pd.DataFrame | None) -> str:
    if rows is None:
        return ""
    base = rows[(rows.solver == "all-local") & (rows.metric == "variance")]
    greedy = rows[
        (rows.solver == "greedy") & (rows.metric == "variance") & (rows.objective == "variance")
    ]
    if base.empty or greedy.empty:
        return ""
    return (
        f"all-local delays differ only through each device's background load (0–3 "
        f"processes, our choice: the paper gives no range), which makes the baseline's "
        f"variance large (mean {base.value.mean():.3g} s² against greedy's "
        f"{greedy.value.mean():.3g} s²)"
    )


def _limits_reason(rows: pd.DataFrame | None, objective: str) -> str:
    """How much of the gap to all-local is the baseline ignoring the memory limits."""
    if rows is None:
        return ""
    values = rows[(rows.objective == objective) & (rows.metric == objective)]
    wide = values.pivot_table(
        index=["policy", "ratio", "devices", "seed"], columns="solver", values="value"
    )
    if not {"all-local", "max-local"} <= set(wide.columns):
        return ""
    extra = 100 * (wide["max-local"] - wide["all-local"]) / wide["all-local"]
    text = (
        f"the paper's all-local baseline runs all S stages even on devices whose memory "
        f"allows only s̃ = 5–7, so it is not a feasible choice: the most local feasible "
        f"choice (p = s̃_i) has {extra.mean():.0f}% more {objective} on average"
    )
    exact = rows[
        (rows.solver == "exact")
        & (rows.metric == "improvement_pct")
        & (rows.objective == objective)
    ]
    if not exact.empty:
        by_n = exact.groupby(["policy", "devices"]).value.mean()
        (policy, n), worst = by_n.idxmin(), float(by_n.min())
        if worst < 0:
            text += (
                f"; even the certified optimum within the limits (exact, "
                f"{str(policy).upper()}) is {-worst:.1f}% worse than all-local at N = {n}"
            )
    return text


def _stuck_reason(part: pd.DataFrame) -> str:
    worst = part.loc[part["mean"].idxmin()]
    return (
        "greedy starts at ⌊s̃/2⌋ and stops at the first local optimum of one-stage moves, "
        "which can be worse than the all-local vector it never looks at (worst: "
        f"{str(worst['policy']).upper()}, N = {worst['devices']}, {worst['mean']:.1f}%)"
    )


def _join(*reasons: str) -> str:
    kept = [r for r in reasons if r]
    return "; ".join(kept) if kept else "—"


def _improvement_claim(
    summary: pd.DataFrame | None,
    rows: pd.DataFrame | None,
    policy: str,
    paper: tuple[float, float],
    label: str,
) -> Claim | None:
    if summary is None:
        return None
    summary = _greedy(summary)
    part = summary[(summary.policy == policy) & (summary.ratio == summary.ratio.min())]
    part = part.sort_values("devices")
    if part.empty:
        return None
    slope = _trend(part.devices, part["mean"])
    lo, hi = float(part["mean"].min()), float(part["mean"].max())
    verdict = _range_verdict(lo, hi, paper, slope < 0)
    ours = (
        f"{lo:.1f}–{hi:.1f}% (means over seeds, N = {part.devices.min()}–"
        f"{part.devices.max()}); the gain {_direction(slope)} with N"
    )
    why = (
        "—"
        if verdict == "reproduced"
        else _join(
            _stuck_reason(part) if lo <= 0 else "",
            _limits_reason(rows, "variance") if lo <= 0 else "",
            _baseline_reason(rows) if hi > paper[1] else "",
            _noise_reason(part, paper),
            _provenance_reason(rows),
        )
    )
    return Claim(label, f"{paper[0]:g}–{paper[1]:g}%, shrinking as N grows", ours, verdict, why)


def evaluate_claims(directory: str | os.PathLike[str] | None = None) -> list[Claim]:
    """Answer each claim of the paper from the CSVs in ``directory`` (default figures/)."""
    directory = Path(directory) if directory else FIGURES_DIR
    claims: list[Claim] = []

    fig5 = _read(directory, "fig5_summary")
    fig5_rows = _read(directory, "fig5")
    if fig5 is not None:
        gap = fig5[(fig5.solver == "greedy") & (fig5.metric == "gap_pct")].sort_values("devices")
        ls = fig5[(fig5.solver == "local-search") & (fig5.metric == "gap_pct")]
        ratio = fig5[(fig5.solver == "greedy") & (fig5.metric == "std_ratio")]
        worst, median = float(gap["mean"].max()), float(gap["mean"].median())
        verdict = "reproduced" if worst <= 2.4 else "partly" if median <= 2.4 else "not reproduced"
        worst_seed = fig5_rows[(fig5_rows.solver == "greedy") & (fig5_rows.metric == "gap_pct")]
        ours = (
            f"mean gap {gap['mean'].min():.1f}–{worst:.1f}% over N = "
            f"{gap.devices.min()}–{gap.devices.max()} (worst single seed "
            f"{worst_seed.value.max():.0f}%; std of delays {ratio['mean'].min():.2f}–"
            f"{ratio['mean'].max():.2f}× the optimum's); local-search: "
            f"{ls['mean'].min():.1f}–{ls['mean'].max():.1f}%"
        )
        why = (
            "—"
            if verdict == "reproduced"
            else _join(
                "the paper's greedy stops at the first local optimum of one-stage moves, and on "
                "the variance objective such optima are often far from the best (docs/model.md); a "
                "% of a small optimal variance magnifies the gap",
                _provenance_reason(fig5_rows),
            )
        )
        claims.append(
            Claim(
                "Greedy's variance vs the exhaustive optimum (Fig. 5)",
                "within 2.4% for 3–10 devices",
                ours,
                verdict,
                why,
            )
        )

    fig3a = _read(directory, "fig3a_summary")
    fig3a_rows = _read(directory, "fig3a")
    for policy, paper in (("sjf", (2.0, 21.0)), ("rr", (2.8, 12.7))):
        claim = _improvement_claim(
            fig3a,
            fig3a_rows,
            policy,
            paper,
            f"Variance gain over all-local at R = 1, {policy.upper()} (Fig. 3A)",
        )
        if claim:
            claims.append(claim)

    fig3c = _read(directory, "fig3c_summary")
    fig3c_rows = _read(directory, "fig3c")
    if fig3c is not None:
        n = 10 if 10 in set(fig3c.devices) else int(fig3c.devices.min())
        part = fig3c[(fig3c.devices == n)].sort_values("ratio")
        slope = _trend(np.log10(part.ratio), part["mean"])
        first, last = float(part["mean"].iloc[0]), float(part["mean"].iloc[-1])
        lo, hi = min(first, last), max(first, last)
        verdict = _range_verdict(lo, hi, (21.0, 67.2), slope > 0)
        ours = (
            f"{first:.1f}% at R = {part.ratio.iloc[0]:g} to {last:.1f}% at R = "
            f"{part.ratio.iloc[-1]:g} for N = {n}; the gain {_direction(slope)} with R"
        )
        why = (
            "—"
            if verdict == "reproduced"
            else _join(
                _baseline_reason(fig3c_rows),
                _noise_reason(part, (21.0, 67.2)),
                _provenance_reason(fig3c_rows),
            )
        )
        claims.append(
            Claim(
                "Variance gain grows with R (Fig. 3C)",
                "from 21% to 67.2% for 10 devices",
                ours,
                verdict,
                why,
            )
        )

    fig3b = _read(directory, "fig3b_summary")
    fig3b_rows = _read(directory, "fig3b")
    if fig3b is not None:
        part = _greedy(fig3b)
        part = part[part.ratio == part.ratio.min()]
        lo, hi = float(part["mean"].min()), float(part["mean"].max())
        verdict = "reproduced" if lo > 0 and hi <= 10 else "partly" if lo > 0 else "not reproduced"
        ours = f"{lo:.1f}–{hi:.1f}% smaller total delay (means over seeds, all N and policies)"
        idle = (
            "at R = 1 an idle BS as fast as the device still beats a device CPU shared with "
            "background processes, so offloading can gain more than a few %"
        )
        why = (
            "—"
            if verdict == "reproduced"
            else _join(
                _limits_reason(fig3b_rows, "total") if lo <= 0 else "",
                _stuck_reason(part) if lo <= 0 else "",
                idle if hi > 10 else "",
                _provenance_reason(fig3b_rows),
            )
        )
        claims.append(
            Claim(
                "Total delay vs all-local at R = 1 (Fig. 3B)",
                "slightly better (a few %)",
                ours,
                verdict,
                why,
            )
        )

    share = _read(directory, "fig3_local_share_summary")
    share_rows = _read(directory, "fig3_local_share")
    if share is not None:
        lines = []
        for key, part in share.groupby(["objective", "policy"], sort=True):
            part = part.sort_values("devices")
            lines.append((key, _trend(part.devices, part["mean"]), part))
        growing = [key for key, slope, _ in lines if slope > 0]
        verdict = (
            "reproduced"
            if len(growing) == len(lines)
            else "partly"
            if growing
            else "not reproduced"
        )
        detail = "; ".join(
            f"{obj}/{pol.upper()}: {p['mean'].iloc[0]:.0f}% → {p['mean'].iloc[-1]:.0f}%"
            for (obj, pol), _, p in lines
        )
        ours = f"{len(growing)} of {len(lines)} lines grow with N ({detail})"
        why = (
            "—"
            if verdict == "reproduced"
            else _join(
                "each extra device lengthens the shared BS queue, which should push devices "
                "towards local execution; lines that stay flat or fall mean that over this "
                "range of N the queue does not outweigh the device's own shared CPU",
                _provenance_reason(share_rows),
            )
        )
        claims.append(
            Claim(
                "More layers run locally as N grows (Fig. 3 text)",
                "the average share of local layers grows with N",
                ours,
                verdict,
                why,
            )
        )
    return claims


def build_report(directory: str | os.PathLike[str] | None = None) -> str:
    """The text of REPRODUCTION.md from the CSVs in ``directory`` (default figures/)."""
    directory = Path(directory) if directory else FIGURES_DIR
    claims = evaluate_claims(directory)
    fig3a = _read(directory, "fig3a")
    fig5 = _read(directory, "fig5")
    seeds = sorted(set(fig3a.seed)) if fig3a is not None else []
    seeds5 = sorted(set(fig5.seed)) if fig5 is not None else []
    lines = [
        "# Reproduction report",
        "",
        "Built by `notebooks/05_reproduction_report.ipynb` from the CSV files in `figures/`;",
        "nothing below is typed by hand except the paper's claims. Regenerate with",
        "`./run_all.sh`. Verdict rules: see `dnnsplit/report.py`.",
        "",
        f"Seeds per point: {len(seeds)} (Fig. 3), {len(seeds5)} (Fig. 5); the paper shows "
        "one random draw per point.",
    ]
    if seeds and len(seeds) < 10:
        lines += [
            "",
            "**This is a quick run (fewer than 10 seeds per point): a smoke test, not a result.**",
        ]
    counts = pd.Series([c.verdict for c in claims]).value_counts()
    lines += [
        "",
        "Verdicts: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + ".",
        "",
        "| claim | paper | ours | verdict | why they differ |",
        "|---|---|---|---|---|",
    ]
    for c in claims:
        lines.append(f"| {c.claim} | {c.paper} | {c.ours} | **{c.verdict}** | {c.why} |")
    prov = _provenance_reason(fig3a)
    lines += [
        "",
        "## What stands behind these numbers",
        "",
        f"- Stage timings: {prov or 'see figures/fig4.csv'}. Figures built on estimated "
        "timings say so in their captions.",
        "- Model choices the paper left open are listed in `MODEL.md` terms in the README "
        "(partition point 0 = full offload, the clamped local-delay form, 0–3 background "
        "processes, q = 10 ms, the channel constants).",
        "- Where a claim is not reproduced, the table says so and gives the reason our "
        "data supports; the algorithms are implemented as the paper states them and were "
        "not tuned to match its figures.",
        "",
    ]
    beyond = _beyond_lines(directory)
    if beyond:
        lines += ["## Beyond the paper", "", *beyond, ""]
    return "\n".join(lines)


def _span(values: pd.Series) -> str:
    return f"{values.min():.1f}% to {values.max():.1f}%"


def _beyond_lines(directory: Path) -> list[str]:
    """Findings of ``04_beyond_the_paper`` (quantum sensitivity, timeline model), if run."""
    lines = []
    quantum = _read(directory, "beyond_quantum_summary")
    if quantum is not None:
        parts = []
        for (form, n, policy), part in quantum.groupby(["local_delay", "devices", "policy"]):
            part = part.sort_values("quantum_ms")
            parts.append(
                f"{part['mean'].iloc[0]:.1f}% at q = {part.quantum_ms.iloc[0]:g} ms to "
                f"{part['mean'].iloc[-1]:.1f}% at q = {part.quantum_ms.iloc[-1]:g} ms with the "
                f"{form} form of eq. (1) (N = {n}, {str(policy).upper()})"
            )
        lines.append(
            "- **The device quantum q**, which the paper does not give: greedy's "
            "variance gain over all-local goes from " + "; from ".join(parts) + ". Every "
            "figure above uses q = 10 ms (`figures/beyond_quantum.*`)."
        )
    gap = _read(directory, "beyond_timeline_summary")
    if gap is not None:
        parts = []
        for policy, part in gap.groupby("policy"):
            total = part[part.metric == "total_gap_pct"]
            variance = part[part.metric == "variance_gap_pct"]
            parts.append(
                f"{str(policy).upper()}: total delay {_span(total['mean'])}, variance "
                f"{_span(variance['mean'])} (N = {total.devices.min()}–{total.devices.max()})"
            )
        lines.append(
            "- **The snapshot assumption**: re-evaluated with each task reaching the BS only "
            "when its tensor does (the timeline model), greedy's total-delay solutions change "
            "by " + "; ".join(parts) + ", means over seeds; negative is faster than the "
            "paper's model says (`figures/beyond_timeline.*`)."
        )
    return lines


def write_report(
    directory: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None
) -> Path:
    """Write REPRODUCTION.md (default: the repository root, or ``directory`` when given)."""
    target = (
        Path(path)
        if path
        else (Path(directory) / "REPRODUCTION.md" if directory else ROOT / "REPRODUCTION.md")
    )
    return atomic_write(target, build_report(directory))
