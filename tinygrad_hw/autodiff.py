"""The tape: recorded nodes, their order, and the backward pass.

The engine knows nothing about Tensor. A ``Node`` records one application of a primitive: the
primitive, its params, what its vjps need (declared by the primitive) and the node each input
came from. A leaf node instead holds a weak reference to an owner with ``_accumulate_grad``
(the Tensor), so the graph never keeps a user's tensor alive.

The backward pass moves cotangents through a ``CotangentMath``: plain arrays for a first-order
pass (the primitives' vjps get numpy and arrays), or, with ``create_graph``, values that record
(Tensors, supplied by the Tensor layer), so the backward pass is itself a graph.
"""

import weakref
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tinygrad_hw.errors import AnomalyError, GraphError
from tinygrad_hw.modes import call_site, modes
from tinygrad_hw.ops.arrays import all_finite, cast, copy, ndarray
from tinygrad_hw.ops.devices import namespace_of
from tinygrad_hw.ops.namespace import NUMPY
from tinygrad_hw.ops.primitive import Primitive
from tinygrad_hw.ops.shaping import sum_to_shape
from tinygrad_hw.saved_arrays import SavedArrays, check_unmodified, modified


class Node:
    """One recorded op (or a leaf) in the graph."""

    __slots__ = (
        "born",
        "dtype",
        "hooks",
        "locks",
        "params",
        "parents",
        "primitive",
        "residuals",
        "saved",
        "shape",
        "sink",
        "site",
    )

    def __init__(
        self,
        primitive: Primitive | None,
        shape: tuple[int, ...],
        dtype: Any,
        parents: tuple["Node | None", ...] = (),
        params: dict[str, Any] | None = None,
        saved: tuple[Any, tuple[Any, ...]] | None = None,
        residuals: dict[str, Any] | None = None,
        sink: Any = None,
        site: str | None = None,
        locks: SavedArrays | None = None,
        born: int = 0,
    ) -> None:
        self.primitive = primitive
        self.shape = shape
        self.dtype = dtype
        self.parents = parents
        self.params = params
        self.saved = saved  # (out, inputs) the vjps need; None once backward() freed them
        self.residuals = residuals
        self.sink = sink  # leaves only: weakref to the owner that receives the gradient
        self.site = site  # anomaly mode: file:line of the user code that created the op
        self.hooks = None  # Tensor.register_hook/retain_grad: a callable (g, math) -> g
        self.locks = locks  # saved inputs made read-only (saved_arrays), released when freed
        self.born = born  # saved_arrays.writes when recorded: was a saved array changed since?

    @classmethod
    def leaf(cls, owner: Any, shape: tuple[int, ...], dtype: Any) -> "Node":
        return cls(None, shape, dtype, sink=weakref.ref(owner))

    @property
    def op(self) -> str:
        return "leaf" if self.primitive is None else self.primitive.name

    def __repr__(self) -> str:
        return f"Node({self.op}, shape={self.shape})"


# --------------------------------------------------------------------- anomaly checks
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


# --------------------------------------------------------------------- graph walks
def _freed_error(node: Node) -> GraphError:
    return GraphError(
        f"backward() through a graph that was already freed (at op '{node.op}'): a first "
        "backward() releases the saved arrays; pass retain_graph=True to it to backpropagate "
        "through the same graph again"
    )


def topological_order(roots: Node | Iterable[Node]) -> list[Node]:
    """Nodes reachable from ``roots``, every node after all of its parents (iterative DFS)."""
    order: list[Node] = []
    visited: set[int] = set()
    starts = [roots] if isinstance(roots, Node) else list(roots)
    stack: list[tuple[Node, bool]] = [(r, False) for r in reversed(starts)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node.saved is None and node.sink is None:
            raise _freed_error(node)
        stack.append((node, True))
        # reversed, so that inputs are visited (and listed) left to right
        stack.extend(
            (p, False) for p in reversed(node.parents) if p is not None and id(p) not in visited
        )
    return order


def nodes_leading_to(roots: Sequence[Node], targets: Iterable[Node]) -> set[Node]:
    """The nodes on some path from a root down to a target: the only ones a gradient with
    respect to the targets has to pass through."""
    wanted = set(targets)
    leading: set[Node] = set()
    for node in topological_order(roots):  # parents first, so their answer is known
        if node in wanted or any(p in leading for p in node.parents if p is not None):
            leading.add(node)
    return leading


def count_consumers(roots: Sequence[Node], within: set[Node] | None = None) -> dict[Node, int]:
    """For every node reachable from ``roots`` (and in ``within``, when given), how many
    recorded uses it has on the way there.

    A node is ready for its vjps once that many gradients have arrived (Kahn's algorithm),
    which orders the backward pass without sorting. Raises GraphError on a freed graph before
    any gradient moves.
    """
    consumers: dict[Node, int] = {}
    starts = set(roots)
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node.saved is None and node.sink is None:
            raise _freed_error(node)
        for parent in node.parents:
            if parent is None or (within is not None and parent not in within):
                continue
            if parent in consumers:
                consumers[parent] += 1
            else:
                consumers[parent] = 1
                if parent not in starts:  # a root that is also an input is walked once
                    stack.append(parent)
    return consumers


# --------------------------------------------------------------------- the backward pass
class CotangentMath(Protocol):
    """What the engine needs of the values it moves backwards (arrays, or Tensors that record)."""

    xp: Any

    def lift(self, array: Any, node: Node | None) -> Any: ...
    def sum_to_shape(self, value: Any, shape: tuple[int, ...]) -> Any: ...
    def cast(self, value: Any, dtype: Any) -> Any: ...
    def array(self, value: Any) -> ndarray: ...
    def residuals(self, node: Node, inputs: tuple[Any, ...]) -> dict[str, Any]: ...
    def deliver(self, owner: Any, value: Any) -> None: ...


def backward(
    roots: Sequence[Node],
    seeds: Sequence[Any],
    retain_graph: bool = False,
    math: CotangentMath | None = None,
    targets: Sequence[Node] | None = None,
) -> dict[Node, Any] | None:
    """Send each seed (dLoss/dRoot) back through the graph.

    Without ``targets`` every reachable leaf receives its gradient (``_accumulate_grad``);
    with them, nothing is delivered and the gradients arriving at the target nodes are
    returned (``tinygrad_hw.grad``), visiting only the nodes on a path to a target. Gradients
    live in a local dict and are popped once used; a node used several times receives the sum
    before its own vjps run. Unless ``retain_graph``, each node drops what it saved once used.
    A node's ``hooks`` (None, or a callable set by the Tensor layer) see that summed gradient
    first and may replace it, before it is delivered, returned or sent on to the inputs.
    ``math`` (None: plain arrays) says what a cotangent is; see CotangentMath.
    """
    within = None if targets is None else nodes_leading_to(roots, targets)
    wanted = () if targets is None else set(targets)
    pending = count_consumers(roots, within)
    grads: dict[Node, Any] = {}
    for root, seed in zip(roots, seeds, strict=True):
        grads[root] = seed if root not in grads else grads[root] + seed
    found: dict[Node, Any] = {}
    delivered: set[int] = set()
    check = modes.detect_anomaly
    tracer = modes.tracer  # tinygrad_hw.jit recording a step: it sees every vjp call
    if tracer is not None:
        tracer.backward_start(math, targets)
    arithmetic = _ARRAYS if math is None else math
    ready = [root for root in grads if root not in pending]
    while ready:
        node = ready.pop()
        g = grads.pop(node)
        if node.hooks is not None:  # the only cost of hooks to a node without any
            g = node.hooks(g, math)
        if node in wanted:
            found[node] = g
        if node.sink is not None:
            if targets is None:
                _deliver(node, g, delivered, math)
            continue
        if node.saved is None:
            raise _freed_error(node)
        if modified:  # an optimizer stepped while this graph was alive (saved_arrays)
            check_unmodified(node.op, node.saved[1], node.born)
        if math is None:  # first order: the saved arrays, numpy (inline: the hot path)
            xp = NUMPY if type(g) is ndarray else namespace_of(g)
            (out, inputs), kwargs = node.saved, node.params
            if node.residuals:
                kwargs = {**kwargs, **node.residuals}
        else:
            xp, out, inputs, kwargs = _recorded_vjp_arguments(node, math)
        vjps = node.primitive.vjps
        for index, parent in enumerate(node.parents):
            if parent is None or (within is not None and parent not in within):
                continue
            if kwargs:
                cotangent = vjps[index](xp, g, out, *inputs, **kwargs)
            else:  # a call without ** is a cheaper one for CPython
                cotangent = vjps[index](xp, g, out, *inputs)
            raw = cotangent
            if cotangent.shape != parent.shape:
                cotangent = arithmetic.sum_to_shape(cotangent, parent.shape)
            # a node keeps its array's dtype; a recorded cotangent is a Tensor, whose dtype
            # is numpy's whatever its library: compare its array's
            if (cotangent.dtype if math is None else cotangent.data.dtype) != parent.dtype:
                cotangent = arithmetic.cast(cotangent, parent.dtype)
            if check:
                _check_backward(node, index, cotangent if math is None else math.array(cotangent))
            previous = grads.get(parent)
            grads[parent] = cotangent if previous is None else previous + cotangent
            if tracer is not None:
                tracer.backward_edge(node, index, g, raw, cotangent, previous, grads[parent])
            pending[parent] -= 1
            if pending[parent] == 0:
                ready.append(parent)
        if not retain_graph:
            node.saved = node.residuals = node.params = node.locks = None
            node.parents = ()
    return found if targets is not None else None


def _recorded_vjp_arguments(node: Node, math: CotangentMath) -> tuple[Any, Any, tuple, dict]:
    """(xp, out, inputs, keyword arguments) for the node's vjps under create_graph: the saved
    arrays as recording values that carry their nodes, so gradients flow through them."""
    out, inputs = node.saved
    out = math.lift(out, node)
    inputs = tuple(math.lift(x, p) for x, p in zip(inputs, node.parents, strict=True))
    kwargs = node.params
    if node.residuals:
        kwargs = {**kwargs, **math.residuals(node, inputs)}
    return math.xp, out, inputs, kwargs


class _ArrayMath:
    """First-order cotangents: plain arrays."""

    @staticmethod
    def sum_to_shape(g: ndarray, shape: tuple[int, ...]) -> ndarray:
        return sum_to_shape(namespace_of(g), g, shape)

    @staticmethod
    def cast(g: ndarray, dtype: Any) -> ndarray:
        if type(g) is ndarray:
            return cast(g, dtype)  # the module's function, looked up at call time
        return namespace_of(g).cast(g, dtype)


_ARRAYS = _ArrayMath()


def _deliver(leaf: Node, g: Any, delivered: set[int], math: CotangentMath | None) -> None:
    """Hand a leaf its gradient as an array it owns: no view, no array shared with a sibling."""
    owner = leaf.sink()
    if owner is None:
        return
    if math is not None:
        math.deliver(owner, g)
        return
    given = g
    # only numpy tells a view from an owner: another library's gradient is always copied
    fresh = type(g) is ndarray and g.base is None and g.flags.writeable
    if not fresh or id(g) in delivered:
        g = copy(g)
    delivered.add(id(g))
    if modes.tracer is not None:
        modes.tracer.deliver(leaf, owner, given, g)
    owner._accumulate_grad(g)
