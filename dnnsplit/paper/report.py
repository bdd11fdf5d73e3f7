"""REPRODUCTION.md, built from the figures' CSVs and manifests: each claim of the paper
(:mod:`dnnsplit.paper.claims`) beside our number, judged point by point, with a verdict and
the reason where they differ.

Nothing here states a number of the paper: the claims are data, the verdicts follow one
function per kind (:mod:`dnnsplit.paper.verdicts`), and every reason is computed from our
rows and from the setup recorded in the manifest of the run that wrote them, so the text
follows the parameters (the background range, the quantum, greedy's start, ...) instead
of quoting them as constants. A reason says what was computed and no more. A claim whose
input is missing gets one line naming the file and the notebook that writes it; a run
whose manifest is missing is named, and the reasons that need its setup are left out.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnnsplit._io import atomic_write
from dnnsplit.paper import energy, online, testbed
from dnnsplit.paper.claims import CLAIMS, LEVELS, QUANTITIES, READINGS, Claim, Reads
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.output import output_dir, read_caption, read_manifest
from dnnsplit.paper.stats import INFORMATIVE_BOUND, informative_bound, where
from dnnsplit.paper.verdicts import (
    AXIS_NAMES,
    JudgedPoint,
    MissingInput,
    Verdict,
    judge,
    select,
    select_all,
    trend_slope,
    trend_words,
)
from dnnsplit.policies import display_name
from dnnsplit.profiles import load_profile
from dnnsplit.setup import Setup

__all__ = [
    "NOTEBOOK_OF_RUN",
    "REASONS",
    "Answer",
    "answer_claims",
    "build_report",
    "covers",
    "write_report",
]

#: Which notebook writes the files of each run (``fig5_summary.csv`` belongs to ``fig5``).
NOTEBOOK_OF_RUN = {
    "quickstart": "00_quickstart.ipynb",
    "fig4": "01_stage_profiles.ipynb",
    "fig3": "02_improvement_over_all_local.ipynb",
    "fig5": "03_greedy_vs_optimal.ipynb",
    "beyond": "04_beyond_the_paper.ipynb",
    "networks": "05_other_networks.ipynb",
    "readings": "06_readings.ipynb",
    "mechanism": "06_readings.ipynb",
    "testbed": "08_testbed.ipynb",
    "energy": "09_energy.ipynb",
    "online": "10_online.ipynb",
}


def run_of(csv: str) -> str:
    """The run a CSV belongs to: ``fig3a_summary`` → ``fig3``, ``fig5`` → ``fig5``."""
    stem = csv.removesuffix("_summary")
    for run in NOTEBOOK_OF_RUN:
        if stem.startswith(run):
            return run
    return stem


@dataclass(frozen=True)
class Answer:
    """A claim and our answer to it (``verdict`` None when its input is missing)."""

    claim: Claim
    verdict: Verdict | None
    context: str
    why: str


def _policies(names: tuple[str, ...]) -> str:
    shown = [display_name(p) for p in names]
    return " and ".join(shown) if len(shown) == 2 else ", ".join(shown)


def covers(claim: Claim, verdict: Verdict | None) -> str:
    """Which policies, N and R a claim covers, as text (``SJF and RR; N = 10–50; R = 1``)."""
    parts = [_policies(claim.policies)]
    fixed = {**claim.reads[0].rows}
    axis = claim.reads[0].x
    if verdict is not None:
        xs = [p.x for p in verdict.points if math.isfinite(p.x)]
        if xs:
            parts.append(f"{AXIS_NAMES.get(axis, axis)} = {min(xs):g}–{max(xs):g}")
    for column in ("devices", "ratio"):
        if column in fixed and column != axis:
            parts.append(f"{AXIS_NAMES[column]} = {fixed[column]:g}")
    return "; ".join(parts)


# --- the reasons -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What a reason may look at: the claim, our verdict, the folder, the run's setup and
    experiment (None when the run's manifest is missing)."""

    claim: Claim
    verdict: Verdict
    directory: Path
    setup: Setup | None
    experiment: Experiment | None = None

    def rows(self, csv: str | None = None) -> pd.DataFrame | None:
        """The tidy rows behind a summary (``fig3a.csv`` for ``fig3a_summary``)."""
        stem = (csv or self.claim.reads[0].csv).removesuffix("_summary")
        path = self.directory / f"{stem}.csv"
        return pd.read_csv(path) if path.exists() else None

    @property
    def low(self) -> float:
        return self.verdict.numbers.get("low", math.nan)

    @property
    def high(self) -> float:
        return self.verdict.numbers.get("high", math.nan)

    @property
    def paper_high(self) -> float:
        return self.claim.paper.band[1] if self.claim.paper is not None else math.nan


def _start_text(experiment: Experiment) -> str:
    return {"half": "⌊s̃/2⌋", "ones": "p = 1", "local": "s̃_i"}[experiment.start]


def _objective_of(csv: str) -> str:
    return "total" if csv.startswith("fig3b") else "variance"


def _reason_stuck(facts: _Facts) -> str:
    if not facts.low <= 0 or facts.experiment is None:
        return ""
    rows = select_all(facts.directory, facts.claim)
    worst = rows.loc[rows["_value"].idxmin()]
    return (
        f"greedy starts at {_start_text(facts.experiment)} and stops at the first local optimum "
        "of one-stage moves, which can be worse than the all-local vector it never looks at "
        f"(worst: {worst['_line'] or display_name(str(worst.get('policy', '')))}, "
        f"N = {worst['devices']}, {worst['_value']:.1f}%)"
    )


def _reason_limits(facts: _Facts) -> str:
    if not facts.low <= 0 or facts.setup is None or facts.experiment is None:
        return ""
    if facts.experiment.baseline != "all-local":
        return ""
    parts = []
    for reads in facts.claim.reads:
        rows = facts.rows(reads.csv)
        if rows is None:
            continue
        objective = _objective_of(reads.csv)
        rows = _scoped(rows, reads)
        values = rows[(rows.objective == objective) & (rows.metric == objective)]
        wide = values.pivot_table(
            index=["policy", "ratio", "devices", "seed"], columns="solver", values="value"
        )
        if not {"all-local", "max-local"} <= set(wide.columns):
            continue
        extra = 100 * (wide["max-local"] - wide["all-local"]) / wide["all-local"]
        by_n = extra.groupby(level="devices").mean()
        notes = [f"the mean over seeds per N, N = {by_n.index.min()}–{by_n.index.max()}"]
        exact = where(rows, solver="exact", metric="improvement_pct", objective=objective)
        if not exact.empty:
            exact_by_n = exact.groupby(["policy", "devices"]).value.mean()
            (policy, n), worst = exact_by_n.idxmin(), float(exact_by_n.min())
            if worst < 0:
                notes.append(
                    f"even the certified optimum within the limits, exact under "
                    f"{display_name(str(policy))}, is {-worst:.1f}% worse than all-local at "
                    f"N = {n}"
                )
        parts.append(
            f"{_signed_range(float(by_n.min()), float(by_n.max()))} {objective} than "
            f"all-local ({'; '.join(notes)})"
        )
    if not parts:
        return ""
    stages = load_profile(facts.setup.profile).n_stages
    low, high = facts.setup.max_stage
    limited = f"{low}–{min(high, stages) - 1}" if low < stages - 1 else f"{low}"
    return (
        f"the paper's all-local baseline runs all {stages} stages even on devices whose memory "
        f"allows only s̃ = {limited}, so it is not a feasible choice: the most local "
        f"feasible choice (p = s̃_i) has {' and '.join(parts)}"
    )


def _signed_range(low: float, high: float) -> str:
    """'12% to 40% more', '5% less to 30% more', '3% to 9% less'."""

    def words(value: float) -> str:
        return f"{abs(value):.0f}% {'more' if value >= 0 else 'less'}"

    if low >= 0:
        return f"{low:.0f}% to {words(high)}"
    if high < 0:
        return f"{-high:.0f}% to {words(low)}"
    return f"{words(low)} to {words(high)}"


def _scoped(rows: pd.DataFrame, reads: Reads) -> pd.DataFrame:
    """The tidy rows of the scenarios a claim reads (its policy, R and N where it names
    them); which solver, objective and metric is left to the caller."""
    for column in ("policy", "ratio", "devices"):
        if column in reads.rows and column in rows.columns:
            rows = rows[rows[column] == reads.rows[column]]
    return rows


def _reason_baseline_spread(facts: _Facts) -> str:
    rows = facts.rows()
    if rows is None or facts.setup is None or not facts.high > facts.paper_high:
        return ""
    rows = _scoped(rows, facts.claim.reads[0])
    base = rows[(rows.solver == "all-local") & (rows.metric == "variance")]
    greedy = rows[
        (rows.solver == "greedy") & (rows.metric == "variance") & (rows.objective == "variance")
    ]
    if base.empty or greedy.empty:
        return ""
    low, high = facts.setup.background
    return (
        f"all-local delays differ only through each device's background load ({low}–{high} "
        f"processes, our choice: the paper gives no range), which makes the baseline's "
        f"variance large (mean {base.value.mean():.3g} s² against greedy's "
        f"{greedy.value.mean():.3g} s², over the scenarios this claim covers)"
    )


def _reason_noise(facts: _Facts) -> str:
    """Where the paper shows one scenario per point, the fair comparison is with the spread
    of our seeds (min–max over seeds), not with an interval of our mean."""
    reads = facts.claim.reads[0]
    summary = select(facts.directory, reads)
    if not {"min", "max"} <= set(summary.columns) or facts.claim.paper is None:
        return ""
    inside = []
    for _, row in summary.iterrows():
        low, high = facts.claim.paper.at_point(float(row[reads.x]))
        inside.append(bool(row["min"] <= high and row["max"] >= low))
    seeds = int(summary["n"].max())
    if not any(inside):
        return (
            f"the paper's value lies outside our seed-to-seed range (min–max over {seeds} "
            "seeds) at every point: no single draw of ours matches it"
        )
    return (
        f"the paper's value lies within our seed-to-seed range (min–max over {seeds} seeds) "
        f"at {sum(inside)} of {len(inside)} points, so a single draw of ours can match it "
        "there (the paper gives no seed count)"
    )


def _reason_idle_bs(facts: _Facts) -> str:
    if facts.setup is None or not facts.high > facts.paper_high:
        return ""
    return (
        f"at R = {facts.setup.ratio:g} an idle BS as fast as the device still beats a device "
        "CPU shared with background processes, so offloading can gain more than a few %"
    )


def _reason_local_optimum(facts: _Facts) -> str:
    return (
        "the paper's greedy stops at the first local optimum of one-stage moves, and on the "
        "variance objective such optima are often far from the best (docs/model.md, "
        '"Beyond the paper\'s greedy"; compare local-search)'
    )


def _reason_small_optimum(facts: _Facts) -> str:
    summary = facts.directory / "fig5_summary.csv"
    if not summary.exists():
        return ""
    frame = pd.read_csv(summary)
    mean_gaps = where(frame, objective="variance", solver=facts.claim.solver, metric="gap_pct")
    if mean_gaps.empty:
        return ""
    return (
        f"a % of a small optimal variance magnifies the gap: the mean of per-case gaps is "
        f"{_pct(mean_gaps['mean'].min())} to {_pct(mean_gaps['mean'].max())}, far above the "
        "gap between the mean variances that the verdict uses"
    )


def _reason_zero_optimum(facts: _Facts) -> str:
    rows = facts.rows("fig5")
    if rows is None:
        return ""
    gaps = rows[(rows.solver == facts.claim.solver) & (rows.metric == "gap_pct")].value
    infinite = int(np.isinf(gaps).sum())
    if not infinite:
        return ""
    return (
        f"in {_cases(infinite)} the optimum has zero variance (every delay equal), where any "
        "worse solution has an infinite gap (shown as ∞)"
    )


def _reason_queue(facts: _Facts) -> str:
    return (
        "each extra device lengthens the shared BS queue, which should push devices "
        "towards local execution; lines that stay flat or fall mean that over this range of "
        "N the queue does not outweigh the device's own shared CPU"
    )


def _reason_rr_fairer(facts: _Facts) -> str:
    rows = facts.rows()
    if rows is None:
        return ""
    greedy = where(rows, solver="greedy", objective="variance", metric="variance")
    base = where(rows, solver="all-local", objective="variance", metric="variance")
    if greedy.empty or base.empty:
        return ""
    by_policy = greedy.groupby("policy").value.mean()
    if not {"sjf", "rr"} <= set(by_policy.index):
        return ""
    return (
        "both policies share one all-local baseline (it never uses the BS: mean variance "
        f"{base.value.mean():.3g} s²), and round-robin, which serves every offloaded task a "
        "little at a time, leaves greedy's delays closer together than SJF, whose queue adds "
        "each shorter task's work to every longer one (greedy's mean variance "
        f"{by_policy['rr']:.3g} s² under RR against {by_policy['sjf']:.3g} s² under SJF)"
    )


def _reason_provenance(facts: _Facts) -> str:
    if facts.setup is None:
        return ""
    prov = load_profile(facts.setup.profile).provenance
    if prov["method"] == "estimated":
        return (
            f"our device stage times are estimated for the {prov['hardware']} by a roofline "
            "rule, the paper's were measured on one and not published"
        )
    return (
        f"our device stage times were measured on {prov['hardware']}, not on the paper's "
        "Raspberry Pi 3B+"
    )


#: The mechanisms a claim may name in ``reasons``; each returns "" when it does not apply.
REASONS: dict[str, Callable[[_Facts], str]] = {
    "stuck": _reason_stuck,
    "limits": _reason_limits,
    "baseline-spread": _reason_baseline_spread,
    "noise": _reason_noise,
    "idle-bs": _reason_idle_bs,
    "local-optimum": _reason_local_optimum,
    "small-optimum": _reason_small_optimum,
    "zero-optimum": _reason_zero_optimum,
    "queue": _reason_queue,
    "rr-fairer": _reason_rr_fairer,
    "provenance": _reason_provenance,
}


# --- answering the claims ----------------------------------------------------------------


def _setup_of(directory: Path, csv: str) -> Setup | None:
    """The setup recorded in the manifest of the run that wrote ``csv``, or None."""
    manifest = read_manifest(directory, run_of(csv))
    if manifest is None or manifest.get("setup") is None:
        return None
    return Setup.from_dict(manifest["setup"], where=f"{run_of(csv)}.manifest.json setup")


def _experiment_of(directory: Path, csv: str) -> Experiment | None:
    """The experiment recorded in the manifest of the run that wrote ``csv``, or None."""
    manifest = read_manifest(directory, run_of(csv))
    if manifest is None or manifest.get("experiment") is None:
        return None
    return Experiment.from_dict(
        manifest["experiment"], where=f"{run_of(csv)}.manifest.json experiment"
    )


def _pct(value: float) -> str:
    if math.isinf(value):
        return "∞"
    return f"{value:.0f}%" if abs(value) >= 1000 else f"{value:.1f}%"


def _number(value: float, unit: str) -> str:
    if math.isinf(value):
        return "∞"
    if unit == "×":
        return f"{value:.2f}×"
    return _pct(value)


def _context(claim: Claim, directory: Path) -> str:
    parts = []
    for label, reads in claim.context:
        try:
            values = select(directory, reads)[reads.value].to_numpy(dtype=float)
        except MissingInput:
            continue
        unit = "×" if "std" in label else "%"
        parts.append(f"{label} {_number(values.min(), unit)}–{_number(values.max(), unit)}")
    return "; ".join(parts)


def answer_claims(directory: str | os.PathLike[str] | None = None) -> list[Answer]:
    """Answer every claim of :data:`~dnnsplit.paper.claims.CLAIMS` from ``directory``.

    A claim whose CSV or rows are missing gets ``verdict=None`` and a ``why`` that names
    the file and the notebook that writes it (no exception).
    """
    directory = output_dir(directory)
    answers = []
    for claim in CLAIMS:
        try:
            verdict = judge(claim, directory)
        except MissingInput as missing:
            notebook = NOTEBOOK_OF_RUN.get(run_of(claim.csvs[0]), "the notebook that writes it")
            answers.append(Answer(claim, None, "", f"not evaluated: {missing}; run {notebook}"))
            continue
        why = "—"
        if verdict.verdict != "reproduced":
            facts = _Facts(
                claim,
                verdict,
                directory,
                _setup_of(directory, claim.csvs[0]),
                _experiment_of(directory, claim.csvs[0]),
            )
            reasons = [REASONS[name](facts) for name in claim.reasons]
            why = "; ".join(r for r in reasons if r) or "—"
        answers.append(Answer(claim, verdict, _context(claim, directory), why))
    return answers


def _judging_lines() -> list[str]:
    """How a claim is judged: the levels, the paper's value per point, the tolerances."""
    lines = [
        "Every claim is judged **point by point** (each N, each R, each policy it covers) "
        "against the paper's value or band at that point, within a tolerance that belongs "
        "to the quantity the claim is about (the same for every claim about it):",
        "",
        "- **reproduced**: every point within tolerance, and the trend or sign the paper "
        "states holds;",
        "- **partly**: some points within tolerance, and the stated trend or sign holds;",
        "- **direction only**: no point within tolerance, but the stated trend or sign holds;",
        "- **not reproduced**: otherwise.",
        "",
        "A claim that states only a direction, an ordering or a sign is reproduced when it "
        "holds at every point, partly when at some. Where the paper gives a range and says "
        "the value shrinks or grows, the range's ends are read as its values at the axis' "
        "ends, and the band between them holds at the points in between.",
        "",
        "| quantity | tolerance | why |",
        "|---|---|---|",
    ]
    used = {c.quantity for c in CLAIMS}
    for quantity in QUANTITIES.values():
        if quantity.id in used:
            lines.append(
                f"| {quantity.name} | ±{quantity.tolerance:g} {quantity.unit} | {quantity.why} |"
            )
    return lines


def _point_lines(answers: list[Answer]) -> list[str]:
    """Every claim's points: ours against the paper's, and whether it holds."""
    lines = [
        "Our number at each point beside the paper's (✓ within tolerance, or the stated "
        "direction holds there; ✗ not).",
        "",
        "| claim | points |",
        "|---|---|",
    ]
    for a in answers:
        if a.verdict is None:
            continue
        cells = [f"{p.label}: {_point_text(a.claim, p)} {'✓' if p.holds else '✗'}"
                 for p in a.verdict.points]
        lines.append(f"| {a.claim.title} | {'; '.join(cells)} |")
    return lines


def _point_text(claim: Claim, point: JudgedPoint) -> str:
    """Our number at a point beside the paper's, as the point-by-point table shows it."""
    if claim.kind == "value":
        return f"{_pct(point.ours)} vs {point.paper}"
    if claim.kind == "frequency":
        return f"{100 * point.ours:.0f}% vs {point.paper}"
    if claim.kind == "largest":
        return f"largest at N = {point.ours:g} (paper: {point.paper})"
    if claim.kind == "direction":
        return f"slope {point.ours:+.3g} (paper: {point.paper})"
    return f"{point.ours:+.1f} (paper: {point.paper})"


def _seeds(directory: Path, run: str) -> tuple[int, bool] | None:
    manifest = read_manifest(directory, run)
    if manifest is None:
        return None
    grids = manifest.get("grids", {})
    seeds = max((len(g.get("seeds", [])) for g in grids.values()), default=0)
    return seeds, bool(manifest.get("quick"))


def build_report(directory: str | os.PathLike[str] | None = None) -> str:
    """The text of REPRODUCTION.md from the CSVs and manifests in ``directory``."""
    directory = output_dir(directory)
    answers = answer_claims(directory)
    fig3, fig5 = _seeds(directory, "fig3"), _seeds(directory, "fig5")
    lines = [
        "# Reproduction report",
        "",
        "Built by `notebooks/07_reproduction_report.ipynb` from the CSV files and manifests",
        "in `figures/`; nothing below is typed by hand. The paper's claims, their tolerances",
        "and the verdict rules are data in `dnnsplit/paper/claims.py`; the model and every",
        "choice behind these numbers are in [docs/model.md](docs/model.md). Regenerate with",
        "`./run_all.sh`.",
        "",
    ]
    seeds = [f"{s[0]} ({name})" for name, s in (("Fig. 3", fig3), ("Fig. 5", fig5)) if s]
    if seeds:
        lines.append(
            f"Seeds per point: {', '.join(seeds)}; the paper gives no seed count. Our numbers "
            "are means over seeds; where the paper may show a single draw, the reasons compare "
            "its value with the spread of our seeds (min–max), not with an interval of our "
            "mean."
        )
    missing_runs = [
        run for run in ("fig3", "fig5") if read_manifest(directory, run) is None
    ]
    if missing_runs:
        lines += [
            "",
            "The manifest of run(s) "
            + ", ".join(f"`{r}`" for r in missing_runs)
            + " is missing: the reasons that depend on the setup are left out for their "
            "claims.",
        ]
    if any(s and s[1] for s in (fig3, fig5)):
        lines += [
            "",
            "**This is a quick run (a reduced grid, `quick = True`): a smoke test, not a result.**",
        ]
    counts = pd.Series([a.verdict.verdict for a in answers if a.verdict]).value_counts()
    missing = sum(a.verdict is None for a in answers)
    summary = ", ".join(f"{int(counts[k])} {k}" for k in LEVELS if k in counts)
    if missing:
        summary += f"{', ' if summary else ''}{missing} not evaluated (input missing)"
    lines += [
        "",
        f"Verdicts on {len(answers)} claims: {summary}.",
        "",
        "| claim | covers | paper | judged on | ours | verdict | why they differ |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in answers:
        if a.verdict is None:
            lines.append(
                f"| {a.claim.title} | {covers(a.claim, None)} | {a.claim.paper_text} | "
                f"{a.claim.statistic} | — | — | {a.why} |"
            )
            continue
        ours = a.verdict.ours + (f" ({a.context})" if a.context else "")
        lines.append(
            f"| {a.claim.title} | {covers(a.claim, a.verdict)} | {a.claim.paper_text} | "
            f"{a.claim.statistic} | {ours} | **{a.verdict.verdict}** | {a.why} |"
        )
    lines += ["", "## How a claim is judged", "", *_judging_lines()]
    lines += ["", "### Point by point", "", *_point_lines(answers)]
    lines += ["", "### The paper's words", ""]
    lines += [f"- **{c.title}**{_source(c)}: {_words(c)}" for c in CLAIMS]
    held = _readings_lines(directory)
    if held:
        lines += ["", "## Under which readings each claim holds", "", *held]
    scale = _scale_lines(directory)
    if scale:
        lines += ["", "## Greedy at the paper's sizes", "", *scale]
    setup = _setup_lines(directory)
    if setup:
        lines += [
            "",
            "## The setup behind these numbers",
            "",
            "Every choice the paper leaves open, as recorded in each run's manifest",
            "(`figures/*.manifest.json`); [docs/model.md](docs/model.md) gives the evidence",
            "for each. The algorithms are implemented as the paper states them and were not",
            "tuned to match its figures.",
            "",
            *setup,
        ]
    networks = _networks_lines(directory)
    if networks:
        lines += ["", "## Beyond AlexNet", "", *networks]
    beyond = _beyond_lines(directory)
    if beyond:
        lines += ["", "## Beyond the paper", "", *beyond]
    measured = testbed.report_section(directory)
    if measured:
        lines += ["", *measured]
    joules = energy.report_section(directory)
    if joules:
        lines += ["", *joules]
    moving = online.report_section(directory)
    if moving:
        lines += ["", moving.rstrip("\n")]
    figures = _caption_lines(directory)
    if figures:
        lines += ["", "## The figures and where their numbers come from", "", *figures]
    return "\n".join(lines) + "\n"


# --- readings ----------------------------------------------------------------------------


def _reading_support(reading_id: str) -> list[tuple[str, bool, str]]:
    """Each declared part of a (combined) reading: id, supported by the text, the words."""
    known = {r.id: r for r in READINGS}
    out = []
    for part in reading_id.split("+"):
        r = known.get(part)
        if r is not None:
            out.append((part, r.supported, r.support))
    return out


def _readings_lines(directory: Path) -> list[str]:
    """From ``readings.csv`` (notebook 06): per claim, the readings under which it is
    reproduced, the closest combination with its number, and the best-fitting combination
    with what it costs."""
    path = directory / "readings.csv"
    if not path.exists():
        return ["No reading tried: `readings.csv` is missing (run notebooks/06_readings.ipynb)."]
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    found_path = directory / "readings_found.csv"
    found = pd.read_csv(found_path) if found_path.exists() else pd.DataFrame(
        columns=["claim", "search", "reading"]
    )
    declared = {r.id for r in READINGS}
    lines = [
        "Every claim answered under every declared reading of what the paper leaves open "
        "(`dnnsplit/paper/claims.py`, `READINGS`: what each changes, and the paper's words "
        "that support it or `none: chosen by fit`), and under the combinations the documented "
        "searches of `dnnsplit/paper/readings.py` evaluated (ids joined by `+`), with the "
        "same verdict functions; the numbers are in `figures/readings.csv`, each search's "
        "path in `figures/readings_search.csv`, the map in `figures/readings.png`. **A "
        "reading chosen by fit is not evidence**: that a claim holds under some reading says "
        "what the paper's unstated setup would have to be, not that it was.",
        "",
        "| claim | reproduced under | closest combination found | its number | its verdict "
        "| parts the text does not support |",
        "|---|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        rows = table[(table.claim == claim.id) & table.distance.notna()]
        if rows.empty:
            lines.append(f"| {claim.title} | no reading tried | — | — | — | — |")
            continue
        held = rows[rows.verdict == "reproduced"].reading.tolist()
        held_text = ", ".join(
            f"`{r}`" + ("" if all(s for _, s, _ in _reading_support(r)) else " (fit)")
            for r in held[:6]
        ) + (f" and {len(held) - 6} more" if len(held) > 6 else "")
        mine = found[(found.claim == claim.id)]
        if mine.empty:
            closest = rows.sort_values(["distance", "reading"], kind="stable").iloc[0]
        else:
            closest = rows[rows.reading == mine.reading.iloc[0]].iloc[0]
        unsupported = [p for p, s, _ in _reading_support(closest.reading) if not s]
        unsupported = [p for p in unsupported if p in declared and p != "default"]
        lines.append(
            f"| {claim.title} | {held_text or 'none'} | `{closest.reading}` | {closest.ours} | "
            f"{closest.verdict} | {', '.join(f'`{p}`' for p in unsupported) or '—'} |"
        )
    lines += ["", *_best_fit_lines(table, found)]
    return lines


def _best_fit_lines(table: pd.DataFrame, found: pd.DataFrame) -> list[str]:
    best = found[found.search == "best fit"]
    if best.empty or "default" not in set(table.reading):
        return []
    best_id = str(best.reading.iloc[0])
    mine = table[table.reading == best_id].set_index("claim")
    default = table[table.reading == "default"].set_index("claim")

    def counted(rows: pd.DataFrame) -> str:
        counts = rows.verdict.value_counts()
        return ", ".join(f"{int(counts[k])} {k}" for k in LEVELS if k in counts)

    if best_id == "default":
        return [
            "**Best-fitting combination** (chosen by fit: the least total distance over all "
            "claims that the search found): our default reading itself "
            f"({counted(default)})."
        ]
    parts = _reading_support(best_id)
    supported = [f"`{p}` (“{words}”)" for p, s, words in parts if s]
    unsupported = [f"`{p}`" for p, s, _ in parts if not s]
    rank = {k: i for i, k in enumerate(LEVELS)}
    worse = []
    for claim in CLAIMS:
        if claim.id not in mine.index or claim.id not in default.index:
            continue
        new, old = mine.loc[claim.id], default.loc[claim.id]
        if rank.get(new.verdict, 9) > rank.get(old.verdict, 9) or (
            new.verdict == old.verdict and new.distance > old.distance + 1e-12
        ):
            worse.append(f"{claim.title}: {old.verdict} → {new.verdict} ({new.ours})")
    text = [
        f"**Best-fitting combination** (chosen by fit, not by the paper's text: the least "
        f"total distance over all claims that the search found): `{best_id}`, with "
        f"{counted(mine)}, against {counted(default)} under our default reading. "
        f"The text supports {', '.join(supported) if supported else 'none of its parts'}"
        f"{'; ' + ', '.join(unsupported) + ' ' + ('has' if len(unsupported) == 1 else 'have') + ' no support in it' if unsupported else ''}."  # noqa: E501
        " The default is kept for the figures above; the map shows every reading side by side.",
    ]
    if worse:
        text += ["", "What it costs other claims (worse than under the default):", ""]
        text += [f"- {w}" for w in worse]
    else:
        text += ["", "It costs no claim: none is further from the paper under it than under the "
                 "default."]
    return text


# --- greedy at the paper's sizes ----------------------------------------------------------


def _scale_lines(directory: Path) -> list[str]:
    """From ``fig5_scale.csv``: per (objective, policy, N), how many cases were certified,
    and greedy's gap only where it is known (certified) or bounded usefully."""
    path = directory / "fig5_scale.csv"
    if not path.exists():
        return []
    rows = pd.read_csv(path)
    best = where(rows, solver="optimal")
    manifest = read_manifest(directory, run_of("fig5_scale")) or {}
    nodes = (manifest.get("notes") or {}).get("scale_max_nodes")
    limit = f"node limit ({nodes:,} search nodes a case)" if nodes else "node limit"
    lines = [
        "At N = 10–50, the sizes of Fig. 3, the certifying solver `optimal` either proves the "
        f"optimum (certified) or stops at its {limit} with the best vector found and a "
        "proven lower bound. Greedy's gap is exact where the case is certified; where it is "
        "not, the gap to the best vector found is a lower estimate and the gap to the bound "
        "an upper one, shown only where the bound is informative (at least "
        f"{INFORMATIVE_BOUND:.0%} of the best value found). `figures/fig5_scale.*`. Where "
        "only some cases of a row are certified, they are the ones the search could finish "
        "within the limit, and greedy's gap on them need not be typical of the row: read the "
        "two gap columns together. A larger node limit certifies more (the solver benchmark in the "
        "README gives each case minutes).",
        "",
        "| objective | policy | N | cases | certified | greedy's gap (certified cases, "
        "median) | greedy's gap, uncertified cases with an informative bound (median of the "
        "gap to the best found – median of the gap to the bound) |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    objective_of = "objective" if "objective" in rows.columns else None
    groups = ["objective", "policy", "devices"] if objective_of else ["policy", "devices"]
    for key, part in best.groupby(groups, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        ids = dict(zip(groups, key, strict=True))
        objective = ids.get("objective", "variance")
        wide = part.pivot_table(index="seed", columns="metric", values="value")
        certified = wide["certified"] >= 1
        greedy = where(rows, solver="greedy", policy=ids["policy"], devices=ids["devices"])
        if objective_of:
            greedy = where(greedy, objective=objective)
        gaps = greedy.pivot_table(index="seed", columns="metric", values="value")
        known = gaps.loc[certified[certified].index, "gap_pct"] if certified.any() else []
        useful = [
            informative_bound(b, k)
            for b, k in zip(wide["lower_bound"], wide["best_known"], strict=True)
        ]
        informative = (~certified) & pd.Series(useful, index=wide.index)
        bounded = gaps.loc[informative[informative].index] if informative.any() else None
        known_text = (
            f"{_pct(float(np.median(known)))} ({_cases(len(known))})" if len(known) else "—"
        )
        bounded_text = (
            f"{_pct(float(bounded.gap_pct.median()))}–"
            f"{_pct(float(bounded.gap_to_bound_pct.median()))} ({_cases(len(bounded))})"
            if bounded is not None and len(bounded)
            else "—"
        )
        lines.append(
            f"| {objective} | {display_name(ids['policy'])} | {ids['devices']} | "
            f"{len(wide)} | {int(certified.sum())} | {known_text} | {bounded_text} |"
        )
    exact = (
        best.pivot_table(index=[*groups, "seed"], columns="metric", values="value")
        .groupby(groups)["certified"]
        .min()
    )
    full = [
        f"{display_name(k[-2])} N = {k[-1]}" + (f" ({k[0]})" if objective_of else "")
        for k, v in exact.items()
        if v >= 1
    ]
    lines += [
        "",
        "Greedy's gap is known exactly, in every case, at: "
        + (", ".join(full) if full else "no N of this grid")
        + ".",
    ]
    return lines


# --- the setup -----------------------------------------------------------------------------


def _setup_lines(directory: Path) -> list[str]:
    """A table of the setup and experiment the figures were made with."""
    runs: dict[str, dict[str, Any]] = {}
    for run in ("fig3", "fig5", "beyond"):
        manifest = read_manifest(directory, run)
        if manifest and manifest.get("setup"):
            setup = Setup.from_dict(manifest["setup"]).to_dict()
            experiment = Experiment.from_dict(manifest.get("experiment") or {}).to_dict()
            runs[run] = {**setup, **experiment}
    if not runs:
        return []
    # one column per distinct setup, headed by the runs that used it
    distinct: dict[str, list[str]] = {}
    for run, values in runs.items():
        distinct.setdefault(json.dumps(values, sort_keys=True), []).append(run)
    columns = [(", ".join(names), runs[names[0]]) for names in distinct.values()]
    default = {**Setup().to_dict(), **Experiment().to_dict()}
    lines = [
        "| choice | " + " | ".join(head for head, _ in columns) + " | default |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for key, value in default.items():
        shown = [_plain(values[key]) for _, values in columns]
        lines.append(f"| `{key}` | " + " | ".join(shown) + f" | {_plain(value)} |")
    return lines


def _plain(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return "–".join(str(v) for v in value)
    return str(value)


def _networks_lines(directory: Path) -> list[str]:
    """From ``networks.csv`` (notebook 05): the claims network by network."""
    path = directory / "networks.csv"
    if not path.exists():
        return []
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    networks = list(dict.fromkeys(table.reading))
    lines = [
        "The same claims for other networks, each with its **estimated** Pi 3B+ stage times "
        "(a roofline rule: `data/measurements/README.md`, which compares each estimate with "
        "our measured host). The other networks' memory limits come from the memory rule "
        "(docs/model.md); AlexNet is shown twice: with the main run's limits (s̃ uniform on "
        "5..8, the same draws as the table above) and under the memory rule (comparable with "
        "the other networks: it gives AlexNet s̃ = 5..8 too, but with other frequencies, "
        "since a device's limit follows its drawn memory). `figures/networks.csv`, "
        "`figures/networks.png`.",
        "",
        "| claim | " + " | ".join(n.removeprefix("network-") for n in networks) + " |",
        "|---|" + "---|" * len(networks),
    ]
    for claim in CLAIMS:
        cells = []
        for network in networks:
            row = table[(table.claim == claim.id) & (table.reading == network)]
            cells.append(f"{row.verdict.iloc[0]}: {row.ours.iloc[0]}" if not row.empty else "—")
        lines.append(f"| {claim.title} | " + " | ".join(cells) + " |")
    counts = table[table.verdict == "reproduced"].groupby("reading").size()
    lines += [
        "",
        "Claims reproduced per network: "
        + ", ".join(f"{n.removeprefix('network-')} {int(counts.get(n, 0))}" for n in networks)
        + f" (of {len(CLAIMS)}).",
    ]
    return lines


def _span(values: pd.Series) -> str:
    return f"{values.min():.1f}% to {values.max():.1f}%"


def _beyond_lines(directory: Path) -> list[str]:
    """Findings of ``04_beyond_the_paper`` (quantum sensitivity, timeline model), if run."""
    lines = []
    setup = _setup_of(directory, "beyond")
    quantum = directory / "beyond_quantum_summary.csv"
    if quantum.exists() and setup is not None:
        frame = pd.read_csv(quantum)
        parts = []
        for (form, n, policy), part in frame.groupby(["local_delay", "devices", "policy"]):
            part = part.sort_values("quantum_ms")
            slope = trend_slope(part.quantum_ms, part["mean"], log_x=True)
            half = float(((part["high"] - part["low"]) / 2).max())
            parts.append(
                f"{part['mean'].iloc[0]:.1f}% at q = {part.quantum_ms.iloc[0]:g} ms to "
                f"{part['mean'].iloc[-1]:.1f}% at q = {part.quantum_ms.iloc[-1]:g} ms with the "
                f"{form} form of eq. (1) (N = {n}, {display_name(str(policy))}; "
                f"{trend_words(part.quantum_ms, part['mean'], slope, 'q')}; the 95% interval "
                f"of the mean at a q is up to ±{half:.0f} points wide)"
            )
        lines.append(
            "- **The device quantum q**, which the paper does not give: greedy's "
            "variance gain over all-local goes from " + "; from ".join(parts) + ". The "
            f"figures above use q = {1000 * setup.quantum_s:g} ms (`figures/beyond_quantum.*`)."
        )
    gap = directory / "beyond_timeline_summary.csv"
    if gap.exists():
        frame = pd.read_csv(gap)
        parts = []
        for policy, part in frame.groupby("policy"):
            total = part[part.metric == "total_gap_pct"]
            variance = part[part.metric == "variance_gap_pct"]
            parts.append(
                f"{display_name(str(policy))}: total delay {_span(total['mean'])}, variance "
                f"{_span(variance['mean'])} (N = {total.devices.min()}–{total.devices.max()})"
            )
        lines.append(
            "- **The snapshot assumption**: re-evaluated with each task reaching the BS only "
            "when its tensor does (the timeline model), greedy's total-delay solutions change "
            "by " + "; ".join(parts) + ", means over seeds; negative is faster than the "
            "paper's model says (`figures/beyond_timeline.*`)."
        )
    return lines


def _caption_lines(directory: Path) -> list[str]:
    """Each figure's full caption (its provenance), from the caption files beside them."""
    lines = []
    for path in sorted(directory.glob("*.png")):
        caption = read_caption(directory, path.stem)
        if caption:
            lines.append(f"- **`figures/{path.name}`**: {caption}")
    return lines


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


def _words(claim: Claim) -> str:
    """The paper's words in quotation marks, or, for a claim it only implies, our
    inference marked as ours."""
    if claim.quote.startswith("("):
        return f"not stated in words; {claim.quote.strip('()')} (our inference)"
    return f"“{claim.quote}”"


def _source(claim: Claim) -> str:
    """Where the quote stands, unless the claim's title already says it."""

    def plain(text: str) -> str:
        return text.lower().replace("(", "").replace(")", "")

    return "" if plain(claim.figure) in plain(claim.title) else f" ({claim.figure})"


def write_report(
    directory: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the report of the CSVs in ``directory`` (empty: ``build/figures/``) to ``path``
    (empty: ``REPRODUCTION.md`` inside ``directory``)."""
    directory = output_dir(directory)
    target = Path(path) if path else directory / "REPRODUCTION.md"
    return atomic_write(target, build_report(directory))
