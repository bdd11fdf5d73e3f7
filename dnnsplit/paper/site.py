"""A browsable static site of the results, to read offline: ``build/site/``.

``./run_all.sh`` builds it at the end of a full run (``--no-site`` skips it); ``python -m
dnnsplit.paper.site`` rebuilds it from the files already there, in seconds. Open
``build/site/index.html`` in a browser: every page, image, style sheet and script is a
local file, so it views from disk with no network.

It holds the reproduction report (``REPRODUCTION.md``), every figure of the run with its
full caption (``NAME.caption.md``, written by :func:`dnnsplit.paper.output.save_figure`)
and links to the CSV files it was drawn from, the PDF and the run's manifest, the readings
map, the model document (``docs/model.md``) and each executed notebook with its outputs
(``build/notebooks/``, as ``./run_all.sh`` left them).

The tool is Sphinx with MyST-NB and the book theme, the engine of Jupyter Book 1
(the README says why). The sources are staged in a temporary folder beside the site:
the generated pages (index, figures, readings map), copies of the report, the model
document and the executed notebooks, and the figures' files; Sphinx runs in its own
process with the configuration :data:`SPHINX_CONFIG` (no ``conf.py`` in the repository).
The site is written whole or not at all: it is built into a temporary folder that replaces
the old site only when the build succeeded. Any Sphinx warning (a broken link, a missing
image) fails the build, naming it.

A quick run (``./run_all.sh --quick``) builds ``build/quick/site/`` from its own figures,
report and notebooks, marked as a quick run on every page.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, REPORT_PATH, ROOT

__all__ = [
    "QUICK_SITE_DIR",
    "SITE_DIR",
    "SPHINX_CONFIG",
    "SiteError",
    "Sources",
    "build_after_run",
    "build_site",
    "figure_names",
    "main",
]

SITE_DIR = BUILD_DIR / "site"
QUICK_SITE_DIR = BUILD_DIR / "quick" / "site"
EXECUTED_DIR = BUILD_DIR / "notebooks"
MODEL_DOC = ROOT / "docs" / "model.md"

#: Sphinx's configuration (what a ``conf.py`` would hold). Nothing may come from the
#: network: no web fonts, no MathJax or require.js from a CDN (no page has maths; MyST-NB
#: loads widget scripts only when told to, and ``nb_ipywidgets_js`` tells it none), no
#: launch, repository or download buttons, no dates (the same inputs give the same pages).
SPHINX_CONFIG: dict[str, Any] = {
    "project": "dnnsplit",
    "extensions": ["myst_nb"],
    "nb_execution_mode": "off",  # the notebooks were executed by ./run_all.sh
    "nb_ipywidgets_js": {},
    "nb_output_stderr": "show",
    "nb_merge_streams": True,
    "myst_heading_anchors": 4,  # links to "#a-heading" in the report and model document
    "html_theme": "sphinx_book_theme",
    "html_theme_options": {
        "use_download_button": False,
        "use_fullscreen_button": False,
        "use_repository_button": False,
        "home_page_in_toc": True,
        "show_toc_level": 2,
        "footer_content_items": [],  # no author, copyright or date lines
    },
    "html_static_path": ["_static"],
    "html_css_files": ["site.css"],
    "html_title": "dnnsplit: results",
    "smartquotes": False,  # command lines keep their "--" and quotes
    "html_show_copyright": False,
    "html_show_sphinx": False,
    "html_show_sourcelink": False,
    "html_copy_source": False,
    "html_last_updated_fmt": None,
    "exclude_patterns": ["_build", "_static"],
}

#: The text column as wide as the window (the report's tables are wide), figures at their
#: natural size up to it, and tables wider still scroll.
SITE_CSS = """\
.bd-page-width { max-width: 100%; }
.bd-main .bd-content .bd-article-container { max-width: 100%; }
.bd-content img { max-width: 100%; height: auto; }
img.figure-image { border: 1px solid #ddd; }
.bd-content table { display: block; overflow-x: auto; }
"""

_SAVED_FIGURE = re.compile(r"save_figure\(\s*[\w.]+\s*,\s*[\"']([\w.-]+)[\"']")


class SiteError(RuntimeError):
    """The site could not be built: a missing input, or what Sphinx warned about."""


@dataclass(frozen=True)
class Sources:
    """What the site is built from.

    Parameters
    ----------
    figures : Path
        The figures' folder: ``NAME.png``, ``NAME.pdf``, ``NAME*.csv``,
        ``NAME.caption.md`` and the runs' ``*.manifest.json``.
    report : Path
        The reproduction report (Markdown).
    executed : Path
        The executed notebooks (``*.ipynb``, with outputs).
    model : Path
        The model document (Markdown).
    quick : bool
        The inputs come from a quick run: every page says so, and an executed notebook
        of the other kind of run is refused.
    """

    figures: Path = FIGURES_DIR
    report: Path = REPORT_PATH
    executed: Path = EXECUTED_DIR
    model: Path = MODEL_DOC
    quick: bool = False
    notebooks: list[Path] = field(init=False)

    def __post_init__(self) -> None:
        for name, path in (("figures", self.figures), ("executed", self.executed)):
            if not path.is_dir():
                raise SiteError(f"{name}: no folder {_shown(path)}")
        for name, path in (("report", self.report), ("model", self.model)):
            if not path.is_file():
                raise SiteError(f"{name}: no file {_shown(path)}")
        notebooks = sorted(self.executed.glob("*.ipynb"))
        if not notebooks:
            raise SiteError(f"executed: no notebook in {_shown(self.executed)}")
        for path in notebooks:
            ran_quick = _parameters(path).get("quick", False)
            if ran_quick != self.quick:
                kind = "a quick run" if ran_quick else "a full run"
                raise SiteError(
                    f"{_shown(path)} was executed by {kind}; run ./run_all.sh"
                    f"{' --quick' if self.quick else ''} first"
                )
        object.__setattr__(self, "notebooks", notebooks)

    @classmethod
    def of_run(cls, quick: bool = False) -> Sources:
        """The files ``./run_all.sh`` (``--quick``: ``build/quick/``) wrote last."""
        if quick:
            quick_dir = BUILD_DIR / "quick"
            return cls(figures=quick_dir, report=quick_dir / "REPRODUCTION.md", quick=True)
        return cls()


def _shown(path: Path) -> str:
    """``path`` relative to the repository where it lies inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _parameters(notebook: Path) -> dict[str, Any]:
    """The parameters papermill gave an executed notebook (empty: run by hand)."""
    try:
        metadata = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]
    except (OSError, ValueError, KeyError) as error:
        raise SiteError(f"{_shown(notebook)}: not a notebook ({error})") from None
    parameters = metadata.get("papermill", {}).get("parameters", {})
    return parameters if isinstance(parameters, dict) else {}


def _title(notebook: Path) -> str:
    """The notebook's first Markdown heading (its file name when it has none)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            for line in source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return notebook.stem


def figure_names(notebook: Path) -> list[str]:
    """The figures a notebook saves (the names it passes to ``output.save_figure``), in
    the order of its cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return list(dict.fromkeys(_SAVED_FIGURE.findall(code)))


@dataclass(frozen=True)
class _Figure:
    name: str
    data: list[str]  # the CSV files drawn from (file names in the figures' folder)
    manifest: str | None
    caption: str


def _figures(figures_dir: Path) -> dict[str, _Figure]:
    """Every figure in ``figures_dir`` (a ``NAME.png``), with its CSVs, manifest and
    caption. A CSV belongs to the figure with the longest name it starts with
    (``fig5_scale_summary.csv`` is ``fig5_scale``'s, not ``fig5``'s)."""
    from dnnsplit.paper.output import read_caption

    names = sorted(p.stem for p in figures_dir.glob("*.png"))
    data: dict[str, list[str]] = {n: [] for n in names}
    for csv in sorted(figures_dir.glob("*.csv")):
        owners = [n for n in names if csv.stem == n or csv.stem.startswith(n + "_")]
        if owners:
            data[max(owners, key=len)].append(csv.name)
    manifests: dict[str, str] = {}
    for path in sorted(figures_dir.glob("*.manifest.json")):
        try:
            listed = json.loads(path.read_text(encoding="utf-8")).get("figures", [])
        except ValueError as error:
            raise SiteError(f"{_shown(path)}: not JSON ({error})") from None
        for name in listed:
            manifests.setdefault(name, path.name)
    return {n: _Figure(n, data[n], manifests.get(n), read_caption(figures_dir, n)) for n in names}


QUICK_BANNER = (
    "```{warning}\nQUICK RUN: built by `./run_all.sh --quick` with small parameters, a smoke "
    "test of the pipeline; its numbers are not results.\n```\n\n"
)


def _figure_block(figure: _Figure, heading: str = "###") -> str:
    """A figure's section: its image, its full caption, and links to its files."""
    caption = figure.caption or "*(No caption was recorded for this figure.)*"
    files = [f"[{name}](figures/{name})" for name in figure.data]
    files.append(f"[{figure.name}.pdf](figures/{figure.name}.pdf)")
    if figure.manifest:
        files.append(f"[the run's manifest](figures/{figure.manifest})")
    return (
        f"{heading} {figure.name}\n\n"
        f"```{{image}} figures/{figure.name}.png\n:alt: {figure.name}\n:class: figure-image\n"
        ":width: 100%\n```\n\n"  # scaled to the column: a click shows it at full size
        f"{caption}\n\n"
        f"Data and files: {', '.join(files)}.\n\n"
    )


def _pages(sources: Sources) -> dict[str, str]:
    """The generated pages: ``index.md``, ``figures.md``, ``readings.md``."""
    import dnnsplit

    banner = QUICK_BANNER if sources.quick else ""
    figures = _figures(sources.figures)
    notebooks = [(p.stem, _title(p)) for p in sources.notebooks]
    shown: set[str] = set()
    sections = []
    for path in sources.notebooks:
        names = [n for n in figure_names(path) if n in figures and n not in shown]
        if names:
            shown.update(names)
            sections.append(
                f"## {_title(path)}\n\nFrom the notebook [{path.stem}](notebooks/{path.stem}"
                f".ipynb).\n\n" + "".join(_figure_block(figures[n]) for n in names)
            )
    others = [n for n in figures if n not in shown]
    if others:
        sections.append(
            "## Other figures\n\nFigures in the folder that no executed notebook saves "
            "(left by an earlier run).\n\n" + "".join(_figure_block(figures[n]) for n in others)
        )
    figures_page = (
        f"# Figures\n\n{banner}Every figure of the run, in the order of the notebooks that "
        "draw them, each with its full caption, the CSV files it was drawn from, the PDF "
        "and the manifest of the run that made it (its whole setup).\n\n" + "\n".join(sections)
    )
    if "readings" in figures:
        readings_page = (
            f"# The readings map\n\n{banner}Every claim of the paper (columns) under every "
            "reading of what the paper leaves open (rows), judged by the same verdict "
            "functions; the report's section [Under which readings each claim holds]"
            "(REPRODUCTION.md#under-which-readings-each-claim-holds) gives the same per "
            "claim, in words.\n\n" + _figure_block(figures["readings"], "##")
        )
    else:
        readings_page = (
            f"# The readings map\n\n{banner}This run drew no readings map (the notebook "
            "`06_readings` did not run).\n"
        )
    listing = "\n".join(
        f"- {stem.partition('_')[0]}: [{title}](notebooks/{stem}.ipynb)"
        for stem, title in notebooks
    )
    results = "\n".join(["REPRODUCTION", "figures", "readings", "docs/model"])
    executed = "\n".join(
        f"{stem.partition('_')[0]}: {title} <notebooks/{stem}>" for stem, title in notebooks
    )
    index_page = (
        f"# dnnsplit {dnnsplit.__version__}: results\n\n{banner}"
        "A reproduction of *DNN Partitioning and Inference Task Offloading in 6G "
        "Resource-Constrained Networks* (Kafetzis and Koutsopoulos), built by "
        "`./run_all.sh` from the files it wrote. These pages need no network.\n\n"
        "- [The reproduction report](REPRODUCTION.md): every claim of the paper beside our "
        "number, with a verdict and the reason where they differ.\n"
        f"- [Figures](figures.md): all {len(figures)} figures with their captions and the "
        "data they were drawn from.\n"
        "- [The readings map](readings.md): every claim under every reading of what the "
        "paper leaves open.\n"
        "- [The model](docs/model.md): every equation and every choice the paper left "
        "open, with the evidence.\n\n"
        "The executed notebooks, with their outputs:\n\n"
        f"{listing}\n\n"
        f"```{{toctree}}\n:hidden:\n:caption: Results\n\n{results}\n```\n\n"
        f"```{{toctree}}\n:hidden:\n:caption: Notebooks, executed\n\n{executed}\n```\n"
    )
    return {"index.md": index_page, "figures.md": figures_page, "readings.md": readings_page}


def _as_shown(notebook: dict[str, Any]) -> dict[str, Any]:
    """``notebook`` with each run of stream outputs (stdout, stderr) as JupyterLab shows it:
    one output, where a carriage return overwrites its line (a progress bar's updates show
    as its last state, not one line per update)."""
    for cell in notebook["cells"]:
        merged: list[dict[str, Any]] = []
        for output in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (
                output.get("output_type") == "stream"
                and last is not None
                and last.get("output_type") == "stream"
                and last.get("name") == output.get("name")
            ):
                last["text"] = "".join(last["text"]) + "".join(output["text"])
            else:
                merged.append(dict(output))
        for output in merged:
            if output.get("output_type") == "stream":
                text = "".join(output["text"])
                lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
                output["text"] = "\n".join(lines)
        if "outputs" in cell:
            cell["outputs"] = merged
    return notebook


def _stage(sources: Sources, folder: Path) -> None:
    """Lay out the sources for Sphinx in ``folder``, mirroring the repository so that the
    report's and notebooks' relative links (``docs/model.md``, ``../docs/model.md``)
    resolve."""
    for name, text in _pages(sources).items():
        (folder / name).write_text(text, encoding="utf-8")
    shutil.copyfile(sources.report, folder / "REPRODUCTION.md")
    (folder / "docs").mkdir()
    shutil.copyfile(sources.model, folder / "docs" / "model.md")
    (folder / "notebooks").mkdir()
    for path in sources.notebooks:
        shown = _as_shown(json.loads(path.read_text(encoding="utf-8")))
        (folder / "notebooks" / path.name).write_text(json.dumps(shown), encoding="utf-8")
    (folder / "figures").mkdir()
    for pattern in ("*.png", "*.pdf", "*.csv", "*.manifest.json"):
        for path in sources.figures.glob(pattern):
            shutil.copyfile(path, folder / "figures" / path.name)
    (folder / "_static").mkdir()
    (folder / "_static" / "site.css").write_text(SITE_CSS, encoding="utf-8")
    config = "".join(f"{key} = {value!r}\n" for key, value in SPHINX_CONFIG.items())
    (folder / "conf.py").write_text(config, encoding="utf-8")


def build_site(out: str | os.PathLike[str] = SITE_DIR, sources: Sources | None = None) -> Path:
    """Build the static site from ``sources`` (default: a full run's files) into ``out``.

    Returns ``out``. The old site is replaced only when the new one is built whole.

    Raises
    ------
    SiteError
        An input is missing, or Sphinx warned (a broken link or image, a page that does
        not parse); the message names each warning.
    """
    out = Path(out)
    sources = sources if sources is not None else Sources()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as work:
        staged, built = Path(work) / "source", Path(work) / "html"
        staged.mkdir()
        _stage(sources, staged)
        warnings = Path(work) / "warnings.log"
        command = [
            sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-W", "--keep-going",
            "-w", str(warnings), "-d", str(Path(work) / "doctrees"), str(staged), str(built),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            said = warnings.read_text(encoding="utf-8") if warnings.exists() else ""
            lines = [line.replace(str(staged) + os.sep, "") for line in said.splitlines()]
            detail = "\n".join(lines) or done.stderr.strip() or f"exit {done.returncode}"
            raise SiteError(f"Sphinx could not build the site:\n{detail}")
        (built / ".buildinfo").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (built / "_sources").rmdir()  # left empty: no page's source is copied
        old = Path(work) / "old"
        if out.exists():
            out.rename(old)
        try:
            built.rename(out)
        except BaseException:
            if old.exists():
                old.rename(out)
            raise
    return out


def build_after_run(quick: bool) -> int:
    """The last step of a full ``./run_all.sh``: build the site of the run and say where
    it is. Returns the exit status (1 when the site could not be built; the figures and
    report are written already)."""
    out = QUICK_SITE_DIR if quick else SITE_DIR
    began = time.perf_counter()
    try:
        build_site(out, Sources.of_run(quick))
    except SiteError as error:
        print(f"run_all: the site was not built (the figures and report are): {error}",
              file=sys.stderr)  # fmt: skip
        return 1
    print(
        f"Site: {_shown(out / 'index.html')} (built in {time.perf_counter() - began:.0f} s; "
        "open it in a browser, it needs no network)"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dnnsplit.paper.site [--quick] [--out DIR]``: rebuild the site from the
    files the last ``./run_all.sh`` left. Exit status 0, or 1 when it could not be built."""
    parser = argparse.ArgumentParser(
        prog="python -m dnnsplit.paper.site",
        description="Build the static site of the results from the last run's files.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="from the last quick run (build/quick/)"
    )
    parser.add_argument("--out", default=None, help="where to write it (default: build/site/)")
    args = parser.parse_args(argv)
    if args.out is None:
        return build_after_run(args.quick)
    try:
        build_site(args.out, Sources.of_run(args.quick))
    except SiteError as error:
        print(f"site: {error}", file=sys.stderr)
        return 1
    print(f"Site: {_shown(Path(args.out) / 'index.html')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
