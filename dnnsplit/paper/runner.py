"""Execute the notebooks headlessly with papermill: the engine of ``./run_all.sh`` (what a
run, ``--check`` and the committed-notebooks rule do: ``docs/running.md``).

Each notebook of :data:`NOTEBOOKS` runs into ``build/notebooks/`` (its kernel's stderr
beside it, ``<name>.kernel.log``), two side by side on a cluster, the longest first and the
report last. Every setting is checked before any notebook runs, each refusal one line. Exit
status: 0 when every notebook ran (``--check``: and every result reproduces); 1 when one
failed or a checked result differs; 2 for bad arguments, a bad setting or an uncommitted
notebook in a full run; 74 when a folder or stdout cannot be written; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, NamedTuple

from dnnsplit._checks import number
from dnnsplit._io import OutputError, silence_stdout, stdout_closed, writable_folder, write_stdout
from dnnsplit.errors import InputError
from dnnsplit.paper import compare, site
from dnnsplit.paper.engine import (
    ENV_CACHE,
    ENV_SCHEDULER,
    ENV_WORKERS,
    Engine,
    check_reachable,
    from_environment,
    start_local_cluster,
)
from dnnsplit.paper.output import figures_by_notebook
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, NOTEBOOKS_DIR, REPORT_PATH, ROOT, shown

__all__ = [
    "NOTEBOOKS",
    "NotebookFailed",
    "changed_notebooks",
    "declared_parameters",
    "main",
    "run_notebook",
]

QUICK_DIR = BUILD_DIR / "quick"  # where --quick writes its figures and report
CHECK_DIR = BUILD_DIR / "check"  # where --check re-runs
#: Exit statuses of ``./run_all.sh``.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_OUTPUT = 74
EXIT_INTERRUPTED = 130

NOTEBOOKS = (
    "00_quickstart.ipynb",
    "01_stage_profiles.ipynb",
    "02_improvement_over_all_local.ipynb",
    "03_greedy_vs_optimal.ipynb",
    "04_beyond_the_paper.ipynb",
    "05_other_networks.ipynb",
    "06_readings.ipynb",
    "08_testbed.ipynb",
    "09_energy.ipynb",
    "10_online.ipynb",
    "07_reproduction_report.ipynb",
)
#: Notebooks that read what the others write: they run after all the others.
READS_THE_OTHERS = ("07_reproduction_report.ipynb",)
#: Started first when notebooks run side by side (the longest: the short ones fill in).
LONGEST_FIRST = ("03_greedy_vs_optimal.ipynb", "06_readings.ipynb", "05_other_networks.ipynb")
#: Seconds an interrupted notebook has to stop before its kernel is killed.
STOP_GRACE_S = 10.0
#: What the runner writes to stdout, for the message when it cannot.
_PROGRESS = "the run's progress"


class NotebookFailed(RuntimeError):
    """A notebook cell raised: names the notebook, the cell and the error."""

    def __init__(self, notebook: str, cell: int | None, error: str) -> None:
        self.notebook, self.cell, self.error = notebook, cell, error
        where = f"cell In [{cell}]" if cell is not None else "before any cell ran"
        super().__init__(f"{notebook}, {where}: {error}")


def declared_parameters(path: Path) -> dict[str, Any]:
    """Names declared in the notebook's ``parameters`` cell (an error if it has none)."""
    import nbformat
    import papermill

    if not path.exists():
        raise InputError("notebook", f"no such notebook {str(path)!r}")
    cells = nbformat.read(path, as_version=4).cells
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells):
        raise InputError(path.name, "has no cell tagged 'parameters'")
    return papermill.inspect_notebook(str(path))


class KernelHandle:
    """The kernel of one notebook run: where its stderr goes (``log_path``), and a way to
    stop it from another thread (when another notebook fails, or on Ctrl-C)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.pid: int | None = None
        self.stopped = threading.Event()

    def stop(self) -> None:
        """Interrupt the running cell (as Ctrl-C in JupyterLab); the notebook then fails."""
        self.stopped.set()
        self.signal(signal.SIGINT)

    def signal(self, number: int) -> None:
        if self.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, number)

    def manager_class(self, cwd: Path) -> type:
        """A kernel manager that starts the kernel in ``cwd`` (papermill moves this whole
        process, which a notebook running beside can move back too early), its stderr to
        :attr:`log_path`, and records its process id here."""
        from jupyter_client.manager import AsyncKernelManager

        handle = self

        class LoggedKernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
                if handle.stopped.is_set():
                    raise KeyboardInterrupt
                handle.log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(handle.log_path, "wb") as log:  # the kernel keeps its own copy
                    await super().start_kernel(**{**kw, "stderr": log, "cwd": str(cwd)})
                handle.pid = getattr(self.provisioner, "pid", None)
                if handle.stopped.is_set():
                    handle.stop()

        return LoggedKernelManager


def run_notebook(
    path: str | Path,
    output: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    kernel: KernelHandle | None = None,
) -> Path:
    """Execute one notebook with ``parameters`` into ``output`` (``kernel``: its stderr's
    log, and a way to stop it). The paths papermill records in the executed notebook are
    rewritten relative to the repository (outside it: their names), so that no path of
    this machine travels.

    Raises
    ------
    InputError
        The notebook has no ``parameters`` cell, or ``parameters`` has a name it does not
        declare.
    NotebookFailed
        A cell raised; the message names the notebook and the cell.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    path, output = Path(path), Path(output)
    parameters = dict(parameters or {})
    declared = declared_parameters(path)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise InputError(
            f"{path.name} parameter {unknown[0]!r}",
            f"not declared in its parameters cell; declared: {', '.join(declared)}",
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    managed = {"kernel_manager_class": kernel.manager_class(path.parent)} if kernel else {}
    # papermill rewrites its output after every cell: it writes a temporary file, renamed
    # into place once whole (after a failing cell too: the executed notebook shows it)
    partial = output.with_name(f".{output.stem}.{os.getpid()}.partial{output.suffix}")
    failed = None
    try:
        try:
            papermill.execute_notebook(
                str(path),
                str(partial),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(path.parent),
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
                **managed,
            )
        except PapermillExecutionError as error:
            failed = NotebookFailed(path.name, error.exec_count, f"{error.ename}: {error.evalue}")
        executed = json.loads(partial.read_text(encoding="utf-8"))
        record = executed["metadata"]["papermill"]
        for key, value in (("input_path", path.resolve()), ("output_path", output.resolve())):
            record[key] = str(value.relative_to(ROOT)) if value.is_relative_to(ROOT) else value.name
        partial.write_text(json.dumps(executed, indent=1, ensure_ascii=False) + "\n", "utf-8")
        os.replace(partial, output)
    except OSError as error:  # the executed notebook could not be written (a full disk)
        raise OutputError(
            f"cannot write {output}: {error.strerror or type(error).__name__}"
        ) from None
    except Exception as error:  # the kernel died, or was stopped before a cell ran
        if kernel is not None and kernel.stopped.is_set():
            raise NotebookFailed(path.name, None, "stopped") from None
        raise NotebookFailed(path.name, None, f"{type(error).__name__}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    if failed is not None:
        raise failed
    return output


def _snapshot(directory: Path) -> dict[Path, float]:
    """Each file of ``directory`` (if any) and its modification time."""
    files = directory.iterdir() if directory.exists() else ()
    return {p: p.stat().st_mtime_ns for p in files if p.is_file()}


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (papermill's and Dask's log lines) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as log:
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class _Status:
    """A line per finished notebook and, on a terminal, one kept-up line with the running
    ones and their elapsed time."""

    def __init__(self, total: int) -> None:
        self.total, self.finished, self.shown = total, 0, False
        self.tty = sys.stdout is not None and sys.stdout.isatty()

    def running(self, jobs: Iterable[_Job]) -> None:
        if self.tty:
            now = time.perf_counter()
            names = ", ".join(f"{j.name} {now - j.started:.0f} s" for j in jobs)
            write_stdout(f"\r\033[K  running: {names}", _PROGRESS)
            self.shown = True

    def done(self, job: _Job, outcome: str) -> None:
        self.finished += 1
        clear, self.shown = "\r\033[K" if self.shown else "", False
        seconds = time.perf_counter() - job.started
        write_stdout(
            f"{clear}[{self.finished}/{self.total}] {job.name} ... {outcome} in {seconds:.1f} s\n",
            _PROGRESS,
        )


class _Job(NamedTuple):
    """A notebook running since ``started``, and its kernel."""

    name: str
    kernel: KernelHandle
    started: float


def _execute(name: str, given: dict[str, Any], executed: Path, kernel: KernelHandle) -> None:
    """Run notebook ``name`` with the ``given`` parameters it declares into ``executed``,
    in a context of its own: papermill runs on an event loop of this thread's context,
    closed after (an idle loop left open is a leak)."""
    from jupyter_core.utils import ensure_event_loop

    path = NOTEBOOKS_DIR / name
    declared = declared_parameters(path)
    parameters = {p: v for p, v in given.items() if p in declared}
    try:
        run_notebook(path, executed / name, parameters, kernel=kernel)
    finally:
        ensure_event_loop().close()


def _run_batch(
    names: list[str],
    given: dict[str, Any],
    at_once: int,
    status: _Status,
    executed: Path | None = None,
) -> None:
    """Run ``names`` in order, at most ``at_once`` at a time. On the first failure or on
    Ctrl-C the queue is dropped, the running ones are interrupted (killed if they do not
    stop), and the error is raised."""
    queue, folder = list(names), executed or BUILD_DIR / "notebooks"
    running: dict[Future[None], _Job] = {}
    pool = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="notebook")
    try:
        while queue or running:
            while queue and len(running) < at_once:
                name = queue.pop(0)
                kernel = KernelHandle(folder / f"{Path(name).stem}.kernel.log")
                new = pool.submit(contextvars.Context().run, _execute, name, given, folder, kernel)
                running[new] = _Job(name, kernel, time.perf_counter())
            finished, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                error = future.exception()
                status.done(job, "FAILED" if error else "done")
                if error is not None:
                    raise error
            status.running(running.values())
    except BaseException as error:
        queue.clear()
        for job in running.values():
            job.kernel.stop()
        _, late = wait(list(running), timeout=STOP_GRACE_S)
        for future in late:
            running[future].kernel.signal(signal.SIGKILL)
        wait(list(running))
        with contextlib.suppress(OutputError):  # stdout is what failed: the error tells
            for job in running.values():
                outcome = "interrupted" if isinstance(error, KeyboardInterrupt) else "stopped"
                status.done(job, outcome)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chosen(only: list[str] | None) -> list[str]:
    """The notebooks ``--only`` names (a part of a name is enough), in run order."""
    if only is None:
        return list(NOTEBOOKS)
    unknown = [o for o in only if not o.strip() or not any(o in n for n in NOTEBOOKS)]
    if unknown or not only:
        raise InputError(
            "--only",
            f"no notebook matches {unknown[0] if unknown else 'an empty list'!r}; "
            f"valid: {', '.join(NOTEBOOKS)}",
        )
    return [n for n in NOTEBOOKS if any(o in n for o in only)]


def _tell(message: str) -> None:
    """One line on stderr (if stderr is gone too, the exit status still tells)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"run_all: {' '.join(message.split())}", file=sys.stderr, flush=True)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The flags of ``./run_all.sh``, read from ``argv``."""
    parser = argparse.ArgumentParser(prog="run_all.sh", description="Execute every notebook.")
    flag = parser.add_argument
    flag("--quick", action="store_true", help="small parameters (a smoke run)")
    flag("--check", action="store_true", help="re-run into build/check/ and compare the results "
         "with the committed ones (with --quick: with the last quick run's) by meaning; exit 0 "
         "only when every result reproduces")
    flag("--only", nargs="*", help="run only these notebooks (a part of the name)")
    flag("--workers", type=int, help="worker processes (default: $DNNSPLIT_WORKERS, else one "
         "per core; 1: every point in the notebook's own process)")
    flag("--scheduler", help="a Dask scheduler to run the sweeps on (tcp://HOST:PORT; default: "
         "$DNNSPLIT_SCHEDULER, else a local cluster)")
    flag("--no-cache", action="store_true", help="recompute every point (ignore build/cache/)")
    flag("--notebooks-at-once", type=int, help="notebooks run side by side (default: 2 when the "
         "sweeps run on a cluster, 1 with --workers 1)")
    flag("--no-site", action="store_true", help="do not build the site (build/site/) at the end")
    flag("--site", action="store_true", help="run no notebook: only rebuild the site from the "
         "files the last run left (with --quick: the last quick run's)")
    return parser.parse_args(argv)


def _outputs(quick: bool) -> tuple[Path, Path]:
    """The figures' folder and the report a run writes."""
    return (QUICK_DIR, QUICK_DIR / "REPRODUCTION.md") if quick else (FIGURES_DIR, REPORT_PATH)


def _shown(folder: Path) -> str:
    """A folder as the user knows it (:func:`dnnsplit.paths.shown`), with a slash."""
    return "the checkout's root" if folder == ROOT else f"{shown(folder)}/"


def _refuse(engine: Engine, chosen: Sequence[str], quick: bool, check: bool) -> None:
    """Refuse, in this order, a run that cannot write its folders (:class:`OutputError`), a
    ``--check`` with nothing to compare with, or a full run of notebooks that differ from
    the committed ones (:class:`InputError`)."""
    out_dir, report = _outputs(quick)
    folders = [CHECK_DIR] if check else [BUILD_DIR / "notebooks", out_dir, report.parent]
    for folder in dict.fromkeys(folders + ([Path(engine.cache_dir)] if engine.cache else [])):
        reason = writable_folder(folder)
        if reason is not None:
            raise OutputError(
                f"cannot write in {_shown(folder)} ({reason}); run from a writable copy of "
                "the repository"
            )
    if check:
        missing = None
        if set(chosen) & set(READS_THE_OTHERS) and not report.is_file():
            missing = shown(report)
        elif not any(p for pattern in compare.COMPARED for p in out_dir.glob(pattern)):
            missing = f"{_shown(out_dir)}*.csv"
        if missing is not None:
            raise InputError(
                "--check",
                f"nothing to compare with, {missing} is missing; run "
                f"./run_all.sh{' --quick' if quick else ''} first",
            )
        return
    changed = [] if quick else changed_notebooks(chosen)
    if changed is None:
        _tell(
            "not a git checkout: the notebooks run as they are (there is no committed version "
            "to compare them with)"
        )
    elif changed:
        raise InputError(  # the field: what differs; the problem: why a full run refuses it
            f"{' and '.join(changed)} differ{'s' if len(changed) == 1 else ''} from the "
            "committed notebooks",
            "figures/ and REPRODUCTION.md are written from committed notebooks only; commit "
            f"the change, undo it (git checkout -- {changed[0].split(' (')[0]}), or try it "
            "with --quick or --check, which write elsewhere",
        )


# --- committed parameters only ------------------------------------------------------------


def _git(root: Path, *args: str) -> str | None:
    """What ``git -C root ARGS`` prints, or None when it fails."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def _cells(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """A notebook's cells as what it runs: each cell's type, source and tags."""
    import nbformat

    cells = nbformat.reads(text, as_version=nbformat.NO_CONVERT).cells
    return [(c.cell_type, c.source, tuple(sorted(c.metadata.get("tags", [])))) for c in cells]


def changed_notebooks(names: Sequence[str], folder: Path | None = None) -> list[str] | None:
    """The notebooks among ``names`` (in ``folder``, default the notebooks' folder) whose
    cells (sources and tags, not outputs) differ from ``HEAD``'s, each with how; None
    outside a git checkout."""
    folder = NOTEBOOKS_DIR if folder is None else folder
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = Path(top.strip()).resolve()
    changed = []
    for name in names:
        where = (folder.resolve() / name).relative_to(root).as_posix()
        committed = _git(root, "show", f"HEAD:{where}")
        if committed is None:
            changed.append(f"{where} (not committed)")
            continue
        now, then = _cells((root / where).read_text(encoding="utf-8")), _cells(committed)
        if len(now) != len(then):
            changed.append(f"{where} (cells added or removed)")
            continue
        cells = [i for i, (a, b) in enumerate(zip(now, then, strict=True), 1) if a != b]
        if cells:
            parameters = [i for i in cells if "parameters" in now[i - 1][2] + then[i - 1][2]]
            named = ", ".join(f"{i}{' (its parameters)' if i in parameters else ''}" for i in cells)
            changed.append(f"{where} (cell{'s' if len(cells) > 1 else ''} {named})")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the notebooks; returns the exit status (see the module docstring)."""
    args = _arguments(argv)
    if stdout_closed():
        _tell("stdout is closed: there is nowhere to report the run")
        return EXIT_OUTPUT
    if args.site:
        try:
            return site.build_after_run(args.quick)
        except KeyboardInterrupt:
            _tell("interrupted; the old site is kept")
            return EXIT_INTERRUPTED
    try:
        chosen = _chosen(args.only)
        engine = from_environment(
            args.workers,
            args.scheduler,
            False if args.no_cache else None,
            default_workers=os.cpu_count() or 1,  # run_all's default: a cluster, one per core
            names={"workers": "--workers", "scheduler": "--scheduler"},
        )
        at_once = 1 if engine.in_process else 2
        if args.notebooks_at_once is not None:
            at_once = number(args.notebooks_at_once, "--notebooks-at-once", whole=True, minimum=1)
        _refuse(engine, chosen, args.quick, args.check)
        if engine.scheduler is not None:
            check_reachable(engine.scheduler, "--scheduler" if args.scheduler else ENV_SCHEDULER)
        with _engine_for_kernels(engine):
            if args.check:
                return _check(chosen, args.quick, at_once, only=args.only is not None)
            status = _run(chosen, args.quick, at_once)
        if status == 0 and args.only is None and not args.no_site:  # a full run: its site
            status = site.build_after_run(args.quick)
        return status
    except InputError as error:
        _tell(str(error))
        return EXIT_BAD_INPUT
    except OutputError as error:
        silence_stdout()
        _tell(str(error))
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        _tell("interrupted; files already written are whole")
        return EXIT_INTERRUPTED


@contextlib.contextmanager
def _engine_for_kernels(engine: Engine) -> Iterator[None]:
    """Point the kernels at ``engine`` through the environment, with a local cluster
    (closed at the end) when it needs one."""
    saved = {k: os.environ.get(k) for k in (ENV_SCHEDULER, ENV_WORKERS, ENV_CACHE)}
    cluster, address = None, engine.scheduler
    try:
        os.environ[ENV_CACHE] = "1" if engine.cache else "0"
        if address is None and not engine.in_process:
            cluster, address = start_local_cluster(engine.workers)
        os.environ.pop(ENV_WORKERS if address else ENV_SCHEDULER, None)
        os.environ.update({ENV_SCHEDULER: address} if address else {ENV_WORKERS: "1"})
        yield
    finally:
        if cluster is not None:
            cluster.close()
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def _run(chosen: list[str], quick: bool, at_once: int = 1, *, into: Path | None = None) -> int:
    """Execute the ``chosen`` notebooks, ``at_once`` at a time, into the run's own figures'
    folder and report, ending by naming every file written; or (``--check``) into the
    folder ``into``, ending by naming it."""
    if into is None:
        (out_dir, report), executed = _outputs(quick), BUILD_DIR / "notebooks"
    else:
        out_dir, report, executed = into / "figures", into / "REPRODUCTION.md", into / "notebooks"
    # relative to the notebooks' folder, the kernels' working folder: the executed copies
    # then name no path of this machine
    given = {
        "quick": quick,
        "output_dir": os.path.relpath(out_dir, NOTEBOOKS_DIR),
        "report_path": os.path.relpath(report, NOTEBOOKS_DIR),
    }
    before = {**_snapshot(out_dir), **_snapshot(report.parent)}
    began = time.perf_counter()
    first = [n for n in chosen if n not in READS_THE_OTHERS]
    if at_once > 1:
        first.sort(key=lambda n: LONGEST_FIRST.index(n) if n in LONGEST_FIRST else len(NOTEBOOKS))
    status = _Status(len(chosen))
    side_by_side = at_once > 1 and len(first) > 1
    write_stdout(  # the first line: a closed or full stdout stops the run before it starts
        f"Running {len(chosen)} notebook{'s' if len(chosen) > 1 else ''}"
        f"{' (quick)' if quick else ''}"
        f"{f', {at_once} at a time, the report last' if side_by_side else ''}.\n",
        _PROGRESS,
    )
    try:
        with _stderr_to(executed / "run_all.log"):
            for batch in (first, [n for n in chosen if n in READS_THE_OTHERS]):
                _run_batch(batch, given, at_once, status, executed)
    except (NotebookFailed, InputError) as error:
        _tell(str(error))
        name = getattr(error, "notebook", None)
        if name:
            _tell(
                f"the executed notebook is in {_shown(executed)}{name}, its kernel's "
                f"messages in {_shown(executed)}{Path(name).stem}.kernel.log"
            )
        return EXIT_FAILED
    after = {**_snapshot(out_dir), **_snapshot(report.parent)}
    changed = sorted(p for p, t in after.items() if before.get(p) != t)
    written = [shown(path) for path in changed] if into is None else [_shown(out_dir)]
    lines = [
        f"\nAll {len(chosen)} notebooks ran in {time.perf_counter() - began:.0f} s"
        f"{' (quick)' if quick else ''}. Files written:",
        *(f"  {name}" for name in written),
        f"  {_shown(executed)} (the executed notebooks)",
    ]
    write_stdout("\n".join(lines) + "\n", _PROGRESS)
    return 0


# --- --check: a re-run compared with the committed results -------------------------------


def _largest(value: float) -> str:
    if value == 0:
        return "0"
    return "—" if math.isinf(value) else f"{value:.1e}"


def _check(chosen: list[str], quick: bool, at_once: int, *, only: bool) -> int:
    """``--check``: run ``chosen`` into :data:`CHECK_DIR`, compare with the committed
    results (or the last quick run's) and print the table; ``only`` (``--only``): the
    committed results are copied in first and only ``chosen``'s files are compared: the
    committed :data:`~dnnsplit.paper.compare.COMPARED` files of their figures, the
    manifests listing those, and every CSV or manifest the re-run wrote."""
    from tabulate import tabulate

    committed, committed_report = _outputs(quick)
    scratch = CHECK_DIR / ("quick" if quick else "full")
    shutil.rmtree(scratch, ignore_errors=True)
    figures, report = scratch / "figures", scratch / "REPRODUCTION.md"
    figures.mkdir(parents=True)
    if only:
        for path in committed.iterdir():
            if path.is_file() and path.name != "REPRODUCTION.md":
                shutil.copy2(path, figures / path.name)
        if committed_report.is_file():
            shutil.copy2(committed_report, report)
    seeded = _snapshot(figures)
    status = _run(chosen, quick, at_once, into=scratch)
    if status != 0:
        return status
    files: set[str] | None = None
    reports: tuple[Path, Path] | None = (committed_report, report)
    if only:
        written = figures_by_notebook(committed)
        everyone = sorted({n for names in written.values() for n in names})
        theirs = {n for name in chosen for n in written.get(name, [])}
        files = {
            p.name
            for p, t in _snapshot(figures).items()
            if seeded.get(p) != t and p.name.endswith((".csv", ".manifest.json"))
        }
        for path in (p for pattern in compare.COMPARED for p in committed.glob(pattern)):
            if path.name.endswith(".manifest.json"):
                listed = json.loads(path.read_text(encoding="utf-8")).get("figures", [])
                if theirs & set(listed):
                    files.add(path.name)
            elif site.owner(path.stem, everyone) in theirs:
                files.add(path.name)
        if not set(chosen) & set(READS_THE_OTHERS):
            reports = None
    differences = compare.compare_folders(committed, figures, report=reports, files=files)
    rows = [(d.file, d.what or "reproduces", _largest(d.largest)) for d in differences]
    table = tabulate(
        rows,
        headers=["file", "what differs", "largest difference"],
        colalign=("left", "left", "right"),
        disable_numparse=True,
    )
    differing = [d for d in differences if not d.reproduces]
    against = _shown(committed) + (f" and {shown(committed_report)}" if reports else "")
    verdict = (
        f"{len(differing)} of {len(differences)} files differ from {against}"
        if differing
        else f"All {len(differences)} files reproduce {against}"
    )
    rules = (
        f"CSV numbers within a relative {compare.RTOL:g}; integers, labels, verdicts and certified "
        "flags exactly; the largest difference is relative"
    )
    changed = changed_notebooks(chosen) or []
    note = (
        f"\nThe re-run used notebooks that differ from the committed ones: {', '.join(changed)}."
        if changed
        else ""
    )
    write_stdout(f"\n{table}\n\n{verdict} ({rules}).{note}\n", _PROGRESS)
    return EXIT_FAILED if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
