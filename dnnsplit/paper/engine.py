"""Where the points of a sweep run (in this process, on local cores, or on a Dask
cluster), and the cache of rows per point that lets a re-run skip what it has computed.

:class:`Engine` gives a module-level row function's rows back in the order of the points,
whatever ran them. On a cluster the points go out in tasks of about equal cost, and a
worker that dies has its task retried (Dask: up to 3 times); a point that still fails stops
the sweep with :class:`SweepFailed` naming it, before any CSV is written. A sweep given no
engine takes :func:`configure`'s, else the environment's (:func:`from_environment`: how
``./run_all.sh`` reaches the kernels).

**The cache** (``build/cache/rows/entries.sqlite3``): the rows of each point under
:func:`point_key`. Each entry carries a checksum of its key and rows and must be what its
point yields (:func:`yields`); an entry that fails is recomputed, a file that is not a
database replaced, an unwritable folder skipped, each with one line on stderr. Beyond
that the cache, like any build output, is trusted (``rm -rf build/cache``).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from dnnsplit._checks import number
from dnnsplit._progress import progress_bar
from dnnsplit.errors import InputError, shown
from dnnsplit.paths import BUILD_DIR, PACKAGE_DIR
from dnnsplit.profiles import profile_path
from dnnsplit.setup import Setup

__all__ = [
    "CACHE_FILE", "ENV_CACHE", "ENV_SCHEDULER", "ENV_WORKERS", "SCHEDULER_TIMEOUT_S", "Engine",
    "Shape", "SweepFailed", "check_reachable", "code_fingerprint", "configure", "current",
    "from_environment", "module_fingerprint", "package_fingerprint", "point_key",
    "start_local_cluster", "yields",
]

ENV_SCHEDULER = "DNNSPLIT_SCHEDULER"
ENV_WORKERS = "DNNSPLIT_WORKERS"
ENV_CACHE = "DNNSPLIT_CACHE"
ENV_CACHE_DIR = "DNNSPLIT_CACHE_DIR"
CACHE_DIR = BUILD_DIR / "cache" / "rows"
#: The cache's database (SQLite) in its folder.
CACHE_FILE = "entries.sqlite3"
#: Seconds to wait for another process that is writing the cache.
CACHE_TIMEOUT_S = 60.0
#: Computed entries are stored in one transaction per this many (and at the end).
WRITE_ENTRIES = 512
#: Keys asked of the database in one query (below SQLite's limit on parameters).
QUERY_KEYS = 900
#: The library code whose source decides every row (relative to the package folder); a
#: row function's own module is added to its key (:func:`module_fingerprint`).
ROW_CODE = ("*.py", "solvers/*.py", "online/*.py", "paper/sweeps.py", "paper/stats.py")

#: A local cluster has at most this many worker processes per core (more only queue).
MAX_WORKERS_PER_CORE = 4
#: Seconds to wait for a Dask scheduler to answer.
SCHEDULER_TIMEOUT_S = 5.0
#: Address schemes of a Dask scheduler (``inproc`` is a cluster inside this process).
SCHEDULER_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")

Rows = list[dict[str, Any]]
#: A module-level function that turns one point into rows.
RowFunction = Callable[[Any], Rows]


class SweepFailed(RuntimeError):
    """A point of a sweep failed (raised ``error``, or its worker kept dying); names the
    point (its N, seed, policy, ratio and labels)."""

    def __init__(self, sweep: str, point: Any, error: BaseException | str) -> None:
        what = error if isinstance(error, str) else _failure(error)
        setup = point.setup
        parts = [f"N = {point.devices}", f"seed {point.seed}", setup.policy, f"R = {setup.ratio:g}"]
        parts += [f"{k} = {v}" for k, v in point.labels]
        super().__init__(f"{sweep}: point ({', '.join(parts)}) failed: {what}")


def _failure(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# --- the cache -----------------------------------------------------------------------------

#: Libraries whose version can change a number (their versions are part of every key).
NUMERIC_LIBRARIES = ("numpy", "scipy", "numba", "pandas")


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def _library_versions() -> str:
    found = ";".join(f"{name}={_version(name)}" for name in NUMERIC_LIBRARIES)
    return f"python={sys.version_info[:3]};{found}"


def _fingerprint(patterns: Sequence[str]) -> str:
    digest = hashlib.sha256(_library_versions().encode())
    for path in sorted({p for pattern in patterns for p in PACKAGE_DIR.glob(pattern)}):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def code_fingerprint() -> str:
    """SHA-256 of the source of the code that computes rows (see :data:`ROW_CODE`) and of
    the versions of Python and of :data:`NUMERIC_LIBRARIES`."""
    return _fingerprint(ROW_CODE)


@cache
def module_fingerprint(module: str) -> str:
    """SHA-256 of the source of the module named ``module``: a row function's (a study's
    sweep lives beside its figures; its own module is part of its key, not the others').
    A module without a file (a notebook's) is keyed by its name only."""
    path = getattr(sys.modules.get(module), "__file__", None)
    return hashlib.sha256(Path(path).read_bytes() if path else module.encode()).hexdigest()


@cache
def package_fingerprint() -> str:
    """SHA-256 of the source of every module of the package (and the versions of
    :func:`code_fingerprint`): the key of a result that any code may change, such as a
    verdict (the claims, the tables they read and the verdict functions)."""
    return _fingerprint(("**/*.py",))


def _profile_digest(name: str | None, memo: dict[str, str | None]) -> str | None:
    """SHA-256 of a profile file's bytes (a shipped name or a path), None for no profile;
    ``memo`` keeps each file's digest for the rest of one engine call."""
    if name is None:
        return None
    if name not in memo:
        try:
            memo[name] = hashlib.sha256(profile_path(name).read_bytes()).hexdigest()
        except (InputError, OSError):
            memo[name] = None  # the sweep itself reports the missing profile
    return memo[name]


@lru_cache(maxsize=1024)
def _setup_text(setup: Setup) -> str:
    """A setup's fields as canonical JSON (a setup is immutable: computed once)."""
    return json.dumps(setup.to_dict(), sort_keys=True, separators=(",", ":"), default=str)


def _name(compute: Callable[..., Any]) -> str:
    return f"{compute.__module__}.{compute.__qualname__}"


def point_key(
    compute: RowFunction, point: Any, *, memo: dict[str, str | None] | None = None
) -> str:
    """The cache key of ``compute(point)``: a hash of everything its rows depend on (the
    function, the setup, the point's N, seed, labels and options, the content of the
    profile files it reads, :func:`code_fingerprint` and :func:`module_fingerprint`; not
    the report or this module). ``memo`` (one engine call's) keeps the profiles' digests."""
    memo = {} if memo is None else memo
    setup = point.setup
    material = {
        "function": _name(compute),
        "devices": point.devices,
        "seed": point.seed,
        "labels": [list(pair) for pair in point.labels],
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in point.options.items()},
        "profile": _profile_digest(setup.profile, memo),
        "bs_profile": _profile_digest(setup.bs_profile, memo),
        "code": code_fingerprint(),
        "module": module_fingerprint(compute.__module__),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{_setup_text(setup)}\n{text}".encode()).hexdigest()


#: What the rows of one entry must be: how many, and each row's columns with the types
#: their values may take (as JSON gives them back: ``float``, ``int``, ``bool``, ``str``).
Shape = tuple[int, Mapping[str, tuple[type, ...]]]

#: The declared shapes, by the row function's qualified name (see :func:`yields`).
_SHAPES: dict[str, Callable[[Any], Shape]] = {}

_F = TypeVar("_F", bound=Callable[..., Any])


def yields(shape: Callable[[Any], Shape]) -> Callable[[_F], _F]:
    """Declare the rows a module-level row function yields for a point: ``shape(point)``
    gives their count and columns, which a cache entry of that function must match."""

    def register(compute: _F) -> _F:
        _SHAPES[_name(compute)] = shape
        return compute

    return register


def _well_formed(rows: Any, shape: Shape | None) -> bool:
    """Whether ``rows`` can be what a point yields: a non-empty list of rows with the same
    columns; with a ``shape`` (:func:`yields`), exactly its count, columns and types."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return False
    if shape is None:
        columns = set(rows[0])
        return bool(columns) and all(set(row) == columns for row in rows)
    count, types = shape
    return len(rows) == count and all(
        row.keys() == types.keys()
        and all(type(row[name]) in allowed for name, allowed in types.items())
        for row in rows
    )


def _entry_digest(key: str, text: str) -> str:
    """SHA-256 of an entry's key and the JSON text of its rows (the entry's checksum: it
    ties the rows to the key they were written for)."""
    return hashlib.sha256(f"{key}\n{text}".encode()).hexdigest()


def _cache_write(folder: Path, entries: Sequence[tuple[str, Rows]]) -> None:
    """Store ``(key, rows)`` entries in one transaction, all of them or none; ``OSError``
    when the folder or the file cannot be written (a read-only checkout, a full disk)."""
    texts = [(key, json.dumps(rows, separators=(",", ":"))) for key, rows in entries]
    records = [(key, _entry_digest(key, text), text) for key, text in texts]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.closing(
            sqlite3.connect(folder / CACHE_FILE, timeout=CACHE_TIMEOUT_S)
        ) as db:
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            db.execute(
                "CREATE TABLE IF NOT EXISTS entries "
                "(key TEXT PRIMARY KEY, digest TEXT NOT NULL, rows TEXT NOT NULL) WITHOUT ROWID"
            )
            with db:
                db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)", records)
    except sqlite3.Error as error:
        raise OSError(0, str(error)) from error


#: Cache folders found not writable in this process (each reported once).
_UNWRITABLE: set[Path] = set()


def _report(message: str) -> None:
    """One line on stderr (a cache problem that the run survives)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"dnnsplit cache: {message}", file=sys.stderr, flush=True)


# --- the engine ----------------------------------------------------------------------------


def _check_workers(value: Any, field: str) -> int:
    """A number of worker processes, 1 to :data:`MAX_WORKERS_PER_CORE` per core of this
    machine (else an error naming ``field``)."""
    count = int(number(value, field, whole=True, minimum=1))
    cores = os.cpu_count() or 1
    if count > MAX_WORKERS_PER_CORE * cores:
        raise InputError(
            field,
            f"must be at most {MAX_WORKERS_PER_CORE * cores} ({MAX_WORKERS_PER_CORE} worker "
            f"processes per core, {cores} cores here), got {count}; for more, start a Dask "
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
        processes (at most :data:`MAX_WORKERS_PER_CORE` per core), started on first use.
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

    def run_each(
        self, compute: RowFunction, points: Sequence[Any], *, desc: str, progress: bool = True
    ) -> list[Rows]:
        """The rows of each point, one list per point, in the order of ``points`` (one
        progress bar). Points of the same key are computed once; the cache is read in one
        pass over the keys and written in transactions of :data:`WRITE_ENTRIES`."""
        memo: dict[str, str | None] = {}
        keys = [point_key(compute, point, memo=memo) for point in points]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            first.setdefault(key, index)
        shape = _SHAPES.get(_name(compute))
        shapes = {key: shape(points[i]) if shape else None for key, i in first.items()}
        rows_of = self._recall(shapes, desc)
        todo = [index for key, index in first.items() if key not in rows_of]
        bar = progress_bar(total=len(first), desc=desc, enabled=progress)
        bar.update(len(first) - len(todo))
        pending: list[tuple[str, Rows]] = []
        try:
            for index, rows in self._compute(compute, points, todo, desc):
                rows_of[keys[index]] = rows
                pending.append((keys[index], rows))
                if len(pending) >= WRITE_ENTRIES:
                    self.remember(pending)
                    pending = []
                bar.update(1)
        finally:
            self.remember(pending)  # what was computed, even if a later point failed
            bar.close()
        return [rows_of[key] for key in keys]

    def recall(
        self, keys: Sequence[str], shape: Shape | None = None, *, desc: str
    ) -> dict[str, Rows]:
        """The cached rows of each of ``keys`` whose entry passes its checks (``shape``:
        what its rows must be, see :func:`yields`); nothing when the cache is off. Entries
        that fail are counted in one line on stderr, for the caller to recompute."""
        return self._recall(dict.fromkeys(keys, shape), desc)

    def _recall(self, shapes: Mapping[str, Shape | None], desc: str) -> dict[str, Rows]:
        path = self.cache_dir / CACHE_FILE
        if not self.cache or not shapes or not path.exists():
            return {}
        stored: dict[str, tuple[str, str]] = {}
        wanted = list(shapes)
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=CACHE_TIMEOUT_S)) as db:
                for start in range(0, len(wanted), QUERY_KEYS):
                    batch = wanted[start : start + QUERY_KEYS]
                    marks = ",".join("?" * len(batch))
                    query = f"SELECT key, digest, rows FROM entries WHERE key IN ({marks})"
                    stored.update({k: (d, t) for k, d, t in db.execute(query, batch)})
        except sqlite3.OperationalError as error:  # locked, or cannot be opened
            if "no such table" not in str(error):
                _report(f"cannot read {path} ({error}); {desc} is computed")
            return {}
        except sqlite3.DatabaseError as error:  # not a database
            _report(f"{path} is damaged ({error}): discarded; every point is recomputed")
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    Path(f"{path}{suffix}").unlink()
            return {}
        found: dict[str, Rows] = {}
        failed = 0
        for key, shape in shapes.items():
            if key in stored:
                digest, text = stored[key]
                rows: Any = None
                if isinstance(text, str) and digest == _entry_digest(key, text):
                    with contextlib.suppress(ValueError, RecursionError):
                        rows = json.loads(text)
                if _well_formed(rows, shape):
                    found[key] = rows
                else:
                    failed += 1
        if failed:
            _report(
                f"{failed} {'entry' if failed == 1 else 'entries'} of {desc} in "
                f"{self.cache_dir} failed {'its' if failed == 1 else 'their'} check (changed, "
                "unreadable, or not what its point yields): discarded and recomputed"
            )
        return found

    def remember(self, entries: Sequence[tuple[str, Rows]]) -> None:
        """Store ``(key, rows)`` entries in one transaction; when the cache is off or its
        folder cannot be written (one line on stderr, once), the run goes on without it."""
        if not self.cache or not entries or self.cache_dir in _UNWRITABLE:
            return
        try:
            _cache_write(self.cache_dir, entries)
        except OSError as error:
            _UNWRITABLE.add(self.cache_dir)
            _report(
                f"cannot write in {self.cache_dir} ({error.strerror or type(error).__name__}); "
                "rows are computed but not cached"
            )

    def _compute(
        self, compute: RowFunction, points: Sequence[Any], todo: list[int], desc: str
    ) -> Iterator[tuple[int, Rows]]:
        """``(index, rows)`` of each point at the ``todo`` indices, as they are computed."""
        if self.in_process:
            for index in todo:
                try:
                    rows = compute(points[index])
                except SweepFailed:
                    raise
                except Exception as error:
                    raise SweepFailed(desc, points[index], error) from error
                yield index, rows
            return
        if not todo:
            return
        from distributed import as_completed

        client = _client(self)
        workers = max(1, sum(client.nthreads().values()))
        # the largest scenarios first (a point's cost grows with its N), so that the last
        # tasks of a sweep are short ones and no worker idles long while one finishes
        order = sorted(todo, key=lambda i: -points[i].devices)
        weights = [float(points[i].devices) ** 2 for i in order]
        chunks = _chunks(order, weights, TASKS_PER_WORKER * workers)
        futures = {
            client.submit(_run_chunk, compute, [points[i] for i in chunk], pure=False): chunk
            for chunk in chunks
        }
        try:
            for future in as_completed(list(futures)):
                chunk = futures[future]
                try:
                    each = future.result()
                except Exception as error:  # the worker kept dying, or the task was lost
                    raise SweepFailed(desc, points[chunk[0]], error) from error
                if isinstance(each, tuple):  # (position, error) of the point that raised
                    raise SweepFailed(desc, points[chunk[each[0]]], each[1])
                yield from zip(chunk, each, strict=True)
        except BaseException:
            client.cancel(list(futures))
            raise


#: A sweep is cut into about this many Dask tasks per worker (for balance) ...
TASKS_PER_WORKER = 16
#: ... of at most this many points each (a task of many cheap points costs one round trip).
CHUNK_POINTS = 256


def _chunks(order: Sequence[int], weights: Sequence[float], count: int) -> list[list[int]]:
    """``order`` cut into consecutive chunks of about equal total weight (an estimate of
    their cost), about ``count`` of them, none of more than :data:`CHUNK_POINTS`."""
    target = sum(weights) / max(1, count)
    chunks: list[list[int]] = [[]]
    weight = 0.0
    for index, each in zip(order, weights, strict=True):
        chunks[-1].append(index)
        weight += each
        if weight >= target or len(chunks[-1]) >= CHUNK_POINTS:
            chunks.append([])
            weight = 0.0
    return [chunk for chunk in chunks if chunk]


def _run_chunk(compute: RowFunction, points: Sequence[Any]) -> list[Rows] | tuple[int, str]:
    """The rows of each point of a chunk (runs on a worker), or the position and error of
    the first point that raises."""
    out = []
    for position, point in enumerate(points):
        try:
            out.append(compute(point))
        except Exception as error:
            return position, _failure(error)
    return out


_CLIENTS: dict[tuple[str | None, int | None], Any] = {}


def _client(engine: Engine) -> Any:
    """A Dask client for ``engine``: of its scheduler, or of a local cluster started on
    first use and closed at exit."""
    key = (engine.scheduler, None if engine.scheduler else engine.workers)
    if key in _CLIENTS:
        return _CLIENTS[key]
    if engine.scheduler is not None:
        client = _connect(engine.scheduler, "scheduler")
    else:
        from distributed import Client

        cluster, _ = start_local_cluster(engine.workers)
        client = Client(cluster)
        atexit.register(cluster.close)
        atexit.register(client.close)  # first: atexit runs last-registered first
    _CLIENTS[key] = client
    return client


def start_local_cluster(workers: int | None = None) -> tuple[Any, str]:
    """A local cluster for the caller to close, ``(cluster, address)``: ``workers``
    processes (default: one per core) of one thread, on 127.0.0.1 with free ports (beside
    another cluster on Dask's 8786 and 8787, without a warning). The workers ignore Ctrl-C,
    which reaches the whole process group: the caller stops them by closing the cluster."""
    import dask
    from distributed import LocalCluster

    # Dask's eager MALLOC_TRIM_THRESHOLD_=65536 hands the sweeps' many short-lived arrays
    # back to the system, and two workers were no faster than one process: keep freed memory
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
    _CONFIGURED = Engine(workers, scheduler, cache, Path(cache_dir) if cache_dir else CACHE_DIR)
    return _CONFIGURED


def current() -> Engine:
    """The configured engine, else one from the environment (see the module docstring)."""
    return _CONFIGURED if _CONFIGURED is not None else from_environment()


def from_environment(
    workers: int | None = None,
    scheduler: str | None = None,
    cache: bool | None = None,
    *,
    default_workers: int | None = None,
    names: dict[str, str] | None = None,
) -> Engine:
    """The engine the arguments (not None), else the environment (``DNNSPLIT_WORKERS``,
    ``DNNSPLIT_SCHEDULER``, ``DNNSPLIT_CACHE``: ``0`` off, ``DNNSPLIT_CACHE_DIR``), else
    ``default_workers`` (None: in this process) name; an :class:`InputError` for one of
    the wrong form names its variable (or, through ``names``, the argument's flag)."""
    names = names or {}
    env = os.environ
    count = default_workers
    if workers is not None:
        count = _check_workers(workers, names.get("workers", "workers"))
    elif text := (env.get(ENV_WORKERS) or "").strip():
        parsed: Any = text
        with contextlib.suppress(ValueError):
            parsed = int(text)
        count = _check_workers(parsed, ENV_WORKERS)
    address: str | None = None
    if scheduler is not None:
        address = check_address(scheduler, names.get("scheduler", "scheduler"))
    elif env.get(ENV_SCHEDULER):
        address = check_address(env[ENV_SCHEDULER], ENV_SCHEDULER)
    if cache is None:
        flag = env.get(ENV_CACHE, "1").strip().lower()
        if flag not in ("1", "on", "yes", "true", "0", "off", "no", "false"):
            raise InputError(ENV_CACHE, f"must be 1 or 0 (on or off), got {shown(env[ENV_CACHE])}")
        cache = flag in ("1", "on", "yes", "true")
    folder = env.get(ENV_CACHE_DIR)
    return Engine(count, address, cache, Path(folder) if folder else CACHE_DIR)
