"""environment.yml mirrors pyproject.toml and the locks satisfy it; the committed notebooks
carry no outputs; the release's metadata (CITATION.cff, .zenodo.json, pyproject.toml)
agree."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import dnnsplit
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


def committed_notebooks() -> dict[str, str]:
    """Each notebook as it is committed: in a git checkout, what git's index holds (what
    the next commit records; with the nbstripout filter, stripped of outputs whatever
    JupyterLab saved); elsewhere (an unpacked release), the files."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                                  text=True, check=False)  # fmt: skip
        except OSError:
            return None
        return done.stdout if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top.strip()).resolve() != ROOT.resolve():
        return {
            p.name: p.read_text(encoding="utf-8") for p in sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
        }
    listed = git("ls-files", "--", "notebooks/*.ipynb") or ""
    return {Path(name).name: git("show", f":{name}") for name in sorted(listed.split())}


COMMITTED = committed_notebooks()


def test_committed_notebooks_have_no_outputs():
    assert len(COMMITTED) >= 10
    for name, text in COMMITTED.items():
        for cell in json.loads(text)["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{name} is committed with outputs"
                assert cell.get("execution_count") is None, f"{name} has execution counts"


def test_git_stores_a_saved_notebook_without_its_outputs(tmp_path):
    """.gitattributes names the nbstripout filter (scripts/setup_env.sh installs it): a
    notebook saved with outputs is stored without them, cell ids kept, and a committed
    notebook is the filter's own output (installing the filter changes none)."""
    attributes = (ROOT / ".gitattributes").read_text()
    assert re.search(r"^\*\.ipynb filter=nbstripout diff=ipynb$", attributes, re.M)
    for name, text in COMMITTED.items():
        (tmp_path / name).write_text(text)
    name, text = next(iter(COMMITTED.items()))
    notebook = json.loads(text)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["x\n"]}]
            cell["execution_count"] = 1
    (tmp_path / "saved.ipynb").write_text(json.dumps(notebook, indent=1) + "\n")
    # the filter's command (one process for every file: each is stripped in place)
    files = sorted(str(p) for p in tmp_path.glob("*.ipynb"))
    subprocess.run([sys.executable, "-m", "nbstripout", "--keep-id", *files], check=True)
    for committed, stored in COMMITTED.items():
        assert (tmp_path / committed).read_text() == stored, f"{committed} is not as stored"
    assert (tmp_path / "saved.ipynb").read_text() == text, "outputs are stored"


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


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_opening_a_notebook_in_jupyterlab_changes_nothing(name, kernel_metadata):
    """The committed metadata is what the installed kernel writes, and the file is in the
    exact format Jupyter saves (nbformat 4.5, cell ids, one-space indent): opened and saved,
    it stays byte for byte the same. Only the Python patch version may differ between
    machines (JupyterLab rewrites that one line on another Python)."""
    import nbformat

    text = COMMITTED[name]
    notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    assert notebook.metadata["kernelspec"] == kernel_metadata["kernelspec"]
    mine, theirs = dict(notebook.metadata["language_info"]), dict(kernel_metadata["language_info"])
    assert mine.pop("version").split(".")[:2] == theirs.pop("version").split(".")[:2]
    assert mine == theirs
    assert set(notebook.metadata) == {"kernelspec", "language_info"}
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
    assert all("id" in cell for cell in notebook.cells)
    saved = nbformat.writes(notebook) + "\n"
    assert saved == text


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


def test_zenodo_s_record_agrees_with_the_citation_and_the_package():
    """Zenodo reads .zenodo.json (before CITATION.cff) when it archives a release: the two
    give the same title, version, authors and licence, and the version is the package's."""
    import dnnsplit

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    zenodo = json.loads((ROOT / ".zenodo.json").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert zenodo["upload_type"] == "software"
    assert zenodo["title"] == citation["title"]
    assert zenodo["version"] == citation["version"] == project["version"] == dnnsplit.__version__
    assert zenodo["license"].lower() == citation["license"].lower() == project["license"].lower()

    def names(people: list[dict]) -> list[str]:
        return [p.get("name") or f"{p['family-names']}, {p['given-names']}" for p in people]

    assert names(zenodo["creators"]) == names(citation["authors"])
    assert zenodo["publication_date"] == str(citation["date-released"])
    assert zenodo["keywords"] == citation["keywords"]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {project['version']} " in changelog, "CHANGELOG.md has no entry for the version"


# --- the locks ------------------------------------------------------------------------------

LOCK_SCRIPT = ROOT / "scripts" / "lock.py"


def lock_check(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(LOCK_SCRIPT), "--check", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_the_locks_satisfy_pyproject():
    """CI rejects a stale lock: every requirement of pyproject.toml's extras pinned in each
    lock at a version it allows, nothing pinned for dnnsplit that it no longer asks for."""
    done = lock_check()
    assert done.returncode == 0, done.stderr


def test_a_stale_lock_is_named(tmp_path):
    pyproject = (ROOT / "pyproject.toml").read_text()
    for old, new in (('"simpy>=4.1",', '"simpy>=99",\n    "a-new-dependency>=1",'),
                     ('    "nbstripout>=0.7",\n', "")):  # fmt: skip
        assert pyproject.count(old) == 1, old
        pyproject = pyproject.replace(old, new)
    (tmp_path / "pyproject.toml").write_text(pyproject)
    done = lock_check("--pyproject", str(tmp_path / "pyproject.toml"))
    assert done.returncode == 1
    for lock in ("notebooks-test.txt", "notebooks-test-profile.txt"):
        assert re.search(rf"{lock}: pins simpy==[0-9.]+, outside simpy>=99", done.stderr)
        assert f"{lock}: pyproject.toml asks for a-new-dependency>=1, which the lock lacks" in (
            done.stderr
        )
        assert f"{lock}: pins nbstripout for dnnsplit, which pyproject.toml no longer" in (
            done.stderr
        )
    assert done.stderr.rstrip().endswith(
        "(or DNNSPLIT_DEPS=newest for the newest versions, unlocked)"
    )


def test_every_pin_has_its_hashes_and_binder_installs_the_default_lock():
    for lock in sorted((ROOT / "locks").glob("*.txt")):
        text = lock.read_text()
        pins = re.findall(r"^([a-z0-9][a-z0-9._-]*)==\S+.*\\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)",
                          text, re.M)  # fmt: skip
        names = re.findall(r"^([a-z0-9][a-z0-9._-]*)==", text, re.M)
        assert len(pins) == len(names) > 100, lock.name
    binder = ROOT / "binder"
    lines = [line for line in (binder / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]  # fmt: skip
    assert lines == ["-r ../locks/notebooks-test.txt"]
    assert (binder / "postBuild").stat().st_mode & 0o111
    assert "pip install --no-deps -e ." in (binder / "postBuild").read_text()


def test_artifact_md_maps_every_claim_and_figure():
    """ARTIFACT.md's generated tables are what the claims, the notebooks and the report give
    now (scripts/artifact.py rewrites them): every claim of the paper by its id, and every
    committed figure, appears."""
    from dnnsplit.paper.claims import CLAIMS

    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "artifact.py"), "--check"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    artifact = (ROOT / "ARTIFACT.md").read_text()
    assert f"**dnnsplit {dnnsplit.__version__}**" in artifact  # the version it describes
    for claim in CLAIMS:
        assert f"| `{claim.id}`: " in artifact, claim.id
    for png in (ROOT / "figures").glob("*.png"):
        assert f"`{png.name}`" in artifact, png.name
