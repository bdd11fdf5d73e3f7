"""Where the project's files live, resolved from the package location.

A notebook run from papermill, from pytest or from JupyterLab sees the same paths, because
they come from this module and not from the working directory.

- :data:`MEASUREMENTS_DIR`: the shipped stage profiles. In a checkout of the repository
  that is ``data/measurements/``; in an installed wheel, the same files travel inside the
  package as ``dnnsplit/measurements/``.
- :data:`FIGURES_DIR` and ``REPRODUCTION.md``: written only by ``./run_all.sh``.
- :data:`INTERACTIVE_DIR` (``build/figures/``, ignored by git): where a notebook run by
  hand, from JupyterLab, writes its figures, so a tweaked parameter never overwrites the
  committed results.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BUILD_DIR",
    "FIGURES_DIR",
    "INTERACTIVE_DIR",
    "MEASUREMENTS_DIR",
    "NOTEBOOKS_DIR",
    "REPORT_PATH",
    "ROOT",
    "shown",
]

PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
_CHECKOUT_DATA = ROOT / "data" / "measurements"
#: Shipped profiles: the repository's folder, or the copy inside an installed wheel.
MEASUREMENTS_DIR = _CHECKOUT_DATA if _CHECKOUT_DATA.is_dir() else PACKAGE_DIR / "measurements"
FIGURES_DIR = ROOT / "figures"
NOTEBOOKS_DIR = ROOT / "notebooks"
BUILD_DIR = ROOT / "build"
INTERACTIVE_DIR = BUILD_DIR / "figures"
REPORT_PATH = ROOT / "REPRODUCTION.md"


def shown(path: str | Path) -> str:
    """``path`` as a reader knows it, never as a path of this machine: relative to the
    checkout, else to the working folder, else its name alone."""
    for base in (ROOT, Path.cwd()):
        try:
            return str(Path(path).resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return Path(path).name
