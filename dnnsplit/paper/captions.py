"""Figure captions, built from the setup and the profiles' provenance (never typed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dnnsplit.profiles import load_profile
from dnnsplit.setup import Setup

if TYPE_CHECKING:
    from dnnsplit.paper.readings import StudyGrids

__all__ = ["profile_caption", "profiles_caption", "readings_caption", "sweep_caption"]

INTERVAL = "shaded: 95% seeded bootstrap interval"


def profile_caption(setup: Setup) -> str:
    """Where the device's stage times come from (method in capitals), and the BS's."""
    prov = load_profile(setup.profile).provenance
    if setup.bs_profile is None:
        bs = "ratio model t_s / R"
    else:
        bs_prov = load_profile(setup.bs_profile).provenance
        bs = f"{bs_prov['hardware']}, {bs_prov['method'].upper()} profile {setup.bs_profile}"
    return (
        f"Device stage times: {prov['hardware']}, {prov['method'].upper()} "
        f"({prov['source']}; {prov['framework']}; {prov['date']}). BS: {bs}."
    )


def sweep_caption(setup: Setup, seeds: Sequence[int], *, show: str | None = None) -> str:
    """Seeds and interval, then the profiles. ``show="bs"`` leads with the BS policy and R
    (Fig. 5); ``show="ratio"`` adds R after the interval."""
    count = f"{len(seeds)} seeds, {INTERVAL}"
    if show == "bs":
        text = f"{setup.policy.upper()} at the BS, R = {setup.ratio:g}; mean over {count}. "
    elif show == "ratio":
        text = f"Mean over {count}; R = {setup.ratio:g}. "
    else:
        text = f"Mean over {count}. "
    return text + profile_caption(setup)


def profiles_caption(names: Sequence[str]) -> str:
    """Fig. 4: every profile's method, hardware, framework and date."""
    lines = []
    for name in names:
        prov = load_profile(name).provenance
        lines.append(
            f"{name}: {prov['method'].upper()} on/for {prov['hardware']} "
            f"({prov['framework']}, {prov['date']})"
        )
    return "Profiles. " + " | ".join(lines)


def readings_caption(grids: StudyGrids, quick: bool) -> str:
    """The verdict map: what each cell is, and the grid behind it."""
    fig3, fig5 = grids.by_devices, grids.fig5
    text = (
        "Colour: the verdict on each claim (columns) under each reading (rows; '+' joins the "
        "readings of a combination found by the search); label: our number (a range of "
        f"means in %, a worst mean gap in %, a share of cases, or lines). Fig. 3: N = "
        f"{min(fig3.devices)}–{max(fig3.devices)}, {len(fig3.seeds)} seeds; Fig. 5: N = "
        f"{min(fig5.devices)}–{max(fig5.devices)}, {len(fig5.seeds)} seeds."
    )
    return text + (" QUICK RUN: a reduced grid, a smoke test, not a result." if quick else "")
