"""billwerk sandbox: an in-memory billwerk Transform REST API on loopback.

See ``sandbox/billwerk/README.md``. Entry point::

    from sandbox.billwerk import BillwerkSandbox
    bw = BillwerkSandbox()
    server = bw.serve()          # or ServerThread(bw.app).start(); bw.base_url = server.url
"""
from .sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ENTITIES, BillwerkSandbox, Settings

__all__ = ["BillwerkSandbox", "Settings", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_ENTITIES"]
