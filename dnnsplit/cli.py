"""The ``dnnsplit`` command line (docs/interface.md): ``evaluate``, ``solve``, ``scenario``, ...

Every command prints one JSON object on stdout. Bad input exits with status 2 and one line
on stderr naming the field (or the flag) and what was wrong: never a traceback, never a
partial result. Exit statuses:

- 0: success, the JSON result on stdout;
- 1: an internal error (a bug: please report it); one line on stderr, the traceback only
  with ``DNNSPLIT_DEBUG=1`` in the environment;
- 2: bad input (a file, a field, a flag); one line naming it;
- 74: the output could not be written (stdout closed, e.g. ``| head``, or full, or
  ``profile --out`` not writable); nothing partial is left behind;
- 130: interrupted (Ctrl-C, SIGINT).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from dnnsplit._io import OutputError, stdout_closed, write_stdout
from dnnsplit.errors import InputError
from dnnsplit.evaluate import MODELS, evaluate
from dnnsplit.model import LOCAL_DELAY_FORMS
from dnnsplit.online.commands import add_commands as add_online_commands
from dnnsplit.reader import read_data
from dnnsplit.scenario import SCENARIO_POLICIES, Scenario
from dnnsplit.setup import LOWEST_POINTS, Setup, changed
from dnnsplit.solvers import OBJECTIVES, SOLVERS, STARTS, solve
from dnnsplit.testbed.commands import add_commands as add_testbed_commands

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "main",
]

EXIT_OK = 0
#: An internal error (a bug); the traceback is shown only with DNNSPLIT_DEBUG=1.
EXIT_INTERNAL = 1
#: Bad input: one line on stderr naming the field or flag.
EXIT_BAD_INPUT = 2
#: The output could not be written (sysexits.h EX_IOERR): stdout closed or full.
EXIT_OUTPUT = 74
#: Interrupted by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def _pair(kind: type) -> Any:
    def parse(text: str) -> tuple:
        parts = text.split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"{text!r} is not LOW,HIGH")
        try:
            return tuple(kind(part) for part in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not LOW,HIGH of two {'whole numbers' if kind is int else 'numbers'}"
            ) from None

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
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {' '.join(message.split())}\n")


def _partition(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise InputError(
            "partition", f"{text[:60]!r} is not a comma-separated list of whole numbers"
        ) from None


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

    so = commands.add_parser(
        "solve",
        help="choose partition points",
        description="Solver options are passed only when given, and a solver refuses one "
        "it does not take, naming it.",
    )
    so.add_argument("scenario")
    so.add_argument("--objective", choices=OBJECTIVES, default="total")
    so.add_argument("--solver", choices=SOLVERS, default="greedy")
    so.add_argument("--model", choices=MODELS, default="snapshot")
    so.add_argument("--start", choices=STARTS, help="greedy, local-search: start (half)")
    so.add_argument("--restarts", type=int, help="local-search, optimal: random starts (8)")
    so.add_argument("--seed", type=int, help="local-search, optimal: seed of the starts (0)")
    so.add_argument("--max-vectors", type=float, help="exhaustive: refuse spaces larger than this")
    so.add_argument(
        "--time-limit",
        type=float,
        help="stop (or refuse) a searching solver after this many seconds (default 120; "
        "exhaustive: none)",
    )
    so.add_argument(
        "--progress", action="store_true", default=None, help="progress bar (exhaustive)"
    )
    so.add_argument(
        "--energy-cap",
        type=float,
        help="greedy, local-search, exhaustive, optimal: the most total device energy, J",
    )

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
    add_testbed_commands(commands)  # serve, device, testbed: dnnsplit/testbed/commands.py
    add_online_commands(commands)  # online: dnnsplit/online/commands.py
    return parser


def _flag_for(field_name: str, args: argparse.Namespace) -> str:
    """The flag (or ``--setup`` field) a ``setup.<name>`` error of ``scenario`` is about."""
    if not field_name.startswith("setup."):
        return {"devices": "--devices", "seed": "--seed"}.get(field_name, field_name)
    rest = field_name.removeprefix("setup.")
    name = rest.split(".")[0].split("[")[0]
    flag = next((f for f, n, _, _ in SETUP_FLAGS if n == name), None)
    if flag is not None and getattr(args, name, None) is not None:
        return flag
    return f"--setup.{rest}" if args.setup is not None else field_name


def _setup(args: argparse.Namespace) -> Setup:
    """The setup of ``dnnsplit scenario``: ``--setup FILE`` (or the defaults), then flags."""
    base = Setup()
    if args.setup is not None:
        raw = read_data(args.setup, "--setup", "JSON file")
        if isinstance(raw, dict) and "setup" in raw:
            raw = raw["setup"]  # a figure's manifest
        base = Setup.from_dict(raw, where="--setup")
    changes = {
        name: getattr(args, name)
        for _, name, _, _ in SETUP_FLAGS
        if getattr(args, name) is not None
    }
    try:
        return changed(base, changes)
    except InputError as error:
        raise InputError(_flag_for(error.field, args), error.problem) from None


def _check_out(out: str) -> None:
    """Refuse a ``profile --out`` that cannot be written, before measuring for minutes."""
    path = Path(out)
    if not out.strip() or "\x00" in out:
        raise InputError("--out", f"{out!r} is not a file name")
    if path.is_dir():
        raise InputError("--out", f"{out!r} is a directory; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError("--out", f"{str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK):
        raise InputError("--out", f"cannot write in {str(parent)!r}: permission denied")


#: The options of ``solve`` given as flags: the keyword each one sets.
SOLVE_OPTIONS = (
    "start",
    "restarts",
    "seed",
    "max_vectors",
    "time_limit",
    "progress",
    "energy_cap",
)
#: The options of ``profile`` checked by :func:`dnnsplit.profiler.profile_to_file`.
PROFILE_OPTIONS = ("threads", "repeats", "warmup")


def _as_flags(error: InputError, given: Sequence[str]) -> InputError:
    """``error`` naming the flag of a keyword the user gave as a flag (``time_limit`` is
    ``--time-limit``); other errors as they are."""
    if error.field not in given:
        return error
    return type(error)("--" + error.field.replace("_", "-"), error.problem)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    """The command's result. Values are checked by the library's declarations (one
    place), their errors renamed to the flags that gave them."""
    if args.command == "scenario":
        setup = _setup(args)
        try:
            return Scenario.paper(args.devices, args.seed, setup).to_dict()
        except InputError as error:
            raise InputError(_flag_for(error.field, args), error.problem) from None
    if args.command == "profile":
        from dnnsplit.profiler import profile_to_file

        try:
            _check_out(args.out)
            return profile_to_file(
                args.model,
                args.out,
                threads=args.threads,
                repeats=args.repeats,
                warmup=args.warmup,
                hardware=args.hardware,
                progress=not args.quiet,
            )
        except InputError as error:
            raise _as_flags(error, PROFILE_OPTIONS) from None
        except OSError as error:
            raise OutputError(f"--out: cannot write {args.out!r}: {error.strerror}") from None
    if args.command == "evaluate":
        partition = _partition(args.partition)
        scenario = Scenario.from_file(args.scenario)
        return evaluate(scenario, partition, model=args.model).to_dict()
    options = {k: getattr(args, k) for k in SOLVE_OPTIONS if getattr(args, k) is not None}
    scenario = Scenario.from_file(args.scenario)
    try:
        solution = solve(
            scenario, objective=args.objective, solver=args.solver, model=args.model, **options
        )
    except InputError as error:
        raise _as_flags(error, list(options)) from None
    return solution.to_dict()


def _say(command: str, message: str) -> None:
    try:
        sys.stderr.write(f"{command}: {' '.join(message.split())}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass  # stderr is gone too: the exit status still tells


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    command = "dnnsplit"
    try:
        args = _build_parser().parse_args(argv)
        command = f"dnnsplit {args.command}"
        if hasattr(args, "run_command"):  # serve, device, testbed print their own output
            return int(args.run_command(args))
        if stdout_closed():
            raise OutputError("stdout is closed: there is nowhere to write the result")
        with warnings.catch_warnings():
            # a floating-point warning on checked input is a bug: report it as one, never
            # print a number computed past an overflow
            warnings.filterwarnings(
                "error",
                message=r".*(overflow|invalid value|divide by zero) encountered",
                category=RuntimeWarning,
            )
            result = _run(args)
            text = json.dumps(result, indent=2, allow_nan=False, default=_jsonable) + "\n"
        write_stdout(text)
    except InputError as error:
        _say(command, str(error))
        return EXIT_BAD_INPUT
    except OutputError as error:
        _say(command, str(error))
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        _say(command, "interrupted")
        return EXIT_INTERRUPTED
    except MemoryError:
        _say(command, "out of memory (internal error: please report it)")
        return EXIT_INTERNAL
    except Exception as error:
        if os.environ.get("DNNSPLIT_DEBUG"):
            raise
        _say(
            command,
            f"internal error, please report it ({type(error).__name__}: {error}); "
            "DNNSPLIT_DEBUG=1 shows the traceback",
        )
        return EXIT_INTERNAL
    return EXIT_OK
