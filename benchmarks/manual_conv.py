"""A hand-written conv2d in numpy, forward and backward: the baseline tinygrad_hw's is timed
against (``python -m benchmarks.conv``).

im2col by ``sliding_window_view`` (one copy into a (N*OH*OW, C*kh*kw) matrix), one GEMM for
the forward, one GEMM each for the weight and column gradients, and col2im as one sliced add
per kernel offset. Stride 1, no dilation, no groups: what LeNet uses. Written from the
definition, independently of the library, so the parity check means something.
"""

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Saved(NamedTuple):
    """What the backward pass needs from the forward: the columns and the shapes."""

    columns: np.ndarray
    x_shape: tuple[int, ...]
    out_hw: tuple[int, int]
    padding: int


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, padding: int
) -> tuple[np.ndarray, Saved]:
    """out[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x_padded[n, c, i + u, j + v]."""
    n, c, _, _ = x.shape
    o, _, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))  # (N, C, OH, OW, kh, kw)
    oh, ow = windows.shape[2], windows.shape[3]
    columns = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    out = columns @ w.reshape(o, -1).T  # (N*OH*OW, O)
    out = out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2) + b[:, None, None]
    return out, Saved(columns, x.shape, (oh, ow), padding)


def conv2d_backward(
    g: np.ndarray, w: np.ndarray, saved: Saved
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) for the upstream gradient ``g`` of shape (N, O, OH, OW)."""
    n, c, h, width = saved.x_shape
    o, _, kh, kw = w.shape
    oh, ow = saved.out_hw
    p = saved.padding
    rows = g.transpose(0, 2, 3, 1).reshape(-1, o)  # (N*OH*OW, O)
    dw = (rows.T @ saved.columns).reshape(w.shape)
    db = g.sum(axis=(0, 2, 3))
    dcolumns = (rows @ w.reshape(o, -1)).reshape(n, oh, ow, c, kh, kw)
    dpadded = np.zeros((n, c, h + 2 * p, width + 2 * p), dtype=g.dtype)
    for u in range(kh):
        for v in range(kw):
            dpadded[:, :, u : u + oh, v : v + ow] += dcolumns[:, :, :, :, u, v].transpose(
                0, 3, 1, 2
            )
    dx = dpadded[:, :, p : p + h, p : p + width]
    return dx, dw, db
