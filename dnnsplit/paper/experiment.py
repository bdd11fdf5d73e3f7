"""How the paper's experiments run the solvers: the knobs that are not the model's
(:class:`dnnsplit.Setup` holds those). A sweep takes both,
``sweep(setup, grid, experiment=Experiment(...))``; each point records the knobs its rows
depend on (so they are in its cache key), and each run's manifest records the experiment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from dnnsplit._checks import mapping
from dnnsplit._params import Choice, Constraint, Whole, declare_fields, replace_fields
from dnnsplit.errors import InputError
from dnnsplit.solvers import MAX_RESTARTS, STARTS

__all__ = ["EXPERIMENT_FIELDS", "Experiment"]

#: What each field of :class:`Experiment` takes (errors name ``experiment.<field>``).
EXPERIMENT_FIELDS: dict[str, Constraint] = {
    "start": Choice(STARTS, "start"),
    "baseline": Choice(("all-local", "max-local"), "baseline"),
    "restarts": Whole(0, MAX_RESTARTS),
}


@dataclass(frozen=True)
@declare_fields(EXPERIMENT_FIELDS, prefix="experiment.")
class Experiment:
    """The knobs of the paper's experiments (defaults: this artifact's reading).

    Attributes
    ----------
    start : str
        Greedy's start vector (eq. 6 leaves ``p⁽⁰⁾`` open): ``half`` (⌊s̃_i/2⌋), ``ones``
        or ``local`` (s̃_i).
    baseline : str
        Fig. 3's all-local baseline on a device whose memory cannot hold the network:
        ``all-local`` (p = S, the paper's words, even beyond s̃_i) or ``max-local``
        (p = s̃_i, the most local point memory allows).
    restarts : int
        ``local-search``: seeded random starts besides the greedy start.
    """

    start: str = "half"
    baseline: str = "all-local"
    restarts: int = 8

    def to_dict(self) -> dict[str, Any]:
        """Plain data (manifests)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any, where: str = "experiment") -> Experiment:
        """An experiment from its plain-data form; absent fields keep their defaults."""
        raw = mapping(raw, where, {f.name for f in fields(cls)})
        try:
            return cls(**raw)
        except InputError as error:
            raise InputError(
                f"{where}.{error.field.removeprefix('experiment.')}", error.problem
            ) from None

    def replace(self, **changes: Any) -> Experiment:
        """A copy with ``changes``; an unknown field is an :class:`InputError` naming it."""
        return replace_fields(self, changes, "experiment.")
