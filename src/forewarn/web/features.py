"""The list of HTTP features a worker serves. Each feature module adds itself here with one line."""

from __future__ import annotations

from forewarn.web import bulk_approvals, console, customers, incidents, ingest
from forewarn.web.banners import banner_feed
from forewarn.web.helpdesk import helpdesk_webhook
from forewarn.web.query import query_endpoint
from forewarn.web.server import Feature
from forewarn.web.statuspage import status_page


def features() -> list[Feature]:
    found: list[Feature] = []
    found.append(customers.feature)
    found.append(console.feature)
    found.append(bulk_approvals.feature)
    found.append(ingest.feature)
    found.append(incidents.feature)
    found.append(query_endpoint)
    found.append(status_page)
    found.append(banner_feed)
    found.append(helpdesk_webhook)
    return found
