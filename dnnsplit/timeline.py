"""The timeline model: the base station as a discrete-event system (beyond the paper).

The paper's snapshot model puts every residual task in the BS queue at time 0. In truth
device i's task arrives at ``r_i = D^L_i + D^tr_i``, when its local stages are done and its
tensor has crossed the air. This module releases each task at ``r_i`` and runs the BS
policy event by event (docs/model.md, "The timeline model"):

- ``sjf``: non-preemptive; whenever the BS falls idle it starts the shortest released task
  (ties by device index);
- ``fcfs``: non-preemptive, in order of release (ties by device index);
- ``rr``: quantum ``q`` among released tasks; tasks that arrive during a slice join the
  back of the queue before the task that was just preempted;
- ``ps``: processor sharing among the released tasks.

A device's delay is then its completion time; ``remote = completion − r_i``.
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np

from dnnsplit.errors import unknown_choice
from dnnsplit.model import QUANTA_GUARD

__all__ = ["TIMELINE_POLICIES", "timeline_completion"]

TIMELINE_POLICIES = ("sjf", "fcfs", "rr", "ps")
_EPS = 1e-12


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
        done = [i for i in active if remaining[i] <= _EPS * max(1.0, work[i])]
        for i in done:
            finish[i] = clock
        active = [i for i in active if i not in done]
    return finish


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
