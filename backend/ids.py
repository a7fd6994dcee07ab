"""HubSpot ids as they arrive in requests and payloads."""
from __future__ import annotations


def is_id(value, max_length: int = 18) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes "²" or "١", which ``int()`` refuses or misreads."""
    value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return isinstance(value, str) and 0 < len(value) <= max_length and value.isascii() and value.isdigit()
