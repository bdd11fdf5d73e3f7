"""The base station (``dnnsplit serve``): an asyncio TCP server that runs the remaining
stages of every offloaded DNN on one compute thread, one stage at a time, in the order
:class:`StageQueue` gives (``sjf``, ``rr`` or ``fcfs`` at stage boundaries; the same rule
:func:`service_order` replays on a simulated clock), within the limits of
:class:`ServerConfig`. docs/testbed.md ("The BS's limits", "The BS's scheduling") has the
rules and what each refusal (:data:`REFUSALS`) means.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import mmap
import resource
import signal
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dnnsplit._params import (
    Choice,
    Constraint,
    Flag,
    Instance,
    Nullable,
    Numbers,
    Real,
    Text,
    Whole,
    declare,
    declare_fields,
    replace_fields,
)
from dnnsplit.chains import Chain
from dnnsplit.errors import InputError, check_choice, shown
from dnnsplit.testbed.protocol import (
    HEADER,
    KIND_HELLO,
    KIND_REPLY,
    KIND_REQUEST,
    FrameError,
    Header,
    cut_bytes,
    encode,
    error_frame,
    parse_header,
    printable,
    tensor_payload,
    token_digest,
)

__all__ = [
    "SERVER_FIELDS",
    "SERVER_POLICIES",
    "BSServer",
    "EventLog",
    "ServerConfig",
    "StageQueue",
    "check_tensor_limit",
    "open_listener",
    "pick",
    "serve_until_signalled",
    "service_order",
]

SERVER_POLICIES = ("sjf", "rr", "fcfs")
#: Open files kept free beside the connections (the listener, PyTorch's, logging's).
SPARE_DESCRIPTORS = 64
#: Longest wait, after a refusal, for the rest of a frame the peer is still sending (read
#: and dropped, so that the peer reads the error frame rather than a reset).
LINGER_S = 1.0
#: Pending connections the kernel holds before the server accepts them.
BACKLOG = 128
#: Why the BS closes a connection: the kinds its refusals are counted and logged by.
REFUSALS = (
    "too many connections", "evicted", "no first frame", "idle", "wrong token", "bad frame",
    "truncated frame", "stalled frame", "queue full", "tensors at their limit", "stage failed",
    "reply not written",
)  # fmt: skip
log = logging.getLogger("dnnsplit.serve")

SERVER_FIELDS: dict[str, Constraint] = {
    "policy": Choice(SERVER_POLICIES, "policy"),
    "token": Nullable(Text("a non-empty token")),
    "allow_no_token": Flag(),
    "max_connections": Whole(1, 65_536),
    "max_queue": Whole(1, 1_000_000),
    "max_tensor_bytes": Whole(1, 2**40),
    "hello_timeout_s": Real(high=3_600.0, positive=True),
    "idle_timeout_s": Real(high=86_400.0, positive=True),
    "timeout_s": Real(high=86_400.0, positive=True),
    "max_records": Whole(1, 10_000_000),
    "log_interval_s": Real(0.0, 86_400.0),
}


@dataclass(frozen=True)
@declare_fields(SERVER_FIELDS)
class ServerConfig:
    """The BS's policy, token and limits (docs/testbed.md, "The BS's limits").

    Attributes
    ----------
    policy : {"sjf", "rr", "fcfs"}
    token : str, optional
        A shared token (non-empty); hellos and requests must carry its digest.
    allow_no_token : bool
        Listen beyond loopback without a token (serving anyone who can reach it).
    max_connections, max_queue : int
        Connections open at once (the process must be allowed ``max_connections +
        SPARE_DESCRIPTORS`` open files); tasks admitted at once.
    max_tensor_bytes : int
        Bytes the requests' tensors may hold at once (:func:`check_tensor_limit`).
    hello_timeout_s, idle_timeout_s, timeout_s : float
        Longest wait for a connection's first header; for the next frame; for one frame
        from its first byte to its last, and for a reply's write.
    max_records : int
        Stage runs (:attr:`BSServer.trace`) and refusal reasons kept, the latest.
    log_interval_s : float
        At most one log line per kind of event in this time (0: every event).
    """

    policy: str = "sjf"
    token: str | None = None
    allow_no_token: bool = False
    max_connections: int = 64
    max_queue: int = 64
    max_tensor_bytes: int = 256 * 2**20
    hello_timeout_s: float = 10.0
    idle_timeout_s: float = 120.0
    timeout_s: float = 30.0
    max_records: int = 1000
    log_interval_s: float = 10.0


class StageRunner(Protocol):
    """Runs stage ``k`` (0-based) of a network on a tensor."""

    def run(self, stage: int, x: np.ndarray) -> np.ndarray: ...


@dataclass(eq=False)
class Task:
    """One offloaded request at the BS: ``next_stage`` is the 0-based index of the next
    stage to run (first: the partition point p); ``residual_s`` the BS work left."""

    device: int
    seq: int
    next_stage: int
    residual_s: float
    tensor: Any = None
    arrival: float = 0.0
    start: float | None = None
    end: float = 0.0
    service: float = 0.0
    done: asyncio.Future[Any] | None = None


def pick(queue: Sequence[Task], policy: str) -> Task:
    """The task whose next stage the BS runs: ``rr`` the head of ``queue`` (in
    round-robin order), ``sjf`` the least ``(residual_s, device, seq)``, ``fcfs`` the least
    ``seq`` (the earliest arrival)."""
    if policy == "rr":
        return queue[0]
    if policy == "sjf":
        return min(queue, key=lambda t: (t.residual_s, t.device, t.seq))
    return min(queue, key=lambda t: t.seq)


class StageQueue:
    """The tasks waiting at the BS, in round-robin order, and the rule that orders their
    stages; the server and :func:`service_order` both serve through it, so the rule a trace
    checks is the rule the server applies."""

    def __init__(self, policy: str, stage_times: Sequence[float]) -> None:
        self.policy = policy
        self.stage_times = list(stage_times)
        self.tasks: list[Task] = []

    def __len__(self) -> int:
        return len(self.tasks)

    def add(self, task: Task) -> None:
        """Queue ``task`` (behind every task queued so far)."""
        self.tasks.append(task)

    def next(self) -> Task:
        """The task whose next stage runs now (the queue must not be empty)."""
        return pick(self.tasks, self.policy)

    def advance(self, task: Task) -> bool:
        """Book that ``task``'s next stage ran; True when it has no stage left (it has
        then left the queue). Under ``rr`` an unfinished task goes to the back, behind
        the tasks queued while its stage ran."""
        stage = task.next_stage
        task.next_stage += 1
        task.residual_s -= self.stage_times[stage]
        if task.next_stage == len(self.stage_times):
            self.tasks.remove(task)
            return True
        if self.policy == "rr":
            self.tasks.remove(task)
            self.tasks.append(task)
        return False

    def drop(self, task: Task) -> None:
        """Remove ``task`` (failed or abandoned), if it is queued."""
        with contextlib.suppress(ValueError):
            self.tasks.remove(task)


def service_order(
    arrivals: Sequence[tuple[float, int, int]],
    stage_times: Sequence[float],
    policy: str,
) -> list[tuple[int, int, float, float]]:
    """The BS's schedule on a simulated clock: the server's rule (:class:`StageQueue`)
    replayed on hand-made arrivals with exact stage times, to check it as a trace.

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
        (time_, Task(device, seq, point, sum(stage_times[point:])))
        for seq, (_, (time_, device, point)) in enumerate(ordered)
    ]
    queue = StageQueue(policy, stage_times)
    trace: list[tuple[int, int, float, float]] = []
    clock, k = 0.0, 0

    def admit(until: float) -> None:
        nonlocal k
        while k < len(pending) and pending[k][0] <= until:
            if pending[k][1].next_stage < n_stages:
                queue.add(pending[k][1])
            k += 1

    while k < len(pending) or queue:
        if not queue:
            clock = max(clock, pending[k][0])
        admit(clock)
        if not queue:
            continue
        task = queue.next()
        stage = task.next_stage
        end = clock + stage_times[stage]
        trace.append((task.device, stage + 1, clock, end))
        clock = end
        admit(clock)
        queue.advance(task)
    return trace


class EventLog:
    """Counts of every kind of event, and at most one log line per kind in
    ``interval_s`` (the first at once; the next says how many went unlogged between)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.counts: Counter[str] = Counter()
        self._logged_at: dict[str, float] = {}
        self._unlogged: Counter[str] = Counter()

    def note(self, kind: str, line: str, level: int = logging.WARNING) -> None:
        """Count one ``kind`` of event; log ``line`` unless that kind was logged lately."""
        self.counts[kind] += 1
        now = time.monotonic()
        last = self._logged_at.get(kind)
        if last is not None and now - last < self.interval_s:
            self._unlogged[kind] += 1
            return
        self._logged_at[kind] = now
        unlogged = self._unlogged.pop(kind, 0)
        more = f" (and {unlogged} more {kind!r} not logged since the last)" if unlogged else ""
        log.log(level, "%s%s", line, more)

    def flush(self) -> None:
        """Log a line for each kind with events not logged yet."""
        for kind, unlogged in sorted(self._unlogged.items()):
            log.warning("%d more %r not logged (%d in all)", unlogged, kind, self.counts[kind])
        self._unlogged.clear()


class _Refusal(Exception):
    """Close a connection with an error frame: ``args`` are its kind (of :data:`REFUSALS`)
    and the reason it sends."""


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    peer: str
    opened: float
    proven: bool = False
    evicted: bool = False
    frame_deadline: float = 0.0
    job: asyncio.Task[None] | None = None


def open_listener(host: str, port: int, config: ServerConfig) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free one) for a server with
    ``config``, or an :class:`~dnnsplit.errors.InputError` naming ``host``, ``port``,
    ``token`` (none beyond loopback) or ``max_connections`` (more than the process may open).
    """
    host = Text("a host name or address").check(host, "host")
    port = Whole(0, 65_535).check(port, "port")
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = config.max_connections + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < need:
        raise InputError(
            "max_connections",
            f"{config.max_connections} connections need {need} open files and this process "
            f"may open {soft} (ulimit -n)",
        )
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(
            "host", f"{shown(host)} is not an address to listen on ({reason})"
        ) from None
    family, kind, proto, _, address = found[0]
    try:
        loopback = ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback and config.token is None and not config.allow_no_token:
        raise InputError(
            "token",
            f"required to listen on {shown(host)}, which is not a loopback address "
            "(allow_no_token serves anyone who can reach it)",
        )
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        field = "port" if error.errno in (errno.EADDRINUSE, errno.EACCES) else "host"
        raise InputError(field, f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def check_tensor_limit(chain: Chain, config: ServerConfig) -> list[int]:
    """The bytes a request cut at each point ``p`` reserves (the most its tensors take at
    once: a stage's input and output, over its stages ``p+1..S``; the running stage's own
    intermediates come on top), or an :class:`~dnnsplit.errors.InputError` naming
    ``max_tensor_bytes`` if the largest does not fit in it."""
    sizes = cut_bytes(chain)
    n_stages = len(sizes) - 1
    reserve = [max(sizes[s] + sizes[s + 1] for s in range(p, n_stages)) for p in range(n_stages)]
    need = max(reserve)
    if config.max_tensor_bytes < need:
        raise InputError(
            "max_tensor_bytes",
            f"must hold one request at its largest, {need} bytes ({need / 2**20:.3g} MiB: "
            f"a stage's input and output), got {config.max_tensor_bytes} bytes",
        )
    return reserve


#: What :class:`BSServer` takes besides its config's fields (its constructor's declaration).
SERVER_PARAMETERS: dict[str, Constraint] = {
    "chain": Instance(Chain, "a dnnsplit.chains.Chain"),
    "stage_times": Numbers(Real(0.0, 1e6)),
    "config": Nullable(Instance(ServerConfig, "a ServerConfig")),
}


def _one_time_per_stage(arguments: dict[str, Any]) -> None:
    n_stages = len(arguments["chain"].stages)
    if len(arguments["stage_times"]) != n_stages:
        raise InputError("stage_times", f"needs one time per stage ({n_stages})")


class BSServer:
    """The BS: serve requests for ``chain`` under ``config`` (the module docstring).

    Parameters
    ----------
    chain : Chain
        The network whose cut points requests must match.
    runner : StageRunner
        Runs one stage (the real PyTorch network, or a stand-in in tests).
    stage_times : sequence of float
        ``t^R_s`` per stage (s, 0 to 10⁶), for SJF's residual work.
    config : ServerConfig, optional
        The policy, token and limits (default: :class:`ServerConfig`'s).
    **changes
        Fields of ``config`` to change (``policy="rr"``, ``max_queue=1``, ...).

    Attributes
    ----------
    trace : deque of (device, stage, start, end)
        The latest ``max_records`` stage runs (stage 1-based; the BS's monotonic clock).
    refused : deque of str
        The latest ``max_records`` refusal reasons.
    events : EventLog
        How many events of each kind (every refusal by its kind in :data:`REFUSALS`, and
        ``"connection lost"``, ``"accept failed"``, ``"event loop"``, ``"internal error"``).
    served : int
        Requests answered.
    held_bytes : int
        Bytes reserved by the requests admitted (see ``max_tensor_bytes``).
    """

    @declare(SERVER_PARAMETERS, then=_one_time_per_stage)
    def __init__(
        self,
        chain: Chain,
        runner: StageRunner,
        stage_times: Sequence[float],
        config: ServerConfig | None = None,
        **changes: Any,
    ) -> None:
        self.chain = chain
        self.config = replace_fields(ServerConfig() if config is None else config, changes)
        self.stage_times = list(stage_times)
        self.runner = runner
        self.max_payload = max(cut_bytes(chain)[:-1])
        self.reserve_bytes = check_tensor_limit(chain, self.config)
        token = self.config.token
        self.auth = token_digest(token) if token is not None else None
        self.queue = StageQueue(self.config.policy, self.stage_times)
        self.trace: deque[tuple[int, int, float, float]] = deque(maxlen=self.config.max_records)
        self.refused: deque[str] = deque(maxlen=self.config.max_records)
        self.events = EventLog(self.config.log_interval_s)
        self.served = 0
        self.held_bytes = 0
        self._admitted = 0
        self._seq = 0
        self._running = True
        self._current: Task | None = None
        self._wake: asyncio.Event | None = None
        self._stack = contextlib.AsyncExitStack()  # what close() undoes, last first
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bs-compute")
        self._connections: dict[_Connection, None] = {}  # in the order they were opened

    @property
    def refused_count(self) -> int:
        """Connections closed with an error frame, every kind."""
        return sum(self.events.counts[kind] for kind in REFUSALS)

    @property
    def open_connections(self) -> int:
        return len(self._connections)

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
            task = self.queue.next()
            assert task.done is not None
            stage = task.next_stage
            began = time.monotonic()
            if task.start is None:
                task.start = began
            self._current = task
            try:
                task.tensor = await loop.run_in_executor(
                    self._executor, self.runner.run, stage, task.tensor
                )
            except Exception as error:  # a stage that fails fails its task, not the BS
                self.queue.drop(task)
                if not task.done.done():
                    task.done.set_exception(error)
                continue
            finally:
                self._current = None
            ended = time.monotonic()
            task.service += ended - began
            self.trace.append((task.device, stage + 1, began, ended))
            if task.done.done():  # its connection is gone
                self.queue.drop(task)
            elif self.queue.advance(task):
                task.end = ended
                task.done.set_result(task.tensor)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, address = await loop.sock_accept(listener)
            except OSError as error:  # out of descriptors or buffers: wait, never spin
                self.events.note(
                    "accept failed", f"cannot accept a connection: {error.strerror or error}"
                )
                await asyncio.sleep(0.1)
                continue
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
            await self._admit(_Connection(sock, peer, loop.time()))

    async def _admit(self, conn: _Connection) -> None:
        """Serve ``conn``, in place of the oldest connection without a header if the cap
        is reached (closed before the next connection is accepted, so that connections
        never hold more than the cap's descriptors); refuse it if every one has sent one."""
        cap = self.config.max_connections
        if len(self._connections) >= cap:
            victim = next((c for c in self._connections if not c.proven), None)
            if victim is None:
                self._refuse_now(conn, "too many connections", f"too many connections ({cap} open)")
                conn.sock.close()
                return
            del self._connections[victim]
            victim.evicted = True
            assert victim.job is not None
            victim.job.cancel()
            try:
                await asyncio.wait([victim.job])  # and its done callback has closed it
            except asyncio.CancelledError:  # the server is closing
                conn.sock.close()
                raise
        self._connections[conn] = None
        conn.job = asyncio.create_task(self._serve(conn))
        conn.job.add_done_callback(lambda job: self._closed(conn, job))

    def _closed(self, conn: _Connection, job: asyncio.Task[None]) -> None:
        """When a connection's job ends (also one cancelled before it began): forget the
        connection, tell an evicted one why, close the socket."""
        self._connections.pop(conn, None)
        if conn.evicted:
            reason = "evicted: a newer connection took its place before it sent a header"
            self._refuse_now(conn, "evicted", reason)
        elif not job.cancelled() and job.exception() is not None:  # a bug: one line
            error = job.exception()
            self.events.note(
                "internal error",
                printable(f"{conn.peer}: internal error, connection closed ({error!r})"),
                logging.ERROR,
            )
        conn.sock.close()

    def _note_refusal(self, conn: _Connection, kind: str, reason: str) -> None:
        self.refused.append(reason)
        self.events.note(kind, f"{conn.peer}: {reason}; connection closed")

    def _refuse_now(self, conn: _Connection, kind: str, reason: str) -> None:
        """Note the refusal and send its error frame (best effort), without lingering."""
        self._note_refusal(conn, kind, reason)
        with contextlib.suppress(OSError):
            conn.sock.send(error_frame(reason))

    async def _serve(self, conn: _Connection) -> None:
        try:
            header = await self._next_header(conn, first=True)
            while header is not None:
                conn.proven = True
                if header.kind == KIND_REQUEST:
                    await self._answer(conn, header)
                header = await self._next_header(conn, first=False)
        except _Refusal as refusal:
            kind, reason = refusal.args
            self._note_refusal(conn, kind, reason)
            await self._close_with(conn, reason)
        except OSError as error:
            self.events.note(
                "connection lost",
                f"{conn.peer}: connection lost ({error.strerror or error})",
                logging.INFO,
            )

    async def _fill(
        self, conn: _Connection, view: memoryview, deadline: float, late: _Refusal
    ) -> int:
        """Read into ``view`` until it is full or the peer ends; bytes read. Raises ``late``
        past ``deadline`` (the loop's clock)."""
        loop = asyncio.get_running_loop()
        got = 0
        try:
            async with asyncio.timeout_at(deadline):
                while got < len(view):
                    n = await loop.sock_recv_into(conn.sock, view[got:])
                    if n == 0:
                        break
                    got += n
        except TimeoutError:
            raise late from None
        return got

    def _stalled(self) -> _Refusal:
        return _Refusal("stalled frame", f"frame not complete within {self.config.timeout_s:g} s")

    async def _next_header(self, conn: _Connection, *, first: bool) -> Header | None:
        """The next frame's checked header, or None if the peer closed between frames."""
        loop = asyncio.get_running_loop()
        config = self.config
        buffer = bytearray(HEADER.size)
        view = memoryview(buffer)
        if first:
            wait = config.hello_timeout_s
            late = _Refusal("no first frame", f"no header within {wait:g} s of connecting")
            deadline = conn.opened + wait
        else:
            late = _Refusal("idle", f"idle for {config.idle_timeout_s:g} s")
            deadline = loop.time() + config.idle_timeout_s
        got = await self._fill(conn, view[:1], deadline, late)
        if got == 0:
            return None
        conn.frame_deadline = loop.time() + config.timeout_s
        if first:
            got += await self._fill(conn, view[1:], min(conn.frame_deadline, deadline), late)
        else:
            got += await self._fill(conn, view[1:], conn.frame_deadline, self._stalled())
        if got < HEADER.size:
            raise _Refusal("truncated frame", f"truncated frame: {got} bytes then end")
        try:
            return parse_header(
                bytes(buffer), expect=(KIND_HELLO, KIND_REQUEST) if first else KIND_REQUEST,
                max_payload=self.max_payload, chain=self.chain, auth=self.auth,
            )  # fmt: skip
        except FrameError as error:
            kind = "wrong token" if error.field == "auth" else "bad frame"
            raise _Refusal(kind, f"bad frame: {error}") from None

    async def _answer(self, conn: _Connection, header: Header) -> None:
        """Receive a request's tensor, queue its task, send the reply."""
        config = self.config
        if self._admitted >= config.max_queue:
            raise _Refusal("queue full", f"queue full ({config.max_queue} tasks)")
        need = self.reserve_bytes[header.point]
        if self.held_bytes + need > config.max_tensor_bytes:
            raise _Refusal(
                "tensors at their limit",
                f"busy: the requests' tensors hold {self.held_bytes} of "
                f"{config.max_tensor_bytes} bytes",
            )
        self._admitted += 1
        self.held_bytes += need
        task: Task | None = None
        try:
            buffer = mmap.mmap(-1, header.length)
            got = await self._fill(conn, memoryview(buffer), conn.frame_deadline, self._stalled())
            if got < header.length:
                raise _Refusal(
                    "truncated frame", f"truncated frame: {HEADER.size + got} bytes then end"
                )
            loop = asyncio.get_running_loop()
            task = Task(
                header.device, self._seq, next_stage=header.point,
                residual_s=sum(self.stage_times[header.point :]),
                tensor=np.frombuffer(buffer, dtype="<f4").reshape(header.shape),
                arrival=time.monotonic(), done=loop.create_future(),
            )  # fmt: skip
            del buffer  # the task's tensor holds the map; it goes when the tensor does
            self._seq += 1
            self.queue.add(task)
            assert self._wake is not None and task.done is not None
            self._wake.set()
            try:
                output = await task.done
            except Exception as error:
                raise _Refusal(
                    "stage failed", f"the BS failed to run the request: {printable(str(error))}"
                ) from None
            self.served += 1
            body = tensor_payload(output)
            stamps = (task.arrival, task.start or task.end, task.end, task.service)
            reply = Header(
                KIND_REPLY, header.device, header.point, tuple(output.shape), len(body),
                stamps=stamps,
            )  # fmt: skip
            try:
                async with asyncio.timeout(config.timeout_s):
                    await loop.sock_sendall(conn.sock, encode(reply, body))
            except TimeoutError:
                raise _Refusal(
                    "reply not written", f"the reply could not be written in {config.timeout_s:g} s"
                ) from None
        finally:
            if task is not None and task is not self._current:
                self.queue.drop(task)
            self._admitted -= 1
            self.held_bytes -= need

    async def _close_with(self, conn: _Connection, reason: str) -> None:
        """Send ``reason`` in an error frame and the end of the stream (best effort), then
        read and drop what the peer still sends (at most one frame) until it closes or
        :data:`LINGER_S` has passed, so that the peer reads the error rather than a
        reset."""
        loop = asyncio.get_running_loop()
        left = HEADER.size + self.max_payload
        try:
            conn.sock.send(error_frame(reason))
            conn.sock.shutdown(socket.SHUT_WR)
            scratch = memoryview(bytearray(64 * 1024))
            async with asyncio.timeout(LINGER_S):
                while left > 0:
                    n = await loop.sock_recv_into(conn.sock, scratch)
                    if n == 0:
                        return
                    left -= n
        except (OSError, TimeoutError):
            pass

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        detail = f": {type(error).__name__}: {error}" if error is not None else ""
        line = printable(f"{context.get('message', 'event loop error')}{detail}")
        self.events.note("event loop", f"event loop: {line}", logging.ERROR)

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, listener: socket.socket | None = None
    ) -> tuple[str, int]:
        """Serve on ``listener``, or on a new one on ``host:port`` (0: any free port; see
        :func:`open_listener`); returns the address bound."""
        loop = asyncio.get_running_loop()
        listener = open_listener(host, port, self.config) if listener is None else listener
        stack = self._stack
        stack.callback(loop.set_exception_handler, loop.get_exception_handler())
        loop.set_exception_handler(self._loop_error)
        stack.callback(self.events.flush)
        self._wake = asyncio.Event()
        stack.push_async_callback(_cancel, asyncio.create_task(self._compute()))
        stack.push_async_callback(self._drop_connections)
        stack.callback(listener.close)
        stack.push_async_callback(_cancel, asyncio.create_task(self._accept(listener)))
        bound = listener.getsockname()
        return str(bound[0]), int(bound[1])

    async def _drop_connections(self) -> None:
        jobs = [c.job for c in self._connections if c.job is not None]
        for job in jobs:
            job.cancel()
        if jobs:
            await asyncio.wait(jobs, timeout=2.0)
            await asyncio.sleep(0)  # their done callbacks close the sockets

    async def close(self) -> None:
        """Stop listening, drop the connections and the queue, stop the compute thread."""
        await self._stack.aclose()
        self._executor.shutdown(wait=True, cancel_futures=True)  # also if never started


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve_until_signalled(
    server: BSServer,
    listener: socket.socket,
    *,
    announce: Callable[[str, int], None],
) -> None:
    """Run ``server`` on ``listener`` until SIGINT or SIGTERM, then close it."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        bound = await server.start(listener=listener)
        announce(*bound)
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await server.close()
