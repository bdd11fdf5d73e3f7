"""environment.yml mirrors pyproject.toml; the committed notebooks carry no outputs."""

from __future__ import annotations

import json
import re
import tomllib

import yaml

from dnnsplit.paths import NOTEBOOKS_DIR, ROOT

CONDA_NAMES = {"pyyaml": "pyyaml"}  # PyPI name -> conda-forge name, where they differ
OPTIONAL_EXTRAS = {"profile"}  # kept out of the conda file on purpose (torch stays optional)


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower(), spec.replace(" ", "")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        if extra not in OPTIONAL_EXTRAS:
            wanted.update(_split(r) for r in requirements)
    wanted = {CONDA_NAMES.get(name, name): spec for name, spec in wanted.items()}

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    have = dict(_split(d) for d in conda if not d.startswith(("python", "pip")))
    assert have == wanted
    assert env["dependencies"][-1] == {"pip": ["-e ."]}, "must end with pip install of dnnsplit"


def test_committed_notebooks_have_no_outputs():
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name} is committed with outputs"
                assert cell.get("execution_count") is None, f"{path.name} has execution counts"
