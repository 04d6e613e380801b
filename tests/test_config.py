"""Kafka SASL/TLS settings: read from FOREWARN_KAFKA_*, checked, passed through to confluent-kafka.

(Faust's side of the same settings is tested in tests/streams/test_app_credentials.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from forewarn.config import KafkaSecurity, Settings

PASSWORD = "hunter2-not-in-any-error"


@pytest.fixture
def cafile(tmp_path: Path) -> str:
    path = tmp_path / "kafka-ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")  # librdkafka only gets the path here
    return str(path)


def sasl_env(protocol: str, mechanism: str = "SCRAM-SHA-512") -> dict[str, str]:
    return {
        "FOREWARN_KAFKA_SECURITY_PROTOCOL": protocol,
        "FOREWARN_KAFKA_SASL_MECHANISM": mechanism,
        "FOREWARN_KAFKA_SASL_USERNAME": "forewarn",
        "FOREWARN_KAFKA_SASL_PASSWORD": PASSWORD,
    }


def test_default_is_plaintext_with_nothing_else() -> None:
    assert Settings.from_env({}).kafka_security.confluent() == {"security.protocol": "PLAINTEXT"}
    assert Settings.from_env({"FOREWARN_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}).kafka_security == KafkaSecurity()


def test_sasl_ssl_reaches_the_confluent_config(cafile: str) -> None:
    env = {**sasl_env("SASL_SSL"), "FOREWARN_KAFKA_SSL_CAFILE": cafile}
    assert Settings.from_env(env).kafka_security.confluent() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "forewarn",
        "sasl.password": PASSWORD,
        "ssl.ca.location": cafile,
    }


def test_sasl_ssl_without_a_cafile_uses_the_system_store() -> None:
    conf = Settings.from_env(sasl_env("SASL_SSL", "PLAIN")).kafka_security.confluent()
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.mechanism"] == "PLAIN"
    assert "ssl.ca.location" not in conf


def test_sasl_plaintext_reaches_the_confluent_config() -> None:
    assert Settings.from_env(sasl_env("SASL_PLAINTEXT", "SCRAM-SHA-256")).kafka_security.confluent() == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "forewarn",
        "sasl.password": PASSWORD,
    }


def test_ssl_reaches_the_confluent_config(cafile: str) -> None:
    env = {"FOREWARN_KAFKA_SECURITY_PROTOCOL": "SSL", "FOREWARN_KAFKA_SSL_CAFILE": cafile}
    assert Settings.from_env(env).kafka_security.confluent() == {
        "security.protocol": "SSL",
        "ssl.ca.location": cafile,
    }


def test_names_are_case_insensitive_and_normalised() -> None:
    sec = Settings.from_env(sasl_env(" sasl_ssl", "scram-sha-512")).kafka_security
    assert (sec.protocol, sec.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")


def test_a_child_process_gets_the_same_security(cafile: str) -> None:
    settings = Settings.from_env({**sasl_env("SASL_SSL"), "FOREWARN_KAFKA_SSL_CAFILE": cafile})
    assert Settings.from_env(settings.to_env()).kafka_security == settings.kafka_security


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FOREWARN_KAFKA_SECURITY_PROTOCOL": "SASL_TLS"}, r"FOREWARN_KAFKA_SECURITY_PROTOCOL=SASL_TLS is not one of"),
        ({"FOREWARN_KAFKA_SECURITY_PROTOCOL": ""}, r"FOREWARN_KAFKA_SECURITY_PROTOCOL= is not one of"),
        (sasl_env("SASL_SSL", "GSSAPI"), r"FOREWARN_KAFKA_SASL_MECHANISM=GSSAPI is not one of PLAIN, SCRAM-SHA-256"),
        (
            {**sasl_env("SASL_SSL"), "FOREWARN_KAFKA_SASL_PASSWORD": ""},
            r"FOREWARN_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs FOREWARN_KAFKA_SASL_PASSWORD$",
        ),
        (
            {"FOREWARN_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
            r"SASL_PLAINTEXT needs FOREWARN_KAFKA_SASL_MECHANISM, FOREWARN_KAFKA_SASL_USERNAME, "
            r"FOREWARN_KAFKA_SASL_PASSWORD",
        ),
        (
            {**sasl_env("SSL"), "FOREWARN_KAFKA_SASL_MECHANISM": ""},
            r"FOREWARN_KAFKA_SASL_USERNAME, FOREWARN_KAFKA_SASL_PASSWORD set but "
            r"FOREWARN_KAFKA_SECURITY_PROTOCOL=SSL does not use SASL",
        ),
        (
            {"FOREWARN_KAFKA_SASL_USERNAME": "forewarn"},
            r"FOREWARN_KAFKA_SASL_USERNAME set but FOREWARN_KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL",
        ),
        (
            {**sasl_env("SASL_SSL"), "FOREWARN_KAFKA_SSL_CAFILE": "/nonexistent/kafka-ca.pem"},
            r"FOREWARN_KAFKA_SSL_CAFILE=/nonexistent/kafka-ca.pem is not a readable file",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.from_env(env)
    (error,) = caught.value.errors()
    assert error["loc"][0] == "kafka_security"
    assert re.search(message, error["msg"]), error["msg"]
    assert PASSWORD not in str(caught.value)  # the input is never echoed


def test_a_cafile_with_a_protocol_without_tls_is_refused(cafile: str) -> None:
    env = {**sasl_env("SASL_PLAINTEXT"), "FOREWARN_KAFKA_SSL_CAFILE": cafile}
    with pytest.raises(ValidationError, match=r"FOREWARN_KAFKA_SSL_CAFILE set but .*=SASL_PLAINTEXT does not use TLS"):
        Settings.from_env(env)


def test_the_table_wait_reaches_a_child_process_and_refuses_a_negative_one() -> None:
    settings = Settings.from_env({"FOREWARN_TABLE_WAIT_S": "45"})
    assert Settings.from_env(settings.to_env()).table_wait_s == 45.0
    with pytest.raises(ValueError, match="table_wait_s"):
        Settings.from_env({"FOREWARN_TABLE_WAIT_S": "-1"})
