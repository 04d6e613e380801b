"""What a helpdesk command carries besides its ticket text: the customer's canned reply.

A helpdesk command's words (``layouts/helpdesk.j2``) are for support agents, in the company's
language. The reply a ticket from that customer gets while the incident is open must instead be
what the customer was told, in their language, checked like any customer draft — so the command
carries ``canned_response`` (``processors/internal.py``), the sink keeps the latest one per
incident and customer, and the helpdesk webhook answers with it. A reply that failed its checks
is withheld (its verdicts travel instead): support then points the customer at the status page.
"""

from __future__ import annotations

from forewarn.processors.internal import CustomerDraft
from forewarn.schemas.models import NotificationCommand

#: Command metadata: the canned reply's text, or why there is none.
CANNED_REPLY, CANNED_WITHHELD = "canned_reply", "canned_reply_withheld"


def with_canned_reply(command: NotificationCommand, reply: CustomerDraft) -> NotificationCommand:
    extra = {CANNED_WITHHELD: "; ".join(reply.verdicts)} if reply.verdicts else {CANNED_REPLY: reply.draft.text}
    return command.model_copy(update={"metadata": {**command.metadata, **extra}})


def canned_reply(command: NotificationCommand) -> str | None:
    """The reply to give this customer's tickets; None when it was withheld or never drafted."""
    return command.metadata.get(CANNED_REPLY) or None
