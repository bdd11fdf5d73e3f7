#!/usr/bin/env bash
# Regenerate every figure, its CSV and REPRODUCTION.md by executing the notebooks
# (sets up the environment on first use). --quick: small parameters, a smoke run.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
exec "$PYTHON" -m dnnsplit.paper.runner "$@"
