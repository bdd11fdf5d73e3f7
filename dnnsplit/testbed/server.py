"""The base station: an asyncio TCP server that runs the remaining stages of every
offloaded DNN on one thread, under one scheduling policy (``dnnsplit serve``).

Devices connect, and each request (a frame of :mod:`dnnsplit.testbed.protocol`) becomes a
*task*: the tensor of its cut and the stages ``p+1..S`` still to run. One compute thread
serves the queued tasks one stage at a time; at every stage boundary the policy picks the
task whose next stage runs:

- ``sjf``: the least residual work ``Σ_{s>next} t^R_s`` first (ties: the lower device id,
  then the earlier arrival). A task that arrives while another runs may overtake it at the
  next boundary: SJF is preemptive at stage boundaries (the paper's eq. 2 queues all tasks
  at once, where this is the same order; :func:`service_order` and its tests).
- ``rr``: round-robin with one stage as the quantum. The running task goes to the back of
  the queue after each stage, behind the tasks that arrived during that stage (as the
  timeline model's ``rr``).
- ``fcfs``: the earliest arrival first, run to completion.

``t^R_s`` comes from a measured BS profile (``--bs-profile``) or, without one, from timing
each stage alone when the server starts. The reply carries the result and the task's
stamps (arrival, start, end, service). Limits: a frame larger than the network's largest
cut is refused before it is read; dtype and shape must be those of the claimed cut; a
connection that stalls mid-frame beyond ``timeout_s``, or idles beyond ``idle_timeout_s``,
is closed; at most ``max_queue`` tasks wait (one more is refused with an error frame).
Malformed input closes that connection with a logged reason and the server goes on
serving the others. With a token, a request whose auth field does not match is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dnnsplit.chains import Chain
from dnnsplit.errors import InputError, check_choice
from dnnsplit.testbed.protocol import (
    HEADER,
    KIND_ERROR,
    KIND_REPLY,
    KIND_REQUEST,
    FrameError,
    Header,
    cut_shapes,
    decode_tensor,
    encode,
    parse_header,
    tensor_payload,
    token_digest,
)

__all__ = [
    "SERVER_POLICIES",
    "BSServer",
    "Task",
    "pick",
    "service_order",
]

SERVER_POLICIES = ("sjf", "rr", "fcfs")
log = logging.getLogger("dnnsplit.serve")


class StageRunner(Protocol):
    """What the server needs of a network: run stage ``k`` (0-based) on a tensor."""

    def run(self, stage: int, x: np.ndarray) -> np.ndarray: ...


@dataclass(eq=False)
class Task:
    """One offloaded request at the BS.

    ``next_stage`` is the 0-based index of the next stage to run (it starts at the
    partition point p); ``residual_s`` the BS work left, by the server's stage table.
    """

    device: int
    point: int
    seq: int
    next_stage: int
    residual_s: float
    tensor: Any = None
    arrival: float = 0.0
    start: float | None = None
    end: float = 0.0
    service: float = 0.0
    done: asyncio.Future[Any] | None = None
    stages: list[tuple[int, float, float]] = field(default_factory=list)


def pick(queue: Sequence[Task], policy: str) -> Task:
    """The task whose next stage the BS runs, under ``policy`` (the module docstring).

    ``queue`` is in round-robin order (arrival order, the preempted task moved to the
    back): ``rr`` takes its head; ``sjf`` the least ``(residual_s, device, seq)``;
    ``fcfs`` the least ``seq`` (the earliest arrival).
    """
    if policy == "rr":
        return queue[0]
    if policy == "sjf":
        return min(queue, key=lambda t: (t.residual_s, t.device, t.seq))
    return min(queue, key=lambda t: t.seq)


def service_order(
    arrivals: Sequence[tuple[float, int, int]],
    stage_times: Sequence[float],
    policy: str,
) -> list[tuple[int, int, float, float]]:
    """The BS's schedule on a simulated clock: which stage of which device runs when.

    The same rule the server applies (:func:`pick`), replayed on hand-made arrivals with
    exact stage times, so that a scheduling rule can be checked as a trace.

    Parameters
    ----------
    arrivals : sequence of (time, device, point)
        When each request arrives, from which device, cut at which point.
    stage_times : sequence of float
        ``t^R_s``, the BS time of each stage.
    policy : {"sjf", "rr", "fcfs"}

    Returns
    -------
    list of (device, stage, start, end)
        Every stage run, in order (stage 1-based, as in the paper).
    """
    policy = check_choice(policy, SERVER_POLICIES, "policy")
    n_stages = len(stage_times)
    ordered = sorted(enumerate(arrivals), key=lambda item: (item[1][0], item[0]))
    pending = [
        (time_, seq, Task(device, point, seq, point, sum(stage_times[point:])))
        for seq, (_, (time_, device, point)) in enumerate(ordered)
    ]
    queue: list[Task] = []
    trace: list[tuple[int, int, float, float]] = []
    clock, k = 0.0, 0

    def admit(until: float) -> None:
        nonlocal k
        while k < len(pending) and pending[k][0] <= until:
            if pending[k][2].next_stage < n_stages:
                queue.append(pending[k][2])
            k += 1

    while k < len(pending) or queue:
        if not queue:
            clock = max(clock, pending[k][0])
        admit(clock)
        if not queue:
            continue
        task = pick(queue, policy)
        stage = task.next_stage
        end = clock + stage_times[stage]
        trace.append((task.device, stage + 1, clock, end))
        clock = end
        task.next_stage += 1
        task.residual_s -= stage_times[stage]
        admit(clock)
        if task.next_stage == n_stages:
            queue.remove(task)
        elif policy == "rr":
            queue.remove(task)
            queue.append(task)
    return trace


class BSServer:
    """The BS: serve requests for ``chain`` under ``policy`` (the module docstring).

    Parameters
    ----------
    chain : Chain
        The network whose cut points requests must match.
    runner : StageRunner
        Runs one stage (the real PyTorch network, or a stand-in in tests).
    stage_times : sequence of float
        ``t^R_s`` per stage, for SJF's residual work.
    policy : {"sjf", "rr", "fcfs"}
    token : str, optional
        A shared token; requests must carry its digest.
    max_queue : int
        Tasks that may wait at once; one more is refused.
    timeout_s : float
        Longest a frame may take to arrive once its first byte has (and to write a reply).
    idle_timeout_s : float
        Longest a connection may wait between requests.
    max_payload : int, optional
        Largest payload accepted (default: the network's largest cut).
    """

    def __init__(
        self,
        chain: Chain,
        runner: StageRunner,
        stage_times: Sequence[float],
        *,
        policy: str = "sjf",
        token: str | None = None,
        max_queue: int = 64,
        timeout_s: float = 30.0,
        idle_timeout_s: float = 600.0,
        max_payload: int | None = None,
    ) -> None:
        self.chain = chain
        self.runner = runner
        self.policy = check_choice(policy, SERVER_POLICIES, "--policy", "policy")
        self.stage_times = [float(t) for t in stage_times]
        if len(self.stage_times) != len(chain.stages):
            raise InputError("stage_times", f"needs one time per stage ({len(chain.stages)})")
        largest = max(math.prod(s) * 4 for s in cut_shapes(chain))
        self.max_payload = largest if max_payload is None else int(max_payload)
        self.auth = token_digest(token) if token else None
        self.max_queue = int(max_queue)
        self.timeout_s = float(timeout_s)
        self.idle_timeout_s = float(idle_timeout_s)
        self.queue: list[Task] = []
        self.trace: list[tuple[int, int, float, float]] = []
        self.refused: list[str] = []
        self.served = 0
        self._seq = 0
        self._wake: asyncio.Event | None = None
        self._running = True
        self._server: asyncio.base_events.Server | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bs-compute")
        self._connections: set[asyncio.Task[Any]] = set()

    # -- the compute loop ----------------------------------------------------------------

    def pause(self) -> None:
        """Hold every queued task (tests queue several, then :meth:`resume`)."""
        self._running = False

    def resume(self) -> None:
        self._running = True
        if self._wake is not None:
            self._wake.set()

    async def _compute(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            while not (self.queue and self._running):
                self._wake.clear()
                await self._wake.wait()
            task = pick(self.queue, self.policy)
            stage = task.next_stage
            began = time.monotonic()
            if task.start is None:
                task.start = began
            try:
                task.tensor = await loop.run_in_executor(
                    self._executor, self.runner.run, stage, task.tensor
                )
            except Exception as error:  # a stage that fails fails its task, not the BS
                self.queue.remove(task)
                if task.done is not None and not task.done.done():
                    task.done.set_exception(error)
                continue
            ended = time.monotonic()
            task.service += ended - began
            task.stages.append((stage + 1, began, ended))
            self.trace.append((task.device, stage + 1, began, ended))
            task.next_stage += 1
            task.residual_s -= self.stage_times[stage]
            if task.next_stage == len(self.stage_times):
                self.queue.remove(task)
                task.end = ended
                if task.done is not None and not task.done.done():
                    task.done.set_result(task.tensor)
            elif self.policy == "rr":
                self.queue.remove(task)
                self.queue.append(task)

    # -- connections ---------------------------------------------------------------------

    async def _refuse(self, writer: asyncio.StreamWriter, peer: str, reason: str) -> None:
        """Log ``reason``, send it in an error frame (best effort) and close."""
        log.warning("%s: %s; connection closed", peer, reason)
        self.refused.append(reason)
        text = reason.encode("utf-8")[:4096]
        with contextlib.suppress(Exception):
            writer.write(encode(Header(KIND_ERROR, 0, 0, (), len(text)), text))
            await asyncio.wait_for(writer.drain(), 1.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        assert me is not None
        self._connections.add(me)
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        try:
            await self._serve_connection(reader, writer, peer)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError) as error:
            log.info("%s: connection lost (%s)", peer, error)
        finally:
            self._connections.discard(me)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        while True:
            try:
                first = await asyncio.wait_for(reader.read(1), self.idle_timeout_s)
            except TimeoutError:
                return await self._refuse(writer, peer, f"idle for {self.idle_timeout_s:g} s")
            if not first:
                return  # the device closed the connection between requests
            try:
                rest = await asyncio.wait_for(reader.readexactly(HEADER.size - 1), self.timeout_s)
                header = parse_header(
                    first + rest,
                    expect=KIND_REQUEST,
                    max_payload=self.max_payload,
                    chain=self.chain,
                    auth=self.auth,
                )
                payload = await asyncio.wait_for(reader.readexactly(header.length), self.timeout_s)
            except FrameError as error:
                return await self._refuse(writer, peer, f"bad frame: {error}")
            except asyncio.IncompleteReadError as error:
                return await self._refuse(
                    writer, peer, f"truncated frame: {len(error.partial)} bytes then end"
                )
            except TimeoutError:
                return await self._refuse(
                    writer, peer, f"frame not complete within {self.timeout_s:g} s"
                )
            arrival = time.monotonic()
            if len(self.queue) >= self.max_queue:
                return await self._refuse(writer, peer, f"queue full ({self.max_queue} tasks)")
            result = await self._submit(header, payload, arrival)
            if result is None:
                return await self._refuse(writer, peer, "the BS failed to run the request")
            task, output = result
            body = tensor_payload(output)
            stamps = (task.arrival, task.start or task.end, task.end, task.service)
            reply = Header(
                KIND_REPLY,
                header.device,
                header.point,
                tuple(output.shape),
                len(body),
                stamps=stamps,
            )
            writer.write(encode(reply, body))
            try:
                await asyncio.wait_for(writer.drain(), self.timeout_s)
            except TimeoutError:
                return await self._refuse(writer, peer, "the reply could not be written")

    async def _submit(
        self, header: Header, payload: bytes, arrival: float
    ) -> tuple[Task, np.ndarray] | None:
        loop = asyncio.get_running_loop()
        point = header.point
        task = Task(
            device=header.device,
            point=point,
            seq=self._seq,
            next_stage=point,
            residual_s=sum(self.stage_times[point:]),
            tensor=decode_tensor(header, payload),
            arrival=arrival,
            done=loop.create_future(),
        )
        self._seq += 1
        self.queue.append(task)
        assert self._wake is not None and task.done is not None
        self._wake.set()
        try:
            output = await task.done
        except Exception as error:
            log.error("device %d: stage failed: %s", header.device, error)
            return None
        self.served += 1
        return task, output

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on ``host:port`` (0: any free port); returns the address bound."""
        self._wake = asyncio.Event()
        self._worker = asyncio.create_task(self._compute())
        self._server = await asyncio.start_server(
            self._handle, host, port, limit=HEADER.size + self.max_payload
        )
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        """Stop listening, drop the connections and the queue, stop the compute thread."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2.0)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._executor.shutdown(wait=True, cancel_futures=True)


async def serve_until_signalled(
    server: BSServer,
    host: str,
    port: int,
    *,
    announce: Callable[[str, int], None],
) -> None:
    """Run ``server`` on ``host:port`` until SIGINT or SIGTERM, then close it."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        bound = await server.start(host, port)
        announce(*bound)
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.close()
