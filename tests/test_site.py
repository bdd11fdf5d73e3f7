"""The static site of the results (``build/site/``, :mod:`dnnsplit.paper.site`).

Built from the committed figures, report and documents, and from a hand-made executed
notebook (outputs of every kind a real one has: a progress bar, a table, a figure, a
Markdown table), in a temporary folder; then read as files (every page, every link and
image resolves, nothing is fetched from the network) and, where Chromium is installed,
loaded page by page in headless Chromium. A site built from a hostile profile (its fields
carry HTML, directives and roles) shows them as text.
"""

from __future__ import annotations

import base64
import html.parser
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pandas as pd
import pytest

from dnnsplit.paper import output, runner
from dnnsplit.paths import FIGURES_DIR, MEASUREMENTS_DIR, NOTEBOOKS_DIR, REPORT_PATH, ROOT
from headless import chromium, needs_chromium, network

pytest.importorskip("myst_nb", reason="the site needs the notebooks extra (sphinx, myst-nb)")
site = pytest.importorskip("dnnsplit.paper.site")

DOCS = ROOT / "docs"
NETWORK_SCHEMES = ("http", "https", "ws", "wss", "ftp")
CAPTION = "A hand-written caption of fig4, with a *Markdown* emphasis."
#: A notebook's Markdown output: a table, and a link relative to the notebook.
MARKDOWN = (
    "| claim | verdict |\n|---|---|\n| from a Markdown output | reproduced |\n\n"
    "See [the model](../docs/model.md).\n"
)


def executed_notebook(
    path: Path, *, quick: bool = False, figure: str = "fig4", markdown: str = MARKDOWN
) -> Path:
    """An executed notebook as papermill leaves it: parameters recorded in its metadata, a
    progress bar written in steps, a table, a figure drawn (the PNG of ``figure``), and a
    Markdown output (as ``IPython.display.Markdown`` leaves it: notebook 07's report)."""
    png = base64.b64encode((FIGURES_DIR / f"{figure}.png").read_bytes()).decode()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {"parameters": {"quick": quick, "output_dir": "figures"}}
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3 (ipykernel)"}  # fmt: skip
    notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            f"# A notebook that draws {figure}\n\nSee [the model](../docs/model.md)."
        ),
        nbformat.v4.new_code_cell(
            "rows = sweeps.points()",
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="grid:   0%| 0/2\r"),
                nbformat.v4.new_output("stream", name="stdout", text="grid: 100%| 2/2\n"),
                nbformat.v4.new_output(
                    "execute_result",
                    data={
                        "text/html": "<table><tr><th>N</th></tr><tr><td>3</td></tr></table>",
                        "text/plain": "N\n3",
                    },
                    execution_count=1,
                ),
            ],
            execution_count=1,
        ),
        nbformat.v4.new_code_cell(
            f'fig = plots.draw(summary)\noutput.save_figure(fig, "{figure}", {{}}, output_dir)',
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"image/png": png, "text/plain": "<Figure>"}
                )
            ],
            execution_count=2,
        ),
        nbformat.v4.new_code_cell(
            "Markdown(report)",
            outputs=[
                nbformat.v4.new_output(
                    "execute_result",
                    data={"text/markdown": markdown, "text/plain": "<Markdown>"},
                    execution_count=3,
                )
            ],
            execution_count=3,
        ),
    ]
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> site.Sources:
    """The committed figures (one with a caption file), report and documents, and two
    executed notebooks."""
    root = tmp_path_factory.mktemp("sources")
    figures = root / "figures"
    shutil.copytree(FIGURES_DIR, figures)
    (figures / "fig4.caption.md").write_text(CAPTION + "\n")
    executed = root / "notebooks"
    executed.mkdir()
    executed_notebook(executed / "01_profiles.ipynb")
    executed_notebook(executed / "06_readings.ipynb", figure="readings")
    return site.Sources(figures=figures, report=REPORT_PATH, executed=executed, docs=DOCS)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> site.Sources:
    """A small run's files (one figure, a short report with its verdict table, one
    document), for the tests of how the site is built, which need no full build."""
    root = tmp_path_factory.mktemp("small")
    (root / "figures").mkdir()
    for name in ("fig4.png", "fig4.pdf", "fig4.csv"):
        shutil.copyfile(FIGURES_DIR / name, root / "figures" / name)
    (root / "REPRODUCTION.md").write_text(SMALL_REPORT)
    (root / "docs").mkdir()
    (root / "docs" / "model.md").write_text("# The model\n\n## The memory rule\n\nText.\n")
    (root / "notebooks").mkdir()
    executed_notebook(root / "notebooks" / "01_profiles.ipynb")
    return site.Sources(root / "figures", root / "REPRODUCTION.md", root / "notebooks",
                        root / "docs")  # fmt: skip


SMALL_REPORT = (
    "# Reproduction report\n\nSee [the model](docs/model.md).\n\n"
    "| claim | verdict |\n|---|---|\n| one | reproduced |\n"
)


@pytest.fixture(scope="module")
def built(sources, tmp_path_factory) -> Path:
    return site.build_site(tmp_path_factory.mktemp("site") / "site", sources)


class Page(html.parser.HTMLParser):
    """The links, images, scripts, style sheets and element ids of one HTML page."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.resources: list[str] = []  # what the page loads: scripts, styles, images
        self.ids: set[str] = set()
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
            self.resources.append(attrs["src"])
        elif tag == "script" and attrs.get("src"):
            self.resources.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.resources.append(attrs["href"])


def pages(built: Path) -> list[Path]:
    """The site's pages (not the theme's templates among its static files)."""
    return sorted(p for p in built.rglob("*.html") if "_static" not in p.relative_to(built).parts)


def target(page: Path, url: str) -> tuple[Path, str]:
    parts = urlsplit(url)
    path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    return path, parts.fragment


# --- what the site holds ----------------------------------------------------------------


def test_the_site_has_the_report_figures_readings_every_document_and_notebook(built, sources):
    documents = [f"docs/{p.stem}" for p in sorted(DOCS.glob("*.md"))]
    assert "docs/model" in documents and len(documents) >= 3
    for name in ("index", "REPRODUCTION", "figures", "readings", *documents,
                 "notebooks/01_profiles", "notebooks/06_readings"):  # fmt: skip
        assert (built / f"{name}.html").is_file(), name
    report = (built / "REPRODUCTION.html").read_text()
    assert "Does the paper hold?" in report and "reproduced" in report
    assert "The memory rule" in (built / "docs" / "model.html").read_text()
    index = Page(built / "index.html")
    for name in ("REPRODUCTION", "figures", "readings", *documents,
                 "notebooks/01_profiles", "notebooks/06_readings"):  # fmt: skip
        assert f"{name}.html" in index.links, name


def test_every_figure_is_shown_with_its_caption_and_links_to_its_csvs(built, sources):
    figures = sorted(p.stem for p in sources.figures.glob("*.png"))
    page = Page(built / "figures.html")
    shown = [Path(src).stem for src in page.images]
    assert sorted(shown) == figures  # each figure once, and nothing else
    for src in page.images:
        assert (built / src).is_file()
    text = (built / "figures.html").read_text()
    assert "hand-written caption of fig4, with a <em>Markdown</em> emphasis" in text
    linked = {Path(unquote(href)).name for href in page.links}
    for csv in sources.figures.glob("*.csv"):
        assert csv.name in linked, csv.name
    for name in figures:
        assert f"{name}.pdf" in linked
    assert {"fig3.manifest.json", "fig5.manifest.json"} <= linked
    # the figures a notebook saves come under it, in its order; the others after
    assert text.index("A notebook that draws fig4") < text.index('id="fig4"')
    assert text.index('id="readings"') < text.index('id="other-figures"') < text.index('id="fig3a"')
    readings = Page(built / "readings.html")
    assert [Path(s).name for s in readings.images] == ["readings.png"]
    assert "readings.csv" in {Path(unquote(h)).name for h in readings.links}


def test_a_downloaded_csv_is_the_figure_s_csv(built, sources):
    page = Page(built / "figures.html")
    href = next(h for h in page.links if unquote(h).endswith("/fig3a_summary.csv"))
    path, _ = target(built / "figures.html", href)
    assert path.read_bytes() == (sources.figures / "fig3a_summary.csv").read_bytes()


def test_executed_notebooks_show_their_outputs_as_jupyterlab_does(built):
    page = Page(built / "notebooks" / "01_profiles.html")
    assert len(page.images) == 1 and (built / "notebooks" / page.images[0]).resolve().is_file()
    text = (built / "notebooks" / "01_profiles.html").read_text()
    assert "grid: 100%| 2/2" in text and "grid:   0%" not in text  # the bar's last state
    assert "<td>3</td>" in text
    assert "../docs/model.html" in page.links


def test_a_notebook_s_markdown_output_renders_as_markdown_with_its_links_checked(built):
    """Notebook 07 shows the report as a Markdown output: its tables are tables, and its
    links resolve on the site like the notebook's own (one pointing nowhere fails the
    build: test_a_broken_link_in_a_notebook_s_output_fails_the_build)."""
    text = (built / "notebooks" / "01_profiles.html").read_text()
    assert "<td><p>from a Markdown output</p></td>" in text and "| claim |" not in text
    article = Article(built / "notebooks" / "01_profiles.html")
    links = [attrs.get("href") for tag, attrs in article.tags if tag == "a"]
    assert links.count("../docs/model.html") == 2, links  # the cell's, and the output's


def test_every_internal_link_resolves_and_nothing_comes_from_the_network(built):
    checked = 0
    for page_path in pages(built):
        page = Page(page_path)
        for url in page.resources:
            assert urlsplit(url).scheme in ("", "data"), f"{page_path.name} loads {url}"
            if not url.startswith("data:"):
                assert target(page_path, url)[0].is_file(), f"{page_path.name}: {url}"
        for url in page.links:
            if urlsplit(url).scheme or url.startswith("mailto:"):
                continue  # links out (none is loaded; a reader follows them or not)
            path, fragment = target(page_path, url)
            assert path.exists(), f"{page_path.relative_to(built)}: broken link {url}"
            if fragment and path.suffix == ".html":
                assert fragment in Page(path).ids, f"{page_path.name}: no #{fragment} in {url}"
            checked += 1
    assert checked > 100


def test_the_site_has_no_path_of_this_machine(built, sources):
    for page_path in pages(built):
        text = page_path.read_text(encoding="utf-8")
        assert str(sources.figures.parent) not in text and str(built) not in text


# --- how it is built ------------------------------------------------------------------------


def test_every_committed_figure_is_saved_by_a_notebook_its_manifest_names():
    """The figures page groups figures under the notebook that saves them, as the run's
    manifest records it: each committed figure must be found, under a notebook that is."""
    written = output.figures_by_notebook(FIGURES_DIR)
    saved = {n for names in written.values() for n in names}
    assert {p.stem for p in FIGURES_DIR.glob("*.png")} <= saved
    assert set(written) <= {p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")}


def test_a_quick_run_s_site_says_so_on_every_generated_page(small, tmp_path):
    """... and the report's page shows the report as it is, its verdict table first after
    its own heading and paragraph, no preamble before it."""
    executed = tmp_path / "notebooks"
    executed.mkdir()
    executed_notebook(executed / "00_quick.ipynb", quick=True)
    quick = site.Sources(small.figures, small.report, executed, small.docs, quick=True)
    out = site.build_site(tmp_path / "site", quick)
    for name in ("index", "figures", "readings"):
        assert "QUICK RUN" in (out / f"{name}.html").read_text()
    article = Article(out / "REPRODUCTION.html")
    assert article.blocks[:3] == ["h1", "p", "table"], article.blocks


def test_a_report_beside_its_figures_shows_them(tmp_path):
    """A quick run's report sits in its figures' folder (``build/quick/``) and links them
    from there (``fig4.png``): the site shows the image, it does not fail the build."""
    run = tmp_path / "quick"
    run.mkdir()
    for name in ("fig4.png", "fig4.pdf", "fig4.csv"):
        shutil.copyfile(FIGURES_DIR / name, run / name)
    (run / "REPRODUCTION.md").write_text(SMALL_REPORT + "\n![figures/fig4.png](fig4.png)\n")
    executed = tmp_path / "notebooks"
    executed.mkdir()
    executed_notebook(executed / "00_quick.ipynb", quick=True)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "model.md").write_text("# The model\n")
    out = site.build_site(tmp_path / "site", site.Sources(run, run / "REPRODUCTION.md",
                                                          executed, docs, quick=True))
    images = Page(out / "REPRODUCTION.html").images
    assert images and all(target(out / "REPRODUCTION.html", i)[0].exists() for i in images)


class Article(html.parser.HTMLParser):
    """The blocks (headings, paragraphs, tables, ...) of a page's article in order, its
    elements (tag, attributes) and its text as a reader sees it."""

    BLOCKS = frozenset({"h1", "h2", "h3", "p", "table", "pre", "ul", "ol", "blockquote", "img"})

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.depth = 0  # inside <article>, and how deep inside a block
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.tags.append((tag, dict(attrs)))
        if tag == "article":
            self.depth = 1
        elif self.depth == 1 and tag in self.BLOCKS:
            self.blocks.append(tag)
            self.depth = 2
        elif self.depth >= 2:
            self.depth += tag not in ("img", "br", "hr", "input", "meta", "link")

    def handle_endtag(self, tag):
        if tag == "article":
            self.depth = 0
        elif self.depth >= 2:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def test_notebooks_of_another_kind_of_run_are_refused(sources, tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    executed_notebook(executed / "00_quick.ipynb", quick=True)
    with pytest.raises(site.SiteError, match=r"00_quick.ipynb was executed by a quick run"):
        site.Sources(sources.figures, sources.report, executed, DOCS)


def test_an_interrupted_run_s_hidden_partial_notebook_is_not_a_page(sources, tmp_path):
    """An interrupted run leaves ``.NAME.PID.partial.ipynb`` beside the executed notebooks
    (of the other kind of run, here): it is not read, listed or refused."""
    executed = tmp_path / "notebooks"
    shutil.copytree(sources.executed, executed)
    executed_notebook(executed / ".10_online.3059.partial.ipynb", quick=True)
    assert [path.name for path in site.Sources(sources.figures, sources.report, executed,
            DOCS).notebooks] == [path.name for path in sources.notebooks]  # fmt: skip


@pytest.mark.parametrize("missing", ["figures", "report", "executed", "docs"])
def test_a_missing_input_is_named(sources, tmp_path, missing):
    given = {"figures": sources.figures, "report": sources.report,
             "executed": sources.executed, "docs": DOCS}  # fmt: skip
    given[missing] = tmp_path / "nothing"
    with pytest.raises(site.SiteError, match=f"^{missing}: no "):
        site.Sources(**given)


def test_a_broken_link_fails_the_build_naming_it_and_keeps_the_old_site(small, built, tmp_path):
    out = tmp_path / "site"
    shutil.copytree(built, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    report = tmp_path / "REPRODUCTION.md"
    report.write_text(small.report.read_text() + "\nSee [the missing page](docs/nothing.md).\n")
    broken = site.Sources(small.figures, report, small.executed, small.docs)
    with pytest.raises(site.SiteError, match=r"(?s)REPRODUCTION.md.*docs/nothing"):
        site.build_site(out, broken)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPRODUCTION.md", "site"]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        # notebook 07 before the fix: the report's links, relative to the repository
        ({"text/markdown": "See [the model](docs/model.md)."}, r"01_profiles.ipynb.*docs/model"),
        # an HTML output: Sphinx does not look inside it, the check of the built pages does
        ({"text/html": '<a href="../nothing.html">x</a>'}, r"01_profiles.html: broken link"),
    ],
)
def test_a_broken_link_in_a_notebook_s_output_fails_the_build(small, tmp_path, data, said):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    notebook = nbformat.read(executed_notebook(executed / "01_profiles.ipynb"), as_version=4)
    notebook.cells[-1].outputs = [nbformat.v4.new_output("display_data", data=data)]
    nbformat.write(notebook, executed / "01_profiles.ipynb")
    with pytest.raises(site.SiteError, match=f"(?s){said}"):
        site.build_site(tmp_path / "site", site.Sources(small.figures, small.report, executed,
                                                        small.docs))  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notebooks"]


# --- data is never markup ---------------------------------------------------------------------

#: A secret of this test that no page may show: the hostile profile asks to include it.
SECRET = "the-secret-a-hostile-profile-wants-9f2c"
PWNED = "pwned-by-a-profile"


def hostile_fields(secret: Path) -> dict[str, str]:
    """A profile's provenance fields that carry a script, an element with an event
    handler, an HTML block, a raw HTML directive, an include directive and a role."""
    return {
        "hardware": f'Pi <script>document.title="{PWNED}"</script>'
        f' <img src="x" onerror="document.title=\'{PWNED}\'">',
        "source": f'an estimate\n\n<div id="injected-block" onclick="x">\nan HTML block\n'
        f'</div>\n\n```{{raw}} html\n<b id="injected-raw">raw</b>\n```\n\n'
        f"```{{include}} {secret}\n```\n",
        "framework": f"{{download}}`{secret}` and {{raw}}`<i id='injected-role'>`",
    }


@pytest.fixture(scope="module")
def hostile(small, tmp_path_factory) -> tuple[Path, Path]:
    """A site built from a run whose profile is hostile: its caption (made by the caption
    code from the profile), its report and a notebook's Markdown output carry the fields.
    Returns the site and the secret file."""
    from matplotlib.figure import Figure

    from dnnsplit.paper import captions, output

    root = tmp_path_factory.mktemp("hostile")
    secret = root / "secret.txt"
    secret.write_text(SECRET + "\n")
    profile = pd.read_csv(MEASUREMENTS_DIR / "alexnet-pi3b-estimated.csv")
    fields = hostile_fields(secret)
    for column, value in fields.items():
        profile[column] = value
    profile.to_csv(root / "hostile.csv", index=False)
    caption = captions.profiles_caption([str(root / "hostile.csv")])
    assert fields["hardware"] in captions.text(caption, full=True) or "\\<script" in (
        captions.text(caption, full=True)
    )  # the caption carries the field (escaped or not)
    figures = root / "figures"
    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    output.save_figure(figure, "fig4", {"": pd.DataFrame({"x": [0]})}, figures, caption=caption)
    text = "\n\n".join(fields.values())
    (root / "REPRODUCTION.md").write_text(f"# Reproduction report\n\nProfile: {text}\n")
    (root / "notebooks").mkdir()
    executed_notebook(root / "notebooks" / "01_profiles.ipynb", markdown=text)
    sources = site.Sources(figures, root / "REPRODUCTION.md", root / "notebooks", small.docs)
    return site.build_site(root / "site", sources), secret


def test_a_hostile_profile_s_fields_are_shown_as_text_never_run_or_included(hostile):
    built, secret = hostile
    for path in built.rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
    everything = ("<script>document.title", "onerror=", "an HTML block", "{raw} html",
                  "{include}", "{download}")  # fmt: skip
    # the caption names the profile's hardware and refers to its entry for the rest
    for name, words_shown in (("figures", everything[:2]), ("REPRODUCTION", everything),
                              ("notebooks/01_profiles", everything)):  # fmt: skip
        article = Article(built / f"{name}.html")
        shown = " ".join("".join(article.text).split())
        for words in words_shown:
            assert words in shown.replace("\\", ""), f"{name}: {words!r} not shown"
        for tag, attrs in article.tags:
            assert not (tag == "script" and PWNED in str(attrs)), name
            assert not any(k.startswith("on") for k in attrs), f"{name}: <{tag} {attrs}>"
            assert attrs.get("id", "") not in ("injected-block", "injected-raw", "injected-role")
            assert secret.name not in attrs.get("href", ""), f"{name}: links the secret"
        assert PWNED not in "".join(
            data for tag, data in Scripts(built / f"{name}.html").scripts
        ), name


class Scripts(html.parser.HTMLParser):
    """The scripts of a page, with their text."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.scripts: list[tuple[str, str]] = []
        self.inside = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        self.inside = tag == "script"
        if self.inside:
            self.scripts.append((tag, ""))

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.scripts[-1] = (self.scripts[-1][0], self.scripts[-1][1] + data)


@pytest.mark.parametrize(
    ("where", "text", "said"),
    [
        ("caption", "[the host](../../../../../../../etc/hostname)",
         r"fig4.caption.md, line 1: a link to '../../[./]*etc/hostname', outside"),
        ("caption", "line one\n\n![an image](/../../etc/hostname)",
         r"fig4.caption.md, line 3: a link to '/../../etc/hostname', outside"),
        ("report", "# Report\n\nSee [the host](../etc/hostname).",
         r"REPRODUCTION.md, line 3: a link to '../etc/hostname', outside"),
        ("report", "# Report\n\n<ssh://host/etc/hostname>", r"REPRODUCTION.md, line 3: a ssh: link"),
        ("notebook", "[x](../../etc/hostname)",
         r"01_profiles.ipynb, cell 4's output, line 1: a link to '../../etc/hostname', outside"),
    ],
)  # fmt: skip
def test_generated_text_that_links_out_of_the_site_is_refused_naming_the_file(
    small, tmp_path, where, text, said
):
    """Sphinx copies the file a link names into the site (a download): a link of generated
    text to a file outside the site is refused before Sphinx runs."""
    figures, report, executed = tmp_path / "figures", tmp_path / "REPRODUCTION.md", tmp_path / "nb"
    shutil.copytree(small.figures, figures)
    shutil.copyfile(small.report, report)
    executed.mkdir()
    if where == "caption":
        (figures / "fig4.caption.md").write_text(text)
    elif where == "report":
        report.write_text(text)
    executed_notebook(
        executed / "01_profiles.ipynb", markdown=text if where == "notebook" else MARKDOWN
    )
    with pytest.raises(site.SiteError, match=said):
        site.build_site(tmp_path / "site", site.Sources(figures, report, executed, small.docs))
    assert not (tmp_path / "site").exists()


def test_run_all_builds_the_site_after_a_full_run_unless_told_not_to(monkeypatch):
    """The runner's last step (the notebooks themselves are not run here); --site builds
    only the site."""
    calls, ran = [], []
    monkeypatch.setattr(runner, "_run", lambda chosen, quick, at_once: ran.append(quick) or 0)
    monkeypatch.setattr(runner, "changed_notebooks", lambda chosen: [])
    monkeypatch.setattr(site, "build_after_run", lambda quick: calls.append(quick) or 0)
    for argv, expected in (([], [False]), (["--quick"], [True]), (["--no-site"], []),
                           (["--only", "00"], []), (["--quick", "--no-site"], []),
                           (["--site"], [False]), (["--site", "--quick"], [True])):  # fmt: skip
        calls.clear()
        ran.clear()
        assert runner.main(["--workers", "1", *argv]) == 0
        assert calls == expected, argv
        assert len(ran) == (0 if "--site" in argv else 1), argv
    monkeypatch.setattr(site, "build_after_run", lambda quick: 1)
    assert runner.main(["--workers", "1"]) == 1


# --- in a browser ---------------------------------------------------------------------------


@pytest.mark.browser
@needs_chromium
def test_every_page_loads_offline_in_chromium_with_every_image(built, tmp_path):
    """Each page opened from disk in headless Chromium: it loads, it requests nothing
    but local files, none of which fails, and every image has a size."""
    with chromium(tmp_path / "profile") as driver:
        network(driver)  # what the browser loaded for its own start page
        for page_path in pages(built):
            driver.get(page_path.as_uri())
            assert driver.execute_script("return document.readyState") == "complete"
            assert driver.title, page_path
            images = driver.execute_script(
                "return Array.from(document.images).map("
                "i => [i.currentSrc, i.complete, i.naturalWidth])"
            )
            for src, complete, width in images:
                assert complete and width > 0, f"{page_path.name}: broken image {src}"
            requested, failed = network(driver, page=page_path.as_uri())
            outside = [u for u in requested if urlsplit(u).scheme in NETWORK_SCHEMES]
            assert not outside, f"{page_path.name} requested {outside}"
            assert not failed, f"{page_path.name}: {failed}"
            links = driver.execute_script(
                "return Array.from(document.links).map(a => a.href)"
                ".filter(h => h.startsWith('file:'))"
            )
            for href in links:
                path = Path(unquote(urlsplit(href).path))
                assert path.exists(), f"{page_path.name}: broken link {href}"


@pytest.mark.browser
@needs_chromium
def test_a_hostile_profile_runs_nothing_in_chromium(hostile, tmp_path):
    """The hostile site's pages in a browser: no script of the profile ran (it would set
    the page's title), no element it carried exists."""
    built, _ = hostile
    injected = "[onerror], [onclick], #injected-block, #injected-raw, #injected-role"
    with chromium(tmp_path / "profile") as driver:
        for name in ("figures", "REPRODUCTION", "notebooks/01_profiles"):
            driver.get((built / f"{name}.html").as_uri())
            assert PWNED not in driver.title, name
            found = driver.execute_script(f"return document.querySelectorAll({injected!r}).length")
            assert found == 0, name
