"""Which sink serves which channel, built from settings: the one place a channel is wired.

Every deliverer gets the shared semantics from ``sinks.base`` — its own delivered-ids store,
the provider's rate limit (shared by channels on the same provider), a circuit breaker and
the retry policy — so a channel module only knows how to send one message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from forewarn.clock import Clock
from forewarn.config import Settings
from forewarn.sinks.base import CircuitBreaker, Deliverer, Outbox, RateLimit, RetryPolicy, Sink, SqliteDeliveredStore
from forewarn.sinks.email import EmailSink
from forewarn.sinks.helpdesk import HelpdeskLedger, HelpdeskSink
from forewarn.sinks.inapp import BannerBoard, InAppSink
from forewarn.sinks.internal import InternalSink
from forewarn.sinks.slack import SlackSink
from forewarn.sinks.sms import SmsSink
from forewarn.sinks.social import SocialSink
from forewarn.sinks.statuspage import PageIncidents, StatuspageSink
from forewarn.sinks.teams import TeamsSink


def sink_state(settings: Settings) -> Path:
    """Where sinks keep their durable state; the web features read banners and tickets here too."""
    return settings.data_dir / "sinks"


def banner_board(settings: Settings) -> BannerBoard:
    return BannerBoard(sink_state(settings) / "inapp-banners.sqlite")


def helpdesk_ledger(settings: Settings) -> HelpdeskLedger:
    return HelpdeskLedger(sink_state(settings) / "helpdesk.sqlite")


def helpdesk_sink(settings: Settings) -> HelpdeskSink:
    return HelpdeskSink(settings.providers, helpdesk_ledger(settings), timeout_s=settings.delivery.timeout_s)


def _sinks(settings: Settings) -> dict[str, Callable[[], Sink]]:
    p, timeout, state = settings.providers, settings.delivery.timeout_s, sink_state(settings)
    return {
        "email": lambda: EmailSink(settings.smtp, unsubscribe_url=f"{settings.status_page_url}/unsubscribe"),
        "inapp": lambda: InAppSink(banner_board(settings), p, timeout_s=timeout),
        "slack": lambda: SlackSink(timeout_s=timeout),
        "teams": lambda: TeamsSink(timeout_s=timeout),
        "sms": lambda: SmsSink(p, SqliteDeliveredStore(state / "sms-parts.sqlite"), timeout_s=timeout),
        "social": lambda: SocialSink(p, timeout_s=timeout),
        "statuspage": lambda: StatuspageSink(p, PageIncidents(state / "statuspage.sqlite"), timeout_s=timeout),
        "helpdesk": lambda: helpdesk_sink(settings),
        "internal": lambda: InternalSink(
            settings.internal.allowed,
            EmailSink(settings.smtp, unsubscribe_url=f"{settings.status_page_url}/unsubscribe"),
            timeout_s=timeout,
        ),
    }


def build_deliverers(settings: Settings, clock: Clock) -> dict[str, Deliverer]:
    """One deliverer per channel in ``settings.channels``, plus ``internal`` wherever internal
    destinations are configured (it sends nowhere else). An unknown name fails start-up."""
    factories = _sinks(settings)
    wanted = list(dict.fromkeys([*settings.channels, *(["internal"] if settings.internal.allowed else [])]))
    unknown = [c for c in wanted if c not in factories]
    if unknown:
        raise ValueError(f"FOREWARN_CHANNELS names unknown channel(s) {unknown}; known: {sorted(factories)}")
    d = settings.delivery
    retry = RetryPolicy(attempts=d.attempts, base_delay_s=d.base_delay_s, max_delay_s=d.max_delay_s)
    outbox = Outbox(settings.data_dir / "outbox.jsonl")
    limits: dict[str, RateLimit] = {}
    deliverers: dict[str, Deliverer] = {}
    for channel in wanted:
        sink = factories[channel]()
        deliverers[channel] = Deliverer(
            sink,
            SqliteDeliveredStore(sink_state(settings) / f"{channel}-delivered.sqlite"),
            clock=clock.now,
            outbox=outbox,
            dry_run=settings.dry_run,
            retry=retry,
            rate_limit=limits.setdefault(sink.provider, RateLimit(d.rate_per_s, d.burst)),
            breaker=CircuitBreaker(d.breaker_failures, d.breaker_cooldown_s),
        )
    return deliverers
