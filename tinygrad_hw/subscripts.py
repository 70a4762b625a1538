"""einsum's subscripts, checked against the operands' shapes and put in the plain form the
einsum primitive takes (see ``tinygrad_hw.ops.contractions``).

Supported, as numpy: explicit (``"ij,jk->ik"``) and implicit (``"ij,jk"``: the output is the
letters that appear once, in alphabetical (ASCII) order) outputs; ``...`` standing for the
same broadcast batch axes in every operand and in the output; size-1 axes broadcast against
the same letter's size elsewhere; spaces ignored. Refused with ArgumentError: a letter
repeated within one operand (``"ii->i"``, diagonals and traces: their vjp writes onto a
diagonal, which an einsum cannot) or within the output, an output letter absent from the
inputs, and characters other than ASCII letters, ``,``, ``->`` and ``...``.
"""

import string
from typing import NamedTuple

from tinygrad_hw.errors import ArgumentError, DTypeError, ShapeError

Shape = tuple[int, ...]


class Plain(NamedTuple):
    """The subscripts in plain form; ``squeeze[i]`` lists the axes of operand i to drop
    (size 1 against a larger size of the same letter elsewhere) before the primitive runs."""

    inputs: tuple[str, ...]
    output: str
    squeeze: tuple[tuple[int, ...], ...]


class _Term(NamedTuple):
    letters: str  # without the ellipsis
    ellipsis_at: int  # position of "..." among the letters, -1 without one


def plain_subscripts(subscripts: object, shapes: list[Shape]) -> Plain:
    """Check ``subscripts`` against ``shapes`` and spell it without ``...`` or broadcasting."""
    if not isinstance(subscripts, str):
        raise DTypeError(f"einsum: subscripts must be a string, got {type(subscripts).__name__}")
    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        raise ArgumentError(f"einsum: subscripts {subscripts!r} have more than one '->'")
    left, arrow, right = text.partition("->")
    terms = [_term(t, subscripts) for t in left.split(",")]
    if len(terms) != len(shapes):
        raise ArgumentError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s), got {len(shapes)}"
        )
    for i, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        _check_term(i, term, shape, subscripts)
    used = set(left + right)
    batch = max((len(s) - len(t.letters) for t, s in zip(terms, shapes, strict=True)), default=0)
    fresh = "".join(c for c in string.ascii_letters if c not in used)
    if len(fresh) < batch:
        raise ArgumentError(f"einsum: too many letters in {subscripts!r} to spell '...' out")
    inputs = tuple(_spell(t, s, fresh[:batch]) for t, s in zip(terms, shapes, strict=True))
    output = _output(_term(right, subscripts) if arrow else None, terms, fresh[:batch], subscripts)
    sizes = _letter_sizes(inputs, shapes, subscripts, fresh[:batch])
    squeeze = tuple(
        tuple(a for a, (c, n) in enumerate(zip(term, shape, strict=True)) if n == 1 != sizes[c])
        for term, shape in zip(inputs, shapes, strict=True)
    )
    inputs = tuple(
        "".join(c for a, c in enumerate(term) if a not in drop)
        for term, drop in zip(inputs, squeeze, strict=True)
    )
    return Plain(inputs, output, squeeze)


def _term(text: str, subscripts: str) -> _Term:
    letters = text.replace("...", "", 1)
    if not all(c in string.ascii_letters for c in letters):
        bad = next(c for c in letters if c not in string.ascii_letters)
        raise ArgumentError(
            f"einsum: bad character {bad!r} in subscripts {subscripts!r} (use ASCII letters, "
            "',', '->' and at most one '...' per operand)"
        )
    return _Term(letters, text.find("..."))


def _check_term(index: int, term: _Term, shape: Shape, subscripts: str) -> None:
    repeated = sorted({c for c in term.letters if term.letters.count(c) > 1})
    if repeated:
        raise ArgumentError(
            f"einsum: letter {repeated[0]!r} repeats within operand {index} of {subscripts!r}: "
            "diagonals and traces ('ii->i', 'ii->') are not supported; multiply by an "
            "identity matrix instead ('ij,ij->i' with eye)"
        )
    if len(shape) < len(term.letters) or (term.ellipsis_at < 0 and len(shape) != len(term.letters)):
        raise ShapeError(
            f"einsum: operand {index} has shape {shape} ({len(shape)} axes), its subscripts "
            f"{term.letters!r}{' with ...' if term.ellipsis_at >= 0 else ''} in {subscripts!r} "
            f"name {len(term.letters)}"
        )


def _spell(term: _Term, shape: Shape, batch: str) -> str:
    """The term with its ``...`` as the last letters of ``batch`` (numpy aligns batch axes
    from the right, as in broadcasting)."""
    if term.ellipsis_at < 0:
        return term.letters
    count = len(shape) - len(term.letters)
    at = term.ellipsis_at
    return term.letters[:at] + batch[len(batch) - count :] + term.letters[at:]


def _output(term: _Term | None, terms: list[_Term], batch: str, subscripts: str) -> str:
    inputs = "".join(t.letters for t in terms)
    if term is None:  # implicit: the batch axes, then the letters used once, sorted
        return batch + "".join(sorted(c for c in set(inputs) if inputs.count(c) == 1))
    repeated = sorted({c for c in term.letters if term.letters.count(c) > 1})
    if repeated:
        raise ArgumentError(
            f"einsum: letter {repeated[0]!r} repeats in the output of {subscripts!r}"
        )
    missing = sorted(set(term.letters) - set(inputs))
    if missing:
        raise ArgumentError(
            f"einsum: output letter {missing[0]!r} of {subscripts!r} is in no operand"
        )
    if term.ellipsis_at < 0 and batch:
        raise ArgumentError(
            f"einsum: the operands of {subscripts!r} have '...' axes, the output has no '...'"
        )
    return _spell(term, (0,) * (len(term.letters) + len(batch)), batch)


def _letter_sizes(
    inputs: tuple[str, ...], shapes: list[Shape], subscripts: str, batch: str
) -> dict[str, int]:
    """The size of each letter: equal in every operand, or 1 where it broadcasts."""
    sizes: dict[str, int] = {}
    for term, shape in zip(inputs, shapes, strict=True):
        for c, n in zip(term, shape, strict=True):
            seen = sizes.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                what = "the '...' axes" if c in batch else f"letter {c!r}"
                raise ShapeError(
                    f"einsum: {what} of {subscripts!r} have sizes {seen} and {n} in "
                    f"shapes {shapes} (they must be equal, or 1 to broadcast)"
                )
            sizes[c] = n if seen == 1 else seen
    return sizes
