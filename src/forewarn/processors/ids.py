"""Deterministic identifiers: the same inputs always give the same id.

Replays and restarts must recognise what they already did, so every id forewarn mints
is a hash of what the thing *is*, never a random number or a wall-clock time.
"""

from __future__ import annotations

import hashlib
import hmac


def stable_id(*parts: object, size: int = 16) -> str:
    """A hex digest of the parts, joined unambiguously (a part can't bleed into the next)."""
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        data = b"\x00" if part is None else str(part).encode()
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.hexdigest()


def notification_id(incident_id: str, incident_version: int, customer_id: str, channel: str) -> str:
    """hash(incident, version, customer, channel): one message per update per customer per channel."""
    return "ntf_" + stable_id(incident_id, incident_version, customer_id, channel)


def incident_id(dedup_key: str, opened_by_event_id: str) -> str:
    """An incident is named by its dedup key and the signal that opened it, so a replay reopens the same id."""
    return "inc_" + stable_id(dedup_key, opened_by_event_id, size=8)


def pseudonymise(customer_id: str, key: str) -> str:
    """Keyed hash so audit rows can be grouped per customer without holding who the customer is."""
    # hmac.digest is OpenSSL's one-shot HMAC: the same bytes as hmac.new(...).digest(), without
    # building an HMAC object per audit row of a fan-out.
    return "cus_" + hmac.digest(key.encode(), customer_id.encode(), "sha256").hex()[:24]
