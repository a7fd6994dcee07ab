"""Business flows, one module per flow. Importing this package registers them all."""
from backend.flows import catalog_sync, customer_import, hubspot_events, probe, provisioning, workflow_actions  # noqa: F401
