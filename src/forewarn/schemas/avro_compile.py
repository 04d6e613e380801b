"""The schema walk shared by the compiled Avro writer and reader.

Both turn a fastavro-parsed schema into straight-line Python source; they differ only in the
statements each type becomes. ``SchemaCompiler.value`` resolves names and dispatches on the
type once, for both, and refuses (``Unsupported``) what neither compiles, so the two always
agree on which schemas fastavro keeps.
"""

from __future__ import annotations

from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
#: Bound of the per-process value caches (timestamps, varints): batches repeat values.
CACHE_MAX = 4096


class Unsupported(Exception):
    """A schema construct not compiled: fastavro handles that schema."""


class SchemaCompiler:
    """Source for one schema's records: one function per named record, in ``lines``."""

    def __init__(self, named: dict[str, Any], env: dict[str, Any]) -> None:
        self.named = named
        self.env = env  # the globals the source runs with
        self.lines: list[str] = []
        self.records: dict[str, str] = {}  # full name -> function name
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def value(self, schema: Any, var: str) -> list[str]:
        """Statements handling one value of ``schema`` held in (or read into) ``var``."""
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return self.primitive(schema, var)
            if schema not in self.named:
                raise Unsupported(f"unknown named type {schema}")
            return self.value(self.named[schema], var)
        if isinstance(schema, list):
            if len(schema) != 2 or schema.count("null") != 1:
                raise Unsupported("a union other than null and one type")
            null_at = schema.index("null")
            return self.union(null_at, schema[1 - null_at], var)
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if logical is not None:
            if logical == "timestamp-millis" and kind == "long":
                return self.timestamp(var)
            raise Unsupported(f"logical type {logical}")
        if kind in PRIMITIVES:
            return self.primitive(kind, var)
        if kind == "record":
            return self.record_call(self.record(schema), var)
        if kind == "enum":
            return self.enum(schema, var)
        if kind == "array":
            return self.array(schema["items"], var)
        if kind == "map":
            return self.map(schema["values"], var)
        raise Unsupported(f"type {kind}")

    # -- what each type becomes: the writer's and the reader's own ------------------------------

    def record(self, schema: dict[str, Any]) -> str:
        """The name of this record's function, compiled on first use."""
        raise NotImplementedError

    def record_call(self, fn: str, var: str) -> list[str]:
        raise NotImplementedError

    def primitive(self, kind: str, var: str) -> list[str]:
        raise NotImplementedError

    def union(self, null_at: int, other: Any, var: str) -> list[str]:
        raise NotImplementedError

    def timestamp(self, var: str) -> list[str]:
        raise NotImplementedError

    def enum(self, schema: dict[str, Any], var: str) -> list[str]:
        raise NotImplementedError

    def array(self, items: Any, var: str) -> list[str]:
        raise NotImplementedError

    def map(self, values: Any, var: str) -> list[str]:
        raise NotImplementedError
