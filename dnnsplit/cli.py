"""The ``dnnsplit`` command line (docs/interface.md): ``evaluate``, ``solve``, ``scenario``, ...

Every command prints one JSON object on stdout. Bad input exits with status 2 and one line
on stderr naming the field and what was wrong: never a traceback, never a partial result.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from dnnsplit.errors import InputError
from dnnsplit.evaluate import MODELS, evaluate
from dnnsplit.model import LOCAL_DELAY_FORMS
from dnnsplit.scenario import SCENARIO_POLICIES, Scenario
from dnnsplit.setup import LOWEST_POINTS, Setup
from dnnsplit.solvers import OBJECTIVES, SOLVERS, STARTS, solve

__all__ = ["main"]


def _pair(kind: type) -> Any:
    def parse(text: str) -> tuple:
        parts = text.split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"{text!r} is not LOW,HIGH")
        return tuple(kind(part) for part in parts)

    parse.__name__ = f"{kind.__name__} pair"
    return parse


#: ``dnnsplit scenario`` flags that set one field of the setup: (flag, field, type, extra).
SETUP_FLAGS: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("--profile", "profile", str, {"help": "device stage profile (shipped name or CSV)"}),
    ("--bs-profile", "bs_profile", str, {"help": "measured BS profile (replaces --ratio)"}),
    ("--ratio", "ratio", float, {"help": "R: BS speed over device speed (default 1)"}),
    ("--policy", "policy", str, {"choices": SCENARIO_POLICIES, "help": "BS policy"}),
    ("--quantum", "quantum_s", float, {"help": "device round-robin quantum q, s (0.01)"}),
    ("--bs-quantum", "bs_quantum_s", float, {"help": "BS round-robin quantum, s (0.01)"}),
    ("--local-delay", "local_delay", str, {"choices": LOCAL_DELAY_FORMS, "help": "eq. (1)"}),
    ("--distance", "distance_m", _pair(float), {"help": "LOW,HIGH metres (50,500)"}),
    ("--max-stage", "max_stage", _pair(int), {"help": "LOW,HIGH memory limits (5,8)"}),
    ("--background", "background", _pair(int), {"help": "LOW,HIGH processes (0,3)"}),
    (
        "--lowest-point",
        "lowest_point",
        int,
        {"choices": LOWEST_POINTS, "help": "0: full offload allowed; 1: p >= 1 (the paper's)"},
    ),
]


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

    sc = commands.add_parser(
        "scenario",
        help="the scenario of (N, seed, setup) in the paper's evaluation",
        description="Prints the scenario of (N, seed, setup), drawn from "
        "numpy.random.default_rng([N, seed]) exactly as the figures' sweeps draw it. The "
        "setup starts from the defaults, or from --setup FILE (a setup object, or a "
        "figure's manifest), and the flags below change single fields.",
    )
    sc.add_argument("--devices", type=int, required=True, help="N")
    sc.add_argument("--seed", type=int, default=0, help="scenario seed (a whole number >= 0)")
    sc.add_argument("--setup", default=None, help="JSON file: a setup, or a manifest with one")
    for flag, field_name, kind, extra in SETUP_FLAGS:
        sc.add_argument(flag, dest=field_name, type=kind, default=None, **extra)

    pr = commands.add_parser("profile", help="measure stage times with PyTorch (needs torch)")
    pr.add_argument("--model", default="alexnet")
    pr.add_argument("--threads", type=int, default=1)
    pr.add_argument("--repeats", type=int, default=30)
    pr.add_argument("--warmup", type=int, default=5)
    pr.add_argument("--out", required=True, help="profile CSV to write")
    pr.add_argument("--hardware", default=None, help="hardware label (default: the CPU model)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _setup(args: argparse.Namespace) -> Setup:
    """The setup of ``dnnsplit scenario``: ``--setup FILE`` (or the defaults), then flags."""
    base = Setup()
    if args.setup is not None:
        try:
            raw = json.loads(Path(args.setup).read_text(encoding="utf-8"))
        except OSError as error:
            raise InputError("--setup", f"cannot read {args.setup!r}: {error.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError("--setup", f"{args.setup} is not a JSON file ({error})") from None
        if isinstance(raw, dict) and "setup" in raw:
            raw = raw["setup"]  # a figure's manifest
        base = Setup.from_dict(raw, where="--setup")
    changes = {
        name: getattr(args, name)
        for _, name, _, _ in SETUP_FLAGS
        if getattr(args, name) is not None
    }
    try:
        return replace(base, **changes)
    except InputError as error:
        name = error.field.removeprefix("setup.").split(".")[0].split("[")[0]
        flag = next((f for f, n, _, _ in SETUP_FLAGS if n == name), None)
        if flag is None:
            raise
        raise InputError(flag, error.problem) from None


def _run(args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "scenario":
        return Scenario.paper(args.devices, args.seed, _setup(args)).to_dict()
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
