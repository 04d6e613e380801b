"""The index row of a stored customer, read straight from its canonical Avro bytes.

Rebuilding the segment index after recovery reads every customer of the table: fastavro's
full decode (every string, datetimes for every timestamp) and the dict walk after it cost
~34 µs a customer, ~34 s at a million, for the few facts the index keeps. This reader walks the
Avro binary encoding itself, decodes only plan, enterprise, regions and features (and those
once per distinct byte run, since most customers share them), looks at contacts only to see
which channels have an address, and keeps the largest last-active timestamp.

``row_of_fields`` stays the one definition of a profile: each distinct combination is built by
it, once. Anything unexpected (another schema id, truncated bytes) goes through ``read_fields``,
which reads it or raises the precise error.
"""

from __future__ import annotations

from typing import Any

from forewarn.processors.segment_index import Profile
from forewarn.processors.segments import SEGMENT_HEADER, read_fields
from forewarn.processors.target import row_of_fields

_HEADER_LEN = len(SEGMENT_HEADER)


def _long(buf: bytes, pos: int) -> tuple[int, int]:
    """An Avro zig-zag varint at ``pos``; returns (value, position after it)."""
    b = buf[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
    return (n >> 1) ^ -(n & 1), pos


def _skip_string(buf: bytes, pos: int) -> int:
    length, pos = _long(buf, pos)
    if length < 0:
        raise ValueError("negative string length")
    return pos + length


def _strings(buf: bytes, pos: int) -> tuple[list[str], int]:
    """An Avro array of strings (blocks, negative counts carry a byte size)."""
    items: list[str] = []
    while True:
        count, pos = _long(buf, pos)
        if count == 0:
            return items, pos
        if count < 0:
            count = -count
            _, pos = _long(buf, pos)
        for _ in range(count):
            length, pos = _long(buf, pos)
            if length < 0:
                raise ValueError("negative string length")
            items.append(buf[pos : pos + length].decode())
            pos += length


def _skip_strings(buf: bytes, pos: int) -> tuple[bool, int]:
    """Skip an array of strings; returns (whether it had any item, position after it)."""
    seen = False
    while True:
        b = buf[pos]
        if b < 0x80 and not b & 1:  # the usual: a small positive count in one byte
            count, pos = b >> 1, pos + 1
        else:
            count, pos = _long(buf, pos)
        if count == 0:
            return seen, pos
        seen = True
        if count < 0:
            size, pos = _long(buf, pos)
            pos += size
            continue
        for _ in range(count):
            b = buf[pos]
            if b < 0x80 and not b & 1:
                pos += 1 + (b >> 1)
            else:
                pos = _skip_string(buf, pos)


def _optional_nonempty(buf: bytes, pos: int) -> tuple[bool, int]:
    """A ["null", "string"] union: whether it holds a non-empty string (what ``_reach`` tests)."""
    branch, pos = _long(buf, pos)
    if branch == 0:
        return False, pos
    if branch != 1:
        raise ValueError("bad union branch")
    length, pos = _long(buf, pos)
    if length < 0:
        raise ValueError("negative string length")
    return length > 0, pos + length


def names(value: bytes) -> tuple[str, str]:
    """(account name, language) of one stored CustomerSegment, without decoding the rest.

    An incident's breakdown counts every affected customer by language and sorts them by name,
    but lists only a capped few: decoding every segment for that was a tenth of a fan-out.
    """
    if value[:_HEADER_LEN] == SEGMENT_HEADER:
        try:
            return _names(value)
        except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
            pass  # let fastavro give the verdict
    fields = read_fields(value)
    return fields["account_name"], fields["language"]


def _names(buf: bytes) -> tuple[str, str]:
    pos = _skip_string(buf, _HEADER_LEN)  # customer_id
    length, pos = _long(buf, pos)
    if length < 0:
        raise ValueError("negative string length")
    account_name = buf[pos : pos + length].decode()
    pos = _skip_string(buf, pos + length)  # plan
    if buf[pos] > 1:
        raise ValueError("bad boolean")
    _, pos = _skip_strings(buf, pos + 1)  # regions
    _, pos = _skip_strings(buf, pos)  # features
    length, pos = _long(buf, pos)
    if length < 0 or pos + length > len(buf):
        raise ValueError("truncated")
    return account_name, buf[pos : pos + length].decode()


class RowReader:
    """Index rows of stored segments; one per rebuild, so its profile cache dies with it."""

    def __init__(self) -> None:
        self._profiles: dict[tuple[bytes, bool, bool, bool, bool], Profile] = {}

    def row(self, value: bytes) -> tuple[Profile, int]:
        """(profile, last active in epoch seconds) of one stored CustomerSegment value."""
        if value[:_HEADER_LEN] == SEGMENT_HEADER:
            try:
                return self._fast(value)
            except (IndexError, ValueError):
                pass  # let fastavro give the verdict
        return row_of_fields(read_fields(value))

    def _fast(self, buf: bytes) -> tuple[Profile, int]:
        # Varints are inlined: a call per field was most of the time. Every length and count
        # below 64 is one byte (zig-zag), which covers nearly everything stored.
        pos = _HEADER_LEN
        for _ in range(2):  # customer_id (the key says it), account_name
            b = buf[pos]
            if b < 0x80 and not b & 1:
                pos += 1 + (b >> 1)
            else:
                pos = _skip_string(buf, pos)
        start = pos
        b = buf[pos]  # plan
        pos = pos + 1 + (b >> 1) if b < 0x80 and not b & 1 else _skip_string(buf, pos)
        if buf[pos] > 1:
            raise ValueError("bad boolean")
        pos += 1  # enterprise
        _, pos = _skip_strings(buf, pos)  # regions
        _, pos = _skip_strings(buf, pos)  # features
        targeted = buf[start:pos]
        for _ in range(2):  # language, timezone
            b = buf[pos]
            if b < 0x80 and not b & 1:
                pos += 1 + (b >> 1)
            else:
                pos = _skip_string(buf, pos)
        if buf[pos] == 0:  # emails: an empty array is one zero byte
            emails, pos = False, pos + 1
        else:
            emails, pos = _skip_strings(buf, pos)
        if buf[pos] == 0:
            phones, pos = False, pos + 1
        else:
            phones, pos = _skip_strings(buf, pos)
        slack, pos = _optional_nonempty(buf, pos)
        teams, pos = _optional_nonempty(buf, pos)
        if buf[pos] == 0:  # inapp_user_ids
            pos += 1
        else:
            _, pos = _skip_strings(buf, pos)
        latest: int | None = None
        while True:  # last_active: feature -> timestamp-millis
            count, pos = _long(buf, pos)
            if count == 0:
                break
            if count < 0:
                count = -count
                _, pos = _long(buf, pos)
            for _ in range(count):
                b = buf[pos]
                pos = pos + 1 + (b >> 1) if b < 0x80 and not b & 1 else _skip_string(buf, pos)
                millis, pos = _long(buf, pos)
                if latest is None or millis > latest:
                    latest = millis
        if pos > len(buf):
            raise ValueError("truncated")
        key = (targeted, emails, phones, slack, teams)
        profile = self._profiles.get(key)
        if profile is None:
            profile = self._profiles[key] = self._profile(targeted, emails, phones, slack, teams)
        # int(datetime.timestamp()) of the latest, as ``row_of_fields`` computes it
        return profile, 0 if latest is None else int(latest / 1000)

    @staticmethod
    def _profile(targeted: bytes, emails: bool, phones: bool, slack: bool, teams: bool) -> Profile:
        pos = 0
        length, pos = _long(targeted, pos)
        plan = targeted[pos : pos + length].decode()
        pos += length
        enterprise = targeted[pos] == 1
        regions, pos = _strings(targeted, pos + 1)
        features, pos = _strings(targeted, pos)
        fields: dict[str, Any] = {
            "plan": plan,
            "enterprise": enterprise,
            "regions": regions,
            "features": features,
            "contacts": {
                "emails": ["x"] if emails else [],
                "phones": ["x"] if phones else [],
                "slack_webhook": "x" if slack else None,
                "teams_webhook": "x" if teams else None,
            },
            "last_active": {},
        }
        return row_of_fields(fields)[0]
