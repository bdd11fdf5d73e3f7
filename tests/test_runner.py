"""``./run_all.sh`` (:mod:`dnnsplit.paper.runner`) checks every setting before a notebook
runs, and a closed or full stdout, or a read-only checkout, ends it with one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from dnnsplit.paper import engine, runner
from dnnsplit.paths import ROOT

pytestmark = pytest.mark.notebook


@pytest.fixture
def no_notebook_runs(monkeypatch):
    """Fail the test if a notebook would run."""

    def refuse(*args, **kwargs):  # pragma: no cover - reached only on a bug
        raise AssertionError("a notebook ran before the settings were checked")

    monkeypatch.setattr(runner, "_run", refuse)


@pytest.mark.parametrize(
    ("argv", "env", "field"),
    [
        (["--workers", "100000"], {}, "--workers: must be at most"),
        (["--workers", "0"], {}, "--workers: must be at least 1"),
        (["--scheduler", "http://host:8786"], {}, "--scheduler: 'http://host:8786' is not"),
        (["--scheduler", "tcp://"], {}, "--scheduler: 'tcp://' needs a host and a port"),
        (["--only", ""], {}, "--only: no notebook matches ''"),
        (["--only", " "], {}, "--only: no notebook matches ' '"),
        (["--only", "nope"], {}, "--only: no notebook matches 'nope'"),
        (["--notebooks-at-once", "0"], {}, "--notebooks-at-once: must be at least 1"),
        ([], {"DNNSPLIT_WORKERS": "abc"}, "DNNSPLIT_WORKERS: must be a whole number"),
        ([], {"DNNSPLIT_WORKERS": "100000"}, "DNNSPLIT_WORKERS: must be at most"),
        ([], {"DNNSPLIT_SCHEDULER": "tcp://"}, "DNNSPLIT_SCHEDULER: 'tcp://' needs a host"),
        ([], {"DNNSPLIT_SCHEDULER": "tcp://127.0.0.1:9"}, "DNNSPLIT_SCHEDULER: cannot reach"),
        (["--scheduler", "tcp://127.0.0.1:9"], {}, "--scheduler: cannot reach"),
    ],
)
def test_bad_settings_exit_2_naming_them_before_any_notebook(
    argv, env, field, monkeypatch, capsys, no_notebook_runs
):
    monkeypatch.setattr(engine, "SCHEDULER_TIMEOUT_S", 0.5)
    monkeypatch.delenv("DNNSPLIT_WORKERS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert runner.main(["--quick", *argv]) == runner.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"run_all: {field}"), err


def runner_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "dnnsplit.paper.runner", "--quick", "--workers", "1", *argv]


def test_a_quick_run_on_a_cluster_passes_while_the_usual_dask_ports_are_held(
    usual_ports_held,
):
    """./run_all.sh --quick's sweeps on a local cluster of two workers beside a process that
    holds Dask's usual ports (8786, 8787): exit 0, no "already in use" warning."""
    command = [sys.executable, "-m", "dnnsplit.paper.runner", "--quick", "--workers", "2",
               "--only", "02", "--no-site"]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already in use" not in done.stdout + done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_or_closed_stdout_is_exit_74_and_one_line():
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            runner_command("--only", "00"),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == runner.EXIT_OUTPUT, done.stderr
    assert done.stderr == (
        "run_all: cannot write the run's progress to stdout: No space left on device\n"
    )
    closed = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *runner_command("--only", "00")],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    assert closed.returncode == runner.EXIT_OUTPUT, closed.stderr
    assert closed.stderr == "run_all: stdout is closed: there is nowhere to report the run\n"


def _can_mount_read_only() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount --bind -o ro {ROOT} {ROOT}"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _can_mount_read_only(), reason="needs unshare and a user namespace to mount read-only"
)
def test_a_read_only_checkout_works_from_the_command_line_and_run_all_names_the_folder(
    tmp_path,
):
    """The whole checkout mounted read-only (as a user without write access sees it): the
    command line works, ``run_all`` ends with one line naming the folder, exit 74."""
    scenario = tmp_path / "s.json"
    script = (
        f"mount --bind -o ro {ROOT} {ROOT} && "
        f"{sys.executable} -m dnnsplit scenario --devices 4 --seed 1 > {scenario} && "
        f"{sys.executable} -m dnnsplit solve {scenario} --solver exhaustive > /dev/null && "
        f"exec {' '.join(runner_command('--only', '00'))}"
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert scenario.stat().st_size > 0
    assert done.returncode == runner.EXIT_OUTPUT, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("run_all: cannot write in build/"), done.stderr
    assert "Read-only file system" in done.stderr


def test_an_executed_notebook_that_cannot_be_written_whole_is_not_left_behind(
    tmp_path, monkeypatch
):
    """A full disk while papermill writes: no truncated executed notebook, one line."""
    import papermill

    from dnnsplit._io import OutputError

    def half_then_full(source, output, **kwargs):
        with open(output, "w") as handle:
            handle.write('{"cells": [')  # a truncated notebook
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(papermill, "execute_notebook", half_then_full)
    output = tmp_path / "out" / "00_quickstart.ipynb"
    notebook = runner.NOTEBOOKS_DIR / "00_quickstart.ipynb"
    with pytest.raises(OutputError, match=r"^cannot write .*00_quickstart.ipynb: No space left"):
        runner.run_notebook(notebook, output, {"quick": True})
    assert list(output.parent.iterdir()) == []
