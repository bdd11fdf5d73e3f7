#!/usr/bin/env bash
# Lint (ruff), type-check (mypy) and run the test suite (sets up the environment on first
# use), one pytest worker per core (pytest-xdist; a test file stays on one worker). Extra
# arguments go to pytest (-n 0 runs it in one process).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
"$PYTHON" -m ruff check dnnsplit tests benchmarks
"$PYTHON" -m mypy
exec "$PYTHON" -m pytest -n auto --dist loadfile "$@"
