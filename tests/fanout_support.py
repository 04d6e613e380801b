"""What the targeting end-to-end tests share: incidents, a worker, waits, reading commands back,
and a brute-force reference written straight from the issue's rules (not from ``target.py``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from factories import T0
from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, group_caught_up, read_topic, wait_until
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import (
    Channel,
    CustomerSegment,
    Incident,
    IncidentKind,
    NotificationCommand,
    Phase,
    Severity,
)
from forewarn.topics import TopicNames

PERSONAL = ("email", "inapp", "sms", "slack", "teams")
P1_CHANNELS = ("email", "inapp", "sms", "slack", "teams")


def incident(
    version: int,
    minute: float = 0,
    phase: Phase = Phase.investigating,
    *,
    incident_id: str = "inc-test",
    region: str = "eu-west",
    severity: Severity = Severity.P1,
    **extra: Any,
) -> Incident:
    at = T0 + timedelta(minutes=minute)
    return Incident(
        incident_id=incident_id,
        version=version,
        dedup_key=f"payments|{region}|outage",
        title=f"Payments outage in {region.upper()}",
        service="payments",
        region=region,
        symptom="outage",
        phase=phase,
        severity=severity,
        kind=IncidentKind.regional_outage,
        change="opened" if version == 1 else "phase",
        opened_at=T0,
        updated_at=at,
        first_signal_at=T0,
        resolved_at=at if phase is Phase.resolved else None,
        **extra,
    )


def publish_customers(settings: Settings, segments: Iterable[CustomerSegment]) -> int:
    publisher = Publisher(settings)
    count = 0
    for segment in segments:
        publisher.send_bytes("customers", encode(segment), key=segment.customer_id.encode())
        count += 1
    publisher.close()
    return count


def publish(settings: Settings, short_topic: str, *records: Any) -> None:
    publisher = Publisher(settings)
    for record in records:
        publisher.send(short_topic, record)
    publisher.close()


def worker(
    settings: Settings, tmp_path: Path, policy: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> WorkerProcess:
    """A pipeline worker (no sinks: commands stay on their topics to be read back). Its policy
    gates nothing unless ``policy`` says so: targeting is read back from the channel topics."""
    policy_path = tmp_path / "policy.json"  # JSON is YAML
    policy_path.write_text(json.dumps({"gates": {"default": "never"}, **(policy or {})}))
    return WorkerProcess(settings, tmp_path / "worker.log", roles="pipeline,web", policy=policy_path, extra_env=env)


def with_web_port(settings: Settings) -> Settings:
    return settings.model_copy(update={"web_port": free_port()})


def table_size(settings: Settings) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/customers", timeout=5) as r:
            body = json.load(r)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return int(body["customers"]) if body["ready"] else None


def wait_table(settings: Settings, proc: WorkerProcess, customers: int, timeout_s: float = 120) -> None:
    """Every record of ``customers`` applied and the index holding exactly ``customers`` ids."""

    def loaded() -> bool:
        proc.check()
        return group_caught_up(settings, settings.app_id, ["customers"]) and table_size(settings) == customers

    wait_until(loaded, timeout_s, f"the worker's table to hold {customers} customers", interval_s=0.5)


def wait_targeted(settings: Settings, proc: WorkerProcess, timeout_s: float = 120) -> None:
    def done() -> bool:
        proc.check()
        return group_caught_up(settings, settings.app_id, ["customers", "incidents", "targeting"])

    wait_until(done, timeout_s, "every incident version to be targeted", interval_s=0.5)


def commands(settings: Settings) -> list[NotificationCommand]:
    out: list[NotificationCommand] = []
    for channel in PERSONAL:
        out.extend(decode(m.value(), NotificationCommand) for m in read_topic(settings, f"notify.{channel}", 60))
    return out


def records_in(settings: Settings, short_topics: Iterable[str]) -> int:
    """Records on the topics so far (high watermarks), cheap enough to poll."""
    names = TopicNames(settings.topic_prefix)
    consumer = Consumer({"bootstrap.servers": settings.kafka, "group.id": "watermarks", "enable.auto.commit": False})
    try:
        total = 0
        for short in short_topics:
            topic = names(short)
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            for p in meta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                total += high - low
        return total
    finally:
        consumer.close()


def reference(
    segments: Iterable[CustomerSegment],
    *,
    region: str,
    plans: Iterable[str] = (),
    features: Iterable[str] = (),
    active_since: datetime | None = None,
    channels: Iterable[str] = P1_CHANNELS,
) -> set[tuple[str, str]]:
    """Brute force over the snapshot: who is affected, and which of the channels can reach them."""
    plans, features, channels = set(plans), set(features), list(channels)
    out: set[tuple[str, str]] = set()
    for s in segments:
        if region != "global" and region not in s.regions:
            continue
        if plans and s.plan not in plans:
            continue
        if features and not features & set(s.features):
            continue
        if active_since is not None and not any(t >= active_since for t in s.last_active.values()):
            continue
        c = s.contacts
        reachable = {
            "email": bool(c.emails),
            "inapp": True,  # falls back to the account itself
            "sms": s.enterprise and bool(c.phones),
            "slack": s.enterprise and c.slack_webhook is not None,
            "teams": s.enterprise and c.teams_webhook is not None,
        }
        out.update((s.customer_id, ch) for ch in channels if reachable.get(ch, False))
    return out


def sent(cmds: Iterable[NotificationCommand]) -> set[tuple[str, int, str]]:
    return {(c.customer_id, c.incident_version, c.channel.value) for c in cmds}


__all__ = ["Channel"]
