"""Beyond the paper: energy. The delay–energy trade-off of the devices (notebook 09).

With the device energy model of docs/model.md ("Energy"), ``E_i = P_cpu·C_i + P_tx·τ_i +
P_idle·B_i``, a partition vector has two costs: the total delay (eq. 4) and the total device
energy. For scenarios of the paper's evaluation this module traces their **Pareto front** by
the ε-constraint method (:func:`front_rows`): by the certifying solver ``optimal`` for N up
to ``certify_devices``, each solve stopped by a node limit, and by ``local-search`` (never
certified) at every N; beside them, the paper's greedy (eq. 6) on total delay and on energy.
No row depends on the clock (node limits; time limits only a guard, checked unreached), so
the same grid gives the same bytes on any machine. Rows are tidy
(:data:`~dnnsplit.paper.sweeps.ID_COLUMNS`, ``point`` and ``value``): ``solver`` the method,
``objective`` what it minimised (``total`` under the cap for a front point), ``point`` the
index of ε on the grid (−1 for a single solution), ``metric`` one of :data:`METRICS`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dnnsplit._params import Whole, declare_fields
from dnnsplit.errors import SolverRefusal
from dnnsplit.model import ENERGY_TOLERANCE_J
from dnnsplit.paper import stats
from dnnsplit.paper.captions import Caption, profile_caption
from dnnsplit.paper.engine import Engine
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.output import read_manifest
from dnnsplit.paper.plots import PANEL, finish_figure, paper_style
from dnnsplit.paper.sweeps import DEFAULT_EXPERIMENT, ID_COLUMNS, Grid, Point, points, run_points
from dnnsplit.paper.text import render
from dnnsplit.paper.text import table as text_table
from dnnsplit.paths import FIGURES_DIR
from dnnsplit.policies import display_name
from dnnsplit.scenario import DEFAULT_CPU_W, DEFAULT_IDLE_W, DEFAULT_TX_W
from dnnsplit.setup import Setup
from dnnsplit.solvers import MAX_TIME_LIMIT_S, Solution, solve

__all__ = [
    "FIGURE", "SUMMARY_METRICS", "FrontOptions", "caption", "notes", "pareto", "pareto_figure",
    "report_section", "seed_table", "study_grid", "summary",
]

#: The pipeline run, its figure, and its section of REPRODUCTION.md.
RUN = "energy"
FIGURE = "energy_pareto"
#: What every solution's rows hold: total delay (s), total device energy (J), mean and
#: largest delay (s), the share of stages run locally; front points add their ε (J),
#: whether they are certified, meet the cap, and are dominated by another point of their
#: front, and the certifying solver's points its proven lower bound (of total delay, or of
#: energy at the least-energy end).
SOLUTION_METRICS = ("total", "energy", "mean", "max", "local_share")
METRICS = (*SOLUTION_METRICS, "epsilon", "certified", "feasible", "dominated", "lower_bound")
#: Two costs within this relative distance are equal (a point is not dominated by a twin).
SAME = 1e-12
#: The certifying solver's time limit: only a guard against a machine far slower than
#: expected; a solve it stops raises rather than write a row that depends on the clock.
GUARD_SECONDS = 600.0
#: The identifying columns of one scenario of the study.
POINT_ID = ["policy", "ratio", "devices", "seed"]


@dataclass(frozen=True)
@declare_fields({"points": Whole(2), "certify_devices": Whole(0), "certify_nodes": Whole(1)})
class FrontOptions:
    """How the study traces each front (bad values refused, naming the field).

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

    points: int = 9
    certify_devices: int = 20
    certify_nodes: int = 200_000


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


# --- the fronts -------------------------------------------------------------------------


def _dominated(costs: list[tuple[float, float]]) -> list[bool]:
    """Whether each ``(delay, energy)`` is dominated by another: no worse in both and
    better (beyond :data:`SAME`) in one."""

    def better(a: float, b: float) -> bool:
        return a < b - SAME * max(abs(a), abs(b))

    return [
        any(
            not better(delay, d)
            and not better(energy, e)
            and (better(d, delay) or better(e, energy))
            for d, e in costs
        )
        for delay, energy in costs
    ]


def front_rows(point: Point) -> list[dict[str, Any]]:
    """The rows of one scenario (a module-level point function of the engine): the
    ε-constraint front of local-search and, for N up to ``certify_devices``, of the
    certifying solver ``optimal``; then the paper's greedy on total delay and on energy.

    A front holds ``points`` values of ε evenly from the energy of the solver's least-energy
    vector to that of its least-delay vector (both ends the latter where the former's energy
    is higher), the points between the solver on total delay under ``energy_cap = ε``. Each
    point says whether it is certified (else ``optimal`` leaves a proven ``lower_bound``),
    met the cap (``feasible``) and is ``dominated`` by another feasible point of its front.

    Raises
    ------
    SolverRefusal
        No vector meets every constraint, or a solve reached its time limit (out of reach,
        or optimal's guard): a row would then depend on the machine.
    """
    scenario, keys, options = point.scenario(), point.keys(), point.options
    rows: list[dict[str, Any]] = []

    def search(objective: str, **solver_options: Any) -> Solution:
        found = solve(scenario, objective=objective, **solver_options)
        if found.stopped == "time_limit":
            limit = f" of {GUARD_SECONDS:g} s" if found.solver == "optimal" else ""
            why = f"{found.solver} was stopped by its time limit{limit}"
            raise SolverRefusal("time_limit", f"{why}: a row would depend on the machine")
        return found

    def add(solver: str, objective: str, k: int, found: Solution, **more: float) -> None:
        metrics = {m: getattr(found.evaluation, m) for m in SOLUTION_METRICS} | more
        rows.extend(
            {**keys, "solver": solver, "objective": objective, "point": k, "metric": m, "value": v}
            for m, v in metrics.items()
        )

    fronts = {"local-search": {"restarts": options["restarts"], "time_limit": MAX_TIME_LIMIT_S}}
    if scenario.n_devices <= options["certify_devices"]:
        fronts["optimal"] = {
            "max_nodes": options["certify_nodes"], "time_limit": GUARD_SECONDS,
            "start": options["start"], "restarts": options["restarts"],
        }  # fmt: skip
    for solver, tuning in fronts.items():
        settings = {"solver": solver, "seed": point.seed, **tuning}
        fastest, frugal = search("total", **settings), search("energy", **settings)
        if frugal.evaluation.energy > fastest.evaluation.energy:
            frugal = fastest
        caps = np.linspace(frugal.evaluation.energy, fastest.evaluation.energy, options["points"])
        middle = [search("total", **settings, energy_cap=float(cap)) for cap in caps[1:-1]]
        front = list(zip(caps.tolist(), [frugal, *middle, fastest], strict=True))
        feasible = [s for _, s in front if s.feasible]
        dominated = iter(_dominated([(s.evaluation.total, s.evaluation.energy) for s in feasible]))
        for k, (cap, solution) in enumerate(front):
            marks = {
                "epsilon": cap, "certified": float(solution.optimal),
                "feasible": float(solution.feasible),
                "dominated": float(next(dominated)) if solution.feasible else math.nan,
            }  # fmt: skip
            if "lower_bound" in solution.extra:
                marks["lower_bound"] = float(solution.extra["lower_bound"])
            add(solver, "total", k, solution, **marks)
    greedy = {"solver": "greedy", "start": options["start"], "time_limit": MAX_TIME_LIMIT_S}
    for objective in ("total", "energy"):
        add("greedy", objective, -1, search(objective, **greedy))
    return rows


def pareto(
    setup: Setup,
    grid: Grid,
    *,
    experiment: Experiment = DEFAULT_EXPERIMENT,
    front: FrontOptions = FrontOptions(),
    progress: bool = True,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """The delay–energy fronts of every (policy, R, N, seed) of ``grid`` (module docstring),
    by ``front``'s options; greedy from ``experiment.start``, local-search (and the
    certifying solver's warm start) with ``experiment.restarts``. Tidy rows sorted by their
    identifying columns."""
    options = dataclasses.asdict(front) | {"start": experiment.start,
                                           "restarts": experiment.restarts}  # fmt: skip
    chosen = points(setup, grid, sweep="energy fronts", varies=("policy", "ratio"), options=options)
    rows = run_points(front_rows, chosen, desc="energy fronts", progress=progress, engine=engine)
    frame = pd.DataFrame(rows)
    return frame.sort_values([*ID_COLUMNS, "point"], kind="stable").reset_index(drop=True)


# --- summaries --------------------------------------------------------------------------


def _pct_above(value: float, reference: float) -> float:
    return 100.0 * (value / reference - 1.0) if reference > 0 else math.nan


def _wide(rows: pd.DataFrame) -> pd.DataFrame:
    """One scenario's rows, a line per (solver, objective, point), a column per metric."""
    wide = rows.pivot_table(index=["solver", "objective", "point"], columns="metric",
                            values="value")  # fmt: skip
    return wide.reindex(columns=list(METRICS))


def _greedy(wide: pd.DataFrame, objective: str) -> pd.Series:
    """Greedy's solution on ``objective`` in ``wide`` (NaN where there is none)."""
    return wide.reindex([("greedy", objective, -1)]).iloc[0]


def _feasible(wide: pd.DataFrame, solver: str) -> pd.DataFrame:
    """The feasible points of ``solver``'s front in ``wide``, by ``point``."""
    front = wide.loc[(solver, "total")]
    return front[front.feasible == 1]


def seed_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, R, N, seed), against the certifying solver's front where there
    is one (``reference = optimal``; ``certified_share`` of its points certified,
    ``ends_certified`` 1 when both ends are), else local-search's (best found, not
    certified): the least-delay end (``fastest_total``, ``fastest_energy``) and the
    least-energy end (``frugal_*``); in %, ``energy_premium_pct`` (the least-delay end's
    energy above the least-energy end's), ``delay_premium_pct`` (the converse in delay),
    ``greedy_energy_pct`` and ``greedy_delay_pct`` (greedy on total delay above the least
    energy and the least delay), ``greedy_dominated`` (1 when a front point is no worse in
    both costs and better in one), ``greedy_energy_gap_pct`` (greedy on energy above the
    least energy) and, with both fronts, ``heuristic_gap_pct``: the largest excess of
    local-search's least delay within a certified point's ε over that point's delay."""
    out = []
    for key, part in rows.groupby(POINT_ID, sort=True):
        wide = _wide(part)
        reference = "optimal" if "optimal" in wide.index else "local-search"
        front = _feasible(wide, reference)
        frugal, fastest = front.iloc[0], front.iloc[-1]
        greedy, on_energy = _greedy(wide, "total"), _greedy(wide, "energy")
        gaps = []
        if reference == "optimal":
            heuristic = _feasible(wide, "local-search")
            exact = wide.loc[("optimal", "total")]
            for cap, best in exact[exact.certified == 1][["epsilon", "total"]].itertuples(False):
                within = heuristic[heuristic.energy <= cap * (1 + SAME) + ENERGY_TOLERANCE_J]
                if len(within):
                    gaps.append(_pct_above(float(within.total.min()), best))
        costs = [(greedy.total, greedy.energy), *zip(front.total, front.energy, strict=True)]
        out.append({
            **dict(zip(POINT_ID, key, strict=True)), "reference": reference,
            "certified_share": float(front.certified.mean()),
            "ends_certified": float(frugal.certified == 1 and fastest.certified == 1),
            "fastest_total": fastest.total, "fastest_energy": fastest.energy,
            "frugal_total": frugal.total, "frugal_energy": frugal.energy,
            "energy_premium_pct": _pct_above(fastest.energy, frugal.energy),
            "delay_premium_pct": _pct_above(frugal.total, fastest.total),
            "greedy_energy_pct": _pct_above(greedy.energy, frugal.energy),
            "greedy_delay_pct": _pct_above(greedy.total, fastest.total),
            "greedy_dominated": float(_dominated(costs)[0]),
            "greedy_energy_gap_pct": _pct_above(on_energy.energy, frugal.energy),
            "heuristic_gap_pct": max(gaps) if gaps else math.nan,
        })  # fmt: skip
    return pd.DataFrame(out)


#: The columns of :func:`seed_table` that :func:`summary` summarises over seeds, each with
#: its header in the report's table and how its cell reads there: ``share``, in how many
#: seeds; ``percent``, the mean in %; else the mean (min to max) in this format.
REPORTED = {
    "certified_share": ("points certified", "percent"),
    "ends_certified": ("ends certified", "share"),
    "energy_premium_pct": ("energy of least delay", "+.1f"),
    "delay_premium_pct": ("delay of least energy", "+.1f"),
    "greedy_energy_pct": ("greedy: energy", "+.1f"),
    "greedy_delay_pct": ("greedy: delay", "+.1f"),
    "greedy_dominated": ("greedy beaten in both", "share"),
    "greedy_energy_gap_pct": ("greedy on energy", "+.1f"),
    "heuristic_gap_pct": ("local-search's gap", ".2f"),
}
SUMMARY_METRICS = tuple(REPORTED)


def summary(rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per (policy, R, N, reference) and metric of :data:`SUMMARY_METRICS`: the mean over
    seeds with a seeded 95% bootstrap interval and the seeds' spread
    (:func:`dnnsplit.paper.stats.summarise`)."""
    long = seed_table(rows).melt(
        id_vars=[*POINT_ID, "reference"], value_vars=list(SUMMARY_METRICS), var_name="metric"
    )
    return stats.summarise(long, ["policy", "ratio", "devices", "reference", "metric"], seed=seed)


# --- the figure -------------------------------------------------------------------------

#: How each method's front is drawn, in this order (optimal on top), and its markers' size.
FRONT_STYLE: dict[str, dict[str, Any]] = {
    "local-search": {"ls": "--", "color": "C1", "label": "local-search (not certified)"},
    "optimal": {"ls": "-", "color": "C0", "label": "optimal (filled: certified)"},
}
MARKER_SIZE = {"local-search": 14, "optimal": 30}


def plot_front(
    ax: Axes, rows: pd.DataFrame, policy: str, ratio: float, devices: int, seed: int
) -> Axes:
    """Draw on ``ax`` the fronts of one scenario (policy, R, N, seed): mean delay per device
    against mean energy per device, the feasible non-dominated points of each front (once
    where several ε give one vector), the certifying solver's solid (markers filled where
    certified), local-search's dashed with hollow markers, the paper's greedy on total
    delay as × and greedy on energy as +; returns ``ax``."""
    wide = _wide(stats.where(rows, policy=policy, ratio=float(ratio), devices=devices, seed=seed))
    for layer, (solver, style) in enumerate(FRONT_STYLE.items()):
        if solver not in wide.index:
            continue
        front = _feasible(wide, solver)
        front = front[front.dominated == 0]
        costs = (front[["total", "energy"]] / devices).assign(certified=front.certified == 1)
        costs = costs.drop_duplicates(subset=["total", "energy"])
        if costs.empty:
            continue
        costs = costs.sort_values("energy", kind="stable")
        ax.plot(costs.total, costs.energy, **style, zorder=2 + 2 * layer)
        dots = {"s": MARKER_SIZE[solver], "color": style["color"], "zorder": 3 + 2 * layer}
        for certified, part in costs.groupby("certified"):
            face = style["color"] if certified else "white"
            ax.scatter(part.total, part.energy, facecolors=face, **dots)
    for objective, marker, label in (
        ("total", "x", "the paper's greedy (total delay)"),
        ("energy", "+", "greedy on energy"),
    ):
        g = _greedy(wide, objective) / devices
        ax.scatter([g.total], [g.energy], marker=marker, s=50, color="C3", zorder=6, label=label)
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
    seed = int(rows.seed.min()) if seed is None else seed
    lines = list(itertools.product(sorted(rows.policy.unique()), sorted(rows.ratio.unique())))
    columns = sorted(int(n) for n in rows.devices.unique())
    size = (PANEL[0] * len(columns), PANEL[1] * len(lines))
    with paper_style():
        fig, axes = plt.subplots(len(lines), len(columns), figsize=size, squeeze=False)
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
    return {**dataclasses.asdict(front), "power": power}


# --- REPRODUCTION.md ------------------------------------------------------------------


def _cell(part: pd.DataFrame, metric: str, how: str) -> str:
    """``metric``'s summary over seeds in ``part`` as :data:`REPORTED` says; "—" for none."""
    found = stats.where(part, metric=metric)
    if found.empty:
        return "—"
    r = found.iloc[0]
    if how == "share":
        return f"{round(r['mean'] * r['n'])}/{r['n']}"
    if how == "percent":
        return f"{100 * r['mean']:.0f} %"
    if not np.isfinite(r["mean"]):
        return "—"
    return f"{r['mean']:{how}} ({r['min']:{how.lstrip('+')}} to {r['max']:{how.lstrip('+')}})"


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
    run = None
    if isinstance(nodes, int):
        seeds = manifest.get("grids", {}).get(RUN, {}).get("seeds", [])
        run = {"points": recorded.get("points"), "nodes": f"{nodes:,}", "seeds": len(seeds),
               "certify_devices": recorded.get("certify_devices")}  # fmt: skip
    scenarios = ["policy", "ratio", "devices", "reference"]
    groups = table.groupby(scenarios, sort=True)
    rows = [{
        "BS": display_name(str(policy)), "R": f"{ratio:g}", "N": str(devices), "front": reference,
        **{header: _cell(part, metric, how) for metric, (header, how) in REPORTED.items()},
    } for (policy, ratio, devices, reference), part in groups]  # fmt: skip
    ends = stats.where(table, metric="ends_certified")
    settled = ends[ends["min"] == 1][scenarios]
    premium = stats.where(table, metric="energy_premium_pct").merge(settled)
    return render(
        "energy", cpu_w=f"{DEFAULT_CPU_W:g}", idle_w=f"{DEFAULT_IDLE_W:g}",
        tx_w=f"{DEFAULT_TX_W:g}", run=run, quick=bool(manifest.get("quick")),
        table=text_table(pd.DataFrame(rows)),
        premium=[
            f"{display_name(str(r.policy))} at R = {r.ratio:g}, N = {r.devices}: "
            f"{r['mean']:.1f} % ({r['min']:.1f} to {r['max']:.1f} % over seeds)"
            for _, r in premium.sort_values(["policy", "devices", "ratio"]).iterrows()
        ],
    )
