"""Beyond the paper: online partitioning, devices that come and go, uplinks that change
(notebook 10).

The paper decides once, for N devices at fixed rates. This study puts the paper's model in
a moving world (:mod:`dnnsplit.online`): a pool of N devices of the paper's evaluation
(:func:`dnnsplit.paper_scenario`), of which a seeded Poisson process keeps some present;
every present device asks for an inference every ``period_s``; every uplink follows a
seeded two-state Markov channel (good: the device's rate from its distance; bad: that
times ``bad_factor``). Controllers decide the partition points as the world moves
(:data:`CONTROLLERS`), paying a modelled decision time and a switching delay, and each
run's **regret** against an oracle that plays every state's optimum at once is measured
(:mod:`dnnsplit.online.regret`): certified where the node-limited ``optimal`` finishes,
marked where it does not.

Three sweeps, each run on the engine (:mod:`dnnsplit.paper.engine`: cached and parallel
like every sweep), each row computed without the clock (node limits, modelled decision
times), so the same grid gives the same bytes on any machine:

- :func:`regret_sweep`: per (N, seed, objective) one world, every controller in it; rows
  of the cumulative regret over time (``time_s`` ≥ 0), of each run's totals (``time_s``
  −1) and of the world's and each run's binned timeline (:data:`BIN_METRICS`);
- :func:`decision_sweep`: per (N, seed) a short world of N devices, all present, their
  uplinks changing, with every deciding controller (total delay, no regret): the
  evaluations and the modelled time per decision against N.

The measured decision times (wall clock) are in ``benchmarks/online.py``, never here.

The controllers were also played on the emulated testbed (:mod:`dnnsplit.online.testbed`,
``benchmarks/online_testbed.py``). That measurement cannot give the same bytes twice, so
the committed one (``figures/online_testbed.csv``, ``online_testbed_decisions.csv`` and
their manifest) is an *input* here, like the testbed's (notebook 08), rewritten only on
request: :func:`testbed_measurement` reads it, :func:`testbed_summary` puts each
controller's measured delays beside their predictions, :func:`save_testbed` draws
:data:`TESTBED_FIGURE` from it when it exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from dnnsplit._checks import number
from dnnsplit._params import Constraint, Real, declare_fields
from dnnsplit.errors import InputError
from dnnsplit.online import (
    DEFAULT_MAX_NODES,
    DEFAULT_SECONDS_PER_EVALUATION,
    Arrivals,
    Dynamics,
    Requests,
    TraceSpec,
    World,
    simulate,
)
from dnnsplit.online.api import SIMULATE_PARAMETERS, Run, label
from dnnsplit.online.dynamics import ONLINE_FIELDS, REQUEST_FIELDS, SECONDS, TRACE_FIELDS
from dnnsplit.paper import stats
from dnnsplit.paper.captions import Caption, profile_caption
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.output import read_manifest
from dnnsplit.paper.plots import PANEL, finish_figure, paper_style
from dnnsplit.paper.sweeps import Point
from dnnsplit.paper.text import escape, render, table
from dnnsplit.paths import FIGURES_DIR
from dnnsplit.policies import display_name
from dnnsplit.setup import Setup

__all__ = [
    "BIN_METRICS",
    "CONTROLLERS",
    "DECIDING",
    "FIGURES",
    "RUN",
    "RUN_METRICS",
    "STUDY_FIELDS",
    "TESTBED_FIGURE",
    "Plan",
    "Study",
    "TestbedMeasurement",
    "caption",
    "decision_figure",
    "decision_summary",
    "decision_sweep",
    "notes",
    "plan",
    "regret_figure",
    "regret_summary",
    "regret_sweep",
    "regret_table",
    "report_section",
    "save_testbed",
    "testbed_figure",
    "testbed_measurement",
    "testbed_summary",
    "testbed_table",
    "timeline_figure",
    "timeline_rows",
]

#: The pipeline run, and its figures.
RUN = "online"
FIGURES = ("online_timeline", "online_regret", "online_decisions")
#: The controllers of the study, ``(controller, solver)``: solved once at the start by the
#: certifying solver (the best one-shot decision), re-solved at every change by the paper's
#: greedy, by local-search and by ``optimal`` (node-limited), repaired incrementally, and
#: learnt by the bandit that sees no rates.
CONTROLLERS = (
    ("static", "optimal"),
    ("resolve", "greedy"),
    ("resolve", "local-search"),
    ("resolve", "optimal"),
    ("repair", "greedy"),
    ("bandit", "greedy"),
)
#: The controllers whose decisions take model evaluations (the decision sweep's).
DECIDING = tuple(c for c in CONTROLLERS if c[0] in ("resolve", "repair"))
#: Each run's totals (rows with ``time_s`` −1): the cumulative regret (the objective's
#: unit × s), the regret as a share of the oracle's time-integrated objective (%), the
#: share of the horizon whose oracle is certified, the time-averaged objective of the
#: points in force and of the oracle, the mean and 95th percentile of the requests'
#: delays (s, simulated), the switches per hour, the decisions, and the modelled decision
#: time per decision (ms).
RUN_METRICS = (
    "regret",
    "regret_pct",
    "certified_share",
    "objective",
    "oracle",
    "mean_delay",
    "p95_delay",
    "switches_per_hour",
    "decisions",
    "decision_ms",
)
#: The binned timeline (rows with ``time_s`` the end of a bin): the requests' mean
#: simulated delay (s), the switches, the time-averaged objective of the points in force
#: and of the oracle; the world's (controller ``world``): devices present and devices on
#: a bad link (time-averaged).
BIN_METRICS = ("delay", "switches", "objective", "oracle")
WORLD_METRICS = ("present", "bad_links")
#: Points on each cumulative-regret curve, and bins of the timeline.
CURVE_POINTS = 60
BINS = 60
#: The decision sweep's horizon, s (decisions counted, not regret).
DECISION_HORIZON_S = 60.0
#: The objectives, as the figures and the report name them.
OBJECTIVE_NAMES = {
    "total": "total delay",
    "variance": "variance of delays",
    "max": "slowest device",
}
#: The identifying columns of the rows.
IDS = ["profile", "policy", "ratio", "devices", "seed", "objective", "controller", "metric"]


#: What each field of :class:`Study` takes (errors name the field).
STUDY_FIELDS: dict[str, Constraint] = {
    "horizon_s": SECONDS,
    "period_s": REQUEST_FIELDS["period_s"],
    "bad_factor": TRACE_FIELDS["bad_factor"],
    "mean_good_s": SECONDS,
    "mean_bad_s": SECONDS,
    "present_share": Real(positive=True, high=1.0),
    "mean_stay_s": SECONDS,
    "switch_s": ONLINE_FIELDS["switch_s"],
    "max_nodes": SIMULATE_PARAMETERS["max_nodes"],
    "seconds_per_evaluation": SIMULATE_PARAMETERS["seconds_per_evaluation"],
}


@dataclass(frozen=True)
@declare_fields(STUDY_FIELDS)
class Study:
    """The moving world of the study and how its runs are charged (bad values refused,
    naming them: :data:`STUDY_FIELDS`).

    Attributes
    ----------
    horizon_s : float
        How long each world runs, s.
    period_s : float
        A present device asks every ``period_s`` seconds.
    bad_factor, mean_good_s, mean_bad_s : float
        The two-state channel: the bad rate as a share of the good, and the mean stays.
    present_share, mean_stay_s : float
        Devices stay ``mean_stay_s`` on average, and arrive at ``present_share × N /
        mean_stay_s`` a second, so that about that share of the pool is present (Little's
        law; fewer when arrivals find the pool full); the same share is present at the
        start.
    switch_s : float
        The switching delay, s.
    max_nodes : int
        Node limit of ``optimal``, as a controller and as the oracle.
    seconds_per_evaluation : float
        The modelled decision time per model evaluation, s.
    """

    horizon_s: float = 600.0
    period_s: float = 2.0
    bad_factor: float = 0.1
    mean_good_s: float = 30.0
    mean_bad_s: float = 10.0
    present_share: float = 0.75
    mean_stay_s: float = 300.0
    switch_s: float = 0.5
    max_nodes: int = DEFAULT_MAX_NODES
    seconds_per_evaluation: float = DEFAULT_SECONDS_PER_EVALUATION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def dynamics(
        self, n_devices: int, horizon_s: float | None = None, *, everyone: bool = False
    ) -> Dynamics:
        """The dynamics of a pool of ``n_devices`` (``everyone``: all present throughout,
        only the uplinks change)."""
        arrivals = Arrivals(
            kind="poisson",
            rate_per_s=self.present_share * n_devices / self.mean_stay_s,
            mean_stay_s=self.mean_stay_s,
            initial=round(self.present_share * n_devices),
        )
        return Dynamics(
            arrivals=Arrivals() if everyone else arrivals,
            requests=Requests(period_s=self.period_s),
            traces=(
                TraceSpec(
                    kind="two-state",
                    bad_factor=self.bad_factor,
                    mean_good_s=self.mean_good_s,
                    mean_bad_s=self.mean_bad_s,
                ),
            ),
            switch_s=self.switch_s,
            horizon_s=self.horizon_s if horizon_s is None else horizon_s,
        )


@dataclass(frozen=True)
class Plan:
    """What the notebook runs: the regret sweep's N, seeds and objectives, the decision
    sweep's N and seeds, and the study (see :func:`plan`)."""

    devices: tuple[int, ...]
    seeds: tuple[int, ...]
    objectives: tuple[str, ...]
    decision_devices: tuple[int, ...]
    decision_seeds: tuple[int, ...]
    study: Study

    def to_dict(self) -> dict[str, Any]:
        """The grids, for the run's manifest."""
        return {
            "regret": {
                "devices": list(self.devices),
                "seeds": list(self.seeds),
                "objectives": list(self.objectives),
            },
            "decisions": {
                "devices": list(self.decision_devices),
                "seeds": list(self.decision_seeds),
            },
        }


#: A quick run's sizes (a smoke test, seconds): the largest N, the seeds, the decision
#: sweep's N and the horizon (s).
QUICK_DEVICES = 4
QUICK_SEEDS = 2
QUICK_DECISION_DEVICES = (5, 10)
QUICK_HORIZON_S = 60.0


def plan(
    devices: Sequence[int],
    seeds: Sequence[int],
    objectives: Sequence[str],
    decision_devices: Sequence[int],
    decision_seeds: Sequence[int],
    study: Study,
    *,
    quick: bool = False,
) -> Plan:
    """The notebook's plan; ``quick`` (a smoke test) keeps the first N capped at
    :data:`QUICK_DEVICES`, two seeds, decision N of 5 and 10, and a 60 s horizon (bad values
    refused, naming them)."""
    whole = [
        tuple(int(number(v, f"{name}[{k}]", whole=True, minimum=low)) for k, v in enumerate(values))
        for name, values, low in (
            ("devices", devices, 1),
            ("seeds", seeds, 0),
            ("decision_devices", decision_devices, 1),
            ("decision_seeds", decision_seeds, 0),
        )
    ]
    chosen = tuple(objectives)
    for k, objective in enumerate(chosen):
        if objective not in OBJECTIVE_NAMES:
            raise InputError(
                f"objectives[{k}]",
                f"unknown objective {objective!r}; expected one of {', '.join(OBJECTIVE_NAMES)}",
            )
    n, s, dn, ds = whole
    if quick:
        n = (min(n[0], QUICK_DEVICES),)
        s, ds = s[:QUICK_SEEDS], ds[:QUICK_SEEDS]
        dn = QUICK_DECISION_DEVICES
        study = replace(study, horizon_s=min(study.horizon_s, QUICK_HORIZON_S))
    return Plan(n, s, chosen, dn, ds, study)


# --- the regret sweep -------------------------------------------------------------------


def _world(point: Point, horizon_s: float | None = None, *, everyone: bool = False) -> World:
    study = Study(**point.options["study"])
    dynamics = study.dynamics(point.devices, horizon_s, everyone=everyone)
    return dynamics.world(point.scenario(), point.seed)


def _curve(run: Run, times: np.ndarray) -> np.ndarray:
    """The cumulative regret at ``times`` (linear within a piece: its rate is constant)."""
    pieces = run.regret
    assert pieces is not None
    ends = np.concatenate([[0.0], pieces.end_s.to_numpy()])
    cumulative = np.concatenate([[0.0], pieces.cumulative.to_numpy()])
    return np.interp(times, ends, cumulative)


def _binned(
    starts: np.ndarray, ends: np.ndarray, values: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """The time average over each bin of a piecewise-constant ``values``."""
    out = np.zeros(edges.size - 1)
    for k in range(edges.size - 1):
        overlap = np.clip(np.minimum(ends, edges[k + 1]) - np.maximum(starts, edges[k]), 0, None)
        out[k] = (overlap * values).sum() / (edges[k + 1] - edges[k])
    return out


def _run_rows(run: Run, study: Study, edges: np.ndarray) -> dict[str, Any]:
    """The totals, the regret curve and the bins of one run, as ``{metric: value or
    [(time, value)]}``."""
    summary = run.summary()
    pieces = run.regret
    assert pieces is not None
    span = (pieces.end_s - pieces.start_s).to_numpy()
    oracle_time = float((span * pieces.best).sum())
    decisions = run.trajectory.decisions.iloc[1:]  # the first is before time 0
    hours = run.world.horizon_s / 3600.0
    totals = {
        "regret": summary["regret"],
        "regret_pct": 100.0 * summary["regret"] / oracle_time if oracle_time > 0 else math.nan,
        "certified_share": summary["certified_share"],
        "objective": summary["mean_objective"],
        "oracle": summary["mean_best"],
        "mean_delay": summary["mean_delay_s"],
        "p95_delay": summary["p95_delay_s"],
        "switches_per_hour": summary["switches"] / hours,
        "decisions": float(len(decisions)),
        "decision_ms": 1e3 * float(decisions.modelled_s.mean()) if len(decisions) else 0.0,
    }
    requests = run.trajectory.requests
    issued = requests.issued_s.to_numpy()
    which = np.clip(np.searchsorted(edges, issued, side="right") - 1, 0, edges.size - 2)
    counts = np.bincount(which, minlength=edges.size - 1)
    sums = np.bincount(which, weights=requests.delay_s.to_numpy(), minlength=edges.size - 1)
    applied = run.trajectory.decisions
    when = np.clip(
        np.searchsorted(edges, applied.applied_s.to_numpy(), side="right") - 1, 0, edges.size - 2
    )
    starts, ends = pieces.start_s.to_numpy(), pieces.end_s.to_numpy()
    bins = {
        "delay": np.where(counts > 0, sums / np.maximum(counts, 1), np.nan),
        "switches": np.bincount(
            when, weights=applied.switches.to_numpy(), minlength=edges.size - 1
        ),
        "objective": _binned(starts, ends, pieces.value.to_numpy(), edges),
        "oracle": _binned(starts, ends, pieces.best.to_numpy(), edges),
    }
    return {"totals": totals, "bins": bins}


def _world_bins(world: World, edges: np.ndarray) -> dict[str, np.ndarray]:
    intervals = world.intervals
    pool = np.array([d.rate_bps for d in world.scenario.devices])
    bad = (intervals.present & (intervals.rates < pool[None, :])).sum(axis=1)
    return {
        "present": _binned(intervals.times, intervals.ends, intervals.present.sum(axis=1), edges),
        "bad_links": _binned(intervals.times, intervals.ends, bad, edges),
    }


def regret_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one (N, seed, objective): one world, every controller of
    :data:`CONTROLLERS` in it (a module-level point function of the engine)."""
    study = Study(**point.options["study"])
    objective = dict(point.labels)["objective"]
    world = _world(point)
    keys = point.keys()
    times = np.linspace(0.0, study.horizon_s, CURVE_POINTS + 1)[1:]
    edges = np.linspace(0.0, study.horizon_s, BINS + 1)
    rows: list[dict[str, Any]] = []

    def add(controller: str, time_s: float, metric: str, value: float) -> None:
        rows.append(
            {
                **keys,
                "controller": controller,
                "time_s": float(time_s),
                "metric": metric,
                "value": float(value),
            }
        )

    for controller, solver in point.options["controllers"]:
        run = simulate(
            world,
            controller=controller,
            solver=solver,
            objective=objective,
            seconds_per_evaluation=study.seconds_per_evaluation,
            max_nodes=study.max_nodes,
        )
        name = label(controller, solver)
        measured = _run_rows(run, study, edges)
        for metric, value in measured["totals"].items():
            add(name, -1.0, metric, value)
        for t, value in zip(times, _curve(run, times), strict=True):
            add(name, t, "cumulative_regret", value)
        for metric, values in measured["bins"].items():
            for t, value in zip(edges[1:], values, strict=True):
                add(name, t, metric, value)
    for metric, values in _world_bins(world, edges).items():
        for t, value in zip(edges[1:], values, strict=True):
            add("world", t, metric, value)
    return rows


def _points(
    setup: Setup,
    devices: Sequence[int],
    seeds: Sequence[int],
    labels: Sequence[Any],
    options: dict[str, Any],
) -> list[Point]:
    return [
        Point(setup, int(n), int(seed), labels=tuple(extra), options=options)
        for extra in labels
        for n in devices
        for seed in seeds
    ]


def regret_sweep(
    setup: Setup,
    devices: Sequence[int] = (8,),
    seeds: Sequence[int] = tuple(range(4)),
    objectives: Sequence[str] = ("total", "variance", "max"),
    *,
    study: Study = Study(),
    controllers: Sequence[tuple[str, str]] = CONTROLLERS,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Every controller in the world of every (N, seed, objective) (the module docstring):
    tidy rows sorted by their identifying columns and ``time_s``."""
    options = {"study": study.to_dict(), "controllers": [list(c) for c in controllers]}
    chosen = _points(setup, devices, seeds, [(("objective", o),) for o in objectives], options)
    rows = (engine or current_engine()).run(
        regret_rows, chosen, desc="online regret", progress=progress
    )
    frame = pd.DataFrame(rows)
    return frame.sort_values([*IDS, "time_s"], kind="stable").reset_index(drop=True)


def regret_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`regret_figure` draws and the report reads: the cumulative-regret
    curves and each run's totals (not the binned timelines)."""
    keep = (rows.metric == "cumulative_regret") | (rows.time_s == -1)
    return rows[keep].reset_index(drop=True)


def regret_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per (N, objective, controller) and metric of :data:`RUN_METRICS`: the mean over
    seeds with a seeded 95% bootstrap interval and the seeds' spread
    (:func:`dnnsplit.paper.stats.summarise`)."""
    totals = rows[rows.time_s == -1]
    by = ["policy", "ratio", "devices", "objective", "controller", "metric"]
    return stats.summarise(totals, by, seed=seed)


def timeline_rows(
    rows: pd.DataFrame,
    *,
    objective: str = "total",
    seed: int | None = None,
    devices: int | None = None,
) -> pd.DataFrame:
    """The binned rows of one world (``objective``, the first seed and N by default):
    what :func:`timeline_figure` draws."""
    binned = rows[(rows.time_s >= 0) & rows.metric.isin([*BIN_METRICS, *WORLD_METRICS])]
    seed = int(binned.seed.min()) if seed is None else seed
    devices = int(binned.devices.min()) if devices is None else devices
    chosen = stats.where(binned, objective=objective, seed=seed, devices=devices)
    return chosen.reset_index(drop=True)


# --- the decision sweep ------------------------------------------------------------------


def decision_rows(point: Point) -> list[dict[str, Any]]:
    """Per deciding controller in a short world of N devices, all present, their uplinks
    changing (total delay, no regret):
    the decisions after the start, the model evaluations and the modelled time (ms) per
    decision, and the largest."""
    study = Study(**point.options["study"])
    world = _world(point, DECISION_HORIZON_S, everyone=True)
    keys = point.keys()
    rows = []
    for controller, solver in point.options["controllers"]:
        run = simulate(
            world,
            controller=controller,
            solver=solver,
            objective="total",
            seconds_per_evaluation=study.seconds_per_evaluation,
            max_nodes=study.max_nodes,
            regret=False,
        )
        decisions = run.trajectory.decisions.iloc[1:]
        values = {
            "decisions": float(len(decisions)),
            "evaluations": float(decisions.evaluations.mean()),
            "decision_ms": 1e3 * float(decisions.modelled_s.mean()),
            "decision_ms_max": 1e3 * float(decisions.modelled_s.max()),
        }
        rows += [
            {
                **keys,
                "objective": "total",
                "controller": label(controller, solver),
                "metric": m,
                "value": v,
            }
            for m, v in values.items()
        ]
    return rows


def decision_sweep(
    setup: Setup,
    devices: Sequence[int] = (5, 10, 20, 50),
    seeds: Sequence[int] = (0, 1),
    *,
    study: Study = Study(),
    controllers: Sequence[tuple[str, str]] = DECIDING,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The modelled decision time of every deciding controller against N (the module
    docstring)."""
    options = {"study": study.to_dict(), "controllers": [list(c) for c in controllers]}
    chosen = _points(setup, devices, seeds, [()], options)
    rows = (engine or current_engine()).run(
        decision_rows, chosen, desc="online decisions", progress=progress
    )
    frame = pd.DataFrame(rows)
    return frame.sort_values(IDS, kind="stable").reset_index(drop=True)


def decision_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per (N, controller, metric): mean over seeds, interval and spread."""
    return stats.summarise(rows, ["policy", "ratio", "devices", "controller", "metric"], seed=seed)


# --- figures ------------------------------------------------------------------------------

#: One colour per controller in every figure.
COLOURS = {label(c, s): f"C{k}" for k, (c, s) in enumerate(CONTROLLERS)}


#: Controllers whose lines often coincide with another's are dashed, so both show.
DASHED = {label("resolve", "local-search"), label("repair", "greedy")}


def _colour(name: str) -> str:
    return COLOURS.get(name, "C9")


def _style(name: str) -> dict[str, Any]:
    return {"color": _colour(name), "ls": "--" if name in DASHED else "-"}


def plot_timeline(axes: Sequence[Axes], rows: pd.DataFrame) -> Sequence[Axes]:
    """Draw one world's timeline on three axes: the world (devices present, on a bad
    link), each controller's mean simulated delay per bin, and its switches so far."""
    world, context = axes[0], axes[1:]
    for metric, style in (("present", "-"), ("bad_links", "--")):
        part = stats.where(rows, controller="world", metric=metric)
        world.step(
            part.time_s,
            part.value,
            where="pre",
            ls=style,
            color="0.3",
            label={"present": "devices present", "bad_links": "on a bad link"}[metric],
        )
    world.set(ylabel="devices")
    for name, part in rows[rows.controller != "world"].groupby("controller", sort=True):
        delay = stats.where(part, metric="delay").dropna(subset=["value"])  # bins with none
        context[0].plot(delay.time_s, delay.value, label=str(name), lw=1.0, **_style(str(name)))
        switches = stats.where(part, metric="switches")
        context[1].plot(switches.time_s, switches.value.cumsum(), lw=1.0, **_style(str(name)))
    context[0].set(ylabel="mean delay of a request (s)", yscale="log")
    context[0].yaxis.set_major_formatter(FormatStrFormatter("%g"))
    context[0].yaxis.set_minor_formatter(NullFormatter())
    context[1].set(ylabel="switches so far", xlabel="time (s)")
    return axes


def timeline_figure(rows: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """:func:`plot_timeline` of :func:`timeline_rows`' world, three panels stacked."""
    import matplotlib.pyplot as plt

    with paper_style():
        fig, axes = plt.subplots(
            3,
            1,
            figsize=(PANEL[0] * 1.6, PANEL[1] * 2.2),
            sharex=True,
            gridspec_kw={"height_ratios": [1, 2, 1.4]},
        )
        plot_timeline(axes, rows)
        fig.tight_layout()
        finish_figure(fig, list(axes), caption, legend_size=7)
    return fig


def plot_regret(ax: Axes, rows: pd.DataFrame, objective: str, devices: int) -> Axes:
    """Draw on ``ax`` each controller's cumulative regret over time for ``objective``:
    the mean over seeds, shaded from the least to the largest seed; returns ``ax``."""
    curves = stats.where(rows, objective=objective, devices=devices, metric="cumulative_regret")
    for name, part in curves.groupby("controller", sort=True):
        wide = part.pivot_table(index="time_s", columns="seed", values="value")
        colour = _colour(str(name))
        ax.plot(wide.index, wide.mean(axis=1), label=str(name), lw=1.2, **_style(str(name)))
        ax.fill_between(
            wide.index, wide.min(axis=1), wide.max(axis=1), color=colour, alpha=0.15, lw=0
        )
    unit = {"total": "s·s", "variance": "s²·s", "max": "s·s"}[objective]
    ax.set(
        xlabel="time (s)",
        ylabel=f"cumulative regret ({unit})",
        yscale="symlog",
        title=f"{OBJECTIVE_NAMES[objective]}, N = {devices}",
    )
    ax.set_ylim(bottom=0)
    return ax


OBJECTIVE_NAMES = {
    "total": "total delay",
    "variance": "variance of delays",
    "max": "slowest device",
}


def regret_figure(rows: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """One panel per objective (and N) of :func:`plot_regret`."""
    import matplotlib.pyplot as plt

    panels = [
        (o, int(n))
        for o in OBJECTIVE_NAMES
        if o in set(rows.objective)
        for n in sorted(rows.devices.unique())
    ]
    with paper_style():
        fig, axes = plt.subplots(
            1, len(panels), figsize=(PANEL[0] * len(panels), PANEL[1]), squeeze=False
        )
        for ax, (objective, devices) in zip(axes[0], panels, strict=True):
            plot_regret(ax, rows, objective, devices)
        fig.tight_layout()
        finish_figure(fig, list(axes[0]), caption, legend_size=6)
    return fig


def plot_decisions(ax: Axes, summary: pd.DataFrame) -> Axes:
    """Draw on ``ax`` each controller's mean modelled decision time per decision against
    N (log-log; the seeds' spread as bars); returns ``ax``."""
    times = stats.where(summary, metric="decision_ms")
    for name, part in times.groupby("controller", sort=True):
        part = part.sort_values("devices")
        ax.errorbar(
            part.devices,
            part["mean"],
            yerr=[part["mean"] - part["min"], part["max"] - part["mean"]],
            label=str(name),
            marker="o",
            ms=3,
            lw=1.0,
            capsize=2,
            **_style(str(name)),
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="devices N (all present)",
        ylabel="modelled time per decision (ms)",
    )
    ticks = sorted(int(n) for n in times.devices.unique())
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    return ax


def decision_figure(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """:func:`plot_decisions` in one panel."""
    import matplotlib.pyplot as plt

    with paper_style():
        fig, ax = plt.subplots(figsize=PANEL)
        plot_decisions(ax, summary)
        fig.tight_layout()
        finish_figure(fig, [ax], caption, legend_size=7)
    return fig


def caption(setup: Setup, study: Study, seeds: Sequence[int], which: str) -> Caption:
    """The caption of figure ``which`` (one of :data:`FIGURES`): what is drawn, how the
    world moves, what is modelled, and the stage times' provenance."""
    arrivals = (
        ""
        if which == "online_decisions"
        else f"Poisson arrivals keeping about {100 * study.present_share:g} % of the pool present, "
    )
    world = (
        f"{display_name(setup.policy)} at the BS, R = {setup.ratio:g}; two-state uplinks (bad "
        f"= {study.bad_factor:g} × good, mean stays {study.mean_good_s:g} s / "
        f"{study.mean_bad_s:g} s), {arrivals}a request every {study.period_s:g} s, "
        f"switching {study.switch_s:g} s, decision time MODELLED at "
        f"{study.seconds_per_evaluation * 1e6:g} µs per model evaluation."
    )
    lead = {
        "online_timeline": "One world (first seed, total delay): devices present and on a "
        "bad link; each controller's mean simulated delay of a request per bin (log); its "
        "switches so far.",
        "online_regret": f"Cumulative regret against the oracle (each state's optimum at "
        f"once; certified where optimal finishes within {study.max_nodes:,} nodes): mean "
        f"over {len(seeds)} seeds, shaded from the least to the largest seed.",
        "online_decisions": "Modelled decision time per decision (evaluations × the "
        "declared cost; the measured wall-clock times are in the online benchmark, not here) "
        "against N, every device "
        "present, the uplinks changing: mean "
        f"over {len(seeds)} seeds, bars from the least to the largest.",
    }[which]
    full = (
        f"{lead} {world} The regret is measured in the paper's snapshot model of each "
        "state; the delays of requests come from the event-driven simulation (SimPy). Rows in "
        "the CSV; the setup and the study's options in the run's manifest."
    )
    return Caption(f"{lead} {world}", full) + profile_caption(setup)


def notes(study: Study, controllers: Sequence[tuple[str, str]] = CONTROLLERS) -> dict[str, Any]:
    """What the run's manifest records beside the grids: the study's options and the
    controllers."""
    return {"study": study.to_dict(), "controllers": [label(c, s) for c, s in controllers]}


# --- the controllers on the emulated testbed (a committed measurement) -----------------

#: The measurement's run (its manifest) and the figure drawn from it.
TESTBED_RUN = TESTBED_FIGURE = "online_testbed"
#: A prediction within this relative error of its measurement counts as close.
WITHIN = 0.10


@dataclass(frozen=True)
class TestbedMeasurement:
    """The controllers on the emulated testbed: one row per request
    (:data:`dnnsplit.online.testbed.COLUMNS`), one per decision
    (:data:`~dnnsplit.online.testbed.DECISION_COLUMNS`), and the manifest (host, load,
    date, command)."""

    __test__ = False  # not a pytest class

    requests: pd.DataFrame
    decisions: pd.DataFrame
    manifest: dict[str, Any]
    #: The folder its files are in.
    source: Path


def testbed_measurement(directory: str | Path = FIGURES_DIR) -> TestbedMeasurement | None:
    """The measurement in ``directory`` (``online_testbed.csv``,
    ``online_testbed_decisions.csv``, ``online_testbed.manifest.json``), or None when
    there is none."""
    directory = Path(directory)
    requests, decisions = (directory / f"{TESTBED_RUN}{end}.csv" for end in ("", "_decisions"))
    manifest = read_manifest(directory, TESTBED_RUN)
    if manifest is None or not requests.exists() or not decisions.exists():
        return None
    return TestbedMeasurement(pd.read_csv(requests), pd.read_csv(decisions), manifest, directory)


#: The measurement's own files (:func:`testbed_measurement`), never rewritten by a run.
TESTBED_FILES = (f"{TESTBED_RUN}.csv", f"{TESTBED_RUN}_decisions.csv",
                 f"{TESTBED_RUN}.manifest.json")  # fmt: skip


def testbed_summary(requests: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Per controller: its requests and how late their rounds started (median, s: a round
    waits for the last one's replies); the measured and the predicted mean delay (s); the
    median ``|predicted / measured − 1|`` and the median signed error (%), and the share
    of requests predicted within ±:data:`WITHIN`; its decisions after the first, the
    switches they asked, the median wall time of ``decide`` (ms) and the median switching
    time (s: from the change, or for the bandit the reply that made it decide again, to
    the first request at the new points)."""
    out = []
    for name, part in requests.groupby("controller", sort=True):
        error = part["predicted_s"] / part["measured_s"] - 1
        decided = decisions[(decisions["controller"] == name)].sort_values("time_s").iloc[1:]
        switching = decided["switching_s"].dropna()
        out.append({
            "controller": str(name),
            "requests": len(part),
            "lag_s": float((part["started_s"] - part["scheduled_s"]).median()),
            "measured_mean_s": float(part["measured_s"].mean()),
            "predicted_mean_s": float(part["predicted_s"].mean()),
            "median_abs_error_pct": float(100 * error.abs().median()),
            "bias_pct": float(100 * error.median()),
            "within_pct": float(100 * (error.abs() <= WITHIN).mean()),
            "decisions": len(decided),
            "switches": int(decided["switches"].sum()),
            "decide_ms": float(1e3 * decided["decide_s"].median()) if len(decided) else math.nan,
            "switching_s": float(switching.median()) if len(switching) else math.nan,
        })  # fmt: skip
    return pd.DataFrame(out)


def plot_testbed(ax: Axes, requests: pd.DataFrame, controller: str, legend: bool = True) -> Axes:
    """Draw on ``ax`` one controller's requests over time: each device's measured delay
    (dots) and the prediction made before it (a step line); a legend of the devices when
    ``legend``."""
    part = requests[requests["controller"] == controller].sort_values("started_s")
    for k, (device, rows) in enumerate(part.groupby("device", sort=True)):
        colour = f"C{k}"
        ax.step(rows.started_s, rows.predicted_s, where="post", color=colour, lw=0.9)
        ax.plot(rows.started_s, rows.measured_s, "o", ms=2.5, color=colour,
                label=f"device {device}" if legend else None)  # fmt: skip
    ax.set(title=escape(controller), xlabel="time (s)", ylabel="delay of a request (s)",
           yscale="log")  # fmt: skip
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    return ax


def testbed_figure(requests: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """One panel per controller of :func:`plot_testbed`, two a row."""
    import matplotlib.pyplot as plt

    names = sorted(requests["controller"].unique())
    rows, columns = math.ceil(len(names) / 2), min(2, len(names))
    with paper_style():
        fig, axes = plt.subplots(rows, columns, squeeze=False, sharey=True,
                                 figsize=(PANEL[0] * columns, PANEL[1] * rows))  # fmt: skip
        flat = list(axes.flat)
        for ax, name in zip(flat, names, strict=False):
            plot_testbed(ax, requests, str(name), legend=ax is flat[0])
        for ax in flat[len(names) :]:
            ax.set_visible(False)
        fig.tight_layout()
        finish_figure(fig, flat[: len(names)], caption, legend_size=6)
    return fig


def _testbed_host(manifest: dict[str, Any]) -> str:
    host = manifest.get("notes", {}).get("host", {})
    load = host.get("load_average", ["?"])
    return (
        f"{host.get('cpu', '?')}, {host.get('cores', '?')} cores, {host.get('date', '?')}, "
        f"load average {load[0]} at the start"
    )


def testbed_caption(measurement: TestbedMeasurement) -> Caption:
    """The caption of :data:`TESTBED_FIGURE`: what is drawn, what the emulation is, and
    where and when it was measured."""
    grid = measurement.manifest.get("grids", {}).get(TESTBED_RUN, {})
    short = (
        "The controllers on the emulated testbed: each device's MEASURED delay per request "
        "(dots) against the snapshot model's prediction made before it (lines), "
        f"N = {grid.get('devices', '?')}, {display_name(str(grid.get('policy', 'sjf')))} at "
        "the BS, uplinks reshaped by tc at the two-state trace's change times."
    )
    full = (
        f"{short} Devices are processes under CPU quotas in network namespaces on one host "
        f"(not Raspberry Pis); measured on {_testbed_host(measurement.manifest)}. The "
        "prediction uses the scenario's nominal (ESTIMATED Pi 3B+) profile and the BS's "
        "profile measured on its core. Rows in online_testbed.csv, decisions in "
        "online_testbed_decisions.csv, the run in online_testbed.manifest.json."
    )
    return Caption(short, full)


def save_testbed(
    measurement: TestbedMeasurement | None, out_dir: str | Path | None = None
) -> list[str]:
    """Draw and save :data:`TESTBED_FIGURE` and its summary (``online_testbed_summary.csv``)
    from ``measurement`` into ``out_dir``; the figures written (none without a
    measurement). The measurement's own files are copied unchanged into ``out_dir`` when
    they live elsewhere (a run's folder then holds every file its report reads), never
    rewritten."""
    if measurement is None:
        return []
    import matplotlib.pyplot as plt

    from dnnsplit._io import atomic_write
    from dnnsplit.paper.output import output_dir, save_figure

    out = output_dir(out_dir)
    if out.resolve() != measurement.source.resolve():
        for name in TESTBED_FILES:
            atomic_write(out / name, (measurement.source / name).read_bytes())
    fig = testbed_figure(measurement.requests, caption=testbed_caption(measurement))
    summary = testbed_summary(measurement.requests, measurement.decisions)
    save_figure(fig, TESTBED_FIGURE, {"summary": summary}, out_dir,
                caption=testbed_caption(measurement))  # fmt: skip
    plt.close(fig)
    return [TESTBED_FIGURE]


def testbed_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`testbed_summary` as the report shows it."""
    return pd.DataFrame({
        "controller": summary["controller"].map(escape),
        "requests": summary["requests"],
        "round lag (s, median)": summary["lag_s"].map(lambda v: f"{v:.2f}"),
        "measured mean (s)": summary["measured_mean_s"].map(lambda v: f"{v:.3f}"),
        "predicted mean (s)": summary["predicted_mean_s"].map(lambda v: f"{v:.3f}"),
        "median abs. error": summary["median_abs_error_pct"].map(lambda v: f"{v:.0f} %"),
        "within ±10 %": summary["within_pct"].map(lambda v: f"{v:.0f} %"),
        "switches": summary["switches"],
        "decide (ms, median)": summary["decide_ms"].map(lambda v: "—" if v != v else f"{v:.2f}"),
        "switching (s, median)": summary["switching_s"].map(
            lambda v: "—" if v != v else f"{v:.2f}"),
    })  # fmt: skip


# --- REPRODUCTION.md ------------------------------------------------------------------


def _span(row: pd.Series, digits: int = 1) -> str:
    if not np.isfinite(row["mean"]):
        return "—"
    return f"{row['mean']:.{digits}f} ({row['min']:.{digits}f} to {row['max']:.{digits}f})"


def _regret_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One line per objective, N and controller: the regret in % of the oracle (mean over
    seeds, their range), the share certified, the simulated mean delay, the switches per
    hour and the modelled time per decision."""
    out = []
    order = {o: k for k, o in enumerate(OBJECTIVE_NAMES)}
    keys = summary[["objective", "devices", "controller"]].drop_duplicates()
    keys = keys.assign(order=keys.objective.map(order)).sort_values(
        ["order", "devices", "controller"]
    )
    for objective, devices, name in keys[["objective", "devices", "controller"]].itertuples(
        index=False
    ):
        part = stats.where(summary, objective=objective, devices=devices, controller=name)
        row = part.set_index("metric")
        out.append(
            {
                "objective": OBJECTIVE_NAMES[str(objective)],
                "N": int(devices),
                "controller": escape(name),
                "regret, % of the oracle": _span(row.loc["regret_pct"]),
                "certified": f"{100 * row.loc['certified_share', 'mean']:.0f} %",
                "mean delay (s)": _span(row.loc["mean_delay"], 3),
                "switches / h": f"{row.loc['switches_per_hour', 'mean']:.0f}",
                "modelled ms / decision": f"{row.loc['decision_ms', 'mean']:.3g}",
            }
        )
    return pd.DataFrame(out)


def _best(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """Per objective and N: the controller of least mean regret (%), the runner-up and
    whether their seeds' ranges overlap, and static's."""
    pct = stats.where(summary, metric="regret_pct")
    order = {o: k for k, o in enumerate(OBJECTIVE_NAMES)}
    found = []
    for (objective, devices), part in pct.groupby(["objective", "devices"], sort=True):
        part = part.sort_values(["mean", "controller"])
        best, second = part.iloc[0], part.iloc[min(1, len(part) - 1)]
        static = part[part.controller.str.startswith("static")]
        found.append(
            {
                "objective": OBJECTIVE_NAMES[str(objective)],
                "devices": int(devices),
                "best": str(best.controller),
                "best_pct": _span(best),
                "second": str(second.controller) if len(part) > 1 else "",
                "second_pct": _span(second),
                "overlap": bool(second["min"] <= best["max"]),
                "static": str(static.controller.iloc[0]) if len(static) else "",
                "static_pct": _span(static.iloc[0]) if len(static) else "—",
                "order": order[str(objective)],
            }
        )
    return sorted(found, key=lambda r: (r["order"], r["devices"]))


def _decision_table(summary: pd.DataFrame) -> pd.DataFrame:
    times = stats.where(summary, metric="decision_ms")
    wide = times.pivot_table(index="controller", columns="devices", values="mean")
    out = wide.map(lambda v: f"{v:.3g}").reset_index()
    out["controller"] = out["controller"].map(escape)
    out.columns = ["controller", *[f"N = {int(n)}" for n in wide.columns]]
    return out


def report_section(directory: str | Path = FIGURES_DIR) -> str:
    """REPRODUCTION.md's section "Beyond the paper: online partitioning" (Markdown,
    rendered from ``templates/online.md.j2``), from the study's CSVs in ``directory``;
    empty when they are missing."""
    directory = Path(directory)
    regret_path = directory / "online_regret_summary.csv"
    decision_path = directory / "online_decisions_summary.csv"
    if not regret_path.exists() or not decision_path.exists():
        return ""
    regret = pd.read_csv(regret_path)
    decisions = pd.read_csv(decision_path)
    manifest = read_manifest(directory, RUN) or {}
    recorded = manifest.get("notes", {})
    testbed_path = directory / f"{TESTBED_FIGURE}_summary.csv"
    bench = read_manifest(directory, TESTBED_RUN) or read_manifest(FIGURES_DIR, TESTBED_RUN)
    testbed = None
    if testbed_path.exists() and bench is not None:
        summary = pd.read_csv(testbed_path)
        testbed = {
            "grid": bench.get("grids", {}).get(TESTBED_RUN, {}),
            "host": _testbed_host(bench),
            "table": table(testbed_table(summary), align="lrrrrrrrrr"),
            "error": f"{summary['median_abs_error_pct'].min():.0f}–"
            f"{summary['median_abs_error_pct'].max():.0f}",
            "least": str(summary.loc[summary["measured_mean_s"].idxmin(), "controller"]),
            "largest": str(summary.loc[summary["measured_mean_s"].idxmax(), "controller"]),
        }
    grids = manifest.get("grids", {})
    return render(
        "online",
        quick=bool(manifest.get("quick")),
        study=recorded.get("study"),
        controllers=recorded.get("controllers", []),
        regret_grid=grids.get("regret", {}),
        decision_grid=grids.get("decisions", {}),
        regret_table=table(_regret_table(regret), align="lrllrlrr"),
        best=_best(regret),
        decision_table=table(_decision_table(decisions)),
        decision_horizon_s=DECISION_HORIZON_S,
        testbed=testbed,
    )
