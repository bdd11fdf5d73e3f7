"""The sweep engine: the same bytes from one process and from a Dask cluster, the cache of
rows per point (hits, and the misses it must not miss), and faults named by their point."""

from __future__ import annotations

import filecmp
import os
import sys
from pathlib import Path

import pytest

from conftest import exec_notebook
from dnnsplit import Setup
from dnnsplit.paper import engine as engine_module
from dnnsplit.paper import sweeps
from dnnsplit.paper.engine import Engine, SweepFailed, code_fingerprint, point_key
from dnnsplit.paths import PACKAGE_DIR

GRID = sweeps.Grid(devices=[4, 5], seeds=[0, 1], objectives=["variance"])


def fig3_files(out: Path, env: dict, monkeypatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for name, parameters in (
        ("02_improvement_over_all_local.ipynb", {"devices": [4, 6], "ratios": [1]}),
        ("03_greedy_vs_optimal.ipynb", {"devices": [3]}),
    ):
        exec_notebook(name, {"quick": True, "output_dir": str(out), **parameters})


@pytest.fixture(scope="module")
def cluster():
    """A real dask.distributed LocalCluster with two worker processes, on 127.0.0.1 only."""
    distributed = pytest.importorskip("distributed")
    import logging

    local = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    yield local
    for client in list(engine_module._CLIENTS.values()):
        client.close()
    engine_module._CLIENTS.clear()
    local.close()


def test_a_dask_cluster_writes_the_same_bytes_as_one_process(tmp_path, cluster, monkeypatch):
    alone, spread = tmp_path / "alone", tmp_path / "cluster"
    fig3_files(alone, {"DNNSPLIT_WORKERS": "1"}, monkeypatch)
    monkeypatch.delenv("DNNSPLIT_WORKERS")
    fig3_files(spread, {"DNNSPLIT_SCHEDULER": cluster.scheduler_address}, monkeypatch)
    names = sorted(p.name for p in alone.iterdir() if p.suffix == ".csv")
    assert len(names) >= 8
    _, mismatch, errors = filecmp.cmpfiles(alone, spread, names, shallow=False)
    assert not mismatch and not errors, mismatch + errors


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
    rows = Engine(scheduler=cluster.scheduler_address, cache=False).run(
        _dies_the_first_time, points, desc="dying", progress=False
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
            engine.run(_fails_on_seed_2, points, desc="sweep", progress=False)


def test_the_cache_hits_on_a_rerun_and_gives_the_same_rows(tmp_path, monkeypatch):
    computed = []
    original = Engine._compute

    def counting(self, tasks, todo, desc):
        computed.append(len(todo))
        yield from original(self, tasks, todo, desc)

    monkeypatch.setattr(Engine, "_compute", counting)
    cached = Engine(workers=1, cache=True, cache_dir=tmp_path)
    first = sweeps.improvement(Setup(), GRID, progress=False, engine=cached)
    again = sweeps.improvement(Setup(), GRID, progress=False, engine=cached)
    assert computed == [4, 0]
    assert first.to_csv() == again.to_csv()
    uncached = sweeps.improvement(
        Setup(), GRID, progress=False, engine=Engine(workers=1, cache=False)
    )
    assert uncached.to_csv() == first.to_csv()
    sweeps.improvement(Setup(quantum_s=0.02), GRID, progress=False, engine=cached)
    assert computed[-1] == 4  # a changed setup field misses


def test_the_cache_key_follows_the_profile_content_and_the_code(tmp_path, monkeypatch):
    profile = tmp_path / "mine.csv"
    shipped = PACKAGE_DIR.parent / "data" / "measurements" / "alexnet-pi3b-estimated.csv"
    profile.write_bytes(shipped.read_bytes())
    point = sweeps.Point(Setup(profile=str(profile)), 4, 0)
    before = point_key(sweeps.improvement_rows, point)
    assert point_key(sweeps.improvement_rows, point) == before
    profile.write_bytes(shipped.read_bytes().replace(b"estimated", b"estimatex", 1))
    assert point_key(sweeps.improvement_rows, point) != before
    profile.write_bytes(shipped.read_bytes())
    assert point_key(sweeps.improvement_rows, point) == before
    monkeypatch.setattr(engine_module, "code_fingerprint", lambda: "edited model code")
    assert point_key(sweeps.improvement_rows, point) != before
    assert point_key(sweeps.optimum_rows, point) != point_key(sweeps.improvement_rows, point)


def test_the_code_fingerprint_covers_the_model_not_the_plots():
    files = {
        p.relative_to(PACKAGE_DIR).as_posix()
        for pattern in engine_module.ROW_CODE
        for p in PACKAGE_DIR.glob(pattern)
    }
    assert {"model.py", "scenario.py", "solvers/heuristics.py", "paper/sweeps.py"} <= files
    assert not files & {
        "paper/plots.py",
        "paper/report.py",
        "paper/claims.py",
        "paper/output.py",
        "paper/engine.py",
        "paper/runner.py",
    }
    assert len(code_fingerprint()) == 64


def test_engine_options_are_checked():
    from dnnsplit.errors import InputError

    with pytest.raises(InputError, match="^workers: must be at least 1"):
        Engine(workers=0)
    with pytest.raises(InputError, match="^scheduler: must be an address"):
        Engine(scheduler="localhost")
