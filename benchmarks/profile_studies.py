"""Where the two long cells of ``./run_all.sh`` spend their time: a sampling profile.

The readings study (notebook 06) and Fig. 5 at the paper's sizes (notebook 03's
``fig5_scale``) are run here in one process, cache off, with the notebooks' parameters,
under `py-spy <https://github.com/benfred/py-spy>`_ (a sampling profiler that needs no
change to the code and sees inside compiled extensions' Python callers)::

    pip install py-spy
    py-spy record -r 50 -f raw -o build/profile/readings.txt -- \\
        python benchmarks/profile_studies.py readings
    py-spy record -r 50 -f raw -o build/profile/fig5_scale.txt -- \\
        python benchmarks/profile_studies.py fig5_scale
    python benchmarks/profile_studies.py --summarise build/profile/readings.txt

``--summarise`` reads py-spy's collapsed stacks and prints a Markdown table: the share of
samples under each named step (inclusive: a step's callees count in it; the first step
named from the innermost frame outwards takes the sample). docs/solvers.md ("Speed") has
the tables of the development machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

#: The steps a sample is counted under: (label, substrings of a frame ``function (file)``),
#: looked for from the innermost frame outwards, so a solve inside the readings' tables is
#: counted as the solve.
STEPS = (
    (
        "certifying search (optimal: bounds and branching)",
        ("_bounds", "_lagrangian", "_level_search", "branch_and_bound"),
    ),
    ("optimal's warm start (greedy, local search)", ("_warm_start",)),
    ("greedy and local search", ("greedy (", "local_search", "_moves")),
    ("delay model (tables, evaluate)", ("evaluate.py", "tables.py", "model.py", "_kernels")),
    ("drawing the scenarios", ("draw.py", "paper_scenario")),
    ("summaries (bootstrap intervals)", ("bootstrap", "summarise")),
    ("verdicts and robustness", ("verdicts.py",)),
    ("tables and CSV files (pandas)", ("pandas", "write_table", "tidy")),
    ("engine (cache, tasks)", ("engine.py",)),
    ("imports and compilation", ("_find_and_load", "numba")),
)


def readings() -> None:
    """The readings study as notebook 06 runs it (every reading, 10 seeds, 12 steps)."""
    from dnnsplit import Setup
    from dnnsplit.paper import claims, readings

    grids = readings.StudyGrids.paper(seeds=list(range(10)), quick=False)
    with tempfile.TemporaryDirectory() as work:
        readings.study(Setup(), grids, work, readings=claims.readings([]), steps=12)


def fig5_scale() -> None:
    """Fig. 5 at the paper's sizes as notebook 03 runs it."""
    from dnnsplit import Setup
    from dnnsplit.paper import fig5, sweeps
    from dnnsplit.paper.experiment import Experiment

    grid = sweeps.Grid(devices=[10, 20, 30, 40, 50], seeds=list(range(10)),
                       vary={"policy": ["sjf", "rr"]})  # fmt: skip
    fig5.greedy_at_scale(Setup(), grid, max_nodes=200_000, objectives=["variance", "max"],
                         experiment=Experiment(start="half", restarts=8))  # fmt: skip


def summarise(path: Path) -> str:
    """The Markdown table of :data:`STEPS` over py-spy's raw (collapsed) stacks at ``path``."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        label = "other"
        for frame in reversed(frames):
            found = next((name for name, keys in STEPS if any(k in frame for k in keys)), None)
            if found is not None:
                label = found
                break
        counts[label] += int(count)
    lines = ["| step | share of samples |", "|---|---:|"]
    for label, count in counts.most_common():
        lines.append(f"| {label} | {100 * count / max(total, 1):.1f} % |")
    return "\n".join(lines) + f"\n\n{total:,} samples\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", nargs="?", choices=("readings", "fig5_scale"))
    parser.add_argument("--summarise", type=Path, help="py-spy's raw output to summarise")
    args = parser.parse_args()
    if args.summarise is not None:
        print(summarise(args.summarise))
        return 0
    if args.study is None:
        parser.error("name a study, or --summarise FILE")
    os.environ.update({"DNNSPLIT_WORKERS": "1", "DNNSPLIT_CACHE": "0"})
    began = time.perf_counter()
    {"readings": readings, "fig5_scale": fig5_scale}[args.study]()
    print(f"{args.study}: {time.perf_counter() - began:.1f} s (one process, cache off)",
          file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
