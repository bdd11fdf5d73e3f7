"""Writing a figure's files: the figure (PDF, PNG), its caption, the CSVs it was drawn from,
and the manifest of the run that made them; each whole or not at all, the same inputs giving
the same bytes (rows sorted, floats in a fixed format, no dates). A notebook's empty
``output_dir`` is ``build/figures/`` (ignored by git): run by hand, it never touches the
committed ``figures/`` (``./run_all.sh`` passes that).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

import dnnsplit
from dnnsplit._io import atomic_write, csv_text
from dnnsplit.draw import SEED_RULE
from dnnsplit.paper.captions import Caption, text
from dnnsplit.paper.experiment import Experiment
from dnnsplit.paper.plots import paper_style
from dnnsplit.paths import BUILD_DIR, INTERACTIVE_DIR, shown
from dnnsplit.setup import Setup

__all__ = [
    "NOTEBOOK_OF_RUN",
    "caption_path",
    "experiment_of",
    "figures_by_notebook",
    "notebook_display",
    "output_dir",
    "read_caption",
    "read_manifest",
    "save_figure",
    "scratch_dir",
    "setup_of",
    "write_manifest",
    "write_table",
]

FLOAT_FORMAT = "%.10g"
#: Which notebook writes each run's files, said once: every manifest records it
#: (:func:`write_manifest`), and :func:`figures_by_notebook` reads it back.
NOTEBOOK_OF_RUN = {
    "quickstart": "00_quickstart.ipynb",
    "fig4": "01_stage_profiles.ipynb",
    "fig3": "02_improvement_over_all_local.ipynb",
    "fig5": "03_greedy_vs_optimal.ipynb",
    "beyond": "04_beyond_the_paper.ipynb",
    "networks": "05_other_networks.ipynb",
    "readings": "06_readings.ipynb",
    "mechanism": "06_readings.ipynb",
    "testbed": "08_testbed.ipynb",
    "energy": "09_energy.ipynb",
    "online": "10_online.ipynb",
}


class Written(list[Path]):
    """The files a save wrote; shown (in a notebook, say) relative to the repository or
    the working folder, never as a path of the machine."""

    def __repr__(self) -> str:
        return "\n".join(shown(path) for path in self)


def notebook_display() -> None:
    """Readable tables in a notebook: numbers to 4 significant digits, every column shown,
    long text cut at 60 characters (pandas' display options, for this kernel)."""
    pd.set_option("display.precision", 4, "display.max_columns", None, "display.width", 200,
                  "display.max_colwidth", 60, "display.float_format", lambda v: f"{v:.4g}")


def output_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The folder a notebook writes to: ``value``, or ``build/figures/`` when empty."""
    return Path(value) if value else INTERACTIVE_DIR


def scratch_dir(name: str, *, quick: bool = False) -> Path:
    """A folder under ``build/`` (ignored by git) for intermediate tables of ``name``; a
    quick run has its own, so it never mixes with a full run's."""
    return BUILD_DIR / ("quick" if quick else "work") / name


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` as CSV with sorted rows and a fixed float format, atomically."""
    ordered = frame.sort_values(list(frame.columns), kind="stable", na_position="last")
    return atomic_write(path, csv_text(ordered, FLOAT_FORMAT))


def save_figure(
    fig: Figure,
    name: str,
    tables: Mapping[str, pd.DataFrame],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    caption: Caption | str = "",
) -> Written:
    """Save ``fig`` as ``NAME.pdf`` and ``NAME.png`` with its tables as CSV beside it.

    ``tables`` maps a suffix to a table: ``""`` gives ``NAME.csv`` (the tidy rows the figure
    was drawn from), ``"summary"`` gives ``NAME_summary.csv``, and so on. ``caption``, the
    figure's full caption with its provenance, goes to ``NAME.caption.md`` (the image
    carries a short one). ``out_dir`` empty: ``build/figures/``.
    """
    out = output_dir(out_dir)
    written = Written()
    full = text(caption, full=True).strip()
    if full:
        written.append(atomic_write(caption_path(out, name), full + "\n"))
    for suffix, frame in tables.items():
        stem = f"{name}_{suffix}" if suffix else name
        written.append(write_table(frame, out / f"{stem}.csv"))
    with paper_style():
        for fmt, metadata in (
            ("pdf", {"CreationDate": None, "Producer": None, "Creator": None}),
            ("png", {"Software": None}),
        ):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, metadata=metadata, dpi=150, bbox_inches="tight")
            written.append(atomic_write(out / f"{name}.{fmt}", buffer.getvalue()))
    return written


def caption_path(out_dir: str | os.PathLike[str] | None, name: str) -> Path:
    """Where the full caption of figure ``name`` lives (``NAME.caption.md``)."""
    return output_dir(out_dir) / f"{name}.caption.md"


def read_caption(out_dir: str | os.PathLike[str] | None, name: str) -> str:
    """The full caption of figure ``name``, or "" when it has none."""
    path = caption_path(out_dir, name)
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def manifest_path(out_dir: str | os.PathLike[str] | None, run: str) -> Path:
    """Where the manifest of pipeline run ``run`` (``fig3``, ``fig5``, ...) lives."""
    return output_dir(out_dir) / f"{run}.manifest.json"


def figures_by_notebook(out_dir: str | os.PathLike[str] | None) -> dict[str, list[str]]:
    """The figures each notebook wrote into ``out_dir``, from the manifests there (a manifest
    records its notebook; an older one without it, its run's)."""
    found: dict[str, list[str]] = {}
    for path in sorted(output_dir(out_dir).glob("*.manifest.json")):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        notebook = manifest.get("notebook") or NOTEBOOK_OF_RUN.get(manifest.get("run", ""))
        if notebook:
            found.setdefault(notebook, []).extend(manifest.get("figures", []))
    return found


def setup_of(out_dir: str | os.PathLike[str] | None, run: str) -> Setup | None:
    """The setup the manifest of ``run`` records, or None (no manifest, or no setup)."""
    recorded = (read_manifest(out_dir, run) or {}).get("setup")
    where = f"{run}.manifest.json setup"
    return None if recorded is None else Setup.from_dict(recorded, where=where)


def experiment_of(out_dir: str | os.PathLike[str] | None, run: str) -> Experiment | None:
    """The experiment the manifest of ``run`` records, or None."""
    recorded = (read_manifest(out_dir, run) or {}).get("experiment")
    where = f"{run}.manifest.json experiment"
    return None if recorded is None else Experiment.from_dict(recorded, where=where)


def write_manifest(
    out_dir: str | os.PathLike[str] | None,
    run: str,
    *,
    setup: Setup | None,
    experiment: Experiment | None = None,
    grids: Mapping[str, Any],
    quick: bool,
    figures: Sequence[str],
    notes: Mapping[str, Any] | None = None,
) -> Written:
    """Write ``RUN.manifest.json``: what produced the figures of one pipeline run.

    Parameters
    ----------
    out_dir : path
        The figures' folder (empty: ``build/figures/``).
    run : str
        Name of the run (``fig3``, ``fig5``, ``beyond``, ...).
    setup : Setup or None
        The base setup of its sweeps (None for runs without scenarios, e.g. Fig. 4).
    experiment : Experiment or None
        The knobs of its experiments (greedy's start, the baseline, restarts), or None.
    grids : mapping
        What each sweep varied (plain data, e.g. :meth:`Grid.to_dict`).
    quick : bool
        A smoke run with a reduced grid (the report says so).
    figures : sequence of str
        The figures this run wrote.
    notes : mapping, optional
        Anything else the report should know (plain data).
    """
    data = {
        "run": run,
        "notebook": NOTEBOOK_OF_RUN.get(run),
        "package": "dnnsplit",
        "version": dnnsplit.__version__,
        "quick": bool(quick),
        "seed_rule": SEED_RULE,
        "setup": setup.to_dict() if setup is not None else None,
        "experiment": experiment.to_dict() if experiment is not None else None,
        "grids": {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in grids.items()},
        "figures": list(figures),
        **({"notes": dict(notes)} if notes else {}),
    }
    content = json.dumps(data, indent=2, allow_nan=False) + "\n"
    return Written([atomic_write(manifest_path(out_dir, run), content)])


def read_manifest(out_dir: str | os.PathLike[str] | None, run: str) -> dict[str, Any] | None:
    """The manifest of ``run`` in ``out_dir``, or None when that run has not written one."""
    path = manifest_path(out_dir, run)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
