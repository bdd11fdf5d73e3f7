"""Online partitioning: measured decision times against N, and an hour's regret at N = 20.

Run: ``python benchmarks/online.py`` (about 20 minutes on two cores; ``--quick``: two
seeds of ten minutes, N ≤ 20). Prints two Markdown tables; the targets are checked here,
never in timed tests (these machines are shared and noisy), and the machine's load is
printed with them.

1. **Decision time.** Each deciding controller in a 60 s world of N devices, all present,
   their uplinks following the study's two-state channel (``dnnsplit.paper.online.Study``),
   a fresh world per controller so no state's solution is shared: the **measured** wall
   time of its decisions after the start (median and 95th percentile), beside the
   **modelled** time the simulation charges (evaluations × ``seconds_per_evaluation``) and
   the measured seconds per evaluation (which calibrates that cost). Targets: incremental
   repair decides within 10 ms at N = 50; re-solving with greedy within 100 ms at N = 50
   (each judged on the median; the 95th percentile is printed beside it).
2. **Regret over an hour.** N = 20 devices, all present, the two-state traces, every
   controller of the study on total delay in the same world per seed; the cumulative
   regret against the oracle (certified by ``optimal``: total delay without deadlines is
   an assignment, certified at every N), mean over seeds with the least and the largest,
   and the share of the horizon certified. The best controller's and the static one's
   stand side by side.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from dnnsplit import paper_scenario
from dnnsplit.online import simulate
from dnnsplit.online.api import label
from dnnsplit.paper.online import CONTROLLERS, DECIDING, Study
from dnnsplit.profiler import cpu_model

#: (controller label, N) → the median decision time it should meet, s.
TARGETS = {("repair (greedy)", 50): 0.010, ("resolve (greedy)", 50): 0.100}


def decision_rows(devices: list[int], seed: int) -> list[tuple]:
    study = Study()
    rows = []
    warm = paper_scenario(6, seed, ratio=10)  # compile the kernels before timing
    for controller, solver in DECIDING:
        simulate(
            study.dynamics(6, 20.0, everyone=True).world(warm, seed),
            controller=controller,
            solver=solver,
            regret=False,
        )
    for n in devices:
        scenario = paper_scenario(n, seed, ratio=10)
        for controller, solver in DECIDING:
            world = study.dynamics(n, 60.0, everyone=True).world(scenario, seed)  # own memo
            run = simulate(
                world,
                controller=controller,
                solver=solver,
                regret=False,
                seconds_per_evaluation=study.seconds_per_evaluation,
            )
            measured = run.trajectory.measured_s[1:]
            decisions = run.trajectory.decisions.iloc[1:]
            evaluations = float(decisions.evaluations.sum())
            rows.append(
                (
                    label(controller, solver),
                    n,
                    len(measured),
                    float(np.median(measured)),
                    float(np.percentile(measured, 95)),
                    float(decisions.modelled_s.mean()),
                    float(measured.sum() / evaluations) if evaluations else float("nan"),
                )
            )
            print(f"  decisions: {rows[-1][0]}, N = {n}", file=sys.stderr)
    return rows


def regret_rows(n: int, seeds: list[int], horizon_s: float) -> dict[str, list[tuple]]:
    study = Study(horizon_s=horizon_s)
    found: dict[str, list[tuple]] = {}
    for seed in seeds:
        world = study.dynamics(n, everyone=True).world(paper_scenario(n, seed, ratio=10), seed)
        for controller, solver in CONTROLLERS:
            began = time.perf_counter()
            run = simulate(
                world,
                controller=controller,
                solver=solver,
                objective="total",
                seconds_per_evaluation=study.seconds_per_evaluation,
                max_nodes=study.max_nodes,
            )
            summary = run.summary()
            found.setdefault(summary["controller"], []).append(
                (summary["regret"], summary["certified_share"], summary["mean_best"])
            )
            print(
                f"  regret: seed {seed}, {summary['controller']}: "
                f"{time.perf_counter() - began:.0f} s",
                file=sys.stderr,
            )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds of 600 s, N ≤ 20")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the regret table")
    parser.add_argument("--decisions-only", action="store_true", help="skip the regret table")
    args = parser.parse_args()
    devices = [10, 20] if args.quick else [10, 20, 50]
    seeds = list(range(2 if args.quick else args.seeds))
    horizon = 600.0 if args.quick else 3600.0
    load = os.getloadavg()
    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load[0]:.2f} (1 min), "
        f"{load[2]:.2f} (15 min) at the start."
    )
    print()
    rows = decision_rows(devices, 0)
    print(
        "| controller | N | decisions | measured median (ms) | measured p95 (ms) | "
        "modelled mean (ms) | measured µs / evaluation | target (median) | met |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for name, n, count, median, p95, modelled, per in rows:
        target = TARGETS.get((name, n))
        met = "" if target is None else ("yes" if median <= target else "no")
        shown = "" if target is None else f"≤ {target * 1e3:g} ms"
        print(
            f"| {name} | {n} | {count} | {median * 1e3:.2f} | {p95 * 1e3:.2f} | "
            f"{modelled * 1e3:.3f} | {per * 1e6:.2f} | {shown} | {met} |"
        )
    if args.decisions_only:
        return 0
    print()
    found = regret_rows(20, seeds, horizon)
    print(
        f"Cumulative regret over {horizon:g} s at N = 20 (total delay, s·s), "
        f"{len(seeds)} seeds; the oracle's mean total delay beside it:"
    )
    print()
    print("| controller | regret, mean | least | largest | % of the oracle | certified |")
    print("|---|---:|---:|---:|---:|---:|")
    means = {}
    for name, values in sorted(found.items()):
        regret = np.array([v[0] for v in values])
        oracle = np.array([v[2] for v in values]) * horizon
        means[name] = regret.mean()
        print(
            f"| {name} | {regret.mean():.1f} | {regret.min():.1f} | {regret.max():.1f} | "
            f"{100 * (regret / oracle).mean():.2f} | "
            f"{100 * np.mean([v[1] for v in values]):.0f} % |"
        )
    best = min(means, key=means.get)
    static = next(name for name in means if name.startswith("static"))
    print()
    print(
        f"Best: {best}, {means[best]:.1f} s·s; {static}: {means[static]:.1f} s·s. "
        f"Load average at the end {os.getloadavg()[0]:.2f}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
