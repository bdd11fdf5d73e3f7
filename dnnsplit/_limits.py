"""What stops a long computation: its time limit, its node limit and Ctrl-C.

A solver's loop asks a :class:`Budget` between iterations (a compiled kernel: between two
short blocks) whether it must stop: :meth:`Budget.stop` answers with one of :data:`STOPS`
or None (:attr:`dnnsplit.solvers.Solution.stopped`). A ``KeyboardInterrupt`` raised inside
numba's callbacks during a parallel loop tears the compiled code down (SIGSEGV in 9 of 9
tries), so inside :func:`deferred_interrupts` a SIGINT only records itself and the next
look takes it: a solver's budget (``interrupts="stop"``) ends with its best answer, which
:class:`Interrupted` carries to the caller; any other budget raises the Ctrl-C there.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from dnnsplit.errors import SolverRefusal

__all__ = [
    "STOPS",
    "Budget",
    "Interrupted",
    "deferred_interrupts",
    "duration",
]

#: Why a solver stopped before its search was done (``Solution.stopped``; None: it was
#: done): its time limit, its node limit (a count of search nodes, the same on any
#: machine), its iteration limit (greedy and local-search's ``max_iterations``), the
#: memory its open nodes may take, or a Ctrl-C.
STOPS = ("time_limit", "node_limit", "iteration_limit", "memory_limit", "interrupted")

_PENDING: list[tuple[int, Any]] = []  # (signal number, frame) of SIGINTs not yet raised
_PREVIOUS: list[Any] = []  # the handler each active deferral replaced (innermost last)


def _record(signum: int, frame: Any) -> None:
    _PENDING.append((signum, frame))


class Interrupted(KeyboardInterrupt):
    """A Ctrl-C that stopped a solver, carrying the solver's answer so far.

    Raised by a solver whose budget stopped with ``"interrupted"``; a caller that catches
    ``KeyboardInterrupt`` (the command line: exit 130) sees a Ctrl-C as before, and one
    that wants the answer reads :attr:`solution` (its ``stopped`` is ``"interrupted"``).
    """

    def __init__(self, solution: Any) -> None:
        super().__init__("interrupted")
        self.solution = solution


def _raise_pending(handler: Any) -> None:
    signum, frame = _PENDING[0]
    _PENDING.clear()
    if callable(handler):
        handler(signum, frame)
    else:  # SIG_DFL: the default action of SIGINT is what Python raises
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Within the block, a SIGINT is recorded, not raised; :meth:`Budget.stop` raises it
    (or takes it), and so does the end of the block.

    Does nothing outside the main thread (no signal reaches Python there), when SIGINT is
    ignored (``SIG_IGN``: a Dask worker's), or inside another deferral.
    """
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main and not _PREVIOUS else None
    if previous in (signal.SIG_IGN, None):  # (None: no handler set from Python)
        yield
        return
    _PREVIOUS.append(previous)
    signal.signal(signal.SIGINT, _record)
    try:
        yield
    except BaseException:
        _PENDING.clear()  # the block ends with its own error (a Ctrl-C raised in it, say)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
        _PREVIOUS.clear()
    if _PENDING:
        _raise_pending(previous)


def duration(seconds: float) -> str:
    """``seconds`` in words a user reads at a glance: 0.4 s, 45 s, 4 min, 3.2 h, 12 days."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds < 2 * 365 * 86400:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / (365 * 86400):.2g} years"


class Budget:
    """What a solver may spend, counted from its call: seconds, nodes, and a look at
    Ctrl-C.

    Parameters
    ----------
    seconds : float or None
        The time limit; None: no limit.
    field : str
        The option that set the limit, named by a refusal (``time_limit``).
    nodes : int or None
        The most nodes (or other units of work, :meth:`spend`) the solver may take; None:
        no limit. A node limit stops a search at the same place on any machine.
    interrupts : {"raise", "stop"}
        What a Ctrl-C that arrived inside :func:`deferred_interrupts` does at the next
        look: raise there (``"raise"``), or stop the work with ``"interrupted"``
        (``"stop"``, a solver's budget: the solver then ends with its answer).
    """

    def __init__(
        self,
        seconds: float | None,
        field: str = "time_limit",
        *,
        nodes: int | None = None,
        interrupts: str = "raise",
    ) -> None:
        self.seconds = seconds
        self.field = field
        self.nodes = nodes
        self.interrupts = interrupts
        self.began = time.perf_counter()
        self.deadline = math.inf if seconds is None else self.began + seconds
        self.spent = 0
        #: Why the work stopped (one of :data:`STOPS`), None while it may go on.
        self.stopped: str | None = None

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, never below 0)."""
        return max(0.0, self.deadline - time.perf_counter())

    def spend(self, units: int = 1) -> None:
        """Count ``units`` nodes of work against the node limit."""
        self.spent += units

    def nodes_left(self) -> int | None:
        """Nodes the limit still allows (None without a node limit, never below 0)."""
        return None if self.nodes is None else max(0, self.nodes - self.spent)

    def stop(self) -> str | None:
        """Why the work must stop now (one of :data:`STOPS`, remembered in
        :attr:`stopped`), or None. A Ctrl-C that arrived meanwhile is raised here, or,
        with ``interrupts="stop"``, taken as ``"interrupted"``."""
        if self.stopped is None and _PENDING:  # a Ctrl-C inside deferred_interrupts
            if self.interrupts == "stop":
                _PENDING.clear()  # taken: it is not raised at the end of the block
                self.stopped = "interrupted"
            else:  # the replaced handler decides (the default one raises KeyboardInterrupt)
                _raise_pending(_PREVIOUS[0] if _PREVIOUS else signal.default_int_handler)
        if self.stopped is None:
            if time.perf_counter() >= self.deadline:
                self.stopped = "time_limit"
            elif self.nodes is not None and self.spent >= self.nodes:
                self.stopped = "node_limit"
        return self.stopped

    def halt(self, reason: str) -> None:
        """Record a stop the solver decided itself (``"memory_limit"``,
        ``"iteration_limit"``)."""
        if self.stopped is None:
            self.stopped = reason

    def refuse_beyond(self, estimate_s: float, what: str) -> None:
        """Refuse up front (a :class:`~dnnsplit.errors.SolverRefusal` naming the limit's
        option) work estimated at ``estimate_s`` seconds that the time left cannot hold."""
        if self.seconds is not None and estimate_s > self.remaining():
            raise SolverRefusal(
                self.field,
                f"{what} takes about {duration(estimate_s)}, more than the time limit of "
                f"{self.seconds:g} s allows; raise the limit or choose a faster solver",
            )
