"""The emulated testbed's calibration, and the wall time of notebook 08's full sweep.

Run (root, cgroup v1 ``cpu``, ``ip`` and ``tc``, PyTorch, two cores)::

    python benchmarks/testbed.py              # measure: the full sweep (about 10 minutes)
    python benchmarks/testbed.py --committed  # print the committed measurement's tables

Prints two Markdown tables:

1. **Calibration**: each emulated device's stage times (the profiler inside its cgroup)
   against the profile it emulates (the Pi 3B+ estimate) and against the host's times over
   the device's quota (what a uniform slowdown can reach). Target: the total within 10 %
   of the emulated profile.
2. **Wall time** of the sweep notebook 08 measures (N = 1..8, SJF and RR, four vectors,
   three repeats). Target: at most 10 minutes on two cores.

The load average is printed with every measurement: these machines are shared, and a busy
neighbour slows the devices and the BS alike. The new measurement goes to
``build/testbed-bench/`` (never over ``figures/``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dnnsplit.paper import testbed  # noqa: E402
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR  # noqa: E402

TOTAL_TARGET = 0.10
WALL_TARGET_S = 600.0


def calibration_markdown(calibration: pd.DataFrame) -> str:
    lines = [
        "| device | quota | stage | target (ms) | host / quota (ms) | emulated (ms) "
        "| emulated / target | emulated / (host / quota) |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in calibration.itertuples():
        lines.append(
            f"| {row.device} | {100 * row.fraction:.2f} % | {row.stage} | {1e3 * row.target_s:.1f} "
            f"| {1e3 * row.scaled_host_s:.1f} | {1e3 * row.emulated_s:.1f} "
            f"| {row.emulated_over_target:.2f} | {row.emulated_over_scaled:.2f} |"
        )
    totals = calibration[calibration["stage"] == "total"]
    within = (totals["emulated_over_target"] - 1).abs() <= TOTAL_TARGET
    stages = calibration[calibration["stage"] != "total"]
    stage_within = ((stages["emulated_over_scaled"] - 1).abs() <= TOTAL_TARGET).mean()
    lines += [
        "",
        f"Totals within {TOTAL_TARGET:.0%} of the emulated profile: {int(within.sum())} of "
        f"{len(totals)} devices (target: all). Stages within {TOTAL_TARGET:.0%} of the host's "
        f"time over the quota: {stage_within:.0%}; within {TOTAL_TARGET:.0%} of the Pi "
        f"estimate: {((stages['emulated_over_target'] - 1).abs() <= TOTAL_TARGET).mean():.0%} "
        "(one quota cannot reproduce the Pi's stage shape).",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--committed", action="store_true", help="print the committed measurement's tables"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke-sized sweep")
    args = parser.parse_args()
    if args.committed:
        measurement = testbed.testbed_rows("committed", committed_dir=FIGURES_DIR)
        wall = measurement.manifest["notes"].get("wall_s")
        load = measurement.manifest["notes"]["host"]["load_average"]
        source = measurement.origin
    else:
        from dnnsplit.testbed.emulation import capabilities
        from dnnsplit.testbed.experiment import TestbedConfig, run_testbed

        missing = capabilities()["missing"]
        if missing:
            print(f"cannot measure here: needs {'; '.join(missing)}", file=sys.stderr)
            return 2
        config = testbed.quick_config() if args.quick else TestbedConfig()
        print(f"load average before: {os.getloadavg()}", flush=True)
        began = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dnnsplit-testbed-") as work:
            rows, provenance = run_testbed(config, work, say=lambda m: print(m, flush=True))
        wall = time.perf_counter() - began
        out = BUILD_DIR / "testbed-bench"
        testbed.write_measurement(rows, provenance, config, out, quick=args.quick)
        measurement = testbed.testbed_rows("committed", committed_dir=out)
        load = provenance["host"]["load_average"]
        source = f"measured now, written to {out}"
    print(f"\n{source}\n")
    print(calibration_markdown(testbed.calibration_frame(measurement)))
    met = "yes" if wall is not None and float(wall) <= WALL_TARGET_S else "no"
    print("\n| sweep | wall time (s) | target | met | load average at the start |")
    print("|---|---:|---|---|---|")
    grid = measurement.manifest["grids"]["testbed"]
    what = (
        f"N = {grid['devices'][0]}..{grid['devices'][-1]}, {'/'.join(grid['policies']).upper()}, "
        f"{len(grid['vectors'])} vectors, {grid['repeats']} repeats"
    )
    print(f"| {what} | {float(wall or 0):.0f} | ≤ {WALL_TARGET_S:.0f} s | {met} | {load} |")
    summary = testbed.error_summary(measurement.rows)
    overall = summary.groupby(["policy", "model"])["median_abs_error"].median()
    print("\nMedian over N of the median |relative error|:")
    for (policy, model), value in overall.items():
        print(f"  {policy} {model}: {100 * value:.0f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
