"""The emulated testbed's calibration, and the wall time of the measurement notebook 08
draws from (the committed ``figures/testbed*`` files).

Run (root, a cgroup v2 or v1 CPU controller, ``ip`` and ``tc``, PyTorch, two cores; on a
quiet machine: other processes distort the cgroups' quotas)::

    python benchmarks/testbed.py              # measure: the full run, written to figures/
    python benchmarks/testbed.py --quick      # a smoke-sized run, written to build/
    python benchmarks/testbed.py --committed  # print the committed measurement's tables

then redraw the figure, its tables and REPRODUCTION.md's section from it::

    ./run_all.sh --only 08 07

Prints three Markdown tables:

1. **Calibration**: each emulated device's stage times (the profiler inside its cgroup)
   against the profile it emulates (the Pi 3B+ estimate) and against the host's times over
   the device's quota (what a uniform slowdown can reach). Target: every total within 10 %
   of the emulated profile.
2. **Wall time** of the run (N = 1, 2, 4, 8 and the largest that fits, five seeds, SJF and
   RR, about ten candidate vectors, three repeats), by phase. Target: at most 45 minutes on
   two cores.
3. **The whole delay's error and the rank fidelity**, predicted and calibrated.

The load average is printed with every measurement: these machines are shared, and a busy
neighbour slows the devices and the BS alike.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dnnsplit.paper import testbed  # noqa: E402
from dnnsplit.paper.text import table  # noqa: E402
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, shown  # noqa: E402

TOTAL_TARGET = 0.10
WALL_TARGET_S = 45 * 60.0


def calibration_markdown(calibration: pd.DataFrame) -> str:
    totals = calibration[calibration["stage"] == "total"]
    shown = pd.DataFrame({
        "device": totals["device"].astype(str),
        "quota": totals["fraction"].map(lambda f: f"{100 * f:.2f} %"),
        "target (ms)": totals["target_s"].map(lambda t: f"{1e3 * t:.0f}"),
        "emulated (ms)": totals["emulated_s"].map(lambda t: f"{1e3 * t:.0f}"),
        "emulated / target": totals["emulated_over_target"].map(lambda r: f"{r:.2f}"),
    })  # fmt: skip
    within = (totals["emulated_over_target"] - 1).abs() <= TOTAL_TARGET
    stages = calibration[calibration["stage"] != "total"]
    to_target = ((stages["emulated_over_target"] - 1).abs() <= TOTAL_TARGET).mean()
    to_scaled = ((stages["emulated_over_scaled"] - 1).abs() <= TOTAL_TARGET).mean()
    return (
        f"{table(shown, align='rrrrr')}\n\nTotals within {TOTAL_TARGET:.0%} of the emulated "
        f"profile: {int(within.sum())} of {len(totals)} devices (target: all). Stages within "
        f"{TOTAL_TARGET:.0%} of the host's time over the quota: {to_scaled:.0%}; of the Pi "
        f"estimate: {to_target:.0%} (one quota cannot reproduce the Pi's stage shape)."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--committed", action="store_true", help="print the committed measurement's tables"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run (to build/)")
    args = parser.parse_args()
    if args.committed:
        measurement = testbed.testbed_rows("committed", committed_dir=FIGURES_DIR)
    else:
        from dnnsplit.testbed.emulation import capabilities
        from dnnsplit.testbed.experiment import TestbedConfig, run_testbed

        missing = capabilities()["missing"]
        if missing:
            print(f"cannot measure here: needs {'; '.join(missing)}", file=sys.stderr)
            return 2
        config = testbed.quick_config() if args.quick else TestbedConfig()
        out = BUILD_DIR / "testbed-bench" if args.quick else FIGURES_DIR
        print(f"load average before: {os.getloadavg()}", flush=True)
        with tempfile.TemporaryDirectory(prefix="dnnsplit-testbed-") as work:
            rows, provenance = run_testbed(config, work, say=lambda m: print(m, flush=True))
        testbed.write_measurement(rows, provenance, config, out, quick=args.quick)
        measurement = testbed.testbed_rows("committed", committed_dir=out)
        print(f"\nwritten to {shown(out)}")
    notes, grid = measurement.manifest["notes"], measurement.manifest["grids"]["testbed"]
    print(f"\n{measurement.origin}\n")
    print(calibration_markdown(testbed.calibration_frame(measurement)))
    wall = float(notes.get("wall_s") or 0)
    phases = ", ".join(f"{k.removesuffix('_s')} {v:.0f} s" for k, v in notes["phases_s"].items())
    what = (
        f"N = {notes['devices']}, {len(grid['seeds'])} seeds, {'/'.join(grid['policies'])}, "
        f"{grid['repeats']} repeats"
    )
    print("\n| run | wall time (s) | phases | target | met | load average at the start |")
    print("|---|---:|---|---|---|---|")
    met = "yes" if wall <= WALL_TARGET_S else "no"
    print(f"| {what} | {wall:.0f} | {phases} | ≤ {WALL_TARGET_S:.0f} s | {met} "
          f"| {notes['host']['load_average']} |")  # fmt: skip
    summary = testbed.error_summary(measurement.rows)
    whole = summary[summary["component"] == "total"]
    rank = testbed.rank_fidelity(measurement.rows)
    taus = rank[rank["model"] == "snapshot"].groupby(["inputs", "objective"])["tau"].median()
    print("\nThe whole delay per device, and the median Kendall's τ (snapshot model):")
    for row in whole.itertuples():
        print(f"  {row.inputs} {row.model}: median |error| {100 * row.median_abs_error:.0f} %, "
              f"{100 * row.within_10:.0f} % within ±10 %")  # fmt: skip
    for (inputs, objective), tau in taus.items():
        print(f"  τ {objective}, {inputs}: {tau:+.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
