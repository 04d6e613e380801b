"""The one way forewarn talks to ClickHouse: embedded chdb or a server, behind one small API.

Both engines go through clickhouse-connect (``interface='chdb'`` for the embedded one), so the
SQL, the types and the error handling are the same in a laptop demo and in production. This
module adds what the library leaves to us: DSN validation with readable errors, one lock so
the worker's thread pool can share a client (chdb is synchronous and a handle must not be
used by two threads at once), errors typed by what the caller should do, and a clear message
when another process already owns the embedded data dir.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    OperationalError,
    StreamFailureError,
)
from clickhouse_connect.driver.exceptions import Error as ClickHouseDriverError

from forewarn.db.embedded import foreign_owner, locked_by_other
from forewarn.db.errors import (
    EmbeddedStoreLocked,
    WarehouseConfigError,
    WarehouseError,
    WarehouseQueryError,
    WarehouseUnavailable,
)

_DSN_HELP = "expected chdb://<data dir> (embedded) or http(s)://user:password@host:port/database (server)"


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the warehouse lives, parsed from a DSN; ``display`` never contains a password."""

    kind: Literal["embedded", "server"]
    display: str
    path: Path | None = None
    dsn: str = ""


def parse_dsn(dsn: str) -> WarehouseTarget:
    """Validate ``dsn`` up front so a typo in FOREWARN_CLICKHOUSE fails with the fix in the message."""
    scheme, sep, rest = dsn.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise WarehouseConfigError(f"unrecognised ClickHouse DSN {dsn!r}: {_DSN_HELP}")
    if scheme == "chdb":
        if not rest or "?" in rest or rest in ("memory", ":memory:"):
            raise WarehouseConfigError(f"chdb DSN {dsn!r} must name a data directory: {_DSN_HELP}")
        path = Path(rest).expanduser().resolve()
        return WarehouseTarget(kind="embedded", display=f"chdb://{path}", path=path)
    if scheme in ("http", "https"):
        parts = urlsplit(dsn)
        try:
            _ = parts.port
        except ValueError as exc:
            raise WarehouseConfigError(f"bad port in ClickHouse DSN {_redact(dsn)!r}: {exc}") from exc
        if not parts.hostname:
            raise WarehouseConfigError(f"ClickHouse DSN {_redact(dsn)!r} has no host: {_DSN_HELP}")
        return WarehouseTarget(kind="server", display=_redact(dsn), dsn=dsn)
    raise WarehouseConfigError(f"unsupported ClickHouse DSN scheme {scheme!r} in {_redact(dsn)!r}: {_DSN_HELP}")


def _redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class StringList:
    """Many strings bound as one ``{name:String}`` parameter and split again on the server.

    The replay check sends 10,000 ids per batch. Bound as a list, clickhouse-connect escapes
    them one character at a time in Python (~20 ms) and the server parses an Array(String)
    literal (~16 ms); one pre-escaped string split by ``splitByChar`` costs a few ms on each
    side. Objects clickhouse-connect does not recognise are bound as ``str(value)``, which
    is how the pre-escaped text gets through untouched.

    Use it as ``column IN <StringList.in_set(name)>``, a subquery: with the array directly on
    the right of IN (constant set), ClickHouse 26.9 took 90 ms for 10,000 ids and 55 s for
    50,000; the subquery form is linear (~20 ms and ~160 ms).

    A value containing the separator (U+001F) comes back as pieces: ``IN`` misses it and may
    match its pieces instead. The replay check tolerates that (a missed id is re-inserted and
    folded by FINAL); other callers should know their values.
    """

    __slots__ = ("_text",)

    SEPARATOR = "\x1f"
    _ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})

    def __init__(self, values: Iterable[str]) -> None:
        items = list(values)
        if not items:
            raise ValueError("StringList needs at least one value: splitting '' gives [''], not []")
        text = self.SEPARATOR.join(items)
        if "\\" in text or "\t" in text or "\n" in text:
            text = text.translate(self._ESCAPES)
        self._text = text

    @staticmethod
    def in_set(name: str) -> str:
        """SQL for the right-hand side of ``IN``: one row per value of parameter ``name``."""
        return f"(SELECT arrayJoin(splitByChar('\\x1F', {{{name}:String}})))"

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"StringList({self._text[:60]!r}{'…' if len(self._text) > 60 else ''})"


class WireValue:
    """A parameter value already in ClickHouse's text form, as HTTP clients send ``param_*``.

    The query endpoints pass such values on. Handed over as a ``str``, clickhouse-connect would
    escape it once more: ``['a','b']`` for an ``Array(String)`` became ``[\\'a\\',…]``, which the
    engine refused. Like ``StringList`` it is bound as ``str(value)``, untouched.
    """

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"WireValue({self._text[:60]!r})"


@dataclass(frozen=True)
class Rows:
    """A query's result: column names and row tuples, already fully read."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def scalar(self) -> Any:
        """The single value of a one-row, one-column result (counts in tests and checks)."""
        if len(self.rows) != 1 or len(self.columns) != 1:
            raise ValueError(f"expected one value, got {len(self.rows)} rows x {len(self.columns)} columns")
        return self.rows[0][0]


class Warehouse:
    """A clickhouse-connect client shared safely between threads, with forewarn's error types.

    Calls are serialised by one re-entrant lock: chdb has a single synchronous engine per
    process, and callers that need check-then-write atomicity (the audit sink's replay filter)
    can hold it across several calls with ``exclusive()``.
    """

    def __init__(self, client: Client, target: WarehouseTarget, *, read_only: bool = False) -> None:
        self._client: Client | None = client
        self.target = target
        self.read_only = read_only
        self._lock = threading.RLock()

    @contextmanager
    def exclusive(self) -> Iterator[Warehouse]:
        """Hold the client for a sequence of calls no other thread may interleave with."""
        with self._lock:
            yield self

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Rows:
        """Run a statement that returns rows; ``{name:Type}`` placeholders bind on the server."""
        with self._call(sql) as client:
            result = client.query(sql, parameters=dict(parameters) if parameters else None)
            return Rows(columns=tuple(result.column_names), rows=[tuple(row) for row in result.result_rows])

    def raw(self, sql: str, parameters: Mapping[str, Any] | None = None, fmt: str = "TabSeparated") -> bytes:
        """A statement's result exactly as ClickHouse formats it, for endpoints that pass it through."""
        with self._call(sql) as client:
            return client.raw_query(sql, parameters=dict(parameters) if parameters else None, fmt=fmt)

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        """Run DDL or another statement whose result nobody reads."""
        with self._call(sql) as client:
            client.command(sql, parameters=dict(parameters) if parameters else None)

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        *,
        column_oriented: bool = False,
    ) -> int:
        """One INSERT of ``rows`` (or of columns, when ``column_oriented``); returns the row count.

        Column-oriented data skips a transpose, which matters at hundreds of thousands of rows/s.
        """
        count = len(rows[0]) if column_oriented and rows else len(rows)
        if count == 0:
            return 0
        with self._call(f"INSERT INTO {table}") as client:
            client.insert(table, rows, column_names=list(columns), column_oriented=column_oriented)
        return count

    def insert_encoded(
        self,
        table: str,
        columns: Sequence[str],
        data: bytes,
        fmt: str,
        structure: str,
        *,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """One INSERT of ``data``, already encoded in input format ``fmt`` (ClickHouse decodes it).

        The data is read as ``structure`` (``name Type, …``) and converted to the table's own
        types in bulk. Read straight into the table's types, an Avro body going into
        ``LowCardinality`` columns took ClickHouse 26.9 more than twice as long (about 200k
        against 400k rows/s for the audit table). The embedded engine reads the bytes from a
        scratch file with ``file()``; a server gets them as the body of ``… FROM input()``.
        ``settings`` apply to this INSERT only.
        """
        extra = dict(settings) if settings else None
        names = ", ".join(f"`{name}`" for name in columns)
        escaped = structure.replace("\\", "\\\\").replace("'", "\\'")
        if self.target.kind == "server":
            sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM input('{escaped}') FORMAT {fmt}"
            with self._call(f"INSERT INTO {table}") as client:
                client.command(sql, data=data, settings=extra)
            return
        with tempfile.NamedTemporaryFile(prefix="forewarn-insert-", suffix=f".{fmt.lower()}") as scratch:
            scratch.write(data)
            scratch.flush()
            where = scratch.name.replace("\\", "\\\\").replace("'", "\\'")
            sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM file('{where}', '{fmt}', '{escaped}')"
            with self._call(f"INSERT INTO {table}") as client:
                client.command(sql, settings=extra)

    def close(self) -> None:
        """Release the engine (chdb frees the data dir lock when its last handle closes)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _call(self, sql: str) -> Iterator[Client]:
        with self._lock:
            if self._client is None:
                raise WarehouseError(f"the warehouse at {self.target.display} is closed")
            try:
                yield self._client
            except OperationalError as exc:
                if isinstance(exc, StreamFailureError):
                    raise WarehouseQueryError(_message(exc), sql) from exc
                raise WarehouseUnavailable(f"ClickHouse at {self.target.display} is unavailable: {exc}") from exc
            except DatabaseError as exc:
                raise WarehouseQueryError(_message(exc), sql) from exc


def _message(exc: ClickHouseDriverError) -> str:
    """ClickHouse's own words, minus the ``FORMAT Native`` the driver appended to the query."""
    return str(exc).replace("\n FORMAT Native", "").strip()


def open_clickhouse(dsn: str, *, read_only: bool = False) -> Warehouse:
    """Connect to the warehouse named by ``dsn``.

    ``read_only`` opens a separate session with the server setting ``readonly=1``, so analyst
    queries cannot write even if the statement check were fooled; the setting lives on that
    session only and never leaks into the writer's.
    """
    target = parse_dsn(dsn)
    settings = {"readonly": 1} if read_only else {}
    client = _open_embedded(target, settings) if target.kind == "embedded" else _open_server(target, settings)
    return Warehouse(client, target, read_only=read_only)


def _open_embedded(target: WarehouseTarget, settings: dict[str, Any]) -> Client:
    assert target.path is not None
    owner = foreign_owner(target.path)
    if owner is not None:
        raise EmbeddedStoreLocked(str(target.path), owner)
    target.path.mkdir(parents=True, exist_ok=True)
    try:
        return clickhouse_connect.get_client(
            interface="chdb", path=str(target.path), settings=settings, tz_mode="aware"
        )
    except ClickHouseDriverError as exc:
        locked, pid = locked_by_other(target.path)
        if locked:
            raise EmbeddedStoreLocked(str(target.path), pid) from exc
        if "already initialized with path" in str(exc):
            raise WarehouseConfigError(
                f"cannot open {target.display}: this process already has another embedded store open "
                f"and chdb hosts one data dir per process ({exc})"
            ) from exc
        raise WarehouseError(f"cannot open the embedded store at {target.path}: {exc}") from exc


def _open_server(target: WarehouseTarget, settings: dict[str, Any]) -> Client:
    try:
        return clickhouse_connect.get_client(dsn=target.dsn, settings=settings, tz_mode="aware")
    except OperationalError as exc:
        raise WarehouseUnavailable(f"ClickHouse at {target.display} is unavailable: {exc}") from exc
    except DatabaseError as exc:
        raise WarehouseError(f"cannot connect to ClickHouse at {target.display}: {_message(exc)}") from exc
