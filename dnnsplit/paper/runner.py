"""Execute the notebooks headlessly with papermill: the engine of ``./run_all.sh``.

Each notebook in :data:`NOTEBOOKS` is executed with kernel ``python3`` into the ignored
``build/notebooks/`` folder (never in place); what its kernel writes to stderr goes to
``build/notebooks/<name>.kernel.log``, not the terminal. When the sweeps run on a cluster
(the default), two notebooks run side by side, the longest first, so that one notebook's
plotting and judging fill the cores while the other waits for its points; the report
notebook, which reads what the others wrote, runs last. With ``--workers 1`` they run one
after another, in order. Parameters are checked first: the notebook must have a cell
tagged ``parameters``, and a parameter name it does not declare is an error (papermill
itself would only warn). The run stops at the first failure (interrupting the notebook
running beside it), naming the notebook and the cell, and ends by listing the files it
wrote.

``python -m dnnsplit.paper.runner [--quick] [--only NAME ...] [--workers N]
[--scheduler tcp://HOST:PORT] [--no-cache] [--notebooks-at-once K]`` (what
``./run_all.sh`` runs). A full run writes ``figures/`` and ``REPRODUCTION.md``; ``--quick``
writes its figures and report to ``build/quick/``, never over the committed ones.
Notebooks opened by hand write to ``build/figures/`` instead (their ``output_dir``
parameter is empty).

Where the sweeps run (:mod:`dnnsplit.paper.engine`): by default the runner starts one
local Dask cluster with a worker process per core for the whole run and points every
notebook's kernel at it (``DNNSPLIT_SCHEDULER``); ``--workers 1`` runs every point in the
kernel itself; ``--scheduler`` uses an existing cluster. ``--no-cache`` recomputes every
point instead of reading ``build/cache/``.

Before any notebook runs, every setting is checked, each refusal one line naming it: the
flags, ``DNNSPLIT_WORKERS`` and ``DNNSPLIT_SCHEDULER`` (a scheduler is contacted, within a
few seconds), the folders the run writes (a read-only checkout is named at once), and
stdout.

Exit status: 0 when every notebook ran; 1 when one failed (named, with its cell); 2 for bad
arguments (an unknown ``--only`` name lists the valid ones) or a bad setting; 74 when a
folder the run writes cannot be written, or stdout is closed or full; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from dnnsplit._checks import number
from dnnsplit._io import OutputError, silence_stdout, stdout_closed, writable_folder, write_stdout
from dnnsplit.errors import InputError
from dnnsplit.paper.engine import (
    ENV_CACHE,
    ENV_SCHEDULER,
    ENV_WORKERS,
    Engine,
    check_reachable,
    from_environment,
    start_local_cluster,
)
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, NOTEBOOKS_DIR, REPORT_PATH, ROOT

__all__ = ["NOTEBOOKS", "NotebookFailed", "declared_parameters", "main", "run_notebook"]

QUICK_DIR = BUILD_DIR / "quick"  # where --quick writes its figures and report
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
#: Started first when notebooks run side by side (the longest ones, so that the short ones
#: fill in around them instead of leaving one long notebook running alone at the end).
LONGEST_FIRST = ("03_greedy_vs_optimal.ipynb", "06_readings.ipynb", "05_other_networks.ipynb")


class NotebookFailed(RuntimeError):
    """A notebook cell raised: names the notebook, the cell and the error."""

    def __init__(self, notebook: str, cell: int | None, error: str) -> None:
        self.notebook, self.cell, self.error = notebook, cell, error
        where = f"cell In [{cell}]" if cell is not None else "before any cell ran"
        super().__init__(f"{notebook}, {where}: {error}")


def declared_parameters(path: Path) -> dict[str, Any]:
    """Names declared in the notebook's ``parameters`` cell (an error if it has none)."""
    import nbformat

    if not path.exists():
        raise InputError("notebook", f"no such notebook {str(path)!r}")
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        raise InputError(path.name, "has no cell tagged 'parameters'")
    import papermill

    return papermill.inspect_notebook(str(path))


class KernelHandle:
    """The kernel of one notebook run: where its stderr goes, and a way to stop it from
    another thread (the runner stops the others when one notebook fails, or on Ctrl-C)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.pid: int | None = None
        self.stopped = threading.Event()

    def stop(self) -> None:
        """Interrupt the running cell (as Ctrl-C in JupyterLab); the notebook then fails."""
        self.stopped.set()
        self.signal(signal.SIGINT)

    def kill(self) -> None:
        """End the kernel process (when an interrupted cell does not stop)."""
        self.signal(signal.SIGKILL)

    def signal(self, number: int) -> None:
        if self.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, number)


def _kernel_manager_class(handle: KernelHandle) -> type:
    """A kernel manager that sends the kernel's stderr to ``handle.log_path`` and records
    its process id in ``handle``."""
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            if handle.stopped.is_set():
                raise KeyboardInterrupt
            handle.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(handle.log_path, "wb") as log:  # the kernel keeps its own copy
                await super().start_kernel(**{**kw, "stderr": log})
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
    """Execute one notebook with ``parameters`` into ``output``.

    ``kernel``, when given, receives the kernel's stderr (in ``kernel.log_path``) and lets
    another thread stop the run.

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
    managed = {"kernel_manager_class": _kernel_manager_class(kernel)} if kernel else {}
    # papermill rewrites its output after every cell: it writes a temporary file, renamed
    # into place once whole (after a failing cell too: the executed notebook shows it)
    partial = output.with_name(f".{output.stem}.{os.getpid()}.partial{output.suffix}")
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
        _name_paths_relatively(partial, path, output)
        os.replace(partial, output)
    except PapermillExecutionError as error:
        _name_paths_relatively(partial, path, output)
        os.replace(partial, output)
        raise NotebookFailed(
            path.name, error.exec_count, f"{error.ename}: {error.evalue}"
        ) from None
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
    return output


def _name_paths_relatively(executed: Path, source: Path, output: Path) -> None:
    """Papermill records the notebook's input and output paths in its metadata; written as
    paths of this machine they would travel with the executed copy, so they are rewritten
    relative to the repository (or to the folder they live in, outside it)."""
    if not executed.exists():
        return
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    record = notebook.get("metadata", {}).get("papermill")
    if not isinstance(record, dict):
        return
    for key, value in (("input_path", source), ("output_path", output)):
        try:
            record[key] = str(Path(value).resolve().relative_to(ROOT))
        except ValueError:
            record[key] = Path(value).name
    executed.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", "utf-8")


def _snapshot(directory: Path) -> dict[Path, float]:
    if not directory.exists():
        return {}
    return {p: p.stat().st_mtime_ns for p in directory.iterdir() if p.is_file()}


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send what this process writes to its stderr (papermill's and Dask's log lines) to
    ``path`` instead of the terminal; the runner's own messages, printed after, still reach
    the terminal."""
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


#: What the runner writes to stdout, for the message when it cannot.
_PROGRESS = "the run's progress"


class _Status:
    """What the terminal shows: a line per finished notebook and, on a terminal, one line
    with the running ones and their elapsed time, kept up to date."""

    def __init__(self, total: int) -> None:
        self.total, self.finished = total, 0
        self.tty = sys.stdout is not None and sys.stdout.isatty()
        self.shown = False

    def running(self, jobs: Iterable[_Job]) -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        names = ", ".join(f"{j.name} {now - j.started:.0f} s" for j in jobs)
        write_stdout(f"\r\033[K  running: {names}", _PROGRESS)
        self.shown = True

    def done(self, job: _Job, outcome: str) -> None:
        self.finished += 1
        clear = "\r\033[K" if self.shown else ""
        self.shown = False
        seconds = time.perf_counter() - job.started
        write_stdout(
            f"{clear}[{self.finished}/{self.total}] {job.name} ... {outcome} in {seconds:.1f} s\n",
            _PROGRESS,
        )


class _Job:
    """One notebook to run: its name, its kernel, when it started."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kernel = KernelHandle(BUILD_DIR / "notebooks" / f"{Path(name).stem}.kernel.log")
        self.started = time.perf_counter()

    def __call__(self, given: dict[str, Any]) -> None:
        self.started = time.perf_counter()
        declared = declared_parameters(NOTEBOOKS_DIR / self.name)
        parameters = {p: v for p, v in given.items() if p in declared}
        output = BUILD_DIR / "notebooks" / self.name
        # papermill runs on an event loop of this thread's context: give each notebook a
        # fresh context and close its loop after (an idle loop left open is a leak)
        contextvars.Context().run(self._execute, output, parameters)

    def _execute(self, output: Path, parameters: dict[str, Any]) -> None:
        from jupyter_core.utils import ensure_event_loop

        try:
            run_notebook(NOTEBOOKS_DIR / self.name, output, parameters, kernel=self.kernel)
        finally:
            ensure_event_loop().close()


#: Seconds an interrupted notebook has to stop before its kernel is killed.
STOP_GRACE_S = 10.0


def _run_batch(names: list[str], given: dict[str, Any], at_once: int, status: _Status) -> None:
    """Run ``names`` (in this order), at most ``at_once`` at a time.

    On the first failure, or on Ctrl-C, the queued notebooks are dropped, the running ones
    are interrupted (their kernels killed if they do not stop), and the error is raised.
    """
    queue = list(names)
    running: dict[Future[None], _Job] = {}
    pool = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="notebook")
    try:
        while queue or running:
            while queue and len(running) < at_once:
                job = _Job(queue.pop(0))
                running[pool.submit(job, given)] = job
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
            running[future].kernel.kill()
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_all.sh", description="Execute every notebook.")
    parser.add_argument("--quick", action="store_true", help="small parameters (a smoke run)")
    parser.add_argument(
        "--only", nargs="*", default=None, help="run only these notebooks (a part of the name)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: $DNNSPLIT_WORKERS, else one per core; "
        "1: every point in the notebook's own process)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        help="a Dask scheduler to run the sweeps on "
        "(tcp://HOST:PORT; default: $DNNSPLIT_SCHEDULER, else a local cluster)",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="recompute every point (ignore build/cache/)"
    )
    parser.add_argument(
        "--notebooks-at-once",
        type=int,
        default=None,
        help="notebooks run side by side (default: 2 when the sweeps run on a cluster, "
        "1 with --workers 1)",
    )
    parser.add_argument(
        "--no-site", action="store_true", help="do not build the site (build/site/) at the end"
    )
    return parser


def _outputs(quick: bool) -> tuple[Path, Path]:
    """The figures' folder and the report of a run (a quick run never writes the
    committed ones)."""
    out_dir = QUICK_DIR if quick else FIGURES_DIR
    return out_dir, (out_dir / "REPRODUCTION.md" if quick else REPORT_PATH)


def _shown(folder: Path) -> str:
    """A folder as the user knows it: relative to the checkout when inside it."""
    try:
        return f"{folder.relative_to(ROOT)}/" if folder != ROOT else "the checkout's root"
    except ValueError:
        return str(folder)


def _unwritable(engine: Engine, quick: bool) -> str | None:
    """The first folder the run writes that cannot be written, with the reason; or None."""
    out_dir, report = _outputs(quick)
    folders = [BUILD_DIR / "notebooks", out_dir, report.parent]
    if engine.cache:
        folders.append(Path(engine.cache_dir))
    for folder in dict.fromkeys(folders):
        reason = writable_folder(folder)
        if reason is not None:
            return (
                f"cannot write in {_shown(folder)} ({reason}); run from a writable copy of "
                "the repository"
            )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the notebooks; returns the exit status (see the module docstring)."""
    args = _parser().parse_args(argv)
    if stdout_closed():
        _tell("stdout is closed: there is nowhere to report the run")
        return EXIT_OUTPUT
    try:
        chosen = _chosen(args.only)
        engine = from_environment(
            args.workers,
            args.scheduler,
            False if args.no_cache else None,
            default_workers=os.cpu_count() or 1,  # run_all's default: a cluster, one per core
            names={"workers": "--workers", "scheduler": "--scheduler"},
        )
        at_once = (
            number(args.notebooks_at_once, "--notebooks-at-once", whole=True, minimum=1)
            if args.notebooks_at_once is not None
            else (1 if engine.in_process else 2)
        )
    except InputError as error:
        _tell(str(error))
        return EXIT_BAD_INPUT
    problem = _unwritable(engine, args.quick)
    if problem is not None:
        _tell(problem)
        return EXIT_OUTPUT
    try:
        if engine.scheduler is not None:
            check_reachable(engine.scheduler, "--scheduler" if args.scheduler else ENV_SCHEDULER)
        with _engine_for_kernels(engine):
            status = _run(chosen, args.quick, int(at_once))
        if status == 0 and args.only is None and not args.no_site:  # a full run: its site
            from dnnsplit.paper.site import build_after_run

            status = build_after_run(args.quick)
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
    """Point the notebooks' kernels at ``engine`` through the environment, starting (and
    finally closing) a local cluster when the engine needs one."""
    saved = {k: os.environ.get(k) for k in (ENV_SCHEDULER, ENV_WORKERS, ENV_CACHE)}
    cluster = None
    try:
        os.environ[ENV_CACHE] = "1" if engine.cache else "0"
        if engine.scheduler is not None:
            os.environ[ENV_SCHEDULER] = engine.scheduler
            os.environ.pop(ENV_WORKERS, None)
        elif engine.in_process:
            os.environ.pop(ENV_SCHEDULER, None)
            os.environ[ENV_WORKERS] = "1"
        else:
            cluster, address = start_local_cluster(engine.workers)
            os.environ[ENV_SCHEDULER] = address
            os.environ.pop(ENV_WORKERS, None)
        yield
    finally:
        if cluster is not None:
            cluster.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(chosen: list[str], quick: bool, at_once: int = 1) -> int:
    """Execute the ``chosen`` notebooks, ``at_once`` at a time (see :func:`main`)."""
    # a quick run is a smoke test: it must not overwrite the committed figures
    out_dir, report = _outputs(quick)
    # relative to the notebooks' folder, the kernels' working folder: the executed copies
    # then name no path of this machine
    given = {
        "quick": quick,
        "output_dir": os.path.relpath(out_dir, NOTEBOOKS_DIR),
        "report_path": os.path.relpath(report, NOTEBOOKS_DIR),
    }
    watched = [out_dir, report.parent]
    before = {k: v for d in watched for k, v in _snapshot(d).items()}
    began = time.perf_counter()
    first = [n for n in chosen if n not in READS_THE_OTHERS]
    if at_once > 1:
        first.sort(key=lambda n: LONGEST_FIRST.index(n) if n in LONGEST_FIRST else len(NOTEBOOKS))
    batches = [first, [n for n in chosen if n in READS_THE_OTHERS]]
    status = _Status(len(chosen))
    side_by_side = at_once > 1 and len(first) > 1
    write_stdout(  # the first line: a closed or full stdout stops the run before it starts
        f"Running {len(chosen)} notebook{'s' if len(chosen) > 1 else ''}"
        f"{' (quick)' if quick else ''}"
        f"{f', {at_once} at a time, the report last' if side_by_side else ''}.\n",
        _PROGRESS,
    )
    try:
        with _stderr_to(BUILD_DIR / "notebooks" / "run_all.log"):
            for batch in batches:
                _run_batch(batch, given, at_once, status)
    except (NotebookFailed, InputError) as error:
        _tell(str(error))
        name = getattr(error, "notebook", None)
        if name:
            _tell(
                f"the executed notebook is in {BUILD_DIR.name}/notebooks/{name}, its kernel's "
                f"messages in {BUILD_DIR.name}/notebooks/{Path(name).stem}.kernel.log"
            )
        return EXIT_FAILED
    after = {k: v for d in watched for k, v in _snapshot(d).items()}
    changed = sorted(p for p, t in after.items() if before.get(p) != t)
    lines = [
        f"\nAll {len(chosen)} notebooks ran in {time.perf_counter() - began:.0f} s"
        f"{' (quick)' if quick else ''}. Files written:",
        *(f"  {path.relative_to(ROOT)}" for path in changed),
        f"  {BUILD_DIR.name}/notebooks/ (the executed notebooks)",
    ]
    write_stdout("\n".join(lines) + "\n", _PROGRESS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
