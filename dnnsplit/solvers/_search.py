"""What the two searches of :func:`dnnsplit.solvers.optimal` share: the answer a search
gives (:class:`Outcome`) and the relative gap of a stopped one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Outcome", "relative_gap"]


@dataclass
class Outcome:
    """What a search of :func:`~dnnsplit.solvers.optimal.branch_and_bound` found.

    Attributes
    ----------
    partition : numpy.ndarray or None
        The best vector meeting every deadline, None if none was found.
    value : float
        Its objective by the search's arithmetic (inf if none).
    lower : float
        A proven lower bound on the optimum (the optimum when certified).
    certified : bool
        The search finished: ``partition`` is optimal, or, if None, no vector meets every
        deadline.
    nodes : int
        Nodes the search spent (level search: expanded; count search: scored, expanded or
        closed; :data:`~dnnsplit.solvers.optimal.optimal`'s ``max_nodes`` counts these).
    root_bound : float or None
        The root's bound.
    search : str
        ``"levels"`` or ``"counts"``: which search ran.
    stopped : str or None
        Why an unfinished search stopped (one of :data:`~dnnsplit._limits.STOPS`).
    """

    partition: np.ndarray | None
    value: float
    lower: float
    certified: bool
    nodes: int
    root_bound: float | None
    search: str = "levels"
    stopped: str | None = None


def relative_gap(value: float, lower: float) -> float:
    """``(value − lower) / value``, at least 0; 0 when both are 0 (1 when only the value
    is, with a negative bound)."""
    if value == 0:
        return 0.0 if lower >= 0 else 1.0
    return max(0.0, (value - lower) / abs(value))
