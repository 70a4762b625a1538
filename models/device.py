"""``--device``: where a run's model, optimizer state and batches live.

The runner makes the device the default one (``tinygrad_hw.set_default_device``) while an
experiment is built and trained: its layers turn their host-drawn weights into Tensors there,
its optimizer allocates its state next to them, and each batch ``Tensor(xb)`` goes there
too. The data sets, metrics, checkpoints and figures stay on the host.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tinygrad_hw.errors import DeviceError
from tinygrad_hw.ops import devices


@contextlib.contextmanager
def on_device(device: str | None) -> Iterator[str]:
    """Make ``device`` the default device while the block runs, so that the model an
    experiment builds (from host arrays), its optimizer's state and every batch made a Tensor
    (``Tensor(xb)``) live there; the previous default comes back after. None keeps the
    default ("cpu", or ``TINYGRAD_HW_DEVICE``). Yields the device's name. DeviceError naming
    the device when it is unknown or its library is not installed."""
    before = devices.default_device()
    device = before if device is None else device
    devices.set_default_device(device)
    try:
        yield device
    finally:
        devices.set_default_device(before)


def check_on_device(model: Any, device: str) -> None:
    """DeviceError naming the first parameter the experiment left off ``device``."""
    want = devices.namespace_for_device(device).canonical(device)
    for name, p in model.named_parameters():
        if p.device != want:
            raise DeviceError(f"--device {device}: parameter {name!r} was built on {p.device}")
