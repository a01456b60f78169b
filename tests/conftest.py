"""Test configuration: hypothesis profiles.

numba compiles a kernel on its first call, so hypothesis deadlines are off.
Under CI the search is derandomized so that a run is reproducible; locally it
explores new examples each run.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    parent=settings.get_profile("dev"),
    derandomize=True,
    database=None,
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)

# tests/typing is user code for mypy (make lint), not tests to run
collect_ignore_glob = ["typing/*"]
