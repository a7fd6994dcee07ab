"""The wiring: every flow, inbox handler, finish hook and scheduled job of the connector, in one place.

``create_app`` calls :func:`register`, which hands these tables to ``jobs/``; ``jobs/`` runs what
is registered and imports nothing from ``flows/`` or ``setup/``.

* A new flow: a function ``flow(run) -> counts`` in ``flows/`` (or ``setup/``), and a row in ``FLOWS``.
* A new inbound source: a row in ``INBOX_HANDLERS`` (the source names are ``models.inbox.SOURCES``);
  a drained source may add a row in ``INBOX_BATCH_HANDLERS`` (a chunk of deliveries at once).
* Inside a source, events are dispatched by the tables of their flow module:
  ``flows/hubspot_events.py`` (``EVENT_HANDLERS``, ``PROPERTY_HANDLERS``),
  ``flows/billwerk_events.py`` (``EVENT_HANDLERS``), ``flows/workflow_actions.py`` (``ACTIONS``),
  ``flows/company_card.py`` / ``flows/deal_card.py`` (``ACTIONS``).
* A new scheduled job: a row in ``SCHEDULE``.
"""
from __future__ import annotations

from backend.flows import (billwerk_events, catalog_sync, contract_creation, custom_fields, customer_import, deal_validation,
                           hubspot_events, probe, upgrade_deals, upgrade_execution, workflow_actions)
from backend.flows import contract_updates
from backend.flows import customer_updates
from backend.jobs import inbox, runs
from backend.setup import provisioning

FLOWS = {
    "worker_probe": probe.worker_probe,
    "provision_properties": provisioning.provision_properties,
    catalog_sync.FLOW: catalog_sync.sync_products,
    "import_customer_for_deal": customer_import.import_customer_for_deal,
    "import_company": customer_import.import_company,
    "scan_import_candidates": customer_import.scan_import_candidates,
    "import_customers": customer_import.import_customers,
    custom_fields.FLOW: custom_fields.sync_custom_fields,
    upgrade_deals.FLOW: upgrade_deals.create_upgrade_deal,
    deal_validation.FLOW: deal_validation.validate_deal,
    deal_validation.OUTDATED_FLOW: deal_validation.check_deal_cart,
    contract_creation.FLOW: contract_creation.create_contract,
    upgrade_execution.FLOW: upgrade_execution.execute_upgrade,
    customer_updates.FLOW_COMPANY: customer_updates.update_customer_from_company,
    customer_updates.FLOW_CONTACT: customer_updates.update_customer_from_contact,
    customer_updates.RETRY_FLOW: customer_updates.retry_failed_customer_updates,
    contract_updates.FLOW: contract_updates.update_deal_from_contract,
}

INBOX_HANDLERS = {
    "hubspot_webhook": hubspot_events.handle_hubspot_delivery,
    "billwerk_webhook": billwerk_events.handle_billwerk_delivery,
}
# Sources worked off by the inbox drain (``jobs/inbox.py``) may also take a chunk of rows at once.
INBOX_BATCH_HANDLERS = {
    "billwerk_webhook": billwerk_events.handle_billwerk_deliveries,
}

# Called with every run that finished.
FINISH_HOOKS = (
    workflow_actions.complete_callback,     # completes the HubSpot workflow callback behind a run
)

# (function, queue, {"interval": seconds} or {"cron": "m h dom mon dow"}) for ``flask --app backend cron``.
SCHEDULE = [
    (runs.retry_failed_runs, "low", {"interval": 60}),
    (runs.recover_stuck_runs, "low", {"interval": 20}),
    (inbox.sweep_inbox, "default", {"interval": 30}),
    (catalog_sync.sync_products_everywhere, "low", {"cron": "0 */12 * * *"}),
    (custom_fields.sync_custom_fields_everywhere, "low", {"interval": 300}),
    (customer_updates.retry_failed_customer_updates_everywhere, "low", {"interval": 900}),
    # Contracts whose deal was last updated more than a day ago, a bounded number per portal per tick.
    (contract_updates.reconcile_contracts_everywhere, "low", {"interval": 600}),
]


def register() -> None:
    """Idempotent: every app built in one process registers the same functions."""
    for name, func in FLOWS.items():
        runs.register_flow(name, func)
    for source, handler in INBOX_HANDLERS.items():
        inbox.register_handler(source, handler)
    for source, handler in INBOX_BATCH_HANDLERS.items():
        inbox.register_batch_handler(source, handler)
    for hook in FINISH_HOOKS:
        runs.register_finish_hook(hook)
