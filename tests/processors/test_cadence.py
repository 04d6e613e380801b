from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from factories import T0, event
from forewarn.policy import CadenceRule, Policy, PolicyError, load_policy
from forewarn.processors.cadence import IncidentLedger, Note, Told, Verdict, decide, interval, is_extended_outage
from forewarn.processors.correlate import correlate
from forewarn.schemas.models import Channel, Incident, IncidentKind, Phase, Severity

RULE = CadenceRule()


def incident(minute: float, version: int, phase: Phase = Phase.investigating, **changes: object) -> Incident:
    opened = correlate(None, event(), Policy()).published[0]
    at = T0 + timedelta(minutes=minute)
    fields = {"version": version, "updated_at": at, "phase": phase, "next_update_at": None, "flags": [], **changes}
    return opened.model_copy(update=fields)


def told(inc: Incident, count: int = 1) -> Told:
    return Told(inc.version, Note.of(inc, RULE), count)


def test_first_notice_then_nothing_new_within_or_after_the_interval_without_news() -> None:
    first = incident(0, 1)
    assert decide(None, first, RULE) is Verdict.first
    assert decide(told(first), incident(10, 2), RULE) is Verdict.too_soon
    assert decide(told(first), incident(29, 3, Phase.identified), RULE) is Verdict.too_soon


def test_phase_change_after_the_interval_is_news_and_the_promise_comes_due() -> None:
    first = incident(0, 1)  # P1: 30 minutes
    assert decide(told(first), incident(30, 2, Phase.identified), RULE) is Verdict.news
    assert decide(told(first), incident(31, 2), RULE) is Verdict.promised


def test_escalation_is_news_and_shortens_the_interval() -> None:
    p2 = incident(0, 1, severity=Severity.P2)
    assert interval(p2, RULE) == timedelta(minutes=60)
    assert decide(told(p2), incident(30, 2, severity=Severity.P2), RULE) is Verdict.too_soon
    assert decide(told(p2), incident(30, 2, severity=Severity.P1), RULE) is Verdict.news  # P1 interval 30
    told_p1 = told(incident(0, 1))
    assert decide(told_p1, incident(29, 2, severity=Severity.P2), RULE) is Verdict.too_soon  # not news
    assert decide(told_p1, incident(30, 2, severity=Severity.P2), RULE) is Verdict.promised  # as promised at P1


def test_a_long_outage_keeps_its_severity_cadence_until_detection_flags_it() -> None:
    """Running long is not enough: detection decides (no ETA after 4 h) and flags the record."""
    long = incident(239, 9)  # an outage opened at T0, nearly 4 h, not flagged
    assert interval(long, RULE) == timedelta(minutes=30)
    assert decide(told(incident(225, 8)), incident(240, 9), RULE) is Verdict.too_soon


def test_flagged_extended_outage_moves_to_fifteen_minutes() -> None:
    flagged = incident(240, 9, flags=["extended_outage", "executive_note", "sla_credit"])
    assert is_extended_outage(flagged)
    assert interval(flagged, RULE) == timedelta(minutes=15)
    assert Note.of(flagged, RULE).promised_at == T0 + timedelta(minutes=255)
    last = told(incident(240, 8, flags=["extended_outage"]))
    assert decide(last, incident(254, 10, flags=["extended_outage"]), RULE) is Verdict.too_soon
    assert decide(last, incident(255, 10, flags=["extended_outage"]), RULE) is Verdict.promised


def test_four_hours_with_an_eta_keeps_the_normal_cadence() -> None:
    eta = T0 + timedelta(hours=6)
    with_eta = incident(240, 9, eta=eta)  # detection does not flag an incident with an ETA
    assert not is_extended_outage(with_eta) and interval(with_eta, RULE) == timedelta(minutes=30)
    # flagged earlier, an ETA given since: back to the severity's cadence
    flagged_then_eta = incident(300, 12, eta=eta, flags=["extended_outage"])
    assert not is_extended_outage(flagged_then_eta)
    assert interval(flagged_then_eta, RULE) == timedelta(minutes=30)
    assert decide(told(incident(290, 11, eta=eta, flags=["extended_outage"])), flagged_then_eta, RULE) is (
        Verdict.too_soon
    )
    resolved = incident(300, 12, Phase.resolved, flags=["extended_outage"])
    assert not is_extended_outage(resolved)


def test_the_old_send_policy_threshold_is_refused_naming_its_replacement(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("send_policy:\n  default:\n    extended_outage_after_minutes: 120\n")
    with pytest.raises(PolicyError, match=r"send_policy\.default.*rules\.extended_outage_after"):
        load_policy(path)


def test_explicit_next_update_is_kept_but_never_below_the_shortest_interval() -> None:
    soon = incident(0, 1, next_update_at=T0 + timedelta(minutes=20))
    assert Note.of(soon, RULE).promised_at == T0 + timedelta(minutes=20)
    assert decide(told(soon), incident(20, 2), RULE) is Verdict.promised
    too_soon = incident(0, 1, next_update_at=T0 + timedelta(minutes=1))
    assert Note.of(too_soon, RULE).promised_at == T0 + timedelta(minutes=15)


def test_cap_holds_but_resolution_always_passes_once() -> None:
    capped = told(incident(0, 1), count=RULE.max_per_channel)
    assert decide(capped, incident(60, 2, Phase.monitoring), RULE) is Verdict.capped
    resolved = incident(61, 3, Phase.resolved)
    assert decide(capped, resolved, RULE) is Verdict.resolution
    assert decide(told(resolved), resolved.model_copy(update={"version": 4}), RULE) is Verdict.handled
    assert decide(None, resolved, RULE) is Verdict.never_told


def test_replayed_or_older_versions_are_already_handled() -> None:
    assert decide(told(incident(0, 5)), incident(90, 5), RULE) is Verdict.handled
    assert decide(told(incident(0, 5)), incident(90, 4), RULE) is Verdict.handled


def test_flapping_incident_never_exceeds_the_cadence() -> None:
    """Phase flips every 3 minutes for 3 hours: at most one message per 30 minutes, then the resolution."""
    last: Told | None = None
    sent: list[datetime] = []
    for step in range(60):
        inc = incident(3 * step, step + 1, Phase.identified if step % 2 else Phase.monitoring)
        if decide(last, inc, RULE).sends:
            sent.append(inc.updated_at)
            last = Told(inc.version, Note.of(inc, RULE), (last.count if last else 0) + 1)
    gaps = [b - a for a, b in pairwise(sent)]
    # not flagged an extended outage (that takes detection, 4 h without an ETA): P1's 30 minutes holds
    assert len(sent) >= 4 and all(g >= timedelta(minutes=30) for g in gaps)
    assert len(sent) <= RULE.max_per_channel
    assert last is not None
    resolved = incident(181, 62, Phase.resolved)
    assert decide(last, resolved, RULE) is Verdict.resolution


def test_ledger_records_and_restores_compactly() -> None:
    inc = incident(0, 1)
    ledger = IncidentLedger(inc.incident_id, 3)
    store: dict[bytes, bytes] = {}
    note = Note.of(inc, RULE)
    key, chunk = ledger.record(1, note, [("a", [Channel.email, Channel.inapp]), ("b", [Channel.email])])
    store[key] = chunk  # under the key the record names: the one restore reads
    later = incident(40, 2, Phase.identified)
    key, chunk = ledger.record(2, Note.of(later, RULE), [("a", [Channel.email])])
    store[key] = chunk
    store[ledger.head_key] = ledger.head()
    restored = IncidentLedger.restore(inc.incident_id, 3, store[ledger.head_key], store.get)
    for led in (ledger, restored):
        email = led.told_on("a", Channel.email)
        assert email is not None and (email.version, email.count) == (2, 2)
        inapp = led.told_on("a", Channel.inapp)
        assert inapp is not None and (inapp.version, inapp.count) == (1, 1)
        assert led.told_on("b", Channel.sms) is None
        assert led.told_on("nobody", Channel.email) is None
    assert restored.told["b"] is restored.told.get("b")
    assert IncidentLedger.restore("x", 0, None, store.get).told == {}


def test_ledger_shares_one_state_per_history() -> None:
    ledger = IncidentLedger("inc", 0)
    ledger.record(1, Note.of(incident(0, 1), RULE), [(f"c{i}", [Channel.email]) for i in range(1000)])
    assert len({id(state) for state in ledger.told.values()}) == 1


def test_ledger_close_forgets_ids_but_remembers_the_closing_version() -> None:
    ledger = IncidentLedger("inc", 0)
    ledger.record(1, Note.of(incident(0, 1), RULE), [("a", [Channel.email])])
    assert ledger.close(2) == [ledger.chunk_key(0)]
    restored = IncidentLedger.restore("inc", 0, ledger.head(), lambda key: None)
    assert restored.closed == 2 and restored.told == {} and restored.chunks == 0


def test_send_policy_categories_override_the_default_key_by_key() -> None:
    policy = Policy.model_validate(
        {
            "send_policy": {
                "default": {"max_per_channel": 5},
                "categories": {"maintenance": {"every_minutes": {"P1": 240}, "channels": {"P1": ["email"]}}},
            }
        }
    )
    maintenance = policy.send_policy.rule(IncidentKind.maintenance)
    assert maintenance.every_minutes[Severity.P1] == 240
    assert maintenance.every_minutes[Severity.P2] == 60  # inherited
    assert maintenance.max_per_channel == 5  # from the default section
    assert maintenance.channels == {Severity.P1: [Channel.email]}
    assert policy.send_policy.rule(IncidentKind.regional_outage).every_minutes[Severity.P1] == 30


def test_bad_send_policy_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("send_policy:\n  default:\n    every_minutes: {P1: 0}\n")
    with pytest.raises(PolicyError, match=r"send_policy\.default\.every_minutes\.P1"):
        load_policy(path)
