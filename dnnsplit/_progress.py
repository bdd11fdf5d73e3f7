"""Progress bars where tqdm is installed, silence where it is not (tqdm is optional)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress_bar"]


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
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(iterable, total=total, desc=desc, leave=False, **options)
    return _Silent(iterable)
