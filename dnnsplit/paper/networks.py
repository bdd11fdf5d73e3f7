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
    rows = []
    for claim in CLAIMS:
        row = {"claim": claim.title}
        for network in networks:
            cell = cells[(cells.claim == claim.id) & (cells.reading == network)]
            row[network.removeprefix("network-")] = (
                f"{cell.verdict.iloc[0]} ({cell.label.iloc[0]})" if not cell.empty else "—"
            )
        if any(v != "—" for k, v in row.items() if k != "claim"):
            rows.append(row)
    counts = frame[frame.verdict == "reproduced"].groupby("reading").size()
    manifest = read_manifest(directory, "networks") or {}
    setup = Setup.from_dict(manifest["setup"]) if manifest.get("setup") else Setup()
    low, high = setup.max_stage
    return render(
        "networks",
        limits=f"{low}..{high}",
        table=table(pd.DataFrame(rows)),
        counts=", ".join(
            f"{n.removeprefix('network-')} {int(counts.get(n, 0))}" for n in networks
        ),
        claims=len(rows),
    )
