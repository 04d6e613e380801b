"""The read-only ClickHouse HTTP endpoint, driven by curl and by clickhouse-connect unchanged."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import clickhouse_connect
import pytest

from factories import T0
from forewarn.config import Settings
from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.schemas.models import AuditRecord
from forewarn.sinks.clickhouse import AuditStore
from forewarn.web.query import query_endpoint, split_format
from forewarn.web.server import WebContext, build_web_app
from http_recorder import serving


def row(i: int, stage: str = "deliver", channel: str = "email") -> AuditRecord:
    return AuditRecord(
        audit_id=f"a{i}",
        recorded_at=T0 + timedelta(seconds=i),
        stage=stage,
        action="delivered",
        incident_id="inc_1",
        channel=channel,
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        AuditStore(wh).write([row(1), row(2), row(3, "target"), row(4, channel="sms")])
        yield wh


@pytest.fixture
def endpoint(warehouse: Warehouse, tmp_path: Path) -> Iterator[str]:
    app = build_web_app(WebContext(Settings(data_dir=tmp_path), stages=None, warehouse=warehouse), [query_endpoint])
    with serving(app) as url:
        yield url


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=30)


def test_curl_query_in_the_url_with_params(endpoint: str) -> None:
    out = curl(
        "--get",
        endpoint,
        "--data-urlencode",
        "query=SELECT count() FROM audit WHERE stage = {s:String}",
        "--data-urlencode",
        "param_s=deliver",
    )
    body, status = out.stdout.rsplit("\n", 1)
    assert (status, body) == ("200", "3\n")


def test_curl_query_in_the_body_with_a_format(endpoint: str) -> None:
    out = curl(
        endpoint,
        "--data-binary",
        "SELECT channel, count() AS n FROM audit GROUP BY channel ORDER BY channel FORMAT JSONEachRow",
    )
    body, status = out.stdout.rsplit("\n", 1)
    assert status == "200"
    assert [json.loads(line) for line in body.splitlines()] == [
        {"channel": "email", "n": 3},
        {"channel": "sms", "n": 1},
    ]


def test_url_and_body_are_joined_like_clickhouse_does(endpoint: str) -> None:
    out = curl(f"{endpoint}/?query=SELECT%20count()", "--data-binary", "FROM audit")
    assert out.stdout.rsplit("\n", 1) == ["4\n", "200"]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO audit (audit_id) VALUES ('x')",
        "DROP TABLE audit",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    ],
)
def test_anything_but_a_read_is_refused_with_the_readonly_code(
    endpoint: str, warehouse: Warehouse, statement: str
) -> None:
    out = curl(endpoint, "--data-binary", statement, "-D", "-")
    assert out.stdout.endswith("\n403")
    assert "X-ClickHouse-Exception-Code: 164" in out.stdout and "Code: 164" in out.stdout
    assert warehouse.query("SELECT count() FROM audit").scalar() == 4


def test_a_bad_query_answers_clickhouses_error(endpoint: str) -> None:
    out = curl(endpoint, "--data-binary", "SELECT nope FROM audit")
    assert out.stdout.endswith("\n400") and "Code: 47" in out.stdout  # UNKNOWN_IDENTIFIER


def test_clickhouse_connect_works_unchanged(endpoint: str) -> None:
    port = int(endpoint.rsplit(":", 1)[1])
    client = clickhouse_connect.get_client(host="127.0.0.1", port=port, username="default", password="")
    try:
        result = client.query(
            "SELECT stage, count() AS n, max(recorded_at) AS last FROM audit WHERE incident_id = {inc:String} "
            "GROUP BY stage ORDER BY stage",
            parameters={"inc": "inc_1"},
        )
        assert [(s, n) for s, n, _ in result.result_rows] == [("deliver", 3), ("target", 1)]
        assert result.result_rows[0][2].replace(tzinfo=None) == (T0 + timedelta(seconds=4)).replace(tzinfo=None)
        assert client.command("SELECT count() FROM incident_mttr") == 0
    finally:
        client.close()


def test_parameters_too_long_for_a_url_arrive_as_a_form(endpoint: str) -> None:
    """clickhouse-connect switches to a form body when the parameters outgrow a URL."""
    port = int(endpoint.rsplit(":", 1)[1])
    client = clickhouse_connect.get_client(host="127.0.0.1", port=port, username="default", password="")
    try:
        ids = [f"a{i}" for i in range(1, 5000)]  # about 30 kB of parameter
        result = client.query(
            "SELECT count() FROM audit WHERE has({ids:Array(String)}, audit_id) AND stage = {s:String}",
            parameters={"ids": ids, "s": "deliver"},
        )
        assert result.result_rows == [(3,)]
    finally:
        client.close()


def test_format_clause_is_split_off() -> None:
    assert split_format("SELECT 1 FORMAT CSV", "TabSeparated") == ("SELECT 1", "CSV")
    assert split_format("SELECT 'FORMAT CSV'", "TSV") == ("SELECT 'FORMAT CSV'", "TSV")
