"""The paper's claims, as plain data: the only place where the paper's words and numbers
are written.

Each :class:`Claim` quotes the paper, gives *our reading* of it and the paper's number at
each point; one verdict function per *kind* (:mod:`dnnsplit.paper.verdicts`) judges every
point by the rules of :data:`RULES`. Where the paper gives a range that shrinks or grows
along the axis, our reading puts its ends at the axis' ends (Fig. 3A: 21% at N = 10, 2% at
N = 50) and the band between them. :data:`READINGS` are the ways of reading what the paper
leaves open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
    "RULES",
    "STATISTICS",
    "SUPPORT_LEVELS",
    "Claim",
    "PaperValues",
    "Quantity",
    "Quote",
    "Reading",
    "Reads",
    "Support",
    "claim",
    "drawn_on",
    "reading",
    "readings",
]

#: The kinds of claim; one verdict function each (:data:`dnnsplit.paper.verdicts.VERDICTS`).
KINDS = ("value", "frequency", "direction", "sign", "ordering", "largest")
#: The verdict levels, best first.
LEVELS = ("reproduced", "partly", "direction only", "not reproduced")
#: How a claim's points are reduced over seeds (:class:`Reads`).
STATISTICS = ("mean", "gap_of_means", "share_equal")

#: The verdict rules, in the words the report prints; :func:`dnnsplit.paper.verdicts.level`
#: applies them.
RULES: tuple[tuple[str, str], ...] = (
    (
        "the sign first",
        "a claim that states a direction of effect (smaller variance, better) fails at any "
        "point where our sign is the opposite, whatever the tolerance",
    ),
    (
        "universal claims",
        "a sentence that says *all* (in all tests, still at 40 or 50, irrespective of the "
        "policy, at every R) is judged on exactly the points it names: reproduced if every "
        "one holds, otherwise not reproduced",
    ),
    (
        "values and ranges",
        "reproduced when the sign holds everywhere and every point is within tolerance; "
        "partly when the sign holds everywhere and at least half the points are; direction "
        "only when the sign and the stated trend hold but fewer than half are; not "
        "reproduced otherwise",
    ),
    (
        "implied directions",
        "an ordering the paper implies without saying *all*: reproduced when every point "
        "holds, partly when at least half do, not reproduced otherwise",
    ),
)


@dataclass(frozen=True)
class Quantity:
    """What a claim's numbers measure (``name``, in ``unit``), and how close counts as the
    paper's value: a point is within tolerance when it lies at most ``tolerance`` (in
    ``unit``) outside the paper's value or band; ``why``: one line on why."""

    id: str
    name: str
    why: str
    tolerance: float = 0.0
    unit: str = "percentage points"


#: Every quantity a claim may be about, with its tolerance.
QUANTITIES: MappingProxyType[str, Quantity] = MappingProxyType(
    {
        q.id: q
        for q in (
            Quantity(
                "gain-pct",
                "greedy's improvement over all-local (%), of the variance or the total delay",
                "the paper prints single gains read off one figure with no seed count; "
                "±5 points reads a value off a plot yet tells 21% from 53%",
                tolerance=5.0,
            ),
            Quantity(
                "gap-pct",
                "greedy's variance above the optimum's (%)",
                "the paper states a bound (within 2.4%); a bound is its own tolerance",
            ),
            Quantity(
                "share-found",
                "share of cases where greedy reaches the optimum",
                "'almost all cases' is read as at least 90%, itself the generous end of a "
                "vague phrase",
                unit="share",
            ),
            Quantity(
                "local-share-pct",
                "share of stages run locally (%)",
                "the paper states only a direction, so no value is compared",
            ),
        )
    }
)


@dataclass(frozen=True)
class Quote:
    """The paper's words (``text``), verbatim up to whitespace and quotation marks (``...``
    stands where words are left out; the tests check every quote against the paper), and
    ``where`` they stand (section, figure caption)."""

    text: str
    where: str


def _m(**values: Any) -> MappingProxyType[Any, Any]:
    return MappingProxyType(values)


@dataclass(frozen=True)
class Reads:
    """Which rows of which tidy CSV (one row per seed) answer a claim, and how they are
    reduced over seeds.

    Attributes
    ----------
    csv : str
        File stem in the figures folder (``fig3a`` reads ``fig3a.csv``).
    rows, against : mapping
        Column → value filters (all must hold) of our rows; those that replace them to
        select the reference (``solver="optimal"``).
    x : str
        The column the claim runs along (N, R); ``log_x``: judge a trend against log10(x).
    lines : tuple of str
        Columns that split the points into lines (``policy``): a trend is judged per line,
        an ordering compares lines, ``largest`` looks for the largest line.
    label : str
        What these rows are, when a claim reads several (``variance``, ``total delay``).
    statistic : str
        One of :data:`STATISTICS`: the ``mean`` over seeds; ``gap_of_means``, the % gap
        between the mean of our rows and the mean of the ``against`` rows (the two curves
        of Fig. 5); ``share_equal``, the share of seeds where the two are equal.
    scale : float
        Our values are multiplied by this (a share in % is 100).
    x_in : tuple of float
        Only these points along ``x`` (empty: all): the points a sentence names.
    """

    csv: str
    rows: MappingProxyType[str, Any] = field(default_factory=_m)
    x: str = "devices"
    log_x: bool = False
    lines: tuple[str, ...] = ()
    label: str = ""
    statistic: str = "mean"
    against: MappingProxyType[str, Any] = field(default_factory=_m)
    scale: float = 1.0
    x_in: tuple[float, ...] = ()


@dataclass(frozen=True)
class PaperValues:
    """The paper's number at each point of a claim: ``at`` maps x to its single value there
    (the ends of a range the paper says shrinks or grows); elsewhere it is anywhere in
    ``band`` (``-inf`` or ``inf`` for an open end: a bound)."""

    band: tuple[float, float]
    at: MappingProxyType[float, float] = field(default_factory=_m)

    def at_point(self, x: float) -> tuple[float, float]:
        """The paper's value at ``x`` as an interval (a single value is ``(v, v)``)."""
        return (self.at[x], self.at[x]) if x in self.at else self.band


@dataclass(frozen=True)
class Claim:
    """One claim of the paper.

    Attributes
    ----------
    id, figure, title : str
        Stable identifier (``fig5-greedy-gap``); the figure or section it is about; the
        claim in a few words, for tables and headings.
    quote, reading : Quote, str
        The paper's words; our reading of them (which points, which numbers per point,
        which direction), printed as ours, never in quotation marks.
    kind, quantity : str
        One of :data:`KINDS`; a key of :data:`QUANTITIES` (the tolerance comes from there,
        never from the claim).
    reads, policies : tuple of Reads, tuple of str
        The rows that answer it (several for a claim about two quantities); the BS policies
        it covers.
    paper_text : str
        What the paper says, in a few words, for the verdict table.
    universal : bool
        The sentence says *all* of the points it names: reproduced only if every one holds.
    paper, share, target, order
        What the paper states, by kind: ``value``, its value or band per point; ``frequency``,
        the share of cases its words mean; ``largest``, the line (e.g. N = 10) that should be
        largest at every x; ``ordering``, x → the policy whose value should be above there.
    trend, sign : str or None
        ``grows`` or ``shrinks`` along ``x``; ``positive``: the stated direction of effect is a
        value above 0 (smaller variance, better), checked at every point before the tolerance.
    statistic : str
        The statistic the verdict judges, and why (printed in the report).
    context : tuple of (label, Reads)
        Summary rows the report quotes beside our number (their ``mean`` column).
    reasons : tuple of str
        Mechanisms the report checks when the claim is not reproduced (names of
        :data:`dnnsplit.paper.report.REASONS`).
    """

    id: str
    figure: str
    title: str
    quote: Quote
    reading: str
    kind: str
    quantity: str
    reads: tuple[Reads, ...]
    paper_text: str
    policies: tuple[str, ...]
    universal: bool = False
    paper: PaperValues | None = None
    share: float = 0.0
    trend: str | None = None
    sign: str | None = None
    target: float | None = None
    order: MappingProxyType[float, str] = field(default_factory=_m)
    statistic: str = "means over seeds, point by point"
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


#: The paper's bound of Fig. 5: greedy's variance "within 2.4%" of the optimum. The Fig. 5
#: summary also counts the cases within it (:func:`dnnsplit.paper.fig5.gap_statistics`).
FIG5_BOUND_PCT = 2.4

_BOTH = ("sjf", "rr")
_GAIN = _m(solver="greedy", ratio=1.0, metric="improvement_pct")
_FIG3A_BOTH = Reads("fig3a", _m(**_GAIN, objective="variance"), lines=("policy",), label="variance")
_FIG3B_BOTH = Reads("fig3b", _m(**_GAIN, objective="total"), lines=("policy",), label="total delay")
_FIG3C_GAIN = _m(solver="greedy", objective="variance", metric="improvement_pct", policy="sjf")
_FIG5_VARIANCE = _m(objective="variance", metric="variance", solver="greedy")
_FIG5_OPTIMUM = _m(objective="variance", metric="variance", solver="optimal")

_IV_B = "Section IV.B (Evaluation Results)"
_FIG3A_WORDS = (
    "in Fig. 3(A), for R=1 and for RR or SJF scheduling at the BS, our proposed methodology "
    'performs better than the "all-local" one, with 2%-21% smaller variance with SJF '
    "scheduling, and 2.8%-12.7% smaller variance for RR scheduling, depending on the number "
    "of devices (10,20,...50). The amount of improvement seems to reduce as the number of "
    "devices increases."
)
_CONCLUSION = "Section V (Conclusion)"


def _claim(
    words: str,
    where: str = _IV_B,
    *,
    reads: Reads | tuple[Reads, ...],
    quantity: str = "gain-pct",
    policies: tuple[str, ...] = _BOTH,
    **fields: Any,
) -> Claim:
    """A claim quoting ``words`` (from ``where``), about the figure its id starts with
    (``fig3a-…``: Fig. 3A)."""
    first = fields["id"].split("-")[0]
    return Claim(
        figure=f"Fig. {first[3:].upper()}" if first.startswith("fig") else first.capitalize(),
        quote=Quote(words, where),
        reads=reads if isinstance(reads, tuple) else (reads,),
        quantity=quantity,
        policies=policies,
        **fields,
    )


def _above_zero(words: str, where: str = _IV_B, **fields: Any) -> Claim:
    """A universal claim that the gain is above 0 at every point it names."""
    return _claim(
        words,
        where,
        kind="sign",
        universal=True,
        sign="positive",
        reasons=("stuck", "limits"),
        **fields,
    )


def _fig3a_gain(policy: str, low: float, high: float, cut: str, mark: str) -> Claim:
    """Fig. 3A's gain under one policy, quoting the sentence with ``cut`` replaced by
    ``mark``."""
    name = policy.upper()
    return _claim(
        _FIG3A_WORDS.replace(cut, mark),
        id=f"fig3a-variance-{policy}",
        title=f"Variance gain {low:g}–{high:g}% under {name} (Fig. 3A)",
        reading=f"greedy's variance gain over all-local at R = 1 under {name}: {high:g}% at "
        f"N = 10 falling to {low:g}% at N = 50, the band {low:g}–{high:g}% between; above 0 at "
        "every N",
        kind="value",
        paper=PaperValues(band=(low, high), at=MappingProxyType({10.0: high, 50.0: low})),
        trend="shrinks",
        sign="positive",
        paper_text=f"{high:g}% at N = 10 shrinking to {low:g}% at N = 50",
        policies=(policy,),
        reads=Reads("fig3a", _m(**_GAIN, objective="variance", policy=policy)),
        reasons=("stuck", "limits", "baseline-spread"),
    )


def _fig5_summary(metric: str, solver: str = "greedy") -> Reads:
    return Reads("fig5_summary", _m(objective="variance", solver=solver, metric=metric))


CLAIMS: tuple[Claim, ...] = (
    _claim(
        "The greedy algorithm achieves variance very close to that obtained with the "
        "optimal solution, i.e. within 2.4%, for networks of 3 to 10 devices.",
        id="fig5-greedy-gap",
        title="Greedy's variance within 2.4% of the optimum (Fig. 5)",
        reading="greedy's mean variance at most 2.4% above the optimum's at every N = 3–10; "
        "SJF at the BS (the paper names no policy for Fig. 5; SJF is its worked example)",
        kind="value",
        quantity="gap-pct",
        paper=PaperValues(band=(float("-inf"), FIG5_BOUND_PCT)),
        paper_text="within 2.4% at every N = 3–10",
        policies=("sjf",),
        statistic="the gap between the mean variances per N (what the paper's two curves "
        "show; a mean of per-case % gaps is dominated by cases with a tiny optimum)",
        reads=Reads("fig5", _FIG5_VARIANCE, statistic="gap_of_means", against=_FIG5_OPTIMUM),
        context=(
            ("median per-case gap", _fig5_summary("median_gap_pct")),
            ("cases within 2.4%", _fig5_summary("within_pct")),
            ("local-search's gap between means", _fig5_summary("gap_of_means_pct", "local-search")),
        ),
        reasons=("local-optimum", "small-optimum", "zero-optimum"),
    ),
    _claim(
        "The greedy algorithm in almost all cases finds the optimal solution.",
        "Fig. 5, caption",
        id="fig5-greedy-finds-optimum",
        title="Greedy finds the optimum in almost all cases (Fig. 5)",
        reading="at least 90% of the cases at every N = 3–10 reach the certified optimum",
        kind="frequency",
        quantity="share-found",
        share=0.9,
        paper_text="almost all cases (≥ 90% per N)",
        policies=("sjf",),
        statistic="the share of seeds per N where greedy's variance equals the certified optimum's",
        reads=Reads("fig5", _FIG5_VARIANCE, statistic="share_equal", against=_FIG5_OPTIMUM),
        reasons=("local-optimum",),
    ),
    _fig3a_gain("sjf", 2.0, 21.0, ", and 2.8%-12.7% smaller variance for RR scheduling,", " ..."),
    _fig3a_gain("rr", 2.8, 12.7, "with 2%-21% smaller variance with SJF scheduling, and ", "... "),
    _above_zero(
        'The proposed method performs better than the "all-local" one for 10-30 devices, '
        "but even with more devices (e.g 40 or 50), it still shows better performance in "
        'comparison to the "all-local" approach.',
        id="fig3a-still-better-at-50",
        title="Still better than all-local at N = 40 and 50 (Fig. 3A)",
        reading="greedy's variance gain over all-local (Fig. 3A, R = 1) above 0 at N = 40 "
        "and N = 50, the points the sentence names, under both policies",
        paper_text="gain above 0 at N = 40 and 50",
        reads=replace(_FIG3A_BOTH, x_in=(40.0, 50.0)),
    ),
    _claim(
        "with 2%-21% smaller variance with SJF scheduling, and 2.8%-12.7% smaller variance "
        "for RR scheduling, depending on the number of devices",
        id="fig3a-sjf-above-rr",
        title="SJF gains more at N = 10, RR at N = 50 (Fig. 3A)",
        reading="with each range's ends at N = 10 and N = 50, SJF's gain is above RR's at "
        "N = 10 (21% against 12.7%) and RR's above SJF's at N = 50 (2.8% against 2%); the "
        "ranges say nothing of N = 20–40",
        kind="ordering",
        order=MappingProxyType({10.0: "sjf", 50.0: "rr"}),
        paper_text="SJF above RR at N = 10; RR above SJF at N = 50",
        statistic="at N = 10 and N = 50, SJF's mean gain against RR's",
        reads=replace(_FIG3A_BOTH, x_in=(10.0, 50.0)),
        reasons=("rr-fairer",),
    ),
    _claim(
        "In Fig. 3(C), the improvement in variance is depicted for various values of ratios R "
        "ranging from 1 to 1,000. The improvement increases as the BS becomes more powerful, and "
        "the largest improvements (ranging from 21% to 67.2%) are observed for 10 devices.",
        id="fig3c-variance-vs-r",
        title="Variance gain grows with R, 21% to 67.2% (Fig. 3C)",
        reading="for N = 10 under SJF: 21% at R = 1 rising to 67.2% at R = 1000, the band "
        "21–67.2% between; the gain grows with R and is above 0 at every R",
        kind="value",
        paper=PaperValues(band=(21.0, 67.2), at=MappingProxyType({1.0: 21.0, 1000.0: 67.2})),
        trend="grows",
        sign="positive",
        paper_text="21% at R = 1 growing to 67.2% at R = 1000 (N = 10)",
        policies=("sjf",),
        statistic="means over seeds at N = 10, point by point along R (SJF, as Fig. 3A)",
        reads=Reads("fig3c", _m(**_FIG3C_GAIN, devices=10), x="ratio", log_x=True),
        reasons=("baseline-spread",),
    ),
    _claim(
        "the largest improvements (ranging from 21% to 67.2%) are observed for 10 devices",
        id="fig3c-largest-at-10",
        title="The largest gains at N = 10, at every R (Fig. 3C)",
        reading="at every R = 1–1000, N = 10 has the largest variance gain of the N shown (SJF)",
        kind="largest",
        universal=True,
        target=10.0,
        paper_text="N = 10 largest at every R",
        policies=("sjf",),
        statistic="at each R, which N has the largest mean gain (SJF, as Fig. 3C)",
        reads=Reads(
            "fig3c", _FIG3C_GAIN, x="ratio", log_x=True, lines=("devices",), label="variance"
        ),
        reasons=("queue",),
    ),
    _claim(
        "Similarly, the proposed methodology gives slightly better results for the "
        "reduction of the total inference delay, as depicted in Fig. 3(B).",
        id="fig3b-total",
        title="Total delay slightly better than all-local (Fig. 3B)",
        reading="greedy's total-delay gain over all-local at R = 1 between 0 and 10% (above "
        "0, at most a few %) at every N = 10–50, both policies",
        kind="value",
        paper=PaperValues(band=(0.0, 10.0)),
        sign="positive",
        paper_text="slightly better: 0–10% at every N",
        reads=Reads("fig3b", _m(**_GAIN, objective="total"), lines=("policy",)),
        reasons=("limits", "stuck", "idle-bs"),
    ),
    _above_zero(
        "Despite diminishing gains with as the number of devices increases, our method "
        'still consistently surpasses "all-local" execution in all tests, up to the '
        "largest evaluated network size of 50 devices.",
        _CONCLUSION,
        id="conclusion-beats-all-local",
        title="Better than all-local in all tests, up to N = 50 (conclusion)",
        reading="every test of Fig. 3 at R = 1: greedy's variance and total-delay gains over "
        "all-local above 0 at every N = 10–50, both policies",
        paper_text="gains above 0 in every test",
        reads=(_FIG3A_BOTH, _FIG3B_BOTH),
    ),
    _above_zero(
        "the results reveal that the efficiency of our method is maintained across "
        "different DNN sizes",
        _CONCLUSION,
        id="conclusion-dnn-sizes",
        title="Efficiency maintained across DNN sizes (conclusion)",
        reading="'DNN sizes' read as networks of different size (the paper evaluates only "
        "AlexNet, so the networks study answers it): greedy's variance gain over all-local "
        "(Fig. 3A, R = 1) above 0 at every N = 10–50 under both policies, for every network. "
        "The words also allow 'network sizes' (N, as the next sentence's 'network size of 50 "
        "devices'): that reading is the Fig. 3A claims above",
        paper_text="gains above 0 for every network",
        statistic="means over seeds, point by point, network by network",
        reads=Reads(
            "networks_fig3a",
            _m(**_GAIN, objective="variance"),
            lines=("network", "policy"),
            label="variance",
        ),
    ),
    _claim(
        "the resulting partitions for 10, 20, 30, 40 and 50 devices and R=1 show that the "
        "average percentage of locally executed DNN layers increases as the number of "
        "devices increases. We note that irrespective of the BS's scheduling policy, the "
        "optimal number of DNN layers for local execution rises with an increase in "
        "device count.",
        id="fig3-local-share",
        title="More layers run locally as N grows (Fig. 3)",
        reading="the share of stages greedy runs locally grows with N (its least-squares "
        "slope over N = 10–50 is positive) for both objectives and both policies",
        kind="direction",
        quantity="local-share-pct",
        universal=True,
        trend="grows",
        paper_text="the local share grows with N, any policy",
        statistic="the least-squares slope of each line (objective, policy) against N",
        reads=Reads(
            "fig3_local_share",
            _m(solver="greedy", ratio=1.0, metric="local_share"),
            lines=("objective", "policy"),
            scale=100.0,
        ),
        reasons=("queue",),
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

#: How far the paper's text supports a reading: it says it; its words allow it and others
#: pull against it; none (a reading chosen by fit). ``default`` is our documented reading.
SUPPORT_LEVELS = ("stated", "compatible", "chosen by fit", "default")


@dataclass(frozen=True)
class Support:
    """What the paper's text says for a reading: its ``level`` (one of
    :data:`SUPPORT_LEVELS`), the paper's words that allow it (``for_``) and that pull
    against it (``against``), and our ``note`` on what the quotes leave out (a formula the
    paper writes in math)."""

    level: str
    for_: tuple[Quote, ...] = ()
    against: tuple[Quote, ...] = ()
    note: str = ""

    def text(self) -> str:
        """One line: the level, the quotes (in quotation marks) and the note (ours)."""
        parts = [self.level]
        for name, quotes in (("for", self.for_), ("against", self.against)):
            if quotes:
                parts.append(f"{name}: " + "; ".join(f"“{q.text}” ({q.where})" for q in quotes))
        if self.note:
            parts.append(f"our note: {self.note}")
        return " | ".join(parts)


@dataclass(frozen=True)
class Reading:
    """One reading of what the paper leaves open: a set of overrides of the setup.

    Attributes
    ----------
    id, title : str
        Stable identifier (``baseline-max-local``); what the reading says, in words.
    changes : mapping
        Setup fields and their values for every sweep (``channel`` takes a mapping of
        channel constants): the choices Figs. 3 and 5 share (one testbed, one network).
    fig3_changes, fig5_changes : mapping
        Setup fields for the Fig. 3 (Fig. 5) sweeps only. Greedy's start, the lowest point,
        R and the policy are separate coordinates for the two figures: the paper does not
        say they are the same.
    coordinate, support : str, Support
        The choice it answers (a combination holds at most one reading per coordinate);
        what the paper's text says for and against it.
    """

    id: str
    title: str
    changes: MappingProxyType[str, Any] = field(default_factory=_m)
    fig3_changes: MappingProxyType[str, Any] = field(default_factory=_m)
    fig5_changes: MappingProxyType[str, Any] = field(default_factory=_m)
    coordinate: str = ""
    support: Support = Support("chosen by fit")

    @property
    def supported(self) -> bool:
        """Whether the paper's text allows it (stated or compatible; not chosen by fit)."""
        return self.support.level != "chosen by fit"

    @property
    def figures(self) -> tuple[str, ...]:
        """Which figures' sweeps it changes (``fig3``, ``fig5``); ``default`` changes none."""
        return tuple(
            name
            for name, own in (("fig3", self.fig3_changes), ("fig5", self.fig5_changes))
            if self.changes or own
        )


def _compatible(for_: Quote | None = None, against: Quote | None = None, note: str = "") -> Support:
    """The paper's words allow the reading (``for_``), others pull against it (``against``)."""
    return Support("compatible", (for_,) if for_ else (), (against,) if against else (), note)


_III_A, _III_B, _III_C, _IV_A = (
    "Section III.A (Inference task)",
    "Section III.B (Inference delay)",
    "Section III.C (Problem formulation)",
    "Section IV.A (Evaluation setup)",
)
_MEMORY_LIMIT = Quote(
    "In reality, memory constraints at the device impose limitations on the portion of "
    "computation that can be executed locally. Hence, for each device i, there exists a "
    "maximum number of stages ... that can be executed locally.",
    _III_A,
)
_ALL_LOCAL = Quote(
    "We compare our approach to the approach where each DNN is executed entirely on the "
    'device. We call the latter option "all-local".',
    _IV_B,
)
_NO_FULL_OFFLOAD = _compatible(
    against=Quote(
        "or the input feature vector (e.g. image). In the latter case, no local execution "
        "occurs, and the task is fully offloaded to the BS.",
        _III_B,
    ),
    note="problems (5) and (7) constrain p_i ∈ {1, …, s̃_i} (a formula, not quoted)",
)
_ANY_START = Quote("We start from an arbitrary initial partition", _III_C)
_START_EXAMPLES = "the paper's examples are p⁽⁰⁾ = (⌊s̃_1/2⌋, …) and p⁽⁰⁾ = (1, …, 1)"
_OTHER_RATIOS = _compatible(
    Quote("We have executed the evaluation scenarios for 7 different ratios", _IV_A),
    Quote("for R=1 and for RR or SJF scheduling at the BS", _IV_B),
)
_DIFFER = Quote(
    "Devices differ in terms of memory and number of background processes that run in "
    "parallel to the DNN task.",
    _IV_A,
)


def _of_figure(figure: str, name: str, title: str, support: Support, **changes: Any) -> Reading:
    """A reading of one figure's sweeps only (Fig. 5's ids and coordinates say ``fig5``)."""
    own, (key,) = _m(**changes), changes
    prefix = "" if figure == "fig3" else f"{figure}-"
    return Reading(
        f"{prefix}{name}",
        f"Fig. {figure[-1]}: {title}",
        fig3_changes=own if figure == "fig3" else _m(),
        fig5_changes=_m() if figure == "fig3" else own,
        coordinate=prefix.replace("-", "_") + key,
        support=support,
    )


def _background(low: int, high: int) -> Reading:
    none = high == 0
    return Reading(
        f"background-{low}-{high}",
        "no background processes" if none else f"{low}–{high} background processes",
        _m(background=(low, high)),
        coordinate="background",
        support=Support(
            "chosen by fit",
            against=(_DIFFER,) if none else (),
            note="no device has background processes, where the paper says they differ"
            if none
            else "the paper gives no number of background processes",
        ),
    )


def _by_fit(name: str, title: str, coordinate: str = "", **changes: Any) -> Reading:
    """A reading the paper's text says nothing for, changing every sweep; its coordinate is
    the one setup field it changes unless named."""
    return Reading(name, title, _m(**changes), coordinate=coordinate or next(iter(changes)))


READINGS: tuple[Reading, ...] = (
    Reading(
        "default",
        "this artifact's reading (docs/model.md)",
        support=Support("default", note="our documented choices (docs/model.md)"),
    ),
    Reading(
        "baseline-max-local",
        "all-local means p = s̃_i, the most local point memory allows",
        fig3_changes=_m(baseline="max-local"),
        coordinate="baseline",
        support=_compatible(
            _MEMORY_LIMIT,
            _ALL_LOCAL,
            note="all-local as defined runs every stage, which the memory limit forbids where "
            "s̃_i < S: the reading resolves a tension between two of the paper's sentences",
        ),
    ),
    *(
        _of_figure(
            figure,
            "pmin-1",
            "partition points 1..s̃_i, no full offload",
            _NO_FULL_OFFLOAD,
            lowest_point=1,
        )
        for figure in ("fig3", "fig5")
    ),
    *(
        _of_figure(
            figure,
            f"start-{start}",
            f"greedy starts at p = {p}",
            Support(level, for_=(_ANY_START,), note=_START_EXAMPLES),
            start=start,
        )
        for figure in ("fig3", "fig5")
        for start, p, level in (("ones", "1", "stated"), ("local", "s̃_i", "compatible"))
    ),
    *(_background(low, high) for low, high in ((0, 0), (0, 1), (1, 3), (0, 5))),
    Reading(
        "local-exact",
        "eq. (1) in its exact round-robin form",
        _m(local_delay="exact"),
        coordinate="local_delay",
        support=_compatible(
            Quote(
                "RR is a preemptive scheduling algorithm, where each task is periodically "
                "assigned a fixed time slot of duration q to execute.",
                _III_B,
            ),
            note="eq. (1) is the paper's closed form, exact only for a whole number of quanta",
        ),
    ),
    *(
        _by_fit(f"quantum-{ms}", f"device quantum q = {ms.replace('ms', ' ms')}", quantum_s=q)
        for ms, q in (("1ms", 0.001), ("100ms", 0.1))
    ),
    *(
        _by_fit(f"bs-quantum-{name}", f"BS round-robin quantum {shown}", bs_quantum_s=q)
        for name, shown, q in (("1ms", "1 ms", 0.001), ("100ms", "100 ms", 0.1), ("1s", "1 s", 1.0))
    ),
    Reading(
        "profile-alexnet11",
        "AlexNet cut after every layer (11 stages), memory limits from the memory rule",
        _m(profile="alexnet11-pi3b-estimated", memory_mib=MEMORY_RULE_MIB),
        coordinate="profile",
        support=_compatible(
            Quote(
                "each layer (or group of layers, e.g. convolution 1, max pooling 1, etc) "
                "is a stage",
                _III_A,
            ),
            Quote(
                "For example, the memory of some devices can support the execution of DNN "
                "tasks up to stage 5, while in some other up to stage 8.",
                _IV_A,
            ),
        ),
    ),
    _by_fit(
        "profile-measured",
        "stage times measured on our machine (1 thread) instead of the Pi 3B+ estimate",
        profile="alexnet-epyc-1t-measured",
    ),
    *(
        _by_fit(
            f"uplink-x{times}",
            f"uplink rates × {times} (MAC efficiency {mac})",
            "uplink",
            channel=_m(mac_efficiency=mac),
        )
        for times, mac in (("0.2", 0.14), ("0.1", 0.07))
    ),
    *(
        Reading(
            f"fig5-r{ratio:g}",
            f"Fig. 5 at R = {ratio:g}",
            fig5_changes=_m(ratio=ratio),
            coordinate="fig5_ratio",
            support=_OTHER_RATIOS,
        )
        for ratio in (10.0, 1000.0)
    ),
    Reading(
        "fig5-rr",
        "Fig. 5 under round-robin at the BS",
        fig5_changes=_m(policy="rr"),
        coordinate="fig5_policy",
        support=_compatible(
            Quote(
                "we measured DNN inference delays of each stage under RR and SJF "
                "scheduling at the BS",
                _IV_A,
            ),
            note="SJF is the only policy whose BS delay the paper writes out (eq. 2)",
        ),
    ),
    Reading(
        "fig5-ps",
        "Fig. 5 under processor sharing at the BS",
        fig5_changes=_m(policy="ps"),
        coordinate="fig5_policy",
    ),
)

_OTHER_DNNS = _compatible(
    Quote(
        "The proposed model and approach are generalizable, allowing each device to run "
        "various types of DNNs.",
        _IV_A,
    ),
    Quote(
        "We used real benchmark results of the execution of an AlexNet's Python implementation",
        _IV_A,
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
        support=_OTHER_DNNS,
    ),
    *(
        Reading(
            f"network-{model}-memory-rule",
            f"{model}, estimated Pi 3B+ stage times, memory limits from the memory rule",
            _m(profile=f"{model}-pi3b-estimated", memory_mib=MEMORY_RULE_MIB),
            coordinate="network",
            support=_OTHER_DNNS,
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
