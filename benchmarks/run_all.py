"""Wall time of the full ``./run_all.sh``: one worker, every core, and a warm cache.

Run: ``python benchmarks/run_all.py`` (about 50 minutes on two cores). Prints a Markdown
table with the targets of the sweep-engine issue (two cores: every core ≥ 1.7× faster than
one worker; a warm cache ≤ 1 min). Each run regenerates ``figures/`` and
``REPRODUCTION.md`` (the same bytes: this also checks that the engines agree). The targets
are checked here, never in timed tests: these machines are shared and noisy.

1. ``./run_all.sh --workers 1 --no-cache``: every point in the notebook's own process;
2. ``./run_all.sh`` with ``build/cache`` cleared first: a local Dask cluster, one worker
   process per core, two notebooks side by side, computing every point (and filling the
   cache);
3. ``./run_all.sh`` again: a warm cache (only plots and the report are redone).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = (
    ("one worker, no cache", ["--workers", "1", "--no-cache"], False),
    ("every core, cache cleared", [], True),
    ("every core, warm cache", [], False),
)


def digest(folder: Path, report: Path) -> str:
    """One hash of every file in ``folder`` (CSVs, figures, manifests) and of the report:
    the engines must agree byte for byte."""
    sha = hashlib.sha256()
    for path in [*sorted(p for p in folder.iterdir() if p.is_file()), report]:
        sha.update(path.name.encode() + path.read_bytes())
    return sha.hexdigest()[:12]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time ./run_all.sh --quick")
    args = parser.parse_args()
    extra = ["--quick"] if args.quick else []
    folder = ROOT / ("build/quick" if args.quick else "figures")
    report = (folder if args.quick else ROOT) / "REPRODUCTION.md"
    rows = []
    for label, flags, clear in RUNS:
        if clear:
            shutil.rmtree(ROOT / "build" / "cache", ignore_errors=True)
        began = time.perf_counter()
        done = subprocess.run(
            [str(ROOT / "run_all.sh"), *extra, *flags], capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            return 1
        rows.append((label, seconds, digest(folder, report)))
    serial = rows[0][1]
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `./run_all.sh{' --quick' if args.quick else ''}`."
    )
    print()
    print("| run | wall time (s) | speed-up | digest of the outputs | target | met |")
    print("|---|---:|---:|---|---|---|")
    targets = {
        1: ("≥ 1.7× (two cores)", lambda s: serial / s >= 1.7),
        2: ("≤ 60 s", lambda s: s <= 60),
    }
    for index, (label, seconds, sha) in enumerate(rows):
        target, check = targets.get(index, ("", None))
        met = "" if check is None else ("yes" if check(seconds) else "no")
        print(f"| {label} | {seconds:.1f} | {serial / seconds:.2f}× | {sha} | {target} | {met} |")
    same = len({sha for _, _, sha in rows}) == 1
    print()
    print(f"Every run wrote the same bytes (CSVs, figures, report): {'yes' if same else 'NO'}.")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
