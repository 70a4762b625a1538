"""The library's own exception types.

Every mistake a user can make with the public API ends in one of these, with a message that
names the op and the offending shapes, dtypes or arguments. Each also subclasses the builtin
exception a Python user would reach for (ValueError, TypeError, ...), so ``except ValueError``
keeps working.
"""


class TinygradHWError(Exception):
    """Base class of every error raised on purpose by tinygrad_hw."""


class ShapeError(TinygradHWError, ValueError):
    """Operand shapes do not fit the op: broadcasting, matmul, reshape, axis out of range."""


class BadIndexError(ShapeError, IndexError):
    """An index is out of range or of a kind numpy cannot index with (also an IndexError)."""


class DTypeError(TinygradHWError, TypeError):
    """Data of a kind the op cannot use: integers that require grad, strings, objects."""


class ArgumentError(TinygradHWError, ValueError):
    """An argument has a bad value: a negative learning rate, an unknown reduction, ..."""


class GraphError(TinygradHWError, RuntimeError):
    """Misuse of the recorded graph: backward twice through a freed graph, or with no graph."""


class GradcheckError(TinygradHWError, AssertionError):
    """The tape's gradient disagrees with central finite differences."""


class AnomalyError(TinygradHWError, FloatingPointError):
    """Under ``detect_anomaly()``, an op produced NaN or inf."""


class DeviceError(TinygradHWError, RuntimeError):
    """Arrays of different devices (numpy and CuPy) meet in one op, or a device is unknown."""


class SizeError(TinygradHWError, MemoryError):
    """A result too large to allocate (a giant broadcast, one_hot with 10**10 classes): the
    message names the op and the size it would need."""


class DataError(TinygradHWError, ValueError):
    """A data set or checkpoint file is corrupt, truncated or of the wrong format."""


class MissingDataError(TinygradHWError, FileNotFoundError):
    """A data set or checkpoint is not where it was looked for; the message says how to get it."""


class TinygradHWWarning(UserWarning):
    """A classic pipeline mistake that still runs (softmax fed to cross_entropy, log of a
    softmax, a parameter the loss does not reach, ...); silence it with the standard filters,
    ``warnings.simplefilter("ignore", TinygradHWWarning)``."""
