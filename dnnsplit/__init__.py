"""dnnsplit: multi-device DNN partitioning and inference offloading.

A reproduction, and extension, of Kafetzis and Koutsopoulos, "DNN Partitioning and
Inference Task Offloading in 6G Resource-Constrained Networks". N devices each run a DNN
split at a partition point: the first p stages locally on a CPU shared round-robin with
background work, the intermediate tensor over WiFi, the rest at a base station that serves
every offloaded DNN under one scheduling policy.

The public API: :class:`Setup` (every choice the paper leaves open), :class:`Scenario`
(from a dict or a file), :func:`paper_scenario` (the scenario of ``(N, seed, setup)``),
:func:`evaluate` (delays, energies and objectives of a partition vector) and :func:`solve`
(greedy, local search, exact solvers, baselines; each a function of :mod:`dnnsplit.solvers`).
The paper's experiments, figures and report live in :mod:`dnnsplit.paper`, which this
package never imports (so ``import dnnsplit`` needs no plotting library).
"""

from dnnsplit.channel import Channel
from dnnsplit.draw import paper_scenario
from dnnsplit.errors import InputError, SolverRefusal
from dnnsplit.evaluate import Evaluation, evaluate
from dnnsplit.profiles import Profile, list_profiles, load_profile
from dnnsplit.scenario import Device, Power, Scenario
from dnnsplit.setup import Setup
from dnnsplit.solvers import OBJECTIVES, SOLVERS, Solution, is_local_optimum, solve

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

__version__ = "0.2.0"
