"""The examples of the README and of docs/ run as printed (Python blocks and console
commands)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dnnsplit.paths import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    block
    for page in PAGES
    for block in re.findall(
        r"```(python|console)\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL
    )
]


def commands(block: str) -> list[str]:
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


def run(command: str, where: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=where, env=env, check=False
    )


def test_the_readme_has_examples():
    kinds = [kind for kind, _ in BLOCKS]
    assert kinds.count("python") >= 2 and kinds.count("console") >= 2


@pytest.mark.parametrize(
    "block", [b for k, b in BLOCKS if k == "python"], ids=lambda b: b.splitlines()[-1][:40]
)
def test_python_examples_run_as_printed(block, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the examples read figures/ as a user in the checkout would
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()


def test_console_examples_run_as_printed(tmp_path):
    (tmp_path / "figures").symlink_to(ROOT / "figures")
    outputs = {}
    for kind, block in BLOCKS:
        if kind != "console":
            continue
        for command in commands(block):
            if "dnnsplit profile" in command:
                continue  # needs PyTorch and a minute; tests/test_profiles.py runs the profiler
            done = run(command, tmp_path)
            assert done.returncode == 0, f"{command}: {done.stderr}"
            outputs[command] = done.stdout
    # the scenario behind a point of Fig. 3A gives the value in the figure's CSV
    solved = next(json.loads(o) for c, o in outputs.items() if "point.json --objective" in c)
    row = next(o for c, o in outputs.items() if c.startswith("grep"))
    assert float(row.strip().split(",")[-1]) == pytest.approx(solved["variance"], rel=1e-9)
