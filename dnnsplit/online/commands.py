"""The ``dnnsplit online`` subcommand: run a controller in a dynamic scenario.

It reads a scenario file with an ``online`` block (docs/online.md; without one, every
device is present throughout at its constant rate), runs :func:`dnnsplit.online.simulate`
and prints its summary as one JSON object; ``--trace FILE`` (a rate CSV or a Mahimahi
trace) replaces every device's trace. :func:`add_commands` registers it on the main parser
with its ``handler`` (:func:`dnnsplit.cli.main` returns its exit status); bad input exits 2
with one line naming the flag or the field.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from dnnsplit._io import require_stdout, write_stdout
from dnnsplit._params import metavar
from dnnsplit.errors import InputError
from dnnsplit.online.api import DEFAULT_MAX_NODES, simulate
from dnnsplit.online.controllers import CONTROLLER_SOLVERS, CONTROLLERS
from dnnsplit.online.dynamics import OnlineScenario, TraceSpec
from dnnsplit.online.traces import read_trace
from dnnsplit.solvers import DELAY_OBJECTIVES

__all__ = ["add_commands"]

#: The options of ``online`` given as flags: the keyword each one sets.
FLAGS = {"controller": "controller", "solver": "solver", "objective": "objective",
         "horizon": "horizon_s", "seed": "seed", "max_nodes": "max_nodes", "switch": "switch_s"}


def add_commands(commands: Any) -> None:
    """Register ``online`` on the subparsers ``commands``."""
    on = commands.add_parser("online", description=__doc__.splitlines()[0],
                             help="run a controller while devices come and go and uplinks change")
    on.add_argument("scenario", help="scenario file with an 'online' block (JSON, or YAML)")
    on.add_argument("--controller", metavar=metavar(CONTROLLERS), default="repair")
    on.add_argument("--solver", metavar=metavar(CONTROLLER_SOLVERS), default="greedy",
                    help="static, resolve: solver of each decision (repair: of the first)")
    on.add_argument("--objective", metavar=metavar(DELAY_OBJECTIVES), default="total")
    on.add_argument("--trace", default=None,
                    help="rate trace for every device: time_s,rate_mbit CSV or Mahimahi")
    on.add_argument("--window", type=float, default=1.0,
                    help="seconds per rate window of a Mahimahi --trace (1)")
    on.add_argument("--horizon", type=float, default=None, help="seconds (the file's)")
    on.add_argument("--switch", type=float, default=None, help="switching delay, s (the file's)")
    on.add_argument("--seed", type=int, default=None, help="the world's seed (0)")
    on.add_argument("--max-nodes", type=int, default=DEFAULT_MAX_NODES,
                    help="node limit of optimal, as a controller and as the oracle")
    on.add_argument("--no-regret", action="store_true", help="skip the oracle")
    on.set_defaults(handler=_online)


def _flag(error: InputError, args: argparse.Namespace) -> InputError:
    """``error`` naming the flag of a keyword the user gave as one."""
    for flag, keyword in FLAGS.items():
        if error.field == keyword and getattr(args, flag) is not None:
            return InputError("--" + flag.replace("_", "-"), error.problem)
    return error


def _online(args: argparse.Namespace) -> int:
    require_stdout()
    online = OnlineScenario.from_file(args.scenario)
    dynamics = online.dynamics
    try:
        if args.trace is not None:
            if not 0.001 <= args.window <= 3600:
                raise InputError("--window", f"must be 0.001 to 3600 s, got {args.window:g}")
            trace = read_trace(args.trace, args.window, "--trace")
            spec = TraceSpec.of_file(trace, "mahimahi" if trace.period_s else "csv", args.trace)
            dynamics = replace(dynamics, traces=(spec,))
        if args.switch is not None:
            if not 0 <= args.switch <= 3600:
                raise InputError("switch_s", f"must be 0 to 3600 s, got {args.switch:g}")
            dynamics = replace(dynamics, switch_s=float(args.switch))
        run = simulate(OnlineScenario(online.scenario, dynamics), controller=args.controller,
                       solver=args.solver, objective=args.objective, seed=args.seed,
                       horizon_s=args.horizon, max_nodes=args.max_nodes,
                       regret=not args.no_regret)  # fmt: skip
    except InputError as error:
        raise _flag(error, args) from None
    write_stdout(json.dumps(run.summary(), indent=2, allow_nan=False) + "\n")
    return 0
