"""Shared helpers of the hostile-input tests (``tests/test_hostile_*.py``): a valid
scenario to break, the one-line rule of refusals, and a bound on the time a call takes."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import re
import signal
import sys

from hypothesis import event, settings

from dnnsplit.cli import EXIT_BAD_INPUT, main
from dnnsplit.paths import MEASUREMENTS_DIR

SHIPPED_CSV = MEASUREMENTS_DIR / "alexnet-epyc-1t-measured.csv"
BASE = {
    "profile": {
        "input_bytes": 618348,
        "stages": [
            {"name": "conv1", "device_s": 0.036, "output_bytes": 1161600},
            {"name": "pool1", "device_s": 0.003, "output_bytes": 279936},
        ],
    },
    "bs": {"policy": "sjf", "ratio": 10, "quantum_s": 0.01},
    "local_delay": "paper",
    "devices": [
        {"background": 2, "quantum_s": 0.01, "max_stage": 2, "rate_bps": 26e6},
        {"distance_m": 120.0},
    ],
}
GOOD = json.dumps(BASE, indent=2)
#: "dnnsplit <command>: <field>: <problem>", the field being anything before ": "
ONE_LINE = re.compile(r"^dnnsplit [a-z]+: (?P<field>[^:\n]+(?::[^:\n]+)?): \S[^\n]*\n$")

FUZZING = settings.get_current_profile_name() == "fuzz"


def fuzz_settings(examples: int) -> settings:
    """Derandomized with ``examples`` examples, unless the ``fuzz`` profile is loaded."""
    return settings() if FUZZING else settings(derandomize=True, max_examples=examples)


class Hang(BaseException):
    """A call took longer than its bound (a BaseException: main() must not catch it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Fail with :class:`Hang` if the block runs longer than ``seconds``."""

    def alarm(signum, frame):
        raise Hang(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(capsys, *argv: str, seconds: float = 30) -> tuple[int, str, str]:
    """``dnnsplit argv`` in this process: (status, stdout, stderr)."""
    with time_limit(seconds):
        try:
            status = main([str(a) for a in argv])
        except SystemExit as stop:  # argparse errors
            status = stop.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_refused(status: int, out: str, err: str, field: str | None = None) -> str:
    """Exit 2, nothing on stdout, one line on stderr naming ``field`` (a prefix)."""
    assert status == EXIT_BAD_INPUT, (status, err)
    assert out == ""
    assert "Traceback" not in err
    match = ONE_LINE.match(err)
    assert match, f"not one 'dnnsplit cmd: field: problem' line: {err!r}"
    if field is not None:
        assert match["field"].startswith(field) or err.split(": ", 2)[1].startswith(field), err
    return err


def changed(path: list, value, raw: dict | None = None) -> dict:
    raw = copy.deepcopy(BASE if raw is None else raw)
    target = raw
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


def finite_numbers(value) -> bool:
    """Every number inside a JSON result is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    return True


def cli_command() -> list[str]:
    return [sys.executable, "-m", "dnnsplit"]


def check_outcome(status, out, err, command):
    """Exit 2 with one line, or exit 0 with a finite JSON result."""
    event(f"exit {status}")
    assert "Traceback" not in err
    if status != 0:
        assert_refused(status, out, err)
        assert err.startswith(f"dnnsplit {command}: ")
        return None
    assert err == ""
    result = json.loads(out)
    assert finite_numbers(result), result
    return result
