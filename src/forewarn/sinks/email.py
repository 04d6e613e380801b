"""Email over SMTP: multipart text + HTML, Message-ID derived from the notification id.

The Message-ID makes a resend recognisable downstream (mail clients thread or drop it),
and List-Unsubscribe lets customers opt out of incident mail without a support ticket.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from forewarn.config import SmtpSettings
from forewarn.schemas.models import Channel, NotificationCommand
from forewarn.sinks.base import ProviderResult, SendError, Sink

TRANSIENT_SMTP = range(400, 500)


def message_id(notification_id: str) -> str:
    return f"<{notification_id}@forewarn>"


def build_message(command: NotificationCommand, sender: str, unsubscribe_url: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(command.recipients)
    msg["Subject"] = command.subject or "Service notice"
    msg["Message-ID"] = message_id(command.notification_id)
    msg["Date"] = format_datetime(command.created_at)
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}?customer={command.customer_id}>"
    msg["X-Forewarn-Notification-Id"] = command.notification_id
    msg["X-Forewarn-Incident"] = f"{command.incident_id} v{command.incident_version}"
    msg.set_content(command.text)
    if command.html:
        msg.add_alternative(command.html, subtype="html")
    return msg


class EmailSink(Sink):
    channel = Channel.email
    provider = "smtp"

    def __init__(self, smtp: SmtpSettings, unsubscribe_url: str) -> None:
        self.smtp = smtp
        self.unsubscribe_url = unsubscribe_url

    async def send(self, command: NotificationCommand) -> ProviderResult:
        if not command.recipients:
            raise SendError(f"{command.notification_id}: no email recipients", retryable=False)
        msg = build_message(command, self.smtp.sender, self.unsubscribe_url)
        return await asyncio.to_thread(self._send_blocking, msg)

    def _send_blocking(self, msg: EmailMessage) -> ProviderResult:
        s = self.smtp
        where = f"SMTP {s.host}:{s.port}"
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as client:
                if s.starttls:
                    client.starttls(context=ssl.create_default_context(cafile=s.cafile))
                if s.username:
                    client.login(s.username, s.password or "")
                refused = client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"all recipients refused: {exc.recipients}", retryable=False) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(
                f"{where} refused the login of {s.username!r}: {exc.smtp_code} {_text(exc.smtp_error)}"
                " (check FOREWARN_SMTP_USERNAME / FOREWARN_SMTP_PASSWORD)",
                retryable=exc.smtp_code in TRANSIENT_SMTP,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            hint = " (the relay wants STARTTLS: set FOREWARN_SMTP_STARTTLS=true)" if _wants_tls(exc, s) else ""
            raise SendError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}{hint}", retryable=exc.smtp_code in TRANSIENT_SMTP
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # STARTTLS or AUTH asked for but not offered (AUTH is often offered only after STARTTLS).
            raise SendError(
                f"{where}: {exc} (check FOREWARN_SMTP_STARTTLS / FOREWARN_SMTP_USERNAME)", retryable=False
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise SendError(
                f"{where}: TLS certificate not trusted: {exc.verify_message} (a private CA needs FOREWARN_SMTP_CAFILE)",
                retryable=False,
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"{where} unreachable: {exc}") from exc
        note = f"; refused {sorted(refused)}" if refused else ""
        return ProviderResult(f"250 accepted by {s.host}:{s.port}{note}", str(msg["Message-ID"]))


def _text(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else answer


def _wants_tls(exc: smtplib.SMTPResponseException, s: SmtpSettings) -> bool:
    """530 with STARTTLS off: the relay refuses to go on in plain text."""
    return exc.smtp_code == 530 and not s.starttls
