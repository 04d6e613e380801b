"""Readers for the golden tests: one per language, in a time zone typical for it."""

from __future__ import annotations

from factories import customer
from forewarn.schemas.models import CustomerSegment

STATUS_URL = "https://status.example.com"
TIMEZONES = {
    "en": "Europe/London",
    "de": "Europe/Berlin",
    "fr": "Europe/Paris",
    "es": "America/Mexico_City",
    "pt": "America/Sao_Paulo",
    "ja": "Asia/Tokyo",
}


def reader(language: str) -> CustomerSegment:
    return customer("c1", language=language, timezone=TIMEZONES[language], account_name="Acme Ltd")
