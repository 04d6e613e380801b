"""Dedup routes are forgotten through the real broker and a worker process: a resolved key's route
leaves the table (a tombstone on its changelog) once its grace has passed, while a late duplicate
of the resolve within the grace is still placed on its trigger's incident and a route still in
use stays. The grace is fifteen seconds of real time here (``rules.dedup``), swept every second."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.process import WorkerProcess
from forewarn.processors.detect.dedup import DedupRoute
from forewarn.publish import Publisher, raw_signal_from_json, read_full_topic, read_topic, wait_until
from forewarn.schemas.codec import decode, decode_any
from forewarn.schemas.models import DeadLetter, DedupSweep, SignalBatch, SignalStatus

pytestmark = pytest.mark.broker

RESOLVED_KEY, OPEN_KEY = "srv01/mysql", "srv02/redis"
POLICY = """\
gates:
  default: never
rules:
  dedup:
    resolved_grace: 15s
    idle_max: 1h
    sweep_every: 1s
"""


def pagerduty(action: str, key: str, stamp: str, **payload: object) -> dict[str, object]:
    body: dict[str, object] = {"event_action": action, "dedup_key": key}
    if payload:
        body["payload"] = payload
    return {"source": "pagerduty", "received_at": stamp, "body": body}


def trigger(key: str, service: str, region: str, stamp: str) -> dict[str, object]:
    details = {"class": "outage", "custom_details": {"region": region}}
    source = key.split("/")[0]
    return pagerduty("trigger", key, stamp, summary=f"{service} down", source=source, severity="critical",
                     component=service, **details)  # fmt: skip


def publish(settings: Settings, *lines: dict[str, object]) -> None:
    publisher = Publisher(settings)
    for line in lines:
        publisher.send("raw", raw_signal_from_json(line))
    publisher.close()


def placed(settings: Settings) -> list[tuple[str, str, str, SignalStatus]]:
    """PagerDuty events as detection received them: (dedup key, service, region, status)."""
    batches = [decode(m.value(), SignalBatch) for m in read_topic(settings, "signals")]
    return [(e.source_ref, e.service, e.region, e.status) for b in batches for e in b.events]


def routes(settings: Settings) -> dict[str, DedupRoute | None]:
    """The worker's dedup-routes table as its changelog says, per key (None: deleted)."""
    out: dict[str, DedupRoute | None] = {}
    for m in read_full_topic(settings, f"{settings.app_id}-dedup-routes-changelog"):
        value = m.value()
        out[m.key().decode()] = None if value is None else DedupRoute.model_validate_json(value)
    return out


def metrics(settings: Settings) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except (urllib.error.URLError, OSError):
        return {}
    return {m[1]: float(m[2]) for m in re.finditer(r"^(forewarn_dedup\S*) (\S+)$", text, re.M)}


def dedup_letters(settings: Settings) -> list[DeadLetter]:
    letters = [decode(m.value(), DeadLetter) for m in read_topic(settings, "deadletter")]
    return [d for d in letters if d.stage == "dedup"]


def test_a_resolved_route_goes_after_its_grace_and_one_in_use_stays(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"web_port": free_port()})
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    billing = (RESOLVED_KEY, "billing", "us-west")
    search = (OPEN_KEY, "search", "eu-west")
    resolve = pagerduty("resolve", RESOLVED_KEY, stamp)

    with WorkerProcess(settings, tmp_path / "worker.log", roles="pipeline,web", policy=policy) as worker:

        def holds(condition: Any, what: str, timeout_s: float = 120) -> None:
            def checked() -> bool:
                worker.check()
                return bool(condition())

            try:
                wait_until(checked, timeout_s, what, interval_s=0.5)
            except TimeoutError as exc:
                raise TimeoutError(f"{exc}\nworker log:\n{worker.log_tail()}") from None

        publish(settings, trigger(*billing, stamp), trigger(*search, stamp), resolve)
        holds(lambda: (*billing, SignalStatus.resolved) in placed(settings), "the resolve to be placed on billing")
        holds(lambda: getattr(routes(settings).get(RESOLVED_KEY), "resolved", False), "the route to say resolved")

        # a duplicate delivery of the resolve, some sweeps after the first was placed, is placed too
        swept = metrics(settings).get("forewarn_dedup_sweeps_total", 0)
        holds(lambda: metrics(settings).get("forewarn_dedup_sweeps_total", 0) >= swept + 2, "two more sweeps")
        publish(settings, resolve)
        holds(lambda: placed(settings).count((*billing, SignalStatus.resolved)) == 2, "the duplicate to be placed")
        assert dedup_letters(settings) == []

        # once the grace has passed since that last use, the route is gone; the open one stays
        holds(lambda: RESOLVED_KEY in routes(settings) and routes(settings)[RESOLVED_KEY] is None, "the tombstone")
        kept = routes(settings)[OPEN_KEY]
        assert kept is not None and not kept.resolved
        holds(
            lambda: metrics(settings).get('forewarn_dedup_routes_pruned_total{reason="resolved"}') == 1,
            "the pruned count on /metrics",
        )

        # the table itself forgot it (a resolve now has nowhere to go), and still places the open key
        publish(settings, pagerduty("resolve", RESOLVED_KEY, stamp), pagerduty("acknowledge", OPEN_KEY, stamp))
        holds(lambda: (*search, SignalStatus.acknowledged) in placed(settings), "the open key's acknowledge")
        holds(lambda: len(dedup_letters(settings)) == 1, "the resolve after the grace to be dead-lettered")
        (letter,) = dedup_letters(settings)
        assert letter.key == RESOLVED_KEY.encode()
        assert letter.reason.startswith(f"dedup_key: {RESOLVED_KEY!r} (resolved) names no trigger seen")
        assert placed(settings).count((*billing, SignalStatus.resolved)) == 2

    # what the sweep asked travelled the dedup topic as its own contract, readable by any consumer
    asked = [r for r in (decode_any(m.value()) for m in read_topic(settings, "dedup")) if isinstance(r, DedupSweep)]
    assert {(r.dedup_key, r.reason) for r in asked} == {(RESOLVED_KEY, "resolved")}
