"""Policy sections for drafting and approval: who must approve what, and the company's voice.

Categories are incident kinds, as in ``send_policy``. A policy that says nothing about gates
holds every category for a person (``gates.default: always``) and lets no model draft: a company
starts fully gated and relaxes categories (``categories: {maintenance: never}``, ``p1_p2``, ...)
as trust in the drafts grows. Ungated delivery is a line in the policy, never an accident.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from forewarn.schemas.models import IncidentKind


class Gate(StrEnum):
    always = "always"
    p1_p2 = "p1_p2"
    compliance = "compliance"
    never = "never"


class GatePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: Gate = Gate.always
    categories: dict[IncidentKind, Gate] = Field(default_factory=dict)
    #: Incident flags that make a version compliance-tagged.
    compliance_flags: list[str] = Field(default_factory=lambda: ["security", "data_loss", "compliance"])
    #: An unapproved P1 draft re-alerts the on-call list after this long.
    remind_after_minutes: float = Field(default=10.0, gt=0)
    oncall_emails: list[str] = Field(default_factory=list)

    def gate(self, category: IncidentKind) -> Gate:
        return self.categories.get(category, self.default)


#: What customers are told to do when the policy says nothing for the incident's kind.
DEFAULT_CUSTOMER_ACTION = "Nothing; we will keep them posted."


class TonePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: str = ""
    signoff: str = ""
    #: The tone-of-voice guide, given to the model verbatim.
    guide: str = "Plain, calm and specific. Say what is affected, what we are doing and when we will update."
    banned_phrases: list[str] = Field(default_factory=list)
    #: Internal names (domains, codenames) that must never reach a customer.
    never_mention: list[str] = Field(default_factory=list)
    #: Categories a model may draft (with ANTHROPIC_API_KEY set); templates otherwise.
    model_categories: list[IncidentKind] = Field(default_factory=list)
    #: Time zone for public channels (status page, social), which have no single reader.
    public_timezone: str = "UTC"
    #: The company's default language: public channels are written in it (English if no template has it).
    default_language: str = "en"
    #: What customers should do, per category (say ``maintenance: "Pause scheduled exports until
    #: the window ends."``): the model's fact sheet states it; ``DEFAULT_CUSTOMER_ACTION`` otherwise.
    customer_action: dict[IncidentKind, str] = Field(default_factory=dict)

    def as_mapping(self) -> dict[str, str]:
        return {"company": self.company, "signoff": self.signoff}

    def customer_action_for(self, category: IncidentKind) -> str:
        return self.customer_action.get(category, "").strip() or DEFAULT_CUSTOMER_ACTION
