"""The report's templates: data is escaped, tables are whole, undefined names fail."""

import jinja2
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dnnsplit.paper.text import _ENVIRONMENT, escape, table


def test_escape_turns_markup_into_text():
    assert escape("<script>x</script>") == r"\<script\>x\</script\>"
    assert escape("```{include} /etc/hostname\n```") == r"\`\`\`\{include\} /etc/hostname \`\`\`"
    assert escape("a|b *c* [d](e)") == r"a\|b \*c\* \[d\](e)"


@given(st.text())
def test_escape_leaves_no_unescaped_markup_and_no_line_break(value):
    shown = escape(value)
    assert "\n" not in shown and "\r" not in shown
    unescaped = shown.replace("\\\\", "")
    for ch in "`*_{}[]<>|$~!#&:":
        assert unescaped.count(ch) == unescaped.count("\\" + ch)


def test_table_escapes_pipes_and_keeps_rows():
    text = table(pd.DataFrame({"a": ["x|y", "z"], "b": ["1", "2"]}))
    lines = text.splitlines()
    assert len(lines) == 4
    assert r"x\|y" in lines[2]


def test_undefined_name_is_an_error():
    with pytest.raises(jinja2.UndefinedError):
        _ENVIRONMENT.from_string("{{ missing }}").render()
