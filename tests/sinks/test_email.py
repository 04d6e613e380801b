import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from factories import command
from forewarn.config import Settings, SmtpSettings
from forewarn.demo.mailbox import Mailbox, Session, free_port
from forewarn.sinks.base import SendError
from forewarn.sinks.email import EmailSink


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


async def test_multipart_message_with_stable_message_id(mailbox: Mailbox) -> None:
    sink = EmailSink(SmtpSettings(port=mailbox.port, sender="status@x.example"), "https://status.x/unsubscribe")
    cmd = command().model_copy(update={"subject": "Payments outage", "html": "<p>hi</p>"})
    result = await sink.send(cmd)
    (msg,) = mailbox.wait_for(1, 10)
    assert msg["Message-ID"] == "<ntf_1@forewarn>" == result.message_id
    assert msg["Subject"] == "Payments outage" and msg["To"] == "ops@c1.example"
    assert msg["List-Unsubscribe"] == "<https://status.x/unsubscribe?customer=c1>"
    assert msg.get_body(("plain",)).get_content().strip() == "hi"  # type: ignore[union-attr]
    assert "<p>hi</p>" in msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_temporary_rejection_is_retryable(mailbox: Mailbox) -> None:
    mailbox.reject_with = "451 4.3.0 try again later"
    with pytest.raises(SendError) as err:
        await EmailSink(SmtpSettings(port=mailbox.port), "u").send(command())
    assert err.value.retryable and "451" in str(err.value)


async def test_permanent_rejection_is_not_retryable(mailbox: Mailbox) -> None:
    mailbox.reject_with = "554 5.7.1 rejected"
    with pytest.raises(SendError) as err:
        await EmailSink(SmtpSettings(port=mailbox.port), "u").send(command())
    assert not err.value.retryable


async def test_unreachable_server_is_retryable() -> None:
    with pytest.raises(SendError) as err:
        await EmailSink(SmtpSettings(port=free_port(), timeout_s=2), "u").send(command())
    assert err.value.retryable and "unreachable" in str(err.value)


# -- STARTTLS and AUTH against a throwaway CA -------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path  # the private CA the client must be told to trust
    cert: Path  # the server's certificate (IP:127.0.0.1), issued by ``ca``
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"openssl {' '.join(args)} failed: {done.stderr}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA and a server certificate made with the openssl CLI, valid for a day."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    (d / "ca.ext").write_text(
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
    )
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl("req", *ec, "-keyout", "ca.key", "-out", "ca.csr", "-subj", "/CN=forewarn test CA", cwd=d)
    openssl(
        "x509", "-req", "-in", "ca.csr", "-key", "ca.key", "-out", "ca.pem", "-days", "1", "-extfile", "ca.ext", cwd=d
    )
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
        "-out", "server.pem", "-days", "1", "-extfile", "server.ext", cwd=d,
    )  # fmt: skip
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key")


@pytest.fixture
def relay(pki: Pki) -> Iterator[Mailbox]:
    """A relay like a real submission port: STARTTLS first, then AUTH, then mail."""
    with Mailbox(tls_context=pki.server_context(), require_starttls=True, credentials={"status": "s3cret"}) as box:
        yield box


def tls_settings(relay: Mailbox, pki: Pki, **changes: object) -> SmtpSettings:
    base = SmtpSettings(port=relay.port, starttls=True, cafile=str(pki.ca), username="status", password="s3cret")
    return base.model_copy(update=changes)


async def test_delivers_over_starttls_with_login_trusting_the_private_ca(relay: Mailbox, pki: Pki) -> None:
    result = await EmailSink(tls_settings(relay, pki), "u").send(command())
    (msg,) = relay.wait_for(1, 10)
    assert msg["Message-ID"] == result.message_id
    assert relay.sessions == [Session(tls=True, login="status")]


async def test_a_wrong_password_is_permanent_and_says_so(relay: Mailbox, pki: Pki) -> None:
    with pytest.raises(SendError) as err:
        await EmailSink(tls_settings(relay, pki, password="wrong"), "u").send(command())
    assert not err.value.retryable
    assert "refused the login of 'status'" in str(err.value) and "535" in str(err.value)
    assert "FOREWARN_SMTP_PASSWORD" in str(err.value) and "wrong" not in str(err.value)
    assert relay.snapshot() == []


async def test_a_certificate_from_an_untrusted_ca_is_refused(relay: Mailbox, pki: Pki) -> None:
    with pytest.raises(SendError) as err:  # no cafile: the system store does not know the private CA
        await EmailSink(tls_settings(relay, pki, cafile=None), "u").send(command())
    assert not err.value.retryable
    assert "TLS certificate not trusted" in str(err.value) and "FOREWARN_SMTP_CAFILE" in str(err.value)
    assert relay.snapshot() == []


async def test_a_relay_requiring_starttls_refuses_a_plain_text_client(relay: Mailbox) -> None:
    with pytest.raises(SendError) as err:  # AUTH is offered only after STARTTLS
        await EmailSink(SmtpSettings(port=relay.port, username="status", password="s3cret"), "u").send(command())
    assert not err.value.retryable and "FOREWARN_SMTP_STARTTLS" in str(err.value)
    assert relay.snapshot() == []


async def test_a_relay_requiring_starttls_refuses_mail_without_it(pki: Pki) -> None:
    with Mailbox(tls_context=pki.server_context(), require_starttls=True) as box:
        with pytest.raises(SendError) as err:
            await EmailSink(SmtpSettings(port=box.port), "u").send(command())
        assert not err.value.retryable and "530" in str(err.value)
        assert "set FOREWARN_SMTP_STARTTLS=true" in str(err.value)
        assert box.snapshot() == []


def test_the_ca_file_is_read_from_the_environment(pki: Pki) -> None:
    env = {"FOREWARN_SMTP_STARTTLS": "true", "FOREWARN_SMTP_CAFILE": str(pki.ca)}
    settings = Settings.from_env(env)
    assert settings.smtp.cafile == str(pki.ca)
    assert Settings.from_env(settings.to_env()).smtp.cafile == str(pki.ca)
    assert Settings.from_env({"FOREWARN_SMTP_CAFILE": ""}).smtp.cafile is None


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"FOREWARN_SMTP_STARTTLS": "true", "FOREWARN_SMTP_CAFILE": "/nonexistent/ca.pem"}, "not a readable file"),
        ({"FOREWARN_SMTP_CAFILE": "CA"}, "FOREWARN_SMTP_STARTTLS is off"),
    ],
)
def test_an_unusable_ca_file_stops_start_up(env: dict[str, str], says: str, pki: Pki) -> None:
    env = {k: str(pki.ca) if v == "CA" else v for k, v in env.items()}
    with pytest.raises(ValidationError, match=says):
        Settings.from_env(env)
