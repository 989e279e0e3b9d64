"""The executor's fixture for the signals tests that decide stored fills the way it does."""

from tests.execution.conftest import make_executor  # noqa: F401  (the fixture)
