"""The running summary through the real anthropic client with an injected transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2

from factories import anthropic_reply
from forewarn.drafting.anthropic_summary import SYSTEM, AnthropicSummary
from forewarn.processors.incident_room import RoomState, apply
from forewarn.schemas.models import IncidentKind
from internal_factories import incident, incident_fact, room

REWRITE = "Payments are down in eu-west (P1, regional outage).\nWe do not know the cause or when it will be fixed."


def model(
    respond: Callable[[httpx2.Request], httpx2.Response],
    kinds: tuple[IncidentKind, ...] = (IncidentKind.regional_outage,),
) -> tuple[AnthropicSummary, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(json.loads(request.content))
        return respond(request)

    ticks = iter([5.0, 5.5])
    summary = AnthropicSummary(
        api_key="test-key",
        model="claude-test",
        timeout_s=5,
        kinds=list(kinds),
        transport=httpx2.MockTransport(record),
        clock=lambda: next(ticks),
    )
    return summary, seen


def announce(m: AnthropicSummary, **extra: Any) -> tuple[RoomState | None, Any]:
    return apply(None, incident_fact(incident(1, 0, internal=True, **extra)), room(model=m))


def test_the_models_rewrite_becomes_the_running_summary_and_reaches_the_war_room() -> None:
    m, seen = model(anthropic_reply(REWRITE))
    state, out = announce(m)
    assert state is not None and state.summary == REWRITE
    assert out.summary is not None and out.summary.source == "model" and out.summary_verdicts == []
    war_room = next(msg for msg in out.messages if msg.audience == "war_room")
    assert REWRITE in war_room.text
    (request,) = seen
    assert request["system"] == SYSTEM and "<summary>" in request["messages"][0]["content"]
    assert m.last_detail == {
        "model": "claude-test",
        "latency_ms": "500",
        "input_tokens": "512",
        "output_tokens": "128",
        "outcome": "model",
    }


def test_a_rewrite_that_invents_a_time_or_link_falls_back_to_the_template() -> None:
    m, _ = model(anthropic_reply("Fixed by 14:30, details at https://evil.example"))
    state, out = announce(m)
    assert out.summary is not None and out.summary.source == "template"
    assert {v.rule for v in out.summary_verdicts} == {"invented_fact"}
    assert state is not None and "14:30" not in state.summary


def test_an_api_error_or_timeout_keeps_the_template_summary() -> None:
    for failure in (
        lambda request: httpx2.Response(529, json={"type": "error", "error": {"type": "overloaded_error"}}),
        lambda request: (_ for _ in ()).throw(httpx2.ReadTimeout("slow", request=request)),
    ):
        m, _ = model(failure)
        _, out = announce(m)
        assert out.summary is not None and out.summary.source == "template" and out.summary_verdicts == []
        assert m.last_detail["outcome"] == "fallback"


def test_kinds_the_policy_keeps_to_templates_never_call_the_model() -> None:
    m, seen = model(anthropic_reply(REWRITE), kinds=(IncidentKind.maintenance,))
    _, out = announce(m)
    assert seen == [] and out.summary is not None and out.summary.source == "template"
