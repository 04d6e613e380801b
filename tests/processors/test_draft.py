from factories import T0, customer, event
from forewarn.policy import Policy
from forewarn.processors.correlate import correlate
from forewarn.processors.draft import Drafter, command_for, draft, template_for
from forewarn.processors.draft.check import check_templates, sample_incident
from forewarn.processors.draft.render import Catalogue
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
    for name in ("initial", "update", "resolution", "maintenance_scheduled", "false_alarm", "postmortem"):
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
    helpdesk = Policy.model_validate({"channels": {"P1": ["email", "helpdesk"]}})
    assert any("no template for channel 'helpdesk'" in p for p in check_templates(helpdesk, "https://s.example"))
