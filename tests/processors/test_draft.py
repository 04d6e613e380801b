from factories import T0, customer, event
from forewarn.policy import Policy
from forewarn.processors.correlate import correlate
from forewarn.processors.draft import command_for, draft
from forewarn.schemas.models import Channel


def test_email_draft_has_subject_text_and_escaped_html() -> None:
    inc = correlate(None, event(), Policy()).published[0]
    inc = inc.model_copy(update={"title": "Payments <script>alert(1)</script>"})
    words = draft(inc, customer("c1"), Channel.email, "https://status.example.com")
    assert words.template == "initial"
    assert words.subject is not None and words.subject.startswith("[P1] Investigating:")
    assert "https://status.example.com" in words.text
    assert words.html is not None and "<script>" not in words.html and "&lt;script&gt;" in words.html
    cmd = command_for(inc, customer("c1"), Channel.email, words, now=T0, dry_run=False)
    assert cmd.recipients == ["ops@c1.example"]
    assert cmd.notification_id.startswith("ntf_")
