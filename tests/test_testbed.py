"""The testbed: the frame format, the BS's scheduling rules, the server and the device end
to end on loopback, the command line, and the emulation's clean-up (root only)."""

from __future__ import annotations

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
from test_server import TINY, running, wait_until

from dnnsplit.chains import ALEXNET, Chain
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
from dnnsplit.testbed.stages import TorchStages
from dnnsplit.timeline import timeline_completion

try:
    import torch  # noqa: F401

    HAS_TORCH = True
except ImportError:
    HAS_TORCH = False

needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
ROOT = Path(__file__).resolve().parents[1]


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


def running_server(**changes):
    """test_server's loopback BS (TINY), on the real network."""
    return running(stages=TorchStages(TINY), **changes)


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


def test_quotas_of_all_devices_must_fit_one_core_and_set_the_largest_n():
    from dnnsplit.testbed.experiment import check_quotas, largest_n

    check_quotas([0.125] * 8)
    check_quotas([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(InputError) as caught:
        check_quotas([0.2] * 8)
    assert caught.value.field == "devices" and "1.60 cores" in caught.value.problem
    assert largest_n([0.3] * 4) == 3
    assert largest_n([0.08] * 13) == 12 and largest_n([0.25] * 4) == 4
    assert largest_n([2.0]) == 1


def test_testbed_settings_are_declared_and_kept_canonical():
    """Each bad value is refused naming its field by tests/test_hostile_declared.py, which
    finds TestbedConfig's declarations; here: lists come out sorted, without repeats."""
    from dnnsplit.testbed.experiment import TESTBED_FIELDS, TestbedConfig

    assert TestbedConfig.constraints == TESTBED_FIELDS  # type: ignore[attr-defined]
    config = TestbedConfig(devices=[4, 1, 4], seeds=[3, 0], policies=["rr", "sjf", "rr"])
    assert (config.devices, config.seeds, config.policies) == ((1, 4), (0, 3), ("rr", "sjf"))
    assert TestbedConfig().devices is None  # the grid up to the largest N that fits


def test_the_command_line_names_the_flag_of_a_bad_testbed_setting(capsys, tmp_path):
    """The library names fields; the command line its flags. A folder it cannot write in
    is refused before anything runs (exit 2, naming the folder)."""
    from dnnsplit.cli import main

    cases = {
        ("--repeats", "0"): "--repeats",
        ("--seeds", "1-x"): "--seeds",
        ("--devices", "0,2"): "--devices",
        ("--policy", "sjf,ps"): "--policy",
        ("--random-vectors", "-1"): "--random-vectors",
        ("--period-ms", "0"): "--period-ms",
        ("--vectors", "greedy,best"): "--vectors",
    }
    for flags, flag in cases.items():
        assert main(["testbed", *flags]) == 2, flags
        err = capsys.readouterr().err
        assert err.startswith(f"dnnsplit testbed: {flag}: ") and err.count("\n") == 1, err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["testbed", "--devices", "1", "--work", str(blocker / "work")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dnnsplit testbed: --work: cannot write in ") and "a-file" in err
    assert err.count("\n") == 1


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


# -- the emulated testbed: cgroups, processes, the lock (root where real) -------------


def _testbed_skip() -> str | None:
    from dnnsplit.testbed.emulation import capabilities

    missing = capabilities()["missing"]
    return "the testbed needs " + "; ".join(missing) if missing else None


needs_testbed = pytest.mark.skipif(_testbed_skip() is not None, reason=str(_testbed_skip()))


def test_the_cgroup_hierarchy_is_chosen_from_the_mount_table(tmp_path):
    from dnnsplit.testbed.emulation import CpuCgroups, find_cgroups

    unified, legacy = tmp_path / "unified", tmp_path / "cpu"
    unified.mkdir()
    legacy.mkdir()
    (legacy / "cpu.cfs_quota_us").write_text("-1")
    both = (f"cgroup2 {unified} cgroup2 rw,nosuid 0 0\n"
            f"cgroup {legacy} cgroup rw,relatime,cpu 0 0\n")  # fmt: skip
    # a hybrid host (this one's layout): the unified hierarchy offers no cpu, v1 has it
    (unified / "cgroup.controllers").write_text("")
    assert find_cgroups(both) == (CpuCgroups(legacy, 1), "")
    # current Debian, Ubuntu, Fedora: the unified hierarchy with cpu, chosen first
    (unified / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    assert find_cgroups(both) == (CpuCgroups(unified, 2), "")
    # neither: one line saying what is missing (read-only mounts named)
    none, why = find_cgroups(f"cgroup {legacy} cgroup ro,cpu 0 0\nproc /proc proc rw 0 0\n")
    assert none is None and "cgroup CPU controller" in why and str(legacy) in why
    assert "\n" not in why


def _cgroup_trees(tmp_path: Path) -> list:
    """This host's own hierarchy where the tests may use it (root), and a folder laid out
    as cgroup v2's (any user): the same code runs against both."""
    from dnnsplit.testbed.emulation import CpuCgroups, find_cgroups

    fake = tmp_path / "cgroup2"
    fake.mkdir()
    for name, text in {"cgroup.controllers": "cpu io memory\n", "cgroup.procs": "",
                       "cgroup.subtree_control": "", "cpu.max": "max 100000\n"}.items():
        (fake / name).write_text(text)  # fmt: skip
    trees = [CpuCgroups(fake, 2)]
    here, _ = find_cgroups()
    if here is not None and os.geteuid() == 0:
        trees.append(here)
    return trees


def test_children_start_in_their_own_session_on_their_cores_in_their_cgroup(tmp_path):
    """No preexec_fn: the launcher pins the child and the run writes its pid into the
    cgroup; closing the emulation kills it and removes every cgroup it made."""
    from dnnsplit.testbed.emulation import Emulation

    for tree in _cgroup_trees(tmp_path):
        core = min(os.sched_getaffinity(0))
        with Emulation(period_us=20_000, cgroups=tree) as emulation:
            group = emulation.cgroup("d0", 0.25)
            child = emulation.spawn(["sleep", "60"], cpus={core}, cgroup=group)
            wait_until(lambda child=child: Path(f"/proc/{child.pid}/comm").read_text() == "sleep\n")
            assert os.getsid(child.pid) == child.pid
            assert os.sched_getaffinity(child.pid) == {core}
            assert child.pid in tree.pids(group)
            if tree.version == 2:
                assert (group / "cpu.max").read_text() == "5000 20000"
                assert (group / "cpu.weight").read_text() == "1600"
                assert (tree.root / "cgroup.subtree_control").read_text() == "+cpu"
                assert (emulation.root / "cgroup.subtree_control").read_text() == "+cpu"
            else:
                assert int((group / "cpu.cfs_quota_us").read_text()) == 5000
                assert int((group / "cpu.cfs_period_us").read_text()) == 20000
        assert child.poll() is not None
        assert not emulation.root.exists(), tree


def test_a_second_run_refuses_while_the_first_holds_the_lock(tmp_path):
    from dnnsplit.errors import TestbedError
    from dnnsplit.testbed.emulation import run_lock

    lock = tmp_path / "testbed.lock"
    with run_lock(lock):
        with pytest.raises(TestbedError) as caught, run_lock(lock):
            pass
        assert f"another run (process {os.getpid()})" in str(caught.value)
        assert "\n" not in str(caught.value)
    with run_lock(lock):  # released: the next run goes ahead
        pass


@pytest.mark.testbed
@needs_testbed
def test_a_second_testbed_command_refuses_in_one_line_and_leaves_nothing(capsys):
    from dnnsplit.cli import main
    from dnnsplit.testbed.emulation import LOCK_PATH, leftovers, run_lock

    with run_lock():  # as a first run holds it
        assert main(["testbed", "--devices", "1", "--fraction", "0.3"]) == 1
    err = capsys.readouterr().err
    assert err == (f"dnnsplit testbed: testbed: another run (process {os.getpid()}) is using "
                   f"this host's cores; one run at a time (lock {LOCK_PATH})\n")  # fmt: skip
    assert leftovers(os.getpid()) == {"cgroups": [], "namespaces": [], "processes": []}


@pytest.mark.testbed
@needs_testbed
def test_a_small_testbed_run_predicts_first_measures_every_vector_and_leaves_nothing(tmp_path):
    from dnnsplit.testbed.emulation import capabilities, find_cgroups, leftovers
    from dnnsplit.testbed.experiment import COLUMNS, TestbedConfig, run_testbed

    config = TestbedConfig(
        devices=(1,), seeds=(0,), policies=("sjf",), repeats=1, random_vectors=1,
        fraction=0.4, calibration_rounds=0, profile_repeats=3, host_repeats=3,
    )  # fmt: skip
    rows, provenance = run_testbed(config, tmp_path)
    assert list(rows.columns) == list(COLUMNS)
    assert list(rows["vector"]) == ["greedy", "optimal", "all-local", "max-local", "random-1"]
    assert (rows["measured_s"] > 0).all() and (rows["predicted_snapshot_s"] > 0).all()
    assert set(rows["shaping"]) == {"tc" if capabilities()["netns"] else "pacing"}
    local = rows[rows["vector"] == "all-local"]
    assert (local["measured_send_s"] == 0).all() and (local["partition"] == 8).all()
    assert provenance["cgroup"]["version"] == find_cgroups()[0].version  # type: ignore[union-attr]
    assert list(provenance["phases_s"]) == ["prepare_s", "calibrate_s", "predict_s", "measure_s"]
    assert len(provenance["device_profiles_s"]) == 1 and provenance["largest_n"] is None
    assert leftovers(os.getpid()) == {"cgroups": [], "namespaces": [], "processes": []}


@pytest.mark.testbed
@needs_testbed
def test_the_online_controllers_run_on_the_testbed_switch_points_and_leave_nothing(tmp_path):
    """dnnsplit.online.testbed for real (its pure parts: tests/test_online_testbed.py):
    N = 2, 10 s of a two-state world under resolve (here, beside the testbed's other real
    runs: one file, one worker, so two runs never contend for the host's lock)."""
    from dnnsplit import paper_scenario
    from dnnsplit.online import Dynamics, OnlineScenario, Requests, TraceSpec
    from dnnsplit.online.testbed import COLUMNS as ONLINE_COLUMNS
    from dnnsplit.online.testbed import OnlineTestbedConfig, run_online_testbed
    from dnnsplit.setup import Setup
    from dnnsplit.testbed.emulation import capabilities, leftovers

    if not capabilities()["netns"]:
        pytest.skip("the online testbed shapes links with tc: needs root and the ip and tc tools")
    pool = paper_scenario(2, 0, Setup(profile="alexnet-pi3b-estimated"))
    trace = TraceSpec(kind="two-state", bad_factor=0.1, mean_good_s=4.0, mean_bad_s=3.0)
    dynamics = Dynamics(traces=(trace,), requests=Requests(period_s=1.0), horizon_s=10.0,
                        switch_s=0.0)  # fmt: skip
    assert len(dynamics.world(pool, 0).intervals) > 1  # the rates change in this world
    requests, decisions, provenance = run_online_testbed(
        OnlineScenario(pool, dynamics), tmp_path, OnlineTestbedConfig(controllers=("resolve",))
    )
    assert list(requests.columns) == list(ONLINE_COLUMNS)
    assert len(requests) >= 10 and (requests.groupby("round").size() == 2).all()
    assert (requests["measured_s"] > 0).all() and (requests["predicted_s"] > 0).all()
    assert decisions["switches"].sum() >= 1  # resolve moved a point when a rate changed
    assert requests.groupby("device")["point"].nunique().max() >= 2
    assert provenance["changes"]["time_s"][:2] == [0.0, 0.0]
    assert leftovers(os.getpid()) == {"cgroups": [], "namespaces": [], "processes": []}


@pytest.mark.testbed
@needs_testbed
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_testbed_interrupted_or_killed_leaves_nothing_behind(signum):
    """SIGINT and SIGTERM: the run removes everything itself (exit 130). SIGKILL: its
    children die with it (PR_SET_PDEATHSIG) and the next run removes its cgroups and
    namespaces (remove_stale)."""
    from dnnsplit.testbed.emulation import capabilities, leftovers, remove_stale

    run = dnnsplit_command(
        "testbed", "--devices", "2", "--repeats", "50", "--fraction", "0.3",
        "--profile-repeats", "3", "--host-repeats", "3",
    )  # fmt: skip
    assert run.stderr is not None
    seen = []
    for line in run.stderr:  # wait until its cgroups, namespaces and devices exist
        seen.append(line)
        if "starting 2 devices" in line:
            break
    netns = capabilities()["netns"]
    wait_until(lambda: len(leftovers(run.pid)["processes"]) >= 2
               and bool(leftovers(run.pid)["namespaces"]) == netns)  # fmt: skip
    assert leftovers(run.pid)["cgroups"], seen
    run.send_signal(signum)
    _, err = run.communicate(timeout=30)
    if signum == signal.SIGKILL:
        assert run.returncode == -signal.SIGKILL
        wait_until(lambda: not leftovers(run.pid)["processes"])
        remove_stale()
    else:
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
    by ./run_all.sh from the same committed measurement), copies the measurement unchanged
    and measures nothing by default (check_here is off)."""
    from dnnsplit.paper import testbed
    from dnnsplit.paper.runner import run_notebook
    from dnnsplit.paths import FIGURES_DIR, NOTEBOOKS_DIR

    monkeypatch.delenv(testbed.ENV_MODE, raising=False)
    out = tmp_path / "out"
    out.mkdir()
    run_notebook(NOTEBOOKS_DIR / "08_testbed.ipynb", tmp_path / "run.ipynb",
                 {"quick": True, "output_dir": str(out)})  # fmt: skip
    drawn = ("testbed.png", "testbed.pdf", "testbed.caption.md",
             *(f"testbed_{name}.csv" for name in ("summary", "rank", "bs", "duel")))  # fmt: skip
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
    assert "No check on this host was asked for" in text


def test_a_host_that_cannot_run_the_testbed_says_why_and_measures_nothing(monkeypatch):
    from dnnsplit.paper import testbed
    from dnnsplit.testbed import emulation

    monkeypatch.setattr(
        emulation, "capabilities", lambda: {"missing": ["PyTorch (pip install -e '.[profile]')"]}
    )
    fresh, why = testbed.check_here(True)
    assert fresh is None and "cannot run the testbed" in why and "PyTorch" in why
    off, said = testbed.check_here()
    assert off is None and "No check" in said
    committed = testbed.testbed_rows("measure")
    assert "this host lacks PyTorch" in committed.origin
    both = testbed.side_by_side(committed, committed)
    assert (both["committed"] == both["this host now"]).all() and len(both) > 0


def test_the_report_section_is_rendered_from_the_measurement_and_escapes_its_text(tmp_path):
    import shutil

    from dnnsplit.paper import testbed
    from dnnsplit.paths import FIGURES_DIR

    section = testbed.report_section(FIGURES_DIR)
    assert section.startswith("## The model against an emulated testbed\n")
    manifest = json.loads((FIGURES_DIR / "testbed.manifest.json").read_text())
    grid = manifest["grids"]["testbed"]
    for words in (grid["network"], grid["target"], "predicted", "calibrated",
                  "Kendall's τ", "within ±10 %", "counted apart", "found the BS idle",
                  f"CFS period of {grid['period_ms']:g} ms", "**estimated**"):
        assert words in section, words  # fmt: skip
    rows = pd.read_csv(FIGURES_DIR / "testbed.csv")
    for policy in rows["policy"].unique():
        assert f"| {policy.upper()} " in section
    assert testbed.report_section(tmp_path) == ""
    for name in testbed.MEASUREMENT_FILES:
        shutil.copy(FIGURES_DIR / name, tmp_path / name)
    manifest["notes"]["host"]["cpu"] = "<script>x</script> | `y`"
    (tmp_path / "testbed.manifest.json").write_text(json.dumps(manifest))
    hostile = testbed.report_section(tmp_path)
    assert "<script>" not in hostile and r"\<script\>x\</script\> \| \`y\`" in hostile


def test_a_written_measurement_sets_each_device_against_what_it_emulates(tmp_path):
    from dnnsplit.paper import testbed

    provenance = {"stage_names": ["conv1", "fc"], "target_profile_s": [1.0, 3.0],
                  "host_profile_s": [0.1, 0.2], "device_profiles_s": [[1.5, 2.5], [1.0, 3.0]],
                  "fractions": [0.1, 0.2], "host": {"cpu": "test"}}  # fmt: skip
    rows = tidy(device("greedy", 0, 1, 1.0))
    written = testbed.write_measurement(rows, provenance, testbed.quick_config(), tmp_path)
    assert {path.name for path in written} >= set(testbed.MEASUREMENT_FILES)
    table = pd.read_csv(tmp_path / "testbed_calibration.csv").set_index(["device", "stage"])
    assert list(table.loc[0].index) == ["conv1", "fc", "total"]
    first = table.loc[(0, "total")]  # 4 s emulated against 4 s targeted, 0.3 s / 0.1 host
    assert (first["target_s"], first["emulated_s"]) == (4.0, 4.0)
    assert first["scaled_host_s"] == pytest.approx(3.0)
    assert first["emulated_over_scaled"] == pytest.approx(4 / 3)
    assert table.loc[(1, "fc"), "emulated_over_target"] == 1.0
    assert table.loc[(1, "fc"), "scaled_host_s"] == pytest.approx(1.0)
    measurement = testbed.testbed_rows("committed", committed_dir=tmp_path)
    assert measurement.manifest["notes"]["measured"] and "test, ? cores" in measurement.origin
    assert testbed.calibration_frame(measurement).equals(table.reset_index())


def tidy(*rows: dict) -> pd.DataFrame:
    """Rows of the testbed's CSV made by hand: the given values, zero elsewhere."""
    from dnnsplit.testbed.experiment import COLUMNS

    frame = pd.DataFrame(list(rows))
    for column in COLUMNS:
        if column not in frame:
            frame[column] = 0.0
    return frame[list(COLUMNS)]


def device(vector: str, i: int, p: int, measured: float, *, policy="sjf", n=2, seed=0, **more):
    """One device's row: its whole delay ``measured``, every prediction equal to it
    unless ``more`` says otherwise."""
    row = {"policy": policy, "devices": n, "seed": seed, "vector": vector, "device": i,
           "partition": p, "measured_s": measured}  # fmt: skip
    for inputs in ("predicted", "calibrated"):
        for model in ("snapshot", "timeline"):
            row[f"{inputs}_{model}_s"] = measured
    return row | more


def test_errors_per_component_count_each_measurement_once_and_state_its_share():
    from dnnsplit.paper.testbed import component_errors, error_summary

    errors = [0.05, -0.2, 0.09, 0.5]  # of the predicted whole delay (snapshot)
    rows = tidy(*(
        device(vector, i, p, m, predicted_snapshot_s=m * (1 + e), measured_local_s=0.1 * m,
               predicted_local_s=0.1 * m * (1 + e) if p else 0.0,
               measured_send_s=0.2 if p < 8 else 0.0, model_send_s=0.1 if p < 8 else 0.0)
        for (vector, i, p, m), e in zip(
            [("greedy", 0, 1, 1.0), ("greedy", 1, 3, 2.0), ("all-local", 0, 8, 4.0),
             ("all-local", 1, 8, 3.0)], errors, strict=True)
    ), *(device("optimal", i, p, 9.0) for i, p in ((0, 1), (1, 3))))  # fmt: skip
    frame = component_errors(rows)
    whole = frame[(frame["component"] == "total") & (frame["inputs"] == "predicted")]
    assert sorted(whole[whole["model"] == "snapshot"]["error"].round(12)) == sorted(errors)
    assert set(whole["vector"]) == {"greedy", "all-local"}  # optimal's is greedy's vector
    upload = frame[frame["component"] == "upload"]
    assert list(upload["error"]) == [-0.5, -0.5] and set(upload["inputs"]) == {"any"}
    summary = error_summary(rows).set_index(["component", "inputs", "model"])
    stats = summary.loc[("total", "predicted", "snapshot")]
    assert stats["count"] == 4
    assert stats["median_abs_error"] == pytest.approx(0.145)
    assert stats["p90_abs_error"] == pytest.approx(0.41)
    assert stats["within_10"] == pytest.approx(0.5)
    assert stats["bias"] == pytest.approx(0.07)
    assert summary.loc[("total", "calibrated", "timeline"), "median_abs_error"] == 0
    # variance of the two devices' delays: measured (1, 2) and (4, 3) give 0.25 each
    variance = frame[(frame["component"] == "variance") & (frame["inputs"] == "predicted")
                     & (frame["model"] == "snapshot")].set_index("vector")  # fmt: skip
    assert variance.loc["greedy", "measured"] == pytest.approx(0.25)
    assert variance.loc["greedy", "predicted"] == pytest.approx(np.var([1.05, 1.6]))


def test_rank_fidelity_is_kendalls_tau_of_the_candidates_per_scenario():
    from dnnsplit.paper.testbed import rank_fidelity

    measured = {"a": (1.0, 1.0), "b": (1.0, 2.0), "c": (2.0, 4.0), "d": (4.0, 8.0)}
    rows = tidy(*(
        device(v, i, k * 2 + i, m, calibrated_snapshot_s=10 - m)  # reversed order
        for k, (v, pair) in enumerate(measured.items())
        for i, m in enumerate(pair)
    ), device("x", 0, 3, 1.0, n=1), device("y", 0, 5, 2.0, n=1), device("z", 0, 7, 3.0, n=1))  # fmt: skip
    rank = rank_fidelity(rows).set_index(["devices", "inputs", "model", "objective"])
    assert rank.loc[(2, "predicted", "snapshot", "total"), "tau"] == pytest.approx(1.0)
    assert rank.loc[(2, "predicted", "snapshot", "variance"), "tau"] == pytest.approx(1.0)
    assert rank.loc[(2, "calibrated", "snapshot", "total"), "tau"] == pytest.approx(-1.0)
    assert rank.loc[(2, "predicted", "snapshot", "total"), "regret"] == 0
    # reversed: the model's first choice (d) measured 12 s against a's 2 s
    assert rank.loc[(2, "calibrated", "snapshot", "total"), "regret"] == pytest.approx(5.0)
    assert rank.loc[(2, "predicted", "timeline", "total"), "candidates"] == 4
    assert np.isnan(rank.loc[(1, "predicted", "snapshot", "variance"), "tau"])  # one device


def test_the_bs_finding_sets_both_models_against_the_measured_bs_part():
    from dnnsplit.paper.testbed import bs_finding

    def task(i, local, queue, bs, snapshot, timeline):
        return device("greedy", i, 2, 1.0, measured_local_s=local, measured_send_s=0.1,
                      measured_queue_s=queue, measured_bs_s=bs, bs_work_s=0.05,
                      predicted_bs_snapshot_s=snapshot, predicted_bs_timeline_s=timeline,
                      calibrated_bs_snapshot_s=snapshot, calibrated_bs_timeline_s=timeline)  # fmt: skip

    # arrivals at 0.1 s and 0.5 s: spread 0.4 s over 0.1 s of BS work; the second found
    # the BS busy (queue 10 ms); snapshot +100 % and +50 %, timeline -20 % and 0 %
    rows = tidy(task(0, 0.0, 0.0, 0.05, 0.1, 0.04), task(1, 0.4, 0.01, 0.1, 0.15, 0.1))
    finding = bs_finding(rows).iloc[0]
    assert finding["tasks"] == 2 and finding["spread"] == pytest.approx(4.0)
    assert finding["idle"] == pytest.approx(0.5)
    assert finding["predicted_snapshot"] == pytest.approx(0.75)
    assert finding["predicted_timeline"] == pytest.approx(-0.1)
    alone = bs_finding(tidy(task(0, 0.0, 0.0, 0.05, 0.1, 0.04))).iloc[0]  # nothing shared
    assert alone["tasks"] == 1 and np.isnan(alone["idle"]) and np.isnan(alone["spread"])


def test_greedy_against_optimal_counts_ties_apart_from_wins_and_the_spread():
    from dnnsplit.paper.testbed import greedy_against_optimal

    def rows(policy, n, vector, partitions, medians, iqrs):
        return [device(vector, d, p, m, policy=policy, n=n, measured_iqr_s=q)
                for d, (p, m, q) in enumerate(zip(partitions, medians, iqrs, strict=True))]  # fmt: skip

    frame = tidy(
        # the same vector: a tie
        *rows("sjf", 2, "greedy", [3, 8], [1.0, 2.0], [0.1, 0.1]),
        *rows("sjf", 2, "optimal", [3, 8], [1.0, 2.0], [0.1, 0.1]),
        *rows("sjf", 2, "all-local", [8, 8], [0.5, 2.0], [0.1, 0.1]),
        # different vectors, optimal lower by 1 s against a spread of 0.4 s
        *rows("rr", 2, "greedy", [3, 8], [2.0, 2.0], [0.2, 0.2]),
        *rows("rr", 2, "optimal", [5, 8], [1.0, 2.0], [0.1, 0.1]),
        # different vectors, greedy lower by 0.1 s: within a spread of 0.6 s
        *rows("rr", 3, "greedy", [1, 2, 3], [1.0, 1.0, 1.0], [0.2, 0.2, 0.2]),
        *rows("rr", 3, "optimal", [1, 2, 4], [1.0, 1.0, 1.1], [0.1, 0.1, 0.1]),
    )
    duel = greedy_against_optimal(frame).set_index(["policy", "devices"])
    assert bool(duel.loc[("sjf", 2), "same_vector"]) and not duel.loc[("sjf", 2), "optimal_best"]
    assert not duel.loc[("rr", 2), "same_vector"] and duel.loc[("rr", 2), "optimal_best"]
    assert duel.loc[("rr", 2), "optimal_s"] < duel.loc[("rr", 2), "greedy_s"]
    assert not duel.loc[("rr", 2), "within_spread"]
    assert duel.loc[("rr", 3), "greedy_s"] < duel.loc[("rr", 3), "optimal_s"]
    assert duel.loc[("rr", 3), "within_spread"] and not duel.loc[("rr", 3), "optimal_best"]


def test_candidate_vectors_are_seeded_feasible_distinct_and_the_same_for_both_policies():
    import dataclasses

    from dnnsplit import paper_scenario
    from dnnsplit.testbed.experiment import VECTORS, candidate_vectors

    vectors = {}
    for policy in ("sjf", "rr"):
        scenario = paper_scenario(4, 2, policy=policy)
        vectors[policy] = candidate_vectors(scenario, seed=2, random=6)
        randoms = [v for name, v in vectors[policy].items() if name.startswith("random-")]
        assert list(vectors[policy])[:4] == list(VECTORS) and len(randoms) == 6
        assert len(set(randoms) | {vectors[policy][n] for n in VECTORS}) == len(randoms) + len(
            set(vectors[policy][n] for n in VECTORS)
        )
        for vector in randoms:
            assert all(d.min_stage <= p <= d.max_stage
                       for d, p in zip(scenario.devices, vector, strict=True))  # fmt: skip
    assert [v for k, v in vectors["sjf"].items() if k.startswith("random")] == [
        v for k, v in vectors["rr"].items() if k.startswith("random")
    ]
    assert candidate_vectors(scenario, seed=2, random=6) == vectors["rr"]
    one = paper_scenario(1, 0, max_stage=(2, 2))  # three points: fewer random ones than asked
    assert len(candidate_vectors(one, seed=0, named=("greedy",), random=6)) <= 3
    # the testbed sets the devices' measured speeds through Scenario.with_devices
    slower = scenario.with_devices([dataclasses.replace(d, speed=0.5) for d in scenario.devices])
    assert [d.speed for d in slower.devices] == [0.5] * 4 and slower.meta == scenario.meta
    with pytest.raises(InputError, match="devices"):
        scenario.with_devices([])


def test_the_quota_is_stated_as_calibrated_where_the_measurement_records_it():
    from dnnsplit.paper.testbed import _quota_words

    assert _quota_words({"fraction_nominal": 0.072}) == "7.2 % of a core"
    words = _quota_words({"fraction_nominal": 0.072, "fractions": [0.077, 0.084, 0.08]})
    assert words == "7.7–8.4 % of a core (calibrated per device; nominal 7.2 %)"
