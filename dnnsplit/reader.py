"""Reading JSON and YAML files (scenarios, setups) into plain data, with bounded effort.

A file is read by :func:`~dnnsplit._checks.read_text` and its values counted before it is
parsed: one whose parsed values would take more than
:data:`~dnnsplit.model.MAX_MEMORY_BYTES`, or a YAML file too long to read in seconds, is
refused naming its size. A syntax error (with its line), nesting too deep, a number with
more digits than Python converts and a key given twice are each one line. YAML is read
safely (tags refused, never run), keeping dates as strings and reading ``26e6`` as a
number, as JSON and YAML 1.2 do.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from dnnsplit import model
from dnnsplit._checks import key_text, path_text, read_text, walk
from dnnsplit.errors import InputError

__all__ = [
    "MAX_YAML_VALUES",
    "PARSED_VALUE_BYTES",
    "estimated_values",
    "parse_data",
    "read_data",
]

#: Bytes one parsed value may take, with its slot in a list or an object and its share of
#: the checks that walk it (an empty list: 56 bytes, its slot 8; a float: 24 + 8).
PARSED_VALUE_BYTES = 100
#: The most values a YAML file may hold. PyYAML builds a node for every value before the
#: data (about 1.3–2 kB each) and reads some 40,000–200,000 values a second: a larger file
#: would take minutes and GiBs, while JSON reads the same data in a fraction of a second.
MAX_YAML_VALUES = 200_000


def estimated_values(text: str, yaml_syntax: bool) -> int:
    """About how many values ``text`` holds, counted without parsing it (an upper bound
    for JSON: every value but a container's first follows a comma, every key precedes a
    colon; YAML block lists and objects add a value per line)."""
    count = text.count(",") + text.count(":") + text.count("[") + text.count("{") + 1
    return count + (text.count("\n") if yaml_syntax else 0)


class _Duplicated(dict):
    """A parsed JSON/YAML object in which ``duplicate`` appeared more than once."""

    duplicate: Any = None


def _json_hook(found: list[bool]) -> Any:
    """An ``object_pairs_hook`` that marks an object with a key given twice (and notes in
    ``found`` that one exists)."""

    def make(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in pairs:
            if key in data:
                marked = _Duplicated(pairs)
                marked.duplicate = key
                found.append(True)
                return marked
            data[key] = value
        return data

    return make


def _yaml_loader(found: list[bool]) -> Any:
    """A safe YAML loader (libyaml's, where PyYAML has it) that marks duplicate keys (and
    notes in ``found`` that one exists), keeps dates as strings and reads ``26e6`` as a
    number (as JSON and YAML 1.2 do)."""
    import yaml  # optional (PyYAML): imported only for a YAML file, found by parse_data

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    timestamp = "tag:yaml.org,2002:timestamp"
    Loader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != timestamp]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    # YAML 1.2 floats: PyYAML (YAML 1.1) reads 26e6 and 1.0e7 as strings
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )

    def construct_map(loader: Any, node: Any) -> Any:
        seen: set[Any] = set()
        duplicate = None
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = loader.construct_object(key_node)
                if key in seen:
                    duplicate = key
                    break
                seen.add(key)
        data: dict[Any, Any] = {} if duplicate is None else _Duplicated()
        if duplicate is not None:
            data.duplicate = duplicate  # type: ignore[attr-defined]
            found.append(True)
        yield data
        data.update(loader.construct_mapping(node))

    Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    return Loader


def parse_data(text: str, name: str, field: str, yaml_syntax: bool) -> Any:
    """Parse JSON (or YAML) ``text`` of file ``name``; errors name ``field`` (what is
    refused, each with one line, and why: the module docstring)."""
    values = estimated_values(text, yaml_syntax)
    if yaml_syntax and values > MAX_YAML_VALUES:
        raise InputError(
            field,
            f"{name} holds about {values:,} values; a YAML file may hold at most "
            f"{MAX_YAML_VALUES:,} (dnnsplit.reader.MAX_YAML_VALUES: YAML is read value by "
            "value, slowly); save it as JSON",
        )
    need = values * PARSED_VALUE_BYTES + 3 * len(text)
    if need > model.MAX_MEMORY_BYTES:
        raise InputError(
            field,
            f"{name} holds about {values:,} values, which would take about {model.gib(need)} once "
            f"read, more than the {model.gib(model.MAX_MEMORY_BYTES)} limit "
            "(dnnsplit.model.MAX_MEMORY_BYTES)",
        )
    found: list[bool] = []
    try:
        if yaml_syntax:
            try:
                import yaml  # optional (PyYAML): only a YAML file needs it
            except ImportError:
                raise InputError(field, "YAML files need PyYAML (pip install pyyaml)") from None
            try:
                raw = yaml.load(text, Loader=_yaml_loader(found))  # a SafeLoader subclass
            except yaml.YAMLError as error:
                problem = getattr(error, "problem", None) or str(error)
                if "nesting depth" in problem:  # libyaml's own bound on nesting
                    raise RecursionError from None
                mark = getattr(error, "problem_mark", None)
                line = f" at line {mark.line + 1}" if mark is not None else ""
                raise InputError(field, f"{name} is not valid YAML: {problem}{line}") from None
        else:
            try:
                raw = json.loads(text, object_pairs_hook=_json_hook(found))
            except json.JSONDecodeError as error:
                raise InputError(
                    field, f"{name} is not valid JSON: {error.msg} at line {error.lineno}"
                ) from None
    except RecursionError:
        raise InputError(field, f"{name} is nested too deeply to read") from None
    except ValueError as error:
        if isinstance(error, InputError):
            raise
        digits = sys.get_int_max_str_digits()
        raise InputError(
            field, f"{name} holds a number too long to read (more than {digits} digits)"
        ) from None
    if found:  # the first object with a key twice, in document order (memory: the depth)
        for item, steps in walk(raw):
            if isinstance(item, _Duplicated):
                path, key = path_text(steps), key_text(item.duplicate)
                raise InputError(
                    f"{path}.{key}" if path else key,
                    f"appears twice in one object of {name}; give each key once",
                )
    return raw


def read_data(path: str | os.PathLike[str], field: str, kind: str) -> Any:
    """The data of a JSON file (YAML when it ends in ``.yml`` or ``.yaml``), read by
    :func:`~dnnsplit._checks.read_text` and :func:`parse_data`; errors name ``field``."""
    text = read_text(path, field, kind)
    name = Path(path).name
    return parse_data(text, name, field, Path(path).suffix.lower() in (".yml", ".yaml"))
