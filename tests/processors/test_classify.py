import pytest

from forewarn.processors.classify import classify_kind, classify_severity, share_of
from forewarn.schemas.models import IncidentKind, Severity


@pytest.mark.parametrize(
    ("symptom", "flags", "share", "expected"),
    [
        ("outage", [], 0.01, Severity.P1),
        ("error_rate", ["data_loss"], 0.0, Severity.P1),
        ("error_rate", ["security"], None, Severity.P1),
        ("error_rate", [], 0.30, Severity.P1),
        ("error_rate", [], 0.25, Severity.P2),
        ("latency", [], 0.10, Severity.P2),
        ("latency", [], 0.09, Severity.P3),
        ("latency", [], None, Severity.P3),
        ("latency", ["cosmetic"], 0.5, Severity.P4),
    ],
)
def test_severity_matrix(symptom: str, flags: list[str], share: float | None, expected: Severity) -> None:
    assert classify_severity(symptom=symptom, flags=flags, share_affected=share) is expected


def test_kind() -> None:
    assert classify_kind(symptom="outage", region="eu-west", customer_id=None, flags=[]) is IncidentKind.regional_outage
    assert (
        classify_kind(symptom="outage", region="global", customer_id=None, flags=[]) is IncidentKind.local_degradation
    )
    assert classify_kind(symptom="latency", region="eu", customer_id="c9", flags=[]) is IncidentKind.single_customer
    assert (
        classify_kind(symptom="latency", region="eu", customer_id=None, flags=["sla_breach"]) is IncidentKind.sla_breach
    )


def test_outage_flag_is_p1_and_a_regional_outage() -> None:
    assert classify_severity(symptom="error_rate", flags=["outage"], share_affected=0.01) is Severity.P1
    kind = classify_kind(symptom="error_rate", region="eu-west", customer_id=None, flags=["outage"])
    assert kind is IncidentKind.regional_outage


def test_share_of_active_customers() -> None:
    assert share_of(25, 100) == 0.25
    assert share_of(5, 0) is None
    assert share_of(200, 100) == 1.0
