"""Where the points of a sweep run: in this process, on every local core, or on a Dask
cluster; and the cache of rows per point that lets a re-run skip what it has computed.

Every sweep of :mod:`dnnsplit.paper.sweeps` is a list of independent points and a
module-level function that turns one point into rows. :class:`Engine` fans the points out
and gathers the rows back in the order of the points, so the rows (and after sorting, the
CSV bytes) are the same whatever ran them:

- ``workers`` None or 1 (the default, as scikit-learn's ``n_jobs=None``): one point after
  another, in this process (no pool, no port, no warning);
- ``workers=N`` (N ≥ 2): a ``dask.distributed`` :class:`~distributed.LocalCluster` of N
  worker processes on this machine, started on first use: it listens on 127.0.0.1 only and
  binds no fixed port (its scheduler and HTTP server take free ones), so it starts beside
  another cluster, a JupyterLab or a second notebook without a warning;
- ``scheduler``: the Dask scheduler at that address (``tcp://HOST:PORT``) — start one with
  ``dask scheduler`` and ``dask worker tcp://HOST:8786`` on each machine (with dnnsplit
  installed there).

The engine of a sweep called without one comes from the environment, which is how
``./run_all.sh`` (whose own default is a local cluster, one worker per core) reaches the
notebooks' kernels: ``DNNSPLIT_SCHEDULER`` (an address), ``DNNSPLIT_WORKERS`` (a count;
1 = in process), ``DNNSPLIT_CACHE`` (``0`` turns the cache off), ``DNNSPLIT_CACHE_DIR``
(where it lives); none set, a notebook opened by hand computes in its own process.
:func:`configure` sets the same from Python (``configure(workers=4)`` for a cluster).

Every setting is checked when it is made, naming it (``workers``, ``scheduler``, or the
environment variable it came from): ``workers`` is a whole number from 1 to
:func:`max_workers` (four processes per core), a scheduler an address ``tcp://HOST:PORT``
(or ``tls://``, ``inproc://``); :func:`check_reachable` contacts one within
:data:`SCHEDULER_TIMEOUT_S`.

**The cache** (``build/cache/rows/``): the rows of each point, keyed by a hash of the
function, the setup, the point (N, seed, labels, options), the content of the profile
files it reads and the source of the library code that computes rows (the model, the
solvers, the sweeps; not the plots, the report or this module). Changing a plot or the
report therefore hits; changing a profile, a setup field or the model's code misses. An
entry is written whole or not at all, and carries the key it was written for and a
SHA-256 checksum of its rows: an entry that fails either (changed, emptied, truncated,
copied from another point) is discarded and its point recomputed, and one line on stderr
says how many. A cache folder that cannot be written (a read-only checkout) is skipped,
also with one line. Clear it with ``rm -rf build/cache``.

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
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from dnnsplit._checks import number
from dnnsplit._io import atomic_write
from dnnsplit._progress import progress_bar
from dnnsplit.errors import InputError, shown
from dnnsplit.paths import BUILD_DIR, PACKAGE_DIR
from dnnsplit.profiles import profile_path
from dnnsplit.setup import Setup

__all__ = [
    "CACHE_DIR",
    "ENV_CACHE",
    "ENV_CACHE_DIR",
    "ENV_SCHEDULER",
    "ENV_WORKERS",
    "MAX_WORKERS_PER_CORE",
    "SCHEDULER_TIMEOUT_S",
    "Engine",
    "Point",
    "SweepFailed",
    "Task",
    "check_address",
    "check_reachable",
    "code_fingerprint",
    "configure",
    "current",
    "from_environment",
    "max_workers",
    "point_key",
]

ENV_SCHEDULER = "DNNSPLIT_SCHEDULER"
ENV_WORKERS = "DNNSPLIT_WORKERS"
ENV_CACHE = "DNNSPLIT_CACHE"
ENV_CACHE_DIR = "DNNSPLIT_CACHE_DIR"
CACHE_DIR = BUILD_DIR / "cache" / "rows"
#: The library code whose source decides the rows (relative to the package folder).
ROW_CODE = (
    "*.py",
    "solvers/*.py",
    "online/*.py",
    "paper/sweeps.py",
    "paper/stats.py",
    "paper/energy.py",
    "paper/online.py",
)

#: A local cluster has at most this many worker processes per core (more only queue).
MAX_WORKERS_PER_CORE = 4
#: Seconds to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT_S = 5.0
#: Address schemes of a Dask scheduler (``inproc`` is a cluster inside this process).
SCHEDULER_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")

Rows = list[dict[str, Any]]


class Point(Protocol):
    """What the engine needs of a point of a sweep (:class:`dnnsplit.paper.sweeps.Point`):
    the setup and the draw it names, and what else its rows depend on."""

    @property
    def setup(self) -> Setup: ...
    @property
    def devices(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def labels(self) -> tuple[tuple[str, Any], ...]: ...
    @property
    def options(self) -> dict[str, Any]: ...


#: A point and the module-level function that turns it into rows.
Task = tuple[Callable[[Any], Rows], Any]


class SweepFailed(RuntimeError):
    """A point of a sweep failed (raised, or its worker kept dying); names the point."""

    def __init__(self, sweep: str, point: Any, error: BaseException) -> None:
        self.sweep, self.point, self.error = sweep, point, error
        what = str(error) if isinstance(error, PointFailed) else f"{type(error).__name__}: {error}"
        super().__init__(f"{sweep}: point {describe(point)} failed: {what}")


def describe(point: Any) -> str:
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
    try:
        return hashlib.sha256(profile_path(name).read_bytes()).hexdigest()
    except (InputError, OSError):
        return None  # the sweep itself reports the missing profile


def point_key(compute: Callable[[Any], Rows], point: Point) -> str:
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


def _rows_digest(rows: Any) -> str:
    """SHA-256 of the canonical JSON text of ``rows`` (what an entry's checksum covers)."""
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class _Failed:
    """The entry exists but fails its checks (see :func:`_cache_read`)."""


FAILED = _Failed()


def _cache_read(folder: Path, key: str) -> Rows | _Failed | None:
    """The rows of entry ``key``; None when there is none; :data:`FAILED` when it exists
    but is unreadable, is not an entry, was written for another key, or its rows do not
    match its checksum."""
    path = _cache_path(folder, key)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return FAILED
    try:
        entry = json.loads(text)
        rows = entry["rows"]
        good = (
            set(entry) == {"key", "sha256", "rows"}
            and entry["key"] == key
            and isinstance(rows, list)
            and all(isinstance(row, dict) for row in rows)
            and entry["sha256"] == _rows_digest(rows)
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        return FAILED
    return rows if good else FAILED


def _cache_write(folder: Path, key: str, rows: Rows) -> None:
    entry = {"key": key, "sha256": _rows_digest(rows), "rows": rows}
    atomic_write(_cache_path(folder, key), json.dumps(entry) + "\n")


#: Cache folders found not writable in this process (each reported once).
_UNWRITABLE: set[Path] = set()


def _report(message: str) -> None:
    """One line on stderr (a cache problem that the run survives)."""
    try:
        print(f"dnnsplit cache: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass


# --- the engine ----------------------------------------------------------------------------


def max_workers() -> int:
    """The most worker processes a local cluster takes: :data:`MAX_WORKERS_PER_CORE` per
    core of this machine."""
    return MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)


def _check_workers(value: Any, field: str) -> int:
    """A number of worker processes, 1 to :func:`max_workers`, or an error naming ``field``."""
    count = int(number(value, field, whole=True, minimum=1))
    if count > max_workers():
        raise InputError(
            field,
            f"must be at most {max_workers()} ({MAX_WORKERS_PER_CORE} worker processes per "
            f"core, {os.cpu_count() or 1} cores here), got {count}; for more, start a Dask "
            "cluster and give its scheduler",
        )
    return count


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$")


def check_address(address: Any, field: str = "scheduler") -> str:
    """``address`` if it is the address of a Dask scheduler, ``SCHEME://HOST:PORT`` with a
    scheme of :data:`SCHEDULER_SCHEMES` (``inproc://`` takes any rest), else an
    :class:`~dnnsplit.errors.InputError` naming ``field``."""
    example = "an address like tcp://HOST:8786"
    if not isinstance(address, str) or "://" not in address:
        raise InputError(field, f"must be {example}, got {shown(address)}")
    scheme, rest = address.split("://", 1)
    if scheme not in SCHEDULER_SCHEMES:
        raise InputError(
            field,
            f"{shown(address)} is not a Dask scheduler's address: the scheme must be one of "
            f"{', '.join(SCHEDULER_SCHEMES)}, not {shown(scheme)}; {example}",
        )
    if scheme == "inproc":
        if not rest:
            raise InputError(field, f"{shown(address)} names no cluster")
        return address
    match = _HOST_PORT.match(rest)
    if match is None or not 1 <= int(match[2]) <= 65535:
        raise InputError(
            field, f"{shown(address)} needs a host and a port (1-65535) after {scheme}://"
        )
    return address


def check_reachable(address: str, field: str = "scheduler") -> None:
    """Contact the Dask scheduler at ``address`` (within :data:`SCHEDULER_TIMEOUT_S`), or
    raise an :class:`~dnnsplit.errors.InputError` naming ``field``."""
    if (address, None) not in _CLIENTS:
        _connect(address, field).close()


def _connect(address: str, field: str) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=f"{SCHEDULER_TIMEOUT_S:g}s")
    except (OSError, TimeoutError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
    except Exception as error:  # something answered there, but not in Dask's protocol
        reason = f"what answered is not a Dask scheduler: {type(error).__name__}"
    raise InputError(
        field,
        f"cannot reach a Dask scheduler at {address} within {SCHEDULER_TIMEOUT_S:g} s "
        f"({reason[:160]})",
    )


@dataclass(frozen=True)
class Engine:
    """How the points of a sweep run (see the module docstring).

    Attributes
    ----------
    workers : int or None
        None or 1: in this process (the default); N ≥ 2: a local cluster of N worker
        processes (at most :func:`max_workers`), started on first use.
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
            object.__setattr__(self, "workers", _check_workers(self.workers, "workers"))
        if self.scheduler is not None:
            check_address(self.scheduler, "scheduler")

    @property
    def in_process(self) -> bool:
        return self.scheduler is None and (self.workers or 1) == 1

    def run(
        self,
        compute: Callable[[Any], Rows],
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
        compute: Callable[[Any], Rows],
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
        failed = 0
        for index, key in enumerate(keys):
            found = _cache_read(self.cache_dir, key) if self.cache else None
            if isinstance(found, list):
                results[index] = found
            else:
                failed += found is FAILED
                todo.append(index)
        if failed:
            _report(
                f"{failed} {'entry' if failed == 1 else 'entries'} of {desc} in "
                f"{self.cache_dir} failed {'its' if failed == 1 else 'their'} check (changed, "
                "unreadable, or written for another point): discarded and recomputed"
            )
        bar = progress_bar(total=len(tasks), desc=desc, enabled=progress)
        bar.update(len(tasks) - len(todo))
        writable = self.cache and self.cache_dir not in _UNWRITABLE
        try:
            for index, rows in self._compute(tasks, todo, desc):
                results[index] = rows
                if writable:
                    writable = self._store(keys[index], rows)
                bar.update(1)
        finally:
            bar.close()
        return [rows if rows is not None else [] for rows in results]

    def _store(self, key: str, rows: Rows) -> bool:
        """Write one entry; False (after one line on stderr) when the folder cannot be
        written: the run goes on without the cache."""
        try:
            _cache_write(self.cache_dir, key, rows)
        except OSError as error:
            _UNWRITABLE.add(self.cache_dir)
            _report(
                f"cannot write in {self.cache_dir} ({error.strerror or type(error).__name__}); "
                "rows are computed but not cached"
            )
            return False
        return True

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
    if engine.scheduler is not None:
        client = _connect(engine.scheduler, "scheduler")
    else:
        from distributed import Client

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

    It binds no fixed port: the scheduler and its HTTP server (Dask's ``/metrics``, and
    the dashboard where bokeh is installed) take free ports, so it starts beside a cluster
    that holds Dask's usual 8786 and 8787 without the "Port 8787 is already in use"
    warning.

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
                scheduler_port=0,
                dashboard_address="127.0.0.1:0",  # None would mean Dask's default :8787
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
    return from_environment()


def _cache_flag(text: str, field: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "on", "yes", "true"):
        return True
    if value in ("0", "off", "no", "false"):
        return False
    raise InputError(field, f"must be 1 or 0 (on or off), got {shown(text)}")


def from_environment(
    workers: int | None = None,
    scheduler: str | None = None,
    cache: bool | None = None,
    *,
    default_workers: int | None = None,
    names: dict[str, str] | None = None,
) -> Engine:
    """The engine the environment names (``DNNSPLIT_WORKERS``, ``DNNSPLIT_SCHEDULER``,
    ``DNNSPLIT_CACHE``, ``DNNSPLIT_CACHE_DIR``), where the arguments (not None) do not
    name it, else ``default_workers`` (None: in this process); errors name the variable
    (or, through ``names``, the argument's flag).

    Raises
    ------
    InputError
        A variable or argument of the wrong form (e.g. ``DNNSPLIT_WORKERS=abc``, a
        scheduler ``http://...``, more workers than :func:`max_workers`).
    """
    names = names or {}
    env = os.environ
    if workers is not None:
        count: int | None = _check_workers(workers, names.get("workers", "workers"))
    elif (env.get(ENV_WORKERS) or "").strip():
        text = env[ENV_WORKERS].strip()
        try:
            parsed: Any = int(text)
        except ValueError:
            parsed = text
        count = _check_workers(parsed, ENV_WORKERS)
    else:
        count = default_workers
    if scheduler is not None:
        address: str | None = check_address(scheduler, names.get("scheduler", "scheduler"))
    elif env.get(ENV_SCHEDULER):
        address = check_address(env[ENV_SCHEDULER], ENV_SCHEDULER)
    else:
        address = None
    on = cache if cache is not None else _cache_flag(env.get(ENV_CACHE, "1"), ENV_CACHE)
    folder = env.get(ENV_CACHE_DIR) or None
    return Engine(
        workers=count,
        scheduler=address,
        cache=on,
        cache_dir=Path(folder) if folder else CACHE_DIR,
    )
