"""The paper's claims, as plain data: the only place where the paper's numbers are written.

Each :class:`Claim` records what the paper says (its words, figure or section), the numbers
it states **per point** (a value or a band at each N or R), the quantity they measure, which
BS policies the claim covers, and which rows of which CSV answer it. The code computes, the
data states: one verdict function per *kind* (:mod:`dnnsplit.paper.verdicts`) judges every
point against the paper's value at that point, and the report
(:mod:`dnnsplit.paper.report`) prints the result.

**Verdict levels** (the same for every claim):

- ``reproduced``: every point lies within the claim's tolerance of the paper's value or
  band, and the direction the paper states (trend, sign) holds;
- ``partly``: some points lie within tolerance and the stated direction holds;
- ``direction only``: no point lies within tolerance, but the direction, ordering or sign
  the paper states holds;
- ``not reproduced``: otherwise.

Claims that state only a direction, an ordering or a sign (``direction``, ``ordering``,
``sign``, ``largest``) have no value to be near: each point either holds or not, so they are
``reproduced`` when every point holds, ``partly`` when some do, ``not reproduced`` when none
do. A ``frequency`` claim's points are the shares of cases per N.

**Tolerances** belong to the quantity a claim is about (:data:`QUANTITIES`), never to the
claim, so two claims about the same quantity judge the same number at the same point the
same way: 53.3% at (N = 10, R = 1, SJF) is equally far from the paper's 21% under Fig. 3A
and under Fig. 3C. Each tolerance carries its one-line justification.

**The paper's value at a point.** Where the paper gives a range and says the value shrinks
or grows along the axis, the range's ends are read as its values at the axis' ends (Fig.
3A: "2–21%, less as N grows" is 21% at N = 10 and 2% at N = 50); between them the paper's
value is the band of the range. Each claim's ``paper_text`` says so where it is read this
way.

Quotes are the paper's statements as this artifact reads them from its evaluation section
(figures and text) and conclusion; the numbers are the paper's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dnnsplit.setup import MEMORY_RULE_MIB

__all__ = [
    "CLAIMS",
    "FIG5_BOUND_PCT",
    "KINDS",
    "LEVELS",
    "NETWORKS",
    "QUANTITIES",
    "READINGS",
    "Claim",
    "PaperValues",
    "Quantity",
    "Reading",
    "Reads",
    "claim",
    "drawn_on",
    "reading",
    "readings",
]

#: The kinds of claim; one verdict function each (:data:`dnnsplit.paper.verdicts.VERDICTS`).
KINDS = ("value", "frequency", "direction", "sign", "ordering", "largest")
#: The verdict levels, best first.
LEVELS = ("reproduced", "partly", "direction only", "not reproduced")


@dataclass(frozen=True)
class Quantity:
    """What a claim's numbers measure, and how close counts as the paper's value.

    Attributes
    ----------
    id : str
        Stable identifier.
    name : str
        In words.
    unit : str
        The unit of its values and of the tolerance (``%``, ``points``).
    tolerance : float
        A point is within tolerance when it lies at most this far outside the paper's value
        or band (in ``unit``).
    why : str
        One line: why this tolerance.
    """

    id: str
    name: str
    unit: str
    tolerance: float
    why: str


#: Every quantity a claim may be about, with its tolerance.
QUANTITIES: MappingProxyType[str, Quantity] = MappingProxyType(
    {
        q.id: q
        for q in (
            Quantity(
                "gain-pct",
                "greedy's improvement over all-local (%), of the variance or the total delay",
                "percentage points",
                5.0,
                "the paper prints single gains from one figure with no seed count; ±5 points "
                "reads a value off a plot yet tells 21% from 53%",
            ),
            Quantity(
                "gap-pct",
                "greedy's variance above the optimum's (%)",
                "percentage points",
                0.0,
                "the paper states a bound (within 2.4%); a bound is its own tolerance",
            ),
            Quantity(
                "share-found",
                "share of cases where greedy reaches the optimum",
                "share",
                0.0,
                "'almost all cases' is read as at least 90%, itself the generous end of a "
                "vague phrase",
            ),
            Quantity(
                "local-share-pct",
                "share of stages run locally (%)",
                "percentage points",
                0.0,
                "the paper states only a direction, so no value is compared",
            ),
        )
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
        Judge a trend against log10(x) (R spans three decades).
    lines : tuple of str
        Columns that split the rows into lines (``policy``): a trend is judged per line,
        an ordering compares lines, ``largest`` looks for the largest line.
    value : str
        The column holding our number (``mean`` in summaries, ``value`` in tidy rows).
    label : str
        What these rows are, when a claim reads several (``variance``, ``total delay``).
    """

    csv: str
    rows: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    x: str = "devices"
    log_x: bool = False
    lines: tuple[str, ...] = ()
    value: str = "mean"
    label: str = ""


@dataclass(frozen=True)
class PaperValues:
    """The paper's number at each point of a claim.

    Attributes
    ----------
    band : (float, float)
        The paper's range; at a point not in ``at`` the paper's value is anywhere in it
        (``-inf`` or ``inf`` for an open end: a bound).
    at : mapping
        x → the paper's single value at that point (the ends of a range the paper says
        shrinks or grows).
    """

    band: tuple[float, float]
    at: MappingProxyType[float, float] = field(default_factory=lambda: MappingProxyType({}))

    def at_point(self, x: float) -> tuple[float, float]:
        """The paper's value at ``x`` as an interval (a single value is ``(v, v)``)."""
        if x in self.at:
            value = self.at[x]
            return value, value
        return self.band


@dataclass(frozen=True)
class Claim:
    """One claim of the paper.

    Attributes
    ----------
    id : str
        Stable identifier (``fig5-greedy-gap``).
    figure : str
        Where the paper makes it (a figure, its text, or the conclusion).
    title : str
        Short label for tables and figure headings.
    quote : str
        The paper's words; for a claim the paper implies without stating it, how it
        follows from them, in parentheses (the report then shows it as ours, unquoted).
    kind : str
        One of :data:`KINDS`.
    quantity : str
        A key of :data:`QUANTITIES`: the tolerance comes from there.
    reads : tuple of Reads
        The rows that answer it (several for a claim about two quantities).
    paper_text : str
        The paper's number as the report prints it, saying how it is read per point.
    policies : tuple of str
        The BS policies the claim covers.
    paper : PaperValues or None
        ``value``: the paper's value or band per point.
    share : float
        ``frequency``: the share of cases the paper's words mean.
    trend : str or None
        ``grows`` or ``shrinks`` along ``x`` (value, direction), or None.
    sign : str or None
        ``positive``: every value above 0 (value, sign), or None.
    target : float or None
        ``largest``: the line (e.g. N = 10) that should be largest at every x.
    statistic : str
        The statistic the verdict judges, and why (printed in the report).
    solver, reference : str
        ``frequency``: whose value is compared with whose.
    context : tuple of (label, Reads)
        Other rows the report quotes beside our number.
    reasons : tuple of str
        Mechanisms the report checks when the claim is not reproduced (names of
        :data:`dnnsplit.paper.report.REASONS`).
    """

    id: str
    figure: str
    title: str
    quote: str
    kind: str
    quantity: str
    reads: tuple[Reads, ...]
    paper_text: str
    policies: tuple[str, ...]
    paper: PaperValues | None = None
    share: float = 0.0
    trend: str | None = None
    sign: str | None = None
    target: float | None = None
    statistic: str = "means over seeds, point by point"
    solver: str = "greedy"
    reference: str = "optimal"
    context: tuple[tuple[str, Reads], ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def tolerance(self) -> Quantity:
        """The quantity's tolerance (the same for every claim about it)."""
        return QUANTITIES[self.quantity]

    @property
    def csvs(self) -> tuple[str, ...]:
        """The CSV stems the claim reads."""
        return tuple(dict.fromkeys(r.csv for r in self.reads))


def _m(**values: Any) -> MappingProxyType[str, Any]:
    return MappingProxyType(values)


def _at(**values: float) -> MappingProxyType[float, float]:
    """``_at(x10=21.0, x50=2.0)``: the paper's single values at x = 10 and x = 50."""
    return MappingProxyType({float(k.removeprefix("x")): v for k, v in values.items()})


#: The paper's bound of Fig. 5: greedy's variance "within 2.4%" of the optimum. The Fig. 5
#: summary also counts the cases within it (:func:`dnnsplit.paper.stats.gap_statistics`).
FIG5_BOUND_PCT = 2.4

_BOTH = ("sjf", "rr")
_FIG3A_SJF = Reads("fig3a_summary", _m(solver="greedy", policy="sjf", ratio=1.0))
_FIG3A_RR = Reads("fig3a_summary", _m(solver="greedy", policy="rr", ratio=1.0))
_FIG3A_BOTH = Reads(
    "fig3a_summary", _m(solver="greedy", ratio=1.0), lines=("policy",), label="variance"
)
_FIG3B_BOTH = Reads(
    "fig3b_summary", _m(solver="greedy", ratio=1.0), lines=("policy",), label="total delay"
)
_FIG3C = Reads(
    "fig3c_summary", _m(policy="sjf"), x="ratio", log_x=True, lines=("devices",), label="variance"
)
_FIG5_GREEDY = _m(objective="variance", solver="greedy")

CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="fig5-greedy-gap",
        figure="Fig. 5",
        title="Greedy's variance vs the optimum (Fig. 5)",
        quote="the greedy's variance is within 2.4% of the optimal (exhaustive search) "
        "for 3 to 10 devices",
        kind="value",
        quantity="gap-pct",
        paper=PaperValues(band=(float("-inf"), FIG5_BOUND_PCT)),
        paper_text="within 2.4% at every N = 3–10",
        policies=("sjf",),
        statistic="the gap between the mean variances per N (what the paper's two curves "
        "show; a mean of per-case % gaps is dominated by cases with a tiny optimum)",
        reads=(Reads("fig5_summary", _m(**_FIG5_GREEDY, metric="gap_of_means_pct")),),
        context=(
            (
                "median per-case gap",
                Reads("fig5_summary", _m(**_FIG5_GREEDY, metric="median_gap_pct")),
            ),
            (
                "cases within 2.4%",
                Reads("fig5_summary", _m(**_FIG5_GREEDY, metric="within_pct")),
            ),
            (
                "std of delays / the optimum's",
                Reads("fig5_summary", _m(**_FIG5_GREEDY, metric="std_ratio")),
            ),
            (
                "local-search's gap between means",
                Reads(
                    "fig5_summary",
                    _m(objective="variance", solver="local-search", metric="gap_of_means_pct"),
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
        quantity="share-found",
        share=0.9,
        paper_text="in almost all cases (read: ≥ 90% of cases at every N = 3–10)",
        policies=("sjf",),
        statistic="the share of seeds per N where greedy's variance equals the certified "
        "optimum's",
        reads=(Reads("fig5", _m(objective="variance", metric="variance"), value="value"),),
        reasons=("local-optimum", "provenance"),
    ),
    Claim(
        id="fig3a-variance-sjf",
        figure="Fig. 3A",
        title="Variance gain over all-local at R = 1, SJF (Fig. 3A)",
        quote="greedy reduces the variance of delays by 2–21% against all-local execution "
        "(SJF at the BS, R = 1), less as N grows",
        kind="value",
        quantity="gain-pct",
        paper=PaperValues(band=(2.0, 21.0), at=_at(x10=21.0, x50=2.0)),
        trend="shrinks",
        paper_text="2–21%, shrinking as N grows (read: 21% at N = 10, 2% at N = 50)",
        policies=("sjf",),
        reads=(_FIG3A_SJF,),
        reasons=("stuck", "limits", "baseline-spread", "noise", "provenance"),
    ),
    Claim(
        id="fig3a-variance-rr",
        figure="Fig. 3A",
        title="Variance gain over all-local at R = 1, RR (Fig. 3A)",
        quote="greedy reduces the variance of delays by 2.8–12.7% against all-local "
        "execution (RR at the BS, R = 1), less as N grows",
        kind="value",
        quantity="gain-pct",
        paper=PaperValues(band=(2.8, 12.7), at=_at(x10=12.7, x50=2.8)),
        trend="shrinks",
        paper_text="2.8–12.7%, shrinking as N grows (read: 12.7% at N = 10, 2.8% at N = 50)",
        policies=("rr",),
        reads=(_FIG3A_RR,),
        reasons=("stuck", "limits", "baseline-spread", "noise", "provenance"),
    ),
    Claim(
        id="fig3a-still-better-at-50",
        figure="Fig. 3A (text)",
        title="Variance gain still positive at N = 40–50 (Fig. 3A)",
        quote="even with more devices (e.g 40 or 50), it still shows better performance",
        kind="sign",
        quantity="gain-pct",
        sign="positive",
        paper_text="the variance gain is positive at every N = 10–50, both policies",
        policies=_BOTH,
        reads=(_FIG3A_BOTH,),
        reasons=("stuck", "limits", "provenance"),
    ),
    Claim(
        id="fig3a-sjf-above-rr",
        figure="Fig. 3A",
        title="SJF's variance gain above RR's (Fig. 3A)",
        quote="(implied by the two ranges the paper gives for Fig. 3A: 2–21% under SJF "
        "against 2.8–12.7% under RR)",
        kind="ordering",
        quantity="gain-pct",
        paper_text="SJF's gain above RR's at every N (an ordering implied by the two ranges)",
        policies=_BOTH,
        statistic="at each N, SJF's mean gain against RR's",
        reads=(_FIG3A_BOTH,),
        reasons=("rr-fairer", "provenance"),
    ),
    Claim(
        id="fig3c-variance-vs-r",
        figure="Fig. 3C",
        title="Variance gain grows with R (Fig. 3C)",
        quote="the variance gain grows with the BS/device speed ratio R, from 21% to 67.2% "
        "for 10 devices",
        kind="value",
        quantity="gain-pct",
        paper=PaperValues(band=(21.0, 67.2), at=_at(x1=21.0, x1000=67.2)),
        trend="grows",
        paper_text="from 21% at R = 1 to 67.2% at R = 1000, N = 10 (between them: the band)",
        policies=("sjf",),
        statistic="means over seeds at N = 10, point by point along R (SJF: Fig. 3C's "
        "21% at R = 1 is Fig. 3A's SJF value at N = 10)",
        reads=(Reads("fig3c_summary", _m(policy="sjf", devices=10), x="ratio", log_x=True),),
        reasons=("baseline-spread", "noise", "provenance"),
    ),
    Claim(
        id="fig3c-largest-at-10",
        figure="Fig. 3C",
        title="The largest variance gains at N = 10 (Fig. 3C)",
        quote="the largest improvements ... are observed for 10 devices",
        kind="largest",
        quantity="gain-pct",
        target=10.0,
        paper_text="at every R, N = 10 has the largest gain of the N shown",
        policies=("sjf",),
        statistic="at each R, which N has the largest mean gain (SJF, as Fig. 3C)",
        reads=(_FIG3C,),
        reasons=("queue", "provenance"),
    ),
    Claim(
        id="fig3b-total",
        figure="Fig. 3B",
        title="Total delay vs all-local at R = 1 (Fig. 3B)",
        quote="at R = 1 greedy's total delay is slightly better than all-local execution",
        kind="value",
        quantity="gain-pct",
        paper=PaperValues(band=(0.0, 10.0)),  # "slightly better": above 0, at most a few %
        sign="positive",
        paper_text="slightly better (read: 0–10% at every N = 10–50, both policies)",
        policies=_BOTH,
        reads=(Reads("fig3b_summary", _m(solver="greedy", ratio=1.0), lines=("policy",)),),
        reasons=("limits", "stuck", "idle-bs", "provenance"),
    ),
    Claim(
        id="conclusion-beats-all-local",
        figure="Conclusion",
        title="Always better than all-local, up to N = 50 (conclusion)",
        quote="consistently surpasses 'all-local' execution in all tests, up to the largest "
        "evaluated network size of 50 devices",
        kind="sign",
        quantity="gain-pct",
        sign="positive",
        paper_text="variance and total-delay gains positive at every N = 10–50, both "
        "policies, R = 1",
        policies=_BOTH,
        reads=(_FIG3A_BOTH, _FIG3B_BOTH),
        reasons=("stuck", "limits", "provenance"),
    ),
    Claim(
        id="fig3-local-share",
        figure="Fig. 3 (text)",
        title="More layers run locally as N grows (Fig. 3 text)",
        quote="the average percentage of locally executed layers grows with the number of devices",
        kind="direction",
        quantity="local-share-pct",
        trend="grows",
        paper_text="the average share of local layers grows with N",
        policies=_BOTH,
        statistic="the least-squares slope of each line (objective, policy) against N",
        reads=(
            Reads("fig3_local_share_summary", _m(ratio=1.0), lines=("objective", "policy")),
        ),
        reasons=("queue", "provenance"),
    ),
)


def claim(claim_id: str) -> Claim:
    """The claim with id ``claim_id`` (a ``KeyError`` lists the ids)."""
    for found in CLAIMS:
        if found.id == claim_id:
            return found
    raise KeyError(f"no claim {claim_id!r}; claims: {', '.join(c.id for c in CLAIMS)}")


def drawn_on(figure: str) -> tuple[Claim, ...]:
    """The claims whose numbers a figure draws beside ours: those of ``figure`` (``Fig. 3A``)
    that state values or a share."""
    return tuple(c for c in CLAIMS if c.figure == figure and c.kind in ("value", "frequency"))


# --- readings: the ways of reading what the paper leaves open ------------------------------

#: ``support`` of a reading the paper's text says nothing for.
NO_SUPPORT = "none: chosen by fit"


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
        channel constants): the choices Figs. 3 and 5 share (one testbed, one network).
    fig3_changes : mapping
        Setup fields for the Fig. 3 sweeps only.
    fig5_changes : mapping
        Setup fields for the Fig. 5 sweep only. Greedy's start, the lowest point, R and
        the policy are separate coordinates for the two figures: the paper does not say
        they are the same.
    coordinate : str
        The choice it is an answer to (a combination holds at most one reading per
        coordinate).
    support : str
        The paper's words that support it, or :data:`NO_SUPPORT`.
    """

    id: str
    title: str
    changes: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fig3_changes: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fig5_changes: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    coordinate: str = ""
    support: str = NO_SUPPORT

    @property
    def supported(self) -> bool:
        """Whether the paper's text supports it."""
        return self.support != NO_SUPPORT

    @property
    def figures(self) -> tuple[str, ...]:
        """Which figures' sweeps it changes (``fig3``, ``fig5``); ``default`` changes none."""
        return tuple(
            name
            for name, own in (("fig3", self.fig3_changes), ("fig5", self.fig5_changes))
            if self.changes or own
        )


_FEASIBLE_SET = "the paper's feasible set p_i ∈ {1, …, s̃_i}"
_R_SWEEP = "R ∈ {1, 5, 10, 50, 100, 500, 1000} is the paper's sweep; Fig. 5's R is not given"
_POLICIES = "'under RR and SJF scheduling at the BS': RR is the paper's other policy"

READINGS: tuple[Reading, ...] = (
    Reading(
        "default",
        "this artifact's reading (docs/model.md)",
        support="the artifact's documented choices (docs/model.md)",
    ),
    Reading(
        "baseline-max-local",
        "all-local means p = s̃_i, the most local point memory allows",
        fig3_changes=_m(baseline="max-local"),
        coordinate="baseline",
        support=f"{_FEASIBLE_SET}, which the all-local vector p = S breaks where s̃_i < S",
    ),
    Reading(
        "pmin-1",
        "Fig. 3: partition points 1..s̃_i, no full offload (the paper's p_i ∈ {1..s̃_i})",
        fig3_changes=_m(lowest_point=1),
        coordinate="lowest_point",
        support=_FEASIBLE_SET,
    ),
    Reading(
        "fig5-pmin-1",
        "Fig. 5: partition points 1..s̃_i, no full offload",
        fig5_changes=_m(lowest_point=1),
        coordinate="fig5_lowest_point",
        support=_FEASIBLE_SET,
    ),
    Reading(
        "start-ones",
        "Fig. 3: greedy starts at p = 1",
        fig3_changes=_m(start="ones"),
        coordinate="start",
    ),
    Reading(
        "start-local",
        "Fig. 3: greedy starts at p = s̃_i",
        fig3_changes=_m(start="local"),
        coordinate="start",
    ),
    Reading(
        "fig5-start-ones",
        "Fig. 5: greedy starts at p = 1",
        fig5_changes=_m(start="ones"),
        coordinate="fig5_start",
    ),
    Reading(
        "fig5-start-local",
        "Fig. 5: greedy starts at p = s̃_i",
        fig5_changes=_m(start="local"),
        coordinate="fig5_start",
    ),
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
        support="'each layer (or group of layers, e.g. convolution 1, max pooling 1)': a "
        "stage may be a single layer",
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
    Reading(
        "fig5-r10",
        "Fig. 5 at R = 10",
        fig5_changes=_m(ratio=10.0),
        coordinate="fig5_ratio",
        support=_R_SWEEP,
    ),
    Reading(
        "fig5-r1000",
        "Fig. 5 at R = 1000",
        fig5_changes=_m(ratio=1000.0),
        coordinate="fig5_ratio",
        support=_R_SWEEP,
    ),
    Reading(
        "fig5-rr",
        "Fig. 5 under round-robin at the BS",
        fig5_changes=_m(policy="rr"),
        coordinate="fig5_policy",
        support=_POLICIES,
    ),
    Reading(
        "fig5-ps",
        "Fig. 5 under processor sharing at the BS",
        fig5_changes=_m(policy="ps"),
        coordinate="fig5_policy",
    ),
)


#: Beyond AlexNet: the same claims for other networks, each with its estimated Pi 3B+
#: profile and memory limits from the memory rule; AlexNet twice: with the main run's
#: limits (s̃ uniform on 5..8, comparable with the main table) and under the memory rule
#: (comparable with the other networks).
NETWORKS: tuple[Reading, ...] = (
    Reading(
        "network-alexnet",
        "alexnet, estimated Pi 3B+ stage times, the main run's memory limits (s̃ = 5..8)",
        _m(profile="alexnet-pi3b-estimated"),
        coordinate="network",
    ),
    *(
        Reading(
            f"network-{model}-memory-rule",
            f"{model}, estimated Pi 3B+ stage times, memory limits from the memory rule",
            _m(profile=f"{model}-pi3b-estimated", memory_mib=MEMORY_RULE_MIB),
            coordinate="network",
        )
        for model in ("alexnet", "vgg16", "resnet18", "mobilenetv2")
    ),
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
