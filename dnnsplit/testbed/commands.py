"""The testbed's three subcommands of ``dnnsplit``: ``serve``, ``device`` and ``testbed``.

:func:`add_commands` registers them on the main parser; each sets ``handler``, which
:func:`dnnsplit.cli.main` calls and whose return value is the exit status. Bad input is an
:class:`~dnnsplit.errors.InputError` (exit 2, one line naming the flag), as everywhere in
the command line.

- ``serve`` prints one JSON line when it listens (``host``, ``port``, ...), serves until
  SIGINT or SIGTERM, then prints one JSON line (requests served and refused) and exits 0.
- ``device`` writes one CSV row per request (header first) to ``--out`` (appended) or
  stdout; exit 0 once every request is answered, 1 if the BS refused or dropped it.
- ``testbed`` writes its CSV (whole, or not at all) and prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from dnnsplit._checks import number
from dnnsplit.errors import InputError
from dnnsplit.profiler import import_torch

__all__ = ["add_commands"]

MAX_PORT = 65535
MAX_DEVICE_ID = 65535


def add_commands(commands: Any) -> None:
    """Register ``serve``, ``device`` and ``testbed`` on the subparsers ``commands``."""
    from dnnsplit.testbed.experiment import VECTORS
    from dnnsplit.testbed.server import SERVER_POLICIES

    se = commands.add_parser("serve", help="the BS: run offloaded stages (needs torch)")
    se.add_argument("--port", type=int, required=True, help="TCP port (0: any free one)")
    se.add_argument("--host", default="127.0.0.1", help="address to listen on")
    se.add_argument("--policy", choices=SERVER_POLICIES, default="sjf")
    se.add_argument("--network", default="alexnet")
    se.add_argument("--token", default=None, help="shared token (or $DNNSPLIT_TOKEN)")
    se.add_argument("--bs-profile", default=None, help="measured BS profile (SJF's work)")
    se.add_argument("--threads", type=int, default=1)
    se.add_argument("--seed", type=int, default=0, help="weights' seed (the devices' too)")
    se.add_argument("--max-queue", type=int, default=64)
    se.add_argument("--timeout", type=float, default=30.0, help="seconds for one frame")
    se.add_argument("--idle-timeout", type=float, default=600.0)
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
    de.add_argument("--token", default=None, help="shared token (or $DNNSPLIT_TOKEN)")
    de.add_argument("--seed", type=int, default=0)
    de.add_argument("--threads", type=int, default=1)
    de.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a reply")
    de.add_argument("--rate-mbps", type=float, default=None, help="pace the upload (Mbit/s)")
    de.add_argument("--cpu", type=int, default=None, help="core for it and its background")
    de.set_defaults(handler=_device)

    tb = commands.add_parser("testbed", help="N emulated devices and a BS on this host (root)")
    tb.add_argument("--devices", required=True, help="N, or several: 1-8 or 1,2,4")
    tb.add_argument("--policy", default="sjf", help="sjf, rr or sjf,rr")
    tb.add_argument("--repeats", type=int, default=3)
    tb.add_argument("--out", default=None, help="CSV to write (default stdout)")
    tb.add_argument("--vectors", default=",".join(VECTORS))
    tb.add_argument("--objective", default="total", choices=("total", "variance"))
    tb.add_argument("--network", default="alexnet")
    tb.add_argument("--target", default="alexnet-pi3b-estimated", help="profile to emulate")
    tb.add_argument("--fraction", type=float, default=None, help="CPU quota per device")
    tb.add_argument("--seed", type=int, default=0)
    tb.add_argument("--shaping", default="auto", choices=("auto", "tc", "pacing"))
    tb.add_argument("--profile-repeats", type=int, default=4, help="rounds per device")
    tb.add_argument("--host-repeats", type=int, default=15, help="rounds for the BS profile")
    tb.add_argument("--calibration-rounds", type=int, default=1)
    tb.add_argument("--work", default=None, help="folder for the measured profiles and logs")
    tb.set_defaults(handler=_testbed)


def _say(command: str, message: str) -> None:
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


def _token(args: argparse.Namespace) -> str | None:
    return args.token or os.environ.get("DNNSPLIT_TOKEN") or None


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from dnnsplit.chains import get_chain
    from dnnsplit.testbed.server import BSServer, serve_until_signalled
    from dnnsplit.testbed.stages import TorchStages, stage_times_from_profile

    port = number(args.port, "--port", minimum=0, maximum=MAX_PORT, whole=True)
    number(args.threads, "--threads", minimum=1, maximum=1024, whole=True)
    number(args.max_queue, "--max-queue", minimum=1, maximum=1_000_000, whole=True)
    number(args.timeout, "--timeout", positive=True, maximum=86_400)
    number(args.idle_timeout, "--idle-timeout", positive=True, maximum=86_400 * 365)
    chain = get_chain(args.network)
    import_torch("serve")
    if args.cpu is not None:
        _pin(args.cpu)
    bs_profile = None
    if args.bs_profile is not None:
        from dnnsplit.profiles import load_profile

        bs_profile = load_profile(args.bs_profile)
    runner = TorchStages(chain, seed=args.seed, threads=args.threads)
    if bs_profile is not None:
        times = list(stage_times_from_profile(bs_profile, chain))
    else:
        times = [float(t) for t in runner.time_alone()]
    token = _token(args)
    server = BSServer(
        chain,
        runner,
        times,
        policy=args.policy,
        token=token,
        max_queue=args.max_queue,
        timeout_s=args.timeout,
        idle_timeout_s=args.idle_timeout,
    )
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="dnnsplit serve: %(message)s")

    def announce(host: str, bound: int) -> None:
        line = {
            "host": host,
            "port": bound,
            "policy": args.policy,
            "network": chain.name,
            "stage_times_s": times,
            "stage_times_from": args.bs_profile or "timed at start",
            "token": token is not None,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    try:
        asyncio.run(serve_until_signalled(server, args.host, port, announce=announce))
    except OSError as error:
        raise InputError(
            "--port", f"cannot listen on {args.host}:{port}: {error.strerror}"
        ) from None
    sys.stdout.write(json.dumps({"served": server.served, "refused": len(server.refused)}) + "\n")
    sys.stdout.flush()
    return 0


def _pin(cpu: int) -> set[int]:
    allowed = os.sched_getaffinity(0)
    if cpu not in allowed:
        raise InputError("--cpu", f"core {cpu} is not one of {sorted(allowed)}")
    os.sched_setaffinity(0, {cpu})
    return {cpu}


def _device(args: argparse.Namespace) -> int:
    from dnnsplit.chains import get_chain
    from dnnsplit.testbed.device import ROW_COLUMNS, DeviceClient, Refused, background_processes

    host, port = _address(args.server)
    chain = get_chain(args.network)
    n_stages = len(chain.stages)
    point = number(args.partition, "--partition", minimum=0, maximum=n_stages, whole=True)
    number(args.device_id, "--device-id", minimum=0, maximum=MAX_DEVICE_ID, whole=True)
    requests = number(args.requests, "--requests", minimum=1, maximum=10**6, whole=True)
    background = number(args.background, "--background", minimum=0, maximum=64, whole=True)
    number(args.threads, "--threads", minimum=1, maximum=1024, whole=True)
    number(args.timeout, "--timeout", positive=True, maximum=86_400)
    rate = None
    if args.rate_mbps is not None:
        rate = number(args.rate_mbps, "--rate-mbps", positive=True, maximum=1e6) * 1e6
    out = _writable(args.out) if args.out is not None else None
    import_torch("device")
    cpus = None
    if args.cpu is not None or background:
        cpus = _pin(args.cpu if args.cpu is not None else min(os.sched_getaffinity(0)))
    client = DeviceClient(
        chain,
        device_id=args.device_id,
        seed=args.seed,
        threads=args.threads,
        token=_token(args),
        timeout_s=args.timeout,
        rate_bps=rate,
    )
    header = ",".join(ROW_COLUMNS) + "\n"
    if out is None:
        sys.stdout.write(header)
    elif not out.exists() or out.stat().st_size == 0:
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(header)
    try:
        with background_processes(background, cpus):
            if point < n_stages:
                client.connect(host, port)
            for _ in range(requests):
                line = client.request(point).csv_line()
                if out is None:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    with open(out, "a", encoding="utf-8") as handle:
                        handle.write(line)
    except Refused as error:
        _say("device", str(error))
        return 1
    finally:
        client.close()
    return 0


def _devices(text: str) -> tuple[int, ...]:
    values: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            first, last = int(low), int(high) if high else int(low)
            if last < first or last - first > 1000:
                raise ValueError
            values += range(first, last + 1)
    except ValueError:
        raise InputError("--devices", f"{text[:60]!r} is not N, LOW-HIGH or a list") from None
    return tuple(values)


def _testbed(args: argparse.Namespace) -> int:
    import tempfile

    from dnnsplit._io import atomic_write
    from dnnsplit.testbed.experiment import TestbedConfig, run_testbed, tidy_csv

    config = TestbedConfig(
        devices=_devices(args.devices),
        policies=tuple(p.strip() for p in args.policy.split(",")),
        repeats=args.repeats,
        vectors=tuple(v.strip() for v in args.vectors.split(",")),
        objective=args.objective,
        network=args.network,
        target=args.target,
        fraction=args.fraction,
        seed=number(args.seed, "--seed", minimum=0, maximum=2**63 - 1, whole=True),
        shaping=args.shaping,
        profile_repeats=args.profile_repeats,
        host_repeats=args.host_repeats,
        calibration_rounds=args.calibration_rounds,
    )
    out = _writable(args.out) if args.out is not None else None
    with tempfile.TemporaryDirectory(prefix="dnnsplit-testbed-") as scratch:
        work = Path(args.work) if args.work else Path(scratch)
        rows, provenance = run_testbed(config, work, say=lambda m: _say("testbed", m))
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
            model: float(rows[f"error_{model}"].abs().median())
            for model in ("snapshot", "timeline")
        },
    }
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0
