"""Online partitioning: measured decision times against N, and an hour's regret at N = 20.

Run: ``python benchmarks/online.py`` (about 20 minutes on two cores; ``--quick``: two
seeds of ten minutes, N ≤ 20). Prints two Markdown tables and the machine's load beside
them; the targets are checked here, never in timed tests (these machines are shared and
noisy).

1. **Decision time.** Each deciding controller in the decision sweep's world of N devices
   (``dnnsplit.paper.online.decision_runs``: 60 s, all present, the study's two-state
   uplinks), a fresh world per controller so no state's solution is shared: the
   **measured** wall time of its decisions after the start (median and 95th percentile),
   beside the **modelled** time the study charges (evaluations × ``seconds_per_evaluation``)
   and the measured seconds per evaluation (which calibrates that cost). Targets:
   incremental repair decides within 10 ms at N = 50, re-solving with greedy within 100 ms
   (each judged on the median).
2. **Regret over an hour.** N = 20 devices, all present, the two-state traces, every
   controller of the study on total delay in the same world per seed: the cumulative regret
   against the oracle (certified by ``optimal``: total delay without deadlines is an
   assignment, certified at every N), mean over seeds with the least and the largest, and
   the share of the horizon certified; the best controller's and the static one's side by
   side.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd

from dnnsplit import paper_scenario
from dnnsplit.paper.online import CONTROLLERS, Study, decision_runs
from dnnsplit.paper.text import table
from dnnsplit.profiler import cpu_model

#: (controller label, N) → the median decision time it should meet, s.
TARGETS = {("repair (greedy)", 50): 0.010, ("resolve (greedy)", 50): 0.100}


def decision_table(devices: list[int], seed: int) -> pd.DataFrame:
    """Per deciding controller and N, the measured and modelled decision times."""
    study = Study()
    for _ in decision_runs(paper_scenario(6, seed, ratio=10), seed, study):
        pass  # compile the kernels before timing
    rows = []
    for n in devices:
        scenario = paper_scenario(n, seed, ratio=10)
        for name, run in decision_runs(scenario, seed, study, fresh_world=True):
            measured = run.trajectory.measured_s[1:]
            evaluations = float(run.trajectory.decisions.evaluations.iloc[1:].sum())
            target = TARGETS.get((name, n))
            median = float(np.median(measured))
            rows.append({
                "controller": name,
                "N": n,
                "decisions": len(measured),
                "measured median (ms)": f"{median * 1e3:.2f}",
                "measured p95 (ms)": f"{np.percentile(measured, 95) * 1e3:.2f}",
                "modelled mean (ms)":
                    f"{run.trajectory.decisions.modelled_s.iloc[1:].mean() * 1e3:.3f}",
                "measured µs / evaluation":
                    f"{measured.sum() / evaluations * 1e6:.2f}" if evaluations else "nan",
                "target (median)": "" if target is None else f"≤ {target * 1e3:g} ms",
                "met": "" if target is None else ("yes" if median <= target else "no"),
            })  # fmt: skip
            print(f"  decisions: {name}, N = {n}", file=sys.stderr)
    return pd.DataFrame(rows)


def regret_table(n: int, seeds: list[int], horizon_s: float) -> pd.DataFrame:
    """Per controller of the study: the regret over ``horizon_s`` at N = ``n`` (total delay,
    all present), over ``seeds``."""
    study = Study(horizon_s=horizon_s)
    found = []
    for seed in seeds:
        world = study.dynamics(n, everyone=True).world(paper_scenario(n, seed, ratio=10), seed)
        for controller, solver in CONTROLLERS:
            began = time.perf_counter()
            summary = study.simulate(world, controller, solver, "total").summary()
            found.append({**summary, "oracle": summary["mean_best"] * horizon_s})
            print(f"  regret: seed {seed}, {summary['controller']}: "
                  f"{time.perf_counter() - began:.0f} s", file=sys.stderr)  # fmt: skip
    frame = pd.DataFrame(found).assign(pct=lambda f: 100 * f.regret / f.oracle)
    return frame.groupby("controller").agg(
        mean=("regret", "mean"), least=("regret", "min"), largest=("regret", "max"),
        pct=("pct", "mean"), certified=("certified_share", "mean"),
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds of 600 s, N ≤ 20")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the regret table")
    parser.add_argument("--decisions-only", action="store_true", help="skip the regret table")
    args = parser.parse_args()
    seeds = list(range(2 if args.quick else args.seeds))
    horizon = 600.0 if args.quick else 3600.0
    load = os.getloadavg()
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load[0]:.2f} (1 min), "
        f"{load[2]:.2f} (15 min) at the start.\n"
    )
    decisions = decision_table([10, 20] if args.quick else [10, 20, 50], 0)
    print(table(decisions, align="lrrrrrrll"))
    if args.decisions_only:
        return 0
    regret = regret_table(20, seeds, horizon)
    print(
        f"\nCumulative regret over {horizon:g} s at N = 20 (total delay, s·s), {len(seeds)} "
        "seeds; beside it, the regret as a share of the oracle's total delay over the horizon:\n"
    )
    shown = pd.DataFrame({
        "controller": regret.index,
        "regret, mean": regret["mean"].map(lambda v: f"{v:.1f}"),
        "least": regret["least"].map(lambda v: f"{v:.1f}"),
        "largest": regret["largest"].map(lambda v: f"{v:.1f}"),
        "% of the oracle": regret["pct"].map(lambda v: f"{v:.2f}"),
        "certified": regret["certified"].map(lambda v: f"{100 * v:.0f} %"),
    })  # fmt: skip
    print(table(shown, align="lrrrrr"))
    best = regret["mean"].idxmin()
    static = next(name for name in regret.index if name.startswith("static"))
    print(
        f"\nBest: {best}, {regret['mean'][best]:.1f} s·s; {static}: "
        f"{regret['mean'][static]:.1f} s·s. Load average at the end {os.getloadavg()[0]:.2f}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
