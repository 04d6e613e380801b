"""``POST /ingest/{source}``: webhook-only tools point at forewarn directly.

The body is checked the way the normalize stage will check it (so a sender learns at once
that its payload is unusable, with the reason), then published unchanged to the raw topic,
keyed by source so one tool's webhooks keep their order. Authentication is a shared bearer
token, or an HMAC-SHA256 of the exact body in ``X-Forewarn-Signature: sha256=<hex>``.

401 for missing or bad credentials, 404 for a source forewarn does not know, 413 over the
size limit (1 MiB), 422 with the reason for a body that cannot become events, 202 when it
is on the raw topic.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from aiohttp import web

from forewarn.processors.normalize import ADAPTERS, NormalizeError, normalize_signals, signal_count
from forewarn.schemas.models import RawSignal
from forewarn.web.server import CONTEXT, WebContext

SIGNATURE_HEADER = "X-Forewarn-Signature"


def _error(status: int, message: str, **extra: str) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def authorised(headers: Mapping[str, str], body: bytes, token: str, secret: str) -> bool:
    """A valid bearer token or a valid body signature; nothing passes when neither is configured."""
    bearer = headers.get("Authorization", "")
    if token and bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip(), token):
        return True
    signature = headers.get(SIGNATURE_HEADER, "")
    if secret and signature.startswith("sha256="):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature[7:].strip().lower(), expected)
    return False


async def ingest(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    settings, stream = ctx.settings, ctx.stages.ctx
    limit = settings.max_payload_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"body of {request.content_length} bytes exceeds the limit of {limit}")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body exceeds the limit of {limit} bytes")
    if len(body) > limit:
        return _error(413, f"body of {len(body)} bytes exceeds the limit of {limit}")
    if not authorised(request.headers, body, settings.ingest_token, settings.ingest_secret):
        return _error(401, "missing or bad credentials: a bearer token or an X-Forewarn-Signature is required")
    source = request.match_info["source"]
    if source not in ADAPTERS:
        return _error(404, f"unknown source {source!r}", known=", ".join(sorted(ADAPTERS)))
    raw = RawSignal(
        source=source,
        received_at=stream.clock.now(),
        body=body,
        content_type=request.content_type or "application/json",
        origin=f"http:{request.remote or 'unknown'}",
    )
    try:
        # ingest's own path: the same verdict, at ingest's cost for a large batch of samples
        accepted = signal_count(normalize_signals(raw, max_bytes=limit))
    except NormalizeError as exc:
        return _error(422, exc.reason, error_type=exc.error_type)
    await stream.send("raw", source.encode(), raw)
    return web.json_response({"accepted": accepted, "source": source}, status=202)


def feature(app: web.Application, ctx: WebContext) -> None:
    app.router.add_post("/ingest/{source}", ingest)
