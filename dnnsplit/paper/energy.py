"""Beyond the paper: energy. The delay–energy trade-off of the devices (notebook 09).

The paper's conclusion names the energy of the DNN tasks as its next step. With the device
energy model of docs/model.md ("Energy"), ``E_i = P_cpu·C_i + P_tx·τ_i + P_idle·B_i``, a
partition vector has two costs: the total delay (eq. 4) and the total device energy. This
module traces, for scenarios of the paper's evaluation, the **Pareto front** of the two by
the ε-constraint method: the vector of least total delay whose total energy is at most ε,
for ε on an even grid from the energy-optimal vector's energy to the delay-optimal
vector's. Each point says whether it is certified:

- **certified** (``exhaustive``) where the space has at most ``certify_vectors`` vectors:
  the two ends and every ε by :func:`dnnsplit.solvers.exhaustive_front` (one enumeration of
  the space serves every ε), ties told apart by the other cost, so that no point is
  dominated by an equal-delay twin;
- **not certified** (``local-search``) everywhere: its ends are local-search's best total
  delay and best energy, its middle points local-search under ``energy_cap = ε``.

Both fronts are computed where the space is small, so the figure shows how far the
heuristic's front lies from the certified one. Beside them, the paper's greedy (eq. 6) on
total delay, and greedy on energy: what the paper's partitions cost in energy.

A certified point depends on no time: exhaustive search stops by a vector count, and
local-search by its own rule (its time limit is set out of reach and checked unreached),
so the same grid gives the same bytes on any machine. Points run on the engine
(:mod:`dnnsplit.paper.engine`): cached and parallel like every sweep.

The rows are tidy (:data:`~dnnsplit.paper.sweeps.ID_COLUMNS`, ``point`` and ``value``):
``solver`` is the method (``exhaustive``, ``local-search``, ``greedy``), ``objective``
what it minimised (``total`` under the cap for a front point), ``point`` the index of ε on
the grid (−1 for a single solution) and ``metric`` one of :data:`METRICS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dnnsplit._checks import number
from dnnsplit.errors import SolverRefusal
from dnnsplit.evaluate import Evaluation, evaluate
from dnnsplit.paper import stats
from dnnsplit.paper.captions import Caption, profile_caption
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.engine import current as current_engine
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.output import read_manifest
from dnnsplit.paper.plots import PANEL, _finish, paper_style
from dnnsplit.paper.sweeps import DEFAULT_EXPERIMENT, ID_COLUMNS, Grid, Point, points
from dnnsplit.paths import FIGURES_DIR
from dnnsplit.policies import display_name
from dnnsplit.scenario import DEFAULT_CPU_W, DEFAULT_IDLE_W, DEFAULT_TX_W, Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import MAX_TIME_LIMIT_S, Solution, exhaustive_front, solve

__all__ = [
    "CERTIFY_VECTORS",
    "FIGURE",
    "HEADING",
    "METRICS",
    "POINTS",
    "RUN",
    "VARIES",
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
HEADING = "## Beyond the paper: energy"
#: What every solution's rows hold: total delay (s), total device energy (J), mean and
#: largest delay (s), the share of stages run locally; front points add their ε (J),
#: whether they are certified, meet the cap, and are dominated by another point of their
#: front.
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
)
#: Two costs within this relative distance are equal (a point is not dominated by a twin).
SAME = 1e-12


# --- the grid ---------------------------------------------------------------------------

#: The setup fields the study varies (a grid's ``vary``).
VARIES = ("policy", "ratio")
#: Values of ε per front (the two ends included), by default.
POINTS = 9
#: Exhaustive search certifies a front where the space has at most this many vectors (a
#: count, so the same grid certifies the same points on any machine): every draw at N = 7
#: (at most 9^7 ≈ 4.8 million vectors), by default.
CERTIFY_VECTORS = 10_000_000


def study_grid(
    devices: Sequence[int] = (7, 20),
    seeds: Sequence[int] = tuple(range(10)),
    policies: Sequence[str] = ("sjf", "rr"),
    ratios: Sequence[float] = (1.0, 10.0),
    *,
    quick: bool = False,
) -> Grid:
    """The study's grid: every (policy, R) of ``policies`` × ``ratios``, N and seed. A
    ``quick`` grid (a smoke test) keeps two seeds and the first two N, capped at 5 and 10
    (the defaults become N = 5, certified, and 10)."""
    if quick:
        capped = [min(int(n), 5 if k == 0 else 10) for k, n in enumerate(list(devices)[:2])]
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


def certified_front(
    scenario: Scenario, points: int, *, max_vectors: int | None = None
) -> list[tuple[float, Evaluation]]:
    """The certified ε-constraint front of ``scenario``: ``(ε, evaluation)`` for ``points``
    values of ε evenly from the least total energy to the energy of the least total delay.

    The ends come from two exhaustive passes (least total delay, ties to the least energy;
    least energy, ties to the least delay), the points from a third that serves every ε
    (:func:`dnnsplit.solvers.exhaustive_front`).

    Raises
    ------
    SolverRefusal
        A space larger than ``max_vectors``, or no vector meets every constraint.
    """
    (fastest,) = exhaustive_front(scenario, [math.inf], objective="total", max_vectors=max_vectors)
    (frugal,) = exhaustive_front(scenario, [math.inf], objective="energy", max_vectors=max_vectors)
    if fastest is None or frugal is None:
        raise SolverRefusal("deadline_s", "no partition vector meets every constraint")
    low = evaluate(scenario, frugal).energy
    high = evaluate(scenario, fastest).energy
    caps = np.linspace(low, high, points)
    found = exhaustive_front(scenario, list(caps), objective="total", max_vectors=max_vectors)
    return [
        (float(cap), evaluate(scenario, vector))
        for cap, vector in zip(caps, found, strict=True)
        if vector is not None
    ]


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

    fastest = search("total")
    frugal = search("energy")
    if frugal.evaluation.energy > fastest.evaluation.energy:
        frugal = fastest
    caps = np.linspace(frugal.evaluation.energy, fastest.evaluation.energy, points)
    middle = [(float(cap), search("total", float(cap))) for cap in caps[1:-1]]
    return [(float(caps[0]), frugal), *middle, (float(caps[-1]), fastest)]


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
    keys: dict[str, Any], solver: str, front: list[tuple[float, Evaluation, bool]], certified: bool
) -> list[dict[str, Any]]:
    dominated = _dominated([(ev.total, ev.energy) for _, ev, ok in front if ok])
    flags = iter(dominated)
    rows: list[dict[str, Any]] = []
    for k, (cap, evaluation, feasible) in enumerate(front):
        metrics = _metrics(evaluation)
        metrics.update(
            epsilon=cap,
            certified=float(certified),
            feasible=float(feasible),
            dominated=float(next(flags)) if feasible else math.nan,
        )
        rows += _rows(keys, solver, "total", k, metrics)
    return rows


def front_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one scenario (a module-level point function of the engine): the
    local-search front, the certified front where the space has at most
    ``certify_vectors`` vectors, and the paper's greedy on total delay and on energy."""
    scenario, keys = point.scenario(), point.keys()
    options = point.options
    rows: list[dict[str, Any]] = []
    heuristic = heuristic_front(
        scenario, options["points"], restarts=options["restarts"], seed=point.seed
    )
    rows += _front_rows(
        keys,
        "local-search",
        [(cap, s.evaluation, s.feasible) for cap, s in heuristic],
        certified=False,
    )
    if scenario.space_size <= options["certify_vectors"]:
        front = certified_front(scenario, options["points"], max_vectors=options["certify_vectors"])
        rows += _front_rows(keys, "exhaustive", [(c, ev, True) for c, ev in front], True)
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
    points_per_front: int = POINTS,
    certify_vectors: int = CERTIFY_VECTORS,
) -> list[Point]:
    """The points of :func:`pareto`: every (policy, R, N, seed) of ``grid``."""
    options = {
        "points": int(number(points_per_front, "points", whole=True, minimum=2)),
        "certify_vectors": int(number(certify_vectors, "certify_vectors", whole=True, minimum=1)),
        "start": experiment.start,
        "restarts": experiment.restarts,
    }
    return points(setup, grid, sweep="energy fronts", varies=VARIES, options=options)


def pareto(
    setup: Setup,
    grid: Grid,
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
    points_per_front: int = POINTS,
    certify_vectors: int = CERTIFY_VECTORS,
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The delay–energy fronts of every (policy, R, N, seed) of ``grid`` (module docstring):
    ``points_per_front`` values of ε each, certified where the space has at most
    ``certify_vectors`` vectors; greedy from ``experiment.start``, local-search with
    ``experiment.restarts``. Tidy rows sorted by their identifying columns."""
    chosen = front_points(
        setup,
        grid,
        experiment=experiment,
        points_per_front=points_per_front,
        certify_vectors=certify_vectors,
    )
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
    the certified front where there is one (``reference = exhaustive``), else
    local-search's (``reference = local-search``, best found, not certified).

    Columns: ``fastest_total``/``fastest_energy`` (the least-delay end),
    ``frugal_total``/``frugal_energy`` (the least-energy end), ``energy_premium_pct``
    (how much more energy the least-delay vector spends than the least-energy one),
    ``delay_premium_pct`` (how much slower the least-energy vector is), greedy's
    ``greedy_energy_pct`` and ``greedy_delay_pct`` (its total-delay solution above the
    least energy and the least delay), ``greedy_dominated`` (1 when a front point is no
    worse in both costs and better in one), ``greedy_energy_gap_pct`` (greedy on energy
    above the least energy), and, where both fronts exist, ``heuristic_gap_pct``: the
    largest excess of local-search's total delay over the certified one at the same ε.
    """
    out = []
    for key, part in rows.groupby(POINT_ID, sort=True):
        reference = "exhaustive" if (part.solver == "exhaustive").any() else "local-search"
        front = stats.where(part, solver=reference)
        feasible = front[(front.metric == "feasible") & (front.value == 1)].point
        front = front[front.point.isin(feasible)]
        last, first = int(front.point.max()), int(front.point.min())
        record: dict[str, Any] = dict(zip(POINT_ID, key, strict=True))
        record["reference"] = reference
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
        record["heuristic_gap_pct"] = (
            _heuristic_gap(part) if reference == "exhaustive" else math.nan
        )
        out.append(record)
    return pd.DataFrame(out)


def _heuristic_gap(part: pd.DataFrame) -> float:
    """The largest % by which local-search's front point exceeds the certified one's total
    delay at the same ε (ε grids differ at the ends: each certified point is compared with
    the local-search point of least delay whose energy is within its ε)."""
    exact = stats.where(part, solver="exhaustive")
    heuristic = stats.where(part, solver="local-search")
    h = heuristic.pivot_table(index="point", columns="metric", values="value")
    h = h[h.feasible == 1]
    gaps = []
    for k in sorted(set(exact.point)):
        cap = _value(exact, point=k, metric="epsilon")
        best = _value(exact, point=k, metric="total")
        within = h[h.energy <= cap * (1 + SAME) + 1e-9]
        if len(within):
            gaps.append(_pct_above(float(within.total.min()), best))
    return max(gaps) if gaps else math.nan


#: The columns of :func:`seed_table` that :func:`summary` summarises over seeds.
SUMMARY_METRICS = (
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

#: How each method's front is drawn.
FRONT_STYLE: dict[str, dict[str, Any]] = {
    "exhaustive": {"ls": "-", "marker": "o", "mfc": None, "label": "certified (exhaustive)"},
    "local-search": {"ls": "--", "marker": "o", "mfc": "none", "label": "local-search"},
}


def _front_costs(rows: pd.DataFrame, solver: str) -> pd.DataFrame:
    """The feasible, non-dominated points of one front, by energy, with their mean delay
    and mean energy per device (duplicates, where several ε give one vector, once)."""
    front = stats.where(rows, solver=solver)
    if front.empty:
        return pd.DataFrame(columns=["mean_delay", "mean_energy"])
    wide = front.pivot_table(index="point", columns="metric", values="value")
    wide = wide[(wide.feasible == 1) & (wide.dominated == 0)]
    devices = float(front.devices.iloc[0])
    costs = pd.DataFrame(
        {"mean_delay": wide.total / devices, "mean_energy": wide.energy / devices}
    ).drop_duplicates()
    return costs.sort_values("mean_energy", kind="stable")


def plot_front(
    ax: Axes, rows: pd.DataFrame, policy: str, ratio: float, devices: int, seed: int
) -> Axes:
    """Draw on ``ax`` the fronts of one scenario (policy, R, N, seed): mean delay per device
    against mean energy per device, the certified front solid, local-search's dashed with
    hollow markers, the paper's greedy on total delay as × and greedy on energy as +;
    returns ``ax``."""
    mine = stats.where(rows, policy=policy, ratio=float(ratio), devices=devices, seed=seed)
    for solver, style in FRONT_STYLE.items():
        costs = _front_costs(mine, solver)
        if costs.empty:
            continue
        colour = "C0" if solver == "exhaustive" else "C1"
        ax.plot(
            costs.mean_delay,
            costs.mean_energy,
            ls=style["ls"],
            marker=style["marker"],
            mfc=colour if style["mfc"] is None else style["mfc"],
            color=colour,
            ms=4,
            label=style["label"],
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
            zorder=4,
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
        _finish(fig, list(axes.flat), caption, legend_size=7)
    return fig


def caption(
    setup: Setup,
    grid: Grid,
    *,
    points_per_front: int = POINTS,
    certify_vectors: int = CERTIFY_VECTORS,
    seed: int | None = None,
) -> Caption:
    """The figure's caption: what is drawn, which points are certified, where the power
    comes from (the transmit power ESTIMATED), and the stage times' provenance."""
    shown_seed = grid.seeds[0] if seed is None else seed
    power = (
        f"Power: Raspberry Pi 3B+ defaults, CPU {DEFAULT_CPU_W:g} W and idle "
        f"{DEFAULT_IDLE_W:g} W measured by others, transmit {DEFAULT_TX_W:g} W ESTIMATED."
    )
    short = (
        f"Delay–energy fronts by the ε-constraint method ({points_per_front} values of ε), "
        f"seed {shown_seed}: certified by exhaustive search where the space has at most "
        f"{certify_vectors:.0e} vectors (solid), local-search elsewhere and beside it "
        "(dashed, not certified); ×: the paper's greedy on total delay, +: greedy on energy. "
        f"{power}"
    )
    full = (
        f"{short} Fronts of every seed ({len(grid.seeds)} seeds) are in the CSV; the summary "
        "CSV holds means over seeds with seeded 95% bootstrap intervals. The setup is in the "
        "run's manifest."
    )
    return Caption(short, full) + profile_caption(setup)


def notes(
    *, points_per_front: int = POINTS, certify_vectors: int = CERTIFY_VECTORS
) -> dict[str, Any]:
    """What the run's manifest records beside the grid: the ε count, the certification
    limit and the default power block."""
    return {
        "points": points_per_front,
        "certify_vectors": certify_vectors,
        "power": {"cpu_w": DEFAULT_CPU_W, "tx_w": DEFAULT_TX_W, "idle_w": DEFAULT_IDLE_W},
    }


# --- REPRODUCTION.md ------------------------------------------------------------------


def _span(part: pd.DataFrame, metric: str, digits: int = 1) -> str:
    row = stats.where(part, metric=metric)
    if row.empty or not np.isfinite(row["mean"].iloc[0]):
        return "—"
    r = row.iloc[0]
    return f"{r['mean']:.{digits}f} ({r['min']:.{digits}f}–{r['max']:.{digits}f})"


def _share(part: pd.DataFrame, metric: str) -> str:
    row = stats.where(part, metric=metric)
    if row.empty:
        return "—"
    r = row.iloc[0]
    return f"{round(r['mean'] * r['n'])}/{r['n']}"


def report_section(directory: str | Path = FIGURES_DIR) -> list[str]:
    """The lines of REPRODUCTION.md's section "Beyond the paper: energy" (its heading
    first), from the energy study's CSVs in ``directory``; no lines when its CSV is
    missing."""
    directory = Path(directory)
    table_path = directory / f"{FIGURE}_summary.csv"
    if not table_path.exists() or not (directory / f"{FIGURE}.csv").exists():
        return []
    table = pd.read_csv(table_path)
    manifest = read_manifest(directory, RUN) or {}
    grid = manifest.get("grids", {}).get(RUN, {})
    recorded = manifest.get("notes", {})
    quick = bool(manifest.get("quick"))
    lines = [
        HEADING,
        "",
        "The paper's conclusion names energy as its next step. Each device's task here "
        'costs E = P_cpu·C + P_tx·τ + P_idle·B (docs/model.md, "Energy"): its own CPU time '
        "for its stages, its transmission, and its idle wait for the BS's result, at the "
        f"power of a Raspberry Pi 3B+ ({DEFAULT_CPU_W:g} W computing and {DEFAULT_IDLE_W:g} W "
        f"idle, measured by others; {DEFAULT_TX_W:g} W transmitting, **estimated**; sources "
        "in `data/measurements/README.md`). Notebook 09 traces the front of total delay "
        "against total device energy by the ε-constraint method: least total delay with "
        f"total energy at most ε, for {recorded.get('points', '?')} values of ε from the "
        "least-energy vector's energy to the least-delay vector's. A front is **certified** "
        "(exhaustive search) where the space has at most "
        f"{float(recorded.get('certify_vectors', math.nan)):.0e} partition vectors, and found by "
        "local-search (not certified) everywhere, so the two can be compared where both "
        f"exist; {len(grid.get('seeds', []))} seeds per point. The rows: "
        f"`figures/{FIGURE}.csv` (each point marked certified or not); the figure: "
        f"`figures/{FIGURE}.png`.",
        "",
    ]
    if quick:
        lines += ["**A quick run (a reduced grid): a smoke test, not a result.**", ""]
    lines += [
        "Mean over seeds (min–max), in %: how much more energy the least-delay vector spends "
        "than the least-energy one; how much slower the least-energy vector is; what the "
        "paper's greedy (total delay) costs above the least energy and the least delay, and "
        "in how many seeds a front point beats it in both; greedy run on energy, above the "
        "least energy; and, where both fronts exist, the largest excess of local-search's "
        "delay over the certified front at the same ε.",
        "",
        "| BS | R | N | front | energy of least delay | delay of least energy | greedy: energy "
        "| greedy: delay | greedy beaten in both | greedy on energy | local-search's gap |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (policy, ratio, devices, reference), part in table.groupby(
        ["policy", "ratio", "devices", "reference"], sort=True
    ):
        front = "certified" if reference == "exhaustive" else "local-search"
        lines.append(
            f"| {display_name(str(policy))} | {ratio:g} | {devices} | {front} | "
            f"+{_span(part, 'energy_premium_pct')} | +{_span(part, 'delay_premium_pct')} | "
            f"+{_span(part, 'greedy_energy_pct')} | +{_span(part, 'greedy_delay_pct')} | "
            f"{_share(part, 'greedy_dominated')} | +{_span(part, 'greedy_energy_gap_pct')} | "
            f"{_span(part, 'heuristic_gap_pct', 2)} |"
        )
    certified = stats.where(table, reference="exhaustive", metric="energy_premium_pct")
    if not certified.empty:
        parts = [
            f"{display_name(str(r.policy))} at R = {r.ratio:g}, N = {r.devices}: {r['mean']:.1f} %"
            for _, r in certified.sort_values(["policy", "devices", "ratio"]).iterrows()
        ]
        lines += [
            "",
            "On the certified fronts the delay-optimal partitions spend more device energy "
            "than the energy-optimal ones by (mean over seeds) " + "; ".join(parts) + ". "
            "The uncertified rows are relative to the best vectors local-search found, not "
            "to optima.",
        ]
    return lines
