"""Online partitioning: devices that come and go, uplinks that change (beyond the paper).

The paper decides once, for N devices at fixed rates. Here the world moves
(:mod:`~dnnsplit.online.dynamics`, with rate traces from :mod:`~dnnsplit.online.traces`),
an event-driven SimPy simulation (:mod:`~dnnsplit.online.simulation`) runs every request
while a controller (:mod:`~dnnsplit.online.controllers`) changes the partition points,
paying for its decision time and every switch, and :mod:`~dnnsplit.online.regret` measures
what it lost against an oracle that plays each state's offline optimum. Entry point:
:func:`simulate` (docs/online.md). :mod:`dnnsplit.online.testbed` (imported on its own: it
needs :mod:`dnnsplit.testbed`) drives the same controllers on the emulated testbed.
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
