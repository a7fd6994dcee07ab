"""pytest fixtures that serve the sandboxes on loopback, one fresh server per test.

Registered by ``tests/conftest.py`` (``pytest_plugins``); usable by any project that has
hubwerk's ``sandbox`` package on its path.
"""
from sandbox.billwerk.testing import billwerk_sandbox  # noqa: F401
from sandbox.hubspot.testing import hubspot_sandbox  # noqa: F401
