"""The testbed's three subcommands of ``dnnsplit``: ``serve``, ``device`` and ``testbed``.

:func:`add_commands` registers them; each sets ``handler``, whose return value is the exit
status. The library's checks name their parameters and :func:`flags` turns those names into
the flags they came from (exit 2, one line); a testbed that fails for a named cause (a
:class:`~dnnsplit.errors.TestbedError`) is one line and exit 1. ``serve`` prints one JSON
line when it listens and one (requests served and refused) when SIGINT or SIGTERM stops it;
``device`` writes one CSV row per request; ``testbed`` writes its CSV whole, or not at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from dnnsplit._checks import number
from dnnsplit._io import atomic_write, require_stdout, write_stdout
from dnnsplit._params import check_all, metavar
from dnnsplit.chains import get_chain
from dnnsplit.errors import InputError, TestbedError
from dnnsplit.profiler import import_torch
from dnnsplit.profiles import load_profile
from dnnsplit.testbed.agent import TOKEN_VARIABLE
from dnnsplit.testbed.device import (
    DEVICE_FIELDS,
    ROW_COLUMNS,
    DeviceClient,
    background_processes,
    check_upload,
)
from dnnsplit.testbed.experiment import (
    INPUTS,
    MODELS,
    TESTBED_FIELDS,
    VECTORS,
    TestbedConfig,
    run_testbed,
    tidy_csv,
)
from dnnsplit.testbed.server import (
    SERVER_POLICIES,
    BSServer,
    ServerConfig,
    check_tensor_limit,
    open_listener,
    serve_until_signalled,
)
from dnnsplit.testbed.stages import TorchStages

__all__ = ["add_commands", "flags"]

MAX_PORT = 65535
MIB = 2**20
#: The limits of :class:`ServerConfig` that ``serve`` takes as flags (and announces).
SERVE_LIMITS = ("max_connections", "max_queue", "max_tensor_bytes", "hello_timeout_s",
                "idle_timeout_s", "timeout_s")  # fmt: skip
#: The parameters of the library calls behind ``serve`` (ServerConfig, open_listener).
SERVE_PARAMETERS = ("model", "host", "port", "policy", "token", "allow_no_token", *SERVE_LIMITS)
#: The parameters of :class:`~dnnsplit.testbed.device.DeviceClient` (``device``'s flags).
DEVICE_PARAMETERS = ("model", *DEVICE_FIELDS)
#: The flag of each parameter that is not ``--`` and its name dashed, less a unit ``_s``.
OTHER_FLAGS = {"model": "--network", "max_tensor_bytes": "--max-tensor-mib",
               "rate_bps": "--rate-mbps", "policies": "--policy", "work_dir": "--work"}  # fmt: skip


def _flag(name: str) -> str:
    return OTHER_FLAGS.get(name) or "--" + name.removesuffix("_s").replace("_", "-")


def add_commands(commands: Any) -> None:
    """Register ``serve``, ``device`` and ``testbed`` on the subparsers ``commands``."""
    limits = ServerConfig()
    se = commands.add_parser("serve", help="the BS: run offloaded stages (needs torch)")
    se.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    se.add_argument("--host", default="127.0.0.1", help="address to listen on")
    se.add_argument("--policy", metavar=metavar(SERVER_POLICIES), default=limits.policy)
    se.add_argument("--network", default="alexnet")
    se.add_argument("--token", default=None, help=f"shared token (or ${TOKEN_VARIABLE})")
    se.add_argument("--allow-no-token", action="store_true",
                    help="listen beyond loopback without a token (anyone who reaches it is "
                         "served)")  # fmt: skip
    se.add_argument("--bs-profile", default=None, help="measured BS profile (SJF's work)")
    se.add_argument("--threads", type=int, default=1)
    se.add_argument("--seed", type=int, default=0, help="weights' seed (the devices' too)")
    se.add_argument("--max-connections", type=int, default=limits.max_connections)
    se.add_argument("--max-queue", type=int, default=limits.max_queue)
    se.add_argument("--max-tensor-mib", type=float, default=limits.max_tensor_bytes / MIB,
                    help="MiB the requests' tensors may hold at once")  # fmt: skip
    se.add_argument("--hello-timeout", type=float, default=limits.hello_timeout_s,
                    help="seconds for a new connection's first header")  # fmt: skip
    se.add_argument("--idle-timeout", type=float, default=limits.idle_timeout_s,
                    help="seconds to wait for the next frame")  # fmt: skip
    se.add_argument("--timeout", type=float, default=limits.timeout_s, help="seconds for one frame")
    se.add_argument("--cpu", type=int, default=None, help="pin the BS to this core")
    se.set_defaults(handler=_serve)

    de = commands.add_parser("device", help="a device: run p stages, offload the rest")
    de.add_argument("--server", required=True, help="HOST:PORT of the BS")
    de.add_argument("--partition", type=int, required=True, help="p: stages run here")
    de.add_argument("--device-id", type=int, default=0)
    de.add_argument("--requests", type=int, default=1)
    de.add_argument("--background", type=int, default=0, help="busy processes on its core")
    de.add_argument("--out", default=None, help="CSV to append rows to (default stdout)")
    de.add_argument("--network", default="alexnet")
    de.add_argument("--token", default=None, help=f"shared token (or ${TOKEN_VARIABLE})")
    de.add_argument("--seed", type=int, default=0)
    de.add_argument("--threads", type=int, default=1)
    de.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a reply")
    de.add_argument("--rate-mbps", type=float, default=None, help="pace the upload (Mbit/s)")
    de.add_argument("--cpu", type=int, default=None, help="core for it and its background")
    de.set_defaults(handler=_device)

    tb = commands.add_parser("testbed", help="N emulated devices and a BS on this host (root)")
    tb.add_argument("--devices", default=None,
                    help="N, or several: 1-8 or 1,2,4 (default: 1,2,4,8 and the most that fit)")
    tb.add_argument("--seeds", default=None, help="scenario seeds: 0-4 or 0,3 (default 0-4)")
    tb.add_argument("--policy", default=None, help="sjf, rr or sjf,rr (default both)")
    tb.add_argument("--repeats", type=int, default=None, help="rounds per vector (default 3)")
    tb.add_argument("--out", default=None, help="CSV to write (default stdout)")
    tb.add_argument("--vectors", default=None, help=f"named vectors ({','.join(VECTORS)})")
    tb.add_argument("--random-vectors", type=int, default=None, help="random ones (default 6)")
    tb.add_argument("--objective", default=None, help="total or variance (default total)")
    tb.add_argument("--network", default=None, help="the DNN (default alexnet)")
    tb.add_argument("--target", default=None, help="profile to emulate (default: the Pi 3B+'s)")
    tb.add_argument("--fraction", type=float, default=None, help="CPU quota per device")
    tb.add_argument("--shaping", default=None, help="auto, tc or pacing (default auto)")
    tb.add_argument("--period-ms", type=float, default=None, help="CFS period (default 25)")
    tb.add_argument("--profile-repeats", type=int, default=None, help="rounds per device")
    tb.add_argument("--host-repeats", type=int, default=None, help="rounds for the BS profile")
    tb.add_argument("--calibration-rounds", type=int, default=None)
    tb.add_argument("--work", default=None, help="folder for the measured profiles and logs")
    tb.set_defaults(handler=_testbed)


@contextlib.contextmanager
def flags(names: Collection[str], token: str = "--token", text: bool = True) -> Iterator[None]:
    """Translate an :class:`InputError` of a library call into the flags it came from: its
    field when one of ``names`` (``devices[2]``: ``--devices``; ``token``: ``token``, the
    flag or variable it came by), and, with ``text``, the names of ``names`` its text
    mentions (``allow_no_token``)."""
    try:
        yield
    except InputError as error:
        def flag(name: str) -> str:
            return token if name == "token" else _flag(name)

        name, problem = error.field.split("[")[0], error.problem
        if text:  # a parameter's name is a word with an underscore
            problem = re.sub(r"\b[a-z]+(?:_[a-z]+)+\b",
                             lambda m: flag(m[0]) if m[0] in names else m[0], problem)  # fmt: skip
        raise type(error)(flag(name) if name in names else error.field, problem) from None


def _say(command: str, message: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(f"dnnsplit {command}: {message}\n")
        sys.stderr.flush()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= MAX_PORT:
        raise InputError("--server", f"{text[:60]!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _writable(out: str, flag: str = "--out") -> Path:
    path = Path(out)
    if not out.strip() or "\x00" in out or path.is_dir():
        raise InputError(flag, f"{out[:60]!r} is not a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise InputError(flag, f"cannot write in {str(parent)!r}")
    return path


def _token(args: argparse.Namespace) -> tuple[str | None, str]:
    """The token (``--token``, else the environment's) and the name it came by; an empty
    one is passed on, to be refused naming where it came from."""
    token = os.environ.get(TOKEN_VARIABLE) if args.token is None else args.token
    return token, f"${TOKEN_VARIABLE}" if args.token is None and token is not None else "--token"


def _serve(args: argparse.Namespace) -> int:
    token, source = _token(args)
    DEVICE_FIELDS["threads"].check(args.threads, "--threads")  # the BS's stages, as a device's
    mib = number(args.max_tensor_mib, "--max-tensor-mib", positive=True, maximum=2**20)
    with flags(SERVE_PARAMETERS, source):
        config = ServerConfig(
            policy=args.policy, token=token, allow_no_token=args.allow_no_token,
            max_connections=args.max_connections, max_queue=args.max_queue,
            max_tensor_bytes=max(int(mib * MIB), 1), hello_timeout_s=args.hello_timeout,
            idle_timeout_s=args.idle_timeout, timeout_s=args.timeout,
        )  # fmt: skip
    require_stdout()
    with flags(SERVE_PARAMETERS, source):
        chain = get_chain(args.network)
        check_tensor_limit(chain, config)
        listener = open_listener(args.host, args.port, config)
    try:
        import_torch("serve")
        if args.cpu is not None:
            _pin(args.cpu)
        bs_profile = None if args.bs_profile is None else load_profile(args.bs_profile)
        if bs_profile is not None and tuple(bs_profile.stage_names) != chain.stage_names:
            raise InputError(
                "--bs-profile",
                f"its stages {', '.join(bs_profile.stage_names)} are not {chain.name}'s "
                f"({', '.join(chain.stage_names)})",
            )
        runner = TorchStages(chain, seed=args.seed, threads=args.threads)
        timed = runner.time_alone() if bs_profile is None else bs_profile.time_s
        times = [float(t) for t in timed]
        with flags(SERVE_PARAMETERS, source):
            server = BSServer(chain, runner, times, config)
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="dnnsplit serve: %(message)s"
        )

        def announce(host: str, bound: int) -> None:
            line = {
                "host": host,
                "port": bound,
                "policy": config.policy,
                "network": chain.name,
                "stage_times_s": times,
                "stage_times_from": args.bs_profile or "timed at start",
                "token": token is not None,
                "limits": {name: getattr(config, name) for name in SERVE_LIMITS},
            }  # fmt: skip
            write_stdout(json.dumps(line) + "\n", "the address")

        asyncio.run(serve_until_signalled(server, listener, announce=announce))
    finally:
        listener.close()
    summary = {"served": server.served, "refused": server.refused_count}
    write_stdout(json.dumps(summary) + "\n", "the summary")
    return 0


def _pin(cpu: int) -> set[int]:
    allowed = os.sched_getaffinity(0)
    if cpu not in allowed:
        raise InputError("--cpu", f"core {cpu} is not one of {sorted(allowed)}")
    os.sched_setaffinity(0, {cpu})
    return {cpu}


def _device(args: argparse.Namespace) -> int:
    host, port = _address(args.server)
    with flags(DEVICE_PARAMETERS):
        chain = get_chain(args.network)
    n_stages = len(chain.stages)
    point = number(args.partition, "--partition", minimum=0, maximum=n_stages, whole=True)
    requests = number(args.requests, "--requests", minimum=1, maximum=10**6, whole=True)
    background = number(args.background, "--background", minimum=0, maximum=64, whole=True)
    rate = None
    if args.rate_mbps is not None:
        rate = number(args.rate_mbps, "--rate-mbps", positive=True, maximum=1e6) * 1e6
    token, source = _token(args)
    options = {"device_id": args.device_id, "seed": args.seed, "threads": args.threads,
               "token": token, "timeout_s": args.timeout, "rate_bps": rate}  # fmt: skip
    with flags(DEVICE_PARAMETERS, source):
        options = check_all(options, DEVICE_FIELDS)
        check_upload(chain, point, rate, options["timeout_s"])
    out = _writable(args.out) if args.out is not None else None
    if out is None:
        require_stdout()
    import_torch("device")
    cpus = None
    if args.cpu is not None or background:
        cpus = _pin(args.cpu if args.cpu is not None else min(os.sched_getaffinity(0)))
    client = DeviceClient(chain, **options)

    def write(line: str) -> None:
        if out is None:
            write_stdout(line, "the rows")
        else:
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(line)

    if out is None or not out.exists() or out.stat().st_size == 0:
        write(",".join(ROW_COLUMNS) + "\n")
    try:
        with background_processes(background, cpus):
            if point < n_stages:
                client.connect(host, port)
            for _ in range(requests):
                write(client.request(point).csv_line())
    except TestbedError as error:
        _say("device", str(error))
        return 1
    finally:
        client.close()
    return 0


def _numbers(text: str, flag: str) -> tuple[int, ...]:
    values: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            first, last = int(low), int(high) if high else int(low)
            if last < first or last - first > 1000:
                raise ValueError
            values += range(first, last + 1)
    except ValueError:
        raise InputError(flag, f"{text[:60]!r} is not N, LOW-HIGH or a list") from None
    return tuple(values)


def _testbed(args: argparse.Namespace) -> int:
    given = {name: getattr(args, _flag(name)[2:].replace("-", "_")) for name in TESTBED_FIELDS}
    for name in ("devices", "seeds"):
        if given[name] is not None:
            given[name] = _numbers(given[name], _flag(name))
    for name in ("policies", "vectors"):
        if given[name] is not None:
            given[name] = tuple(p.strip() for p in given[name].split(","))
    out = _writable(args.out) if args.out is not None else None
    try:
        with flags((*TESTBED_FIELDS, "work_dir"), text=False):
            config = TestbedConfig(**{k: v for k, v in given.items() if v is not None})
            with tempfile.TemporaryDirectory(prefix="dnnsplit-testbed-") as scratch:
                rows, provenance = run_testbed(
                    config, args.work or scratch, say=lambda m: _say("testbed", m)
                )
    except TestbedError as error:  # a part failed, or another run holds the host: one line
        _say("testbed", str(error))
        return 1
    text = tidy_csv(rows)
    if out is None:
        sys.stdout.write(text)
        return 0
    atomic_write(out, text)
    side = out.with_name(out.stem + ".provenance.json")
    atomic_write(side, json.dumps({"config": config.to_dict(), **provenance}, indent=2) + "\n")
    summary = {
        "out": str(out),
        "provenance": str(side),
        "rows": len(rows),
        "wall_s": provenance["wall_s"],
        "median_abs_error": {
            f"{inputs} {model}": float((rows[f"{inputs}_{model}_s"] / rows["measured_s"] - 1)
                                       .abs().median())
            for inputs in INPUTS
            for model in MODELS
        },
    }  # fmt: skip
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0
