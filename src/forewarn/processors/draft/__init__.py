"""Words for one customer on one channel (skeleton: English jinja2 templates).

Templates render in a sandbox with HTML autoescaping, so event text can never inject
markup or template code into a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

from forewarn.processors.ids import notification_id
from forewarn.processors.target import recipients
from forewarn.schemas.models import (
    Channel,
    CustomerSegment,
    DraftSource,
    Incident,
    NotificationCommand,
    Phase,
)

_TEXT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)
_HTML = SandboxedEnvironment(autoescape=True)

_SUBJECTS = {
    "initial": "[{{ severity }}] Investigating: {{ title }}",
    "update": "[{{ severity }}] Update ({{ phase }}): {{ title }}",
    "resolution": "Resolved: {{ title }}",
}
_BODY = """Hello {{ account }},

{% if template == "resolution" -%}
The issue affecting {{ service }}{% if region %} in {{ region }}{% endif %} has been resolved.
{%- else -%}
We are {{ phase_words }} an issue affecting {{ service }}{% if region %} in {{ region }}{% endif %}: {{ title }}.
{%- endif %}

Status: {{ phase }}. Follow live updates at {{ status_url }}.
"""
_HTML_BODY = """<p>Hello {{ account }},</p>
<p>{% if template == "resolution" %}The issue affecting {{ service }} has been resolved.{% else %}
We are {{ phase_words }} an issue affecting {{ service }}: {{ title }}.{% endif %}</p>
<p>Status: {{ phase }}. <a href="{{ status_url }}">Follow live updates</a>.</p>
"""
_PHASE_WORDS = {
    Phase.investigating: "investigating",
    Phase.identified: "working on a fix for",
    Phase.monitoring: "monitoring a fix for",
    Phase.resolved: "done with",
}


@cache
def _compiled(source: str, html: bool = False) -> Template:
    """Compiling a template costs milliseconds; a fan-out renders the same few ones 100,000s of times."""
    return (_HTML if html else _TEXT).from_string(source)


@dataclass(frozen=True)
class Draft:
    template: str
    subject: str | None
    text: str
    html: str | None


def template_for(incident: Incident) -> str:
    if incident.phase is Phase.resolved:
        return "resolution"
    return "initial" if incident.change == "opened" else "update"


def draft(incident: Incident, segment: CustomerSegment, channel: Channel, status_url: str) -> Draft:
    template = template_for(incident)
    ctx = {
        "account": segment.account_name,
        "service": incident.service.capitalize(),
        "region": "" if incident.region == "global" else incident.region.upper(),
        "title": incident.title,
        "severity": incident.severity.value,
        "phase": incident.phase.value,
        "phase_words": _PHASE_WORDS[incident.phase],
        "status_url": status_url,
        "template": template,
    }
    text = _compiled(_BODY).render(ctx)
    if channel is Channel.email:
        subject = _compiled(_SUBJECTS[template]).render(ctx)
        return Draft(template, subject, text, _compiled(_HTML_BODY, html=True).render(ctx))
    return Draft(template, None, text, None)


def command_for(
    incident: Incident,
    segment: CustomerSegment,
    channel: Channel,
    words: Draft,
    *,
    now: datetime,
    dry_run: bool,
) -> NotificationCommand:
    return NotificationCommand(
        notification_id=notification_id(incident.incident_id, incident.version, segment.customer_id, channel),
        incident_id=incident.incident_id,
        incident_version=incident.version,
        customer_id=segment.customer_id,
        channel=channel,
        language=segment.language,
        recipients=recipients(segment, channel),
        subject=words.subject,
        text=words.text,
        html=words.html,
        severity=incident.severity,
        kind=incident.kind,
        phase=incident.phase,
        template=words.template,
        draft_source=DraftSource.template,
        dry_run=dry_run,
        signal_at=incident.first_signal_at,
        created_at=now,
    )
