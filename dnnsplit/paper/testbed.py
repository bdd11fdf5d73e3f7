"""The model against an emulated testbed (notebook 08): the measurement a run draws from,
the numbers a reader of a latency model expects, the figure and the report's section.

A measurement (:func:`dnnsplit.testbed.experiment.run_testbed`) cannot give the same bytes
twice, so the committed one (``figures/testbed.csv``, one row per policy, N, seed, vector
and device, with its calibration table and its manifest) is an *input*, and
``./run_all.sh`` stays byte-reproducible; a new one is made only on request
(:func:`testbed_rows`). Every number comes from two sets of inputs: ``predicted`` (nothing
measured on a device) and ``calibrated`` (the profiles measured in the devices' cgroups).
Relative errors are ``predicted / measured − 1``: positive where the model expects more
delay than the devices measured.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import partial
from itertools import product
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy.stats import kendalltau

from dnnsplit._io import atomic_write
from dnnsplit.errors import check_choice
from dnnsplit.paper.captions import Caption
from dnnsplit.paper.output import output_dir, read_manifest, write_manifest, write_table
from dnnsplit.paper.plots import POLICY_COLOURS, REFERENCE_LINE, finish_figure, paper_style
from dnnsplit.paper.text import escape, render, table
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, shown
from dnnsplit.policies import display_name
from dnnsplit.testbed import emulation
from dnnsplit.testbed.experiment import INPUTS, MODELS, TestbedConfig, run_testbed

__all__ = [
    "ENV_MODE", "MEASUREMENT_FILES", "bs_finding", "calibration_frame", "caption", "check_here",
    "component_errors", "copy_measurement", "error_summary", "greedy_against_optimal",
    "host_words", "quick_config", "rank_fidelity", "rank_summary", "report_section",
    "side_by_side", "tables", "testbed_figure", "testbed_rows", "write_measurement",
]

ENV_MODE = "DNNSPLIT_TESTBED"
MODES = ("committed", "measure", "commit")
RUN = "testbed"
OBJECTIVES = ("total", "variance")
#: The components in the order of every table, and their names in the report.
COMPONENTS = {"local": "local stages", "upload": "upload", "bs": "BS queue and service",
              "total": "whole delay", "variance": "variance of delays"}  # fmt: skip
#: A task found the BS idle when it waited less than this before its first stage (s).
IDLE_S = 1e-3
#: The share of predictions within this relative error (nn-Meter's and LitePred's ±10 %).
WITHIN = 0.10
#: A median error at least this far from 0 under every policy is said to be a bias of the
#: model (half the ±10 % band of "within"): nearer 0, the report says the number only.
CLEAR_BIAS = 0.05
SCENARIO = ["policy", "devices", "seed"]
MEASURE_DIR = BUILD_DIR / "testbed"
CHECK_DIR = MEASURE_DIR / "check"
MEASUREMENT_FILES = ("testbed.csv", "testbed_calibration.csv", "testbed.manifest.json")
#: What of a run's provenance goes into the manifest's notes.
NOTES = (
    "host", "host_after", "cgroup", "shaping", "wall_s", "phases_s", "fraction_nominal",
    "fractions", "largest_n", "devices_started", "devices", "device_speeds", "bs_quantum_s",
    "period_ms", "stage_names", "host_profile_s", "calibration",
)  # fmt: skip


def quick_config() -> TestbedConfig:
    """A smoke-sized testbed run: N = 1, 2, one seed, SJF, one repeat, two random vectors."""
    return TestbedConfig(
        devices=(1, 2), seeds=(0,), policies=("sjf",), repeats=1, random_vectors=2,
        profile_repeats=3, host_repeats=5, calibration_rounds=1,
    )  # fmt: skip


# -- the measurement's files -----------------------------------------------------------


def write_measurement(
    rows: pd.DataFrame, provenance: dict[str, Any], config: TestbedConfig,
    out_dir: str | os.PathLike[str], *, quick: bool = False,
) -> list[Path]:
    """Write a measurement: ``testbed.csv``; ``testbed_calibration.csv``, each emulated
    device's stage times (and ``total``) against what it emulates (``target_s``), against
    the host's time over its CPU quota ``fraction`` (``scaled_host_s``: what a uniform
    slowdown can reach) and their ratios; and the manifest (the run's configuration in its
    grids; the host, the cgroups, the quotas and the phases in its notes)."""
    out = Path(out_dir)
    names = [*provenance["stage_names"], "total"]

    def with_total(times: Any) -> np.ndarray:
        return np.append(times, np.sum(times)).astype(float)

    target = with_total(provenance["target_profile_s"])
    host = with_total(provenance["host_profile_s"])
    calibration = []
    for device, (times, fraction) in enumerate(
        zip(provenance["device_profiles_s"], provenance["fractions"], strict=True)
    ):
        emulated, fraction = with_total(times), float(fraction)
        calibration.append(pd.DataFrame({
            "device": device, "stage": names, "fraction": fraction, "target_s": target,
            "scaled_host_s": host / fraction, "emulated_s": emulated,
            "emulated_over_target": emulated / target,
            "emulated_over_scaled": emulated * fraction / host,
        }))  # fmt: skip
    written = [
        write_table(rows, out / "testbed.csv"),
        write_table(pd.concat(calibration, ignore_index=True), out / "testbed_calibration.csv"),
    ]
    notes = {"measured": True, **{key: provenance.get(key) for key in NOTES}}
    written += write_manifest(
        out, RUN, setup=None, grids={"testbed": config.to_dict()}, quick=quick, figures=[RUN],
        notes=notes,
    )  # fmt: skip
    return written


@dataclass(frozen=True)
class Measurement:
    """A testbed measurement: its rows, its manifest, the folder it was read from, and one
    sentence saying where it came from."""

    rows: pd.DataFrame
    manifest: dict[str, Any]
    source: Path
    origin: str


def host_words(manifest: dict[str, Any]) -> str:
    """The host a measurement's manifest records (CPU, cores, date, load at the start), as
    the captions and the report name it (notebooks 08 and 10)."""
    host = manifest.get("notes", {}).get("host", {})
    load = host.get("load_average", ["?"])
    return (
        f"{host.get('cpu', '?')}, {host.get('cores', '?')} cores, {host.get('date', '?')}, "
        f"load average {load[0]} at the start"
    )


def _read(directory: Path, origin: str = "") -> Measurement:
    """The measurement in ``directory``, ``{host}`` in ``origin`` replaced by its host
    (:class:`FileNotFoundError` when there is none)."""
    manifest = read_manifest(directory, RUN)
    path = directory / "testbed.csv"
    if manifest is None or not path.exists():
        raise FileNotFoundError(f"no testbed measurement in {directory}")
    origin = origin.replace("{host}", host_words(manifest))
    return Measurement(pd.read_csv(path), manifest, directory, origin)


def _lacks() -> str:
    return "; ".join(emulation.capabilities()["missing"])


def _measure(target: Path, origin: str, *, quick: bool) -> Measurement:
    """Run the testbed (smoke-sized where ``quick``) in a scratch folder, write its
    measurement to ``target`` and read it back."""
    config = quick_config() if quick else TestbedConfig()
    with tempfile.TemporaryDirectory(prefix="dnnsplit-testbed-") as work:
        rows, provenance = run_testbed(config, work, say=print)
    write_measurement(rows, provenance, config, target, quick=quick)
    return _read(target, origin)


def testbed_rows(
    mode: str = "", *, quick: bool = False, output_dir: str | os.PathLike[str] | None = None,
    committed_dir: str | os.PathLike[str] = FIGURES_DIR,
) -> Measurement:
    """The measurement a run draws from.

    Parameters
    ----------
    mode : str
        ``committed`` (the committed one); ``measure`` (measure again, written under
        ``build/testbed/``); ``commit`` (measure again into ``output_dir``: with
        ``./run_all.sh``, over the committed one). Empty: ``$DNNSPLIT_TESTBED``, else
        ``committed``. Where this host cannot measure (root, a cgroup CPU controller,
        PyTorch and two cores it needs), the committed one, and its origin says why.
    quick : bool
        A new measurement is smoke-sized (:func:`quick_config`).
    output_dir : path, optional
        Where ``commit`` writes the new measurement.
    committed_dir : path
        Where the committed measurement is (``figures/``).
    """
    mode = mode or os.environ.get(ENV_MODE, "") or "committed"
    mode = check_choice(mode, MODES, ENV_MODE, "testbed mode")
    missing = _lacks() if mode != "committed" else ""
    if mode != "committed" and not missing:
        target = MEASURE_DIR if mode == "measure" else Path(output_dir or MEASURE_DIR)
        origin = f"Measured by this run on this host ({{host}}); written to {shown(target)}."
        return _measure(target, origin, quick=quick)
    reason = f" (a new measurement was asked for, but this host lacks {missing})" if missing else ""
    return _read(Path(committed_dir), (
        "The committed measurement, made on {host}; this run did not measure again"
        f"{reason}. DNNSPLIT_TESTBED=measure re-measures where the host allows."
    ))  # fmt: skip


def check_here(enabled: bool = False) -> tuple[Measurement | None, str]:
    """When ``enabled`` and this host can run the testbed, a smoke-sized measurement
    (:func:`quick_config`, about a minute) made now under ``build/testbed/check/`` (never
    over the committed one), to set beside it; else None and the reason."""
    if not enabled:
        return None, "No check on this host was asked for (check_here = False)."
    missing = _lacks()
    if missing:
        return None, (
            f"This host cannot run the testbed ({missing}), so only the committed "
            "measurement is shown."
        )
    return _measure(CHECK_DIR, (
        f"A smoke-sized measurement made by this run on this host ({{host}}), in "
        f"{shown(CHECK_DIR)}/: one repeat, so noisier than the committed one, and made while "
        "other notebooks may run beside it."
    ), quick=True), ""  # fmt: skip


def side_by_side(committed: Measurement, fresh: Measurement) -> pd.DataFrame:
    """The median |relative error| of the whole delay by policy, N, inputs and model in
    the committed measurement and in a fresh one, for the (policy, N) both hold."""

    def median(rows: pd.DataFrame) -> pd.Series:
        keys = ["policy", "devices", "inputs", "model"]
        summary = error_summary(rows, by=("policy", "devices")).set_index(keys)
        return summary.loc[summary["component"] == "total", "median_abs_error"].sort_index()

    both = pd.concat(
        {"committed": median(committed.rows), "this host now": median(fresh.rows)}, axis=1
    )
    return both.dropna().reset_index()


def calibration_frame(measurement: Measurement) -> pd.DataFrame:
    """The calibration table of ``measurement`` (:func:`write_measurement`), as written."""
    return pd.read_csv(measurement.source / "testbed_calibration.csv")


def copy_measurement(
    measurement: Measurement, out_dir: str | os.PathLike[str] | None
) -> list[Path]:
    """Copy the measurement's own files into ``out_dir`` unchanged when they live elsewhere
    (never rewritten: :func:`write_measurement` does that, on request)."""
    out = output_dir(out_dir)
    if out.resolve() == measurement.source.resolve():
        return []
    return [
        atomic_write(out / name, (measurement.source / name).read_bytes())
        for name in MEASUREMENT_FILES
    ]


# -- the numbers -----------------------------------------------------------------------


def _distinct(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of each scenario's distinct vectors: where two named vectors are the same
    (greedy and optimal often are), one measurement served both; only the first is kept."""
    vectors = rows.groupby([*SCENARIO, "vector"], sort=False)["partition"].agg(tuple)
    first = vectors.reset_index().drop_duplicates([*SCENARIO, "partition"])
    return rows.merge(first[[*SCENARIO, "vector"]], on=[*SCENARIO, "vector"])


def _offloaded(rows: pd.DataFrame) -> pd.DataFrame:
    """The offloaded tasks of each scenario's distinct vectors, with ``spread``: how long
    their vector's measured arrivals (local stages plus upload) spread, first to last,
    against the BS's work for all of them (above 1: the BS could finish each task before
    the next arrives), and ``shared``: whether two or more devices of the vector offload."""
    offloaded = _distinct(rows)
    offloaded = offloaded[offloaded["measured_send_s"] > 0]
    arrival = offloaded["measured_local_s"] + offloaded["measured_send_s"]
    grouped = offloaded.assign(arrival=arrival).groupby([*SCENARIO, "vector"])
    spread = grouped["arrival"].transform("max") - grouped["arrival"].transform("min")
    return offloaded.assign(
        spread=spread / grouped["bs_work_s"].transform("sum"),
        shared=grouped["device"].transform("size") > 1,
    )


def component_errors(rows: pd.DataFrame) -> pd.DataFrame:
    """Every prediction against its measurement, one row per (device delay or scenario,
    component, inputs, model), over each scenario's distinct vectors.

    Components: ``local`` (stages 1..p, where p > 0), ``upload`` (p < S; the model's
    ``8·b_p/W_i`` is the same for either inputs and model: ``any``), ``bs`` (queue and
    service at the BS, p < S), ``total`` (the whole delay of a device) and ``variance``
    (of the delays of a scenario's devices, N ≥ 2: one row per scenario and vector).
    Columns: the scenario's keys, ``vector``, ``device`` (−1 for ``variance``),
    ``component``, ``inputs``, ``model``, ``predicted``, ``measured``, ``error``.
    """
    rows = _distinct(rows)
    local, offloaded = rows[rows["partition"] > 0], rows[rows["measured_send_s"] > 0]
    spread = _scenario_vectors(rows).assign(device=-1)
    spread = spread[spread["devices"] >= 2]
    parts = [(local, "local", inputs, "any", f"{inputs}_local_s", "measured_local_s")
             for inputs in INPUTS]  # fmt: skip
    parts.append((offloaded, "upload", "any", "any", "model_send_s", "measured_send_s"))
    for inputs, model in product(INPUTS, MODELS):
        parts.append((offloaded, "bs", inputs, model, f"{inputs}_bs_{model}_s", "measured_bs_s"))
        parts.append((rows, "total", inputs, model, f"{inputs}_{model}_s", "measured_s"))
    parts += [(spread, "variance", inputs, model, f"{inputs}_{model}_variance",
               "measured_variance") for inputs, model in product(INPUTS, MODELS)]  # fmt: skip
    errors = pd.concat([
        part[[*SCENARIO, "vector", "device"]].assign(
            component=component, inputs=inputs, model=model, predicted=part[predicted],
            measured=part[measured])
        for part, component, inputs, model, predicted, measured in parts
    ], ignore_index=True)  # fmt: skip
    errors = errors[errors["measured"] > 0]
    return errors.assign(error=errors["predicted"] / errors["measured"] - 1.0)


def error_summary(rows: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per component, inputs and model (and the columns ``by``, e.g. ``("policy",)``):
    ``count``, ``median_abs_error``, ``p90_abs_error``, ``within_10`` (the share of
    ``|error| ≤ 10 %``) and ``bias`` (the median error, where ANNETTE reports the mean:
    positive, the model expects more delay than measured)."""
    errors = component_errors(rows)
    keys = [*by, "component", "inputs", "model"]
    magnitude = errors["error"].abs()
    summary = errors.assign(magnitude=magnitude, within=magnitude <= WITHIN).groupby(keys).agg(
        count=("error", "size"), median_abs_error=("magnitude", "median"),
        p90_abs_error=("magnitude", lambda m: m.quantile(0.9)), within_10=("within", "mean"),
        bias=("error", "median"),
    ).reset_index()  # fmt: skip
    order = {c: k for k, c in enumerate((*COMPONENTS, *INPUTS, "any", *MODELS))}

    def key(column: pd.Series) -> pd.Series:
        return column.map(order) if column.name in ("component", "inputs", "model") else column

    return summary.sort_values(keys, key=key, kind="stable").reset_index(drop=True)


def _scenario_vectors(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario and distinct vector: the measured total delay (sum of the
    devices' medians) and variance of delays (population variance of the medians, eq. 8),
    the same of every prediction (``{inputs}_{model}_total``, ``..._variance``), and the
    summed spread of the measurement (``measured_iqr_s``, the devices' IQRs summed)."""
    grouped = _distinct(rows).groupby([*SCENARIO, "vector"], sort=True)
    out = {}
    for name in ["measured", *(f"{inputs}_{model}" for inputs, model in product(INPUTS, MODELS))]:
        column = grouped[f"{name}_s"]
        out[f"{name}_total"] = column.sum()
        out[f"{name}_variance"] = column.agg(lambda d: float(np.var(d)))
    out["measured_iqr_s"] = grouped["measured_iqr_s"].sum()
    return pd.DataFrame(out).reset_index()


def rank_fidelity(rows: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, inputs, model and objective (total delay, variance of delays):
    ``candidates`` (distinct vectors), ``tau`` (Kendall's τ between the predicted and the
    measured order, τ-b; 1: the same order, 0: unrelated, −1: reversed; NaN below three
    candidates or where one side is constant, as one device's variance) and, for the total
    delay, ``regret`` (how much more the vector the model ranks first measured than the
    best measured: 0 when it measured best; a ratio of variances near 0 means nothing,
    so the variance has none)."""
    out = []
    for key, part in _scenario_vectors(rows).groupby(SCENARIO, sort=True):
        for inputs, model, objective in product(INPUTS, MODELS, OBJECTIVES):
            predicted = part[f"{inputs}_{model}_{objective}"]
            measured = part[f"measured_{objective}"]
            tau = regret = np.nan
            if len(part) >= 3 and np.ptp(predicted) > 0 and np.ptp(measured) > 0:
                tau = kendalltau(predicted, measured).statistic
            if objective == "total":
                regret = measured.loc[predicted.idxmin()] / measured.min() - 1.0
            out.append({
                **dict(zip(SCENARIO, key, strict=True)), "inputs": inputs, "model": model,
                "objective": objective, "candidates": len(part), "tau": float(tau),
                "regret": float(regret),
            })  # fmt: skip
    return pd.DataFrame(out)


def rank_summary(rank: pd.DataFrame) -> pd.DataFrame:
    """:func:`rank_fidelity` over the seeds: per policy, N, inputs, model and objective,
    the number of scenarios with a τ, its median, lowest and highest, and the median
    regret of the model's first choice."""
    grouped = rank.groupby(["policy", "devices", "inputs", "model", "objective"], sort=True)
    return grouped.agg(
        scenarios=("tau", "count"), tau_median=("tau", "median"), tau_min=("tau", "min"),
        tau_max=("tau", "max"), regret_median=("regret", "median"),
    ).reset_index()  # fmt: skip


def bs_finding(rows: pd.DataFrame) -> pd.DataFrame:
    """The BS's part alone (queue and service, offloaded tasks), per policy and seed:
    ``tasks``; the median error of each inputs' snapshot and timeline model (the
    snapshot's BS part uses no device profile, so both inputs give the same); among
    scenarios where two or more devices offload, ``idle``, the share of tasks that found
    the BS idle (waited under :data:`IDLE_S`), and ``spread``, the median over their
    vectors of the arrivals' spread against the BS's work (:func:`_offloaded`)."""
    offloaded = _offloaded(rows)
    out = []
    for (policy, seed), part in offloaded.groupby(["policy", "seed"], sort=True):
        row: dict[str, Any] = {"policy": policy, "seed": seed, "tasks": len(part)}
        for inputs, model in product(INPUTS, MODELS):
            error = part[f"{inputs}_bs_{model}_s"] / part["measured_bs_s"] - 1.0
            row[f"{inputs}_{model}"] = float(error.median())
        shared = part[part["shared"]]
        row["idle"] = float((shared["measured_queue_s"] < IDLE_S).mean())  # NaN: none shared
        row["spread"] = float(shared.drop_duplicates([*SCENARIO, "vector"])["spread"].median())
        out.append(row)
    return pd.DataFrame(out)


def greedy_against_optimal(rows: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: whether greedy and optimal chose the same vector (a tie: one
    measurement), their measured totals (sums of the devices' medians), whether the
    difference lies within the measured spread (the larger of the two vectors' sums of
    the devices' IQRs), and whether optimal's vector measured best of all candidates."""
    totals = _scenario_vectors(rows).set_index([*SCENARIO, "vector"])
    out = []
    for key, part in rows.groupby(SCENARIO, sort=True):
        greedy, optimal = (part[part["vector"] == v].sort_values("device")
                           for v in ("greedy", "optimal"))  # fmt: skip
        if greedy.empty or optimal.empty:
            continue
        greedy_s, optimal_s = float(greedy["measured_s"].sum()), float(optimal["measured_s"].sum())
        spread = max(greedy["measured_iqr_s"].sum(), optimal["measured_iqr_s"].sum())
        out.append({
            **dict(zip(SCENARIO, key, strict=True)),
            "same_vector": list(greedy["partition"]) == list(optimal["partition"]),
            "greedy_s": greedy_s, "optimal_s": optimal_s,
            "within_spread": bool(abs(greedy_s - optimal_s) < spread),
            "optimal_best": bool(np.isclose(optimal_s, totals.loc[key]["measured_total"].min())),
        })  # fmt: skip
    return pd.DataFrame(out)


def tables(measurement: Measurement) -> dict[str, pd.DataFrame]:
    """The tables the testbed figure is saved with (``testbed_{name}.csv``): the errors per
    component and policy, the rank fidelity, the BS's part and greedy against optimal."""
    rows = measurement.rows
    return {"summary": error_summary(rows, by=("policy",)), "rank": rank_fidelity(rows),
            "bs": bs_finding(rows), "duel": greedy_against_optimal(rows)}  # fmt: skip


# -- the figure ------------------------------------------------------------------------

_INPUT_STYLES = {"predicted": "-", "calibrated": "--"}
_INPUT_COLORS = {"predicted": "C2", "calibrated": "C4"}
#: The boxes of the component panel: (component, inputs, model) and its label.
_BOXES = (
    (("local", "predicted", "any"), "local\npredicted"),
    (("local", "calibrated", "any"), "local\ncalibrated"),
    (("upload", "any", "any"), "upload"),
    (("bs", "predicted", "snapshot"), "BS\nsnapshot"),
    (("bs", "predicted", "timeline"), "BS\ntimeline"),
    (("total", "predicted", "snapshot"), "whole\npredicted"),
    (("total", "calibrated", "snapshot"), "whole\ncalibrated"),
    (("variance", "predicted", "snapshot"), "variance\npredicted"),
    (("variance", "calibrated", "snapshot"), "variance\ncalibrated"),
)


def plot_rank(ax: Axes, summary: pd.DataFrame, objective: str, column: str = "tau") -> Axes:
    """:func:`rank_summary`'s ``tau`` (median over the seeds, bars from the lowest to the
    highest) or ``regret`` (median, %) of the snapshot model against N: colour by policy,
    line style by inputs."""
    frame = summary[(summary["objective"] == objective) & (summary["model"] == "snapshot")]
    frame = frame.assign(regret=100 * frame["regret_median"])
    y, low, high = ("tau_median", "tau_min", "tau_max") if column == "tau" else ("regret",) * 3
    for (policy, inputs), part in frame.groupby(["policy", "inputs"], sort=True):
        part = part.sort_values("devices")
        ax.errorbar(
            part["devices"], part[y], yerr=[part[y] - part[low], part[high] - part[y]],
            fmt=_INPUT_STYLES[str(inputs)], marker="o", ms=3, capsize=2, elinewidth=0.6,
            color=POLICY_COLOURS.get(str(policy)), label=f"{display_name(str(policy))}, {inputs}",
        )  # fmt: skip
    devices = sorted(frame["devices"].unique())
    ax.set_xticks(devices, [str(n) for n in devices])
    if column == "tau":
        ax.set(xlabel="devices N", ylim=(-1.05, 1.05), ylabel="Kendall's τ",
               title=f"rank fidelity: {objective} (snapshot)")  # fmt: skip
    else:
        ax.set(xlabel="devices N", ylim=(0, None), ylabel="regret of the model's choice (%)",
               title="does the model's best measure best?")  # fmt: skip
    return ax


def testbed_figure(rows: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """The testbed figure (2×3): each device's predicted delay (snapshot model) against its
    measured median; the relative error of each component (:data:`_BOXES`; whiskers: 5th to
    95th percentile; shaded: ±10 %); Kendall's τ of the total delay and of the variance
    (:func:`plot_rank`); the BS's part, predicted over measured per offloaded task against
    its vector's arrival spread, where two or more devices offload; the model's regret."""
    summary = rank_summary(rank_fidelity(rows))
    distinct = _distinct(rows)
    errors = component_errors(rows).set_index(["component", "inputs", "model"])["error"]
    boxes = [(label, errors.loc[key]) for key, label in _BOXES if key in errors.index]
    offloaded = _offloaded(rows)
    # a log axis: arrivals at one instant are left out
    shared = offloaded[offloaded["shared"] & (offloaded["spread"] > 0)]
    with paper_style():
        fig, grid = plt.subplots(2, 3, figsize=(15, 8))
        axes = grid.ravel()
        for inputs, marker in zip(INPUTS, ("o", "x"), strict=True):
            axes[0].scatter(distinct["measured_s"], distinct[f"{inputs}_snapshot_s"],
                            marker=marker, s=10, alpha=0.5, color=_INPUT_COLORS[inputs],
                            label=inputs)  # fmt: skip
        predicted = [f"{inputs}_snapshot_s" for inputs in INPUTS]
        top = 1.05 * float(distinct[["measured_s", *predicted]].max().max())
        axes[0].plot([0, top], [0, top], **REFERENCE_LINE, label="y = x")
        axes[0].set(xlim=(0, top), ylim=(0, top), xlabel="measured delay (s)",
                    ylabel="predicted delay, snapshot (s)",
                    title="every device's delay")  # fmt: skip
        axes[1].axhspan(-100 * WITHIN, 100 * WITHIN, color="0.85", lw=0)
        axes[1].boxplot([100 * np.atleast_1d(e.to_numpy()) for _, e in boxes], whis=(5, 95),
                        showfliers=False)  # fmt: skip
        axes[1].set_xticks(range(1, len(boxes) + 1), [label for label, _ in boxes], fontsize=6)
        axes[1].set(ylabel="relative error (%)", title="error per component")
        plot_rank(axes[2], summary, "total")
        plot_rank(axes[3], summary, "variance")
        for policy, part in shared.groupby("policy", sort=True):
            for model, marker in zip(MODELS, ("o", "^"), strict=True):
                ratio = part[f"predicted_bs_{model}_s"] / part["measured_bs_s"]
                axes[4].scatter(part["spread"], ratio, marker=marker, s=10, alpha=0.5,
                                color=POLICY_COLOURS.get(str(policy)),
                                label=f"{display_name(str(policy))}, {model}")  # fmt: skip
        axes[4].axhline(1.0, **REFERENCE_LINE)
        axes[4].set(xscale="log", yscale="log", xlabel="arrival spread / BS work",
                    ylabel="BS part: predicted / measured", title="the BS queue")  # fmt: skip
        plot_rank(axes[5], summary, "total", "regret")
        fig.tight_layout()
        finish_figure(fig, axes, caption, legend_size=6)
    return fig


def _quota_words(notes: dict[str, Any]) -> str:
    """'7.7–8.4 % of a core (calibrated per device; nominal 7.2 %)', or the nominal quota
    alone where the measurement records no calibrated ones."""
    nominal = f"{100 * float(notes.get('fraction_nominal', 0)):.1f} %"
    fractions = [100 * float(f) for f in notes.get("fractions") or []]
    if not fractions:
        return f"{nominal} of a core"
    return (
        f"{min(fractions):.1f}–{max(fractions):.1f} % of a core (calibrated per device; "
        f"nominal {nominal})"
    )


def caption(manifest: dict[str, Any]) -> Caption:
    """The figure's caption: what was emulated and where it was measured (short for the
    image, full for the caption file)."""
    notes = manifest.get("notes", {})
    grid = manifest.get("grids", {}).get("testbed", {})
    seeds = len(grid.get("seeds") or [])
    version = (notes.get("cgroup") or {}).get("version", "?")
    target = escape(grid.get("target", "?"))
    full = (
        f"Emulated testbed: devices as {target} (an ESTIMATED profile) by a CPU quota of "
        f"{_quota_words(notes)} (cgroup v{version}), the BS one core of the host, uplinks "
        f"shaped by {escape(notes.get('shaping', '?'))}; N = {notes.get('devices')}, {seeds} "
        f"seeds, {grid.get('repeats', '?')} repeats. Predicted: the nominal device profile; "
        f"calibrated: the profiles measured in the cgroups. MEASURED on "
        f"{escape(host_words(manifest))}."
    )
    short = (
        f"Emulated devices (speed of the ESTIMATED {target} profile), MEASURED on one shared "
        f"host; {seeds} seeds, {grid.get('repeats', '?')} repeats. Full provenance: the "
        "caption file beside this figure."
    )
    return Caption(short, full)


# -- the report ------------------------------------------------------------------------


def _percent(value: float, sign: bool = False) -> str:
    """``value`` in whole percent ("n/a" where not finite; never "-0 %")."""
    if not np.isfinite(value):
        return "n/a"
    whole = round(float(100 * value))
    return f"{whole:+d} %" if sign else f"{whole:d} %"


_signed = partial(_percent, sign=True)


def _tau_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per policy and N, the snapshot model's τ per objective and inputs: the median
    [lowest, highest] over the seeds."""
    out = []
    shown = summary[summary["model"] == "snapshot"].set_index(["objective", "inputs"])
    for (policy, n), part in shown.groupby(["policy", "devices"], sort=True):
        row = {"policy": display_name(str(policy)), "N": str(n),
               "scenarios": str(int(part["scenarios"].max()))}  # fmt: skip
        for objective, inputs in product(OBJECTIVES, INPUTS):  # every one: rank_fidelity's
            tau = part.loc[(objective, inputs)]
            row[f"τ {objective}, {inputs}"] = (
                f"{tau['tau_median']:+.2f} [{tau['tau_min']:+.2f}, {tau['tau_max']:+.2f}]"
                if np.isfinite(tau["tau_median"]) else "n/a"
            )  # fmt: skip
        out.append(row)
    return pd.DataFrame(out)


def _span(values: pd.Series) -> str:
    """The median [lowest, highest] of ``values``, in signed percent."""
    return f"{_signed(values.median())} [{_signed(values.min())}, {_signed(values.max())}]"


def report_section(directory: str | os.PathLike[str] = FIGURES_DIR) -> str:
    """REPRODUCTION.md's section "The model against an emulated testbed" (Markdown, its
    heading first), rendered from ``templates/testbed.md.j2`` with the measurement in
    ``directory`` (the committed one by default); "" when ``directory`` holds none."""
    try:
        measurement = _read(Path(directory))
    except FileNotFoundError:
        return ""
    rows, manifest = measurement.rows, measurement.manifest
    notes = manifest.get("notes", {})
    grid = manifest.get("grids", {}).get("testbed", {})
    summary = error_summary(rows)
    whole = summary[summary["component"] == "total"].set_index(["inputs", "model"])
    components = pd.DataFrame({
        "component": summary["component"].map(COMPONENTS), "inputs": summary["inputs"],
        "BS model": summary["model"], "n": summary["count"],
        "median abs. error": summary["median_abs_error"].map(_percent),
        "90th pct.": summary["p90_abs_error"].map(_percent),
        "within ±10 %": summary["within_10"].map(_percent), "bias": summary["bias"].map(_signed),
    })  # fmt: skip
    rank = rank_fidelity(rows)
    taus = rank.groupby(["model", "inputs", "objective"])["tau"].median()
    first = rank[(rank["objective"] == "total") & (rank["model"] == "snapshot")]
    finding = bs_finding(rows)
    by_policy = finding.groupby("policy", sort=True).median(numeric_only=True)
    bs = pd.DataFrame([{
        "policy": display_name(str(policy)), "seeds": str(len(part)),
        "tasks": str(int(part["tasks"].sum())), "snapshot": _span(part["predicted_snapshot"]),
        "timeline (predicted)": _span(part["predicted_timeline"]),
        "timeline (calibrated)": _span(part["calibrated_timeline"]),
        "found the BS idle": _percent(part["idle"].median()),
        "arrival spread / BS work": f"{part['spread'].median():.1f}",
    } for policy, part in finding.groupby("policy", sort=True)])  # fmt: skip
    duel = greedy_against_optimal(rows)
    differ = duel[~duel["same_vector"]]
    upload = _offloaded(rows)
    upload_error = upload["model_send_s"] / upload["measured_send_s"] - 1.0
    return render("testbed", **{
        "network": str(grid.get("network", "?")),
        "target": str(grid.get("target", "?")),
        "policies": " and ".join(display_name(str(p)) for p in grid.get("policies", [])),
        "period_ms": f"{float(notes.get('period_ms') or grid.get('period_ms', 0)):g}",
        "cgroup": (notes.get("cgroup") or {}).get("version", "?"),
        "quota": _quota_words(notes),
        "shaping": str(notes.get("shaping", "?")),
        "devices": ", ".join(str(n) for n in sorted(rows["devices"].unique())),
        "largest": notes.get("largest_n"),
        "at_least": notes.get("largest_n") == notes.get("devices_started"),
        "share": f"{sum(notes.get('fractions') or []):.2f}",
        "seeds": len(rows["seed"].unique()),
        "scenarios": len(rows.groupby(SCENARIO)),
        "candidates": int(rank.groupby(SCENARIO)["candidates"].max().median()),
        "repeats": grid.get("repeats", "?"),
        "host": host_words(manifest),
        "wall_min": f"{float(notes.get('wall_s') or 0) / 60:.0f}",
        "components": table(components, align="lllrrrrr"),
        "whole": whole.to_dict("index"),  # the whole delay's summary per (inputs, model)
        "percent": _percent,
        "tau": taus["snapshot"].to_dict(),  # the median τ per (inputs, objective)
        "tau_timeline": taus["timeline"].to_dict(),
        "taus": table(_tau_table(rank_summary(rank)), align="lrr" + "r" * 4),
        # the snapshot model's first choice on the total delay: how often it measured best
        "best": first.groupby("inputs")["regret"].agg(lambda r: int((r == 0).sum())).to_dict(),
        "regret": first.groupby("inputs")["regret"].median().to_dict(),
        "ranked": int(first["regret"].notna().sum() / len(INPUTS)),
        "bs": table(bs, align="lrr" + "r" * 5),
        "bs_words": {
            **{model: " and ".join(f"{_signed(value)} under {display_name(str(policy))}"
                                   for policy, value in by_policy[f"predicted_{model}"].items())
               for model in MODELS},
            "timeline_below": bool((by_policy["predicted_timeline"] < -CLEAR_BIAS).all()),
            "spread": f"{finding['spread'].median():.1f}",
            "idle": _percent(finding["idle"].median()),
        },
        # the upload's bias on devices without background processes and with them
        "upload": {"idle": _signed(upload_error[upload["background"] == 0].median()),
                   "busy": _signed(upload_error[upload["background"] > 0].median())},
        "duel": {
            "scenarios": len(duel), "same": int(duel["same_vector"].sum()),
            "optimal_best": int(duel["optimal_best"].sum()),
            "optimal_best_alone": int((duel["optimal_best"] & ~duel["same_vector"]).sum()),
            "differ": len(differ),
            "optimal_lower": int((differ["optimal_s"] < differ["greedy_s"]).sum()),
            "greedy_lower": int((differ["greedy_s"] < differ["optimal_s"]).sum()),
            "within_spread": int(differ["within_spread"].sum()),
        },
    })  # fmt: skip
