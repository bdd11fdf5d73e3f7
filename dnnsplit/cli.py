"""The ``dnnsplit`` command line (docs/interface.md): ``scenario``, ``evaluate``, ``solve``,
``profile``, and the testbed's ``serve``, ``device`` and ``testbed``.

One function per subcommand turns its flags into the keyword arguments of one library
call; the library checks them by its declarations (:mod:`dnnsplit._params`) and
:func:`named_by` renames a field to the flag that gave it. A module adds subcommands with
its ``add_commands(subparsers)``, each with a ``handler`` returning the exit status;
:func:`main` maps what goes wrong to one line and an exit status (docs/errors.md: 0
success, 1 internal error, traceback only with ``DNNSPLIT_DEBUG=1``; 2 bad input; 74 the
output could not be written; 130 interrupted).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from dnnsplit._io import OutputError, require_stdout, write_stdout
from dnnsplit._params import Choice, metavar
from dnnsplit.draw import paper_scenario
from dnnsplit.errors import InputError
from dnnsplit.evaluate import MODELS, evaluate
from dnnsplit.online import commands as online_commands
from dnnsplit.profiler import profile_to_file
from dnnsplit.reader import read_data
from dnnsplit.scenario import Scenario
from dnnsplit.setup import SETUP_FIELDS, Setup
from dnnsplit.solvers import OBJECTIVES, SOLVERS, STARTS, solve
from dnnsplit.testbed import commands as testbed_commands

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "add_commands",
    "main",
    "named_by",
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


@contextlib.contextmanager
def named_by(flags: Mapping[str, str], files: Mapping[str, str] | None = None) -> Iterator[None]:
    """Rename the field of a library error raised in the block to the flag that gave it:
    ``flags`` maps a field to the flag of its value (``setup.max_stage`` and its element
    ``setup.max_stage[1]`` are ``--max-stage``), ``files`` to the flag of a file holding it
    (``setup.channel.exponent`` from ``--setup`` is ``--setup.channel.exponent``). Other
    errors keep their field (a scenario file's field, a partition's entry)."""
    try:
        yield
    except InputError as error:
        field = error.field
        renamed = [
            f for name, f in flags.items() if re.fullmatch(rf"{re.escape(name)}(\[\d+\])?", field)
        ]
        renamed += [
            f + field[len(name) :]
            for name, f in (files or {}).items()
            if re.fullmatch(rf"{re.escape(name)}([.\[].*)?", field)
        ]
        if not renamed:
            raise
        raise type(error)(renamed[0], error.problem) from None


def _flags(*keywords: str) -> dict[str, str]:
    """The flag of each keyword argument: ``time_limit`` is ``--time-limit``."""
    return {keyword: "--" + keyword.replace("_", "-") for keyword in keywords}


def prints_json(
    compute: Callable[[argparse.Namespace], dict[str, Any]],
) -> Callable[[argparse.Namespace], int]:
    """The handler of a command that prints one JSON object, what ``compute`` returns. A
    closed stdout is refused before any work; a floating-point warning on checked input is
    a bug, reported as one (never a number computed past an overflow)."""

    @functools.wraps(compute)
    def handler(args: argparse.Namespace) -> int:
        require_stdout()
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "error",
                message=r".*(overflow|invalid value|divide by zero) encountered",
                category=RuntimeWarning,
            )
            result = compute(args)
            text = json.dumps(result, indent=2, allow_nan=False, default=_jsonable) + "\n"
        write_stdout(text)
        return EXIT_OK

    return handler


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


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


#: ``dnnsplit scenario`` flags that set one field of the setup: (flag, field, type, help).
SETUP_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--profile", "profile", str, "device stage profile (shipped name or CSV)"),
    ("--bs-profile", "bs_profile", str, "measured BS profile (replaces --ratio)"),
    ("--ratio", "ratio", float, "R: BS speed over device speed (default 1)"),
    ("--policy", "policy", str, "BS policy"),
    ("--quantum", "quantum_s", float, "device round-robin quantum q, s (0.01)"),
    ("--bs-quantum", "bs_quantum_s", float, "BS round-robin quantum, s (0.01)"),
    ("--local-delay", "local_delay", str, "eq. (1)"),
    ("--distance", "distance_m", _pair(float), "LOW,HIGH metres (50,500)"),
    ("--max-stage", "max_stage", _pair(int), "LOW,HIGH memory limits (5,8)"),
    ("--background", "background", _pair(int), "LOW,HIGH processes (0,3)"),
    ("--lowest-point", "lowest_point", int, "0: full offload allowed; 1: p >= 1"),
]


def add_commands(commands: Any) -> None:
    """Add ``scenario``, ``evaluate``, ``solve`` and ``profile`` to the subparsers
    ``commands``, each with its ``handler``."""
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
    for flag, field_name, kind, text in SETUP_FLAGS:
        declared = SETUP_FIELDS[field_name]
        choices = metavar(declared.valid()) if isinstance(declared, Choice) else None
        sc.add_argument(flag, dest=field_name, type=kind, default=None, metavar=choices, help=text)
    sc.set_defaults(handler=_scenario)

    ev = commands.add_parser("evaluate", help="delays of one partition vector")
    ev.add_argument("scenario", help="scenario file (JSON, or YAML with PyYAML)")
    ev.add_argument("--partition", required=True, help="p_i per device, e.g. 0,3,5")
    ev.add_argument("--model", default="snapshot", metavar=metavar(MODELS))
    ev.set_defaults(handler=_evaluate)

    so = commands.add_parser(
        "solve",
        help="choose partition points",
        description="Solver options are passed only when given, and a solver refuses one "
        "it does not take, naming it.",
    )
    so.add_argument("scenario")
    so.add_argument("--objective", default="total", metavar=metavar(OBJECTIVES))
    so.add_argument("--solver", default="greedy", metavar=metavar(SOLVERS))
    so.add_argument("--model", default="snapshot", metavar=metavar(MODELS))
    so.add_argument("--start", metavar=metavar(STARTS), help="greedy, local-search: start (half)")
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
    so.set_defaults(handler=_solve)

    pr = commands.add_parser("profile", help="measure stage times with PyTorch (needs torch)")
    pr.add_argument("--model", default="alexnet")
    pr.add_argument("--threads", type=int, default=1)
    pr.add_argument("--repeats", type=int, default=30)
    pr.add_argument("--warmup", type=int, default=5)
    pr.add_argument("--out", required=True, help="profile CSV to write")
    pr.add_argument("--hardware", default=None, help="hardware label (default: the CPU model)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(handler=_profile)


#: The options of ``solve`` given as flags (each reaches the solver only when given).
SOLVE_OPTIONS = ("start", "restarts", "seed", "max_vectors", "time_limit", "progress", "energy_cap")


@prints_json
def _scenario(args: argparse.Namespace) -> dict[str, Any]:
    """``dnnsplit scenario``: :func:`dnnsplit.paper_scenario` of the flags' (N, seed,
    setup); the setup is ``--setup FILE``'s (or the default), changed by the flags."""
    changes = {n: getattr(args, n) for _, n, _, _ in SETUP_FLAGS if getattr(args, n) is not None}
    files = {"setup": "--setup"} if args.setup is not None else {}
    setup = Setup()
    if args.setup is not None:
        with named_by({}, files):
            raw = read_data(args.setup, "setup", "JSON file")
            if isinstance(raw, dict) and "setup" in raw:
                raw = raw["setup"]  # a figure's manifest
            setup = Setup.from_dict(raw)
    flags = {"devices": "--devices", "seed": "--seed"}
    flags |= {f"setup.{name}": flag for flag, name, _, _ in SETUP_FLAGS if name in changes}
    with named_by(flags, files):
        return paper_scenario(args.devices, args.seed, setup, **changes).to_dict()


@prints_json
def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """``dnnsplit evaluate``: :func:`dnnsplit.evaluate` of one partition vector."""
    text = args.partition
    try:
        partition = [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise InputError(
            "partition", f"{text[:60]!r} is not a comma-separated list of whole numbers"
        ) from None
    scenario = Scenario.from_file(args.scenario)
    with named_by(_flags("model")):
        return evaluate(scenario, partition, model=args.model).to_dict()


@prints_json
def _solve(args: argparse.Namespace) -> dict[str, Any]:
    """``dnnsplit solve``: :func:`dnnsplit.solve` with the options given as flags."""
    options = {k: getattr(args, k) for k in SOLVE_OPTIONS if getattr(args, k) is not None}
    scenario = Scenario.from_file(args.scenario)
    with named_by(_flags("objective", "solver", "model", *options)):
        return solve(
            scenario, objective=args.objective, solver=args.solver, model=args.model, **options
        ).to_dict()


@prints_json
def _profile(args: argparse.Namespace) -> dict[str, Any]:
    """``dnnsplit profile``: :func:`~dnnsplit.profiler.profile_to_file`; an ``--out`` that
    cannot be written is refused first."""
    out = args.out
    path = Path(out)
    if not out.strip() or "\x00" in out:
        raise InputError("--out", f"{out!r} is not a file name")
    if path.is_dir():
        raise InputError("--out", f"{out!r} is a directory; give a file name")
    parent = next((folder for folder in path.parents if folder.exists()), path.parent)
    if not parent.is_dir():
        raise InputError("--out", f"{str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK):
        raise InputError("--out", f"cannot write in {str(parent)!r}: permission denied")
    with named_by(_flags("model", "threads", "repeats", "warmup")):
        try:
            return profile_to_file(
                args.model,
                args.out,
                threads=args.threads,
                repeats=args.repeats,
                warmup=args.warmup,
                hardware=args.hardware,
                progress=not args.quiet,
            )
        except OSError as error:
            raise OutputError(f"--out: cannot write {args.out!r}: {error.strerror}") from None


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors follow the bad-input rule (one line, status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {' '.join(message.split())}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dnnsplit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_commands(commands)
    testbed_commands.add_commands(commands)  # serve, device, testbed
    online_commands.add_commands(commands)  # online
    return parser


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
        return int(args.handler(args))
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
