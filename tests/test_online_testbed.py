"""The online controllers on the emulated testbed (dnnsplit.online.testbed): the driver's
pure parts on hand-made worlds and a stand-in bench, and the study's summary of a
hand-made measurement. The short real run is in tests/test_testbed.py, beside the
testbed's own: one file runs on one worker, so two real runs never contend for the host's
lock."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from dnnsplit import InputError, evaluate, paper_scenario
from dnnsplit.online import (
    Arrivals,
    Dynamics,
    OnlineScenario,
    RateTrace,
    Requests,
    World,
)
from dnnsplit.online.controllers import Bandit, Resolve, State
from dnnsplit.online.dynamics import snapshot
from dnnsplit.online.testbed import (
    COLUMNS,
    DECISION_COLUMNS,
    OnlineTestbedConfig,
    drive,
    predict,
    run_online_testbed,
    tc_schedule,
)
from dnnsplit.paper import online as study
from dnnsplit.paper.output import write_manifest
from dnnsplit.setup import Setup

PROFILE = "alexnet-pi3b-estimated"


def _world(horizon_s: float = 6.0) -> World:
    """Two devices: device 0 drops to a tenth at 2.5 s and recovers at 4.2 s; device 1
    steady; a request round every second."""
    pool = paper_scenario(2, 0, Setup(profile=PROFILE))
    fast = pool.devices[0].rate_bps
    traces = (
        RateTrace(np.array([0.0, 2.5, 4.2]), np.array([fast, fast / 10, fast])),
        RateTrace.constant(pool.devices[1].rate_bps),
    )
    return World(scenario=pool, horizon_s=horizon_s, stays=(((0.0, horizon_s),),) * 2,
                 traces=traces, requests=Requests(period_s=1.0), switch_s=0.0, seed=0)  # fmt: skip


class FakeBench:
    """A simulated clock: a request takes ``took`` seconds; a wait without a reply due
    moves the clock by its timeout."""

    def __init__(self, took: float = 0.3) -> None:
        self.clock, self.took = 0.0, took
        self.shaped: list[tuple[float, int, float]] = []
        self.started: list[tuple[float, int, int]] = []
        self.due: dict[int, float] = {}

    def now(self) -> float:
        return self.clock

    def shape(self, device: int, rate_bps: float) -> None:
        self.shaped.append((self.clock, device, rate_bps))

    def start(self, device: int, point: int) -> None:
        self.started.append((self.clock, device, point))
        self.due[device] = self.clock + self.took

    def wait(self, timeout_s: float) -> list[tuple[int, dict[str, Any]]]:
        first = min(self.due.values(), default=np.inf)
        if first > self.clock + timeout_s:
            self.clock += timeout_s
            return []
        self.clock = first
        done = [d for d, t in self.due.items() if t == first]
        for d in done:
            del self.due[d]
        row = {"end_to_end_s": self.took, "local_s": 0.1, "send_s": 0.1, "bs_queue_s": 0.0,
               "bs_compute_s": 0.1}  # fmt: skip
        return [(d, row) for d in done]


def test_the_tc_schedule_is_every_link_at_zero_then_each_change_of_a_rate():
    world = _world()
    schedule = tc_schedule(world)
    fast, steady = world.scenario.devices[0].rate_bps, world.scenario.devices[1].rate_bps
    assert schedule.values.tolist() == [
        [0.0, 0, fast], [0.0, 1, steady], [2.5, 0, fast / 10], [4.2, 0, fast],
    ]  # fmt: skip


def test_links_are_shaped_and_decisions_made_at_the_changes_and_applied_from_the_next_round():
    world = _world()
    bench = FakeBench(took=0.3)
    rows, decisions = drive(world, Resolve(), bench, "resolve")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    decided = pd.DataFrame(decisions, columns=list(DECISION_COLUMNS))
    assert [(t, d, r) for t, d, r in bench.shaped] == list(
        tc_schedule(world).itertuples(index=False, name=None)
    )
    assert decided["time_s"].tolist() == [0.0, 2.5, 4.2]
    assert sorted(frame["round"].unique()) == list(range(6))
    assert (frame["started_s"] == frame["scheduled_s"]).all()  # rounds never late here
    # every request runs the points of the last decision made before its round started
    for row in frame.itertuples():
        state = State(row.started_s, world.scenario, np.ones(2, bool),
                      world.intervals.rates[np.searchsorted(world.intervals.times,
                                                            row.started_s, "right") - 1],
                      np.zeros(2, int))  # fmt: skip
        assert row.point == Resolve().decide(state).points[row.device]
    # the drop at 2.5 s moves device 0 to another point, first run in the round at 3 s
    before = frame[(frame.device == 0) & (frame.started_s < 2.5)].point.unique()
    during = frame[(frame.device == 0) & frame.started_s.between(2.5, 4.2)].point.unique()
    assert len(before) == len(during) == 1 and before[0] != during[0]
    switched = decided[decided.time_s == 2.5].iloc[0]
    assert switched.switches >= 1 and switched.first_request_s == 3.0
    assert switched.switching_s == pytest.approx(0.5)


def test_each_prediction_is_the_snapshot_evaluation_of_the_state_at_its_round():
    world = _world()
    rows, _ = drive(world, Resolve(), FakeBench(took=0.3), "resolve")
    for row in pd.DataFrame(rows, columns=list(COLUMNS)).itertuples():
        k = np.searchsorted(world.intervals.times, row.started_s, "right") - 1
        rates = world.intervals.rates[k]
        points = [r.point for r in pd.DataFrame(rows, columns=list(COLUMNS)).itertuples()
                  if r.round == row.round]  # fmt: skip
        model = evaluate(snapshot(world.scenario, np.ones(2, bool), rates), points,
                         model="snapshot", enforce_limits=False)  # fmt: skip
        assert row.predicted_s == model.delays[row.device]
        assert row.predicted_local_s == model.local[row.device]
        state = State(row.started_s, world.scenario, np.ones(2, bool), rates, np.array(points))
        assert predict(state).delays[row.device] == row.predicted_s


class Listening(Bandit):
    """A bandit that keeps what it heard."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.heard: list[tuple[int, int, float]] = []

    def observe(self, device: int, point: int, delay_s: float) -> bool:
        self.heard.append((device, point, delay_s))
        return super().observe(device, point, delay_s)


def test_a_late_round_starts_when_the_last_reply_is_in_and_the_bandit_hears_every_delay():
    world = _world(horizon_s=4.0)
    bandit = Listening()
    heard = bandit.heard
    rows, _ = drive(world, bandit, FakeBench(took=1.5), "bandit")
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    assert frame.groupby("round").started_s.first().tolist() == [0.0, 1.5, 3.0]
    assert [(d, p) for d, p, _ in heard] == list(zip(frame.device, frame.point, strict=True))
    assert len(heard) == 6 and all(delay == 1.5 for *_, delay in heard)


def test_the_driver_refuses_a_moving_pool_naming_the_field():
    pool = paper_scenario(2, 0, Setup(profile=PROFILE))
    moving = Dynamics(arrivals=Arrivals(kind="poisson", initial=1))
    with pytest.raises(InputError, match=r"^online\.arrivals\.kind: "):
        run_online_testbed(OnlineScenario(pool, moving), "unused")
    poisson = Dynamics(requests=Requests(kind="poisson"))
    with pytest.raises(InputError, match=r"^online\.requests\.kind: "):
        run_online_testbed(OnlineScenario(pool, poisson), "unused")
    with pytest.raises(InputError, match=r"^online: "):
        run_online_testbed(pool, "unused")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^controllers\[0\]: "):
        OnlineTestbedConfig(controllers=("oracle",))


def test_the_study_summarises_a_hand_made_measurement_per_controller(tmp_path):
    requests = pd.DataFrame(
        [("a", r, r, r, d, 1, 1e6, 1.0, 0.1, 0.5, 0.4, p, 0.1, 0.5, 0.4)
         for r, (d, p) in enumerate([(0, 1.05), (1, 1.5), (0, 0.8), (1, 1.0)])]
        + [("b", 0, 0.0, 0.0, 0, 2, 1e6, 2.0, 0.1, 0.5, 0.4, 2.0, 0.1, 0.5, 0.4)],
        columns=list(COLUMNS),
    )  # fmt: skip
    decisions = pd.DataFrame(
        [("a", 0.0, 0.001, 10, 0, np.nan, np.nan), ("a", 2.5, 0.002, 12, 1, 3.0, 0.5),
         ("a", 4.0, 0.004, 12, 1, 5.0, 1.0), ("b", 0.0, 0.001, 10, 0, np.nan, np.nan)],
        columns=list(DECISION_COLUMNS),
    )  # fmt: skip
    summary = study.testbed_summary(requests, decisions).set_index("controller")
    a = summary.loc["a"]
    assert a.requests == 4 and a.measured_mean_s == 1.0 and a.lag_s == 0
    assert a.predicted_mean_s == pytest.approx(1.0875)
    assert a.median_abs_error_pct == pytest.approx(12.5)  # |errors| 5, 50, 20, 0 %
    assert a.within_pct == 50 and a.decisions == 2 and a.switches == 2
    assert a.decide_ms == pytest.approx(3.0) and a.switching_s == pytest.approx(0.75)
    assert summary.loc["b"].decisions == 0 and np.isnan(summary.loc["b"].switching_s)
    assert study.testbed_measurement(tmp_path) is None
    assert study.save_testbed(None, tmp_path) == []
    requests.to_csv(tmp_path / "online_testbed.csv", index=False)
    decisions.to_csv(tmp_path / "online_testbed_decisions.csv", index=False)
    write_manifest(tmp_path, study.TESTBED_RUN, setup=None, grids={study.TESTBED_RUN: {}},
                   quick=False, figures=[], notes={"host": {"cpu": "x", "cores": 2}})  # fmt: skip
    measured = study.testbed_measurement(tmp_path)
    assert measured is not None
    assert study.save_testbed(measured, tmp_path / "out") == ["online_testbed"]
    written = pd.read_csv(tmp_path / "out" / "online_testbed_summary.csv")
    assert written["controller"].tolist() == ["a", "b"]
    assert (tmp_path / "out" / "online_testbed.png").exists()
    for name in study.TESTBED_FILES:  # a run's folder holds the measurement it drew from
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / name).read_bytes()
