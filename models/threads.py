"""One BLAS thread per process, set before numpy loads.

BLAS threads default to one (unless one of OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
MKL_NUM_THREADS is set, which then decides): the matrices here are small (a batch of 30-128
rows times 784 x 100), and on a 2-core machine shared with other work, OpenBLAS's threads
spin and wait for each other; we measured seed004's epoch at 2.1 s with the default threads
and 0.08 s with one. The variables are read once, when numpy loads, so this module imports
nothing that imports numpy, and its callers call it before importing anything that does.
A sweep's worker processes are always pinned (``pinned_environment``): N workers with N
threads each would fight over the cores; and each sweep run pins the BLAS already loaded
(``one_blas_thread``), so its numbers are the same in any process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def default_to_one_thread() -> None:
    """Set the thread variables to 1 unless the user has set one of them."""
    if not any(name in os.environ for name in THREAD_VARIABLES):
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))


@contextlib.contextmanager
def pinned_environment() -> Iterator[None]:
    """A block in which every thread variable is 1: processes started inside it (a sweep's
    workers) inherit one BLAS thread each. The previous values come back afterwards."""
    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """A block in which numpy's BLAS, already loaded, uses one thread (threadpoolctl, when
    installed; else nothing changes), so that a sweep run from Python (a notebook, a test)
    gives the numbers of one run from the command line: float32 sums split over 2 threads
    round differently. It acts on the calling thread's BLAS; processes started for a sweep
    (``--jobs``, Dask's workers) are pinned by their environment instead."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
