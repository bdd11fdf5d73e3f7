"""The sweep engine: the same bytes from one process and from a Dask cluster, the cache of
rows per point (hits, and the misses it must not miss), and faults named by their point."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from dnnsplit import Setup
from dnnsplit.paper import beyond, fig3, fig5, readings, sweeps
from dnnsplit.paper import engine as engine_module
from dnnsplit.paper.engine import Engine, SweepFailed, code_fingerprint, point_key
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paths import PACKAGE_DIR

GRID = sweeps.Grid(devices=[4, 5], seeds=[0, 1])
VARIANCE = ("variance",)
#: The solves of Fig. 3 on GRID for the variance: all-local, max-local, greedy per point.
SOLVES = 12


def sweep_files(out: Path, engine: Engine | None) -> None:
    """Fig. 3's and Fig. 5's sweeps on a small grid, written as the notebooks write them
    (``engine`` None: the one the environment names)."""
    from dnnsplit.paper.output import write_table

    out.mkdir()
    grid = sweeps.Grid(devices=[3, 5], seeds=[0, 1, 2], vary={"ratio": [1, 10]})
    rows = fig3.improvement(
        Setup(), grid, objectives=VARIANCE, progress=False, engine=engine
    )
    write_table(rows, out / "a.csv")
    optimum = fig5.greedy_vs_optimal(
        Setup(), sweeps.Grid(devices=[3, 5], seeds=[0, 1, 2]), progress=False, engine=engine
    )
    write_table(optimum, out / "b.csv")


@pytest.fixture(scope="module")
def cluster():
    """A real dask.distributed LocalCluster with two worker processes, on 127.0.0.1 only,
    on free ports (the engine's own)."""
    pytest.importorskip("distributed")
    local, _ = engine_module.start_local_cluster(2)
    yield local
    for client in list(engine_module._CLIENTS.values()):
        client.close()
    engine_module._CLIENTS.clear()
    local.close()


def test_a_dask_cluster_writes_the_same_bytes_as_one_process(tmp_path, cluster, monkeypatch):
    alone, spread, named = tmp_path / "alone", tmp_path / "cluster", tmp_path / "env"
    sweep_files(alone, Engine(workers=1, cache=False))
    sweep_files(spread, Engine(scheduler=cluster.scheduler_address, cache=False))
    # the route of ./run_all.sh: the notebooks' kernels are told the cluster's address
    monkeypatch.delenv("DNNSPLIT_WORKERS")
    monkeypatch.setenv("DNNSPLIT_SCHEDULER", cluster.scheduler_address)
    sweep_files(named, None)
    names = ["a.csv", "b.csv"]
    for other in (spread, named):
        _, mismatch, errors = filecmp.cmpfiles(alone, other, names, shallow=False)
        assert not mismatch and not errors, mismatch + errors
    assert (alone / "b.csv").stat().st_size > 1000


def _dies_the_first_time(point: sweeps.Point) -> list[dict]:
    """Kills its worker process the first time it meets seed 1 (a marker file remembers)."""
    marker = Path(point.options["marker"])
    if point.seed == 1 and not marker.exists():
        marker.write_text("died once")
        os._exit(1)
    return [{"seed": point.seed, "value": float(point.devices)}]


def test_a_worker_that_dies_has_its_point_retried(tmp_path, cluster):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    points = [
        sweeps.Point(Setup(), 3, seed, options={"marker": str(tmp_path / "marker")})
        for seed in range(3)
    ]
    rows = sweeps.run_points(
        _dies_the_first_time, points, desc="dying", progress=False,
        engine=Engine(scheduler=cluster.scheduler_address, cache=False),
    )
    assert (tmp_path / "marker").exists()  # the worker did die
    assert [r["seed"] for r in rows] == [0, 1, 2]


def _fails_on_seed_2(point: sweeps.Point) -> list[dict]:
    if point.seed == 2:
        raise ValueError("no such stage")
    return [{"seed": point.seed}]


def test_a_failing_point_is_named_and_nothing_is_returned(cluster):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    points = [sweeps.Point(Setup(ratio=5), 3, seed) for seed in range(40)]
    expected = r"^sweep: point \(N = 3, seed 2, sjf, R = 5\) failed: ValueError: no such stage"
    engines = (
        Engine(workers=1, cache=False),
        Engine(scheduler=cluster.scheduler_address, cache=False),
    )
    for engine in engines:
        with pytest.raises(SweepFailed, match=expected):
            sweeps.run_points(_fails_on_seed_2, points, desc="sweep", progress=False, engine=engine)


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """How many points each engine call computed (not read from the cache), in order."""
    counts: list[int] = []
    original = Engine._compute

    def counting(self, compute, points, todo, desc):
        counts.append(len(todo))
        yield from original(self, compute, points, todo, desc)

    monkeypatch.setattr(Engine, "_compute", counting)
    return counts


def test_the_cache_hits_on_a_rerun_and_gives_the_same_rows(tmp_path, computed):
    cached = Engine(workers=1, cache=True, cache_dir=tmp_path)
    first = fig3.improvement(Setup(), GRID, objectives=VARIANCE, progress=False, engine=cached)
    again = fig3.improvement(Setup(), GRID, objectives=VARIANCE, progress=False, engine=cached)
    # 4 points, 3 solves each (all-local, max-local, greedy), computed once
    assert computed == [SOLVES, 0]
    assert first.to_csv() == again.to_csv()
    uncached = fig3.improvement(
        Setup(), GRID, objectives=VARIANCE, progress=False, engine=Engine(workers=1, cache=False)
    )
    assert uncached.to_csv() == first.to_csv()
    fig3.improvement(Setup(quantum_s=0.02), GRID, objectives=VARIANCE, progress=False, engine=cached)
    assert computed[-1] == SOLVES  # a changed setup field misses


def test_a_sweep_that_changes_only_how_rows_use_the_solves_solves_nothing_new(
    tmp_path, computed
):
    """Fig. 3 under the max-local baseline reuses the all-local run's solves; greedy from
    another start adds only greedy's solves; one call asking for both shares them."""
    cached = Engine(workers=1, cache=True, cache_dir=tmp_path)

    def run(engine, **knobs):
        return fig3.improvement(
            Setup(), GRID, objectives=VARIANCE, experiment=Experiment(**knobs),
            progress=False, engine=engine,
        )

    default = run(cached)
    other = run(cached, baseline="max-local")
    assert computed == [SOLVES, 0]
    assert not default.equals(other)  # the gains are over another baseline
    run(cached, start="ones")
    assert computed[-1] == 4  # one greedy a point
    points = [
        (fig3.IMPROVEMENT, p)
        for knobs in ({}, {"baseline": "max-local"})
        for p in fig3.improvement_points(
            Setup(), GRID, objectives=VARIANCE, experiment=Experiment(**knobs)
        )
    ]
    sweeps.run_solved(points, desc="both", progress=False, engine=Engine(workers=1, cache=False))
    assert computed[-1] == SOLVES


def test_solved_sweeps_give_the_rows_of_their_points_solved_in_place():
    """The rows assembled from the solves (run_solved) are those each point gives alone."""
    grid = sweeps.Grid(devices=[3, 6], seeds=[0, 1], vary={"policy": ["sjf", "rr"]})
    engine = Engine(workers=1, cache=False)
    for sweep, points, alone in (
        (fig3.IMPROVEMENT, fig3.improvement_points(Setup(), grid), fig3.improvement_rows),
        (
            fig5.OPTIMUM,
            fig5.optimum_points(Setup(), grid, ("variance", "max")),
            fig5.optimum_rows,
        ),
    ):
        each = sweeps.run_solved([(sweep, p) for p in points], desc="", progress=False, engine=engine)
        assert each == [alone(p) for p in points]


def test_the_cache_key_follows_the_profile_content_and_the_code(tmp_path, monkeypatch):
    profile = tmp_path / "mine.csv"
    shipped = PACKAGE_DIR.parent / "data" / "measurements" / "alexnet-pi3b-estimated.csv"
    profile.write_bytes(shipped.read_bytes())
    point = sweeps.Point(Setup(profile=str(profile)), 4, 0)
    before = point_key(fig3.improvement_rows, point)
    assert point_key(fig3.improvement_rows, point) == before
    profile.write_bytes(shipped.read_bytes().replace(b"estimated", b"estimatex", 1))
    assert point_key(fig3.improvement_rows, point) != before
    profile.write_bytes(shipped.read_bytes())
    assert point_key(fig3.improvement_rows, point) == before
    monkeypatch.setattr(engine_module, "module_fingerprint", lambda module: "edited " + module)
    assert point_key(fig3.improvement_rows, point) != before
    monkeypatch.undo()
    monkeypatch.setattr(engine_module, "code_fingerprint", lambda: "edited model code")
    assert point_key(fig3.improvement_rows, point) != before
    assert point_key(fig5.optimum_rows, point) != point_key(fig3.improvement_rows, point)


def test_the_code_fingerprint_covers_the_model_not_the_plots():
    files = {
        p.relative_to(PACKAGE_DIR).as_posix()
        for pattern in engine_module.ROW_CODE
        for p in PACKAGE_DIR.glob(pattern)
    }
    assert {"model.py", "scenario.py", "solvers/heuristics.py", "paper/sweeps.py"} <= files
    assert not files & {
        "paper/fig3.py",  # a study's module is in the key of its own row functions only
        "paper/readings.py",
        "paper/plots.py",
        "paper/report.py",
        "paper/claims.py",
        "paper/output.py",
        "paper/engine.py",
        "paper/runner.py",
    }
    assert len(code_fingerprint()) == 64
    # the libraries that compute the numbers are part of it
    assert "numpy=" in engine_module._library_versions()
    # what a verdict depends on is any code of the package
    everything = {p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.glob("**/*.py")}
    assert {"paper/claims.py", "paper/verdicts.py", "paper/output.py"} <= everything
    # a row function's own module: its source, whatever else the module holds
    fig3_source = (PACKAGE_DIR / "paper" / "fig3.py").read_bytes()
    assert engine_module.module_fingerprint("dnnsplit.paper.fig3") == (
        hashlib.sha256(fig3_source).hexdigest()
    )
    assert engine_module.module_fingerprint("a_module_without_a_file") == (
        hashlib.sha256(b"a_module_without_a_file").hexdigest()
    )


def test_engine_options_are_checked():
    from dnnsplit.errors import InputError

    with pytest.raises(InputError, match="^workers: must be at least 1"):
        Engine(workers=0)
    with pytest.raises(InputError, match="^scheduler: must be an address"):
        Engine(scheduler="localhost")


# --- the cache cannot lie --------------------------------------------------------------


def _entries(folder: Path) -> list[tuple[str, str, Any]]:
    """Every ``(key, digest, rows)`` of the cache in ``folder``."""
    with closing(sqlite3.connect(folder / engine_module.CACHE_FILE)) as db:
        return list(db.execute("SELECT key, digest, rows FROM entries ORDER BY key"))


def _rewrite(folder: Path, key: str, digest: str, rows: Any) -> None:
    with closing(sqlite3.connect(folder / engine_module.CACHE_FILE)) as db, db:
        db.execute("UPDATE entries SET digest = ?, rows = ? WHERE key = ?", (digest, rows, key))


def _signed(key: str, rows: Any) -> tuple[str, str]:
    """``rows`` as an entry's text with the checksum recomputed to match (issue 27)."""
    text = json.dumps(rows)
    return engine_module._entry_digest(key, text), text


class Entry(NamedTuple):
    """A cache entry to damage, its rows, and another entry."""

    key: str
    digest: str
    text: str
    rows: list
    other: tuple


def _number_changed(rows: list) -> list:
    name = next(k for k, v in rows[0].items() if isinstance(v, float))
    return [{**rows[0], name: rows[0][name] * 1.5 + 1.0}, *rows[1:]]


#: Ways to damage a cache entry, as its new ``(digest, text)``. The hostile ones recompute
#: the checksum over the damage, so only the shape can tell.
CORRUPTIONS: dict[str, Callable[[Entry], tuple[str, Any]]] = {
    "valid JSON, no rows": lambda e: (e.digest, json.dumps({"rows": []})),
    "its rows emptied": lambda e: (e.digest, json.dumps([{} for _ in e.rows])),
    "an empty object": lambda e: (e.digest, "{}"),
    "a number changed": lambda e: (e.digest, json.dumps(_number_changed(e.rows))),
    "truncated": lambda e: (e.digest, e.text[: len(e.text) // 2]),
    "empty": lambda e: (e.digest, ""),
    "random bytes": lambda e: (e.digest, os.urandom(200)),
    "another point's entry": lambda e: (e.other[1], e.other[2]),
    "no rows, checksum recomputed": lambda e: _signed(e.key, []),
    "rows emptied, checksum recomputed": lambda e: _signed(e.key, [{} for _ in e.rows]),
    "a row more, checksum recomputed": lambda e: _signed(e.key, [*e.rows, e.rows[0]]),
    "a column dropped, checksum recomputed": lambda e: _signed(
        e.key, [{k: v for k, v in r.items() if k != "variance"} for r in e.rows]
    ),
    "a number made text, checksum recomputed": lambda e: _signed(
        e.key, [{**r, "variance": "0"} for r in e.rows]
    ),
}


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_cache_entry_is_discarded_and_recomputed(how, tmp_path, computed, capsys):
    cached = Engine(workers=1, cache=True, cache_dir=tmp_path)

    def run() -> str:
        rows = fig3.improvement(Setup(), GRID, objectives=VARIANCE, progress=False, engine=cached)
        return rows.to_csv()

    clean = run()
    entries = _entries(tmp_path)
    assert len(entries) == SOLVES
    for k, (key, digest, text) in enumerate(entries):  # every entry, each the same way
        entry = Entry(key, digest, text, json.loads(text), entries[(k + 1) % len(entries)])
        _rewrite(tmp_path, key, *CORRUPTIONS[how](entry))
    capsys.readouterr()
    assert run() == clean  # the clean run's bytes
    assert computed == [SOLVES, SOLVES]  # every damaged entry recomputed
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{SOLVES} entries" in err and "recomputed" in err
    # and rewritten: a third run hits
    assert run() == clean
    assert computed == [SOLVES, SOLVES, 0]


def test_a_cache_file_that_is_not_a_database_is_replaced(tmp_path, computed, capsys):
    cached = Engine(workers=1, cache=True, cache_dir=tmp_path)
    clean = fig3.improvement(Setup(), GRID, objectives=VARIANCE, progress=False, engine=cached)
    (tmp_path / engine_module.CACHE_FILE).write_bytes(os.urandom(4096))
    capsys.readouterr()
    again = fig3.improvement(Setup(), GRID, objectives=VARIANCE, progress=False, engine=cached)
    assert again.to_csv() == clean.to_csv() and computed == [SOLVES, SOLVES]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is damaged" in err
    fig3.improvement(Setup(), GRID, objectives=VARIANCE, progress=False, engine=cached)
    assert computed[-1] == 0


def test_a_cache_that_cannot_be_written_is_skipped_with_one_line(tmp_path, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(engine_module, "_cache_write", refuse)
    monkeypatch.setattr(engine_module, "_UNWRITABLE", set())
    cached = Engine(workers=1, cache=True, cache_dir=tmp_path)
    rows = fig3.improvement(Setup(), GRID, objectives=VARIANCE, progress=False, engine=cached)
    assert len(rows) > 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write in" in err and "Read-only file system" in err


def test_a_sweep_is_cut_into_tasks_of_about_equal_cost():
    order = list(range(40))
    weights = [2500.0] * 10 + [100.0] * 30  # ten large points, then thirty small ones
    chunks = engine_module._chunks(order, weights, 8)
    assert [i for chunk in chunks for i in chunk] == order  # every point once, in order
    costs = [sum(weights[i] for i in chunk) for chunk in chunks]
    assert max(costs) <= 2 * sum(weights) / 8
    assert len(engine_module._chunks(list(range(10_000)), [1.0] * 10_000, 1)[0]) == (
        engine_module.CHUNK_POINTS
    )


# --- settings checked where they are made ----------------------------------------------


@pytest.mark.parametrize(
    ("env", "flags", "field", "message"),
    [
        ({}, {"workers": 0}, "workers", "must be at least 1"),
        ({}, {"workers": 10**6}, "workers", "must be at most"),
        ({}, {"workers": 2.5}, "workers", "must be a whole number"),
        ({}, {"scheduler": "localhost"}, "scheduler", "must be an address like tcp://"),
        ({}, {"scheduler": "http://host:8786"}, "scheduler", "the scheme must be one of"),
        ({}, {"scheduler": "tcp://"}, "scheduler", "needs a host and a port"),
        ({}, {"scheduler": "tcp://host:99999"}, "scheduler", "needs a host and a port"),
        ({"DNNSPLIT_WORKERS": "abc"}, {}, "DNNSPLIT_WORKERS", "must be a whole number"),
        ({"DNNSPLIT_WORKERS": "100000"}, {}, "DNNSPLIT_WORKERS", "must be at most"),
        ({"DNNSPLIT_SCHEDULER": "tcp://"}, {}, "DNNSPLIT_SCHEDULER", "needs a host"),
        ({"DNNSPLIT_CACHE": "maybe"}, {}, "DNNSPLIT_CACHE", "must be 1 or 0"),
    ],
)
def test_engine_settings_are_checked_naming_them(env, flags, field, message, monkeypatch):
    from dnnsplit.errors import InputError

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InputError, match=f"^{field}: .*{message}"):
        if flags:
            Engine(**flags)
        engine_module.from_environment()


def test_a_scheduler_is_contacted_with_a_short_timeout(monkeypatch):
    import time

    from dnnsplit.errors import InputError

    monkeypatch.setattr(engine_module, "SCHEDULER_TIMEOUT_S", 1.0)
    began = time.perf_counter()
    with pytest.raises(InputError, match=r"^--scheduler: cannot reach a Dask scheduler at tcp"):
        engine_module.check_reachable("tcp://127.0.0.1:9", "--scheduler")
    assert time.perf_counter() - began < 30


# --- no surprises from parallelism -------------------------------------------------------


def test_a_notebook_by_hand_computes_in_its_own_process(monkeypatch):
    for name in ("DNNSPLIT_WORKERS", "DNNSPLIT_SCHEDULER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(engine_module, "_CONFIGURED", None)
    assert engine_module.current().in_process
    assert Engine().in_process and not Engine(workers=2).in_process


def test_a_cluster_starts_beside_one_that_holds_the_usual_ports(usual_ports_held, tmp_path):
    """No fixed port, no "Port 8787 is already in use" (warnings are errors here), the
    same rows as one process."""
    cluster, address = engine_module.start_local_cluster(1)
    try:
        assert not address.endswith((":8786", ":8787"))
        grid = sweeps.Grid(devices=[3], seeds=[0, 1])
        points = fig3.improvement_points(Setup(), grid, objectives=("variance",))
        spread = sweeps.run_points(fig3.improvement_rows, points, desc="beside", progress=False,
                                   engine=Engine(scheduler=address, cache=False))
        alone = sweeps.run_points(fig3.improvement_rows, points, desc="alone", progress=False,
                                  engine=Engine(workers=1, cache=False))
        assert spread == alone
    finally:
        for client in list(engine_module._CLIENTS.values()):
            client.close()
        engine_module._CLIENTS.clear()
        cluster.close()


def test_the_engine_does_not_import_the_sweeps():
    """The sweeps import the engine, never the other way round (issue 16: the cycle)."""
    import subprocess

    code = (
        "import sys, dnnsplit.paper.engine; "
        "print('dnnsplit.paper.sweeps' in sys.modules, 'matplotlib' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "False"]


def test_an_address_where_something_else_answers_is_refused(monkeypatch):
    """A peer that is not a Dask scheduler (a web server, a proxy) answers garbage: one
    line naming the address, never the garbage's own error."""
    import socket
    import threading

    from dnnsplit.errors import InputError

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer() -> None:
        while True:
            try:
                peer, _ = server.accept()
            except OSError:
                return
            with peer:
                peer.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"\xff" * 64)

    threading.Thread(target=answer, daemon=True).start()
    monkeypatch.setattr(engine_module, "SCHEDULER_TIMEOUT_S", 2.0)
    try:
        with pytest.raises(InputError, match=r"^scheduler: cannot reach a Dask scheduler at tcp"):
            engine_module.check_reachable(f"tcp://127.0.0.1:{port}")
    finally:
        server.close()


def test_every_declared_shape_is_what_its_function_yields():
    """A declared shape that the code outgrew would send every entry back to be computed."""
    point = sweeps.Point(Setup(policy="rr"), 4, 1, options={"start": "half", "objective": "total"})
    cases = [(readings._mechanism_point, point), (beyond._model_gap_point, point)]
    for request in fig5.OPTIMUM.requests(
        sweeps.Point(Setup(), 4, 1, options={
            "max_nodes": 50, "objectives": ("variance",), "start": "ones", "restarts": 1})
    ) + fig5.OPTIMUM.requests(
        sweeps.Point(Setup(), 4, 1, options={
            "objectives": ("max",), "start": "ones", "restarts": 1})
    ) + [fig3.EXACT_TOTAL, sweeps.ALL_LOCAL]:
        unit = sweeps._unit(sweeps.Point(Setup(), 4, 1), request)  # exact: SJF
        cases.append((sweeps.solution_record, unit))
    for compute, one in cases:
        stored = json.loads(json.dumps(compute(one)))  # as the cache gives it back
        shape = engine_module._SHAPES[engine_module._name(compute)](one)
        assert shape is not None and engine_module._well_formed(stored, shape), compute
        assert not engine_module._well_formed(stored[:-1], shape)


@pytest.mark.parametrize("how", ["no rows", "rows emptied", "a row dropped"])
def test_a_point_sweeps_entry_must_hold_its_rows(how, tmp_path, computed, capsys):
    """The model-gap sweep caches whole points: an entry of another count of rows, its
    checksum recomputed, is discarded."""
    cached = Engine(workers=1, cache=True, cache_dir=tmp_path)
    grid = sweeps.Grid(devices=[4], seeds=[0])
    clean = beyond.model_gap(Setup(), grid, progress=False, engine=cached).to_csv()
    ((key, _, text),) = _entries(tmp_path)
    rows = json.loads(text)
    damaged = {"no rows": [], "rows emptied": [{} for _ in rows], "a row dropped": rows[1:]}
    _rewrite(tmp_path, key, *_signed(key, damaged[how]))
    assert beyond.model_gap(Setup(), grid, progress=False, engine=cached).to_csv() == clean
    assert computed == [1, 1] and "1 entry" in capsys.readouterr().err
