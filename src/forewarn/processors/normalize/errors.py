"""The one exception normalisation raises, so the stream can dead-letter by kind.

Every rejected payload maps onto ``DeadLetter.error_type`` / ``DeadLetter.reason``; the
reason starts with the JSON path of the offending field (``alerts[2].labels.service:
missing``) so whoever owns the exporter can fix it without replaying the message.
"""

from __future__ import annotations

from typing import Literal, get_args

ErrorType = Literal["malformed_json", "wrong_type", "unknown_source", "oversized", "invalid"]

ERROR_TYPES: frozenset[str] = frozenset(get_args(ErrorType))


class NormalizeError(ValueError):
    """A payload forewarn cannot turn into events; retrying it will not help."""

    def __init__(self, reason: str, error_type: ErrorType) -> None:
        super().__init__(f"{error_type}: {reason}")
        self.reason = reason
        self.error_type: ErrorType = error_type

    def __reduce__(self) -> tuple[type[NormalizeError], tuple[str, ErrorType]]:
        # Keeps the two-argument constructor working across pickling (process pools, Faust).
        return (type(self), (self.reason, self.error_type))
