"""The locks: the exact version and hashes of every package, for each set of extras the
README's commands install (``locks/*.txt``), made from ``pyproject.toml``.

``.venv/bin/python scripts/lock.py`` (re)writes them with uv (``uv pip compile``;
installed into that Python with pip when it is missing), with the hashes of every file of
every pinned version. The pins already locked are kept where they still fit
``pyproject.toml``; ``--upgrade`` takes the newest.

- ``notebooks-test`` (what the README's two commands install) is universal: every
  platform and every Python the project supports, from 3.11 (markers choose).
- ``notebooks-test-profile`` (CI, and ``DNNSPLIT_EXTRAS=notebooks,test,profile``) adds
  PyTorch, and is for Linux x86_64 and CPython 3.11: it pins PyTorch's **CPU build**
  (``torch==2.13.0+cpu``, 190 MB), never PyPI's Linux wheel, which brings about 6 GB of
  CUDA libraries. uv finds that build where pip does (pip's configured ``find-links``) or
  on PyTorch's CPU index (``--torch-index https://download.pytorch.org/whl/cpu``). It is
  constrained by the first lock, so the two pin the packages they share alike.

``scripts/lock.py --check`` says whether the locks still satisfy
``pyproject.toml``: every requirement of the set's extras pinned at a version it allows,
and nothing pinned for dnnsplit that ``pyproject.toml`` no longer asks for (exit 1 naming
each problem, 0 otherwise). ``scripts/setup_env.sh`` runs it before installing a lock, and
a test in CI runs it too. It reads the files only: no network, no uv.

The locks are plain pip requirement files: ``pip install --require-hashes --no-deps -r
locks/notebooks-test.txt`` installs one (``scripts/setup_env.sh`` does).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a fresh environment, before the lock is installed: pip's own copy
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
LOCKS_DIR = ROOT / "locks"
#: Each lock: its name and the extras it installs. ./run_all.sh and ./run_tests.sh install
#: the first by default; CI (DNNSPLIT_EXTRAS=notebooks,test,profile) the second, which is
#: constrained by the first.
LOCKS = {
    "notebooks-test": ("notebooks", "test"),
    "notebooks-test-profile": ("notebooks", "test", "profile"),
}
#: The platform of the profile lock (PyTorch's CPU build is a file per platform).
PROFILE_PLATFORM = "x86_64-manylinux_2_28"
#: The oldest Python the project supports (pyproject.toml's requires-python).
PYTHON = "3.11"
COMMAND = ".venv/bin/python scripts/lock.py"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def lock_path(extras: str | tuple[str, ...], folder: Path = LOCKS_DIR) -> Path:
    """The lock of a set of extras (``"notebooks,test"`` → ``locks/notebooks-test.txt``)."""
    names = extras.split(",") if isinstance(extras, str) else list(extras)
    return folder / f"{'-'.join(n.strip() for n in names)}.txt"


def _uv() -> list[str]:
    """The command that runs uv: on the PATH, else this Python's module (installed first
    when missing)."""
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode != 0:
        print("lock: installing uv (pip install uv)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uv"], check=True)
    return [sys.executable, "-m", "uv"]


def _pip_find_links() -> list[str]:
    """The ``find-links`` of pip's configuration and environment (where a local build of a
    package may lie), so that uv looks where pip would."""
    found = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    links = found.stdout.split() if found.returncode == 0 else []
    return [*links, *os.environ.get("PIP_FIND_LINKS", "").split()]


def write(upgrade: bool = False, torch_index: str | None = None) -> None:
    """Rewrite every lock from ``pyproject.toml`` with uv (module docstring)."""
    uv = _uv()
    LOCKS_DIR.mkdir(exist_ok=True)
    first: Path | None = None
    for extras in LOCKS.values():
        path = lock_path(extras)
        command = [
            *uv, "pip", "compile", "pyproject.toml", "--python-version", PYTHON,
            "--generate-hashes", "--no-config", "--quiet", "--custom-compile-command", COMMAND,
            "--output-file", str(path.relative_to(ROOT)),
        ]  # fmt: skip
        for extra in extras:
            command += ["--extra", extra]
        if "profile" in extras:
            command += ["--python-platform", PROFILE_PLATFORM]
            for link in _pip_find_links():
                command += ["--find-links", link]
            if torch_index:
                command += ["--extra-index-url", torch_index, "--index-strategy",
                            "unsafe-best-match"]  # fmt: skip
        else:
            command += ["--universal", "--fork-strategy", "fewest"]
        if first is not None:
            command += ["--constraint", str(first.relative_to(ROOT))]
        if upgrade:
            command.append("--upgrade")
        subprocess.run(command, check=True, cwd=ROOT)
        print(f"lock: wrote {path.relative_to(ROOT)}")
        first = first or path


def _requirements(pyproject: Path, extras: tuple[str, ...]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"lock: pyproject.toml has no extra {extra!r}")
        wanted += optional[extra]
    return wanted


def _pins(text: str) -> tuple[dict[str, list[str]], set[str]]:
    """A lock's pinned versions by package, and the packages pinned for dnnsplit itself."""
    pins: dict[str, list[str]] = {}
    direct: set[str] = set()
    current = None
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins.setdefault(current, []).append(match.group(2))
        elif current and "dnnsplit (pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


def problems(pyproject: Path, lock: Path, extras: tuple[str, ...]) -> list[str]:
    """Where ``lock`` no longer satisfies ``pyproject.toml`` for ``extras`` (empty: it
    does)."""
    name = lock.name
    if not lock.is_file():
        return [f"{name}: missing"]
    pins, direct = _pins(lock.read_text(encoding="utf-8"))
    found = []
    asked = set()
    for text in _requirements(pyproject, extras):
        requirement = Requirement(text)
        key = canonicalize_name(requirement.name)
        asked.add(key)
        versions = pins.get(key)
        if not versions:
            found.append(f"{name}: pyproject.toml asks for {text}, which the lock lacks")
            continue
        outside = [v for v in versions if not requirement.specifier.contains(v, prereleases=True)]
        if outside:
            found.append(f"{name}: pins {requirement.name}=={outside[0]}, outside {text}")
    for key in sorted(direct - asked):
        found.append(f"{name}: pins {key} for dnnsplit, which pyproject.toml no longer asks for")
    return found


def check(pyproject: Path = ROOT / "pyproject.toml", folder: Path = LOCKS_DIR,
          only: str | None = None) -> list[str]:  # fmt: skip
    """Every problem of every lock (or of the lock of the extras ``only``)."""
    sets = list(LOCKS.values())
    if only is not None:
        wanted = tuple(e.strip() for e in only.split(","))
        sets = [s for s in sets if s == wanted]
        if not sets:
            return []
    return [p for extras in sets for p in problems(pyproject, lock_path(extras, folder), extras)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check the locks, write nothing")
    parser.add_argument("--extras", default=None, help="with --check: only this set's lock")
    parser.add_argument("--upgrade", action="store_true", help="take the newest versions")
    parser.add_argument(
        "--torch-index",
        default=None,
        help="an index that holds PyTorch's CPU build (https://download.pytorch.org/whl/cpu)",
    )
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument("--locks", type=Path, default=LOCKS_DIR, help="the locks' folder")
    args = parser.parse_args(argv)
    if not args.check:
        write(args.upgrade, args.torch_index)
        return 0
    found = check(args.pyproject, args.locks, args.extras)
    for problem in found:
        print(f"lock: {problem}", file=sys.stderr)
    if found:
        print(
            f"lock: the locks are stale: run {COMMAND} (or DNNSPLIT_DEPS=newest for the "
            "newest versions, unlocked)",
            file=sys.stderr,
        )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
