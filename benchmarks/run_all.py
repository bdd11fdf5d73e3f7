"""Wall time of ``./run_all.sh``: cache cleared, warm cache, ``--quick``; and per notebook.

Run: ``python benchmarks/run_all.py`` (about 20 minutes on two cores; ``--serial`` adds a
run with one worker and no cache first, about as long again). Prints Markdown tables: the
targets of the speed issue (two cores: the notebooks of a run with the cache cleared
≤ 8 minutes, with a warm cache ≤ 30 s, ``--quick`` ≤ 60 s), then each notebook's time
and the two long cells (the readings study of notebook 06, Fig. 5 at the paper's sizes
of notebook 03). The targets are checked here, never in timed tests: these machines are
shared and noisy, so the table starts with the load average.

Each full run regenerates ``figures/`` and ``REPRODUCTION.md``: the runs must write the
same bytes as each other and as the committed files (``git status`` of ``figures/`` and
``REPRODUCTION.md`` must stay clean), which also checks that the engines and the cache
agree.

1. ``./run_all.sh --workers 1 --no-cache`` (``--serial`` only): every point in the
   notebook's own process;
2. ``./run_all.sh`` with ``build/cache`` cleared first: a local Dask cluster, one worker
   process per core, two notebooks side by side, computing every solve (and filling the
   cache);
3. ``./run_all.sh`` again: a warm cache (plots and the report are redone, verdicts and
   rows are read);
4. ``./run_all.sh --quick`` with ``build/cache`` cleared first (into ``build/quick/``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_RUN = ROOT / "build" / "notebooks"
#: The long cells, by notebook: a text each one's source holds, and its name here.
CELLS = {
    "06_readings.ipynb": ("readings.study(", "readings study"),
    "03_greedy_vs_optimal.ipynb": ("greedy_at_scale(", "Fig. 5 at scale"),
}
#: The targets of the speed issue: the notebooks' seconds of a run.
TARGETS = {
    "cache cleared": 8 * 60.0,
    "warm cache": 30.0,
    "quick, cache cleared": 60.0,
}


def digest(folder: Path, report: Path) -> str:
    """One hash of every file in ``folder`` (CSVs, figures, manifests) and of the report:
    the runs must agree byte for byte."""
    sha = hashlib.sha256()
    for path in [*sorted(p for p in folder.iterdir() if p.is_file()), report]:
        sha.update(path.name.encode() + path.read_bytes())
    return sha.hexdigest()[:12]


def committed_unchanged() -> bool | None:
    """Whether ``figures/`` and ``REPRODUCTION.md`` are as committed (None: not a git
    checkout)."""
    done = subprocess.run(
        ["git", "status", "--porcelain", "--", "figures", "REPRODUCTION.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode != 0 else not done.stdout.strip()


def notebook_seconds(stdout: str) -> tuple[float | None, dict[str, float]]:
    """The runner's own count of the notebooks' seconds, and each notebook's."""
    each = {
        m[1]: float(m[2]) for m in re.finditer(r"\] (\S+\.ipynb) \.\.\. \w+ in ([0-9.]+) s", stdout)
    }
    total = re.search(r"notebooks ran in ([0-9.]+) s", stdout)
    return (float(total[1]) if total else None), each


def cell_seconds() -> dict[str, float]:
    """Seconds of the long cells (:data:`CELLS`) in the executed notebooks (papermill's
    record of each cell's duration)."""
    found = {}
    for name, (text, label) in CELLS.items():
        try:
            cells = json.loads((NOTEBOOKS_RUN / name).read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        for cell in cells:
            if text in "".join(cell.get("source", "")):
                duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
                if duration is not None:
                    found[label] = float(duration)
    return found


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--serial", action="store_true", help="first time one worker without the cache"
    )
    args = parser.parse_args()
    serial = [("one worker, no cache", ["--workers", "1", "--no-cache"], False)]
    runs = [
        *(serial if args.serial else []),
        ("cache cleared", [], True),
        ("warm cache", [], False),
        ("quick, cache cleared", ["--quick"], True),
    ]
    rows, per_notebook = [], {}
    began_load = load()
    for label, flags, clear in runs:
        if clear:
            shutil.rmtree(ROOT / "build" / "cache", ignore_errors=True)
        began = time.perf_counter()
        done = subprocess.run(
            [str(ROOT / "run_all.sh"), *flags], capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            print(f"{label}: ./run_all.sh exited {done.returncode} after {seconds:.1f} s",
                  done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)  # fmt: skip
            return 1
        quick = "--quick" in flags
        folder = ROOT / ("build/quick" if quick else "figures")
        report = (folder if quick else ROOT) / "REPRODUCTION.md"
        total, each = notebook_seconds(done.stdout)
        per_notebook[label] = (each, cell_seconds())
        same = None if quick else committed_unchanged()
        rows.append((label, seconds, total, digest(folder, report), same))
        print(f"{label}: {seconds:.1f} s (notebooks {total} s), load {load()}", file=sys.stderr)
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average (1, 5, 15 min) {began_load} at "
        f"the start, {load()} at the end."
    )
    print()
    print(
        "| run | wall time (s) | notebooks (s) | digest of the outputs | as committed "
        "| target | met |"
    )
    print("|---|---:|---:|---|---|---|---|")
    for label, seconds, total, sha, same in rows:
        target = TARGETS.get(label)
        met = "" if target is None or total is None else ("yes" if total <= target else "no")
        shown = "" if total is None else f"{total:.1f}"
        as_committed = {True: "yes", False: "NO", None: ""}[same]
        goal = "" if target is None else f"≤ {target:g} s"
        print(f"| {label} | {seconds:.1f} | {shown} | {sha} | {as_committed} | {goal} | {met} |")
    print()
    names = sorted({n for each, _ in per_notebook.values() for n in each})
    labels = list(per_notebook)
    print("| notebook or cell (s) | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    for name in names:
        cells = [per_notebook[k][0].get(name) for k in labels]
        print(f"| {name} | " + " | ".join("" if c is None else f"{c:.1f}" for c in cells) + " |")
    for _, label in CELLS.values():
        cells = [per_notebook[k][1].get(label) for k in labels]
        print(f"| {label} (one cell) | " + " | ".join(
            "" if c is None else f"{c:.1f}" for c in cells) + " |")
    full = [r for r in rows if r[0] != "quick, cache cleared"]
    agree = len({sha for _, _, _, sha, _ in full}) == 1
    committed = all(same is not False for *_, same in full)
    print()
    print(
        f"Every full run wrote the same bytes (CSVs, figures, report): {'yes' if agree else 'NO'}; "
        f"the committed figures/ and REPRODUCTION.md unchanged: {'yes' if committed else 'NO'}."
    )
    return 0 if agree and committed else 1


if __name__ == "__main__":
    raise SystemExit(main())
