"""An offline HubSpot for hubwerk's tests, demos and benchmarks.

``HubSpotSandbox`` serves HubSpot's OAuth, CRM v3 objects / batch / search / properties /
pipelines, associations v4 and workflow-action callbacks on loopback, sends signed
webhooks, app-card and workflow-action calls, and has a control API under ``/_sandbox``.
See ``sandbox/hubspot/README.md``.
"""
from .core import ALL_SCOPES, HubSpotSandbox
from .signing import sign_v1, sign_v2, sign_v3

__all__ = ["HubSpotSandbox", "ALL_SCOPES", "sign_v1", "sign_v2", "sign_v3"]
