"""Draw the graph the tape recorded for a result: Graphviz DOT text, or SVG/PNG/PDF files.

Every op that needs a gradient leaves a ``Node`` (``tensor._node``) with its op name, shape,
dtype and the nodes of its inputs (``.parents``); a leaf's node holds a weak reference to its
tensor. ``to_dot`` walks those nodes iteratively (a 100,000-op chain is fine) and writes one
DOT node per op, an edge from each input to the op that used it (twice for ``x * x``), leaves
as boxes with their gradient once it is computed, and the result with a double border.

In Jupyter the text shows as the picture: ``to_dot`` (and ``Tensor.graph()``) return a
:class:`Dot`, a ``str`` whose ``_repr_svg_`` and ``_repr_mimebundle_`` give the SVG drawn by
Graphviz when its ``dot`` program is installed, and the DOT text otherwise.

Two limits follow from what the tape keeps:
- backward() frees the graph (each node drops its inputs to release the saved arrays), so
  call ``to_dot`` before backward(), or call ``backward(retain_graph=True)``;
- inputs that require no gradient (data, constants) are not recorded, so they are not drawn.
"""

import functools
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_hw.atomic import atomic_write_bytes
from tinygrad_hw.autodiff import Node, topological_order
from tinygrad_hw.errors import (
    ArgumentError,
    DTypeError,
    GraphError,
    MissingDataError,
    TinygradHWError,
)
from tinygrad_hw.tensor import Tensor

FORMATS = ("svg", "png", "pdf")
_LEAF_STYLE = 'shape=box, style=filled, fillcolor="#dbe9f6"'


class Dot(str):
    """DOT text (a ``str``) that Jupyter draws: the SVG from Graphviz when ``dot`` is on PATH,
    else the text itself."""

    def _repr_svg_(self) -> str | None:
        program = shutil.which("dot")
        if program is None:
            return None  # Jupyter then shows the text
        return _run_dot(program, "svg", self).decode()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bundle = {"text/plain": str(self)}
        svg = self._repr_svg_()
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle


def to_dot(tensor: Tensor, names: Mapping[Any, Any] | None = None) -> Dot:
    """The recorded graph of ``tensor`` as Graphviz DOT text (``dot -Tsvg`` draws it).

    Nodes are numbered n0, n1, ... inputs first. ``names`` labels tensors of the graph, as a
    dict name -> Tensor (e.g. a model's parameters) or Tensor -> name; a named op node shows
    "name = op". Raises GraphError when ``tensor`` has no graph or backward() freed it.
    """
    root = _root_node(tensor)
    labels = _labels(names)
    order = _graph_nodes(root)
    ids = {id(node): f"n{index}" for index, node in enumerate(order)}
    lines = ["digraph tinygrad_hw {", '  node [fontname="Helvetica", fontsize=10];']
    for node in order:
        attributes = _attributes(node, labels.get(id(node)), node is root)
        lines.append(f"  {ids[id(node)]} [{attributes}];")
    for node in order:
        lines += [f"  {ids[id(p)]} -> {ids[id(node)]};" for p in node.parents if p is not None]
    lines.append("}")
    return Dot("\n".join(lines) + "\n")


def render(
    tensor: Tensor,
    path: str | Path,
    format: str | None = None,
    names: Mapping[Any, Any] | None = None,
) -> Path:
    """Draw the graph of ``tensor`` into ``path`` with Graphviz's ``dot`` program.

    The format follows the file name (``graph.png`` is PNG; svg, png, pdf), or ``format``
    when the name has no such suffix. Only the ``dot`` program is needed (no Python
    package): the DOT text goes to its stdin and the picture, read from its stdout, is
    written atomically, so ``path`` never holds half a file. Raises MissingDataError saying
    what to install when ``dot`` is not on PATH.
    """
    format = _format_for(Path(path), format)
    program = shutil.which("dot")
    if program is None:
        raise MissingDataError(
            "render needs the 'dot' program of Graphviz, which is not on PATH: install Graphviz "
            "(apt install graphviz, brew install graphviz or conda install graphviz); "
            "to_dot(tensor) gives the DOT text without it"
        )
    text = to_dot(tensor, names)
    picture = _run_dot(program, format, text)
    atomic_write_bytes(path, picture)
    return Path(path)


def _format_for(path: Path, format: str | None) -> str:
    """The picture format: the file's suffix, else ``format``, else svg; both must agree."""
    suffix = path.suffix.lower().lstrip(".")
    if format is not None and format not in FORMATS:
        raise ArgumentError(f"render: format must be one of {FORMATS}, got {format!r}")
    if suffix in FORMATS:
        if format is not None and format != suffix:
            raise ArgumentError(
                f"render: format={format!r} but the file name {path.name!r} says {suffix!r}"
            )
        return suffix
    return format or "svg"


def _run_dot(program: str, format: str, text: str) -> bytes:
    try:
        done = subprocess.run(
            [program, f"-T{format}"], input=text.encode(), capture_output=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TinygradHWError(f"render: could not run {program}: {error}") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()[:500]
        raise TinygradHWError(f"render: dot -T{format} failed (exit {done.returncode}): {message}")
    return done.stdout


# --------------------------------------------------------------------------- the walk


def _root_node(tensor: Any) -> Node:
    if not isinstance(tensor, Tensor):
        raise DTypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    if tensor._node is None:
        raise GraphError(
            "to_dot: this tensor has no recorded graph: none of its inputs has "
            "requires_grad=True, or it was computed under no_grad()"
        )
    return tensor._node


def _graph_nodes(root: Node) -> list[Node]:
    """Every node reachable from ``root``, each after its inputs (the engine's own order)."""
    try:
        return topological_order(root)
    except GraphError:
        raise GraphError(
            "to_dot: the graph was freed by backward(): call to_dot before backward(), or call "
            "backward(retain_graph=True) to keep the graph"
        ) from None


def _labels(names: Mapping[Any, Any] | None) -> dict[int, str]:
    """id(node) -> name, from a dict name -> Tensor or Tensor -> name."""
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise DTypeError(f"to_dot: names must be a dict, got {type(names).__name__}")
    labels = {}
    for key, value in names.items():
        tensor, name = (value, key) if isinstance(value, Tensor) else (key, value)
        if not isinstance(tensor, Tensor) or not isinstance(name, str):
            raise DTypeError("to_dot: names must map str -> Tensor (or Tensor -> str)")
        if tensor._node is not None:
            labels[id(tensor._node)] = name
    return labels


def _attributes(node: Node, name: str | None, is_root: bool) -> str:
    """The DOT attributes of one node: its label, and a box for a leaf."""
    shape = f"{node.shape} {_dtype_name(node.dtype)}"
    if node.sink is None:
        text = [f"{name} = {node.op}" if name else node.op, shape]
        style = ""
    else:
        text = [name or "leaf", shape, *_gradient_lines(node)]
        style = ", " + _LEAF_STYLE
    border = ", peripheries=2" if is_root else ""
    return f'label="{_escape(text)}"{style}{border}'


@functools.cache
def _dtype_name(dtype: Any) -> str:
    return str(dtype)  # numpy's dtype.__str__ is slow enough to dominate a 100,000-op graph


def _gradient_lines(leaf: Node) -> list[str]:
    owner = leaf.sink()
    if owner is None:
        return ["(tensor deleted)"]
    if owner.grad is None:
        return []
    norm = float(np.linalg.norm(owner.grad))
    return [f"grad {owner.grad.shape}, norm {norm:.4g}"]


def _escape(lines: list[str]) -> str:
    """DOT label text: quotes and backslashes escaped, lines joined by DOT's \\n."""
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") for line in lines]
    return "\\n".join(escaped)
