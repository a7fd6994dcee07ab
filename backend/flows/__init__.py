"""Business flows, one module per flow. Importing this package registers them all."""
from backend.flows import probe, provisioning  # noqa: F401
