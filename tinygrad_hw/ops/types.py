"""The shape of a primitive: what every op in this package returns."""

from collections.abc import Callable

import numpy as np

# One vjp per input, each a pure function of the upstream gradient; None marks an input that
# has no gradient (a condition, integer labels).
Vjp = Callable[[np.ndarray], np.ndarray]
Forward = tuple[np.ndarray, tuple[Vjp | None, ...]]
