"""Figure captions: what each figure shows (``templates/captions.md.j2``, filled from the
setup and the grid the run used), then where its numbers come from (never typed): the seeds,
the intervals and whether the stage times are measured or ESTIMATED. Text from a profile is
escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dnnsplit.paper.claims import Claim
from dnnsplit.paper.text import escape, template_module
from dnnsplit.policies import display_name
from dnnsplit.profiles import load_profile
from dnnsplit.setup import Setup

if TYPE_CHECKING:
    from dnnsplit.paper.sweeps import Grid

__all__ = ["Caption", "figure_caption", "profile_caption", "profiles_caption", "text"]

INTERVAL = "shaded: seeded 95% bootstrap interval of the mean"


@dataclass(frozen=True)
class Caption:
    """A figure's caption: ``short`` for the image, ``full`` for the file beside it
    (``NAME.caption.md``, which adds the profile's entry in data/measurements/README.md)."""

    short: str
    full: str

    def __add__(self, other: Caption | str) -> Caption:
        """Both lengths followed by ``other`` (a string goes into both)."""
        more = other if isinstance(other, Caption) else Caption(other, other)
        pairs = ((self.short, more.short), (self.full, more.full))
        return Caption(*(" ".join(p for p in pair if p) for pair in pairs))


def text(caption: Caption | str, *, full: bool = False) -> str:
    """The short (or ``full``) text of a caption; a plain string is both."""
    if isinstance(caption, Caption):
        return caption.full if full else caption.short
    return caption


def _provenance(profile: str) -> tuple[str, str]:
    """A profile's method (in capitals) and hardware, escaped."""
    found = load_profile(profile).provenance
    return escape(found["method"]).upper(), escape(found["hardware"])


def profile_caption(setup: Setup) -> Caption:
    """Where the device's stage times come from (method in capitals) and the BS's, by
    reference to the profile's entry in ``data/measurements/README.md``."""
    method, hardware = _provenance(setup.profile)
    bs = "BS: t_s / R."
    if setup.bs_profile is not None:
        bs = f"BS: `{escape(setup.bs_profile)}`, {_provenance(setup.bs_profile)[0]}."
    full = (
        f"Device stage times: `{escape(setup.profile)}`, {method} for the {hardware} (its "
        f"method and sources: its entry in data/measurements/README.md). {bs}"
    )
    return Caption(f"Stage times {method} ({hardware}).", full)


def _span(values: Sequence[Any]) -> str:
    shown = [f"{float(v):g}" for v in values]
    return shown[0] if len(shown) == 1 else f"{shown[0]}–{shown[-1]}"


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def figure_caption(
    name: str,
    setup: Setup | None = None,
    grid: Grid | None = None,
    *,
    baseline: str = "all-local",
    paper: Sequence[Claim] = (),
    quick: bool = False,
    **words: Any,
) -> Caption:
    """The caption of figure ``name`` (a macro of ``templates/captions.md.j2``) in the run's
    words (``grid``, ``setup``, the ``baseline``, the numbers of the ``paper`` claims it
    draws, any ``words`` its sentence needs), then the seeds and the stage times' provenance
    (``setup`` None: none)."""
    vary = dict(grid.vary) if grid is not None else {}
    policies = vary.get("policy") or ([setup.policy] if setup else [])
    pinned = sorted({x for c in paper if c.paper is not None for x in c.paper.at})
    bounds = [c.paper.band[1] for c in paper if c.paper is not None and c.kind == "value"]
    targets = [c.reads[0].rows.get("devices") for c in paper]
    context = {
        "devices": _span(grid.devices) if grid is not None else "",
        "policies": _and([display_name(p) for p in policies]) if policies else "",
        "policy": display_name(setup.policy) if setup else "",
        "ratio": f"{setup.ratio:g}" if setup else "",
        "ratios": _span(vary.get("ratio", [setup.ratio] if setup else [0])),
        "quanta": _span([1000 * q for q in vary.get("quantum_s", [0])]),
        "baseline": baseline,
        "other": "max-local" if baseline == "all-local" else "all-local",
        "pinned": _and([f"{x:g}" for x in pinned]) if pinned else "",
        "bound": f"{bounds[0]:g}%" if bounds else "",
        "target": next((f"{t:g}" for t in targets if t is not None), ""),
        **words,
    }
    what = " ".join(str(getattr(template_module("captions"), name)(context)).split())
    caption = Caption(what, what)
    if grid is not None and grid.seeds:
        seeds = len(grid.seeds)
        caption = caption + Caption(
            f"{seeds} seeds.",
            f"Means over {seeds} seeds ({INTERVAL}; the seeds' own spread is in the summary "
            "CSV). The setup is in the run's manifest.",
        )
    if setup is not None:
        caption = caption + profile_caption(setup)
    if quick:
        caption = caption + "QUICK RUN: a reduced grid, a smoke test, not a result."
    return caption


def profiles_caption(names: Sequence[str]) -> Caption:
    """Fig. 4: what it shows, then each profile's method and hardware (its sources: its entry
    in ``data/measurements/README.md``)."""
    listed = "; ".join(f"`{escape(n)}`: {', '.join(_provenance(n))}" for n in names)
    return figure_caption("fig4", None) + Caption(
        "", f"Profiles: {listed} (sources: data/measurements/README.md)."
    )
