"""The notebooks as a user meets them: JupyterLab in headless Chromium.

A JupyterLab server is started for the test on 127.0.0.1 with a random port and a token,
its settings, workspaces, runtime files and IPython folder in a temporary folder (the
user's lab state is untouched), serving a temporary root that holds

- ``repo/``: a throwaway git repository of the committed notebooks ``00`` and ``03``:
  each is opened (its kernel started) and must not be marked modified; then saved, after
  which ``git diff`` must be empty;
- ``runs/``: copies of the same notebooks with small parameters (and their files written
  to a temporary folder): each is opened and run whole ("Run All"), and must show no error
  and nothing on stderr (a red band in the lab), and one rendered image (loaded, of
  non-zero size) in every cell that draws and in no other.

JupyterLab exposes its application object to the page (``expose_app_in_browser``), and
the test drives it through its commands (``notebook:run-all-cells``,
``docmanager:save``), as the menu items do. The server, its kernels (and any process they
started) and the browser are stopped at the end, even on failure, and the test checks that
none is left. Skipped, saying why, where chromium or chromedriver is absent.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
import pytest

from dnnsplit.paper.runner import declared_parameters
from dnnsplit.paths import NOTEBOOKS_DIR, ROOT
from headless import chromium, needs_chromium, network

pytestmark = [pytest.mark.browser, needs_chromium]

#: The notebooks opened, with the small parameters of their runs (output_dir is added).
SMALL = {
    "00_quickstart.ipynb": {"n_devices": 5},
    "03_greedy_vs_optimal.ipynb": {"quick": True, "devices": [3, 4], "scale_max_nodes": 200_000},
}
#: A call of a function of a dnnsplit.paper module, ``module.function(``.
CALL = re.compile(r"\b(\w+)\.(\w+)\(")


def draws(source: str) -> bool:
    """Whether a cell draws a figure: it calls a function of the paper layer that returns a
    matplotlib ``Figure`` (read from the function's annotation, not from its name)."""
    for module_name, function_name in CALL.findall(source):
        try:
            module = importlib.import_module(f"dnnsplit.paper.{module_name}")
        except ImportError:
            continue
        function = getattr(module, function_name, None)
        if callable(function):
            returned = inspect.signature(function).return_annotation
            if "Figure" in str(returned):
                return True
    return False

START_S, RUN_S = 120, 420  # seconds the lab may take to start, and a notebook to run

#: What the page is asked about the open notebook (JupyterLab's objects, through the
#: application object the lab exposes).
STATE_JS = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!panel || !panel.context || !panel.content || !panel.sessionContext) return null;
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
return {
  path: panel.context.path,
  ready: panel.context.isReady,
  dirty: panel.context.model.dirty,
  kernel: kernel ? kernel.status : null,
  running: panel.content.widgets.filter(
      c => c.model.type === 'code' && c.promptNode && c.promptNode.textContent.includes('*')
  ).length,
  executed: panel.content.widgets.filter(
      c => c.model.type === 'code' && c.model.executionCount !== null
  ).length,
};
"""
CELLS_JS = """
const panel = window.jupyterapp.shell.currentWidget;
return panel.content.widgets.map(cell => {
  const code = cell.model.type === 'code';
  const images = Array.from(cell.node.querySelectorAll('.jp-OutputArea-output img'));
  return {
    type: cell.model.type,
    source: cell.model.sharedModel.getSource(),
    count: code ? cell.model.executionCount : null,
    outputs: code ? cell.model.outputs.toJSON().map(o => ({
        type: o.output_type, name: o.name || null,
        text: [].concat(o.text || o.evalue || '').join('').slice(0, 300)})) : [],
    images: images.map(i => {
      i.scrollIntoView();
      const box = i.getBoundingClientRect();
      return {loaded: i.complete, width: i.naturalWidth, shown: [box.width, box.height]};
    }),
  };
});
"""


def _free_of(processes: set[int]) -> list[int]:
    alive = []
    for pid in processes:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def _processes_mentioning(text: str) -> set[int]:
    """Processes whose command line holds ``text`` (the kernels name their connection
    file, in this test's runtime folder), with all their descendants."""
    parents: dict[int, int] = {}
    found: set[int] = set()
    if not Path("/proc").is_dir():  # no process table to read: nothing can be checked
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if text in command:
            found.add(int(entry.name))
    grown = True
    while grown:
        children = {p for p, parent in parents.items() if parent in found} - found
        grown = bool(children)
        found |= children
    return found


class Lab:
    """A JupyterLab server of the test, and what it started."""

    def __init__(self, root: Path, state: Path) -> None:
        self.root, self.state = root, state
        self.token = secrets.token_hex(16)
        self.runtime = state / "runtime"
        settings = state / "settings"
        for name, values in {
            # every cell stays in the page, so that each output can be measured
            "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
            "@jupyterlab/apputils-extension/notification": {
                "fetchNews": "false",
                "checkForUpdates": False,
            },
        }.items():
            path = settings / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        config = state / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "jupyter_server_config.json").write_text(
            json.dumps({"LabApp": {"news_url": None}})
        )
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(state / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
            "IPYTHONDIR": str(state / "ipython"),
        }
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", "--port=0", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={state / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ]  # fmt: skip
        self.log = open(state / "lab.log", "wb")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.started: set[int] = {self.process.pid}
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_text()
            for info in self.runtime.glob("jpserver-*.json"):
                with_port = json.loads(info.read_text() or "{}")
                if with_port.get("pid") == self.process.pid:
                    return with_port["url"].rstrip("/")
            time.sleep(0.2)
        raise AssertionError(f"JupyterLab did not start in {START_S} s:\n{self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return (self.state / "lab.log").read_text(errors="replace")[-3000:]

    def page(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every session (and its kernel) the lab has, as closing its tab would."""
        for session in self.api("/api/sessions"):
            self.api(f"/api/sessions/{session['id']}", "DELETE")

    def note_processes(self) -> None:
        """Record the kernels (and what they started) so that stop() can check on them."""
        self.started |= _processes_mentioning(str(self.runtime))

    def stop(self) -> list[int]:
        """Shut the server down (it shuts its kernels down); kill what is left, and return
        the process ids that had to be killed."""
        self.note_processes()
        try:
            self.api("/api/shutdown", "POST")
            self.process.wait(timeout=30)
        except Exception:  # already gone, or does not answer: killed below
            pass
        deadline = time.monotonic() + 15
        while _free_of(self.started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _free_of(self.started)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
        return left


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[Lab, Any, Path]]:
    """A lab serving ``repo/`` and ``runs/``, and a browser; both stopped after."""
    root = tmp_path_factory.mktemp("lab")
    state = tmp_path_factory.mktemp("lab-state")
    repo = root / "repo"
    (repo / "notebooks").mkdir(parents=True)
    for name in SMALL:
        shutil.copyfile(NOTEBOOKS_DIR / name, repo / "notebooks" / name)
    shutil.copyfile(ROOT / ".gitignore", repo / ".gitignore")  # the lab's checkpoints
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-C", str(repo)]
    for step in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "the notebooks"]):
        subprocess.run(git + step, check=True, capture_output=True)
    runs, files = root / "runs", state / "figures"
    runs.mkdir()
    for name, small in SMALL.items():
        small_copy(NOTEBOOKS_DIR / name, runs / name, {**small, "output_dir": str(files)})
    server = Lab(root, state)
    left: list[int] = []
    try:
        with chromium(state / "profile") as driver:
            yield server, driver, repo
            server.note_processes()
    finally:
        left = server.stop()
    assert not left, f"processes left behind by the lab (killed): {left}"


def small_copy(source: Path, target: Path, parameters: dict[str, Any]) -> None:
    """``source`` with ``parameters`` injected after its parameters cell (as papermill
    does), not executed."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    unknown = set(parameters) - set(declared_parameters(source))
    assert not unknown, f"{source.name} no longer declares {sorted(unknown)}"
    notebook = parameterize_notebook(load_notebook_node(str(source)), parameters)
    nbformat.write(notebook, target)


def wait_until(driver, condition, seconds: float, what: str) -> dict:
    """Poll the open notebook's state until ``condition(state)`` holds."""
    deadline = time.monotonic() + seconds
    state = None
    while time.monotonic() < deadline:
        state = driver.execute_script(STATE_JS)
        if state and condition(state):
            return state
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds:.0f} s (last state {state})")


def open_notebook(lab: Lab, driver, path: str) -> dict:
    """Open ``path`` in the lab (after closing what was open) and wait until its kernel is
    started and idle."""
    lab.shut_down_kernels()
    driver.get(lab.page(path))
    state = wait_until(
        driver,
        lambda s: s["path"] == path and s["ready"] and s["kernel"] == "idle",
        START_S,
        f"{path} opened with an idle kernel",
    )
    lab.note_processes()
    return state


@pytest.mark.parametrize("name", SMALL)
def test_opening_and_saving_a_notebook_changes_nothing(lab, name):
    server, driver, repo = lab
    state = open_notebook(server, driver, f"repo/notebooks/{name}")
    assert state["dirty"] is False, f"{name} is marked modified just by opening it"
    time.sleep(1)  # anything the kernel's start changes comes after "idle"
    assert driver.execute_script(STATE_JS)["dirty"] is False, f"{name} marked modified"
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.jupyterapp.commands.execute('docmanager:save').then(() => done(true),"
        " e => done(String(e)));"
    )
    wait_until(driver, lambda s: s["dirty"] is False, 30, "saved")
    diff = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    )
    assert diff.stdout == "", f"saving {name} changed it:\n{diff.stdout}"
    diff = subprocess.run(["git", "-C", str(repo), "diff", "--exit-code", "--stat"],
                          capture_output=True, text=True)  # fmt: skip
    assert diff.returncode == 0, diff.stdout


@pytest.mark.parametrize("name", SMALL)
def test_run_all_shows_every_figure_and_no_error(lab, name):
    server, driver, _ = lab
    open_notebook(server, driver, f"runs/{name}")
    driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    began = time.monotonic()
    wait_until(
        driver,
        lambda s: s["running"] > 0 or s["kernel"] == "busy" or s["executed"] > 0,
        30,
        f"{name} started running",
    )
    server.note_processes()
    wait_until(
        driver,
        lambda s: s["running"] == 0 and s["kernel"] == "idle",
        RUN_S,
        f"{name} ran all its cells",
    )
    server.note_processes()
    cells = [c for c in driver.execute_script(CELLS_JS) if c["type"] == "code"]
    ran = time.monotonic() - began
    problems = []
    for number, cell in enumerate(cells, 1):
        where = f"{name}, code cell {number} ({cell['source'].splitlines()[0][:60]!r})"
        if cell["count"] is None:
            problems.append(f"{where}: not run")
        for output in cell["outputs"]:
            if output["type"] == "error" or output["name"] == "stderr":
                problems.append(f"{where}: {output['type']} {output['name'] or ''}: "
                                f"{output['text']!r}")  # fmt: skip
        drawn = draws(cell["source"])
        if len(cell["images"]) != int(drawn):
            problems.append(f"{where}: {len(cell['images'])} images (draws: {drawn})")
        for image in cell["images"]:
            if not (image["loaded"] and image["width"] > 0 and min(image["shown"]) > 0):
                problems.append(f"{where}: an image not rendered: {image}")
    assert not problems, "\n".join(problems)
    assert any(draws(c["source"]) for c in cells)
    requested, _ = network(driver)
    here = urlsplit(server.url).netloc
    outside = [u for u in requested if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).netloc != here]  # fmt: skip
    assert not outside, f"the lab requested {outside}"
    print(f"{name}: ran in {ran:.1f} s")
