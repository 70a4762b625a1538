"""Benchmarks: tinygrad_hw against hand-written numpy backprop (and PyTorch / HIPS autograd when
installed). Each script asserts parity first, then times interleaved rounds:

    python -m benchmarks.step      one training step, MLP 784-H-10 (--memory: peak memory)
    python -m benchmarks.epoch     a full epoch of seed 004's and seed 000's experiments
    python -m benchmarks.overhead  a tiny op, the overhead share of a step, and its profile

Results go to benchmarks/results/ (JSON, and a PNG for the step). The library never imports
this package.
"""
