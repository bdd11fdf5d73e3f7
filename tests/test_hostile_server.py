"""Hostile input to the testbed's BS and device: flags and settings (each refused naming
its flag or field), a closed or full stdout, Ctrl-C while importing, a hostile BS's
answers, and the two attacks of issue 27 on a server process with lowered limits (a flood
of idle connections past the descriptor limit; requests that hold back their last byte).
"""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_server import TINY, ZeroStages, device, hello, receive, request

import dnnsplit.testbed.commands as commands
import dnnsplit.testbed.device as device_module
from dnnsplit._params import Constraint, Text, Whole
from dnnsplit.chains import ALEXNET
from dnnsplit.cli import EXIT_INTERRUPTED, EXIT_OUTPUT
from dnnsplit.errors import InputError
from dnnsplit.testbed.device import DEVICE_FIELDS, DeviceClient, Refused, check_upload
from dnnsplit.testbed.protocol import (
    HEADER,
    KIND_ERROR,
    KIND_REPLY,
    KIND_REQUEST,
    Header,
    cut_bytes,
    encode,
    parse_header,
)
from dnnsplit.testbed.server import SERVER_FIELDS, BSServer, ServerConfig, open_listener
from hostile import assert_refused, cli_command, run

ROOT = Path(__file__).resolve().parents[1]
#: An address no host has (TEST-NET-1, RFC 5737): binding it fails.
FOREIGN_ADDRESS = "192.0.2.1"
DEVICE = ["device", "--server", "127.0.0.1:9", "--partition", "1"]


def cases(table: dict[str, Constraint]) -> list:
    return [
        pytest.param(name, bad, id=f"{name}={bad!r}")
        for name, constraint in table.items()
        for bad in constraint.invalid()
    ]


def refused(call, field: str) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.field == field and "\n" not in str(caught.value)


# -- settings, at the library's boundary ---------------------------------------------------


@pytest.mark.parametrize(("name", "bad"), cases(SERVER_FIELDS))
def test_every_server_setting(name, bad):
    refused(lambda: ServerConfig(**{name: bad}), name)


@pytest.mark.parametrize(("name", "bad"), cases(DEVICE_FIELDS))
def test_every_device_setting(name, bad):
    refused(lambda: DeviceClient(TINY, stages=ZeroStages(TINY), **{name: bad}), name)


@pytest.mark.parametrize(
    ("field", "bad"),
    [("host", bad) for bad in Text().invalid()]
    + [("port", bad) for bad in Whole(0, 65_535).invalid()],
)
def test_every_address_to_listen_on(field, bad):
    address = {"host": "127.0.0.1", "port": 0, field: bad}
    refused(lambda: open_listener(address["host"], address["port"], ServerConfig()), field)


def test_the_server_names_its_other_bad_arguments():
    stand_in = ZeroStages(TINY)
    refused(lambda: BSServer(TINY, stand_in, [0.1, 0.1]), "stage_times")
    refused(lambda: BSServer(TINY, stand_in, [0.1, float("nan"), 0.1]), "stage_times[1]")
    refused(lambda: BSServer(TINY, stand_in, "abc"), "stage_times")
    refused(lambda: BSServer(TINY, stand_in, [0.1] * 3, max_conections=3), "max_conections")
    refused(lambda: BSServer(ALEXNET, stand_in, [0.1] * 8, max_tensor_bytes=2**19), "max_tensor_bytes")  # fmt: skip


# -- flags --------------------------------------------------------------------------------


@pytest.fixture
def busy_port():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield str(taken.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "flag", "words"),
    [
        (["serve", "--port", "0", "--host", "0.0.0.0"], "--token", "--allow-no-token"),
        (["serve", "--port", "0", "--token", ""], "--token", "non-empty"),
        (["serve", "--port", "0", "--host", FOREIGN_ADDRESS, "--token", "t"], "--host", "assign"),
        (["serve", "--port", "0", "--host", "no such host"], "--host", "not an address"),
        (["serve", "--port", "{busy}"], "--port", "in use"),
        (["serve", "--port", "70000"], "--port", "65535"),
        (["serve", "--port", "0", "--max-connections", "0"], "--max-connections", "at least 1"),
        (["serve", "--port", "0", "--max-queue", "0"], "--max-queue", "at least 1"),
        (["serve", "--port", "0", "--max-tensor-mib", "0.5"], "--max-tensor-mib", "898284 bytes"),
        (["serve", "--port", "0", "--hello-timeout", "0"], "--hello-timeout", "positive"),
        (["serve", "--port", "0", "--idle-timeout", "nan"], "--idle-timeout", "finite"),
        (["serve", "--port", "0", "--timeout", "-1"], "--timeout", "positive"),
        (["serve", "--port", "0", "--network", "nope"], "--network", "unknown DNN"),
        ([*DEVICE, "--token", ""], "--token", "non-empty"),
        ([*DEVICE[:-1], "0", "--rate-mbps", "1e-9"], "--rate-mbps", "beyond the timeout of 120 s"),
        ([*DEVICE, "--timeout", "0"], "--timeout", "positive"),
        ([*DEVICE, "--device-id", "70000"], "--device-id", "65535"),
        ([*DEVICE, "--seed", "-1"], "--seed", "at least 0"),
        ([*DEVICE, "--threads", "0"], "--threads", "at least 1"),
        ([*DEVICE, "--network", "nope"], "--network", "unknown DNN"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(argv, flag, words, busy_port, capsys):
    argv = [a.format(busy=busy_port) for a in argv]
    err = assert_refused(*run(capsys, *argv), field=flag)
    assert words in err


def test_an_empty_token_from_the_environment_is_refused_naming_it(monkeypatch, capsys):
    monkeypatch.setenv("DNNSPLIT_TOKEN", "")
    for argv in (["serve", "--port", "0"], DEVICE):
        assert_refused(*run(capsys, *argv), field="$DNNSPLIT_TOKEN")


def test_more_connections_than_this_process_may_open_are_refused(monkeypatch, capsys):
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (100, 100))
    err = assert_refused(*run(capsys, "serve", "--port", "0"), field="--max-connections")
    assert "64 connections need 128 open files and this process may open 100" in err


# -- faults: stdout, Ctrl-C -----------------------------------------------------------------


@pytest.mark.parametrize("argv", [["serve", "--port", "0"], DEVICE], ids=["serve", "device"])
def test_a_closed_stdout_exits_74_before_any_work(argv):
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *cli_command(), *argv],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_OUTPUT
    assert done.stderr == (
        f"dnnsplit {argv[0]}: stdout is closed: there is nowhere to write the result\n"
    )


class FullStdout:
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        raise OSError(28, "No space left on device")


class StandInTorch(ZeroStages):
    """TorchStages' place in ``serve`` and ``device``: the stand-in network."""

    def __init__(self, chain, *, seed=0, threads=1):
        super().__init__(chain)

    def time_alone(self):
        return [0.001] * self.n_stages


@pytest.mark.parametrize(
    ("argv", "what"),
    [(["serve", "--port", "0"], "the address"), ([*DEVICE, "--network", "alexnet"], "the rows")],
    ids=["serve", "device"],
)
def test_a_full_stdout_exits_74_with_one_line(argv, what, monkeypatch, capsys):
    monkeypatch.setattr(commands, "import_torch", lambda needed_by: None)
    monkeypatch.setattr(commands, "TorchStages", StandInTorch)
    monkeypatch.setattr(device_module, "TorchStages", StandInTorch)
    monkeypatch.setattr(sys, "stdout", FullStdout())
    status, _, err = run(capsys, *argv)
    assert status == EXIT_OUTPUT
    assert err == f"dnnsplit {argv[0]}: cannot write {what} to stdout: No space left on device\n"


@pytest.mark.parametrize("argv", [["serve", "--port", "0"], DEVICE], ids=["serve", "device"])
def test_ctrl_c_while_importing_is_one_line_and_exit_130(argv):
    """SIGINT once numpy is imported (``-X importtime`` says when), the rest still loading."""
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "dnnsplit", *argv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.split("|")[-1].strip() == "numpy":
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    said = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert process.returncode == EXIT_INTERRUPTED, err[-2000:]
    assert said == [f"dnnsplit {argv[0]}: interrupted"]


# -- the device against a hostile BS ----------------------------------------------------


@contextlib.contextmanager
def hostile_bs(answer: bytes):
    """A BS that reads a hello and a request, answers ``answer`` and holds the line."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve():
        sock, _ = listener.accept()
        with sock:
            sock.recv(HEADER.size, socket.MSG_WAITALL)
            header = parse_header(
                sock.recv(HEADER.size, socket.MSG_WAITALL), expect=KIND_REQUEST, max_payload=10**7
            )
            sock.recv(header.length, socket.MSG_WAITALL)
            sock.sendall(answer)
            done.wait(20)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        done.set()
        thread.join(20)
        listener.close()


#: An error text that would clear a terminal, colour it, start a line and reverse it.
HOSTILE_TEXT = "\x1b[2J\x1b[31mpwned\r\nnext line \u202eesrever"


def _error(text: str) -> bytes:
    data = text.encode()
    return encode(Header(KIND_ERROR, 0, 0, (), len(data)), data)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_error(HOSTILE_TEXT), HOSTILE_TEXT.encode("unicode_escape").decode()),
        (Header(KIND_REPLY, 0, 1, (1, 10**8), 4 * 10**8).pack(), "a malformed reply: length"),
        (encode(Header(KIND_REPLY, 0, 1, (1, 5, 2), 40), bytes(40)), "a malformed reply: shape"),
        (Header(KIND_REPLY, 0, 1, (1, 10), 40).pack()[:30], "no reply within 0.5 s"),
    ],
    ids=["control characters", "a huge length", "a wrong shape", "a stalled reply"],
)
def test_a_hostile_bs_gets_one_escaped_line_and_cannot_hold_the_device(answer, expected):
    with hostile_bs(answer) as address:
        client = device(address, timeout_s=0.5)
        with pytest.raises(Refused) as caught:
            client.request(1)
        client.close()
    message = str(caught.value)
    assert expected in message and message.isprintable()


def test_a_rate_whose_upload_cannot_finish_within_the_timeout_is_refused_up_front():
    check_upload(TINY, 0, 1e6, 1.0)  # 3,172 bytes in 25 ms
    with pytest.raises(InputError) as caught:
        check_upload(TINY, 0, 1e3, 1.0)
    assert caught.value.field == "rate_bps"
    assert "take 25.4 s, beyond the timeout of 1 s" in str(caught.value)
    client = DeviceClient(TINY, stages=ZeroStages(TINY), rate_bps=1e-3)
    with pytest.raises(InputError, match="rate_bps"):
        client.request(0)  # before any connection is asked for
    check_upload(TINY, 3, 1e-3, 1.0)  # p = S sends nothing


# -- the attacks of issue 27, on a server process with lowered limits ---------------------

#: A BS on AlexNet with a stand-in network, under an open-files limit (argv[1]) and a
#: config (argv[2], JSON); prints its port, then its state for each line read on stdin.
SERVER = """
import asyncio, json, logging, resource, sys
import numpy as np
from dnnsplit.chains import ALEXNET, chain_figures
from dnnsplit.testbed.protocol import cut_shapes
from dnnsplit.testbed.server import BSServer

_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard))
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="serve: %(message)s")
SHAPES = [*cut_shapes(ALEXNET), (1, *chain_figures(ALEXNET)[-1].output_shape)]

class Zeros:
    def run(self, stage, x):
        return np.zeros(SHAPES[stage + 1], dtype=np.float32)

async def main():
    server = BSServer(ALEXNET, Zeros(), [0.001] * 8, **json.loads(sys.argv[2]))
    _, port = await server.start()
    print(json.dumps({"port": port}), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        state = {"held_bytes": server.held_bytes, "open": server.open_connections,
                 "served": server.served, "counts": dict(server.events.counts)}
        print(json.dumps(state), flush=True)
    await server.close()

asyncio.run(main())
"""


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@contextlib.contextmanager
def open_files(count: int):
    """This process may open ``count`` more files while the block runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, count + 256))
    if wanted < count + 256:
        pytest.skip(f"this process may open {hard} files, fewer than {count + 256}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_flood_of_idle_connections_and_held_back_bytes_starve_nobody():
    """The attacks, scaled to limits a test can set: 1,100 idle connections to a server
    that may open 256 files (the attack: 1,100 against 1,024), then 80 requests that each
    send all of AlexNet's input but its last byte, 60 of them fitting the tensor limit."""
    sizes = cut_bytes(ALEXNET)
    reserve = sizes[0] + sizes[1]
    config = {
        "max_connections": 100,
        "max_tensor_bytes": 60 * reserve,
        "hello_timeout_s": 600,
        "log_interval_s": 60,
    }
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, "256", json.dumps(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None

    def state() -> dict:
        server.stdin.write("\n")
        server.stdin.flush()
        return json.loads(server.stdout.readline())

    def settled(condition) -> dict:
        """The server's state once ``condition`` holds of it (within 20 s)."""
        deadline = time.monotonic() + 20
        while not condition(now := state()):
            assert time.monotonic() < deadline, now
            time.sleep(0.02)
        return now

    attackers: list[socket.socket] = []
    try:
        address = ("127.0.0.1", json.loads(server.stdout.readline())["port"])
        with open_files(1_100 + 80):
            for _ in range(1_100):
                attackers.append(socket.create_connection(address, timeout=20))
            with socket.create_connection(address, timeout=20) as friend:
                friend.sendall(hello() + request(ALEXNET, 7))
                assert receive(friend)[0].kind == KIND_REPLY
            flood = settled(lambda now: now["open"] == 99)  # the friend took one more place
            assert flood == {"held_bytes": 0, "open": 99, "served": 1, "counts": {"evicted": 1_001}}
            for sock in attackers:
                sock.close()
            attackers.clear()
            settled(lambda now: now["open"] == 0)
            before = _rss_bytes(server.pid)
            frame = hello() + request(ALEXNET, 0)
            for _ in range(80):
                attackers.append(socket.create_connection(address, timeout=20))
                attackers[-1].sendall(frame[:-1])
            held = settled(lambda now: now["counts"].get("tensors at their limit") == 20)
            assert held["held_bytes"] == 60 * reserve
            peak = _rss_bytes(server.pid)
            for sock in attackers:
                sock.close()
            attackers.clear()
            done = settled(lambda now: now["open"] == 0)
            after = _rss_bytes(server.pid)
        assert done["held_bytes"] == 0 and done["counts"]["truncated frame"] == 60
        assert peak - before > 30 * 2**20  # 60 × 618,347 bytes were held ...
        assert after - before < 8 * 2**20  # ... and given back
        _, err = server.communicate(timeout=30)  # its stdin closed: it stops
        assert server.returncode == 0
    finally:
        for sock in attackers:
            sock.close()
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 20, err[-3000:]
