"""The generated parts of ``ARTIFACT.md``, the artifact appendix.

``python scripts/artifact.py`` (with the project's Python, ``.venv/bin/python``) rewrites
the blocks between ``<!-- begin: NAME -->`` and ``<!-- end: NAME -->`` in ARTIFACT.md:

- ``claims``: every claim of the paper (``dnnsplit.paper.claims.CLAIMS``) → the notebook
  that computes it, the figure and CSV files that show it, and the sections of
  REPRODUCTION.md that judge it;
- ``findings``: every figure of ours that no claim of the paper reads → its notebook, its
  CSV files and the report's sections that state it;
- ``times`` (only with ``--times FOLDER``): how long each notebook ran, from the executed
  notebooks of a run (papermill records it in each: ``build/notebooks/`` after
  ``./run_all.sh``, ``build/check/full/notebooks/`` after ``./run_all.sh --check``).

``--check`` writes nothing and exits 1 when the claims or findings block is not what the
claims, the notebooks and the report give now (a test runs it: a claim added or renamed
must reach ARTIFACT.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / "ARTIFACT.md"
sys.path.insert(0, str(ROOT))  # the checkout's dnnsplit, also when run from elsewhere

from dnnsplit.paper.claims import CLAIMS  # noqa: E402
from dnnsplit.paper.compare import verdicts  # noqa: E402
from dnnsplit.paper.runner import NOTEBOOKS  # noqa: E402
from dnnsplit.paper.site import figure_names, owner  # noqa: E402
from dnnsplit.paths import FIGURES_DIR, NOTEBOOKS_DIR, REPORT_PATH  # noqa: E402
from dnnsplit.profiler import cpu_model  # noqa: E402

#: The report's last section lists every figure: it states none of them.
LISTING_SECTION = "The figures and where their numbers come from"


def _saved_by() -> dict[str, str]:
    """Each figure → the notebook that saves it (the first, in run order)."""
    saved: dict[str, str] = {}
    for name in NOTEBOOKS:
        for figure in figure_names(NOTEBOOKS_DIR / name):
            saved.setdefault(figure, name)
    return saved


def _anchor(heading: str) -> str:
    """GitHub's (and the site's) anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _sections(report: str) -> list[tuple[str, str]]:
    """The report's sections (``##`` level and the top one): (heading, text)."""
    sections: list[tuple[str, str]] = []
    for line in report.splitlines():
        if re.match(r"^#{1,2} ", line):
            sections.append((line.lstrip("#").strip(), ""))
        elif sections:
            sections[-1] = (sections[-1][0], sections[-1][1] + line + "\n")
    return sections


def _link(heading: str) -> str:
    return f"[{heading}](REPRODUCTION.md#{_anchor(heading)})"


def _files(names: list[str], suffix: str) -> str:
    return ", ".join(f"`{n}{suffix}`" for n in names) or "—"


def claims_block(report: str) -> str:
    """The table of the paper's claims; a claim is judged in the report's sections that
    print a verdict for it."""
    saved = _saved_by()
    judging = verdicts(report)
    rows = [
        "| claim | the paper (where) | notebook | figure | CSV (in `figures/`) | judged in |",
        "|---|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        csvs = list(dict.fromkeys([*claim.csvs, *(reads.csv for _, reads in claim.context)]))
        figures = list(dict.fromkeys(f for c in csvs if (f := owner(c, list(saved)))))
        notebooks = list(dict.fromkeys(saved[f] for f in figures))
        judged = list(dict.fromkeys(h for h, row, _ in judging if row == claim.title))
        rows.append(
            f"| `{claim.id}`: {claim.title} | {claim.figure} | "
            f"{_files([n.removesuffix('.ipynb') for n in notebooks], '')} | "
            f"{_files(figures, '.png')} | {_files(csvs, '.csv')} | "
            f"{'; '.join(_link(h) for h in judged) or '—'} |"
        )
    return "\n".join(rows)


def findings_block(report: str) -> str:
    """The table of our figures that no claim of the paper reads."""
    saved = _saved_by()
    read = {owner(c, list(saved)) for claim in CLAIMS for c in claim.csvs}
    committed = {p.stem for p in FIGURES_DIR.glob("*.png")}
    stems = sorted(p.stem for p in FIGURES_DIR.glob("*.csv"))
    sections = [(h, t) for h, t in _sections(report) if h != LISTING_SECTION]
    rows = [
        "| figure | notebook | CSV (in `figures/`) | stated in |",
        "|---|---|---|---|",
    ]
    for figure, notebook in saved.items():
        if figure in read or figure not in committed:
            continue
        csvs = [s for s in stems if owner(s, list(saved)) == figure]
        mentions = (f"figures/{figure}.", f"{figure}.csv", f"{figure}_")
        stated = [h for h, text in sections if any(m in text for m in mentions)]
        rows.append(
            f"| `{figure}.png` | {notebook.removesuffix('.ipynb')} | {_files(csvs, '.csv')} | "
            f"{'; '.join(_link(h) for h in stated) or '— (the figure and its caption)'} |"
        )
    return "\n".join(rows)


def times_block(folder: Path) -> str:
    """How long each notebook of a run took (papermill's record in its executed copy)."""
    rows = ["| notebook | seconds |", "|---|---|"]
    starts, ends, quick = [], [], set()
    for name in NOTEBOOKS:
        path = folder / name
        if not path.is_file():
            rows.append(f"| {name.removesuffix('.ipynb')} | (not in this run) |")
            continue
        record = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("papermill", {})
        quick.add(bool(record.get("parameters", {}).get("quick", False)))
        starts.append(dt.datetime.fromisoformat(record["start_time"]))
        ends.append(dt.datetime.fromisoformat(record["end_time"]))
        rows.append(f"| {name.removesuffix('.ipynb')} | {record['duration']:.0f} |")
    if quick != {False}:
        raise SystemExit(f"artifact: {folder} holds a quick run's notebooks (or none)")
    wall = (max(ends) - min(starts)).total_seconds()
    rows.append(
        f"\nMeasured by `./run_all.sh` on {min(starts):%Y-%m-%d}: {cpu_model()}, "
        f"{os.cpu_count()} cores, two notebooks at a time on a local cluster of one worker "
        f"per core, the report last; {wall:.0f} s from the first notebook's start to the "
        "last one's end. A notebook's time is its wall time beside the other one running."
    )
    return "\n".join(rows)


def _replace(text: str, name: str, block: str) -> str:
    pattern = re.compile(
        rf"(<!-- begin: {name} [^\n]*-->\n).*?(\n<!-- end: {name} -->)", re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"artifact: ARTIFACT.md has no block {name!r}")
    return pattern.sub(lambda m: m.group(1) + block + m.group(2), text)


def generated(text: str, times: Path | None = None) -> str:
    """ARTIFACT.md's ``text`` with its generated blocks as they are now."""
    report = REPORT_PATH.read_text(encoding="utf-8")
    text = _replace(text, "claims", claims_block(report))
    text = _replace(text, "findings", findings_block(report))
    if times is not None:
        text = _replace(text, "times", times_block(times))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/artifact.py", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 when a block is stale")
    parser.add_argument("--times", type=Path, default=None, help="a run's executed notebooks")
    args = parser.parse_args(argv)
    text = ARTIFACT.read_text(encoding="utf-8")
    new = generated(text, args.times)
    if args.check:
        if new != text:
            print("artifact: ARTIFACT.md is stale: run scripts/artifact.py", file=sys.stderr)
            return 1
        return 0
    ARTIFACT.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
