"""The status page from the incident record: Statuspage v2 JSON, HTML, Atom, maintenance, history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from aiohttp.test_utils import TestClient, TestServer

from forewarn.config import Settings
from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.policy import Policy
from forewarn.processors.status import build_page, summary_json, update_body
from forewarn.schemas.models import AuditRecord, Incident, IncidentKind, Phase, Severity
from forewarn.sinks.clickhouse import AuditStore
from forewarn.web.server import WebContext, build_web_app
from forewarn.web.statuspage import status_page

NOW = datetime.now(UTC).replace(microsecond=0)


def version(
    iid: str,
    v: int,
    phase: Phase,
    *,
    severity: Severity = Severity.P1,
    kind: IncidentKind = IncidentKind.regional_outage,
    service: str = "payments",
    ago: timedelta = timedelta(hours=1),
    internal: bool = False,
    change: str = "update",
    **extra: object,
) -> Incident:
    at = NOW - ago + timedelta(minutes=10 * v)
    return Incident(
        incident_id=iid,
        version=v,
        dedup_key=iid,
        title=f"{service.capitalize()} trouble",
        service=service,
        region="eu-west",
        symptom="outage",
        phase=phase,
        severity=severity,
        kind=kind,
        change=change,
        internal=internal,
        opened_at=NOW - ago,
        updated_at=at,
        first_signal_at=NOW - ago,
        resolved_at=at if phase is Phase.resolved else None,
        summary=f"{iid} v{v} {phase.value}",
        **extra,  # type: ignore[arg-type]
    )


#: When the maintenance window begins: neither when it was scheduled (an hour ago) nor its next update.
WINDOW_STARTS = NOW + timedelta(days=1, hours=22)
RECORD = [
    version("inc-live", 1, Phase.investigating, change="opened"),
    version("inc-live", 2, Phase.identified),
    version("inc-old", 1, Phase.investigating, severity=Severity.P2, service="search", ago=timedelta(days=3)),
    version("inc-old", 2, Phase.resolved, severity=Severity.P2, service="search", ago=timedelta(days=3)),
    version("inc-secret", 1, Phase.investigating, service="billing", internal=True),
    version(
        "mnt-1",
        1,
        Phase.identified,
        severity=Severity.P3,
        kind=IncidentKind.maintenance,
        service="db",
        change="scheduled",
        eta=NOW + timedelta(days=2),
        next_update_at=NOW + timedelta(days=1),
        window_starts_at=WINDOW_STARTS,
    ),
    # the operator moves the end 30 minutes earlier before the window begins: still scheduled
    version(
        "mnt-1",
        2,
        Phase.identified,
        severity=Severity.P3,
        kind=IncidentKind.maintenance,
        service="db",
        change="update",
        eta=NOW + timedelta(days=2) - timedelta(minutes=30),
        next_update_at=NOW + timedelta(days=1),
        window_starts_at=WINDOW_STARTS,
    ),
]


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        AuditStore(wh).write(
            [
                *RECORD,
                AuditRecord(
                    audit_id="pm1",
                    recorded_at=NOW,
                    stage="postmortem",
                    action="published",
                    incident_id="inc-old",
                    detail={"url": "https://blog.example/pm-old"},
                ),
            ]
        )
        yield wh


@pytest.fixture
async def client(warehouse: Warehouse, tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    ctx = WebContext(Settings(data_dir=tmp_path, status_page_url="https://status.x.example"), None, warehouse)
    async with TestClient(TestServer(build_web_app(ctx, [status_page]))) as c:
        yield c


async def test_summary_json_has_atlassians_shape(client: TestClient) -> None:  # type: ignore[type-arg]
    body = await (await client.get("/api/v2/summary.json")).json()
    assert set(body) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}
    states = {c["name"]: c["status"] for c in body["components"]}
    assert states == {"Db": "operational", "Payments": "major_outage", "Search": "operational"}  # billing is internal
    (incident,) = body["incidents"]
    assert incident["id"] == "inc-live" and incident["status"] == "identified" and incident["impact"] == "critical"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]  # newest first
    assert set(incident["incident_updates"][0]) >= {"id", "body", "created_at", "display_at", "affected_components"}
    (maintenance,) = body["scheduled_maintenances"]
    assert maintenance["status"] == "scheduled" and maintenance["scheduled_until"].startswith(
        (NOW + timedelta(days=2) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    )
    assert maintenance["scheduled_for"].startswith(WINDOW_STARTS.strftime("%Y-%m-%dT%H:%M"))


async def test_other_v2_endpoints(client: TestClient) -> None:  # type: ignore[type-arg]
    assert (await (await client.get("/api/v2/status.json")).json())["status"]["indicator"] == "critical"
    incidents = (await (await client.get("/api/v2/incidents.json")).json())["incidents"]
    assert [i["id"] for i in incidents] == ["inc-live", "inc-old"]
    assert incidents[1]["postmortem_url"] == "https://blog.example/pm-old"
    unresolved = (await (await client.get("/api/v2/incidents/unresolved.json")).json())["incidents"]
    assert [i["id"] for i in unresolved] == ["inc-live"]
    assert len((await (await client.get("/api/v2/components.json")).json())["components"]) == 3


async def test_atom_feed_lists_incidents_with_their_timeline(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/history.atom")
    assert response.content_type == "application/atom+xml"
    feed = ET.fromstring(await response.read())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == [
        "Payments trouble",
        "Db trouble",
        "Search trouble",
    ]
    content = entries[0].findtext("a:content", namespaces=ns) or ""
    assert content.index("Identified") < content.index("Investigating")


async def test_html_page_shows_state_timeline_history_and_postmortem(client: TestClient) -> None:  # type: ignore[type-arg]
    html = await (await client.get("/status")).text()
    assert (
        'data-indicator="critical"' in html and "We have identified the cause of Payments trouble in EU-WEST." in html
    )
    assert "inc-live v2 identified" not in html  # an alert's own words (the summary) never reach the public page
    assert 'data-component="payments" data-status="major_outage"' in html
    assert "Scheduled maintenance" in html and "billing" not in html.lower()
    assert f"scheduled\n· from {WINDOW_STARTS:%b %d, %H:%M} UTC" in html  # the window, not when it was planned
    assert html.count('class="b-') == 3 * 90
    assert "https://blog.example/pm-old" in html  # P2 post-mortem published on the page


def test_update_body_is_public_wording_never_the_alert_summary() -> None:
    leaky = version("inc-x", 2, Phase.identified).model_copy(
        update={"summary": "db-7.prod.internal 10.0.3.4: error_rate 37%"}
    )
    assert update_body(leaky) == "We have identified the cause of Payments trouble in EU-WEST."
    eta = leaky.model_copy(update={"eta": datetime(2026, 12, 1, 14, 30, tzinfo=UTC)})
    assert update_body(eta).endswith("Expected resolution: Dec 01, 14:30 UTC.")
    window = version("mnt-2", 1, Phase.investigating, kind=IncidentKind.maintenance).model_copy(
        update={"summary": "Database upgrade"}
    )
    assert update_body(window) == "Database upgrade"  # the operator's own notice


def test_history_marks_the_days_an_incident_lasted() -> None:
    page = build_page(RECORD, Policy(), name="s", url="u", now=NOW)
    search = dict(page.history()["search"])
    assert search[(NOW - timedelta(days=3)).date()] == "partial_outage"
    assert search[NOW.date()] == "operational"
    assert summary_json(page, Policy())["status"]["indicator"] == "critical"


def test_an_all_clear_page() -> None:
    page = build_page(RECORD[2:4], Policy(), name="s", url="u", now=NOW)
    assert summary_json(page, Policy())["status"] == {"indicator": "none", "description": "All Systems Operational"}


#: A P1 whose post-mortem version carries the report, and one published before the field existed.
POSTMORTEMS = [
    version("inc-pm", 1, Phase.investigating, change="opened", ago=timedelta(days=5)),
    version("inc-pm", 2, Phase.resolved, change="resolved", ago=timedelta(days=5)),
    version(
        "inc-pm",
        3,
        Phase.resolved,
        change="postmortem",
        ago=timedelta(days=5),
        postmortem_url="https://blog.example/pm/inc-pm",
    ),
    version("inc-before", 1, Phase.investigating, change="opened", service="search", ago=timedelta(days=6)),
    version("inc-before", 2, Phase.resolved, change="resolved", service="search", ago=timedelta(days=6)),
]


def _published(incident_id: str, url: str) -> AuditRecord:
    return AuditRecord(
        audit_id=f"pm-{incident_id}",
        recorded_at=NOW,
        stage="postmortem",
        action="published",
        incident_id=incident_id,
        detail={"url": url},
    )


async def test_the_page_links_the_post_mortem_its_incident_carries_else_the_audit_rows(tmp_path: Path) -> None:
    """The incident's postmortem_url (what customers were sent) comes first; an incident published
    before the field existed still gets the URL of its publication's audit row."""
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        AuditStore(wh).write(
            [
                *POSTMORTEMS,
                _published("inc-pm", "https://old-wiki.example/pm-draft"),  # an earlier, other URL
                _published("inc-before", "https://blog.example/pm/inc-before"),
            ]
        )
        ctx = WebContext(Settings(data_dir=tmp_path, status_page_url="https://status.x.example"), None, wh)
        async with TestClient(TestServer(build_web_app(ctx, [status_page]))) as client:
            incidents = (await (await client.get("/api/v2/incidents.json")).json())["incidents"]
            html = await (await client.get("/status")).text()
    links = {i["id"]: i["postmortem_url"] for i in incidents}
    assert links == {"inc-pm": "https://blog.example/pm/inc-pm", "inc-before": "https://blog.example/pm/inc-before"}
    assert '<a href="https://blog.example/pm/inc-pm">Post-mortem</a>' in html and "old-wiki" not in html


def test_a_post_mortem_url_that_is_not_http_is_never_linked() -> None:
    hostile = [*POSTMORTEMS[:2], POSTMORTEMS[2].model_copy(update={"postmortem_url": "javascript:alert(1)"})]
    page = build_page(hostile, Policy(), name="s", url="u", now=NOW, postmortems={"inc-pm": "https://b.example/pm"})
    (story,) = page.stories
    assert story.postmortem_url == "https://b.example/pm"
