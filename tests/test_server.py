"""The BS server and the device client on loopback, with a stand-in network (zeros of
each stage's shape; no PyTorch): the scheduling rule both code paths share, the limits
(connections, timeouts, the token, tensor bytes, records, log lines) and the device's
answers to a hostile BS. Every server listens on 127.0.0.1, port 0, and is closed by its
test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import threading
import time

import numpy as np
import pytest

from dnnsplit.chains import ALEXNET, Chain, Conv, Linear, MaxPool, Stage, chain_figures
from dnnsplit.testbed.device import DeviceClient, Refused
from dnnsplit.testbed.protocol import (
    HEADER,
    KIND_ERROR,
    KIND_HELLO,
    KIND_REPLY,
    KIND_REQUEST,
    Header,
    cut_bytes,
    cut_shapes,
    encode,
    parse_header,
    token_digest,
)
from dnnsplit.testbed.server import BSServer, EventLog, service_order

#: A network small enough that a test runs it in milliseconds: three stages.
TINY = Chain(
    "tiny",
    (3, 16, 16),
    (
        Stage("c1", (Conv(8, 3, padding=1), MaxPool(2, 2))),
        Stage("c2", (Conv(16, 3, padding=1),)),
        Stage("fc", (Linear(10),)),
    ),
)
STAGE_TIMES = {TINY.name: [0.03, 0.02, 0.01], ALEXNET.name: [0.01] * len(ALEXNET.stages)}


class ZeroStages:
    """A stand-in network: each stage checks its input's shape and returns zeros of its
    output's (the server's runner and a device's stages alike)."""

    def __init__(self, chain: Chain) -> None:
        self.shapes = [*cut_shapes(chain), (1, *chain_figures(chain)[-1].output_shape)]
        self.n_stages = len(chain.stages)

    def input(self) -> np.ndarray:
        return np.zeros(self.shapes[0], dtype=np.float32)

    def run(self, stage: int, x: np.ndarray) -> np.ndarray:
        assert x.shape == self.shapes[stage]
        return np.zeros(self.shapes[stage + 1], dtype=np.float32)

    def run_range(self, first: int, last: int, x: np.ndarray) -> np.ndarray:
        for stage in range(first, last):
            x = self.run(stage, x)
        return x


@contextlib.contextmanager
def running(chain: Chain = TINY, stages=None, **changes):
    """A BS on 127.0.0.1, any free port, its event loop in a thread, running ``stages``
    (default: the stand-in network); closed after."""
    server = BSServer(chain, stages or ZeroStages(chain), STAGE_TIMES[chain.name], **changes)
    loop = asyncio.new_event_loop()
    address = loop.run_until_complete(server.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server, address, loop
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def wait_until(condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def device(address, chain: Chain = TINY, **options) -> DeviceClient:
    client = DeviceClient(chain, stages=ZeroStages(chain), **options)
    client.connect(*address)
    return client


def connection(address) -> socket.socket:
    return socket.create_connection(address, timeout=20)


def hello(token: str | None = None, device_id: int = 0) -> bytes:
    return Header(KIND_HELLO, device_id, 0, (), 0, auth=token_digest(token)).pack()


def request(chain: Chain, point: int, *, token: str | None = None, device_id: int = 0) -> bytes:
    shape = cut_shapes(chain)[point]
    length = int(np.prod(shape)) * 4
    header = Header(KIND_REQUEST, device_id, point, shape, length, auth=token_digest(token))
    return encode(header, bytes(length))


def receive(sock: socket.socket) -> tuple[Header, bytes]:
    """The next frame the BS sends on ``sock`` (an error or a reply)."""
    raw = sock.recv(HEADER.size, socket.MSG_WAITALL)
    header = parse_header(raw, expect=KIND_REPLY, max_payload=10**7)
    return header, sock.recv(header.length, socket.MSG_WAITALL) if header.length else b""


def error_text(sock: socket.socket) -> str:
    header, payload = receive(sock)
    assert header.kind == KIND_ERROR
    return payload.decode()


# -- one scheduling rule ----------------------------------------------------------------


@pytest.mark.parametrize("policy", ["sjf", "rr", "fcfs"])
def test_the_server_runs_the_stages_in_the_order_service_order_replays(policy):
    """Both code paths serve through one StageQueue: requests queued at once (points 0,
    1, 2 from devices 0, 1, 2) run in the order the simulated clock gives."""
    with running(policy=policy) as (server, address, loop):
        server.pause()
        sockets = []
        for point in range(3):
            sock = connection(address)
            sock.sendall(hello(device_id=point) + request(TINY, point, device_id=point))
            sockets.append(sock)
            wait_until(lambda n=point + 1: len(server.queue) == n)
        loop.call_soon_threadsafe(server.resume)
        for sock in sockets:
            assert receive(sock)[0].kind == KIND_REPLY
            sock.close()
        served = [(d, s) for d, s, _, _ in server.trace]
    arrivals = [(0.0, point, point) for point in range(3)]
    replayed = [(d, s) for d, s, _, _ in service_order(arrivals, STAGE_TIMES["tiny"], policy)]
    assert served == replayed


# -- connections, timeouts and the token ------------------------------------------------


def test_beyond_the_cap_a_silent_connection_is_evicted_and_then_newcomers_refused():
    with running(max_connections=3) as (server, address, _):
        silent = [connection(address) for _ in range(3)]
        wait_until(lambda: server.open_connections == 3)
        devices = []
        for k in range(3):  # each takes the place of the oldest silent connection
            devices.append(device(address, device_id=k))
            assert devices[-1].request(1).partition == 1
            assert error_text(silent[k]).startswith("evicted")
        late = connection(address)
        assert error_text(late) == "too many connections (3 open)"
        assert devices[0].request(2).partition == 2  # the admitted are still served
        counts = server.events.counts
        assert (counts["evicted"], counts["too many connections"], server.served) == (3, 1, 4)
        assert server.open_connections == 3
        for sock in [*silent, late]:
            sock.close()
        for client in devices:
            client.close()


def test_a_silent_or_idle_connection_is_closed_and_the_device_opens_it_again():
    with running(hello_timeout_s=0.2, idle_timeout_s=0.2) as (server, address, _):
        with connection(address) as silent:
            assert error_text(silent) == "no header within 0.2 s of connecting"
        client = device(address)
        client.request(0)
        wait_until(lambda: server.events.counts["idle"] == 1)
        assert client.request(0).partition == 0  # reopened before it was timed
        client.close()
        assert server.served == 2 and server.refused_count == 2


def test_the_token_is_checked_before_any_tensor_byte_is_read():
    with running(token="s3cret") as (server, address, _):
        with connection(address) as stranger:
            stranger.sendall(hello("guess"))
            assert error_text(stranger) == "bad frame: auth: the token does not match"
        with connection(address) as stranger:  # a request's header alone: refused at once
            stranger.sendall(request(TINY, 0, token="guess")[: HEADER.size])
            assert "auth" in error_text(stranger)
        assert server.events.counts["wrong token"] == 2 and server.held_bytes == 0
        guess = device(address, token="guess")
        with pytest.raises(Refused, match="auth"):
            guess.request(1)
        guess.close()
        friend = device(address, token="s3cret")
        assert friend.request(1).partition == 1
        friend.close()
        with connection(address) as raw:  # a request needs no hello, only the token
            raw.sendall(request(TINY, 2, token="s3cret"))
            assert receive(raw)[0].kind == KIND_REPLY


def test_tensor_bytes_are_bounded_and_returned_when_connections_close():
    """Requests that send all but one byte of AlexNet's input (618,348 bytes): two fit
    the limit and wait; two more are refused before their tensor is read."""
    sizes = cut_bytes(ALEXNET)  # a stage's input and output, at most: stage 1's
    reserve = sizes[0] + sizes[1]
    with running(ALEXNET, max_tensor_bytes=2 * reserve + 1) as (server, address, _):
        assert server.reserve_bytes[0] == reserve == 618_348 + 279_936
        frame = hello() + request(ALEXNET, 0)
        stalled = []
        for _ in range(4):
            sock = connection(address)
            sock.sendall(frame[:-1])
            stalled.append(sock)
        wait_until(lambda: server.events.counts["tensors at their limit"] == 2)
        assert server.held_bytes == 2 * reserve
        wait_until(lambda: len(select.select(stalled, [], [], 0)[0]) == 2)
        refused = select.select(stalled, [], [], 0)[0]
        assert all(error_text(s).startswith("busy: ") for s in refused)
        for sock in stalled:
            sock.close()
        wait_until(lambda: server.open_connections == 0)
        assert server.held_bytes == 0 and server.events.counts["truncated frame"] == 2
        client = device(address, ALEXNET)
        assert client.request(0).partition == 0
        client.close()


def test_records_are_bounded_and_every_refusal_counted():
    with running(max_records=2) as (server, address, _):
        for _ in range(4):
            with connection(address) as sock:
                sock.sendall(b"NOPE" * 25)
                assert error_text(sock).startswith("bad frame: magic")
        client = device(address)
        client.request(0)
        client.close()
        assert len(server.refused) == 2 and server.refused_count == 4
        assert [s for _, s, _, _ in server.trace] == [2, 3]  # the last two of three stages


def test_one_log_line_per_kind_of_event_with_counts_and_no_traceback(caplog):
    caplog.set_level(logging.INFO, logger="dnnsplit.serve")
    events = EventLog(interval_s=3600)
    for n in range(5):
        events.note("idle", f"peer {n}: idle")
    events.note("bad frame", "peer 9: bad frame")
    events.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "peer 0: idle",
        "peer 9: bad frame",
        "4 more 'idle' not logged (5 in all)",
    ]
    caplog.clear()
    with running(log_interval_s=3600) as (server, _, loop):
        context = {
            "message": "socket.accept() out of system resource",
            "exception": OSError(24, "Too many open files"),
        }
        for _ in range(3):
            loop.call_soon_threadsafe(loop.call_exception_handler, context)
        wait_until(lambda: server.events.counts["event loop"] == 3)
    lines = [r for r in caplog.records if "event loop" in r.getMessage()]
    assert len(lines) == 2 and all(r.exc_info is None for r in lines)  # the first, the count
    assert lines[0].getMessage().endswith("OSError: [Errno 24] Too many open files")
