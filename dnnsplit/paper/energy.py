"""Beyond the paper: energy. The delay–energy trade-off of the devices (notebook 09).

The paper's conclusion names the energy of the DNN tasks as its next step. With the device
energy model of docs/model.md ("Energy"), ``E_i = P_cpu·C_i + P_tx·τ_i + P_idle·B_i``, a
partition vector has two costs: the total delay (eq. 4) and the total device energy. This
module traces, for scenarios of the paper's evaluation, the **Pareto front** of the two by
the ε-constraint method: the vector of least total delay whose total energy is at most ε,
for ε on an even grid from the least-energy vector's energy to the least-delay vector's.
Each point says whether it is certified:

- by the certifying solver ``optimal`` (branch and bound) for N up to ``certify_devices``:
  the least-energy end (``objective="energy"``), the least-delay end, and each ε
  (``energy_cap = ε``), each solve stopped by a node limit, so a point is **certified**
  where the search finished and otherwise carries the search's proven ``lower_bound``;
- by ``local-search`` (never certified) at every N: its ends are its best total delay and
  best energy, its middle points local-search under ``energy_cap = ε``.

Where both run, the figure shows how far the heuristic's front lies from the certifying
solver's. Beside them, the paper's greedy (eq. 6) on total delay, and greedy on energy:
what the paper's partitions cost in energy.

No row depends on the clock: the certifying solver stops by its node limit (its time limit
is only a guard, and a row it would have stopped raises), local-search by its own rule
(its time limit set out of reach and checked unreached), so the same grid gives the same
bytes on any machine. Points run on the engine (:mod:`dnnsplit.paper.engine`): cached and
parallel like every sweep.

The rows are tidy (:data:`~dnnsplit.paper.sweeps.ID_COLUMNS`, ``point`` and ``value``):
``solver`` is the method (``optimal``, ``local-search``, ``greedy``), ``objective`` what it
minimised (``total`` under the cap for a front point), ``point`` the index of ε on the grid
(−1 for a single solution) and ``metric`` one of :data:`METRICS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dnnsplit._params import Constraint, Whole, declare_fields
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import Evaluation
from dnnsplit.paper import stats
from dnnsplit.paper.captions import Caption, profile_caption
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.output import read_manifest
from dnnsplit.paper.plots import PANEL, finish_figure, paper_style
from dnnsplit.paper.sweeps import DEFAULT_EXPERIMENT, ID_COLUMNS, Grid, Point, points
from dnnsplit.paper.text import render
from dnnsplit.paper.text import table as text_table
from dnnsplit.paths import FIGURES_DIR
from dnnsplit.policies import display_name
from dnnsplit.scenario import DEFAULT_CPU_W, DEFAULT_IDLE_W, DEFAULT_TX_W, Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import MAX_TIME_LIMIT_S, Solution, solve

__all__ = [
    "CERTIFY_DEVICES",
    "CERTIFY_NODES",
    "FIGURE",
    "METRICS",
    "POINTS",
    "RUN",
    "VARIES",
    "FrontOptions",
    "caption",
    "certified_front",
    "front_points",
    "front_rows",
    "heuristic_front",
    "notes",
    "pareto",
    "pareto_figure",
    "plot_front",
    "report_section",
    "seed_table",
    "study_grid",
    "summary",
]

#: The pipeline run, its figure, and its section of REPRODUCTION.md.
RUN = "energy"
FIGURE = "energy_pareto"
#: What every solution's rows hold: total delay (s), total device energy (J), mean and
#: largest delay (s), the share of stages run locally; front points add their ε (J),
#: whether they are certified, meet the cap, and are dominated by another point of their
#: front, and the certifying solver's points its proven lower bound (of total delay, or of
#: energy at the least-energy end).
METRICS = (
    "total",
    "energy",
    "mean",
    "max",
    "local_share",
    "epsilon",
    "certified",
    "feasible",
    "dominated",
    "lower_bound",
)
#: Two costs within this relative distance are equal (a point is not dominated by a twin).
SAME = 1e-12


# --- the grid ---------------------------------------------------------------------------

#: The setup fields the study varies (a grid's ``vary``).
VARIES = ("policy", "ratio")
#: Values of ε per front (the two ends included), by default.
POINTS = 9
#: The certifying solver is run for N up to this many devices (local-search beyond).
CERTIFY_DEVICES = 20
#: Search nodes the certifying solver may spend on each solve of a front (a node limit,
#: so that the same grid certifies the same points on any machine).
CERTIFY_NODES = 200_000
#: The certifying solver's time limit: only a guard against a machine far slower than
#: expected; a solve it stops raises rather than write a row that depends on the clock.
GUARD_SECONDS = 600.0


#: What each field of :class:`FrontOptions` takes (errors name the field).
FRONT_FIELDS: dict[str, Constraint] = {
    "points": Whole(2),
    "certify_devices": Whole(0),
    "certify_nodes": Whole(1),
}


@dataclass(frozen=True)
@declare_fields(FRONT_FIELDS)
class FrontOptions:
    """How the study traces each front (bad values refused, naming them: :data:`FRONT_FIELDS`).

    Attributes
    ----------
    points : int
        Values of ε per front, the two ends included (≥ 2).
    certify_devices : int
        The certifying solver runs for N up to this many devices (local-search beyond).
    certify_nodes : int
        Search nodes it may spend on each solve (a node limit: the same points certified
        on any machine).
    """

    points: int = POINTS
    certify_devices: int = CERTIFY_DEVICES
    certify_nodes: int = CERTIFY_NODES

    def to_dict(self) -> dict[str, int]:
        """Plain data (the point options and the manifest's notes)."""
        return {
            "points": self.points,
            "certify_devices": self.certify_devices,
            "certify_nodes": self.certify_nodes,
        }


def study_grid(
    devices: Sequence[int] = (10, 20),
    seeds: Sequence[int] = tuple(range(10)),
    policies: Sequence[str] = ("sjf", "rr"),
    ratios: Sequence[float] = (1.0, 10.0),
    *,
    quick: bool = False,
) -> Grid:
    """The study's grid: every (policy, R) of ``policies`` × ``ratios``, N and seed. A
    ``quick`` grid (a smoke test) keeps two seeds and the first two N, capped at 4 and 6."""
    if quick:
        capped = [min(int(n), 4 if k == 0 else 6) for k, n in enumerate(list(devices)[:2])]
        devices, seeds = tuple(dict.fromkeys(capped)), tuple(seeds)[:2]
    return Grid(devices=devices, seeds=seeds, vary={"policy": policies, "ratio": ratios})


# --- one front --------------------------------------------------------------------------


def _unbounded(solution: Solution) -> Solution:
    """``solution``, checked not to have been stopped by its (out of reach) time limit."""
    if solution.extra.get("time_limit_reached"):
        raise SolverRefusal(
            "time_limit",
            f"{solution.solver} was stopped by its time limit: a row would depend on the machine",
        )
    return solution


def _guarded(solution: Solution) -> Solution:
    """``solution`` of the certifying solver, checked not to have been stopped by its time
    limit (only by its node limit, or not at all)."""
    if "time limit" in solution.note:
        raise SolverRefusal(
            "time_limit",
            f"optimal was stopped by its time limit of {GUARD_SECONDS:g} s: a row would "
            "depend on the machine",
        )
    return solution


def certified_front(
    scenario: Scenario,
    points: int,
    *,
    max_nodes: int = CERTIFY_NODES,
    start: str = "half",
    restarts: int = 8,
    seed: int = 0,
) -> list[tuple[float, Solution]]:
    """The ε-constraint front by the certifying solver ``optimal``: ``(ε, solution)`` for
    ``points`` values of ε evenly from the energy of its least-energy vector to that of
    its least-delay vector. The ends are ``optimal`` on energy and on total delay, the
    points between ``optimal`` on total delay under ``energy_cap = ε``; each solve stops
    after ``max_nodes`` nodes, and its ``optimal`` flag says whether it certified (else
    ``extra["lower_bound"]`` is a proven bound). Where the least-energy search ends above
    the least-delay vector's energy (uncertified), the least-delay vector is both ends.

    Raises
    ------
    SolverRefusal
        No vector meets every constraint, or a solve reached the time guard.
    """
    options = {
        "max_nodes": max_nodes,
        "time_limit": GUARD_SECONDS,
        "start": start,
        "restarts": restarts,
        "seed": seed,
    }

    def search(objective: str, cap: float | None = None) -> Solution:
        extra = {} if cap is None else {"energy_cap": cap}
        return _guarded(solve(scenario, objective=objective, solver="optimal", **options, **extra))

    return _epsilon_front(search, points)


def _epsilon_front(
    search: Callable[[str, float | None], Solution], points: int
) -> list[tuple[float, Solution]]:
    """The ε-constraint front both fronts share: ``search("total")`` and
    ``search("energy")`` are its ends (the least-delay vector at both where the least-energy
    search ends above its energy), ``search("total", ε)`` the ``points - 2`` between."""
    fastest = search("total", None)
    frugal = search("energy", None)
    if frugal.evaluation.energy > fastest.evaluation.energy:
        frugal = fastest
    caps = np.linspace(frugal.evaluation.energy, fastest.evaluation.energy, points)
    middle = [(float(cap), search("total", float(cap))) for cap in caps[1:-1]]
    return [(float(caps[0]), frugal), *middle, (float(caps[-1]), fastest)]


def heuristic_front(
    scenario: Scenario, points: int, *, restarts: int = 8, seed: int = 0
) -> list[tuple[float, Solution]]:
    """The ε-constraint front by local-search (not certified): ``(ε, solution)`` for
    ``points`` values of ε evenly from the energy of local-search's least-energy vector to
    that of its least-delay vector; the ends are those two vectors, the points between are
    local-search on total delay under ``energy_cap = ε`` (whose ``feasible`` says whether
    it met the cap). Where the least-energy search ends above the least-delay vector's
    energy, the least-delay vector is both ends."""
    options = {"restarts": restarts, "seed": seed, "time_limit": MAX_TIME_LIMIT_S}

    def search(objective: str, cap: float | None = None) -> Solution:
        extra = {} if cap is None else {"energy_cap": cap}
        return _unbounded(
            solve(scenario, objective=objective, solver="local-search", **options, **extra)
        )

    return _epsilon_front(search, points)


def _dominated(costs: list[tuple[float, float]]) -> list[bool]:
    """Whether each ``(delay, energy)`` is dominated by another: no worse in both and
    better (beyond :data:`SAME`) in one."""

    def better(a: float, b: float) -> bool:
        return a < b - SAME * max(abs(a), abs(b))

    def no_worse(a: float, b: float) -> bool:
        return not better(b, a)

    return [
        any(
            no_worse(d, delay) and no_worse(e, energy) and (better(d, delay) or better(e, energy))
            for d, e in costs
        )
        for delay, energy in costs
    ]


def _metrics(evaluation: Evaluation) -> dict[str, float]:
    return {
        "total": evaluation.total,
        "energy": evaluation.energy,
        "mean": evaluation.mean,
        "max": evaluation.max,
        "local_share": evaluation.local_share,
    }


def _rows(keys: dict[str, Any], solver: str, objective: str, point: int, metrics: dict) -> list:
    return [
        {**keys, "solver": solver, "objective": objective, "point": point, "metric": m, "value": v}
        for m, v in metrics.items()
    ]


def _front_rows(
    keys: dict[str, Any], solver: str, front: list[tuple[float, Solution]]
) -> list[dict[str, Any]]:
    feasible = [(cap, s) for cap, s in front if s.feasible]
    dominated = iter(_dominated([(s.evaluation.total, s.evaluation.energy) for _, s in feasible]))
    rows: list[dict[str, Any]] = []
    for k, (cap, solution) in enumerate(front):
        metrics = _metrics(solution.evaluation)
        metrics.update(
            epsilon=cap,
            certified=float(solution.optimal),
            feasible=float(solution.feasible),
            dominated=float(next(dominated)) if solution.feasible else math.nan,
        )
        if "lower_bound" in solution.extra:
            metrics["lower_bound"] = float(solution.extra["lower_bound"])
        rows += _rows(keys, solver, "total", k, metrics)
    return rows


def front_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one scenario (a module-level point function of the engine): the
    local-search front, the certifying solver's front for N up to ``certify_devices``,
    and the paper's greedy on total delay and on energy."""
    scenario, keys = point.scenario(), point.keys()
    options = point.options
    points_per_front, seed = options["points"], point.seed
    rows = _front_rows(
        keys,
        "local-search",
        heuristic_front(scenario, points_per_front, restarts=options["restarts"], seed=seed),
    )
    if scenario.n_devices <= options["certify_devices"]:
        front = certified_front(
            scenario,
            points_per_front,
            max_nodes=options["certify_nodes"],
            start=options["start"],
            restarts=options["restarts"],
            seed=seed,
        )
        rows += _front_rows(keys, "optimal", front)
    for objective in ("total", "energy"):
        found = _unbounded(
            solve(
                scenario,
                objective=objective,
                solver="greedy",
                start=options["start"],
                time_limit=MAX_TIME_LIMIT_S,
            )
        )
        rows += _rows(keys, "greedy", objective, -1, _metrics(found.evaluation))
    return rows


def front_points(
    setup: Setup,
    grid: Grid,
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
    front: FrontOptions = FrontOptions(),
) -> list[Point]:
    """The points of :func:`pareto`: every (policy, R, N, seed) of ``grid``."""
    options = {**front.to_dict(), "start": experiment.start, "restarts": experiment.restarts}
    return points(setup, grid, sweep="energy fronts", varies=VARIES, options=options)


def pareto(
    setup: Setup,
    grid: Grid,
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
    front: FrontOptions = FrontOptions(),
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The delay–energy fronts of every (policy, R, N, seed) of ``grid`` (module docstring):
    ``front.points`` values of ε each; the certifying solver's front (``front.certify_nodes``
    nodes a solve) for N up to ``front.certify_devices``, local-search's at every N; greedy
    from ``experiment.start``, local-search (and the certifying solver's warm start) with
    ``experiment.restarts``. Tidy rows sorted by their identifying columns."""
    chosen = front_points(setup, grid, experiment=experiment, front=front)
    rows = (engine or current_engine()).run(
        front_rows, chosen, desc="energy fronts", progress=progress
    )
    frame = pd.DataFrame(rows)
    return frame.sort_values([*ID_COLUMNS, "point"], kind="stable").reset_index(drop=True)


# --- summaries --------------------------------------------------------------------------

POINT_ID = ["policy", "ratio", "devices", "seed"]


def _value(rows: pd.DataFrame, **equal: Any) -> float:
    found = stats.where(rows, **equal)["value"]
    return float(found.iloc[0]) if len(found) else math.nan


def _pct_above(value: float, reference: float) -> float:
    return 100.0 * (value / reference - 1.0) if reference > 0 else math.nan


def seed_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, R, N, seed): the front's ends and what greedy costs, against
    the certifying solver's front where there is one (``reference = optimal``; its
    ``certified_share`` of points certified, ``ends_certified`` 1 when both ends are),
    else local-search's (``reference = local-search``: best found, not certified).

    Columns: ``fastest_total``/``fastest_energy`` (the least-delay end),
    ``frugal_total``/``frugal_energy`` (the least-energy end), ``energy_premium_pct``
    (how much more energy the least-delay vector spends than the least-energy one),
    ``delay_premium_pct`` (how much slower the least-energy vector is), greedy's
    ``greedy_energy_pct`` and ``greedy_delay_pct`` (its total-delay solution above the
    least energy and the least delay), ``greedy_dominated`` (1 when a front point is no
    worse in both costs and better in one), ``greedy_energy_gap_pct`` (greedy on energy
    above the least energy), and, where both fronts exist, ``heuristic_gap_pct``: the
    largest excess of local-search's total delay over a certified point's at its ε.
    """
    out = []
    for key, part in rows.groupby(POINT_ID, sort=True):
        reference = "optimal" if (part.solver == "optimal").any() else "local-search"
        front = stats.where(part, solver=reference)
        feasible = front[(front.metric == "feasible") & (front.value == 1)].point
        front = front[front.point.isin(feasible)]
        last, first = int(front.point.max()), int(front.point.min())
        record: dict[str, Any] = dict(zip(POINT_ID, key, strict=True))
        record["reference"] = reference
        certified = stats.where(front, metric="certified").set_index("point").value
        record["certified_share"] = float(certified.mean())
        record["ends_certified"] = float(certified[first] == 1 and certified[last] == 1)
        record["fastest_total"] = _value(front, point=last, metric="total")
        record["fastest_energy"] = _value(front, point=last, metric="energy")
        record["frugal_total"] = _value(front, point=first, metric="total")
        record["frugal_energy"] = _value(front, point=first, metric="energy")
        greedy = stats.where(part, solver="greedy", objective="total")
        g_total, g_energy = _value(greedy, metric="total"), _value(greedy, metric="energy")
        record["energy_premium_pct"] = _pct_above(record["fastest_energy"], record["frugal_energy"])
        record["delay_premium_pct"] = _pct_above(record["frugal_total"], record["fastest_total"])
        record["greedy_energy_pct"] = _pct_above(g_energy, record["frugal_energy"])
        record["greedy_delay_pct"] = _pct_above(g_total, record["fastest_total"])
        costs = [
            (_value(front, point=k, metric="total"), _value(front, point=k, metric="energy"))
            for k in sorted(set(front.point))
        ]
        record["greedy_dominated"] = float(_dominated([(g_total, g_energy), *costs])[0])
        on_energy = stats.where(part, solver="greedy", objective="energy")
        record["greedy_energy_gap_pct"] = _pct_above(
            _value(on_energy, metric="energy"), record["frugal_energy"]
        )
        record["heuristic_gap_pct"] = _heuristic_gap(part) if reference == "optimal" else math.nan
        out.append(record)
    return pd.DataFrame(out)


def _heuristic_gap(part: pd.DataFrame) -> float:
    """The largest % by which local-search exceeds a certified point's total delay at its
    ε (the ε grids differ: each certified point is compared with the local-search point of
    least delay whose energy is within its ε); NaN without a certified point."""
    exact = stats.where(part, solver="optimal")
    heuristic = stats.where(part, solver="local-search")
    h = heuristic.pivot_table(index="point", columns="metric", values="value")
    h = h[h.feasible == 1]
    gaps = []
    certified = exact[(exact.metric == "certified") & (exact.value == 1)].point
    for k in sorted(set(certified)):
        cap = _value(exact, point=k, metric="epsilon")
        best = _value(exact, point=k, metric="total")
        within = h[h.energy <= cap * (1 + SAME) + 1e-9]
        if len(within):
            gaps.append(_pct_above(float(within.total.min()), best))
    return max(gaps) if gaps else math.nan


#: The columns of :func:`seed_table` that :func:`summary` summarises over seeds.
SUMMARY_METRICS = (
    "certified_share",
    "ends_certified",
    "energy_premium_pct",
    "delay_premium_pct",
    "greedy_energy_pct",
    "greedy_delay_pct",
    "greedy_dominated",
    "greedy_energy_gap_pct",
    "heuristic_gap_pct",
)


def summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per (policy, R, N, reference) and metric of :data:`SUMMARY_METRICS`: the mean over
    seeds with a seeded 95% bootstrap interval and the seeds' spread
    (:func:`dnnsplit.paper.stats.summarise`)."""
    table = seed_table(rows)
    long = table.melt(
        id_vars=[*POINT_ID, "reference"], value_vars=list(SUMMARY_METRICS), var_name="metric"
    )
    return stats.summarise(long, ["policy", "ratio", "devices", "reference", "metric"], seed=seed)


# --- the figure -------------------------------------------------------------------------

#: How each method's front is drawn (the certifying solver's points filled where
#: certified, hollow where not).
FRONT_STYLE: dict[str, dict[str, Any]] = {  # drawn in this order: optimal on top
    "local-search": {"ls": "--", "colour": "C1", "label": "local-search (not certified)"},
    "optimal": {"ls": "-", "colour": "C0", "label": "optimal (filled: certified)"},
}


def _front_costs(rows: pd.DataFrame, solver: str) -> pd.DataFrame:
    """The feasible, non-dominated points of one front, by energy, with their mean delay
    and mean energy per device and whether each is certified (duplicates, where several ε
    give one vector, once)."""
    front = stats.where(rows, solver=solver)
    if front.empty:
        return pd.DataFrame(columns=["mean_delay", "mean_energy", "certified"])
    wide = front.pivot_table(index="point", columns="metric", values="value")
    wide = wide[(wide.feasible == 1) & (wide.dominated == 0)]
    devices = float(front.devices.iloc[0])
    costs = pd.DataFrame(
        {
            "mean_delay": wide.total / devices,
            "mean_energy": wide.energy / devices,
            "certified": wide.certified == 1,
        }
    ).drop_duplicates(subset=["mean_delay", "mean_energy"])
    return costs.sort_values("mean_energy", kind="stable")


def plot_front(
    ax: Axes, rows: pd.DataFrame, policy: str, ratio: float, devices: int, seed: int
) -> Axes:
    """Draw on ``ax`` the fronts of one scenario (policy, R, N, seed): mean delay per device
    against mean energy per device, the certifying solver's front solid (markers filled
    where certified), local-search's dashed with hollow markers, the paper's greedy on
    total delay as × and greedy on energy as +; returns ``ax``."""
    mine = stats.where(rows, policy=policy, ratio=float(ratio), devices=devices, seed=seed)
    for layer, (solver, style) in enumerate(FRONT_STYLE.items()):
        costs = _front_costs(mine, solver)
        if costs.empty:
            continue
        colour = style["colour"]
        ax.plot(
            costs.mean_delay,
            costs.mean_energy,
            ls=style["ls"],
            color=colour,
            label=style["label"],
            zorder=2 + 2 * layer,
        )
        for certified, part in costs.groupby("certified"):
            ax.scatter(
                part.mean_delay,
                part.mean_energy,
                s=30 if solver == "optimal" else 14,
                color=colour,
                facecolors=colour if certified else "white",
                zorder=3 + 2 * layer,
            )
    for objective, marker, label in (
        ("total", "x", "the paper's greedy (total delay)"),
        ("energy", "+", "greedy on energy"),
    ):
        greedy = stats.where(mine, solver="greedy", objective=objective)
        ax.scatter(
            [_value(greedy, metric="total") / devices],
            [_value(greedy, metric="energy") / devices],
            marker=marker,
            s=50,
            color="C3",
            zorder=6,
            label=label,
        )
    ax.set(
        xlabel="mean delay per device (s)",
        ylabel="mean energy per device (J)",
        title=f"{display_name(policy)}, R = {ratio:g}, N = {devices}, seed {seed}",
    )
    return ax


def pareto_figure(
    rows: pd.DataFrame, *, seed: int | None = None, caption: Caption | str = ""
) -> Figure:
    """One panel per (policy, R) and N of ``rows`` (:func:`plot_front`; a line per
    (policy, R), a column per N), for ``seed`` (default: the first seed)."""
    import matplotlib.pyplot as plt

    seed = int(rows.seed.min()) if seed is None else seed
    lines = [
        (policy, float(ratio))
        for policy in sorted(rows.policy.unique())
        for ratio in sorted(rows.ratio.unique())
    ]
    columns = sorted(int(n) for n in rows.devices.unique())
    with paper_style():
        fig, axes = plt.subplots(
            len(lines),
            len(columns),
            figsize=(PANEL[0] * len(columns), PANEL[1] * len(lines)),
            squeeze=False,
        )
        for row, (policy, ratio) in enumerate(lines):
            for column, devices in enumerate(columns):
                plot_front(axes[row, column], rows, policy, ratio, devices, seed)
        fig.tight_layout()  # once: a layout engine would redo it at every draw, not alike
        finish_figure(fig, list(axes.flat), caption, legend_size=7)
    return fig


def caption(
    setup: Setup, grid: Grid, front: FrontOptions = FrontOptions(), *, seed: int | None = None
) -> Caption:
    """The figure's caption: what is drawn, which points are certified, where the power
    comes from (the transmit power ESTIMATED), and the stage times' provenance."""
    shown_seed = grid.seeds[0] if seed is None else seed
    power = (
        f"Power: Raspberry Pi 3B+ defaults, CPU {DEFAULT_CPU_W:g} W and idle "
        f"{DEFAULT_IDLE_W:g} W measured by others, transmit {DEFAULT_TX_W:g} W ESTIMATED."
    )
    short = (
        f"Delay–energy fronts by the ε-constraint method ({front.points} values of ε), "
        f"seed {shown_seed}: the certifying solver optimal for N ≤ {front.certify_devices} "
        f"({front.certify_nodes:,} nodes a solve; solid, markers filled where certified), "
        "local-search at every N (dashed, not certified); ×: the paper's greedy on total "
        f"delay, +: greedy on energy. {power}"
    )
    full = (
        f"{short} Fronts of every seed ({len(grid.seeds)} seeds) are in the CSV, each point "
        "marked certified or not with the solver's proven lower bound; the summary CSV holds "
        "means over seeds with seeded 95% bootstrap intervals. The setup is in the run's "
        "manifest."
    )
    return Caption(short, full) + profile_caption(setup)


def notes(front: FrontOptions = FrontOptions()) -> dict[str, Any]:
    """What the run's manifest records beside the grid: the front options and the default
    power block."""
    power = {"cpu_w": DEFAULT_CPU_W, "tx_w": DEFAULT_TX_W, "idle_w": DEFAULT_IDLE_W}
    return {**front.to_dict(), "power": power}


# --- REPRODUCTION.md ------------------------------------------------------------------


def _span(part: pd.DataFrame, metric: str, digits: int = 1, sign: str = "+") -> str:
    """``mean (min–max)`` of ``metric`` over seeds, the mean signed (``sign="+"``)."""
    row = stats.where(part, metric=metric)
    if row.empty or not np.isfinite(row["mean"].iloc[0]):
        return "—"
    r = row.iloc[0]
    return f"{r['mean']:{sign}.{digits}f} ({r['min']:.{digits}f} to {r['max']:.{digits}f})"


def _share(part: pd.DataFrame, metric: str) -> str:
    row = stats.where(part, metric=metric)
    if row.empty:
        return "—"
    r = row.iloc[0]
    return f"{round(r['mean'] * r['n'])}/{r['n']}"


def report_section(directory: str | Path = FIGURES_DIR) -> str:
    """REPRODUCTION.md's section "Beyond the paper: energy" (``templates/energy.md.j2``),
    from the energy study's CSVs in ``directory``; "" when its CSV is missing."""
    directory = Path(directory)
    table_path = directory / f"{FIGURE}_summary.csv"
    if not table_path.exists() or not (directory / f"{FIGURE}.csv").exists():
        return ""
    table = pd.read_csv(table_path)
    manifest = read_manifest(directory, RUN) or {}
    recorded = manifest.get("notes", {})
    nodes = recorded.get("certify_nodes")
    run = (
        {
            "points": recorded.get("points"),
            "certify_devices": recorded.get("certify_devices"),
            "nodes": f"{nodes:,}",
            "seeds": len(manifest.get("grids", {}).get(RUN, {}).get("seeds", [])),
        }
        if isinstance(nodes, int)
        else None
    )
    rows = []
    for (policy, ratio, devices, reference), part in table.groupby(
        ["policy", "ratio", "devices", "reference"], sort=True
    ):
        share = stats.where(part, metric="certified_share")
        rows.append(
            {
                "BS": display_name(str(policy)),
                "R": f"{ratio:g}",
                "N": str(devices),
                "front": str(reference),
                "points certified": f"{100 * share['mean'].iloc[0]:.0f} %" if len(share) else "—",
                "ends certified": _share(part, "ends_certified"),
                "energy of least delay": _span(part, "energy_premium_pct"),
                "delay of least energy": _span(part, "delay_premium_pct"),
                "greedy: energy": _span(part, "greedy_energy_pct"),
                "greedy: delay": _span(part, "greedy_delay_pct"),
                "greedy beaten in both": _share(part, "greedy_dominated"),
                "greedy on energy": _span(part, "greedy_energy_gap_pct"),
                "local-search's gap": _span(part, "heuristic_gap_pct", 2, sign=""),
            }
        )
    ends = stats.where(table, metric="ends_certified")
    settled = ends[ends["min"] == 1][["policy", "ratio", "devices", "reference"]]
    premium = stats.where(table, metric="energy_premium_pct").merge(settled)
    return render(
        "energy",
        cpu_w=f"{DEFAULT_CPU_W:g}",
        idle_w=f"{DEFAULT_IDLE_W:g}",
        tx_w=f"{DEFAULT_TX_W:g}",
        run=run,
        quick=bool(manifest.get("quick")),
        table=text_table(pd.DataFrame(rows)),
        premium=[
            f"{display_name(str(r.policy))} at R = {r.ratio:g}, N = {r.devices}: "
            f"{r['mean']:.1f} % ({r['min']:.1f} to {r['max']:.1f} % over seeds)"
            for _, r in premium.sort_values(["policy", "devices", "ratio"]).iterrows()
        ],
    )
