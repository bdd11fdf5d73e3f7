"""The words of the report: Jinja2 templates (``templates/*.md.j2``) filled from the numbers.

What to say is decided in Python, by the study that owns the numbers; how it is said lives in
the templates, and a number never sits in one. Tables are pandas'
:meth:`~pandas.DataFrame.to_markdown`. Text from a data file (a profile, a CSV field, a
manifest) passes the ``data`` filter (:func:`escape`): data is never markup.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["cases", "escape", "percent", "render", "slug", "table", "template_module"]

#: CommonMark's ASCII punctuation that can open markup inline (emphasis, code, links,
#: HTML, tables, math, MyST roles and directives); each is escaped with a backslash.
_MARKUP = re.compile(r"([\\`*_{}\[\]<>|$~!#&:])")


def escape(value: object) -> str:
    """``value`` as literal text in Markdown, MyST and HTML: line breaks become spaces and
    every character that could open markup is backslash-escaped (``<script>`` shows as
    ``<script>``, ``{include}`` as ``{include}``)."""
    return _MARKUP.sub(r"\\\1", " ".join(str(value).split()))


def percent(value: float) -> str:
    """A percentage as the report writes it: one decimal, none from 1000% on, ∞ and
    "undefined" (NaN) in words."""
    if math.isnan(value):
        return "undefined"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.0f}%" if abs(value) >= 1000 else f"{value:.1f}%"


def cases(count: int) -> str:
    """'1 case', '3 cases'."""
    return f"{count} case" if count == 1 else f"{count} cases"


def slug(heading: str) -> str:
    """The anchor GitHub and MyST (``myst_heading_anchors``) give a Markdown heading:
    lower case, punctuation dropped, spaces as hyphens (``"Fig. 5 (SJF)"`` → ``fig-5-sjf``)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def table(frame: pd.DataFrame, *, align: str | None = None) -> str:
    """A Markdown (pipe) table of ``frame``'s cells as they are; a ``|`` inside a cell is
    escaped. ``align``: one of ``l``, ``r``, ``c`` per column (default: tabulate's)."""
    cells = frame.astype(str).replace({r"\|": r"\\|"}, regex=True)
    colalign = [{"l": "left", "r": "right", "c": "center"}[a] for a in align] if align else None
    return str(cells.to_markdown(index=False, tablefmt="pipe", disable_numparse=True,
                                 colalign=colalign))


_ENVIRONMENT = Environment(
    loader=PackageLoader("dnnsplit.paper", "templates"),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)
_ENVIRONMENT.filters.update(data=escape, table=table, slug=slug)


def render(name: str, /, **context: Any) -> str:
    """The template ``templates/{name}.md.j2`` filled with ``context`` (an undefined name
    is an error, never an empty string)."""
    return _ENVIRONMENT.get_template(f"{name}.md.j2").render(**context)


def template_module(name: str) -> Any:
    """The macros of ``templates/{name}.md.j2``, to call from Python (a reason's words)."""
    return _ENVIRONMENT.get_template(f"{name}.md.j2").module
