"""The timeline model: the base station as a discrete-event system (beyond the paper).

Device i's task reaches the BS at ``r_i = D^L_i + D^tr_i`` rather than at time 0 (the
snapshot model); the BS policy runs event by event (docs/model.md, "The timeline model"):
``sjf`` and ``fcfs`` non-preemptive (ties by device index), ``rr`` with quantum ``q``
(tasks arriving during a slice join the queue before the preempted task), ``ps`` processor
sharing. A device's delay is its completion time; ``remote = completion − r_i``. A
simulation of more than :data:`MAX_TIMELINE_EVENTS` events is refused before it starts.
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np

from dnnsplit.errors import InputError, unknown_choice
from dnnsplit.model import QUANTA_GUARD, whole_quanta

__all__ = ["MAX_TIMELINE_EVENTS", "TIMELINE_POLICIES", "timeline_completion", "timeline_events"]

TIMELINE_POLICIES = ("sjf", "fcfs", "rr", "ps")
#: Under processor sharing a task has finished when its remaining work is at most this
#: share of its work (of one second, for a task shorter than that): the rounding left by
#: subtracting shares of a step.
PS_DONE_RELATIVE = 1e-12
#: The most events one simulation may take (about 4 s of pure-Python event loop here):
#: round-robin slices ``Σ_i ceil(T^R_i / q_R)``, or ``n²`` steps of processor sharing
#: among n tasks, or n tasks for sjf and fcfs.
MAX_TIMELINE_EVENTS = 10_000_000


def _sjf(release: np.ndarray, work: np.ndarray, tasks: list[int]) -> np.ndarray:
    finish = np.zeros_like(work)
    arrivals = sorted(tasks, key=lambda i: (release[i], i))
    ready: list[tuple[float, int]] = []
    clock, k = 0.0, 0
    while k < len(arrivals) or ready:
        if not ready:
            clock = max(clock, release[arrivals[k]])
        while k < len(arrivals) and release[arrivals[k]] <= clock:
            heapq.heappush(ready, (work[arrivals[k]], arrivals[k]))
            k += 1
        _, i = heapq.heappop(ready)
        clock += work[i]
        finish[i] = clock
    return finish


def _fcfs(release: np.ndarray, work: np.ndarray, tasks: list[int]) -> np.ndarray:
    finish = np.zeros_like(work)
    clock = 0.0
    for i in sorted(tasks, key=lambda i: (release[i], i)):
        clock = max(clock, release[i]) + work[i]
        finish[i] = clock
    return finish


def _rr(release: np.ndarray, work: np.ndarray, tasks: list[int], quantum: float) -> np.ndarray:
    finish = np.zeros_like(work)
    remaining = work.copy()
    arrivals = sorted(tasks, key=lambda i: (release[i], i))
    queue: deque[int] = deque()
    clock, k = 0.0, 0

    def admit(until: float) -> int:
        nonlocal k
        while k < len(arrivals) and release[arrivals[k]] <= until:
            queue.append(arrivals[k])
            k += 1
        return k

    while k < len(arrivals) or queue:
        if not queue:
            clock = max(clock, release[arrivals[k]])
        admit(clock)
        i = queue.popleft()
        # a last slice within QUANTA_GUARD of a quantum runs whole (as in rr_completion)
        last = remaining[i] <= quantum * (1 + QUANTA_GUARD)
        run = remaining[i] if last else quantum
        clock += run
        remaining[i] -= run
        admit(clock)
        if last:
            finish[i] = clock
        else:
            queue.append(i)
    return finish


def _ps(release: np.ndarray, work: np.ndarray, tasks: list[int]) -> np.ndarray:
    finish = np.zeros_like(work)
    remaining = work.copy()
    arrivals = sorted(tasks, key=lambda i: (release[i], i))
    active: list[int] = []
    clock, k = 0.0, 0
    while k < len(arrivals) or active:
        if not active:
            clock = max(clock, release[arrivals[k]])
        while k < len(arrivals) and release[arrivals[k]] <= clock:
            active.append(arrivals[k])
            k += 1
        share = len(active)
        smallest = min(remaining[i] for i in active)
        next_release = release[arrivals[k]] if k < len(arrivals) else np.inf
        step = min(smallest * share, next_release - clock)
        clock += step
        for i in active:
            remaining[i] -= step / share
        done = [i for i in active if remaining[i] <= PS_DONE_RELATIVE * max(1.0, work[i])]
        for i in done:
            finish[i] = clock
        active = [i for i in active if i not in done]
    return finish


def timeline_events(work: np.ndarray, policy: str, quantum: float) -> float:
    """Events a simulation of ``work`` under ``policy`` takes (see
    :data:`MAX_TIMELINE_EVENTS`): rr slices, n² ps steps, or n tasks."""
    work = np.asarray(work, dtype=float)
    queued = work[work > 0]
    if policy == "rr":
        return float(whole_quanta(queued, quantum).sum())
    if policy == "ps":
        return float(queued.size) ** 2
    return float(queued.size)


def timeline_completion(
    release: np.ndarray, work: np.ndarray, policy: str, quantum: float
) -> np.ndarray:
    """Completion times of residual tasks released at ``release`` under ``policy``.

    Parameters
    ----------
    release : numpy.ndarray
        Arrival times ``r_i = D^L_i + D^tr_i`` at the BS, shape (N,).
    work : numpy.ndarray
        Residual BS work ``T^R_i``, shape (N,); 0 means the task is never queued.
    policy : {"sjf", "fcfs", "rr", "ps"}
        BS policy (see the module docstring).
    quantum : float
        BS quantum for ``rr``.

    Returns
    -------
    numpy.ndarray
        Absolute completion times; ``release`` itself where the work is 0.

    Notes
    -----
    O(N log N) for sjf and fcfs, O(N · rounds) for rr, O(N²) for ps, per vector.
    """
    release = np.asarray(release, dtype=float)
    work = np.asarray(work, dtype=float)
    if work.ndim != 1 or release.shape != work.shape:
        raise InputError(
            "work",
            f"release and work must be two 1-d arrays of one length, got "
            f"shapes {release.shape} and {work.shape}",
        )
    if not (np.all(np.isfinite(release)) and np.all(np.isfinite(work)) and np.all(work >= 0)):
        raise InputError("work", "release times and work must be finite, and work >= 0")
    events = timeline_events(work, policy, quantum)
    if events > MAX_TIMELINE_EVENTS:
        if policy == "rr":
            raise InputError(
                "bs.quantum_s",
                f"round-robin with a {quantum:g} s quantum needs {events:.3g} slices for this "
                f"partition vector, more than the timeline simulation's bound of "
                f"{MAX_TIMELINE_EVENTS} events (dnnsplit.timeline.MAX_TIMELINE_EVENTS); use a "
                "larger bs.quantum_s or the snapshot model",
            )
        raise InputError(
            "devices",
            f"{policy} over {int(np.count_nonzero(work > 0))} offloaded tasks needs "
            f"{events:.3g} steps, more than the timeline simulation's bound of "
            f"{MAX_TIMELINE_EVENTS} events (dnnsplit.timeline.MAX_TIMELINE_EVENTS); use fewer "
            "devices or the snapshot model",
        )
    tasks = [i for i in range(work.shape[0]) if work[i] > 0]
    if policy == "sjf":
        finish = _sjf(release, work, tasks)
    elif policy == "fcfs":
        finish = _fcfs(release, work, tasks)
    elif policy == "rr":
        finish = _rr(release, work, tasks, quantum)
    elif policy == "ps":
        finish = _ps(release, work, tasks)
    else:
        raise unknown_choice("bs.policy", "policy", policy, TIMELINE_POLICIES)
    return np.where(work > 0, finish, release)
