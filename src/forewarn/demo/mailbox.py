"""A real SMTP server on loopback that keeps what it receives (aiosmtpd).

The demo and the tests deliver to it exactly as production delivers to a mail relay,
so the email path is exercised end to end, SMTP conversation included. Given a TLS context
it offers STARTTLS (and with ``require_starttls`` refuses to go on without it); given
``credentials`` it offers AUTH (only after STARTTLS unless ``auth_require_tls`` is off) and
refuses mail from a session that did not log in.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.box.reject_with is not None:
            return self.box.reject_with
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.box.lock:
            self.box.messages.append(msg)
            self.box.envelopes.append(list(envelope.rcpt_tos))
            self.box.sessions.append(Session(tls=session.ssl is not None, login=login))
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        credentials = self.box.credentials or {}
        ok = (
            isinstance(auth_data, LoginPassword)
            and credentials.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass(frozen=True)
class Session:
    """How a delivered message's SMTP session went: over STARTTLS or not, logged in as whom."""

    tls: bool
    login: str | None


class Mailbox:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        credentials: Mapping[str, str] | None = None,
        auth_require_tls: bool = True,
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.sessions: list[Session] = []
        self.lock = threading.Lock()
        self.reject_with: str | None = None  # e.g. "451 try later", to test retries
        self.credentials = dict(credentials) if credentials is not None else None
        handler = _Handler(self)
        auth: dict[str, Any] = {}
        if self.credentials is not None:
            # AUTH LOGIN/PLAIN against ``credentials``; no mail without a successful login.
            auth = {"authenticator": handler.authenticate, "auth_required": True, "auth_require_tls": auth_require_tls}
        self._controller = Controller(
            handler,
            hostname=host,
            port=self.port,
            tls_context=tls_context,
            require_starttls=require_starttls,
            **auth,
        )

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout_s: float, alive: Callable[[], None] | None = None) -> list[EmailMessage]:
        """Block until at least ``count`` messages arrived, or raise with how many did.

        ``alive`` is called on every poll and may raise (e.g. when the worker died), so a
        crash fails the wait at once instead of at the deadline.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.snapshot()
            if len(got) >= count:
                return got
            if alive is not None:
                alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} emails within {timeout_s:.0f}s, got {len(got)}")
            time.sleep(0.1)
