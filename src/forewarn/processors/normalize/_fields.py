"""Typed reads from untrusted JSON: each takes the path it reads, so a surprise names its place.

Reasons use JSON's vocabulary (object, array, number) and start with the path, e.g.
``alerts[2].labels.service: missing``, because the reader is whoever owns the exporter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import cast

from .errors import NormalizeError


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def json_type(value: object) -> str:
    """JSON's own type names, because the exporter's author thinks in JSON, not Python."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def wrong_type(path: str, expected: str, value: object) -> NormalizeError:
    return NormalizeError(f"{path}: expected {expected}, got {json_type(value)}", "wrong_type")


def missing(path: str, hint: str = "") -> NormalizeError:
    return NormalizeError(f"{path}: missing{hint}", "wrong_type")


def as_object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise wrong_type(path or "body", "object", value)
    return value


def as_list(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise wrong_type(path or "body", "array", value)
    return value


def required(obj: Mapping[str, object], key: str, path: str) -> object:
    value = obj.get(key)
    if value is None:
        raise missing(child(path, key))
    return value


def required_str(obj: Mapping[str, object], key: str, path: str) -> str:
    value = required(obj, key, path)
    if not isinstance(value, str):
        raise wrong_type(child(path, key), "string", value)
    if not value:
        raise NormalizeError(f"{child(path, key)}: empty string", "wrong_type")
    return value


def optional_str(obj: Mapping[str, object], key: str, path: str) -> str | None:
    """A string that may be absent, null or empty; all three mean "not given"."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong_type(child(path, key), "string", value)
    return value or None


def one_of(value: str, allowed: Iterable[str], path: str) -> str:
    if value not in allowed:
        raise NormalizeError(f"{path}: expected one of {'|'.join(sorted(allowed))}, got {shown(value)}", "wrong_type")
    return value


def str_map(value: object, path: str) -> dict[str, str]:
    """Labels and tags: string to string, as the Avro map demands; other values are the sender's bug."""
    if value is None:
        return {}
    mapping = as_object(value, path)
    for key, label in mapping.items():
        if not isinstance(label, str):
            raise wrong_type(child(path, key), "string", label)
    # Values checked just above; the dict is fresh from the parser, so no copy is needed.
    return cast(dict[str, str], mapping)


def identifier(value: object, path: str) -> str:
    """Ids that vendors send as numbers or as strings, depending on the template or API version."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise wrong_type(path, "string or integer id", value)


def finite_number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(path, "number", value)
    try:
        number = float(value)
    except OverflowError:
        raise NormalizeError(f"{path}: {shown(value)} is out of range for a double", "invalid") from None
    if not math.isfinite(number):
        raise NormalizeError(f"{path}: {number} is not a finite number", "invalid")
    return number
