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

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["CLAIMS", "KINDS", "RULES", "Claim", "Reads", "claim"]

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
        ``frequency``: whose value is compared with whose.
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
    reference: str = "exhaustive"
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
        reads=Reads("fig5_summary", _m(solver="greedy", metric="gap_pct")),
        context=(
            (
                "worst single seed",
                Reads("fig5", _m(solver="greedy", metric="gap_pct"), value="value", span="max"),
            ),
            (
                "std of delays / the optimum's",
                Reads("fig5_summary", _m(solver="greedy", metric="std_ratio")),
            ),
            (
                "local-search's mean gap",
                Reads("fig5_summary", _m(solver="local-search", metric="gap_pct")),
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
        reads=Reads("fig5", _m(metric="variance"), value="value"),
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
