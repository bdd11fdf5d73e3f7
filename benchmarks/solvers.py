"""Wall time of every solver against N, with the speed targets of the core issues.

Run: ``python benchmarks/solvers.py`` (``--quick`` for a short run). Prints a Markdown
table; targets are checked here, never in timed tests (these machines are shared and
noisy). Scenarios are the paper's setup (AlexNet, estimated Pi 3B+ profile, R = 1, SJF),
``paper_scenario(N, seed)``.

Targets (2-core machine):

- greedy, total delay: N = 1,000 in ≤ 2 s; N = 10,000 in ≤ 120 s;
- greedy, variance: N = 1,000 in ≤ 2 s; N = 10,000 in ≤ 120 s;
- local-search (8 restarts), variance: N = 1,000 in ≤ 30 s;
- exhaustive at N = 10: ≥ 50 million partition vectors per second (each objective);
- exact (linear assignment) at N = 2,000 in ≤ 10 s;
- optimal, variance: N = 10 at least 10× faster than exhaustive on the same scenario;
  N = 12 certified within 60 s; N = 15 certified within 120 s; N = 20 certified or a gap
  ≤ 1 % within 150 s; N = 50 a reported gap (time limit 60 s);
- optimal at Fig. 5's scale (``--scale``: the scenarios of ``fig5_scale``, default setup,
  R = 1, seeds 0–9 unless ``--seeds``): SJF variance N = 30 certified within 120 s; SJF
  variance N = 50 certified or a gap ≤ 5 % within 300 s; RR variance N = 30 a gap ≤ 10 %
  within 300 s; SJF min-max N = 50 certified within 120 s (each for at least 8 of 10
  seeds); N = 3,000 with a 1 s time limit answers within a few seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any

import dnnsplit
from dnnsplit import paper_scenario, solve
from dnnsplit.profiler import cpu_model


@dataclass(frozen=True)
class Case:
    """One row: ``solver`` on ``paper_scenario(n, seed)``, with an optional target."""

    solver: str
    objective: str
    n: int
    seed: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    #: ("seconds", s) | ("vectors/s", r) | ("certified", s) | ("gap", (g, s)) |
    #: ("speedup", x) | ("reported gap", s)
    target: tuple[str, Any] | None = None
    policy: str = "sjf"


def scale_cases(seeds: tuple[int, ...]) -> list[Case]:
    """The targets of Fig. 5 at the paper's sizes (``fig5_scale``'s scenarios)."""
    rows = [
        Case("optimal", "variance", 30, s, {"time_limit": 120.0}, ("certified", 120.0))
        for s in seeds
    ]
    rows += [
        Case("optimal", "max", 50, s, {"time_limit": 120.0}, ("certified", 120.0)) for s in seeds
    ]
    rows += [
        Case("optimal", "variance", 30, s, {"time_limit": 300.0}, ("gap", (0.10, 300.0)), "rr")
        for s in seeds
    ]
    rows += [
        Case("optimal", "variance", 50, s, {"time_limit": 300.0}, ("gap", (0.05, 300.0)))
        for s in seeds
    ]
    rows += [
        Case("optimal", objective, 3_000, 1, {"time_limit": 1.0}, ("seconds", 5.0))
        for objective in ("total", "variance", "max")
    ]
    return rows


def cases(quick: bool, seeds: tuple[int, ...]) -> list[Case]:
    if quick:
        return [
            Case("greedy", "total", 1_000, target=("seconds", 2.0)),
            Case("greedy", "variance", 1_000, target=("seconds", 2.0)),
            Case("local-search", "variance", 1_000, target=("seconds", 30.0)),
            Case("greedy", "max", 50),
            Case("exhaustive", "max", 8),
            Case("exact", "total", 500),
            Case("optimal", "variance", 10, seeds[0], target=("speedup", 10.0)),
            Case("optimal", "variance", 12, seeds[0], target=("certified", 60.0)),
            Case("optimal", "max", 12, seeds[0]),
        ]
    rows = [Case("greedy", "total", n) for n in (10, 100)]
    rows += [Case("greedy", "total", 1_000, target=("seconds", 2.0))]
    rows += [Case("greedy", "total", 10_000, target=("seconds", 120.0))]
    rows += [Case("greedy", "variance", n) for n in (10, 100)]
    rows += [Case("greedy", "variance", 1_000, target=("seconds", 2.0))]
    rows += [Case("greedy", "variance", 10_000, target=("seconds", 120.0))]
    rows += [Case("greedy", "max", n) for n in (10, 100, 200)]
    rows += [Case("local-search", "variance", n) for n in (10, 50)]
    rows += [Case("local-search", "variance", 1_000, target=("seconds", 30.0))]
    rows += [Case("local-search", "max", n) for n in (10, 50)]
    for objective in ("total", "variance", "max"):
        rows += [Case("exhaustive", objective, n) for n in (6, 8)]
        rows += [Case("exhaustive", objective, 10, target=("vectors/s", 50e6))]
    rows += [Case("exact", "total", n) for n in (10, 100, 1_000)]
    rows += [Case("exact", "total", 2_000, target=("seconds", 10.0))]
    rows += [Case("optimal", "variance", 10, s, target=("speedup", 10.0)) for s in seeds]
    rows += [Case("optimal", "variance", 12, s, target=("certified", 60.0)) for s in seeds]
    rows += [Case("optimal", "variance", 15, s, target=("certified", 120.0)) for s in seeds]
    rows += [
        Case("optimal", "variance", 20, s, {"time_limit": 150.0}, ("gap", (0.01, 150.0)))
        for s in seeds
    ]
    rows += [
        Case("optimal", "variance", 50, s, {"time_limit": 60.0}, ("reported gap", 60.0))
        for s in seeds[:2]
    ]
    rows += [Case("optimal", "max", n, seeds[0], {"time_limit": 60.0}) for n in (10, 15, 20)]
    rows += [Case(b, "total", 10_000) for b in ("all-local", "max-local", "independent")]
    return rows


def run(case: Case) -> list[str]:
    """The table cells of one case (after the solver, objective and N columns)."""
    scenario = paper_scenario(case.n, case.seed, policy=case.policy)
    solution = solve(scenario, solver=case.solver, objective=case.objective, **case.options)
    seconds = solution.seconds
    rate = solution.iterations / seconds if case.solver == "exhaustive" else None
    extra = solution.extra
    gap = extra.get("gap")
    compared = ""
    met = ""
    target_text = ""
    if case.target is not None:
        kind, bound = case.target
        if kind == "seconds":
            target_text = f"≤ {bound:g} s"
            met = seconds <= bound
        elif kind == "vectors/s":
            target_text = f"≥ {bound / 1e6:g} M/s"
            met = rate is not None and rate >= bound
        elif kind == "speedup":
            reference = solve(scenario, solver="exhaustive", objective=case.objective)
            ratio = reference.seconds / seconds
            same = abs(reference.value - solution.value) <= 1e-9 * max(1.0, reference.value)
            compared = f"exhaustive {reference.seconds:.2f} s: {ratio:.0f}×" + (
                "" if same else " (DIFFERENT optimum)"
            )
            target_text = f"≥ {bound:g}× exhaustive"
            met = ratio >= bound and same and solution.optimal
        elif kind == "certified":
            target_text = f"certified ≤ {bound:g} s"
            met = solution.optimal and seconds <= bound
        elif kind == "gap":
            limit_gap, limit_s = bound
            target_text = f"certified or gap ≤ {100 * limit_gap:g} % in {limit_s:g} s"
            met = (solution.optimal or (gap is not None and gap <= limit_gap)) and (
                seconds <= limit_s + 5
            )
        elif kind == "reported gap":
            target_text = f"a gap within {bound:g} s"
            met = gap is not None and seconds <= bound + 5
        met = "yes" if met else "NO"
    certified = ""
    if case.solver in ("optimal", "exhaustive", "exact"):
        certified = "yes" if solution.optimal else "no"
    return [
        str(case.seed),
        f"{seconds:.3f}",
        f"{solution.iterations:,}",
        f"{rate / 1e6:.1f} M" if rate is not None else "",
        f"{solution.value:.6g}",
        certified,
        "" if gap is None else f"{100 * gap:.3g} %",
        compared,
        target_text,
        met,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="scenario seeds of optimal"
    )
    parser.add_argument(
        "--scale", action="store_true", help="only the rows of Fig. 5 at scale (fig5_scale)"
    )
    parser.add_argument("--n", type=int, nargs="+", default=None, help="only rows of these N")
    args = parser.parse_args()
    if args.seeds is None:
        args.seeds = list(range(10)) if args.scale else [1, 2, 3]

    # compile the kernels before timing them
    small = paper_scenario(4, 0)
    for objective in ("total", "variance", "max"):
        solve(small, solver="exhaustive", objective=objective)
        solve(small, solver="optimal", objective=objective)
        solve(small, solver="greedy", objective=objective)

    print(
        f"dnnsplit {dnnsplit.__version__} on {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print()
    print(
        "| solver | policy | objective | N | seed | seconds | iterations | vectors/s | value | "
        "certified | gap | compared | target | met |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|---|---|")
    chosen = scale_cases(tuple(args.seeds)) if args.scale else cases(args.quick, tuple(args.seeds))
    for case in chosen:
        if args.n is not None and case.n not in args.n:
            continue
        cells = run(case)
        print(
            f"| {case.solver} | {case.policy} | {case.objective} | {case.n:,} | "
            + " | ".join(cells)
            + " |",
            flush=True,
        )
    print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # peak memory of the whole run (Linux reports KiB)
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory of the run: {peak:.0f} MiB")
    except ImportError:
        pass


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"benchmark wall time: {time.perf_counter() - t0:.0f} s")
