"""environment.yml mirrors pyproject.toml; the committed notebooks carry no outputs."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
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


@pytest.fixture(scope="module")
def kernel_metadata() -> dict:
    """What JupyterLab writes into a notebook when the installed kernel starts: the
    kernelspec of the installed ``python3`` kernel and the kernel's ``language_info``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import start_new_kernel

    spec = KernelSpecManager().get_kernel_spec("python3")
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.kernel_info()
        reply = client.get_shell_msg(timeout=60)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return {
        "kernelspec": {
            "display_name": spec.display_name,
            "language": spec.language,
            "name": "python3",
        },
        "language_info": reply["content"]["language_info"],
    }


@pytest.mark.parametrize("path", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.name)
def test_opening_a_notebook_in_jupyterlab_changes_nothing(path, kernel_metadata):
    """The committed metadata is what the installed kernel writes, and the file is in the
    exact format Jupyter saves (nbformat 4.5, cell ids, one-space indent): opened and saved,
    it stays byte for byte the same. Only the Python patch version may differ between
    machines (JupyterLab rewrites that one line on another Python)."""
    import nbformat

    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert notebook.metadata["kernelspec"] == kernel_metadata["kernelspec"]
    mine, theirs = dict(notebook.metadata["language_info"]), dict(kernel_metadata["language_info"])
    assert mine.pop("version").split(".")[:2] == theirs.pop("version").split(".")[:2]
    assert mine == theirs
    assert set(notebook.metadata) == {"kernelspec", "language_info"}
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
    assert all("id" in cell for cell in notebook.cells)
    saved = nbformat.writes(notebook) + "\n"
    assert saved == path.read_text(encoding="utf-8")


def test_the_wheel_carries_the_profiles_and_works_installed(tmp_path):
    """Built as a wheel and installed on its own (no checkout on the path), the command line
    and the API draw and solve a scenario from the shipped profiles."""
    import subprocess
    import sys
    import sysconfig
    import zipfile

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("dnnsplit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dnnsplit/measurements/alexnet-pi3b-estimated.csv" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    entry = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith("entry_points.txt")))
        .decode()
    )
    assert "dnnsplit = dnnsplit.__main__:run" in entry
    target = tmp_path / "installed"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # a fresh environment: no site (so no editable install of the checkout), the wheel's
    # files first, then only the third-party packages
    env = {"PYTHONPATH": f"{target}:{sysconfig.get_paths()['purelib']}", "PATH": "/usr/bin:/bin"}
    python = [sys.executable, "-S"]
    where = subprocess.run(
        [
            *python,
            "-c",
            "import dnnsplit, dnnsplit.paths as p; print(dnnsplit.__file__); "
            "print(p.MEASUREMENTS_DIR)",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.splitlines()[0].startswith(str(target))
    assert where.stdout.splitlines()[1].startswith(str(target))
    scenario = subprocess.run(
        [*python, "-m", "dnnsplit", "scenario", "--devices", "3", "--seed", "1"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert scenario.returncode == 0, scenario.stderr
    (tmp_path / "s.json").write_text(scenario.stdout)
    solved = subprocess.run(
        [*python, "-m", "dnnsplit", "solve", "s.json", "--solver", "exact"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert solved.returncode == 0, solved.stderr
    assert json.loads(solved.stdout)["optimal"] is True


def test_licence_and_citation():
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "BSD-3-Clause"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert citation["version"] == project["version"]
    paper = citation["references"][0]
    assert "DNN Partitioning and Inference Task Offloading" in paper["title"]
