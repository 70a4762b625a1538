"""The primitive contract: one op, its forward and its vjps, written once against ``xp``.

A ``Primitive`` is data, not code that runs: a name, a forward function and one vjp per input,
plus a declaration of what the vjps need from the forward pass. The engine calls them:

- ``forward(xp, *inputs, **params) -> out`` (or ``(out, residuals)`` when the op declares
  residuals: a small dict of named arrays, such as relu's mask);
- ``vjp_i(xp, g, out, *inputs, **params, **residuals) -> cotangent of input i``.

``xp`` is an array namespace. For the forward pass and a first-order backward pass it is the
backend's (numpy by default) and every argument is an array. With ``create_graph=True`` the
engine calls the same vjps with ``xp`` set to the library's differentiable functions
(``tinygrad_hw.functions``) and Tensors for ``g``, ``out`` and the inputs, so the backward
pass is itself recorded and can be differentiated again (HIPS autograd's trick). A vjp must
therefore use only ``xp`` functions, Python operators and other primitives: nothing that
works on arrays alone.

An op may also give a version of its forward and vjps that writes into arrays it is handed
(``forward_into(xp, into, *inputs, **params)``, ``into`` shaped like the forward's result:
``out`` or ``(out, residuals)``; ``vjp_into(xp, into, g, out, *inputs, **params,
**residuals)``): the same numpy calls, with ``out=``, so a step that ``tinygrad_hw.jit``
replays allocates nothing and gets the same bits. ``into`` may be the buffer of an input that
is not needed afterwards: read every input before writing into it.

Non-differentiable operands (labels, a ``where`` condition, an axis, an index) are ``params``,
never inputs. Cotangents may keep the broadcast shape of the output: the engine sums them back
to each input's shape, so no formula mentions broadcasting.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Forward = Callable[..., Any]
Vjp = Callable[..., Any]


@dataclass(frozen=True, eq=False)
class Primitive:
    """One differentiable op.

    ``saves_out`` and ``saves_inputs`` declare what the vjps read (the rest reaches them as
    None), so the graph keeps alive only what the backward pass needs. ``saves_inputs`` is
    True (all), False (none) or the positions of the inputs to keep.

    ``residuals``: the forward returns ``(out, {name: array})``; the vjps take each name as a
    keyword. Residuals are constants of the backward pass (masks, tie shares): under
    ``create_graph`` they are not differentiated. An op whose residual does depend smoothly
    on its inputs (a saved softmax) sets ``differentiable_residuals``: under ``create_graph``
    the engine runs the forward again on the differentiable namespace to get them as Tensors.

    ``needs_float``: the op's maths is real-valued (exp, sigmoid, softmax, ...), so ``apply``
    hands it integer and bool inputs as float64 when no input is a float array. numpy would
    compute 8-bit integers in float16 (exp(uint8 100) = inf) or negate a uint8 with
    wrap-around (sigmoid(uint8 100) = 0): silent wrong answers on ``load_idx``'s images.
    """

    name: str
    forward: Forward
    vjps: Sequence[Vjp]
    saves_out: bool = False
    saves_inputs: bool | tuple[int, ...] = True
    residuals: bool = False
    differentiable_residuals: bool = False
    forward_into: Forward | None = None  # optional: the forward writing into given arrays
    vjps_into: Sequence[Vjp | None] | None = None  # optional: per input, vjp writing into
    needs_float: bool = False

    arity: int = field(init=False)  # how many differentiable inputs (one vjp each)
    _nothing: tuple[None, ...] = field(init=False, repr=False)  # saved_inputs with none kept

    def __post_init__(self) -> None:
        if not callable(self.forward) or not all(callable(v) for v in self.vjps):
            raise TypeError(f"primitive {self.name!r}: forward and every vjp must be callable")
        object.__setattr__(self, "vjps", tuple(self.vjps))
        into = (None,) * len(self.vjps) if self.vjps_into is None else tuple(self.vjps_into)
        if len(into) != len(self.vjps):
            raise TypeError(f"primitive {self.name!r}: vjps_into needs one entry per vjp")
        object.__setattr__(self, "vjps_into", into)
        object.__setattr__(self, "arity", len(self.vjps))
        object.__setattr__(self, "_nothing", (None,) * len(self.vjps))

    def saved_inputs(self, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        """The inputs the vjps need, None in place of the others."""
        keep = self.saves_inputs
        if keep is True:
            return inputs
        if keep is False:
            return self._nothing
        return tuple([x if i in keep else None for i, x in enumerate(inputs)])

    def __repr__(self) -> str:
        return f"Primitive({self.name!r}, {self.arity} input(s))"


def primitive(
    name: str,
    forward: Forward,
    vjps: Sequence[Vjp],
    *,
    saves_out: bool = False,
    saves_inputs: bool | tuple[int, ...] = True,
    residuals: bool = False,
    differentiable_residuals: bool = False,
    forward_into: Forward | None = None,
    vjps_into: Sequence[Vjp | None] | None = None,
    needs_float: bool = False,
) -> Primitive:
    """Define an op: ``y = tinygrad_hw.apply(op, x, **params)`` then records it.

    Example (a cube with its vjp 3 x^2 g, differentiable again because it is written in
    Python operators)::

        cube = primitive("cube", lambda xp, x: x**3, [lambda xp, g, out, x: 3 * x**2 * g])
    """
    return Primitive(
        name,
        forward,
        tuple(vjps),
        saves_out=saves_out,
        saves_inputs=saves_inputs,
        residuals=residuals or differentiable_residuals,
        differentiable_residuals=differentiable_residuals,
        forward_into=forward_into,
        vjps_into=vjps_into,
        needs_float=needs_float,
    )
