"""Where the project's files live, resolved from the package location, not the working
directory (so papermill, pytest and JupyterLab see the same paths).

:data:`MEASUREMENTS_DIR` is ``data/measurements/`` in a checkout, ``dnnsplit/measurements/``
in a wheel; :data:`FIGURES_DIR` and ``REPRODUCTION.md`` are written only by
``./run_all.sh``; a notebook run by hand writes to :data:`INTERACTIVE_DIR` (``build/figures/``).
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
