"""``python -m dnnsplit``, and the ``dnnsplit`` command: the command line of
:mod:`dnnsplit.cli`, imported here so that a Ctrl-C while Python is still importing it is
one line and exit 130, as it is later (and as in ``./run_all.sh``)."""

from __future__ import annotations

import re
import sys

#: The exit status of an interrupted command (128 + SIGINT), as :mod:`dnnsplit.cli`'s.
EXIT_INTERRUPTED = 130


def run() -> int:
    """Import the command line and run it; its exit status."""
    try:
        from dnnsplit.cli import main
    except KeyboardInterrupt:
        # the line the command line prints once it runs: "dnnsplit <command>: interrupted"
        given = sys.argv[1] if len(sys.argv) > 1 else ""
        command = f"dnnsplit {given}" if re.fullmatch(r"[a-z][a-z-]{0,30}", given) else "dnnsplit"
        try:
            sys.stderr.write(f"{command}: interrupted\n")
        except (OSError, ValueError, AttributeError):
            pass  # stderr is gone too: the exit status still tells
        return EXIT_INTERRUPTED
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
