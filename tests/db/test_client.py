"""The warehouse client against a real embedded engine (chdb), one data dir per test.

Opening chdb costs ~0.3 s once per process and ~30 ms after that, so per-test dirs stay cheap.
"""

from __future__ import annotations

import fcntl
import selectors
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.db.client import StringList, Warehouse, open_clickhouse, parse_dsn
from forewarn.db.embedded import foreign_owner, locked_by_other
from forewarn.db.errors import (
    EmbeddedStoreLocked,
    ReadOnlyViolation,
    WarehouseConfigError,
    WarehouseError,
    WarehouseQueryError,
    WarehouseUnavailable,
)
from forewarn.db.sql import ensure_read_only, split_statements


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        yield wh


# --- DSNs -----------------------------------------------------------------------------------


def test_chdb_dsn_absolute_and_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_dsn(f"chdb://{tmp_path}/store").path == tmp_path / "store"
    monkeypatch.chdir(tmp_path)
    relative = parse_dsn("chdb://.forewarn/clickhouse")
    assert relative.kind == "embedded"
    assert relative.path == tmp_path / ".forewarn" / "clickhouse"


def test_server_dsn_hides_the_password() -> None:
    target = parse_dsn("https://analyst:s3cret@ch.example.com:8443/forewarn")
    assert target.kind == "server"
    assert "s3cret" not in target.display
    assert target.display == "https://analyst:***@ch.example.com:8443/forewarn"


@pytest.mark.parametrize(
    "dsn",
    ["", "/var/lib/ch", "chdb://", "chdb://:memory:", "clickhouse://h:9000/db", "http://:8123/db", "http://h:port/db"],
)
def test_unusable_dsns_are_rejected_with_the_expected_forms(dsn: str) -> None:
    with pytest.raises(WarehouseConfigError, match=r"chdb://|http|port|host"):
        parse_dsn(dsn)


def test_unreachable_server_is_unavailable_not_a_crash() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(WarehouseUnavailable, match=r"127\.0\.0\.1"):
        open_clickhouse(f"http://default:pw@127.0.0.1:{port}/default")


# --- queries ---------------------------------------------------------------------------------


def test_query_command_insert_round_trip(warehouse: Warehouse) -> None:
    warehouse.command("CREATE TABLE t (id String, n UInt32) ENGINE = MergeTree ORDER BY id")
    assert warehouse.insert("t", [("a", 1), ("b", 2)], ["id", "n"]) == 2
    assert warehouse.insert("t", [["c", "d"], [3, 4]], ["id", "n"], column_oriented=True) == 2
    rows = warehouse.query("SELECT id, n FROM t WHERE n >= {low:UInt32} ORDER BY id", {"low": 2})
    assert rows.columns == ("id", "n")
    assert rows.rows == [("b", 2), ("c", 3), ("d", 4)]
    assert warehouse.query("SELECT sum(n) FROM t").scalar() == 10


def test_clickhouse_errors_carry_clickhouse_message(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseQueryError, match="Syntax error") as caught:
        warehouse.query("SELEC 1")
    assert "FORMAT Native" not in str(caught.value)
    assert caught.value.sql == "SELEC 1"


def test_string_list_parameter_survives_escapes(warehouse: Warehouse) -> None:
    values = ["plain", "it's", "back\\slash", "\\'both", "tab\tnew\nline", "", "ünïcode", "a,b]", "\\n", "`x`"]
    warehouse.command("CREATE TABLE s (v String) ENGINE = MergeTree ORDER BY v")
    warehouse.insert("s", [[v] for v in [*values, "other"]], ["v"])
    found = warehouse.query(f"SELECT v FROM s WHERE v IN {StringList.in_set('vs')}", {"vs": StringList(values)})
    assert sorted(v for (v,) in found) == sorted(values)
    with pytest.raises(ValueError, match="at least one"):
        StringList([])


def test_read_only_session_refuses_writes_without_affecting_the_writer(warehouse: Warehouse, tmp_path: Path) -> None:
    warehouse.command("CREATE TABLE t (n UInt8) ENGINE = MergeTree ORDER BY n")
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}", read_only=True) as reader:
        with pytest.raises(WarehouseQueryError, match="readonly"):
            reader.command("INSERT INTO t VALUES (1)")
        with pytest.raises(WarehouseQueryError, match="readonly"):
            reader.query("INSERT INTO t SELECT 1")
        warehouse.command("INSERT INTO t VALUES (2)")
        assert reader.query("SELECT count() FROM t").scalar() == 1


def test_threads_share_one_warehouse(warehouse: Warehouse) -> None:
    warehouse.command("CREATE TABLE t (worker UInt8, n UInt32) ENGINE = MergeTree ORDER BY (worker, n)")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(20):
                warehouse.insert("t", [(worker, n)], ["worker", "n"])
                assert (
                    warehouse.query("SELECT count() FROM t WHERE worker = {w:UInt8}", {"w": worker}).scalar() == n + 1
                )
        except BaseException as exc:  # surfaced below, with the failing thread's error
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert warehouse.query("SELECT count() FROM t").scalar() == 120


def test_closed_warehouse_says_so(tmp_path: Path) -> None:
    wh = open_clickhouse(f"chdb://{tmp_path / 'ch'}")
    wh.close()
    wh.close()
    with pytest.raises(WarehouseError, match="closed"):
        wh.query("SELECT 1")


def test_second_embedded_store_in_one_process_is_a_clear_error(warehouse: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(WarehouseConfigError, match="one data dir per process"):
        open_clickhouse(f"chdb://{tmp_path / 'other'}")
    assert warehouse.query("SELECT 1").scalar() == 1


# --- a second process on the same data dir ----------------------------------------------------

_HOLDER = textwrap.dedent(
    """
    import sys
    from forewarn.db.client import open_clickhouse

    with open_clickhouse(sys.argv[1]) as wh:
        wh.query("SELECT 1")
        print("ready", flush=True)
        sys.stdin.read()  # hold the store until the test closes our stdin
    """
)


def _wait_for_line(proc: subprocess.Popen[str], expected: str, deadline_s: float) -> None:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        end = time.monotonic() + deadline_s
        while (left := end - time.monotonic()) > 0:
            if selector.select(timeout=left):
                line = proc.stdout.readline()
                if line.strip() == expected:
                    return
                if not line:
                    break
    raise AssertionError(f"holder process did not report {expected!r} within {deadline_s}s (exit {proc.poll()})")


def test_second_process_on_the_same_dir_gets_a_clear_error(tmp_path: Path) -> None:
    store = tmp_path / "ch"
    log = (tmp_path / "holder.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, f"chdb://{store}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        _wait_for_line(proc, "ready", deadline_s=60)
        with pytest.raises(EmbeddedStoreLocked) as caught:
            open_clickhouse(f"chdb://{store}")
        message = str(caught.value)
        assert f"the embedded store at {store} is owned by another running forewarn process" in message
        assert f"pid {proc.pid}" in message
        assert "stop it or query through the worker's endpoint" in message
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
        log.close()
    assert proc.returncode == 0, (tmp_path / "holder.err").read_text()
    with open_clickhouse(f"chdb://{store}") as wh:  # released when the owner exits
        assert wh.query("SELECT 1").scalar() == 1


def test_lock_is_read_from_the_status_file_even_when_its_pid_looks_stale(tmp_path: Path) -> None:
    """Another PID namespace (a container sharing the volume) can make a live owner look dead."""
    status = tmp_path / "status"
    status.write_text("PID: 999999999\nStarted at: 2026-11-23 09:00:00\nRevision: 1\n")
    assert foreign_owner(tmp_path) is None
    assert locked_by_other(tmp_path) == (False, 999999999)
    with status.open() as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert locked_by_other(tmp_path) == (True, 999999999)


# --- the analyst guard -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  select * from audit;  ",
        "WITH 1 AS x SELECT x",
        "SHOW TABLES",
        "DESCRIBE TABLE audit",
        "desc audit",
        "EXPLAIN SELECT 1",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "-- why\nSELECT ';' AS semi /* ; */",
    ],
)
def test_read_only_guard_accepts_reads(sql: str) -> None:
    assert ensure_read_only(sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO audit SELECT * FROM audit", "INSERT is not allowed"),
        ("DROP TABLE audit", "DROP is not allowed"),
        ("/* SELECT */ TRUNCATE TABLE audit", "TRUNCATE is not allowed"),
        ("ALTER TABLE audit DELETE WHERE 1", "ALTER is not allowed"),
        ("SELECT 1; DROP TABLE audit", "one statement at a time"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE"),
        ("SELECT 1 FORMAT JSON", "--format"),
        ("  ; -- nothing", "empty"),
    ],
)
def test_read_only_guard_refuses_the_rest(sql: str, reason: str) -> None:
    with pytest.raises(ReadOnlyViolation, match=reason):
        ensure_read_only(sql)


def test_split_statements_ignores_semicolons_in_literals_and_comments() -> None:
    sql = "CREATE TABLE a (s String DEFAULT ';'); -- x; y\n/* ; */ CREATE VIEW b AS SELECT 'it''s;' AS s;\n-- end;"
    assert split_statements(sql) == [
        "CREATE TABLE a (s String DEFAULT ';')",
        "-- x; y\n/* ; */ CREATE VIEW b AS SELECT 'it''s;' AS s",
    ]
