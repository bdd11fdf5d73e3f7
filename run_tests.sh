#!/usr/bin/env bash
# Lint (ruff), type-check (mypy) and run the test suite (sets up the environment on first
# use). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
"$PYTHON" -m ruff check dnnsplit tests benchmarks
"$PYTHON" -m mypy
exec "$PYTHON" -m pytest "$@"
