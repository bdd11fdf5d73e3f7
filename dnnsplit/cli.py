"""The ``dnnsplit`` command line (INTERFACE.md): ``evaluate``, ``solve``, ``scenario``, ...

Every command prints one JSON object on stdout. Bad input exits with status 2 and one line
on stderr naming the field and what was wrong: never a traceback, never a partial result.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from dnnsplit.errors import InputError
from dnnsplit.evaluate import MODELS, evaluate
from dnnsplit.scenario import DEFAULT_PROFILE, SCENARIO_POLICIES, Scenario
from dnnsplit.solvers import OBJECTIVES, SOLVERS, STARTS, solve

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors follow the bad-input rule (one line, status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _partition(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise InputError(
            "partition", f"{text!r} is not a comma-separated list of whole numbers"
        ) from None


def _print(obj: dict[str, Any]) -> None:
    text = json.dumps(obj, indent=2, allow_nan=False, default=_jsonable)
    sys.stdout.write(text + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dnnsplit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ev = commands.add_parser("evaluate", help="delays of one partition vector")
    ev.add_argument("scenario", help="scenario file (JSON, or YAML with PyYAML)")
    ev.add_argument("--partition", required=True, help="p_i per device, e.g. 0,3,5")
    ev.add_argument("--model", choices=MODELS, default="snapshot")

    so = commands.add_parser("solve", help="choose partition points")
    so.add_argument("scenario")
    so.add_argument("--objective", choices=OBJECTIVES, default="total")
    so.add_argument("--solver", choices=SOLVERS, default="greedy")
    so.add_argument("--start", choices=STARTS, default="half")
    so.add_argument("--model", choices=MODELS, default="snapshot")
    so.add_argument("--restarts", type=int, default=8, help="local-search random starts")
    so.add_argument("--seed", type=int, default=0, help="local-search seed")
    so.add_argument(
        "--max-vectors", type=float, default=None, help="exhaustive: refuse spaces larger than this"
    )
    so.add_argument("--progress", action="store_true", help="progress bar (exhaustive)")

    sc = commands.add_parser("scenario", help="a scenario of the paper's evaluation setup")
    sc.add_argument("--devices", type=int, required=True)
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--ratio", type=float, default=1.0)
    sc.add_argument("--policy", choices=SCENARIO_POLICIES, default="sjf")
    sc.add_argument("--profile", default=DEFAULT_PROFILE)
    sc.add_argument("--local-delay", choices=("paper", "exact"), default="paper")

    pr = commands.add_parser("profile", help="measure stage times with PyTorch (needs torch)")
    pr.add_argument("--model", default="alexnet")
    pr.add_argument("--threads", type=int, default=1)
    pr.add_argument("--repeats", type=int, default=30)
    pr.add_argument("--warmup", type=int, default=5)
    pr.add_argument("--out", required=True, help="profile CSV to write")
    pr.add_argument("--hardware", default=None, help="hardware label (default: the CPU model)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _run(args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "scenario":
        return Scenario.paper(
            args.devices,
            args.seed,
            ratio=args.ratio,
            policy=args.policy,
            profile=args.profile,
            local_delay=args.local_delay,
        ).to_dict()
    if args.command == "profile":
        from dnnsplit.profiler import profile_to_file

        return profile_to_file(
            args.model,
            args.out,
            threads=args.threads,
            repeats=args.repeats,
            warmup=args.warmup,
            hardware=args.hardware,
            progress=not args.quiet,
        )
    scenario = Scenario.from_file(args.scenario)
    if args.command == "evaluate":
        return evaluate(scenario, _partition(args.partition), model=args.model).to_dict()
    max_vectors = None if args.max_vectors is None else int(args.max_vectors)
    return solve(
        scenario,
        objective=args.objective,
        solver=args.solver,
        start=args.start,
        model=args.model,
        restarts=args.restarts,
        seed=args.seed,
        max_vectors=max_vectors,
        progress=args.progress,
    ).to_dict()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 on bad input)."""
    args = _build_parser().parse_args(argv)
    try:
        result = _run(args)
    except InputError as error:
        sys.stderr.write(f"dnnsplit {args.command}: {error}\n")
        return 2
    _print(result)
    return 0
