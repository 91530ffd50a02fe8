import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import arka.testing.reference  # noqa: E402,F401 - registers the "reference" executor

# the dashboard tests' browser and page fixtures
pytest_plugins = ["tests.dashboard_fixtures"]

# `ci` (set by .ci/run) runs the property tests at full strength; `dev` keeps local runs quick.
# Every example has a deadline, generous because CI machines are shared and loaded: an
# example that takes seconds is a defect (a hang, a quadratic path), not noise. Tests that
# are slow by design set their own. A deadline only judges examples that finish; tests of
# hostile input also run each example under `tests.timeouts.within`, which interrupts one.
settings.register_profile("ci", max_examples=1000, deadline=timedelta(seconds=10),
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=timedelta(seconds=5),
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("ARKA_HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files (tests/golden) from the current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
