from dataclasses import replace

from factories import T0, customer, event
from forewarn.policy import Policy
from forewarn.processors.correlate import correlate
from forewarn.processors.draft import TEMPLATES, Drafter, command_for, draft, template_for
from forewarn.processors.draft.check import check_templates, sample_incident
from forewarn.processors.draft.facts import facts_for
from forewarn.processors.draft.render import Catalogue
from forewarn.processors.validate import validate
from forewarn.schemas.models import Channel


def test_email_draft_has_subject_text_and_html_with_event_text_escaped() -> None:
    inc = correlate(None, event(), Policy()).published[0]
    words = draft(inc, customer("c1"), Channel.email, "https://status.example.com")
    assert words.template == "initial"
    assert words.subject is not None and words.subject.startswith("[P1] Investigating: Payments outage in EU-WEST")
    assert "https://status.example.com" in words.text
    hostile = sample_incident("update").model_copy(update={"cause": "<script>alert(1)</script> {{ 7*7 }}"})
    escaped = draft(hostile, customer("c1"), Channel.email, "https://status.example.com")
    assert escaped.html is not None and "<script>" not in escaped.html and "&lt;script&gt;" in escaped.html
    assert "{{ 7*7 }}" in escaped.text and "49" not in escaped.text  # event text is never template code
    cmd = command_for(inc, customer("c1"), Channel.email, words, now=T0, dry_run=False)
    assert cmd.recipients == ["ops@c1.example"]
    assert cmd.notification_id.startswith("ntf_")


def test_customer_language_with_english_fallback_and_local_time() -> None:
    inc = sample_incident("initial")
    german = draft(inc, customer("c1", language="de", timezone="Europe/Berlin"), Channel.sms, "https://s.example")
    assert german.language == "de" and "Nächstes Update 5.1. 10:30 MEZ" in german.text
    italian = Drafter(Policy(), "https://s.example").skeleton(inc, Channel.sms, "it")
    assert italian.draft.language == "en"


def test_template_choice_follows_the_incident_change() -> None:
    for name in TEMPLATES:
        assert template_for(sample_incident(name)) == name


def test_missing_translation_and_broken_template_fail_the_start_up_check(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bundled = Catalogue().root
    for lang in ("en", "de"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "messages.j2").write_text((bundled / lang / "messages.j2").read_text())
    (tmp_path / "layouts").mkdir()
    for layout in (bundled / "layouts").iterdir():
        (tmp_path / "layouts" / layout.name).write_text(layout.read_text())
    german = tmp_path / "de" / "messages.j2"
    german.write_text(german.read_text().replace("{% block postmortem_short %}", "{% block postmortem_shortened %}"))
    problems = check_templates(Policy(), "https://s.example", Catalogue(tmp_path))
    assert any("missing translation: no block 'postmortem_short'" in p and "de/messages.j2" in p for p in problems)
    (tmp_path / "layouts" / "sms.j2").write_text("{{ m.short }} {{ undefined_thing }}")
    problems = check_templates(Policy(), "https://s.example", Catalogue(tmp_path))
    assert any("layouts/sms.j2 does not render" in p and "undefined_thing" in p for p in problems)


def test_policy_that_makes_every_draft_fail_is_refused_at_start_up() -> None:
    policy = Policy.model_validate({"tone": {"banned_phrases": ["we will keep you posted"]}})
    problems = check_templates(policy, "https://s.example")
    assert any("banned_phrase" in p and "en/initial on email" in p for p in problems)
    internal = Policy.model_validate({"channels": {"P1": ["email", "internal"]}})
    assert any("no template for channel 'internal'" in p for p in check_templates(internal, "https://s.example"))
    helpdesk = Policy.model_validate({"channels": {"P1": ["email", "helpdesk"]}})  # layouts/helpdesk.j2
    assert check_templates(helpdesk, "https://s.example") == []


# ---- internal facts and other customers never reach a customer draft ---------------------------


def _internal_policy() -> Policy:
    from internal_factories import policy

    return policy()


def test_every_customer_skeleton_is_checked_against_the_incidents_internal_facts() -> None:
    from internal_factories import incident

    drafter = Drafter(_internal_policy(), "https://status.example.com")
    clean = incident(2, phase="identified", cause="A database failover took longer than expected.")
    skeleton = drafter.skeleton(clean, Channel.email, "en")
    assert skeleton.verdicts == ()
    assert set(skeleton.expectations.internal_terms) == {
        "evt_am_7f3a9c",
        "evt_pd_118b2e",
        "outage_window_5m",
        "oncall-lead@corp.example",
        "ledger-db",
        "pg-cluster-7",
    }
    causes = ("ledger-db connection pool exhausted", "Alert outage_window_5m fired on pg-cluster-7")
    for version, cause in enumerate(causes, start=3):  # drafts are cached per version: one each
        leaked = incident(version, phase="identified", cause=cause)
        for channel in (Channel.email, Channel.sms, Channel.statuspage, Channel.slack):
            skeleton = drafter.skeleton(leaked, channel, "de")
            caught = any(v.rule == "internal_fact" for v in skeleton.verdicts)
            assert caught is (cause in skeleton.draft.text), (cause, channel)  # a short text leaves the cause out
        assert any(v.rule == "internal_fact" for v in drafter.skeleton(leaked, Channel.email, "en").verdicts)
    # whole words only: a service called ledger-db does not make "ledger-dbx" or "pledger-db" a leak
    near = incident(9, phase="identified", cause="A ledger-dbx upgrade at pledger-db stalled.")
    assert not [v for v in drafter.skeleton(near, Channel.email, "en").verdicts if v.rule == "internal_fact"]


def test_a_skeleton_naming_another_customer_is_caught_for_every_reader_but_that_customer() -> None:
    from dataclasses import replace

    from forewarn.processors.draft import OtherAccounts
    from forewarn.processors.validate import validate

    drafter = Drafter(Policy(), "https://status.example.com")
    cause = sample_incident("update").model_copy(update={"cause": "A bulk import by Globex Corporation overloaded it."})
    named = drafter.skeleton(cause, Channel.email, "en")
    assert named.verdicts == ()  # nothing to compare with yet: names come with the readers
    others = OtherAccounts(["Globex Corporation", "Initech", "c1 GmbH"])
    (verdict,) = named.verdicts_for(customer("c1"), others)
    assert verdict.rule == "other_customer" and "Globex Corporation" in verdict.detail
    globex = customer("globex", account_name="GLOBEX corporation")
    assert named.verdicts_for(globex, others) == ()  # its own name, told to itself
    assert others.excluding("Initech") == ("Globex Corporation", "c1 GmbH")
    # the very rule the validator applies with Expectations.customer_names filled for this reader
    as_validated = validate(named.draft, replace(named.expectations, customer_names=others.excluding("c1 GmbH")))
    assert [v for v in as_validated if v.rule == "other_customer"] == [verdict]
    good = Drafter(Policy(), "https://status.example.com").skeleton(sample_incident("update"), Channel.email, "en")
    assert good.verdicts_for(customer("c1"), OtherAccounts(others.names)) == ()
    assert good.verdicts_for(customer("c1")) == good.verdicts  # no sample at hand: nothing to add


def test_other_accounts_are_a_bounded_distinct_sample() -> None:
    from forewarn.processors.draft import OtherAccounts

    others = OtherAccounts([f"Account {n}" for n in range(5000)] + ["", "Account 1"], cap=50)
    assert len(others.names) == 50 and others.names[:2] == ("Account 0", "Account 1")


def test_reader_expectations_hold_a_filled_draft_to_the_skeletons_rules() -> None:
    from forewarn.processors.validate import validate

    drafter = Drafter(_internal_policy(), "https://status.example.com")
    inc = sample_incident("initial").model_copy(update={"rule": "outage_window_5m", "signal_ids": ["evt_am_7f3a9c"]})
    reader = customer("c1", language="de", timezone="Europe/Berlin")
    words = drafter.skeleton(inc, Channel.sms, "de").for_reader(reader)
    expect = drafter.reader_expectations(inc, Channel.sms, "de", "Europe/Berlin", ["Initech"])
    assert validate(words, expect) == []
    assert "evt_am_7f3a9c" in expect.internal_terms and expect.placeholders == frozenset()
    assert expect.customer_names == ("Initech",)
    in_utc = drafter.reader_expectations(inc, Channel.sms, "de", "UTC")
    assert {v.rule for v in validate(words, in_utc)} == {"facts"}  # the next update, in the wrong zone


# ---- maintenance: the wording follows where the window is --------------------------------------


def test_maintenance_versions_pick_in_window_overrun_and_cancelled_wording() -> None:
    from datetime import timedelta

    from factories import T0
    from forewarn.processors.detect import maintenance as m
    from forewarn.processors.draft.times import full_time, short_time
    from forewarn.schemas.models import OperatorCommand

    policy = Policy()
    start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    command = OperatorCommand(
        command_id="c1",
        action="maintenance_schedule",
        issued_at=T0,
        service="api",
        starts_at=start,
        ends_at=end,
        impact="outage",
    )
    plan, versions = m.schedule(command, policy)
    versions += m.advance(plan, T0 + timedelta(hours=6, minutes=10), policy)
    versions += m.complete(plan, T0 + timedelta(hours=6, minutes=20), policy)
    assert [(v.change, template_for(v)) for v in versions] == [
        ("scheduled", "maintenance_scheduled"),
        ("started", "maintenance_start"),
        ("overrun", "maintenance_overrun"),
        ("overrun", "maintenance_overrun"),
        ("overrun", "maintenance_overrun"),
        ("update", "maintenance_overrun"),  # 2 h past the planned end: the SLA credit is flagged
        ("overrun", "maintenance_overrun"),
        ("completed", "maintenance_end"),
    ]
    # an operator's earlier end while the work runs: still in progress, not "scheduled"
    early, _ = m.schedule(command, policy)
    *_, revised = m.extend(early, end - timedelta(minutes=20), start + timedelta(minutes=10), policy)
    assert (revised.change, template_for(revised)) == ("update", "maintenance_start")
    # an operator's new end before the window began (earlier or later): rescheduled, not "in progress"
    for new_end, change in ((end - timedelta(minutes=20), "update"), (end + timedelta(hours=1), "overrun")):
        drafter = Drafter(policy, "https://status.example.com")  # drafts are kept per incident version
        ahead, _ = m.schedule(command, policy)
        (moved,) = m.extend(ahead, new_end, T0 + timedelta(minutes=30), policy)
        assert (moved.change, template_for(moved)) == (change, "maintenance_rescheduled")
        for language in ("en", "de", "fr", "es", "pt", "ja"):
            for channel in (Channel.email, Channel.sms, Channel.statuspage):
                assert drafter.skeleton(moved, channel, language).verdicts == (), (language, channel)
        words = drafter.skeleton(moved, Channel.email, "en").for_reader(customer("c1", timezone="UTC"))
        assert words.subject == f"Maintenance rescheduled: Api, {short_time(start, 'UTC', 'en')}"
        assert "progress" not in words.text.lower() and "has started" not in words.text
        assert f"from {full_time(start, 'UTC', 'en')} to {full_time(new_end, 'UTC', 'en')}" in words.text
        assert "Status: Scheduled" in words.text and full_time(T0, "UTC", "en") not in words.text  # not when scheduled
    # called off before it started: cancelled, never "complete"
    other, _ = m.schedule(command, policy)
    (cancelled,) = m.cancel(other, T0 + timedelta(minutes=5), policy)
    assert template_for(cancelled) == "maintenance_cancelled"
    words = drafter.skeleton(cancelled, Channel.email, "en").for_reader(customer("c1"))
    assert words.subject == "Maintenance cancelled: Api"
    assert "has been cancelled" in words.text and "complete" not in words.text.lower()
    assert "Status: Cancelled" in words.text
    assert drafter.skeleton(cancelled, Channel.sms, "de").verdicts == ()


def test_maintenance_states_its_window_start_and_old_records_fall_back_to_opened_at() -> None:
    """Maintenance is opened when it is scheduled; the message states when the window begins.
    A version written before window_starts_at existed has only opened_at to offer."""
    from forewarn.processors.draft.facts import facts_for

    scheduled = sample_incident("maintenance_scheduled")
    assert scheduled.window_starts_at is not None and scheduled.window_starts_at > scheduled.opened_at
    assert facts_for(scheduled, Policy()).times["starts"] == scheduled.window_starts_at
    old = scheduled.model_copy(update={"window_starts_at": None})
    assert facts_for(old, Policy()).times["starts"] == old.opened_at
    # without the window start an earlier end cannot be placed before the window: worded as before
    moved = sample_incident("maintenance_rescheduled").model_copy(update={"window_starts_at": None})
    assert template_for(moved) == "maintenance_start"


_STATUS = "https://status.example.com"


def test_a_post_mortem_message_links_its_report_besides_the_status_page() -> None:
    """The report's URL is stated in email text and HTML (as a link), in-app and on the status
    page; the status-page link rule still holds, and it is the one foreign link let through."""
    url = "https://blog.example.com/pm?id=7&lang=en"
    incident = sample_incident("postmortem").model_copy(update={"postmortem_url": url})
    drafter = Drafter(Policy(), _STATUS)
    for channel in (Channel.email, Channel.inapp, Channel.statuspage):
        skeleton = drafter.skeleton(incident, channel, "en")
        assert skeleton.verdicts == (), [str(v) for v in skeleton.verdicts]
        assert url in skeleton.draft.text and _STATUS in skeleton.draft.text
        assert skeleton.expectations.links == (url,) and skeleton.expectations.facts["postmortem_url"] == (url,)
    html = drafter.skeleton(incident, Channel.email, "en").draft.html
    assert html is not None and '<a href="https://blog.example.com/pm?id=7&amp;lang=en">' in html
    assert f'<a href="{_STATUS}">' in html
    sms = drafter.skeleton(incident, Channel.sms, "en")
    assert sms.verdicts == () and url not in sms.draft.text  # two segments leave it no room


def test_a_post_mortem_still_refuses_other_links_and_a_missing_report() -> None:
    url = "https://blog.example.com/pm/7"
    cause = "See https://evil.example/claim for details"
    incident = sample_incident("postmortem").model_copy(update={"postmortem_url": url, "cause": cause})
    drafter = Drafter(Policy(), _STATUS)
    rules = {v.rule for v in drafter.skeleton(incident, Channel.email, "en").verdicts}
    assert "invented_fact" in rules  # the cause's link is not the report
    plain = incident.model_copy(update={"incident_id": "inc_plain", "cause": None})
    skeleton = drafter.skeleton(plain, Channel.email, "en")
    assert skeleton.verdicts == ()
    dropped = replace(skeleton.draft, text=skeleton.draft.text.replace(url, "our blog"))
    assert [v.rule for v in validate(dropped, skeleton.expectations)] == ["facts"]  # a person's edit, say


def test_a_post_mortem_without_a_usable_url_links_only_the_status_page() -> None:
    """Versions from before postmortem_url, and a URL that is not plain http(s), word it as before."""
    drafter = Drafter(Policy(), _STATUS)
    for url in (None, "javascript:alert(1)", "https://x.example/a b", 'https://x.example/"><script>'):
        incident = sample_incident("postmortem").model_copy(update={"incident_id": f"i{url}", "postmortem_url": url})
        assert facts_for(incident, Policy()).postmortem_url == ""
        email = drafter.skeleton(incident, Channel.email, "en")
        assert email.verdicts == () and "Read the report" not in email.draft.text
        assert email.draft.html is not None and "<script>" not in email.draft.html
