"""Where the points of a sweep run: in this process, on every local core, or on a Dask
cluster; and the cache of rows per point that lets a re-run skip what it has computed.

Every sweep of :mod:`dnnsplit.paper.sweeps` is a list of independent points and a
module-level function that turns one point into rows. :class:`Engine` fans the points out
and gathers the rows back in the order of the points, so the rows (and after sorting, the
CSV bytes) are the same whatever ran them:

- ``workers=1``: one point after another, in this process (no pool);
- otherwise a ``dask.distributed`` cluster: a :class:`~distributed.LocalCluster` of worker
  processes on this machine (default: one per core, listening on 127.0.0.1 only), or the
  scheduler at ``scheduler`` (``tcp://HOST:PORT``) when given — start one with
  ``dask scheduler`` and ``dask worker tcp://HOST:8786`` on each machine (with dnnsplit
  installed there), or a ``LocalCluster`` in a notebook.

The engine of a sweep called without one comes from the environment, which is how
``./run_all.sh`` reaches the notebooks' kernels: ``DNNSPLIT_SCHEDULER`` (an address),
``DNNSPLIT_WORKERS`` (a count; 1 = in process), ``DNNSPLIT_CACHE`` (``0`` turns the cache
off), ``DNNSPLIT_CACHE_DIR`` (where it lives). :func:`configure` sets the same from Python.

**The cache** (``build/cache/rows/``): the rows of each point, keyed by a hash of the
function, the setup, the point (N, seed, labels, options), the content of the profile
files it reads and the source of the library code that computes rows (the model, the
solvers, the sweeps; not the plots, the report or this module). Changing a plot or the
report therefore hits; changing a profile, a setup field or the model's code misses. An
entry is written whole or not at all. Clear it with ``rm -rf build/cache``.

**Faults**: a worker that dies mid-sweep has its point retried on another worker (Dask
retries a task whose worker died up to 3 times); a point that still fails, or raises,
stops the sweep with :class:`SweepFailed` naming the point, before any CSV is written.
Ctrl-C cancels the outstanding points; the local cluster is closed when the process ends.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnnsplit._checks import number
from dnnsplit._io import atomic_write
from dnnsplit._progress import progress_bar
from dnnsplit.errors import InputError
from dnnsplit.paths import BUILD_DIR, MEASUREMENTS_DIR, PACKAGE_DIR

if TYPE_CHECKING:
    from dnnsplit.paper.sweeps import Point

__all__ = [
    "CACHE_DIR",
    "ENV_CACHE",
    "ENV_CACHE_DIR",
    "ENV_SCHEDULER",
    "ENV_WORKERS",
    "Engine",
    "SweepFailed",
    "Task",
    "code_fingerprint",
    "configure",
    "current",
    "point_key",
]

ENV_SCHEDULER = "DNNSPLIT_SCHEDULER"
ENV_WORKERS = "DNNSPLIT_WORKERS"
ENV_CACHE = "DNNSPLIT_CACHE"
ENV_CACHE_DIR = "DNNSPLIT_CACHE_DIR"
CACHE_DIR = BUILD_DIR / "cache" / "rows"
#: The library code whose source decides the rows (relative to the package folder).
ROW_CODE = ("*.py", "solvers/*.py", "paper/sweeps.py", "paper/stats.py")

Rows = list[dict[str, Any]]
#: A point and the module-level function that turns it into rows.
Task = tuple[Callable[["Point"], Rows], "Point"]


class SweepFailed(RuntimeError):
    """A point of a sweep failed (raised, or its worker kept dying); names the point."""

    def __init__(self, sweep: str, point: Point, error: BaseException) -> None:
        self.sweep, self.point, self.error = sweep, point, error
        what = str(error) if isinstance(error, PointFailed) else f"{type(error).__name__}: {error}"
        super().__init__(f"{sweep}: point {describe(point)} failed: {what}")


def describe(point: Point) -> str:
    """A point in words: ``(N = 10, seed 3, sjf, R = 1, quantum_s = 0.01)``."""
    setup = point.setup
    parts = [f"N = {point.devices}", f"seed {point.seed}", setup.policy, f"R = {setup.ratio:g}"]
    parts += [f"{k} = {v}" for k, v in point.labels]
    return "(" + ", ".join(parts) + ")"


# --- the cache -----------------------------------------------------------------------------


@cache
def code_fingerprint() -> str:
    """SHA-256 of the source of the code that computes rows (see :data:`ROW_CODE`)."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in ROW_CODE for p in PACKAGE_DIR.glob(pattern)})
    for path in files:
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _profile_digest(name: str | None) -> str | None:
    """SHA-256 of a profile file's bytes (a shipped name or a path), None for no profile."""
    if name is None:
        return None
    candidate = Path(name)
    path = (
        candidate
        if candidate.suffix == ".csv" or candidate.exists()
        else (MEASUREMENTS_DIR / f"{name}.csv")
    )
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # the sweep itself reports the missing profile


def point_key(compute: Callable[[Point], Rows], point: Point) -> str:
    """The cache key of ``compute(point)``: a hash of everything its rows depend on."""
    setup = point.setup
    material = {
        "function": f"{compute.__module__}.{compute.__qualname__}",
        "setup": setup.to_dict(),
        "devices": point.devices,
        "seed": point.seed,
        "labels": [list(pair) for pair in point.labels],
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in point.options.items()},
        "profile": _profile_digest(setup.profile),
        "bs_profile": _profile_digest(setup.bs_profile),
        "code": code_fingerprint(),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _cache_path(folder: Path, key: str) -> Path:
    return folder / key[:2] / f"{key}.json"


def _cache_read(folder: Path, key: str) -> Rows | None:
    try:
        return json.loads(_cache_path(folder, key).read_text(encoding="utf-8"))["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or unreadable: computed again


def _cache_write(folder: Path, key: str, rows: Rows) -> None:
    atomic_write(_cache_path(folder, key), json.dumps({"rows": rows}) + "\n")


# --- the engine ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """How the points of a sweep run (see the module docstring).

    Attributes
    ----------
    workers : int or None
        1: in this process; N: a local cluster of N worker processes; None: one per core.
    scheduler : str or None
        Address of a Dask scheduler (``tcp://HOST:PORT``); overrides ``workers``.
    cache : bool
        Read and write the cache of rows per point.
    cache_dir : path
        Where the cache lives (default ``build/cache/rows/``).
    """

    workers: int | None = None
    scheduler: str | None = None
    cache: bool = True
    cache_dir: Path = CACHE_DIR

    def __post_init__(self) -> None:
        if self.workers is not None:
            object.__setattr__(
                self, "workers", number(self.workers, "workers", whole=True, minimum=1)
            )
        if self.scheduler is not None and (
            not isinstance(self.scheduler, str) or "://" not in self.scheduler
        ):
            raise InputError(
                "scheduler", f"must be an address like tcp://HOST:PORT, got {self.scheduler!r}"
            )

    @property
    def in_process(self) -> bool:
        return self.scheduler is None and self.workers == 1

    def run(
        self,
        compute: Callable[[Point], Rows],
        points: Sequence[Point],
        *,
        desc: str,
        progress: bool = True,
    ) -> Rows:
        """The rows of every point, in the order of ``points`` (one progress bar)."""
        each = self.run_each(compute, points, desc=desc, progress=progress)
        return [row for rows in each for row in rows]

    def run_each(
        self,
        compute: Callable[[Point], Rows],
        points: Sequence[Point],
        *,
        desc: str,
        progress: bool = True,
    ) -> list[Rows]:
        """The rows of each point, one list per point, in the order of ``points``."""
        return self.run_tasks([(compute, p) for p in points], desc=desc, progress=progress)

    def run_tasks(self, tasks: Sequence[Task], *, desc: str, progress: bool = True) -> list[Rows]:
        """The rows of each ``(compute, point)`` task, in the order of ``tasks``.

        Several sweeps given as one list share one progress bar and one wait for their
        slowest point, instead of one each.
        """
        results: list[Rows | None] = [None] * len(tasks)
        keys = [point_key(c, p) for c, p in tasks] if self.cache else [""] * len(tasks)
        todo = []
        for index, key in enumerate(keys):
            found = _cache_read(self.cache_dir, key) if self.cache else None
            if found is None:
                todo.append(index)
            else:
                results[index] = found
        bar = progress_bar(total=len(tasks), desc=desc, enabled=progress)
        bar.update(len(tasks) - len(todo))
        try:
            for index, rows in self._compute(tasks, todo, desc):
                results[index] = rows
                if self.cache:
                    _cache_write(self.cache_dir, keys[index], rows)
                bar.update(1)
        finally:
            bar.close()
        return [rows if rows is not None else [] for rows in results]

    def _compute(self, tasks: Sequence[Task], todo: list[int], desc: str):
        if not todo:
            return
        if self.in_process:
            for index in todo:
                compute, point = tasks[index]
                try:
                    rows = compute(point)
                except (KeyboardInterrupt, SweepFailed):
                    raise
                except Exception as error:
                    raise SweepFailed(desc, point, error) from error
                yield index, rows
            return
        from distributed import as_completed

        client = _client(self)
        workers = max(1, sum(client.nthreads().values()))
        # the largest scenarios first (a point's cost grows with its N), so that the last
        # tasks of a sweep are short ones and no worker idles long while one finishes
        todo = sorted(todo, key=lambda i: -tasks[i][1].devices)
        # a few points per task: fewer round trips, and still several tasks per worker
        size = max(1, min(CHUNK_POINTS, len(todo) // (TASKS_PER_WORKER * workers)))
        chunks = [todo[k : k + size] for k in range(0, len(todo), size)]
        futures = {
            client.submit(_run_chunk, [tasks[i] for i in chunk], pure=False): chunk
            for chunk in chunks
        }
        try:
            for future in as_completed(list(futures)):
                chunk = futures[future]
                try:
                    each = future.result()
                except PointFailed as failed:
                    point = tasks[chunk[failed.position]][1]
                    raise SweepFailed(desc, point, failed) from failed
                except Exception as error:  # the worker kept dying, or the task was lost
                    raise SweepFailed(desc, tasks[chunk[0]][1], error) from error
                yield from zip(chunk, each, strict=True)
        except BaseException:
            client.cancel(list(futures))
            raise


#: At most this many points go to a worker in one task ...
CHUNK_POINTS = 8
#: ... and a sweep is cut into at least this many tasks per worker (for balance).
TASKS_PER_WORKER = 8


class PointFailed(RuntimeError):
    """Raised on a worker: the point at ``position`` of a chunk raised ``message``."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(position, message)
        self.position, self.message = position, message

    def __str__(self) -> str:
        return self.message


def _run_chunk(tasks: Sequence[Task]) -> list[Rows]:
    """The rows of each ``(compute, point)`` task of a chunk (runs on a worker)."""
    out = []
    for position, (compute, point) in enumerate(tasks):
        try:
            out.append(compute(point))
        except Exception as error:
            raise PointFailed(position, f"{type(error).__name__}: {error}") from error
    return out


_CLIENTS: dict[tuple[str | None, int | None], Any] = {}


def _client(engine: Engine) -> Any:
    """A Dask client for ``engine``: connected to its scheduler, or to a local cluster
    started on first use (127.0.0.1 only, one thread per worker) and closed at exit."""
    key = (engine.scheduler, None if engine.scheduler else engine.workers)
    if key in _CLIENTS:
        return _CLIENTS[key]
    from distributed import Client

    if engine.scheduler is not None:
        try:
            client = Client(engine.scheduler, timeout="20s")
        except OSError as error:
            raise InputError(
                "scheduler", f"cannot reach the Dask scheduler at {engine.scheduler}: {error}"
            ) from None
    else:
        cluster, _ = start_local_cluster(engine.workers)
        client = Client(cluster)
        atexit.register(_close, client, cluster)
    _CLIENTS[key] = client
    return client


def _close(client: Any, cluster: Any) -> None:
    client.close()
    cluster.close()


def start_local_cluster(workers: int | None = None) -> tuple[Any, str]:
    """A local cluster: ``(cluster, address)``; ``workers`` processes (default: one per
    core), one thread each, listening on 127.0.0.1 only. The caller closes it.

    The worker processes start with Ctrl-C ignored: a Ctrl-C at the terminal reaches the
    whole process group, and it is the caller who stops the cluster (closing it ends its
    workers), so the workers neither print tracebacks nor die before the caller cancels.
    """
    import logging
    import signal

    import dask
    from distributed import LocalCluster

    # Dask runs tasks in a worker thread, whose malloc arena hands freed memory back to the
    # system (and Dask sets MALLOC_TRIM_THRESHOLD_=65536 to make it eager): the sweeps' many
    # short-lived arrays then cost fresh pages on every allocation, and two workers were no
    # faster than one process. Fixed thresholds keep freed memory for reuse.
    keep_freed = {
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(2**28),
        "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(2**28),
    }
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with dask.config.set(keep_freed):
            cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    return cluster, cluster.scheduler_address


# --- the engine a sweep uses when it is given none -----------------------------------------

_CONFIGURED: Engine | None = None


def configure(
    workers: int | None = None,
    scheduler: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Engine:
    """Set the engine of every later sweep in this process (``None`` values: defaults)."""
    global _CONFIGURED
    _CONFIGURED = Engine(
        workers=workers,
        scheduler=scheduler,
        cache=cache,
        cache_dir=Path(cache_dir) if cache_dir else CACHE_DIR,
    )
    return _CONFIGURED


def current() -> Engine:
    """The configured engine, else one from the environment (see the module docstring)."""
    if _CONFIGURED is not None:
        return _CONFIGURED
    scheduler = os.environ.get(ENV_SCHEDULER) or None
    workers_text = os.environ.get(ENV_WORKERS) or None
    try:
        workers = int(workers_text) if workers_text is not None else None
    except ValueError:
        raise InputError(ENV_WORKERS, f"must be a whole number, got {workers_text!r}") from None
    cache_on = os.environ.get(ENV_CACHE, "1").strip().lower() not in ("0", "off", "no", "false")
    folder = os.environ.get(ENV_CACHE_DIR) or None
    return Engine(
        workers=workers,
        scheduler=scheduler,
        cache=cache_on,
        cache_dir=Path(folder) if folder else CACHE_DIR,
    )
