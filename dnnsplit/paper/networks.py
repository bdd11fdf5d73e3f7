"""Beyond AlexNet: the paper's claims for other networks (notebook 05).

Each network is a reading of the readings study (:data:`dnnsplit.paper.claims.NETWORKS`,
judged by :func:`dnnsplit.paper.readings.evaluate`); here is the report's section.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnnsplit.paper.claims import CLAIMS
from dnnsplit.paper.output import read_manifest
from dnnsplit.paper.stats import verdict_cells
from dnnsplit.paper.text import render, table
from dnnsplit.setup import Setup

__all__ = ["report_section"]


def report_section(directory: Path) -> str:
    """The report's section on the other networks (empty without ``networks.csv``)."""
    path = directory / "networks.csv"
    if not path.exists():
        return ""
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    cells = verdict_cells(frame)
    networks = list(dict.fromkeys(frame.reading))
    cells["cell"] = [f"{v} ({label})" for v, label in zip(cells.verdict, cells.label, strict=True)]
    wide = cells.pivot_table(index="claim", columns="reading", values="cell", aggfunc="first")
    shown = [c for c in CLAIMS if c.id in wide.index]  # the claims some network judges
    wide = wide.reindex(index=[c.id for c in shown], columns=networks).fillna("—")
    wide.index = pd.Index([c.title for c in shown], name="claim")
    wide.columns = [n.removeprefix("network-") for n in networks]
    rows = wide.reset_index() if shown else pd.DataFrame()
    counts = frame[frame.verdict == "reproduced"].groupby("reading").size()
    manifest = read_manifest(directory, "networks") or {}
    setup = Setup.from_dict(manifest["setup"]) if manifest.get("setup") else Setup()
    low, high = setup.max_stage
    return render(
        "networks",
        limits=f"{low}..{high}",
        table=table(rows),
        counts=", ".join(
            f"{n.removeprefix('network-')} {int(counts.get(n, 0))}" for n in networks
        ),
        claims=len(rows),
    )
