"""Which dtypes does a training step touch? An audit of every array the tape can see.

A float32 step that silently computes in float64 somewhere costs twice the memory traffic
there, and the engine hides it: it casts every cotangent back to its input's dtype. So the
audit looks before the casts, at

- the result of every recorded op (each graph node's dtype),
- every array an op saved for its backward pass (what its primitive declared it needs),
- every cotangent a vjp returns, before the engine casts it (the vjps are wrapped),
- every parameter's gradient, and every parameter after the optimizer step (which must
  also still be the same array: updated in place).

It reads the private ``Tensor._node`` to reach the graph; the walk itself is the public
``tinygrad_hw.autodiff.topological_order``.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from tinygrad_hw import Tensor
from tinygrad_hw.autodiff import Node, topological_order

Finding = tuple[str, str, str]  # (where, what, dtype)


def saved_arrays(node: Node) -> list[np.ndarray]:
    """The arrays a node keeps for its vjps: its output, its inputs and its residuals, as
    declared by its primitive."""
    out, inputs = node.saved
    values = [out, *inputs, *(node.residuals or {}).values()]
    return [v for v in values if isinstance(v, np.ndarray)]


def _watch(vjp: Callable, op: str, index: int, findings: list[Finding]) -> Callable:
    def watched(*args: Any, **kwargs: Any) -> Any:
        cotangent = vjp(*args, **kwargs)
        findings.append(("cotangent", f"{op} input {index}", np.asarray(cotangent).dtype.name))
        return cotangent

    return watched


def instrument(loss: Tensor) -> list[Finding]:
    """Record the graph behind ``loss`` (op results and saved arrays) and wrap its vjps so
    that backward() appends each cotangent's dtype to the returned list."""
    findings: list[Finding] = []
    node: Node | None = loss._node
    if node is None:
        return findings
    for node in topological_order(loss._node):
        findings.append(("result", node.op, np.dtype(node.dtype).name))
        if node.sink is not None:
            continue
        findings += [("saved", node.op, array.dtype.name) for array in saved_arrays(node)]
        vjps = [_watch(v, node.op, i, findings) for i, v in enumerate(node.primitive.vjps)]
        node.primitive = replace(node.primitive, vjps=tuple(vjps))
    return findings


def audit_step(model: Any, optimizer: Any, loss_fn: Callable[[], Tensor]) -> list[Finding]:
    """Run one step (zero_grad, forward, backward, update) and list (where, what, dtype) for
    every array seen; also flags a parameter the optimizer replaced instead of updating."""
    optimizer.zero_grad()
    loss = loss_fn()
    findings = instrument(loss)
    loss.backward()
    named = model.named_parameters()
    before = {name: p.data for name, p in named}
    findings += [("grad", name, p.grad.dtype.name) for name, p in named if p.grad is not None]
    optimizer.step()
    for name, p in named:
        findings.append(("param", name, p.data.dtype.name))
        if p.data is not before[name]:
            findings.append(("param replaced, not updated in place", name, p.data.dtype.name))
    return findings


def foreign(findings: list[Finding], dtype: Any) -> list[Finding]:
    """The findings of a floating dtype other than ``dtype`` (bool and integer arrays, such as
    ReLU masks and labels, are fine), plus every replaced parameter."""
    want = np.dtype(dtype).name
    return [
        f
        for f in findings
        if f[0].startswith("param replaced")
        or (np.issubdtype(np.dtype(f[2]), np.floating) and f[2] != want)
    ]
