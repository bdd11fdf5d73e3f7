"""dnnsplit: multi-device DNN partitioning and inference offloading.

A reproduction, and extension, of Kafetzis and Koutsopoulos, "DNN Partitioning and
Inference Task Offloading in 6G Resource-Constrained Networks". The public API:
:class:`Setup`, :class:`Scenario`, :func:`paper_scenario`, :func:`evaluate` and
:func:`solve` (see docs/interface.md). The paper's experiments live in
:mod:`dnnsplit.paper`, which this package never imports. Names are imported when first used
(PEP 562), so that ``import dnnsplit`` is quick and a Ctrl-C while importing is one line.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dnnsplit.channel import Channel
    from dnnsplit.draw import paper_scenario
    from dnnsplit.errors import InputError, SolverRefusal
    from dnnsplit.evaluate import Evaluation, evaluate
    from dnnsplit.profiles import Profile, list_profiles, load_profile
    from dnnsplit.scenario import Device, Power, Scenario
    from dnnsplit.setup import Setup
    from dnnsplit.solvers import OBJECTIVES, SOLVERS, Solution, is_local_optimum, solve

#: The module each public name is defined in.
_HOMES = {
    "Channel": "dnnsplit.channel",
    "Device": "dnnsplit.scenario",
    "Evaluation": "dnnsplit.evaluate",
    "InputError": "dnnsplit.errors",
    "OBJECTIVES": "dnnsplit.solvers",
    "Power": "dnnsplit.scenario",
    "Profile": "dnnsplit.profiles",
    "SOLVERS": "dnnsplit.solvers",
    "Scenario": "dnnsplit.scenario",
    "Setup": "dnnsplit.setup",
    "Solution": "dnnsplit.solvers",
    "SolverRefusal": "dnnsplit.errors",
    "evaluate": "dnnsplit.evaluate",
    "is_local_optimum": "dnnsplit.solvers",
    "list_profiles": "dnnsplit.profiles",
    "load_profile": "dnnsplit.profiles",
    "paper_scenario": "dnnsplit.draw",
    "solve": "dnnsplit.solvers",
}

__all__ = [
    "OBJECTIVES",
    "SOLVERS",
    "Channel",
    "Device",
    "Evaluation",
    "InputError",
    "Power",
    "Profile",
    "Scenario",
    "Setup",
    "Solution",
    "SolverRefusal",
    "evaluate",
    "is_local_optimum",
    "list_profiles",
    "load_profile",
    "paper_scenario",
    "solve",
]

__version__ = "0.4.0"


class _Package(types.ModuleType):
    """This package: its public names imported on first use. ``evaluate`` stays the
    function when the submodule of that name is imported after it (the import system
    would bind the submodule in its place)."""

    @property
    def evaluate(self) -> Any:
        return importlib.import_module("dnnsplit.evaluate").evaluate

    @evaluate.setter
    def evaluate(self, value: Any) -> None:
        pass  # the submodule, bound by the import system: sys.modules has it

    def __getattr__(self, name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'dnnsplit' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_HOMES})


sys.modules[__name__].__class__ = _Package
