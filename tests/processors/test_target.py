from datetime import timedelta

from factories import T0, customer, event
from forewarn.policy import Policy, ServicePolicy
from forewarn.processors.correlate import correlate
from forewarn.processors.ids import notification_id
from forewarn.processors.target import channels_for, is_affected, plan_targeting
from forewarn.schemas.models import Channel

POLICY = Policy()


def incident(**kw: object):  # type: ignore[no-untyped-def]
    inc = correlate(None, event(**kw), POLICY).published[0]
    return inc


def test_one_request_per_partition_with_the_incident_region() -> None:
    requests = plan_targeting(incident(), POLICY, partitions=4)
    assert [r.partition for r in requests] == [0, 1, 2, 3]
    assert {r.request_id for r in requests} == {requests[0].request_id}
    assert requests[0].regions == ["eu-west"]
    assert Channel.email in requests[0].channels


def test_internal_or_non_customer_facing_incidents_reach_nobody() -> None:
    inc = incident()
    assert plan_targeting(inc.model_copy(update={"internal": True}), POLICY, 2) == []
    hidden = Policy(services={"payments": ServicePolicy(customer_facing=False)})
    assert plan_targeting(inc, hidden, 2) == []


def test_region_filter_and_single_customer_filter() -> None:
    (req, *_) = plan_targeting(incident(), POLICY, 1)
    assert is_affected(customer("a", regions=("eu-west",)), req, T0)
    assert not is_affected(customer("b", regions=("us-east",)), req, T0)
    single = req.model_copy(update={"customer_id": "b", "regions": []})
    assert is_affected(customer("b", regions=("us-east",)), single, T0)
    assert not is_affected(customer("a"), single, T0)


def test_activity_filter() -> None:
    (req, *_) = plan_targeting(incident(), POLICY, 1)
    req = req.model_copy(update={"active_within_hours": 24})
    assert not is_affected(customer("a"), req, T0)
    active = customer("a", last_active={"payments": T0 - timedelta(hours=2)})
    assert is_affected(active, req, T0)


def test_sms_and_bridges_only_for_enterprise() -> None:
    (req, *_) = plan_targeting(incident(), POLICY, 1)
    assert Channel.sms not in channels_for(customer("a"), req, POLICY)
    ent = customer("e", enterprise=True, plan="enterprise")
    assert Channel.sms in channels_for(ent, req, POLICY)
    assert Channel.statuspage not in channels_for(ent, req, POLICY)  # posted once, not per customer


def test_notification_id_is_a_pure_function_of_its_parts() -> None:
    a = notification_id("inc", 1, "c1", "email")
    assert a == notification_id("inc", 1, "c1", "email")
    assert (
        len(
            {
                a,
                notification_id("inc", 2, "c1", "email"),
                notification_id("inc", 1, "c2", "email"),
                notification_id("inc", 1, "c1", "sms"),
            }
        )
        == 4
    )
