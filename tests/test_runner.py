"""``./run_all.sh`` (:mod:`dnnsplit.paper.runner`) checks every setting before a notebook
runs, and a closed or full stdout, or a read-only checkout, ends it with one line; a full
run refuses a notebook that differs from its committed version; ``--check`` compares a
re-run with the results by meaning."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from dnnsplit.paper import engine, runner
from dnnsplit.paths import NOTEBOOKS_DIR, ROOT

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


# --- committed parameters only -------------------------------------------------------------

QUICKSTART = "00_quickstart.ipynb"


@pytest.fixture
def checkout(tmp_path):
    """A git checkout with one committed notebook (the quick start)."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    shutil.copyfile(NOTEBOOKS_DIR / QUICKSTART, root / "notebooks" / QUICKSTART)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-C", str(root)]
    for step in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "the notebook"]):
        subprocess.run(git + step, check=True, capture_output=True)
    return root


def saved(root, change) -> None:
    """Save the notebook in ``root`` after ``change(notebook)``, as JupyterLab would."""
    path = root / "notebooks" / QUICKSTART
    notebook = json.loads(path.read_text())
    change(notebook)
    path.write_text(json.dumps(notebook, indent=1) + "\n")


def executed(notebook) -> None:
    """Outputs, execution counts and timing metadata, as an executed notebook has."""
    for count, cell in enumerate(c for c in notebook["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = count + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["done\n"]}]
        cell["metadata"]["execution"] = {"iopub.status.idle": "2026-12-01T10:00:00Z"}


def tweaked(notebook) -> None:
    """A parameter changed in the parameters cell (and nothing else)."""
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(cell["source"])
    assert "n_devices = 8" in source
    cell["source"] = source.replace("n_devices = 8", "n_devices = 9")


def test_a_notebook_differs_from_its_committed_version_only_by_its_cells(checkout, tmp_path):
    assert runner.changed_notebooks([QUICKSTART], checkout / "notebooks") == []
    saved(checkout, executed)
    assert (
        runner.changed_notebooks([QUICKSTART], checkout / "notebooks") == []
    )  # outputs do not count
    saved(checkout, tweaked)
    assert runner.changed_notebooks([QUICKSTART], checkout / "notebooks") == [
        f"notebooks/{QUICKSTART} (cell 2 (its parameters))"
    ]
    saved(checkout, lambda nb: nb["cells"].pop())
    assert runner.changed_notebooks([QUICKSTART], checkout / "notebooks") == [
        f"notebooks/{QUICKSTART} (cells added or removed)"
    ]
    shutil.copyfile(NOTEBOOKS_DIR / QUICKSTART, checkout / "notebooks" / "10_new.ipynb")
    assert runner.changed_notebooks(["10_new.ipynb"], checkout / "notebooks") == [
        "notebooks/10_new.ipynb (not committed)"
    ]
    plain = tmp_path / "unpacked"  # a release unpacked: no git checkout
    shutil.copytree(checkout / "notebooks", plain / "notebooks")
    assert runner.changed_notebooks([QUICKSTART], plain / "notebooks") is None


def test_a_saved_tweak_cannot_reach_the_committed_results(checkout, monkeypatch, capsys):
    """A parameter changed and saved (JupyterLab autosaves): a full run refuses before any
    notebook runs, naming the notebook and the cell; a quick run (into build/quick/) runs
    the notebook as it is."""
    ran = []
    monkeypatch.setattr(runner, "_run", lambda chosen, quick, at_once: ran.append(quick) or 0)
    monkeypatch.setattr(
        runner,
        "changed_notebooks",
        functools.partial(runner.changed_notebooks, folder=checkout / "notebooks"),
    )
    saved(checkout, executed)
    assert runner.main(["--workers", "1", "--only", "00", "--no-site"]) == 0
    assert ran == [False]
    saved(checkout, tweaked)
    assert runner.main(["--workers", "1", "--only", "00"]) == runner.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"run_all: notebooks/{QUICKSTART} (cell 2 (its parameters)) differs from the committed"
    ), err
    assert "--quick" in err and ran == [False]
    assert runner.main(["--quick", "--workers", "1", "--only", "00", "--no-site"]) == 0
    assert ran == [False, True]


# --- --check ------------------------------------------------------------------------------------


def test_check_compares_a_quick_re_run_and_names_a_changed_cell(tmp_path, monkeypatch, capsys):
    """./run_all.sh --quick --only 02 writes the reference; one number of it is then
    changed: --check --quick --only 02 re-runs, finds every other file reproduced, names
    the file, the line and the column of the changed one, and exits 1."""
    monkeypatch.setattr(runner, "QUICK_DIR", tmp_path / "quick")
    monkeypatch.setattr(runner, "CHECK_DIR", tmp_path / "check")
    monkeypatch.setattr(runner, "BUILD_DIR", tmp_path)  # the executed notebooks, too
    argv = ["--quick", "--workers", "1", "--only", "02"]
    assert runner.main([*argv, "--no-site"]) == 0
    summary = tmp_path / "quick" / "fig3a_summary.csv"
    lines = summary.read_text().splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    column = header.index("mean")
    row[column] = repr(float(row[column]) * (1 + 1e-3) + 1)  # far beyond the tolerance
    lines[1] = ",".join(row)
    summary.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert runner.main(["--check", *argv]) == runner.EXIT_FAILED
    out = capsys.readouterr().out
    table = out[out.index("what differs") :]
    assert re.search(r"fig3a_summary.csv +line 2, column mean: [0-9.]+ committed", table), table
    assert re.search(r"\n1 of (\d+) files differ from ", table), table
    files = int(re.search(r"\n1 of (\d+) files", table).group(1))
    assert table.count("reproduces") == files - 1 >= 8, table  # every other file reproduces


def test_a_kernel_starts_in_its_notebook_s_folder_whatever_the_process_s(tmp_path, monkeypatch):
    """papermill moves the whole process into the notebook's folder and back; beside
    another notebook that has just ended, the process may be elsewhere when a kernel
    starts (taken here: papermill's move does nothing, the process sits in another
    folder). The kernel still starts in its notebook's folder, so a relative output_dir
    lands where the runner meant it."""
    import contextlib

    import nbformat
    import papermill.execute

    folder = tmp_path / "notebooks"
    folder.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}  # fmt: skip
    parameters = nbformat.v4.new_code_cell('output_dir = ""')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(
        "import pathlib; pathlib.Path(output_dir, 'here.txt').write_text('x')")]  # fmt: skip
    nbformat.write(notebook, folder / "n.ipynb")
    (tmp_path / "out").mkdir()
    elsewhere = tmp_path / "elsewhere" / "deeper"  # where "../out" is another folder
    elsewhere.mkdir(parents=True)
    (tmp_path / "elsewhere" / "out").mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(papermill.execute, "chdir", lambda path: contextlib.nullcontext())
    kernel = runner.KernelHandle(tmp_path / "n.kernel.log")
    runner.run_notebook(folder / "n.ipynb", tmp_path / "n.out.ipynb", {"output_dir": "../out"},
                        kernel=kernel)  # fmt: skip
    assert (tmp_path / "out" / "here.txt").exists()
    assert not (tmp_path / "elsewhere" / "out" / "here.txt").exists()
