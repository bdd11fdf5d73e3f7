"""The model against an emulated testbed: which measurement a run uses, its summaries, its
figure and its section of REPRODUCTION.md (notebook 08).

A testbed measurement (:func:`dnnsplit.testbed.experiment.run_testbed`) cannot give the
same bytes twice, so the committed one is an *input* here, like a measured profile:
``figures/testbed.csv`` (one row per policy, N, vector and device), its calibration table
``figures/testbed_calibration.csv`` and its manifest ``figures/testbed.manifest.json``
(the host it was measured on: CPU, cores, load averages, date). Every run draws the figure
and the summary from it, so ``./run_all.sh`` stays byte-reproducible. A new measurement is
made only on request (:func:`testbed_rows`, ``DNNSPLIT_TESTBED``):

- ``committed`` (the default): the committed measurement;
- ``measure``: measure again where this host can (root, cgroups, PyTorch, two cores) and
  draw from that, writing it under ``build/testbed/``; elsewhere the committed one, saying
  why;
- ``commit``: measure again and write the measurement into the output folder (with
  ``./run_all.sh``, over the committed one).

Relative errors are ``predicted / measured − 1``: positive where the model expects more
delay than the devices measured.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dnnsplit.paper.captions import Caption, text
from dnnsplit.paper.output import read_manifest, write_manifest, write_table
from dnnsplit.paper.plots import REFERENCE_LINE, paper_style
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR
from dnnsplit.policies import display_name

__all__ = [
    "ENV_MODE",
    "MODES",
    "Measurement",
    "calibration_frame",
    "calibration_table",
    "caption",
    "check_here",
    "copy_measurement",
    "error_summary",
    "measurement_mode",
    "plot_error_by_devices",
    "plot_predicted_vs_measured",
    "plot_regret",
    "quick_config",
    "regret_table",
    "report_section",
    "save",
    "side_by_side",
    "tables",
    "testbed_figure",
    "testbed_rows",
    "write_measurement",
]

ENV_MODE = "DNNSPLIT_TESTBED"
MODES = ("committed", "measure", "commit")
RUN = "testbed"
MODELS = ("snapshot", "timeline")
MEASURE_DIR = BUILD_DIR / "testbed"


def measurement_mode(value: str = "") -> str:
    """``value``, or ``$DNNSPLIT_TESTBED``, or ``committed``; checked against :data:`MODES`."""
    from dnnsplit.errors import check_choice

    mode = value or os.environ.get(ENV_MODE, "") or "committed"
    return check_choice(mode, MODES, ENV_MODE, "testbed mode")


def quick_config() -> Any:
    """A smoke-sized testbed run: N = 1, 2, SJF, one repeat."""
    from dnnsplit.testbed.experiment import TestbedConfig

    return TestbedConfig(
        devices=(1, 2), policies=("sjf",), repeats=1, profile_repeats=3, host_repeats=5
    )


def calibration_table(provenance: dict[str, Any]) -> pd.DataFrame:
    """Each emulated device's stage times against what it emulates.

    Columns: ``device``, ``stage`` (or ``total``), ``fraction`` (its CPU quota),
    ``target_s`` (the emulated profile), ``scaled_host_s`` (the host's time over the
    quota: what a uniform slowdown can reach), ``emulated_s`` (the profiler inside the
    cgroup), and the ratios ``emulated_over_target`` and ``emulated_over_scaled``.
    """
    target = np.array(provenance["target_profile_s"])
    host = np.array(provenance["host_profile_s"])
    names = [*provenance.get("stage_names", [f"stage{k + 1}" for k in range(len(target))])]
    rows = []
    for device, (times, fraction) in enumerate(
        zip(provenance["device_profiles_s"], provenance["fractions"], strict=True)
    ):
        times = np.array(times)
        for name, t, h, e in zip(
            [*names, "total"],
            [*target, target.sum()],
            [*host, host.sum()],
            [*times, times.sum()],
            strict=True,
        ):
            rows.append(
                {
                    "device": device,
                    "stage": name,
                    "fraction": float(fraction),
                    "target_s": float(t),
                    "scaled_host_s": float(h) / float(fraction),
                    "emulated_s": float(e),
                    "emulated_over_target": float(e) / float(t),
                    "emulated_over_scaled": float(e) * float(fraction) / float(h),
                }
            )
    return pd.DataFrame(rows)


def write_measurement(
    rows: pd.DataFrame,
    provenance: dict[str, Any],
    config: Any,
    out_dir: str | os.PathLike[str],
    *,
    quick: bool = False,
) -> list[Path]:
    """Write a measurement: ``testbed.csv``, ``testbed_calibration.csv`` and the manifest
    (the run's configuration and the host's description in its notes)."""
    out = Path(out_dir)
    written = [
        write_table(rows, out / "testbed.csv"),
        write_table(calibration_table(provenance), out / "testbed_calibration.csv"),
    ]
    notes = {
        "measured": True,
        "host": provenance["host"],
        "host_after": provenance.get("host_after"),
        "shaping": provenance["shaping"],
        "wall_s": provenance.get("wall_s"),
        "fraction_nominal": provenance["fraction_nominal"],
        "fractions": provenance["fractions"],
        "device_speeds": provenance["device_speeds"],
        "bs_quantum_s": provenance["bs_quantum_s"],
        "period_ms": provenance["period_ms"],
        "stage_names": provenance.get("stage_names"),
        "host_profile_s": provenance["host_profile_s"],
        "calibration": provenance["calibration"],
    }
    written += write_manifest(
        out,
        RUN,
        setup=None,
        grids={"testbed": config.to_dict()},
        quick=quick,
        figures=[RUN],
        notes=notes,
    )
    return written


def _read(directory: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    manifest = read_manifest(directory, RUN)
    path = directory / "testbed.csv"
    if manifest is None or not path.exists():
        raise FileNotFoundError(f"no testbed measurement in {directory}")
    return pd.read_csv(path), manifest


def _host_words(manifest: dict[str, Any]) -> str:
    host = manifest.get("notes", {}).get("host", {})
    load = host.get("load_average", ["?"])
    return (
        f"{host.get('cpu', '?')}, {host.get('cores', '?')} cores, {host.get('date', '?')}, "
        f"load average {load[0]} at the start"
    )


@dataclass(frozen=True)
class Measurement:
    """A testbed measurement: its rows, its manifest, the folder it was read from, and one
    sentence saying where it came from."""

    rows: pd.DataFrame
    manifest: dict[str, Any]
    source: Path
    origin: str


def testbed_rows(
    mode: str = "",
    *,
    quick: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    committed_dir: str | os.PathLike[str] = FIGURES_DIR,
) -> Measurement:
    """The measurement a run draws from (module docstring).

    Parameters
    ----------
    mode : str
        ``committed``, ``measure`` or ``commit`` (empty: ``$DNNSPLIT_TESTBED``, else
        ``committed``).
    quick : bool
        A new measurement is smoke-sized (:func:`quick_config`).
    output_dir : path, optional
        Where ``commit`` writes the new measurement.
    committed_dir : path
        Where the committed measurement is (``figures/``).
    """
    mode = measurement_mode(mode)
    reason = ""
    if mode != "committed":
        from dnnsplit.testbed.emulation import capabilities

        missing = capabilities()["missing"]
        if missing:
            reason = f" (a new measurement was asked for, but this host lacks {'; '.join(missing)})"
        else:
            from dnnsplit.testbed.experiment import TestbedConfig

            config = quick_config() if quick else TestbedConfig()
            target = MEASURE_DIR if mode == "measure" else Path(output_dir or MEASURE_DIR)
            rows, manifest = _measure_into(config, target, quick=quick)
            return Measurement(rows, manifest, target, (
                f"Measured by this run on this host ({_host_words(manifest)}); written to "
                f"{target}."
            ))  # fmt: skip
    rows, manifest = _read(Path(committed_dir))
    return Measurement(rows, manifest, Path(committed_dir), (
        f"The committed measurement, made on {_host_words(manifest)}; this run did not "
        f"measure again{reason}. DNNSPLIT_TESTBED=measure re-measures where the host allows."
    ))  # fmt: skip


def _measure_into(config: Any, target: Path, *, quick: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run the testbed with ``config`` in a scratch folder, write its measurement to
    ``target`` and read it back (rows, manifest)."""
    import tempfile

    from dnnsplit.testbed.experiment import run_testbed

    with tempfile.TemporaryDirectory(prefix="dnnsplit-testbed-") as work:
        rows, provenance = run_testbed(config, work, say=print)
    write_measurement(rows, provenance, config, target, quick=quick)
    return _read(target)


CHECK_DIR = MEASURE_DIR / "check"


def check_here(enabled: bool = True) -> tuple[Measurement | None, str]:
    """Where this host can run the testbed (root, cgroups, PyTorch, two cores), a
    smoke-sized measurement (:func:`quick_config`) made now, under ``build/testbed/check/``
    (never over the committed one), to set beside it; else None. The text says which, and
    why not."""
    if not enabled:
        return None, "The check on this host was turned off (check_here = False)."
    from dnnsplit.testbed.emulation import capabilities

    missing = capabilities()["missing"]
    if missing:
        return None, (
            f"This host cannot run the testbed ({'; '.join(missing)}), so only the committed "
            "measurement is shown."
        )
    rows, manifest = _measure_into(quick_config(), CHECK_DIR, quick=True)
    return Measurement(rows, manifest, CHECK_DIR, (
        f"A smoke-sized measurement made by this run on this host ({_host_words(manifest)}), "
        f"in {CHECK_DIR.relative_to(BUILD_DIR.parent)}/: one repeat, so noisier than the "
        "committed one, and made while other notebooks may run beside it."
    )), ""  # fmt: skip


def side_by_side(committed: Measurement, fresh: Measurement) -> pd.DataFrame:
    """The model's median |relative error| by policy, N and model in the committed
    measurement and in a fresh one, for the (policy, N) both hold."""
    keys = ["policy", "devices", "model"]
    mine = error_summary(committed.rows).set_index(keys)["median_abs_error"]
    theirs = error_summary(fresh.rows).set_index(keys)["median_abs_error"]
    both = pd.concat({"committed": mine, "this host now": theirs}, axis=1).dropna()
    return both.reset_index()


# -- summaries -------------------------------------------------------------------------


def error_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """The model's relative error by policy, N and model: median of |error|, median
    error (the bias: positive = the model expects more delay), largest |error|, and the
    number of device delays compared."""
    parts = []
    for model in MODELS:
        error = rows[f"error_{model}"]
        frame = rows.assign(abs_error=error.abs(), error=error)
        grouped = frame.groupby(["policy", "devices"], sort=True)
        summary = grouped.agg(
            median_abs_error=("abs_error", "median"),
            median_error=("error", "median"),
            max_abs_error=("abs_error", "max"),
            delays=("error", "size"),
        ).reset_index()
        summary.insert(2, "model", model)
        parts.append(summary)
    return pd.concat(parts, ignore_index=True)


def regret_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Does the vector the model calls best also measure best? Per policy and N, each
    vector's measured total delay (sum of the devices' medians) and predicted total
    (snapshot), and its measured regret: how much more its measured total is than the
    best measured total among the vectors tried (0: it measured best)."""
    totals = (
        rows.groupby(["policy", "devices", "vector"], sort=True)
        .agg(
            measured_total_s=("measured_median_s", "sum"),
            predicted_total_s=("predicted_snapshot_s", "sum"),
            predicted_timeline_total_s=("predicted_timeline_s", "sum"),
        )
        .reset_index()
    )
    best = totals.groupby(["policy", "devices"])["measured_total_s"].transform("min")
    totals["measured_regret"] = totals["measured_total_s"] / best - 1.0
    predicted_best = totals.groupby(["policy", "devices"])["predicted_total_s"].transform("min")
    totals["model_calls_best"] = np.isclose(totals["predicted_total_s"], predicted_best)
    totals["measures_best"] = np.isclose(totals["measured_regret"], 0.0)
    return totals


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


def greedy_against_optimal(rows: pd.DataFrame) -> pd.DataFrame:
    """Per policy and N: whether greedy and optimal chose the same vector, their measured
    totals (sums of the devices' medians), and whether the difference lies within the
    measured spread (the larger of the two vectors' sums of the devices' IQRs)."""
    out = []
    for (policy, n), part in rows.groupby(["policy", "devices"], sort=True):
        mine = {v: part[part["vector"] == v].sort_values("device") for v in ("greedy", "optimal")}
        if any(m.empty for m in mine.values()):
            continue
        greedy, optimal = mine["greedy"], mine["optimal"]
        gap = abs(greedy["measured_median_s"].sum() - optimal["measured_median_s"].sum())
        spread = max(greedy["measured_iqr_s"].sum(), optimal["measured_iqr_s"].sum())
        out.append(
            {
                "policy": policy,
                "devices": n,
                "same_vector": list(greedy["partition"]) == list(optimal["partition"]),
                "greedy_s": float(greedy["measured_median_s"].sum()),
                "optimal_s": float(optimal["measured_median_s"].sum()),
                "within_spread": bool(gap < spread),
            }
        )
    return pd.DataFrame(out)


# -- plots -----------------------------------------------------------------------------

_POLICY_MARKERS = {"sjf": "o", "rr": "s"}
#: One colour per policy in every panel (the theme's first two).
_POLICY_COLORS = {"sjf": "C0", "rr": "C1"}


def plot_predicted_vs_measured(ax: Axes, rows: pd.DataFrame, model: str = "snapshot") -> Axes:
    """Each device's predicted delay against its measured median (error bar: the
    spread over the repeats, IQR), by policy, with the line y = x."""
    for policy, part in rows.groupby("policy", sort=True):
        ax.errorbar(
            part["measured_median_s"],
            part[f"predicted_{model}_s"],
            xerr=part["measured_iqr_s"] / 2,
            fmt=_POLICY_MARKERS.get(str(policy), "o"),
            color=_POLICY_COLORS.get(str(policy)),
            ms=3,
            alpha=0.6,
            elinewidth=0.6,
            label=display_name(str(policy)),
        )
    top = float(max(rows["measured_median_s"].max(), rows[f"predicted_{model}_s"].max())) * 1.05
    ax.plot([0, top], [0, top], **REFERENCE_LINE, label="y = x")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="measured delay (s)",
           ylabel=f"predicted delay, {model} model (s)")  # fmt: skip
    ax.legend(loc="upper left", fontsize="small")
    return ax


def _lines_by_policy(
    ax: Axes, frame: pd.DataFrame, other: str, y: str, styles: dict[str, str]
) -> None:
    """One line (in percent) against N per policy and value of ``other``: the policy's
    colour and marker, the line style of ``other``'s value."""
    for (policy, value), part in frame.groupby(["policy", other], sort=True):
        ax.plot(
            part["devices"],
            100 * part[y],
            styles.get(str(value), "-"),
            marker=_POLICY_MARKERS.get(str(policy), "o"),
            color=_POLICY_COLORS.get(str(policy)),
            label=f"{display_name(str(policy))}, {value}",
        )
    ax.set(xlabel="devices N", ylim=(0, None))
    ax.legend(fontsize="small")


def plot_error_by_devices(ax: Axes, summary: pd.DataFrame) -> Axes:
    """Median |relative error| against N, one line per policy and model."""
    styles = {"snapshot": "-", "timeline": "--"}
    _lines_by_policy(ax, summary, "model", "median_abs_error", styles)
    ax.set(ylabel="median |relative error| (%)")
    return ax


def plot_regret(
    ax: Axes, regret: pd.DataFrame, vectors: Sequence[str] = ("greedy", "optimal")
) -> Axes:
    """The measured regret (%) of the model's chosen vectors against N, by policy."""
    shown = regret[regret["vector"].isin(vectors)]
    _lines_by_policy(ax, shown, "vector", "measured_regret", {"optimal": "-", "greedy": ":"})
    ax.set(ylabel="measured regret (%)")
    return ax


def testbed_figure(rows: pd.DataFrame, *, caption: Caption | str = "") -> Figure:
    """The testbed figure (2×2): predicted against measured (snapshot, timeline), the error
    by N and policy, and the measured regret of greedy's and optimal's vectors."""
    import matplotlib.pyplot as plt

    with paper_style():
        fig, grid = plt.subplots(2, 2, figsize=(10, 8))
        axes = grid.ravel()
        plot_predicted_vs_measured(axes[0], rows, "snapshot")
        axes[0].set_title("snapshot model (eq. 1-3)")
        plot_predicted_vs_measured(axes[1], rows, "timeline")
        axes[1].set_title("timeline model")
        plot_error_by_devices(axes[2], error_summary(rows))
        axes[2].set_title("error by N")
        plot_regret(axes[3], regret_table(rows))
        axes[3].set_title("measured regret of the model's choice")
        fig.tight_layout()
        short = text(caption)
        if short:
            wrapped = textwrap.fill(short, width=150)
            fig.text(0.0, -0.01, wrapped, ha="left", va="top", fontsize=8)
    return fig


def caption(manifest: dict[str, Any]) -> Caption:
    """The figure's caption: what was emulated and where it was measured (short for the
    image, full for the caption file)."""
    notes = manifest.get("notes", {})
    grid = manifest.get("grids", {}).get("testbed", {})
    full = (
        f"Emulated testbed: devices as {grid.get('target', '?')} (an ESTIMATED profile) by a "
        f"CPU quota of {_quota_words(notes)}, the BS "
        f"one core of the host, uplinks shaped by {notes.get('shaping', '?')}; "
        f"{grid.get('repeats', '?')} repeats. MEASURED on {_host_words(manifest)}."
    )
    short = (
        f"Emulated devices (speed of the ESTIMATED {grid.get('target', '?')} profile), "
        f"MEASURED on one shared host; {grid.get('repeats', '?')} repeats. Full provenance: "
        "the caption file beside this figure."
    )
    return Caption(short, full)


# -- the report ------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:+.0f} %" if np.isfinite(value) else "n/a"


def _median_error(rows: pd.DataFrame, predicted: str, measured: str) -> float:
    """Median of ``predicted / measured − 1`` over the rows where both are non-zero."""
    both = rows[(rows[predicted] > 0) & (rows[measured] > 0)]
    if both.empty:
        return float("nan")
    return float((both[predicted] / both[measured] - 1).median())


def _components(rows: pd.DataFrame) -> dict[str, float]:
    """Median relative error of each delay component, where the model and the measurement
    both have it (local: p > 0; upload and BS: p < S)."""
    idle, busy = rows[rows["background"] == 0], rows[rows["background"] > 0]
    out = {
        "local": _median_error(rows, "predicted_local_s", "measured_local_s"),
        "local_idle": _median_error(idle, "predicted_local_s", "measured_local_s"),
        "local_busy": _median_error(busy, "predicted_local_s", "measured_local_s"),
        "send_idle": _median_error(idle, "predicted_send_s", "measured_send_s"),
        "send_busy": _median_error(busy, "predicted_send_s", "measured_send_s"),
    }
    for policy in ("sjf", "rr"):
        part = rows[rows["policy"] == policy]
        for model in MODELS:
            out[f"bs_{model}_{policy}"] = _median_error(
                part, f"predicted_bs_{model}_s", "measured_bs_s"
            )
    return out


def report_section(directory: str | os.PathLike[str] = FIGURES_DIR) -> list[str]:
    """The lines of REPRODUCTION.md's section "The model against an emulated testbed"
    (its heading first), from the measurement in ``directory`` (the committed one by
    default); no lines when ``directory`` holds no measurement."""
    directory = Path(directory)
    try:
        rows, manifest = _read(directory)
    except FileNotFoundError:
        return []
    notes = manifest.get("notes", {})
    grid = manifest.get("grids", {}).get("testbed", {})
    summary = error_summary(rows)
    regret = regret_table(rows)
    parts = _components(rows)
    lines = [
        "## The model against an emulated testbed",
        "",
        f"Real processes on one host (notebook 08, `dnnsplit testbed`): {rows['devices'].max()} "
        f"devices at most, each a process running AlexNet's first p stages in PyTorch inside "
        f"its own CPU cgroup (a quota of {_quota_words(notes)}, so that it runs at the speed "
        f"of `{grid.get('target', '?')}`, an "
        "**estimated** profile), its background processes in the same cgroup, its uplink "
        f"shaped ({notes.get('shaping', '?')}) to the scenario's rate; the BS a real server on "
        "the host's other core running the rest of every offloaded network under SJF or RR "
        "at stage boundaries. The model predicts each device's delay from the profiles "
        "measured inside the cgroups (not the nominal one), under the paper's snapshot model "
        "(eq. 1-3) and the timeline model. "
        f"Measured on {_host_words(manifest)}: a shared machine, so the numbers carry its noise. "
        f"{grid.get('repeats', '?')} repeats per vector; the whole run took "
        f"{notes.get('wall_s', '?')} s. The rows: `figures/testbed.csv`; the figure: "
        "`figures/testbed.png`; the emulation's calibration: `figures/testbed_calibration.csv`.",
        "",
        "Median |relative error| of the predicted delay per device (predicted / measured − 1), "
        "by policy and N:",
        "",
    ]
    wide = summary.pivot_table(
        index="devices", columns=["policy", "model"], values="median_abs_error"
    ).sort_index()
    columns = list(wide.columns)
    header = "| N | " + " | ".join(f"{display_name(p)} {m}" for p, m in columns) + " |"
    lines += [header, "|---:|" + "---:|" * len(columns)]
    for n, values in wide.iterrows():
        cells = " | ".join(f"{100 * v:.0f} %" for v in values)
        lines.append(f"| {n} | {cells} |")
    overall = {
        (p, m): float(rows[rows["policy"] == p][f"error_{m}"].abs().median())
        for p in sorted(rows["policy"].unique())
        for m in MODELS
    }
    bias = {m: float(rows[f"error_{m}"].median()) for m in MODELS}
    lines += [
        "",
        "Over all N: "
        + "; ".join(f"{display_name(p)} {m} {100 * v:.0f} %" for (p, m), v in overall.items())
        + f" (median error, the bias: snapshot {_pct(bias['snapshot'])}, timeline "
        f"{_pct(bias['timeline'])}).",
        "",
        "**Where the models part from the measurement, and why** (median relative error of "
        "each component, where it is not zero):",
        "",
        f"- local stages, eq. (1): {_pct(parts['local'])} overall; {_pct(parts['local_idle'])} "
        f"on devices without background processes, {_pct(parts['local_busy'])} with them. "
        "Eq. (1) shares the CPU round-robin with a fixed quantum; Linux's CFS shares it in "
        "slices of a few ms, and the cgroup's quota is enforced per CFS period (25 ms), so a "
        "short run of stages gets the quota only on average: the profile (measured in long "
        "runs) and one request's few stages need not agree;",
        f"- upload: {_pct(parts['send_idle'])} on devices without background processes (the "
        "shaped link gives the model's W_i), "
        f"{_pct(parts['send_busy'])} with them: the model's transmission delay needs no CPU, "
        "but a device whose CPU is shared with busy processes also sends more slowly (its "
        "TCP stack and copies get the same share of the quota);",
        f"- the BS: the snapshot model {_pct(parts['bs_snapshot_sjf'])} under SJF and "
        f"{_pct(parts['bs_snapshot_rr'])} under RR, the timeline model "
        f"{_pct(parts['bs_timeline_sjf'])} and {_pct(parts['bs_timeline_rr'])}. The snapshot "
        "model queues every offloaded task at time 0, so it charges each task the work of "
        "every shorter (SJF) or interleaved (RR) task, even of tasks that arrive after it "
        "has left; the devices' uploads spread the arrivals, as the timeline model assumes. "
        "What the timeline model misses is the server's own time (decoding a frame, the "
        "event loop between stages, a stage's first run after idling) and the other "
        "processes of the shared host on the BS core.",
        "",
    ]
    shown = regret[regret["vector"].isin(["greedy", "optimal"])]
    lines += [
        "**Does the vector the model calls best also measure best?** Measured total delay of "
        "the model's choices against the best of the vectors tried (greedy, optimal, "
        "all-local, max-local), by policy and N (regret 0 %: it measured best):",
        "",
        "| policy | N | greedy regret | optimal regret | best measured |",
        "|---|---:|---:|---:|---|",
    ]
    for (policy, n), part in shown.groupby(["policy", "devices"], sort=True):
        by = part.set_index("vector")["measured_regret"]
        everything = regret[(regret["policy"] == policy) & (regret["devices"] == n)]
        winner = ", ".join(everything[everything["measures_best"]]["vector"])
        lines.append(
            f"| {display_name(policy)} | {n} | {100 * by.get('greedy', np.nan):.1f} % "
            f"| {100 * by.get('optimal', np.nan):.1f} % | {winner} |"
        )
    hits = shown[shown["vector"] == "optimal"]["measures_best"]
    duel = greedy_against_optimal(rows)
    differ = duel[~duel["same_vector"]]
    lines += [
        "",
        f"The model's optimal vector measured best in {int(hits.sum())} of {len(hits)} cases, "
        f"{int(duel['same_vector'].sum())} of them cases where greedy chose the same vector "
        "(measured once, so a tie). Where the two chose different vectors "
        f"({len(differ)} cases), optimal's measured lower in "
        f"{int((differ['optimal_s'] < differ['greedy_s']).sum())} and greedy's in "
        f"{int((differ['greedy_s'] < differ['optimal_s']).sum())}; in "
        f"{int(differ['within_spread'].sum())} of them the difference is smaller than the "
        "measured spread (the larger of the two vectors' summed interquartile ranges).",
        "",
        "What the emulation cannot show: a real Pi's stage-by-stage speed (one quota slows "
        "every stage alike, where the Pi is memory-bound on the fully connected layers: "
        "`figures/testbed_calibration.csv`), WiFi's losses, contention and rate changes (a "
        "token bucket is a clean wire), and a real BS (here one core of the host).",
    ]
    return lines


def calibration_frame(measurement: Measurement) -> pd.DataFrame:
    """The calibration table of ``measurement`` (:func:`calibration_table`, as written)."""
    return pd.read_csv(measurement.source / "testbed_calibration.csv")


MEASUREMENT_FILES = ("testbed.csv", "testbed_calibration.csv", "testbed.manifest.json")


def tables(measurement: Measurement) -> dict[str, pd.DataFrame]:
    """The tables the testbed figure is saved with: the error summary and the regret of the
    model's chosen vectors (``testbed_summary.csv``, ``testbed_regret.csv``)."""
    return {"summary": error_summary(measurement.rows), "regret": regret_table(measurement.rows)}


def copy_measurement(
    measurement: Measurement, out_dir: str | os.PathLike[str] | None
) -> list[Path]:
    """Copy the measurement's own files into ``out_dir`` unchanged when they live elsewhere
    (never rewritten: :func:`write_measurement` does that, on request)."""
    from dnnsplit._io import atomic_write
    from dnnsplit.paper.output import output_dir

    out = output_dir(out_dir)
    if out.resolve() == measurement.source.resolve():
        return []
    return [
        atomic_write(out / name, (measurement.source / name).read_bytes())
        for name in MEASUREMENT_FILES
    ]


def save(measurement: Measurement, out_dir: str | os.PathLike[str] | None) -> list[Path]:
    """Draw and save the figure (``testbed.pdf``, ``.png``) with its tables and caption into
    ``out_dir``, and copy the measurement there (:func:`copy_measurement`)."""
    from dnnsplit.paper.output import save_figure

    words = caption(measurement.manifest)
    fig = testbed_figure(measurement.rows, caption=words)
    written = save_figure(fig, RUN, tables(measurement), out_dir, caption=words)
    return [*written, *copy_measurement(measurement, out_dir)]
