"""The tape: recorded nodes, their topological order, and the backward pass.

The engine knows nothing about Tensor. A ``Node`` records one op: the vjp of each input and the
node each input came from. A leaf node instead holds a weak reference to an owner with an
``_accumulate_grad(g)`` method (the Tensor), so the graph never keeps a user's tensor alive.
"""

import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tinygrad_hw.errors import AnomalyError, GraphError
from tinygrad_hw.ops.arrays import all_finite, cast, copy, ndarray, sum_to_shape


class _Mode:
    """Process-wide switches, read once per op: recording on/off and anomaly detection."""

    grad_enabled = True
    detect_anomaly = False


def is_grad_enabled() -> bool:
    return _Mode.grad_enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block no op is recorded: results do not require gradients."""
    previous = _Mode.grad_enabled
    _Mode.grad_enabled = False
    try:
        yield
    finally:
        _Mode.grad_enabled = previous


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise AnomalyError at the first op whose forward result or backward cotangent holds NaN
    or inf, naming the op, its shapes and the line of user code that created it.

    Off by default; when off it costs one attribute read per op.
    """
    previous = _Mode.detect_anomaly
    _Mode.detect_anomaly = True
    try:
        yield
    finally:
        _Mode.detect_anomaly = previous


class Node:
    """One recorded op (or a leaf) in the graph."""

    __slots__ = ("dtype", "input_shapes", "op", "parents", "shape", "sink", "site", "vjps")

    def __init__(
        self,
        op: str,
        shape: tuple[int, ...],
        dtype: Any,
        parents: tuple["Node | None", ...] = (),
        vjps: tuple[Callable | None, ...] | None = (),
        sink: Any = None,
    ) -> None:
        self.op = op
        self.shape = shape
        self.dtype = dtype
        self.parents = parents
        self.vjps = vjps  # None once the graph has been freed by backward()
        self.sink = sink  # leaves only: weakref to the owner that receives the gradient
        self.site = call_site() if _Mode.detect_anomaly else None

    @classmethod
    def leaf(cls, owner: Any, shape: tuple[int, ...], dtype: Any) -> "Node":
        return cls("leaf", shape, dtype, sink=weakref.ref(owner))

    def __repr__(self) -> str:
        return f"Node({self.op}, shape={self.shape})"


def call_site() -> str:
    """file:line of the innermost frame outside this package: where the user created the op."""
    frame = sys._getframe(1)
    package_dir = __file__.rsplit("/", 1)[0]
    while frame is not None and frame.f_code.co_filename.startswith(package_dir):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def check_finite_forward(op: str, out: ndarray, inputs: tuple[ndarray, ...]) -> None:
    """Anomaly mode, forward: the op's result must be finite."""
    if all_finite(out):
        return
    shapes = ", ".join(str(a.shape) for a in inputs)
    already = any(not all_finite(a) for a in inputs)
    cause = "its inputs already held NaN/inf" if already else "its inputs were finite"
    raise AnomalyError(
        f"op '{op}' produced NaN or inf in the forward pass (input shapes {shapes}, output "
        f"shape {out.shape}; {cause}), created at {call_site()}"
    )


def _check_backward(node: Node, index: int, cotangent: ndarray) -> None:
    if not all_finite(cotangent):
        raise AnomalyError(
            f"backward of op '{node.op}' produced NaN or inf in the gradient of input {index} "
            f"(output shape {node.shape}, gradient shape {cotangent.shape}), op created at "
            f"{node.site or '<unknown: enable detect_anomaly before the forward pass>'}"
        )


def topological_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, every node after all of its parents (iterative DFS)."""
    order: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node.vjps is None:
            raise _freed_error(node)
        stack.append((node, True))
        # reversed, so that inputs are visited (and listed) left to right
        stack.extend(
            (p, False) for p in reversed(node.parents) if p is not None and id(p) not in visited
        )
    return order


def _freed_error(node: Node) -> GraphError:
    return GraphError(
        f"backward() through a graph that was already freed (at op '{node.op}'): a first "
        "backward() releases the saved arrays; pass retain_graph=True to it to backpropagate "
        "through the same graph again"
    )


def count_consumers(root: Node) -> dict[Node, int]:
    """For every node reachable from ``root``, how many recorded uses it has on the way there.

    A node is ready for its vjps once that many gradients have arrived (Kahn's algorithm),
    which orders the backward pass without sorting. Raises GraphError on a freed graph before
    any gradient moves.
    """
    consumers: dict[Node, int] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.vjps is None:
            raise _freed_error(node)
        for parent in node.parents:
            if parent is None:
                continue
            if parent in consumers:
                consumers[parent] += 1
            else:
                consumers[parent] = 1
                stack.append(parent)
    return consumers


def backward(root: Node, seed: ndarray, retain_graph: bool = False) -> None:
    """Send ``seed`` (dLoss/dRoot) back through the graph into every reachable leaf.

    Gradients live in a local dict and are popped once used, so intermediate gradients are
    freed as soon as possible; a node used several times receives the sum before its own
    vjps run. Unless ``retain_graph``, each node drops its vjps (and with them the saved
    arrays) once used.
    """
    pending = count_consumers(root)
    grads: dict[Node, ndarray] = {root: seed}
    delivered: set[int] = set()
    check = _Mode.detect_anomaly
    ready = [root]
    while ready:
        node = ready.pop()
        g = grads.pop(node)
        if node.sink is not None:
            _deliver(node, g, delivered)
            continue
        for index, parent in enumerate(node.parents):
            if parent is None:
                continue
            vjp = node.vjps[index]
            if vjp is not None:
                cotangent = vjp(g)
                if cotangent.shape != parent.shape:
                    cotangent = sum_to_shape(cotangent, parent.shape)
                if cotangent.dtype != parent.dtype:
                    cotangent = cast(cotangent, parent.dtype)
                if check:
                    _check_backward(node, index, cotangent)
                previous = grads.get(parent)
                grads[parent] = cotangent if previous is None else previous + cotangent
            pending[parent] -= 1
            if pending[parent] == 0 and parent in grads:
                ready.append(parent)
        if not retain_graph:
            node.vjps = None
            node.parents = ()


def _deliver(leaf: Node, g: ndarray, delivered: set[int]) -> None:
    """Hand a leaf its gradient as an array it owns: no view, no array shared with a sibling."""
    owner = leaf.sink()
    if owner is None:
        return
    if g.base is not None or id(g) in delivered or not g.flags.writeable:
        g = copy(g)
    delivered.add(id(g))
    owner._accumulate_grad(g)
