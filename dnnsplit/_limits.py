"""What stops a long computation: its time limit and Ctrl-C.

A solver's loop asks a :class:`Budget` between iterations (a compiled kernel runs in short
blocks, with a look at the budget between two blocks) whether its time limit has passed;
the same look raises :class:`KeyboardInterrupt` for a Ctrl-C.

Why a Ctrl-C waits for the look: while numba's threads run a parallel loop, the main
thread calls back into Python now and then (numba unpickles objects it needs), and a
``KeyboardInterrupt`` raised inside such a callback tears the compiled code down: the
process ended with SIGSEGV in 9 of 9 tries. Inside :func:`deferred_interrupts` a SIGINT
only records itself; :meth:`Budget.expired` (or the end of the block) raises it, in
Python, between two compiled calls. A compiled block is short (a fraction of a second), so
a Ctrl-C still stops a search at once.
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

__all__ = ["Budget", "deferred_interrupts", "duration", "interrupted"]

_PENDING: list[tuple[int, Any]] = []  # (signal number, frame) of SIGINTs not yet raised
_PREVIOUS: list[Any] = []  # the handler each active deferral replaced (innermost last)


def _record(signum: int, frame: Any) -> None:
    _PENDING.append((signum, frame))


def interrupted() -> None:
    """Raise the Ctrl-C that arrived inside :func:`deferred_interrupts`, if one did (the
    replaced handler decides: the default one raises :class:`KeyboardInterrupt`)."""
    if _PENDING:
        _raise_pending(_PREVIOUS[0] if _PREVIOUS else signal.default_int_handler)


def _raise_pending(handler: Any) -> None:
    signum, frame = _PENDING[0]
    _PENDING.clear()
    if callable(handler):
        handler(signum, frame)
    else:  # SIG_DFL: the default action of SIGINT is what Python raises
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Within the block, a SIGINT is recorded, not raised; :func:`interrupted` (called by
    :meth:`Budget.expired`) raises it, and so does the end of the block.

    Does nothing outside the main thread (no signal reaches Python there), when SIGINT is
    ignored (``SIG_IGN``: a Dask worker's), or inside another deferral.
    """
    if threading.current_thread() is not threading.main_thread() or _PREVIOUS:
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGINT)
    except ValueError:  # pragma: no cover - no signals in this interpreter
        yield
        return
    if previous in (signal.SIG_IGN, None):
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
    """The time a solver may take, counted from its call, and a look at Ctrl-C.

    Parameters
    ----------
    seconds : float or None
        The time limit; None: no limit (only Ctrl-C is looked at).
    field : str
        The option that set the limit, named by a refusal (``time_limit``).
    """

    def __init__(self, seconds: float | None, field: str = "time_limit") -> None:
        self.seconds = seconds
        self.field = field
        self.began = time.perf_counter()
        self.deadline = math.inf if seconds is None else self.began + seconds
        self.reached = False

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def remaining(self) -> float:
        """Seconds left (``inf`` without a limit, never below 0)."""
        return max(0.0, self.deadline - time.perf_counter())

    def expired(self) -> bool:
        """Whether the time limit has passed (and remember it in :attr:`reached`); raises
        a Ctrl-C that arrived meanwhile (see :func:`deferred_interrupts`)."""
        interrupted()
        if not self.reached and time.perf_counter() >= self.deadline:
            self.reached = True
        return self.reached

    def refuse_beyond(self, estimate_s: float, what: str) -> None:
        """Refuse up front (a :class:`~dnnsplit.errors.SolverRefusal` naming the limit's
        option) work estimated at ``estimate_s`` seconds that the time left cannot hold."""
        if self.seconds is not None and estimate_s > self.remaining():
            raise SolverRefusal(
                self.field,
                f"{what} takes about {duration(estimate_s)}, more than the time limit of "
                f"{self.seconds:g} s allows; raise the limit or choose a faster solver",
            )
