"""A device: run the first p stages, send the cut tensor to the BS, wait for the answer
(``dnnsplit device``), and one CSV row per request.

The device builds the same network as the BS (:mod:`dnnsplit.testbed.stages`, one thread,
random weights from a fixed seed), runs stages 1..p on a fixed input, sends stage p's
output in one request frame, and reads the reply. With ``p = S`` nothing is sent. Each
request gives one row (:data:`ROW_COLUMNS`, seconds):

- ``local_s``: stages 1..p here;
- ``send_s``: the round trip less the time the request spent at the BS
  (``end − arrival`` of the BS's stamps): the tensor's upload plus the reply's way back,
  measured without comparing two clocks;
- ``bs_queue_s``: ``start − arrival``, waiting before its first BS stage;
- ``bs_compute_s``: ``end − start``, from its first BS stage to its last (under RR or a
  preempting SJF this includes the stages of others run in between);
- ``bs_service_s``: the BS's time on its own stages;
- ``end_to_end_s``: from the start of the local stages to the reply.

``rate_bps`` paces the upload in the client (sleeps between chunks), for hosts where the
link itself cannot be shaped; the testbed shapes a real link with ``tc`` instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from dnnsplit.chains import Chain
from dnnsplit.testbed.protocol import (
    HEADER,
    KIND_ERROR,
    KIND_REPLY,
    KIND_REQUEST,
    MAX_ERROR_BYTES,
    FrameError,
    Header,
    encode,
    parse_header,
    tensor_payload,
    token_digest,
)
from dnnsplit.testbed.stages import TorchStages

__all__ = ["ROW_COLUMNS", "DeviceClient", "Refused", "RequestRow", "background_processes"]

ROW_COLUMNS = (
    "device",
    "request",
    "network",
    "partition",
    "local_s",
    "send_s",
    "bs_queue_s",
    "bs_compute_s",
    "bs_service_s",
    "end_to_end_s",
)
#: Bytes per paced chunk when the client paces its upload.
PACING_CHUNK = 16 * 1024


class Refused(Exception):
    """The BS refused or dropped the request (exit status 1 of ``dnnsplit device``)."""


@dataclass(frozen=True)
class RequestRow:
    """One request's times (see the module docstring)."""

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
        values = [getattr(self, c) for c in ROW_COLUMNS]
        return ",".join(f"{v:.9g}" if isinstance(v, float) else str(v) for v in values) + "\n"


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise Refused(f"the BS closed the connection ({got} of {n} bytes read)")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class DeviceClient:
    """One device's side of the testbed.

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
        The BS's shared token.
    timeout_s : float
        Longest wait for the BS's reply.
    rate_bps : float, optional
        Pace the upload at this rate (client-side pacing; None: as fast as the link goes).
    """

    def __init__(
        self,
        chain: Chain,
        *,
        device_id: int = 0,
        seed: int = 0,
        threads: int = 1,
        token: str | None = None,
        timeout_s: float = 120.0,
        rate_bps: float | None = None,
    ) -> None:
        self.chain = chain
        self.device_id = int(device_id)
        self.stages = TorchStages(chain, seed=seed, threads=threads)
        self.input = self.stages.input()
        self.auth = token_digest(token)
        self.timeout_s = float(timeout_s)
        self.rate_bps = rate_bps
        self.sock: socket.socket | None = None
        self.requests = 0

    def connect(self, host: str, port: int) -> None:
        """Open the connection to the BS (kept for every request)."""
        self.close()
        try:
            sock = socket.create_connection((host, port), timeout=self.timeout_s)
        except OSError as error:
            raise Refused(f"cannot connect to {host}:{port}: {error.strerror or error}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def _send(self, data: bytes) -> None:
        assert self.sock is not None
        if not self.rate_bps:
            self.sock.sendall(data)
            return
        began = time.perf_counter()
        for offset in range(0, len(data), PACING_CHUNK):
            chunk = data[offset : offset + PACING_CHUNK]
            self.sock.sendall(chunk)
            due = began + 8.0 * (offset + len(chunk)) / self.rate_bps
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)

    def request(self, point: int) -> RequestRow:
        """Run stages 1..``point`` here and the rest at the BS; the request's row."""
        n_stages = self.stages.n_stages
        began = time.perf_counter()
        x = self.stages.run_range(0, point, self.input)
        local_done = time.perf_counter()
        index = self.requests
        self.requests += 1
        if point == n_stages:
            local = local_done - began
            return self._row(index, point, local, 0.0, (0.0, 0.0, 0.0, 0.0), local)
        if self.sock is None:
            raise Refused("not connected to a BS")
        body = tensor_payload(x)
        header = Header(
            KIND_REQUEST, self.device_id, point, tuple(x.shape), len(body), auth=self.auth
        )
        try:
            self._send(encode(header, body))
            raw = _recv_exactly(self.sock, HEADER.size)
            reply = parse_header(raw, expect=KIND_REPLY, max_payload=64 * 1024**2)
            payload = _recv_exactly(self.sock, reply.length)
        except FrameError as error:
            raise Refused(f"malformed reply from the BS: {error}") from None
        except TimeoutError:
            raise Refused(f"no reply from the BS within {self.timeout_s:g} s") from None
        except OSError as error:
            raise Refused(f"connection to the BS lost: {error.strerror or error}") from None
        answered = time.perf_counter()
        if reply.kind == KIND_ERROR:
            text = payload[:MAX_ERROR_BYTES].decode("utf-8", "replace")
            raise Refused(f"the BS refused the request: {text}")
        stamps = reply.stamps
        send = (answered - local_done) - (stamps[2] - stamps[0])
        return self._row(index, point, local_done - began, send, stamps, answered - began)

    def _row(
        self,
        index: int,
        point: int,
        local: float,
        send: float,
        stamps: tuple[float, float, float, float],
        total: float,
    ) -> RequestRow:
        """A request's row from its times and the BS's stamps (arrival, start, end,
        service)."""
        arrival, start, end, service = stamps
        return RequestRow(
            device=self.device_id,
            request=index,
            network=self.chain.name,
            partition=point,
            local_s=local,
            send_s=send,
            bs_queue_s=start - arrival,
            bs_compute_s=end - start,
            bs_service_s=service,
            end_to_end_s=total,
        )


def _pin_and_die_with_parent(cpus: set[int] | None) -> None:
    """In a child before exec: pin it to ``cpus`` and have it killed if its parent dies."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


BUSY_LOOP = [sys.executable, "-S", "-c", "while True: pass"]


@contextlib.contextmanager
def background_processes(count: int, cpus: set[int] | None) -> Iterator[list[int]]:
    """Start ``count`` always-busy processes pinned to ``cpus``; end them on exit.

    Yields their process ids. They are killed (and reaped) on leaving the block, on an
    exception and on Ctrl-C, and die with this process if it is killed.
    """
    children: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            children.append(
                subprocess.Popen(
                    BUSY_LOOP,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=lambda: _pin_and_die_with_parent(cpus),
                )
            )
        yield [c.pid for c in children]
    finally:
        for child in children:
            with contextlib.suppress(OSError):
                child.kill()
        for child in children:
            child.wait()
