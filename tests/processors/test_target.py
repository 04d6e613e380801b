from datetime import timedelta

from factories import T0, customer, event
from forewarn.policy import CadenceRule, Policy, SendPolicy, ServicePolicy
from forewarn.processors.correlate import correlate
from forewarn.processors.ids import notification_id
from forewarn.processors.target import channels_for, is_affected, plan_targeting, profile_of, unreachable_channels
from forewarn.schemas.models import Channel, Contacts, Incident, IncidentKind, Severity, TargetingRequest

POLICY = Policy()


def incident(**kw: object) -> Incident:
    return correlate(None, event(**kw), POLICY).published[0]


def request(policy: Policy = POLICY, **changes: object) -> TargetingRequest:
    (req, *_) = plan_targeting(incident(), policy, 1)
    return req.model_copy(update=changes)


def test_one_request_per_partition_with_the_incident_region() -> None:
    requests = plan_targeting(incident(), POLICY, partitions=4)
    assert [r.partition for r in requests] == [0, 1, 2, 3]
    assert {r.request_id for r in requests} == {requests[0].request_id}
    assert requests[0].regions == ["eu-west"]
    assert Channel.email in requests[0].channels
    assert plan_targeting(incident(region="global"), POLICY, 1)[0].regions == []


def test_service_plans_features_and_activity_window_come_from_the_policy() -> None:
    policy = Policy(
        services={"payments": ServicePolicy(plans=["pro", "enterprise"], features=["payments", "checkout"])},
        active_within_hours=24,
    )
    req = request(policy)
    assert (req.plans, req.features, req.active_within_hours) == (["pro", "enterprise"], ["payments", "checkout"], 24)


def test_single_customer_incident_asks_for_that_customer_only() -> None:
    (req, *_) = plan_targeting(incident(customer_id="b"), Policy(active_within_hours=24), 1)
    assert (req.customer_id, req.regions, req.active_within_hours) == ("b", [], None)
    assert is_affected(customer("b", regions=("us-east",)), req, T0)
    assert not is_affected(customer("a"), req, T0)


def test_channels_per_category_override_the_policy_wide_table() -> None:
    only_email = SendPolicy(
        categories={IncidentKind.regional_outage: CadenceRule(channels={Severity.P1: [Channel.email]})}
    )
    (req, *_) = plan_targeting(incident(), Policy(send_policy=only_email), 1)
    assert req.channels == [Channel.email]


def test_internal_or_non_customer_facing_incidents_reach_nobody() -> None:
    inc = incident()
    assert plan_targeting(inc.model_copy(update={"internal": True}), POLICY, 2) == []
    hidden = Policy(services={"payments": ServicePolicy(customer_facing=False)})
    assert plan_targeting(inc, hidden, 2) == []


def test_region_plan_and_feature_filters() -> None:
    req = request()
    assert is_affected(customer("a", regions=("eu-west",)), req, T0)
    assert not is_affected(customer("b", regions=("us-east",)), req, T0)
    assert not is_affected(customer("n", regions=()), req, T0)  # no region: not in a regional incident
    assert is_affected(customer("n", regions=()), request(regions=[]), T0)  # but in a global one
    by_plan = request(plans=["enterprise"])
    assert not is_affected(customer("a"), by_plan, T0)
    assert is_affected(customer("e", plan="enterprise"), by_plan, T0)
    by_feature = request(features=["checkout", "payments"])
    assert is_affected(customer("a"), by_feature, T0)
    assert not is_affected(customer("r", features=["reports"]), by_feature, T0)


def test_activity_filter() -> None:
    req = request(active_within_hours=24)
    assert not is_affected(customer("a"), req, T0)
    active = customer("a", last_active={"reports": T0 - timedelta(days=3), "payments": T0 - timedelta(hours=2)})
    assert is_affected(active, req, T0)
    stale = customer("s", last_active={"payments": T0 - timedelta(hours=25)})
    assert not is_affected(stale, req, T0)


def test_sms_and_bridges_only_for_enterprise_with_contacts() -> None:
    req = request()
    assert channels_for(profile_of(customer("a")), req, POLICY) == [Channel.email, Channel.inapp]
    hooks = Contacts(emails=["ops@e.example"], phones=["+4915112345678"], slack_webhook="https://hooks.slack.com/x")
    ent = profile_of(customer("e", enterprise=True, plan="enterprise", contacts=hooks))
    assert channels_for(ent, req, POLICY) == [Channel.email, Channel.inapp, Channel.sms, Channel.slack]
    no_phone = profile_of(customer("e", enterprise=True, contacts=Contacts(emails=["ops@e.example"])))
    assert Channel.sms not in channels_for(no_phone, req, POLICY)
    pro_with_hook = profile_of(customer("p", contacts=hooks))
    assert Channel.slack not in channels_for(pro_with_hook, req, POLICY)  # bridges are for enterprise accounts


def test_unreachable_channels_are_the_offered_ones_without_an_address() -> None:
    """What a replay reports as unreachable: never public channels, never enterprise-only ones for other plans."""
    req = request()
    assert unreachable_channels(profile_of(customer("a")), req, POLICY) == []
    no_mail = profile_of(customer("n", contacts=Contacts(phones=["+4915112345678"])))
    assert unreachable_channels(no_mail, req, POLICY) == [Channel.email]  # sms: not offered to a pro account
    ent = profile_of(customer("e", enterprise=True, contacts=Contacts(emails=["ops@e.example"])))
    assert unreachable_channels(ent, req, POLICY) == [Channel.sms]  # no bridge set up: not a gap
    assert set(unreachable_channels(ent, req, POLICY)).isdisjoint(channels_for(ent, req, POLICY))


def test_notification_id_is_a_pure_function_of_its_parts() -> None:
    a = notification_id("inc", 1, "c1", "email")
    assert a == notification_id("inc", 1, "c1", "email")
    others = {
        notification_id("inc", 2, "c1", "email"),
        notification_id("inc", 1, "c2", "email"),
        notification_id("inc", 1, "c1", "sms"),
    }
    assert len({a, *others}) == 4


def test_the_fast_projection_agrees_with_the_segment_and_with_recipients() -> None:
    from forewarn.demo.population import population
    from forewarn.processors.segments import read_fields
    from forewarn.processors.target import PERSONAL_CHANNELS, last_active_s, recipients, row_of_fields
    from forewarn.schemas.codec import encode

    for segment in population(500, T0):
        profile, active = row_of_fields(read_fields(encode(segment)))
        assert (profile, active) == (profile_of(segment), last_active_s(segment))
        assert profile.reach == {c.value for c in PERSONAL_CHANNELS if recipients(segment, c)}


def test_a_configured_helpdesk_hears_every_customer_facing_version_for_every_account() -> None:
    p3 = incident().model_copy(update={"severity": Severity.P3})
    for inc in (incident(), p3):
        assert Channel.helpdesk not in plan_targeting(inc, POLICY, 1)[0].channels  # not in the matrix by default
        (req,) = plan_targeting(inc, POLICY, 1, helpdesk=True)
        assert req.channels.count(Channel.helpdesk) == 1
        # not an enterprise-only channel: a plain account with no contacts gets its ticket too
        plain = profile_of(customer("c-plain", contacts=Contacts()))
        assert Channel.helpdesk in channels_for(plain, req, POLICY)
    named = Policy.model_validate({"channels": {"P1": ["email", "helpdesk"]}})
    assert plan_targeting(incident(), named, 1, helpdesk=True)[0].channels == [Channel.email, Channel.helpdesk]
    assert plan_targeting(incident().model_copy(update={"internal": True}), POLICY, 1, helpdesk=True) == []
