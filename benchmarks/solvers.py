"""Wall time of every solver against N, with the speed targets of the core issue.

Run: ``python benchmarks/solvers.py`` (``--quick`` for a short run). Prints a Markdown
table; targets are checked here, never in timed tests (these machines are shared and
noisy). Scenarios are the paper's setup (AlexNet, estimated Pi 3B+ profile, R = 1, SJF).

Targets (2-core machine):
- greedy, total delay, sjf: N = 1,000 in ≤ 2 s; N = 10,000 in ≤ 120 s;
- exhaustive at N = 10: ≥ 50 million partition vectors per second;
- exact (linear assignment) at N = 2,000 in ≤ 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import dnnsplit
from dnnsplit import Scenario, solve
from dnnsplit.profiler import cpu_model

TARGETS = {
    ("greedy", "total", 1_000): ("seconds", 2.0),
    ("greedy", "total", 10_000): ("seconds", 120.0),
    ("exhaustive", "total", 10): ("vectors/s", 50e6),
    ("exhaustive", "variance", 10): ("vectors/s", 50e6),
    ("exact", "total", 2_000): ("seconds", 10.0),
}


def cases(quick: bool) -> list[tuple[str, str, int]]:
    if quick:
        return [
            ("greedy", "total", 1_000),
            ("greedy", "variance", 50),
            ("exhaustive", "total", 8),
            ("exact", "total", 500),
            ("local-search", "variance", 50),
        ]
    rows = [("greedy", "total", n) for n in (10, 100, 1_000, 10_000)]
    rows += [("greedy", "variance", n) for n in (10, 50, 200)]
    rows += [("local-search", "variance", n) for n in (10, 50)]
    rows += [
        ("exhaustive", objective, n) for objective in ("total", "variance") for n in (6, 8, 10)
    ]
    rows += [("exact", "total", n) for n in (10, 100, 1_000, 2_000)]
    rows += [(b, "total", 10_000) for b in ("all-local", "max-local", "independent")]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    # compile the exhaustive kernel before timing it
    solve(Scenario.paper(3, 0), solver="exhaustive")
    solve(Scenario.paper(3, 0), solver="exhaustive", objective="variance")

    print(
        f"dnnsplit {dnnsplit.__version__} on {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print()
    print("| solver | objective | N | seconds | iterations | vectors/s | target | met |")
    print("|---|---|---:|---:|---:|---:|---|---|")
    for solver, objective, n in cases(args.quick):
        scenario = Scenario.paper(n, args.seed)
        solution = solve(scenario, solver=solver, objective=objective)
        rate = solution.iterations / solution.seconds if solver == "exhaustive" else None
        target = TARGETS.get((solver, objective, n))
        met = ""
        target_text = ""
        if target is not None:
            kind, bound = target
            if kind == "seconds":
                target_text = f"≤ {bound:g} s"
                met = "yes" if solution.seconds <= bound else "NO"
            else:
                target_text = f"≥ {bound / 1e6:g} M/s"
                met = "yes" if rate is not None and rate >= bound else "NO"
        rate_text = f"{rate / 1e6:.1f} M" if rate is not None else ""
        print(
            f"| {solver} | {objective} | {n:,} | {solution.seconds:.3f} | "
            f"{solution.iterations:,} | {rate_text} | {target_text} | {met} |",
            flush=True,
        )
    # peak memory of the whole run (Linux reports KiB)
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak resident memory of the run: {peak:.0f} MiB")
    except ImportError:
        pass


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"benchmark wall time: {time.perf_counter() - t0:.0f} s")
