"""Times as the customer reads them: their time zone, their locale's format (CLDR via Babel).

A zone without a short local name in the locale (French has none for CET) is shown as an
offset from UTC instead of a bare "+0100", so every rendered time names its zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_time, format_timedelta


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=16)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _zone_label(at: datetime, zone: ZoneInfo, language: str) -> str:
    label = format_datetime(at, "z", tzinfo=zone, locale=language)
    if label[:1] in "+-":
        offset = at.astimezone(zone).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
        hours, rest = divmod(minutes, 60)
        label = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "") if minutes else "UTC"
    return label


# Every reader of a version shares its few times, and readers' zones and languages are a short
# list, so a fan-out asks for the same (time, zone, language) hundreds of thousands of times;
# Babel formatting was nearly half of the fan-out's time (profiled), a cached answer costs a lookup.
@lru_cache(maxsize=8192)
def full_time(at: datetime, timezone: str, language: str) -> str:
    """Date and time with the zone, e.g. "Nov 23, 2026, 10:30 AM GMT" or "23.11.2026, 10:30 MEZ"."""
    zone, locale = _zone(timezone), _locale(language)
    date = format_date(at.astimezone(zone), "medium", locale=locale)
    time = format_time(at, "short", tzinfo=zone, locale=locale)
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", date).replace("{0}", time) + " " + _zone_label(at, zone, language)


@lru_cache(maxsize=8192)
def short_time(at: datetime, timezone: str, language: str) -> str:
    """Day, month and time with the zone (no year), for SMS, banners and social posts."""
    zone, locale = _zone(timezone), _locale(language)
    day = format_skeleton("Md", at, tzinfo=zone, locale=locale)
    return f"{day} {format_time(at, 'short', tzinfo=zone, locale=locale)} {_zone_label(at, zone, language)}"


def duration(span: timedelta, language: str) -> str:
    """A rounded, spelled-out duration: "3 hours", "3 Stunden", "3時間"."""
    return str(format_timedelta(span, threshold=1.1, locale=_locale(language)))
