"""``python -m dnnsplit``: the same command line as ``dnnsplit``."""

from dnnsplit.cli import main

raise SystemExit(main())
