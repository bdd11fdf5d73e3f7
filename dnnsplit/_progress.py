"""Progress bars where tqdm is installed, silence where it is not (tqdm is optional).

On a terminal the bar goes to stderr and erases itself when done. Inside a Jupyter kernel
(JupyterLab, papermill) it goes to stdout and stays: stderr would show as a red error band
above the results, and an erased bar leaves that band empty.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["in_notebook", "progress_bar"]


class _Silent:
    """Stands in for a tqdm bar: iterates, and ignores updates."""

    def __init__(self, iterable: Iterable | None) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self.iterable if self.iterable is not None else ())

    def update(self, _: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (its stdout is ipykernel's stream)."""
    return type(sys.stdout).__module__.startswith("ipykernel")


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str,
    enabled: bool = True,
    **options: Any,
) -> Any:
    """A tqdm bar over ``iterable`` (or one to ``update`` by hand), or a silent stand-in
    when ``enabled`` is false or tqdm is not installed."""
    if enabled:
        try:
            from tqdm import tqdm  # optional (the notebooks extra): imported where a bar is shown
        except ImportError:
            pass
        else:
            shown = {"leave": True, "file": sys.stdout} if in_notebook() else {"leave": False}
            return tqdm(iterable, total=total, desc=desc, **shown, **options)
    return _Silent(iterable)
