"""Hypothesis profiles: 'ci' is derandomized (the same examples every run) so CI is
deterministic; 'dev' explores more. CI=true selects 'ci'. 'backend' is 'ci' with fewer
examples, for the second run of the test files on another array library (tests/test_devices.py):
that run proves the same code paths portable, while the numerics are proved by the numpy run's
40 examples per property, so a quarter of them keeps CI short."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("backend", parent=settings.get_profile("ci"), max_examples=10)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
