"""Where the project's files live, resolved from the package location.

A notebook run from papermill, from pytest or from JupyterLab sees the same paths, because
they come from this module and not from the working directory.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BUILD_DIR", "FIGURES_DIR", "MEASUREMENTS_DIR", "NOTEBOOKS_DIR", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS_DIR = ROOT / "data" / "measurements"
FIGURES_DIR = ROOT / "figures"
NOTEBOOKS_DIR = ROOT / "notebooks"
BUILD_DIR = ROOT / "build"
