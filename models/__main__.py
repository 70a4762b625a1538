"""``python -m models``: see models/cli.py (one BLAS thread: see models/threads.py)."""

import sys

from models.console import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m models"))
