"""Fixtures of the billwerk sandbox tests (defined in ``billwerk_helpers``)."""
from billwerk_helpers import api, billwerk_sandbox, bw, receiver, seeded  # noqa: F401
