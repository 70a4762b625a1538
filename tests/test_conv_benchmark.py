"""The conv benchmark's baseline and parity checks, at tiny sizes, so that the benchmark cannot
silently go stale: the hand-written conv2d is checked against its definition (a loop over
output pixels) and finite differences, and the parity check is shown to catch a wrong one."""

import json

import numpy as np
import pytest

from benchmarks import conv, manual_conv


def _direct_conv2d(x, w, b, padding):
    """out[n, o, i, j] = b[o] + sum w[o, c, u, v] x_padded[n, c, i + u, j + v], by loops."""
    n, _, h, width = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = h + 2 * padding - kh + 1, width + 2 * padding - kw + 1
    out = np.empty((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i : i + kh, j : j + kw]  # (N, C, kh, kw)
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


@pytest.mark.parametrize("padding", [0, 1, 2])
def test_manual_conv2d_forward_matches_its_definition(padding):
    rng = np.random.default_rng(padding)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.random(4)
    out, _ = manual_conv.conv2d_forward(x, w, b, padding)
    np.testing.assert_allclose(out, _direct_conv2d(x, w, b, padding), rtol=1e-12, atol=1e-12)


def test_manual_conv2d_backward_matches_finite_differences():
    """<g, conv(x + e dx)> - <g, conv(x - e dx)> over 2e equals <dx_grad, dx> (and for w, b):
    the conv is linear in each argument, so central differences are exact up to rounding
    (~1e-16 / 1e-3 relative), and 1e-9 still fails any wrong entry."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.random(3)
    out, saved = manual_conv.conv2d_forward(x, w, b, 1)
    g = rng.standard_normal(out.shape)
    grads = manual_conv.conv2d_backward(g, w, saved)
    args = [x, w, b]
    for k, grad in enumerate(grads):
        direction = rng.standard_normal(args[k].shape)
        plus = [a + 1e-3 * direction if i == k else a for i, a in enumerate(args)]
        minus = [a - 1e-3 * direction if i == k else a for i, a in enumerate(args)]
        f = [np.vdot(g, manual_conv.conv2d_forward(*p, 1)[0]) for p in (plus, minus)]
        assert (f[0] - f[1]) / 2e-3 == pytest.approx(np.vdot(grad, direction), rel=1e-9)


def test_conv_parity_check_catches_a_wrong_gradient(monkeypatch):
    right = manual_conv.conv2d_backward

    def wrong(g, w, saved):
        dx, dw, db = right(g, w, saved)
        return dx, dw * 1.01, db

    monkeypatch.setattr(conv, "conv2d_backward", wrong)
    with pytest.raises(AssertionError, match="dw"):
        conv.conv_contenders(2, (1, 8, 8), (2, 1, 3, 3), 1)


def test_conv_benchmark_quick_writes_json(tmp_path):
    out = tmp_path / "conv.json"
    conv.main(["--quick", "--out", str(out)])
    records = json.loads(out.read_text())["records"]
    assert [r["bench"] for r in records][:2] == ["conv2d fwd+bwd", "conv2d fwd+bwd"]
    assert all(r["ratio"] > 0 for r in records if r["ratio"] is not None)
    assert any(r["bench"].startswith("LeNet") for r in records)
