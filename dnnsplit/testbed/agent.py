"""One emulated device of ``dnnsplit testbed``, driven line by line over stdin/stdout.

The testbed starts one agent per device (``python -m dnnsplit.testbed.agent``), and one
on the BS's core to measure the BS's profile, each already in its cgroup (without a quota
until the agent is ready); it waits for ``{"ready": ...}`` (the network is built), then
sends one JSON command per line and reads one JSON answer per line:

- ``{"cmd": "connect", "host": H, "port": P}``: open the connection to the BS;
- ``{"cmd": "calibrate", "runs": K}``: time K whole inferences here (seconds);
- ``{"cmd": "profile", "repeats": R, "warmup": W}``: the profiler's stage times, measured
  in this process (so inside its cgroup), and the framework that ran them;
- ``{"cmd": "run", "point": p, "rate_bps": W or null, "settle_s": s}``: spin ``s``
  seconds (untimed, see :data:`dnnsplit.testbed.experiment.SETTLE_PERIODS`), then one
  request; its row.

An error answers ``{"error": "..."}``; end of input ends the agent. The same code as
``dnnsplit device`` (:class:`~dnnsplit.testbed.device.DeviceClient`) makes each request.
The testbed's side of the protocol is :class:`Agent` and :func:`ask`.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dnnsplit.chains import get_chain
from dnnsplit.errors import TestbedError
from dnnsplit.profiler import measure_chain
from dnnsplit.testbed.device import DeviceClient, Refused
from dnnsplit.testbed.emulation import Emulation

__all__ = ["ANSWER_TIMEOUT_S", "TOKEN_VARIABLE", "Agent", "ask", "main"]

#: Seconds to wait for one answer (a profile of a slow device takes about a minute).
ANSWER_TIMEOUT_S = 600.0
#: Where an agent finds the BS's token (as ``dnnsplit device`` does): the environment, so
#: that it never shows in a process list.
TOKEN_VARIABLE = "DNNSPLIT_TOKEN"


class Agent:
    """The testbed's end of one agent: its process and its line protocol. ``name`` (e.g.
    ``device 3``) says which agent in an error."""

    def __init__(self, process: subprocess.Popen[str], name: str) -> None:
        self.process, self.name = process, name

    @classmethod
    def start(
        cls, emulation: Emulation, name: str, *, network: str, device_id: int, cgroup: Path,
        core: int, namespace: str | None, log: Path, token: str | None = None,
    ) -> Agent:  # fmt: skip
        """Start an agent in ``cgroup`` pinned to ``core`` (in ``namespace``, with the BS's
        ``token``), its stderr appended to ``log``; :meth:`receive` then waits for it to be
        ready."""
        command = [sys.executable, "-m", "dnnsplit.testbed.agent", "--network", network,
                   "--device-id", str(device_id)]  # fmt: skip
        process = emulation.spawn(
            command, namespace=namespace, cpus={core}, cgroup=cgroup, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, log=log, text=True, env={TOKEN_VARIABLE: token or ""},
        )  # fmt: skip
        return cls(process, name)

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise TestbedError(self.name, f"stopped (exit status {self.process.poll()})") from None

    def receive(self, timeout_s: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
        """The next answer; a :class:`TestbedError` naming the agent if it stopped, gave no
        answer within ``timeout_s``, or answered an error."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            code = self.process.poll()
            state = f"no answer within {timeout_s:.0f} s" if code is None else "stopped"
            raise TestbedError(self.name, f"{state} (exit status {code}); its log has more")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise TestbedError(self.name, str(answer["error"]))
        return answer


def ask(agents: Sequence[Agent], command: dict[str, Any] | Sequence[dict[str, Any]]) -> list:
    """Send a command to every agent at once (one each, or the same), then collect."""
    commands = [command] * len(agents) if isinstance(command, dict) else list(command)
    for agent, one in zip(agents, commands, strict=True):
        agent.send(one)
    return [agent.receive() for agent in agents]


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
        profile = measure_chain(client.chain, threads=1, repeats=int(command["repeats"]),
                                warmup=int(command["warmup"]), progress=False)  # fmt: skip
        return {"time_s": profile.time_s.tolist(), "framework": profile.provenance["framework"]}
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
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_VARIABLE) or None
    client = DeviceClient(get_chain(args.network), device_id=args.device_id, token=token)
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
