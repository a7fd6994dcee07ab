"""Business flows, one module per flow. Importing this package registers them all."""
from backend.flows import customer_import, hubspot_events, probe, provisioning  # noqa: F401
