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

**The cache** (``build/cache/rows/entries.sqlite3``, one SQLite file): the rows of each
task, keyed by a hash of the function, the setup, the point (N, seed, labels, options),
the content of the profile files it reads, the source of the library code that computes
rows (the model, the solvers, the sweeps; not the plots, the report or this module) and
the versions of Python and of the numerical libraries. Changing a plot or the report
therefore hits; changing a profile, a setup field, the model's code or NumPy misses. A
sweep reads its entries in one query and writes them in few transactions (each whole or
not at all; two notebooks share the file). Tasks of the same key in one call run once.

An entry carries a checksum of its key and its rows, and must hold what its point yields:
a non-empty list of rows with the same columns, and, where the row function declares it
(:func:`yields`: every solve of the Fig. 3 and Fig. 5 sweeps does), exactly that many rows
with those columns and types. An entry that fails (changed, emptied, truncated, copied
from another point, or edited with its checksum recomputed into rows its point cannot
yield) is discarded and its point recomputed, and one line on stderr says how many; a
file that is not a database is replaced, with one line. Like any build output, the cache
is trusted beyond that: rows of the right shape with a recomputed checksum are taken as
they are (no key outside the folder could sign them). A cache folder that cannot be
written (a read-only checkout) is skipped, with one line. Clear it with
``rm -rf build/cache``.

**Batches**: on a cluster, a sweep's points go out in about :data:`TASKS_PER_WORKER`
Dask tasks per worker of up to :data:`CHUNK_POINTS` points each, cut to about equal
estimated cost (N² a point, the largest first), so that the per-task round trip is paid
per batch, not per point.

**Faults**: a worker that dies mid-sweep has its point retried on another worker (Dask
retries a task whose worker died up to 3 times); a point that still fails, or raises,
stops the sweep with :class:`SweepFailed` naming the point, before any CSV is written.
Ctrl-C cancels the outstanding points; the local cluster is closed when the process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from dnnsplit._checks import number
from dnnsplit._progress import progress_bar
from dnnsplit.errors import InputError, shown
from dnnsplit.paths import BUILD_DIR, PACKAGE_DIR
from dnnsplit.profiles import profile_path
from dnnsplit.setup import Setup

__all__ = [
    "CACHE_DIR",
    "CACHE_FILE",
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
    "package_fingerprint",
    "point_key",
    "yields",
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
#: The library code whose source decides the rows (relative to the package folder).
ROW_CODE = (
    "*.py",
    "solvers/*.py",
    "online/*.py",
    "paper/sweeps.py",
    "paper/fig3.py",
    "paper/fig5.py",
    "paper/beyond.py",
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

#: Libraries whose version can change a number (their versions are part of every key).
NUMERIC_LIBRARIES = ("numpy", "scipy", "numba", "pandas")


def _library_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in NUMERIC_LIBRARIES:
        try:
            found.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            found.append(f"{name}=absent")
    return f"python={sys.version_info[:3]};" + ";".join(found)


def _fingerprint(patterns: Sequence[str]) -> str:
    digest = hashlib.sha256(_library_versions().encode())
    files = sorted({p for pattern in patterns for p in PACKAGE_DIR.glob(pattern)})
    for path in files:
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def code_fingerprint() -> str:
    """SHA-256 of the source of the code that computes rows (see :data:`ROW_CODE`) and of
    the versions of Python and of :data:`NUMERIC_LIBRARIES`."""
    return _fingerprint(ROW_CODE)


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
    if name in memo:
        return memo[name]
    try:
        digest: str | None = hashlib.sha256(profile_path(name).read_bytes()).hexdigest()
    except (InputError, OSError):
        digest = None  # the sweep itself reports the missing profile
    memo[name] = digest
    return digest


@lru_cache(maxsize=1024)
def _setup_text(setup: Setup) -> str:
    """A setup's fields as canonical JSON (a setup is immutable: computed once)."""
    return json.dumps(setup.to_dict(), sort_keys=True, separators=(",", ":"), default=str)


def _name(compute: Callable[..., Any]) -> str:
    return f"{compute.__module__}.{compute.__qualname__}"


def point_key(
    compute: Callable[[Any], Rows], point: Point, *, memo: dict[str, str | None] | None = None
) -> str:
    """The cache key of ``compute(point)``: a hash of everything its rows depend on (the
    function, the setup, the point's N, seed, labels and options, the content of the
    profile files it reads, the code and the libraries' versions). ``memo`` (one engine
    call's) keeps the profile files' digests between points."""
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
    columns; with a declared ``shape``, exactly its count of rows, its columns and their
    types."""
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


class _Failed:
    """The entry exists but fails its checks (see :func:`_checked`)."""


FAILED = _Failed()


def _checked(key: str, digest: str, text: str, shape: Shape | None) -> Rows | _Failed:
    """The rows of a stored entry, or :data:`FAILED` when its checksum does not match its
    key and text, its text is not JSON, or its rows are not what a point yields."""
    if not isinstance(text, str) or digest != _entry_digest(key, text):
        return FAILED
    try:
        rows = json.loads(text)
    except (ValueError, RecursionError):
        return FAILED
    return rows if _well_formed(rows, shape) else FAILED


class CacheUnreadable(Exception):
    """The cache file cannot be read now (locked, or not readable): nothing is found."""


def _database(folder: Path, *, create: bool) -> sqlite3.Connection | None:
    """The cache's database in ``folder``, None when there is none and ``create`` is off."""
    path = folder / CACHE_FILE
    if not create and not path.exists():
        return None
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=CACHE_TIMEOUT_S)
    try:
        if create:
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            db.execute(
                "CREATE TABLE IF NOT EXISTS entries "
                "(key TEXT PRIMARY KEY, digest TEXT NOT NULL, rows TEXT NOT NULL) WITHOUT ROWID"
            )
    except BaseException:
        db.close()
        raise
    return db


#: Keys asked of the database in one query (below SQLite's limit on parameters).
QUERY_KEYS = 900


def _cache_read(folder: Path, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The stored ``(digest, text)`` of each key of ``keys`` that has an entry: one query
    per :data:`QUERY_KEYS` keys.

    Raises
    ------
    CacheUnreadable
        The file is locked beyond :data:`CACHE_TIMEOUT_S`, or cannot be opened.
    sqlite3.DatabaseError
        The file is not a database (or is damaged).
    """
    try:
        db = _database(folder, create=False)
    except sqlite3.OperationalError as error:
        raise CacheUnreadable(str(error)) from error
    if db is None:
        return {}
    found: dict[str, tuple[str, str]] = {}
    wanted = list(dict.fromkeys(keys))
    try:
        for start in range(0, len(wanted), QUERY_KEYS):
            batch = wanted[start : start + QUERY_KEYS]
            marks = ",".join("?" * len(batch))
            query = f"SELECT key, digest, rows FROM entries WHERE key IN ({marks})"
            for key, digest, text in db.execute(query, batch):
                found[key] = (digest, text)
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return found
        raise CacheUnreadable(str(error)) from error
    finally:
        db.close()
    return found


def _cache_write(folder: Path, entries: Sequence[tuple[str, Rows]]) -> None:
    """Store ``(key, rows)`` entries in one transaction: all of them or none.

    Raises
    ------
    OSError
        The folder or the file cannot be written (a read-only checkout, a full disk).
    """
    records = []
    for key, rows in entries:
        text = json.dumps(rows, separators=(",", ":"))
        records.append((key, _entry_digest(key, text), text))
    try:
        db = _database(folder, create=True)
        assert db is not None
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?)", records)
        finally:
            db.close()
    except sqlite3.Error as error:
        raise OSError(0, str(error)) from error


def _discard_damaged(folder: Path, error: BaseException) -> None:
    """Remove a cache file that is not a database (one line on stderr says so)."""
    path = folder / CACHE_FILE
    _report(f"{path} is damaged ({error}): discarded; every point is recomputed")
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            Path(f"{path}{suffix}").unlink()


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
        slowest point, instead of one each. Tasks with the same key (the same function of
        the same point) are computed once. The cache is read in one pass over the keys
        and written in few transactions.
        """
        memo: dict[str, str | None] = {}
        keys = [point_key(compute, point, memo=memo) for compute, point in tasks]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            first.setdefault(key, index)
        rows_of = self._recall(
            list(first), [_shape_of(*tasks[index]) for index in first.values()], desc
        )
        todo = [index for key, index in first.items() if key not in rows_of]
        bar = progress_bar(total=len(first), desc=desc, enabled=progress)
        bar.update(len(first) - len(todo))
        pending: list[tuple[str, Rows]] = []
        try:
            for index, rows in self._compute(tasks, todo, desc):
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
        return self._recall(keys, [shape] * len(keys), desc)

    def _recall(
        self, keys: Sequence[str], shapes: Sequence[Shape | None], desc: str
    ) -> dict[str, Rows]:
        if not self.cache or not keys:
            return {}
        try:
            stored = _cache_read(self.cache_dir, keys)
        except CacheUnreadable as error:
            _report(f"cannot read {self.cache_dir / CACHE_FILE} ({error}); {desc} is computed")
            return {}
        except sqlite3.DatabaseError as error:
            _discard_damaged(self.cache_dir, error)
            return {}
        found: dict[str, Rows] = {}
        failed = 0
        for key, shape in zip(keys, shapes, strict=True):
            if key in stored and key not in found:
                rows = _checked(key, *stored.pop(key), shape)
                if isinstance(rows, list):
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

    def remember(self, entries: Sequence[tuple[str, Rows]]) -> bool:
        """Store ``(key, rows)`` entries in one transaction; False when the cache is off
        or its folder cannot be written (one line on stderr, once): the run goes on
        without the cache."""
        if not self.cache or not entries or self.cache_dir in _UNWRITABLE:
            return False
        try:
            _cache_write(self.cache_dir, entries)
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
        order = sorted(todo, key=lambda i: -tasks[i][1].devices)
        weights = [float(tasks[i][1].devices) ** 2 for i in order]
        chunks = _chunks(order, weights, TASKS_PER_WORKER * workers)
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


def _shape_of(compute: Callable[[Any], Rows], point: Any) -> Shape | None:
    """The declared shape of ``compute(point)``'s rows (:func:`yields`), if any."""
    shape = _SHAPES.get(_name(compute))
    return shape(point) if shape is not None else None


#: A sweep is cut into about this many Dask tasks per worker (for balance) ...
TASKS_PER_WORKER = 16
#: ... of at most this many points each (a task of many cheap points costs one round trip).
CHUNK_POINTS = 256


def _chunks(order: Sequence[int], weights: Sequence[float], count: int) -> list[list[int]]:
    """``order`` cut into consecutive chunks of about equal total weight (an estimate of
    their cost), about ``count`` of them, none of more than :data:`CHUNK_POINTS`."""
    target = sum(weights) / max(1, count)
    chunks: list[list[int]] = []
    current: list[int] = []
    weight = 0.0
    for index, each in zip(order, weights, strict=True):
        current.append(index)
        weight += each
        if weight >= target or len(current) >= CHUNK_POINTS:
            chunks.append(current)
            current, weight = [], 0.0
    if current:
        chunks.append(current)
    return chunks


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
