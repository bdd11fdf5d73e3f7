"""Online partitioning: devices that come and go, uplinks that change (beyond the paper).

The paper decides once, for N devices at fixed rates. Here the world moves
(:mod:`dnnsplit.online.dynamics`): devices join and leave, each present device asks for
inferences over time, and each uplink follows a rate trace (:mod:`dnnsplit.online.traces`:
a CSV, Mahimahi's format, or a seeded good/bad Markov channel). An event-driven
simulation (:mod:`dnnsplit.online.simulation`, on SimPy) runs every request through the
devices, their uplinks and the BS, while a controller (:mod:`dnnsplit.online.controllers`:
static, re-solve, incremental repair, a bandit that sees no rates) changes the partition
points, paying for its decision time and for every switch. Its regret against an oracle
that plays each state's offline optimum (certified where ``optimal`` finishes) is
:mod:`dnnsplit.online.regret`. Entry point: :func:`simulate` (docs/online.md). The same
controllers drive real device processes on the emulated testbed in
:mod:`dnnsplit.online.testbed` (imported on its own: it needs :mod:`dnnsplit.testbed`).
"""

from dnnsplit.online.api import (
    DEFAULT_MAX_NODES,
    DEFAULT_SECONDS_PER_EVALUATION,
    Run,
    simulate,
)
from dnnsplit.online.controllers import (
    CONTROLLER_SOLVERS,
    CONTROLLERS,
    Bandit,
    Controller,
    Decision,
    Repair,
    Resolve,
    State,
    Static,
)
from dnnsplit.online.dynamics import (
    Arrivals,
    Dynamics,
    OnlineScenario,
    Requests,
    Stay,
    TraceSpec,
    World,
)
from dnnsplit.online.traces import RateTrace, read_mahimahi, read_rate_csv, read_trace, two_state

__all__ = [
    "CONTROLLERS",
    "CONTROLLER_SOLVERS",
    "DEFAULT_MAX_NODES",
    "DEFAULT_SECONDS_PER_EVALUATION",
    "Arrivals",
    "Bandit",
    "Controller",
    "Decision",
    "Dynamics",
    "OnlineScenario",
    "RateTrace",
    "Repair",
    "Requests",
    "Resolve",
    "Run",
    "State",
    "Static",
    "Stay",
    "TraceSpec",
    "World",
    "read_mahimahi",
    "read_rate_csv",
    "read_trace",
    "simulate",
    "two_state",
]
