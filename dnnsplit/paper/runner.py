"""Execute the notebooks headlessly with papermill: the engine of ``./run_all.sh``.

Each notebook in :data:`NOTEBOOKS` is executed in order, with kernel ``python3``, into the
ignored ``build/notebooks/`` folder (never in place). Parameters are checked first: the
notebook must have a cell tagged ``parameters``, and a parameter name it does not declare
is an error (papermill itself would only warn). The run stops at the first failure, naming
the notebook and the cell, and ends by listing the files it wrote.

``python -m dnnsplit.paper.runner [--quick] [--only NAME ...] [--workers N]
[--scheduler tcp://HOST:PORT] [--no-cache]`` (what ``./run_all.sh`` runs). A full run
writes ``figures/`` and ``REPRODUCTION.md``; ``--quick`` writes its figures and report to
``build/quick/``, never over the committed ones. Notebooks opened by hand write to
``build/figures/`` instead (their ``output_dir`` parameter is empty).

Where the sweeps run (:mod:`dnnsplit.paper.engine`): by default the runner starts one
local Dask cluster with a worker process per core for the whole run and points every
notebook's kernel at it (``DNNSPLIT_SCHEDULER``); ``--workers 1`` runs every point in the
kernel itself; ``--scheduler`` uses an existing cluster. ``--no-cache`` recomputes every
point instead of reading ``build/cache/``.

Exit status: 0 when every notebook ran; 1 when one failed (named, with its cell); 2 for bad
arguments (an unknown ``--only`` name lists the valid ones); 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dnnsplit.errors import InputError
from dnnsplit.paper.engine import (
    ENV_CACHE,
    ENV_SCHEDULER,
    ENV_WORKERS,
    Engine,
    start_local_cluster,
)
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, NOTEBOOKS_DIR, REPORT_PATH, ROOT

__all__ = ["NOTEBOOKS", "NotebookFailed", "declared_parameters", "main", "run_notebook"]

QUICK_DIR = BUILD_DIR / "quick"  # where --quick writes its figures and report

NOTEBOOKS = (
    "00_quickstart.ipynb",
    "01_stage_profiles.ipynb",
    "02_improvement_over_all_local.ipynb",
    "03_greedy_vs_optimal.ipynb",
    "04_beyond_the_paper.ipynb",
    "05_other_networks.ipynb",
    "06_readings.ipynb",
    "07_reproduction_report.ipynb",
)
#: Parameters the runner gives a notebook when it declares them.
RUN_PARAMETERS = ("quick", "output_dir", "report_path")


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


def run_notebook(
    path: str | Path,
    output: str | Path,
    parameters: dict[str, Any] | None = None,
) -> Path:
    """Execute one notebook with ``parameters`` into ``output``.

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
    try:
        papermill.execute_notebook(
            str(path),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(path.parent),
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as error:
        raise NotebookFailed(
            path.name, error.exec_count, f"{error.ename}: {error.evalue}"
        ) from None
    return output


def _snapshot(directory: Path) -> dict[Path, float]:
    if not directory.exists():
        return {}
    return {p: p.stat().st_mtime_ns for p in directory.iterdir() if p.is_file()}


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send what the notebook's kernel writes to its stderr (its own log lines, and its
    complaints when it is stopped by Ctrl-C) to ``path`` instead of the terminal; the
    runner's own messages, printed after, still reach the terminal."""
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


@contextlib.contextmanager
def _ticker(label: str, started: float) -> Iterator[None]:
    """On a terminal, keep the elapsed time of the running notebook up to date."""
    if not sys.stdout.isatty():
        yield
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            print(f"\r{label} {time.perf_counter() - started:.0f} s", end=" ", flush=True)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        print(f"\r{label}", end=" ", flush=True)


def _chosen(only: list[str] | None) -> list[str]:
    """The notebooks ``--only`` names (a part of a name is enough), in run order."""
    if only is None:
        return list(NOTEBOOKS)
    unknown = [o for o in only if not any(o in n for n in NOTEBOOKS)]
    if unknown or not only:
        raise InputError(
            "--only",
            f"no notebook matches {unknown[0] if unknown else 'an empty list'!r}; "
            f"valid: {', '.join(NOTEBOOKS)}",
        )
    return [n for n in NOTEBOOKS if any(o in n for o in only)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the notebooks; returns the exit status (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="run_all.sh", description="Execute every notebook.")
    parser.add_argument("--quick", action="store_true", help="small parameters (a smoke run)")
    parser.add_argument(
        "--only", nargs="*", default=None, help="run only these notebooks (a part of the name)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: one per core; "
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
    args = parser.parse_args(argv)
    try:
        chosen = _chosen(args.only)
        scheduler = args.scheduler or os.environ.get(ENV_SCHEDULER) or None
        engine = Engine(workers=args.workers, scheduler=scheduler, cache=not args.no_cache)
    except InputError as error:
        print(f"run_all: {error}", file=sys.stderr)
        return 2
    try:
        with _engine_for_kernels(engine):
            return _run(chosen, args.quick)
    except KeyboardInterrupt:
        print("\nrun_all: interrupted; files already written are whole", file=sys.stderr)
        return 130


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
        elif engine.in_process:
            os.environ.pop(ENV_SCHEDULER, None)
            os.environ[ENV_WORKERS] = "1"
        else:
            cluster, address = start_local_cluster(engine.workers)
            os.environ[ENV_SCHEDULER] = address
        yield
    finally:
        if cluster is not None:
            cluster.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(chosen: list[str], quick: bool) -> int:
    """Execute the ``chosen`` notebooks in order (see :func:`main`)."""
    # a quick run is a smoke test: it must not overwrite the committed figures
    out_dir = QUICK_DIR if quick else FIGURES_DIR
    report = out_dir / "REPRODUCTION.md" if quick else REPORT_PATH
    given = {"quick": quick, "output_dir": str(out_dir), "report_path": str(report)}
    watched = [out_dir, report.parent]
    before = {k: v for d in watched for k, v in _snapshot(d).items()}
    began = time.perf_counter()
    for k, name in enumerate(chosen, start=1):
        label = f"[{k}/{len(chosen)}] {name} ..."
        print(label, end=" ", flush=True)
        started = time.perf_counter()
        try:
            declared = declared_parameters(NOTEBOOKS_DIR / name)
            parameters = {p: v for p, v in given.items() if p in declared}
            log = BUILD_DIR / "notebooks" / f"{Path(name).stem}.kernel.log"
            with _ticker(label, started), _stderr_to(log):
                run_notebook(NOTEBOOKS_DIR / name, BUILD_DIR / "notebooks" / name, parameters)
        except (NotebookFailed, InputError) as error:
            print("FAILED")
            print(f"run_all: {error}", file=sys.stderr)
            print(
                f"run_all: the executed notebook is in {BUILD_DIR.name}/notebooks/{name}",
                file=sys.stderr,
            )
            return 1
        except KeyboardInterrupt:
            print("interrupted")
            print(
                f"run_all: interrupted during {name}; files already written are whole, "
                "the rest were not written",
                file=sys.stderr,
            )
            return 130
        print(f"done in {time.perf_counter() - started:.1f} s", flush=True)
    after = {k: v for d in watched for k, v in _snapshot(d).items()}
    changed = sorted(p for p, t in after.items() if before.get(p) != t)
    print(
        f"\nAll {len(chosen)} notebooks ran in {time.perf_counter() - began:.0f} s"
        f"{' (quick)' if quick else ''}. Files written:"
    )
    for path in changed:
        print(f"  {path.relative_to(ROOT)}")
    print(f"  {BUILD_DIR.name}/notebooks/ (the executed notebooks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
