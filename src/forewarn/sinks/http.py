"""What every HTTP provider shares: one pooled client and one reading of provider answers.

Each channel module builds its request; this module turns the provider's answer into the
delivery base's language once: 2xx is accepted, 429 and 5xx and timeouts are worth another
try (honouring Retry-After), any other 4xx is the request's fault and is not retried. A timeout
or dropped connection after the request left, or a 504, is also *uncertain*: the provider may
have acted, which only an idempotent sink may risk again (``SendError.uncertain``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from forewarn.sinks.base import SendError, Sink

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Answers that mean "no answer": a gateway gave up waiting on the provider, which may have acted.
UNCERTAIN_STATUS = frozenset({504})
#: Transport failures before the request left: the provider cannot have acted on it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe(response: httpx.Response) -> str:
    """The provider's answer for the audit record: status and the start of the body."""
    body = response.text.strip().replace("\n", " ")
    return f"{response.status_code} {response.reason_phrase}: {body[:300]}"


class HttpSink(Sink):
    """A sink that talks to its provider over HTTP through one pooled ``httpx.AsyncClient``."""

    def __init__(self, *, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send and classify: returns only 2xx responses, raises ``SendError`` for the rest."""
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise SendError(
                f"{self.provider}: {method} {_safe(url)} timed out ({type(exc).__name__})",
                uncertain=not isinstance(exc, NOT_SENT),
            ) from exc
        except httpx.HTTPError as exc:
            raise SendError(
                f"{self.provider}: {method} {_safe(url)} failed: {type(exc).__name__}: {exc}",
                uncertain=not isinstance(exc, NOT_SENT),
            ) from exc
        if response.is_success:
            return response
        raise SendError(
            f"{self.provider}: {method} {_safe(url)} -> {describe(response)}",
            retryable=response.status_code in RETRYABLE_STATUS,
            retry_after=retry_after_s(response.headers.get("Retry-After")),
            uncertain=response.status_code in UNCERTAIN_STATUS,
        )

    async def close(self) -> None:
        await self._client.aclose()


def _safe(url: str) -> str:
    """A URL fit for logs and audit rows: webhook URLs carry their secret in the path."""
    parsed = httpx.URL(url)
    path = parsed.path if len(parsed.path) <= 24 else parsed.path[:20] + "…"
    return f"{parsed.scheme}://{parsed.host}{f':{parsed.port}' if parsed.port else ''}{path}"
