"""Faults: stdout closed or full, Ctrl-C, internal errors: one line and the promised exit
status, never a traceback or a half-written result."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnnsplit import (
    paper_scenario,
)
from dnnsplit.cli import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OUTPUT, main
from hostile import (
    cli_command,
)

# --- faults: stdout closed or full, Ctrl-C, internal errors ---------------------------------


class BrokenStdout:
    def __init__(self, error: OSError) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (BrokenPipeError(32, "Broken pipe"), "stdout was closed before the result was written"),
        (
            OSError(28, "No space left on device"),
            "cannot write the result to stdout: No space left on device",
        ),
    ],
)
def test_a_closed_or_full_stdout_is_one_line(error, message, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", BrokenStdout(error))
    status = main(["scenario", "--devices", "3"])
    err = capsys.readouterr().err
    assert status == EXIT_OUTPUT and err == f"dnnsplit scenario: {message}\n"


def test_interrupts_and_internal_errors_are_one_line(capsys, monkeypatch):
    import dnnsplit.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "paper_scenario", interrupted)
    assert main(["scenario", "--devices", "3"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "dnnsplit scenario: interrupted\n"

    def broken(*args, **kwargs):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(cli, "paper_scenario", broken)
    assert main(["scenario", "--devices", "3"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" in err and "RuntimeError: a bug over" in err
    monkeypatch.setenv("DNNSPLIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["scenario", "--devices", "3"])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_real_process_with_stdout_full_or_closed(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*cli_command(), "scenario", "--devices", "3"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == EXIT_OUTPUT
    assert (
        done.stderr
        == "dnnsplit scenario: cannot write the result to stdout: No space left on device\n"
    )
    # a reader that leaves at once (as `| head -c 10` does), on an output larger than a pipe
    process = subprocess.Popen(
        [*cli_command(), "scenario", "--devices", "2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == EXIT_OUTPUT
    assert err == "dnnsplit scenario: stdout was closed before the result was written\n"


def test_real_process_ctrl_c(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(paper_scenario(60, 1, policy="rr").to_dict()))
    process = subprocess.Popen(
        [
            *cli_command(),
            "solve",
            str(path),
            "--solver",
            "local-search",
            "--restarts",
            "100000",
            "--model",
            "timeline",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.5)  # past the imports, into the search
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == EXIT_INTERRUPTED
    assert out == "" and err == "dnnsplit solve: interrupted\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["scenario", "--devices", "3"],
        ["solve", "{file}"],
        ["evaluate", "{file}", "--partition", "0,0,0"],
    ],
    ids=["scenario", "solve", "evaluate"],
)
def test_a_closed_stdout_exits_74_for_every_command(argv, tmp_path):
    """Started with stdout closed (``>&-``): exit 74 and one line, before any work."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(paper_scenario(3, 1).to_dict()))
    argv = [a.format(file=path) for a in argv]
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *cli_command(), *argv],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_OUTPUT
    assert done.stderr == (
        f"dnnsplit {argv[0]}: stdout is closed: there is nowhere to write the result\n"
    )


#: Solves the scenario of N = 10 by exhaustive search (about 10 s on two cores) once the
#: kernel is compiled and warm; prints "ready" just before.
CTRL_C_SCRIPT = """
import sys
from dnnsplit import paper_scenario, solve
from dnnsplit.cli import main
solve(paper_scenario(3, 0), solver="exhaustive", objective="variance")  # compiled, warm
print("ready", flush=True)
sys.exit(main(["solve", sys.argv[1], "--solver", "exhaustive", "--objective", "variance"]))
"""


@pytest.mark.parametrize("delay", [0.2, 0.9, 1.6])
def test_ctrl_c_inside_the_compiled_exhaustive_search_is_exit_130(delay, tmp_path):
    """A real SIGINT while numba's threads enumerate (it was SIGSEGV, 9 times in 9)."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(paper_scenario(10, 1).to_dict()))
    process = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ready\n"
    time.sleep(delay)
    began = time.perf_counter()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert out == "" and err == "dnnsplit solve: interrupted\n"
    # at the end of the kernel's block, not of the whole search (90 s at a load of 10 on two
    # cores): a loose bound, so a shared machine's load does not fail it
    assert time.perf_counter() - began < 15
