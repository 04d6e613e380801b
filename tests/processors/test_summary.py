"""The running summary states what is known, names what is not, and keeps a model honest."""

from __future__ import annotations

from datetime import timedelta

from factories import T0
from forewarn.processors.internal import FactSheet
from forewarn.processors.summary import Summary, running_summary, summarise
from forewarn.schemas.models import Phase
from internal_factories import incident


def sheet(**extra: object) -> FactSheet:
    fields: dict[str, object] = {"incident": incident(), "now": T0 + timedelta(minutes=75), "partitions": 2}
    fields.update(extra)
    return FactSheet(**fields)  # type: ignore[arg-type]


def test_an_early_summary_says_what_is_not_known() -> None:
    summary = summarise(sheet(partitions_reported=1))
    assert summary.known[1] == "phase investigating after 1 update(s); open 1 h 15 min"
    assert summary.unknown == (
        "the cause",
        "when it will be fixed (no ETA)",
        "full impact (1 of 2 partitions counted)",
    )
    assert summary.text.startswith("Known:\n- payments in eu-west: Payments outage in EU-WEST (P1, regional outage)")
    assert "Not known yet:\n- the cause" in summary.text


def test_a_later_summary_moves_facts_to_known() -> None:
    i = incident(3, 90, phase=Phase.identified, cause="bad deploy", eta=T0 + timedelta(hours=2))
    summary = summarise(sheet(incident=i, partitions_reported=2, affected=5, active_total=50, enterprise=1))
    assert "cause: bad deploy" in summary.known
    assert "ETA 2026-11-23 11:00 UTC" in summary.known
    assert "5 customers affected (10.0% of active), 1 enterprise" in summary.known
    assert summary.unknown == ()


def test_resolution_reports_how_long_it_took() -> None:
    i = incident(4, 150, phase=Phase.resolved, resolved_at=T0 + timedelta(minutes=150))
    assert (
        summarise(sheet(incident=i, partitions_reported=2)).known[1]
        == "resolved at 11:30 UTC, 2 h 30 min after opening"
    )


def test_a_model_rewrite_is_used_only_when_it_invents_nothing() -> None:
    s = sheet(partitions_reported=2)
    fine, verdicts = running_summary(s, lambda _sheet, _t: "Payments in eu-west are down; cause unknown.", [])
    assert (fine.source, fine.text, verdicts) == ("model", "Payments in eu-west are down; cause unknown.", [])

    invented, verdicts = running_summary(s, lambda _sheet, _t: "Fixed by 14:30, see https://x.example", [])
    assert invented.source == "template" and invented.text == summarise(s).text
    assert [v.rule for v in verdicts] == ["invented_fact", "invented_fact"]

    leaky, verdicts = running_summary(s, lambda _sheet, _t: "pg-cluster-7 is down", ["pg-cluster-7"])
    assert leaky.source == "template" and "pg-cluster-7" in str(verdicts[0])


def test_no_model_or_no_answer_means_the_template() -> None:
    s = sheet()
    assert running_summary(s)[0] == summarise(s)
    assert running_summary(s, lambda _sheet, _t: None)[0] == summarise(s)
    assert isinstance(summarise(s), Summary)
