"""Public posts through the real broker: for a gated category, nothing reaches ``notify.statuspage``
or ``notify.social`` (nor the providers) until a person approves; once approved, each post is
delivered exactly once, carrying its approval id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from factories import alertmanager_line
from forewarn.cli import main
from forewarn.config import ChannelSettings, DeliverySettings, Settings
from forewarn.demo.mailbox import free_port
from forewarn.process import WorkerProcess
from forewarn.processors.public import PUBLIC
from forewarn.publish import Publisher, group_caught_up, raw_signal_from_json, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import Approval, ApprovalStatus, Channel, NotificationCommand
from http_recorder import HttpRecorder

pytestmark = pytest.mark.broker

PUBLIC_TOPICS = ["notify.statuspage", "notify.social"]
POLICY = """
channels:
  P1: [statuspage, social]
  P2: [statuspage, social]
gates:
  default: never
  categories:
    regional_outage: always
"""


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    with HttpRecorder() as server:
        yield server


@pytest.fixture
def public(settings: Settings, recorder: HttpRecorder) -> Settings:
    providers = ChannelSettings(
        social_webhook_url=f"{recorder.url}/social",
        statuspage_api_url=f"{recorder.url}/v1",
        statuspage_page_id="pg",
        statuspage_api_key="k",
    )
    return settings.model_copy(
        update={
            "web_port": free_port(),
            "console_token": "console-s3cret",
            "channels": ["social", "statuspage"],
            "providers": providers,
            "delivery": DeliverySettings(base_delay_s=0.05, breaker_cooldown_s=0.5),
        }
    )


def approvals(settings: Settings) -> dict[str, Approval]:
    """The latest record per approval id."""
    latest: dict[str, Approval] = {}
    for message in read_topic(settings, "approvals"):
        approval = decode(message.value(), Approval)
        latest[approval.approval_id] = approval
    return latest


def posted(settings: Settings) -> list[NotificationCommand]:
    return [decode(m.value(), NotificationCommand) for t in PUBLIC_TOPICS for m in read_topic(settings, t)]


def provider_requests(recorder: HttpRecorder) -> list[object]:
    return [*recorder.all_requests("/social"), *recorder.all_requests("/v1/pages/pg/incidents")]


def caught_up(settings: Settings, worker: WorkerProcess) -> bool:
    worker.check()
    topics = ["raw", "events", "signals", "incidents", "targeting", "approvals", *PUBLIC_TOPICS, "audit"]
    return group_caught_up(settings, settings.app_id, topics)


def test_gated_public_posts_wait_for_approval_then_go_out_once(
    public: Settings, recorder: HttpRecorder, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    publisher = Publisher(public)
    with WorkerProcess(public, tmp_path / "worker.log", policy=policy) as worker:
        publisher.send("raw", raw_signal_from_json(alertmanager_line("firing")))
        publisher.flush()

        def both_held() -> bool:
            worker.check()
            return {a.command.channel for a in approvals(public).values()} == {Channel.statuspage, Channel.social}

        wait_until(both_held, 120, "a held status-page post and a held social post")
        wait_until(lambda: caught_up(public, worker), 120, "the worker to process everything it was given")
        held = approvals(public)
        assert {a.status for a in held.values()} == {ApprovalStatus.pending}
        assert {a.command.customer_id for a in held.values()} == {PUBLIC}
        assert all("regional_outage" in a.reason for a in held.values())
        assert posted(public) == []  # nothing on the channel topics while unapproved...
        assert provider_requests(recorder) == []  # ...and nothing reached a provider

        env = public.to_env()
        for approval_id in held:
            cli = CliRunner().invoke(main, ["approvals", "approve", approval_id, "--approver", "maria"], env=env)
            assert cli.exit_code == 0, cli.output

        recorder.wait_for(1, 120, "/social", worker.check)
        recorder.wait_for(1, 120, "/v1/pages/pg/incidents", worker.check)
        wait_until(lambda: caught_up(public, worker), 120, "the approved posts to be delivered")

    commands = posted(public)
    assert sorted(c.approval_id or "" for c in commands) == sorted(held)  # each approved post, once, nothing else
    (social,) = [c for c in commands if c.channel is Channel.social]
    assert len(social.text) <= 280 and public.status_page_url in social.text
    posts = recorder.all_requests("/social")
    assert [q.headers["Idempotency-Key"] for q in posts] == [social.notification_id]  # delivered once
    assert len(recorder.all_requests("/v1/pages/pg/incidents")) == 1
