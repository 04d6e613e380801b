"""The list of HTTP features a worker serves. Each feature module adds itself here with one line."""

from __future__ import annotations

from forewarn.web import console, customers, incidents, ingest
from forewarn.web.query import query_endpoint
from forewarn.web.server import Feature


def features() -> list[Feature]:
    found: list[Feature] = []
    found.append(customers.feature)
    found.append(console.feature)
    found.append(ingest.feature)
    found.append(incidents.feature)
    found.append(query_endpoint)
    return found
