"""``python -m models``: see models/cli.py (one BLAS thread: see models/threads.py)."""

import sys

from models.threads import default_to_one_thread

default_to_one_thread()  # before anything imports numpy

from models.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
