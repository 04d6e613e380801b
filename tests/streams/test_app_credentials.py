"""The FOREWARN_KAFKA_* security settings reach Faust: what aiokafka is finally given.

Faust turns its credentials into aiokafka keyword arguments with
``credentials_to_aiokafka_auth``; these tests assert on those, so they prove what the worker's
consumers and producers connect with, not just which object ``_credentials`` built.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from forewarn.config import Settings
from forewarn.streams.app import _credentials, create_app

#: A throwaway self-signed CA (EC P-256, CN=forewarn-test-ca); only its subject is checked.
TEST_CA = """-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUM3oE7JzTVd9EefOR8J/ZGBKP8bQwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQZm9yZXdhcm4tdGVzdC1jYTAgFw0yNjEyMDEyMDExMDhaGA8y
MTI2MTEwNzIwMTEwOFowGzEZMBcGA1UEAwwQZm9yZXdhcm4tdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABOvBtZ9y6sXHkkKYk+YvgEm/fXSWiOzxwLwa
/3YvwFvfo5bhzQpI5ZCL3UvbjsqMTvhemu6I0SNlJxE7MgZiMTmjUzBRMB0GA1Ud
DgQWBBRBISZV3KXqbdnVy5znr5MACeU+hzAfBgNVHSMEGDAWgBRBISZV3KXqbdnV
y5znr5MACeU+hzAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQD0
oTZE7+zSQIfRGfvALMP/jiQWAHTRZ8GfVOdEuG6iggIgFjhpCpwq0PB8ExRthfTt
DnwfB6ctWIxYcOuXMAe52Z4=
-----END CERTIFICATE-----
"""
CA_SUBJECT = ((("commonName", "forewarn-test-ca"),),)


@pytest.fixture
def cafile(tmp_path: Path) -> str:
    path = tmp_path / "kafka-ca.pem"
    path.write_text(TEST_CA)
    return str(path)


def aiokafka_auth(env: dict[str, str]) -> dict[str, Any]:
    auth: dict[str, Any] = credentials_to_aiokafka_auth(_credentials(Settings.from_env(env)))
    return auth


def sasl_env(protocol: str, mechanism: str) -> dict[str, str]:
    return {
        "FOREWARN_KAFKA_SECURITY_PROTOCOL": protocol,
        "FOREWARN_KAFKA_SASL_MECHANISM": mechanism,
        "FOREWARN_KAFKA_SASL_USERNAME": "forewarn",
        "FOREWARN_KAFKA_SASL_PASSWORD": "s3cret",
    }


def trusts_only_the_test_ca(context: object) -> bool:
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    return [c["subject"] for c in context.get_ca_certs()] == [CA_SUBJECT]


def test_plaintext_needs_no_credentials() -> None:
    assert _credentials(Settings.from_env({})) is None
    assert aiokafka_auth({"FOREWARN_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_reaches_faust_with_the_ca(cafile: str) -> None:
    auth = aiokafka_auth({**sasl_env("SASL_SSL", "SCRAM-SHA-512"), "FOREWARN_KAFKA_SSL_CAFILE": cafile})
    context = auth.pop("ssl_context")
    assert auth == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "forewarn",
        "sasl_plain_password": "s3cret",
    }
    assert trusts_only_the_test_ca(context)


def test_sasl_ssl_without_a_cafile_verifies_against_the_system_store() -> None:
    auth = aiokafka_auth(sasl_env("SASL_SSL", "PLAIN"))
    assert (auth["security_protocol"], auth["sasl_mechanism"]) == ("SASL_SSL", "PLAIN")
    context = auth["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode is ssl.CERT_REQUIRED


def test_sasl_plaintext_reaches_faust_without_tls() -> None:
    assert aiokafka_auth(sasl_env("SASL_PLAINTEXT", "SCRAM-SHA-256")) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "forewarn",
        "sasl_plain_password": "s3cret",
        "ssl_context": None,
    }


def test_ssl_reaches_faust_with_the_ca(cafile: str) -> None:
    auth = aiokafka_auth({"FOREWARN_KAFKA_SECURITY_PROTOCOL": "SSL", "FOREWARN_KAFKA_SSL_CAFILE": cafile})
    context = auth.pop("ssl_context")
    assert auth == {"security_protocol": "SSL"}
    assert trusts_only_the_test_ca(context)


def test_the_app_is_built_with_them(cafile: str, tmp_path: Path) -> None:
    env = {**sasl_env("SASL_SSL", "SCRAM-SHA-512"), "FOREWARN_KAFKA_SSL_CAFILE": cafile}
    settings = Settings.from_env(env, data_dir=tmp_path, topic_prefix="cred.", app_id="fw-cred")
    app, _ = create_app(settings, roles=frozenset())
    credentials = app.conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password, credentials.mechanism.value) == (
        "forewarn",
        "s3cret",
        "SCRAM-SHA-512",
    )
    assert trusts_only_the_test_ca(credentials.ssl_context)
