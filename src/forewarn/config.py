"""One validated settings object, read from the environment once at start-up.

Everything configurable lives here so nothing deep in the code reads ``os.environ``;
tests build a ``Settings`` directly instead of patching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

#: Security protocols every client here speaks (librdkafka and aiokafka alike).
KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
#: SASL mechanisms that work with a username and password on both clients.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: The environment variable behind each field, so a refusal names what to fix.
KAFKA_SECURITY_VARS = {
    "protocol": "FOREWARN_KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "FOREWARN_KAFKA_SASL_MECHANISM",
    "sasl_username": "FOREWARN_KAFKA_SASL_USERNAME",
    "sasl_password": "FOREWARN_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "FOREWARN_KAFKA_SSL_CAFILE",
}


def blank_is_unset(value: object) -> object:
    """An empty or blank environment variable means the setting is not set (as in shell configs)."""
    return None if isinstance(value, str) and not value.strip() else value


def require_readable(var: str, path: str) -> None:
    """A CA file must be readable now: at start-up, naming the variable, not at the first handshake."""
    if not (Path(path).is_file() and os.access(path, os.R_OK)):
        raise ValueError(f"{var}={path} is not a readable file")


class KafkaSecurity(BaseModel):
    """SASL/TLS settings passed through unchanged to every Kafka client.

    Checked when read, so a typo stops the process at start-up with the variable named rather
    than as a failed handshake later: the protocol and mechanism must be ones both clients
    speak, a SASL protocol needs mechanism, username and password, and SASL or CA settings
    that the chosen protocol would silently ignore are refused. Errors never echo the input
    (it holds the password).
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None

    @field_validator("protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _known(cls, value: object, info: ValidationInfo) -> object:
        if value is None or (info.field_name == "sasl_mechanism" and isinstance(value, str) and not value.strip()):
            return None
        var = KAFKA_SECURITY_VARS[str(info.field_name)]
        allowed = KAFKA_PROTOCOLS if info.field_name == "protocol" else SASL_MECHANISMS
        name = str(value).strip().upper()
        if name not in allowed:
            raise ValueError(f"{var}={value!s} is not one of {', '.join(allowed)}")
        return name

    @field_validator("sasl_username", "sasl_password", "ssl_cafile", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSecurity:
        protocol = KAFKA_SECURITY_VARS["protocol"]
        sasl = ("sasl_mechanism", "sasl_username", "sasl_password")
        if self.protocol.startswith("SASL_"):
            missing = [KAFKA_SECURITY_VARS[f] for f in sasl if not getattr(self, f)]
            if missing:
                raise ValueError(f"{protocol}={self.protocol} needs {', '.join(missing)}")
        else:
            stray = [KAFKA_SECURITY_VARS[f] for f in sasl if getattr(self, f)]
            if stray:
                raise ValueError(
                    f"{', '.join(stray)} set but {protocol}={self.protocol} does not use SASL"
                    " (SASL_SSL or SASL_PLAINTEXT do)"
                )
        cafile = KAFKA_SECURITY_VARS["ssl_cafile"]
        if self.ssl_cafile is not None:
            if self.protocol not in ("SSL", "SASL_SSL"):
                raise ValueError(f"{cafile} set but {protocol}={self.protocol} does not use TLS (SSL or SASL_SSL do)")
            require_readable(cafile, self.ssl_cafile)
        return self

    def confluent(self) -> dict[str, str]:
        """librdkafka property names (confluent-kafka)."""
        conf = {"security.protocol": self.protocol}
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl.password"] = self.sasl_password
        if self.ssl_cafile:
            conf["ssl.ca.location"] = self.ssl_cafile
        return conf


class SmtpSettings(BaseModel):
    """The mail relay. ``cafile`` (FOREWARN_SMTP_CAFILE) is a PEM bundle trusted for STARTTLS
    instead of the system store, for a relay whose certificate a private CA issued."""

    model_config = ConfigDict(hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "status@forewarn.example"
    timeout_s: float = 10.0
    cafile: str | None = None

    @field_validator("cafile", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @model_validator(mode="after")
    def _cafile_usable(self) -> SmtpSettings:
        if self.cafile is not None:
            if not self.starttls:
                raise ValueError("FOREWARN_SMTP_CAFILE set but FOREWARN_SMTP_STARTTLS is off (nothing would use it)")
            require_readable("FOREWARN_SMTP_CAFILE", self.cafile)
        return self


class DeliverySettings(BaseModel):
    """The delivery base's knobs, shared by every channel."""

    attempts: int = Field(default=5, ge=1)
    base_delay_s: float = 0.2
    max_delay_s: float = 30.0
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = 30.0
    rate_per_s: float = 50.0
    burst: int = Field(default=20, ge=1)
    timeout_s: float = 10.0


class ChannelSettings(BaseModel):
    """Where each HTTP provider lives; unset providers dead-letter their commands with the reason."""

    inapp_push_url: str | None = None
    inapp_push_token: str | None = None
    sms_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None
    sms_from: str = "forewarn"
    social_webhook_url: str | None = None
    social_token: str | None = None
    helpdesk_url: str | None = None
    helpdesk_email: str | None = None
    helpdesk_token: str | None = None
    helpdesk_webhook_token: str | None = None
    helpdesk_known_issue_tag: str = "known_issue"
    statuspage_api_url: str = "https://api.statuspage.io/v1"
    statuspage_page_id: str | None = None
    statuspage_api_key: str | None = None


class InternalSettings(BaseModel):
    """Where the company's own side of an incident goes: mail lists and chat webhooks.

    Internal messages (war room, support, leadership) are sent only to these destinations;
    the internal sink refuses any other address, so they can never reach a customer.
    Lists are comma-separated in the environment (``FOREWARN_INTERNAL_SUPPORT_EMAILS``, ...).
    """

    war_room_emails: list[str] = Field(default_factory=list)
    war_room_webhook: str | None = None
    support_emails: list[str] = Field(default_factory=list)
    support_webhook: str | None = None
    leadership_emails: list[str] = Field(default_factory=list)
    leadership_webhook: str | None = None

    @field_validator("war_room_emails", "support_emails", "leadership_emails", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    def destinations(self, audience: str) -> tuple[list[str], str | None]:
        """An audience's (mail list, webhook); audiences: war_room, support, leadership."""
        return list(getattr(self, f"{audience}_emails")), getattr(self, f"{audience}_webhook")

    @property
    def allowed(self) -> frozenset[str]:
        """Every configured internal destination: the only places internal messages may go."""
        out: set[str] = set()
        for audience in ("war_room", "support", "leadership"):
            emails, webhook = self.destinations(audience)
            out.update(e.lower() for e in emails)
            if webhook:
                out.add(webhook)
        return frozenset(out)

    def to_env(self) -> dict[str, str]:
        env = {}
        for name, value in self.model_dump().items():
            if value:
                env[f"FOREWARN_INTERNAL_{name.upper()}"] = ",".join(value) if isinstance(value, list) else str(value)
        return env


def _section_to_env(prefix: str, section: BaseModel) -> dict[str, str]:
    """``FOREWARN_<SECTION>_<FIELD>`` for every set field of a nested settings model."""
    env: dict[str, str] = {}
    for name, value in section.model_dump().items():
        if value is not None:
            env[f"{prefix}{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def _section_from_env(e: Mapping[str, str], prefix: str, model: type[BaseModel]) -> dict[str, str]:
    return {name: e[f"{prefix}{name.upper()}"] for name in model.model_fields if f"{prefix}{name.upper()}" in e}


class Settings(BaseModel):
    #: Settings hold passwords and keys: a validation error names the field, never the value.
    model_config = ConfigDict(hide_input_in_errors=True)

    kafka: str = "127.0.0.1:9092"
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    clickhouse: str = ""
    data_dir: Path = Path(".forewarn")
    topic_prefix: str = "forewarn."
    app_id: str = "forewarn"
    partitions: int = Field(default=4, ge=1)
    dry_run: bool = False
    #: Targeting also records who was affected but held back (cadence, unreachable channel), one
    #: audit row per customer, channel and version: for ``forewarn replay``'s report. Unbounded in
    #: production (a row per affected customer per version), so it is refused without ``dry_run``.
    report_suppressed: bool = False
    status_page_url: str = "https://status.example.com"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    pseudonym_key: str = "forewarn-default-pseudonym-key"
    #: Token for the approvals console and API; both refuse every request while it is empty.
    console_token: str = ""
    #: ``POST /ingest/{source}`` accepts ``Authorization: Bearer <ingest_token>`` or an
    #: ``X-Forewarn-Signature: sha256=<hex HMAC-SHA256 of the body>`` made with ``ingest_secret``;
    #: with neither set it refuses every request.
    ingest_token: str = ""
    ingest_secret: str = ""
    #: With a key set (and the policy's tone.model_categories), a model drafts; templates otherwise.
    anthropic_api_key: str = ""
    anthropic_model: str = "claude-sonnet-4-5"
    anthropic_base_url: str | None = None
    anthropic_timeout_s: float = 20.0
    max_payload_bytes: int = 1024 * 1024
    #: How long targeting waits for the customer table to hold what its topic held when an
    #: incident version came (``streams/freshness.py``) before it goes on with what it has.
    table_wait_s: float = Field(default=600.0, ge=0)
    #: Channels whose sink this worker runs (FOREWARN_CHANNELS, comma-separated); commands for
    #: others wait in their topic for a worker that runs them.
    channels: list[str] = Field(default_factory=lambda: ["email"])
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    providers: ChannelSettings = Field(default_factory=ChannelSettings)
    internal: InternalSettings = Field(default_factory=InternalSettings)

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_topic_safe(cls, value: str) -> str:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not set(value) <= allowed:
            raise ValueError(f"topic prefix {value!r} may hold only letters, digits, '.', '_' and '-'")
        return value

    @model_validator(mode="after")
    def _suppressed_only_in_dry_run(self) -> Settings:
        if self.report_suppressed and not self.dry_run:
            raise ValueError(
                "FOREWARN_REPORT_SUPPRESSED needs FOREWARN_DRY_RUN=true: a row per held-back customer,"
                " channel and version is for replays, not for production"
            )
        return self

    @property
    def clickhouse_dsn(self) -> str:
        """The embedded engine under the data dir unless a server DSN was given."""
        return self.clickhouse or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    def to_env(self) -> dict[str, str]:
        """The ``FOREWARN_*`` variables that rebuild these settings in a child process."""
        env = {
            "FOREWARN_KAFKA": self.kafka,
            "FOREWARN_CLICKHOUSE": self.clickhouse_dsn,
            "FOREWARN_DATA_DIR": str(self.data_dir),
            "FOREWARN_TOPIC_PREFIX": self.topic_prefix,
            "FOREWARN_APP_ID": self.app_id,
            "FOREWARN_PARTITIONS": str(self.partitions),
            "FOREWARN_DRY_RUN": "true" if self.dry_run else "false",
            "FOREWARN_REPORT_SUPPRESSED": "true" if self.report_suppressed else "false",
            "FOREWARN_STATUS_PAGE_URL": self.status_page_url,
            "FOREWARN_WEB_HOST": self.web_host,
            "FOREWARN_WEB_PORT": str(self.web_port),
            "FOREWARN_PSEUDONYM_KEY": self.pseudonym_key,
            "FOREWARN_CONSOLE_TOKEN": self.console_token,
            "FOREWARN_INGEST_TOKEN": self.ingest_token,
            "FOREWARN_INGEST_SECRET": self.ingest_secret,
            "FOREWARN_ANTHROPIC_MODEL": self.anthropic_model,
            "FOREWARN_ANTHROPIC_TIMEOUT_S": str(self.anthropic_timeout_s),
            "FOREWARN_TABLE_WAIT_S": str(self.table_wait_s),
            "FOREWARN_SMTP_HOST": self.smtp.host,
            "FOREWARN_SMTP_PORT": str(self.smtp.port),
            "FOREWARN_SMTP_STARTTLS": "true" if self.smtp.starttls else "false",
            "FOREWARN_SMTP_SENDER": self.smtp.sender,
        }
        env["FOREWARN_CHANNELS"] = ",".join(self.channels)
        env.update(_section_to_env("FOREWARN_DELIVERY_", self.delivery))
        env.update(_section_to_env("FOREWARN_PROVIDER_", self.providers))
        env.update(self.internal.to_env())
        if self.smtp.username:
            env["FOREWARN_SMTP_USERNAME"] = self.smtp.username
        if self.smtp.password:
            env["FOREWARN_SMTP_PASSWORD"] = self.smtp.password
        if self.smtp.cafile:
            env["FOREWARN_SMTP_CAFILE"] = self.smtp.cafile
        for field, var in KAFKA_SECURITY_VARS.items():
            value = getattr(self.kafka_security, field)
            if value:
                env[var] = value
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``FOREWARN_*`` variables; explicit overrides win."""
        e = os.environ if env is None else env
        values: dict[str, object] = {}
        simple = {
            "FOREWARN_KAFKA": "kafka",
            "FOREWARN_CLICKHOUSE": "clickhouse",
            "FOREWARN_DATA_DIR": "data_dir",
            "FOREWARN_TOPIC_PREFIX": "topic_prefix",
            "FOREWARN_APP_ID": "app_id",
            "FOREWARN_PARTITIONS": "partitions",
            "FOREWARN_DRY_RUN": "dry_run",
            "FOREWARN_REPORT_SUPPRESSED": "report_suppressed",
            "FOREWARN_STATUS_PAGE_URL": "status_page_url",
            "FOREWARN_WEB_HOST": "web_host",
            "FOREWARN_WEB_PORT": "web_port",
            "FOREWARN_PSEUDONYM_KEY": "pseudonym_key",
            "FOREWARN_CONSOLE_TOKEN": "console_token",
            "FOREWARN_INGEST_TOKEN": "ingest_token",
            "FOREWARN_INGEST_SECRET": "ingest_secret",
            "ANTHROPIC_API_KEY": "anthropic_api_key",
            "FOREWARN_ANTHROPIC_MODEL": "anthropic_model",
            "FOREWARN_ANTHROPIC_BASE_URL": "anthropic_base_url",
            "FOREWARN_ANTHROPIC_TIMEOUT_S": "anthropic_timeout_s",
            "FOREWARN_TABLE_WAIT_S": "table_wait_s",
        }
        for var, field in simple.items():
            if var in e:
                values[field] = e[var]
        security = {field: e[var] for field, var in KAFKA_SECURITY_VARS.items() if var in e}
        if security:
            values["kafka_security"] = security
        smtp = {
            k: e[v]
            for k, v in {
                "host": "FOREWARN_SMTP_HOST",
                "port": "FOREWARN_SMTP_PORT",
                "starttls": "FOREWARN_SMTP_STARTTLS",
                "username": "FOREWARN_SMTP_USERNAME",
                "password": "FOREWARN_SMTP_PASSWORD",
                "sender": "FOREWARN_SMTP_SENDER",
                "cafile": "FOREWARN_SMTP_CAFILE",
            }.items()
            if v in e
        }
        if smtp:
            values["smtp"] = smtp
        if "FOREWARN_CHANNELS" in e:
            values["channels"] = [c.strip() for c in e["FOREWARN_CHANNELS"].split(",") if c.strip()]
        for prefix, field, model in (
            ("FOREWARN_DELIVERY_", "delivery", DeliverySettings),
            ("FOREWARN_PROVIDER_", "providers", ChannelSettings),
        ):
            section = _section_from_env(e, prefix, model)
            if section:
                values[field] = section
        internal = _section_from_env(e, "FOREWARN_INTERNAL_", InternalSettings)
        if internal:
            values["internal"] = internal
        values.update(overrides)
        return cls.model_validate(values)
