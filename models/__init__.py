"""Runnable experiments built on tinygrad_hw: ``python -m models list``.

One file per experiment family (mlp.py: seeds 000, 001, 004; logistic.py: seed 002;
seed003.py and toy.py: seed 003; random_labels.py), all trained by the shared runner
(runner.py) through the command line in cli.py. demo.py and backprop_mistakes.py are
standalone scripts.
"""
