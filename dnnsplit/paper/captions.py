"""Figure captions, built from the setup and the profiles' provenance (never typed).

Every caption comes in two lengths (:class:`Caption`): a short one drawn in the image (what
is plotted, the seeds, and whether the stage times are measured or ESTIMATED), and the full
one with every profile's provenance, written beside the figure (``NAME.caption.md``) and
quoted in REPRODUCTION.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dnnsplit.policies import display_name
from dnnsplit.profiles import load_profile
from dnnsplit.setup import Setup

if TYPE_CHECKING:
    from dnnsplit.paper.readings import StudyGrids

__all__ = [
    "INTERVAL",
    "Caption",
    "profile_caption",
    "profiles_caption",
    "readings_caption",
    "scenario_caption",
    "sweep_caption",
    "text",
]

INTERVAL = "shaded: 95% seeded bootstrap interval of the mean"
SEE_FULL = "Full provenance: the caption file beside this figure."


@dataclass(frozen=True)
class Caption:
    """A figure's caption: ``short`` for the image, ``full`` for the file beside it."""

    short: str
    full: str

    def __add__(self, other: Caption | str) -> Caption:
        """Both lengths followed by ``other`` (a string goes into both)."""
        if isinstance(other, Caption):
            return Caption(f"{self.short} {other.short}", f"{self.full} {other.full}")
        return Caption(f"{self.short} {other}", f"{self.full} {other}")


def text(caption: Caption | str, *, full: bool = False) -> str:
    """The short (or ``full``) text of a caption; a plain string is both."""
    if isinstance(caption, Caption):
        return caption.full if full else caption.short
    return caption


def _method(name: str) -> str:
    prov = load_profile(name).provenance
    return f"{prov['method'].upper()} ({prov['hardware']})"


def profile_caption(setup: Setup) -> Caption:
    """Where the device's stage times come from (method in capitals), and the BS's."""
    prov = load_profile(setup.profile).provenance
    if setup.bs_profile is None:
        bs = "ratio model t_s / R"
        bs_short = "BS: t_s / R."
    else:
        bs_prov = load_profile(setup.bs_profile).provenance
        bs = f"{bs_prov['hardware']}, {bs_prov['method'].upper()} profile {setup.bs_profile}"
        bs_short = f"BS stage times {_method(setup.bs_profile)}."
    return Caption(
        f"Device stage times {_method(setup.profile)}; {bs_short} {SEE_FULL}",
        f"Device stage times: {prov['hardware']}, {prov['method'].upper()} "
        f"({prov['source']}; {prov['framework']}; {prov['date']}). BS: {bs}.",
    )


def sweep_caption(setup: Setup, seeds: Sequence[int], *, show: str | None = None) -> Caption:
    """Seeds and interval, then the profiles. ``show="bs"`` leads with the BS policy and R
    (Fig. 5); ``show="ratio"`` adds R after the interval."""
    count = f"{len(seeds)} seeds, {INTERVAL}"
    if show == "bs":
        lead = f"{display_name(setup.policy)} at the BS, R = {setup.ratio:g}; mean over {count}."
    elif show == "ratio":
        lead = f"Mean over {count}; R = {setup.ratio:g}."
    else:
        lead = f"Mean over {count}."
    full = (
        f"{lead} The seed-to-seed spread (min, median, max) is in the summary CSV. "
        "The setup is in the run's manifest."
    )
    return Caption(lead, full) + profile_caption(setup)


def scenario_caption(setup: Setup, devices: int, seed: int) -> Caption:
    """One scenario of the paper's setup: which, and the profiles."""
    lead = (
        f"One scenario: N = {devices}, seed {seed}, {display_name(setup.policy)} at the BS, "
        f"R = {setup.ratio:g} (dnnsplit scenario --devices {devices} --seed {seed})."
    )
    return Caption(lead, lead + " The setup is in the run's manifest.") + profile_caption(setup)


def profiles_caption(names: Sequence[str]) -> Caption:
    """Fig. 4: every profile's method, hardware, framework and date."""
    lines = []
    for name in names:
        prov = load_profile(name).provenance
        lines.append(
            f"{name}: {prov['method'].upper()} on/for {prov['hardware']} "
            f"({prov['source']}; {prov['framework']}; {prov['date']})"
        )
    estimated = sum(load_profile(n).provenance["method"] == "estimated" for n in names)
    short = (
        f"{estimated} of {len(names)} profiles are ESTIMATED (roofline rule), the others "
        f"MEASURED on our host; bars in the legend say which. {SEE_FULL}"
    )
    return Caption(short, "Profiles. " + " | ".join(lines))


def readings_caption(grids: StudyGrids, quick: bool, setup: Setup | None = None) -> Caption:
    """The verdict map: what each cell is, the grid behind it, and (given the default
    reading's ``setup``) its stage times."""
    fig3, fig5 = grids.by_devices, grids.fig5
    grid = (
        f"Fig. 3: N = {min(fig3.devices)}–{max(fig3.devices)}, {len(fig3.seeds)} seeds; Fig. 5: "
        f"N = {min(fig5.devices)}–{max(fig5.devices)}, {len(fig5.seeds)} seeds."
    )
    short = "Cell: the verdict (colour, hatching and word) and our number. " + grid
    full = (
        "Each cell is the verdict on one claim (columns) under one reading of what the paper "
        "leaves open (rows; '+' joins the declared readings of a combination a search found); "
        "its label is our number: a range of means in %, a share of cases, or the points that "
        "hold. " + grid
    )
    if quick:
        short += " QUICK RUN: a reduced grid, a smoke test, not a result."
        full += " QUICK RUN: a reduced grid, a smoke test, not a result."
    caption = Caption(short, full)
    return caption + profile_caption(setup) if setup is not None else caption
