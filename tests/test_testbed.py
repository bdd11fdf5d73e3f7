"""The testbed: the frame format, the BS's scheduling rules, the server and the device end
to end on loopback, the command line, and the emulation's clean-up (root only)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnnsplit.chains import ALEXNET, Chain, Conv, Linear, MaxPool, Stage
from dnnsplit.errors import InputError
from dnnsplit.model import sjf_completion
from dnnsplit.testbed.protocol import (
    HEADER,
    KIND_REPLY,
    KIND_REQUEST,
    FrameError,
    Header,
    cut_shapes,
    encode,
    parse_header,
    token_digest,
)
from dnnsplit.testbed.server import pick, service_order
from dnnsplit.timeline import timeline_completion

try:
    import torch  # noqa: F401

    HAS_TORCH = True
except ImportError:
    HAS_TORCH = False

needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
ROOT = Path(__file__).resolve().parents[1]

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


def request_header(chain: Chain, cut: int, **changes) -> Header:
    shape = cut_shapes(chain)[cut]
    fields = {
        "kind": KIND_REQUEST,
        "device": 0,
        "point": cut,
        "shape": shape,
        "length": int(np.prod(shape)) * 4,
    }
    fields.update(changes)
    return Header(**fields)


def parse_request(data: bytes, chain: Chain = ALEXNET, auth: bytes | None = None) -> Header:
    return parse_header(data, expect=KIND_REQUEST, max_payload=4 * 10**6, chain=chain, auth=auth)


# -- the frame format -----------------------------------------------------------------


def test_header_is_100_bytes_and_round_trips_every_cut_of_alexnet():
    assert HEADER.size == 100
    for point, shape in enumerate(cut_shapes(ALEXNET)):
        header = request_header(ALEXNET, point, device=7)
        parsed = parse_request(header.pack())
        assert (parsed.point, parsed.shape, parsed.device) == (point, shape, 7)
    assert cut_shapes(ALEXNET)[0] == (1, 3, 227, 227)
    assert cut_shapes(ALEXNET)[5] == (1, 256, 6, 6)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dtype": 2}, "dtype"),
        ({"shape": (1, 96, 27, 26)}, "length"),
        ({"shape": (1, 96, 26, 28), "length": 96 * 26 * 28 * 4}, "shape"),
        ({"point": 8}, "point"),
        ({"kind": KIND_REPLY}, "kind"),
        ({"length": 5 * 10**6}, "length"),
        ({"shape": (), "length": 0}, "ndim"),
    ],
)
def test_a_bad_request_header_names_its_field(changes, field):
    header = request_header(ALEXNET, 1, **changes)
    with pytest.raises(FrameError) as caught:
        parse_request(header.pack())
    assert caught.value.field == field


def test_magic_version_and_token_are_checked():
    good = request_header(ALEXNET, 2, auth=token_digest("secret")).pack()
    assert parse_request(good, auth=token_digest("secret")).point == 2
    with pytest.raises(FrameError, match="auth"):
        parse_request(good, auth=token_digest("other"))
    with pytest.raises(FrameError, match="magic"):
        parse_request(b"XXXX" + good[4:])
    with pytest.raises(FrameError, match="version"):
        parse_request(good[:4] + b"\x09" + good[5:])
    with pytest.raises(FrameError, match="header"):
        parse_request(good[:50])


@settings(max_examples=300)
@given(st.binary(min_size=0, max_size=120))
def test_garbage_headers_raise_frame_error_only(data):
    try:
        parse_request(data)
    except FrameError:
        pass


@settings(max_examples=300)
@given(
    point=st.integers(0, 7),
    position=st.integers(0, HEADER.size - 1),
    value=st.integers(0, 255),
)
def test_a_header_with_one_byte_changed_is_valid_or_a_frame_error(point, position, value):
    raw = bytearray(request_header(ALEXNET, point).pack())
    raw[position] = value
    try:
        header = parse_request(bytes(raw))
    except FrameError:
        return
    # whatever passes is a consistent request for one of AlexNet's cuts
    assert header.shape == cut_shapes(ALEXNET)[header.point]
    assert header.length == int(np.prod(header.shape)) * 4


# -- the scheduling rules, as traces --------------------------------------------------


def test_sjf_serves_the_least_residual_work_first_ties_by_device():
    # all three queued at once: the paper's snapshot. Device 4 and 2 tie: 2 first.
    trace = service_order([(0.0, 4, 2), (0.0, 2, 2), (0.0, 0, 0)], [3.0, 2.0, 1.0], "sjf")
    assert [(d, s) for d, s, _, _ in trace] == [(2, 3), (4, 3), (0, 1), (0, 2), (0, 3)]
    assert [e for *_, e in trace] == [1.0, 2.0, 5.0, 7.0, 8.0]


def test_sjf_is_preemptive_at_stage_boundaries():
    # device 0 starts alone; device 1's short task arrives during stage 1 and overtakes
    # device 0 at the first boundary
    trace = service_order([(0.0, 0, 0), (0.5, 1, 2)], [1.0, 1.0, 1.0], "sjf")
    assert [(d, s, b, e) for d, s, b, e in trace] == [
        (0, 1, 0.0, 1.0),
        (1, 3, 1.0, 2.0),
        (0, 2, 2.0, 3.0),
        (0, 3, 3.0, 4.0),
    ]


def test_rr_serves_one_stage_per_turn_newcomers_before_the_preempted():
    trace = service_order([(0.0, 0, 0), (0.0, 1, 1), (0.5, 2, 2)], [1.0, 1.0, 1.0], "rr")
    assert [(d, s) for d, s, _, _ in trace] == [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3)]


def test_fcfs_runs_each_task_to_completion_in_arrival_order():
    trace = service_order([(0.0, 3, 1), (0.1, 1, 0)], [1.0, 2.0, 3.0], "fcfs")
    assert [(d, s) for d, s, _, _ in trace] == [(3, 2), (3, 3), (1, 1), (1, 2), (1, 3)]


def test_a_task_with_nothing_left_is_never_queued_and_pick_rejects_nothing():
    assert service_order([(0.0, 0, 3)], [1.0, 1.0, 1.0], "sjf") == []
    with pytest.raises(InputError, match="policy"):
        service_order([], [1.0], "ps")
    with pytest.raises(ValueError):
        pick([], "sjf")


def _completions(trace, devices):
    return np.array([max(e for d, _, _, e in trace if d == i) for i in devices])


@settings(max_examples=80)
@given(
    stage_times=st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=1, max_size=5),
    points=st.lists(st.integers(0, 4), min_size=1, max_size=5),
)
def test_sjf_with_every_task_queued_at_once_is_the_papers_eq_2(stage_times, points):
    points = [min(p, len(stage_times) - 1) for p in points]
    trace = service_order([(0.0, i, p) for i, p in enumerate(points)], stage_times, "sjf")
    work = np.array([sum(stage_times[p:]) for p in points])
    expected = sjf_completion(work[None, :])[0]
    np.testing.assert_allclose(_completions(trace, range(len(points))), expected)


@settings(max_examples=80)
@given(
    stage_times=st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=1, max_size=4),
    tasks=st.lists(
        st.tuples(st.sampled_from([0.0, 0.25, 1.0, 2.5, 4.0]), st.integers(0, 3)),
        min_size=1,
        max_size=5,
    ),
)
def test_fcfs_and_rr_match_the_timeline_model(stage_times, tasks):
    points = [min(p, len(stage_times) - 1) for _, p in tasks]
    release = np.array([t for t, _ in tasks])
    work = np.array([sum(stage_times[p:]) for p in points])
    arrivals = [(t, i, p) for i, (t, p) in enumerate(zip(release, points, strict=True))]
    fcfs = service_order(arrivals, stage_times, "fcfs")
    np.testing.assert_allclose(
        _completions(fcfs, range(len(points))), timeline_completion(release, work, "fcfs", 1.0)
    )
    if len(set(stage_times)) == 1:  # one stage = one quantum: stage-granular RR is RR
        rr = service_order(arrivals, stage_times, "rr")
        expected = timeline_completion(release, work, "rr", stage_times[0])
        np.testing.assert_allclose(_completions(rr, range(len(points))), expected)


# -- the server and the device on loopback --------------------------------------------


@contextlib.contextmanager
def running_server(chain: Chain = TINY, stage_times=(0.03, 0.02, 0.01), **options):
    """A BS on 127.0.0.1, any free port, its event loop in a thread; closed after."""
    from dnnsplit.testbed.server import BSServer
    from dnnsplit.testbed.stages import TorchStages

    server = BSServer(chain, TorchStages(chain), list(stage_times), **options)
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


@needs_torch
@pytest.mark.torch
def test_three_devices_end_to_end_get_the_same_answer_as_running_alone():
    from dnnsplit.testbed.device import DeviceClient

    with running_server() as (server, address, _):
        clients = [DeviceClient(TINY, device_id=i) for i in range(3)]
        alone = clients[0].stages.run_range(0, 3, clients[0].input)
        rows = {}

        def work(client, point):
            client.connect(*address)
            rows[client.device_id] = [client.request(point) for _ in range(2)]
            client.close()

        threads = [threading.Thread(target=work, args=(c, c.device_id)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert server.served == 6 and not server.refused
    for device, device_rows in rows.items():
        for row in device_rows:
            assert row.partition == device and row.network == "tiny"
            assert row.end_to_end_s >= row.local_s + row.bs_queue_s + row.bs_compute_s - 1e-6
            assert row.bs_compute_s >= row.bs_service_s > 0
            assert row.send_s > -1e-3
    # the split network is the whole network: same weights, same answer (checked via
    # the reply of a fresh request, p = 1)
    client = DeviceClient(TINY, device_id=9)
    with running_server() as (_, address, _):
        client.connect(*address)
        x = client.stages.run_range(0, 1, client.input)
        from dnnsplit.testbed.protocol import tensor_payload

        body = tensor_payload(x)
        assert client.sock is not None
        client.sock.sendall(encode(request_header(TINY, 1, device=9), body))
        raw = client.sock.recv(HEADER.size, socket.MSG_WAITALL)
        reply = parse_header(raw, expect=KIND_REPLY, max_payload=10**6)
        payload = client.sock.recv(reply.length, socket.MSG_WAITALL)
        client.close()
    answer = np.frombuffer(payload, dtype="<f4").reshape(reply.shape)
    np.testing.assert_allclose(answer, alone, rtol=1e-5, atol=1e-6)
    assert reply.device == 9 and reply.stamps[0] <= reply.stamps[1] <= reply.stamps[2]


def _queued_requests(server, address, loop, points):
    """Queue one request per point (devices 0, 1, ... in this order) on a paused BS, then
    let it run; the rows by device."""
    from dnnsplit.testbed.device import DeviceClient

    server.pause()
    rows = {}

    def work(client, point):
        client.connect(*address)
        rows[client.device_id] = client.request(point)
        client.close()

    threads = []
    for device, point in enumerate(points):
        thread = threading.Thread(target=work, args=(DeviceClient(TINY, device_id=device), point))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=device + 1: len(server.queue) == n)
    loop.call_soon_threadsafe(server.resume)
    for thread in threads:
        thread.join(30)
    return rows


@needs_torch
@pytest.mark.torch
def test_sjf_and_rr_service_order_from_the_servers_stamps():
    with running_server(policy="sjf") as (server, address, loop):
        rows = _queued_requests(server, address, loop, [0, 1, 2])
        trace = [(d, s) for d, s, _, _ in server.trace]
    # residual work 0.06, 0.03, 0.01: the shortest first, each to completion
    assert trace == [(2, 3), (1, 2), (1, 3), (0, 1), (0, 2), (0, 3)]
    assert rows[2].bs_queue_s < rows[1].bs_queue_s < rows[0].bs_queue_s
    with running_server(policy="rr") as (server, address, loop):
        rows = _queued_requests(server, address, loop, [0, 1, 2])
        stamps = list(server.trace)
    assert [(d, s) for d, s, _, _ in stamps] == [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3)]
    # RR: all start in arrival order, the one with one stage left finishes first, and a
    # reply's compute span covers the others' stages run in between
    starts = [min(b for d, _, b, _ in stamps if d == i) for i in range(3)]
    ends = [max(e for d, _, _, e in stamps if d == i) for i in range(3)]
    assert starts[0] < starts[1] < starts[2] and ends[2] < ends[1] < ends[0]
    assert rows[0].bs_compute_s > rows[0].bs_service_s
    assert rows[2].bs_compute_s < rows[1].bs_compute_s < rows[0].bs_compute_s


def _send_raw(address, data: bytes, *, half_close: bool = True) -> bytes:
    """Send ``data`` on a fresh connection; what the BS answers before it closes."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def _error_text(answer: bytes) -> str:
    header = parse_header(answer[: HEADER.size], expect=KIND_REPLY, max_payload=10**6)
    return answer[HEADER.size : HEADER.size + header.length].decode()


@needs_torch
@pytest.mark.torch
def test_malformed_input_closes_that_connection_and_the_server_goes_on():
    from dnnsplit.testbed.device import DeviceClient

    good = request_header(TINY, 1)
    cases = {
        "truncated": good.pack()[:40],
        "truncated payload": encode(good, bytes(good.length))[:-10],
        "oversized": request_header(TINY, 1, length=10**9).pack(),
        "wrong dtype": request_header(TINY, 1, dtype=7).pack(),
        "wrong shape": request_header(TINY, 1, shape=(1, 8, 8, 4), length=8 * 8 * 4 * 4).pack(),
        "garbage": os.urandom(300),
    }
    with running_server(timeout_s=2.0) as (server, address, _):
        for name, data in cases.items():
            answer = _send_raw(address, data)
            assert _error_text(answer), name
        assert len(server.refused) == len(cases)
        assert any("dtype" in r for r in server.refused)
        assert any("truncated" in r for r in server.refused)
        client = DeviceClient(TINY, device_id=3)
        client.connect(*address)
        assert client.request(1).partition == 1
        client.close()
        assert server.served == 1


@needs_torch
@pytest.mark.torch
@settings(max_examples=25)
@given(data=st.binary(min_size=1, max_size=400))
def test_fuzzed_frames_never_stop_the_server(data):
    from dnnsplit.testbed.device import DeviceClient

    with running_server(timeout_s=0.5) as (_server, address, _):
        _send_raw(address, data)
        client = DeviceClient(TINY, device_id=1)
        client.connect(*address)
        assert client.request(2).partition == 2
        client.close()


@needs_torch
@pytest.mark.torch
def test_a_token_keeps_strangers_out_and_a_full_queue_refuses():
    from dnnsplit.testbed.device import DeviceClient, Refused

    with running_server(token="s3cret") as (server, address, _):
        stranger = DeviceClient(TINY, token="wrong")
        stranger.connect(*address)
        with pytest.raises(Refused, match="auth"):
            stranger.request(1)
        friend = DeviceClient(TINY, token="s3cret")
        friend.connect(*address)
        assert friend.request(1).partition == 1
        stranger.close()
        friend.close()
    with running_server(max_queue=1) as (server, address, loop):
        server.pause()
        first = DeviceClient(TINY, device_id=0)
        first.connect(*address)
        thread = threading.Thread(target=first.request, args=(0,))
        thread.start()
        wait_until(lambda: len(server.queue) == 1)
        second = DeviceClient(TINY, device_id=1)
        second.connect(*address)
        with pytest.raises(Refused, match="queue full"):
            second.request(0)
        loop.call_soon_threadsafe(server.resume)
        thread.join(10)
        first.close()
        second.close()


# -- the command line -----------------------------------------------------------------


def dnnsplit_command(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dnnsplit", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_bad_device_and_testbed_flags_exit_2_naming_the_flag():
    from dnnsplit.cli import main

    assert main(["device", "--server", "nohost", "--partition", "1"]) == 2
    assert main(["device", "--server", "127.0.0.1:1", "--partition", "9"]) == 2
    assert main(["device", "--server", "127.0.0.1:1", "--partition", "1", "--requests", "0"]) == 2
    assert main(["testbed", "--devices", "x"]) == 2
    assert main(["testbed", "--devices", "2", "--policy", "ps"]) == 2
    assert main(["serve", "--port", "70000"]) == 2


def test_without_torch_the_testbed_commands_say_so_and_exit_2(monkeypatch, capsys):
    from dnnsplit.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["serve", "--port", "0"]) == 2
    assert main(["device", "--server", "127.0.0.1:9", "--partition", "1"]) == 2
    assert main(["testbed", "--devices", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("PyTorch") == 3 and err.count("\n") == 3


def test_quotas_of_all_devices_must_fit_one_core():
    from dnnsplit.testbed.experiment import check_quotas

    check_quotas(0.125, 8)
    with pytest.raises(InputError, match="--devices"):
        check_quotas(0.2, 8)


@needs_torch
@pytest.mark.torch
def test_serve_and_device_on_loopback_then_serve_stops_on_sigterm(tmp_path):
    """(SIGINT: the README's walk-through below.)"""
    signum = signal.SIGTERM
    server = dnnsplit_command("serve", "--port", "0", "--policy", "rr")
    try:
        assert server.stdout is not None
        started = json.loads(server.stdout.readline())
        port = started["port"]
        assert started["policy"] == "rr" and started["host"] == "127.0.0.1"
        out = tmp_path / "rows.csv"
        device = dnnsplit_command(
            "device", "--server", f"127.0.0.1:{port}", "--partition", "5", "--requests", "2",
            "--device-id", "4", "--out", str(out), "--background", "1",
        )  # fmt: skip
        _, err = device.communicate(timeout=120)
        assert device.returncode == 0, err
        rows = pd.read_csv(out)
        assert list(rows["request"]) == [0, 1] and set(rows["partition"]) == {5}
        assert (rows["end_to_end_s"] > 0).all()
        begun = time.monotonic()
        server.send_signal(signum)
        rest, _ = server.communicate(timeout=10)
        assert server.returncode == 0
        assert time.monotonic() - begun < 10
        assert json.loads(rest.splitlines()[-1]) == {"served": 2, "refused": 0}
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()


@needs_torch
@pytest.mark.torch
def test_device_exits_1_when_no_bs_answers():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    device = dnnsplit_command("device", "--server", f"127.0.0.1:{port}", "--partition", "2")
    _, err = device.communicate(timeout=120)
    assert device.returncode == 1
    assert "cannot connect" in err and err.count("\n") == 1


# -- the emulated testbed (root, cgroups) ---------------------------------------------


def _testbed_skip() -> str | None:
    from dnnsplit.testbed.emulation import capabilities

    missing = capabilities()["missing"]
    return "the testbed needs " + "; ".join(missing) if missing else None


needs_testbed = pytest.mark.skipif(_testbed_skip() is not None, reason=str(_testbed_skip()))


@pytest.mark.testbed
@needs_testbed
def test_a_small_testbed_run_measures_every_vector_and_leaves_nothing(tmp_path):
    from dnnsplit.testbed.emulation import capabilities, leftovers
    from dnnsplit.testbed.experiment import COLUMNS, TestbedConfig, run_testbed

    config = TestbedConfig(
        devices=(1,), policies=("sjf",), repeats=1, fraction=0.4, calibration_rounds=0,
        profile_repeats=3, host_repeats=3,
    )  # fmt: skip
    rows, provenance = run_testbed(config, tmp_path)
    assert list(rows.columns) == list(COLUMNS)
    assert len(rows) == 4
    assert set(rows["vector"]) == {"greedy", "optimal", "all-local", "max-local"}
    assert (rows["measured_median_s"] > 0).all()
    assert set(rows["shaping"]) == {"tc" if capabilities()["netns"] else "pacing"}
    local = rows[rows["vector"] == "all-local"]
    assert (local["measured_send_s"] == 0).all() and (local["partition"] == 8).all()
    assert provenance["host"]["cores"] == os.cpu_count()
    assert len(provenance["device_profiles_s"]) == 1
    assert leftovers(os.getpid()) == {"cgroups": [], "namespaces": [], "processes": []}


@pytest.mark.testbed
@needs_testbed
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_testbed_interrupted_leaves_no_process_cgroup_or_namespace(signum):
    from dnnsplit.testbed.emulation import capabilities, leftovers

    run = dnnsplit_command(
        "testbed", "--devices", "2", "--repeats", "50", "--fraction", "0.3",
        "--profile-repeats", "3", "--host-repeats", "3",
    )  # fmt: skip
    assert run.stderr is not None
    seen = []
    for line in run.stderr:  # wait until its cgroups, namespaces and a process exist
        seen.append(line)
        if "measuring the host" in line:
            break
    wait_until(lambda: bool(leftovers(run.pid)["processes"]))  # the host's profiler
    present = leftovers(run.pid)
    assert present["cgroups"] and present["processes"], seen
    assert bool(present["namespaces"]) == capabilities()["netns"], seen
    run.send_signal(signum)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    assert leftovers(run.pid) == {"cgroups": [], "namespaces": [], "processes": []}


# -- docs/testbed.md's loopback walk-through -------------------------------------------


def _readme_testbed_blocks() -> list[list[str]]:
    import re

    text = (ROOT / "docs" / "testbed.md").read_text(encoding="utf-8")
    section = text[text.index("## Running it") :]
    end = section.find("\n## ", 1)
    section = section if end < 0 else section[:end]
    blocks = re.findall(r"```shell\n(.*?)```", section, flags=re.DOTALL)
    return [[line[2:] for line in b.splitlines() if line.startswith("$ ")] for b in blocks]


@needs_torch
@pytest.mark.torch
def test_the_readme_loopback_walk_through_runs_as_written(tmp_path):
    """The README's loopback commands, run as printed except for the port: a test binds
    no fixed port, so 5555 becomes a free one."""
    blocks = _readme_testbed_blocks()
    (serve,), device_block = blocks[0], blocks[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    server = subprocess.Popen(
        ["bash", "-c", "exec " + serve.replace("5555", port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert json.loads(server.stdout.readline())["port"] == int(port)
        printed = ""
        for command in device_block:
            done = subprocess.run(
                ["bash", "-c", command.replace("5555", port)],
                cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{command}: {done.stderr}"
            printed += done.stdout
        rows = pd.read_csv(tmp_path / "rows.csv")
        assert len(rows) == 5 and set(rows["partition"]) == {3}
        assert printed.splitlines()[0] == ",".join(rows.columns)
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=10)
        assert server.returncode == 0
        assert json.loads(rest.splitlines()[-1]) == {"served": 5, "refused": 0}
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()


# -- notebook 08 and the report's section, from the committed measurement --------------


@pytest.mark.notebook
def test_notebook_08_draws_the_committed_measurement_byte_for_byte(tmp_path, monkeypatch):
    """Run by papermill, notebook 08 writes the same bytes as the committed figure (drawn
    by ./run_all.sh from the same committed measurement), and copies the measurement
    unchanged."""
    from dnnsplit.paper import testbed
    from dnnsplit.paper.runner import run_notebook
    from dnnsplit.paths import FIGURES_DIR, NOTEBOOKS_DIR

    monkeypatch.setenv(testbed.ENV_MODE, "committed")
    out = tmp_path / "out"
    out.mkdir()
    run_notebook(
        NOTEBOOKS_DIR / "08_testbed.ipynb",
        tmp_path / "run.ipynb",
        {"quick": True, "output_dir": str(out), "check_here": False},
    )
    drawn = ("testbed.png", "testbed.pdf", "testbed_summary.csv", "testbed_regret.csv")
    for name in (*drawn, *testbed.MEASUREMENT_FILES):
        assert (out / name).read_bytes() == (FIGURES_DIR / name).read_bytes(), name
    executed = json.loads((tmp_path / "run.ipynb").read_text())
    text = "".join(
        "".join(o.get("text", ""))
        for c in executed["cells"]
        if c["cell_type"] == "code"
        for o in c["outputs"]
    )
    assert "The committed measurement, made on" in text and "load average" in text


def test_a_host_that_cannot_run_the_testbed_says_why_and_measures_nothing(monkeypatch):
    from dnnsplit.paper import testbed
    from dnnsplit.testbed import emulation

    monkeypatch.setattr(
        emulation, "capabilities", lambda: {"missing": ["PyTorch (pip install -e '.[profile]')"]}
    )
    fresh, why = testbed.check_here(True)
    assert fresh is None and "cannot run the testbed" in why and "PyTorch" in why
    off, said = testbed.check_here(False)
    assert off is None and "turned off" in said
    committed = testbed.testbed_rows("committed")
    both = testbed.side_by_side(committed, committed)
    assert (both["committed"] == both["this host now"]).all() and len(both) > 0


def test_the_report_section_states_the_error_per_policy_and_n():
    from dnnsplit.paper import testbed
    from dnnsplit.paths import FIGURES_DIR

    lines = testbed.report_section(FIGURES_DIR)
    assert lines[0] == "## The model against an emulated testbed"
    text = "\n".join(lines)
    rows = pd.read_csv(FIGURES_DIR / "testbed.csv")
    for n in sorted(rows["devices"].unique()):
        assert f"\n| {n} | " in text
    assert "SJF snapshot" in text and "RR timeline" in text
    assert "Does the vector the model calls best also measure best?" in text
    assert "load average" in text and "estimated" in text
    assert testbed.report_section(Path("/nonexistent")) == []


def test_error_and_regret_tables_on_hand_made_rows():
    from dnnsplit.paper.testbed import error_summary, regret_table

    rows = pd.DataFrame(
        {
            "policy": ["sjf"] * 4,
            "devices": [2] * 4,
            "vector": ["greedy", "greedy", "all-local", "all-local"],
            "device": [0, 1, 0, 1],
            "measured_median_s": [1.0, 2.0, 1.5, 1.0],
            "predicted_snapshot_s": [1.1, 1.8, 2.0, 2.0],
            "predicted_timeline_s": [1.0, 2.0, 2.0, 2.0],
            "error_snapshot": [0.1, -0.1, 1 / 3, 1.0],
            "error_timeline": [0.0, 0.0, 1 / 3, 1.0],
        }
    )
    summary = error_summary(rows).set_index("model")
    assert summary.loc["snapshot", "median_abs_error"] == pytest.approx((0.1 + 1 / 3) / 2)
    assert summary.loc["timeline", "max_abs_error"] == pytest.approx(1.0)
    regret = regret_table(rows).set_index("vector")
    # measured totals: greedy 3.0, all-local 2.5: the model's best (greedy, 2.9) is not
    # the measured best, and its regret is 3.0 / 2.5 - 1
    assert regret.loc["greedy", "model_calls_best"] and not regret.loc["greedy", "measures_best"]
    assert regret.loc["greedy", "measured_regret"] == pytest.approx(0.2)
    assert regret.loc["all-local", "measures_best"]


def test_greedy_against_optimal_counts_ties_and_differences_within_the_spread():
    from dnnsplit.paper.testbed import greedy_against_optimal

    def rows(policy, n, vector, partitions, medians, iqrs):
        return [
            {"policy": policy, "devices": n, "vector": vector, "device": d, "partition": p,
             "measured_median_s": m, "measured_iqr_s": q}
            for d, (p, m, q) in enumerate(zip(partitions, medians, iqrs, strict=True))
        ]

    frame = pd.DataFrame(
        # the same vector: a tie
        rows("sjf", 2, "greedy", [3, 8], [1.0, 2.0], [0.1, 0.1])
        + rows("sjf", 2, "optimal", [3, 8], [1.0, 2.0], [0.1, 0.1])
        # different vectors, optimal lower by 1 s against a spread of 0.4 s
        + rows("rr", 2, "greedy", [3, 8], [2.0, 2.0], [0.2, 0.2])
        + rows("rr", 2, "optimal", [5, 8], [1.0, 2.0], [0.1, 0.1])
        # different vectors, greedy lower by 0.1 s: within a spread of 0.6 s
        + rows("rr", 3, "greedy", [1, 2, 3], [1.0, 1.0, 1.0], [0.2, 0.2, 0.2])
        + rows("rr", 3, "optimal", [1, 2, 4], [1.0, 1.0, 1.1], [0.1, 0.1, 0.1])
    )
    duel = greedy_against_optimal(frame).set_index(["policy", "devices"])
    assert bool(duel.loc[("sjf", 2), "same_vector"])
    assert not duel.loc[("rr", 2), "same_vector"]
    assert duel.loc[("rr", 2), "optimal_s"] < duel.loc[("rr", 2), "greedy_s"]
    assert not duel.loc[("rr", 2), "within_spread"]
    assert duel.loc[("rr", 3), "greedy_s"] < duel.loc[("rr", 3), "optimal_s"]
    assert duel.loc[("rr", 3), "within_spread"]


def test_the_quota_is_stated_as_calibrated_where_the_measurement_records_it():
    from dnnsplit.paper.testbed import _quota_words

    assert _quota_words({"fraction_nominal": 0.072}) == "7.2 % of a core"
    words = _quota_words({"fraction_nominal": 0.072, "fractions": [0.077, 0.084, 0.08]})
    assert words == "7.7–8.4 % of a core (calibrated per device; nominal 7.2 %)"
