"""Load the JSON fixtures the mapping tests use (real payload shapes, STYLE habit 11)."""
from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COMPANIES = FIXTURES / "hubspot" / "companies"
CATALOG = FIXTURES / "billwerk" / "catalog"


def company(name: str) -> tuple[str, dict]:
    """``(id, properties)`` of ``tests/fixtures/hubspot/companies/<name>.json``."""
    record = json.loads((COMPANIES / f"{name}.json").read_text(encoding="utf-8"))
    return record["id"], record["properties"]


def catalog_item(name: str) -> dict:
    return json.loads((CATALOG / f"{name}.json").read_text(encoding="utf-8"))


def company_names() -> list[str]:
    return sorted(p.stem for p in COMPANIES.glob("*.json"))


def catalog_names() -> list[str]:
    return sorted(p.stem for p in CATALOG.glob("*.json"))
