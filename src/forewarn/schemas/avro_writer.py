"""Avro bodies written by Python compiled from each schema, byte for byte what fastavro writes.

A fan-out encodes two records per command (the command and its audit record), and fastavro's
``schemaless_writer`` cost 25-40 µs a record here: a fixed ~4 µs a call plus a generic walk
of the schema per field (a union is resolved by validating the datum against each branch). Our
schemas are fixed and simple, so each one is compiled once into a straight-line function that
knows every field's type: a few µs a record. It reads a model's ``__dict__`` (and a nested
model's) directly, so a record holding records needs no ``model_dump`` either.

Only what forewarn's contracts use is compiled: records, enums, arrays, maps, unions of null
and one other type, the primitives, and ``timestamp-millis``. ``compile_writer`` returns None
for anything else, and the codec keeps fastavro for that schema. ``tests/schemas`` holds the
two writers to the same bytes on every contract.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from forewarn.schemas.avro_compile import CACHE_MAX, SchemaCompiler, Unsupported

__all__ = ["Writer", "compile_writer"]

Writer = Callable[[Any], bytes]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Zig-zag varints of -64..63 are one byte; lengths and enum indexes mostly are.
_SMALL = [bytes([((n << 1) ^ (n >> 63)) & 0xFF]) for n in range(-64, 64)]
#: Timestamps and ids repeat within a batch (every command of a chunk shares ``created_at``).
_long_cache: dict[int, bytes] = {}
_millis_cache: dict[datetime, bytes] = {}


def _long(n: int) -> bytes:
    if -64 <= n < 64:
        return _SMALL[n + 64]
    found = _long_cache.get(n)
    if found is not None:
        return found
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    found = bytes(out)
    if len(_long_cache) >= CACHE_MAX:
        _long_cache.clear()
    _long_cache[n] = found
    return found


def _timestamp(value: Any) -> bytes:
    """A ``timestamp-millis``: datetimes equal as instants encode alike, so a cache keyed by them holds."""
    if type(value) is datetime and value.tzinfo is not None:
        found = _millis_cache.get(value)
        if found is None:
            if len(_millis_cache) >= CACHE_MAX:
                _millis_cache.clear()
            found = _millis_cache[value] = _long(_millis(value))
        return found
    return _long(_millis(value))


def _millis(value: Any) -> int:
    """fastavro's ``prepare_timestamp_millis``: the same arithmetic, so the same bytes."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            delta = value - _EPOCH
            return (delta.days * 24 * 3600 + delta.seconds) * 1000 + int(delta.microseconds / 1000)
        return int(time.mktime(value.timetuple())) * 1000 + int(value.microsecond / 1000)
    return int(value)


def _fields(value: Any) -> Any:
    """A nested record's mapping: the dict fastavro would get, or the model's own attributes."""
    return value if isinstance(value, dict) else value.__dict__


def _enum_index(symbols: dict[str, bytes], name: str) -> Callable[[Any], bytes]:
    """The slow way to a symbol's index: a member whose name is not its value misses the dict."""

    def index(value: Any) -> bytes:
        key = value.value if isinstance(value, Enum) else value
        found = symbols.get(key)
        if found is None:
            raise ValueError(f"{key!r} is not a symbol of enum {name}")
        return found

    return index


class _Compiler(SchemaCompiler):
    def __init__(self, named: dict[str, Any]) -> None:
        env = {
            "_long": _long,
            "_timestamp": _timestamp,
            "_lengths": [_long(n) for n in range(64)],
            "_fields": _fields,
            "_pack_d": struct.Struct("<d").pack,
            "_pack_f": struct.Struct("<f").pack,
        }
        super().__init__(named, env)

    def record(self, schema: dict[str, Any]) -> str:
        """The name of the function writing this record into ``a`` (an append)."""
        name = schema["name"]
        if name in self.records:
            return self.records[name]
        fn = self.records[name] = self.fresh("_rec")
        body: list[str] = [f"def {fn}(d, a):"]
        for field in schema["fields"]:
            var = self.fresh("v")
            if "default" in field:  # fastavro: a missing field takes its default, or None where null is allowed
                default = self.fresh("_default")
                self.env[default] = field["default"]
                body.append(f"    {var} = d.get({field['name']!r}, {default})")
            elif isinstance(field["type"], list) and "null" in field["type"]:
                body.append(f"    {var} = d.get({field['name']!r})")
            else:
                body.append(f"    {var} = d[{field['name']!r}]")
            body.extend("    " + line for line in self.value(field["type"], var))
        if len(body) == 1:
            body.append("    pass")
        self.lines.extend(body)
        self.lines.append("")
        return fn

    def record_call(self, fn: str, var: str) -> list[str]:
        return [f"{fn}(_fields({var}), a)"]

    def timestamp(self, var: str) -> list[str]:
        return [f"a(_timestamp({var}))"]

    def enum(self, schema: dict[str, Any], var: str) -> list[str]:
        # A str-valued member whose name is its value finds its symbol's entry (same hash, equal str).
        table, index = self.fresh("_symbols"), self.fresh("_enum")
        symbols = self.env[table] = {symbol: _long(i) for i, symbol in enumerate(schema["symbols"])}
        self.env[index] = _enum_index(symbols, schema["name"])
        return [f"a({table}.get({var}) or {index}({var}))"]

    def array(self, items: Any, var: str) -> list[str]:
        item = self.fresh("i")
        return [
            f"if len({var}):",
            f"    a(_long(len({var})))",
            f"    for {item} in {var}:",
            *("        " + line for line in self.value(items, item)),
            "a(b'\\x00')",
        ]

    def map(self, values: Any, var: str) -> list[str]:
        key, item, raw = self.fresh("k"), self.fresh("i"), self.fresh("b")
        return [
            f"if len({var}):",
            f"    a(_long(len({var})))",
            f"    for {key}, {item} in {var}.items():",
            f"        {raw} = {key}.encode()",
            f"        a(_long(len({raw})))",
            f"        a({raw})",
            *("        " + line for line in self.value(values, item)),
            "a(b'\\x00')",
        ]

    def primitive(self, kind: str, var: str) -> list[str]:
        if kind == "null":
            return []
        if kind == "boolean":
            return [f"a(b'\\x01' if {var} else b'\\x00')"]
        if kind in ("int", "long"):
            return [f"a(_long({var}))"]
        if kind == "double":
            return [f"a(_pack_d({var}))"]
        if kind == "float":
            return [f"a(_pack_f({var}))"]
        raw = self.fresh("b")
        encoded = f"{var}.encode()" if kind == "string" else var
        size = self.fresh("n")
        return [
            f"{raw} = {encoded}",
            f"{size} = len({raw})",
            f"a(_lengths[{size}] if {size} < 64 else _long({size}))",
            f"a({raw})",
        ]

    def union(self, null_at: int, other: Any, var: str) -> list[str]:
        return [
            f"if {var} is None:",
            f"    a({_long(null_at)!r})",
            "else:",
            f"    a({_long(1 - null_at)!r})",
            *("    " + line for line in self.value(other, var) or ["pass"]),
        ]


def compile_writer(parsed: dict[str, Any], header: bytes = b"") -> Writer | None:
    """A function writing ``header`` + the Avro body of a record of ``parsed`` (fastavro's parsed
    schema), from a dict or a model; None where the schema uses something not compiled here."""
    compiler = _Compiler(dict(parsed.get("__named_schemas", {})))
    try:
        top = compiler.record(parsed)
    except Unsupported:
        return None
    compiler.env["_header"] = header
    source = "\n".join(
        [
            *compiler.lines,
            "def write(d):",
            "    out = [_header]",
            f"    {top}(_fields(d), out.append)",
            "    return b''.join(out)",
        ]
    )
    namespace = dict(compiler.env)
    exec(compile(source, f"<avro writer {parsed['name']}>", "exec"), namespace)  # our own source, from our own schemas
    writer: Writer = namespace["write"]
    return writer
