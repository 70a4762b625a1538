"""Embedding: a learnt lookup table, row i the vector of token (or category) i."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_hw.errors import BadIndexError, DTypeError
from tinygrad_hw.nn.layers import Seed, as_generator, float_dtype
from tinygrad_hw.nn.module import Module
from tinygrad_hw.ops.devices import namespace_of, to_host
from tinygrad_hw.tensor import Tensor
from tinygrad_hw.validation import positive_int


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim)``: indices of any shape S -> vectors of shape
    S + (embedding_dim,), rows of ``weight`` (num_embeddings, embedding_dim), initialised
    N(0, 1) as in PyTorch. The forward pass is indexing, whose vjp scatter-adds: an index that
    appears several times in a batch receives the sum of its rows' gradients.
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, dtype: Any = np.float32, rng: Seed = None
    ) -> None:
        super().__init__()
        self.num_embeddings = positive_int("Embedding: num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding: embedding_dim", embedding_dim)
        shape = (self.num_embeddings, self.embedding_dim)
        table = as_generator(rng).standard_normal(shape).astype(float_dtype(dtype))
        self.weight = Tensor(table, requires_grad=True)

    def forward(self, indices: Any) -> Tensor:
        if isinstance(indices, Tensor):  # on any device; its dtype in numpy's terms
            index, dtype = indices.data, indices.dtype
        else:
            index = np.asarray(indices)
            dtype = index.dtype
        if dtype.kind not in "iu":
            raise DTypeError(
                f"{self!r}: indices must be integers, got dtype {dtype} "
                "(cast with .astype(np.int64))"
            )
        bad = (index < 0) | (index >= self.num_embeddings)
        if bad.any() if type(bad) is np.ndarray else namespace_of(bad).any(bad):
            host, bad = to_host(index), to_host(bad)  # the error names the first bad one
            where = np.unravel_index(np.argmax(bad), index.shape)
            raise BadIndexError(
                f"{self!r}: index {host[where]} at position {tuple(int(i) for i in where)} is "
                f"out of range [0, {self.num_embeddings})"
            )
        return self.weight[index]

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"
