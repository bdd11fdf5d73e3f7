"""REPRODUCTION.md: the artifact's answer to "does the paper hold?", from the figures' CSVs
and manifests.

This module decides *what* to say: the verdict on every claim (:mod:`dnnsplit.paper.verdicts`),
the mechanisms that explain a difference and their numbers, and each study's section. *How*
it is said lives in the templates (``report.md.j2``, ``reasons.md.j2``, one per section);
every number the text names comes from the rows and the manifests.
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
from dnnsplit.paper import beyond, energy, fig5, networks, online, readings, testbed
from dnnsplit.paper.claims import CLAIMS, LEVELS, QUANTITIES, RULES, Claim, Reads
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.output import (
    NOTEBOOK_OF_RUN,
    experiment_of,
    output_dir,
    read_caption,
    read_manifest,
    setup_of,
)
from dnnsplit.paper.stats import where
from dnnsplit.paper.text import cases, percent, render, slug, table, template_module
from dnnsplit.paper.verdicts import RESAMPLES, ROBUST_SHARE, Folder, MissingInput, Verdict, judge
from dnnsplit.policies import display_name
from dnnsplit.profiles import load_profile
from dnnsplit.setup import Setup

__all__ = ["REASONS", "Answer", "answer_claims", "build_report", "for_reader", "write_report"]


# --- the reasons -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What a reason may look at: the claim, our verdict, the folder, and the setup and
    experiment of the run that wrote the claim's rows (None when its manifest is missing)."""

    claim: Claim
    verdict: Verdict
    folder: Folder
    setup: Setup | None
    experiment: Experiment | None

    def rows(self, reads: Reads) -> pd.DataFrame:
        """The tidy rows of the scenarios ``reads`` covers (its policy, R and N), every
        solver, objective and metric."""
        rows = self.folder.frame(reads.csv)
        scenario = ("policy", "ratio", "devices")
        return where(rows, **{k: v for k, v in reads.rows.items() if k in scenario and k in rows})

    @property
    def low(self) -> float:
        return self.verdict.numbers.get("low", math.nan)

    @property
    def above_paper(self) -> bool:
        high = self.verdict.numbers.get("high", math.nan)
        return self.claim.paper is not None and high > self.claim.paper.band[1]


Reason = Callable[[_Facts], dict[str, Any] | None]


def _stuck(facts: _Facts) -> dict[str, Any] | None:
    if not facts.low <= 0 or facts.experiment is None:
        return None
    worst = min(facts.verdict.points, key=lambda p: p.ours)
    return {"start": facts.experiment.start, "worst": worst.label, "value": percent(worst.ours)}


def _signed_range(low: float, high: float) -> str:
    """'12% to 40% more', '5% less to 30% more', '3% to 9% less'."""

    def words(value: float) -> str:
        return f"{abs(value):.0f}% {'more' if value >= 0 else 'less'}"

    if low >= 0:
        return f"{low:.0f}% to {words(high)}"
    if high < 0:
        return f"{-high:.0f}% to {words(low)}"
    return f"{words(low)} to {words(high)}"


def _limits(facts: _Facts) -> dict[str, Any] | None:
    # the max-local baseline has no limits to show
    if not facts.low <= 0 or facts.setup is None or facts.experiment is None or (
        facts.experiment.baseline != "all-local"
    ):
        return None
    parts, exact = [], ""
    for reads in facts.claim.reads:
        objective = "total" if reads.rows.get("objective") == "total" else "variance"
        rows = facts.rows(reads)
        values = rows[(rows.objective == objective) & (rows.metric == objective)]
        wide = values.pivot_table(
            index=["policy", "ratio", "devices", "seed"], columns="solver", values="value"
        )
        if not {"all-local", "max-local"} <= set(wide.columns):
            continue
        extra = 100 * (wide["max-local"] - wide["all-local"]) / wide["all-local"]
        by_n = extra.groupby(level="devices").mean()
        parts.append(f"{_signed_range(float(by_n.min()), float(by_n.max()))} {objective}")
        certified = where(rows, solver="exact", metric="improvement_pct", objective=objective)
        if not certified.empty:
            by_point = certified.groupby(["policy", "devices"]).value.mean()
            (policy, n), worst = by_point.idxmin(), float(by_point.min())
            if worst < 0:
                exact = (
                    f"{-worst:.1f}% worse than all-local ({objective}, "
                    f"{display_name(str(policy))}, N = {n}; exact under SJF)"
                )
    if not parts:
        return None
    stages = load_profile(facts.setup.profile).n_stages
    low, high = facts.setup.max_stage
    limited = f"{low}–{min(high, stages) - 1}" if low < stages - 1 else f"{low}"
    return {"stages": stages, "limited": limited, "parts": parts, "exact": exact}


def _baseline_spread(facts: _Facts) -> dict[str, Any] | None:
    if facts.setup is None or not facts.above_paper:
        return None
    rows = facts.rows(facts.claim.reads[0])
    base = where(rows, solver="all-local", metric="variance")
    greedy = where(rows, solver="greedy", metric="variance", objective="variance")
    if base.empty or greedy.empty:
        return None
    low, high = facts.setup.background
    return {
        "background": f"{low}–{high}",
        "base": f"{base.value.mean():.3g}",
        "greedy": f"{greedy.value.mean():.3g}",
    }


def _idle_bs(facts: _Facts) -> dict[str, Any] | None:
    return {"ratio": f"{facts.setup.ratio:g}"} if facts.setup and facts.above_paper else None


def _small_optimum(facts: _Facts) -> dict[str, Any] | None:
    try:
        summary = facts.folder.frame("fig5_summary")
    except MissingInput:
        return None
    gaps = where(summary, objective="variance", solver="greedy", metric="gap_pct")["mean"]
    return None if gaps.empty else {"low": percent(gaps.min()), "high": percent(gaps.max())}


def _zero_optimum(facts: _Facts) -> dict[str, Any] | None:
    rows = facts.folder.frame("fig5")
    gaps = where(rows, solver="greedy", metric="gap_pct", objective="variance").value
    infinite = int(np.isinf(gaps).sum())
    return {"cases": f"{cases(infinite)} of {len(gaps)}"} if infinite else None


def _rr_fairer(facts: _Facts) -> dict[str, Any] | None:
    rows = facts.rows(facts.claim.reads[0])
    greedy = where(rows, solver="greedy", objective="variance", metric="variance")
    base = where(rows, solver="all-local", objective="variance", metric="variance")
    by_policy = greedy.groupby("policy").value.mean()
    if base.empty or not {"sjf", "rr"} <= set(by_policy.index):
        return None
    return {
        "rr": f"{by_policy['rr']:.3g}",
        "sjf": f"{by_policy['sjf']:.3g}",
        "base": f"{base.value.mean():.3g}",
    }


#: The mechanisms a claim may name in ``reasons``: each returns the numbers its words need
#: (``templates/reasons.md.j2``), or None where it does not apply.
REASONS: dict[str, Reason] = {
    "stuck": _stuck,
    "limits": _limits,
    "baseline-spread": _baseline_spread,
    "idle-bs": _idle_bs,
    "local-optimum": lambda facts: {},
    "small-optimum": _small_optimum,
    "zero-optimum": _zero_optimum,
    "queue": lambda facts: {},
    "rr-fairer": _rr_fairer,
}


def _words(name: str, part: str, *facts: dict[str, Any]) -> str:
    """A mechanism's words (a macro of ``templates/reasons.md.j2``): its ``_title``, its
    explanation (``""``) or, with a claim's numbers, where it applies (``_here``)."""
    return str(getattr(template_module("reasons"), name.replace("-", "_") + part)(*facts)).strip()


# --- answering the claims ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A claim and our answer to it (``verdict`` None when its input is missing, and
    ``missing`` says why); ``reasons``: (mechanism, its numbers) where one applies."""

    claim: Claim
    verdict: Verdict | None
    context: str = ""
    reasons: tuple[tuple[str, dict[str, Any]], ...] = ()
    missing: str = ""


def _context(claim: Claim, folder: Folder) -> str:
    parts = []
    for label, reads in claim.context:
        try:
            frame = where(folder.frame(reads.csv), **reads.rows)
        except (MissingInput, KeyError):  # no file, or no such column: nothing to quote
            continue
        if frame.empty or "mean" not in frame:
            continue
        values = frame["mean"].to_numpy(dtype=float)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        parts.append(f"{label} {percent(low)}–{percent(high)}")
    return "; ".join(parts)


def answer_claims(directory: str | os.PathLike[str] | None = None) -> list[Answer]:
    """Answer every claim of :data:`~dnnsplit.paper.claims.CLAIMS` from ``directory``.

    A claim whose CSV or rows are missing gets ``verdict=None`` and a ``missing`` that
    names the file and the notebook that writes it (no exception).
    """
    directory = output_dir(directory)
    folder = Folder(directory)
    answers = []
    for claim in CLAIMS:
        stem = claim.csvs[0].removesuffix("_summary")  # the run: fig3a_summary → fig3
        run = next((run for run in NOTEBOOK_OF_RUN if stem.startswith(run)), stem)
        try:
            verdict = judge(claim, folder)
        except MissingInput as missing:
            notebook = NOTEBOOK_OF_RUN.get(run, "the notebook that writes it")
            answers.append(Answer(claim, None, missing=f"{missing}; run {notebook}"))
            continue
        reasons: tuple[tuple[str, dict[str, Any]], ...] = ()
        if verdict.verdict != "reproduced":
            setup, experiment = setup_of(directory, run), experiment_of(directory, run)
            facts = _Facts(claim, verdict, folder, setup, experiment)
            found = ((name, REASONS[name](facts)) for name in claim.reasons)
            reasons = tuple((name, numbers) for name, numbers in found if numbers is not None)
        answers.append(Answer(claim, verdict, _context(claim, folder), reasons))
    return answers


# --- the claims' part of the report -------------------------------------------------------


#: Our number at one point, by the claim's kind (a percentage for the others).
_OURS_AT: dict[str, Callable[[float], str]] = {
    "frequency": lambda ours: f"{100 * ours:.0f}%",
    "largest": lambda ours: f"N = {ours:g}",
    "direction": lambda ours: f"slope {ours:+.3g}",
    "ordering": lambda ours: f"SJF − RR = {ours:+.1f} points",
}


def _points_table(claim: Claim, verdict: Verdict) -> str:
    rows = pd.DataFrame([{
        "point": point.label,
        "the paper": point.paper,
        "ours": _OURS_AT.get(claim.kind, percent)(point.ours),
        "holds": "✓" if point.holds else ("✗ (sign)" if point.sign_ok is False else "✗"),
        "our seeds below the paper's value":
            "—" if point.seeds_below is None else f"{100 * point.seeds_below:.0f}%",
    } for point in verdict.points])
    return table(rows if claim.kind in ("value", "sign") else rows.iloc[:, :4])


def _claim_context(answer: Answer, directory: Path, link: str) -> dict[str, Any]:
    claim, verdict = answer.claim, answer.verdict
    if verdict is None:
        return {"claim": claim, "answer": answer}
    return {
        "claim": claim,
        "answer": answer,
        "robust": verdict.robustness.words() if verdict.robustness else "robustness not computed",
        "points": _points_table(claim, verdict),
        "reasons": [
            (_words(name, "_title"), _words(name, "_here", facts))
            for name, facts in answer.reasons
        ],
        "figures": dict.fromkeys(  # each CSV's own figure, else its figure's (fig3a_summary)
            stem
            for stem in (c if (directory / f"{c}.png").exists() else c.split("_")[0]
                         for c in claim.csvs)
            if (directory / f"{stem}.png").exists()
        ),
        "link": link,
    }


def _robust_short(verdict: Verdict | None) -> str:
    found = verdict.robustness if verdict else None
    if found is None or found.robust:
        return "robust" if found else "—"
    return f"fragile ({100 * found.other_share:.0f}% of resamples differ)"


def _verdict_table(answers: list[Answer]) -> str:
    return table(pd.DataFrame([{
        "claim": f"[{a.claim.title}](#{slug(a.claim.title)})",
        "the paper says": a.claim.paper_text,
        "we find": a.verdict.ours if a.verdict else f"not evaluated: {a.missing}",
        "verdict": f"**{a.verdict.verdict}**" if a.verdict else "—",
        "robust?": _robust_short(a.verdict),
    } for a in answers]))


def _totals(answers: list[Answer]) -> str:
    counts = pd.Series([a.verdict.verdict for a in answers if a.verdict]).value_counts()
    parts = [f"{int(counts[k])} {k}" for k in LEVELS if k in counts]
    missing = sum(a.verdict is None for a in answers)
    if missing:
        parts.append(f"{missing} not evaluated (input missing)")
    return f"{len(answers)} claims: " + ", ".join(parts)


def _seeds(manifests: dict[str, dict[str, Any]]) -> str:
    """The seeds per point of the claims' runs (``fig3``, ``fig5``), as their manifests say."""
    shown = [
        (max((len(g.get("seeds", [])) for g in m.get("grids", {}).values()), default=0), run)
        for run, m in manifests.items()
    ]
    if not shown:
        return "seeds as the manifests record them"
    if len({s for s, _ in shown}) == 1:
        return f"{shown[0][0]} seeds per point"
    return ", ".join(f"{s} seeds per point of Fig. {run[3:]}" for s, run in shown)


def _provenance(manifests: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each profile the claims' runs used, with those runs and its provenance."""
    names: dict[str, list[str]] = {}
    for run, manifest in manifests.items():
        if manifest.get("setup"):
            names.setdefault(Setup.from_dict(manifest["setup"]).profile, []).append(run)
    return [
        {"name": name, "runs": runs, **load_profile(name).provenance}
        for name, runs in names.items()
    ]


def build_report(directory: str | os.PathLike[str] | None = None, *, figures_link: str = "") -> str:
    """The text of REPRODUCTION.md from the CSVs and manifests in ``directory``;
    ``figures_link``: the figures' folder as seen from the report (``figures/``)."""
    directory = output_dir(directory)
    answers = answer_claims(directory)
    found = {run: read_manifest(directory, run) for run in ("fig3", "fig5")}
    manifests = {run: manifest for run, manifest in found.items() if manifest is not None}
    used = {c.quantity for c in CLAIMS}
    tolerances = pd.DataFrame(
        [{"quantity": q.name, "tolerance": f"±{q.tolerance:g} {q.unit}", "why": q.why}
         for q in QUANTITIES.values() if q.id in used]
    )
    general: dict[str, tuple[str, str]] = {}
    for answer in answers:
        for name, facts in answer.reasons:
            general.setdefault(name, (_words(name, "_title"), _words(name, "", facts)))
    studies = (readings, fig5, networks, beyond, testbed, energy, online)
    sections = [study.report_section(directory) for study in studies]
    sections += [_setup_section(directory), _figures_section(directory)]
    return render(
        "report",
        answers=[_claim_context(a, directory, figures_link) for a in answers],
        verdict_table=_verdict_table(answers),
        totals=_totals(answers),
        seeds_text=_seeds(manifests),
        quick=any(m.get("quick") for m in manifests.values()),
        rules=RULES,
        tolerance_table=table(tolerances),
        robust_pct=f"{100 * (1 - ROBUST_SHARE):.0f}",
        resamples=RESAMPLES,
        provenance=_provenance(manifests),
        missing_runs=", ".join(f"`{run}`" for run in found if run not in manifests),
        reasons=list(general.values()),
        sections=[s.strip() for s in sections if s and s.strip()],
    )


def for_reader(directory: str | os.PathLike[str] | None = None) -> str:
    """The report of ``directory`` with its figures linked from the current folder (a
    notebook shows it where its kernel runs, ``notebooks/``, not where REPRODUCTION.md
    sits)."""
    return build_report(directory, figures_link=_link(output_dir(directory), Path.cwd()))


def _link(directory: Path, base: Path) -> str:
    """``directory`` as a relative link from ``base``, ending in ``/`` ("" for the same)."""
    link = os.path.relpath(directory.resolve(), base.resolve()).replace(os.sep, "/")
    return "" if link == "." else link + "/"


def write_report(
    directory: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the report of the CSVs in ``directory`` (empty: ``build/figures/``) to ``path``
    (empty: ``REPRODUCTION.md`` inside ``directory``)."""
    directory = output_dir(directory)
    target = Path(path) if path else directory / "REPRODUCTION.md"
    return atomic_write(
        target, build_report(directory, figures_link=_link(directory, target.parent))
    )


# --- the studies' sections ----------------------------------------------------------------


def _plain(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return "–".join(str(v) for v in value)
    return str(value)


def _setup_section(directory: Path) -> str:
    runs: dict[str, dict[str, Any]] = {}
    for run in ("fig3", "fig5", "beyond"):
        manifest = read_manifest(directory, run)
        if manifest and manifest.get("setup"):
            setup = Setup.from_dict(manifest["setup"]).to_dict()
            experiment = Experiment.from_dict(manifest.get("experiment") or {}).to_dict()
            runs[run] = {**setup, **experiment}
    if not runs:
        return ""
    distinct: dict[str, list[str]] = {}
    for run, values in runs.items():
        distinct.setdefault(json.dumps(values, sort_keys=True), []).append(run)
    columns = [(", ".join(names), runs[names[0]]) for names in distinct.values()]
    default = {**Setup().to_dict(), **Experiment().to_dict()}
    rows = [{"choice": f"`{key}`", **{head: _plain(values[key]) for head, values in columns},
             "default": _plain(value)} for key, value in default.items()]
    return render("setup", table=table(pd.DataFrame(rows)))


def _figures_section(directory: Path) -> str:
    captions = [(p.stem, read_caption(directory, p.stem)) for p in sorted(directory.glob("*.png"))]
    # each with its first sentence
    figures = [(stem, text.partition(". ")[0] + ("." if ". " in text else ""))
               for stem, text in captions if text]  # fmt: skip
    return render("figures", figures=figures) if figures else ""
