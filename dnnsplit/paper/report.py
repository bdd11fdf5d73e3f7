"""REPRODUCTION.md: the artifact's answer to "does the paper hold?", built from the figures'
CSVs and manifests.

This module decides *what* to say: it answers every claim (:mod:`dnnsplit.paper.claims`)
with the verdict functions (:mod:`dnnsplit.paper.verdicts`), finds which mechanisms explain
a difference and with which numbers, and gathers each study's section. *How* it is said
lives in the templates (``templates/report.md.j2``, ``reasons.md.j2`` and one per section,
rendered by :mod:`dnnsplit.paper.text`), and every number and parameter the text names comes
from the rows and the manifests, never from a literal. A claim whose input is missing gets
one line naming the file and the notebook that writes it.
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
from dnnsplit.paper import energy, testbed
from dnnsplit.paper.claims import CLAIMS, LEVELS, QUANTITIES, READINGS, RULES, Claim, Reads
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.output import output_dir, read_caption, read_manifest
from dnnsplit.paper.stats import INFORMATIVE_BOUND, informative_bound, verdict_cells, where
from dnnsplit.paper.text import escape, render, slug, table, template_module
from dnnsplit.paper.verdicts import (
    RESAMPLES,
    ROBUST_SHARE,
    Folder,
    JudgedPoint,
    MissingInput,
    Verdict,
    judge,
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
}


def run_of(csv: str) -> str:
    """The run a CSV belongs to: ``fig3a_summary`` → ``fig3``, ``fig5`` → ``fig5``."""
    stem = csv.removesuffix("_summary")
    for run in NOTEBOOK_OF_RUN:
        if stem.startswith(run):
            return run
    return stem


def _pct(value: float) -> str:
    if math.isnan(value):
        return "undefined"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.0f}%" if abs(value) >= 1000 else f"{value:.1f}%"


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


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
        for column in ("policy", "ratio", "devices"):
            if column in reads.rows and column in rows.columns:
                rows = rows[rows[column] == reads.rows[column]]
        return rows

    @property
    def low(self) -> float:
        return self.verdict.numbers.get("low", math.nan)

    @property
    def high(self) -> float:
        return self.verdict.numbers.get("high", math.nan)

    @property
    def above_paper(self) -> bool:
        return self.claim.paper is not None and self.high > self.claim.paper.band[1]


Reason = Callable[[_Facts], dict[str, Any] | None]


def _stuck(facts: _Facts) -> dict[str, Any] | None:
    if not facts.low <= 0 or facts.experiment is None:
        return None
    worst = min(facts.verdict.points, key=lambda p: p.ours)
    start = {"half": "⌊s̃_i/2⌋", "ones": "p = 1", "local": "s̃_i"}[facts.experiment.start]
    return {"start": start, "worst": worst.label, "value": _pct(worst.ours)}


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
    if not facts.low <= 0 or facts.setup is None or facts.experiment is None:
        return None
    if facts.experiment.baseline != "all-local":
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
    if facts.setup is None or not facts.above_paper:
        return None
    return {"ratio": f"{facts.setup.ratio:g}"}


def _always(facts: _Facts) -> dict[str, Any] | None:
    return {}


def _small_optimum(facts: _Facts) -> dict[str, Any] | None:
    try:
        summary = facts.folder.frame("fig5_summary")
    except MissingInput:
        return None
    gaps = where(summary, objective="variance", solver="greedy", metric="gap_pct")
    if gaps.empty:
        return None
    return {"low": _pct(gaps["mean"].min()), "high": _pct(gaps["mean"].max())}


def _zero_optimum(facts: _Facts) -> dict[str, Any] | None:
    rows = facts.folder.frame("fig5")
    gaps = where(rows, solver="greedy", metric="gap_pct", objective="variance").value
    infinite = int(np.isinf(gaps).sum())
    if not infinite:
        return None
    return {"cases": f"{_cases(infinite)} of {len(gaps)}"}


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
    "local-optimum": _always,
    "small-optimum": _small_optimum,
    "zero-optimum": _zero_optimum,
    "queue": _always,
    "rr-fairer": _rr_fairer,
}


def _macro(name: str, part: str = "") -> Callable[..., Any]:
    return getattr(template_module("reasons"), name.replace("-", "_") + part)


def reason_title(name: str) -> str:
    """The heading of a mechanism."""
    return str(_macro(name, "_title")()).strip()


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


def _manifest_object(directory: Path, csv: str, key: str) -> Any:
    manifest = read_manifest(directory, run_of(csv))
    if manifest is None or manifest.get(key) is None:
        return None
    where_ = f"{run_of(csv)}.manifest.json {key}"
    if key == "setup":
        return Setup.from_dict(manifest[key], where=where_)
    return Experiment.from_dict(manifest[key], where=where_)


def _context(claim: Claim, folder: Folder) -> str:
    parts = []
    for label, reads in claim.context:
        try:
            frame = folder.frame(reads.csv)
            for column, wanted in reads.rows.items():
                frame = frame[frame[column] == wanted] if column in frame else frame.iloc[:0]
        except MissingInput:
            continue
        if frame.empty or "mean" not in frame:
            continue
        values = frame["mean"].to_numpy(dtype=float)
        parts.append(f"{label} {_pct(float(np.nanmin(values)))}–{_pct(float(np.nanmax(values)))}")
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
        try:
            verdict = judge(claim, folder)
        except MissingInput as missing:
            notebook = NOTEBOOK_OF_RUN.get(run_of(claim.csvs[0]), "the notebook that writes it")
            answers.append(Answer(claim, None, missing=f"{missing}; run {notebook}"))
            continue
        reasons: list[tuple[str, dict[str, Any]]] = []
        if verdict.verdict != "reproduced":
            facts = _Facts(
                claim,
                verdict,
                folder,
                _manifest_object(directory, claim.csvs[0], "setup"),
                _manifest_object(directory, claim.csvs[0], "experiment"),
            )
            for name in claim.reasons:
                found = REASONS[name](facts)
                if found is not None:
                    reasons.append((name, found))
        answers.append(Answer(claim, verdict, _context(claim, folder), tuple(reasons)))
    return answers


# --- the claims' part of the report -------------------------------------------------------


def _ours_at(claim: Claim, point: JudgedPoint) -> str:
    if claim.kind == "frequency":
        return f"{100 * point.ours:.0f}%"
    if claim.kind == "largest":
        return f"N = {point.ours:g}"
    if claim.kind == "direction":
        return f"slope {point.ours:+.3g}"
    if claim.kind == "ordering":
        return f"SJF − RR = {point.ours:+.1f} points"
    return _pct(point.ours)


def _points_table(claim: Claim, verdict: Verdict) -> str:
    rows = []
    for point in verdict.points:
        holds = "✓" if point.holds else ("✗ (sign)" if point.sign_ok is False else "✗")
        row = {"point": point.label, "the paper": point.paper, "ours": _ours_at(claim, point),
               "holds": holds}
        if claim.kind in ("value", "sign"):
            below = point.seeds_below
            row["our seeds below the paper's value"] = (
                "—" if below is None else f"{100 * below:.0f}%"
            )
        rows.append(row)
    return table(pd.DataFrame(rows))


def _figures_of(claim: Claim, directory: Path, link: str) -> list[dict[str, str]]:
    shown: list[dict[str, str]] = []
    for csv in claim.csvs:
        for stem in (csv, csv.split("_")[0]):
            if (directory / f"{stem}.png").exists():
                if stem not in [s["stem"] for s in shown]:
                    shown.append({"stem": stem, "path": f"{link}{stem}.png",
                                  "alt": f"figures/{stem}.png"})
                break
    return shown


def _robust_short(verdict: Verdict) -> str:
    found = verdict.robustness
    if found is None:
        return "—"
    if found.robust:
        return "robust"
    return f"fragile ({100 * found.other_share:.0f}% of resamples differ)"


def _claim_context(answer: Answer, directory: Path, link: str) -> dict[str, Any]:
    claim, verdict = answer.claim, answer.verdict
    base = {
        "title": claim.title,
        "anchor": slug(claim.title),
        "quote": claim.quote.text,
        "where": claim.quote.where,
        "reading": claim.reading,
        "missing": answer.missing,
    }
    if verdict is None:
        return base
    reasons = [
        (reason_title(name), slug(reason_title(name)), str(_macro(name, "_here")(facts)).strip())
        for name, facts in answer.reasons
    ]
    statistic = claim.statistic[0].upper() + claim.statistic[1:]
    return {
        **base,
        "ours": verdict.ours,
        "context": answer.context,
        "verdict": verdict.verdict,
        "robust": verdict.robustness.words() if verdict.robustness else "robustness not computed",
        "statistic": f"Judged on: {statistic}",
        "points": _points_table(claim, verdict),
        "reasons": reasons,
        "figures": _figures_of(claim, directory, link),
    }


def _verdict_table(answers: list[Answer]) -> str:
    rows = [
        {
            "claim": f"[{a.claim.title}](#{slug(a.claim.title)})",
            "the paper says": a.claim.paper_text,
            "we find": a.verdict.ours if a.verdict else f"not evaluated: {a.missing}",
            "verdict": f"**{a.verdict.verdict}**" if a.verdict else "—",
            "robust?": _robust_short(a.verdict) if a.verdict else "—",
        }
        for a in answers
    ]
    return table(pd.DataFrame(rows))


def _totals(answers: list[Answer]) -> str:
    counts = pd.Series([a.verdict.verdict for a in answers if a.verdict]).value_counts()
    parts = [f"{int(counts[k])} {k}" for k in LEVELS if k in counts]
    missing = sum(a.verdict is None for a in answers)
    if missing:
        parts.append(f"{missing} not evaluated (input missing)")
    return f"{len(answers)} claims: " + ", ".join(parts)


def _seeds(directory: Path) -> tuple[str, bool]:
    shown, quick = [], False
    for run, name in (("fig3", "Fig. 3"), ("fig5", "Fig. 5")):
        manifest = read_manifest(directory, run)
        if manifest is None:
            continue
        quick |= bool(manifest.get("quick"))
        seeds = max((len(g.get("seeds", [])) for g in manifest.get("grids", {}).values()),
                    default=0)
        shown.append((seeds, name))
    if not shown:
        return "seeds as the manifests record them", quick
    if len({s for s, _ in shown}) == 1:
        return f"{shown[0][0]} seeds per point", quick
    return ", ".join(f"{s} seeds per point of {n}" for s, n in shown), quick


def _provenance(directory: Path) -> list[str]:
    """One line per profile the claims' runs used: its method and where it comes from."""
    names: dict[str, list[str]] = {}
    for run in ("fig3", "fig5"):
        manifest = read_manifest(directory, run)
        if manifest and manifest.get("setup"):
            names.setdefault(Setup.from_dict(manifest["setup"]).profile, []).append(run)
    lines = []
    for name, runs in names.items():
        prov = load_profile(name).provenance
        what = "**estimated**" if prov["method"] == "estimated" else "**measured**"
        lines.append(
            f"**Stage times.** The device stage times of {' and '.join(runs)} are {what} "
            f"for the {escape(prov['hardware'])} (`{name}`: {escape(prov['source'])}; "
            f"{escape(prov['date'])}; `data/measurements/README.md`). The paper measured its "
            "own on the device and did not publish them: this difference is shared by every "
            "claim, and is said here once."
        )
    return lines


def build_report(
    directory: str | os.PathLike[str] | None = None, *, figures_link: str = ""
) -> str:
    """The text of REPRODUCTION.md from the CSVs and manifests in ``directory``;
    ``figures_link``: the figures' folder as seen from the report (``figures/``)."""
    directory = output_dir(directory)
    answers = answer_claims(directory)
    seeds_text, quick = _seeds(directory)
    used = {c.quantity for c in CLAIMS}
    tolerances = pd.DataFrame(
        [
            {"quantity": q.name, "tolerance": f"±{q.tolerance:g} {q.unit}", "why": q.why}
            for q in QUANTITIES.values()
            if q.id in used
        ]
    )
    general: dict[str, tuple[str, str, str]] = {}
    for answer in answers:
        for name, facts in answer.reasons:
            title = reason_title(name)
            general.setdefault(name, (title, slug(title), str(_macro(name)(facts)).strip()))
    missing_runs = [run for run in ("fig3", "fig5") if read_manifest(directory, run) is None]
    sections = [
        _readings_section(directory),
        _scale_section(directory),
        _networks_section(directory),
        _beyond_section(directory),
        _joined(testbed.report_section(directory)),
        _joined(energy.report_section(directory)),
        _setup_section(directory),
        _figures_section(directory),
    ]
    return render(
        "report",
        answers=[_claim_context(a, directory, figures_link) for a in answers],
        verdict_table=_verdict_table(answers),
        totals=_totals(answers),
        seeds_text=seeds_text,
        quick=quick,
        rules=RULES,
        tolerance_table=table(tolerances),
        robust_pct=f"{100 * (1 - ROBUST_SHARE):.0f}",
        resamples=RESAMPLES,
        provenance=_provenance(directory),
        missing_runs=", ".join(f"`{r}`" for r in missing_runs),
        reasons=list(general.values()),
        sections=[s.strip() for s in sections if s and s.strip()],
    )


def _joined(section: str | list[str]) -> str:
    return "\n".join(section) if isinstance(section, list) else section


def write_report(
    directory: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None
) -> Path:
    """Write the report of the CSVs in ``directory`` (empty: ``build/figures/``) to ``path``
    (empty: ``REPRODUCTION.md`` inside ``directory``)."""
    directory = output_dir(directory)
    target = Path(path) if path else directory / "REPRODUCTION.md"
    link = os.path.relpath(directory.resolve(), target.parent.resolve()).replace(os.sep, "/")
    link = "" if link == "." else link + "/"
    return atomic_write(target, build_report(directory, figures_link=link))


# --- the studies' sections ----------------------------------------------------------------


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


def _readings_section(directory: Path) -> str:
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


def _scale_section(directory: Path) -> str:
    path = directory / "fig5_scale.csv"
    if not path.exists():
        return ""
    rows = pd.read_csv(path)
    best = where(rows, solver="optimal")
    manifest = read_manifest(directory, run_of("fig5_scale")) or {}
    nodes = (manifest.get("notes") or {}).get("scale_max_nodes")
    out = []
    groups = ["objective", "policy", "devices"]
    for (objective, policy, n), part in best.groupby(groups, sort=True):
        wide = part.pivot_table(index="seed", columns="metric", values="value")
        certified = wide["certified"] >= 1
        greedy = where(rows, solver="greedy", policy=policy, devices=n, objective=objective)
        gaps = greedy.pivot_table(index="seed", columns="metric", values="value")
        known = gaps.loc[certified[certified].index, "gap_pct"]
        useful = pd.Series(
            [informative_bound(b, k) for b, k in zip(wide["lower_bound"], wide["best_known"],
                                                     strict=True)],
            index=wide.index,
        )
        bounded = gaps.loc[(~certified) & useful]
        out.append(
            {
                "objective": objective,
                "policy": display_name(str(policy)),
                "N": n,
                "certified": f"{int(certified.sum())} of {len(wide)}",
                "greedy's gap, certified cases (median)": _pct(float(np.median(known)))
                if len(known)
                else "—",
                "uncertified with an informative bound: gap to best found – to bound (median)": (
                    f"{_pct(float(bounded.gap_pct.median()))} – "
                    f"{_pct(float(bounded.gap_to_bound_pct.median()))} ({_cases(len(bounded))})"
                    if len(bounded)
                    else "—"
                ),
            }
        )
    sizes = sorted(best.devices.unique())
    return render(
        "scale",
        sizes=f"{sizes[0]}–{sizes[-1]}" if sizes else "—",
        limit=f"node limit ({nodes:,} search nodes a case)" if nodes else "node limit",
        informative=f"{INFORMATIVE_BOUND:.0%}",
        table=table(pd.DataFrame(out)),
    )


def _networks_section(directory: Path) -> str:
    path = directory / "networks.csv"
    if not path.exists():
        return ""
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    cells = verdict_cells(frame)
    networks = list(dict.fromkeys(frame.reading))
    rows = []
    for claim in CLAIMS:
        row = {"claim": claim.title}
        for network in networks:
            cell = cells[(cells.claim == claim.id) & (cells.reading == network)]
            row[network.removeprefix("network-")] = (
                f"{cell.verdict.iloc[0]} ({cell.label.iloc[0]})" if not cell.empty else "—"
            )
        if any(v != "—" for k, v in row.items() if k != "claim"):
            rows.append(row)
    counts = frame[frame.verdict == "reproduced"].groupby("reading").size()
    manifest = read_manifest(directory, "networks") or {}
    setup = Setup.from_dict(manifest["setup"]) if manifest.get("setup") else Setup()
    low, high = setup.max_stage
    return render(
        "networks",
        limits=f"{low}..{high}",
        table=table(pd.DataFrame(rows)),
        counts=", ".join(
            f"{n.removeprefix('network-')} {int(counts.get(n, 0))}" for n in networks
        ),
        claims=len(rows),
    )


def _span(values: pd.Series) -> str:
    return f"{values.min():.1f}% to {values.max():.1f}%"


def _beyond_section(directory: Path) -> str:
    setup = _manifest_object(directory, "beyond", "setup")
    quantum, timeline = None, []
    path = directory / "beyond_quantum_summary.csv"
    if path.exists() and setup is not None:
        frame = pd.read_csv(path)
        lines = []
        for (form, _n, _policy), part in frame.groupby(["local_delay", "devices", "policy"]):
            part = part.sort_values("quantum_ms")
            slope = trend_slope(part.quantum_ms, part["mean"], log_x=True)
            lines.append(
                {
                    "form": form,
                    "first": _pct(part["mean"].iloc[0]),
                    "last": _pct(part["mean"].iloc[-1]),
                    "q_first": f"{part.quantum_ms.iloc[0]:g}",
                    "q_last": f"{part.quantum_ms.iloc[-1]:g}",
                    "trend": trend_words(part.quantum_ms, part["mean"], slope, "q"),
                    "half": f"{float(((part['high'] - part['low']) / 2).max()):.0f}",
                }
            )
        quantum = {
            "devices": ", ".join(str(n) for n in sorted(frame.devices.unique())),
            "policy": ", ".join(display_name(str(p)) for p in sorted(frame.policy.unique())),
            "lines": lines,
            "used": f"{1000 * setup.quantum_s:g}",
        }
    path = directory / "beyond_timeline_summary.csv"
    if path.exists():
        frame = pd.read_csv(path)
        for policy, part in frame.groupby("policy"):
            total = part[part.metric == "total_gap_pct"]
            timeline.append(
                {
                    "policy": display_name(str(policy)),
                    "total": _span(total["mean"]),
                    "variance": _span(part[part.metric == "variance_gap_pct"]["mean"]),
                    "sizes": f"{total.devices.min()}–{total.devices.max()}",
                }
            )
    if quantum is None and not timeline:
        return ""
    return render("beyond", quantum=quantum, timeline=timeline)


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
    rows = [
        {
            "choice": f"`{key}`",
            **{head: _plain(values[key]) for head, values in columns},
            "default": _plain(value),
        }
        for key, value in default.items()
    ]
    return render("setup", table=table(pd.DataFrame(rows)))


def _first_sentence(text: str) -> str:
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def _figures_section(directory: Path) -> str:
    figures = [
        (path.stem, _first_sentence(read_caption(directory, path.stem)))
        for path in sorted(directory.glob("*.png"))
        if read_caption(directory, path.stem)
    ]
    return render("figures", figures=figures) if figures else ""
