"""The offline site of the results, ``build/site/``: the report, every figure with its full
caption and links to its CSVs, PDF and manifest, the readings map, the documents of
``docs/`` and each executed notebook with its outputs, all local files. ``./run_all.sh``
builds it after a full run, ``--site`` (or ``python -m dnnsplit.paper.site``) from the last
run's files (``--quick``: into ``build/quick/site/``, marked on every page). Sphinx with
MyST-NB and the book theme builds it in its own process from sources staged in a temporary
folder; a warning, or a built page's link or image to no file, fails the build, and the old
site is replaced only by a whole new one.

**Data is never markup.** In generated text (captions, the report, the generated pages, the
executed notebooks and their Markdown outputs) MyST reads raw HTML, directives and roles as
literal text; no ``raw`` or ``include`` directive runs anywhere; a link or image in it that
leaves the site (``../../etc/hostname``, ``file:``) is refused before the build, naming the
file and line. The hand-written ``docs/`` keep full MyST.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html.parser
import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import dnnsplit
from dnnsplit.paper.output import caption_path, figures_by_notebook, read_caption
from dnnsplit.paper.text import template_module
from dnnsplit.paths import BUILD_DIR, FIGURES_DIR, REPORT_PATH, ROOT, shown

__all__ = [
    "LITERAL_SYNTAX",
    "QUICK_SITE_DIR",
    "SITE_DIR",
    "SPHINX_CONFIG",
    "SiteError",
    "Sources",
    "build_after_run",
    "build_site",
    "main",
]

SITE_DIR = BUILD_DIR / "site"
QUICK_DIR = BUILD_DIR / "quick"  # a quick run's figures and report
QUICK_SITE_DIR = QUICK_DIR / "site"
EXECUTED_DIR = BUILD_DIR / "notebooks"
DOCS_DIR = ROOT / "docs"

#: The MyST syntax generated pages read as literal text (MyST's ``disable_syntax``): raw
#: HTML, fences (so every directive) and roles.
LITERAL_SYNTAX = ("html_block", "html_inline", "fence", "myst_role")
#: The URL schemes a link in generated text may have; a link without one stays in the site.
LINK_SCHEMES = ("http", "https", "mailto")
#: The front matter of a generated Markdown page (executed notebooks: in their metadata).
LITERAL_FRONT_MATTER = f"---\nmyst:\n  disable_syntax: [{', '.join(LITERAL_SYNTAX)}]\n---\n"
#: docutils' settings for every page: no ``raw`` directive, no file inserted
#: (``include``, ``literalinclude``, ``:file:``).
DOCUTILS_CONF = "[general]\nraw_enabled: false\nfile_insertion_enabled: false\n"

#: Sphinx's configuration (a ``conf.py``'s). Nothing comes from the network (no web
#: fonts, MathJax, widget scripts or buttons), no dates (the same inputs give the same
#: pages); notebooks' Markdown outputs are read as MyST, so Sphinx checks their links.
SPHINX_CONFIG: dict[str, Any] = {
    "project": "dnnsplit",
    "extensions": ["myst_nb"],
    "nb_execution_mode": "off",  # the notebooks were executed by ./run_all.sh
    "nb_ipywidgets_js": {},
    "nb_merge_streams": True,
    "nb_render_markdown_format": "myst",
    "myst_heading_anchors": 4,  # links to "#a-heading" in the report and model document
    "html_theme": "sphinx_book_theme",
    "html_theme_options": {
        "use_download_button": False,
        "use_fullscreen_button": False,
        "home_page_in_toc": True,
        "show_toc_level": 2,
        "footer_content_items": [],  # no author, copyright or date lines
    },
    "html_static_path": ["_static"],
    "html_css_files": ["site.css"],
    "html_title": "dnnsplit: results",
    "smartquotes": False,  # command lines keep their "--" and quotes
    "html_copy_source": False,
}

#: The text column as wide as the window, figures at most as wide, wider tables scroll.
SITE_CSS = """\
.bd-page-width { max-width: 100%; }
.bd-main .bd-content .bd-article-container { max-width: 100%; }
.bd-content img { max-width: 100%; height: auto; }
.bd-content section > p > img { border: 1px solid #ddd; }
.bd-content table { display: block; overflow-x: auto; }
"""


def _visible(folder: Path, pattern: str) -> list[Path]:
    """The files of ``folder`` matching ``pattern``, without hidden ones (an interrupted
    run's ``.NAME.PID.partial.ipynb`` is not a page)."""
    return [path for path in folder.glob(pattern) if not path.name.startswith(".")]


class SiteError(RuntimeError):
    """The site could not be built: a missing input, generated text that links outside
    the site, or what Sphinx (or the check of the built pages) found."""


@dataclass(frozen=True)
class Sources:
    """What the site is built from.

    Parameters
    ----------
    figures, report, executed, docs : Path
        The figures' folder (``NAME.png``, ``.pdf``, ``*.csv``, ``.caption.md``, the runs'
        ``*.manifest.json``), the report, the executed notebooks, the documents (``*.md``).
    quick : bool
        A quick run's: every page says so; a full run's executed notebook is refused (and
        the other way round).
    """

    figures: Path = FIGURES_DIR
    report: Path = REPORT_PATH
    executed: Path = EXECUTED_DIR
    docs: Path = DOCS_DIR
    quick: bool = False
    notebooks: list[Path] = field(init=False)
    documents: list[Path] = field(init=False)

    def __post_init__(self) -> None:
        for name in ("figures", "executed", "docs"):
            path = getattr(self, name)
            if not path.is_dir():
                raise SiteError(f"{name}: no folder {shown(path)}")
        if not self.report.is_file():
            raise SiteError(f"report: no file {shown(self.report)}")
        notebooks = sorted(_visible(self.executed, "*.ipynb"))
        if not notebooks:
            raise SiteError(f"executed: no notebook in {shown(self.executed)}")
        documents = sorted(_visible(self.docs, "*.md"))
        if not documents:
            raise SiteError(f"docs: no page (*.md) in {shown(self.docs)}")
        for path in notebooks:
            try:  # the parameters papermill gave it (none: run by hand)
                metadata = json.loads(path.read_text(encoding="utf-8"))["metadata"]
            except (OSError, ValueError, KeyError) as error:
                raise SiteError(f"{shown(path)}: not a notebook ({error})") from None
            parameters = metadata.get("papermill", {}).get("parameters", {})
            ran_quick = parameters.get("quick", False) if isinstance(parameters, dict) else False
            if ran_quick != self.quick:
                kind = "a quick run" if ran_quick else "a full run"
                raise SiteError(
                    f"{shown(path)} was executed by {kind}; run ./run_all.sh"
                    f"{' --quick' if self.quick else ''} first"
                )
        object.__setattr__(self, "notebooks", notebooks)
        object.__setattr__(self, "documents", documents)


def _title(path: Path) -> str:
    """The first Markdown heading of a notebook or a Markdown file (else its name)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    headings = [line[2:].strip() for line in text.splitlines() if line.startswith("# ")]
    return headings[0] if headings else path.stem


def owner(stem: str, figures: Sequence[str]) -> str | None:
    """The figure a file belongs to: the longest name its stem starts with
    (``fig5_scale_summary`` is ``fig5_scale``'s, not ``fig5``'s), or None."""
    owners = [n for n in figures if stem == n or stem.startswith(n + "_")]
    return max(owners, key=len) if owners else None


def _figures(figures_dir: Path) -> dict[str, dict[str, Any]]:
    """Every figure (``NAME.png``) in ``figures_dir``: its ``name``, the CSVs it was drawn
    from (``data``), its run's ``manifest`` (or None) and its ``caption``."""
    names = sorted(p.stem for p in _visible(figures_dir, "*.png"))
    data: dict[str, list[str]] = {n: [] for n in names}
    for csv in sorted(_visible(figures_dir, "*.csv")):
        if (figure := owner(csv.stem, names)) is not None:
            data[figure].append(csv.name)
    manifests: dict[str, str] = {}
    for path in sorted(_visible(figures_dir, "*.manifest.json")):
        try:
            listed = json.loads(path.read_text(encoding="utf-8")).get("figures", [])
        except ValueError as error:
            raise SiteError(f"{shown(path)}: not JSON ({error})") from None
        for name in listed:
            manifests.setdefault(name, path.name)
    figures = {}
    for name in names:
        caption = read_caption(figures_dir, name)
        _check_generated(caption, shown(caption_path(figures_dir, name)), "figures.md")
        figures[name] = {"name": name, "data": data[name], "manifest": manifests.get(name),
                         "caption": caption}  # fmt: skip
    return figures


# --- generated text: literal syntax, and no link out of the site --------------------------


def _leaves_the_site(target: str, page: str) -> str | None:
    """Why a link or image ``target`` on ``page`` (a path in the site) is refused, or None."""
    parts = urlsplit(target)
    if parts.scheme:
        return None if parts.scheme in LINK_SCHEMES else f"a {parts.scheme}: link ({target!r})"
    if not parts.path:
        return None  # an anchor on the same page
    path = unquote(parts.path)
    # a leading "/" is the site's root for Sphinx, else the page's folder
    inside = (
        path.lstrip("/") if path.startswith("/") else posixpath.join(posixpath.dirname(page), path)
    )
    if posixpath.normpath(inside).split("/")[0] == "..":
        return f"a link to {target!r}, outside the site"
    return None


def _check_generated(text: str, where: str, page: str) -> None:
    """Refuse generated ``text`` (from ``where``, shown on ``page``) whose links or images
    leave the site (Sphinx would copy the file they name into it)."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    parser = create_md_parser(MdParserConfig(disable_syntax=list(LITERAL_SYNTAX)), RendererHTML)
    line = 1
    for block in parser.parse(text):
        line = block.map[0] + 1 if block.map else line
        for token in [block, *(block.children or ())]:
            attribute = {"link_open": "href", "image": "src"}.get(token.type)
            target = token.attrGet(attribute) if attribute else None
            problem = _leaves_the_site(str(target), page) if target is not None else None
            if problem:
                raise SiteError(
                    f"{where}, line {line}: {problem}; generated text may link only to the "
                    "site's own pages and files"
                )


# --- the pages --------------------------------------------------------------------------------


def _pages(sources: Sources) -> dict[str, str]:
    """The generated pages (``templates/site.md.j2``): ``index.md``, ``figures.md``,
    ``readings.md``; each figure under the first notebook whose manifest names it."""
    figures = _figures(sources.figures)
    written = figures_by_notebook(sources.figures)
    sections: list[tuple[str, Path | None, list[dict[str, Any]]]] = []
    placed: set[str] = set()
    for path in sources.notebooks:
        names = [n for n in written.get(path.name, []) if n in figures and n not in placed]
        if names:
            placed.update(names)
            sections.append((_title(path), path, [figures[n] for n in names]))
    others = [figure for name, figure in figures.items() if name not in placed]
    if others:
        sections.append(("Other figures", None, others))
    pages = template_module("site")
    common = {"front": LITERAL_FRONT_MATTER, "quick": sources.quick}
    return {
        "index.md": pages.index(
            version=dnnsplit.__version__,
            quick=sources.quick,
            figures=len(figures),
            documents=[(_title(p), p) for p in sources.documents],
            notebooks=[(_title(p), p) for p in sources.notebooks],
        ),
        "figures.md": pages.figures(sections=sections, **common),
        "readings.md": pages.readings(map=figures.get("readings"), **common),
    }


def _asshown(path: Path) -> Any:
    """The executed notebook at ``path`` as JupyterLab shows it (nbconvert coalesces its
    streams: a progress bar shows its last state), its Markdown outputs checked and
    :data:`LITERAL_SYNTAX` in its metadata."""
    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    notebook = nbformat.read(path, as_version=4)
    notebook, _ = CoalesceStreamsPreprocessor().preprocess(notebook, {})
    for number, cell in enumerate(notebook.cells, 1):
        for output in cell.get("outputs", []):
            markdown = output.get("data", {}).get("text/markdown")
            if markdown is not None:
                where = f"{shown(path)}, cell {number}'s output"
                _check_generated(str(markdown), where, f"notebooks/{path.name}")
    notebook.metadata["myst"] = {"disable_syntax": list(LITERAL_SYNTAX)}
    return notebook


def _stage(sources: Sources, folder: Path) -> None:
    """Lay out the sources for Sphinx in ``folder`` as in the repository, so that the
    report's and notebooks' relative links resolve."""
    import nbformat

    for name, text in _pages(sources).items():
        (folder / name).write_text(text, encoding="utf-8")
    report = sources.report.read_text(encoding="utf-8")
    _check_generated(report, shown(sources.report), "REPRODUCTION.md")
    (folder / "REPRODUCTION.md").write_text(LITERAL_FRONT_MATTER + report, encoding="utf-8")
    (folder / "docs").mkdir()
    for path in sources.documents:
        shutil.copyfile(path, folder / "docs" / path.name)
    (folder / "notebooks").mkdir()
    for path in sources.notebooks:
        nbformat.write(_asshown(path), folder / "notebooks" / path.name)
    (folder / "figures").mkdir()
    for pattern in ("*.png", "*.pdf", "*.csv", "*.manifest.json"):
        for path in _visible(sources.figures, pattern):
            shutil.copyfile(path, folder / "figures" / path.name)
    # the report links its figures from where it sits, notebook 07 from notebooks/: a quick
    # run's (build/quick/, beside its report) are shown from there too
    for relative in {os.path.relpath(sources.figures, sources.report.parent),
                     os.path.relpath(sources.figures, ROOT)}:  # fmt: skip
        place = (folder / relative).resolve()
        if place.is_relative_to(folder.resolve()) and place != (folder / "figures").resolve():
            place.mkdir(parents=True, exist_ok=True)
            for path in _visible(sources.figures, "*.png"):
                shutil.copyfile(path, place / path.name)
    (folder / "_static").mkdir()
    (folder / "_static" / "site.css").write_text(SITE_CSS, encoding="utf-8")
    config = "".join(f"{key} = {value!r}\n" for key, value in SPHINX_CONFIG.items())
    (folder / "conf.py").write_text(config, encoding="utf-8")
    (folder / "docutils.conf").write_text(DOCUTILS_CONF, encoding="utf-8")


# --- the built pages: every link and image resolves, nothing loads from the network ------


class _Page(html.parser.HTMLParser):
    """The links, loaded resources (scripts, style sheets, images) and ids of a page."""

    #: The attribute of each tag that names a link (``a``) or a loaded resource.
    URLS: ClassVar[dict[str, str]] = {"a": "href", "img": "src", "script": "src", "link": "href"}

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.links: list[str] = []
        self.resources: list[str] = []
        self.ids: set[str] = set()
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if url := values.get(self.URLS.get(tag, "")):
            (self.links if tag == "a" else self.resources).append(url)


def _link_problems(built: Path) -> list[str]:
    """Every link or image of the built site that points at no file (or no element of
    its page), and every resource a page would load from the network."""
    problems: list[str] = []
    ids = functools.cache(lambda path: _Page(path).ids)
    # the site's pages, not the theme's templates among its static files
    pages = [p for p in built.rglob("*.html") if "_static" not in p.relative_to(built).parts]
    for page_path in sorted(pages):
        page = _Page(page_path)
        name = page_path.relative_to(built).as_posix()
        for url in page.resources:
            parts = urlsplit(url)
            if parts.scheme not in ("", "data"):
                problems.append(f"{name}: loads {url} from the network")
            elif parts.path and not (page_path.parent / unquote(parts.path)).is_file():
                problems.append(f"{name}: no file for {url}")
        for url in page.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("mailto:"):
                continue  # links out: a reader follows them or not
            target = (page_path.parent / unquote(parts.path)).resolve() if parts.path else page_path
            if not target.exists():
                problems.append(f"{name}: broken link {url}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in ids(target):
                problems.append(f"{name}: no #{parts.fragment} in {url}")
    return problems


def build_site(out: str | os.PathLike[str], sources: Sources) -> Path:
    """Build the static site from ``sources`` into ``out`` and return ``out``; the old site
    is replaced only by a whole new one.

    Raises
    ------
    SiteError
        A manifest is not JSON, generated text links outside the site, Sphinx warned, or a
        built page links to no file; the message names each.
    """
    out = Path(out)
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
        problems = _link_problems(built)
        if problems:
            raise SiteError("the built site has broken links:\n" + "\n".join(problems))
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


def build_after_run(quick: bool, out: str | os.PathLike[str] | None = None) -> int:
    """Build the site of the last run and say where it is; the exit status (1: not built).
    ``out`` (``python -m dnnsplit.paper.site --out``): there, not in ``build/site/`` (with
    ``quick``: ``build/quick/site/``), saying only where."""
    began, run_all = time.perf_counter(), out is None
    try:
        if quick:
            built = build_site(out or QUICK_SITE_DIR,
                               Sources(QUICK_DIR, QUICK_DIR / "REPRODUCTION.md", quick=True))
        else:
            built = build_site(out or SITE_DIR, Sources())
    except SiteError as error:
        said = "run_all: the site was not built (the figures and report are)" if run_all else "site"
        print(f"{said}: {error}", file=sys.stderr)
        return 1
    said = f"Site: {shown(built / 'index.html')}"
    if run_all:
        said += f" (built in {time.perf_counter() - began:.0f} s; open it in a browser, it "
        said += "needs no network)"
    print(said)
    return 0


#: Exit status of ``python -m dnnsplit.paper.site`` on Ctrl-C.
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dnnsplit.paper.site [--quick] [--out DIR]``: rebuild the site from the
    files the last ``./run_all.sh`` left. Exit status 0; 1 when it could not be built;
    130 on Ctrl-C (the old site is kept)."""
    parser = argparse.ArgumentParser(
        prog="python -m dnnsplit.paper.site",
        description="Build the static site of the results from the last run's files.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="from the last quick run (build/quick/)"
    )
    parser.add_argument("--out", default=None, help="where to write it (default: build/site/)")
    args = parser.parse_args(argv)
    try:
        return build_after_run(args.quick, args.out)
    except KeyboardInterrupt:
        print("site: interrupted; the old site is kept", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
