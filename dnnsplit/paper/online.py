"""Beyond the paper: online partitioning, devices that come and go, uplinks that change
(notebook 10).

The paper's model in a moving world (:class:`Study`, :mod:`dnnsplit.online`): the
controllers (:data:`CONTROLLERS`) re-decide the partition points as the world moves, each
run's **regret** measured against an oracle that plays every state's optimum at once
(:mod:`dnnsplit.online.regret`), certified where the node-limited ``optimal`` finishes.
The sweeps run on the engine (cached, parallel) without the clock, so a grid gives the
same bytes on any machine; ``benchmarks/online.py`` measures the wall time of the same
decisions (:func:`decision_runs`). The controllers on the emulated testbed are a committed
measurement, an *input* as notebook 08's is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from dnnsplit._checks import number
from dnnsplit._io import atomic_write
from dnnsplit._params import Real, declare_fields
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
from dnnsplit.paper.output import output_dir, read_manifest, save_figure
from dnnsplit.paper.plots import PANEL, finish_figure, paper_style, ticks
from dnnsplit.paper.sweeps import Point, run_points
from dnnsplit.paper.testbed import host_words
from dnnsplit.paper.text import escape, render, table
from dnnsplit.paths import FIGURES_DIR
from dnnsplit.policies import display_name
from dnnsplit.scenario import Scenario
from dnnsplit.setup import Setup

__all__ = [
    "CONTROLLERS", "DECIDING", "FIGURES", "RUN", "Study", "caption", "decision_figure",
    "decision_runs", "decision_summary", "decision_sweep", "notes", "plan", "regret_figure",
    "regret_summary", "regret_sweep", "regret_table", "report_section", "save_testbed",
    "testbed_measurement", "testbed_summary", "testbed_table", "timeline_figure", "timeline_rows",
]  # fmt: skip

#: The pipeline run, and its figures.
RUN = "online"
FIGURES = ("online_timeline", "online_regret", "online_decisions")
#: The controllers of the study, ``(controller, solver)`` (static: the best one-shot
#: decision, by the certifying solver).
CONTROLLERS = (("static", "optimal"), ("resolve", "greedy"), ("resolve", "local-search"),
               ("resolve", "optimal"), ("repair", "greedy"), ("bandit", "greedy"))  # fmt: skip
#: The controllers whose decisions take model evaluations (the decision sweep's).
DECIDING = tuple(c for c in CONTROLLERS if c[0] in ("resolve", "repair"))
#: The binned timeline (rows with ``time_s`` the end of a bin): the requests' mean
#: simulated delay (s), the switches, the time-averaged objective of the points in force
#: and of the oracle; the world's (controller ``world``): devices present and devices on
#: a bad link (time-averaged).
BIN_METRICS = ("delay", "switches", "objective", "oracle")
WORLD_METRICS = ("present", "bad_links")
#: Bins of the timeline, and points (their ends) on each cumulative-regret curve.
BINS = 60
#: The decision sweep's horizon, s (decisions counted, not regret).
DECISION_HORIZON_S = 60.0
#: The objectives, as the figures and the report name them.
OBJECTIVE_NAMES = {"total": "total delay", "variance": "variance of delays",
                   "max": "slowest device"}  # fmt: skip
#: The identifying columns of the rows.
IDS = ["profile", "policy", "ratio", "devices", "seed", "objective", "controller", "metric"]


@dataclass(frozen=True)
@declare_fields({
    "horizon_s": SECONDS, "period_s": REQUEST_FIELDS["period_s"],
    "bad_factor": TRACE_FIELDS["bad_factor"], "mean_good_s": SECONDS, "mean_bad_s": SECONDS,
    "present_share": Real(positive=True, high=1.0), "mean_stay_s": SECONDS,
    "switch_s": ONLINE_FIELDS["switch_s"], "max_nodes": SIMULATE_PARAMETERS["max_nodes"],
    "seconds_per_evaluation": SIMULATE_PARAMETERS["seconds_per_evaluation"],
})  # fmt: skip
class Study:
    """The moving world of the study and how its runs are charged (bad values refused,
    naming the field).

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

    def dynamics(
        self, n_devices: int, horizon_s: float | None = None, *, everyone: bool = False
    ) -> Dynamics:
        """The dynamics of a pool of ``n_devices`` (``everyone``: all present throughout,
        only the uplinks change)."""
        arrivals = Arrivals() if everyone else Arrivals(
            kind="poisson", rate_per_s=self.present_share * n_devices / self.mean_stay_s,
            mean_stay_s=self.mean_stay_s, initial=round(self.present_share * n_devices),
        )  # fmt: skip
        trace = TraceSpec(kind="two-state", bad_factor=self.bad_factor,
                          mean_good_s=self.mean_good_s, mean_bad_s=self.mean_bad_s)  # fmt: skip
        return Dynamics(
            arrivals=arrivals,
            requests=Requests(period_s=self.period_s), traces=(trace,), switch_s=self.switch_s,
            horizon_s=self.horizon_s if horizon_s is None else horizon_s,
        )  # fmt: skip

    def simulate(
        self, world: World, controller: str, solver: str, objective: str, **more: Any
    ) -> Run:
        """``controller`` with ``solver`` in ``world``, charged as this study charges."""
        return simulate(world, controller=controller, solver=solver, objective=objective,
                        seconds_per_evaluation=self.seconds_per_evaluation,
                        max_nodes=self.max_nodes, **more)  # fmt: skip


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
            "regret": {"devices": list(self.devices), "seeds": list(self.seeds),
                       "objectives": list(self.objectives)},
            "decisions": {"devices": list(self.decision_devices),
                          "seeds": list(self.decision_seeds)},
        }  # fmt: skip


def plan(
    devices: Sequence[int], seeds: Sequence[int], objectives: Sequence[str],
    decision_devices: Sequence[int], decision_seeds: Sequence[int], study: Study, *,
    quick: bool = False,
) -> Plan:  # fmt: skip
    """The notebook's plan (bad values refused, naming them); ``quick`` (a smoke test, seconds)
    keeps the first N capped at 4, two seeds, decision N of 5 and 10, and a 60 s horizon."""
    n, s, dn, ds = (
        tuple(int(number(v, f"{name}[{k}]", whole=True, minimum=low)) for k, v in enumerate(values))
        for name, values, low in (("devices", devices, 1), ("seeds", seeds, 0),
                                  ("decision_devices", decision_devices, 1),
                                  ("decision_seeds", decision_seeds, 0))
    )  # fmt: skip
    chosen = tuple(objectives)
    for k, objective in enumerate(chosen):
        if objective not in OBJECTIVE_NAMES:
            raise InputError(f"objectives[{k}]", f"unknown objective {objective!r}; expected one "
                             f"of {', '.join(OBJECTIVE_NAMES)}")  # fmt: skip
    if quick:
        n, s, dn, ds = (min(n[0], 4),), s[:2], (5, 10), ds[:2]
        study = replace(study, horizon_s=min(study.horizon_s, 60.0))
    return Plan(n, s, chosen, dn, ds, study)


# --- the sweeps ---------------------------------------------------------------------------


def _binned(
    starts: np.ndarray, ends: np.ndarray, values: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """The time average over each bin of a piecewise-constant ``values``."""
    overlap = np.minimum(ends, edges[1:, None]) - np.maximum(starts, edges[:-1, None])
    return (overlap.clip(0, None) * values).sum(axis=1) / np.diff(edges)


def regret_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one (N, seed, objective): one world, every controller of
    :data:`CONTROLLERS` in it, and the world's :data:`WORLD_METRICS`.

    Each run's totals (``time_s`` −1): ``regret`` (cumulative, the objective's unit × s),
    ``regret_pct`` (%, of the oracle's time-integrated objective), ``certified_share`` (of
    the horizon whose oracle is certified), ``objective`` and ``oracle`` (time-averaged:
    the points in force, the oracle's), ``mean_delay`` and ``p95_delay`` (the requests',
    s, simulated), ``switches_per_hour``, ``decisions`` and ``decision_ms`` (modelled per
    decision); its cumulative regret at the ends of the :data:`BINS` bins (linear within a
    piece of the regret: its rate is constant there) and its :data:`BIN_METRICS`.
    """
    study = Study(**point.options["study"])
    world = study.dynamics(point.devices).world(point.scenario(), point.seed)
    edges = np.linspace(0.0, study.horizon_s, BINS + 1)
    times = edges[1:]

    def bin_of(at: pd.Series) -> np.ndarray:
        return np.clip(np.searchsorted(edges, at.to_numpy(), side="right") - 1, 0, BINS - 1)

    series: list[tuple[str, str, Any, Any]] = []  # (controller, metric, times, values)
    for controller, solver in point.options["controllers"]:
        run = study.simulate(world, controller, solver, dict(point.labels)["objective"])
        summary, pieces, requests = run.summary(), run.regret, run.trajectory.requests
        assert pieces is not None
        starts, ends = pieces.start_s.to_numpy(), pieces.end_s.to_numpy()
        oracle_time = float(((ends - starts) * pieces.best).sum())
        applied = run.trajectory.decisions
        decisions = applied.iloc[1:]  # the first is before time 0
        totals = {
            "regret": summary["regret"],
            "regret_pct": 100.0 * summary["regret"] / oracle_time if oracle_time > 0 else math.nan,
            "certified_share": summary["certified_share"],
            "objective": summary["mean_objective"], "oracle": summary["mean_best"],
            "mean_delay": summary["mean_delay_s"], "p95_delay": summary["p95_delay_s"],
            "switches_per_hour": summary["switches"] / (run.world.horizon_s / 3600.0),
            "decisions": float(len(decisions)),
            "decision_ms": 1e3 * float(decisions.modelled_s.mean()) if len(decisions) else 0.0,
        }  # fmt: skip
        name = label(controller, solver)
        series += [(name, metric, [-1.0], [value]) for metric, value in totals.items()]
        cumulative = np.interp(times, np.r_[0.0, ends], np.r_[0.0, pieces.cumulative.to_numpy()])
        series.append((name, "cumulative_regret", times, cumulative))
        counts = np.bincount(bin_of(requests.issued_s), minlength=BINS)
        sums = np.bincount(bin_of(requests.issued_s), weights=requests.delay_s, minlength=BINS)
        binned = {
            "delay": np.where(counts > 0, sums / np.maximum(counts, 1), np.nan),
            "switches": np.bincount(bin_of(applied.applied_s), weights=applied.switches,
                                    minlength=BINS),
            "objective": _binned(starts, ends, pieces.value.to_numpy(), edges),
            "oracle": _binned(starts, ends, pieces.best.to_numpy(), edges),
        }  # fmt: skip
        series += [(name, metric, times, values) for metric, values in binned.items()]
    states, pool = world.intervals, np.array([d.rate_bps for d in world.scenario.devices])
    for metric, present in (("present", states.present),
                            ("bad_links", states.present & (states.rates < pool))):  # fmt: skip
        binned_world = _binned(states.times, states.ends, present.sum(axis=1), edges)
        series.append(("world", metric, times, binned_world))
    keys = point.keys()
    return [
        {**keys, "controller": controller, "time_s": float(t), "metric": metric, "value": float(v)}
        for controller, metric, at, values in series
        for t, v in zip(at, values, strict=True)
    ]


def _sweep(
    compute: Any, setup: Setup, devices: Sequence[int], seeds: Sequence[int],
    labels: Sequence[Any], study: Study, controllers: Sequence[tuple[str, str]],
    by: list[str], **run: Any,
) -> pd.DataFrame:  # fmt: skip
    """``compute``'s rows of every point (label, N, seed) (:func:`run_points`), sorted by
    ``by``."""
    options = {"study": asdict(study), "controllers": [list(c) for c in controllers]}
    chosen = [Point(setup, int(n), int(seed), labels=tuple(extra), options=options)
              for extra in labels for n in devices for seed in seeds]  # fmt: skip
    rows = run_points(compute, chosen, **run)
    return pd.DataFrame(rows).sort_values(by, kind="stable").reset_index(drop=True)


def regret_sweep(
    setup: Setup, devices: Sequence[int] = (8,), seeds: Sequence[int] = tuple(range(4)),
    objectives: Sequence[str] = ("total", "variance", "max"), *, study: Study = Study(),
    controllers: Sequence[tuple[str, str]] = CONTROLLERS, progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Every controller in the world of every (N, seed, objective) (:func:`regret_rows`):
    tidy rows sorted by their identifying columns and ``time_s``."""
    labels = [(("objective", o),) for o in objectives]
    return _sweep(regret_rows, setup, devices, seeds, labels, study, controllers,
                  [*IDS, "time_s"], desc="online regret", progress=progress,
                  engine=engine)  # fmt: skip


def regret_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`regret_figure` draws and the report reads: the cumulative-regret
    curves and each run's totals (not the binned timelines)."""
    keep = (rows.metric == "cumulative_regret") | (rows.time_s == -1)
    return rows[keep].reset_index(drop=True)


def regret_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per (N, objective, controller) and total of :func:`regret_rows`: the mean over
    seeds with a seeded 95% bootstrap interval and the seeds' spread
    (:func:`dnnsplit.paper.stats.summarise`)."""
    by = ["policy", "ratio", "devices", "objective", "controller", "metric"]
    return stats.summarise(rows[rows.time_s == -1], by, seed=seed)


def timeline_rows(
    rows: pd.DataFrame, *, objective: str = "total", seed: int | None = None,
    devices: int | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The binned rows of one world (``objective``, the first seed and N by default):
    what :func:`timeline_figure` draws."""
    binned = rows[(rows.time_s >= 0) & rows.metric.isin([*BIN_METRICS, *WORLD_METRICS])]
    seed = int(binned.seed.min()) if seed is None else seed
    devices = int(binned.devices.min()) if devices is None else devices
    chosen = stats.where(binned, objective=objective, seed=seed, devices=devices)
    return chosen.reset_index(drop=True)


def decision_runs(
    scenario: Scenario, seed: int, study: Study,
    controllers: Sequence[tuple[str, str]] = DECIDING, *, fresh_world: bool = False,
) -> Iterator[tuple[str, Run]]:  # fmt: skip
    """``(label, run)`` of each controller in a :data:`DECISION_HORIZON_S` world of
    ``scenario``'s devices, all present, their uplinks changing (total delay, no regret).
    The study reads the runs' modelled decision times; ``benchmarks/online.py`` their
    measured ones, with ``fresh_world``: a new world per controller, so that none finds
    another's solutions in the world's memo."""
    dynamics = study.dynamics(len(scenario.devices), DECISION_HORIZON_S, everyone=True)
    world = None
    for controller, solver in controllers:
        if world is None or fresh_world:
            world = dynamics.world(scenario, seed)
        run = study.simulate(world, controller, solver, "total", regret=False)
        yield label(controller, solver), run


def decision_rows(point: Point) -> list[dict[str, Any]]:
    """Per controller of :func:`decision_runs`: the decisions after the start, the model
    evaluations and the modelled time (ms) per decision, and the largest."""
    study = Study(**point.options["study"])
    runs = decision_runs(point.scenario(), point.seed, study, point.options["controllers"])
    rows = []
    for name, run in runs:
        decisions = run.trajectory.decisions.iloc[1:]
        values = {
            "decisions": float(len(decisions)), "evaluations": float(decisions.evaluations.mean()),
            "decision_ms": 1e3 * float(decisions.modelled_s.mean()),
            "decision_ms_max": 1e3 * float(decisions.modelled_s.max()),
        }  # fmt: skip
        rows += [
            {**point.keys(), "objective": "total", "controller": name, "metric": m, "value": v}
            for m, v in values.items()
        ]
    return rows


def decision_sweep(
    setup: Setup, devices: Sequence[int] = (5, 10, 20, 50), seeds: Sequence[int] = (0, 1), *,
    study: Study = Study(), controllers: Sequence[tuple[str, str]] = DECIDING,
    progress: bool = True, engine: Engine | None = None,
) -> pd.DataFrame:  # fmt: skip
    """The modelled decision time of every deciding controller against N
    (:func:`decision_rows`)."""
    return _sweep(decision_rows, setup, devices, seeds, [()], study, controllers, IDS,
                  desc="online decisions", progress=progress, engine=engine)  # fmt: skip


def decision_summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per (N, controller, metric): mean over seeds, interval and spread."""
    return stats.summarise(rows, ["policy", "ratio", "devices", "controller", "metric"], seed=seed)


# --- figures ------------------------------------------------------------------------------

#: One colour per controller in every figure; controllers whose lines often coincide with
#: another's are dashed, so both show.
COLOURS = {label(c, s): f"C{k}" for k, (c, s) in enumerate(CONTROLLERS)}
DASHED = {label("resolve", "local-search"), label("repair", "greedy")}


def _style(name: object) -> dict[str, Any]:
    return {"color": COLOURS.get(str(name), "C9"), "ls": "--" if str(name) in DASHED else "-"}


def timeline_figure(rows: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """One world's timeline (:func:`timeline_rows`), three panels stacked: the world
    (devices present, on a bad link), each controller's mean simulated delay per bin, and
    its switches so far."""
    with paper_style():
        fig, axes = plt.subplots(3, 1, figsize=(PANEL[0] * 1.6, PANEL[1] * 2.2), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 2, 1.4]})  # fmt: skip
        world, delays, switches = axes
        for metric, ls, name in (("present", "-", "devices present"),
                                 ("bad_links", "--", "on a bad link")):  # fmt: skip
            part = stats.where(rows, controller="world", metric=metric)
            world.step(part.time_s, part.value, where="pre", ls=ls, color="0.3", label=name)
        world.set(ylabel="devices")
        for name, part in rows[rows.controller != "world"].groupby("controller", sort=True):
            delay = stats.where(part, metric="delay").dropna(subset=["value"])  # bins with none
            delays.plot(delay.time_s, delay.value, label=str(name), lw=1.0, **_style(name))
            switched = stats.where(part, metric="switches")
            switches.plot(switched.time_s, switched.value.cumsum(), lw=1.0, **_style(name))
        delays.set(ylabel="mean delay of a request (s)", yscale="log")
        delays.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        delays.yaxis.set_minor_formatter(NullFormatter())
        switches.set(ylabel="switches so far", xlabel="time (s)")
        fig.tight_layout()
        finish_figure(fig, list(axes), caption, legend_size=7)
    return fig


def regret_figure(rows: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """One panel per objective (and N): each controller's cumulative regret over time, the
    mean over seeds, shaded from the least to the largest seed."""
    panels = [(o, int(n)) for o in OBJECTIVE_NAMES if o in set(rows.objective)
              for n in sorted(rows.devices.unique())]  # fmt: skip
    with paper_style():
        fig, axes = plt.subplots(1, len(panels), figsize=(PANEL[0] * len(panels), PANEL[1]),
                                 squeeze=False)  # fmt: skip
        for ax, (objective, devices) in zip(axes[0], panels, strict=True):
            curves = stats.where(rows, objective=objective, devices=devices,
                                 metric="cumulative_regret")  # fmt: skip
            for name, part in curves.groupby("controller", sort=True):
                wide = part.pivot_table(index="time_s", columns="seed", values="value")
                ax.plot(wide.index, wide.mean(axis=1), label=str(name), lw=1.2, **_style(name))
                ax.fill_between(wide.index, wide.min(axis=1), wide.max(axis=1),
                                color=_style(name)["color"], alpha=0.15, lw=0)  # fmt: skip
            unit = {"total": "s·s", "variance": "s²·s", "max": "s·s"}[objective]
            ax.set(xlabel="time (s)", ylabel=f"cumulative regret ({unit})", yscale="symlog",
                   title=f"{OBJECTIVE_NAMES[objective]}, N = {devices}")  # fmt: skip
            ax.set_ylim(bottom=0)
        fig.tight_layout()
        finish_figure(fig, list(axes[0]), caption, legend_size=6)
    return fig


def decision_figure(summary: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """Each controller's mean modelled decision time per decision against N, in one panel
    (log-log; the seeds' spread as bars)."""
    times = stats.where(summary, metric="decision_ms")
    with paper_style():
        fig, ax = plt.subplots(figsize=PANEL)
        for name, part in times.groupby("controller", sort=True):
            part = part.sort_values("devices")
            ax.errorbar(part.devices, part["mean"],
                        yerr=[part["mean"] - part["min"], part["max"] - part["mean"]],
                        label=str(name), marker="o", ms=3, lw=1.0, capsize=2,
                        **_style(name))  # fmt: skip
        ticks(ax, times.devices, log=True)  # before the y scale, which sets its own ticks
        ax.set(yscale="log", xlabel="devices N (all present)",
               ylabel="modelled time per decision (ms)")  # fmt: skip
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
        f"against N, every device present, the uplinks changing: mean over {len(seeds)} "
        "seeds, bars from the least to the largest.",
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
    return {"study": asdict(study), "controllers": [label(c, s) for c, s in controllers]}


# --- the controllers on the emulated testbed (a committed measurement) -----------------

#: The measurement's run (its manifest) and the figure drawn from it.
TESTBED_RUN = TESTBED_FIGURE = "online_testbed"
#: The measurement's own files (:func:`testbed_measurement`), never rewritten by a run.
TESTBED_FILES = (f"{TESTBED_RUN}.csv", f"{TESTBED_RUN}_decisions.csv",
                 f"{TESTBED_RUN}.manifest.json")  # fmt: skip
#: A prediction within this relative error of its measurement counts as close.
WITHIN = 0.10


@dataclass(frozen=True)
class TestbedMeasurement:
    """The controllers on the emulated testbed: one row per request
    (:data:`dnnsplit.online.testbed.COLUMNS`), one per decision
    (:data:`~dnnsplit.online.testbed.DECISION_COLUMNS`), the manifest (host, load, date,
    command), and the folder its files are in."""

    __test__ = False  # not a pytest class

    requests: pd.DataFrame
    decisions: pd.DataFrame
    manifest: dict[str, Any]
    source: Path


def testbed_measurement(directory: str | Path = FIGURES_DIR) -> TestbedMeasurement | None:
    """The measurement (:data:`TESTBED_FILES`) in ``directory``, or None when there is none."""
    directory = Path(directory)
    requests, decisions = (directory / name for name in TESTBED_FILES[:2])
    manifest = read_manifest(directory, TESTBED_RUN)
    if manifest is None or not requests.exists() or not decisions.exists():
        return None
    return TestbedMeasurement(pd.read_csv(requests), pd.read_csv(decisions), manifest, directory)


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
        decided = decisions[decisions["controller"] == name].sort_values("time_s").iloc[1:]
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


def testbed_figure(requests: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """One panel per controller, two a row: its requests over time, each device's measured
    delay (dots) and the prediction made before it (a step line); the first panel's legend
    names the devices."""
    names = sorted(requests["controller"].unique())
    rows, columns = math.ceil(len(names) / 2), min(2, len(names))
    with paper_style():
        fig, axes = plt.subplots(rows, columns, squeeze=False, sharey=True,
                                 figsize=(PANEL[0] * columns, PANEL[1] * rows))  # fmt: skip
        flat = list(axes.flat)
        for ax, name in zip(flat, names, strict=False):
            part = requests[requests["controller"] == str(name)].sort_values("started_s")
            for k, (device, by_device) in enumerate(part.groupby("device", sort=True)):
                ax.step(by_device.started_s, by_device.predicted_s, where="post", color=f"C{k}",
                        lw=0.9)  # fmt: skip
                ax.plot(by_device.started_s, by_device.measured_s, "o", ms=2.5, color=f"C{k}",
                        label=f"device {device}" if ax is flat[0] else None)  # fmt: skip
            ax.set(title=escape(str(name)), xlabel="time (s)", ylabel="delay of a request (s)",
                   yscale="log")  # fmt: skip
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        for ax in flat[len(names) :]:
            ax.set_visible(False)
        fig.tight_layout()
        finish_figure(fig, flat[: len(names)], caption, legend_size=6)
    return fig


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
    out = output_dir(out_dir)
    if out.resolve() != measurement.source.resolve():
        for name in TESTBED_FILES:
            atomic_write(out / name, (measurement.source / name).read_bytes())
    grid = measurement.manifest.get("grids", {}).get(TESTBED_RUN, {})
    short = (
        "The controllers on the emulated testbed: each device's MEASURED delay per request "
        "(dots) against the snapshot model's prediction made before it (lines), "
        f"N = {grid.get('devices', '?')}, {display_name(str(grid.get('policy', 'sjf')))} at "
        "the BS, uplinks reshaped by tc at the two-state trace's change times."
    )
    full = (
        f"{short} Devices are processes under CPU quotas in network namespaces on one host "
        f"(not Raspberry Pis); measured on {host_words(measurement.manifest)}. The "
        "prediction uses the scenario's nominal (ESTIMATED Pi 3B+) profile and the BS's "
        "profile measured on its core. Rows in online_testbed.csv, decisions in "
        "online_testbed_decisions.csv, the run in online_testbed.manifest.json."
    )
    fig = testbed_figure(measurement.requests, caption=Caption(short, full))
    summary = testbed_summary(measurement.requests, measurement.decisions)
    save_figure(fig, TESTBED_FIGURE, {"summary": summary}, out_dir, caption=Caption(short, full))
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
    """A summary row's mean and its seeds' range, ``—`` when there is no mean."""
    if not np.isfinite(row["mean"]):
        return "—"
    return f"{row['mean']:.{digits}f} ({row['min']:.{digits}f} to {row['max']:.{digits}f})"


def _regret_lines(summary: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The report's regret table, one line per objective, N and controller (the regret in
    % of the oracle: mean over seeds and their range; the share certified, the simulated
    mean delay, the switches per hour, the modelled time per decision); and per objective
    and N the controller of least mean regret, the runner-up, whether their seeds' ranges
    overlap, and static's."""
    lines, best = [], []
    for (objective, devices), part in sorted(
        summary.groupby(["objective", "devices"], sort=True),
        key=lambda item: (list(OBJECTIVE_NAMES).index(item[0][0]), item[0][1]),
    ):
        for name, row in part.groupby("controller", sort=True):
            row = row.set_index("metric")
            lines.append({
                "objective": OBJECTIVE_NAMES[str(objective)], "N": int(devices),
                "controller": escape(name),
                "regret, % of the oracle": _span(row.loc["regret_pct"]),
                "certified": f"{100 * row.loc['certified_share', 'mean']:.0f} %",
                "mean delay (s)": _span(row.loc["mean_delay"], 3),
                "switches / h": f"{row.loc['switches_per_hour', 'mean']:.0f}",
                "modelled ms / decision": f"{row.loc['decision_ms', 'mean']:.3g}",
            })  # fmt: skip
        pct = part[part.metric == "regret_pct"].sort_values(["mean", "controller"])
        first, second = pct.iloc[0], pct.iloc[min(1, len(pct) - 1)]
        static = pct[pct.controller.str.startswith("static")]
        best.append({
            "objective": OBJECTIVE_NAMES[str(objective)], "devices": int(devices),
            "best": str(first.controller), "best_pct": _span(first),
            "second": str(second.controller) if len(pct) > 1 else "", "second_pct": _span(second),
            "overlap": bool(second["min"] <= first["max"]),
            "static": str(static.controller.iloc[0]) if len(static) else "",
            "static_pct": _span(static.iloc[0]) if len(static) else "—",
        })  # fmt: skip
    return pd.DataFrame(lines), best


def report_section(directory: str | Path = FIGURES_DIR) -> str:
    """REPRODUCTION.md's section "Beyond the paper: online partitioning" (Markdown,
    rendered from ``templates/online.md.j2``), from the study's CSVs in ``directory``;
    empty when they are missing."""
    directory = Path(directory)
    regret_path = directory / "online_regret_summary.csv"
    decision_path = directory / "online_decisions_summary.csv"
    if not regret_path.exists() or not decision_path.exists():
        return ""
    regret_lines, best = _regret_lines(pd.read_csv(regret_path))
    decision_ms = stats.where(pd.read_csv(decision_path), metric="decision_ms")
    wide = decision_ms.pivot_table(index="controller", columns="devices", values="mean")
    decision_table = wide.map(lambda v: f"{v:.3g}").rename(
        index=escape, columns=lambda n: f"N = {int(n)}").reset_index()  # fmt: skip
    manifest = read_manifest(directory, RUN) or {}
    testbed_path = directory / f"{TESTBED_FIGURE}_summary.csv"
    bench = read_manifest(directory, TESTBED_RUN) or read_manifest(FIGURES_DIR, TESTBED_RUN)
    testbed = None
    if testbed_path.exists() and bench is not None:
        summary = pd.read_csv(testbed_path)
        errors = summary["median_abs_error_pct"]
        testbed = {
            "grid": bench.get("grids", {}).get(TESTBED_RUN, {}),
            "host": host_words(bench),
            "table": table(testbed_table(summary), align="lrrrrrrrrr"),
            "error": f"{errors.min():.0f}–{errors.max():.0f}",
            "least": str(summary.loc[summary["measured_mean_s"].idxmin(), "controller"]),
            "largest": str(summary.loc[summary["measured_mean_s"].idxmax(), "controller"]),
        }
    grids = manifest.get("grids", {})
    return render(
        "online",
        quick=bool(manifest.get("quick")),
        study=manifest.get("notes", {}).get("study"),
        controllers=manifest.get("notes", {}).get("controllers", []),
        regret_grid=grids.get("regret", {}),
        decision_grid=grids.get("decisions", {}),
        regret_table=table(regret_lines, align="lrllrlrr"),
        best=best,
        decision_table=table(decision_table),
        decision_horizon_s=DECISION_HORIZON_S,
        testbed=testbed,
    )
