"""Every quotation the artifact prints is the paper's words, verbatim up to whitespace and
quotation marks, with ``...`` only where words are left out.

The paper's text is not part of the repository (it is not ours to copy): the test reads it
from ``$DNNSPLIT_PAPER_TEXT``, or from ``shared/paper/`` beside the checkout where the
project's CI keeps it, and is skipped, visibly, where neither is present. What stands in
curly quotation marks (“...”) anywhere the artifact writes for readers (the claims and
readings data, REPRODUCTION.md, the README, docs/, captions, notebooks' prose) is checked.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path

import pytest

from dnnsplit.paper.claims import CLAIMS, NETWORKS, READINGS
from dnnsplit.paths import ROOT

PAPER_NAME = "kafetzis-koutsopoulos.md"


def _paper_path() -> Path | None:
    given = os.environ.get("DNNSPLIT_PAPER_TEXT")
    candidates = [Path(given)] if given else []
    candidates.append(ROOT.parent / "shared" / "paper" / PAPER_NAME)
    return next((p for p in candidates if p.is_file()), None)


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for mark in ('"', "“", "”", "‘", "’", "`"):
        text = text.replace(mark, "'")
    text = text.replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.fixture(scope="module")
def paper() -> str:
    path = _paper_path()
    if path is None:
        pytest.skip(
            "the paper's text is absent: set DNNSPLIT_PAPER_TEXT to "
            f"{PAPER_NAME} (the project's CI has it beside the checkout)"
        )
    # LaTeX math becomes a gap: a quote may leave it out with '...', never invent it
    words = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " | ", path.read_text(encoding="utf-8"), flags=re.S)
    return _normal(words)


def _fragments(quote: str) -> list[str]:
    """The runs of words between omissions (``...`` or ``…``)."""
    return [f for f in re.split(r"\s*(?:\.\.\.|…)\s*", quote) if len(f.strip(" .,;:")) >= 3]


def _verbatim(quote: str, paper: str) -> bool:
    return all(_normal(f).strip(" .,;:") in paper for f in _fragments(quote))


def _data_quotes() -> list[tuple[str, str]]:
    return [(f"claim {c.id}", c.quote.text) for c in CLAIMS] + [
        (f"reading {r.id}", quote.text)
        for r in (*READINGS, *NETWORKS)
        for quote in (*r.support.for_, *r.support.against)
    ]


@pytest.mark.parametrize(("where", "quote"), _data_quotes(), ids=lambda v: str(v)[:40])
def test_every_quote_in_the_data_is_the_papers_words(paper, where, quote):
    assert _verbatim(quote, paper), f"{where}: not the paper's words: {quote!r}"


def _printed() -> list[tuple[str, str]]:
    files = [
        ROOT / "REPRODUCTION.md",
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "figures").glob("*.caption.md")),
    ]
    texts = [(f.relative_to(ROOT).as_posix(), f.read_text(encoding="utf-8")) for f in files]
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        texts.append((notebook.relative_to(ROOT).as_posix(), prose))
    return [(name, quote) for name, text in texts for quote in re.findall(r"“([^”]{8,})”", text)]


def test_every_quotation_printed_for_readers_is_the_papers_words(paper):
    printed = _printed()
    assert any(name == "REPRODUCTION.md" for name, _ in printed)
    wrong = [(name, quote) for name, quote in printed if not _verbatim(quote, paper)]
    assert not wrong, "not the paper's words:\n" + "\n".join(f"{n}: “{q}”" for n, q in wrong)


def test_the_checker_refuses_a_paraphrase(paper):
    good = "The greedy algorithm in almost all cases finds the optimal solution."
    assert _verbatim(good, paper)
    assert _verbatim("The greedy algorithm ... finds the optimal solution", paper)
    assert not _verbatim(
        "the greedy's variance is within 2.4% of the optimal (exhaustive search)", paper
    )
