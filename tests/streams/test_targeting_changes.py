"""The customer table changing under a running incident, through the real broker: moves, deletions,
Debezium envelopes and bad rows on the topic, and the send policy across versions."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from factories import customer
from fanout_support import (
    commands,
    incident,
    publish,
    publish_customers,
    sent,
    wait_table,
    wait_targeted,
    with_web_port,
    worker,
)
from forewarn.config import Settings
from forewarn.publish import Publisher, group_caught_up, read_topic, wait_until
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import Contacts, DeadLetter, Phase

pytestmark = pytest.mark.broker

EU, US = ("eu-west",), ("us-east",)


def envelope(op: str, before: object, after: object) -> bytes:
    return json.dumps({"schema": {}, "payload": {"op": op, "before": before, "after": after, "ts_ms": 1}}).encode()


def debezium_key(cid: str) -> bytes:
    return json.dumps({"schema": {}, "payload": {"customer_id": cid}}).encode()


def row(cid: str, **extra: object) -> dict[str, object]:
    return {"customer_id": cid, "plan": "pro", "regions": ["eu-west"], "emails": [f"ops@{cid}.example"], **extra}


def publish_changes(settings: Settings, changes: list[tuple[bytes, bytes | None]]) -> None:
    publisher = Publisher(settings)
    for key, value in changes:
        publisher.send_bytes("customers", value, key=key)
    publisher.close()


def test_moves_deletions_envelopes_and_bad_rows_under_a_running_incident(settings: Settings, tmp_path: Path) -> None:
    settings = with_web_port(settings)
    hooks = Contacts(emails=["ops@ent.example"], phones=["+4915112345678"], slack_webhook="https://hooks.slack.com/e")
    publish_customers(
        settings,
        [
            customer("stay", regions=EU),
            customer("mover", regions=US),
            customer("leaver", regions=EU),
            customer("gone-early", regions=EU),
            customer("gone-mid", regions=EU),
            customer("us", regions=US),
            customer("ent", regions=EU, plan="enterprise", enterprise=True, contacts=hooks),
        ],
    )
    publish_changes(
        settings,
        [
            (b"gone-early", None),  # a tombstone before anything happened
            (debezium_key("dbz"), envelope("c", None, row("dbz"))),
            (debezium_key("dbz-gone"), envelope("c", None, row("dbz-gone"))),
            (debezium_key("dbz-gone"), envelope("d", row("dbz-gone"), None)),
            (b"bad-plan", encode(customer("bad-plan", plan="platinum"))),
            (b"bad-email", json.dumps(row("bad-email", emails=["not-an-address"])).encode()),
            (debezium_key("bad-tz"), envelope("u", None, row("bad-tz", timezone="Mars/Olympus"))),
            (b"bad-lang", json.dumps(row("bad-lang", language="tlh")).encode()),
            (b"bad-phone", encode(customer("bad-phone", contacts=Contacts(phones=["0151-123"])))),
            (b"garbage", b"\x00\x00\x00\x00\x04\xff\xff"),
        ],
    )
    with worker(settings, tmp_path) as proc:
        wait_table(settings, proc, 7)  # stay mover leaver gone-mid us ent dbz
        publish(settings, "incidents", incident(1, 0))
        wait_targeted(settings, proc)
        publish_customers(settings, [customer("mover", regions=EU), customer("leaver", regions=US)])
        publish_changes(settings, [(b"gone-mid", None)])
        wait_table(settings, proc, 6)
        publish(
            settings,
            "incidents",
            incident(2, 35, Phase.identified),  # news, past the 30-minute P1 interval
            incident(3, 40, Phase.monitoring),  # news too, but within the interval for everyone
            incident(4, 50, Phase.resolved),
        )
        wait_targeted(settings, proc)

    told = sent(commands(settings))
    personal = {"email", "inapp"}
    ent = personal | {"sms", "slack"}
    expected = (
        {(c, 1, ch) for c in ("stay", "leaver", "gone-mid", "dbz") for ch in personal}
        | {("ent", 1, ch) for ch in ent}
        | {(c, v, ch) for c in ("stay", "dbz") for v in (2, 4) for ch in personal}
        | {("ent", v, ch) for v in (2, 4) for ch in ent}
        | {("mover", v, ch) for v in (2, 4) for ch in personal}  # the new region from the next update on
    )
    assert told == expected

    letters = [decode(m.value(), DeadLetter) for m in read_topic(settings, "deadletter")]
    reasons = {x.key: x.reason for x in letters if x.stage == "customers"}
    assert "plan 'platinum'" in reasons[b"bad-plan"]
    assert "malformed email 'not-an-address'" in reasons[b"bad-email"]
    assert "unknown time zone 'Mars/Olympus'" in reasons[debezium_key("bad-tz")]
    assert "language 'tlh'" in reasons[b"bad-lang"]
    assert "malformed phone '0151-123'" in reasons[b"bad-phone"]
    assert b"garbage" in reasons
    assert len(reasons) == 6


def test_a_flapping_incident_never_exceeds_the_cadence(settings: Settings, tmp_path: Path) -> None:
    """Phases flip every 3 minutes for 72 minutes: each reader hears at 0, 30 and 60 minutes, then the resolution."""
    settings = with_web_port(settings)
    publish_customers(settings, [customer(f"c{i}", regions=EU) for i in range(20)])
    flaps = [incident(k, 3 * (k - 1), Phase.identified if k % 2 == 0 else Phase.monitoring) for k in range(2, 26)]
    with worker(settings, tmp_path) as proc:
        wait_table(settings, proc, 20)
        publish(settings, "incidents", incident(1, 0), *flaps, incident(26, 75, Phase.resolved))

        def targeted_all() -> bool:
            proc.check()
            return group_caught_up(settings, settings.app_id, ["incidents", "targeting"])

        wait_until(targeted_all, 120, "26 versions to be targeted")
    got = commands(settings)
    minute = {v: 0.0 if v == 1 else 75.0 if v == 26 else 3.0 * (v - 1) for v in range(1, 27)}
    by_reader: dict[tuple[str, str], list[int]] = defaultdict(list)
    for c in got:
        by_reader[(c.customer_id, c.channel.value)].append(c.incident_version)
    assert len(by_reader) == 40
    for versions in by_reader.values():
        assert sorted(versions) == [1, 11, 21, 26]
        updates = [minute[v] for v in sorted(versions) if v != 26]
        assert all(b - a >= timedelta(minutes=30).total_seconds() / 60 for a, b in pairwise(updates))
