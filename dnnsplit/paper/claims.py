"""The paper's claims, as plain data: the only place where the paper's numbers are written.

Each :class:`Claim` records what the paper says (its words and figure), the numbers it
states, which *kind* of statement it is, and which rows of which CSV answer it. The code
computes, the data states: one verdict function per kind (:mod:`dnnsplit.paper.verdicts`)
turns the rows into ``reproduced``, ``partly`` or ``not reproduced``, and the report
(:mod:`dnnsplit.paper.report`) prints the result. The rules' thresholds are data too
(:data:`RULES`).

Kinds:

- ``range``: the paper gives a range of values (and possibly the direction they move in
  along ``x``, and their sign). Checks: our range of means lies inside the paper's range
  widened by the slack; the trend has the stated direction; the values have the stated
  sign. All checks hold: reproduced; some: partly; none: not reproduced.
- ``bound``: every value should be at most ``bound``. Our worst mean within it:
  reproduced; the median mean within it: partly; else not reproduced.
- ``direction``: every line (``lines``) moves in the stated direction along ``x``. All:
  reproduced; some: partly; none: not reproduced.
- ``frequency``: ``solver`` reaches the ``reference`` solver's value (the same value
  within a relative 1e-9) in at least ``share`` of the cases, at every ``x``. At every x:
  reproduced; at some: partly; at none: not reproduced.

Quotes are the paper's statements as this artifact reads them from its evaluation section
(figures and text), paraphrased; the numbers are the paper's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dnnsplit.setup import MEMORY_RULE_MIB

__all__ = [
    "CLAIMS",
    "KINDS",
    "NETWORKS",
    "READINGS",
    "RULES",
    "Claim",
    "Reading",
    "Reads",
    "claim",
    "reading",
    "readings",
]

KINDS = ("range", "bound", "direction", "frequency")

#: Verdict thresholds, per kind (documented in the module docstring).
RULES: MappingProxyType[str, Any] = MappingProxyType(
    {
        # range: the paper's range is widened by the larger of these two before comparing
        "range_slack_points": 5.0,
        "range_slack_fraction_of_high": 0.25,
        # frequency: two values are "the same" within this relative distance
        "same_value_relative": 1e-9,
    }
)


@dataclass(frozen=True)
class Reads:
    """Which rows of which CSV a claim reads.

    Attributes
    ----------
    csv : str
        File stem in the figures folder (``fig3a_summary`` reads ``fig3a_summary.csv``).
    rows : mapping
        Column → value filters (all must hold).
    x : str
        The column the claim runs along (N, R).
    log_x : bool
        Judge the trend against log10(x) (R spans three decades).
    span : str
        ``all``: our range is min..max over x; ``ends``: the values at the first and last x;
        ``max``: only the largest value (context lines).
    lines : tuple of str
        ``direction`` claims: the columns that split the rows into lines.
    value : str
        The column holding our number (``mean`` in summaries, ``value`` in tidy rows).
    """

    csv: str
    rows: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    x: str = "devices"
    log_x: bool = False
    span: str = "all"
    lines: tuple[str, ...] = ()
    value: str = "mean"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper.

    Attributes
    ----------
    id : str
        Stable identifier (``fig5-greedy-gap``).
    figure : str
        Where the paper makes it.
    title : str
        Short label for tables.
    quote : str
        The paper's statement.
    kind : str
        One of :data:`KINDS`.
    numbers : mapping
        The paper's numbers: ``low``/``high`` (range), ``bound``, ``share`` (frequency).
    reads : Reads
        The rows that answer it.
    trend : str or None
        ``grows`` or ``shrinks`` along ``x`` (range, direction), or None.
    sign : str or None
        ``positive``: every value should be above 0 (range), or None.
    slack : float or None
        Overrides the range slack (percentage points); None: :data:`RULES`.
    solver, reference : str
        ``frequency``: whose value is compared with whose (the certified optimum, which Fig. 5
        computes with ``optimal``; exhaustive search finds the same).
    context : tuple of (label, Reads)
        Other rows the report quotes beside our number (min–max of their means).
    reasons : tuple of str
        Mechanisms the report checks when the claim is not reproduced (names of
        :data:`dnnsplit.paper.report.REASONS`).
    paper_text : str
        The paper's number as the report prints it.
    """

    id: str
    figure: str
    title: str
    quote: str
    kind: str
    numbers: MappingProxyType[str, float]
    reads: Reads
    paper_text: str
    trend: str | None = None
    sign: str | None = None
    slack: float | None = None
    solver: str = "greedy"
    reference: str = "optimal"
    context: tuple[tuple[str, Reads], ...] = ()
    reasons: tuple[str, ...] = ()


def _m(**values: Any) -> MappingProxyType[str, Any]:
    return MappingProxyType(values)


CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="fig5-greedy-gap",
        figure="Fig. 5",
        title="Greedy's variance vs the optimum (Fig. 5)",
        quote="the greedy's variance is within 2.4% of the optimal (exhaustive search) "
        "for 3 to 10 devices",
        kind="bound",
        numbers=_m(bound=2.4),
        paper_text="within 2.4% for 3–10 devices",
        reads=Reads("fig5_summary", _m(objective="variance", solver="greedy", metric="gap_pct")),
        context=(
            (
                "worst single seed",
                Reads(
                    "fig5",
                    _m(objective="variance", solver="greedy", metric="gap_pct"),
                    value="value",
                    span="max",
                ),
            ),
            (
                "std of delays / the optimum's",
                Reads(
                    "fig5_summary", _m(objective="variance", solver="greedy", metric="std_ratio")
                ),
            ),
            (
                "local-search's mean gap",
                Reads(
                    "fig5_summary",
                    _m(objective="variance", solver="local-search", metric="gap_pct"),
                ),
            ),
        ),
        reasons=("local-optimum", "small-optimum", "zero-optimum", "provenance"),
    ),
    Claim(
        id="fig5-greedy-finds-optimum",
        figure="Fig. 5",
        title="Greedy finds the optimum (Fig. 5)",
        quote="the greedy in almost all cases finds the optimal solution",
        kind="frequency",
        numbers=_m(share=0.9),  # our reading of "almost all cases": at least 90%
        paper_text="in almost all cases (read: ≥ 90% of cases at every N)",
        reads=Reads("fig5", _m(objective="variance", metric="variance"), value="value"),
        reasons=("local-optimum", "provenance"),
    ),
    Claim(
        id="fig3a-variance-sjf",
        figure="Fig. 3A",
        title="Variance gain over all-local at R = 1, SJF (Fig. 3A)",
        quote="greedy reduces the variance of delays by 2–21% against all-local execution "
        "(SJF at the BS, R = 1), less as N grows",
        kind="range",
        numbers=_m(low=2.0, high=21.0),
        trend="shrinks",
        paper_text="2–21%, shrinking as N grows",
        reads=Reads("fig3a_summary", _m(solver="greedy", policy="sjf", ratio=1.0)),
        reasons=("stuck", "limits", "baseline-spread", "noise", "provenance"),
    ),
    Claim(
        id="fig3a-variance-rr",
        figure="Fig. 3A",
        title="Variance gain over all-local at R = 1, RR (Fig. 3A)",
        quote="greedy reduces the variance of delays by 2.8–12.7% against all-local "
        "execution (RR at the BS, R = 1), less as N grows",
        kind="range",
        numbers=_m(low=2.8, high=12.7),
        trend="shrinks",
        paper_text="2.8–12.7%, shrinking as N grows",
        reads=Reads("fig3a_summary", _m(solver="greedy", policy="rr", ratio=1.0)),
        reasons=("stuck", "limits", "baseline-spread", "noise", "provenance"),
    ),
    Claim(
        id="fig3c-variance-vs-r",
        figure="Fig. 3C",
        title="Variance gain grows with R (Fig. 3C)",
        quote="the variance gain grows with the BS/device speed ratio R, from 21% to 67.2% "
        "for 10 devices",
        kind="range",
        numbers=_m(low=21.0, high=67.2),
        trend="grows",
        paper_text="from 21% to 67.2% for 10 devices",
        reads=Reads("fig3c_summary", _m(devices=10), x="ratio", log_x=True, span="ends"),
        reasons=("baseline-spread", "noise", "provenance"),
    ),
    Claim(
        id="fig3b-total",
        figure="Fig. 3B",
        title="Total delay vs all-local at R = 1 (Fig. 3B)",
        quote="at R = 1 greedy's total delay is slightly better than all-local execution",
        kind="range",
        numbers=_m(low=0.0, high=10.0),  # "slightly better": above 0, at most a few %
        sign="positive",
        slack=0.0,
        paper_text="slightly better (a few %)",
        reads=Reads("fig3b_summary", _m(solver="greedy", ratio=1.0)),
        reasons=("limits", "stuck", "idle-bs", "provenance"),
    ),
    Claim(
        id="fig3-local-share",
        figure="Fig. 3 (text)",
        title="More layers run locally as N grows (Fig. 3 text)",
        quote="the average percentage of locally executed layers grows with the number of devices",
        kind="direction",
        numbers=_m(),
        trend="grows",
        paper_text="the average share of local layers grows with N",
        reads=Reads("fig3_local_share_summary", _m(ratio=1.0), lines=("objective", "policy")),
        reasons=("queue", "provenance"),
    ),
)


def claim(claim_id: str) -> Claim:
    """The claim with id ``claim_id`` (a ``KeyError`` lists the ids)."""
    for found in CLAIMS:
        if found.id == claim_id:
            return found
    raise KeyError(f"no claim {claim_id!r}; claims: {', '.join(c.id for c in CLAIMS)}")


# --- readings: the ways of reading what the paper leaves open ------------------------------


@dataclass(frozen=True)
class Reading:
    """One reading of what the paper leaves open: a set of overrides of the setup.

    Attributes
    ----------
    id : str
        Stable identifier (``baseline-max-local``).
    title : str
        What the reading says, in words.
    changes : mapping
        Setup fields and their values for every sweep (``channel`` takes a mapping of
        channel constants).
    fig5_changes : mapping
        Setup fields for the Fig. 5 sweep only (whose R and policy the paper does not give).
    coordinate : str
        The choice it is an answer to (one per coordinate in a combination).
    """

    id: str
    title: str
    changes: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fig5_changes: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    coordinate: str = ""


READINGS: tuple[Reading, ...] = (
    Reading("default", "this artifact's reading (docs/model.md)"),
    Reading(
        "baseline-max-local",
        "all-local means p = s̃_i, the most local point memory allows",
        _m(baseline="max-local"),
        coordinate="baseline",
    ),
    Reading(
        "pmin-1",
        "partition points 1..s̃_i: no full offload (the paper's p_i ∈ {1..s̃_i})",
        _m(lowest_point=1),
        coordinate="lowest_point",
    ),
    Reading("start-ones", "greedy starts at p = 1", _m(start="ones"), coordinate="start"),
    Reading("start-local", "greedy starts at p = s̃_i", _m(start="local"), coordinate="start"),
    Reading(
        "background-0-0", "no background processes", _m(background=(0, 0)), coordinate="background"
    ),
    Reading(
        "background-0-1", "0–1 background processes", _m(background=(0, 1)), coordinate="background"
    ),
    Reading(
        "background-1-3", "1–3 background processes", _m(background=(1, 3)), coordinate="background"
    ),
    Reading(
        "background-0-5", "0–5 background processes", _m(background=(0, 5)), coordinate="background"
    ),
    Reading(
        "local-exact",
        "eq. (1) in its exact round-robin form",
        _m(local_delay="exact"),
        coordinate="local_delay",
    ),
    Reading("quantum-1ms", "device quantum q = 1 ms", _m(quantum_s=0.001), coordinate="quantum_s"),
    Reading(
        "quantum-100ms", "device quantum q = 100 ms", _m(quantum_s=0.1), coordinate="quantum_s"
    ),
    Reading(
        "bs-quantum-1ms",
        "BS round-robin quantum 1 ms",
        _m(bs_quantum_s=0.001),
        coordinate="bs_quantum_s",
    ),
    Reading(
        "bs-quantum-100ms",
        "BS round-robin quantum 100 ms",
        _m(bs_quantum_s=0.1),
        coordinate="bs_quantum_s",
    ),
    Reading(
        "bs-quantum-1s",
        "BS round-robin quantum 1 s",
        _m(bs_quantum_s=1.0),
        coordinate="bs_quantum_s",
    ),
    Reading(
        "profile-alexnet11",
        "AlexNet cut after every layer (11 stages), memory limits from the memory rule",
        _m(profile="alexnet11-pi3b-estimated", memory_mib=MEMORY_RULE_MIB),
        coordinate="profile",
    ),
    Reading(
        "profile-measured",
        "stage times measured on our machine (1 thread) instead of the Pi 3B+ estimate",
        _m(profile="alexnet-epyc-1t-measured"),
        coordinate="profile",
    ),
    Reading(
        "uplink-x0.2",
        "uplink rates × 0.2 (MAC efficiency 0.14)",
        _m(channel=_m(mac_efficiency=0.14)),
        coordinate="uplink",
    ),
    Reading(
        "uplink-x0.1",
        "uplink rates × 0.1 (MAC efficiency 0.07)",
        _m(channel=_m(mac_efficiency=0.07)),
        coordinate="uplink",
    ),
    Reading("fig5-r10", "Fig. 5 at R = 10", fig5_changes=_m(ratio=10.0), coordinate="fig5_ratio"),
    Reading(
        "fig5-r1000", "Fig. 5 at R = 1000", fig5_changes=_m(ratio=1000.0), coordinate="fig5_ratio"
    ),
    Reading(
        "fig5-rr",
        "Fig. 5 under round-robin at the BS",
        fig5_changes=_m(policy="rr"),
        coordinate="fig5_policy",
    ),
    Reading(
        "fig5-ps",
        "Fig. 5 under processor sharing at the BS",
        fig5_changes=_m(policy="ps"),
        coordinate="fig5_policy",
    ),
)


#: Beyond AlexNet: the same claims for other networks, each with its estimated Pi 3B+
#: profile and memory limits from the memory rule (which gives AlexNet the paper's 5..8).
NETWORKS: tuple[Reading, ...] = tuple(
    Reading(
        f"network-{model}",
        f"{model}, estimated Pi 3B+ stage times, memory limits from the memory rule",
        _m(profile=f"{model}-pi3b-estimated", memory_mib=MEMORY_RULE_MIB),
        coordinate="network",
    )
    for model in ("alexnet", "vgg16", "resnet18", "mobilenetv2")
)


def reading(reading_id: str) -> Reading:
    """The reading with id ``reading_id`` (a ``KeyError`` lists the ids)."""
    for found in READINGS:
        if found.id == reading_id:
            return found
    raise KeyError(f"no reading {reading_id!r}; readings: {', '.join(r.id for r in READINGS)}")


def readings(ids: Sequence[str] = ()) -> tuple[Reading, ...]:
    """The readings with these ids, in the declared order (empty: every reading)."""
    if not ids:
        return READINGS
    wanted = {reading(i).id for i in ids}  # a KeyError names an unknown id
    return tuple(r for r in READINGS if r.id in wanted)
