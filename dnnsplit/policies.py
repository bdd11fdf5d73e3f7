"""What each base-station policy supports: one table, :data:`POLICY_TABLE`, asked by every
check (:func:`policies_with`). A BS policy decides the order in which the residual tasks of
the offloaded DNNs are served (eq. 2; docs/model.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "POLICY_TABLE",
    "Policy",
    "display_name",
    "policies_with",
]


@dataclass(frozen=True, kw_only=True)
class Policy:
    """Capabilities of one BS policy.

    Attributes
    ----------
    name : str
        Policy name as written in a scenario file (``bs.policy``).
    label : str
        How figures, tables and reports write it (``SJF``).
    snapshot : bool
        Defined under the paper's snapshot model (eq. 2).
    timeline : bool
        Defined under the timeline (discrete-event) model.
    compiled : bool
        Exhaustive search has a compiled kernel, and greedy an incremental total-delay path.
    exact_total : bool
        Minimum total delay (no deadlines) is a linear assignment: ``exact`` certifies it.
    """

    name: str
    label: str
    snapshot: bool
    timeline: bool
    compiled: bool
    exact_total: bool


POLICY_TABLE: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy(
            name="sjf",
            label="SJF",
            snapshot=True,
            timeline=True,
            compiled=True,
            exact_total=True,
        ),
        Policy(
            name="ps",
            label="PS",
            snapshot=True,
            timeline=True,
            compiled=True,
            exact_total=True,
        ),
        Policy(
            name="rr",
            label="RR",
            snapshot=True,
            timeline=True,
            compiled=False,
            exact_total=False,
        ),
        Policy(
            name="fcfs",
            label="FCFS",
            snapshot=False,
            timeline=True,
            compiled=False,
            exact_total=False,
        ),
    )
}


def display_name(name: object) -> str:
    """How figures, tables and reports write policy ``name``: ``sjf`` → ``SJF``; a name
    that is not a policy is written as it is (a column may hold other labels)."""
    found = POLICY_TABLE.get(name) if isinstance(name, str) else None
    return found.label if found is not None else str(name)


def policies_with(capability: str) -> tuple[str, ...]:
    """Names of the policies that have ``capability`` (``snapshot``, ``timeline``,
    ``compiled`` or ``exact_total``: a yes/no column of the table)."""
    return tuple(name for name, p in POLICY_TABLE.items() if getattr(p, capability))
