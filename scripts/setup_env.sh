# Sourced by run_all.sh and run_tests.sh: pick or make the Python environment.
#
# - An active conda environment (CONDA_PREFIX set, not the base one) is used as it is;
#   dnnsplit is pip-installed into it (editable, with the extras) if it is not there yet.
# - Otherwise a virtual environment in .venv/ is made on first use from pyproject.toml and
#   reused afterwards; it is refreshed when pyproject.toml or the extras change.
#
# DNNSPLIT_EXTRAS chooses the extras (default: notebooks,test; CI adds profile for torch).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${DNNSPLIT_EXTRAS:-notebooks,test}"

if [ -n "${CONDA_PREFIX:-}" ] && [ "${CONDA_DEFAULT_ENV:-base}" != "base" ]; then
    PYTHON="$CONDA_PREFIX/bin/python"
    if ! "$PYTHON" -c "import dnnsplit" 2>/dev/null; then
        echo "setup: installing dnnsplit into conda environment $CONDA_DEFAULT_ENV" >&2
        "$PYTHON" -m pip install --quiet -e "$ROOT[$EXTRAS]"
    fi
else
    VENV="$ROOT/.venv"
    STAMP="$VENV/.dnnsplit-stamp"
    WANT="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1) $EXTRAS"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setup: creating $(basename "$VENV")/ (first run; a few minutes)" >&2
        python3 -m venv "$VENV"
    fi
    if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
        echo "setup: installing dnnsplit[$EXTRAS] into .venv/" >&2
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
        "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$EXTRAS]" >&2
        echo "$WANT" > "$STAMP"
    fi
    PYTHON="$VENV/bin/python"
fi
export PYTHON
