"""What HubSpot's batch and search calls give back, as data: per-input results and errors (a 207
is never "all done"), search pages, and the 10,000-result search cap."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from backend.errors import HubwerkError

SEARCH_RESULT_CAP = 10_000       # HubSpot's search reaches no record past the first 10,000 results


class SearchCapReached(HubwerkError):
    """A search matched more records than HubSpot lets a query reach (10,000).

    Raised after the last reachable page was yielded. ``total`` is HubSpot's count,
    ``fetched`` what was yielded, ``last`` the last record seen: narrow the query (a date
    window, or ``hs_object_id`` greater than ``last["id"]`` with an ascending id sort) and search again.
    """

    code = "search_cap_reached"
    status = 422
    retriable = False

    def __init__(self, object_type: str, total: int | None, fetched: int, last: dict | None):
        super().__init__(f"HubSpot search over {object_type} matched {total if total is not None else 'more than 10,000'} "
                         f"records but only the first {SEARCH_RESULT_CAP:,} can be read; narrow the search "
                         f"(e.g. by a date window) and run it again.")
        self.object_type = object_type
        self.total = total
        self.fetched = fetched
        self.last = last


@dataclass
class BatchError:
    """One failed input of a batch call (or a batch-level error no input could be matched to)."""

    message: str
    category: str | None = None
    status: int | None = None
    index: int | None = None          # position in the inputs the caller passed
    input: dict | None = None
    ids: list[str] = field(default_factory=list)
    trace_id: str | None = None
    errors: list = field(default_factory=list)
    context: dict = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        for err in self.errors:
            if isinstance(err, dict) and err.get("code"):
                return err["code"]
        return None

    @property
    def existing_id(self) -> str | None:
        ids = self.context.get("existingId") if isinstance(self.context, dict) else None
        if ids:
            return str(ids[0])
        match = re.search(r"Existing ID:\s*(\d+)", self.message or "")
        return match.group(1) if match else None


@dataclass
class BatchResult:
    """``results`` HubSpot returned and ``errors`` per input, over every chunk of a batch call."""

    results: list[dict] = field(default_factory=list)
    errors: list[BatchError] = field(default_factory=list)
    calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def failed_inputs(self) -> list[dict]:
        return [e.input for e in self.errors if e.input is not None]

    def by_trace_id(self) -> dict[str, dict]:
        return {r["objectWriteTraceId"]: r for r in self.results if r.get("objectWriteTraceId")}

    def raise_for_errors(self) -> "BatchResult":
        if self.errors:
            first = self.errors[0]
            raise HubwerkError(f"HubSpot refused {len(self.errors)} of the records in a batch; first: {first.message}",
                               code="batch_partially_failed", status=422, retriable=False)
        return self


@dataclass
class SearchPage:
    results: list[dict]
    total: int | None
    after: str | None        # the cursor that fetched this page (None for the first)


def unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def merge_by_id(inputs: Iterable[dict], id_property: str | None) -> list[dict]:
    merged: dict[tuple, dict] = {}
    for item in inputs:
        item = dict(item)
        if id_property and "idProperty" not in item:
            item["idProperty"] = id_property
        key = (item.get("idProperty") or "", str(item["id"]))
        if key in merged:
            earlier = merged[key]
            earlier["properties"] = {**(earlier.get("properties") or {}), **(item.get("properties") or {})}
        else:
            item["id"] = str(item["id"])
            merged[key] = item
    return list(merged.values())


def match_errors(errors: list, chunk: list[dict], offset: int) -> list[BatchError]:
    """One :class:`BatchError` per input an error names (by trace id, id, property name)."""
    out: list[BatchError] = []
    by_trace = {item.get("objectWriteTraceId"): i for i, item in enumerate(chunk) if item.get("objectWriteTraceId")}
    by_id: dict[str, int] = {}
    by_name: dict[str, int] = {}
    for i, item in enumerate(chunk):
        if "id" in item:
            by_id.setdefault(str(item["id"]), i)
        if "name" in item:
            by_name.setdefault(str(item["name"]), i)
    for err in errors:
        if not isinstance(err, dict):
            continue
        ctx = err.get("context") if isinstance(err.get("context"), dict) else {}
        matched: list[int] = []
        for trace in ctx.get("objectWriteTraceId") or []:
            if trace in by_trace:
                matched.append(by_trace[trace])
        if not matched:
            for key, index in (("ids", by_id), ("fromObjectId", by_id), ("name", by_name)):
                matched = [index[str(v)] for v in ctx.get(key) or [] if str(v) in index]
                if matched:
                    break
        common = dict(message=err.get("message") or "", category=err.get("category"),
                      status=err.get("statusCode") or status_of(err), errors=err.get("errors") or [], context=ctx)
        if not matched:
            out.append(BatchError(ids=[str(v) for v in ctx.get("ids") or []], **common))
            continue
        for i in matched:
            item = chunk[i]
            out.append(BatchError(index=offset + i, input=item, trace_id=item.get("objectWriteTraceId"),
                                  ids=[str(item["id"])] if "id" in item else [], **common))
    return out


def status_of(err: dict) -> int | None:
    category = err.get("category")
    return {"OBJECT_NOT_FOUND": 404, "VALIDATION_ERROR": 400, "CONFLICT": 409, "OBJECT_ALREADY_EXISTS": 409}.get(category)
