# Sourced by run_all.sh and run_tests.sh: pick or make the Python environment.
#
# - An active conda environment (CONDA_PREFIX set, not the base one) is used as it is;
#   dnnsplit is pip-installed into it (editable, with the extras) if it is not there yet.
#   conda-forge's versions are not the locked ones: environment.yml says so.
# - Otherwise a virtual environment in .venv/ is made on first use and reused afterwards;
#   it is refreshed when pyproject.toml, the lock or the extras change. It is installed
#   from the lock of the extras (locks/EXTRAS.txt, written by scripts/lock.py): the exact
#   version and hash of every package. DNNSPLIT_DEPS=newest installs the newest
#   versions pyproject.toml allows instead (no lock).
# - In a git checkout, the nbstripout filter is installed for the notebooks (once): git
#   then stores a notebook without its outputs, whatever JupyterLab saved (.gitattributes).
#
# DNNSPLIT_EXTRAS chooses the extras (default: notebooks,test; CI adds profile for torch).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${DNNSPLIT_EXTRAS:-notebooks,test}"
DEPS="${DNNSPLIT_DEPS:-locked}"
LOCK="$ROOT/locks/${EXTRAS//,/-}.txt"

case "$DEPS" in
    locked | newest) ;;
    *) echo "setup: DNNSPLIT_DEPS must be 'locked' or 'newest', not '$DEPS'" >&2; exit 2 ;;
esac
if [ "$DEPS" = locked ] && [ ! -f "$LOCK" ]; then
    echo "setup: no lock for the extras $EXTRAS (locks/ has $(cd "$ROOT/locks" && echo *.txt));" \
        "installing the newest versions" >&2
    DEPS=newest
fi

# Install dnnsplit (editable) into the Python $1: from the lock, or the newest versions.
install_dnnsplit() {
    if [ "$DEPS" = locked ]; then
        # the lock still satisfies pyproject.toml (.venv/bin/python scripts/lock.py rewrites it)
        "$1" "$ROOT/scripts/lock.py" --check --extras "$EXTRAS" >&2 || return 1
        # The profile lock pins PyTorch's CPU build (torch==2.13.0+cpu): pip finds it in
        # a find-links folder of its configuration, or on PyTorch's CPU index
        # (PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu).
        if ! "$1" -m pip install --quiet --require-hashes --no-deps -r "$LOCK" >&2; then
            case "$EXTRAS" in *profile*)
                echo "setup: the profile lock's PyTorch is the CPU build; if pip did not find" \
                    "it, set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu" >&2 ;;
            esac
            return 1
        fi
        "$1" -m pip install --quiet --no-deps -e "$ROOT" >&2
    else
        "$1" -m pip install --quiet -e "$ROOT[$EXTRAS]" >&2
    fi
}

if [ -n "${CONDA_PREFIX:-}" ] && [ "${CONDA_DEFAULT_ENV:-base}" != "base" ]; then
    PYTHON="$CONDA_PREFIX/bin/python"
    if ! "$PYTHON" -c "import dnnsplit" 2>/dev/null; then
        echo "setup: installing dnnsplit into conda environment $CONDA_DEFAULT_ENV" >&2
        "$PYTHON" -m pip install --quiet -e "$ROOT[$EXTRAS]"
    fi
else
    VENV="$ROOT/.venv"
    STAMP="$VENV/.dnnsplit-stamp"
    WANT="$(cat "$ROOT/pyproject.toml" "$([ "$DEPS" = locked ] && echo "$LOCK" || echo /dev/null)" \
        | sha256sum | cut -d' ' -f1) $EXTRAS $DEPS"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setup: creating $(basename "$VENV")/ (first run; a few minutes)" >&2
        python3 -m venv "$VENV"
    fi
    if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
        if [ "$DEPS" = locked ]; then
            echo "setup: installing dnnsplit[$EXTRAS] into .venv/ from locks/$(basename "$LOCK")" >&2
        else
            echo "setup: installing dnnsplit[$EXTRAS] into .venv/, the newest versions (no lock)" >&2
        fi
        "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
        install_dnnsplit "$VENV/bin/python"
        echo "$WANT" > "$STAMP"
    fi
    PYTHON="$VENV/bin/python"
fi

# The notebooks' output filter (.gitattributes names it), once per clone: git config, not
# a committed file. Git runs it from the top of the checkout, so the checkout's own .venv/
# serves; --keep-id keeps the cells' ids, as JupyterLab saves them. In a linked worktree
# the config is the main checkout's: it is set there.
if [ -d "$ROOT/.git" ] && command -v git >/dev/null \
    && ! git -C "$ROOT" config --get filter.nbstripout.clean >/dev/null; then
    FILTER="$([ "$PYTHON" = "$ROOT/.venv/bin/python" ] && echo .venv/bin/python || echo "$PYTHON")"
    echo "setup: installing the nbstripout git filter (git stores notebooks without outputs)" >&2
    git -C "$ROOT" config filter.nbstripout.clean "\"$FILTER\" -m nbstripout --keep-id"
    git -C "$ROOT" config filter.nbstripout.smudge cat
    git -C "$ROOT" config diff.ipynb.textconv "\"$FILTER\" -m nbstripout --keep-id -t"
fi
export PYTHON
