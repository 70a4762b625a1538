"""``python -m models``: see models/cli.py.

BLAS threads default to one (unless one of OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
MKL_NUM_THREADS is set, which then decides): the matrices here are small (a batch of 30-128
rows times 784 x 100), and on a 2-core machine shared with other work, OpenBLAS's threads
spin and wait for each other; we measured seed004's epoch at 2.1 s with the default threads
and 0.08 s with one. The variables are read once, when numpy loads, so they are set before
anything imports it.
"""

import os

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if not any(name in os.environ for name in _THREAD_VARIABLES):
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))

import sys  # noqa: E402

from models.cli import main  # noqa: E402

sys.exit(main())
