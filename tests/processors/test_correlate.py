from factories import event
from forewarn.policy import Policy
from forewarn.processors.correlate import correlate
from forewarn.schemas.models import IncidentKind, Phase, Severity

POLICY = Policy()


def test_firing_critical_outage_opens_one_customer_visible_incident() -> None:
    result = correlate(None, event(), POLICY)
    (inc,) = result.published
    assert (inc.version, inc.phase, inc.change, inc.internal) == (1, Phase.investigating, "opened", False)
    assert inc.severity is Severity.P1 and inc.kind is IncidentKind.regional_outage
    assert inc.dedup_key == "payments|eu-west|outage"
    assert result.state.tracks[inc.dedup_key].incident == inc


def test_repeated_signal_updates_state_but_never_rebroadcasts() -> None:
    opened = correlate(None, event(minute=0), POLICY).state
    again = correlate(opened, event(minute=5), POLICY)
    assert again.published == ()
    track = again.state.tracks["payments|eu-west|outage"]
    assert track.incident.version == 1 and len(track.incident.signal_ids) == 2


def test_duplicate_delivery_changes_nothing() -> None:
    opened = correlate(None, event(), POLICY).state
    again = correlate(opened, event(), POLICY)
    assert again.published == () and again.state.tracks == opened.tracks


def test_ack_identifies_and_resolve_closes_with_increasing_versions() -> None:
    opened = correlate(None, event(minute=0), POLICY).state
    identified = correlate(opened, event("acknowledged", minute=8), POLICY)
    assert [i.phase for i in identified.published] == [Phase.identified]
    resolved = correlate(identified.state, event("resolved", minute=46), POLICY)
    assert resolved.state.tracks == {}
    (last,) = resolved.published
    assert (last.version, last.phase, last.change) == (3, Phase.resolved, "resolved")
    assert last.resolved_at is not None and (last.resolved_at - last.opened_at).total_seconds() == 46 * 60


def test_warning_signal_alone_opens_nothing() -> None:
    assert correlate(None, event(severity="warning", symptom="latency"), POLICY).published == ()


def test_resolved_without_open_incident_is_ignored() -> None:
    assert correlate(None, event("resolved"), POLICY).published == ()


def test_incident_id_is_deterministic_for_replays() -> None:
    a = correlate(None, event(), POLICY).published[0]
    b = correlate(None, event(), POLICY).published[0]
    assert a.incident_id == b.incident_id
