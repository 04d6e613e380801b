"""Synthetic customer populations for scale tests and benchmarks.

Deterministic from a seed, so a test's brute-force reference and the worker see the same
snapshot. The mix is meant to exercise every targeting branch: customers in no region, in
two regions, on every plan, enterprise accounts with and without phones and chat bridges,
active and long-inactive customers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from forewarn.schemas.models import Contacts, CustomerSegment

REGIONS = ("eu-west", "us-east", "us-west", "ap-south", "eu-central")
REGION_WEIGHTS = (30, 30, 15, 13, 10)
PLANS = ("free", "starter", "pro", "business", "enterprise")
PLAN_WEIGHTS = (30, 20, 25, 15, 10)
FEATURES = ("payments", "checkout", "reports", "api", "billing")
LANGUAGES = ("en", "de", "fr", "es", "pt", "ja")
TIMEZONES = ("UTC", "Europe/Berlin", "Europe/Paris", "America/New_York", "Asia/Tokyo", "America/Sao_Paulo")


def customer_id(n: int) -> str:
    return f"cus-{n:08d}"


def synthetic_customer(rng: random.Random, n: int, now: datetime) -> CustomerSegment:
    cid = customer_id(n)
    roll = rng.random()
    if roll < 0.02:
        regions: list[str] = []
    elif roll < 0.12:
        regions = rng.sample(REGIONS, 2)
    else:
        regions = rng.choices(REGIONS, REGION_WEIGHTS)
    plan = rng.choices(PLANS, PLAN_WEIGHTS)[0]
    enterprise = plan == "enterprise"
    features = rng.sample(FEATURES, rng.randint(1, 3))
    last_active = {f: now - timedelta(minutes=rng.randint(0, 10 * 24 * 60)) for f in features if rng.random() < 0.8}
    contacts = Contacts(
        emails=[f"ops{i}@{cid}.example" for i in range(rng.choice((0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2)))],
        phones=[f"+4915{n:09d}"] if rng.random() < 0.5 else [],
        slack_webhook=f"https://hooks.slack.com/services/{cid}" if enterprise and rng.random() < 0.4 else None,
        teams_webhook=f"https://teams.example/{cid}" if enterprise and rng.random() < 0.2 else None,
        inapp_user_ids=[f"{cid}-u{i}" for i in range(rng.randint(0, 2))],
    )
    return CustomerSegment(
        customer_id=cid,
        account_name=f"Account {n}",
        plan=plan,
        enterprise=enterprise,
        regions=regions,
        features=features,
        language=rng.choice(LANGUAGES),
        timezone=rng.choice(TIMEZONES),
        contacts=contacts,
        last_active=last_active,
        updated_at=now,
    )


def population(count: int, now: datetime, seed: int = 7, start: int = 0) -> Iterator[CustomerSegment]:
    rng = random.Random(seed)
    for n in range(start, start + count):
        yield synthetic_customer(rng, n, now)
