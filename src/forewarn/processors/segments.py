"""Customer rows (CSV, JSON lines, Debezium envelopes) to validated CustomerSegments.

A row that would make targeting wrong — an unknown plan, an address that can't receive
mail, a time zone or language we can't render — is rejected with the reason instead of
entering the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from forewarn.processors.deadletter import Rejected
from forewarn.schemas.models import CustomerSegment

PLANS = frozenset({"free", "starter", "pro", "business", "enterprise"})
LANGUAGES = frozenset({"en", "de", "fr", "es", "pt", "ja"})
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
LIST_FIELDS = ("regions", "features", "emails", "phones", "inapp_user_ids")


def _split(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _bool(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "y")


def unwrap_debezium(row: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """A Debezium change envelope → ("upsert"|"delete", the row after the change)."""
    payload = row.get("payload", row)
    if isinstance(payload, Mapping) and "op" in payload and ("after" in payload or "before" in payload):
        if payload["op"] == "d":
            return "delete", payload.get("before")
        return "upsert", payload.get("after")
    return "upsert", row


def segment_from_row(row: Mapping[str, Any], now: datetime) -> CustomerSegment:
    """Validate one flat or nested customer row; raises Rejected naming the bad field."""
    customer_id = str(row.get("customer_id") or "").strip()
    if not customer_id:
        raise Rejected("customer_id: missing", "wrong_type")
    plan = str(row.get("plan") or "").strip().lower()
    if plan not in PLANS:
        raise Rejected(f"{customer_id}: plan {plan!r} is not one of {sorted(PLANS)}")
    language = str(row.get("language") or "en").strip().lower()
    if language not in LANGUAGES:
        raise Rejected(f"{customer_id}: language {language!r} is not one of {sorted(LANGUAGES)}")
    timezone = str(row.get("timezone") or "UTC").strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Rejected(f"{customer_id}: unknown time zone {timezone!r}") from None
    contacts_in = row.get("contacts") if isinstance(row.get("contacts"), Mapping) else row
    assert isinstance(contacts_in, Mapping)
    emails = _split(contacts_in.get("emails"))
    for email in emails:
        if not EMAIL.match(email):
            raise Rejected(f"{customer_id}: malformed email {email!r}")
    phones = _split(contacts_in.get("phones"))
    for phone in phones:
        if not PHONE.match(phone):
            raise Rejected(f"{customer_id}: malformed phone {phone!r} (E.164 expected, e.g. +4915112345678)")
    last_active = row.get("last_active") or {}
    if isinstance(last_active, str):
        last_active = dict(part.split("=", 1) for part in _split(last_active) if "=" in part)
    slo = row.get("slo")
    try:
        return CustomerSegment.model_validate(
            dict(
                customer_id=customer_id,
                account_name=str(row.get("account_name") or customer_id),
                plan=plan,
                enterprise=_bool(row.get("enterprise")) or plan == "enterprise",
                regions=[r.lower() for r in _split(row.get("regions"))],
                features=_split(row.get("features")),
                language=language,
                timezone=timezone,
                contacts={
                    "emails": emails,
                    "phones": phones,
                    "slack_webhook": contacts_in.get("slack_webhook") or None,
                    "teams_webhook": contacts_in.get("teams_webhook") or None,
                    "inapp_user_ids": _split(contacts_in.get("inapp_user_ids")),
                },
                last_active=last_active,
                slo=float(slo) if slo not in (None, "") else None,
                updated_at=row.get("updated_at") or now,
            )
        )
    except (ValidationError, ValueError) as exc:
        raise Rejected(f"{customer_id}: {exc}", "wrong_type") from exc
