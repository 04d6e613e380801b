"""Deterministic identifiers: the same inputs always give the same id.

Replays and restarts must recognise what they already did, so every id forewarn mints
is a hash of what the thing *is*, never a random number or a wall-clock time.
"""

from __future__ import annotations

import hashlib
from functools import cache

_SHA256_BLOCK = 64


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


@cache
def _hmac_pads(key: str) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 states after HMAC's inner and outer key pads (RFC 2104), computed once per key."""
    raw = key.encode()
    if len(raw) > _SHA256_BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_SHA256_BLOCK, b"\x00")
    return hashlib.sha256(bytes(b ^ 0x36 for b in raw)), hashlib.sha256(bytes(b ^ 0x5C for b in raw))


def pseudonymise(customer_id: str, key: str) -> str:
    """Keyed hash so audit rows can be grouped per customer without holding who the customer is.

    HMAC-SHA256 from the key's padded states: the same bytes as ``hmac.digest`` (tested), which
    under OpenSSL 3 looks the digest up again on every call, 4.7 against 1.6 µs here, once per
    audit row of a fan-out.
    """
    inner, outer = _hmac_pads(key)
    inner, outer = inner.copy(), outer.copy()
    inner.update(customer_id.encode())
    outer.update(inner.digest())
    return "cus_" + outer.hexdigest()[:24]
