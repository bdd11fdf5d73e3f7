"""Emulated devices on one host: CPU cgroups, network namespaces, shaped links, and the
promise that all of it is removed again.

A device is emulated by a process (and its background processes) in its own cgroup of the
v1 ``cpu`` controller, whose CFS quota lets it use a fraction ``f`` of one core
(``cpu.cfs_quota_us = f · cpu.cfs_period_us``): a device ``1/f`` times slower than this
host. Its uplink is a veth pair from its own network namespace to the BS's namespace,
shaped on the device side with ``tc qdisc tbf`` (egress = uplink). Devices are pinned to
one core and the BS to the other, so the quotas of all devices together must fit one core.

:class:`Emulation` creates each of these and removes them in reverse order when its
``with`` block ends: normally, on an exception, and on Ctrl-C or SIGTERM (which
:func:`signals_raise` turns into :class:`KeyboardInterrupt`). Children also get
``PR_SET_PDEATHSIG``, so they die with the process that made them even if it is killed
outright; :func:`remove_stale` removes the cgroups and namespaces of runs whose process is
gone. Every name carries ``dnnsplit-tb-<pid>``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dnnsplit import profiler
from dnnsplit.errors import InputError

__all__ = [
    "CGROUP_CPU",
    "PREFIX",
    "Emulation",
    "capabilities",
    "leftovers",
    "remove_stale",
    "signals_raise",
    "tbf_rate_bps",
]

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
PREFIX = "dnnsplit-tb-"
#: The kernel's smallest CFS quota (1 ms).
MIN_QUOTA_US = 1000
#: CFS weight of the testbed's cgroups (a process of its own has 1024): on a shared host
#: the emulated devices and the BS get their share first; the quotas still cap them.
SHARES = 16 * 1024
#: TCP payload per Ethernet frame on the wire: 1448 bytes (MSS with timestamps) in 1514.
WIRE_OVERHEAD = 1514 / 1448


def tbf_rate_bps(goodput_bps: float) -> float:
    """The link rate that gives a TCP goodput of ``goodput_bps`` (the model's ``W_i`` is a
    goodput, docs/model.md "Channel"): tbf counts whole Ethernet frames."""
    return goodput_bps * WIRE_OVERHEAD


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/sbin"):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def capabilities() -> dict[str, Any]:
    """What this host lets the testbed do: root, cgroup v1 ``cpu`` with CFS quotas,
    ``ip``/``tc`` for namespaces, PyTorch, at least two cores; ``missing`` lists what is
    absent, in words."""
    root = os.geteuid() == 0
    cgroup = (CGROUP_CPU / "cpu.cfs_quota_us").exists() and os.access(CGROUP_CPU, os.W_OK)
    ip, tc = _tool("ip"), _tool("tc")
    has_torch = profiler.has_torch()
    cpus = len(os.sched_getaffinity(0))
    missing = []
    if not root:
        missing.append("root (cgroups and namespaces need it)")
    if not cgroup:
        missing.append(f"a writable cgroup v1 cpu controller at {CGROUP_CPU}")
    if not has_torch:
        missing.append("PyTorch (pip install -e '.[profile]')")
    if cpus < 2:
        missing.append(f"two cores (this process may use {cpus})")
    return {
        "root": root,
        "cgroup": cgroup,
        "netns": bool(root and ip and tc),
        "torch": has_torch,
        "cpus": cpus,
        "missing": missing,
        "ip": ip,
        "tc": tc,
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespaces() -> list[str]:
    ip = _tool("ip")
    if ip is None:
        return []
    out = subprocess.run([ip, "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def _run_of(name: str) -> int | None:
    """The pid in ``dnnsplit-tb-<pid>[-...]``, or None for another name."""
    if not name.startswith(PREFIX):
        return None
    digits = name[len(PREFIX) :].split("-")[0]
    return int(digits) if digits.isdigit() else None


def leftovers(pid: int | None = None) -> dict[str, list[str]]:
    """Cgroups, namespaces and processes of testbed runs still present (of run ``pid``
    only, when given): what a test asserts is empty after a run ends."""
    found: dict[str, list[str]] = {"cgroups": [], "namespaces": [], "processes": []}
    mine = (lambda n: _run_of(n) is not None) if pid is None else (lambda n: _run_of(n) == pid)
    if CGROUP_CPU.is_dir():
        found["cgroups"] = sorted(p.name for p in CGROUP_CPU.iterdir() if mine(p.name))
    found["namespaces"] = sorted(n for n in _namespaces() if mine(n))
    marker = f"{PREFIX}{pid}" if pid is not None else PREFIX
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            environ = (proc / "environ").read_bytes()
            if f"DNNSPLIT_TESTBED_RUN={marker}".encode() in environ:
                found["processes"].append(proc.name)
    return found


def _remove_cgroup(path: Path, timeout_s: float = 5.0) -> None:
    """Kill what is left in the cgroup ``path`` (and its children), then remove it."""
    if not path.exists():
        return
    for child in sorted(path.iterdir()):
        if child.is_dir():
            _remove_cgroup(child, timeout_s)
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError):
            for line in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    os.kill(int(line), signal.SIGKILL)
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _delete_namespace(name: str) -> None:
    ip = _tool("ip")
    if ip is not None:
        subprocess.run([ip, "netns", "delete", name], capture_output=True, check=False)


def remove_stale() -> list[str]:
    """Remove the cgroups and namespaces of testbed runs whose process has ended."""
    removed = []
    for name in _namespaces():
        pid = _run_of(name)
        if pid is not None and not _pid_alive(pid):
            _delete_namespace(name)
            removed.append(name)
    if CGROUP_CPU.is_dir():
        for path in CGROUP_CPU.iterdir():
            pid = _run_of(path.name)
            if pid is not None and not _pid_alive(pid):
                with contextlib.suppress(OSError):
                    _remove_cgroup(path)
                    removed.append(path.name)
    return removed


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM (like SIGINT) raises :class:`KeyboardInterrupt`, so that
    every ``finally`` and ``with`` runs its clean-up."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _child_setup(cpus: set[int] | None) -> Callable[[], None]:
    def setup() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return setup


def _close_pipes(process: subprocess.Popen[Any]) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class Emulation:
    """The cgroups, namespaces, links and processes of one testbed run (a context manager
    that removes them all on exit; see the module docstring)."""

    def __init__(self, *, period_us: int = 25_000) -> None:
        caps = capabilities()
        if not caps["root"] or not caps["cgroup"]:
            raise InputError("testbed", "needs " + "; ".join(caps["missing"]))
        self.caps = caps
        self.run = f"{PREFIX}{os.getpid()}"
        self.period_us = int(period_us)
        self.root = CGROUP_CPU / self.run
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self.processes: list[subprocess.Popen[Any]] = []
        self.namespaces: list[str] = []

    # -- context -----------------------------------------------------------------------

    def __enter__(self) -> Emulation:
        remove_stale()
        self.root.mkdir()
        self._undo.append(("cgroup", lambda: _remove_cgroup(self.root)))
        (self.root / "cpu.shares").write_text(str(SHARES))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove everything, in reverse order of creation; signals wait until done."""
        blocked = {signal.SIGINT, signal.SIGTERM}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            for process in self.processes:
                with contextlib.suppress(OSError):
                    process.terminate()
            deadline = time.monotonic() + 3.0
            for process in self.processes:
                try:
                    process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                _close_pipes(process)
            self.processes.clear()
            errors = []
            while self._undo:
                what, undo = self._undo.pop()
                try:
                    undo()
                except Exception as error:  # go on removing the rest, report after
                    errors.append(f"{what}: {error}")
            if errors:
                raise RuntimeError("testbed clean-up incomplete: " + "; ".join(errors))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    # -- cgroups -----------------------------------------------------------------------

    def cgroup(self, name: str, fraction: float | None) -> Path:
        """A cgroup limited to ``fraction`` of one core (CFS quota over the period; None:
        no limit), weighted :data:`SHARES` against the host's other processes."""
        path = self.root / name
        path.mkdir()
        (path / "cpu.shares").write_text(str(SHARES))
        if fraction is not None:
            self.set_quota(path, fraction)
        return path

    def set_quota(self, path: Path, fraction: float) -> int:
        """Set ``path``'s quota to ``fraction`` of one core; returns the quota in µs."""
        quota = max(MIN_QUOTA_US, round(fraction * self.period_us))
        (path / "cpu.cfs_period_us").write_text(str(self.period_us))
        (path / "cpu.cfs_quota_us").write_text(str(quota))
        return quota

    @staticmethod
    def move(pid: int, path: Path) -> None:
        """Move process ``pid`` (all its threads) into cgroup ``path``."""
        (path / "cgroup.procs").write_text(str(pid))

    # -- namespaces and links ----------------------------------------------------------

    def _ip(self, *args: str) -> None:
        ip = self.caps["ip"]
        done = subprocess.run([ip, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")

    def namespace(self, suffix: str) -> str:
        """A new network namespace ``dnnsplit-tb-<pid>-<suffix>`` with its loopback up."""
        name = f"{self.run}-{suffix}"
        self._ip("netns", "add", name)
        self._undo.append(("namespace", lambda: _delete_namespace(name)))
        self.namespaces.append(name)
        self._ip("-n", name, "link", "set", "lo", "up")
        return name

    def link(self, device_ns: str, bs_ns: str, index: int) -> tuple[str, str]:
        """A veth pair between ``device_ns`` (``uplink``) and ``bs_ns`` (``dev<index>``);
        returns (device address, BS address). Deleting a namespace deletes its ends."""
        bs_end = f"dev{index}"
        self._ip("-n", device_ns, "link", "add", "uplink", "type", "veth",
                 "peer", "name", bs_end, "netns", bs_ns)  # fmt: skip
        device_ip, bs_ip = f"10.213.{index + 1}.2", f"10.213.{index + 1}.1"
        self._ip("-n", device_ns, "addr", "add", f"{device_ip}/24", "dev", "uplink")
        self._ip("-n", bs_ns, "addr", "add", f"{bs_ip}/24", "dev", bs_end)
        self._ip("-n", device_ns, "link", "set", "uplink", "up")
        self._ip("-n", bs_ns, "link", "set", bs_end, "up")
        return device_ip, bs_ip

    def shape(self, namespace: str, rate_bps: float, interface: str = "uplink") -> None:
        """Shape ``interface``'s egress in ``namespace`` to a TCP goodput of ``rate_bps``
        (tbf, with a burst of one millisecond's bytes, at least two frames)."""
        tc = self.caps["tc"]
        wire = tbf_rate_bps(rate_bps)
        burst = max(2 * 1514, round(wire / 8 * 1e-3))
        command = [tc, "-n", namespace, "qdisc", "replace", "dev", interface, "root", "tbf",
                   "rate", f"{round(wire)}bit", "burst", str(burst), "latency", "2s"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"tc: {done.stderr.strip()}")

    # -- processes ---------------------------------------------------------------------

    def spawn(
        self,
        argv: Sequence[str],
        *,
        namespace: str | None = None,
        cpus: set[int] | None = None,
        cgroup: Path | None = None,
        log: Path | None = None,
        **popen: Any,
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` (in ``namespace``, pinned to ``cpus``, in ``cgroup``, its stderr
        appended to ``log``); it is ended when the emulation closes, and dies with this
        process."""
        command = list(argv)
        if namespace is not None:
            command = [self.caps["ip"], "netns", "exec", namespace, *command]
        env = {**os.environ, "DNNSPLIT_TESTBED_RUN": self.run, **popen.pop("env", {})}
        with contextlib.ExitStack() as files:
            if log is not None:  # the child keeps its own copy of the descriptor
                popen["stderr"] = files.enter_context(open(log, "ab"))
            process = subprocess.Popen(command, env=env, preexec_fn=_child_setup(cpus), **popen)
        self.processes.append(process)
        if cgroup is not None:
            self.move(process.pid, cgroup)
        return process

    def end(self, process: subprocess.Popen[Any]) -> None:
        """End one process now (SIGKILL; a busy loop has nothing to save)."""
        with contextlib.suppress(OSError):
            process.kill()
        process.wait()
        _close_pipes(process)
        if process in self.processes:
            self.processes.remove(process)
