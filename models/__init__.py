"""Runnable experiments built on tinygrad_hw: ``python -m models list``."""
