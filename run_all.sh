#!/usr/bin/env bash
# Regenerate every figure, its CSV and REPRODUCTION.md by executing the notebooks
# (sets up the environment on first use). --quick: small parameters, a smoke run.
# Options: ./run_all.sh --help (python -m dnnsplit.paper.runner runs the same).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
# A Ctrl-C while Python is still importing is one line and exit 130, as it is later.
exec "$PYTHON" -c '
import sys
try:
    from dnnsplit.paper.runner import main
except KeyboardInterrupt:
    print("run_all: interrupted", file=sys.stderr)
    raise SystemExit(130) from None
raise SystemExit(main(sys.argv[1:]))
' "$@"
