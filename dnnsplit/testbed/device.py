"""A device (``dnnsplit device``): run stages 1..p of the BS's network
(:mod:`dnnsplit.testbed.stages`) on a fixed input, send stage p's output in one request
(nothing when ``p = S``), read the reply; one row per request (:data:`ROW_COLUMNS`,
seconds, measured without comparing two clocks: docs/testbed.md, "The wire format", says
what each column is). ``rate_bps`` paces the upload in the client where the link itself
cannot be shaped; every request, upload and reply together, has ``timeout_s``.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from typing import Protocol

import numpy as np

from dnnsplit._params import Constraint, Nullable, Real, Text, Whole, declare
from dnnsplit.chains import Chain, chain_figures
from dnnsplit.errors import InputError, TestbedError
from dnnsplit.testbed.emulation import BUSY_LOOP, launched
from dnnsplit.testbed.protocol import (
    HEADER,
    KIND_ERROR,
    KIND_HELLO,
    KIND_REPLY,
    KIND_REQUEST,
    FrameError,
    Header,
    cut_bytes,
    encode,
    parse_header,
    printable,
    tensor_payload,
    token_digest,
)
from dnnsplit.testbed.stages import TorchStages

__all__ = [
    "DEVICE_FIELDS",
    "ROW_COLUMNS",
    "DeviceClient",
    "Refused",
    "RequestRow",
    "background_processes",
    "check_upload",
]

#: Bytes per paced chunk when the client paces its upload.
PACING_CHUNK = 16 * 1024

DEVICE_FIELDS: dict[str, Constraint] = {
    "device_id": Whole(0, 65_535),
    "seed": Whole(0, 2**63 - 1),
    "threads": Whole(1, 1024),
    "token": Nullable(Text("a non-empty token")),
    "timeout_s": Real(high=86_400.0, positive=True),
    "rate_bps": Nullable(Real(high=1e12, positive=True)),
}


class Refused(TestbedError):
    """The BS refused or dropped the request, or could not be reached (exit status 1 of
    ``dnnsplit device``): ``"the BS: <cause>"``."""

    def __init__(self, cause: str) -> None:
        super().__init__("the BS", cause)


class DeviceStages(Protocol):
    """What a device needs of a network (:class:`~dnnsplit.testbed.stages.TorchStages`,
    or a stand-in)."""

    @property
    def n_stages(self) -> int: ...

    def input(self) -> np.ndarray: ...

    def run_range(self, first: int, last: int, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class RequestRow:
    """One request's times (docs/testbed.md, "The wire format")."""

    device: int
    request: int
    network: str
    partition: int
    local_s: float
    send_s: float
    bs_queue_s: float
    bs_compute_s: float
    bs_service_s: float
    end_to_end_s: float

    def csv_line(self) -> str:
        values = astuple(self)
        return ",".join(f"{v:.9g}" if isinstance(v, float) else str(v) for v in values) + "\n"


ROW_COLUMNS = tuple(field.name for field in fields(RequestRow))


def check_upload(chain: Chain, point: int, rate_bps: float | None, timeout_s: float) -> None:
    """Refuse (``rate_bps``) a pace at which a request cut at ``point`` could not be sent
    within ``timeout_s``: ``8 · (header + tensor bytes) / rate_bps > timeout_s``."""
    sizes = cut_bytes(chain)
    if rate_bps is None or point >= len(sizes) - 1:
        return
    size = HEADER.size + sizes[point]
    seconds = 8.0 * size / rate_bps
    if seconds > timeout_s:
        raise InputError(
            "rate_bps",
            f"at {rate_bps:g} bit/s the {size} bytes of a request at p = {point} take "
            f"{seconds:.3g} s, beyond the timeout of {timeout_s:g} s",
        )


class DeviceClient:
    """One device's side of the testbed: a connection to the BS, opened with a hello
    (the token) so that the BS admits it before the first request is ready, and opened
    again, once, before a request is timed if the BS has closed it.

    Parameters
    ----------
    chain : Chain
        The network (the BS must serve the same one).
    device_id : int
        This device's id (0–65535).
    seed : int
        Weights' seed (the BS's too).
    threads : int
        PyTorch threads (1: a one-core device).
    token : str, optional
        The BS's shared token (non-empty).
    timeout_s : float
        Longest a request may take from the start of its upload to its reply (and a
        connection to open).
    rate_bps : float, optional
        Pace the upload at this rate (client-side pacing; None: as fast as the link goes).
    stages : DeviceStages, optional
        The network's stages (default: :class:`~dnnsplit.testbed.stages.TorchStages` of
        ``chain``, ``seed``, ``threads``).
    """

    @declare(DEVICE_FIELDS)
    def __init__(
        self, chain: Chain, *, device_id: int = 0, seed: int = 0, threads: int = 1,
        token: str | None = None, timeout_s: float = 120.0, rate_bps: float | None = None,
        stages: DeviceStages | None = None,
    ) -> None:  # fmt: skip
        self.chain = chain
        self.device_id = device_id
        if stages is None:
            stages = TorchStages(chain, seed=seed, threads=threads)
        self.stages = stages
        self.input = self.stages.input()
        self.auth = token_digest(token)
        self.timeout_s = timeout_s
        self.rate_bps = rate_bps
        self.reply_shape = (1, *chain_figures(chain)[-1].output_shape)
        self.reply_bytes = cut_bytes(chain)[-1]
        self.sock: socket.socket | None = None
        self.address: tuple[str, int] | None = None
        self.requests = 0

    def connect(self, host: str, port: int) -> None:
        """Open the connection to the BS (kept for every request) and say hello."""
        self.close()
        self.address = (host, port)
        try:
            sock = socket.create_connection((host, port), timeout=self.timeout_s)
        except OSError as error:
            raise Refused(f"cannot connect to {host}:{port}: {error.strerror or error}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        hello = Header(KIND_HELLO, self.device_id, 0, (), 0, auth=self.auth)
        try:
            sock.sendall(hello.pack())
        except OSError as error:
            raise Refused(f"connection lost: {error.strerror or error}") from None

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def _ready(self) -> None:
        """Before a request is timed: open the connection again if the BS has closed it
        (anything it sends unasked is an error frame before it closes)."""
        if self.sock is None:
            raise Refused("not connected")
        readable, _, _ = select.select([self.sock], [], [], 0)
        if readable and self.address is not None:
            self.connect(*self.address)

    def _recv_exactly(self, n: int, deadline: float) -> bytearray:
        assert self.sock is not None
        data = bytearray(n)
        view, got = memoryview(data), 0
        while got < n:
            self.sock.settimeout(max(deadline - time.monotonic(), 1e-3))
            count = self.sock.recv_into(view[got:])
            if count == 0:
                raise Refused(f"the connection was closed ({got} of {n} bytes read)")
            got += count
        return data

    def _reply(self, deadline: float) -> Header:
        """The reply's header (its payload read and dropped: the row needs its stamps);
        an error frame is :class:`Refused` with its text, escaped."""
        raw = self._recv_exactly(HEADER.size, deadline)
        try:
            header = parse_header(bytes(raw), expect=KIND_REPLY, max_payload=self.reply_bytes)
        except FrameError as error:
            raise Refused(f"a malformed reply: {error}") from None
        payload = self._recv_exactly(header.length, deadline)
        if header.kind == KIND_ERROR:
            raise Refused(f"refused the request: {printable(payload.decode('utf-8', 'replace'))}")
        if header.shape != self.reply_shape:
            raise Refused(f"a malformed reply: shape: {header.shape} is not {self.reply_shape}")
        return header

    def _send(self, data: bytes, deadline: float) -> None:
        assert self.sock is not None
        chunk = PACING_CHUNK if self.rate_bps else len(data)
        began = time.monotonic()
        for offset in range(0, len(data), chunk):
            self.sock.settimeout(max(deadline - time.monotonic(), 1e-3))
            self.sock.sendall(data[offset : offset + chunk])
            if self.rate_bps:
                due = began + 8.0 * min(offset + chunk, len(data)) / self.rate_bps
                delay = min(due, deadline) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if due > deadline:
                    raise TimeoutError

    def request(self, point: int) -> RequestRow:
        """Run stages 1..``point`` here and the rest at the BS; the request's row."""
        n_stages = self.stages.n_stages
        offloads = point < n_stages
        if offloads:
            check_upload(self.chain, point, self.rate_bps, self.timeout_s)
            self._ready()
        began = time.perf_counter()
        x = self.stages.run_range(0, point, self.input)
        local_done = answered = time.perf_counter()
        index = self.requests
        self.requests += 1
        arrival, start, end, service = 0.0, 0.0, 0.0, 0.0  # the BS's stamps (none: all local)
        if offloads:
            body = tensor_payload(x)
            header = Header(
                KIND_REQUEST, self.device_id, point, tuple(x.shape), len(body), auth=self.auth
            )
            deadline = time.monotonic() + self.timeout_s
            try:
                self._send(encode(header, body), deadline)
                arrival, start, end, service = self._reply(deadline).stamps
            except TimeoutError:
                raise Refused(f"no reply within {self.timeout_s:g} s") from None
            except OSError as error:
                raise Refused(f"connection lost: {error.strerror or error}") from None
            answered = time.perf_counter()
        return RequestRow(
            self.device_id, index, self.chain.name, point, local_s=local_done - began,
            send_s=(answered - local_done) - (end - arrival), bs_queue_s=start - arrival,
            bs_compute_s=end - start, bs_service_s=service, end_to_end_s=answered - began,
        )  # fmt: skip


@contextlib.contextmanager
def background_processes(count: int, cpus: set[int] | None) -> Iterator[list[int]]:
    """Start ``count`` always-busy processes pinned to ``cpus`` (through the launcher:
    they die with this process); yields their ids and kills them on leaving the block."""
    with contextlib.ExitStack() as stack:
        pids = []
        for _ in range(count):
            child = stack.enter_context(subprocess.Popen(
                launched(BUSY_LOOP, cpus), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            ))  # fmt: skip
            stack.callback(child.kill)  # before its exit waits for it
            pids.append(child.pid)
        yield pids
