"""One emulated device of ``dnnsplit testbed``, driven line by line over stdin/stdout.

The testbed starts one agent per device (``python -m dnnsplit.testbed.agent``), waits for
``{"ready": ...}`` (the network is built at full speed, before the agent joins its
cgroup), then sends one JSON command per line and reads one JSON answer per line:

- ``{"cmd": "connect", "host": H, "port": P}``: open the connection to the BS;
- ``{"cmd": "calibrate", "runs": K}``: time K whole inferences here (seconds);
- ``{"cmd": "profile", "repeats": R, "warmup": W}``: the profiler's stage times, measured
  in this process (so inside its cgroup);
- ``{"cmd": "run", "point": p, "rate_bps": W or null, "settle_s": s}``: spin ``s``
  seconds (untimed, see :data:`dnnsplit.testbed.experiment.SETTLE_PERIODS`), then one
  request; its row.

An error answers ``{"error": "..."}``; end of input ends the agent. The same code as
``dnnsplit device`` (:class:`~dnnsplit.testbed.device.DeviceClient`) makes each request.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from typing import Any

from dnnsplit.chains import get_chain
from dnnsplit.testbed.device import DeviceClient, Refused

__all__ = ["main"]


def _answer(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def _command(client: DeviceClient, command: dict[str, Any]) -> dict[str, Any]:
    name = command.get("cmd")
    if name == "connect":
        client.connect(str(command["host"]), int(command["port"]))
        return {"ok": True}
    if name == "calibrate":
        totals = []
        client.stages.run_range(0, client.stages.n_stages, client.input)  # untimed
        for _ in range(int(command["runs"])):
            began = time.perf_counter()
            client.stages.run_range(0, client.stages.n_stages, client.input)
            totals.append(time.perf_counter() - began)
        return {"totals_s": totals}
    if name == "profile":
        from dnnsplit.profiler import measure_chain

        profile = measure_chain(
            client.chain,
            threads=1,
            repeats=int(command["repeats"]),
            warmup=int(command["warmup"]),
            progress=False,
        )
        extra = profile.extra
        assert extra is not None
        return {
            "time_s": [float(t) for t in profile.time_s],
            "iqr_s": [float(t) for t in extra["iqr_s"]],
            "alone_s": [float(t) for t in extra["alone_s"]],
        }
    if name == "run":
        client.rate_bps = command.get("rate_bps")
        settled = time.perf_counter() + float(command.get("settle_s") or 0.0)
        while time.perf_counter() < settled:
            pass
        return asdict(client.request(int(command["point"])))
    return {"error": f"unknown command {name!r}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dnnsplit.testbed.agent")
    parser.add_argument("--network", default="alexnet")
    parser.add_argument("--device-id", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    client = DeviceClient(get_chain(args.network), device_id=args.device_id, seed=args.seed)
    client.stages.run_range(0, client.stages.n_stages, client.input)  # warm up
    _answer({"ready": True, "device": args.device_id})
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                _answer(_command(client, json.loads(line)))
            except (Refused, OSError, ValueError, KeyError) as error:
                _answer({"error": str(error)})
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
