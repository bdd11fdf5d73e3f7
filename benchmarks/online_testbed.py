"""The online controllers on the emulated testbed: measured delays against the model's
predictions, per controller (the committed ``figures/online_testbed*`` files).

Run (root, a cgroup v2 or v1 CPU controller, ``ip`` and ``tc``, PyTorch, two cores; on a
quiet machine: other processes distort the cgroups' quotas)::

    python benchmarks/online_testbed.py             # measure, written to build/online_testbed/
    python benchmarks/online_testbed.py --commit    # measure, written to figures/
    python benchmarks/online_testbed.py --committed # print the committed measurement's table

then redraw notebook 10's figure and REPRODUCTION.md's section from it::

    ./run_all.sh --only 10 07

The world: the paper's draw of N devices (``--devices``, seed ``--seed``) at
``alexnet-pi3b-estimated``, all present, a request round every ``--period`` s, each
uplink a seeded two-state channel (bad = ``--bad-factor`` × good, mean stays
``--mean-good`` / ``--mean-bad`` s) that ``tc`` replays; every controller of
``--controllers`` plays ``--horizon`` s of the same world (:mod:`dnnsplit.online.testbed`).
Writes ``online_testbed.csv`` (one row per request), ``online_testbed_decisions.csv`` (one
per decision) and ``online_testbed.manifest.json`` (host, load averages, date, command),
and prints the per-controller table with the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dnnsplit import paper_scenario  # noqa: E402
from dnnsplit.online import Dynamics, OnlineScenario, Requests, TraceSpec  # noqa: E402
from dnnsplit.online.controllers import CONTROLLERS  # noqa: E402
from dnnsplit.paper import online  # noqa: E402
from dnnsplit.paper.output import write_manifest, write_table  # noqa: E402
from dnnsplit.paper.text import table  # noqa: E402
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, shown  # noqa: E402
from dnnsplit.setup import Setup  # noqa: E402

PROFILE = "alexnet-pi3b-estimated"


def measure(args: argparse.Namespace, out: Path) -> None:
    from dnnsplit.online.testbed import OnlineTestbedConfig, run_online_testbed
    from dnnsplit.testbed.emulation import capabilities

    caps = capabilities()
    if caps["missing"] or not caps["netns"]:
        print(f"cannot measure here: needs {'; '.join(caps['missing']) or 'ip and tc'}",
              file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    pool = paper_scenario(args.devices, args.seed, Setup(profile=PROFILE, policy=args.policy))
    trace = TraceSpec(kind="two-state", bad_factor=args.bad_factor,
                      mean_good_s=args.mean_good, mean_bad_s=args.mean_bad)  # fmt: skip
    dynamics = Dynamics(traces=(trace,), requests=Requests(period_s=args.period),
                        horizon_s=args.horizon, switch_s=0.0)  # fmt: skip
    controllers = args.controllers.split(",")
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="dnnsplit-online-testbed-") as work:
        requests, decisions, provenance = run_online_testbed(
            OnlineScenario(pool, dynamics), work,
            OnlineTestbedConfig(controllers=tuple(controllers), seed=args.seed),
            say=lambda m: print(m, flush=True),
        )  # fmt: skip
    grid = {"devices": args.devices, "seed": args.seed, "policy": args.policy,
            "profile": PROFILE, "horizon_s": args.horizon, "period_s": args.period,
            "trace": trace.to_dict(), "controllers": controllers, "solver": "greedy",
            "objective": "total"}  # fmt: skip
    command = "python benchmarks/online_testbed.py " + " ".join(sys.argv[1:])
    write_table(requests, out / "online_testbed.csv")
    write_table(decisions, out / "online_testbed_decisions.csv")
    write_manifest(out, online.TESTBED_RUN, setup=None, grids={online.TESTBED_RUN: grid},
                   quick=False, figures=[],
                   notes={"measured": True, "command": command.strip(), **provenance})  # fmt: skip
    print(f"\nwritten to {shown(out)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--committed", action="store_true", help="print the committed table")
    parser.add_argument("--commit", action="store_true", help="write to figures/")
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", default="sjf")
    parser.add_argument("--horizon", type=float, default=60.0)
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--bad-factor", type=float, default=0.1)
    parser.add_argument("--mean-good", type=float, default=8.0)
    parser.add_argument("--mean-bad", type=float, default=4.0)
    parser.add_argument("--controllers", default=",".join(CONTROLLERS))
    args = parser.parse_args()
    out = FIGURES_DIR if args.commit or args.committed else BUILD_DIR / "online_testbed"
    if not args.committed:
        measure(args, out)
    measurement = online.testbed_measurement(out)
    if measurement is None:
        print(f"no measurement in {shown(out)}", file=sys.stderr)
        return 2
    host, after = (measurement.manifest["notes"][key] for key in ("host", "host_after"))
    print(
        f"\nMeasured on {host['cpu']}, {host['cores']} cores, {host['date']}, load "
        f"average {host['load_average']} at the start, {after['load_average']} at the end\n"
    )
    summary = online.testbed_summary(measurement.requests, measurement.decisions)
    print(table(online.testbed_table(summary), align="lrrrrrrrrr"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
