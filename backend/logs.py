"""Structured JSON logs with a request id (or job id) on every line; secrets are redacted.

Log stable event names with ids as extra fields::

    log.info("billwerk.webhook.unauthorized", extra={"account_id": 3})

Any extra field whose name looks like a secret (token, secret, password, authorization,
signature, api key) is replaced by ``"[redacted]"`` before it is written, as a second line of
defence behind the rule that secrets are never logged at all.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from datetime import datetime, timezone

from flask import g, has_request_context

_SECRETISH = re.compile(r"token|secret|password|passwd|authorization|signature|api_?key|cookie", re.I)
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id", "job_id"}

job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("hubwerk_job_id", default=None)


def redact(value, key: str = ""):
    if key and _SECRETISH.search(key):
        return "[redacted]"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = g.get("request_id") if has_request_context() else None
        if not getattr(record, "job_id", None):
            record.job_id = job_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for attr in ("request_id", "job_id"):
            if getattr(record, attr, None):
                payload[attr] = getattr(record, attr)
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = redact(value, key)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


_configured = False


def configure_logging(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once per process."""
    global _configured
    root = logging.getLogger()
    root.setLevel(level)
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    _configured = True


class Stopwatch:
    def __init__(self):
        self.start = time.perf_counter()

    @property
    def ms(self) -> float:
        return round((time.perf_counter() - self.start) * 1000, 1)
