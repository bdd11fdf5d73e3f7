"""Emulated devices on one host: CPU cgroups (v2 or v1, :func:`find_cgroups`), network
namespaces, links shaped with ``tc``, and the promise that all of it is removed again
(docs/testbed.md, "The emulation" has the rules).

A device is a process (and its background processes) in its own CPU cgroup whose CFS
quota lets it use a fraction ``f`` of one core. Every child starts through
:data:`LAUNCHER` and goes into its cgroup at once; :class:`Emulation` removes all it made
in reverse order when its ``with`` block ends, also on an exception, Ctrl-C or SIGTERM
(:func:`signals_raise`); :func:`remove_stale` removes what runs whose process is gone
left, and :func:`run_lock` lets one run at a time use the host's two cores. Every name
carries ``dnnsplit-tb-<pid>``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnnsplit import profiler
from dnnsplit.errors import InputError, TestbedError

__all__ = [
    "BUSY_LOOP",
    "LAUNCHER",
    "LOCK_PATH",
    "CpuCgroups",
    "Emulation",
    "capabilities",
    "find_cgroups",
    "launched",
    "leftovers",
    "remove_stale",
    "run_lock",
    "signals_raise",
]

PREFIX = "dnnsplit-tb-"
#: The kernel's smallest CFS quota (1 ms).
MIN_QUOTA_US = 1000
#: CFS weight of the testbed's cgroups, 16 times a default process's (v1 ``cpu.shares``
#: 1024, v2 ``cpu.weight`` 100): on a shared host the emulated devices and the BS get their
#: share first; the quotas still cap them.
SHARES_V1, WEIGHT_V2 = 16 * 1024, 16 * 100
#: TCP payload per Ethernet frame on the wire: 1448 bytes (MSS with timestamps) in 1514.
WIRE_OVERHEAD = 1514 / 1448
MOUNTS = Path("/proc/self/mounts")
LOCK_PATH = (
    Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
) / "dnnsplit-testbed.lock"
#: Run in each child as ``python -S -c LAUNCHER <run's pid> <cores> <command...>``: die with
#: the run (``prctl(PR_SET_PDEATHSIG, SIGKILL)``; give up if the run is already gone), pin
#: to the cores (a comma-separated list; empty: any), then become the command.
LAUNCHER = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None).prctl(1, 9)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "if sys.argv[2]:\n"
    "    os.sched_setaffinity(0, [int(c) for c in sys.argv[2].split(',')])\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n"
)
#: A background process: always busy.
BUSY_LOOP = (sys.executable, "-S", "-c", "while True: pass")


def launched(argv: Sequence[str], cpus: set[int] | None) -> list[str]:
    """``argv`` run through :data:`LAUNCHER`: dying with this process, pinned to ``cpus``
    (None: any core)."""
    cores = ",".join(str(c) for c in sorted(cpus or ()))
    return [sys.executable, "-S", "-c", LAUNCHER, str(os.getpid()), cores, *argv]


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


@dataclass(frozen=True)
class CpuCgroups:
    """The CPU controller of one cgroup hierarchy: its ``root`` (where it is mounted, v1:
    the ``cpu`` controller's mount; or a folder laid out as one) and ``version`` (2 or 1).
    """

    root: Path
    version: int

    def make(self, path: Path) -> None:
        """Create the cgroup ``path``, weighted :data:`SHARES_V1` / :data:`WEIGHT_V2`."""
        path.mkdir()
        if self.version == 2:
            (path / "cpu.weight").write_text(str(WEIGHT_V2))
        else:
            (path / "cpu.shares").write_text(str(SHARES_V1))

    def delegate(self, path: Path) -> None:
        """Give the children of cgroup ``path`` the ``cpu`` controller (v2:
        ``+cpu`` into its ``cgroup.subtree_control``; v1: every cgroup has it)."""
        if self.version == 2:
            (path / "cgroup.subtree_control").write_text("+cpu")

    def limit(self, path: Path, quota_us: int | None, period_us: int) -> None:
        """Cap cgroup ``path`` at ``quota_us`` of CPU time per ``period_us`` (None: no cap)."""
        if self.version == 2:
            quota = "max" if quota_us is None else str(quota_us)
            (path / "cpu.max").write_text(f"{quota} {period_us}")
        else:
            (path / "cpu.cfs_period_us").write_text(str(period_us))
            (path / "cpu.cfs_quota_us").write_text(str(-1 if quota_us is None else quota_us))

    @staticmethod
    def add(path: Path, pid: int) -> None:
        """Move process ``pid`` (all its threads) into cgroup ``path``."""
        (path / "cgroup.procs").write_text(str(pid))

    @staticmethod
    def pids(path: Path) -> list[int]:
        """The processes in cgroup ``path`` (none if it is gone)."""
        with contextlib.suppress(OSError):
            return [int(p) for p in (path / "cgroup.procs").read_text().split()]
        return []

    def remove(self, path: Path, timeout_s: float = 5.0) -> None:
        """Kill what is left in cgroup ``path`` and its children, then remove them (a
        cgroup file system refuses, ``EBUSY``, while processes remain; ``ENOTEMPTY`` comes
        from an ordinary folder laid out as one, whose files go first)."""
        if not path.is_dir():
            return
        for child in sorted(path.iterdir()):
            if child.is_dir():
                self.remove(child, timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:
            for pid in self.pids(path):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            try:
                path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as error:
                if error.errno == errno.ENOTEMPTY:
                    for entry in path.iterdir():
                        if entry.is_file():
                            entry.unlink()
                    continue
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def runs(self) -> list[Path]:
        """The testbed cgroups under the root (``dnnsplit-tb-*``)."""
        with contextlib.suppress(OSError):
            return sorted(p for p in self.root.iterdir() if p.name.startswith(PREFIX))
        return []


def find_cgroups(mounts: str | None = None) -> tuple[CpuCgroups | None, str]:
    """The cgroup hierarchy whose CPU controller the testbed uses, from the mount table
    (``/proc/self/mounts``, or its text ``mounts``): a read-write cgroup v2 listing ``cpu``
    in ``cgroup.controllers``, else a read-write v1 ``cpu`` controller, else None; and,
    when None, what the host lacks in words ("" otherwise)."""
    text = mounts if mounts is not None else MOUNTS.read_text()
    unified: list[Path] = []
    legacy: list[Path] = []
    read_only: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[2] not in ("cgroup", "cgroup2"):
            continue
        where, options = Path(parts[1]), parts[3].split(",")
        if parts[2] == "cgroup" and "cpu" not in options:
            continue
        if "ro" in options:
            read_only.append(str(where))
        elif parts[2] == "cgroup2":
            unified.append(where)
        else:
            legacy.append(where)
    for where in unified:
        with contextlib.suppress(OSError):
            if "cpu" in (where / "cgroup.controllers").read_text().split():
                return CpuCgroups(where, 2), ""
    for where in legacy:
        if (where / "cpu.cfs_quota_us").exists():
            return CpuCgroups(where, 1), ""
    words = (
        "a writable cgroup CPU controller (cgroup v2 listing cpu in cgroup.controllers, "
        "or v1's cpu)"
    )
    if unified:
        words += f"; the cgroup v2 hierarchy at {unified[0]} does not offer cpu"
    if read_only:
        words += f"; mounted read-only: {', '.join(read_only)}"
    return None, words


def capabilities() -> dict[str, Any]:
    """What this host lets the testbed do: root, a cgroup CPU controller (v2 or v1, see
    :func:`find_cgroups`), ``ip``/``tc`` for namespaces, PyTorch, at least two cores;
    ``missing`` lists what is absent, in words."""
    root = os.geteuid() == 0
    cgroups, no_cgroups = find_cgroups()
    ip, tc = _tool("ip"), _tool("tc")
    has_torch = profiler.has_torch()
    cpus = len(os.sched_getaffinity(0))
    missing = []
    if not root:
        missing.append("root (cgroups and namespaces need it)")
    if cgroups is None:
        missing.append(no_cgroups)
    if not has_torch:
        missing.append("PyTorch (pip install -e '.[profile]')")
    if cpus < 2:
        missing.append(f"two cores (this process may use {cpus})")
    return {
        "root": root,
        "cgroups": cgroups,
        "cgroup_version": cgroups.version if cgroups is not None else None,
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
    cgroups, _ = find_cgroups()
    if cgroups is not None:
        found["cgroups"] = [p.name for p in cgroups.runs() if mine(p.name)]
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


def _delete_namespace(name: str) -> None:
    ip = _tool("ip")
    if ip is not None:
        subprocess.run([ip, "netns", "delete", name], capture_output=True, check=False)


def remove_stale(cgroups: CpuCgroups | None = None) -> list[str]:
    """Remove the cgroups and namespaces of testbed runs whose process has ended."""
    removed = []
    for name in _namespaces():
        pid = _run_of(name)
        if pid is not None and not _pid_alive(pid):
            _delete_namespace(name)
            removed.append(name)
    cgroups = cgroups if cgroups is not None else find_cgroups()[0]
    if cgroups is None:
        return removed
    for path in cgroups.runs():
        pid = _run_of(path.name)
        if pid is not None and not _pid_alive(pid):
            with contextlib.suppress(OSError):
                cgroups.remove(path)
                removed.append(path.name)
    return removed


@contextlib.contextmanager
def run_lock(path: Path = LOCK_PATH) -> Iterator[None]:
    """Hold the host's testbed lock (``flock`` on ``path``) for the block: one run at a
    time, since two would share the BS's core and the devices' core and both measure
    wrong. A second run refuses at once with a :class:`TestbedError` naming the first;
    the kernel releases the lock when its holder ends, however it ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?"
            raise TestbedError(
                "testbed",
                f"another run (process {holder}) is using this host's cores; one run at a "
                f"time (lock {path})",
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock


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


def _close_pipes(process: subprocess.Popen[Any]) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class Emulation:
    """The cgroups, namespaces, links and processes of one testbed run (a context manager
    that removes them all on exit), every quota over a CFS period of ``period_us``, in the
    hierarchy ``cgroups`` (default: :func:`find_cgroups`'s choice)."""

    def __init__(self, *, period_us: int = 25_000, cgroups: CpuCgroups | None = None) -> None:
        if cgroups is None:
            cgroups, missing = find_cgroups()
            if cgroups is None:
                raise InputError("testbed", f"needs {missing}")
        self.cgroups = cgroups
        self.ip, self.tc = _tool("ip"), _tool("tc")
        self.run = f"{PREFIX}{os.getpid()}"
        self.period_us = int(period_us)
        self.root = cgroups.root / self.run
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self.processes: list[subprocess.Popen[Any]] = []

    def __enter__(self) -> Emulation:
        remove_stale(self.cgroups)
        self.cgroups.delegate(self.cgroups.root)
        self.cgroups.make(self.root)
        self._undo.append(("cgroup", lambda: self.cgroups.remove(self.root)))
        self.cgroups.delegate(self.root)
        return self

    def __exit__(self, *_: object) -> None:
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
                raise TestbedError("testbed clean-up", "incomplete: " + "; ".join(errors))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def cgroup(self, name: str, fraction: float | None = None) -> Path:
        """A cgroup of this run limited to ``fraction`` of one core (None: no limit yet),
        weighted against the host's other processes (:data:`SHARES_V1`)."""
        path = self.root / name
        self.cgroups.make(path)
        self.set_quota(path, fraction)
        return path

    def set_quota(self, path: Path, fraction: float | None) -> None:
        """Set ``path``'s quota to ``fraction`` of one core per CFS period (None: no limit)."""
        quota = None if fraction is None else max(MIN_QUOTA_US, round(fraction * self.period_us))
        self.cgroups.limit(path, quota, self.period_us)

    def _ip(self, *args: str) -> None:
        done = subprocess.run([self.ip or "ip", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise TestbedError("ip", f"ip {' '.join(args)} failed: {done.stderr.strip()}")

    def namespace(self, suffix: str) -> str:
        """A new network namespace ``dnnsplit-tb-<pid>-<suffix>`` with its loopback up."""
        name = f"{self.run}-{suffix}"
        self._ip("netns", "add", name)
        self._undo.append(("namespace", lambda: _delete_namespace(name)))
        self._ip("-n", name, "link", "set", "lo", "up")
        return name

    def link(self, device_ns: str, bs_ns: str, index: int) -> tuple[str, str]:
        """A veth pair between ``device_ns`` (``uplink``) and ``bs_ns`` (``dev<index>``);
        returns (device address, BS address). Deleting a namespace deletes its ends."""
        bs_end = f"dev{index}"
        self._ip("-n", device_ns, "link", "add", "uplink", "type", "veth", "peer", "name", bs_end,
                 "netns", bs_ns)  # fmt: skip
        device_ip, bs_ip = f"10.213.{index + 1}.2", f"10.213.{index + 1}.1"
        self._ip("-n", device_ns, "addr", "add", f"{device_ip}/24", "dev", "uplink")
        self._ip("-n", bs_ns, "addr", "add", f"{bs_ip}/24", "dev", bs_end)
        self._ip("-n", device_ns, "link", "set", "uplink", "up")
        self._ip("-n", bs_ns, "link", "set", bs_end, "up")
        return device_ip, bs_ip

    def shape(self, namespace: str, rate_bps: float, interface: str = "uplink") -> None:
        """Shape ``interface``'s egress in ``namespace`` to a TCP goodput of ``rate_bps``
        (the model's ``W_i``; tbf counts whole Ethernet frames: :data:`WIRE_OVERHEAD`),
        with a burst of one millisecond's bytes, at least two frames."""
        wire = rate_bps * WIRE_OVERHEAD
        burst = max(2 * 1514, round(wire / 8 * 1e-3))
        command = [self.tc or "tc", "-n", namespace, "qdisc", "replace", "dev", interface,
                   "root", "tbf", "rate", f"{round(wire)}bit", "burst", str(burst),
                   "latency", "2s"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise TestbedError("tc", f"shaping {namespace} failed: {done.stderr.strip()}")

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
        """Start ``argv`` through :data:`LAUNCHER` in a session of its own (in
        ``namespace``, pinned to ``cpus``, its stderr appended to ``log``) and move it into
        ``cgroup`` at once; it is ended when the emulation closes, and dies with this
        process."""
        if namespace is not None:
            argv = [self.ip or "ip", "netns", "exec", namespace, *argv]
        env = {**os.environ, "DNNSPLIT_TESTBED_RUN": self.run, **popen.pop("env", {})}
        with contextlib.ExitStack() as files:
            if log is not None:  # the child keeps its own copy of the descriptor
                popen["stderr"] = files.enter_context(open(log, "ab"))
            process = subprocess.Popen(
                launched(argv, cpus), env=env, start_new_session=True, **popen
            )
        self.processes.append(process)
        if cgroup is not None:
            self.cgroups.add(cgroup, process.pid)
        return process

    def end(self, process: subprocess.Popen[Any]) -> None:
        """End one process now (SIGKILL; a busy loop has nothing to save)."""
        with contextlib.suppress(OSError):
            process.kill()
        process.wait()
        _close_pipes(process)
        if process in self.processes:
            self.processes.remove(process)
